/*
 * Runbooks as versioned documents and their walks (runbook_run.h). The
 * parser is runbook.c; the automated steps run on the remedy engine
 * (remedy_run_manual), so this file only keeps documents and decides which
 * step comes next.
 */
#include "remedy/runbook_run.h"

#include "audit/docwrite.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "core/xalloc.h"
#include "remedy/run.h"
#include "remedy/runbook.h"
#include "store/vdoc.h"

#include <string.h>

#define RUNBOOK_KIND "runbook"
#define WALK_KIND "runbook-run"

static const char *jstr(const json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

static void dump_to(json_t *j, struct buf *out)
{
	char *t = json_dumps(j, JSON_COMPACT);
	buf_adds(out, t ? t : "null");
	free(t);
}

/* ---- checking and storing ----------------------------------------------- */

int runbook_check_text(struct remedy *r, const char *text, size_t len, json_t **out, struct buf *err)
{
	*out = NULL;
	json_t *doc = NULL;
	int rc = runbook_parse(text, len, &doc, err);
	if (rc)
		return rc;
	json_t *steps = json_array();
	int first = 0;
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(doc, "steps"), i, s) {
		json_t *row = json_pack("{sO sO sO}", "n", json_object_get(s, "n"), "kind", json_object_get(s, "kind"),
					"text", json_object_get(s, "text"));
		const json_t *step = json_object_get(s, "step");
		if (step) {
			char path[32];
			snprintf(path, sizeof(path), "steps[%zu]", i + 1);
			struct buf e = BUF_INIT;
			json_t *plan = NULL;
			if (remedy_steps_plan(r, step, path, &plan, &e)) {
				json_object_set_new(row, "error", json_string(e.data ? e.data : "refused"));
				if (!first++)
					buf_adds(err, e.data ? e.data : "refused");
			} else {
				json_object_set_new(row, "plan", plan);
			}
			buf_release(&e);
		}
		json_array_append_new(steps, row);
	}
	*out = json_pack("{sO sb so}", "name", json_object_get(doc, "name"), "ok", !first, "steps", steps);
	json_decref(doc);
	return first ? OODA_EINVAL : 0;
}

static int latest(struct remedy *r, const char *name, int64_t v, struct vdoc *d, struct buf *err)
{
	int rc = vdoc_get(remedy_store(r), RUNBOOK_KIND, name, v, d, err);
	if (rc == OODA_ENOTFOUND) {
		buf_reset(err);
		buf_addf(err, v ? "version: runbook \"%s\" has no version %lld" : "name: no runbook \"%s\"", name,
			 (long long)v);
	} else if (!rc && d->deleted) {
		vdoc_release(d);
		buf_addf(err, "name: runbook \"%s\" was deleted", name);
		rc = OODA_ENOTFOUND;
	}
	return rc;
}

int runbook_check(struct remedy *r, const char *name, json_t **out, struct buf *err)
{
	*out = NULL;
	struct vdoc d;
	int rc = latest(r, name, 0, &d, err);
	if (rc)
		return rc;
	json_t *doc = json_loadb(d.body, d.body_len, 0, NULL);
	const char *src = jstr(doc, "source");
	rc = src ? runbook_check_text(r, src, json_string_length(json_object_get(doc, "source")), out, err)
		 : OODA_EINTERNAL;
	if (*out)
		json_object_set_new(*out, "version", json_integer(d.version));
	json_decref(doc);
	vdoc_release(&d);
	return rc;
}

