/*
 * The rollout engine (rollout.h): rollouts as rows of the store's rollouts
 * table, each write in one transaction with its audit record; flag weights
 * through the flag store (audited and announced there too); canary analysis
 * over the spans of the current step; aborts through flagstore_rollback and
 * the deploy rollback runner; approvals through approval.c.
 *
 * One thread advances rollouts. It asks the store for the running ones
 * (through the status index), acts on those whose step is due, and sleeps
 * until the earliest next due time or until rollout_start, a promotion, an
 * abort or an approval wakes it. Every transition happens under the
 * engine's mutex, so the thread and the API never act on one rollout at
 * once. A rollout's state is in its row after every step, so a restart
 * resumes each rollout at its current step.
 */
#include "change/rollout.h"
#include "change/change.h"
#include "audit/docwrite.h"
#include "core/error.h"
#include "core/lead.h"
#include "core/log.h"
#include "core/time.h"
#include "core/worker.h"
#include "core/xalloc.h"

#include <sodium.h>

#define PRE_WINDOW_NS (10 * 60 * OODA_NS_PER_SEC)
/* the longest sleep: a wall-clock jump cannot leave a due step waiting longer */
#define MAX_SLEEP_NS (60 * OODA_NS_PER_SEC)
#define ENGINE_ACTOR "engine:rollout"

struct rollout_engine {
	pthread_t th;
	pthread_mutex_t mu; /* every transition; the thread's sleep */
	pthread_cond_t cv;
	bool stop, kick;
};

/* ---- the document ----------------------------------------------------------- */

static int copy_row(void *ctx, const void *row)
{
	const struct rollout_row *r = row;
	*(json_t **)ctx = json_loads(r->body, 0, NULL);
	return 0;
}

static int ro_load(struct change *c, const char *id, json_t **doc, struct buf *err)
{
	*doc = NULL;
	int rc = store_rollout_get(c->store, id, copy_row, doc);
	if (rc == OODA_ENOTFOUND)
		buf_addf(err, "rollout %s does not exist", id);
	else if (rc)
		buf_addf(err, "reading rollout %s failed", id);
	else if (!*doc) {
		buf_addf(err, "rollout %s is damaged", id);
		rc = OODA_ECORRUPT;
	}
	return rc;
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int64_t jint(const json_t *o, const char *k)
{
	return (int64_t)json_integer_value(json_object_get(o, k));
}

struct ro_write {
	struct change *c;
	const char *body;
	struct rollout_row row;
	struct audit_entry ae;
};

static int ro_write_tx(struct store *s, void *ctx, struct buf *err)
{
	struct ro_write *w = ctx;
	int rc = store_rollout_put(s, &w->row);
	if (rc)
		buf_adds(err, "writing the rollout failed");
	else
		rc = audit_append(s, w->c->sg, &w->ae, err);
	return rc;
}

/* Stores doc and its audit record (action by actor, why) in one transaction. */
static int ro_save(struct change *c, json_t *doc, const char *actor, const char *action, const char *why,
		   struct buf *err)
{
	int64_t now = ooda_now_ns();
	char when[40], target[64];
	ooda_time_format(now, when, sizeof(when));
	json_object_set_new(doc, "updated", json_string(when));
	char *body = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	snprintf(target, sizeof(target), "rollout/%s", jstr(doc, "id"));
	struct ro_write w = { .c = c, .body = body };
	w.row = (struct rollout_row){ .id = jstr(doc, "id"), .status = jstr(doc, "status"), .env = jstr(doc, "env"),
				      .due_ns = jint(doc, "due_unix_nano"), .updated_ns = now, .body = body };
	w.ae = (struct audit_entry){ .actor = actor, .action = action, .target = target, .after = body,
				     .after_len = strlen(body), .rationale = why ? why : "" };
	int rc = store_write(c->store, ro_write_tx, &w, err);
	free(body);
	return rc;
}

/* A change event for the timeline; the service is the analysed one. */
static void ro_event(struct change *c, const json_t *doc, const char *kind, const char *actor, const char *desc)
{
	struct buf e = BUF_INIT;
	vdoc_event(c->tstore, kind, jstr(doc, "service"), jstr(doc, "env"), jstr(doc, "version"), actor, desc, &e);
	buf_release(&e);
}

static const char *step_kind(const json_t *doc)
{
	return jstr(doc, "flag") ? "flag" : "deploy";
}

/* "step 2 (25 %)" or "step 2" */
static void step_name(const json_t *doc, int step, char *out, size_t n)
{
	json_t *w = json_object_get(json_array_get(json_object_get(doc, "steps"), (size_t)step), "weight");
	if (w)
		snprintf(out, n, "step %d (%lld %%)", step + 1, (long long)json_integer_value(w));
	else
		snprintf(out, n, "step %d", step + 1);
}

/* ---- flags ---------------------------------------------------------------- */

/* The flag's definition with `fractional` giving weight % to the new variant (100: it becomes the default). */
static int flag_weight(struct change *c, const json_t *doc, int weight, const char *actor, const char *why,
		       struct buf *err)
{
	const char *env = jstr(doc, "env"), *key = jstr(doc, "flag"), *variant = jstr(doc, "variant");
	json_t *def = flagstore_def(c->store, env, key, 0);
	if (!def) {
		buf_addf(err, "flag %s does not exist in %s any more", key, env);
		return OODA_ENOTFOUND;
	}
	if (weight >= 100) {
		json_object_set_new(def, "defaultVariant", json_string(variant));
		json_object_del(def, "targeting");
	} else {
		json_t *frac = json_pack("[[s, i], [s, i]]", variant, weight, jstr(doc, "baseline_variant"), 100 - weight);
		json_object_set_new(def, "targeting", json_pack("{s:o}", "fractional", frac));
	}
	struct flag_change ch = { .env = env, .key = key, .actor = actor, .rationale = why, .expect_version = -1 };
	int rc = flagstore_put(c->flags, &ch, def, err);
	json_decref(def);
	return rc;
}

/* ---- analysis ------------------------------------------------------------- */

struct sample_set {
	double *v;
	size_t n, cap, errors;
};

static void sample_add(struct sample_set *s, double ms, bool error)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->v = xrealloc(s->v, s->cap * sizeof(double));
	}
	s->v[s->n++] = ms;
	s->errors += error;
}

