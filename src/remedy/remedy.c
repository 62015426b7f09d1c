/*
 * The remedy engine (remedy.h): policies in, triggers in, runs out. Two
 * kinds of thread: one decision worker takes triggers (and the triggers
 * held for their `for`), checks the guardrails and the preconditions and
 * creates the run in its first state; a pool of runners drives each run
 * from running onwards (run_drive), storing it after every step. The
 * machine itself, drawn, is in run.c; this file only asks run_transition
 * before each move (run_move).
 */
#include "remedy/remedy.h"
#include "audit/docwrite.h"
#include "core/error.h"
#include "core/lead.h"
#include "core/log.h"
#include "core/time.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "remedy/action.h"
#include "remedy/policy.h"
#include "remedy/recipe.h"
#include "remedy/run.h"
#include "remedy/run_index.h"
#include "remedy/runbook_run.h"
#include "store/vdoc.h"
#include "model/jsontime.h"

#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#define POLICY_KIND "remedy-policy"
#define AUTOMATION_KIND "remedy-automation"
#define TRIGGER_QUEUE 4096
#define RUN_QUEUE 1024
#define FREEZES_MAX 64

struct pol {
	struct remedy_policy p;
	int64_t version;
	char *author;
};

/* What the guardrails remember of a run. */
struct run_mem {
	char id[24];
	char policy[129];
	char service[129];
	char alert[24];             /* the trigger's alert fingerprint, "" if none */
	bool has_incident;
	int64_t policy_version;
	int64_t created_ns;
	bool acted;                 /* got past the guardrails (started or awaiting approval) */
	enum run_state state;
};

struct hold {
	char *policy;
	json_t *trigger;
	int64_t due_ns;
};

struct remedy {
	struct store *store;
	const struct audit_signer *sg;
	struct remedy_hooks hooks;
	int64_t poll_ns;
	pthread_mutex_t mu;         /* guards everything below */
	pthread_cond_t idle;
	struct pol *pols;
	size_t n_pols;
	json_t *allow_hosts;        /* remedy.http_allow_hosts */
	json_t *freezes;            /* remedy.freezes: [{from_ns, to_ns, reason}] */
	struct run_mem *runs;       /* oldest first */
	size_t n_runs, cap_runs;
	struct hold *holds;
	size_t n_holds;
	json_t *links;              /* alert fingerprint → the incident it joined (remedy_link_incident) */
	bool paused;
	char *pause_reason, *pause_by, *pause_at;
	int busy;                   /* triggers and runs queued or in progress */
	struct remedy_retention retention;
	bool retain;                /* a retention was set */
	int64_t prune_next_ns;      /* when the next retention round is due (engine thread) */
	volatile bool stopping;
	struct worker *decider, *runners;
	pthread_rwlock_t subs_mu;   /* guards subs: held for reading while they are called */
	struct { remedy_subscriber_fn *fn; void *ctx; } subs[REMEDY_MAX_SUBSCRIBERS];
	size_t n_subs;
};

/* ---- small helpers ------------------------------------------------------- */

static char *jdup(const json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));
	return s ? xstrdup(s) : NULL;
}

static const char *jstr(const json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

static void now_text(char out[40])
{
	ooda_time_format(ooda_now_ns(), out, 40);
}

/* "10m", "1h", "45s" of ns (whole seconds). */
static void dur_text(int64_t ns, char out[32])
{
	long long s = (long long)(ns / OODA_NS_PER_SEC);
	if (s && s % 3600 == 0)
		snprintf(out, 32, "%lldh", s / 3600);
	else if (s && s % 60 == 0)
		snprintf(out, 32, "%lldm", s / 60);
	else
		snprintf(out, 32, "%llds", s);
}

static void busy_add(struct remedy *r, int n)
{
	pthread_mutex_lock(&r->mu);
	r->busy += n;
	if (r->busy <= 0) {
		r->busy = 0;
		pthread_cond_broadcast(&r->idle);
	}
	pthread_mutex_unlock(&r->mu);
}

/* ---- the remedy: section --------------------------------------------------- */

static const char *const section_keys[] = { "http_allow_hosts", "freezes", NULL };
static const char *const freeze_keys[] = { "from", "to", "reason", NULL };

/* Checks the section and (when out) builds {hosts, freezes:[{from_ns,to_ns,reason}]}. */
static int section_load(const json_t *sec, json_t **hosts, json_t **freezes, struct buf *err)
{
	json_t *h = json_array(), *f = json_array();
	int rc = 0;
	if (sec && !json_is_null(sec))
		rc = action_keys_check(sec, section_keys, "remedy", err);
	json_t *hl = rc ? NULL : json_object_get(sec, "http_allow_hosts");
	if (hl && (!json_is_array(hl) || json_array_size(hl) > 256)) {
		buf_adds(err, "remedy.http_allow_hosts: a list of at most 256 host names");
		rc = OODA_EINVAL;
	}
	size_t i;
	json_t *v;
	json_array_foreach(rc ? NULL : hl, i, v) {
		if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > 253) {
			buf_addf(err, "remedy.http_allow_hosts[%zu]: a host name (no port, no scheme)", i);
			rc = OODA_EINVAL;
			break;
		}
		json_array_append(h, v);
	}
	json_t *fl = rc ? NULL : json_object_get(sec, "freezes");
	if (fl && (!json_is_array(fl) || json_array_size(fl) > FREEZES_MAX)) {
		buf_addf(err, "remedy.freezes: a list of at most %d windows", FREEZES_MAX);
		rc = OODA_EINVAL;
	}
	json_array_foreach(rc ? NULL : fl, i, v) {
		char path[48];
		snprintf(path, sizeof(path), "remedy.freezes[%zu]", i);
		if ((rc = action_keys_check(v, freeze_keys, path, err)))
			break;
		const char *from = jstr(v, "from"), *to = jstr(v, "to"), *why = jstr(v, "reason");
		int64_t a = 0, b = 0;
		if (!from || ooda_time_parse(from, strlen(from), &a) || !to || ooda_time_parse(to, strlen(to), &b) || b <= a) {
			buf_addf(err, "%s: from and to, RFC 3339 times with to after from", path);
			rc = OODA_EINVAL;
			break;
		}
		if (json_object_get(v, "reason") && (!why || strlen(why) > 256)) {
			buf_addf(err, "%s.reason: a string of at most 256 bytes", path);
			rc = OODA_EINVAL;
			break;
		}
		json_array_append_new(f, json_pack("{sI sI ss}", "from_ns", (json_int_t)a, "to_ns", (json_int_t)b, "reason",
						   why ? why : "change freeze"));
	}
	if (rc || !hosts) {
		json_decref(h);
		json_decref(f);
		return rc;
	}
	*hosts = h;
	*freezes = f;
	return 0;
}

int remedy_section_check(const char *section_json, struct buf *err)
{
	json_t *sec = section_json ? json_loads(section_json, JSON_DECODE_ANY, NULL) : NULL;
	int rc = section_load(sec, NULL, NULL, err);
	json_decref(sec);
	return rc;
}

/* Every policy of the list loaded (hosts: the allow list; json true: not checked here). */
static int policies_load(const json_t *list, const json_t *hosts, struct pol **out, size_t *n, struct buf *err)
{
	*out = NULL;
	*n = 0;
	if (!list || json_is_null(list))
		return 0;
	if (!json_is_array(list) || json_array_size(list) > REMEDY_MAX_POLICIES) {
		buf_addf(err, "policies: a list of at most %d policies", REMEDY_MAX_POLICIES);
		return OODA_EINVAL;
	}
	struct pol *v = xcalloc(json_array_size(list) + 1, sizeof(*v));
	size_t i;
	json_t *doc;
	int rc = 0;
	json_array_foreach(list, i, doc) {
		char path[32];
		snprintf(path, sizeof(path), "policies[%zu]", i);
		if ((rc = policy_load(doc, hosts, path, &v[i].p, err)))
			break;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(v[k].p.name, v[i].p.name)) {
				buf_addf(err, "%s.name: \"%s\" is already the name of policies[%zu]", path, v[i].p.name, k);
				rc = OODA_EINVAL;
			}
		if (rc) {
			policy_release(&v[i].p);
			break;
		}
	}
	if (rc) {
		for (size_t k = 0; k < i; k++)
			policy_release(&v[k].p);
		free(v);
		return rc;
	}
	*out = v;
	*n = json_array_size(list);
	return 0;
}

static void pols_free(struct pol *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		policy_release(&v[i].p);
		free(v[i].author);
	}
	free(v);
}

int remedy_policies_check(const char *section_json, struct buf *err)
{
	json_t *list = section_json ? json_loads(section_json, JSON_DECODE_ANY, NULL) : NULL;
	struct pol *v;
	size_t n;
	int rc = policies_load(list, json_true(), &v, &n, err);
	if (!rc)
		pols_free(v, n);
	json_decref(list);
	return rc;
}

/* ---- policies as documents ------------------------------------------------- */

struct pol_list {
	struct remedy *r;
	struct pol *v;
	size_t n, cap;
};

static int pol_row(void *ctx, const void *row)
{
	const struct doc_row *d = row;
	struct pol_list *l = ctx;
	if (l->n >= REMEDY_MAX_POLICIES)
		return 0;
	json_t *doc = json_loadb(d->body, d->body_len, 0, NULL);
	struct buf err = BUF_INIT;
	struct pol p = { .version = d->version };
	/* stored documents passed the loader once; the allow list may have shrunk since */
	if (doc && !policy_load(doc, l->r->allow_hosts, d->key, &p.p, &err)) {
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 8;
			l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
		}
		p.author = xstrdup(d->author ? d->author : "");
		l->v[l->n++] = p;
	} else {
		log_warn("remediation policy %s v%lld not loaded: %s", d->key, (long long)d->version,
			 doc ? err.data : "not JSON");
	}
	buf_release(&err);
	json_decref(doc);
	return 0;
}

/* Reloads the policies from the store (caller holds no lock). */
static int pols_reload(struct remedy *r, struct buf *err)
{
	struct pol_list l = { .r = r };
	pthread_mutex_lock(&r->mu);
	int rc = vdoc_list(r->store, POLICY_KIND, "", pol_row, &l);
	if (rc) {
		pthread_mutex_unlock(&r->mu);
		pols_free(l.v, l.n);
		buf_adds(err, "remediation policies cannot be read");
		return rc;
	}
	pols_free(r->pols, r->n_pols);
	r->pols = l.v;
	r->n_pols = l.n;
	pthread_mutex_unlock(&r->mu);
	return 0;
}

static int policy_put(struct remedy *r, const json_t *doc, const char *name, bool deleted, const char *actor,
		      const char *rationale, int64_t *version, struct buf *err)
{
	struct vdoc cur;
	int64_t expect = 0;
	int rc = vdoc_get(r->store, POLICY_KIND, name, 0, &cur, err);
	if (rc == OODA_ENOTFOUND) {
		buf_reset(err);
		if (deleted)
			return 0;
	} else if (rc) {
		return rc;
	} else {
		expect = cur.version;
		json_t *old = json_loadb(cur.body, cur.body_len, 0, NULL);
		bool same = !cur.deleted && !deleted && old && json_equal(old, (json_t *)doc);
		bool gone = cur.deleted && deleted;
		json_decref(old);
		if (version)
			*version = cur.version;
		vdoc_release(&cur);
		if (same || gone)
			return 0;
	}
	char *body = deleted ? xstrdup("{}") : json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	char target[160];
	snprintf(target, sizeof(target), "remedy-policy/%s", name);
	struct vdoc_write w = { .kind = POLICY_KIND, .key = name, .body = body, .body_len = strlen(body),
				.deleted = deleted, .expect_version = expect, .actor = actor,
				.rationale = rationale ? rationale : "", .action = deleted ? "policy.delete" : "policy.apply",
				.target = target };
	rc = vdoc_put(r->store, r->sg, &w, err);
	free(body);
	if (!rc && version)
		*version = w.version;
	return rc;
}