int runbook_apply(struct remedy *r, const char *text, size_t len, const char *actor, const char *rationale,
		  int64_t *version, struct buf *err)
{
	json_t *report = NULL, *doc = NULL;
	int rc = runbook_check_text(r, text, len, &report, err);
	json_decref(report);
	if (rc)
		return rc;
	runbook_parse(text, len, &doc, err);
	const char *name = jstr(doc, "name");
	struct vdoc cur;
	int64_t expect = 0;
	rc = vdoc_get(remedy_store(r), RUNBOOK_KIND, name, 0, &cur, err);
	if (rc == OODA_ENOTFOUND) {
		buf_reset(err);
	} else if (rc) {
		json_decref(doc);
		return rc;
	} else {
		expect = cur.version;
		json_t *old = json_loadb(cur.body, cur.body_len, 0, NULL);
		bool same = !cur.deleted && old && json_equal(old, doc);
		json_decref(old);
		*version = cur.version;
		vdoc_release(&cur);
		if (same) {
			json_decref(doc);
			return 0;
		}
	}
	char *body = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	char target[160];
	snprintf(target, sizeof(target), "runbook/%s", name);
	struct vdoc_write w = { .kind = RUNBOOK_KIND, .key = name, .body = body, .body_len = strlen(body),
				.expect_version = expect, .actor = actor, .rationale = rationale ? rationale : "",
				.action = "runbook.apply", .target = target };
	rc = vdoc_put(remedy_store(r), remedy_signer(r), &w, err);
	free(body);
	json_decref(doc);
	if (!rc)
		*version = w.version;
	return rc;
}

/* ---- reading -------------------------------------------------------------- */

struct list_ctx {
	const char *service, *template_;
	json_t *out;
};

static bool holds(const json_t *list, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
		if (json_string_value(v) && !strcmp(json_string_value(v), name))
			return true;
	return false;
}

static int list_row(void *ctx, const void *row)
{
	const struct doc_row *d = row;
	struct list_ctx *l = ctx;
	json_t *doc = json_loadb(d->body, d->body_len, 0, NULL);
	if (doc && (!l->service || holds(json_object_get(doc, "services"), l->service)) &&
	    (!l->template_ || holds(json_object_get(doc, "templates"), l->template_)))
		json_array_append_new(l->out, json_pack("{sO sO* sI ss sO sO si}", "name", json_object_get(doc, "name"),
							"title", json_object_get(doc, "title"), "version",
							(json_int_t)d->version, "author", d->author ? d->author : "",
							"services", json_object_get(doc, "services"), "templates",
							json_object_get(doc, "templates"), "steps",
							(int)json_array_size(json_object_get(doc, "steps"))));
	json_decref(doc);
	return 0;
}

int runbook_list_json(struct remedy *r, const char *service, const char *template_, struct buf *out,
		      struct buf *err)
{
	struct list_ctx l = { service, template_, json_array() };
	int rc = vdoc_list(remedy_store(r), RUNBOOK_KIND, "", list_row, &l);
	if (rc) {
		buf_adds(err, "runbooks cannot be read");
		json_decref(l.out);
		return rc;
	}
	json_t *j = json_pack("{so}", "runbooks", l.out);
	dump_to(j, out);
	json_decref(j);
	return 0;
}

int runbook_get_json(struct remedy *r, const char *name, int64_t version, struct buf *out, struct buf *err)
{
	struct vdoc d;
	int rc = latest(r, name, version, &d, err);
	if (rc)
		return rc;
	json_t *doc = json_loadb(d.body, d.body_len, 0, NULL);
	json_t *j = json_pack("{sI ss ss so*}", "version", (json_int_t)d.version, "author", d.author ? d.author : "",
			      "rationale", d.rationale ? d.rationale : "", "runbook", doc);
	vdoc_release(&d);
	struct buf h = BUF_INIT;
	if (!vdoc_history_json(remedy_store(r), RUNBOOK_KIND, name, false, &h, err))
		json_object_set_new(j, "history", json_loads(h.data, 0, NULL));
	buf_reset(err);
	buf_release(&h);
	dump_to(j, out);
	json_decref(j);
	return 0;
}

