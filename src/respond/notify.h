/*
 * Notifications that arrive (respond stage, the "act" end of the loop): an
 * incident or alert event is routed to targets (Slack incoming webhooks,
 * HMAC-signed JSON webhooks, the PagerDuty Events API v2, email over SMTP),
 * rendered once per target and written to a durable outbox in the control
 * store; one delivery worker sends due rows with libcurl, retries with
 * exponential backoff and full jitter, and marks a row delivered only
 * after the receiver accepted it (2xx, or the SMTP server took the
 * message). Rows survive a restart: pending rows are sent when the daemon
 * comes back. The `notify:` section of ooda.yaml names the targets, the
 * routes and the retry policy (docs/notifications.md).
 *
 * One outbox row (functions named at each arrow):
 *
 *   notify_enqueue / notify_page / notify_test
 *        │ (a second enqueue of the same dedupe key is ignored)
 *        v
 *     pending ──attempt ok (2xx / SMTP 250)──> delivered
 *      │   ^
 *      │   └── attempt failed, attempts < max: next_attempt = now + jitter(backoff)
 *      └────── attempt failed, attempts == max, or target gone ──> failed (kept, listed)
 *   (every transition is delivery_attempt() in notify.c, on the worker thread)
 *
 * Delivery is at least once: a row is marked delivered after the receiver's
 * answer, so a crash between the two sends it again. Every HTTP delivery
 * carries `X-Ooda-Delivery: <row id>` and the JSON bodies a stable "id", so
 * a receiver can drop the repeat.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef OODA_NOTIFY_H
#define OODA_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "detect/alerts.h"
#include "store/store.h"

struct notify;

/*
 * One thing to tell people about. Everything is borrowed for the call;
 * NULL fields are left out of the message. kind and event are required;
 * dedupe_base names the episode (an incident id, or an alert fingerprint
 * with the time it fired) so that the same event of the same episode is
 * queued once per target.
 */
struct notify_event {
	const char *kind;        /* "incident" | "alert" */
	const char *event;       /* "opened", "acknowledged", "resolved", "escalated", "firing", … */
	const char *dedupe_base;
	const char *incident_id;
	const char *alert_fingerprint;
	const char *title;
	const char *severity;    /* page, ticket, info, critical, warning, … */
	const char *service;
	const char *team;
	const char *impact;      /* one line: who is hurt and how */
	const char *top_suspect;
	const char *link;        /* absolute URL; NULL: built from notify.public_url */
	const json_t *extra;     /* object added to the webhook body and PagerDuty custom_details */
	int64_t at_ns;           /* when it happened; 0: now */
};

/*
 * The config_check_fn of the `notify` section (core/config.h): targets
 * (unique names, a known type, a URL of the right scheme, the secret each
 * type needs readable from secret_env or secret_file), routes (known
 * targets) and retry bounds. Errors name the key path
 * ("notify.targets[1].secret_env: …"); a secret's value is never in them.
 */
int notify_config_check(const char *section_json, struct buf *err);

/*
 * Creates the notifier on store s from the `notify` section (compact JSON,
 * NULL when absent: nothing is routed anywhere). signer may be NULL.
 * Starts no thread (notify_start does). Caller owns *out (notify_destroy).
 * OODA_EINVAL with the key path in err for a bad section.
 */
int notify_create(struct store *s, const struct audit_signer *signer, const char *section_json,
		  struct notify **out, struct buf *err);

/*
 * Starts the delivery worker; rows left pending by an earlier run are sent
 * as they fall due. OODA_EINTERNAL if the thread cannot start.
 */
int notify_start(struct notify *n, struct buf *err);

/*
 * Checks (apply false) or makes current (apply true) a new `notify`
 * section. Rows already queued keep their rendered body and go to the
 * target of that name in the new section (failed if it is gone). A summary
 * ("targets hook, chat; 3 routes") goes to changes when the section changed.
 */
int notify_reload(struct notify *n, const char *section_json, bool apply, struct buf *changes, struct buf *err);

/*
 * Delivered and failed rows whose last attempt is older than keep_ns are
 * deleted by the worker (once a minute, a batch of 1,000 at a time);
 * pending rows never are. 0 keeps everything (the default).
 */
void notify_set_retention(struct notify *n, int64_t keep_ns);

/* Stops the worker (after the attempt in progress) and frees n. NULL is a no-op. */
void notify_destroy(struct notify *n);

/*
 * Routes ev (every route that matches adds its targets), renders it per
 * target and queues it, then wakes the worker. Returns the number of rows
 * newly queued (0 when no route matched or every row was a duplicate), or
 * a negative OODA_E* code with detail in err (OODA_EINVAL for an event
 * without kind or event).
 */
int notify_enqueue(struct notify *n, const struct notify_event *ev, struct buf *err);

/*
 * Like notify_enqueue, to the one target named target whatever the routes
 * say (escalation). The row is deduplicated like any other, so a second
 * page of the same episode to the same target needs its own dedupe_base
 * (e.g. "inc_42#level2") or event. Returns 1 when queued, 0 for a
 * duplicate; OODA_ENOTFOUND for an unknown target.
 */
int notify_page(struct notify *n, const char *target, const struct notify_event *ev, struct buf *err);

/*
 * Queues a test message to target, audited as notify.test by actor in the
 * same transaction. Writes the row id to id. OODA_ENOTFOUND for an unknown
 * target.
 */
int notify_test(struct notify *n, const char *target, const char *actor, char id[24], struct buf *err);

/*
 * Follows the alerting core a (alerts_subscribe; call before the engine
 * starts): a firing transition of an alert that notifies (not silenced,
 * not inhibited) is queued as kind "alert", event "firing", routed like
 * any event (match kind: alert); its resolution as "resolved" when its
 * firing was queued. The subscriber never blocks: the work goes to the
 * worker. OODA_ELIMIT when a has no room for another subscriber.
 */
int notify_follow_alerts(struct notify *n, struct alerts *a);

/*
 * {"notifications":[…]} newest first as f selects: each row's id, target,
 * kind, event, incident, alert, status, attempts, next_attempt_at,
 * last_error, created_at, delivered_at (and the payload when f->id is set).
 * No secret is in a row.
 */
int notify_list_json(struct notify *n, const struct notify_filter *f, struct buf *out, struct buf *err);

/* Rows by status and attempts, for /metrics (Prometheus text). */
void notify_metrics(struct notify *n, struct buf *out);

/* Waits until the worker is idle (tests). */
void notify_wait_idle(struct notify *n);

#endif