int remedy_policy_apply(struct remedy *r, const json_t *doc, const char *actor, const char *rationale,
			int64_t *version, struct buf *err)
{
	struct remedy_policy p;
	pthread_mutex_lock(&r->mu);
	json_t *hosts = json_incref(r->allow_hosts);
	pthread_mutex_unlock(&r->mu);
	int rc = policy_load(doc, hosts, "policy", &p, err);
	json_decref(hosts);
	if (rc)
		return rc;
	rc = policy_put(r, doc, p.name, false, actor, rationale, version, err);
	policy_release(&p);
	return rc ? rc : pols_reload(r, err);
}

struct cfg_del {
	struct remedy *r;
	const json_t *keep;  /* names in ooda.yaml */
	json_t *drop;        /* names to delete */
};

static int del_row(void *ctx, const void *row)
{
	const struct doc_row *d = row;
	struct cfg_del *c = ctx;
	if (d->author && !strcmp(d->author, REMEDY_CONFIG_ACTOR) && !json_object_get(c->keep, d->key))
		json_array_append_new(c->drop, json_string(d->key));
	return 0;
}

int remedy_configure(struct remedy *r, const json_t *policies, const json_t *section, bool apply,
		     struct buf *changes, struct buf *err)
{
	json_t *hosts = NULL, *freezes = NULL;
	int rc = section_load(section, &hosts, &freezes, err);
	struct pol *v = NULL;
	size_t n = 0;
	if (!rc)
		rc = policies_load(policies, hosts, &v, &n, err);
	if (rc || !apply) {
		pols_free(v, n);
		json_decref(hosts);
		json_decref(freezes);
		return rc;
	}
	pthread_mutex_lock(&r->mu);
	json_decref(r->allow_hosts);
	json_decref(r->freezes);
	r->allow_hosts = hosts;
	r->freezes = freezes;
	pthread_mutex_unlock(&r->mu);
	json_t *names = json_object();
	for (size_t i = 0; !rc && i < n; i++) {
		int64_t before = 0, after = 0;
		struct vdoc cur;
		struct buf e2 = BUF_INIT;
		if (!vdoc_get(r->store, POLICY_KIND, v[i].p.name, 0, &cur, &e2)) {
			before = cur.deleted ? 0 : cur.version;
			vdoc_release(&cur);
		}
		buf_release(&e2);
		json_object_set_new(names, v[i].p.name, json_true());
		rc = policy_put(r, v[i].p.doc, v[i].p.name, false, REMEDY_CONFIG_ACTOR, "ooda.yaml policies:", &after, err);
		if (!rc && after != before && changes)
			buf_addf(changes, "%spolicy %s v%lld", changes->len ? ", " : "", v[i].p.name, (long long)after);
	}
	struct cfg_del c = { r, names, json_array() };
	if (!rc)
		rc = vdoc_list(r->store, POLICY_KIND, "", del_row, &c);
	size_t i;
	json_t *nm;
	json_array_foreach(rc ? NULL : c.drop, i, nm) {
		rc = policy_put(r, NULL, json_string_value(nm), true, REMEDY_CONFIG_ACTOR, "removed from ooda.yaml", NULL,
				err);
		if (!rc && changes)
			buf_addf(changes, "%spolicy %s removed", changes->len ? ", " : "", json_string_value(nm));
	}
	json_decref(c.drop);
	json_decref(names);
	pols_free(v, n);
	return rc ? rc : pols_reload(r, err);
}

/* ---- runs in memory (what the guardrails count) ----------------------------- */

static struct run_mem *mem_find(struct remedy *r, const char *id)
{
	for (size_t i = r->n_runs; i-- > 0;)
		if (!strcmp(r->runs[i].id, id))
			return &r->runs[i];
	return NULL;
}

/* Adds or updates (caller holds mu). */
static void mem_put(struct remedy *r, const struct run_mem *m)
{
	struct run_mem *e = mem_find(r, m->id);
	if (e) {
		*e = *m;
		return;
	}
	if (r->n_runs == REMEDY_MAX_RUNS_KEPT) {
		memmove(r->runs, r->runs + 1, (r->n_runs - 1) * sizeof(*r->runs));
		r->n_runs--;
	}
	if (r->n_runs == r->cap_runs) {
		r->cap_runs = r->cap_runs ? r->cap_runs * 2 : 64;
		r->runs = xrealloc(r->runs, r->cap_runs * sizeof(*r->runs));
	}
	r->runs[r->n_runs++] = *m;
}

static void mem_from_doc(const json_t *run, struct run_mem *m)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", jstr(run, "id") ? jstr(run, "id") : "");
	snprintf(m->policy, sizeof(m->policy), "%s", jstr(run, "policy") ? jstr(run, "policy") : "");
	snprintf(m->service, sizeof(m->service), "%s", jstr(run, "service") ? jstr(run, "service") : "");
	const char *fp = jstr(json_object_get(run, "trigger"), "alert");
	snprintf(m->alert, sizeof(m->alert), "%s", fp ? fp : "");
	m->has_incident = jstr(run, "incident") != NULL;
	m->policy_version = json_integer_value(json_object_get(run, "policy_version"));
	m->created_ns = json_integer_value(json_object_get(run, "created_unix_nano"));
	m->acted = json_is_true(json_object_get(run, "acted"));
	int s = run_state_parse(jstr(run, "status"));
	m->state = s < 0 ? RUN_FAILED : (enum run_state)s;
}

static bool state_failed(enum run_state s)
{
	return s == RUN_FAILED || s == RUN_UNDOING || s == RUN_UNDONE;
}

/* ---- storing a run ----------------------------------------------------------- */

struct run {
	json_t *doc;
	int64_t version;   /* 0: not stored yet */
};

/* Tells the subscribers (remedy_subscribe) that this version of the run is stored. */
static void run_publish(struct remedy *r, const struct run *run, const char *action, const char *rationale)
{
	struct remedy_run_event ev = { .action = action, .rationale = rationale, .run = run->doc,
				       .version = run->version };
	pthread_rwlock_rdlock(&r->subs_mu);
	for (size_t i = 0; i < r->n_subs; i++)
		r->subs[i].fn(r->subs[i].ctx, &ev);
	pthread_rwlock_unlock(&r->subs_mu);
}

/*
 * Writes the next version of the run (a new run when version is 0),
 * audited as actor with rationale; updates the memory. OODA_EPRECOND when
 * a run with that id exists already (a duplicate trigger).
 */
static int run_save(struct remedy *r, struct run *run, const char *actor, const char *action, const char *rationale,
		    struct buf *err)
{
	char at[40];
	now_text(at);
	json_object_set_new(run->doc, "updated", json_string(at));
	const char *fp = jstr(json_object_get(run->doc, "trigger"), "alert");
	if (fp && !jstr(run->doc, "incident")) {
		/* the incident its alert opened or joined since (remedy_link_incident) */
		pthread_mutex_lock(&r->mu);
		const char *inc = json_string_value(json_object_get(r->links, fp));
		if (inc)
			json_object_set_new(run->doc, "incident", json_string(inc));
		pthread_mutex_unlock(&r->mu);
	}
	char *body = json_dumps(run->doc, JSON_COMPACT);
	const char *id = jstr(run->doc, "id");
	char target[64];
	snprintf(target, sizeof(target), "remedy-run/%s", id);
	struct vdoc_write w = { .kind = RUN_KIND, .key = id, .body = body, .body_len = strlen(body),
				.status = jstr(run->doc, "status"), .expect_version = run->version,
				.actor = actor ? actor : jstr(run->doc, "actor"), .rationale = rationale ? rationale : "",
				.action = action, .target = target };
	int rc = vdoc_put(r->store, r->sg, &w, err);
	free(body);
	if (rc)
		return rc;
	run->version = w.version;
	struct run_mem m;
	mem_from_doc(run->doc, &m);
	pthread_mutex_lock(&r->mu);
	mem_put(r, &m);
	pthread_mutex_unlock(&r->mu);
	run_publish(r, run, action, w.rationale);
	return 0;
}

static int run_load(struct remedy *r, const char *id, struct run *run, struct buf *err)
{
	struct vdoc d;
	int rc = vdoc_get(r->store, RUN_KIND, id, 0, &d, err);
	if (rc)
		return rc;
	run->doc = json_loadb(d.body, d.body_len, 0, NULL);
	run->version = d.version;
	vdoc_release(&d);
	if (!run->doc) {
		buf_addf(err, "run %s: stored document is not JSON", id);
		return OODA_EINTERNAL;
	}
	return 0;
}

static enum run_state run_state_of(const json_t *doc)
{
	int s = run_state_parse(jstr(doc, "status"));
	return s < 0 ? RUN_FAILED : (enum run_state)s;
}

/* Moves the run by ev (run_transition), recording the move; OODA_ECONFLICT if the table forbids it. */
static int run_move(json_t *doc, enum run_event ev, const char *why, struct buf *err)
{
	enum run_state from = run_state_of(doc);
	int to = run_transition(from, ev);
	if (to < 0) {
		buf_addf(err, "run %s is %s: it cannot %s", jstr(doc, "id"), run_state_name(from), run_event_name(ev));
		return OODA_ECONFLICT;
	}
	char at[40];
	now_text(at);
	json_object_set_new(doc, "status", json_string(run_state_name((enum run_state)to)));
	json_t *h = json_object_get(doc, "history");
	json_array_append_new(h, json_pack("{ss ss ss ss ss}", "from", run_state_name(from), "to",
					   run_state_name((enum run_state)to), "event", run_event_name(ev), "at", at, "why",
					   why ? why : ""));
	if (why && (ev == EV_REFUSE || ev == EV_STEP_FAILED || ev == EV_EXPECT_FAILED || ev == EV_REJECT ||
		    ev == EV_CANCEL))
		json_object_set_new(doc, "reason", json_string(why));
	return 0;
}

/* ---- records: timeline and escalation ---------------------------------------------- */

static void timeline(struct remedy *r, const json_t *doc, const char *text)
{
	const char *inc = jstr(doc, "incident");
	if (!inc || !r->hooks.annotate)
		return;
	struct buf err = BUF_INIT;
	json_t *data = json_pack("{ss ss sI ss}", "run", jstr(doc, "id"), "policy", jstr(doc, "policy"), "policy_version",
				 json_integer_value(json_object_get(doc, "policy_version")), "status", jstr(doc, "status"));
	if (r->hooks.annotate(r->hooks.ctx, inc, "remediation", jstr(doc, "actor"), text, data, &err))
		log_warn("run %s: not on the timeline of %s: %s", jstr(doc, "id"), inc, err.data);
	json_decref(data);
	buf_release(&err);
}

