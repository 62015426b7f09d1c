/*
 * Anomaly watches on configured PromQL series (see watch.h). `mu` guards
 * the watches and their learned state; the worker holds it through an
 * evaluation, so a reload or GET /api/v1/anomalies waits for the one
 * running, while the engine tick, once the worker runs, never takes it.
 */
#include "detect/watch.h"
#include "detect/evalworker.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/error.h"
#include "core/time.h"
#include "detect/anomaly.h"
#include "query/metrics.h"
#include "query/promql.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>

#define MAX_WATCHES 64
#define MAX_SERIES 1000

struct wseries {
	char *key;       /* labels as name=value, … (also the signal's identity) */
	json_t *labels;
	struct anomaly_state *st;
	struct anomaly_result last;
	double value;
};

struct watch {
	char name[128];
	char *expr;
	int64_t interval_ns;
	int direction;   /* +1 up, -1 down, 0 both */
	double threshold;
	enum alert_severity severity;
	int64_t next_ns;
	struct anomaly_config acfg;
	struct wseries *s;
	size_t n;
};

struct watches {
	struct metrics_ctx mctx;
	struct promql_source src;
	const struct promql_source *override; /* tests */
	pthread_mutex_t mu;
	struct watch *v;
	size_t n;
	struct evalworker *worker; /* NULL: watches_tick evaluates inline */
};

static void watch_release(struct watch *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->s[i].key);
		json_decref(w->s[i].labels);
		free(w->s[i].st);
	}
	free(w->s);
	free(w->expr);
	memset(w, 0, sizeof(*w));
}

int watches_create(struct tstore *t, struct live_signals *live, struct watches **out, struct buf *err)
{
	(void)err;
	struct watches *w = xcalloc(1, sizeof(*w));
	w->mctx.tstore = t;
	w->mctx.live = live;
	metrics_source_init(&w->src, &w->mctx);
	pthread_mutex_init(&w->mu, NULL);
	*out = w;
	return 0;
}

int watches_start(struct watches *w, struct buf *err)
{
	if (w->worker)
		return 0;
	return evalworker_create("anomaly watches", watches_evaluate, w, &w->worker, err);
}

void watches_wait(struct watches *w)
{
	if (w->worker)
		evalworker_wait_idle(w->worker);
}

void watches_set_source(struct watches *w, const struct promql_source *src)
{
	pthread_mutex_lock(&w->mu);
	w->override = src;
	pthread_mutex_unlock(&w->mu);
}

void watches_destroy(struct watches *w)
{
	if (!w)
		return;
	evalworker_destroy(w->worker); /* before what its evaluation reads goes away */
	for (size_t i = 0; i < w->n; i++)
		watch_release(&w->v[i]);
	free(w->v);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

static int parse_one(json_t *j, size_t i, struct watch *out, struct buf *err)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(j)) {
		buf_addf(err, "anomalies[%zu]: a mapping {name, expr, interval?, direction?, threshold?, severity?}", i);
		return OODA_EINVAL;
	}
	/* which keys may appear is the config schema's (core/config.c) */
	const char *name = json_string_value(json_object_get(j, "name"));
	const char *expr = json_string_value(json_object_get(j, "expr"));
	if (!name || !*name || strlen(name) >= sizeof(out->name)) {
		buf_addf(err, "anomalies[%zu].name: a name of 1 to 127 characters is required", i);
		return OODA_EINVAL;
	}
	if (!expr) {
		buf_addf(err, "anomalies[%zu].expr: a PromQL expression is required", i);
		return OODA_EINVAL;
	}
	struct arena a;
	arena_init(&a, 0);
	struct promql_expr *e;
	struct buf why = BUF_INIT;
	int rc = promql_parse(expr, strlen(expr), &a, &e, &why);
	arena_release(&a);
	if (rc) {
		buf_addf(err, "anomalies[%zu].expr: %s", i, why.data);
		buf_release(&why);
		return OODA_EINVAL;
	}
	buf_release(&why);
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->interval_ns = 60 * OODA_NS_PER_SEC;
	json_t *ivj = json_object_get(j, "interval");
	const char *iv = json_string_value(ivj);
	if (ivj && !json_is_null(ivj) &&
	    (!iv || ooda_duration_parse(iv, strlen(iv), &out->interval_ns) || out->interval_ns < OODA_NS_PER_SEC)) {
		buf_addf(err, "anomalies[%zu].interval: %s is not a duration of at least 1s (like 30s)", i, iv ? iv : "this");
		return OODA_EINVAL;
	}
	const char *dir = json_string_value(json_object_get(j, "direction"));
	if (dir && strcmp(dir, "up") && strcmp(dir, "down") && strcmp(dir, "both")) {
		buf_addf(err, "anomalies[%zu].direction: up, down or both, not %s", i, dir);
		return OODA_EINVAL;
	}
	out->direction = !dir || !strcmp(dir, "both") ? 0 : !strcmp(dir, "up") ? 1 : -1;
	json_t *th = json_object_get(j, "threshold");
	out->threshold = json_is_number(th) ? json_number_value(th) : 0.99;
	if ((th && !json_is_null(th) && !json_is_number(th)) || out->threshold <= 0 || out->threshold >= 1) {
		buf_addf(err, "anomalies[%zu].threshold: a score strictly between 0 and 1", i);
		return OODA_EINVAL;
	}
	out->severity = SEVERITY_TICKET;
	const char *sev = json_string_value(json_object_get(j, "severity"));
	if (sev && alert_severity_parse(sev, &out->severity)) {
		buf_addf(err, "anomalies[%zu].severity: page, ticket or info, not %s", i, sev);
		return OODA_EINVAL;
	}
	json_t *wu = json_object_get(j, "warmup");
	if (wu && (!json_is_integer(wu) || json_integer_value(wu) < 10 || json_integer_value(wu) > 100000)) {
		buf_addf(err, "anomalies[%zu].warmup: a number of points between 10 and 100000", i);
		return OODA_EINVAL;
	}
	out->acfg.warmup_points = wu ? (uint32_t)json_integer_value(wu) : 0;
	out->expr = xstrdup(expr);
	return 0;
}

