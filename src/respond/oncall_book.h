/*
 * The on-call book of a running daemon: the current on-call config (swapped
 * whole on reload) and the overrides people made, which are versioned
 * documents (kind "oncall.override") written with their audit record
 * (audit/docwrite.h) and kept in memory for the pure functions of
 * respond/oncall.h. Readers take a view — a reference to the config and a
 * copy of the overrides — so a reload or a new override never changes an
 * answer half-way. Thread-safe.
 */
#ifndef OODA_ONCALL_BOOK_H
#define OODA_ONCALL_BOOK_H

#include <jansson.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "respond/oncall.h"
#include "store/store.h"

struct oncall_book;

#define ONCALL_MAX_OVERRIDES 10000
#define ONCALL_MAX_OVERRIDE_SPAN_NS (INT64_C(366) * 86400 * INT64_C(1000000000))

/*
 * Builds the config from the `oncall:` section (JSON, may be NULL) and
 * loads the stored overrides. store and sg may be NULL (no overrides can
 * then be made). Caller owns *out (oncall_book_destroy).
 */
int oncall_book_create(struct store *s, const struct audit_signer *sg, const char *section_json,
		       struct oncall_book **out, struct buf *err);
void oncall_book_destroy(struct oncall_book *b);

/*
 * Checks (apply false) or makes current (apply true) a new section; a bad
 * section changes nothing. Writes "N schedules, N escalation policies, N
 * teams" to changes when an applied section differs from the one before.
 */
int oncall_book_reload(struct oncall_book *b, const char *section_json, bool apply, struct buf *changes,
		       struct buf *err);

/* What a reader works on; release with oncall_view_release. */
struct oncall_view {
	const struct oncall *oc;
	struct oncall_overrides ov;
	void *ref; /* private */
	struct oncall_book *book;
};

void oncall_book_view(struct oncall_book *b, struct oncall_view *v);
void oncall_view_release(struct oncall_view *v);

/*
 * Creates an override from {schedule, user, from?, to, reason} (times RFC
 * 3339 or unix; from defaults to now_ns): the schedule must exist, to
 * must be after from and now, the span at most 366 days, reason is
 * required. Stored and audited ("oncall.override.create") with actor; a
 * claimed creator (reported_by) is kept apart. *out receives the override
 * as JSON (caller owns it). OODA_EINVAL naming the field on bad input.
 */
int oncall_override_create(struct oncall_book *b, const json_t *req, const char *actor, const char *reported_by,
			   int64_t now_ns, json_t **out, struct buf *err);

/* Deletes an override (a deleted version, audited "oncall.override.delete"). OODA_ENOTFOUND if none. */
int oncall_override_delete(struct oncall_book *b, const char *id, const char *actor, const char *rationale,
			   struct buf *err);

/*
 * {"overrides": […]} oldest first; schedule (may be NULL) narrows; without
 * all, only those not yet ended at now_ns. Caller owns the result.
 */
json_t *oncall_overrides_json(struct oncall_book *b, const char *schedule, bool all, int64_t now_ns);

/* One override as JSON. */
json_t *oncall_override_json(const struct oncall_override *o);

#endif
