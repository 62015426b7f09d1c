/*
 * The SLO engine (see slo.h for the contract, docs/slo.md for the math).
 * This file reads the `slos:` section, keeps a 30-day ring of per-minute
 * good/total counts per SLO, merges the recent minutes from live RED on the
 * engine tick, evaluates burn rates and the multi-window multi-burn-rate
 * rules, and runs one worker thread that evaluates PromQL SLIs once per
 * closed minute and makes closed minutes durable as metric points, which
 * slo_set_start() reads back after a restart. A config reload swaps in a
 * new list of SLOs (slo_set_apply), handing each kept name its counts.
 *
 * A minute's counts only grow: live is authoritative for the last
 * SLO_LIVE_HORIZON minutes (it is rebuilt from stored spans at start too),
 * and a merge keeps whichever of (ring, live) has seen more events, so a
 * replayed hour never double counts and an emptied live ring never erases a
 * stored minute. The worker writes the difference between a minute's
 * counts and what it already stored as a delta point, so the stored points
 * of a minute always add up to its counts.
 */
#include "detect/slo.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "core/worker.h"
#include "query/metrics.h"
#include "query/promql.h"

#define MIN_NS (60 * OODA_NS_PER_SEC)
#define SLO_LIVE_HORIZON 50      /* minutes re-read from live RED (its ring holds 60) */
#define SLO_PERSIST_AGE 2        /* a minute is written once it is this many minutes old */
#define SLO_HZ 64                /* persisted-count memory, in minutes, >= horizon */
#define SLO_PROMQL_DELAY_NS (30 * OODA_NS_PER_SEC) /* after a minute closes, before its PromQL */
#define SLO_PROMQL_BACKFILL 1440 /* minutes evaluated after a restart, at most */
#define SLO_SCRATCH_SLOTS 4096   /* live slots read per pull */
#define SLO_FULL_PULL_NS (5 * OODA_NS_PER_SEC) /* how often the whole horizon is re-read */
#define SLO_MAX_WINDOWS 32
#define BURN_EPS 1e-9            /* relative slack so 14.4x compares as 14.4x */

static const int std_windows[SLO_N_WINDOWS] = { 5, 30, 60, 120, 360, 1440, 4320 };
static const char *const std_names[SLO_N_WINDOWS] = { "5m", "30m", "1h", "2h", "6h", "1d", "3d" };

const int *slo_window_minutes(void)
{
	return std_windows;
}

enum sli_kind { SLI_RATIO, SLI_LATENCY, SLI_PROMQL };
static const char *const sli_names[] = { "ratio", "latency", "promql" };

struct slo_rule {
	int long_min, short_min;
	double burn;
	int long_w, short_w; /* indexes into slo.win */
};

struct hz_entry {
	uint32_t tag; /* minute + 1; 0 = unused */
	double good, total; /* what the store holds for that minute */
};

struct slo {
	/* definition (immutable after create) */
	char *name, *service, *operation;
	char *description;    /* for people: shown by the API, NULL if none */
	char *def;            /* the section entry as canonical JSON: what a reload compares */
	double objective;     /* percent, e.g. 99.9 */
	double allowed;       /* 1 - objective/100 */
	int window_min;
	bool timeslices;
	int slice_min;        /* 1 for occurrences */
	double slice_target;
	enum sli_kind kind;
	double threshold_s;   /* latency */
	char *q_good, *q_bad, *q_total;
	struct promql_expr *e_good, *e_bad, *e_total;
	struct arena expr_arena;
	double min_events;
	struct slo_rule rules[2][SLO_MAX_RULES]; /* [0] page, [1] ticket */
	int n_rules[2];
	int win[SLO_MAX_WINDOWS]; /* distinct windows in minutes, ascending */
	int n_win;
	int std_w[SLO_N_WINDOWS], slo_w;

	/* state, under set->lock */
	double *good, *total; /* SLO_RING_MINUTES each */
	uint32_t *tag;        /* minute + 1 held by each ring place; 0 = empty */
	int64_t newest;       /* newest minute written; -1 when none */
	struct hz_entry hz[SLO_HZ];
	int64_t promql_next;  /* next minute to evaluate; -1 until start */
	int64_t last_full_pull_ns;
};

/*
 * Locks: `defs` guards which SLOs there are (slos, n, tick_status): the
 * tick, the worker's steps and the API hold it for reading for as long as
 * they look at an SLO, and only slo_set_apply() takes it for writing, to
 * swap in a new set at once, so no reader ever sees half of a reload.
 * `lock` (always taken inside `defs`) guards the counts of the SLOs.
 */
struct slo_set {
	pthread_rwlock_t defs;
	struct slo *slos;
	int n;
	struct slo_options opt;
	pthread_mutex_t lock;
	pthread_mutex_t apply_mu; /* one reload at a time */
	atomic_bool applying;     /* a reload waits for defs: the worker ends its step early */
	struct worker *worker;    /* core/worker: a step every second */
	bool worker_running;
	bool stop;
	json_t *orphans; /* [{name, service}] of removed SLOs, reported inactive by the next tick; under lock */
	/* tick scratch (the tick is single-threaded) */
	double *s_req, *s_err, *s_fast;
	struct slo_status *tick_status;
};

/* ---- configuration --------------------------------------------------- */

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

static void slo_release(struct slo *s)
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

static int ring_alloc(struct slo *s)
{
	s->good = xcalloc(SLO_RING_MINUTES, sizeof(double));
	s->total = xcalloc(SLO_RING_MINUTES, sizeof(double));
	s->tag = xcalloc(SLO_RING_MINUTES, sizeof(uint32_t));
	return s->good && s->total && s->tag ? 0 : OODA_ENOMEM;
}

