/*
 * How big control.db gets under alert transitions, with and without the
 * prune of old versions: writes N audited versions of kind "alert" over K
 * fingerprints (bodies shaped like the alerting core's, about 1 KiB), 100
 * per transaction like the alerting core's flush, and with the prune on runs
 * vdoc_prune_tick after every transaction as the engine tick would. Prints
 * the file size after a checkpoint, the rows left and the slowest prune
 * batch. Usage: bench_control [N [K]].
 */
#include "audit/audit.h"
#include "audit/docwrite.h"
#include "core/error.h"
#include "core/time.h"
#include "store/vdoc.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#define PER_TX 100

struct fill {
	const struct audit_signer *sg;
	int first, n, keys;
};

static const char *const states[] = { "pending", "firing", "resolved", "inactive" };

static int fill_tx(struct store *s, void *ctx, struct buf *err)
{
	struct fill *f = ctx;
	for (int i = f->first; i < f->first + f->n; i++) {
		char key[32], target[48], body[1600];
		snprintf(key, sizeof(key), "fp%014d", i % f->keys);
		snprintf(target, sizeof(target), "alert/%s", key);
		const char *state = states[(i / f->keys) % 4];
		int64_t t = ooda_now_ns();
		snprintf(body, sizeof(body),
			 "{\"active_at\":\"2026-12-05T10:00:00Z\",\"annotations\":{\"description\":\"p99 latency of "
			 "checkout above 800ms for 5m\",\"runbook\":\"https://runbooks.example.com/checkout/latency\","
			 "\"summary\":\"checkout is slow\"},\"evidence\":{\"query\":\"histogram_quantile(0.99, "
			 "sum by (le) (rate(http_server_duration_bucket{service=\\\"checkout\\\"}[5m])))\",\"value\":"
			 "0.%d},\"external\":false,\"fingerprint\":\"%s\",\"fired_at\":null,\"for\":\"5m\",\"group\":"
			 "\"checkout\",\"inhibited_by\":null,\"keep_firing_for\":\"0s\",\"labels\":{\"alertname\":"
			 "\"CheckoutLatency\",\"env\":\"prod\",\"service\":\"checkout\",\"severity\":\"page\",\"team\":"
			 "\"payments\"},\"last_signal_at\":\"2026-12-05T10:05:00Z\",\"name\":\"CheckoutLatency\","
			 "\"notify\":true,\"ns\":{\"active\":%lld,\"changed\":%lld,\"cleared\":0,\"created\":%lld,"
			 "\"fired\":%lld,\"for\":300000000000,\"group_started\":%lld,\"keep\":0,\"last_active\":true,"
			 "\"last_signal\":%lld,\"resolved\":0},\"resolved_at\":null,\"service\":\"checkout\","
			 "\"severity\":\"page\",\"silenced_by\":null,\"source\":\"rule\",\"state\":\"%s\","
			 "\"transitions\":[{\"at\":\"2026-12-05T10:00:00Z\",\"to\":\"pending\"},{\"at\":"
			 "\"2026-12-05T10:05:00Z\",\"to\":\"firing\"},{\"at\":\"2026-12-05T10:20:00Z\",\"to\":"
			 "\"resolved\"}]}",
			 i % 1000, key, (long long)t, (long long)t, (long long)t, (long long)t, (long long)t, (long long)t,
			 state);
		struct vdoc_write w = { .kind = "alert", .key = key, .body = body, .body_len = strlen(body),
					.expect_version = -1, .actor = "engine:alerts", .rationale = "p99 above threshold",
					.action = "alert.firing", .target = target };
		int rc = vdoc_put_tx(s, f->sg, &w, err);
		if (rc)
			return rc;
	}
	return 0;
}

static int64_t scalar(const char *path, const char *q)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

