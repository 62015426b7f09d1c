/*
 * Alertmanager webhook intake (observe stage): Prometheus users keep their
 * rules and Alertmanager, and point a webhook receiver at ooda. Each alert
 * of the payload becomes an external alert_signal — firing or resolved as
 * Alertmanager says — so it joins ooda's own alerts in one lifecycle.
 */
#ifndef OODA_ALERTMANAGER_H
#define OODA_ALERTMANAGER_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "model/signal.h"

#define ALERTMANAGER_MAX_ALERTS 1000
#define ALERTMANAGER_MAX_LABELS 64
#define ALERTMANAGER_MAX_STR 4096

/*
 * Decodes a webhook payload (version "4": status, alerts[] with status,
 * labels, annotations, startsAt, endsAt, fingerprint) and, only when the
 * whole payload is valid, emits one signal per alert to sink: name =
 * labels.alertname, service = labels.service (else labels.job), severity
 * from labels.severity (critical→page, warning→ticket, default ticket),
 * labels = every label but alertname. A firing alert is active at startsAt
 * (now_ns when absent); a resolved one inactive at endsAt (else now_ns).
 * Sets *n_alerts (may be NULL). Returns 0, or OODA_EPARSE / OODA_EINVAL /
 * OODA_ELIMIT with a message naming the field ("alerts[2].labels.alertname:
 * missing") in err; nothing is emitted on error.
 */
int alertmanager_decode(const char *body, size_t len, int64_t now_ns, const struct alert_sink *sink,
			size_t *n_alerts, struct buf *err);

#endif
