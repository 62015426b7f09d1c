/*
 * Versioned documents: versions, history, diff and change events (see
 * vdoc.h); the audited write on top is audit/docwrite.c. The diff is a
 * longest-common-subsequence over lines, bounded so two huge documents
 * cannot make it quadratic in memory without limit.
 */
#include "store/vdoc.h"
#include "store/store_backend.h"
#include "core/error.h"
#include "core/time.h"

#include <jansson.h>
#include <sodium.h>

void vdoc_release(struct vdoc *d)
{
	free(d->kind);
	free(d->key);
	free(d->author);
	free(d->rationale);
	free(d->body);
	memset(d, 0, sizeof(*d));
}

static int copy_row(void *ctx, const void *row)
{
	const struct doc_row *r = row;
	struct vdoc *d = ctx;
	vdoc_release(d);
	d->kind = xstrdup(r->kind);
	d->key = xstrdup(r->key);
	d->version = r->version;
	d->time_ns = r->time_ns;
	d->author = xstrdup(r->author ? r->author : "");
	d->rationale = xstrdup(r->rationale ? r->rationale : "");
	d->body = xmalloc(r->body_len + 1);
	memcpy(d->body, r->body, r->body_len);
	d->body[r->body_len] = 0;
	d->body_len = r->body_len;
	d->deleted = r->deleted;
	return 1; /* one row is enough */
}

int vdoc_get(struct store *s, const char *kind, const char *key, int64_t version, struct vdoc *out,
	     struct buf *err)
{
	memset(out, 0, sizeof(*out));
	int rc = store_backend(s)->doc_get(store_impl(s), kind, key, version, copy_row, out);
	if (rc == OODA_ENOTFOUND) {
		if (version)
			buf_addf(err, "%s %s has no version %lld", kind, key, (long long)version);
		else
			buf_addf(err, "%s %s does not exist", kind, key);
	} else if (rc) {
		buf_addf(err, "reading %s %s failed", kind, key);
	}
	return rc;
}

/* A kind that nodes cache (store_gen_of_doc) moves its generation in the write's transaction. */
static int gen_bump(struct store *s, const char *kind)
{
	enum store_gen g = store_gen_of_doc(kind);
	return g == STORE_GEN_COUNT ? 0 : store_gen_bump(s, g);
}

int vdoc_write_tx(struct store *s, struct vdoc_write *w, struct vdoc *before, struct buf *err)
{
	struct buf ignore = BUF_INIT;
	int have = vdoc_get(s, w->kind, w->key, 0, before, &ignore) == 0;
	buf_release(&ignore);
	if (!have)
		vdoc_release(before);
	struct doc_row row = { .kind = w->kind, .key = w->key, .time_ns = ooda_now_ns(), .author = w->actor,
			       .rationale = w->rationale ? w->rationale : "", .body = w->body,
			       .body_len = w->body_len, .deleted = w->deleted, .status = w->status };
	int rc = store_backend(s)->doc_put(store_impl(s), &row, w->expect_version);
	if (!rc)
		rc = gen_bump(s, w->kind);
	if (rc == OODA_EPRECOND) {
		buf_addf(err, "%s %s is at version %lld, not %lld: someone changed it meanwhile; reload and retry",
			 w->kind, w->key, (long long)(have ? before->version : 0), (long long)w->expect_version);
	} else if (rc) {
		buf_addf(err, "writing %s %s failed", w->kind, w->key);
	} else {
		w->version = row.version;
	}
	return rc;
}

int vdoc_history(struct store *s, const char *kind, const char *key, store_row_fn fn, void *ctx)
{
	return store_backend(s)->doc_history(store_impl(s), kind, key, fn, ctx);
}

int vdoc_restore_tx(struct store *s, const struct doc_row *d, struct buf *err)
{
	struct doc_row row = *d;
	row.rationale = d->rationale ? d->rationale : "";
	row.author = d->author ? d->author : "";
	int rc = store_backend(s)->doc_put(store_impl(s), &row, -1);
	if (!rc)
		rc = gen_bump(s, d->kind);
	if (rc)
		buf_addf(err, "writing %s %s failed", d->kind, d->key);
	return rc;
}