struct ro_scan {
	const char *version, *variant;
	int64_t from, to, pre_from;
	struct sample_set canary, base, pre;
};

static bool span_variant_is(const struct span *s, const char *variant)
{
	for (uint32_t i = 0; i < s->attrs.n; i++) {
		const struct attr *a = &s->attrs.v[i];
		if (a->type == ATTR_STR &&
		    (!strcmp(a->key, "feature_flag.variant") || !strcmp(a->key, "feature_flag.result.variant")))
			return a->len == strlen(variant) && !memcmp(a->s, variant, a->len);
	}
	return false;
}

static int scan_cb(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	(void)tmin;
	(void)tmax;
	struct ro_scan *v = ctx;
	for (size_t i = 0; i < b->n_spans; i++) {
		const struct span *s = &b->spans[i];
		if (s->kind != SPAN_SERVER && s->kind != SPAN_CONSUMER && s->has_parent)
			continue;
		bool canary;
		if (v->version) {
			const char *ver = s->resource ? s->resource->service_version : NULL;
			canary = ver && !strcmp(ver, v->version);
		} else {
			canary = span_variant_is(s, v->variant);
		}
		double ms = (double)(s->end_ns - s->start_ns) / 1e6;
		bool err = s->status == STATUS_ERROR;
		if (s->end_ns >= v->from && s->end_ns <= v->to)
			sample_add(canary ? &v->canary : &v->base, ms, err);
		else if (!canary && s->end_ns >= v->pre_from && s->end_ns < v->from)
			sample_add(&v->pre, ms, err);
	}
	return 0;
}

static double an_num(const json_t *doc, const char *k)
{
	return json_number_value(json_object_get(json_object_get(doc, "analysis"), k));
}