static int parse_all(const char *text, struct slo **out, int *n_out, bool alloc_rings, struct buf *err)
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
	if (!v) {
		json_decref(root);
		return OODA_ENOMEM;
	}
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
			rc = ring_alloc(&v[i]);
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
	int rc = parse_all(slos_json, &v, &n, false, err);
	if (rc)
		return rc;
	for (int i = 0; i < n; i++)
		slo_release(&v[i]);
	free(v);
	return 0;
}

int slo_set_create(const char *slos_json, const struct slo_options *opt, struct slo_set **out,
		   struct buf *err)
{
	struct slo_set *set = xcalloc(1, sizeof(*set));
	if (!set)
		return OODA_ENOMEM;
	if (opt)
		set->opt = *opt;
	int rc = parse_all(slos_json, &set->slos, &set->n, true, err);
	if (rc) {
		free(set);
		return rc;
	}
	set->s_req = xcalloc(SLO_SCRATCH_SLOTS, sizeof(double));
	set->s_err = xcalloc(SLO_SCRATCH_SLOTS, sizeof(double));
	set->s_fast = xcalloc(SLO_SCRATCH_SLOTS, sizeof(double));
	set->tick_status = xcalloc((size_t)set->n + 1, sizeof(struct slo_status));
	set->orphans = json_array();
	/* glibc's default (reader-preferring) kind, said out loud: the engine tick
	 * never queues behind a reload waiting for the worker's step to end */
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_READER_NP);
	pthread_rwlock_init(&set->defs, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&set->lock, NULL);
	pthread_mutex_init(&set->apply_mu, NULL);
	if (!set->s_req || !set->s_err || !set->s_fast || !set->tick_status || !set->orphans) {
		slo_set_destroy(set);
		return OODA_ENOMEM;
	}
	*out = set;
	return 0;
}

int slo_set_count(struct slo_set *set)
{
	if (!set)
		return 0;
	pthread_rwlock_rdlock(&set->defs);
	int n = set->n;
	pthread_rwlock_unlock(&set->defs);
	return n;
}

static struct slo *find_slo(struct slo_set *set, const char *name)
{
	for (int i = 0; i < set->n; i++)
		if (!strcmp(set->slos[i].name, name))
			return &set->slos[i];
	return NULL;
}

static int64_t set_now(const struct slo_set *set)
{
	return set->opt.clock ? set->opt.clock(set->opt.clock_ctx) : ooda_now_ns();
}

/* ---- the minute ring ------------------------------------------------- */

static void ring_get(const struct slo *s, int64_t m, double *good, double *total)
{
	size_t pos = (size_t)(m % SLO_RING_MINUTES);
	if (m >= 0 && s->tag[pos] == (uint32_t)(m + 1)) {
		*good = s->good[pos];
		*total = s->total[pos];
	} else {
		*good = *total = 0;
	}
}

/* Sets (add = false) or adds to the counts of minute m; false if it is too old to hold. */
static bool ring_put(struct slo *s, int64_t m, double good, double total, bool add)
{
	if (m < 0 || m >= UINT32_MAX - 1)
		return false;
	if (s->newest >= 0 && m <= s->newest - SLO_RING_MINUTES)
		return false;
	size_t pos = (size_t)(m % SLO_RING_MINUTES);
	if (s->tag[pos] != (uint32_t)(m + 1)) {
		s->tag[pos] = (uint32_t)(m + 1);
		s->good[pos] = s->total[pos] = 0;
	}
	if (add) {
		s->good[pos] += good;
		s->total[pos] += total;
	} else {
		s->good[pos] = good;
		s->total[pos] = total;
	}
	if (m > s->newest)
		s->newest = m;
	return true;
}

int slo_record(struct slo_set *set, const char *name, int64_t t_ns, double good, double total)
{
	if (!set || !name)
		return OODA_EINVAL;
	if (!(good >= 0) || !(total >= good) || !isfinite(total) || t_ns < 0)
		return OODA_EINVAL;
	pthread_rwlock_rdlock(&set->defs);
	pthread_mutex_lock(&set->lock);
	struct slo *s = find_slo(set, name);
	int rc = !s ? OODA_ENOTFOUND : ring_put(s, t_ns / MIN_NS, good, total, false) ? 0 : OODA_EINVAL;
	pthread_mutex_unlock(&set->lock);
	pthread_rwlock_unlock(&set->defs);
	return rc;
}

/* ---- evaluation ------------------------------------------------------ */

/* Sums over the distinct windows of s, walked back from the unit holding now. */
struct sums {
	double bad[SLO_MAX_WINDOWS];  /* bad events, or bad slices */
	double units[SLO_MAX_WINDOWS];/* events, or slices (all of them) */
	double good[SLO_MAX_WINDOWS]; /* good events */
	double total[SLO_MAX_WINDOWS];/* events */
};

static bool slice_bad(const struct slo *s, double good, double total)
{
	return total > 0 && good < s->slice_target * total * (1 - BURN_EPS);
}

static void sum_windows(const struct slo *s, int64_t cur, struct sums *out)
{
	memset(out, 0, sizeof(*out));
	int k = s->slice_min;
	int64_t cur_unit = cur / k;
	int64_t max_units = (s->win[s->n_win - 1] + k - 1) / k;
	double bad = 0, units = 0, good = 0, total = 0;
	int w = 0;
	for (int64_t i = 0; i < max_units && w < s->n_win; i++) {
		int64_t u = cur_unit - i;
		if (u < 0)
			break;
		double g = 0, t = 0;
		for (int64_t m = u * k; m < (u + 1) * k && m <= cur; m++) {
			double mg, mt;
			ring_get(s, m, &mg, &mt);
			g += mg;
			t += mt;
		}
		if (s->timeslices) {
			bad += slice_bad(s, g, t) ? 1 : 0;
			units += 1;
		} else {
			bad += t - g;
			units += t;
		}
		good += g;
		total += t;
		while (w < s->n_win && (s->win[w] + k - 1) / k == i + 1) {
			out->bad[w] = bad;
			out->units[w] = units;
			out->good[w] = good;
			out->total[w] = total;
			w++;
		}
	}
	/* windows reaching before minute 0 keep what was summed */
	for (; w < s->n_win; w++) {
		out->bad[w] = bad;
		out->units[w] = s->timeslices ? (double)((s->win[w] + k - 1) / k) : units;
		out->good[w] = good;
		out->total[w] = total;
	}
}

