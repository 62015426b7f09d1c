/*
 * Working on an incident together: annotations (markdown), hypotheses with
 * evidence and a decision, artifacts (bytes kept with their SHA-256 and
 * checked on every download), and public status updates with the status
 * page that shows them. Each is a change of the incident (incident.c):
 * one transaction with its timeline entry and audit record.
 */
#include "respond/incident_priv.h"
#include "core/error.h"
#include "core/time.h"
#include "core/xalloc.h"
#include "model/jsontime.h"

#include <math.h>
#include <string.h>

static int text_ok(const char *what, const char *s, struct buf *err)
{
	if (!s || !*s || strlen(s) > INCIDENTS_MAX_TEXT) {
		buf_addf(err, "%s: required, a string of at most 64 KiB", what);
		return OODA_EINVAL;
	}
	return 0;
}

int incidents_annotate(struct incidents *inc, const char *id, const char *markdown, const char *actor,
		       struct buf *out, struct buf *err)
{
	struct incident_change c;
	int rc = text_ok("markdown", markdown, err);
	if (rc || (rc = incident_begin(inc, id, actor, "incident.annotate", &c, err)))
		return rc;
	incident_entry(&c, "annotation", actor, markdown, json_pack("{s:s}", "markdown", markdown));
	c.out = json_incref(json_array_get(c.entries, 0));
	return incident_finish(inc, &c, 0, out, err);
}

/* ---- hypotheses ----------------------------------------------------------- */

static const char *const evidence_kinds[] = { "logs", "trace", "promql", "artifact", "link", NULL };

static int evidence_check(const json_t *ev, struct buf *err)
{
	if (!ev || json_is_null(ev))
		return 0;
	if (!json_is_array(ev) || json_array_size(ev) > 100) {
		buf_adds(err, "evidence: expected a list of at most 100 {kind, ref}");
		return OODA_EINVAL;
	}
	size_t i;
	const json_t *e;
	json_array_foreach(ev, i, e) {
		const char *kind = json_string_value(json_object_get(e, "kind"));
		const char *ref = json_string_value(json_object_get(e, "ref"));
		bool known = false;
		for (size_t k = 0; kind && evidence_kinds[k]; k++)
			known |= !strcmp(kind, evidence_kinds[k]);
		if (!known) {
			buf_addf(err, "evidence[%zu].kind: expected logs, trace, promql, artifact or link", i);
			return OODA_EINVAL;
		}
		if (!ref || !*ref || strlen(ref) > 4096) {
			buf_addf(err, "evidence[%zu].ref: required, a string of at most 4096 characters", i);
			return OODA_EINVAL;
		}
	}
	return 0;
}

int incidents_hypothesis_add(struct incidents *inc, const char *id, const json_t *req, const char *actor,
			     struct buf *out, struct buf *err)
{
	const char *statement = json_string_value(json_object_get(req, "statement"));
	const json_t *conf = json_object_get(req, "confidence"), *ev = json_object_get(req, "evidence");
	int rc = text_ok("statement", statement, err);
	double confidence = 0.5;
	if (!rc && conf && !json_is_null(conf)) {
		confidence = json_is_number(conf) ? json_number_value(conf) : NAN;
		if (!(confidence >= 0 && confidence <= 1)) {
			buf_adds(err, "confidence: expected a number from 0 to 1");
			rc = OODA_EINVAL;
		}
	}
	if (!rc)
		rc = evidence_check(ev, err);
	struct incident_change c;
	if (rc || (rc = incident_begin(inc, id, actor, "incident.hypothesis", &c, err)))
		return rc;
	json_t *hs = json_object_get(c.doc, "_hypotheses");
	if (!json_is_array(hs)) {
		hs = json_array();
		json_object_set_new(c.doc, "_hypotheses", hs);
	}
	char hid[32];
	snprintf(hid, sizeof(hid), "H%zu", json_array_size(hs) + 1);
	json_t *h = json_pack("{s:s, s:s, s:f, s:o, s:s, s:s, s:o, s:n, s:n}", "id", hid, "statement", statement,
			      "confidence", confidence, "evidence",
			      ev && !json_is_null(ev) ? json_deep_copy(ev) : json_array(), "state", "open", "created_by",
			      actor, "created_at", json_time(c.now_ns), "decided_by", "decided_at");
	json_array_append(hs, h);
	struct buf t = BUF_INIT;
	buf_addf(&t, "hypothesis %s: %s", hid, statement);
	incident_entry(&c, "hypothesis", actor, t.data, json_deep_copy(h));
	buf_release(&t);
	c.out = h;
	return incident_finish(inc, &c, 0, out, err);
}

