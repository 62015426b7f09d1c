/*
 * The reliability report: how fast incidents were detected, acknowledged,
 * mitigated and resolved, how many there were per ISO week, and how often
 * the same trouble came back. Pure — it takes the incident documents (the
 * shared incident contract) and their timelines as JSON and returns JSON, so
 * the API (/api/v1/reports/reliability), /metrics and tests feed it alike.
 *
 * Definitions (all in seconds, per incident, then mean and median):
 *   MTTD  detected − onset_at, where detected is the first timeline entry of
 *         kind "alert" or "detection" at or after the onset, else opened_at
 *   MTTA  acknowledged_at − opened_at
 *   MTTM  mitigated_at − onset_at
 *   MTTR  resolved_at − onset_at
 * An interval whose end is missing or earlier than its start is left out of
 * that measure (its n says how many counted). Incidents count when onset_at
 * (else opened_at) lies in [from_ns, to_ns); drills (tags.drill true or
 * "true") are excluded and counted apart.
 *
 * Recurrence: an incident recurs when an earlier incident of the period has
 * the same primary service and the same cause — the statement of its last
 * confirmed hypothesis in the timeline, else its "root_cause" or
 * "error_class" field, else its source name (the alert that opened it).
 */
#ifndef OODA_RELIABILITY_H
#define OODA_RELIABILITY_H

#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"

/*
 * incidents: a JSON array of incident documents (or {"incidents":[…]}).
 * timelines_by_id: an object id → timeline ({"entries":[…]} or the bare
 * array); may be NULL or miss ids. On success *out (caller owns it) is
 *   {"from","to","incidents":N,"drills_excluded":D,
 *    "overall":{"mttd":{"n","mean_s","median_s"},"mtta":…,"mttm":…,"mttr":…,
 *               "recurrences":R,"recurrence_ratio":R/N or null},
 *    "services":{"payments":{"incidents":…, "mttd":…, …, "recurrences":…},…},
 *    "per_week":{"2026-W49":3,…},
 *    "recurring":[{"service","cause","count"}…]}
 * mean_s and median_s are null when n is 0. Returns OODA_EINVAL with the
 * reason in err when incidents is not an array, an incident is not an object
 * or one of its times is not RFC 3339, or from_ns >= to_ns.
 */
int reliability_compute(const json_t *incidents, const json_t *timelines_by_id, int64_t from_ns, int64_t to_ns,
			json_t **out, struct buf *err);

/*
 * Appends the report as Prometheus text (gauges with HELP and TYPE):
 *   ooda_incidents{service}                     incidents in the period
 *   ooda_incidents_recurrences{service}
 *   ooda_incidents_mttd_seconds{service}         mean (likewise mtta, mttm, mttr)
 *   ooda_incidents_mttd_median_seconds{service}
 * one line per service, plus service="" for all services together; measures
 * with no sample are left out.
 */
void reliability_render_prometheus(const json_t *report, struct buf *out);

/* The ISO 8601 week of ns as "2026-W49" into out (at least 16 bytes). Returns out. */
char *reliability_iso_week(int64_t ns, char *out, size_t size);

#endif
