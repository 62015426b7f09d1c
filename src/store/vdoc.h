/*
 * Versioned documents, the control store's public document API: flags,
 * config sets, deploys, migrations, rollback runs, approvals, alerts,
 * silences and heartbeats are all documents whose every change is an
 * immutable version with author, time and rationale. This file wraps the
 * store backend's doc_* functions with what every such change needs —
 * optimistic concurrency (expect_version → 412), history as JSON, and a line
 * diff between two versions — and the change event that lets the timeline
 * see it. It sits in store/, below every stage that keeps documents; the
 * write with its audit record in the same transaction (vdoc_put) is one
 * layer up, in audit/docwrite.h.
 */
#ifndef OODA_VDOC_H
#define OODA_VDOC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "model/record.h"
#include "store/store.h"
#include "store/tstore.h"

/* A document version, copied out of the store (vdoc_release frees it). */
struct vdoc {
	char *kind, *key;
	int64_t version, time_ns;
	char *author, *rationale;
	char *body;
	size_t body_len;
	bool deleted;
};

void vdoc_release(struct vdoc *d);

/* Version 0 = latest (a deleted latest is returned with deleted set). OODA_ENOTFOUND if none. */
int vdoc_get(struct store *s, const char *kind, const char *key, int64_t version, struct vdoc *out,
	     struct buf *err);

struct vdoc_write {
	const char *kind, *key;
	const char *body;        /* JSON text */
	size_t body_len;
	bool deleted;
	const char *status;      /* a status the store can query (vdoc_list_status); NULL: none */
	int64_t expect_version;  /* -1 = any; else must equal the latest (0 = must not exist) */
	const char *actor, *rationale;
	const char *action;      /* audit action, "flag.put" (read by vdoc_put) */
	const char *target;      /* audit target, "flag/prod/new-checkout" (read by vdoc_put) */
	int64_t version;         /* out: the version written */
};

/*
 * Inside a store_write transaction: writes the version (no audit record;
 * stages call vdoc_put_tx of audit/docwrite.h, which adds it) and sets
 * w->version. *before receives the latest version as it was before the
 * write (kind NULL when there was none); the caller releases it with
 * vdoc_release whatever the result. OODA_EPRECOND with the reason in err on
 * a stale expect_version.
 */
int vdoc_write_tx(struct store *s, struct vdoc_write *w, struct vdoc *before, struct buf *err);

/*
 * Every version of kind/key, oldest first, as stored (author and time as
 * written); fn gets a const struct doc_row *. OODA_ENOTFOUND if none.
 */
int vdoc_history(struct store *s, const char *kind, const char *key, store_row_fn fn, void *ctx);

/*
 * (tx) Writes d as the next version of d->kind/d->key keeping its time,
 * author, rationale and deleted flag (window import: a document version
 * copied from another store). d->version is ignored; no audit record (the
 * import writes one for the whole file).
 */
int vdoc_restore_tx(struct store *s, const struct doc_row *d, struct buf *err);

/* [{version, time, author, rationale, deleted, body}…] oldest first; OODA_ENOTFOUND if no version. */
int vdoc_history_json(struct store *s, const char *kind, const char *key, bool with_bodies, struct buf *out,
		      struct buf *err);

/* Latest non-deleted version of each key of kind starting with prefix, keys ascending. */
int vdoc_list(struct store *s, const char *kind, const char *prefix, store_row_fn fn, void *ctx);

/*
 * Latest version of each key of kind whose latest version was written with
 * status (vdoc_write.status, not ""), keys ascending; an indexed query, not a
 * scan of the bodies. Returns 0 or OODA_EIO.
 */
int vdoc_list_status(struct store *s, const char *kind, const char *status, store_row_fn fn, void *ctx);

/*
 * A unified-style line diff of two JSON texts, each pretty-printed with
 * sorted keys first, so the diff shows meaning rather than formatting.
 * Lines start with "  ", "- " or "+ ".
 */
void vdoc_diff(const char *a, size_t alen, const char *b, size_t blen, struct buf *out);

/* ---- bounds on the control store ------------------------------------------
 *
 * Documents people make (flags, configs, deploys, approvals, rollback runs,
 * migrations, config schemas) are history and kept forever. Documents the
 * daemon rewrites on its own — alert transitions, silences, heartbeat pings —
 * would grow control.db without bound, so their old versions are pruned by
 * age and by count. The latest version of every key is always kept, and the
 * audit chain is never touched: its records name versions by digest and
 * still verify when the version itself is gone.
 */

struct vdoc_retention {
	int64_t max_age_ns;   /* a non-latest version older than this goes (retention.control_max_age) */
	int64_t max_versions; /* at most this many versions per key, the latest included (>= 1) */
	size_t batch;         /* versions deleted per transaction; 0 = VDOC_PRUNE_BATCH */
};

#define VDOC_PRUNE_BATCH 1000

/* Whether versions of kind are pruned (a fixed table in vdoc.c; every other kind is kept). */
bool vdoc_kind_pruned(const char *kind);

/*
 * One batch: in one store_write, deletes at most r->batch prunable versions
 * of the pruned kinds, as of now_ns; *deleted receives how many (a full
 * batch means more may be waiting). Returns 0 or an error with err set.
 */
int vdoc_prune(struct store *s, const struct vdoc_retention *r, int64_t now_ns, size_t *deleted, struct buf *err);

/* The periodic prune: fill r and interval_ns, leave the rest zero. */
struct vdoc_pruner {
	struct vdoc_retention r;
	int64_t interval_ns; /* between rounds once caught up */
	int64_t next_ns;     /* when the next batch is due */
	uint64_t pruned;     /* versions deleted since start */
};

/*
 * For a periodic tick (the engine's): when due, prunes one batch. A full
 * batch makes the next call due at once, so a backlog drains one batch per
 * tick and a tick never waits for more than one batch; otherwise the next
 * round is interval_ns later. Returns the versions deleted, or a negative
 * error with err set (the next round is then interval_ns later).
 */
int vdoc_prune_tick(struct vdoc_pruner *p, struct store *s, int64_t now_ns, struct buf *err);

/*
 * (tx) Deletes every version of kind/key, for a stage that bounds its own
 * documents (remediation runs past their retention); no audit record (the
 * caller writes one in the same transaction). *deleted receives the
 * versions deleted, 0 when the key had none. Returns 0 or OODA_EIO.
 */
int vdoc_drop_tx(struct store *s, const char *kind, const char *key, size_t *deleted, struct buf *err);

/* Records a change event (deploy, rollback, config, flag, migration, …) in the timeline. */
int vdoc_event(struct tstore *t, const char *kind, const char *service, const char *env, const char *version,
	       const char *actor, const char *description, struct buf *err);

#endif
