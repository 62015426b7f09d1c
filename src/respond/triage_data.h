/*
 * Private to triage*.c: the window of telemetry one triage call reads once
 * and every view (summary, snapshot, rca input) is computed from — the
 * spans of onset − baseline .. now, interned service and operation names,
 * parent links, the involved services and their neighbourhood, the edges.
 */
#ifndef OODA_TRIAGE_DATA_H
#define OODA_TRIAGE_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "respond/triage.h"

/* Interned strings: index ↔ string. */
struct strtab {
	char **v;
	size_t n, cap;
	uint32_t *slots; /* open addressing, index + 1; 0 = empty */
	size_t n_slots;
};

struct tspan {
	int64_t start, end;
	uint32_t svc, op;
	int32_t user;     /* strtab index of enduser.id / user.id, or -1 */
	int32_t parent;   /* index of the parent span when read, or -1 */
	int32_t peer;     /* a CLIENT span: the service (svcs) its peer names, or -1 (none, or no known service) */
	int32_t callee;   /* a CLIENT span: the service of a server span it parents, or -1 */
	uint8_t trace[16], id[8], pid[8];
	bool has_parent, server, client, error;
};

struct tedge {
	uint32_t caller, callee;  /* service indexes */
	bool traced, declared;
};

/* RED of a set of server spans over a window. */
struct tred {
	uint64_t requests, errors;
	double p90_ms, rate;      /* p90 NaN without requests */
};

struct tdata {
	const struct triage_deps *deps;
	const json_t *incident;
	const char *id, *primary;
	int64_t onset, from, to, now;
	int64_t first;            /* the earliest server span's end (INT64_MAX: none); rates count from here */
	struct strtab svcs, ops, users, peers; /* peers: the names client spans give, while loading */
	struct tspan *spans;
	size_t n, cap, max;
	bool truncated;
	/* involved (the incident's services) then their one-hop neighbours */
	uint32_t *nodes;
	size_t n_nodes, n_involved;
	struct tedge *edges;
	size_t n_edges;
	json_t *changes;          /* as in the summary */
};

int tdata_load(struct tdata *d, const struct triage_deps *deps, const json_t *incident, int64_t now_ns,
	       struct buf *err);
void tdata_release(struct tdata *d);

/* Index of s in t, adding it; never fails. */
uint32_t strtab_intern(struct strtab *t, const char *s);
/* Index of s in t, or -1. */
int32_t strtab_find(const struct strtab *t, const char *s);

/*
 * RED of server spans of service svc (or of edge caller→svc when caller >= 0:
 * the callee's server spans whose parent is in caller) ending in [from, to).
 */
struct tred tdata_red(const struct tdata *d, uint32_t svc, int64_t caller, int64_t from, int64_t to);

json_t *tred_json(const struct tred *r);

/* The rca input from a loaded window (triage_rca.c); release out whatever the result. */
int triage_rca_build(const struct tdata *d, struct triage_rca *out, struct buf *err);

/* Lowercase hex of n bytes into out (2n + 1). */
void tdata_hex(const uint8_t *b, size_t n, char *out);

#endif