int runbook_diff(struct remedy *r, const char *name, int64_t a, int64_t b, struct buf *out, struct buf *err)
{
	struct vdoc x, y;
	int rc = latest(r, name, b, &y, err);
	if (rc)
		return rc;
	if (!a)
		a = y.version > 1 ? y.version - 1 : y.version;
	if ((rc = latest(r, name, a, &x, err))) {
		vdoc_release(&y);
		return rc;
	}
	/* the Markdown is what people wrote: diff it rather than the parsed form */
	json_t *jx = json_loadb(x.body, x.body_len, 0, NULL), *jy = json_loadb(y.body, y.body_len, 0, NULL);
	const char *sx = jstr(jx, "source"), *sy = jstr(jy, "source");
	json_t *ax = json_pack("{ss}", "source", sx ? sx : ""), *ay = json_pack("{ss}", "source", sy ? sy : "");
	char *tx = json_dumps(ax, 0), *ty = json_dumps(ay, 0);
	vdoc_diff(tx, strlen(tx), ty, strlen(ty), out);
	free(tx);
	free(ty);
	json_decref(ax);
	json_decref(ay);
	json_decref(jx);
	json_decref(jy);
	vdoc_release(&x);
	vdoc_release(&y);
	return 0;
}

int runbook_rollback(struct remedy *r, const char *name, int64_t to, const char *actor, const char *rationale,
		     int64_t *version, struct buf *err)
{
	if (to <= 0) {
		buf_adds(err, "to: a version number (1, 2, …)");
		return OODA_EINVAL;
	}
	struct vdoc d;
	int rc = latest(r, name, to, &d, err);
	if (rc)
		return rc;
	json_t *doc = json_loadb(d.body, d.body_len, 0, NULL);
	vdoc_release(&d);
	const char *src = jstr(doc, "source");
	struct buf why = BUF_INIT;
	buf_addf(&why, "rollback to v%lld%s%s", (long long)to, rationale && *rationale ? ": " : "",
		 rationale ? rationale : "");
	rc = src ? runbook_apply(r, src, json_string_length(json_object_get(doc, "source")), actor, why.data, version,
				 err)
		 : OODA_EINTERNAL;
	buf_release(&why);
	json_decref(doc);
	return rc;
}

/* ---- walking ----------------------------------------------------------------- */

static int walk_save(struct remedy *r, json_t *walk, int64_t *version, const char *actor, const char *action,
		     const char *rationale, struct buf *err)
{
	char at[40];
	ooda_time_format(ooda_now_ns(), at, sizeof(at));
	json_object_set_new(walk, "updated", json_string(at));
	char *body = json_dumps(walk, JSON_COMPACT);
	char target[64];
	snprintf(target, sizeof(target), "runbook-run/%s", jstr(walk, "id"));
	struct vdoc_write w = { .kind = WALK_KIND, .key = jstr(walk, "id"), .body = body, .body_len = strlen(body),
				.status = jstr(walk, "status"), .expect_version = *version, .actor = actor,
				.rationale = rationale ? rationale : "", .action = action, .target = target };
	int rc = vdoc_put(remedy_store(r), remedy_signer(r), &w, err);
	free(body);
	if (rc == OODA_EPRECOND) {
		buf_reset(err);
		buf_addf(err, "runbook run %s changed meanwhile: try again", jstr(walk, "id"));
		rc = OODA_ECONFLICT;
	}
	if (!rc)
		*version = w.version;
	return rc;
}

/* The stored status of run id ("running", "succeeded", …); "" when it cannot be read. */
static void run_status(struct remedy *r, const char *id, char *out, size_t size)
{
	struct buf rj = BUF_INIT, e = BUF_INIT;
	out[0] = 0;
	if (!remedy_run_json(r, id, &rj, &e)) {
		json_t *doc = json_loads(rj.data, 0, NULL);
		snprintf(out, size, "%s", jstr(doc, "status") ? jstr(doc, "status") : "");
		json_decref(doc);
	}
	buf_release(&rj);
	buf_release(&e);
}

/* Whether a run in state st is over: nothing moves it any more (run.h). */
static bool run_over(const char *st)
{
	int s = run_state_parse(st);
	return s >= 0 && run_state_terminal((enum run_state)s);
}

