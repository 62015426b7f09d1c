/*
 * Counters of flag evaluations by flag and reason for ooda's own /metrics
 * (ooda_flag_evaluations_total{flag,reason}). Label cardinality is bounded:
 * the first FLAG_COUNTS_MAX flag keys evaluated get a series each; later
 * keys, keys longer than FLAG_COUNTS_KEY_MAX bytes and keys no environment
 * defines (FLAG_NOT_FOUND, which a client could make up without end) count
 * under flag="other".
 */
#ifndef OODA_API_FLAG_COUNTS_H
#define OODA_API_FLAG_COUNTS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "change/flag.h"

struct buf;

enum { FLAG_COUNTS_MAX = 100, FLAG_COUNTS_KEY_MAX = 128, FLAG_COUNTS_REASONS = 5 };

struct flag_counts {
	pthread_mutex_t mu; /* guards n and keys (slots are only added) */
	int n;
	char keys[FLAG_COUNTS_MAX][FLAG_COUNTS_KEY_MAX + 1];
	atomic_ullong counts[FLAG_COUNTS_MAX + 1][FLAG_COUNTS_REASONS]; /* the last row is "other" */
};

void flag_counts_init(struct flag_counts *fc);
void flag_counts_release(struct flag_counts *fc);
/* One evaluation of key with reason; defined is false for FLAG_NOT_FOUND. Thread-safe. */
void flag_counts_add(struct flag_counts *fc, const char *key, enum flag_reason reason, bool defined);
/* Appends the HELP, TYPE and one line per flag and reason seen, label values escaped. */
void flag_counts_metrics(struct flag_counts *fc, struct buf *out);

#endif
