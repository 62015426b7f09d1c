/*
 * The stored remediation runs as a whole (run_index.h): a page of the list
 * the API shows and the retention round the engine tick drives. Both read
 * the latest version of every run once; retention is what keeps that read
 * bounded (retention.runs_max_finished finished runs plus those under way).
 */
#include "remedy/run_index.h"
#include "core/error.h"
#include "core/xalloc.h"
#include "remedy/run.h"
#include "store/vdoc.h"
#include <stdlib.h>
#include <string.h>

static const char *jstr(const json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

static int64_t created_of(const json_t *run)
{
	return (int64_t)json_integer_value(json_object_get(run, "created_unix_nano"));
}

/* Newest first; runs created in the same nanosecond by id, so a cursor has one place. */
static int order(int64_t ca, const char *ia, int64_t cb, const char *ib)
{
	if (ca != cb)
		return ca > cb ? -1 : 1;
	return strcmp(ib ? ib : "", ia ? ia : "");
}

static int newest_first(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	return order(created_of(x), jstr(x, "id"), created_of(y), jstr(y, "id"));
}

/* ---- pages -------------------------------------------------------------------------- */

struct page_ctx {
	const struct remedy_run_filter *f;
	json_t *all;
};

static bool incident_matches(const char *want, const char *inc)
{
	return inc && (!strcmp(want, inc) || (strncmp(want, "INC-", 4) && !strncmp(inc, "INC-", 4) &&
					      !strcmp(want, inc + 4)));
}

static int page_row(void *ctx, const void *row)
{
	const struct doc_row *d = row;
	struct page_ctx *c = ctx;
	json_t *doc = json_loadb(d->body, d->body_len, 0, NULL);
	if (!doc)
		return 0;
	const struct remedy_run_filter *f = c->f;
	const char *pol = jstr(doc, "policy"), *st = jstr(doc, "status");
	bool keep = (!f->policy || (pol && !strcmp(f->policy, pol))) && (!f->status || (st && !strcmp(f->status, st))) &&
		    (!f->incident || incident_matches(f->incident, jstr(doc, "incident")));
	if (keep) {
		json_object_del(doc, "plan");
		json_array_append(c->all, doc);
	}
	json_decref(doc);
	return 0;
}

/* The cursor's place: the stored run's creation time and id. */
static int cursor_load(struct store *s, const char *field, const char *id, int64_t *created, struct buf *err)
{
	struct vdoc d;
	struct buf e = BUF_INIT;
	int rc = vdoc_get(s, RUN_KIND, id, 0, &d, &e);
	buf_release(&e);
	if (rc == OODA_ENOTFOUND) {
		buf_addf(err, "%s: no remediation run \"%s\" (a cursor is the id of a run a page returned)", field, id);
		return OODA_EINVAL;
	}
	if (rc) {
		buf_addf(err, "%s: the run cannot be read", field);
		return rc;
	}
	json_t *doc = json_loadb(d.body, d.body_len, 0, NULL);
	vdoc_release(&d);
	*created = created_of(doc);
	json_decref(doc);
	return 0;
}

int run_index_page(struct store *s, const struct remedy_run_filter *f, struct buf *out, struct buf *err)
{
	if (f->before && f->after) {
		buf_adds(err, "before: give before or after, not both");
		return OODA_EINVAL;
	}
	const char *cur = f->before ? f->before : f->after;
	int64_t cur_ns = 0;
	int rc = cur ? cursor_load(s, f->before ? "before" : "after", cur, &cur_ns, err) : 0;
	if (rc)
		return rc;
	struct page_ctx c = { f, json_array() };
	rc = f->status ? vdoc_list_status(s, RUN_KIND, f->status, page_row, &c)
		       : vdoc_list(s, RUN_KIND, "", page_row, &c);
	if (rc) {
		json_decref(c.all);
		buf_adds(err, "remediation runs cannot be read");
		return rc;
	}
	size_t n = json_array_size(c.all);
	json_t **v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(c.all, i);
	qsort(v, n, sizeof(*v), newest_first);
	/* [lo, hi): the runs on the cursor's side of it, newest first */
	size_t lo = 0, hi = n;
	if (cur) {
		size_t k = 0; /* the first run not newer than the cursor */
		while (k < n && order(created_of(v[k]), jstr(v[k], "id"), cur_ns, cur) < 0)
			k++;
		if (f->after)
			hi = k;
		else
			lo = k < n && !strcmp(jstr(v[k], "id"), cur) ? k + 1 : k;
	}
	size_t limit = f->limit > 0 ? (size_t)f->limit : 100;
	if (hi - lo > limit) {
		if (f->after)
			lo = hi - limit; /* the newer runs nearest the cursor */
		else
			hi = lo + limit;
	}
	json_t *runs = json_array();
	for (size_t i = lo; i < hi; i++)
		json_array_append(runs, v[i]);
	json_t *o = json_pack("{so so so}", "runs", runs, "before",
			      hi > lo && hi < n ? json_string(jstr(v[hi - 1], "id")) : json_null(), "after",
			      hi > lo && lo > 0 ? json_string(jstr(v[lo], "id")) : json_null());
	free(v);
	json_decref(c.all);
	char *text = json_dumps(o, JSON_COMPACT);
	buf_adds(out, text);
	free(text);
	json_decref(o);
	return 0;
}

/* ---- retention ---------------------------------------------------------------------- */

struct finished {
	char *id;
	int64_t created_ns, changed_ns;
};

struct prune_ctx {
	struct finished *v;
	size_t n, cap;
};

static int prune_row(void *ctx, const void *row)
{
	const struct doc_row *d = row;
	struct prune_ctx *c = ctx;
	json_t *doc = json_loadb(d->body, d->body_len, 0, NULL);
	int st = doc ? run_state_parse(jstr(doc, "status")) : -1;
	if (st >= 0 && run_state_terminal((enum run_state)st)) {
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 256;
			c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
		}
		c->v[c->n++] = (struct finished){ xstrdup(d->key), created_of(doc), d->time_ns };
	}
	json_decref(doc);
	return 0;
}

