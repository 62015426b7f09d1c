/*
 * The stored remediation runs taken as a whole, private to src/remedy/:
 * the pages GET /api/v1/runs reads (newest first, with a cursor) and the
 * retention that keeps their number bounded — a finished run goes once its
 * last change is older than retention.runs_max_age or it is no longer
 * among the retention.runs_max_finished newest finished runs; a run under
 * way is never deleted. remedy.c calls both; they only need the store.
 */
#ifndef OODA_REMEDY_RUN_INDEX_H
#define OODA_REMEDY_RUN_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "remedy/remedy.h"
#include "store/store.h"

#define RUN_KIND "remedy-run"

/*
 * Appends {"runs":[…], "before": ID|null, "after": ID|null} to out: at most
 * f->limit runs (their plans left out) newest first, after the filters and
 * the cursor. "before" is the cursor for the next older page, null when no
 * older run matches; "after" the one for the next newer page. A cursor that
 * names no stored run is OODA_EINVAL naming the field.
 */
int run_index_page(struct store *s, const struct remedy_run_filter *f, struct buf *out, struct buf *err);

/*
 * One batch of retention: in one store write, deletes every version of at
 * most `batch` finished runs that ret makes old as of now_ns, with one
 * audit record by "ooda:retention" naming them. *deleted receives how many
 * runs went. Returns 0 or the store's error with err set.
 */
int run_index_prune(struct store *s, const struct audit_signer *sg, const struct remedy_retention *ret,
		    int64_t now_ns, size_t batch, size_t *deleted, struct buf *err);

#endif