/* The canary analysis of the current step: its spans since the step began. */
static int ro_analyze(struct change *c, const json_t *doc, struct canary_result *res, json_t **res_json,
		      struct buf *err)
{
	int64_t now = ooda_now_ns(), started = jint(doc, "started_unix_nano");
	struct ro_scan v = { .version = jstr(doc, "version"), .variant = jstr(doc, "variant"),
			     .from = jint(doc, "step_started_unix_nano"), .to = now, .pre_from = started - PRE_WINDOW_NS };
	const char *svcs[1] = { jstr(doc, "service") };
	struct tstore_scan q = { .signal = SIGNAL_SPANS, .from_ns = v.pre_from, .to_ns = now, .services = svcs,
				 .n_services = 1 };
	/* the pre-rollout window is baseline only for spans from before the rollout began */
	int rc = tstore_scan(c->tstore, &q, scan_cb, &v, err);
	if (!rc) {
		struct canary_config cc = { .min_samples = (size_t)an_num(doc, "min_samples"), .alpha = an_num(doc, "alpha"),
					    .max_p99_increase = an_num(doc, "max_p99_increase"),
					    .max_median_increase = an_num(doc, "max_median_increase"),
					    .max_error_increase = an_num(doc, "max_error_increase") };
		bool parallel = v.base.n >= cc.min_samples;
		struct sample_set *b = parallel ? &v.base : &v.pre;
		if (!parallel && v.pre.n < v.base.n)
			b = &v.base; /* neither is enough: the analysis says inconclusive with the larger */
		struct canary_side bs = { b->v, b->n, b->errors }, cs = { v.canary.v, v.canary.n, v.canary.errors };
		canary_analyze(&cc, &bs, &cs, res);
		struct buf js = BUF_INIT;
		canary_result_json(res, &js);
		*res_json = json_loads(js.data, 0, NULL);
		buf_release(&js);
		if (*res_json)
			json_object_set_new(*res_json, "baseline",
					    json_string(b == &v.base ? "old side in parallel" : "before the rollout"));
	}
	free(v.canary.v);
	free(v.base.v);
	free(v.pre.v);
	return rc;
}

/* ---- transitions ---------------------------------------------------------- */

static void ro_state(const json_t *doc, bool approval[ROLLOUT_MAX_STEPS], struct rollout_state *s)
{
	json_t *steps = json_object_get(doc, "steps");
	size_t n = json_array_size(steps);
	if (n > ROLLOUT_MAX_STEPS)
		n = ROLLOUT_MAX_STEPS;
	for (size_t i = 0; i < n; i++)
		approval[i] = json_is_true(json_object_get(json_array_get(steps, i), "approval"));
	*s = (struct rollout_state){ .status = rollout_status_parse(jstr(doc, "status")), .step = (int)jint(doc, "step"),
				     .n_steps = (int)n, .inconclusive = (int)jint(doc, "inconclusive"),
				     .max_inconclusive = (int)jint(doc, "max_inconclusive"), .approval = approval };
}

static void history_add(json_t *doc, const char *what, const char *actor, const char *why)
{
	char when[40];
	ooda_time_format(ooda_now_ns(), when, sizeof(when));
	json_t *h = json_object_get(doc, "history");
	if (json_array_size(h) < 200)
		json_array_append_new(h, json_pack("{s:s, s:s, s:s, s:s}", "time", when, "what", what, "actor", actor,
						   "rationale", why));
}

/* Rolls the rollout back: the flag to its version before, a deploy through its rollback plan. */
static void ro_rollback(struct change *c, json_t *doc, const char *actor, const char *why)
{
	struct buf err = BUF_INIT;
	if (jstr(doc, "flag")) {
		struct flag_change ch = { .env = jstr(doc, "env"), .key = jstr(doc, "flag"), .actor = actor,
					  .rationale = why, .expect_version = -1 };
		if (flagstore_rollback(c->flags, &ch, jint(doc, "flag_version_before"), &err)) {
			log_error("rollout %s: the flag could not be rolled back: %s", jstr(doc, "id"), err.data);
			json_object_set_new(doc, "rollback_error", json_string(err.data));
		} else {
			json_object_set_new(doc, "flag_version_restored", json_integer(ch.version));
		}
		buf_reset(&err);
	}
	if (jstr(doc, "deploy")) {
		char run[48], ap[48];
		if (rollback_start(c, jstr(doc, "deploy"), false, false, actor, why, run, ap, &err)) {
			log_error("rollout %s: the deploy rollback could not start: %s", jstr(doc, "id"), err.data);
			json_object_set_new(doc, "rollback_error", json_string(err.data));
		} else if (ap[0]) {
			json_object_set_new(doc, "rollback_approval", json_string(ap));
		} else {
			json_object_set_new(doc, "rollback_run", json_string(run));
		}
	}
	buf_release(&err);
}

/*
 * Applies the state machine's answer n to doc and stores it, audited as
 * actor with why. The caller holds the engine's mutex.
 */