static int finished_newest_first(const void *a, const void *b)
{
	const struct finished *x = a, *y = b;
	return order(x->created_ns, x->id, y->created_ns, y->id);
}

struct drop_ctx {
	const struct audit_signer *sg;
	json_t *ids;
	const char *why;
	size_t deleted;
};

static int drop_tx(struct store *s, void *ctx, struct buf *err)
{
	struct drop_ctx *c = ctx;
	size_t i;
	json_t *id;
	json_array_foreach(c->ids, i, id) {
		size_t n = 0;
		int rc = vdoc_drop_tx(s, RUN_KIND, json_string_value(id), &n, err);
		if (rc)
			return rc;
		c->deleted += n > 0;
	}
	json_t *detail = json_pack("{sO}", "runs", c->ids);
	char *text = json_dumps(detail, JSON_COMPACT);
	json_decref(detail);
	struct audit_entry e = { .actor = "ooda:retention", .action = "remedy.run.prune", .target = "remedy-run",
				 .rationale = c->why, .detail = text };
	int rc = audit_append(s, c->sg, &e, err);
	free(text);
	return rc;
}

int run_index_prune(struct store *s, const struct audit_signer *sg, const struct remedy_retention *ret,
		    int64_t now_ns, size_t batch, size_t *deleted, struct buf *err)
{
	*deleted = 0;
	struct prune_ctx c = { 0 };
	int rc = vdoc_list(s, RUN_KIND, "", prune_row, &c);
	if (rc) {
		buf_adds(err, "remediation runs cannot be read");
		goto out;
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), finished_newest_first);
	int64_t cutoff = ret->max_age_ns > 0 && now_ns > ret->max_age_ns ? now_ns - ret->max_age_ns : INT64_MIN;
	struct drop_ctx d = { sg, json_array(), NULL, 0 };
	for (size_t i = 0; i < c.n && json_array_size(d.ids) < batch; i++)
		if (c.v[i].changed_ns < cutoff || (ret->max_finished > 0 && i >= (size_t)ret->max_finished))
			json_array_append_new(d.ids, json_string(c.v[i].id));
	if (json_array_size(d.ids)) {
		char why[200];
		snprintf(why, sizeof(why),
			 "finished runs past retention: last changed over %lld h ago, or beyond the newest %lld",
			 (long long)(ret->max_age_ns / (3600 * INT64_C(1000000000))), (long long)ret->max_finished);
		d.why = why;
		rc = store_write(s, drop_tx, &d, err);
		if (!rc)
			*deleted = d.deleted;
	}
	json_decref(d.ids);
out:
	for (size_t i = 0; i < c.n; i++)
		free(c.v[i].id);
	free(c.v);
	return rc;
}