/* A person must look: notify the policy's on_failure.notify target (or the routes). */
static void escalate(struct remedy *r, json_t *doc, const char *text)
{
	json_object_set_new(doc, "escalated", json_true());
	if (!r->hooks.notify)
		return;
	struct buf err = BUF_INIT, dedupe = BUF_INIT;
	const char *target = jstr(json_object_get(doc, "on_failure"), "notify");
	buf_addf(&dedupe, "%s#%s", jstr(doc, "id"), jstr(doc, "status"));
	int n = r->hooks.notify(r->hooks.ctx, target, "remediation", text, jstr(doc, "incident"), dedupe.data, &err);
	if (n < 0)
		log_warn("run %s: escalation not queued: %s", jstr(doc, "id"), err.data);
	buf_release(&err);
	buf_release(&dedupe);
}

/* ---- deciding ---------------------------------------------------------------------- */

static bool trigger_matches(const struct remedy_policy *p, const json_t *t)
{
	const json_t *w = json_object_get(p->doc, "when"), *pr = json_object_get(w, "probe");
	const char *alert = jstr(w, "alert"), *svc = jstr(w, "service"), *sev = jstr(w, "severity");
	const char *kind = jstr(t, "kind");
	char probe_alert[600];
	if (pr) {
		snprintf(probe_alert, sizeof(probe_alert), "probe:%s/%s", jstr(pr, "service"), jstr(pr, "name"));
		alert = probe_alert;
	}
	if (jstr(w, "slo")) {
		/* an SLO's burn-rate alert (detect/slo.h); the fast burn pages, so page unless severity says */
		snprintf(probe_alert, sizeof(probe_alert), "slo:%s", jstr(w, "slo"));
		alert = probe_alert;
		if (!sev)
			sev = "page";
	}
	const char *canary = jstr(w, "canary");
	if (canary) {
		/* a canary verdict: "deploy-verify", "rollout-abort" or any of them */
		if (strcmp(kind, "canary") || !jstr(t, "name") || (strcmp(canary, "any") && strcmp(canary, jstr(t, "name"))))
			return false;
	} else if (alert) {
		if (strcmp(kind, "alert") || !jstr(t, "name") || strcmp(alert, jstr(t, "name")))
			return false;
	} else if (strcmp(kind, "incident")) {
		return false;
	}
	if (svc && (!jstr(t, "service") || strcmp(svc, jstr(t, "service"))))
		return false;
	if (sev && (!jstr(t, "severity") || strcasecmp(sev, jstr(t, "severity"))))
		return false;
	return true;
}

/*
 * The guardrails, in order; the first hit is the reason written to reason
 * (empty: none hit). Caller holds mu. approve_only is set inside a change
 * freeze: the run may act only once approved.
 */
static void guardrails(struct remedy *r, const struct pol *pl, const char *service, int64_t now, struct buf *reason,
		       struct buf *ok, bool *approve_only)
{
	const struct policy_guardrails *g = &pl->p.guard;
	char d1[32], d2[32];
	*approve_only = false;
	if (r->paused) {
		buf_addf(reason, "automation is paused by %s: %s", r->pause_by ? r->pause_by : "?",
			 r->pause_reason ? r->pause_reason : "");
		return;
	}
	int failed_in_row = 0, in_window = 0, concurrent = 0;
	int64_t last_acted = 0;
	json_t *services = json_object();
	for (size_t i = r->n_runs; i-- > 0;) {
		const struct run_mem *m = &r->runs[i];
		if (strcmp(m->policy, pl->p.name))
			continue;
		if (m->acted && !last_acted)
			last_acted = m->created_ns;
		if (m->acted && now - m->created_ns < g->window_ns) {
			in_window++;
			if (m->service[0])
				json_object_set_new(services, m->service, json_true());
		}
		if (m->acted && !run_state_terminal(m->state))
			concurrent++;
	}
	for (size_t i = r->n_runs; i-- > 0;) {
		const struct run_mem *m = &r->runs[i];
		if (strcmp(m->policy, pl->p.name) || m->policy_version != pl->version || !m->acted ||
		    !run_state_terminal(m->state))
			continue;
		if (!state_failed(m->state))
			break;
		failed_in_row++;
	}
	if (service && *service)
		json_object_set_new(services, service, json_true());
	int touched = (int)json_object_size(services);
	json_decref(services);
	dur_text(g->cooldown_ns, d1);
	dur_text(g->window_ns, d2);
	if (failed_in_row >= g->breaker)
		buf_addf(reason, "circuit breaker open: the last %d runs of v%lld failed (breaker %d; apply a new version to close it)",
			 failed_in_row, (long long)pl->version, g->breaker);
	else if (last_acted && now - last_acted < g->cooldown_ns)
		buf_addf(reason, "cooldown: the last run acted %llds ago (cooldown %s)",
			 (long long)((now - last_acted) / OODA_NS_PER_SEC), d1);
	else if (in_window >= g->max_runs)
		buf_addf(reason, "max runs: %d runs acted in the last %s (max_runs %d)", in_window, d2, g->max_runs);
	else if (concurrent >= g->max_concurrent)
		buf_addf(reason, "max concurrent: %d runs active (max_concurrent %d)", concurrent, g->max_concurrent);
	else if (touched > g->max_services)
		buf_addf(reason, "blast radius: %d services touched in the last %s (max_services %d)", touched, d2,
			 g->max_services);
	if (reason->len)
		return;
	buf_addf(ok, "guardrails ok (%d/%d runs in %s, cooldown %s)", in_window, g->max_runs, d2, d1);
	size_t i;
	json_t *f;
	json_array_foreach(r->freezes, i, f) {
		if (now >= json_integer_value(json_object_get(f, "from_ns")) &&
		    now < json_integer_value(json_object_get(f, "to_ns"))) {
			*approve_only = true;
			buf_addf(ok, "; change freeze (%s): only an approved run acts", jstr(f, "reason"));
			break;
		}
	}
}

/* Monday to Friday, 09:00 to 17:00 UTC. */
static bool business_hours(int64_t now)
{
	int64_t days = now / (86400 * OODA_NS_PER_SEC);
	int wday = (int)((days + 4) % 7); /* 1970-01-01 was a Thursday; 0 = Sunday */
	int hour = (int)((now / (3600 * OODA_NS_PER_SEC)) % 24);
	return wday >= 1 && wday <= 5 && hour >= 9 && hour < 17;
}

/*
 * {flag_changed: {env, key, within}}: the flag's current version changed it
 * (a version 2 or later: creating a flag is no change to take back), was
 * written at most `within` (default 15m) before the trigger (and not after
 * the decision), and by someone other than a policy: the change a `flag:
 * {to: previous}` step then takes back. A policy's own write (an earlier
 * run's) does not count, so a second trigger does not revert the revert.
 */
static bool flag_changed(struct remedy *r, const json_t *fc, const json_t *t, bool *pass, struct buf *detail)
{
	const char *env = jstr(fc, "env"), *key = jstr(fc, "key"), *w = jstr(fc, "within");
	int64_t within = FLAG_CHANGED_WITHIN_DEFAULT_NS, at = 0, version = 0;
	if (w)
		(void)ooda_duration_parse(w, strlen(w), &within);
	char author[200] = "";
	buf_addf(detail, "flag_changed %s/%s", env, key);
	if (!r->hooks.flag_changed ||
	    r->hooks.flag_changed(r->hooks.ctx, env, key, &version, &at, author, sizeof(author)))
		return false;
	int64_t trig = json_integer_value(json_object_get(t, "at_ns"));
	bool by_policy = !strncmp(author, "policy:", 7);
	*pass = version >= 2 && !by_policy && at >= trig - within && at <= ooda_now_ns();
	buf_addf(detail, " v%lld", (long long)version);
	if (version < 2)
		buf_adds(detail, " (created, never changed)");
	else if (by_policy)
		buf_addf(detail, " (written by %s)", author);
	else if (at < trig)
		buf_addf(detail, " (by %s, %.1f s before the trigger)", author, (double)(trig - at) / OODA_NS_PER_SEC);
	else
		buf_addf(detail, " (by %s, %.1f s after the trigger)", author, (double)(at - trig) / OODA_NS_PER_SEC);
	return true;
}

/*
 * A precondition given as a mapping (policy.c): {error_budget: {slo,
 * below|above}} or {services_healthy: [SERVICE…]}. Returns whether it could
 * be answered; *pass and what was found in detail ("error_budget checkout
 * 42% < 50%").
 */
static bool precondition_object(struct remedy *r, const json_t *c, const json_t *t, bool *pass, struct buf *detail)
{
	const json_t *eb = json_object_get(c, "error_budget"), *fc = json_object_get(c, "flag_changed");
	*pass = false;
	if (fc)
		return flag_changed(r, fc, t, pass, detail);
	if (eb) {
		double left = 0;
		json_t *below = json_object_get(eb, "below"), *above = json_object_get(eb, "above");
		double lim = json_number_value(below ? below : above);
		bool known = r->hooks.slo_budget && !r->hooks.slo_budget(r->hooks.ctx, jstr(eb, "slo"), &left);
		if (!known) {
			buf_addf(detail, "error_budget %s", jstr(eb, "slo"));
			return false;
		}
		*pass = below ? left < lim : left > lim;
		buf_addf(detail, "error_budget %s %.0f%% %s %.0f%%", jstr(eb, "slo"), left * 100, below ? "<" : ">",
			 lim * 100);
		return true;
	}
	size_t i;
	json_t *svc;
	buf_adds(detail, "services_healthy");
	*pass = true;
	json_array_foreach(json_object_get(c, "services_healthy"), i, svc) {
		int passing = 0, total = 0;
		const char *name = json_string_value(svc);
		if (!r->hooks.service_probes || r->hooks.service_probes(r->hooks.ctx, name, &passing, &total)) {
			buf_addf(detail, " %s (no probes)", name);
			return false;
		}
		buf_addf(detail, " %s=%d/%d", name, passing, total);
		*pass &= passing == total;
	}
	return true;
}

/* The preconditions; a failed one is written to reason, the passing ones to ok. */
static void preconditions(struct remedy *r, const struct remedy_policy *p, const json_t *t, int64_t now,
			  struct buf *reason, struct buf *ok)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(p->doc, "precondition"), i, c) {
		const char *name = json_string_value(c);
		bool pass = true, known = true;
		if (!name) {
			struct buf detail = BUF_INIT;
			known = precondition_object(r, c, t, &pass, &detail);
			if (!known)
				buf_addf(reason, "precondition %s unknown (cannot be checked)", detail.data);
			else if (!pass)
				buf_addf(reason, "precondition %s failed", detail.data);
			else
				buf_addf(ok, "; precondition %s ok", detail.data);
			buf_release(&detail);
			if (!known || !pass)
				return;
			continue;
		}
		if (!strcmp(name, "no_deploy_in_progress")) {
			bool busy = false;
			known = r->hooks.deploy_in_progress &&
				!r->hooks.deploy_in_progress(r->hooks.ctx, jstr(t, "service"), &busy);
			pass = !busy;
		} else if (!strcmp(name, "business_hours")) {
			pass = business_hours(now);
		} else if (!strcmp(name, "alert_firing")) {
			bool firing = false;
			known = jstr(t, "alert") && r->hooks.alert_firing &&
				!r->hooks.alert_firing(r->hooks.ctx, jstr(t, "alert"), &firing);
			pass = firing;
		}
		if (!known) {
			buf_addf(reason, "precondition %s unknown (cannot be checked)", name);
			return;
		}
		if (!pass) {
			buf_addf(reason, "precondition %s failed", name);
			return;
		}
		buf_addf(ok, "; precondition %s ok", name);
	}
}

