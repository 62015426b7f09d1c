/*
 * The on-call book (oncall_book.h): the current on-call config behind a
 * reference count, so a reload swaps it atomically while readers finish on
 * the old one, and the overrides — stored as "oncall.override" documents
 * with their audit record, mirrored in memory for oncall_who and the
 * escalation engine.
 */
#include "respond/oncall_book.h"
#include "audit/docwrite.h"
#include "core/error.h"
#include "core/time.h"
#include "store/vdoc.h"
#include "model/jsontime.h"

#include <pthread.h>
#include <sys/random.h>

struct cfg_ref {
	struct oncall *oc;
	int refs;
};

struct oncall_book {
	pthread_mutex_t mu;
	struct store *store;
	const struct audit_signer *sg;
	struct cfg_ref *cur;
	char *section;              /* the section's JSON as applied ("" when absent) */
	struct oncall_overrides ov; /* live (not deleted) overrides, creation order */
	int64_t gen;                /* the overrides' generation (store_gen_read) ov was read at */
};

static void ref_put(struct oncall_book *b, struct cfg_ref *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&b->mu);
	bool last = --r->refs == 0;
	pthread_mutex_unlock(&b->mu);
	if (last) {
		oncall_destroy(r->oc);
		free(r);
	}
}

static void override_free(struct oncall_override *o)
{
	free(o->id);
	free(o->schedule);
	free(o->user);
	free(o->reason);
	free(o->created_by);
}

/* An override from its stored JSON; false when the document is not one. */
static bool override_from_json(const json_t *j, struct oncall_override *o)
{
	json_t *ns = json_object_get(j, "ns");
	memset(o, 0, sizeof(*o));
	o->id = (char *)json_string_value(json_object_get(j, "id"));
	o->schedule = (char *)json_string_value(json_object_get(j, "schedule"));
	o->user = (char *)json_string_value(json_object_get(j, "user"));
	o->reason = (char *)json_string_value(json_object_get(j, "reason"));
	o->created_by = (char *)json_string_value(json_object_get(j, "created_by"));
	o->from_ns = json_integer_value(json_object_get(ns, "from"));
	o->to_ns = json_integer_value(json_object_get(ns, "to"));
	o->created_ns = json_integer_value(json_object_get(ns, "created"));
	return o->id && o->schedule && o->user && o->to_ns > o->from_ns;
}

static int load_override(void *ctx, const void *row)
{
	struct oncall_overrides *ov = ctx;
	const struct doc_row *r = row;
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
	struct oncall_override o;
	if (j && !r->deleted && ov->n < ONCALL_MAX_OVERRIDES && override_from_json(j, &o))
		oncall_overrides_add(ov, &o);
	json_decref(j);
	return 0;
}

static int by_created(const void *a, const void *b)
{
	const struct oncall_override *x = a, *y = b;
	return x->created_ns < y->created_ns ? -1 : x->created_ns > y->created_ns;
}

/* Every stored override in force, in creation order, into ov. */
static int overrides_load(struct store *s, struct oncall_overrides *ov)
{
	int rc = vdoc_list(s, "oncall.override", "", load_override, ov);
	if (!rc && ov->n)
		qsort(ov->v, ov->n, sizeof(*ov->v), by_created);
	return rc;
}

/*
 * Another node may have made or deleted an override (several nodes on one
 * PostgreSQL): when the overrides' generation moved since b->ov was read,
 * read them again (the generation first, so the copy is at least that new).
 * On failure the copy in memory stays.
 */
static void overrides_follow(struct oncall_book *b)
{
	int64_t gen;
	if (!b->store || store_gen_read(b->store, STORE_GEN_ONCALL, &gen))
		return;
	pthread_mutex_lock(&b->mu);
	bool seen = gen <= b->gen; /* generations only grow: an older read is no news */
	pthread_mutex_unlock(&b->mu);
	if (seen)
		return;
	struct oncall_overrides ov = { 0 };
	if (overrides_load(b->store, &ov)) {
		oncall_overrides_release(&ov);
		return;
	}
	pthread_mutex_lock(&b->mu);
	if (gen > b->gen) { /* else a caller with a newer generation swapped first */
		struct oncall_overrides old = b->ov;
		b->ov = ov;
		ov = old;
		b->gen = gen;
	}
	pthread_mutex_unlock(&b->mu);
	oncall_overrides_release(&ov);
}