static double burn_of(const struct slo *s, const struct sums *x, int w)
{
	if (w < 0 || x->units[w] <= 0)
		return 0;
	return x->bad[w] / x->units[w] / s->allowed;
}

static bool rule_holds(const struct slo *s, const struct sums *x, const struct slo_rule *r)
{
	double thr = r->burn * (1 - BURN_EPS);
	return burn_of(s, x, r->long_w) >= thr && burn_of(s, x, r->short_w) >= thr &&
	       x->total[r->short_w] >= s->min_events && x->total[r->short_w] > 0;
}

static void evaluate(const struct slo *s, int64_t now_ns, struct slo_status *st, struct sums *x)
{
	int64_t cur = now_ns / MIN_NS;
	sum_windows(s, cur, x);
	memset(st, 0, sizeof(*st));
	for (int i = 0; i < SLO_N_WINDOWS; i++) {
		st->burn[i] = burn_of(s, x, s->std_w[i]);
		st->events[i] = x->total[s->std_w[i]];
	}
	int w = s->slo_w;
	st->good = x->good[w];
	st->total = x->total[w];
	if (s->timeslices) {
		double slices = (double)((s->window_min + s->slice_min - 1) / s->slice_min);
		double allowed = s->allowed * slices;
		st->sli = st->total > 0 ? 1 - x->bad[w] / slices : NAN;
		st->budget_remaining = 1 - x->bad[w] / allowed;
		st->budget_remaining_minutes = (allowed - x->bad[w]) * s->slice_min;
	} else {
		double allowed = s->allowed * st->total;
		st->sli = st->total > 0 ? st->good / st->total : NAN;
		st->budget_remaining = allowed > 0 ? 1 - x->bad[w] / allowed : 1;
		st->budget_remaining_events = allowed - x->bad[w];
	}
	for (int i = 0; i < s->n_rules[0]; i++)
		st->page = st->page || rule_holds(s, x, &s->rules[0][i]);
	for (int i = 0; i < s->n_rules[1]; i++)
		st->ticket = st->ticket || rule_holds(s, x, &s->rules[1][i]);
	st->severity = st->page ? SEVERITY_PAGE : st->ticket ? SEVERITY_TICKET : SEVERITY_INFO;
}

int slo_status_get(struct slo_set *set, const char *name, int64_t now_ns, struct slo_status *out)
{
	if (!set || !name || !out)
		return OODA_EINVAL;
	struct sums x;
	pthread_rwlock_rdlock(&set->defs);
	pthread_mutex_lock(&set->lock);
	struct slo *s = find_slo(set, name);
	if (s)
		evaluate(s, now_ns, out, &x);
	pthread_mutex_unlock(&set->lock);
	pthread_rwlock_unlock(&set->defs);
	return s ? 0 : OODA_ENOTFOUND;
}

/* ---- the tick -------------------------------------------------------- */

/* Reads the minutes [from_min, to_min] of s from live and merges them. */
static void pull_live(struct slo_set *set, struct slo *s, int64_t from_min, int64_t to_min)
{
	int64_t first, slot;
	size_t n = 0;
	if (live_red_counts(set->opt.live, s->service, s->operation, from_min * MIN_NS, (to_min + 1) * MIN_NS,
			    s->kind == SLI_LATENCY ? s->threshold_s : 0, SLO_SCRATCH_SLOTS, &first, &slot,
			    set->s_req, set->s_err, s->kind == SLI_LATENCY ? set->s_fast : NULL, &n, NULL) ||
	    !n)
		return;
	enum { MAXM = SLO_LIVE_HORIZON + 4 };
	double mg[MAXM] = { 0 }, mt[MAXM] = { 0 };
	for (size_t i = 0; i < n; i++) {
		int64_t m = (first + (int64_t)i * slot) / MIN_NS - from_min;
		if (m < 0 || m >= MAXM)
			continue;
		mt[m] += set->s_req[i];
		mg[m] += s->kind == SLI_LATENCY ? set->s_fast[i] : set->s_req[i] - set->s_err[i];
	}
	pthread_mutex_lock(&set->lock);
	for (int64_t m = 0; m <= to_min - from_min && m < MAXM; m++) {
		double g, t;
		ring_get(s, from_min + m, &g, &t);
		if (mt[m] > 0 && (mt[m] > t || (mt[m] == t && mg[m] != g)))
			ring_put(s, from_min + m, mg[m], mt[m], false);
	}
	pthread_mutex_unlock(&set->lock);
}

static json_t *burn_object(const double *v)
{
	json_t *o = json_object();
	for (int i = 0; i < SLO_N_WINDOWS; i++)
		json_object_set_new(o, std_names[i], json_real(v[i]));
	return o;
}

