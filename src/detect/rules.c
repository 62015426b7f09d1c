/*
 * Alert rules: loading and validating the `alerts:` section, evaluating each
 * rule's PromQL on the rules' worker (evalworker.h; inline when none was
 * started), and turning result series into signals for the alerting core.
 * Format and contract in rules.h.
 *
 * Locks: `mu` guards the rule set, the source and the evaluation state; the
 * worker holds it through an evaluation, so a reload waits for the one
 * running. The engine tick never takes it once the worker runs.
 */
#include "detect/rules.h"
#include "detect/evalworker.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "query/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

struct rule {
	char *name, *expr_text, *service;
	struct promql_expr *expr; /* lives in the set's arena */
	int64_t for_ns, keep_ns;
	enum alert_severity severity;
	json_t *labels, *annotations; /* objects of strings */
	json_t *active;               /* canonical label text → labels of the series last seen active */
};

struct rule_set {
	struct arena arena;
	struct rule *v;
	size_t n;
	int64_t interval_ns, group_window_ns;
};

struct rules {
	pthread_mutex_t mu;
	struct rule_set *set;
	struct metrics_ctx mctx;
	struct promql_source src;
	const struct promql_source *override;
	int64_t next_ns;
	int64_t last_ns;    /* when the last evaluation ran (0: never) */
	int64_t last_took_ns; /* how long it took */
	int64_t early;      /* evaluations brought forward by fresh telemetry */
	atomic_bool fresh;  /* telemetry arrived since the last evaluation */
	_Atomic int64_t due_last, due_gap, due_interval; /* last_ns, the fresh gap, the interval: for rules_next_due */
	void (*wake)(void *ctx); /* after an evaluation during which telemetry arrived (rules_on_signals) */
	void *wake_ctx;
	json_t *orphans; /* [{name, service, labels}] of removed rules, reported inactive at the next tick */
	struct arena eval;
	int64_t last_log_ns;
	struct evalworker *worker; /* NULL: rules_tick evaluates inline */
};

static void set_free(struct rule_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++) {
		struct rule *r = &set->v[i];
		free(r->name);
		free(r->expr_text);
		free(r->service);
		json_decref(r->labels);
		json_decref(r->annotations);
		json_decref(r->active);
	}
	free(set->v);
	arena_release(&set->arena);
	free(set);
}

/* ---- loading ------------------------------------------------------------ */

static int duration_of(json_t *v, const char *path, const char *key, int64_t *out, struct buf *err)
{
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v) || json_is_real(v)) {
		double s = json_number_value(v);
		if (s < 0 || s > 365.0 * 86400) {
			buf_addf(err, "%s.%s: %g seconds is out of range", path, key, s);
			return OODA_EINVAL;
		}
		*out = (int64_t)(s * 1e9);
		return 0;
	}
	const char *s = json_string_value(v);
	if (!s || ooda_duration_parse(s, strlen(s), out) || *out < 0) {
		buf_addf(err, "%s.%s: expected a duration like 30s or 5m", path, key);
		return OODA_EINVAL;
	}
	return 0;
}

/* An object whose values are strings (numbers and booleans are written as text). */
static int string_map(json_t *v, const char *path, const char *key, bool scalars, json_t **out, struct buf *err)
{
	*out = json_object();
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v)) {
		buf_addf(err, "%s.%s: expected a mapping of name: value", path, key);
		return OODA_EINVAL;
	}
	const char *k;
	json_t *x;
	json_object_foreach(v, k, x) {
		if (json_is_string(x)) {
			json_object_set(*out, k, x);
		} else if (scalars && (json_is_number(x) || json_is_boolean(x))) {
			char *t = json_dumps(x, JSON_ENCODE_ANY);
			json_object_set_new(*out, k, json_string(t));
			free(t);
		} else {
			buf_addf(err, "%s.%s.%s: expected a string", path, key, k);
			return OODA_EINVAL;
		}
		if (!*k || strlen(k) > 256 || json_string_length(json_object_get(*out, k)) > 4096) {
			buf_addf(err, "%s.%s.%s: name or value too long (or empty name)", path, key, k);
			return OODA_EINVAL;
		}
	}
	return 0;
}

