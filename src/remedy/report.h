/*
 * The automation report: how well remediation works, per policy and per
 * recipe — runs, success rate, time from trigger to verified recovery
 * (median, p90), undo count, guardrail hits by guardrail, and false
 * activations (runs that acted on incidents later resolved as false
 * positives). Runs on drill incidents are counted apart and left out, as
 * the reliability report leaves drills out. report_compute is pure
 * arithmetic over run documents; report_runs reads them from the store.
 */
#ifndef OODA_REMEDY_REPORT_H
#define OODA_REMEDY_REPORT_H

#include <jansson.h>
#include <stdint.h>

#include "core/buf.h"
#include "remedy/remedy.h"

/*
 * From runs (an array of "remedy-run" documents) created at or after
 * since_ns, and incidents (an array of incident documents: id, tags.drill
 * or drill, false_positive; NULL: none known), writes *out (caller owns):
 * {since, runs, drills_excluded, policies:[GROUP], recipes:[GROUP]} where
 * GROUP is {name, runs, by_status:{…}, succeeded, finished, success_rate
 * (null when none finished), recovery_seconds:{count, median, p90, sum},
 * undone, guardrail_hits:{cooldown: n, …}, false_activations}. Groups are
 * sorted by name. Returns 0.
 */
int report_compute(const json_t *runs, const json_t *incidents, int64_t since_ns, json_t **out);

/*
 * The guardrail a refusal's reason names: "pause", "breaker", "cooldown",
 * "max_runs", "max_concurrent", "max_services", "precondition" or "other".
 */
const char *report_guardrail_of(const char *reason);

/* Every run document of the engine created at or after since_ns (at most REMEDY_MAX_RUNS_KEPT, newest kept). */
int report_runs(struct remedy *r, int64_t since_ns, json_t **runs, struct buf *err);

/*
 * Prometheus text of a report: ooda_remedy_runs_total{policy,status},
 * ooda_remedy_recovery_seconds{policy,quantile} (a summary with _sum and
 * _count), ooda_remedy_guardrail_hits_total{policy,guardrail}. Appends to out.
 */
void report_prometheus(const json_t *report, struct buf *out);

#endif