int watches_configure(struct watches *w, const char *section_json, bool apply, struct buf *err)
{
	json_t *j = section_json ? json_loads(section_json, JSON_DECODE_ANY, NULL) : NULL;
	if (j && !json_is_array(j) && !json_is_null(j)) {
		json_decref(j);
		buf_adds(err, "anomalies: a list of watches {name, expr, interval?, direction?, threshold?, severity?}");
		return OODA_EINVAL;
	}
	size_t n = json_array_size(j);
	if (n > MAX_WATCHES) {
		json_decref(j);
		buf_addf(err, "anomalies: at most %d watches", MAX_WATCHES);
		return OODA_EINVAL;
	}
	struct watch *v = xcalloc(n + 1, sizeof(*v));
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		rc = parse_one(json_array_get(j, i), i, &v[i], err);
		for (size_t k = 0; k < i && !rc; k++)
			if (!strcmp(v[k].name, v[i].name)) {
				buf_addf(err, "anomalies[%zu].name: %s is used twice", i, v[i].name);
				rc = OODA_EINVAL;
			}
	}
	json_decref(j);
	if (rc || !apply || !w) {
		for (size_t i = 0; i < n; i++)
			watch_release(&v[i]);
		free(v);
		return rc;
	}
	pthread_mutex_lock(&w->mu);
	/* keep what unchanged watches learned */
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < w->n; k++)
			if (!strcmp(v[i].name, w->v[k].name) && !strcmp(v[i].expr, w->v[k].expr) &&
			    v[i].acfg.warmup_points == w->v[k].acfg.warmup_points) {
				v[i].s = w->v[k].s;
				v[i].n = w->v[k].n;
				v[i].next_ns = w->v[k].next_ns;
				w->v[k].s = NULL;
				w->v[k].n = 0;
			}
	for (size_t k = 0; k < w->n; k++)
		watch_release(&w->v[k]);
	free(w->v);
	w->v = v;
	w->n = n;
	pthread_mutex_unlock(&w->mu);
	return 0;
}

static struct wseries *series_of(struct watches *ws, struct watch *w, const struct promql_series *s)
{
	struct buf key = BUF_INIT;
	for (uint32_t i = 0; i < s->n_labels; i++)
		buf_addf(&key, "%s%s=%s", i ? "," : "", s->labels[i].name, s->labels[i].value);
	struct wseries *x = NULL;
	for (size_t i = 0; i < w->n && !x; i++)
		if (!strcmp(w->s[i].key, key.data))
			x = &w->s[i];
	if (!x && w->n < MAX_SERIES) {
		w->s = xrealloc(w->s, (w->n + 1) * sizeof(*w->s));
		x = &w->s[w->n++];
		memset(x, 0, sizeof(*x));
		x->key = buf_detach(&key, NULL);
		x->labels = json_object();
		for (uint32_t i = 0; i < s->n_labels; i++)
			json_object_set_new(x->labels, s->labels[i].name, json_string(s->labels[i].value));
		x->st = xmalloc(anomaly_state_size(&w->acfg));
		anomaly_init(x->st, &w->acfg);
	}
	buf_release(&key);
	return x;
}

