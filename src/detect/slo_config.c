/*
 * Reading and checking the `slos:` section of the config (see slo.h for the
 * contract, docs/config.md for the keys): every SLO, its SLI, its burn-rate
 * rules and their windows, with the key path of whatever is wrong. The
 * daemon, `ooda config check` and a reload all come through slo_parse_all().
 */
#include "detect/slo_impl.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>

#include "core/error.h"
#include "query/promql.h"

static int cfg_fail(struct buf *err, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int cfg_fail(struct buf *err, const char *path, const char *fmt, ...)
{
	if (err) {
		buf_addf(err, "%s: ", path);
		va_list ap;
		va_start(ap, fmt);
		buf_vaddf(err, fmt, ap);
		va_end(ap);
	}
	return OODA_EINVAL;
}

/* dst = base + suffix, truncated to n bytes: a key path for messages. */
static const char *kp(char *dst, size_t n, const char *base, const char *suffix)
{
	size_t a = strlen(base), b = strlen(suffix);
	if (a > n - 1)
		a = n - 1;
	if (b > n - 1 - a)
		b = n - 1 - a;
	memcpy(dst, base, a);
	memcpy(dst + a, suffix, b);
	dst[a + b] = '\0';
	return dst;
}

/* A number, or a string holding one (YAML scalars may come either way). */
static bool json_num(const json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return isfinite(*out);
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		*out = strtod(s, &end);
		return end != s && *end == '\0' && isfinite(*out);
	}
	return false;
}

/* A duration in whole minutes within [lo, hi]. */
static int json_minutes(const json_t *v, const char *path, int lo, int hi, int *out, struct buf *err)
{
	const char *s = json_string_value(v);
	int64_t ns;
	if (!s || ooda_duration_parse(s, strlen(s), &ns))
		return cfg_fail(err, path, "must be a duration such as 5m, 1h or 28d");
	if (ns % MIN_NS || ns / MIN_NS < lo || ns / MIN_NS > hi)
		return cfg_fail(err, path, "must be a whole number of minutes between %dm and %dd", lo,
				hi / 1440);
	*out = (int)(ns / MIN_NS);
	return 0;
}

static bool bool_of(const json_t *v, bool *out)
{
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return true;
	}
	const char *s = json_string_value(v);
	if (s && (!strcmp(s, "true") || !strcmp(s, "false"))) {
		*out = !strcmp(s, "true");
		return true;
	}
	return false;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > SLO_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_' || c == '.'))
			return false;
	}
	return true;
}

static int add_window(struct slo *s, int minutes)
{
	for (int i = 0; i < s->n_win; i++)
		if (s->win[i] == minutes)
			return i;
	int i = s->n_win++;
	while (i > 0 && s->win[i - 1] > minutes) {
		s->win[i] = s->win[i - 1];
		i--;
	}
	s->win[i] = minutes;
	return i;
}

static int find_window(const struct slo *s, int minutes)
{
	for (int i = 0; i < s->n_win; i++)
		if (s->win[i] == minutes)
			return i;
	return -1;
}

static const struct {
	int long_min, short_min;
	double burn;
} default_rules[2][2] = {
	{ { 60, 5, 14.4 }, { 360, 30, 6 } },     /* page */
	{ { 1440, 120, 3 }, { 4320, 360, 1 } },  /* ticket */
};

