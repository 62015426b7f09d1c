/*
 * The SLO engine (see slo.h for the contract, docs/slo.md for the math).
 * This file keeps a 30-day ring of per-minute good/total counts per SLO,
 * merges the recent minutes from live RED on the engine tick, evaluates
 * burn rates and the multi-window multi-burn-rate rules, swaps in a new
 * list of SLOs on a config reload (slo_set_apply), handing each kept name
 * its counts, and renders the JSON views. slo_config.c reads the `slos:`
 * section; slo_store.c runs the worker thread that evaluates PromQL SLIs
 * once per closed minute and makes closed minutes durable as metric
 * points, which slo_set_start() reads back after a restart.
 *
 * A minute's counts only grow: live is authoritative for the last
 * SLO_LIVE_HORIZON minutes (it is rebuilt from stored spans at start too),
 * and a merge keeps whichever of (ring, live) has seen more events, so a
 * replayed hour never double counts and an emptied live ring never erases a
 * stored minute. The worker writes the difference between a minute's
 * counts and what it already stored as a delta point, so the stored points
 * of a minute always add up to its counts.
 */
#include "detect/slo_impl.h"

#include <jansson.h>
#include <math.h>

#include "core/error.h"
#include "core/log.h"
#include "core/worker.h"
#include "query/metrics.h"

static const char *const std_names[SLO_N_WINDOWS] = { "5m", "30m", "1h", "2h", "6h", "1d", "3d" };

const int *slo_window_minutes(void)
{
	return std_windows;
}

int slo_set_create(const char *slos_json, const struct slo_options *opt, struct slo_set **out,
		   struct buf *err)
{
	struct slo_set *set = xcalloc(1, sizeof(*set));
	if (opt)
		set->opt = *opt;
	int rc = slo_parse_all(slos_json, &set->slos, &set->n, true, err);
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
	if (!set->orphans) {
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
	int rc = slo_parse_all(slos_json, &v, &n, false, err);
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
	rc = orphans ? 0 : OODA_ENOMEM;
	for (int i = 0; i < n && !rc; i++) {
		from[i] = -1;
		for (int k = 0; k < n_old && from[i] < 0; k++)
			if (!strcmp(v[i].name, old[k].name))
				from[i] = k;
		added[i] = from[i] < 0;
		carried[i] = !added[i];
		changed[i] = !added[i] && strcmp(v[i].def, old[from[i]].def);
		if (added[i])
			slo_ring_alloc(&v[i]);
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
		slo_rebuild(&set->opt, v, n, carried, set_now(set));
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