static void emit(struct watch *w, struct wseries *x, int64_t now_ns, const struct alert_sink *sink)
{
	const struct anomaly_result *r = &x->last;
	bool dir_ok = !w->direction || r->direction == w->direction;
	bool active = !r->warming_up && r->score >= w->threshold && dir_ok && r->direction != 0;
	char name[200];
	snprintf(name, sizeof(name), "anomaly:%s", w->name);
	json_t *ev = json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:i, s:b, s:s?}", "expr", w->expr, "value", x->value,
			       "baseline", isfinite(r->baseline) ? r->baseline : 0.0, "expected_lo",
			       isfinite(r->expected_lo) ? r->expected_lo : 0.0, "expected_hi",
			       isfinite(r->expected_hi) ? r->expected_hi : 0.0, "score", r->score, "direction", r->direction,
			       "warming_up", r->warming_up, "detector", r->detector);
	char summary[400];
	snprintf(summary, sizeof(summary), "%s {%s} is %s its baseline (%.4g vs %.4g, confidence %.3f)", w->name, x->key,
		 r->direction > 0 ? "above" : "below", x->value, r->baseline, r->score);
	json_t *ann = json_pack("{s:s}", "summary", summary);
	const char *svc = json_string_value(json_object_get(x->labels, "job"));
	struct alert_signal s = { .source = "anomaly", .name = name, .service = svc, .severity = w->severity,
				  .labels = x->labels, .annotations = ann, .evidence = ev, .active = active,
				  .at_ns = now_ns };
	alert_emit(sink, &s);
	json_decref(ev);
	json_decref(ann);
}

void watches_evaluate(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	struct watches *ws = ctx;
	pthread_mutex_lock(&ws->mu);
	const struct promql_source *src = ws->override ? ws->override : &ws->src;
	for (size_t i = 0; i < ws->n; i++) {
		struct watch *w = &ws->v[i];
		if (now_ns < w->next_ns)
			continue;
		if (ws->worker && evalworker_stopping(ws->worker))
			break;
		w->next_ns = (now_ns / w->interval_ns + 1) * w->interval_ns;
		struct arena a;
		arena_init(&a, 0);
		struct promql_expr *e;
		struct promql_value v;
		struct buf err = BUF_INIT;
		if (!promql_parse(w->expr, strlen(w->expr), &a, &e, &err) &&
		    !promql_eval_instant(e, src, now_ns / 1000000, &a, &v, &err)) {
			if (v.type == PROMQL_SCALAR) {
				struct promql_series one = { 0 };
				struct promql_sample smp = { now_ns / 1000000, v.scalar };
				one.samples = &smp;
				one.n_samples = 1;
				v.series = &one;
				v.n_series = 1;
				v.type = PROMQL_VECTOR;
				struct wseries *x = series_of(ws, w, &one);
				if (x) {
					x->value = v.scalar;
					anomaly_update(x->st, now_ns, x->value, &x->last);
					emit(w, x, now_ns, sink);
				}
			} else if (v.type == PROMQL_VECTOR) {
				for (size_t k = 0; k < v.n_series; k++) {
					const struct promql_series *s = &v.series[k];
					if (!s->n_samples || !isfinite(s->samples[0].v))
						continue;
					struct wseries *x = series_of(ws, w, s);
					if (!x)
						continue;
					x->value = s->samples[s->n_samples - 1].v;
					anomaly_update(x->st, now_ns, x->value, &x->last);
					emit(w, x, now_ns, sink);
				}
			}
		}
		buf_release(&err);
		arena_release(&a);
	}
	pthread_mutex_unlock(&ws->mu);
}

void watches_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	struct watches *ws = ctx;
	if (ws->worker)
		evalworker_tick(ws->worker, now_ns, sink);
	else
		watches_evaluate(ws, now_ns, sink);
}

void watches_json(struct watches *ws, struct buf *out)
{
	pthread_mutex_lock(&ws->mu);
	buf_adds(out, "{\"watches\":[");
	for (size_t i = 0; i < ws->n; i++) {
		struct watch *w = &ws->v[i];
		buf_addf(out, "%s{\"name\":", i ? "," : "");
		buf_add_json_str(out, w->name, strlen(w->name));
		buf_adds(out, ",\"expr\":");
		buf_add_json_str(out, w->expr, strlen(w->expr));
		buf_adds(out, ",\"series\":[");
		for (size_t k = 0; k < w->n; k++) {
			struct wseries *x = &w->s[k];
			char *l = json_dumps(x->labels, JSON_COMPACT);
			buf_addf(out, "%s{\"labels\":%s,\"value\":%.6g,\"baseline\":%.6g,\"score\":%.4f,\"direction\":%d,"
				      "\"warming_up\":%s}",
				 k ? "," : "", l, isfinite(x->value) ? x->value : 0,
				 isfinite(x->last.baseline) ? x->last.baseline : 0, x->last.score, x->last.direction,
				 x->last.warming_up ? "true" : "false");
			free(l);
		}
		buf_adds(out, "]}");
	}
	buf_adds(out, "]}");
	pthread_mutex_unlock(&ws->mu);
}

int watches_config_check(const char *section_json, struct buf *err)
{
	return watches_configure(NULL, section_json, false, err);
}