static void emit(const struct slo *s, const struct slo_status *st, int64_t now_ns, const struct alert_sink *sink)
{
	static const char *const sev_name[2] = { "page", "ticket" };
	char win[32];
	ooda_duration_format((int64_t)s->window_min * MIN_NS, win, sizeof(win));
	for (int k = 0; k < 2; k++) {
		bool active = k == 0 ? st->page : st->ticket;
		json_t *labels = json_pack("{ss ss}", "slo", s->name, "severity", sev_name[k]);
		json_t *ev = json_object();
		json_object_set_new(ev, "burn_rates", burn_object(st->burn));
		json_object_set_new(ev, "events", burn_object(st->events));
		json_object_set_new(ev, "budget_remaining", json_real(st->budget_remaining));
		json_object_set_new(ev, "objective", json_real(s->objective));
		json_object_set_new(ev, "window", json_string(win));
		json_t *ann = json_object();
		char summary[256];
		snprintf(summary, sizeof(summary),
			 "SLO %s: burn rate %.1fx over 1h, %.1fx over 6h; %.1f%% of the %s error budget left",
			 s->name, st->burn[2], st->burn[4], st->budget_remaining * 100, win);
		json_object_set_new(ann, "summary", json_string(summary));
		struct alert_signal sig = {
			.source = "slo",
			.name = NULL,
			.service = s->service,
			.severity = k == 0 ? SEVERITY_PAGE : SEVERITY_TICKET,
			.labels = labels,
			.annotations = ann,
			.evidence = ev,
			.active = active,
			.at_ns = now_ns,
		};
		char name[SLO_NAME_MAX + 8];
		snprintf(name, sizeof(name), "slo:%s", s->name);
		sig.name = name;
		alert_emit(sink, &sig);
		json_decref(labels);
		json_decref(ev);
		json_decref(ann);
	}
}

/* Reports the SLOs a reload removed as inactive, so what they had firing resolves. */
static void emit_orphans(struct slo_set *set, int64_t now_ns, const struct alert_sink *sink)
{
	pthread_mutex_lock(&set->lock);
	json_t *orphans = set->orphans;
	set->orphans = json_array();
	pthread_mutex_unlock(&set->lock);
	size_t i;
	json_t *o;
	json_array_foreach(orphans, i, o) {
		static const char *const sev_name[2] = { "page", "ticket" };
		const char *name = json_string_value(json_object_get(o, "name"));
		char aname[SLO_NAME_MAX + 8];
		snprintf(aname, sizeof(aname), "slo:%s", name);
		for (int k = 0; k < 2; k++) {
			json_t *labels = json_pack("{ss ss}", "slo", name, "severity", sev_name[k]);
			struct alert_signal sig = { .source = "slo", .name = aname,
						    .service = json_string_value(json_object_get(o, "service")),
						    .severity = k == 0 ? SEVERITY_PAGE : SEVERITY_TICKET,
						    .labels = labels, .active = false, .at_ns = now_ns };
			alert_emit(sink, &sig);
			json_decref(labels);
		}
	}
	json_decref(orphans);
}

void slo_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	struct slo_set *set = ctx;
	if (!set || now_ns < 0)
		return;
	pthread_rwlock_rdlock(&set->defs);
	emit_orphans(set, now_ns, sink);
	int64_t cur = now_ns / MIN_NS;
	for (int i = 0; i < set->n; i++) {
		struct slo *s = &set->slos[i];
		if (s->kind == SLI_PROMQL || !set->opt.live)
			continue;
		bool full = now_ns - s->last_full_pull_ns >= SLO_FULL_PULL_NS || now_ns < s->last_full_pull_ns;
		if (full)
			s->last_full_pull_ns = now_ns;
		pull_live(set, s, cur - (full ? SLO_LIVE_HORIZON : 2), cur);
	}
	struct sums x;
	pthread_mutex_lock(&set->lock);
	for (int i = 0; i < set->n; i++)
		evaluate(&set->slos[i], now_ns, &set->tick_status[i], &x);
	pthread_mutex_unlock(&set->lock);
	for (int i = 0; i < set->n; i++)
		emit(&set->slos[i], &set->tick_status[i], now_ns, sink);
	pthread_rwlock_unlock(&set->defs);
}

/* ---- the worker: PromQL SLIs and durable minutes --------------------- */

static const char good_metric[] = "ooda_slo_good_total";
static const char events_metric[] = "ooda_slo_events_total";

/* A PromQL result as one number: a scalar, or the sum of a vector. */
static double promql_number(const struct promql_value *v)
{
	double sum = 0;
	if (v->type == PROMQL_SCALAR)
		return isfinite(v->scalar) ? v->scalar : 0;
	if (v->type != PROMQL_VECTOR)
		return 0;
	for (size_t i = 0; i < v->n_series; i++)
		if (v->series[i].n_samples && isfinite(v->series[i].samples[0].v))
			sum += v->series[i].samples[0].v;
	return sum;
}

static int eval_number(struct slo_set *set, const struct promql_expr *e, int64_t t_ms, double *out, struct buf *err)
{
	struct metrics_ctx mctx = { .tstore = set->opt.tstore, .live = set->opt.live };
	struct promql_source src;
	metrics_source_init(&src, &mctx);
	struct arena a;
	arena_init(&a, 0);
	a.limit = 64u << 20;
	struct promql_value v;
	int rc = promql_eval_instant(e, &src, t_ms, &a, &v, err);
	if (!rc)
		*out = promql_number(&v);
	arena_release(&a);
	return rc;
}