static int parse_rule(json_t *j, const char *path, struct rule_set *set, struct rule *out, struct buf *err)
{
	/* which keys may appear is the config schema's (core/config.c) */
	if (!json_is_object(j)) {
		buf_addf(err, "%s: expected a mapping with name and expr", path);
		return OODA_EINVAL;
	}
	const char *name = json_string_value(json_object_get(j, "name"));
	if (!name || !*name || strlen(name) > 256) {
		buf_addf(err, "%s.name: %s", path, name && *name ? "longer than 256 characters" : "missing");
		return OODA_EINVAL;
	}
	const char *expr = json_string_value(json_object_get(j, "expr"));
	if (!expr || !*expr) {
		buf_addf(err, "%s.expr: missing (a PromQL expression)", path);
		return OODA_EINVAL;
	}
	struct buf perr = BUF_INIT;
	int rc = promql_parse(expr, strlen(expr), &set->arena, &out->expr, &perr);
	if (rc) {
		buf_addf(err, "%s.expr: %s", path, perr.data);
		buf_release(&perr);
		return OODA_EINVAL;
	}
	buf_release(&perr);
	json_t *sev = json_object_get(j, "severity");
	out->severity = SEVERITY_TICKET;
	if (sev && alert_severity_parse(json_string_value(sev), &out->severity)) {
		buf_addf(err, "%s.severity: expected page, ticket or info (critical and warning also work)", path);
		return OODA_EINVAL;
	}
	json_t *svc = json_object_get(j, "service");
	if (svc && (!json_is_string(svc) || !json_string_length(svc))) {
		buf_addf(err, "%s.service: expected a service name", path);
		return OODA_EINVAL;
	}
	if ((rc = duration_of(json_object_get(j, "for"), path, "for", &out->for_ns, err)) ||
	    (rc = duration_of(json_object_get(j, "keep_firing_for"), path, "keep_firing_for", &out->keep_ns, err)))
		return rc;
	if ((rc = string_map(json_object_get(j, "labels"), path, "labels", true, &out->labels, err)) ||
	    (rc = string_map(json_object_get(j, "annotations"), path, "annotations", false, &out->annotations, err)))
		return rc;
	if (!sev) {
		const char *ls = json_string_value(json_object_get(out->labels, "severity"));
		if (ls)
			alert_severity_parse(ls, &out->severity);
	}
	out->name = xstrdup(name);
	out->expr_text = xstrdup(expr);
	out->service = svc ? xstrdup(json_string_value(svc)) : NULL;
	out->active = json_object();
	return 0;
}