/*
 * Walks on from the first step not finished, in order:
 *
 *   manual     pending ──runbook_step_done──> done
 *   automated  pending ──(started here)──> started ──its run succeeded──> done
 *                                                 └──its run ended else──> failed (the walk stops)
 *
 * A manual step not done, or an automated step whose run is not over,
 * blocks the steps after it: at most one automated step runs at a time, and
 * the next manual one is offered once it succeeded. remedy.c calls
 * runbook_walk_poke when a walk's run ends, which lands here again. A step
 * whose run cannot start (automation paused) is "not-started" and, like a
 * failed one, stops the walk. Sets the walk's status: "in-progress",
 * "stopped" or "walked" when nothing is left. The run ids are derived from
 * the walk and the step, so a second start of the same step (a poke racing
 * the walk's own save) finds the run that exists.
 */
static void walk_advance(struct remedy *r, json_t *walk, const char *person)
{
	json_t *steps = json_object_get(walk, "steps");
	char actor[200];
	snprintf(actor, sizeof(actor), "runbook:%s@v%lld", jstr(walk, "runbook"),
		 (long long)json_integer_value(json_object_get(walk, "version")));
	size_t i;
	json_t *s;
	bool blocked = false, stopped = false;
	json_array_foreach(steps, i, s) {
		const char *st = jstr(s, "status");
		if (!strcmp(jstr(s, "kind"), "manual")) {
			if (strcmp(st, "done")) {
				blocked = true;
				break;
			}
			continue;
		}
		if (!strcmp(st, "done"))
			continue;
		if (!strcmp(st, "failed") || !strcmp(st, "not-started")) {
			stopped = true;
			break;
		}
		if (!strcmp(st, "started")) {
			char rs[32];
			run_status(r, jstr(s, "run"), rs, sizeof(rs));
			if (!run_over(rs)) {
				blocked = true;
				break;
			}
			json_object_set_new(s, "status", json_string(strcmp(rs, "succeeded") ? "failed" : "done"));
			json_object_set_new(s, "ended_as", json_string(rs));
			if (strcmp(rs, "succeeded")) {
				stopped = true;
				break;
			}
			continue;
		}
		char key[256], hex[65], id[24];
		snprintf(key, sizeof(key), "%s|%zu", jstr(walk, "id"), i + 1);
		audit_digest_hex(key, strlen(key), hex);
		snprintf(id, sizeof(id), "run-%.16s", hex);
		struct buf why = BUF_INIT, err = BUF_INIT;
		buf_addf(&why, "runbook %s step %zu (%s), started by %s", jstr(walk, "runbook"), i + 1, jstr(s, "text"),
			 person);
		struct remedy_manual_run m = { .id = id, .policy = json_string_value(json_object_get(walk, "policy")),
					       .version = json_integer_value(json_object_get(walk, "version")),
					       .actor = actor, .started_by = person, .incident = jstr(walk, "incident"),
					       .step = json_object_get(s, "step"), .rationale = why.data,
					       .walk = jstr(walk, "id") };
		int rc = remedy_run_manual(r, &m, &err);
		char exists[32];
		if (rc == OODA_ECONFLICT)
			run_status(r, id, exists, sizeof(exists));
		if (rc == OODA_ECONFLICT && *exists)
			rc = 0; /* started already, by a poke that read the walk before this step was saved */
		char at[40];
		ooda_time_format(ooda_now_ns(), at, sizeof(at));
		json_object_set_new(s, "started_by", json_string(person));
		json_object_set_new(s, "started", json_string(at));
		buf_release(&why);
		if (rc) {
			json_object_set_new(s, "status", json_string("not-started"));
			json_object_set_new(s, "error", json_string(err.data ? err.data : ooda_strerror(rc)));
			buf_release(&err);
			stopped = true;
			break;
		}
		buf_release(&err);
		json_object_set_new(s, "status", json_string("started"));
		json_object_set_new(s, "run", json_string(id));
		blocked = true; /* the steps after it wait for its run (runbook_walk_poke) */
		break;
	}
	json_object_set_new(walk, "status", json_string(stopped ? "stopped" : blocked ? "in-progress" : "walked"));
}

static int walk_load(struct remedy *r, const char *id, json_t **walk, int64_t *version, struct buf *err);

