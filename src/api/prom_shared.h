/*
 * What Prometheus' API answers from a node's memory but every node of a
 * cluster must answer alike: OTLP exemplars (/api/v1/query_exemplars) and
 * remote-write metadata (/api/v1/metadata). On a control store several
 * nodes share, the node that ingests them writes them to the store before
 * it acknowledges the request, and a node about to answer a query first
 * reads what was written since it last looked into its own ring and book;
 * so an answer on any node includes everything any node acknowledged. On
 * one node (SQLite) they go straight to memory, as before.
 */
#ifndef OODA_PROM_SHARED_H
#define OODA_PROM_SHARED_H

#include "api/daemon.h"
#include "ingest/remote_write.h"

/* The exemplars of b's metric points, for every node's exemplar ring. Never fails: a failed write keeps them here. */
void prom_shared_exemplars_add(struct daemon *d, const struct telemetry_batch *b);

/* Remote-write metadata (n entries), for every node's book; as above. */
void prom_shared_metadata_set(struct daemon *d, const struct rw_metadata *meta, size_t n);

/* Before a query: what other nodes stored since this node last read, into its ring and book (bounded pages). */
void prom_shared_catch_up(struct daemon *d);

#endif