static int parse_rules(struct slo *s, json_t *alerts, const char *path, struct buf *err)
{
	char p[256];
	static const char *const sev[2] = { "page", "ticket" };
	for (int k = 0; k < 2; k++) {
		s->n_rules[k] = 2;
		for (int i = 0; i < 2; i++)
			s->rules[k][i] = (struct slo_rule){ .long_min = default_rules[k][i].long_min,
							    .short_min = default_rules[k][i].short_min,
							    .burn = default_rules[k][i].burn };
	}
	if (alerts && !json_is_null(alerts)) {
		if (!json_is_object(alerts))
			return cfg_fail(err, path, "must be a mapping with page and/or ticket");
		for (int k = 0; k < 2; k++) {
			json_t *list = json_object_get(alerts, sev[k]);
			if (!list)
				continue;
			json_t *one = NULL;
			if (json_is_object(list)) {
				one = json_array();
				json_array_append(one, list);
				list = one;
			}
			kp(p, sizeof(p), path, k ? ".ticket" : ".page");
			if (!json_is_array(list) || json_array_size(list) > SLO_MAX_RULES) {
				json_decref(one);
				return cfg_fail(err, p, "must be a list of at most %d {long, short, burn_rate}",
						SLO_MAX_RULES);
			}
			s->n_rules[k] = 0;
			size_t i;
			json_t *r;
			json_array_foreach(list, i, r) {
				char rp[300];
				snprintf(rp, sizeof(rp), "%s[%zu]", p, i);
				struct slo_rule ru = { 0 };
				char sub[320];
				int rc = 0;
				if (!json_is_object(r))
					rc = cfg_fail(err, rp, "must be a mapping {long, short, burn_rate}");
				if (!rc) {
					kp(sub, sizeof(sub), rp, ".long");
					rc = json_minutes(json_object_get(r, "long"), sub, 1, SLO_RING_MINUTES,
							  &ru.long_min, err);
				}
				if (!rc) {
					kp(sub, sizeof(sub), rp, ".short");
					rc = json_minutes(json_object_get(r, "short"), sub, 1, SLO_RING_MINUTES,
							  &ru.short_min, err);
				}
				if (!rc && ru.short_min > ru.long_min)
					rc = cfg_fail(err, sub, "must not be longer than long");
				if (!rc) {
					kp(sub, sizeof(sub), rp, ".burn_rate");
					if (!json_num(json_object_get(r, "burn_rate"), &ru.burn) || ru.burn <= 0 ||
					    ru.burn > 1e6)
						rc = cfg_fail(err, sub, "must be a number > 0");
				}
				if (rc) {
					json_decref(one);
					return rc;
				}
				s->rules[k][s->n_rules[k]++] = ru;
			}
			json_decref(one);
		}
	}
	return 0;
}

static int parse_sli(struct slo *s, json_t *sli, const char *path, struct buf *err)
{
	char p[256];
	if (!json_is_object(sli) || json_object_size(sli) != 1)
		return cfg_fail(err, path, "must hold exactly one of ratio, latency, promql");
	json_t *v;
	if ((v = json_object_get(sli, "ratio"))) {
		kp(p, sizeof(p), path, ".ratio");
		s->kind = SLI_RATIO;
		if (!json_is_object(v))
			return cfg_fail(err, p, "must be a mapping {from: red, errors: true}");
		const char *from = json_string_value(json_object_get(v, "from"));
		if (json_object_get(v, "from") && (!from || strcmp(from, "red"))) {
			kp(p, sizeof(p), path, ".ratio.from");
			return cfg_fail(err, p, "must be red (server spans of the service)");
		}
		bool e = true;
		if (json_object_get(v, "errors") && (!bool_of(json_object_get(v, "errors"), &e) || !e)) {
			kp(p, sizeof(p), path, ".ratio.errors");
			return cfg_fail(err, p, "must be true: bad events are error spans");
		}
		return 0;
	}
	if ((v = json_object_get(sli, "latency"))) {
		kp(p, sizeof(p), path, ".latency");
		s->kind = SLI_LATENCY;
		if (!json_is_object(v))
			return cfg_fail(err, p, "must be a mapping {threshold: 300ms}");
		kp(p, sizeof(p), path, ".latency.threshold");
		const char *t = json_string_value(json_object_get(v, "threshold"));
		int64_t ns;
		if (!t || ooda_duration_parse(t, strlen(t), &ns) || ns <= 0 || ns > 60 * OODA_NS_PER_SEC)
			return cfg_fail(err, p, "must be a duration between 1us and 60s, such as 300ms");
		s->threshold_s = (double)ns / 1e9;
		return 0;
	}
	if ((v = json_object_get(sli, "promql"))) {
		kp(p, sizeof(p), path, ".promql");
		s->kind = SLI_PROMQL;
		if (!json_is_object(v))
			return cfg_fail(err, p, "must be a mapping {good|bad: EXPR, total: EXPR}");
		const char *g = json_string_value(json_object_get(v, "good"));
		const char *b = json_string_value(json_object_get(v, "bad"));
		const char *t = json_string_value(json_object_get(v, "total"));
		if (!t)
			return cfg_fail(err, p, "needs total: a PromQL expression");
		if (!!g == !!b)
			return cfg_fail(err, p, "needs exactly one of good and bad");
		struct { const char *key, *q; char **dst; struct promql_expr **e; } qs[] = {
			{ g ? "good" : "bad", g ? g : b, g ? &s->q_good : &s->q_bad, g ? &s->e_good : &s->e_bad },
			{ "total", t, &s->q_total, &s->e_total },
		};
		for (int i = 0; i < 2; i++) {
			char qp[300];
			snprintf(qp, sizeof(qp), "%s.%s", p, qs[i].key);
			struct buf perr = BUF_INIT;
			int rc = promql_parse(qs[i].q, strlen(qs[i].q), &s->expr_arena, qs[i].e, &perr);
			if (rc) {
				cfg_fail(err, qp, "%s", perr.data);
				buf_release(&perr);
				return OODA_EINVAL;
			}
			buf_release(&perr);
			*qs[i].dst = xstrdup(qs[i].q);
		}
		return 0;
	}
	return cfg_fail(err, path, "must hold exactly one of ratio, latency, promql");
}