struct hist_ctx {
	struct buf *out;
	int n;
	bool bodies;
};

static int hist_row(void *ctx, const void *row)
{
	const struct doc_row *r = row;
	struct hist_ctx *h = ctx;
	char when[40];
	ooda_time_format(r->time_ns, when, sizeof(when));
	buf_addf(h->out, "%s{\"version\":%lld,\"time\":\"%s\",\"author\":", h->n++ ? "," : "", (long long)r->version,
		 when);
	buf_add_json_str(h->out, r->author ? r->author : "", r->author ? strlen(r->author) : 0);
	buf_adds(h->out, ",\"rationale\":");
	buf_add_json_str(h->out, r->rationale ? r->rationale : "", r->rationale ? strlen(r->rationale) : 0);
	buf_addf(h->out, ",\"deleted\":%s", r->deleted ? "true" : "false");
	if (h->bodies && !r->deleted) {
		buf_adds(h->out, ",\"body\":");
		buf_add(h->out, r->body, r->body_len);
	}
	buf_addch(h->out, '}');
	return 0;
}

int vdoc_history_json(struct store *s, const char *kind, const char *key, bool with_bodies, struct buf *out,
		      struct buf *err)
{
	struct hist_ctx h = { out, 0, with_bodies };
	buf_addch(out, '[');
	int rc = store_backend(s)->doc_history(store_impl(s), kind, key, hist_row, &h);
	buf_addch(out, ']');
	if (rc == OODA_ENOTFOUND)
		buf_addf(err, "%s %s has no history", kind, key);
	return rc;
}

int vdoc_list(struct store *s, const char *kind, const char *prefix, store_row_fn fn, void *ctx)
{
	return store_backend(s)->doc_list(store_impl(s), kind, prefix, NULL, 0, fn, ctx);
}

int vdoc_list_status(struct store *s, const char *kind, const char *status, store_row_fn fn, void *ctx)
{
	return store_backend(s)->doc_list_status(store_impl(s), kind, status, fn, ctx);
}

/* Pretty, key-sorted JSON text of a document (or the text itself if it is not JSON). */
static char *canonical(const char *s, size_t len)
{
	json_t *j = json_loadb(s, len, JSON_DECODE_ANY, NULL);
	if (!j) {
		char *c = xmalloc(len + 1);
		memcpy(c, s, len);
		c[len] = 0;
		return c;
	}
	char *t = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(j);
	return t;
}

static size_t split_lines(char *s, char ***out)
{
	size_t n = 0, cap = 64;
	char **v = xmalloc(cap * sizeof(char *));
	for (char *p = s; *p;) {
		if (n == cap)
			v = xrealloc(v, (cap *= 2) * sizeof(char *));
		v[n++] = p;
		char *nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = 0;
		p = nl + 1;
	}
	*out = v;
	return n;
}

void vdoc_diff(const char *a, size_t alen, const char *b, size_t blen, struct buf *out)
{
	char *ca = canonical(a, alen), *cb = canonical(b, blen);
	char **la, **lb;
	size_t na = split_lines(ca, &la), nb = split_lines(cb, &lb);
	if (na > 4000 || nb > 4000 || (na + 1) * (nb + 1) > 4000000) {
		/* too large for the table: whole-document replacement */
		for (size_t i = 0; i < na; i++)
			buf_addf(out, "- %s\n", la[i]);
		for (size_t j = 0; j < nb; j++)
			buf_addf(out, "+ %s\n", lb[j]);
	} else {
		/* lcs[i][j] = LCS length of la[i..] and lb[j..] */
		uint16_t *lcs = xcalloc((na + 1) * (nb + 1), sizeof(uint16_t));
#define L(i, j) lcs[(i) * (nb + 1) + (j)]
		for (size_t i = na; i-- > 0;)
			for (size_t j = nb; j-- > 0;)
				L(i, j) = !strcmp(la[i], lb[j]) ? (uint16_t)(L(i + 1, j + 1) + 1) :
					  L(i + 1, j) > L(i, j + 1) ? L(i + 1, j) : L(i, j + 1);
		size_t i = 0, j = 0;
		while (i < na || j < nb) {
			if (i < na && j < nb && !strcmp(la[i], lb[j])) {
				buf_addf(out, "  %s\n", la[i]);
				i++, j++;
			} else if (i < na && (j == nb || L(i + 1, j) >= L(i, j + 1))) {
				buf_addf(out, "- %s\n", la[i++]);
			} else {
				buf_addf(out, "+ %s\n", lb[j++]);
			}
		}
#undef L
		free(lcs);
	}
	free(la);
	free(lb);
	free(ca);
	free(cb);
}