/* Evaluates the PromQL SLIs for closed minutes; at most budget minutes per call. */
static void promql_step(struct slo_set *set, int64_t now_ns, int budget)
{
	for (int i = 0; i < set->n && budget > 0; i++) {
		struct slo *s = &set->slos[i];
		if (s->kind != SLI_PROMQL)
			continue;
		int64_t last_closed = (now_ns - SLO_PROMQL_DELAY_NS) / MIN_NS - 1;
		if (s->promql_next < 0 || s->promql_next < last_closed - SLO_PROMQL_BACKFILL)
			s->promql_next = last_closed - (s->promql_next < 0 ? 0 : SLO_PROMQL_BACKFILL);
		for (; s->promql_next <= last_closed && budget > 0 && !set->stop && !atomic_load(&set->applying);
		     s->promql_next++, budget--) {
			int64_t t_ms = (s->promql_next + 1) * 60000;
			double a = 0, total = 0;
			struct buf err = BUF_INIT;
			int rc = eval_number(set, s->e_good ? s->e_good : s->e_bad, t_ms, &a, &err);
			if (!rc)
				rc = eval_number(set, s->e_total, t_ms, &total, &err);
			if (rc) {
				log_warn("slo %s: PromQL SLI at minute %lld failed: %s", s->name,
					 (long long)s->promql_next, err.data);
				buf_release(&err);
				continue;
			}
			buf_release(&err);
			if (total < 0)
				total = 0;
			double good = s->e_good ? a : total - a;
			if (good < 0)
				good = 0;
			if (good > total)
				good = total;
			pthread_mutex_lock(&set->lock);
			ring_put(s, s->promql_next, good, total, false);
			pthread_mutex_unlock(&set->lock);
		}
	}
}

struct pending {
	int slo;
	int64_t minute;
	double good, total; /* deltas */
};

static void fill_point(struct metric_point *p, const char *name, const struct resource *res, struct attr *a,
		       int64_t minute, double v)
{
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->unit = "1";
	p->type = METRIC_SUM;
	p->temporality = TEMPORALITY_DELTA;
	p->monotonic = true;
	p->start_ns = minute * MIN_NS;
	p->time_ns = (minute + 1) * MIN_NS;
	p->resource = res;
	p->scope_name = "ooda.slo";
	p->attrs.v = a;
	p->attrs.n = 1;
	p->value = v;
}

/* Writes the closed minutes whose counts grew since they were last stored. */
static void persist_step(struct slo_set *set, int64_t now_ns)
{
	if (!set->opt.tstore || !set->n)
		return;
	int64_t cur = now_ns / MIN_NS;
	size_t cap = (size_t)set->n * (SLO_LIVE_HORIZON + 1), np = 0;
	struct pending *pend = xcalloc(cap, sizeof(*pend));
	if (!pend)
		return;
	pthread_mutex_lock(&set->lock);
	for (int i = 0; i < set->n; i++) {
		struct slo *s = &set->slos[i];
		for (int64_t m = cur - SLO_LIVE_HORIZON; m <= cur - SLO_PERSIST_AGE && np < cap; m++) {
			if (m < 0)
				continue;
			struct hz_entry *h = &s->hz[m % SLO_HZ];
			if (h->tag != (uint32_t)(m + 1))
				*h = (struct hz_entry){ .tag = (uint32_t)(m + 1) };
			double g, t;
			ring_get(s, m, &g, &t);
			double dg = g - h->good, dt = t - h->total;
			if (dg <= 0 && dt <= 0)
				continue;
			pend[np++] = (struct pending){ i, m, dg > 0 ? dg : 0, dt > 0 ? dt : 0 };
		}
	}
	pthread_mutex_unlock(&set->lock);
	if (!np) {
		free(pend);
		return;
	}
	struct arena a;
	arena_init(&a, 0);
	struct resource *res = arena_zalloc(&a, sizeof(*res));
	struct metric_point *pts = arena_zalloc(&a, sizeof(*pts) * np * 2);
	struct attr *attrs = arena_zalloc(&a, sizeof(*attrs) * np);
	int rc = OODA_ENOMEM;
	if (res && pts && attrs) {
		res->service = "ooda";
		for (size_t i = 0; i < np; i++) {
			const struct slo *s = &set->slos[pend[i].slo];
			attrs[i] = (struct attr){ .key = "slo", .type = ATTR_STR, .len = (uint32_t)strlen(s->name),
						  .s = s->name };
			fill_point(&pts[2 * i], good_metric, res, &attrs[i], pend[i].minute, pend[i].good);
			fill_point(&pts[2 * i + 1], events_metric, res, &attrs[i], pend[i].minute, pend[i].total);
		}
		struct telemetry_batch b = { .arena = &a, .points = pts, .n_points = np * 2 };
		struct buf err = BUF_INIT;
		rc = tstore_append(set->opt.tstore, &b, &err);
		if (rc)
			log_warn("slo: storing %zu minute counts failed (retrying): %s", np, err.data);
		buf_release(&err);
	}
	arena_release(&a);
	if (!rc) {
		pthread_mutex_lock(&set->lock);
		for (size_t i = 0; i < np; i++) {
			struct hz_entry *h = &set->slos[pend[i].slo].hz[pend[i].minute % SLO_HZ];
			if (h->tag == (uint32_t)(pend[i].minute + 1)) {
				h->good += pend[i].good;
				h->total += pend[i].total;
			}
		}
		pthread_mutex_unlock(&set->lock);
	}
	free(pend);
}

/* One step of the SLO worker (core/worker): every second, and when woken. */
static void worker_step(void *arg, void *item)
{
	(void)item;
	struct slo_set *set = arg;
	int64_t now = set_now(set);
	pthread_rwlock_rdlock(&set->defs);
	promql_step(set, now, 120);
	persist_step(set, now);
	pthread_rwlock_unlock(&set->defs);
}

struct rebuild {
	struct slo *slos;
	int n;
	const bool *skip; /* SLOs not to fill (their rings are already live); NULL = none */
	int64_t now_min;
	int last; /* index of the last SLO found, a cache */
	int64_t *newest_stored;
	size_t points;
};

