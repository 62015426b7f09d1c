/*
 * RED anomaly watch (see redwatch.h).
 */
#include "detect/redwatch.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/time.h"

#include <math.h>
#include <pthread.h>

enum { M_RATE, M_ERRORS, M_P99, N_METRICS };

static const char *const metric_names[N_METRICS] = { "request_rate", "error_ratio", "p99_ms" };
/* the harmful direction of each metric */
static const int bad_direction[N_METRICS] = { -1, +1, +1 };

struct watched {
	char service[LIVE_NAME_MAX + 1];
	struct anomaly_state *st[N_METRICS];
	struct anomaly_result last[N_METRICS];
	double value[N_METRICS];
	bool seen[N_METRICS];
};

struct redwatch {
	struct live_signals *live;
	struct redwatch_config cfg;
	size_t state_size;
	pthread_mutex_t mu; /* guards the services for redwatch_json */
	struct watched *v;
	size_t n;
	int64_t last_slot; /* start of the last slot processed */
};

int redwatch_create(struct live_signals *live, const struct redwatch_config *cfg, struct redwatch **out)
{
	struct redwatch *w = xcalloc(1, sizeof(*w));
	w->live = live;
	if (cfg)
		w->cfg = *cfg;
	if (w->cfg.threshold <= 0)
		w->cfg.threshold = 0.99;
	if (!w->cfg.max_services)
		w->cfg.max_services = 256;
	w->state_size = anomaly_state_size(&w->cfg.anomaly);
	w->v = xcalloc(w->cfg.max_services, sizeof(*w->v));
	pthread_mutex_init(&w->mu, NULL);
	*out = w;
	return 0;
}

void redwatch_destroy(struct redwatch *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n; i++)
		for (int m = 0; m < N_METRICS; m++)
			free(w->v[i].st[m]);
	free(w->v);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

static struct watched *find(struct redwatch *w, const char *service, bool create)
{
	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->v[i].service, service))
			return &w->v[i];
	if (!create || w->n == w->cfg.max_services)
		return NULL;
	struct watched *x = &w->v[w->n++];
	snprintf(x->service, sizeof(x->service), "%s", service);
	for (int m = 0; m < N_METRICS; m++) {
		x->st[m] = xmalloc(w->state_size);
		anomaly_init(x->st[m], &w->cfg.anomaly);
	}
	return x;
}

struct slot_sum {
	uint64_t req, err;
	double p99;
	bool any;
};

bool redwatch_harmful(const struct anomaly_result *r, double value, int bad, double threshold)
{
	if (r->warming_up || !(r->score >= threshold) || r->direction != bad)
		return false;
	if (bad < 0 && isfinite(r->expected_lo) && !(value < r->expected_lo))
		return false;
	if (bad > 0 && isfinite(r->expected_hi) && !(value > r->expected_hi))
		return false;
	return true;
}

static void emit(struct redwatch *w, struct watched *x, int m, int64_t t, const struct alert_sink *sink)
{
	const struct anomaly_result *r = &x->last[m];
	bool active = redwatch_harmful(r, x->value[m], bad_direction[m], w->cfg.threshold);
	char name[LIVE_NAME_MAX + 64];
	snprintf(name, sizeof(name), "anomaly:%s/%s", x->service, metric_names[m]);
	json_t *ev = json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:i, s:b, s:s, s:s?}", "metric", metric_names[m], "value",
			       x->value[m], "baseline", isfinite(r->baseline) ? r->baseline : 0.0, "expected_lo",
			       isfinite(r->expected_lo) ? r->expected_lo : 0.0, "expected_hi",
			       isfinite(r->expected_hi) ? r->expected_hi : 0.0, "score", r->score, "direction",
			       r->direction, "warming_up", r->warming_up, "window", "10s slots", "detector", r->detector);
	json_t *labels = json_pack("{s:s}", "metric", metric_names[m]);
	char summary[300];
	snprintf(summary, sizeof(summary), "%s %s is %s its baseline (%.3g vs %.3g, confidence %.3f)", x->service,
		 metric_names[m], r->direction > 0 ? "above" : "below", x->value[m], r->baseline, r->score);
	json_t *ann = json_pack("{s:s}", "summary", summary);
	struct alert_signal s = { .source = "anomaly", .name = name, .service = x->service,
				  .severity = SEVERITY_TICKET, .labels = labels, .annotations = ann, .evidence = ev,
				  .active = active, .at_ns = t };
	alert_emit(sink, &s);
	json_decref(ev);
	json_decref(labels);
	json_decref(ann);
}