static int parse_section(const char *section_json, struct rule_set **out, struct buf *err)
{
	struct rule_set *set = xcalloc(1, sizeof(*set));
	arena_init(&set->arena, 0);
	set->interval_ns = RULES_DEFAULT_INTERVAL_NS;
	*out = set;
	if (!section_json)
		return 0;
	json_error_t je;
	json_t *j = json_loads(section_json, JSON_DECODE_ANY, &je);
	if (!j) {
		buf_addf(err, "alerts: invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
		return OODA_EINVAL;
	}
	int rc = 0;
	json_t *list = j;
	const char *prefix = "alerts";
	if (json_is_object(j)) {
		prefix = "alerts.rules";
		list = json_object_get(j, "rules");
		if (!rc && !(rc = duration_of(json_object_get(j, "interval"), "alerts", "interval", &set->interval_ns,
					      err)))
			rc = duration_of(json_object_get(j, "group_window"), "alerts", "group_window",
					 &set->group_window_ns, err);
		if (!rc && set->interval_ns == 0)
			set->interval_ns = RULES_DEFAULT_INTERVAL_NS;
		if (!rc && set->interval_ns < 100 * OODA_NS_PER_MS) {
			buf_adds(err, "alerts.interval: at least 100ms");
			rc = OODA_EINVAL;
		}
		if (!rc && !list)
			list = json_null();
	}
	if (!rc && !json_is_null(list) && !json_is_array(list)) {
		buf_addf(err, "%s: expected a list of rules", prefix);
		rc = OODA_EINVAL;
	}
	if (!rc && json_array_size(list) > RULES_MAX) {
		buf_addf(err, "%s: more than %d rules", prefix, RULES_MAX);
		rc = OODA_EINVAL;
	}
	if (!rc && json_array_size(list)) {
		set->v = xcalloc(json_array_size(list), sizeof(*set->v));
		size_t i;
		json_t *rj;
		json_array_foreach(list, i, rj) {
			char path[64];
			snprintf(path, sizeof(path), "%s[%zu]", prefix, i);
			rc = parse_rule(rj, path, set, &set->v[i], err);
			if (rc) {
				/* free what this rule took before failing */
				json_decref(set->v[i].labels);
				json_decref(set->v[i].annotations);
				memset(&set->v[i], 0, sizeof(set->v[i]));
				break;
			}
			set->n++;
		}
	}
	json_decref(j);
	return rc;
}

int rules_create(struct tstore *tstore, struct live_signals *live, struct rules **out, struct buf *err)
{
	struct rules *r = xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	r->mctx.tstore = tstore;
	r->mctx.live = live;
	metrics_source_init(&r->src, &r->mctx);
	r->orphans = json_array();
	arena_init(&r->eval, 0);
	struct buf ignore = BUF_INIT;
	parse_section(NULL, &r->set, &ignore);
	buf_release(&ignore);
	atomic_store(&r->due_gap, rules_fresh_gap_ns(r->set->interval_ns));
	atomic_store(&r->due_interval, r->set->interval_ns);
	*out = r;
	return 0;
}

int rules_start(struct rules *r, struct buf *err)
{
	if (r->worker)
		return 0;
	return evalworker_create("alert rules", rules_evaluate, r, &r->worker, err);
}

void rules_wait(struct rules *r)
{
	if (r->worker)
		evalworker_wait_idle(r->worker);
}

void rules_destroy(struct rules *r)
{
	if (!r)
		return;
	evalworker_destroy(r->worker); /* before what its evaluation reads goes away */
	set_free(r->set);
	json_decref(r->orphans);
	arena_release(&r->eval);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static const char *service_of(const char *rule_service, const json_t *labels)
{
	if (rule_service)
		return rule_service;
	const char *s = json_string_value(json_object_get(labels, "service"));
	return s ? s : json_string_value(json_object_get(labels, "job"));
}

int rules_configure(struct rules *r, const char *section_json, bool apply, struct buf *err)
{
	struct rule_set *set;
	int rc = parse_section(section_json && strcmp(section_json, "null") ? section_json : NULL, &set, err);
	if (rc || !apply || !r) {
		set_free(set);
		return rc;
	}
	pthread_mutex_lock(&r->mu);
	struct rule_set *old = r->set;
	for (size_t i = 0; i < set->n; i++)
		for (size_t k = 0; k < old->n; k++)
			if (old->v[k].active && !strcmp(old->v[k].name, set->v[i].name)) {
				json_decref(set->v[i].active);
				set->v[i].active = old->v[k].active;
				old->v[k].active = NULL;
				break;
			}
	for (size_t k = 0; k < old->n; k++) {
		const char *key;
		json_t *labels;
		json_object_foreach(old->v[k].active, key, labels) {
			const char *svc = service_of(old->v[k].service, labels);
			json_array_append_new(r->orphans, json_pack("{s:s,s:s?,s:O}", "name", old->v[k].name, "service",
								    svc, "labels", labels));
		}
	}
	r->set = set;
	r->next_ns = 0;
	atomic_store(&r->due_gap, rules_fresh_gap_ns(set->interval_ns));
	atomic_store(&r->due_interval, set->interval_ns);
	pthread_mutex_unlock(&r->mu);
	set_free(old);
	return 0;
}

int64_t rules_group_window(struct rules *r)
{
	pthread_mutex_lock(&r->mu);
	int64_t w = r->set->group_window_ns;
	pthread_mutex_unlock(&r->mu);
	return w;
}

json_t *rules_list_json(struct rules *r)
{
	json_t *arr = json_array();
	pthread_mutex_lock(&r->mu);
	const struct rule_set *set = r->set;
	for (size_t i = 0; set && i < set->n; i++) {
		const struct rule *x = &set->v[i];
		json_t *o = json_pack("{s:s,s:s,s:f,s:f,s:s}", "name", x->name, "expr", x->expr_text, "for_s",
				      (double)x->for_ns / 1e9, "keep_firing_for_s", (double)x->keep_ns / 1e9,
				      "severity", alert_severity_name(x->severity));
		json_object_set_new(o, "labels", x->labels ? json_deep_copy(x->labels) : json_object());
		json_object_set_new(o, "annotations", x->annotations ? json_deep_copy(x->annotations) : json_object());
		json_array_append_new(arr, o);
	}
	json_t *out = json_pack("{s:o,s:f,s:I,s:f,s:I}", "rules", arr, "interval_s",
				set ? (double)set->interval_ns / 1e9 : 0.0, "last_evaluation_ns", (json_int_t)r->last_ns,
				"evaluation_s", (double)r->last_took_ns / 1e9, "early_evaluations", (json_int_t)r->early);
	pthread_mutex_unlock(&r->mu);
	return out;
}

size_t rules_count(struct rules *r)
{
	pthread_mutex_lock(&r->mu);
	size_t n = r->set->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

void rules_set_source(struct rules *r, const struct promql_source *src)
{
	pthread_mutex_lock(&r->mu);
	r->override = src;
	pthread_mutex_unlock(&r->mu);
}

/* ---- templates ---------------------------------------------------------- */

void rules_template(const char *tmpl, double value, const json_t *labels, struct buf *out)
{
	const char *p = tmpl ? tmpl : "";
	while (*p) {
		const char *open = strstr(p, "{{");
		const char *close = open ? strstr(open + 2, "}}") : NULL;
		if (!open || !close) {
			buf_adds(out, p);
			return;
		}
		buf_add(out, p, (size_t)(open - p));
		const char *a = open + 2, *b = close;
		while (a < b && (*a == ' ' || *a == '-'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '-'))
			b--;
		size_t n = (size_t)(b - a);
		if ((n == 6 && !memcmp(a, "$value", 6)) || (n == 6 && !memcmp(a, ".Value", 6))) {
			buf_addf(out, "%g", value);
		} else if ((n > 8 && !memcmp(a, "$labels.", 8)) || (n > 8 && !memcmp(a, ".Labels.", 8))) {
			char key[257];
			snprintf(key, sizeof(key), "%.*s", (int)(n - 8), a + 8);
			const char *v = json_string_value(json_object_get(labels, key));
			buf_adds(out, v ? v : "");
		} else {
			buf_add(out, open, (size_t)(close + 2 - open));
		}
		p = close + 2;
	}
}

/* ---- evaluation --------------------------------------------------------- */

static void emit(const struct rule *ru, const json_t *labels, double value, bool active, int64_t now_ns,
		 const struct alert_sink *sink)
{
	json_t *ann = json_object();
	if (active) {
		const char *k;
		json_t *v;
		json_object_foreach(ru->annotations, k, v) {
			struct buf t = BUF_INIT;
			rules_template(json_string_value(v), value, labels, &t);
			json_object_set_new(ann, k, json_string(t.data));
			buf_release(&t);
		}
	}
	json_t *ev = active ? json_pack("{s:f,s:s,s:s}", "value", isfinite(value) ? value : 0.0, "expr", ru->expr_text,
					"rule", ru->name)
			    : NULL;
	struct alert_signal s = {
		.source = "rule",
		.name = ru->name,
		.service = service_of(ru->service, labels),
		.severity = ru->severity,
		.labels = labels,
		.annotations = active ? ann : NULL,
		.evidence = ev,
		.active = active,
		.at_ns = now_ns,
		.for_ns = ru->for_ns,
		.keep_firing_for_ns = ru->keep_ns,
	};
	alert_emit(sink, &s);
	json_decref(ann);
	json_decref(ev);
}

static void eval_rule(struct rules *r, struct rule *ru, const struct promql_source *src, int64_t now_ns,
		      const struct alert_sink *sink)
{
	arena_reset(&r->eval);
	struct promql_value v;
	struct buf err = BUF_INIT;
	int rc = promql_eval_instant(ru->expr, src, now_ns / OODA_NS_PER_MS, &r->eval, &v, &err);
	if (!rc && v.type != PROMQL_VECTOR) {
		buf_adds(&err, "the expression returns a scalar or string; an alert rule needs an instant vector");
		rc = OODA_EINVAL;
	}
	if (rc) {
		if (now_ns - r->last_log_ns > 60 * OODA_NS_PER_SEC) {
			r->last_log_ns = now_ns;
			log_warn("alert rule %s: %s", ru->name, err.data);
		}
		buf_release(&err);
		return;
	}
	buf_release(&err);
	json_t *seen = json_object();
	for (size_t i = 0; i < v.n_series && i < RULES_MAX_SERIES_PER_RULE; i++) {
		const struct promql_series *se = &v.series[i];
		if (!se->n_samples || isnan(se->samples[0].v))
			continue;
		json_t *labels = json_object();
		for (uint32_t k = 0; k < se->n_labels; k++)
			if (strcmp(se->labels[k].name, "__name__"))
				json_object_set_new(labels, se->labels[k].name, json_string(se->labels[k].value));
		json_object_update(labels, ru->labels);
		char *key = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
		emit(ru, labels, se->samples[0].v, true, now_ns, sink);
		json_object_set(seen, key, labels);
		free(key);
		json_decref(labels);
	}
	const char *key;
	json_t *labels;
	json_object_foreach(ru->active, key, labels) {
		if (!json_object_get(seen, key))
			emit(ru, labels, NAN, false, now_ns, sink);
	}
	json_decref(ru->active);
	ru->active = seen;
}

void rules_evaluate(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	struct rules *r = ctx;
	pthread_mutex_lock(&r->mu);
	size_t i;
	json_t *o;
	json_array_foreach(r->orphans, i, o) {
		struct alert_signal s = { .source = "rule", .name = json_string_value(json_object_get(o, "name")),
					  .service = json_string_value(json_object_get(o, "service")),
					  .labels = json_object_get(o, "labels"), .active = false, .at_ns = now_ns };
		alert_emit(sink, &s);
	}
	json_array_clear(r->orphans);
	bool early = now_ns < r->next_ns && atomic_load(&r->fresh) && r->last_ns &&
		     now_ns - r->last_ns >= rules_fresh_gap_ns(r->set->interval_ns);
	if (now_ns < r->next_ns && !early) {
		pthread_mutex_unlock(&r->mu);
		return; /* fresh data waits for rules_next_due, the engine's wake */
	}
	atomic_store(&r->fresh, false);
	r->last_ns = now_ns;
	atomic_store(&r->due_last, now_ns);
	r->next_ns = now_ns + r->set->interval_ns;
	r->early += early;
	int64_t t0 = ooda_mono_ns();
	const struct promql_source *src = r->override ? r->override : &r->src;
	for (size_t k = 0; k < r->set->n && (r->override || r->mctx.tstore); k++) {
		if (r->worker && evalworker_stopping(r->worker))
			break;
		eval_rule(r, &r->set->v[k], src, now_ns, sink);
	}
	r->last_took_ns = ooda_mono_ns() - t0;
	void (*wake)(void *) = r->wake;
	void *wake_ctx = r->wake_ctx;
	pthread_mutex_unlock(&r->mu);
	/* telemetry that arrived while this evaluation ran found the worker busy: ask for the
	 * tick that hands the next one over (it runs then, or at rules_next_due) */
	if (wake && atomic_load(&r->fresh))
		wake(wake_ctx);
}

int64_t rules_fresh_gap_ns(int64_t interval_ns)
{
	int64_t gap = interval_ns / RULES_FRESH_DIVISOR;
	return gap < RULES_FRESH_MIN_GAP_NS ? RULES_FRESH_MIN_GAP_NS : gap;
}

int64_t rules_next_due(struct rules *r, int64_t now_ns)
{
	if (!r || !atomic_load(&r->fresh))
		return 0;
	int64_t last = atomic_load(&r->due_last), gap = atomic_load(&r->due_gap);
	if (!last || gap >= atomic_load(&r->due_interval))
		return 0; /* never evaluated (the first evaluation is the tick's), or no early evaluation at this interval */
	/* past: the tick that just ran handed the evaluation over, or the worker is busy and its
	 * end asks for a tick (rules_on_signals); a past time would hide a later due of another */
	return last + gap > now_ns ? last + gap : 0;
}

void rules_on_signals(struct rules *r, void (*fn)(void *ctx), void *ctx)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->wake = fn;
	r->wake_ctx = ctx;
	pthread_mutex_unlock(&r->mu);
	if (r->worker)
		evalworker_on_signals(r->worker, fn, ctx);
}

void rules_note_fresh(struct rules *r)
{
	if (r)
		atomic_store(&r->fresh, true);
}

void rules_tick(struct rules *r, int64_t now_ns, const struct alert_sink *sink)
{
	if (!r)
		return;
	if (r->worker)
		evalworker_tick(r->worker, now_ns, sink);
	else
		rules_evaluate(r, now_ns, sink);
}

int rules_config_check(const char *section_json, struct buf *err)
{
	return rules_configure(NULL, section_json, false, err);
}