/*
 * Loads walk id, walks on (walk_advance) as person and saves it; a save that
 * finds the walk changed meanwhile (a poke and a person at once) loads it
 * again, up to 8 times.
 */
static int walk_on(struct remedy *r, const char *id, const char *person, const char *rationale, struct buf *err)
{
	int rc = OODA_ECONFLICT;
	for (int attempt = 0; attempt < 8 && rc == OODA_ECONFLICT; attempt++) {
		json_t *walk;
		int64_t version;
		buf_reset(err);
		rc = walk_load(r, id, &walk, &version, err);
		if (rc)
			return rc;
		walk_advance(r, walk, person);
		rc = walk_save(r, walk, &version, person, "runbook.run.advance", rationale, err);
		json_decref(walk);
	}
	return rc;
}

void runbook_walk_poke(struct remedy *r, const char *walk, const char *run, const char *person)
{
	struct buf why = BUF_INIT, err = BUF_INIT;
	buf_addf(&why, "run %s is over: the steps after it", run);
	int rc = walk_on(r, walk, person, why.data, &err);
	if (rc)
		log_warn("runbook run %s: not walked on after run %s: %s", walk, run, err.data);
	buf_release(&why);
	buf_release(&err);
}

int runbook_run_start(struct remedy *r, const char *name, const char *incident, const char *actor,
		      const char *rationale, struct buf *out, struct buf *err)
{
	if (!incident || !*incident || strlen(incident) > 128) {
		buf_adds(err, "incident: the incident the runbook is walked on (its id)");
		return OODA_EINVAL;
	}
	struct vdoc d;
	int rc = latest(r, name, 0, &d, err);
	if (rc)
		return rc;
	json_t *doc = json_loadb(d.body, d.body_len, 0, NULL);
	int64_t rv = d.version;
	vdoc_release(&d);
	if (!doc) {
		buf_addf(err, "runbook %s: stored document is not JSON", name);
		return OODA_EINTERNAL;
	}
	int64_t now = ooda_now_ns();
	char key[512], hex[65], id[24], at[40];
	snprintf(key, sizeof(key), "%s|%lld|%s|%s|%lld", name, (long long)rv, incident, actor, (long long)now);
	audit_digest_hex(key, strlen(key), hex);
	snprintf(id, sizeof(id), "rbr-%.16s", hex);
	ooda_time_format(now, at, sizeof(at));
	struct buf text = BUF_INIT;
	buf_addf(&text, "runbook %s v%lld started by %s (%s)", name, (long long)rv, actor, id);
	json_t *data = json_pack("{ss ss sI}", "runbook_run", id, "runbook", name, "version", (json_int_t)rv);
	rc = remedy_note(r, incident, "remediation", actor, text.data, data, err);
	json_decref(data);
	buf_release(&text);
	if (rc) {
		json_decref(doc);
		return rc;
	}
	char policy[160];
	snprintf(policy, sizeof(policy), "runbook:%s", name);
	json_t *steps = json_array();
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(doc, "steps"), i, s)
		json_array_append_new(steps, json_pack("{sO sO sO sO* ss}", "n", json_object_get(s, "n"), "kind",
						       json_object_get(s, "kind"), "text", json_object_get(s, "text"),
						       "step", json_object_get(s, "step"), "status", "pending"));
	json_t *walk = json_pack("{ss ss ss sI ss ss ss ss so}", "id", id, "runbook", name, "policy", policy, "version",
				 (json_int_t)rv, "incident", incident, "started_by", actor, "created", at, "status",
				 "in-progress", "steps", steps);
	json_decref(doc);
	int64_t version = 0;
	rc = walk_save(r, walk, &version, actor, "runbook.run.start", rationale, err);
	json_decref(walk);
	if (!rc)
		rc = walk_on(r, id, actor, "automated steps started", err);
	return rc ? rc : runbook_run_json(r, id, out, err);
}