int oncall_book_create(struct store *s, const struct audit_signer *sg, const char *section_json,
		       struct oncall_book **out, struct buf *err)
{
	struct oncall *oc = NULL;
	int rc = oncall_create(section_json, &oc, err);
	if (rc)
		return rc;
	struct oncall_book *b = xcalloc(1, sizeof(*b));
	pthread_mutex_init(&b->mu, NULL);
	b->store = s;
	b->sg = sg;
	b->cur = xcalloc(1, sizeof(*b->cur));
	b->cur->oc = oc;
	b->cur->refs = 1;
	b->section = xstrdup(section_json ? section_json : "");
	if (s && ((rc = store_gen_read(s, STORE_GEN_ONCALL, &b->gen)) || (rc = overrides_load(s, &b->ov)))) {
		buf_addf(err, "loading on-call overrides: %s", ooda_strerror(rc));
		oncall_book_destroy(b);
		return rc;
	}
	*out = b;
	return 0;
}

void oncall_book_destroy(struct oncall_book *b)
{
	if (!b)
		return;
	ref_put(b, b->cur);
	free(b->section);
	oncall_overrides_release(&b->ov);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

int oncall_book_reload(struct oncall_book *b, const char *section_json, bool apply, struct buf *changes,
		       struct buf *err)
{
	struct oncall *oc = NULL;
	int rc = oncall_create(section_json, &oc, err);
	if (rc || !apply) {
		oncall_destroy(oc);
		return rc;
	}
	struct cfg_ref *r = xcalloc(1, sizeof(*r));
	r->oc = oc;
	r->refs = 1;
	char *text = xstrdup(section_json ? section_json : "");
	pthread_mutex_lock(&b->mu);
	if (changes && strcmp(text, b->section))
		buf_addf(changes, "%zu schedules, %zu escalation policies, %zu teams", oc->n_schedules, oc->n_policies,
			 oc->n_teams);
	struct cfg_ref *old = b->cur;
	b->cur = r;
	free(b->section);
	b->section = text;
	pthread_mutex_unlock(&b->mu);
	ref_put(b, old);
	return 0;
}

void oncall_book_view(struct oncall_book *b, struct oncall_view *v)
{
	memset(v, 0, sizeof(*v));
	v->book = b;
	overrides_follow(b);
	pthread_mutex_lock(&b->mu);
	b->cur->refs++;
	v->ref = b->cur;
	v->oc = b->cur->oc;
	for (size_t i = 0; i < b->ov.n; i++)
		oncall_overrides_add(&v->ov, &b->ov.v[i]);
	pthread_mutex_unlock(&b->mu);
}

void oncall_view_release(struct oncall_view *v)
{
	if (!v->book)
		return;
	oncall_overrides_release(&v->ov);
	ref_put(v->book, v->ref);
	memset(v, 0, sizeof(*v));
}

/* ---- overrides -------------------------------------------------------------- */

json_t *oncall_override_json(const struct oncall_override *o)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:s?, s:s?, s:o, s:{s:I, s:I, s:I}}", "id", o->id, "schedule",
			 o->schedule, "user", o->user, "from", json_time(o->from_ns), "to", json_time(o->to_ns), "reason",
			 o->reason, "created_by", o->created_by, "created", json_time(o->created_ns), "ns", "from",
			 (json_int_t)o->from_ns, "to", (json_int_t)o->to_ns, "created", (json_int_t)o->created_ns);
}