static int ro_apply(struct change *c, json_t *doc, const struct rollout_next *n, const char *actor, const char *why,
		    struct buf *err)
{
	int64_t now = ooda_now_ns();
	char what[300], sn[48], when[40];
	ooda_time_format(now, when, sizeof(when));
	const char *id = jstr(doc, "id"), *action = "rollout.step";
	int rc = 0;
	switch (n->action) {
	case RO_ACT_REFUSE:
		return OODA_ECONFLICT;
	case RO_ACT_ADVANCE: {
		json_t *st = json_array_get(json_object_get(doc, "steps"), (size_t)n->step);
		step_name(doc, n->step, sn, sizeof(sn));
		if (jstr(doc, "flag") && json_object_get(st, "weight")) {
			char fwhy[700];
			snprintf(fwhy, sizeof(fwhy), "rollout %s %s: %s", id, sn, why);
			if ((rc = flag_weight(c, doc, (int)jint(st, "weight"), actor, fwhy, err)))
				return rc;
		}
		json_object_set_new(doc, "step", json_integer(n->step));
		json_object_set_new(doc, "inconclusive", json_integer(0));
		json_object_set_new(doc, "step_started_unix_nano", json_integer(now));
		json_object_set_new(doc, "due_unix_nano", json_integer(now + jint(st, "hold_ns")));
		json_object_del(doc, "approval");
		snprintf(what, sizeof(what), "%s started, held %s", sn, jstr(st, "hold"));
		break;
	}
	case RO_ACT_EXTEND: {
		json_t *st = json_array_get(json_object_get(doc, "steps"), (size_t)n->step);
		json_object_set_new(doc, "inconclusive", json_integer(jint(doc, "inconclusive") + 1));
		json_object_set_new(doc, "due_unix_nano", json_integer(now + jint(st, "hold_ns")));
		step_name(doc, n->step, sn, sizeof(sn));
		snprintf(what, sizeof(what), "%s held again (%lld of %lld)", sn, (long long)jint(doc, "inconclusive"),
			 (long long)jint(doc, "max_inconclusive"));
		action = "rollout.hold";
		break;
	}
	case RO_ACT_AWAIT: {
		char ap[48];
		step_name(doc, n->step + 1, sn, sizeof(sn));
		json_t *act = json_pack("{s:s, s:s}", "type", "rollout.promote", "rollout", id);
		char awhy[700];
		snprintf(awhy, sizeof(awhy), "rollout %s: start %s? %s", id, sn, why);
		rc = approval_request(c, "rollout", jstr(doc, "env"), act, jstr(doc, "actor"), awhy,
				      24 * 3600 * OODA_NS_PER_SEC, ap, err);
		json_decref(act);
		if (rc)
			return rc;
		json_object_set_new(doc, "approval", json_string(ap));
		json_object_set_new(doc, "due_unix_nano", json_integer(0));
		snprintf(what, sizeof(what), "%s waits for approval %s", sn, ap);
		action = "rollout.await";
		break;
	}
	case RO_ACT_COMPLETE:
		if (jstr(doc, "flag") && (rc = flag_weight(c, doc, 100, actor, why, err)))
			return rc;
		json_object_set_new(doc, "due_unix_nano", json_integer(0));
		json_object_set_new(doc, "finished", json_string(when));
		snprintf(what, sizeof(what), "completed: the new %s takes all traffic", jstr(doc, "flag") ? "variant" : "version");
		action = "rollout.complete";
		break;
	case RO_ACT_ABORT:
		ro_rollback(c, doc, actor, why);
		json_object_set_new(doc, "due_unix_nano", json_integer(0));
		json_object_set_new(doc, "finished", json_string(when));
		json_object_set_new(doc, "abort_reason", json_string(why));
		snprintf(what, sizeof(what), "aborted and rolled back");
		action = "rollout.abort";
		break;
	}
	json_object_set_new(doc, "status", json_string(rollout_status_name(n->status)));
	history_add(doc, what, actor, why);
	rc = ro_save(c, doc, actor, action, why, err);
	if (!rc) {
		char desc[900];
		snprintf(desc, sizeof(desc), "rollout %s of %s: %s — %s", id,
			 jstr(doc, "flag") ? jstr(doc, "flag") : jstr(doc, "deploy"), what, why);
		ro_event(c, doc, n->action == RO_ACT_ABORT ? "rollback" : step_kind(doc), actor, desc);
		if (n->action == RO_ACT_ABORT && c->verdict_fn)
			c->verdict_fn(c->verdict_ctx, "rollout-abort", id, jstr(doc, "service"), jstr(doc, "env"), why);
	}
	return rc;
}

