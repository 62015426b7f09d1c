/*
 * Root-cause ranking: arrays in, a ranked list of suspects out. Pure — no
 * store, no clock, no threads — so the same engine ranks a live incident's
 * services (respond/triage builds the input from telemetry) and offline
 * cases (`ooda analyze rca --metrics FILE.csv …`, bench/rca).
 *
 * Input: per-node metric series over the incident window, optionally a
 * normal (baseline) period per node, the caller→callee edges, change events
 * (deploys, flag and config changes) with their node and time, the onset
 * (0 = find it from the data) and the node where the symptom was seen
 * (NULL = unknown). Output: suspects best first, each with a score, a
 * confidence in [0,1] and its evidence as JSON.
 */
#ifndef OODA_RCA_H
#define OODA_RCA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"

/* One metric of one node: n samples, times in seconds, ascending. Borrowed. */
struct rca_series {
	const char *node;    /* a service, "service:operation", or an edge "caller->callee" */
	const char *metric;  /* free text: "latency_p90", "error_ratio", "cpu", "mem", … */
	const int64_t *t_s;
	const double *v;
	size_t n;
};

struct rca_edge {
	const char *caller, *callee;
};

/* A change on a node (deploy, flag or config version) at at_s. Borrowed. */
struct rca_change {
	const char *node;
	int64_t at_s;
	const char *kind;     /* "deploy", "flag", "config", … */
	const char *ref;      /* deploy id, "flag:key@v3", … */
	const char *summary;  /* one line for the evidence; may be NULL */
};

struct rca_input {
	const struct rca_series *series;  /* the window to explain */
	size_t n_series;
	const struct rca_series *normal;  /* baseline period; n_normal 0: the part of series before onset */
	size_t n_normal;
	const struct rca_edge *edges;
	size_t n_edges;
	const struct rca_change *changes;
	size_t n_changes;
	int64_t onset_s;                  /* 0: estimated from the data */
	const char *target;               /* node where the symptom was seen; NULL: unknown */
	double scale_floor;               /* 0: RCA_SCALE_FLOOR; else the relative floor to use (bench cross-validation) */
	double resolution;                /* 0: RCA_RESOLUTION; likewise */
};

/*
 * The one configuration (docs/decisions.md, "Root-cause ranking"): chosen by
 * principle, not fitted per case. A series' baseline scale is at least
 * RCA_SCALE_FLOOR x |its baseline median| (a change of under a few percent of
 * a level is not attributable) and RCA_RESOLUTION x the largest |value| of
 * that metric over all nodes (so a flat-zero baseline does not turn one
 * error into an infinite z). A deviation counts once it holds for
 * RCA_SUSTAIN samples; a series is anomalous past RCA_Z_ONSET. When a metric
 * drifts on most nodes, each node's z is divided by the median node's excess
 * over RCA_Z_ONSET (one family must not dominate). With a graph, a node
 * whose anomalous callee started no later and is at least RCA_EXPLAIN as
 * anomalous is a likely victim: it keeps RCA_VICTIM x the smaller of its
 * own score and its explainer's;
 * with a target, nodes it cannot reach are x RCA_OFF_PATH; a change on a node
 * within RCA_CHANGE_WINDOW_S before onset multiplies it by 1 + proximity.
 * Confidence is a suspect's squared score over the sum of the squared
 * scores of the first RCA_CONFIDENCE_TOP suspects, capped at 1.
 */
#define RCA_SCALE_FLOOR 0.05
#define RCA_RESOLUTION 0.01
#define RCA_SUSTAIN 3
#define RCA_Z_ONSET 3.0
#define RCA_VICTIM 0.5
#define RCA_EXPLAIN 0.25
#define RCA_OFF_PATH 0.5
#define RCA_CHANGE_WINDOW_S 1800
#define RCA_CONFIDENCE_TOP 5

struct rca_suspect {
	char *node;        /* owned */
	char *kind;        /* owned: "service", "operation", "edge" or "change" */
	double score;      /* higher is more likely; comparable within one ranking only */
	double confidence; /* in [0,1] */
	json_t *evidence;  /* owned: array of objects, each {"kind":…, …} */
	int64_t onset_s;   /* when this node's anomaly began (a change: its time); 0 none */
};

/*
 * Ranks the nodes of in. On success *out holds *n_out suspects, best first
 * (ties broken by node name), owned by the caller (rca_suspects_free).
 * OODA_EINVAL with the reason in err on malformed input (unsorted times,
 * n = 0 everywhere, NaN times).
 */
int rca_rank(const struct rca_input *in, struct rca_suspect **out, size_t *n_out, struct buf *err);

/* The onset rca_rank uses for in: in->onset_s, else the one it estimates (0 when it cannot). */
int64_t rca_onset(const struct rca_input *in);

void rca_suspects_free(struct rca_suspect *s, size_t n);

#endif
