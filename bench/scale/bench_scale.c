/*
 * Control-store write latency, SQLite against PostgreSQL: N audited
 * document writes (vdoc_put: the version and its audit record in one
 * transaction, as a flag change is written) and N bare audit appends, each
 * write its own transaction waited for by one caller (no group commit), on
 * control.db in a temp dir and, when OODA_BENCH_PG_DSN holds a connection
 * string, on that PostgreSQL database. Prints mean, p50 and p99 per write in
 * microseconds. Usage: bench_scale [N].
 */
#include "audit/audit.h"
#include "audit/docwrite.h"
#include "core/error.h"
#include "core/time.h"
#include "store/vdoc.h"

#include <stdlib.h>

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *backend, const char *op, int64_t *ns, int n)
{
	qsort(ns, (size_t)n, sizeof(ns[0]), cmp_i64);
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += (double)ns[i];
	printf("%-9s %-13s n=%-6d mean %8.1f us  p50 %8.1f us  p99 %8.1f us\n", backend, op, n, sum / n / 1e3,
	       (double)ns[n / 2] / 1e3, (double)ns[(int)(n * 0.99)] / 1e3);
}

static int append_tx(struct store *s, void *ctx, struct buf *err)
{
	struct audit_entry e = { .actor = "bench", .action = "bench.append", .target = ctx, .after = "{}",
				 .after_len = 2, .rationale = "" };
	return audit_append(s, NULL, &e, err);
}

static int run(const char *backend, struct store *s, int n)
{
	int64_t *ns = xcalloc((size_t)n, sizeof(*ns));
	struct buf err = BUF_INIT;
	int rc = 0;
	for (int i = 0; i < n && !rc; i++) {
		char key[32], body[256];
		snprintf(key, sizeof(key), "flag%04d", i % 100);
		int len = snprintf(body, sizeof(body),
				   "{\"state\":\"ENABLED\",\"variants\":{\"on\":true,\"off\":false},\"defaultVariant\":\"%s\"}",
				   i % 2 ? "on" : "off");
		struct vdoc_write w = { .kind = "flag", .key = key, .body = body, .body_len = (size_t)len,
					.expect_version = -1, .actor = "bench", .rationale = "bench",
					.action = "flag.put", .target = key };
		int64_t t0 = ooda_mono_ns();
		rc = vdoc_put(s, NULL, &w, &err);
		ns[i] = ooda_mono_ns() - t0;
	}
	if (!rc)
		report(backend, "doc_put", ns, n);
	for (int i = 0; i < n && !rc; i++) {
		int64_t t0 = ooda_mono_ns();
		rc = store_write(s, append_tx, "bench/append", &err);
		ns[i] = ooda_mono_ns() - t0;
	}
	if (!rc)
		report(backend, "audit_append", ns, n);
	if (rc)
		fprintf(stderr, "%s: %s: %s\n", backend, ooda_strerror(rc), err.data ? err.data : "");
	buf_release(&err);
	free(ns);
	return rc;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	if (n < 10)
		n = 10;
	char dir[] = "/tmp/ooda-bench-scale-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	struct buf err = BUF_INIT;
	struct store *s = NULL;
	int rc = store_open(dir, 0, &s, &err);
	if (!rc) {
		rc = run("sqlite", s, n);
		store_close(s);
	}
	const char *dsn = getenv("OODA_BENCH_PG_DSN");
	struct store_location loc = { .dir = dir, .pg_dsn = dsn };
	if (!rc && dsn && *dsn) {
		rc = store_open_at(&loc, 0, &s, &err);
		if (!rc) {
			rc = run("postgres", s, n);
			store_close(s);
		}
	}
	if (rc && err.len)
		fprintf(stderr, "bench_scale: %s\n", err.data);
	buf_release(&err);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) || rc ? 1 : 0;
}
