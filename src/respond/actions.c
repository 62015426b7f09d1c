/*
 * Action items (see actions.h): the learn end of the loop's follow-ups,
 * stored as audited "action-item" documents, listed across incidents with
 * the overdue and owner filters the review meeting asks for.
 */
#include "respond/actions.h"

#include "audit/docwrite.h"
#include "core/error.h"
#include "core/time.h"
#include "store/vdoc.h"

bool actions_date_valid(const char *s)
{
	if (!s || strlen(s) != 10)
		return false;
	for (int i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
			return false;
	char t[32], back[40];
	snprintf(t, sizeof(t), "%sT00:00:00Z", s);
	int64_t ns;
	if (ooda_time_parse(t, strlen(t), &ns))
		return false;
	/* a date that does not exist (02-30) would come back as another day */
	return !strncmp(ooda_time_format(ns, back, sizeof(back)), s, 10);
}

bool actions_incident_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (!n || n > ACTIONS_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* One settable field: its name, its bound, its check. */
struct field {
	const char *name;
	size_t max;
	bool (*valid)(const char *);
	const char *expect;
};

static bool status_valid(const char *s)
{
	return !strcmp(s, "open") || !strcmp(s, "done");
}

static const struct field fields[] = {
	{ "title", ACTIONS_TITLE_MAX, NULL, "a non-empty string" },
	{ "owner", ACTIONS_OWNER_MAX, NULL, "a non-empty string (a person or a team)" },
	{ "due", 10, actions_date_valid, "a date YYYY-MM-DD" },
	{ "status", 4, status_valid, "open or done" },
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

/* Checks every member of body against the field table; copies the good ones into doc. */
static int apply_fields(const json_t *body, json_t *doc, struct buf *err)
{
	if (!json_is_object(body)) {
		buf_adds(err, "the body must be a JSON object");
		return OODA_EINVAL;
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)body, k, v) {
		if (!strcmp(k, "rationale"))
			continue;
		const struct field *f = NULL;
		for (size_t i = 0; i < N_FIELDS && !f; i++)
			if (!strcmp(fields[i].name, k))
				f = &fields[i];
		if (!f) {
			buf_addf(err, "%.64s: unknown field (expected title, owner, due, status, rationale)", k);
			return OODA_EINVAL;
		}
		const char *s = json_string_value(v);
		if (!s || !*s || strlen(s) != json_string_length(v) || (f->valid && !f->valid(s))) {
			buf_addf(err, "%s: expected %s", k, f->expect);
			return OODA_EINVAL;
		}
		if (json_string_length(v) > f->max) {
			buf_addf(err, "%s: longer than %zu characters", k, f->max);
			return OODA_EINVAL;
		}
		json_object_set_new(doc, k, json_string(s));
	}
	return 0;
}

static int put(const struct actions *a, const char *key, json_t *doc, int64_t expect, const char *action,
	       const char *actor, const char *rationale, struct buf *err)
{
	char *body = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	char target[160];
	snprintf(target, sizeof(target), "%s/%s", ACTIONS_KIND, key);
	struct vdoc_write w = { .kind = ACTIONS_KIND, .key = key, .body = body, .body_len = strlen(body),
				.status = json_string_value(json_object_get(doc, "status")), .expect_version = expect,
				.actor = actor, .rationale = rationale ? rationale : "", .action = action,
				.target = target };
	int rc = vdoc_put(a->store, a->signer, &w, err);
	free(body);
	return rc;
}

struct count_ctx {
	long max;
	size_t prefix_len;
};

static int count_row(void *ctx, const void *row)
{
	struct count_ctx *c = ctx;
	const struct doc_row *r = row;
	const char *p = r->key + c->prefix_len;
	if (*p == 'A') {
		char *end;
		long n = strtol(p + 1, &end, 10);
		if (!*end && n > c->max)
			c->max = n;
	}
	return 0;
}

int actions_add(const struct actions *a, const char *incident, const json_t *body, const char *actor,
		const char *rationale, int64_t now_ns, json_t **out, struct buf *err)
{
	*out = NULL;
	if (!actions_incident_id_valid(incident)) {
		buf_addf(err, "incident: \"%.80s\" is not an incident id", incident ? incident : "");
		return OODA_EINVAL;
	}
	json_t *doc = json_object();
	int rc = apply_fields(body, doc, err);
	for (size_t i = 0; !rc && i < 3; i++)
		if (!json_object_get(doc, fields[i].name)) {
			buf_addf(err, "%s: required (%s)", fields[i].name, fields[i].expect);
			rc = OODA_EINVAL;
		}
	if (!rc && a->exists && !a->exists(a->exists_ctx, incident)) {
		buf_addf(err, "incident %s not found", incident);
		rc = OODA_ENOTFOUND;
	}
	if (rc) {
		json_decref(doc);
		return rc;
	}
	char now[40], prefix[ACTIONS_ID_MAX + 2], key[ACTIONS_ID_MAX + 24];
	ooda_time_format(now_ns, now, sizeof(now));
	if (!json_object_get(doc, "status"))
		json_object_set_new(doc, "status", json_string("open"));
	json_object_set_new(doc, "incident", json_string(incident));
	json_object_set_new(doc, "created_at", json_string(now));
	json_object_set_new(doc, "created_by", json_string(actor));
	json_object_set_new(doc, "updated_at", json_string(now));
	json_object_set_new(doc, "done_at", strcmp(json_string_value(json_object_get(doc, "status")), "done") ?
						    json_null() : json_string(now));
	snprintf(prefix, sizeof(prefix), "%s/", incident);
	/* the next number; a concurrent add that took it makes the write stale (412), so count again */
	for (int attempt = 0; attempt < 8; attempt++) {
		struct count_ctx c = { 0, strlen(prefix) };
		if ((rc = vdoc_list(a->store, ACTIONS_KIND, prefix, count_row, &c))) {
			buf_adds(err, "reading action items failed");
			break;
		}
		snprintf(key, sizeof(key), "%sA%ld", prefix, c.max + 1);
		json_object_set_new(doc, "key", json_string(key));
		struct buf e2 = BUF_INIT;
		rc = put(a, key, doc, 0, "action-item.create", actor, rationale, &e2);
		if (rc != OODA_EPRECOND)
			buf_add(err, e2.data, e2.len);
		buf_release(&e2);
		if (rc != OODA_EPRECOND)
			break;
	}
	if (rc) {
		json_decref(doc);
		return rc;
	}
	*out = doc;
	return 0;
}

int actions_update(const struct actions *a, const char *key, const json_t *body, const char *actor,
		   const char *rationale, int64_t now_ns, json_t **out, struct buf *err)
{
	*out = NULL;
	struct vdoc cur = { 0 };
	int rc = vdoc_get(a->store, ACTIONS_KIND, key, 0, &cur, err);
	if (rc || cur.deleted) {
		vdoc_release(&cur);
		if (!rc || rc == OODA_ENOTFOUND) {
			buf_reset(err);
			buf_addf(err, "action item %.100s not found", key);
			return OODA_ENOTFOUND;
		}
		return rc;
	}
	json_t *doc = json_loadb(cur.body, cur.body_len, 0, NULL);
	int64_t version = cur.version;
	vdoc_release(&cur);
	if (!json_is_object(doc)) {
		json_decref(doc);
		buf_addf(err, "action item %.100s: stored body is not a JSON object", key);
		return OODA_ECORRUPT;
	}
	json_t *before = json_deep_copy(doc);
	rc = apply_fields(body, doc, err);
	if (!rc && !json_equal(before, doc)) {
		char now[40];
		ooda_time_format(now_ns, now, sizeof(now));
		const char *st = json_string_value(json_object_get(doc, "status"));
		const char *was = json_string_value(json_object_get(before, "status"));
		if (st && was && strcmp(st, was))
			json_object_set_new(doc, "done_at", !strcmp(st, "done") ? json_string(now) : json_null());
		json_object_set_new(doc, "updated_at", json_string(now));
		rc = put(a, key, doc, version, "action-item.update", actor, rationale, err);
	}
	json_decref(before);
	if (rc) {
		json_decref(doc);
		return rc;
	}
	*out = doc;
	return 0;
}

struct list_ctx {
	const struct actions_filter *f;
	char today[11];
	json_t *all;
};

static int list_row(void *ctx, const void *row)
{
	struct list_ctx *l = ctx;
	const struct doc_row *r = row;
	json_t *d = json_loadb(r->body, r->body_len, 0, NULL);
	if (!json_is_object(d)) {
		json_decref(d);
		return 0;
	}
	const char *owner = json_string_value(json_object_get(d, "owner"));
	const char *status = json_string_value(json_object_get(d, "status"));
	const char *due = json_string_value(json_object_get(d, "due"));
	const char *inc = json_string_value(json_object_get(d, "incident"));
	bool overdue = status && !strcmp(status, "open") && due && strcmp(due, l->today) < 0;
	if ((!l->f->owner || (owner && !strcmp(owner, l->f->owner))) &&
	    (!l->f->status || (status && !strcmp(status, l->f->status))) &&
	    (!l->f->incident || (inc && !strcmp(inc, l->f->incident))) && (!l->f->overdue || overdue)) {
		json_object_set_new(d, "overdue", json_boolean(overdue));
		json_array_append(l->all, d);
	}
	json_decref(d);
	return 0;
}

static int cmp_due(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	const char *dx = json_string_value(json_object_get(x, "due")), *dy = json_string_value(json_object_get(y, "due"));
	int c = strcmp(dx ? dx : "", dy ? dy : "");
	if (c)
		return c;
	const char *kx = json_string_value(json_object_get(x, "key")), *ky = json_string_value(json_object_get(y, "key"));
	return strcmp(kx ? kx : "", ky ? ky : "");
}

int actions_list(const struct actions *a, const struct actions_filter *f, int64_t now_ns, json_t **out,
		 struct buf *err)
{
	*out = NULL;
	if (f->status && !status_valid(f->status)) {
		buf_addf(err, "status: expected open or done, not \"%.40s\"", f->status);
		return OODA_EINVAL;
	}
	struct list_ctx l = { .f = f, .all = json_array() };
	char now[40];
	memcpy(l.today, ooda_time_format(now_ns, now, sizeof(now)), 10);
	l.today[10] = 0;
	int rc;
	if (f->overdue || f->status) {
		/* the indexed status read: open (overdue) or the asked status only */
		rc = vdoc_list_status(a->store, ACTIONS_KIND, f->overdue ? "open" : f->status, list_row, &l);
	} else {
		char prefix[ACTIONS_ID_MAX + 2] = "";
		if (f->incident && actions_incident_id_valid(f->incident))
			snprintf(prefix, sizeof(prefix), "%s/", f->incident);
		rc = vdoc_list(a->store, ACTIONS_KIND, prefix, list_row, &l);
	}
	if (rc) {
		json_decref(l.all);
		buf_adds(err, "reading action items failed");
		return rc < 0 ? rc : OODA_EIO;
	}
	size_t n = json_array_size(l.all);
	json_t **v = xcalloc(n + 1, sizeof(json_t *));
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(l.all, i));
	qsort(v, n, sizeof(json_t *), cmp_due);
	json_t *arr = json_array();
	size_t limit = f->limit ? f->limit : ACTIONS_LIST_MAX;
	for (size_t i = 0; i < n; i++)
		if (i < limit)
			json_array_append_new(arr, v[i]);
		else
			json_decref(v[i]);
	free(v);
	json_decref(l.all);
	*out = json_pack("{s:o, s:I}", "actions", arr, "total", (json_int_t)n);
	return 0;
}