static bool step_undoable(const json_t *step);

/* The do steps with recipes expanded, and per step its record. */
static int plan_build(const struct remedy_policy *p, json_t **plan, json_t **steps, struct buf *err)
{
	*plan = json_array();
	*steps = json_array();
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(p->doc, "do"), i, s) {
		json_t *ref = json_object_get(s, "recipe"), *exp = NULL;
		if (ref) {
			if (recipe_expand(ref, "do", &exp, err)) {
				json_decref(*plan);
				json_decref(*steps);
				return OODA_EINVAL;
			}
		} else {
			exp = json_pack("[O]", s);
		}
		size_t j;
		json_t *e;
		json_array_foreach(exp, j, e) {
			json_t *params = NULL;
			const char *an = policy_step_action(e, &params);
			const struct remedy_action *a = action_find(an);
			struct buf d = BUF_INIT;
			a->describe(params, &d);
			json_t *idem = json_object_get(e, "idempotent");
			json_array_append(*plan, e);
			json_array_append_new(*steps, json_pack("{si ss? ss ss sb sb ss}", "index", (int)json_array_size(*plan) - 1,
								"name", jstr(e, "name"), "action", an, "describe", d.data,
								"idempotent", idem ? json_is_true(idem) : a->idempotent, "undoable",
								step_undoable(e), "status", "pending"));
			buf_release(&d);
		}
		json_decref(exp);
	}
	return 0;
}

/* The recipes a list of do steps names (the automation report groups runs by them). */
static json_t *recipes_of(const json_t *steps)
{
	json_t *out = json_array();
	size_t i;
	json_t *s;
	json_array_foreach(steps, i, s) {
		const char *n = json_string_value(json_object_get(json_object_get(s, "recipe"), "name"));
		if (n)
			json_array_append_new(out, json_string(n));
	}
	return out;
}

/* "alert probe:checkout/health firing (service checkout) for 10s" */
static void trigger_text(const json_t *t, int64_t for_ns, struct buf *out)
{
	if (!strcmp(jstr(t, "kind"), "alert"))
		buf_addf(out, "alert %s firing", jstr(t, "name"));
	else if (!strcmp(jstr(t, "kind"), "canary"))
		buf_addf(out, "canary verdict %s of %s", jstr(t, "name"), jstr(t, "ref"));
	else
		buf_addf(out, "incident %s opened (%s)", jstr(t, "ref"), jstr(t, "severity") ? jstr(t, "severity") : "?");
	if (jstr(t, "service"))
		buf_addf(out, " on service %s", jstr(t, "service"));
	if (for_ns > 0) {
		char d[32];
		dur_text(for_ns, d);
		buf_addf(out, ", held %s", d);
	}
}

static void runner_push(struct remedy *r, const char *id)
{
	char *item = xstrdup(id);
	busy_add(r, 1);
	if (worker_push(r->runners, item)) {
		free(item);
		busy_add(r, -1);
		log_warn("run %s: runner queue full; it resumes at the next start", id);
	}
}

/* One policy on one trigger: a new run in its first state, or nothing for a duplicate. */
static void decide(struct remedy *r, const char *policy, const json_t *t, int64_t now)
{
	pthread_mutex_lock(&r->mu);
	const struct pol *pl = NULL;
	for (size_t k = 0; k < r->n_pols && !pl; k++)
		if (!strcmp(r->pols[k].p.name, policy))
			pl = &r->pols[k];
	if (!pl) { /* removed by a reload since the trigger came */
		pthread_mutex_unlock(&r->mu);
		return;
	}
	char actor[200], key[512], hex[65], id[24];
	snprintf(actor, sizeof(actor), "policy:%s@v%lld", pl->p.name, (long long)pl->version);
	snprintf(key, sizeof(key), "%s|%lld|%s:%s|%lld", pl->p.name, (long long)pl->version, jstr(t, "kind"),
		 jstr(t, "ref"), (long long)json_integer_value(json_object_get(t, "at_ns")));
	audit_digest_hex(key, strlen(key), hex);
	snprintf(id, sizeof(id), "run-%.16s", hex);
	if (mem_find(r, id)) {
		pthread_mutex_unlock(&r->mu);
		log_debug("run %s: duplicate trigger %s, acted on once", id, key);
		return;
	}
	struct buf reason = BUF_INIT, ok = BUF_INIT, why = BUF_INIT, err = BUF_INIT;
	bool approve_only = false;
	guardrails(r, pl, jstr(t, "service"), now, &reason, &ok, &approve_only);
	json_t *pdoc = json_incref(pl->p.doc);
	enum policy_mode mode = pl->p.mode;
	int64_t pver = pl->version, for_ns = pl->p.for_ns, exp_ns = pl->p.expect_timeout_ns;
	char *author = xstrdup(pl->author ? pl->author : "");
	struct remedy_policy pcopy = pl->p; /* borrowed fields only, under the doc reference held */
	pthread_mutex_unlock(&r->mu);

	if (!reason.len)
		preconditions(r, &pcopy, t, now, &reason, &ok);
	trigger_text(t, for_ns, &why);
	buf_addf(&why, "; %s%s", reason.len ? "refused: " : "", reason.len ? reason.data : ok.data);

	json_t *plan = NULL, *steps = NULL;
	if (plan_build(&pcopy, &plan, &steps, &err)) {
		log_error("policy %s: plan not built: %s", pcopy.name, err.data);
		goto out;
	}
	char at[40];
	ooda_time_format(now, at, sizeof(at));
	struct run run = { .version = 0 };
	run.doc = json_pack("{ss ss sI ss ss ss sO ss* ss* ss ss ss sI so so sO* sO* sI so sb so}", "id", id, "policy",
			    pcopy.name, "policy_version", (json_int_t)pver, "policy_author", author, "actor", actor, "key",
			    key, "trigger", t, "incident", jstr(t, "incident"), "service", jstr(t, "service"), "mode",
			    policy_mode_name(mode), "status", run_state_name(RUN_PENDING), "created", at,
			    "created_unix_nano", (json_int_t)now, "plan", plan, "steps", steps, "expect",
			    json_object_get(pdoc, "expect"), "on_failure", json_object_get(pdoc, "on_failure"),
			    "expect_timeout_ns", (json_int_t)exp_ns, "history", json_array(), "acted", false, "rationale",
			    json_string(why.data));
	json_object_set_new(run.doc, "recipes", recipes_of(json_object_get(pdoc, "do")));
	enum run_event ev = reason.len ? EV_REFUSE
			    : mode == POLICY_DRY_RUN		  ? EV_DRY_RUN
			    : mode == POLICY_APPROVE || approve_only ? EV_NEEDS_APPROVAL
								      : EV_START;
	if (ev == EV_NEEDS_APPROVAL) {
		/* filed before the run is stored, so a run awaiting approval always names its request */
		char ap[48] = "";
		struct buf t2 = BUF_INIT;
		buf_addf(&t2, "remediation %s by %s: %s", id, actor, why.data);
		if (!r->hooks.approval_request ||
		    r->hooks.approval_request(r->hooks.ctx, id, author, t2.data, REMEDY_APPROVAL_TTL_NS, ap, &err)) {
			buf_reset(&reason);
			buf_addf(&reason, "no approval request could be filed: %s", err.len ? err.data : "approvals unavailable");
			buf_addf(&why, "; refused: %s", reason.data);
			json_object_set_new(run.doc, "rationale", json_string(why.data));
			ev = EV_REFUSE;
		} else {
			json_object_set_new(run.doc, "approval", json_string(ap));
		}
		buf_release(&t2);
	}
	run_move(run.doc, ev, reason.len ? reason.data : NULL, &err);
	json_object_set_new(run.doc, "acted", json_boolean(ev == EV_START || ev == EV_NEEDS_APPROVAL));
	int rc = run_save(r, &run, actor, ev == EV_REFUSE ? "remedy.run.refuse" : "remedy.run.create", why.data, &err);
	if (rc == OODA_EPRECOND) {
		log_debug("run %s: duplicate trigger, acted on once", id);
		json_decref(run.doc);
		goto out;
	}
	if (rc) {
		log_error("run %s not stored: %s", id, err.data);
		json_decref(run.doc);
		goto out;
	}
	log_info("run %s of policy %s: %s (%s)", id, pcopy.name, jstr(run.doc, "status"), why.data);
	struct buf text = BUF_INIT;
	buf_addf(&text, "remediation %s by %s: %s", jstr(run.doc, "status"), actor, why.data);
	timeline(r, run.doc, text.data);
	if (ev == EV_REFUSE) {
		escalate(r, run.doc, text.data);
		buf_reset(&err);
		run_save(r, &run, actor, "remedy.run.escalate", "a guardrail said no: a person must look", &err);
	} else if (ev == EV_NEEDS_APPROVAL) {
		escalate(r, run.doc, text.data); /* a person must decide */
	} else if (ev == EV_START) {
		runner_push(r, id);
	}
	buf_release(&text);
	json_decref(run.doc);
out:
	json_decref(pdoc);
	free(author);
	buf_release(&reason);
	buf_release(&ok);
	buf_release(&why);
	buf_release(&err);
}

static void link_incident(struct remedy *r, const char *alert_fp, const char *incident);

/* Decision worker: a trigger (item), a link of an alert to its incident, or a wake (NULL) for the holds that are due. */
static void decide_fn(void *ctx, void *item)
{
	struct remedy *r = ctx;
	json_t *t = item;
	if (t && json_object_get(t, "link")) {
		link_incident(r, jstr(t, "link"), jstr(t, "incident"));
		json_decref(t);
		busy_add(r, -1);
		return;
	}
	int64_t now = ooda_now_ns();
	json_t *due = json_array();
	pthread_mutex_lock(&r->mu);
	if (t) {
		for (size_t i = 0; i < r->n_pols; i++) {
			if (!trigger_matches(&r->pols[i].p, t))
				continue;
			if (r->pols[i].p.for_ns > 0 && r->n_holds < REMEDY_MAX_HOLDS) {
				r->holds = xrealloc(r->holds, (r->n_holds + 1) * sizeof(*r->holds));
				int64_t at = json_integer_value(json_object_get(t, "at_ns"));
				r->holds[r->n_holds++] = (struct hold){ xstrdup(r->pols[i].p.name), json_incref(t),
									(at ? at : now) + r->pols[i].p.for_ns };
			} else {
				json_array_append_new(due, json_pack("{ss sO}", "policy", r->pols[i].p.name, "trigger", t));
			}
		}
	}
	for (size_t i = 0; i < r->n_holds;) {
		if (r->holds[i].due_ns > now) {
			i++;
			continue;
		}
		json_array_append_new(due, json_pack("{ss so}", "policy", r->holds[i].policy, "trigger", r->holds[i].trigger));
		free(r->holds[i].policy);
		r->holds[i] = r->holds[--r->n_holds];
	}
	pthread_mutex_unlock(&r->mu);
	size_t i;
	json_t *d;
	json_array_foreach(due, i, d) {
		json_t *tr = json_object_get(d, "trigger");
		const char *fp = jstr(tr, "alert");
		bool firing = true;
		/* held: the alert must still fire when its `for` is over */
		if (fp && !strcmp(jstr(tr, "kind"), "alert") && r->hooks.alert_firing &&
		    !r->hooks.alert_firing(r->hooks.ctx, fp, &firing) && !firing)
			continue;
		decide(r, jstr(d, "policy"), tr, now);
	}
	json_decref(due);
	if (t) {
		json_decref(t);
		busy_add(r, -1);
	}
}