static int walk_load(struct remedy *r, const char *id, json_t **walk, int64_t *version, struct buf *err)
{
	struct vdoc d;
	int rc = vdoc_get(remedy_store(r), WALK_KIND, id, 0, &d, err);
	if (rc == OODA_ENOTFOUND) {
		buf_reset(err);
		buf_addf(err, "id: no runbook run \"%s\"", id);
	}
	if (rc)
		return rc;
	*walk = json_loadb(d.body, d.body_len, 0, NULL);
	*version = d.version;
	vdoc_release(&d);
	if (!*walk) {
		buf_addf(err, "runbook run %s: stored document is not JSON", id);
		return OODA_EINTERNAL;
	}
	return 0;
}

int runbook_run_json(struct remedy *r, const char *id, struct buf *out, struct buf *err)
{
	json_t *walk;
	int64_t version;
	int rc = walk_load(r, id, &walk, &version, err);
	if (rc)
		return rc;
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(walk, "steps"), i, s) {
		const char *run = jstr(s, "run");
		struct buf rj = BUF_INIT, e = BUF_INIT;
		if (run && !remedy_run_json(r, run, &rj, &e)) {
			json_t *doc = json_loads(rj.data, 0, NULL);
			json_object_set(s, "run_status", json_object_get(doc, "status") ? json_object_get(doc, "status")
											  : json_null());
			json_object_set(s, "run_steps", json_object_get(doc, "steps") ? json_object_get(doc, "steps")
										       : json_array());
			json_decref(doc);
		}
		buf_release(&rj);
		buf_release(&e);
	}
	json_object_set_new(walk, "doc_version", json_integer(version));
	dump_to(walk, out);
	json_decref(walk);
	return 0;
}

int runbook_step_done(struct remedy *r, const char *id, int n, const char *actor, const char *note,
		      struct buf *out, struct buf *err)
{
	if (note && strlen(note) > 1024) {
		buf_adds(err, "note: at most 1024 bytes");
		return OODA_EINVAL;
	}
	json_t *walk;
	int64_t version;
	int rc = walk_load(r, id, &walk, &version, err);
	if (rc)
		return rc;
	json_t *steps = json_object_get(walk, "steps");
	json_t *s = n >= 1 ? json_array_get(steps, (size_t)n - 1) : NULL;
	if (!s) {
		buf_addf(err, "n: runbook run %s has steps 1 to %zu", id, json_array_size(steps));
		rc = OODA_EINVAL;
	} else if (strcmp(jstr(s, "kind"), "manual")) {
		buf_addf(err, "n: step %d is automated: it runs by itself (its run is %s)", n,
			 jstr(s, "run") ? jstr(s, "run") : "not started yet");
		rc = OODA_EINVAL;
	} else if (!strcmp(jstr(s, "status"), "done")) {
		buf_addf(err, "n: step %d was done by %s at %s", n, jstr(s, "done_by"), jstr(s, "done_at"));
		rc = OODA_ECONFLICT;
	}
	if (rc) {
		json_decref(walk);
		return rc;
	}
	char at[40];
	ooda_time_format(ooda_now_ns(), at, sizeof(at));
	json_object_set_new(s, "status", json_string("done"));
	json_object_set_new(s, "done_by", json_string(actor));
	json_object_set_new(s, "done_at", json_string(at));
	if (note && *note)
		json_object_set_new(s, "note", json_string(note));
	struct buf text = BUF_INIT;
	buf_addf(&text, "runbook %s step %d done by %s: %s%s%s", jstr(walk, "runbook"), n, actor, jstr(s, "text"),
		 note && *note ? " — " : "", note && *note ? note : "");
	rc = walk_save(r, walk, &version, actor, "runbook.step.done", text.data, err);
	if (!rc) {
		json_t *data = json_pack("{ss ss si}", "runbook_run", id, "runbook", jstr(walk, "runbook"), "step", n);
		struct buf e = BUF_INIT;
		remedy_note(r, jstr(walk, "incident"), "remediation", actor, text.data, data, &e);
		buf_release(&e);
		json_decref(data);
		rc = walk_on(r, id, actor, "the steps after it", err);
	}
	buf_release(&text);
	json_decref(walk);
	return rc ? rc : runbook_run_json(r, id, out, err);
}
