/*
 * Flag evaluation counters for /metrics. A key gets a slot the first time it
 * is evaluated, under a mutex; counting after that is an atomic add. Slots
 * are never freed, so a series never jumps between flags while ooda runs.
 */
#include "api/flag_counts.h"
#include "core/buf.h"

#include <string.h>

void flag_counts_init(struct flag_counts *fc)
{
	memset(fc, 0, sizeof(*fc));
	pthread_mutex_init(&fc->mu, NULL);
}

void flag_counts_release(struct flag_counts *fc)
{
	pthread_mutex_destroy(&fc->mu);
}

static int slot_of(struct flag_counts *fc, const char *key, bool defined)
{
	size_t len = strlen(key);
	if (!defined || len > FLAG_COUNTS_KEY_MAX)
		return FLAG_COUNTS_MAX;
	pthread_mutex_lock(&fc->mu);
	int slot = FLAG_COUNTS_MAX;
	for (int i = 0; i < fc->n; i++)
		if (!strcmp(fc->keys[i], key)) {
			slot = i;
			break;
		}
	if (slot == FLAG_COUNTS_MAX && fc->n < FLAG_COUNTS_MAX) {
		memcpy(fc->keys[fc->n], key, len + 1);
		slot = fc->n++;
	}
	pthread_mutex_unlock(&fc->mu);
	return slot;
}

void flag_counts_add(struct flag_counts *fc, const char *key, enum flag_reason reason, bool defined)
{
	if ((unsigned)reason >= FLAG_COUNTS_REASONS)
		reason = FLAG_REASON_ERROR;
	atomic_fetch_add(&fc->counts[slot_of(fc, key, defined)][reason], 1);
}

/* A label value as the text format wants it: backslash, quote and newline escaped. */
static void add_label_value(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_adds(out, "\\\\");
		else if (*s == '"')
			buf_adds(out, "\\\"");
		else if (*s == '\n')
			buf_adds(out, "\\n");
		else
			buf_addch(out, *s);
	}
}

void flag_counts_metrics(struct flag_counts *fc, struct buf *out)
{
	buf_adds(out, "# HELP ooda_flag_evaluations_total Flag evaluations by flag and reason (OFREP); after the first "
		      "100 flags, and for undefined flags, flag=\"other\".\n"
		      "# TYPE ooda_flag_evaluations_total counter\n");
	pthread_mutex_lock(&fc->mu);
	int n = fc->n;
	pthread_mutex_unlock(&fc->mu);
	for (int i = 0; i <= FLAG_COUNTS_MAX; i++) {
		if (i >= n && i < FLAG_COUNTS_MAX)
			continue;
		for (int r = 0; r < FLAG_COUNTS_REASONS; r++) {
			unsigned long long v = atomic_load(&fc->counts[i][r]);
			if (!v)
				continue;
			buf_adds(out, "ooda_flag_evaluations_total{flag=\"");
			add_label_value(out, i < FLAG_COUNTS_MAX ? fc->keys[i] : "other");
			buf_addf(out, "\",reason=\"%s\"} %llu\n", flag_reason_name((enum flag_reason)r), v);
		}
	}
}
