/*
 * Triage: what a responder needs on one screen when an incident opens, and
 * the fuller evidence bundle kept with it. From the incident document (the
 * shared incident contract: id, service, services, onset_at, runbook …) and
 * the live telemetry it computes
 *
 *  - triage_compute: the summary — impact (RED per involved service, incident
 *    window onset..now against the baseline onset−15m..onset; the failing
 *    operations; request volume; distinct affected users; SLO budget
 *    burned), the most anomalous signals, new or spiking error classes, the
 *    changes on the involved services and their dependencies (and the flag
 *    changes filed without a service, under "flags") from two hours before
 *    the onset, with before_onset_s, exemplar failing traces, the runbook,
 *    and the suspects
 *    of the root-cause ranking;
 *  - triage_render_text: that summary as the text `ooda incident show` prints;
 *  - triage_rca_input: the input of rca_rank (respond/rca.h) — per service
 *    and per edge series over baseline and incident at a fixed step, the
 *    dependency edges (traced ∪ declared), the changes, the onset, the
 *    incident's primary service as target;
 *  - triage_snapshot: the diagnostics bundle stored as an artifact at open.
 *
 * It reads only through public APIs: spans, logs and change events from the
 * telemetry store (tstore_scan, tstore_events_json), the dependency graph
 * from live signals (live_graph_json), error classes from detect/logclass,
 * SLO budgets from detect/slo, probes and heartbeats from detect/, flag and
 * config versions from store/vdoc. RED is recomputed from the stored spans
 * of the window rather than read from the live ring, so a summary refreshed
 * hours later still sees the onset. Everything is bounded: at most
 * deps->max_spans spans are read per call (the newest first).
 *
 * The ranking is called through deps->rank: the daemon sets it to rca_rank;
 * NULL leaves "suspects" empty (the incidents stage wires it, see
 * docs/decisions.md).
 */
#ifndef OODA_TRIAGE_H
#define OODA_TRIAGE_H

#include <stdint.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/buf.h"
#include "detect/heartbeat.h"
#include "detect/logclass.h"
#include "detect/probe.h"
#include "detect/slo.h"
#include "model/live.h"
#include "respond/rca.h"
#include "store/store.h"
#include "store/tstore.h"

#define TRIAGE_BASELINE_NS (15 * 60 * INT64_C(1000000000))
#define TRIAGE_MAX_SPANS 200000
#define TRIAGE_CHANGE_LOOKBACK_NS (2 * 3600 * INT64_C(1000000000))

typedef int (*triage_rank_fn)(const struct rca_input *in, struct rca_suspect **out, size_t *n_out, struct buf *err);
typedef void (*triage_rank_free_fn)(struct rca_suspect *s, size_t n);

/* Read-only handles triage reads through; borrowed. Only tstore is required. */
struct triage_deps {
	struct tstore *tstore;        /* spans, logs, change events */
	struct store *store;          /* flag and config versions (snapshot); NULL: none */
	struct live_signals *live;    /* the traced dependency graph; NULL: edges from the spans read only */
	struct logclass *logclass;    /* error classes; NULL: none */
	struct slo_set *slos;         /* SLO budgets; NULL: none */
	struct prober *prober;        /* probe states (snapshot); NULL: none */
	struct heartbeats *heartbeats;/* heartbeat states (snapshot); NULL: none */
	const json_t *services;       /* the services: section of ooda.yaml (name, dependencies, runbook?); may be NULL */
	triage_rank_fn rank;          /* rca_rank; NULL: no suspects */
	triage_rank_free_fn rank_free;/* rca_suspects_free; required with rank */
	int64_t baseline_ns;          /* 0: TRIAGE_BASELINE_NS */
	int64_t step_ns;              /* series step of the rca input; 0: 60 s (at least 10 s) */
	size_t max_spans;             /* 0: TRIAGE_MAX_SPANS */
};

/*
 * The summary of incident at now_ns into *summary (caller owns it):
 *   {"incident","computed_at","onset_at","window":{"baseline_from","onset","to"},
 *    "impact":{"services":[{"service","baseline":{"requests","errors",
 *        "error_ratio","p90_ms","rate"},"incident":{…same…}}],
 *      "operations":[{"service","operation","requests","errors"}],
 *      "requests","errors","affected_users"|null,
 *      "slo_budget":[{"slo","service","remaining_at_onset","remaining_now","burned"}]},
 *    "signals":[{"service","metric","baseline","incident","magnitude"}],
 *    "error_classes":[{"service","template","example","count","baseline_count",
 *        "first_seen","new","spiking"}],
 *    "changes":[{"id","kind","service","version","actor","description","at",
 *        "before_onset_s"}],
 *    "exemplar_traces":[{"trace_id","service","operation","duration_ms","status_message"}],
 *    "runbook": string|null,
 *    "suspects":[{"node","kind","score","confidence","evidence"}]}
 * Error ratios are fractions, rates per second; "magnitude" is incident over
 * baseline (baseline floored so a zero does not divide). affected_users is
 * null when no failing request carries enduser.id or user.id. Returns 0, or
 * OODA_EINVAL (no onset_at/opened_at, no service) or a store error, with the
 * reason in err; a failing ranking is not an error (its reason goes into
 * "suspects_error").
 */
int triage_compute(const struct triage_deps *deps, const json_t *incident, int64_t now_ns, json_t **summary,
		   struct buf *err);

/*
 * Appends the one-screen text of a summary to out: an Impact line per
 * service, then Operations, Signals, Errors, Changes, Traces, Runbook and
 * Suspects ("Suspects: 1. checkout (0.82) deploy d-42 4m before onset").
 */
void triage_render_text(const json_t *summary, struct buf *out);

/* The rca input and the memory behind it. */
struct triage_rca {
	struct rca_input in;   /* every pointer in it lives in arena */
	struct arena arena;
};

/*
 * Builds the root-cause input of incident: the involved services and their
 * neighbours (one hop in the traced ∪ declared graph), each with the series
 * error_ratio, latency_p90 (ms) and rate (per second), and each traced edge
 * "caller->callee" likewise, from onset − baseline to now_ns at step_ns; the
 * edges; the changes as rca_change (node = the event's service); onset_s;
 * target = the incident's primary service. Release with triage_rca_release
 * (also after a failure). OODA_EINVAL for an incident without onset or
 * service, or a store error, with the reason in err.
 */
int triage_rca_input(const struct triage_deps *deps, const json_t *incident, int64_t now_ns, struct triage_rca *out,
		     struct buf *err);
void triage_rca_release(struct triage_rca *r);

/*
 * The diagnostics snapshot into *out (caller owns it):
 *   {"incident","taken_at","window":{…},
 *    "red":{"services":[as impact.services],"edges":[{"source","target",
 *           "baseline":{…},"incident":{…}}]},
 *    "error_classes":[…],"exemplar_traces":[{"trace_id","root":{"service",
 *           "name","duration_ms","status"},"spans","error_spans"}],
 *    "probes":[…],"heartbeats":[…],
 *    "flags":[{"key","version","time","author"}],
 *    "configs":[{"key","version","time","author"}],
 *    "changes":[…]}
 * Returns 0, or as triage_compute.
 */
int triage_snapshot(const struct triage_deps *deps, const json_t *incident, int64_t now_ns, json_t **out,
		    struct buf *err);

#endif
