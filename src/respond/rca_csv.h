/*
 * The offline door of the root-cause engine: loads the long-format metric
 * CSV (`timestamp,node,metric,value`), the call graph CSV (`caller,callee`)
 * and change events (`timestamp,node,kind,ref`) that `ooda analyze rca` and bench/rca feed to
 * rca_rank(). Bounded: file size, line length, rows and series are capped,
 * and every refusal names FILE:LINE.
 */
#ifndef OODA_RCA_CSV_H
#define OODA_RCA_CSV_H

#include <stdio.h>

#include "core/buf.h"
#include "respond/rca.h"

#define RCA_CSV_MAX_BYTES (64u << 20) /* one file */
#define RCA_CSV_MAX_LINE 1024         /* bytes, without the newline */
#define RCA_CSV_MAX_ROWS 2000000u
#define RCA_CSV_MAX_SERIES 20000u     /* distinct (node, metric) */
#define RCA_CSV_MAX_NAME 256          /* node or metric name, bytes */
#define RCA_CSV_MAX_EDGES 50000u
#define RCA_CSV_MAX_CHANGES 50000u

/* Series or edges loaded from one file; everything is owned by the struct. */
struct rca_csv {
	struct rca_series *series;
	size_t n_series;
	struct rca_edge *edges;
	size_t n_edges;
	struct rca_change *changes;
	size_t n_changes;
	char **names; /* private: the strings series and edges point at */
	size_t n_names;
	int64_t *t;   /* private: samples of all series */
	double *v;
};

void rca_csv_init(struct rca_csv *d);
void rca_csv_release(struct rca_csv *d);

/*
 * Reads `timestamp,node,metric,value` rows (an optional header first: a
 * line whose first field is not a number). Timestamps are whole unix
 * seconds > 0; an empty or "nan" value is a missing sample; rows may come
 * in any order; a (node, metric) with two rows at one time is refused. On
 * error d is left empty and err holds "NAME:LINE: reason"; OODA_EPARSE for
 * bad rows, OODA_ELIMIT for a limit, OODA_EIO for a read error.
 */
int rca_csv_load_series(struct rca_csv *d, FILE *in, const char *name, struct buf *err);

/* Reads `caller,callee` rows (an optional "caller,callee" header); errors as above. */
int rca_csv_load_edges(struct rca_csv *d, FILE *in, const char *name, struct buf *err);

/*
 * Reads change events, `timestamp,node,kind,ref` (deploy, flag or config
 * change on node at timestamp; an optional header as for series); errors as
 * above.
 */
int rca_csv_load_changes(struct rca_csv *d, FILE *in, const char *name, struct buf *err);

#endif