static int rebuild_cb(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	struct rebuild *r = ctx;
	for (size_t i = 0; i < b->n_points; i++) {
		const struct metric_point *p = &b->points[i];
		if (!p->name)
			continue;
		bool good = !strcmp(p->name, good_metric);
		if (!good && strcmp(p->name, events_metric))
			continue;
		const char *slo = NULL;
		for (uint32_t j = 0; j < p->attrs.n; j++)
			if (!strcmp(p->attrs.v[j].key, "slo") && p->attrs.v[j].type == ATTR_STR)
				slo = p->attrs.v[j].s;
		if (!slo || !isfinite(p->value) || p->value < 0)
			continue;
		int idx = -1;
		if (r->last >= 0 && !strcmp(r->slos[r->last].name, slo))
			idx = r->last;
		for (int j = 0; idx < 0 && j < r->n; j++)
			if (!strcmp(r->slos[j].name, slo))
				idx = j;
		if (idx < 0 || (r->skip && r->skip[idx]))
			continue;
		r->last = idx;
		struct slo *s = &r->slos[idx];
		int64_t m = p->start_ns / MIN_NS;
		if (m > r->now_min || m <= r->now_min - SLO_RING_MINUTES)
			continue;
		ring_put(s, m, good ? p->value : 0, good ? 0 : p->value, true);
		if (m >= r->now_min - SLO_HZ + 1) {
			struct hz_entry *h = &s->hz[m % SLO_HZ];
			if (h->tag != (uint32_t)(m + 1))
				*h = (struct hz_entry){ .tag = (uint32_t)(m + 1) };
			if (good)
				h->good += p->value;
			else
				h->total += p->value;
		}
		if (m > r->newest_stored[idx])
			r->newest_stored[idx] = m;
		r->points++;
	}
	return 0;
}

/*
 * Fills the rings of slos[0..n) (but those marked in skip) from the minute
 * points stored over the last 30 days. The caller makes sure nobody else
 * touches those rings meanwhile. Logs the outcome; returns nothing because
 * a budget without history is still a budget.
 */
static void rebuild(const struct slo_options *opt, struct slo *slos, int n, const bool *skip, int64_t now)
{
	if (!opt->tstore || !n)
		return;
	int64_t *newest = xmalloc(sizeof(int64_t) * (size_t)n);
	if (!newest)
		return;
	for (int i = 0; i < n; i++)
		newest[i] = -1;
	struct rebuild r = { slos, n, skip, now / MIN_NS, -1, newest, 0 };
	static const char *const svc[] = { "ooda" };
	struct tstore_scan q = { .signal = SIGNAL_METRICS, .from_ns = now - (int64_t)(SLO_RING_MINUTES + 60) * MIN_NS,
				 .to_ns = now + MIN_NS, .services = svc, .n_services = 1, .oldest_first = true };
	struct buf serr = BUF_INIT;
	int rc = tstore_scan(opt->tstore, &q, rebuild_cb, &r, &serr);
	for (int i = 0; i < n; i++)
		if (slos[i].kind == SLI_PROMQL && newest[i] >= 0 && !(skip && skip[i]))
			slos[i].promql_next = newest[i] + 1;
	if (rc)
		log_error("slo: budgets start without history: %s", serr.data);
	else {
		int filled = 0;
		for (int i = 0; i < n; i++)
			filled += !(skip && skip[i]);
		log_info("slo: %d SLOs, %zu stored minute counts read back", filled, r.points);
	}
	buf_release(&serr);
	free(newest);
}

int slo_set_start(struct slo_set *set, struct buf *err)
{
	if (!set)
		return OODA_EINVAL;
	pthread_rwlock_rdlock(&set->defs);
	pthread_mutex_lock(&set->lock);
	rebuild(&set->opt, set->slos, set->n, NULL, set_now(set));
	pthread_mutex_unlock(&set->lock);
	pthread_rwlock_unlock(&set->defs);
	/* the worker runs even without SLOs: a reload may add some */
	set->stop = false;
	struct worker_opts o = { .interval_ns = OODA_NS_PER_SEC };
	int prc = worker_create("slo", worker_step, set, &o, &set->worker, err);
	if (prc)
		return prc;
	worker_wake(set->worker); /* the first step now, then every second */
	set->worker_running = true;
	return 0;
}

static void add_names(struct buf *out, const char *what, const struct slo *v, int n, const bool *mark)
{
	bool any = false;
	for (int i = 0; i < n; i++) {
		if (!mark[i])
			continue;
		if (!any)
			buf_addf(out, "%s%s ", out->len ? "; " : "", what);
		buf_addf(out, "%s%s", any ? ", " : "", v[i].name);
		any = true;
	}
}