int incidents_hypothesis_decide(struct incidents *inc, const char *id, const char *hid, const char *state,
				const char *note, const char *actor, struct buf *out, struct buf *err)
{
	if (!state || (strcmp(state, "confirmed") && strcmp(state, "rejected") && strcmp(state, "open"))) {
		buf_adds(err, "state: expected confirmed, rejected or open");
		return OODA_EINVAL;
	}
	if (note && strlen(note) > INCIDENTS_MAX_TEXT) {
		buf_adds(err, "note: at most 64 KiB");
		return OODA_EINVAL;
	}
	struct incident_change c;
	int rc = incident_begin(inc, id, actor, "incident.hypothesis", &c, err);
	if (rc)
		return rc;
	json_t *h = NULL;
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(c.doc, "_hypotheses"), i, x) {
		if (hid && !strcmp(json_string_value(json_object_get(x, "id")), hid))
			h = x;
	}
	if (!h) {
		buf_addf(err, "hypothesis \"%s\" not found", hid ? hid : "");
		return incident_finish(inc, &c, OODA_ENOTFOUND, out, err);
	}
	json_object_set_new(h, "state", json_string(state));
	bool open = !strcmp(state, "open");
	json_object_set_new(h, "decided_by", open ? json_null() : json_string(actor));
	json_object_set_new(h, "decided_at", open ? json_null() : json_time(c.now_ns));
	struct buf t = BUF_INIT;
	buf_addf(&t, "hypothesis %s %s%s%s", hid, state, note && *note ? ": " : "", note && *note ? note : "");
	incident_entry(&c, "hypothesis", actor, t.data, json_deep_copy(h));
	buf_release(&t);
	c.rationale = note;
	c.out = json_incref(h);
	return incident_finish(inc, &c, 0, out, err);
}

static int member_list_json(struct incidents *inc, const char *id, const char *field, const char *key,
			    struct buf *out, struct buf *err)
{
	json_t *doc;
	int rc = incident_load(inc, id, &doc, err);
	if (rc)
		return rc;
	json_t *arr = json_object_get(doc, field);
	json_t *o = json_pack("{s:o}", key, json_is_array(arr) ? json_incref(arr) : json_array());
	char *s = json_dumps(o, JSON_COMPACT);
	buf_adds(out, s);
	free(s);
	json_decref(o);
	json_decref(doc);
	return 0;
}

int incidents_hypotheses_json(struct incidents *inc, const char *id, struct buf *out, struct buf *err)
{
	return member_list_json(inc, id, "_hypotheses", "hypotheses", out, err);
}

/* ---- status updates ------------------------------------------------------- */

int incidents_status_update(struct incidents *inc, const char *id, const char *state, const char *message,
			    const char *actor, struct buf *out, struct buf *err)
{
	static const char *const states[] = { "investigating", "identified", "monitoring", "resolved", NULL };
	bool known = false;
	for (size_t i = 0; state && states[i]; i++)
		known |= !strcmp(state, states[i]);
	if (!known) {
		buf_adds(err, "state: expected investigating, identified, monitoring or resolved");
		return OODA_EINVAL;
	}
	struct incident_change c;
	int rc = text_ok("message", message, err);
	if (rc || (rc = incident_begin(inc, id, actor, "incident.status_update", &c, err)))
		return rc;
	json_t *ups = json_object_get(c.doc, "_status_updates");
	if (!json_is_array(ups)) {
		ups = json_array();
		json_object_set_new(c.doc, "_status_updates", ups);
	}
	json_t *u = json_pack("{s:s, s:s, s:s, s:o}", "state", state, "message", message, "by", actor, "at",
			      json_time(c.now_ns));
	json_array_append(ups, u);
	struct buf t = BUF_INIT;
	buf_addf(&t, "status update (%s): %s", state, message);
	incident_entry(&c, "status_update", actor, t.data, json_pack("{s:s, s:s}", "state", state, "message", message));
	buf_release(&t);
	c.out = u;
	return incident_finish(inc, &c, 0, out, err);
}

