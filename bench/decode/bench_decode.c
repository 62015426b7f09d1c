/*
 * Microbenchmark for the ingest decoders: 1,000,000 log records of about
 * 150 bytes each are encoded in memory as OTLP protobuf, OTLP/JSON and
 * NDJSON request bodies of 1000 records, then decoded batch by batch into a
 * reused arena, the way an HTTP worker does. Prints records/s and MB/s per
 * format (median of three runs, thread CPU time so that a busy machine
 * does not skew it). Bodies are built before the clock starts.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/time.h"
#include "ingest/ndjson.h"
#include "ingest/otlp.h"

#define N_RECORDS 1000000
#define PER_BATCH 1000
#define N_BATCHES (N_RECORDS / PER_BATCH)
#define RUNS 3

enum fmt { FMT_PROTO, FMT_JSON, FMT_NDJSON };

static void pw_varint(struct buf *b, uint64_t v)
{
	while (v >= 0x80) {
		buf_addch(b, (char)(v | 0x80));
		v >>= 7;
	}
	buf_addch(b, (char)v);
}

static void pw_ld(struct buf *b, uint32_t field, const void *p, size_t n)
{
	pw_varint(b, (uint64_t)field << 3 | 2);
	pw_varint(b, n);
	buf_add(b, p, n);
}

static void pw_fixed64(struct buf *b, uint32_t field, uint64_t v)
{
	pw_varint(b, (uint64_t)field << 3 | 1);
	for (int i = 0; i < 8; i++)
		buf_addch(b, (char)(v >> (8 * i)));
}

static void pw_kv(struct buf *b, uint32_t field, const char *k, const char *v, int64_t iv)
{
	struct buf any = BUF_INIT, kv = BUF_INIT;
	if (v) {
		pw_ld(&any, 1, v, strlen(v));
	} else {
		pw_varint(&any, 3 << 3 | 0);
		pw_varint(&any, (uint64_t)iv);
	}
	pw_ld(&kv, 1, k, strlen(k));
	pw_ld(&kv, 2, any.data, any.len);
	pw_ld(b, field, kv.data, kv.len);
	buf_release(&any);
	buf_release(&kv);
}

static const char *const services[] = { "checkout", "payments", "cart", "search" };
static const char *const routes[] = { "/api/v1/orders", "/api/v1/cart", "/api/v1/pay", "/api/v1/search" };

static void record_fields(uint64_t i, char *msg, size_t msz, uint8_t tid[16], uint8_t sid[8])
{
	snprintf(msg, msz, "GET %s/%" PRIu64 " completed in %" PRIu64 "ms", routes[i % 4], i, i % 97);
	for (int k = 0; k < 16; k++)
		tid[k] = (uint8_t)(i * 31 + (uint64_t)k * 7 + 1);
	for (int k = 0; k < 8; k++)
		sid[k] = (uint8_t)(i * 17 + (uint64_t)k * 3 + 1);
}

static void hex(char *out, const uint8_t *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t k = 0; k < n; k++) {
		out[2 * k] = hx[p[k] >> 4];
		out[2 * k + 1] = hx[p[k] & 15];
	}
	out[2 * n] = '\0';
}

/* CPU time of this thread: shared CI machines make wall time meaningless. */
static int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void build_body(struct buf *out, enum fmt f, uint64_t first)
{
	int64_t t0 = INT64_C(1795600800000000000);
	char msg[128], th[33], sh[17];
	uint8_t tid[16], sid[8];
	const char *svc = services[first / PER_BATCH % 4];
	if (f == FMT_PROTO) {
		struct buf recs = BUF_INIT, lr = BUF_INIT, sl = BUF_INIT, rl = BUF_INIT, res = BUF_INIT;
		for (uint64_t i = first; i < first + PER_BATCH; i++) {
			record_fields(i, msg, sizeof(msg), tid, sid);
			buf_reset(&lr);
			pw_fixed64(&lr, 1, (uint64_t)(t0 + (int64_t)i * 1000));
			pw_varint(&lr, 2 << 3 | 0);
			pw_varint(&lr, 9);
			pw_ld(&lr, 3, "INFO", 4);
			struct buf body = BUF_INIT;
			pw_ld(&body, 1, msg, strlen(msg));
			pw_ld(&lr, 5, body.data, body.len);
			buf_release(&body);
			pw_kv(&lr, 6, "http.method", "GET", 0);
			pw_kv(&lr, 6, "http.status_code", NULL, 200);
			pw_ld(&lr, 9, tid, 16);
			pw_ld(&lr, 10, sid, 8);
			pw_ld(&recs, 2, lr.data, lr.len);
		}
		pw_kv(&res, 1, "service.name", svc, 0);
		struct buf scope = BUF_INIT;
		pw_ld(&scope, 1, "bench", 5);
		pw_ld(&sl, 1, scope.data, scope.len);
		buf_add(&sl, recs.data, recs.len);
		pw_ld(&rl, 1, res.data, res.len);
		pw_ld(&rl, 2, sl.data, sl.len);
		pw_ld(out, 1, rl.data, rl.len);
		buf_release(&scope);
		buf_release(&recs);
		buf_release(&lr);
		buf_release(&sl);
		buf_release(&rl);
		buf_release(&res);
		return;
	}
	if (f == FMT_JSON)
		buf_addf(out, "{\"resourceLogs\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
			      "\"value\":{\"stringValue\":\"%s\"}}]},\"scopeLogs\":[{\"scope\":{\"name\":\"bench\"},"
			      "\"logRecords\":[", svc);
	for (uint64_t i = first; i < first + PER_BATCH; i++) {
		record_fields(i, msg, sizeof(msg), tid, sid);
		hex(th, tid, 16);
		hex(sh, sid, 8);
		int64_t t = t0 + (int64_t)i * 1000;
		if (f == FMT_JSON)
			buf_addf(out, "%s{\"timeUnixNano\":\"%" PRId64 "\",\"severityNumber\":9,\"severityText\":\"INFO\","
				      "\"body\":{\"stringValue\":\"%s\"},\"attributes\":[{\"key\":\"http.method\","
				      "\"value\":{\"stringValue\":\"GET\"}},{\"key\":\"http.status_code\",\"value\":"
				      "{\"intValue\":\"200\"}}],\"traceId\":\"%s\",\"spanId\":\"%s\"}",
				 i == first ? "" : ",", t, msg, th, sh);
		else
			buf_addf(out, "{\"ts\":%" PRId64 ",\"service\":\"%s\",\"level\":\"info\",\"msg\":\"%s\","
				      "\"trace_id\":\"%s\",\"span_id\":\"%s\",\"status\":200}\n",
				 t, svc, msg, th, sh);
	}
	if (f == FMT_JSON)
		buf_adds(out, "]}]}]}");
}

