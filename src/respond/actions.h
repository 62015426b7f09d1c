/*
 * Action items: the follow-ups an incident review agrees on ("alert on pool
 * saturation", owner, due date), kept as versioned documents of kind
 * "action-item" (store/vdoc.h) keyed "INC-7/A1" — the incident id, a slash,
 * "A" and a number counted per incident — and written with their audit
 * record in the same transaction (audit/docwrite.h). The document's
 * queryable status (vdoc_list_status) is its "open"/"done" state, so the
 * open items across every incident are one indexed read.
 *
 * Document: {"key","incident","title","owner","due":"YYYY-MM-DD",
 *            "status":"open"|"done","created_at","created_by","updated_at",
 *            "done_at"|null}
 * An item is overdue when it is open and its due date is before today (UTC).
 *
 * Whether the incident exists is not this file's business: the caller
 * passes a check (struct actions.exists), which the wiring with the
 * incidents stage provides; without one any well-formed id is accepted.
 */
#ifndef OODA_ACTIONS_H
#define OODA_ACTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "store/store.h"

#define ACTIONS_KIND "action-item"
#define ACTIONS_TITLE_MAX 200
#define ACTIONS_OWNER_MAX 128
#define ACTIONS_ID_MAX 64

/* Returns true when the incident id names an incident. */
typedef bool (*actions_incident_exists_fn)(void *ctx, const char *incident);

/* What the functions below work on; the caller fills it (borrowed). */
struct actions {
	struct store *store;
	const struct audit_signer *signer;
	actions_incident_exists_fn exists; /* NULL: every well-formed incident id is accepted */
	void *exists_ctx;
};

/*
 * Adds an item to incident from body {"title","owner","due","status"?} (any
 * other member is refused by name), as actor with rationale (may be "").
 * On success *out (caller owns it) is the stored document. OODA_EINVAL
 * naming the field for bad input, OODA_ENOTFOUND when exists says there is
 * no such incident; nothing is written then.
 */
int actions_add(const struct actions *a, const char *incident, const json_t *body, const char *actor,
		const char *rationale, int64_t now_ns, json_t **out, struct buf *err);

/*
 * Changes an item: body holds any of "status" (open|done), "owner", "due",
 * "title". OODA_ENOTFOUND for an unknown key, OODA_EINVAL naming the field
 * for bad input. A change that changes nothing writes nothing. *out as for
 * actions_add.
 */
int actions_update(const struct actions *a, const char *key, const json_t *body, const char *actor,
		   const char *rationale, int64_t now_ns, json_t **out, struct buf *err);

struct actions_filter {
	const char *incident; /* NULL: every incident */
	const char *owner;    /* NULL: every owner */
	const char *status;   /* "open", "done" or NULL for both */
	bool overdue;         /* only open items due before today (UTC at now_ns) */
	size_t limit;         /* at most this many (the earliest due); 0: ACTIONS_LIST_MAX */
};

#define ACTIONS_LIST_MAX 1000

/*
 * *out (caller owns it): {"actions":[…],"total":N} — the documents plus
 * "overdue" (bool), ordered by due date then key, at most f->limit of the
 * N that match. OODA_EINVAL for a bad status
 * filter, OODA_EIO when the store cannot be read.
 */
int actions_list(const struct actions *a, const struct actions_filter *f, int64_t now_ns, json_t **out,
		 struct buf *err);

/* True when s is a calendar date YYYY-MM-DD (2026-02-30 is not). */
bool actions_date_valid(const char *s);

/* True when id can name an incident in a key: 1..ACTIONS_ID_MAX of [A-Za-z0-9_-]. */
bool actions_incident_id_valid(const char *id);

#endif