int vdoc_event(struct tstore *t, const char *kind, const char *service, const char *env, const char *version,
	       const char *actor, const char *description, struct buf *err)
{
	if (!t)
		return 0;
	char id[40];
	snprintf(id, sizeof(id), "ev_%016llx%08x", (unsigned long long)ooda_now_ns(), randombytes_random());
	struct change_event e = { .id = id, .kind = kind, .service = service, .environment = env, .version = version,
				  .actor = actor, .description = description, .source = "ooda",
				  .time_ns = ooda_now_ns() };
	struct telemetry_batch b = { .events = &e, .n_events = 1 };
	return tstore_append(t, &b, err);
}

/* ---- bounds -------------------------------------------------------------- */

/*
 * The kinds the daemon rewrites on its own, and so the only ones pruned.
 * Everything else a person or a deploy wrote is history and stays.
 */
static const char *const pruned_kinds[] = {
	"alert",     /* every transition: pending, firing, resolved, silenced, inhibited, ... */
	"silence",   /* created, then ended early: the ended versions */
	"heartbeat", /* every ping of every job */
	"handover",  /* work a follower left for the leader: pending, then taken */
};

#define N_PRUNED_KINDS (sizeof(pruned_kinds) / sizeof(pruned_kinds[0]))

bool vdoc_kind_pruned(const char *kind)
{
	for (size_t i = 0; i < N_PRUNED_KINDS; i++)
		if (!strcmp(kind, pruned_kinds[i]))
			return true;
	return false;
}

struct prune_ctx {
	const struct vdoc_retention *r;
	int64_t now_ns;
	size_t deleted;
};

static int prune_tx(struct store *s, void *ctx, struct buf *err)
{
	struct prune_ctx *p = ctx;
	size_t batch = p->r->batch ? p->r->batch : VDOC_PRUNE_BATCH;
	int64_t keep = p->r->max_versions < 1 ? 1 : p->r->max_versions;
	int64_t before = p->r->max_age_ns > 0 && p->now_ns > p->r->max_age_ns ? p->now_ns - p->r->max_age_ns : 0;
	for (size_t i = 0; i < N_PRUNED_KINDS && p->deleted < batch; i++) {
		size_t n = 0;
		int rc = store_backend(s)->doc_prune(store_impl(s), pruned_kinds[i], before, keep, batch - p->deleted, &n);
		if (rc) {
			buf_addf(err, "pruning old %s versions failed", pruned_kinds[i]);
			return rc;
		}
		p->deleted += n;
	}
	return 0;
}

int vdoc_prune(struct store *s, const struct vdoc_retention *r, int64_t now_ns, size_t *deleted, struct buf *err)
{
	struct prune_ctx p = { r, now_ns, 0 };
	int rc = store_write(s, prune_tx, &p, err);
	*deleted = rc ? 0 : p.deleted;
	return rc;
}

int vdoc_drop_tx(struct store *s, const char *kind, const char *key, size_t *deleted, struct buf *err)
{
	int rc = store_backend(s)->doc_drop(store_impl(s), kind, key, deleted);
	if (rc)
		buf_addf(err, "%s/%s cannot be deleted", kind, key);
	return rc;
}

int vdoc_prune_tick(struct vdoc_pruner *p, struct store *s, int64_t now_ns, struct buf *err)
{
	if (now_ns < p->next_ns)
		return 0;
	size_t n = 0;
	int rc = vdoc_prune(s, &p->r, now_ns, &n, err);
	size_t batch = p->r.batch ? p->r.batch : VDOC_PRUNE_BATCH;
	p->next_ns = !rc && n >= batch ? now_ns : now_ns + p->interval_ns;
	if (rc)
		return rc;
	p->pruned += n;
	return (int)n;
}
