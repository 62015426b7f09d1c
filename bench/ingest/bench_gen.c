/*
 * Synthetic telemetry for the ingest and query benchmarks. Writes "packs":
 * a sequence of request bodies, each preceded by two little-endian u32s
 * (body length, records in the body), which bench_post replays over HTTP.
 *
 *   bench_gen logs N START_MS SPAN_MS BATCH DIR [FORMATS]
 *       (FORMATS without "json": no logs.json)
 *       DIR/logs.ndjson  NDJSON lines (POST /api/v1/logs; ClickHouse JSONEachRow)
 *       DIR/logs.pb      OTLP ExportLogsServiceRequest, one ResourceLogs per service
 *       DIR/logs.json    the same as OTLP/JSON
 *   bench_gen spans TRACES START_MS SPAN_MS BATCH DIR
 *       DIR/spans.pb     OTLP ExportTraceServiceRequest (~10 spans over 5 services per trace)
 *       DIR/spans.ndjson the same spans as flat rows for ClickHouse
 *   bench_gen metrics SERIES START_MS END_MS STEP_MS DIR
 *       DIR/metrics.json OTLP/JSON sums (monotonic, cumulative) named bench_requests_total
 *       DIR/metrics.ndjson the same samples as flat rows for ClickHouse
 *   bench_gen traceid K   prints the hex id of trace K
 *
 * Everything is deterministic: trace K has the same id in logs and spans,
 * and half the log records carry the id of one of the first TRACE_SPACE traces.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SERVICES 20
#define TRACE_SPACE 100000

/* ---- growable byte buffer -------------------------------------------- */
struct b { unsigned char *p; size_t n, cap; };
static void bgrow(struct b *b, size_t add)
{
	if (b->n + add <= b->cap)
		return;
	size_t c = b->cap ? b->cap : 1 << 16;
	while (c < b->n + add)
		c *= 2;
	b->p = realloc(b->p, c);
	if (!b->p) { perror("realloc"); exit(1); }
	b->cap = c;
}
static void badd(struct b *b, const void *s, size_t n) { bgrow(b, n); memcpy(b->p + b->n, s, n); b->n += n; }
static void bch(struct b *b, unsigned char c) { bgrow(b, 1); b->p[b->n++] = c; }
static void bs(struct b *b, const char *s) { badd(b, s, strlen(s)); }
static void bf(struct b *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void bf(struct b *b, const char *fmt, ...)
{
	va_list ap;
	bgrow(b, 256);
	va_start(ap, fmt);
	int n = vsnprintf((char *)b->p + b->n, b->cap - b->n, fmt, ap);
	va_end(ap);
	if ((size_t)n >= b->cap - b->n) {
		bgrow(b, (size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf((char *)b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
	}
	b->n += (size_t)n;
}

/* ---- protobuf wire ---------------------------------------------------- */
static void pvar(struct b *b, uint64_t v) { while (v >= 0x80) { bch(b, (unsigned char)(v | 0x80)); v >>= 7; } bch(b, (unsigned char)v); }
static void ptag(struct b *b, int field, int wt) { pvar(b, ((uint64_t)field << 3) | (unsigned)wt); }
static void pbytes(struct b *b, int field, const void *s, size_t n) { ptag(b, field, 2); pvar(b, n); badd(b, s, n); }
static void pstr(struct b *b, int field, const char *s) { pbytes(b, field, s, strlen(s)); }
static void pfix64(struct b *b, int field, uint64_t v) { ptag(b, field, 1); for (int i = 0; i < 8; i++) bch(b, (unsigned char)(v >> (8 * i))); }
static void pvarf(struct b *b, int field, uint64_t v) { ptag(b, field, 0); pvar(b, v); }
static void pmsg(struct b *b, int field, const struct b *m) { pbytes(b, field, m->p, m->n); }
/* KeyValue{key=1, value=2 AnyValue{string_value=1}} */
static void pkv(struct b *b, int field, const char *k, const char *v)
{
	struct b any = { 0 }, kv = { 0 };
	pstr(&any, 1, v);
	pstr(&kv, 1, k);
	pmsg(&kv, 2, &any);
	pmsg(b, field, &kv);
	free(any.p);
	free(kv.p);
}

/* ---- deterministic randomness ------------------------------------------ */
static uint64_t smix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}
static uint64_t rng_state = 42;
static uint64_t rnd(void) { return smix(rng_state++); }
static uint32_t rn(uint32_t n) { return (uint32_t)(rnd() % n); }

static void trace_id(uint64_t k, unsigned char out[16])
{
	uint64_t a = smix(k * 2 + 1000003), c = smix(k * 2 + 1000004);
	for (int i = 0; i < 8; i++) { out[i] = (unsigned char)(a >> (8 * i)); out[8 + i] = (unsigned char)(c >> (8 * i)); }
}
static void span_id(uint64_t k, int j, unsigned char out[8])
{
	uint64_t a = smix(k * 64 + (uint64_t)j + 7777777);
	for (int i = 0; i < 8; i++) out[i] = (unsigned char)(a >> (8 * i));
	out[0] |= 1;
}
static void hex(const unsigned char *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) { out[2 * i] = d[p[i] >> 4]; out[2 * i + 1] = d[p[i] & 15]; }
	out[2 * n] = 0;
}

/* ---- log records ------------------------------------------------------- */
struct tmpl { int sev; const char *fmt; };  /* sev: 0 info, 1 warn, 2 error; fmt takes %u %u */
static const struct tmpl tmpls[] = {
	{ 0, "GET /api/cart/%u 200 in %ums" }, { 0, "POST /api/checkout order=%u completed in %ums" },
	{ 0, "user %u logged in from region %u" }, { 0, "cache hit for product %u after %u lookups" },
	{ 0, "served catalog page %u with %u items" }, { 0, "payment %u authorized amount=%u cents" },
	{ 0, "shipment %u created for %u parcels" }, { 0, "inventory reserved sku=%u qty=%u" },
	{ 0, "session %u refreshed ttl=%us" }, { 0, "email %u queued to %u recipients" },
	{ 0, "search query returned %u results in %ums" }, { 0, "recommendation model v%u scored %u items" },
	{ 0, "GET /api/product/%u 200 in %ums" }, { 0, "connection pool size=%u active=%u" },
	{ 0, "job %u finished in %ums" }, { 0, "flushed %u metrics in %ums" },
	{ 0, "kafka consumer offset=%u lag=%u" }, { 0, "config version %u applied in %ums" },
	{ 0, "health check ok latency=%uus checks=%u" }, { 0, "worker %u picked task %u" },
	{ 0, "GET /api/user/%u/orders 200 in %ums" }, { 0, "coupon %u applied discount=%u" },
	{ 0, "invoice %u rendered pages=%u" }, { 0, "websocket %u opened subscriptions=%u" },
	{ 0, "rate limiter tokens=%u bucket=%u" }, { 0, "feature flag %u evaluated %u times" },
	{ 0, "image %u resized to %upx" }, { 0, "batch %u committed rows=%u" },
	{ 0, "http client request %u done status=200 bytes=%u" }, { 0, "scheduler tick %u queued=%u" },
	{ 0, "login attempt for user %u succeeded mfa=%u" }, { 0, "price list %u loaded entries=%u" },
	{ 0, "cart %u merged with cart %u" }, { 0, "token %u issued expires_in=%us" },
	{ 0, "GC pause %ums heap=%uMB" },
	{ 1, "slow query on orders took %ums rows=%u" }, { 1, "retrying request %u attempt %u" },
	{ 1, "upstream latency high p99=%ums for shard %u" }, { 1, "cache miss for product %u fallback %u" },
	{ 1, "queue depth %u above threshold %u" }, { 1, "deprecated API v%u called by client %u" },
	{ 1, "timeout waiting for lock %u after %ums" }, { 1, "connection reset by peer %u retries=%u" },
	{ 2, "payment %u failed: card declined code=%u" }, { 2, "timeout calling inventory after %ums shard %u" },
	{ 2, "database connection refused pool=%u waiters=%u" }, { 2, "order %u rollback after error %u" },
	{ 2, "upstream returned 503 for request %u in %ums" }, { 2, "panic recovered in handler %u goroutine %u" },
	{ 2, "deadline exceeded timeout after %ums request %u" },
};
#define N_TMPL (sizeof(tmpls) / sizeof(tmpls[0]))
static const char *routes[] = { "/api/cart", "/api/checkout", "/api/product", "/api/user", "/api/search",
				"/api/orders", "/api/payment", "/api/shipping", "/api/login", "/healthz" };
static const char *sev_text[] = { "info", "warn", "error" };
static const int sev_num[] = { 9, 13, 17 };

struct logrec {
	uint64_t ms;
	int svc, sev, has_trace;
	char body[96], user[16], trace[33];
	const char *route;
};

static void make_log(struct logrec *r, uint64_t ms)
{
	r->ms = ms;
	r->svc = (int)rn(N_SERVICES);
	uint32_t x = rn(100);
	int want = x < 85 ? 0 : x < 95 ? 1 : 2;
	const struct tmpl *t;
	do t = &tmpls[rn(N_TMPL)]; while (t->sev != want);
	r->sev = t->sev;
	snprintf(r->body, sizeof(r->body), t->fmt, rn(100000), rn(2000));
	snprintf(r->user, sizeof(r->user), "u%06u", rn(200000));
	r->route = routes[rn(10)];
	r->has_trace = rn(2) == 0;
	if (r->has_trace) {
		unsigned char id[16];
		trace_id(rn(TRACE_SPACE), id);
		hex(id, 16, r->trace);
	}
}

static void ndjson_line(struct b *o, const struct logrec *r)
{
	bf(o, "{\"time\":%" PRIu64 ",\"service\":\"svc%d\",\"severity\":\"%s\",\"body\":\"%s\"", r->ms, r->svc,
	   sev_text[r->sev], r->body);
	if (r->has_trace)
		bf(o, ",\"trace_id\":\"%s\"", r->trace);
	bf(o, ",\"user_id\":\"%s\",\"http.route\":\"%s\"}\n", r->user, r->route);
}

static void pb_log(struct b *o, const struct logrec *r)
{
	struct b any = { 0 };
	pfix64(o, 1, r->ms * 1000000ULL);
	pvarf(o, 2, (uint64_t)sev_num[r->sev]);
	pstr(o, 3, sev_text[r->sev]);
	pstr(&any, 1, r->body);
	pmsg(o, 5, &any);
	pkv(o, 6, "user_id", r->user);
	pkv(o, 6, "http.route", r->route);
	if (r->has_trace) {
		unsigned char id[16];
		for (int i = 0; i < 16; i++) {
			unsigned v;
			sscanf(r->trace + 2 * i, "%2x", &v);
			id[i] = (unsigned char)v;
		}
		pbytes(o, 9, id, 16);
	}
	pfix64(o, 11, r->ms * 1000000ULL);
	free(any.p);
}

static void json_log(struct b *o, const struct logrec *r)
{
	bf(o, "{\"timeUnixNano\":\"%" PRIu64 "000000\",\"observedTimeUnixNano\":\"%" PRIu64 "000000\","
	      "\"severityNumber\":%d,\"severityText\":\"%s\",\"body\":{\"stringValue\":\"%s\"},"
	      "\"attributes\":[{\"key\":\"user_id\",\"value\":{\"stringValue\":\"%s\"}},"
	      "{\"key\":\"http.route\",\"value\":{\"stringValue\":\"%s\"}}]",
	   r->ms, r->ms, sev_num[r->sev], sev_text[r->sev], r->body, r->user, r->route);
	if (r->has_trace)
		bf(o, ",\"traceId\":\"%s\"", r->trace);
	bch(o, '}');
}

static void pack(FILE *f, const struct b *body, uint32_t n)
{
	uint32_t h[2] = { (uint32_t)body->n, n };
	if (fwrite(h, 4, 2, f) != 2 || fwrite(body->p, 1, body->n, f) != body->n) { perror("write"); exit(1); }
}

static FILE *open_out(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f) { perror(path); exit(1); }
	return f;
}

static void gen_logs(uint64_t n, uint64_t start, uint64_t span, uint32_t batch, const char *dir, const char *formats)
{
	FILE *fn = open_out(dir, "logs.ndjson"), *fp = open_out(dir, "logs.pb");
	FILE *fj = strstr(formats, "json") ? open_out(dir, "logs.json") : NULL;
	struct logrec *recs = calloc(batch, sizeof(*recs));
	struct b nd = { 0 }, pb = { 0 }, js = { 0 }, rl = { 0 }, sl = { 0 }, lr = { 0 }, tmp = { 0 };
	for (uint64_t i = 0; i < n; i += batch) {
		uint32_t m = (uint32_t)(n - i < batch ? n - i : batch);
		nd.n = pb.n = js.n = 0;
		for (uint32_t k = 0; k < m; k++) {
			make_log(&recs[k], start + (i + k) * span / n);
			ndjson_line(&nd, &recs[k]);
		}
		bs(&js, "{\"resourceLogs\":[");
		int first_rl = 1;
		for (int s = 0; s < N_SERVICES; s++) {
			char svc[16];
			snprintf(svc, sizeof(svc), "svc%d", s);
			rl.n = sl.n = 0;
			struct b scope = { 0 };
			pstr(&scope, 1, "bench");
			pmsg(&sl, 1, &scope);
			free(scope.p);
			int cnt = 0;
			for (uint32_t k = 0; k < m; k++) {
				if (recs[k].svc != s)
					continue;
				lr.n = 0;
				pb_log(&lr, &recs[k]);
				pmsg(&sl, 2, &lr);
				if (!cnt)
					bf(&js, "%s{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"%s\"}}]},"
						"\"scopeLogs\":[{\"scope\":{\"name\":\"bench\"},\"logRecords\":[",
					   first_rl ? "" : ",", svc);
				else
					bch(&js, ',');
				json_log(&js, &recs[k]);
				cnt++;
			}
			if (!cnt)
				continue;
			first_rl = 0;
			bs(&js, "]}]}");
			tmp.n = 0;
			pkv(&tmp, 1, "service.name", svc);
			pmsg(&rl, 1, &tmp);
			pmsg(&rl, 2, &sl);
			pmsg(&pb, 1, &rl);
		}
		bs(&js, "]}");
		pack(fn, &nd, m);
		pack(fp, &pb, m);
		if (fj)
			pack(fj, &js, m);
	}
	fclose(fn); fclose(fp);
	if (fj)
		fclose(fj);
}

/* ---- spans --------------------------------------------------------------- */
static const char *ops[] = { "GET /api/cart", "POST /api/checkout", "GET /api/product", "SELECT orders",
			     "redis GET", "POST /api/payment", "GET /api/search", "publish event" };

struct span { int svc, kind, status; unsigned char tid[16], sid[8], pid[8]; int has_parent; uint64_t s_ns, e_ns; const char *name; };

static void gen_spans(uint64_t traces, uint64_t start, uint64_t span_ms, uint32_t batch, const char *dir)
{
	FILE *fp = open_out(dir, "spans.pb"), *fn = open_out(dir, "spans.ndjson");
	struct span *sp = calloc(batch + 16, sizeof(*sp));
	struct b pb = { 0 }, nd = { 0 }, rs = { 0 }, ss = { 0 }, one = { 0 }, tmp = { 0 };
	uint32_t m = 0;
	for (uint64_t k = 0; k <= traces; k++) {
		if (k == traces || m >= batch) {
			pb.n = nd.n = 0;
			for (int s = 0; s < N_SERVICES; s++) {
				char svc[16];
				snprintf(svc, sizeof(svc), "svc%d", s);
				rs.n = ss.n = 0;
				struct b scope = { 0 };
				pstr(&scope, 1, "bench");
				pmsg(&ss, 1, &scope);
				free(scope.p);
				int cnt = 0;
				for (uint32_t i = 0; i < m; i++) {
					if (sp[i].svc != s)
						continue;
					one.n = 0;
					pbytes(&one, 1, sp[i].tid, 16);
					pbytes(&one, 2, sp[i].sid, 8);
					if (sp[i].has_parent)
						pbytes(&one, 4, sp[i].pid, 8);
					pstr(&one, 5, sp[i].name);
					pvarf(&one, 6, (uint64_t)sp[i].kind);
					pfix64(&one, 7, sp[i].s_ns);
					pfix64(&one, 8, sp[i].e_ns);
					pkv(&one, 9, "http.route", routes[i % 10]);
					struct b st = { 0 };
					pvarf(&st, 3, (uint64_t)sp[i].status);
					pmsg(&one, 15, &st);
					free(st.p);
					pmsg(&ss, 2, &one);
					cnt++;
				}
				if (!cnt)
					continue;
				tmp.n = 0;
				pkv(&tmp, 1, "service.name", svc);
				pmsg(&rs, 1, &tmp);
				pmsg(&rs, 2, &ss);
				pmsg(&pb, 1, &rs);
			}
			for (uint32_t i = 0; i < m; i++) {
				char t[33], s[17], p[17];
				hex(sp[i].tid, 16, t);
				hex(sp[i].sid, 8, s);
				if (sp[i].has_parent) hex(sp[i].pid, 8, p); else p[0] = 0;
				bf(&nd, "{\"trace_id\":\"%s\",\"span_id\":\"%s\",\"parent_span_id\":\"%s\",\"service\":\"svc%d\","
					"\"name\":\"%s\",\"kind\":%d,\"start_ns\":%" PRIu64 ",\"end_ns\":%" PRIu64 ",\"status\":%d,\"http.route\":\"%s\"}\n",
				   t, s, p, sp[i].svc, sp[i].name, sp[i].kind, sp[i].s_ns, sp[i].e_ns, sp[i].status, routes[i % 10]);
			}
			pack(fp, &pb, m);
			pack(fn, &nd, m);
			m = 0;
			if (k == traces)
				break;
		}
		/* one trace: 10 spans over 5 services, a chain root → 4 calls, each a client + server pair */
		unsigned char tid[16];
		trace_id(k, tid);
		uint64_t t0 = (start + k * span_ms / traces) * 1000000ULL;
		int svcs[5];
		svcs[0] = (int)(k % N_SERVICES);
		for (int j = 1; j < 5; j++) svcs[j] = (svcs[0] + j * 3 + (int)(k / N_SERVICES % 3)) % N_SERVICES;
		int err = rn(50) == 0;
		uint64_t dur = 20000000ULL + rn(200) * 1000000ULL;
		for (int j = 0; j < 10; j++) {
			struct span *x = &sp[m++];
			memcpy(x->tid, tid, 16);
			span_id(k, j, x->sid);
			x->has_parent = j > 0;
			if (j > 0) span_id(k, j - 1, x->pid);
			int hop = (j + 1) / 2; /* 0:root; 1,2: client/server at hop 1; ... */
			x->svc = svcs[hop > 4 ? 4 : hop];
			if (j > 0 && j % 2 == 1) x->svc = svcs[hop - 1]; /* client span lives in the caller */
			x->kind = j == 0 ? 2 : j % 2 == 1 ? 3 : 2;
			x->name = ops[(k + (uint64_t)hop) % 8];
			x->s_ns = t0 + (uint64_t)j * 1000000ULL;
			x->e_ns = x->s_ns + dur - (uint64_t)j * 1500000ULL;
			x->status = err && j == 9 ? 2 : 0;
		}
	}
	fclose(fp); fclose(fn);
}

/* ---- metrics ------------------------------------------------------------- */
static void gen_metrics(uint32_t series, uint64_t start, uint64_t end, uint64_t step, const char *dir)
{
	FILE *fj = open_out(dir, "metrics.json"), *fn = open_out(dir, "metrics.ndjson");
	struct b js = { 0 }, nd = { 0 };
	uint64_t *val = calloc(series, sizeof(*val));
	uint32_t per_batch_ts = 10;
	for (uint64_t t = start; t <= end; t += step * per_batch_ts) {
		js.n = nd.n = 0;
		uint32_t npts = 0;
		bs(&js, "{\"resourceMetrics\":[");
		for (int s = 0; s < N_SERVICES; s++) {
			bf(&js, "%s{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"svc%d\"}}]},"
				"\"scopeMetrics\":[{\"scope\":{\"name\":\"bench\"},\"metrics\":[{\"name\":\"bench_requests_total\","
				"\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":true,\"dataPoints\":[",
			   s ? "," : "", s);
			int first = 1;
			for (uint64_t tt = t; tt < t + step * per_batch_ts && tt <= end; tt += step) {
				for (uint32_t i = (uint32_t)s; i < series; i += N_SERVICES) {
					val[i] += 1 + rn(100);
					bf(&js, "%s{\"attributes\":[{\"key\":\"instance\",\"value\":{\"stringValue\":\"i%u\"}}],"
						"\"startTimeUnixNano\":\"%" PRIu64 "000000\",\"timeUnixNano\":\"%" PRIu64 "000000\",\"asDouble\":%" PRIu64 "}",
					   first ? "" : ",", i, start, tt, val[i]);
					bf(&nd, "{\"name\":\"bench_requests_total\",\"service\":\"svc%d\",\"instance\":\"i%u\",\"t\":%" PRIu64 ",\"value\":%" PRIu64 "}\n",
					   s, i, tt, val[i]);
					first = 0;
					npts++;
				}
			}
			bs(&js, "]}}]}]}");
		}
		bs(&js, "]}");
		pack(fj, &js, npts);
		pack(fn, &nd, npts);
	}
	fclose(fj); fclose(fn);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "traceid")) {
		unsigned char id[16];
		char h[33];
		trace_id(strtoull(argv[2], NULL, 10), id);
		hex(id, 16, h);
		puts(h);
		return 0;
	}
	if (argc != 7 && argc != 8) {
		fprintf(stderr, "usage: bench_gen logs|spans|metrics ... DIR (see the source)\n");
		return 2;
	}
	uint64_t a = strtoull(argv[2], NULL, 10), b = strtoull(argv[3], NULL, 10), c = strtoull(argv[4], NULL, 10),
		 d = strtoull(argv[5], NULL, 10);
	if (!strcmp(argv[1], "logs"))
		gen_logs(a, b, c, (uint32_t)d, argv[6], argc == 8 ? argv[7] : "ndjson,pb,json");
	else if (!strcmp(argv[1], "spans"))
		gen_spans(a, b, c, (uint32_t)d, argv[6]);
	else if (!strcmp(argv[1], "metrics"))
		gen_metrics((uint32_t)a, b, c, d, argv[6]);
	else
		return 2;
	return 0;
}
