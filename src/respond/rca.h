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
};

struct rca_suspect {
	char *node;        /* owned */
	char *kind;        /* owned: "service", "operation", "edge" or "change" */
	double score;      /* higher is more likely; comparable within one ranking only */
	double confidence; /* in [0,1] */
	json_t *evidence;  /* owned: array of objects, each {"kind":…, …} */
};

/*
 * Ranks the nodes of in. On success *out holds *n_out suspects, best first
 * (ties broken by node name), owned by the caller (rca_suspects_free).
 * OODA_EINVAL with the reason in err on malformed input (unsorted times,
 * n = 0 everywhere, NaN times).
 */
int rca_rank(const struct rca_input *in, struct rca_suspect **out, size_t *n_out, struct buf *err);

void rca_suspects_free(struct rca_suspect *s, size_t n);

#endif