void redwatch_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	struct redwatch *w = ctx;
	const int64_t slot = 10 * OODA_NS_PER_SEC;
	int64_t target = (now_ns / slot - 2) * slot; /* the slot that closed two slots ago */
	if (w->last_slot && target <= w->last_slot)
		return;
	int64_t from = w->last_slot ? w->last_slot + slot : target;
	if (target - from > 60 * slot) /* after a long pause, skip ahead */
		from = target - 60 * slot;
	struct arena a;
	arena_init(&a, 0);
	for (int64_t t = from; t <= target; t += slot) {
		arena_reset(&a);
		struct live_red *reds = NULL;
		size_t n = 0;
		struct buf err = BUF_INIT;
		live_red_snapshot(w->live, t, t + slot, &a, &reds, &n, &err);
		buf_release(&err);
		pthread_mutex_lock(&w->mu);
		/* per service: sum over operations; p99 = the worst operation's */
		for (size_t i = 0; i < w->n; i++)
			for (int m = 0; m < N_METRICS; m++)
				w->v[i].seen[m] = false;
		for (size_t i = 0; i < n; i++) {
			struct live_red *r = &reds[i];
			struct watched *x = find(w, r->service, true);
			if (!x || !r->n_slots)
				continue;
			uint32_t k = r->n_slots - 1;
			double p99 = r->p99_ms[k];
			if (!x->seen[M_RATE]) {
				x->value[M_RATE] = x->value[M_ERRORS] = 0;
				x->value[M_P99] = NAN;
				x->seen[M_RATE] = true;
			}
			x->value[M_RATE] += (double)r->requests[k];
			x->value[M_ERRORS] += (double)r->errors[k]; /* a count until the ratio below */
			if (!isnan(p99) && (isnan(x->value[M_P99]) || p99 > x->value[M_P99]))
				x->value[M_P99] = p99;
		}
		for (size_t i = 0; i < w->n; i++) {
			struct watched *x = &w->v[i];
			if (!x->seen[M_RATE]) /* a known service with no request in the slot */
				x->value[M_RATE] = 0;
			double req = x->value[M_RATE];
			anomaly_update(x->st[M_RATE], t, req / 10.0, &x->last[M_RATE]);
			x->value[M_RATE] = req / 10.0;
			if (req > 0) {
				x->value[M_ERRORS] /= req;
				anomaly_update(x->st[M_ERRORS], t, x->value[M_ERRORS], &x->last[M_ERRORS]);
				if (!isnan(x->value[M_P99]))
					anomaly_update(x->st[M_P99], t, x->value[M_P99], &x->last[M_P99]);
			}
			for (int m = 0; m < N_METRICS; m++)
				emit(w, x, m, t + slot, sink);
		}
		pthread_mutex_unlock(&w->mu);
	}
	w->last_slot = target;
	arena_release(&a);
}

void redwatch_json(struct redwatch *w, struct buf *out)
{
	pthread_mutex_lock(&w->mu);
	buf_adds(out, "{\"services\":[");
	for (size_t i = 0; i < w->n; i++) {
		struct watched *x = &w->v[i];
		buf_addf(out, "%s{\"service\":", i ? "," : "");
		buf_add_json_str(out, x->service, strlen(x->service));
		for (int m = 0; m < N_METRICS; m++) {
			const struct anomaly_result *r = &x->last[m];
			buf_addf(out, ",\"%s\":{\"value\":%.6g,\"baseline\":%.6g,\"expected_lo\":%.6g,\"expected_hi\":%.6g,"
				      "\"score\":%.4f,\"direction\":%d,\"warming_up\":%s}",
				 metric_names[m], isfinite(x->value[m]) ? x->value[m] : 0, isfinite(r->baseline) ? r->baseline : 0,
				 isfinite(r->expected_lo) ? r->expected_lo : 0, isfinite(r->expected_hi) ? r->expected_hi : 0,
				 r->score, r->direction, r->warming_up ? "true" : "false");
		}
		buf_addch(out, '}');
	}
	buf_adds(out, "]}");
	pthread_mutex_unlock(&w->mu);
}