int incidents_status_updates_json(struct incidents *inc, const char *id, struct buf *out, struct buf *err)
{
	return member_list_json(inc, id, "_status_updates", "status_updates", out, err);
}

struct page_ctx {
	json_t *out;
	int64_t since_ns;
};

static int page_row(void *ctx, const void *row)
{
	struct page_ctx *p = ctx;
	const struct incident_row *r = row;
	json_t *d = json_loads(r->body, 0, NULL);
	json_t *ups = json_object_get(d, "_status_updates");
	bool recent = incident_status_open(r->status) ||
		      json_integer_value(json_object_get(d, "_resolved_ns")) >= p->since_ns;
	if (json_array_size(ups) && recent) {
		/* what the public sees: no team, commander, alerts or internal notes */
		json_array_append_new(p->out, json_pack("{s:O, s:O, s:s, s:s, s:O, s:O}", "id", json_object_get(d, "id"),
							 "title", json_object_get(d, "title"), "status", r->status,
							 "severity", r->severity, "service", json_object_get(d, "service"),
							 "updates", ups));
	}
	json_decref(d);
	return json_array_size(p->out) >= 100 ? 1 : 0;
}

int incidents_status_page_json(struct incidents *inc, struct buf *out, struct buf *err)
{
	pthread_mutex_lock(&inc->mu);
	bool on = inc->cfg.status_page;
	pthread_mutex_unlock(&inc->mu);
	if (!on) {
		buf_adds(err, "the status page is off (incidents.status_page: false)");
		return OODA_ENOTFOUND;
	}
	struct page_ctx p = { json_array(), ooda_now_ns() - 86400 * OODA_NS_PER_SEC };
	int rc = store_incident_iter(inc->store, page_row, &p);
	if (rc) {
		json_decref(p.out);
		buf_adds(err, "incidents cannot be read");
		return rc;
	}
	char t[40];
	json_t *o = json_pack("{s:s, s:o}", "generated_at", ooda_time_format(ooda_now_ns(), t, sizeof(t)), "incidents",
			      p.out);
	char *s = json_dumps(o, JSON_COMPACT);
	buf_adds(out, s);
	free(s);
	json_decref(o);
	return 0;
}

/* ---- artifacts ------------------------------------------------------------ */

static json_t *artifact_json(const struct incident_artifact_row *a)
{
	char aid[32];
	snprintf(aid, sizeof(aid), "A%lld", (long long)a->id);
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:o}", "id", aid, "name", a->name, "content_type",
			 a->content_type, "size", (json_int_t)a->size, "sha256", a->sha256, "uploaded_by",
			 a->uploaded_by, "uploaded_at", json_time(a->at_ns));
}

static bool name_ok(const char *name)
{
	if (!name || !*name || strlen(name) > 255 || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == '/' || *p == '\\' || *p == 0x7f)
			return false;
	return true;
}