static int run(int n, int keys, bool prune)
{
	char dir[] = "/tmp/ooda-bench-control-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	struct store *s;
	struct audit_signer sg;
	struct buf err = BUF_INIT;
	if (store_open(dir, 0, &s, &err) || audit_signer_load(&sg, dir, 1000, &err)) {
		fprintf(stderr, "bench_control: %s\n", err.data);
		return 1;
	}
	struct vdoc_pruner p = { .r = { .max_age_ns = 30 * 86400 * OODA_NS_PER_SEC, .max_versions = 100 },
				 .interval_ns = 60 * OODA_NS_PER_SEC };
	int64_t t0 = ooda_now_ns(), prune_ns = 0, slowest = 0;
	for (int i = 0; i < n; i += PER_TX) {
		struct fill f = { &sg, i, n - i < PER_TX ? n - i : PER_TX, keys };
		if (store_write(s, fill_tx, &f, &err)) {
			fprintf(stderr, "bench_control: %s\n", err.data);
			return 1;
		}
		if (!prune)
			continue;
		/* the engine prunes a batch when due; the bench compresses minutes into one write, so every round is due */
		p.next_ns = 0;
		int64_t now = ooda_now_ns(), b0 = now;
		int got = vdoc_prune_tick(&p, s, now, &err);
		int64_t took = ooda_now_ns() - b0;
		if (got < 0) {
			fprintf(stderr, "bench_control: %s\n", err.data);
			return 1;
		}
		if (got > 0) {
			prune_ns += took;
			if (took > slowest)
				slowest = took;
		}
	}
	int64_t wall = ooda_now_ns() - t0;
	/* with the prune off, what turning it on later costs: drain the backlog batch by batch */
	int batches = 0;
	size_t drained = 0;
	int64_t drain_ns = 0, drain_slowest = 0;
	if (!prune) {
		struct vdoc_retention r = p.r;
		for (;;) {
			size_t got = 0;
			int64_t b0 = ooda_now_ns();
			if (vdoc_prune(s, &r, b0, &got, &err)) {
				fprintf(stderr, "bench_control: %s\n", err.data);
				return 1;
			}
			int64_t took = ooda_now_ns() - b0;
			drain_ns += took;
			drain_slowest = took > drain_slowest ? took : drain_slowest;
			batches++;
			drained += got;
			if (got < VDOC_PRUNE_BATCH)
				break;
		}
	}
	store_close(s);
	char path[128];
	snprintf(path, sizeof(path), "%s/control.db", dir);
	struct stat st;
	long long bytes = stat(path, &st) ? -1 : (long long)st.st_size;
	int64_t docs = scalar(path, "SELECT count(*) FROM docs");
	int64_t audit = scalar(path, "SELECT count(*) FROM audit");
	int64_t free_pages = scalar(path, "PRAGMA freelist_count");
	int64_t page = scalar(path, "PRAGMA page_size");
	printf("| %s | %d | %d | %.1f MiB | %.1f MiB | %lld | %lld | %.1f s |\n", prune ? "on" : "off", n, keys,
	       bytes / 1048576.0, (bytes - free_pages * page) / 1048576.0, (long long)docs, (long long)audit,
	       wall / 1e9);
	if (!prune)
		printf("drain afterwards: %zu versions in %d batches of up to %d, %.2f s in all, slowest batch %.1f ms "
		       "(sizes above are after the drain)\n",
		       drained, batches, VDOC_PRUNE_BATCH, drain_ns / 1e9, drain_slowest / 1e6);
	if (prune)
		printf("prune: %llu versions deleted, %.2f s in all, slowest batch %.1f ms\n",
		       (unsigned long long)p.pruned, prune_ns / 1e9, slowest / 1e6);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	buf_release(&err);
	return 0;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100000;
	int keys = argc > 2 ? atoi(argv[2]) : 50;
	if (n <= 0 || keys <= 0) {
		fprintf(stderr, "usage: bench_control [transitions [alerts]]\n");
		return 2;
	}
	printf("| prune | transitions | alerts | control.db | of it in use | doc versions | audit records | wall |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
	return run(n, keys, false) || run(n, keys, true);
}