int slo_set_apply(struct slo_set *set, const char *slos_json, struct buf *changes, struct buf *err)
{
	if (!set)
		return OODA_EINVAL;
	struct slo *v;
	int n;
	int rc = parse_all(slos_json, &v, &n, false, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&set->apply_mu);
	/* Only apply_mu's holder changes slos and n, so reading them here is safe. */
	int n_old = set->n;
	struct slo *old = set->slos;
	int *from = xcalloc((size_t)n + 1, sizeof(int));       /* new i ← old from[i], or -1 */
	bool *added = xcalloc((size_t)n + 1, sizeof(bool));
	bool *changed = xcalloc((size_t)n + 1, sizeof(bool));
	bool *carried = xcalloc((size_t)n + 1, sizeof(bool));
	bool *removed = xcalloc((size_t)n_old + 1, sizeof(bool));
	struct slo_status *status = xcalloc((size_t)n + 1, sizeof(*status));
	json_t *orphans = json_array();
	rc = from && added && changed && carried && removed && status && orphans ? 0 : OODA_ENOMEM;
	for (int i = 0; i < n && !rc; i++) {
		from[i] = -1;
		for (int k = 0; k < n_old && from[i] < 0; k++)
			if (!strcmp(v[i].name, old[k].name))
				from[i] = k;
		added[i] = from[i] < 0;
		carried[i] = !added[i];
		changed[i] = !added[i] && strcmp(v[i].def, old[from[i]].def);
		if (added[i])
			rc = ring_alloc(&v[i]);
	}
	for (int k = 0; k < n_old && !rc; k++) {
		removed[k] = true;
		for (int i = 0; i < n && removed[k]; i++)
			removed[k] = from[i] != k;
		if (removed[k])
			json_array_append_new(orphans, json_pack("{s:s s:s?}", "name", old[k].name, "service",
								 old[k].service));
	}
	if (rc) {
		buf_adds(err, "slos: out of memory");
		goto out;
	}
	/* added SLOs read back what an earlier run (or an earlier reload) stored under their name */
	bool any_added = false;
	for (int i = 0; i < n; i++)
		any_added = any_added || added[i];
	if (any_added)
		rebuild(&set->opt, v, n, carried, set_now(set));
	atomic_store(&set->applying, true);
	pthread_rwlock_wrlock(&set->defs);
	for (int i = 0; i < n; i++) {
		if (added[i])
			continue;
		struct slo *o = &old[from[i]];
		v[i].good = o->good;
		v[i].total = o->total;
		v[i].tag = o->tag;
		o->good = o->total = NULL;
		o->tag = NULL;
		v[i].newest = o->newest;
		memcpy(v[i].hz, o->hz, sizeof(v[i].hz));
		v[i].promql_next = o->promql_next;
		v[i].last_full_pull_ns = changed[i] ? 0 : o->last_full_pull_ns;
	}
	set->slos = v;
	set->n = n;
	struct slo_status *old_status = set->tick_status;
	set->tick_status = status;
	status = old_status;
	pthread_mutex_lock(&set->lock);
	json_array_extend(set->orphans, orphans);
	pthread_mutex_unlock(&set->lock);
	pthread_rwlock_unlock(&set->defs);
	atomic_store(&set->applying, false);
	if (changes) {
		add_names(changes, "added", v, n, added);
		add_names(changes, "changed", v, n, changed);
		add_names(changes, "removed", old, n_old, removed);
	}
	for (int k = 0; k < n_old; k++)
		slo_release(&old[k]);
	free(old);
	v = NULL;
	n = 0;
out:
	pthread_mutex_unlock(&set->apply_mu);
	for (int i = 0; v && i < n; i++)
		slo_release(&v[i]);
	free(v);
	free(from);
	free(added);
	free(changed);
	free(carried);
	free(removed);
	free(status);
	json_decref(orphans);
	return rc;
}

void slo_set_destroy(struct slo_set *set)
{
	if (!set)
		return;
	if (set->worker_running) {
		set->stop = true; /* a long promql_step ends early */
		worker_destroy(set->worker);
	}
	for (int i = 0; i < set->n; i++)
		slo_release(&set->slos[i]);
	free(set->slos);
	free(set->s_req);
	free(set->s_err);
	free(set->s_fast);
	free(set->tick_status);
	json_decref(set->orphans);
	pthread_rwlock_destroy(&set->defs);
	pthread_mutex_destroy(&set->lock);
	pthread_mutex_destroy(&set->apply_mu);
	free(set);
}

/* ---- JSON views ------------------------------------------------------ */

static void add_num(struct buf *out, double v)
{
	if (isfinite(v))
		buf_addf(out, "%.10g", v);
	else
		buf_adds(out, "null");
}

static void add_dur(struct buf *out, int minutes)
{
	char d[32];
	ooda_duration_format((int64_t)minutes * MIN_NS, d, sizeof(d));
	buf_addf(out, "\"%s\"", d);
}

static void add_str(struct buf *out, const char *s)
{
	if (s)
		buf_add_json_str(out, s, strlen(s));
	else
		buf_adds(out, "null");
}