static void ro_kick(struct change *c)
{
	if (!c->ro)
		return;
	pthread_mutex_lock(&c->ro->mu);
	c->ro->kick = true;
	pthread_cond_signal(&c->ro->cv);
	pthread_mutex_unlock(&c->ro->mu);
}

/*
 * The hold of a running rollout is over: analyse its step and act on the
 * verdict. Mutex held. False when nothing could be stored (the store
 * failing): the rollout is then tried again at the next wake.
 */
static bool ro_judge(struct change *c, json_t *doc)
{
	struct buf err = BUF_INIT;
	struct canary_result res = { 0 };
	json_t *rj = NULL;
	const char *id = jstr(doc, "id");
	if (ro_analyze(c, doc, &res, &rj, &err)) {
		log_error("rollout %s: analysis failed: %s", id, err.data);
		res.verdict = CANARY_INCONCLUSIVE;
		snprintf(res.reason, sizeof(res.reason), "the spans could not be read: %s", err.data);
		buf_reset(&err);
	}
	bool approval[ROLLOUT_MAX_STEPS];
	struct rollout_state s;
	ro_state(doc, approval, &s);
	static const enum rollout_event ev_of[] = { [CANARY_INCONCLUSIVE] = RO_EV_INCONCLUSIVE,
						    [CANARY_PASS] = RO_EV_PASS,
						    [CANARY_FAIL] = RO_EV_FAIL };
	struct rollout_next n;
	rollout_transition(&s, ev_of[res.verdict], &n);
	static const char *const decision[] = { [RO_ACT_REFUSE] = "none",     [RO_ACT_ADVANCE] = "promote",
						[RO_ACT_AWAIT] = "wait for approval", [RO_ACT_EXTEND] = "hold again",
						[RO_ACT_COMPLETE] = "complete", [RO_ACT_ABORT] = "abort" };
	char sn[48], why[700];
	step_name(doc, s.step, sn, sizeof(sn));
	snprintf(why, sizeof(why), "%s: error ratio %.1f %% vs baseline %.1f %%, p99 %.0f ms vs %.0f ms (%zu vs %zu requests), verdict %s → %s: %s",
		 sn, res.canary_error_ratio * 100, res.base_error_ratio * 100, res.canary_p99, res.base_p99, res.n_canary,
		 res.n_base, canary_verdict_name(res.verdict), decision[n.action], res.reason);
	json_t *verdicts = json_object_get(doc, "verdicts");
	if (rj && json_array_size(verdicts) < 200) {
		json_object_set_new(rj, "step", json_integer(s.step));
		json_array_append(verdicts, rj);
	}
	json_decref(rj);
	bool stored = true;
	if (ro_apply(c, doc, &n, ENGINE_ACTOR, why, &err)) {
		/* the next step could not take effect (its flag deleted, say): stop here, rolled back */
		log_error("rollout %s: %s failed: %s", id, decision[n.action], err.data);
		char awhy[900];
		snprintf(awhy, sizeof(awhy), "%s: %s failed: %s", sn, decision[n.action], err.data);
		struct rollout_next ab = { RO_ACT_ABORT, RO_ABORTED, s.step };
		buf_reset(&err);
		if (n.action == RO_ACT_ABORT || ro_apply(c, doc, &ab, ENGINE_ACTOR, awhy, &err)) {
			log_error("rollout %s: cannot be stored: %s", id, err.data);
			stored = false;
		}
	} else {
		log_info("rollout %s: %s", id, why);
	}
	buf_release(&err);
	return stored;
}

struct due_scan {
	json_t *ids;
	int64_t now, next;
};

static int due_row(void *ctx, const void *row)
{
	const struct rollout_row *r = row;
	struct due_scan *d = ctx;
	if (r->due_ns <= d->now)
		json_array_append_new(d->ids, json_string(r->id));
	else if (!d->next || r->due_ns < d->next)
		d->next = r->due_ns;
	return 0;
}