static int parse_slo(struct slo *s, json_t *o, const char *path, struct buf *err)
{
	char p[256];
	if (!json_is_object(o))
		return cfg_fail(err, path, "must be a mapping");
	const char *name = json_string_value(json_object_get(o, "name"));
	kp(p, sizeof(p), path, ".name");
	if (!name || !valid_name(name))
		return cfg_fail(err, p, "must be 1 to %d letters, digits, '-', '_' or '.'", SLO_NAME_MAX);
	s->name = xstrdup(name);
	const char *svc = json_string_value(json_object_get(o, "service"));
	kp(p, sizeof(p), path, ".service");
	if (json_object_get(o, "service") && (!svc || !*svc || strlen(svc) >= LIVE_NAME_MAX))
		return cfg_fail(err, p, "must be a service name");
	s->service = svc ? xstrdup(svc) : NULL;
	const char *desc = json_string_value(json_object_get(o, "description"));
	kp(p, sizeof(p), path, ".description");
	if (json_object_get(o, "description") && (!desc || strlen(desc) > 1024))
		return cfg_fail(err, p, "must be text of at most 1024 characters");
	s->description = desc ? xstrdup(desc) : NULL;
	const char *op = json_string_value(json_object_get(o, "operation"));
	kp(p, sizeof(p), path, ".operation");
	if (json_object_get(o, "operation") && (!op || !*op || strlen(op) >= LIVE_NAME_MAX))
		return cfg_fail(err, p, "must be an operation (span) name");
	s->operation = op ? xstrdup(op) : NULL;

	kp(p, sizeof(p), path, ".objective");
	if (!json_num(json_object_get(o, "objective"), &s->objective) || s->objective <= 0 ||
	    s->objective >= 100)
		return cfg_fail(err, p, "must be a percentage above 0 and below 100, such as 99.9");
	s->allowed = (100.0 - s->objective) / 100.0;

	s->window_min = 28 * 1440;
	kp(p, sizeof(p), path, ".window");
	if (json_object_get(o, "window") &&
	    json_minutes(json_object_get(o, "window"), p, 60, SLO_RING_MINUTES, &s->window_min, err))
		return OODA_EINVAL;

	const char *budgeting = json_string_value(json_object_get(o, "budgeting"));
	kp(p, sizeof(p), path, ".budgeting");
	if (json_object_get(o, "budgeting") &&
	    (!budgeting || (strcasecmp(budgeting, "occurrences") && strcasecmp(budgeting, "timeslices"))))
		return cfg_fail(err, p, "must be occurrences or timeslices");
	s->timeslices = budgeting && !strcasecmp(budgeting, "timeslices");
	s->slice_min = 1;
	s->slice_target = 0.95;
	if (s->timeslices) {
		kp(p, sizeof(p), path, ".timeslice");
		if (json_object_get(o, "timeslice") &&
		    json_minutes(json_object_get(o, "timeslice"), p, 1, 60, &s->slice_min, err))
			return OODA_EINVAL;
		kp(p, sizeof(p), path, ".timeslice_target");
		if (json_object_get(o, "timeslice_target") &&
		    (!json_num(json_object_get(o, "timeslice_target"), &s->slice_target) || s->slice_target <= 0 ||
		     s->slice_target > 1))
			return cfg_fail(err, p, "must be a fraction in (0, 1], such as 0.95");
	} else if (json_object_get(o, "timeslice") || json_object_get(o, "timeslice_target")) {
		kp(p, sizeof(p), path, json_object_get(o, "timeslice") ? ".timeslice" : ".timeslice_target");
		return cfg_fail(err, p, "only applies with budgeting: timeslices");
	}

	s->min_events = 10;
	kp(p, sizeof(p), path, ".min_events");
	if (json_object_get(o, "min_events") &&
	    (!json_num(json_object_get(o, "min_events"), &s->min_events) || s->min_events < 0 || s->min_events > 1e12))
		return cfg_fail(err, p, "must be a number >= 0");

	kp(p, sizeof(p), path, ".sli");
	if (!json_object_get(o, "sli"))
		return cfg_fail(err, p, "is required: ratio, latency or promql");
	int rc = parse_sli(s, json_object_get(o, "sli"), p, err);
	if (rc)
		return rc;
	if (s->kind != SLI_PROMQL && !s->service) {
		kp(p, sizeof(p), path, ".service");
		return cfg_fail(err, p, "is required for %s SLIs", sli_names[s->kind]);
	}
	kp(p, sizeof(p), path, ".alerts");
	if ((rc = parse_rules(s, json_object_get(o, "alerts"), p, err)))
		return rc;

	for (int i = 0; i < SLO_N_WINDOWS; i++)
		add_window(s, std_windows[i]);
	add_window(s, s->window_min);
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < s->n_rules[k]; i++) {
			if (s->n_win + 2 > SLO_MAX_WINDOWS)
				return cfg_fail(err, p, "too many distinct windows");
			add_window(s, s->rules[k][i].long_min);
			add_window(s, s->rules[k][i].short_min);
		}
	for (int i = 0; i < SLO_N_WINDOWS; i++)
		s->std_w[i] = find_window(s, std_windows[i]);
	s->slo_w = find_window(s, s->window_min);
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < s->n_rules[k]; i++) {
			s->rules[k][i].long_w = find_window(s, s->rules[k][i].long_min);
			s->rules[k][i].short_w = find_window(s, s->rules[k][i].short_min);
		}
	return 0;
}