static void slo_json(const struct slo *s, const struct slo_status *st, const struct sums *x, struct buf *out)
{
	buf_adds(out, "{\"name\":");
	add_str(out, s->name);
	buf_adds(out, ",\"service\":");
	add_str(out, s->service);
	buf_adds(out, ",\"operation\":");
	add_str(out, s->operation);
	buf_adds(out, ",\"description\":");
	add_str(out, s->description);
	buf_adds(out, ",\"objective\":");
	add_num(out, s->objective);
	buf_adds(out, ",\"window\":");
	add_dur(out, s->window_min);
	buf_addf(out, ",\"budgeting\":\"%s\"", s->timeslices ? "timeslices" : "occurrences");
	if (s->timeslices) {
		buf_adds(out, ",\"timeslice\":");
		add_dur(out, s->slice_min);
		buf_adds(out, ",\"timeslice_target\":");
		add_num(out, s->slice_target);
	}
	buf_addf(out, ",\"sli\":{\"kind\":\"%s\"", sli_names[s->kind]);
	if (s->kind == SLI_LATENCY) {
		buf_adds(out, ",\"threshold_ms\":");
		add_num(out, s->threshold_s * 1e3);
	} else if (s->kind == SLI_PROMQL) {
		buf_adds(out, s->q_good ? ",\"good\":" : ",\"bad\":");
		add_str(out, s->q_good ? s->q_good : s->q_bad);
		buf_adds(out, ",\"total\":");
		add_str(out, s->q_total);
	}
	buf_adds(out, ",\"value\":");
	add_num(out, st->sli);
	buf_adds(out, "},\"events\":{\"good\":");
	add_num(out, st->good);
	buf_adds(out, ",\"total\":");
	add_num(out, st->total);
	buf_adds(out, "},\"error_budget\":{\"allowed_fraction\":");
	add_num(out, s->allowed);
	buf_adds(out, ",\"remaining\":");
	add_num(out, st->budget_remaining);
	if (s->timeslices) {
		buf_adds(out, ",\"remaining_minutes\":");
		add_num(out, st->budget_remaining_minutes);
		buf_adds(out, ",\"total_minutes\":");
		add_num(out, s->allowed * (double)((s->window_min + s->slice_min - 1) / s->slice_min) * s->slice_min);
	} else {
		buf_adds(out, ",\"remaining_events\":");
		add_num(out, st->budget_remaining_events);
		buf_adds(out, ",\"total_events\":");
		add_num(out, s->allowed * st->total);
	}
	buf_adds(out, "},\"burn_rates\":{");
	for (int i = 0; i < SLO_N_WINDOWS; i++) {
		buf_addf(out, "%s\"%s\":", i ? "," : "", std_names[i]);
		add_num(out, st->burn[i]);
	}
	buf_adds(out, "},\"window_events\":{");
	for (int i = 0; i < SLO_N_WINDOWS; i++) {
		buf_addf(out, "%s\"%s\":", i ? "," : "", std_names[i]);
		add_num(out, st->events[i]);
	}
	buf_addf(out, "},\"alert\":{\"state\":\"%s\",\"min_events\":", st->page ? "page" : st->ticket ? "ticket" : "ok");
	add_num(out, s->min_events);
	buf_adds(out, ",\"rules\":[");
	int n = 0;
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < s->n_rules[k]; i++) {
			const struct slo_rule *r = &s->rules[k][i];
			buf_addf(out, "%s{\"severity\":\"%s\",\"long\":", n++ ? "," : "", k ? "ticket" : "page");
			add_dur(out, r->long_min);
			buf_adds(out, ",\"short\":");
			add_dur(out, r->short_min);
			buf_adds(out, ",\"burn_rate\":");
			add_num(out, r->burn);
			buf_adds(out, ",\"long_burn\":");
			add_num(out, burn_of(s, x, r->long_w));
			buf_adds(out, ",\"short_burn\":");
			add_num(out, burn_of(s, x, r->short_w));
			buf_adds(out, ",\"short_events\":");
			add_num(out, x->total[r->short_w]);
			buf_addf(out, ",\"holds\":%s}", rule_holds(s, x, r) ? "true" : "false");
		}
	buf_adds(out, "]}");
}

int slo_list_json(struct slo_set *set, int64_t now_ns, struct buf *out, struct buf *err)
{
	char when[40];
	ooda_time_format(now_ns, when, sizeof(when));
	buf_addf(out, "{\"evaluated_at\":\"%s\",\"slos\":[", when);
	if (set) {
		struct sums x;
		struct slo_status st;
		pthread_rwlock_rdlock(&set->defs);
		pthread_mutex_lock(&set->lock);
		for (int i = 0; i < set->n; i++) {
			evaluate(&set->slos[i], now_ns, &st, &x);
			if (i)
				buf_addch(out, ',');
			slo_json(&set->slos[i], &st, &x, out);
			buf_addch(out, '}');
		}
		pthread_mutex_unlock(&set->lock);
		pthread_rwlock_unlock(&set->defs);
	}
	buf_adds(out, "]}");
	return 0;
}

/* Budget remaining at the end of each hour of the window (and now). */
static void burn_down_json(const struct slo *s, const struct slo_status *st, int64_t now_ns, struct buf *out)
{
	int64_t cur = now_ns / MIN_NS;
	int k = s->slice_min;
	int64_t n_units = (s->window_min + k - 1) / k;
	int64_t start = (cur / k - n_units + 1) * k;
	if (start < 0)
		start = 0;
	double allowed = s->timeslices ? s->allowed * (double)n_units : s->allowed * st->total;
	double bad = 0, sg = 0, stt = 0;
	int n = 0;
	buf_adds(out, ",\"burn_down\":[");
	for (int64_t m = start; m <= cur; m++) {
		double g, t;
		ring_get(s, m, &g, &t);
		if (s->timeslices) {
			sg += g;
			stt += t;
			if ((m + 1) % k == 0 || m == cur) {
				bad += slice_bad(s, sg, stt) ? 1 : 0;
				sg = stt = 0;
			}
		} else {
			bad += t - g;
		}
		if ((m + 1) % 60 == 0 || m == cur) {
			char when[40];
			int64_t t_ns = (m + 1) * MIN_NS;
			ooda_time_format(t_ns < now_ns ? t_ns : now_ns, when, sizeof(when));
			buf_addf(out, "%s{\"t\":\"%s\",\"remaining\":", n++ ? "," : "", when);
			add_num(out, allowed > 0 ? 1 - bad / allowed : 1);
			buf_addch(out, '}');
		}
	}
	buf_addch(out, ']');
}

int slo_get_json(struct slo_set *set, const char *name, int64_t now_ns, struct buf *out, struct buf *err)
{
	if (set)
		pthread_rwlock_rdlock(&set->defs);
	struct slo *s = set && name ? find_slo(set, name) : NULL;
	if (!s) {
		if (set)
			pthread_rwlock_unlock(&set->defs);
		if (err)
			buf_addf(err, "no SLO named \"%.*s\"", SLO_NAME_MAX, name ? name : "");
		return OODA_ENOTFOUND;
	}
	struct sums x;
	struct slo_status st;
	char when[40];
	ooda_time_format(now_ns, when, sizeof(when));
	pthread_mutex_lock(&set->lock);
	evaluate(s, now_ns, &st, &x);
	slo_json(s, &st, &x, out);
	buf_addf(out, ",\"evaluated_at\":\"%s\"", when);
	burn_down_json(s, &st, now_ns, out);
	buf_addch(out, '}');
	pthread_mutex_unlock(&set->lock);
	pthread_rwlock_unlock(&set->defs);
	return 0;
}