/* A time member: RFC 3339 text or a unix number; def when absent. */
static int time_member(const json_t *req, const char *key, int64_t def, bool required, int64_t *out, struct buf *err)
{
	json_t *v = json_object_get(req, key);
	*out = def;
	if (!v || json_is_null(v)) {
		if (!required)
			return 0;
		buf_addf(err, "%s: required (an RFC 3339 time such as 2026-03-01T09:00:00Z)", key);
		return OODA_EINVAL;
	}
	char num[32];
	const char *s = json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		s = num;
	}
	if (!s || ooda_time_parse(s, strlen(s), out)) {
		buf_addf(err, "%s: expected an RFC 3339 time such as 2026-03-01T09:00:00Z", key);
		return OODA_EINVAL;
	}
	return 0;
}

static int text_member(const json_t *req, const char *key, size_t max, bool name, const char **out, struct buf *err)
{
	json_t *v = json_object_get(req, key);
	*out = json_string_value(v);
	if (v && !json_is_string(v)) {
		buf_addf(err, "%s: expected a string", key);
		return OODA_EINVAL;
	}
	if (!*out || !**out) {
		buf_addf(err, "%s: required", key);
		return OODA_EINVAL;
	}
	size_t n = strlen(*out);
	if (n > max) {
		buf_addf(err, "%s: at most %zu characters", key, max);
		return OODA_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)(*out)[i];
		if (ch < ' ' || ch == 0x7f || (name && (ch == ' ' || ch == '/' || ch == ':'))) {
			buf_addf(err, "%s: %s", key, name ? "no spaces, '/', ':' or control characters" : "no control characters");
			return OODA_EINVAL;
		}
	}
	return 0;
}

int oncall_override_create(struct oncall_book *b, const json_t *req, const char *actor, const char *reported_by,
			   int64_t now_ns, json_t **out, struct buf *err)
{
	if (!json_is_object(req)) {
		buf_adds(err, "expected a JSON object {schedule, user, from?, to, reason}");
		return OODA_EINVAL;
	}
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)req, key, val) {
		static const char *const known[] = { "schedule", "user", "from", "to", "reason", "creator", "rationale" };
		size_t i = 0;
		while (i < sizeof(known) / sizeof(known[0]) && strcmp(known[i], key))
			i++;
		if (i == sizeof(known) / sizeof(known[0])) {
			buf_addf(err, "%s: unknown field (expected schedule, user, from, to, reason)", key);
			return OODA_EINVAL;
		}
	}
	const char *schedule, *user, *reason;
	int64_t from, to;
	int rc;
	if ((rc = text_member(req, "schedule", ONCALL_MAX_NAME, true, &schedule, err)) ||
	    (rc = text_member(req, "user", ONCALL_MAX_NAME, true, &user, err)) ||
	    (rc = time_member(req, "from", now_ns, false, &from, err)) ||
	    (rc = time_member(req, "to", 0, true, &to, err)) ||
	    (rc = text_member(req, "reason", 1024, false, &reason, err)))
		return rc;
	if (to <= from) {
		buf_adds(err, "to: must be after from");
		return OODA_EINVAL;
	}
	if (to <= now_ns) {
		buf_adds(err, "to: is in the past");
		return OODA_EINVAL;
	}
	if (to - from > ONCALL_MAX_OVERRIDE_SPAN_NS) {
		buf_adds(err, "to: an override spans at most 366 days");
		return OODA_EINVAL;
	}
	struct oncall_view v;
	oncall_book_view(b, &v);
	bool known = oncall_schedule_find(v.oc, schedule) != NULL;
	oncall_view_release(&v);
	if (!known) {
		buf_addf(err, "schedule: no on-call schedule \"%s\" in ooda.yaml (oncall.schedules)", schedule);
		return OODA_EINVAL;
	}
	if (!b->store || !b->sg) {
		buf_adds(err, "overrides need the control store");
		return OODA_EUNAVAIL;
	}
	unsigned char rnd[8];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		buf_adds(err, "no randomness for an id");
		return OODA_EIO;
	}
	char id[24];
	snprintf(id, sizeof(id), "ov-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	struct oncall_override o = { .id = id, .schedule = (char *)schedule, .user = (char *)user,
				     .reason = (char *)reason, .created_by = (char *)actor, .from_ns = from, .to_ns = to,
				     .created_ns = now_ns };
	json_t *doc = oncall_override_json(&o);
	if (reported_by && *reported_by && strcmp(reported_by, actor))
		json_object_set_new(doc, "reported_by", json_string(reported_by));
	char *body = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	char target[64];
	snprintf(target, sizeof(target), "oncall/override/%s", id);
	struct vdoc_write w = { .kind = "oncall.override", .key = id, .body = body, .body_len = strlen(body),
				.expect_version = 0, .actor = actor, .rationale = reason,
				.action = "oncall.override.create", .target = target };
	pthread_mutex_lock(&b->mu);
	if (b->ov.n >= ONCALL_MAX_OVERRIDES) {
		/* make room by forgetting overrides that ended (their documents stay) */
		size_t k = 0;
		for (size_t i = 0; i < b->ov.n; i++) {
			if (b->ov.v[i].to_ns > now_ns)
				b->ov.v[k++] = b->ov.v[i];
			else
				override_free(&b->ov.v[i]);
		}
		b->ov.n = k;
	}
	if (b->ov.n >= ONCALL_MAX_OVERRIDES) {
		pthread_mutex_unlock(&b->mu);
		free(body);
		json_decref(doc);
		buf_addf(err, "at most %d overrides in force; delete some first", ONCALL_MAX_OVERRIDES);
		return OODA_ELIMIT;
	}
	rc = vdoc_put(b->store, b->sg, &w, err);
	if (!rc)
		oncall_overrides_add(&b->ov, &o);
	pthread_mutex_unlock(&b->mu);
	free(body);
	if (rc) {
		json_decref(doc);
		return rc;
	}
	json_object_del(doc, "ns");
	*out = doc;
	return 0;
}