int incidents_artifact_add(struct incidents *inc, const char *id, const char *name, const char *ctype,
			   const void *bytes, size_t len, const char *actor, struct buf *out, struct buf *err)
{
	if (!name_ok(name)) {
		buf_adds(err, "name: required, a file name of 1 to 255 characters without / or control characters");
		return OODA_EINVAL;
	}
	if (!ctype || !*ctype || strlen(ctype) > 200) {
		ctype = "application/octet-stream";
	}
	struct incident_change c;
	int rc = incident_begin(inc, id, actor, "incident.artifact", &c, err);
	if (rc)
		return rc;
	if ((int64_t)len > inc->cfg.max_artifact_bytes) {
		buf_addf(err, "artifact: %zu bytes is more than incidents.max_artifact_bytes (%lld)", len,
			 (long long)inc->cfg.max_artifact_bytes);
		return incident_finish(inc, &c, OODA_ETOOBIG, out, err);
	}
	char sha[65];
	audit_digest_hex(len ? bytes : "", len, sha);
	struct incident_artifact_row a = { .name = name, .content_type = ctype, .size = (int64_t)len, .sha256 = sha,
					   .uploaded_by = actor, .at_ns = c.now_ns, .bytes = bytes, .bytes_len = len };
	c.artifact = &a;
	struct buf t = BUF_INIT;
	buf_addf(&t, "artifact %s (%zu bytes)", name, len);
	incident_entry(&c, "artifact", actor, t.data,
		       json_pack("{s:s, s:s, s:I}", "name", name, "sha256", sha, "size", (json_int_t)len));
	buf_release(&t);
	/* the id is known once written: the listing is built after the write */
	rc = incident_finish(inc, &c, 0, NULL, err);
	if (!rc) {
		json_t *j = artifact_json(&a);
		char *s = json_dumps(j, JSON_COMPACT);
		buf_adds(out, s);
		free(s);
		json_decref(j);
	}
	return rc;
}

static int list_artifact(void *ctx, const void *row)
{
	json_array_append_new(ctx, artifact_json(row));
	return 0;
}

int incidents_artifacts_json(struct incidents *inc, const char *id, struct buf *out, struct buf *err)
{
	json_t *doc;
	int rc = incident_load(inc, id, &doc, err);
	if (rc)
		return rc;
	json_t *arr = json_array();
	rc = store_incident_artifact_iter(inc->store, json_integer_value(json_object_get(doc, "number")), list_artifact,
					  arr);
	json_decref(doc);
	if (rc) {
		json_decref(arr);
		buf_adds(err, "artifacts cannot be read");
		return rc;
	}
	json_t *o = json_pack("{s:o}", "artifacts", arr);
	char *s = json_dumps(o, JSON_COMPACT);
	buf_adds(out, s);
	free(s);
	json_decref(o);
	return 0;
}

struct fetch {
	struct buf *bytes;
	char *name, *ctype, *sha;
};

static int fetch_row(void *ctx, const void *row)
{
	struct fetch *f = ctx;
	const struct incident_artifact_row *a = row;
	buf_add(f->bytes, a->bytes, a->bytes_len);
	f->name = xstrdup(a->name);
	f->ctype = xstrdup(a->content_type);
	f->sha = xstrdup(a->sha256);
	return 1;
}

int incidents_artifact_get(struct incidents *inc, const char *id, const char *aid, struct buf *bytes, char **name,
			   char **ctype, struct buf *err)
{
	json_t *doc;
	int rc = incident_load(inc, id, &doc, err);
	if (rc)
		return rc;
	int64_t number = json_integer_value(json_object_get(doc, "number"));
	json_decref(doc);
	const char *p = aid && (aid[0] == 'A' || aid[0] == 'a') ? aid + 1 : aid;
	char *end = NULL;
	long long n = p && *p >= '1' && *p <= '9' ? strtoll(p, &end, 10) : 0;
	if (n <= 0 || !end || *end) {
		buf_addf(err, "artifact id \"%s\" is not A<number>", aid ? aid : "");
		return OODA_EINVAL;
	}
	struct fetch f = { .bytes = bytes };
	rc = store_incident_artifact_get(inc->store, number, n, fetch_row, &f);
	if (rc == OODA_ENOTFOUND)
		buf_addf(err, "artifact A%lld of INC-%lld not found", n, (long long)number);
	if (!rc) {
		char sha[65];
		audit_digest_hex(bytes->len ? bytes->data : "", bytes->len, sha);
		if (strcmp(sha, f.sha)) {
			buf_addf(err, "artifact A%lld of INC-%lld is damaged: its bytes hash to %s, not to the %s recorded "
				      "at upload; refusing to serve it",
				 n, (long long)number, sha, f.sha);
			buf_reset(bytes);
			rc = OODA_ECORRUPT;
		}
	}
	if (!rc) {
		*name = f.name;
		*ctype = f.ctype;
	} else {
		free(f.name);
		free(f.ctype);
	}
	free(f.sha);
	return rc;
}
