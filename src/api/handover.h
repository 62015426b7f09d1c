/*
 * Work that begins in an API request on a node that does not lead and is
 * the leader's to do, handed over through the control store: the follower
 * stores it as a document of kind "handover" (status "pending") in the
 * request's own transaction, and the leader's engine tick takes it (status
 * "taken", one leader once: the write names the version it read and is
 * fenced) and acts. Two kinds of work go this way:
 *
 *   key "incident/INC-N/T"      a change of an incident made through the API
 *                               (respond/incident.h): opened by hand, moved along
 *                               its lifecycle, severity, commander; its event
 *                               reaches the leader's triage, notification,
 *                               escalation and remediation
 *   key "alertmanager/T-SEQ"    an Alertmanager push: the leader feeds it to
 *                               its alerting core as if it had received it
 *
 * The leader looks when the store's data version moved (a commit on any
 * node: LISTEN/NOTIFY on PostgreSQL), at most every tick (250 ms).
 */
#ifndef OODA_HANDOVER_H
#define OODA_HANDOVER_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "model/signal.h"

struct daemon;

/* Hand-overs one leader round takes at most; the rest wait for the next. */
#define HANDOVER_BATCH 64

/*
 * A follower's Alertmanager intake: checks the payload as the leader will
 * decode it (errors as alertmanager_decode's, nothing stored) and stores
 * it for the leader, audited as alerts.handover by actor. *n receives the
 * number of alerts in it. Returns 0 or an error with detail in err.
 */
int handover_alertmanager_put(struct daemon *d, const char *body, size_t len, int64_t now_ns, const char *actor,
			      size_t *n, struct buf *err);

/* The engine tick (leader only) that takes pending hand-overs; ctx is the daemon. */
void handover_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink);

#endif