void remedy_trigger(struct remedy *r, const struct remedy_trigger *t)
{
	if (!r || !r->decider || !t->kind || !t->ref)
		return;
	json_t *j = json_pack("{ss ss ss? ss? ss? ss? ss? sI}", "kind", t->kind, "ref", t->ref, "name", t->name, "service",
			      t->service, "severity", t->severity, "incident", t->incident, "alert",
			      t->alert ? t->alert : (!strcmp(t->kind, "alert") ? t->ref : NULL), "at_ns",
			      (json_int_t)(t->at_ns ? t->at_ns : ooda_now_ns()));
	if (!j)
		return;
	busy_add(r, 1);
	if (worker_push(r->decider, j)) {
		json_decref(j);
		busy_add(r, -1);
		log_warn("remediation trigger %s %s dropped: queue full", t->kind, t->ref);
	}
}

void remedy_tick(struct remedy *r, int64_t now_ns)
{
	if (!r || !r->decider)
		return;
	pthread_mutex_lock(&r->mu);
	bool due = false;
	for (size_t i = 0; i < r->n_holds; i++)
		due |= r->holds[i].due_ns <= now_ns;
	bool prune = r->retain && now_ns >= r->prune_next_ns;
	pthread_mutex_unlock(&r->mu);
	if (due)
		worker_wake(r->decider);
	if (prune) {
		size_t n = 0;
		struct buf err = BUF_INIT;
		int rc = remedy_runs_prune(r, now_ns, &n, &err);
		if (rc)
			log_error("remediation runs not pruned: %s", err.data);
		else if (n)
			log_info("remediation runs: %zu finished runs past retention deleted", n);
		buf_release(&err);
		pthread_mutex_lock(&r->mu);
		r->prune_next_ns = !rc && n >= REMEDY_PRUNE_BATCH ? now_ns : now_ns + REMEDY_PRUNE_EVERY_NS;
		pthread_mutex_unlock(&r->mu);
	}
}

void remedy_set_retention(struct remedy *r, const struct remedy_retention *ret)
{
	pthread_mutex_lock(&r->mu);
	r->retention = *ret;
	r->retain = ret->max_age_ns > 0 || ret->max_finished > 0;
	pthread_mutex_unlock(&r->mu);
}

int remedy_runs_prune(struct remedy *r, int64_t now_ns, size_t *deleted, struct buf *err)
{
	pthread_mutex_lock(&r->mu);
	struct remedy_retention ret = r->retention;
	pthread_mutex_unlock(&r->mu);
	return run_index_prune(r->store, r->sg, &ret, now_ns, REMEDY_PRUNE_BATCH, deleted, err);
}

/* ---- driving a run ---------------------------------------------------------------- */

/* Sleeps up to ns; false when stopping. */
static bool nap(struct remedy *r, int64_t ns)
{
	int64_t end = ooda_mono_ns() + ns;
	while (!r->stopping) {
		int64_t left = end - ooda_mono_ns();
		if (left <= 0)
			return true;
		if (left > 100 * 1000000)
			left = 100 * 1000000;
		struct timespec ts = { 0, (long)left };
		nanosleep(&ts, NULL);
	}
	return false;
}

static void step_record(json_t *rec, const struct action_result *res, int64_t started, int64_t finished)
{
	json_object_set_new(rec, "status", json_string(res->ok ? "ok" : "failed"));
	json_object_set_new(rec, "exit_status", json_integer(res->status));
	json_object_set_new(rec, "timed_out", json_boolean(res->timed_out));
	json_object_set_new(rec, "output", json_stringn(res->output.data ? res->output.data : "", res->output.len));
	json_object_set_new(rec, "error", json_stringn(res->error.data ? res->error.data : "", res->error.len));
	json_object_set_new(rec, "duration_ms", json_integer((finished - started) / 1000000));
	json_object_set_new(rec, "finished", json_time(ooda_now_ns()));
	if (res->state)
		json_object_set(rec, "undo_state", res->state);
}

/* The step's undo: its undo step, else its action's own restore; NULL when it has neither. */
static bool step_undoable(const json_t *step)
{
	const struct remedy_action *a = action_find(policy_step_action(step, NULL));
	return json_object_get(step, "undo") || (a && a->restore);
}

/* Runs step; with restore_state, the action's own undo from the state its run left. */
static int action_do(struct remedy *r, const json_t *doc, const json_t *step, const json_t *restore_state,
		     struct action_result *res)
{
	json_t *params = NULL;
	const struct remedy_action *a = action_find(policy_step_action(step, &params));
	struct action_env env = { .hooks = &r->hooks, .run_id = jstr(doc, "id"), .incident = jstr(doc, "incident"),
				  .policy = jstr(doc, "policy"), .actor = jstr(doc, "actor"),
				  .approved = jstr(doc, "approved_by") != NULL, .stop = &r->stopping };
	if (!a) {
		buf_adds(&res->error, "unknown action");
		return 0;
	}
	int rc = restore_state ? a->restore(&env, params, restore_state, res) : a->run(&env, params, res);
	if (rc && !res->error.len)
		buf_addf(&res->error, "%s", ooda_strerror(rc));
	if (rc)
		res->ok = false;
	return 0;
}

/* The do steps from the first not done; returns 1 when stopping (left as it is). */
static int drive_steps(struct remedy *r, struct run *run, struct buf *err)
{
	json_t *plan = json_object_get(run->doc, "plan"), *steps = json_object_get(run->doc, "steps");
	const char *actor = jstr(run->doc, "actor");
	size_t i;
	json_t *rec;
	json_array_foreach(steps, i, rec) {
		const char *st = jstr(rec, "status");
		if (!strcmp(st, "ok"))
			continue;
		struct buf why = BUF_INIT;
		if (!strcmp(st, "running")) {
			/* it was in flight when ooda stopped or crashed */
			if (!json_is_true(json_object_get(rec, "idempotent"))) {
				json_object_set_new(rec, "status", json_string("interrupted"));
				buf_addf(&why, "step %zu (%s) was running when ooda stopped and is not idempotent: not repeated", i,
					 jstr(rec, "describe"));
				run_move(run->doc, EV_STEP_FAILED, why.data, err);
				int rc = run_save(r, run, actor, "remedy.step.interrupted", why.data, err);
				buf_release(&why);
				return rc;
			}
			json_object_set_new(rec, "resumed", json_true());
		}
		char at[40];
		now_text(at);
		json_object_set_new(rec, "status", json_string("running"));
		json_object_set_new(rec, "started", json_string(at));
		buf_addf(&why, "step %zu: %s", i, jstr(rec, "describe"));
		int rc = run_save(r, run, actor, "remedy.step.start", why.data, err);
		if (rc) {
			buf_release(&why);
			return rc;
		}
		struct action_result res;
		action_result_init(&res);
		int64_t t0 = ooda_mono_ns();
		action_do(r, run->doc, json_array_get(plan, i), NULL, &res);
		if (r->stopping && !res.ok) {
			/* cut short by the stop: stays running, decided at the next start */
			action_result_release(&res);
			buf_release(&why);
			return 1;
		}
		step_record(rec, &res, t0, ooda_mono_ns());
		buf_addf(&why, ": %s%s%s", res.ok ? "ok" : "failed", res.ok ? "" : ": ", res.ok ? "" : res.error.data);
		bool ok = res.ok;
		action_result_release(&res);
		if (!ok)
			run_move(run->doc, EV_STEP_FAILED, why.data, err);
		rc = run_save(r, run, actor, ok ? "remedy.step.ok" : "remedy.step.failed", why.data, err);
		buf_release(&why);
		if (rc || !ok)
			return rc;
	}
	char at[40];
	now_text(at);
	json_object_set_new(run->doc, "verify_started_unix_nano", json_integer(ooda_now_ns()));
	run_move(run->doc, EV_STEPS_DONE, NULL, err);
	return run_save(r, run, actor, "remedy.run.verify", "every step ran: checking expect", err);
}

/* Whether expect holds now; the state of each check in detail. */
static bool expect_holds(struct remedy *r, const json_t *doc, struct buf *detail)
{
	const json_t *e = json_object_get(doc, "expect");
	bool all = true;
	const json_t *pr = json_object_get(e, "probe");
	/* only what was seen since the steps ran says anything of them */
	int64_t since = json_integer_value(json_object_get(doc, "verify_started_unix_nano"));
	if (pr) {
		bool pass = false, checked = false;
		bool known = r->hooks.probe_passing && !r->hooks.probe_passing(r->hooks.ctx, jstr(pr, "service"),
									      jstr(pr, "name"), since, &pass, &checked);
		buf_addf(detail, "probe %s/%s %s", jstr(pr, "service"), jstr(pr, "name"),
			 !known	    ? "unknown"
			 : !checked ? "not attempted since the steps ran"
			 : pass	    ? "passing"
				    : "failing");
		all &= known && checked && pass;
	}
	const json_t *er = json_object_get(e, "error_ratio");
	if (er) {
		int64_t win = 60 * OODA_NS_PER_SEC;
		const char *ws = jstr(er, "window");
		if (ws)
			ooda_duration_parse(ws, strlen(ws), &win);
		/* the baseline: the same length of time, ending one window before the trigger */
		int64_t at = json_integer_value(json_object_get(json_object_get(doc, "trigger"), "at_ns"));
		double ratio = NAN, base = NAN, requests = 0;
		bool known = r->hooks.error_ratio && !r->hooks.error_ratio(r->hooks.ctx, jstr(er, "service"), win, since,
									   at - win, &ratio, &requests, &base);
		json_t *below = json_object_get(er, "below");
		/* below b needs at least 1/b requests: fewer, and one failure would already be over it */
		double need = below && json_number_value(below) > 0 ? ceil(1.0 / json_number_value(below)) : 1;
		bool pass = known && !isnan(ratio) && requests >= need;
		buf_addf(detail, "%serror ratio of %s ", detail->len ? ", " : "", jstr(er, "service"));
		if (!known)
			buf_adds(detail, "unknown");
		else if (isnan(ratio))
			buf_adds(detail, "unknown (no requests yet)");
		else if (requests < need)
			buf_addf(detail, "unknown (%.0f requests since the steps ran, %.0f needed)", requests, need);
		else
			buf_addf(detail, "%.2f%%", ratio * 100);
		if (pass && below) {
			pass = ratio < json_number_value(below);
			buf_addf(detail, " %s %.2f%%", pass ? "<" : ">=", json_number_value(below) * 100);
		}
		if (pass && json_is_true(json_object_get(er, "baseline"))) {
			/* no traffic before the trigger: the baseline is no errors */
			double b = isnan(base) ? 0 : base;
			pass = ratio <= b;
			buf_addf(detail, " %s baseline %.2f%%", pass ? "<=" : ">", b * 100);
		}
		all &= pass;
	}
	if (json_is_true(json_object_get(e, "alert_resolved"))) {
		const char *fp = jstr(json_object_get(doc, "trigger"), "alert");
		bool firing = true;
		bool known = fp && r->hooks.alert_firing && !r->hooks.alert_firing(r->hooks.ctx, fp, &firing);
		buf_addf(detail, "%salert %s", detail->len ? ", " : "", !known ? "unknown" : firing ? "still firing" : "resolved");
		all &= known && !firing;
	}
	return all;
}

