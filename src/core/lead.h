/*
 * Leadership of this process in a cluster of ooda nodes: whether this node
 * leads and with which term (the fencing token), as one process-wide value
 * the cluster loop (api/cluster.c) sets and the leader-only loops read —
 * the engine thread, workers created with worker_opts.leader_only, the
 * rollout engine. A loop that acts first copies the term into its thread
 * (lead_thread_enter); the control store's writer checks that copy inside
 * the write's transaction against the stored lease (store/store.h), so a
 * leader that was paused and comes back cannot act twice. A process with
 * one node (SQLite, unit tests) keeps the initial term 1.
 */
#ifndef OODA_LEAD_H
#define OODA_LEAD_H

#include <stdbool.h>
#include <stdint.h>

/* The term this node leads with, 0 while it follows. Any thread. */
int64_t lead_term(void);

/* Sets the term (0: follow). The cluster loop only; 1 until it is first called. */
void lead_set(int64_t term);

/*
 * Copies the current term into the calling thread's fencing token and
 * returns it: the term (> 0) while leading, -1 (every fenced write is
 * refused) while following. Call before each round of leader-only work.
 */
int64_t lead_thread_enter(void);

/* Clears the calling thread's fencing token (0: its writes are not checked). */
void lead_thread_leave(void);

/* The calling thread's fencing token: 0 for a thread that never entered or left. */
int64_t lead_thread_fence(void);

#endif
