/*
 * Microbenchmark for live signals: how many spans per second live_publish()
 * folds in on one thread, for three shapes of traffic. Batches are built
 * before the clock starts; each scenario runs three times and the table
 * shows the median. A second table prices merging across nodes
 * (live_delta_take / live_delta_apply, model/live.h): for N services, each
 * with one operation and one edge that saw traffic in the last second,
 * the delta's size and the time to take it on one node and add it in on
 * another that knows the series already (the steady state; a series new
 * to the receiver costs its allocation, as at ingest).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/time.h"
#include "model/live.h"

#define BATCH 512
#define N_BATCHES 400
#define RUNS 3
#define N_SERVICES 20
#define N_OPS 10

enum shape { SERVER_ONLY, TRACES, CLIENT_PEERS };

static void put_id(uint8_t *dst, size_t n, uint64_t v)
{
	memset(dst, 0, n);
	for (size_t i = 0; i < 8 && i < n; i++)
		dst[n - 1 - i] = (uint8_t)(v >> (8 * i));
}

/*
 * SERVER_ONLY: root server spans. TRACES: per trace a root server span, a
 * client span and the server span of another service under it. CLIENT_PEERS:
 * as TRACES, but every third span is a CLIENT call to a database.
 */
static void build(struct arena *a, struct telemetry_batch *b, enum shape shape, uint64_t *seq,
		  int64_t now, const struct resource *res, char names[N_OPS][16],
		  struct attr *db_attrs)
{
	memset(b, 0, sizeof(*b));
	b->arena = a;
	b->spans = arena_zalloc(a, sizeof(struct span) * BATCH);
	for (int i = 0; i < BATCH; i++) {
		struct span *sp = &b->spans[b->n_spans++];
		uint64_t n = (*seq)++;
		uint64_t trace = n / 3;
		sp->name = names[n % N_OPS];
		sp->end_ns = now - (int64_t)(n % 1000) * 1000;
		sp->start_ns = sp->end_ns - (int64_t)((n * 7919) % 200000 + 100) * 1000;
		sp->status = n % 50 ? STATUS_OK : STATUS_ERROR;
		put_id(sp->trace_id, 16, trace + 1);
		put_id(sp->span_id, 8, n + 1);
		int role = shape == SERVER_ONLY ? 0 : (int)(n % 3);
		sp->resource = &res[(trace + (role == 2)) % N_SERVICES];
		if (role == 0) {
			sp->kind = SPAN_SERVER;
		} else if (role == 1) {
			sp->kind = SPAN_CLIENT;
			sp->has_parent = true;
			put_id(sp->parent_span_id, 8, n);
			if (shape == CLIENT_PEERS)
				sp->attrs = (struct attrs){ db_attrs, 2 };
		} else {
			sp->kind = SPAN_SERVER;
			sp->has_parent = true;
			put_id(sp->parent_span_id, 8, n);
		}
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Merging: one node's second of traffic over n services, taken as a delta and applied on another node. */
static void merge_table(void)
{
	static const uint32_t sizes[] = { 10, 100, 1000, 10000 };
	printf("\n%-10s %8s %12s %14s %12s %12s\n", "services", "entries", "delta bytes", "bytes/entry", "take us",
	       "apply us");
	for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
		uint32_t n = sizes[z];
		double take_us[RUNS], apply_us[RUNS];
		size_t entries = 0, bytes = 0;
		for (int r = 0; r < RUNS; r++) {
			struct live_config c = { .n_slots = 8, .max_services = 2 * n + 2, .max_series = 2 * n + 2,
						 .max_edges = n + 1, .span_map_size = 4 * n };
			struct live_signals *a, *b;
			if (live_create(&c, &a, NULL) || live_create(&c, &b, NULL))
				exit(1);
			live_merge_enable(a);
			live_merge_enable(b);
			struct arena ar;
			arena_init(&ar, 0);
			struct telemetry_batch t = { .arena = &ar };
			t.spans = arena_zalloc(&ar, sizeof(struct span) * 2 * n);
			int64_t now = ooda_now_ns();
			char name[32];
			for (uint32_t i = 0; i < n; i++) { /* caller i calls service i (an edge), both server spans */
				for (int side = 0; side < 2; side++) {
					struct span *sp = &t.spans[t.n_spans++];
					struct resource *res = arena_zalloc(&ar, sizeof(*res));
					snprintf(name, sizeof(name), "%s-%u", side ? "svc" : "caller", i);
					res->service = arena_strdup(&ar, name);
					sp->resource = res;
					sp->name = "GET /items";
					sp->kind = SPAN_SERVER;
					sp->end_ns = now - (side ? 1000000 : 0);
					sp->start_ns = sp->end_ns - 5000000;
					put_id(sp->trace_id, 16, i + 1);
					put_id(sp->span_id, 8, 2 * (uint64_t)i + 1 + (uint64_t)side);
					if (side) {
						put_id(sp->parent_span_id, 8, 2 * (uint64_t)i + 1);
						sp->has_parent = true;
					}
				}
			}
			/* the first second makes every series on b (as its first ingest does); the second is timed */
			live_publish(a, &t);
			struct buf d = BUF_INIT;
			live_delta_take(a, &d, &entries);
			if (live_delta_apply(b, (const uint8_t *)d.data, d.len, NULL))
				exit(1);
			buf_reset(&d);
			for (size_t i = 0; i < t.n_spans; i++) {
				t.spans[i].trace_id[0] = 1;
				t.spans[i].end_ns += 1000000;
				t.spans[i].start_ns += 1000000;
			}
			live_publish(a, &t);
			int64_t t0 = ooda_mono_ns();
			live_delta_take(a, &d, &entries);
			int64_t t1 = ooda_mono_ns();
			if (live_delta_apply(b, (const uint8_t *)d.data, d.len, NULL))
				exit(1);
			int64_t t2 = ooda_mono_ns();
			bytes = d.len;
			take_us[r] = (double)(t1 - t0) / 1e3;
			apply_us[r] = (double)(t2 - t1) / 1e3;
			buf_release(&d);
			arena_release(&ar);
			live_destroy(a);
			live_destroy(b);
		}
		qsort(take_us, RUNS, sizeof(double), cmp_double);
		qsort(apply_us, RUNS, sizeof(double), cmp_double);
		printf("%-10u %8zu %12zu %14.1f %12.0f %12.0f\n", n, entries, bytes, (double)bytes / (double)entries,
		       take_us[RUNS / 2], apply_us[RUNS / 2]);
	}
}

int main(void)
{
	static const char *const shape_names[] = { "server spans only", "traces (root, client, remote server)",
						   "traces with db CLIENT spans" };
	struct resource res[N_SERVICES];
	char svc_names[N_SERVICES][16], names[N_OPS][16];
	for (int i = 0; i < N_SERVICES; i++) {
		snprintf(svc_names[i], sizeof(svc_names[i]), "svc-%d", i);
		res[i] = (struct resource){ .service = svc_names[i] };
	}
	for (int i = 0; i < N_OPS; i++)
		snprintf(names[i], sizeof(names[i]), "GET /r%d", i);
	struct attr db_attrs[2] = {
		{ .key = "db.system", .type = ATTR_STR, .len = 10, .s = "postgresql" },
		{ .key = "server.address", .type = ATTR_STR, .len = 4, .s = "db-1" },
	};

	printf("%-38s %10s %14s %10s\n", "scenario", "spans", "spans/s", "ns/span");
	for (int shape = 0; shape < 3; shape++) {
		double rates[RUNS];
		for (int r = 0; r < RUNS; r++) {
			struct live_signals *live;
			if (live_create(NULL, &live, NULL) != 0)
				return 1;
			struct arena a;
			arena_init(&a, 1 << 20);
			static struct telemetry_batch batches[N_BATCHES];
			uint64_t seq = 0;
			int64_t now = ooda_now_ns();
			for (int i = 0; i < N_BATCHES; i++)
				build(&a, &batches[i], (enum shape)shape, &seq, now, res, names, db_attrs);
			int64_t t0 = ooda_mono_ns();
			for (int i = 0; i < N_BATCHES; i++)
				live_publish(live, &batches[i]);
			int64_t t1 = ooda_mono_ns();
			rates[r] = (double)seq / ((double)(t1 - t0) / 1e9);
			arena_release(&a);
			live_destroy(live);
		}
		qsort(rates, RUNS, sizeof(double), cmp_double);
		printf("%-38s %10d %14.0f %10.1f\n", shape_names[shape], BATCH * N_BATCHES, rates[RUNS / 2],
		       1e9 / rates[RUNS / 2]);
	}
	merge_table();
	return 0;
}