static int drive_verify(struct remedy *r, struct run *run, struct buf *err)
{
	const char *actor = jstr(run->doc, "actor");
	if (!json_object_get(run->doc, "expect") || json_is_null(json_object_get(run->doc, "expect"))) {
		run_move(run->doc, EV_VERIFIED, "no expect: done once the steps ran", err);
		return run_save(r, run, actor, "remedy.run.succeeded", "no expect given", err);
	}
	int64_t start = json_integer_value(json_object_get(run->doc, "verify_started_unix_nano"));
	int64_t deadline = start + json_integer_value(json_object_get(run->doc, "expect_timeout_ns"));
	struct buf detail = BUF_INIT, why = BUF_INIT;
	bool held;
	for (;;) {
		buf_reset(&detail);
		held = expect_holds(r, run->doc, &detail);
		if (held || ooda_now_ns() >= deadline)
			break;
		if (!nap(r, r->poll_ns)) {
			buf_release(&detail);
			return 1;
		}
	}
	char d[32];
	dur_text(json_integer_value(json_object_get(run->doc, "expect_timeout_ns")), d);
	if (held)
		buf_addf(&why, "expect held after %.1f s: %s", (double)(ooda_now_ns() - start) / 1e9, detail.data);
	else
		buf_addf(&why, "expect did not hold within %s: %s", d, detail.data);
	json_object_set_new(run->doc, "verification", json_string(why.data));
	run_move(run->doc, held ? EV_VERIFIED : EV_EXPECT_FAILED, why.data, err);
	int rc = run_save(r, run, actor, held ? "remedy.run.succeeded" : "remedy.run.failed", why.data, err);
	buf_release(&detail);
	buf_release(&why);
	return rc;
}

/* The undo of each step that ran, last first. */
static int drive_undo(struct remedy *r, struct run *run, struct buf *err)
{
	json_t *plan = json_object_get(run->doc, "plan"), *steps = json_object_get(run->doc, "steps");
	const char *actor = jstr(run->doc, "actor");
	if (!json_object_get(run->doc, "undo_order"))
		json_object_set_new(run->doc, "undo_order", json_array());
	for (size_t i = json_array_size(steps); i-- > 0;) {
		json_t *step = json_array_get(plan, i), *rec = json_array_get(steps, i), *undo = json_object_get(step, "undo");
		if (!step_undoable(step) || strcmp(jstr(rec, "status"), "ok"))
			continue;
		/* no undo step: the action's own restore, from what its run left */
		json_t *restore = undo ? NULL : json_object_get(rec, "undo_state");
		if (!undo) {
			undo = step;
			if (!restore)
				restore = json_null();
		}
		json_t *u = json_object_get(rec, "undo");
		if (u && !strcmp(jstr(u, "status"), "ok"))
			continue;
		struct action_result res;
		action_result_init(&res);
		int64_t t0 = ooda_mono_ns();
		action_do(r, run->doc, undo, restore, &res);
		if (r->stopping && !res.ok) {
			action_result_release(&res);
			return 1;
		}
		u = json_object();
		json_t *params = NULL;
		const char *an = policy_step_action(undo, &params);
		struct buf d = BUF_INIT, why = BUF_INIT;
		if (restore)
			buf_adds(&d, "restore: ");
		if (action_find(an))
			action_find(an)->describe(params, &d);
		json_object_set_new(u, "describe", json_string(d.data ? d.data : ""));
		step_record(u, &res, t0, ooda_mono_ns());
		json_object_set_new(rec, "undo", u);
		json_array_append_new(json_object_get(run->doc, "undo_order"), json_integer((json_int_t)i));
		buf_addf(&why, "undo of step %zu: %s: %s", i, d.data ? d.data : "", res.ok ? "ok" : res.error.data);
		int rc = run_save(r, run, actor, res.ok ? "remedy.undo.ok" : "remedy.undo.failed", why.data, err);
		action_result_release(&res);
		buf_release(&d);
		buf_release(&why);
		if (rc)
			return rc;
	}
	run_move(run->doc, EV_UNDO_DONE, NULL, err);
	return run_save(r, run, actor, "remedy.run.undone", "every undo ran", err);
}

static bool wants_undo(const json_t *doc)
{
	json_t *u = json_object_get(json_object_get(doc, "on_failure"), "undo");
	if (u && !json_is_true(u))
		return false;
	json_t *plan = json_object_get(doc, "plan"), *steps = json_object_get(doc, "steps");
	size_t i;
	json_t *rec;
	json_array_foreach(steps, i, rec)
		if (!strcmp(jstr(rec, "status"), "ok") && step_undoable(json_array_get(plan, i)))
			return true;
	return false;
}

/* Runner: drives run id until it ends or waits for a person. */
static void run_fn(void *ctx, void *item)
{
	struct remedy *r = ctx;
	char *id = item;
	struct run run = { 0 };
	struct buf err = BUF_INIT;
	int rc = run_load(r, id, &run, &err);
	while (!rc && !r->stopping) {
		enum run_state s = run_state_of(run.doc);
		if (s == RUN_RUNNING)
			rc = drive_steps(r, &run, &err);
		else if (s == RUN_VERIFYING)
			rc = drive_verify(r, &run, &err);
		else if (s == RUN_UNDOING)
			rc = drive_undo(r, &run, &err);
		else if (s == RUN_FAILED && wants_undo(run.doc) && !json_object_get(run.doc, "undo_order")) {
			run_move(run.doc, EV_UNDO, "undoing the steps that ran, last first", &err);
			rc = run_save(r, &run, jstr(run.doc, "actor"), "remedy.run.undo", "undoing the steps that ran", &err);
		} else
			break;
	}
	if (rc < 0)
		log_error("run %s: %s", id, err.data);
	enum run_state s = run.doc ? run_state_of(run.doc) : RUN_PENDING;
	if (!rc && run.doc && run_state_terminal(s)) {
		struct buf text = BUF_INIT;
		const char *reason = jstr(run.doc, "reason");
		buf_addf(&text, "remediation %s %s by %s%s%s", id, run_state_name(s), jstr(run.doc, "actor"),
			 reason ? ": " : "", reason ? reason : "");
		if (s == RUN_SUCCEEDED && jstr(run.doc, "verification"))
			buf_addf(&text, ": %s", jstr(run.doc, "verification"));
		timeline(r, run.doc, text.data);
		if (s == RUN_SUCCEEDED && r->hooks.notify) {
			/* for the record, through the routes (severity info): nobody is paged for a success */
			struct buf e2 = BUF_INIT, dd = BUF_INIT;
			buf_addf(&dd, "%s#succeeded", id);
			if (r->hooks.notify(r->hooks.ctx, NULL, "remediation-succeeded", text.data, jstr(run.doc, "incident"),
					    dd.data, &e2) < 0)
				log_warn("run %s: success not notified: %s", id, e2.data);
			buf_release(&e2);
			buf_release(&dd);
		}
		if (s != RUN_SUCCEEDED) {
			escalate(r, run.doc, text.data);
			buf_reset(&err);
			run_save(r, &run, NULL, "remedy.run.escalate", "the run failed: a person must look", &err);
		}
		buf_release(&text);
		if (jstr(run.doc, "runbook_run") && !r->stopping) /* stopping: the walk moves on at its next step done */
			runbook_walk_poke(r, jstr(run.doc, "runbook_run"), id, jstr(run.doc, "started_by"));
	}
	json_decref(run.doc);
	buf_release(&err);
	free(id);
	busy_add(r, -1);
}

/* ---- lifecycle ------------------------------------------------------------------- */

int remedy_create(const struct remedy_options *o, struct remedy **out, struct buf *err)
{
	(void)err;
	struct remedy *r = xcalloc(1, sizeof(*r));
	r->store = o->store;
	r->sg = o->signer;
	r->hooks = o->hooks;
	r->poll_ns = o->expect_poll_ns > 0 ? o->expect_poll_ns : 500 * 1000000;
	r->allow_hosts = json_array();
	r->freezes = json_array();
	r->links = json_object();
	pthread_mutex_init(&r->mu, NULL);
	pthread_rwlock_init(&r->subs_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->idle, &ca);
	pthread_condattr_destroy(&ca);
	*out = r;
	return 0;
}

struct start_ctx {
	struct remedy *r;
	json_t *resume;
};

static int start_row(void *ctx, const void *row)
{
	const struct doc_row *d = row;
	struct start_ctx *s = ctx;
	json_t *doc = json_loadb(d->body, d->body_len, 0, NULL);
	if (!doc)
		return 0;
	struct run_mem m;
	mem_from_doc(doc, &m);
	mem_put(s->r, &m);
	if (run_state_active(m.state) || (m.state == RUN_FAILED && wants_undo(doc) && !json_object_get(doc, "undo_order")))
		json_array_append_new(s->resume, json_string(m.id));
	json_decref(doc);
	return 0;
}

static int created_cmp(const void *a, const void *b)
{
	const struct run_mem *x = a, *y = b;
	return x->created_ns < y->created_ns ? -1 : x->created_ns > y->created_ns;
}

/*
 * Reads every run from the store into the in-memory index (the one a
 * follower holds may be old) and returns in *resume the ids of the runs
 * that were under way; caller owns *resume.
 */
static int runs_reload(struct remedy *r, json_t **resume)
{
	struct start_ctx s = { r, json_array() };
	pthread_mutex_lock(&r->mu);
	int rc = vdoc_list(r->store, RUN_KIND, "", start_row, &s);
	if (r->n_runs)
		qsort(r->runs, r->n_runs, sizeof(*r->runs), created_cmp);
	pthread_mutex_unlock(&r->mu);
	if (rc) {
		json_decref(s.resume);
		return rc;
	}
	*resume = s.resume;
	return 0;
}

/* Hands each run of resume (taken) to the runners. */
static void runs_resume(struct remedy *r, json_t *resume, const char *after)
{
	size_t i;
	json_t *id;
	json_array_foreach(resume, i, id) {
		log_info("run %s: resumed after %s", json_string_value(id), after);
		runner_push(r, json_string_value(id));
	}
	json_decref(resume);
}

int remedy_start(struct remedy *r, struct buf *err)
{
	struct vdoc pd;
	struct buf e2 = BUF_INIT;
	if (!vdoc_get(r->store, AUTOMATION_KIND, "global", 0, &pd, &e2)) {
		json_t *a = json_loadb(pd.body, pd.body_len, 0, NULL);
		r->paused = json_is_true(json_object_get(a, "paused"));
		r->pause_reason = jdup(a, "reason");
		r->pause_by = jdup(a, "by");
		r->pause_at = jdup(a, "at");
		json_decref(a);
		vdoc_release(&pd);
	}
	buf_release(&e2);
	json_t *resume = NULL;
	int rc = runs_reload(r, &resume);
	if (rc) {
		buf_adds(err, "remediation runs cannot be read");
		return rc;
	}
	struct worker_opts dopt = { .capacity = TRIGGER_QUEUE, .item_free = (void (*)(void *))json_decref,
				    .leader_only = true };
	struct worker_opts ropt = { .capacity = RUN_QUEUE, .item_free = free, .threads = REMEDY_RUNNERS,
				    .leader_only = true };
	if ((rc = worker_create("remedy-decide", decide_fn, r, &dopt, &r->decider, err)) ||
	    (rc = worker_create("remedy-run", run_fn, r, &ropt, &r->runners, err))) {
		json_decref(resume);
		return rc;
	}
	if (lead_term() > 0)
		runs_resume(r, resume, "a restart");
	else /* a follower: remedy_resume hands them over when this node begins to lead */
		json_decref(resume);
	return 0;
}