int oncall_override_delete(struct oncall_book *b, const char *id, const char *actor, const char *rationale,
			   struct buf *err)
{
	overrides_follow(b);
	pthread_mutex_lock(&b->mu);
	size_t i = 0;
	while (i < b->ov.n && strcmp(b->ov.v[i].id, id))
		i++;
	if (i == b->ov.n || !b->store) {
		pthread_mutex_unlock(&b->mu);
		buf_addf(err, "no on-call override \"%s\"", id);
		return OODA_ENOTFOUND;
	}
	json_t *doc = oncall_override_json(&b->ov.v[i]);
	char *body = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	char target[64];
	snprintf(target, sizeof(target), "oncall/override/%.40s", id);
	struct vdoc_write w = { .kind = "oncall.override", .key = id, .body = body, .body_len = strlen(body),
				.deleted = true, .expect_version = -1, .actor = actor,
				.rationale = rationale ? rationale : "", .action = "oncall.override.delete",
				.target = target };
	int rc = vdoc_put(b->store, b->sg, &w, err);
	if (!rc) {
		override_free(&b->ov.v[i]);
		memmove(&b->ov.v[i], &b->ov.v[i + 1], (b->ov.n - i - 1) * sizeof(*b->ov.v));
		b->ov.n--;
	}
	pthread_mutex_unlock(&b->mu);
	free(body);
	return rc;
}

json_t *oncall_overrides_json(struct oncall_book *b, const char *schedule, bool all, int64_t now_ns)
{
	json_t *list = json_array();
	overrides_follow(b);
	pthread_mutex_lock(&b->mu);
	for (size_t i = 0; i < b->ov.n; i++) {
		const struct oncall_override *o = &b->ov.v[i];
		if ((schedule && strcmp(schedule, o->schedule)) || (!all && o->to_ns <= now_ns))
			continue;
		json_t *j = oncall_override_json(o);
		json_object_del(j, "ns");
		json_array_append_new(list, j);
	}
	pthread_mutex_unlock(&b->mu);
	return json_pack("{s:o}", "overrides", list);
}