void slo_release(struct slo *s)
{
	free(s->def);
	free(s->name);
	free(s->service);
	free(s->operation);
	free(s->description);
	free(s->q_good);
	free(s->q_bad);
	free(s->q_total);
	arena_release(&s->expr_arena);
	free(s->good);
	free(s->total);
	free(s->tag);
}

void slo_ring_alloc(struct slo *s)
{
	s->good = xcalloc(SLO_RING_MINUTES, sizeof(double));
	s->total = xcalloc(SLO_RING_MINUTES, sizeof(double));
	s->tag = xcalloc(SLO_RING_MINUTES, sizeof(uint32_t));
}

int slo_parse_all(const char *text, struct slo **out, int *n_out, bool alloc_rings, struct buf *err)
{
	*out = NULL;
	*n_out = 0;
	if (!text)
		return 0;
	json_error_t jerr;
	json_t *root = json_loads(text, JSON_DECODE_ANY, &jerr);
	if (!root)
		return cfg_fail(err, "slos", "not valid: %s", jerr.text);
	if (json_is_null(root)) {
		json_decref(root);
		return 0;
	}
	if (!json_is_array(root) || json_array_size(root) > SLO_MAX) {
		json_decref(root);
		return cfg_fail(err, "slos", "must be a list of at most %d SLOs", SLO_MAX);
	}
	size_t n = json_array_size(root);
	struct slo *v = xcalloc(n ? n : 1, sizeof(*v));
	int rc = 0;
	size_t i;
	for (i = 0; i < n && !rc; i++) {
		char path[64];
		snprintf(path, sizeof(path), "slos[%zu]", i);
		arena_init(&v[i].expr_arena, 0);
		v[i].newest = -1;
		v[i].promql_next = -1;
		rc = parse_slo(&v[i], json_array_get(root, i), path, err);
		if (!rc && !(v[i].def = json_dumps(json_array_get(root, i), JSON_COMPACT | JSON_SORT_KEYS)))
			rc = OODA_ENOMEM;
		for (size_t j = 0; !rc && j < i; j++)
			if (!strcmp(v[j].name, v[i].name)) {
				snprintf(path, sizeof(path), "slos[%zu].name", i);
				rc = cfg_fail(err, path, "\"%s\" is already the name of slos[%zu]", v[i].name, j);
			}
		if (!rc && alloc_rings)
			slo_ring_alloc(&v[i]);
	}
	json_decref(root);
	if (rc) {
		for (size_t j = 0; j < i; j++)
			slo_release(&v[j]);
		free(v);
		return rc;
	}
	*out = v;
	*n_out = (int)n;
	return 0;
}

int slo_config_check(const char *slos_json, struct buf *err)
{
	struct slo *v;
	int n;
	int rc = slo_parse_all(slos_json, &v, &n, false, err);
	if (rc)
		return rc;
	for (int i = 0; i < n; i++)
		slo_release(&v[i]);
	free(v);
	return 0;
}