int remedy_resume(struct remedy *r)
{
	json_t *resume = NULL;
	int rc = runs_reload(r, &resume);
	if (!rc)
		runs_resume(r, resume, "this node began to lead");
	return rc;
}

void remedy_destroy(struct remedy *r)
{
	if (!r)
		return;
	r->stopping = true;
	worker_destroy(r->decider);
	worker_destroy(r->runners);
	pols_free(r->pols, r->n_pols);
	for (size_t i = 0; i < r->n_holds; i++) {
		free(r->holds[i].policy);
		json_decref(r->holds[i].trigger);
	}
	free(r->holds);
	free(r->runs);
	json_decref(r->allow_hosts);
	json_decref(r->freezes);
	json_decref(r->links);
	free(r->pause_reason);
	free(r->pause_by);
	free(r->pause_at);
	pthread_mutex_destroy(&r->mu);
	pthread_rwlock_destroy(&r->subs_mu);
	pthread_cond_destroy(&r->idle);
	free(r);
}

/* ---- followers ------------------------------------------------------------------- */

int remedy_subscribe(struct remedy *r, remedy_subscriber_fn *fn, void *ctx)
{
	pthread_rwlock_wrlock(&r->subs_mu);
	int rc = OODA_ELIMIT;
	if (r->n_subs < REMEDY_MAX_SUBSCRIBERS) {
		r->subs[r->n_subs].fn = fn;
		r->subs[r->n_subs].ctx = ctx;
		r->n_subs++;
		rc = 0;
	}
	pthread_rwlock_unlock(&r->subs_mu);
	return rc;
}

void remedy_unsubscribe(struct remedy *r, remedy_subscriber_fn *fn, void *ctx)
{
	pthread_rwlock_wrlock(&r->subs_mu); /* waits out a call under way */
	for (size_t i = 0; i < r->n_subs; i++) {
		if (r->subs[i].fn != fn || r->subs[i].ctx != ctx)
			continue;
		memmove(&r->subs[i], &r->subs[i + 1], (r->n_subs - i - 1) * sizeof(r->subs[0]));
		r->n_subs--;
		break;
	}
	pthread_rwlock_unlock(&r->subs_mu);
}

/* The step an event is about: the undo just recorded, the step running, else the last one that ran. */
static const json_t *event_step(const struct remedy_run_event *ev, bool *undo)
{
	const json_t *steps = json_object_get(ev->run, "steps");
	*undo = !strncmp(ev->action, "remedy.undo.", 12);
	if (*undo) {
		const json_t *order = json_object_get(ev->run, "undo_order");
		size_t n = json_array_size(order);
		return n ? json_array_get(steps, (size_t)json_integer_value(json_array_get(order, n - 1))) : NULL;
	}
	if (strncmp(ev->action, "remedy.step.", 12))
		return NULL;
	const json_t *last = NULL, *rec;
	size_t i;
	json_array_foreach(steps, i, rec) {
		const char *st = jstr(rec, "status");
		if (st && !strcmp(st, "running"))
			return rec;
		if (st && strcmp(st, "pending"))
			last = rec;
	}
	return last;
}

json_t *remedy_run_event_json(const struct remedy_run_event *ev)
{
	const json_t *d = ev->run;
	const char *action = ev->action ? ev->action : "";
	json_t *o = json_pack("{ss? ss sI ss? ss? sO? ss? ss? ss? ss? ss?}", "run", jstr(d, "id"), "event",
			      !strncmp(action, "remedy.", 7) ? action + 7 : action, "version", (json_int_t)ev->version,
			      "status", jstr(d, "status"), "policy", jstr(d, "policy"), "policy_version",
			      json_object_get(d, "policy_version"), "mode", jstr(d, "mode"), "service", jstr(d, "service"),
			      "incident", jstr(d, "incident"), "at", jstr(d, "updated"), "text", ev->rationale);
	if (!o)
		return NULL;
	static const char *const extra[] = { "reason", "verification", "approved_by", "rejected_by" };
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		if (jstr(d, extra[i]))
			json_object_set_new(o, extra[i], json_string(jstr(d, extra[i])));
	bool undo;
	const json_t *step = event_step(ev, &undo);
	if (step) {
		const json_t *u = undo ? json_object_get(step, "undo") : NULL;
		json_object_set_new(o, "step", json_pack("{sO? ss? ss? ss? sb}", "index", json_object_get(step, "index"),
							 "action", jstr(step, "action"), "status",
							 jstr(u ? u : step, "status"), "describe",
							 jstr(u ? u : step, "describe"), "undo", undo));
	}
	return o;
}

void remedy_wait_idle(struct remedy *r)
{
	pthread_mutex_lock(&r->mu);
	while (r->busy > 0)
		pthread_cond_wait(&r->idle, &r->mu);
	pthread_mutex_unlock(&r->mu);
}

/* ---- incidents opened after the alert that triggered a run ---------------------------- */

#define LINKS_MAX 4096

void remedy_link_incident(struct remedy *r, const char *alert_fp, const char *incident)
{
	if (!r || !r->decider || !alert_fp || !incident)
		return;
	json_t *j = json_pack("{ss ss}", "link", alert_fp, "incident", incident);
	busy_add(r, 1);
	if (worker_push(r->decider, j)) {
		json_decref(j);
		busy_add(r, -1);
	}
}

/*
 * On the decision worker: remember the link, and put the runs no runner is
 * working on (over, or waiting for a person's approval) on the incident's
 * timeline, so a responder finds a waiting run on the incident it is for.
 */
static void link_incident(struct remedy *r, const char *alert_fp, const char *incident)
{
	json_t *done = json_array();
	pthread_mutex_lock(&r->mu);
	if (json_object_size(r->links) >= LINKS_MAX)
		json_object_clear(r->links);
	json_object_set_new(r->links, alert_fp, json_string(incident));
	/* runs over or waiting are not saved by a runner now: link them here */
	for (size_t i = 0; i < r->n_runs; i++) {
		struct run_mem *m = &r->runs[i];
		if (!m->has_incident && !strcmp(m->alert, alert_fp) &&
		    (run_state_terminal(m->state) || m->state == RUN_AWAITING_APPROVAL))
			json_array_append_new(done, json_string(m->id));
	}
	pthread_mutex_unlock(&r->mu);
	size_t i;
	json_t *id;
	json_array_foreach(done, i, id) {
		struct run run = { 0 };
		struct buf err = BUF_INIT;
		if (!run_load(r, json_string_value(id), &run, &err) && !jstr(run.doc, "incident") &&
		    !run_save(r, &run, NULL, "remedy.run.link", "its alert is part of an incident", &err)) {
			struct buf text = BUF_INIT;
			const char *reason = jstr(run.doc, "reason");
			buf_addf(&text, "remediation %s %s by %s: %s%s%s", jstr(run.doc, "id"), jstr(run.doc, "status"),
				 jstr(run.doc, "actor"), jstr(run.doc, "rationale"), reason ? "; " : "", reason ? reason : "");
			timeline(r, run.doc, text.data);
			buf_release(&text);
		}
		json_decref(run.doc);
		buf_release(&err);
	}
	json_decref(done);
}

/* ---- reads and decisions ------------------------------------------------------------ */

int remedy_runs_json(struct remedy *r, const struct remedy_run_filter *f, struct buf *out, struct buf *err)
{
	return run_index_page(r->store, f, out, err);
}

int remedy_run_json(struct remedy *r, const char *id, struct buf *out, struct buf *err)
{
	struct vdoc d;
	int rc = vdoc_get(r->store, RUN_KIND, id, 0, &d, err);
	if (rc == OODA_ENOTFOUND) {
		buf_reset(err);
		buf_addf(err, "id: no remediation run \"%s\"", id);
	}
	if (rc)
		return rc;
	buf_add(out, d.body, d.body_len);
	vdoc_release(&d);
	return 0;
}

int remedy_run_decide(struct remedy *r, const char *id, bool approve, const char *actor, const char *rationale,
		      struct buf *out, struct buf *err)
{
	struct run run = { 0 };
	int rc = run_load(r, id, &run, err);
	if (rc == OODA_ENOTFOUND) {
		buf_reset(err);
		buf_addf(err, "id: no remediation run \"%s\"", id);
	}
	if (rc)
		return rc;
	const char *ap = jstr(run.doc, "approval");
	if (run_state_of(run.doc) != RUN_AWAITING_APPROVAL || !ap) {
		buf_addf(err, "run %s is %s, not awaiting approval", id, jstr(run.doc, "status"));
		json_decref(run.doc);
		return OODA_ECONFLICT;
	}
	char apid[48];
	snprintf(apid, sizeof(apid), "%s", ap);
	json_decref(run.doc);
	if (!r->hooks.approval_decide) {
		buf_adds(err, "approvals are not available");
		return OODA_EUNAVAIL;
	}
	/* the approvals call remedy_run_approved back once the decision is stored */
	return r->hooks.approval_decide(r->hooks.ctx, apid, approve, actor, rationale, out, err);
}

int remedy_run_approved(struct remedy *r, const char *id, bool approve, const char *approver, const char *rationale,
			struct buf *err)
{
	struct run run = { 0 };
	int rc = run_load(r, id, &run, err);
	if (rc)
		return rc;
	struct buf why = BUF_INIT;
	buf_addf(&why, "%s by %s%s%s", approve ? "approved" : "rejected", approver, rationale && *rationale ? ": " : "",
		 rationale ? rationale : "");
	rc = run_move(run.doc, approve ? EV_START : EV_REJECT, why.data, err);
	if (!rc) {
		json_object_set_new(run.doc, approve ? "approved_by" : "rejected_by", json_string(approver));
		rc = run_save(r, &run, approver, approve ? "remedy.run.approve" : "remedy.run.reject", why.data, err);
	}
	if (!rc) {
		timeline(r, run.doc, why.data);
		if (approve)
			runner_push(r, id);
	}
	buf_release(&why);
	json_decref(run.doc);
	return rc;
}

int remedy_run_cancel(struct remedy *r, const char *id, const char *actor, const char *rationale, struct buf *err)
{
	struct run run = { 0 };
	int rc = run_load(r, id, &run, err);
	if (rc == OODA_ENOTFOUND) {
		buf_reset(err);
		buf_addf(err, "id: no remediation run \"%s\"", id);
	}
	if (rc)
		return rc;
	struct buf why = BUF_INIT;
	buf_addf(&why, "cancelled by %s%s%s", actor, rationale && *rationale ? ": " : "", rationale ? rationale : "");
	rc = run_move(run.doc, EV_CANCEL, why.data, err);
	if (!rc)
		rc = run_save(r, &run, actor, "remedy.run.cancel", why.data, err);
	if (!rc)
		timeline(r, run.doc, why.data);
	buf_release(&why);
	json_decref(run.doc);
	return rc;
}