static void *engine_main(void *arg)
{
	struct change *c = arg;
	struct rollout_engine *e = c->ro;
	pthread_mutex_lock(&e->mu);
	while (!e->stop) {
		if (lead_thread_enter() < 0) { /* a follower's rollouts wait for it to lead (core/lead.h) */
			worker_cond_wait_until(&e->cv, &e->mu, ooda_mono_ns() + LEAD_POLL_MS * OODA_NS_PER_MS);
			continue;
		}
		e->kick = false;
		struct due_scan d = { json_array(), ooda_now_ns(), 0 };
		if (store_rollout_list(c->store, rollout_status_name(RO_RUNNING), 10000, due_row, &d))
			log_error("rollout engine: cannot list the running rollouts");
		size_t i;
		json_t *idj;
		bool acted = false;
		json_array_foreach(d.ids, i, idj) {
			if (e->stop)
				break;
			json_t *doc;
			struct buf err = BUF_INIT;
			if (!ro_load(c, json_string_value(idj), &doc, &err)) {
				if (!strcmp(jstr(doc, "status"), "running") && jint(doc, "due_unix_nano") <= ooda_now_ns())
					acted |= ro_judge(c, doc);
				json_decref(doc);
			}
			buf_release(&err);
		}
		json_decref(d.ids);
		if (acted || e->kick || e->stop)
			continue; /* a step just started may be due already; look again */
		int64_t wait = d.next ? d.next - ooda_now_ns() : MAX_SLEEP_NS;
		if (wait > MAX_SLEEP_NS)
			wait = MAX_SLEEP_NS;
		int64_t deadline = ooda_mono_ns() + (wait > 0 ? wait : 0);
		while (!e->kick && !e->stop && !worker_cond_wait_until(&e->cv, &e->mu, deadline))
			;
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

int rollout_engine_start(struct change *c, struct buf *err)
{
	struct rollout_engine *e = xcalloc(1, sizeof(*e));
	pthread_mutex_init(&e->mu, NULL);
	worker_cond_init(&e->cv);
	c->ro = e;
	if (pthread_create(&e->th, NULL, engine_main, c)) {
		buf_adds(err, "cannot start the rollout engine thread");
		pthread_mutex_destroy(&e->mu);
		pthread_cond_destroy(&e->cv);
		free(e);
		c->ro = NULL;
		return OODA_EINTERNAL;
	}
	return 0;
}

void rollout_engine_stop(struct change *c)
{
	struct rollout_engine *e = c->ro;
	if (!e)
		return;
	pthread_mutex_lock(&e->mu);
	e->stop = true;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mu);
	pthread_join(e->th, NULL);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	free(e);
	c->ro = NULL;
}

/* ---- the API's verbs ------------------------------------------------------- */

static int engine_lock(struct change *c, struct buf *err)
{
	if (!c->ro) {
		buf_adds(err, "the rollout engine is not running");
		return OODA_EUNAVAIL;
	}
	pthread_mutex_lock(&c->ro->mu);
	return 0;
}

struct active_scan {
	const char *env, *flag, *deploy;
	char found[48];
};

static int active_row(void *ctx, const void *row)
{
	const struct rollout_row *r = row;
	struct active_scan *a = ctx;
	json_t *d = json_loads(r->body, 0, NULL);
	const char *f = jstr(d, "flag"), *dep = jstr(d, "deploy");
	if ((a->flag && f && !strcmp(a->env, r->env) && !strcmp(f, a->flag)) || (a->deploy && dep && !strcmp(dep, a->deploy)))
		snprintf(a->found, sizeof(a->found), "%s", r->id);
	json_decref(d);
	return 0;
}

/* Fills the members a flag rollout needs from the flag; refuses what it cannot roll out. */
static int flag_prepare(struct change *c, json_t *doc, struct buf *err)
{
	const char *env = jstr(doc, "env"), *key = jstr(doc, "flag"), *variant = jstr(doc, "variant");
	char k[400];
	snprintf(k, sizeof(k), "%s/%s", env, key);
	struct vdoc d;
	int rc = vdoc_get(c->store, "flag", k, 0, &d, err);
	if (rc || d.deleted) {
		if (!rc) {
			buf_addf(err, "flag %s does not exist in %s", key, env);
			rc = OODA_ENOTFOUND;
		}
		vdoc_release(&d);
		return rc;
	}
	json_t *def = json_loadb(d.body, d.body_len, 0, NULL);
	int64_t version = d.version;
	vdoc_release(&d);
	const char *base = jstr(def, "defaultVariant");
	int64_t exp;
	if (!json_object_get(json_object_get(def, "variants"), variant)) {
		buf_addf(err, "variant: flag %s has no variant %s", key, variant);
		rc = OODA_EINVAL;
	} else if (!base || !strcmp(base, variant)) {
		buf_addf(err, "variant: %s is already the default of flag %s; a rollout moves traffic to another variant", variant, key);
		rc = OODA_EINVAL;
	} else if (approval_flag_protected(c, env, def, def, &exp)) {
		buf_addf(err, "flag %s is protected by an approval rule: roll it out with steps marked approval, after the rule allows it", key);
		rc = OODA_ECONFLICT;
	} else {
		json_object_set_new(doc, "baseline_variant", json_string(base));
		json_object_set_new(doc, "flag_version_before", json_integer(version));
	}
	json_decref(def);
	return rc;
}

static int deploy_prepare(struct change *c, json_t *doc, struct buf *err)
{
	json_t *d;
	int rc = deploy_get(c, jstr(doc, "deploy"), &d, err);
	if (rc)
		return rc;
	const char *denv = jstr(d, "environment");
	if (!jstr(d, "previous")) {
		buf_addf(err, "deploy: %s is the first deploy of its service here, so a failed step has nothing to roll back to",
			 jstr(doc, "deploy"));
		rc = OODA_EPRECOND;
	} else {
		json_object_set_new(doc, "env", json_string(denv));
		json_object_set_new(doc, "service", json_string(jstr(d, "service")));
		if (!jstr(doc, "version"))
			json_object_set_new(doc, "version", json_string(jstr(d, "version")));
	}
	json_decref(d);
	return rc;
}

int rollout_start(struct change *c, const json_t *plan, const char *actor, const char *rationale, char id[48],
		  struct buf *err)
{
	id[0] = 0;
	if (!rationale || !*rationale) {
		buf_adds(err, "rationale is needed: why this rollout, for the audit log and the timeline");
		return OODA_EINVAL;
	}
	json_t *doc = json_deep_copy(plan);
	int rc = 0;
	if (jstr(doc, "deploy"))
		rc = deploy_prepare(c, doc, err);
	if (!rc && jstr(doc, "flag"))
		rc = flag_prepare(c, doc, err);
	if (rc || (rc = engine_lock(c, err))) {
		json_decref(doc);
		return rc;
	}
	struct active_scan a = { jstr(doc, "env"), jstr(doc, "flag"), jstr(doc, "deploy"), "" };
	store_rollout_list(c->store, rollout_status_name(RO_RUNNING), 10000, active_row, &a);
	if (!a.found[0])
		store_rollout_list(c->store, rollout_status_name(RO_AWAITING), 10000, active_row, &a);
	if (a.found[0]) {
		buf_addf(err, "rollout %s is already rolling this out; abort it first", a.found);
		rc = OODA_ECONFLICT;
	} else {
		int64_t now = ooda_now_ns();
		snprintf(id, 48, "ro-%013llx-%04x", (unsigned long long)(now / 1000000), randombytes_uniform(65536));
		char when[40];
		ooda_time_format(now, when, sizeof(when));
		json_object_set_new(doc, "id", json_string(id));
		json_object_set_new(doc, "actor", json_string(actor));
		json_object_set_new(doc, "rationale", json_string(rationale));
		json_object_set_new(doc, "status", json_string(rollout_status_name(RO_PENDING)));
		json_object_set_new(doc, "step", json_integer(-1));
		json_object_set_new(doc, "inconclusive", json_integer(0));
		json_object_set_new(doc, "started", json_string(when));
		json_object_set_new(doc, "started_unix_nano", json_integer(now));
		json_object_set_new(doc, "due_unix_nano", json_integer(0));
		json_object_set_new(doc, "history", json_array());
		json_object_set_new(doc, "verdicts", json_array());
		bool approval[ROLLOUT_MAX_STEPS];
		struct rollout_state s;
		ro_state(doc, approval, &s);
		struct rollout_next n;
		rollout_transition(&s, RO_EV_START, &n);
		history_add(doc, "started", actor, rationale);
		if (!(rc = ro_save(c, doc, actor, "rollout.start", rationale, err)))
			rc = ro_apply(c, doc, &n, actor, rationale, err);
		if (rc && rc != OODA_ECONFLICT) {
			/* the first step could not take effect: the rollout stops where it is */
			struct buf e2 = BUF_INIT;
			json_object_set_new(doc, "status", json_string(rollout_status_name(RO_ABORTED)));
			json_object_set_new(doc, "abort_reason", json_string(err->data));
			ro_save(c, doc, actor, "rollout.abort", err->data, &e2);
			buf_release(&e2);
		}
	}
	pthread_mutex_unlock(&c->ro->mu);
	json_decref(doc);
	if (!rc)
		ro_kick(c);
	return rc;
}

int rollout_json(struct change *c, const char *id, struct buf *out, struct buf *err)
{
	json_t *doc;
	int rc = ro_load(c, id, &doc, err);
	if (!rc) {
		char *t = json_dumps(doc, JSON_COMPACT);
		buf_adds(out, t);
		free(t);
		json_decref(doc);
	}
	return rc;
}

struct list_ctx {
	struct buf *out;
	const char *env;
	size_t n, limit;
};

static int list_row(void *ctx, const void *row)
{
	const struct rollout_row *r = row;
	struct list_ctx *l = ctx;
	if ((l->env && strcmp(l->env, r->env)) || l->n >= l->limit)
		return 0;
	buf_adds(l->out, l->n++ ? "," : "");
	buf_adds(l->out, r->body);
	return 0;
}

int rollout_list_json(struct change *c, const char *status, const char *env, size_t limit, struct buf *out,
		      struct buf *err)
{
	if (status && rollout_status_parse(status) == RO_STATUS_COUNT) {
		buf_addf(err, "status must be pending, running, awaiting-approval, succeeded or aborted, not %s", status);
		return OODA_EINVAL;
	}
	struct list_ctx l = { out, env, 0, limit };
	buf_adds(out, "{\"rollouts\":[");
	/* an environment's rollouts are found among all of them: read more rows than shown */
	int rc = store_rollout_list(c->store, status, env ? 10000 : limit, list_row, &l);
	buf_adds(out, "]}");
	if (rc)
		buf_adds(err, "reading the rollouts failed");
	return rc;
}

int rollout_env(struct change *c, const char *id, char env[64], struct buf *err)
{
	json_t *doc;
	int rc = ro_load(c, id, &doc, err);
	env[0] = 0;
	if (!rc) {
		snprintf(env, 64, "%s", jstr(doc, "env") ? jstr(doc, "env") : "");
		json_decref(doc);
	}
	return rc;
}

/* A person's (or an approval's) event on rollout id. */
static int ro_event_by(struct change *c, const char *id, enum rollout_event ev, const char *actor, const char *why,
		       struct buf *out, struct buf *err)
{
	int rc = engine_lock(c, err);
	if (rc)
		return rc;
	json_t *doc;
	if (!(rc = ro_load(c, id, &doc, err))) {
		bool approval[ROLLOUT_MAX_STEPS];
		struct rollout_state s;
		ro_state(doc, approval, &s);
		struct rollout_next n;
		rollout_transition(&s, ev, &n);
		if (n.action == RO_ACT_REFUSE) {
			if (s.status == RO_AWAITING)
				buf_addf(err, "rollout %s waits for approval %s: another person approves it (ooda approvals approve %s)",
					 id, jstr(doc, "approval"), jstr(doc, "approval"));
			else
				buf_addf(err, "rollout %s is %s", id, jstr(doc, "status"));
			rc = OODA_ECONFLICT;
		} else {
			rc = ro_apply(c, doc, &n, actor, why, err);
		}
		if (!rc && out) {
			char *t = json_dumps(doc, JSON_COMPACT);
			buf_adds(out, t);
			free(t);
		}
		json_decref(doc);
	}
	pthread_mutex_unlock(&c->ro->mu);
	if (!rc)
		ro_kick(c);
	return rc;
}

int rollout_promote(struct change *c, const char *id, const char *actor, const char *rationale, struct buf *out,
		    struct buf *err)
{
	if (!rationale || !*rationale) {
		buf_adds(err, "rationale is needed: why promote without waiting for the analysis");
		return OODA_EINVAL;
	}
	return ro_event_by(c, id, RO_EV_PROMOTE, actor, rationale, out, err);
}

int rollout_abort(struct change *c, const char *id, const char *actor, const char *rationale, struct buf *out,
		  struct buf *err)
{
	if (!rationale || !*rationale) {
		buf_adds(err, "rationale is needed: why abort");
		return OODA_EINVAL;
	}
	return ro_event_by(c, id, RO_EV_ABORT, actor, rationale, out, err);
}

int rollout_decided(struct change *c, const char *id, bool approved, const char *decider, struct buf *err)
{
	char why[200];
	snprintf(why, sizeof(why), "%s by %s", approved ? "approved" : "rejected", decider);
	return ro_event_by(c, id, approved ? RO_EV_APPROVE : RO_EV_REJECT, decider, why, NULL, err);
}