/* The peer: jansson parsing the same NDJSON lines (parse and free only, no records). */
static size_t jansson_parse_lines(const struct buf *body)
{
	size_t n = 0;
	const char *p = body->data, *end = p + body->len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		json_error_t jerr;
		json_t *v = json_loadb(p, len, 0, &jerr);
		if (v) {
			n++;
			json_decref(v);
		}
		p = nl ? nl + 1 : end;
	}
	return n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "OTLP protobuf", "OTLP/JSON", "NDJSON" };
	printf("%-14s %12s %10s %12s\n", "format", "records/s", "MB/s", "bytes/rec");
	for (int f = FMT_PROTO; f <= FMT_NDJSON; f++) {
		if (argc > 1 && !strstr(names[f], argv[1]))
			continue; /* e.g. bench_decode NDJSON */
		struct buf *bodies = calloc(N_BATCHES, sizeof(*bodies));
		size_t total = 0;
		for (size_t k = 0; k < N_BATCHES; k++) {
			buf_init(&bodies[k]);
			build_body(&bodies[k], (enum fmt)f, (uint64_t)k * PER_BATCH);
			total += bodies[k].len;
		}
		double secs[RUNS];
		struct arena a;
		arena_init(&a, 1 << 20);
		struct buf err = BUF_INIT, report = BUF_INIT;
		for (int r = 0; r < RUNS; r++) {
			size_t n = 0;
			int64_t t0 = cpu_ns();
			for (size_t k = 0; k < N_BATCHES; k++) {
				arena_reset(&a);
				struct telemetry_batch b = { .arena = &a };
				int rc;
				if (f == FMT_PROTO)
					rc = otlp_decode_logs(bodies[k].data, bodies[k].len, false, 1, &b, &err);
				else if (f == FMT_JSON)
					rc = otlp_decode_logs(bodies[k].data, bodies[k].len, true, 1, &b, &err);
				else
					rc = ndjson_decode_logs(bodies[k].data, bodies[k].len, 1, &b, NULL, &err);
				if (rc || b.rejected) {
					fprintf(stderr, "%s: decode failed: %s %s\n", names[f], err.data,
						b.reject_msg ? b.reject_msg : "");
					return 1;
				}
				n += b.n_logs;
			}
			secs[r] = (double)(cpu_ns() - t0) / 1e9;
			if (n != N_RECORDS) {
				fprintf(stderr, "%s: decoded %zu records\n", names[f], n);
				return 1;
			}
		}
		qsort(secs, RUNS, sizeof(double), cmp_double);
		double s = secs[RUNS / 2];
		printf("%-14s %12.0f %10.1f %12.1f\n", names[f], N_RECORDS / s, (double)total / s / 1e6,
		       (double)total / N_RECORDS);
		if (f == FMT_NDJSON) {
			int64_t t0 = cpu_ns();
			size_t n = 0;
			for (size_t k = 0; k < N_BATCHES; k++)
				n += jansson_parse_lines(&bodies[k]);
			double js = (double)(cpu_ns() - t0) / 1e9;
			printf("%-14s %12.0f %10.1f %12s  (jansson json_loadb per line, parse only; ooda %.1fx)\n",
			       "  peer", n / js, (double)total / js / 1e6, "", js / s);
		}
		arena_release(&a);
		buf_release(&err);
		buf_release(&report);
		for (size_t k = 0; k < N_BATCHES; k++)
			buf_release(&bodies[k]);
		free(bodies);
	}
	return 0;
}