static json_t *pol_json(struct remedy *r, const struct pol *p)
{
	const struct policy_guardrails *g = &p->p.guard;
	char c[32], w[32];
	dur_text(g->cooldown_ns, c);
	dur_text(g->window_ns, w);
	int failed = 0;
	for (size_t i = r->n_runs; i-- > 0;) {
		const struct run_mem *m = &r->runs[i];
		if (strcmp(m->policy, p->p.name) || m->policy_version != p->version || !m->acted ||
		    !run_state_terminal(m->state))
			continue;
		if (!state_failed(m->state))
			break;
		failed++;
	}
	return json_pack("{ss sI ss ss s{ss ss si si si si} sb sO}", "name", p->p.name, "version", (json_int_t)p->version,
			 "author", p->author, "mode", policy_mode_name(p->p.mode), "guardrails", "cooldown", c, "window", w,
			 "max_runs", g->max_runs, "max_concurrent", g->max_concurrent, "max_services", g->max_services,
			 "breaker", g->breaker, "breaker_open", failed >= g->breaker, "doc", p->p.doc);
}

int remedy_policies_json(struct remedy *r, struct buf *out, struct buf *err)
{
	(void)err;
	json_t *list = json_array();
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n_pols; i++)
		json_array_append_new(list, pol_json(r, &r->pols[i]));
	pthread_mutex_unlock(&r->mu);
	json_t *o = json_pack("{so}", "policies", list);
	char *text = json_dumps(o, JSON_COMPACT);
	buf_adds(out, text);
	free(text);
	json_decref(o);
	return 0;
}

int remedy_policy_json(struct remedy *r, const char *name, struct buf *out, struct buf *err)
{
	json_t *p = NULL;
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n_pols && !p; i++)
		if (!strcmp(r->pols[i].p.name, name))
			p = pol_json(r, &r->pols[i]);
	pthread_mutex_unlock(&r->mu);
	if (!p) {
		buf_addf(err, "name: no remediation policy \"%s\"", name);
		return OODA_ENOTFOUND;
	}
	struct buf h = BUF_INIT;
	if (!vdoc_history_json(r->store, POLICY_KIND, name, false, &h, err))
		json_object_set_new(p, "history", json_loads(h.data, 0, NULL));
	buf_reset(err);
	buf_release(&h);
	char *text = json_dumps(p, JSON_COMPACT);
	buf_adds(out, text);
	free(text);
	json_decref(p);
	return 0;
}

/* Version v of policy name as JSON text (caller releases d). */
static int policy_version_get(struct remedy *r, const char *name, int64_t v, struct vdoc *d, struct buf *err)
{
	int rc = vdoc_get(r->store, POLICY_KIND, name, v, d, err);
	if (rc == OODA_ENOTFOUND) {
		buf_reset(err);
		buf_addf(err, v ? "to: policy \"%s\" has no version %lld" : "name: no remediation policy \"%s\"", name,
			 (long long)v);
	} else if (!rc && d->deleted) {
		vdoc_release(d);
		buf_addf(err, "to: version %lld of policy \"%s\" is a deletion", (long long)v, name);
		rc = OODA_EINVAL;
	}
	return rc;
}

int remedy_policy_diff(struct remedy *r, const char *name, int64_t a, int64_t b, struct buf *out, struct buf *err)
{
	struct vdoc x, y;
	int rc = policy_version_get(r, name, a, &x, err);
	if (rc)
		return rc;
	if ((rc = policy_version_get(r, name, b, &y, err))) {
		vdoc_release(&x);
		return rc;
	}
	vdoc_diff(x.body, x.body_len, y.body, y.body_len, out);
	vdoc_release(&x);
	vdoc_release(&y);
	return 0;
}

int remedy_policy_rollback(struct remedy *r, const char *name, int64_t to, const char *actor, const char *rationale,
			   int64_t *version, struct buf *err)
{
	if (to <= 0) {
		buf_adds(err, "to: a version number (1, 2, …)");
		return OODA_EINVAL;
	}
	struct vdoc d;
	int rc = policy_version_get(r, name, to, &d, err);
	if (rc)
		return rc;
	json_t *doc = json_loadb(d.body, d.body_len, 0, NULL);
	vdoc_release(&d);
	struct buf why = BUF_INIT;
	buf_addf(&why, "rollback to v%lld%s%s", (long long)to, rationale && *rationale ? ": " : "", rationale ? rationale : "");
	rc = doc ? remedy_policy_apply(r, doc, actor, why.data, version, err) : OODA_EINTERNAL;
	buf_release(&why);
	json_decref(doc);
	return rc;
}

int remedy_pause(struct remedy *r, bool paused, const char *actor, const char *reason, struct buf *err)
{
	if (paused && (!reason || !*reason || strlen(reason) > 1024)) {
		buf_adds(err, "reason: pausing the automation needs a reason (at most 1024 bytes)");
		return OODA_EINVAL;
	}
	char at[40];
	now_text(at);
	json_t *a = json_pack("{sb ss ss ss}", "paused", paused, "reason", reason ? reason : "", "by", actor, "at", at);
	char *body = json_dumps(a, JSON_COMPACT);
	struct vdoc_write w = { .kind = AUTOMATION_KIND, .key = "global", .body = body, .body_len = strlen(body),
				.expect_version = -1, .actor = actor, .rationale = reason ? reason : "",
				.action = paused ? "automation.pause" : "automation.resume", .target = "automation/global" };
	int rc = vdoc_put(r->store, r->sg, &w, err);
	free(body);
	json_decref(a);
	if (rc)
		return rc;
	pthread_mutex_lock(&r->mu);
	r->paused = paused;
	free(r->pause_reason);
	free(r->pause_by);
	free(r->pause_at);
	r->pause_reason = xstrdup(reason ? reason : "");
	r->pause_by = xstrdup(actor);
	r->pause_at = xstrdup(at);
	pthread_mutex_unlock(&r->mu);
	log_info("automation %s by %s: %s", paused ? "paused" : "resumed", actor, reason ? reason : "");
	return 0;
}

void remedy_automation_json(struct remedy *r, struct buf *out)
{
	pthread_mutex_lock(&r->mu);
	int active = 0;
	for (size_t i = 0; i < r->n_runs; i++)
		active += r->runs[i].acted && !run_state_terminal(r->runs[i].state);
	json_t *j = json_pack("{sb ss? ss? ss? si si si}", "paused", r->paused, "reason", r->pause_reason, "by", r->pause_by,
			      "at", r->pause_at, "active_runs", active, "policies", (int)r->n_pols, "held_triggers",
			      (int)r->n_holds);
	pthread_mutex_unlock(&r->mu);
	char *text = json_dumps(j, JSON_COMPACT);
	buf_adds(out, text);
	free(text);
	json_decref(j);
}

/* ---- runs a person starts (runbooks) ------------------------------------------- */

/* The one-step policy a runbook's automated step is checked and run as. */
static int manual_policy(struct remedy *r, const json_t *step, const char *path, struct remedy_policy *p,
			 struct buf *err)
{
	json_t *doc = json_pack("{ss s{ss} s[O] ss sb ss}", "name", "runbook", "when", "service", "runbook", "do", step,
				"mode", "auto", "irreversible_ok", true, "rationale", "a runbook step a person starts");
	pthread_mutex_lock(&r->mu);
	json_t *hosts = json_incref(r->allow_hosts);
	pthread_mutex_unlock(&r->mu);
	int rc = doc ? policy_load(doc, hosts, path, p, err) : OODA_EINVAL;
	json_decref(hosts);
	json_decref(doc);
	return rc;
}

int remedy_steps_plan(struct remedy *r, const json_t *step, const char *path, json_t **describe, struct buf *err)
{
	*describe = NULL;
	struct remedy_policy p;
	int rc = manual_policy(r, step, path, &p, err);
	if (rc)
		return rc;
	json_t *plan = NULL;
	rc = plan_build(&p, &plan, describe, err);
	json_decref(plan);
	policy_release(&p);
	return rc;
}

int remedy_run_manual(struct remedy *r, const struct remedy_manual_run *m, struct buf *err)
{
	pthread_mutex_lock(&r->mu);
	bool paused = r->paused;
	pthread_mutex_unlock(&r->mu);
	if (paused) {
		buf_adds(err, "automation is paused (ooda automation status): the automated step did not start");
		return OODA_ECONFLICT;
	}
	struct remedy_policy p;
	int rc = manual_policy(r, m->step, "step", &p, err);
	if (rc)
		return rc;
	json_t *plan = NULL, *steps = NULL;
	rc = plan_build(&p, &plan, &steps, err);
	policy_release(&p);
	if (rc)
		return rc;
	int64_t now = ooda_now_ns();
	char at[40];
	ooda_time_format(now, at, sizeof(at));
	struct run run = { .version = 0 };
	run.doc = json_pack("{ss ss sI ss ss ss s{ss ss ss* sI} ss* ss ss ss sI so so sI so sb ss ss}", "id", m->id,
			    "policy", m->policy, "policy_version", (json_int_t)m->version, "policy_author", m->started_by,
			    "actor", m->actor, "key", m->id, "trigger", "kind", "manual", "ref", m->started_by, "incident",
			    m->incident, "at_ns", (json_int_t)now, "incident", m->incident, "mode", "auto", "status",
			    run_state_name(RUN_PENDING), "created", at, "created_unix_nano", (json_int_t)now, "plan", plan,
			    "steps", steps, "expect_timeout_ns", (json_int_t)0, "history", json_array(), "acted", true,
			    "rationale", m->rationale ? m->rationale : "", "started_by", m->started_by);
	if (run.doc && m->walk)
		json_object_set_new(run.doc, "runbook_run", json_string(m->walk));
	if (!run.doc) {
		buf_adds(err, "run: not built (a string is not UTF-8)");
		return OODA_EINVAL;
	}
	json_t *one = json_pack("[O]", m->step);
	json_object_set_new(run.doc, "recipes", recipes_of(one));
	json_decref(one);
	run_move(run.doc, EV_START, NULL, err);
	rc = run_save(r, &run, m->started_by, "remedy.run.create", m->rationale ? m->rationale : "", err);
	if (rc == OODA_EPRECOND) {
		buf_reset(err);
		buf_addf(err, "run %s exists already", m->id);
		rc = OODA_ECONFLICT;
	}
	if (!rc) {
		struct buf text = BUF_INIT;
		buf_addf(&text, "remediation %s started by %s as %s: %s", m->id, m->started_by, m->actor,
			 m->rationale ? m->rationale : "");
		timeline(r, run.doc, text.data);
		buf_release(&text);
		runner_push(r, m->id);
	}
	json_decref(run.doc);
	return rc;
}

int remedy_note(struct remedy *r, const char *incident, const char *kind, const char *actor, const char *text,
		const json_t *data, struct buf *err)
{
	if (!incident || !r->hooks.annotate)
		return 0;
	return r->hooks.annotate(r->hooks.ctx, incident, kind, actor, text, data, err);
}

struct store *remedy_store(struct remedy *r)
{
	return r->store;
}

const struct audit_signer *remedy_signer(struct remedy *r)
{
	return r->sg;
}
