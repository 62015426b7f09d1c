/*
 * Whole-store telemetry copies for `ooda migrate`: every log record, span
 * and metric point of one telemetry store read through tstore_scan and
 * written into another through tstore_append, so any backend copies into
 * any other. From the embedded store the blocks are decoded here and
 * gathered into appends of up to COPY_RECORDS records (ClickHouse makes a
 * part per INSERT: many small ones would pile up faster than it merges);
 * from ClickHouse the scan's own chunks are appended as they come.
 */
#include "store/tstore.h"
#include "store/tblock.h"
#include "core/arena.h"
#include "core/error.h"

/* Records gathered before one append to the target. */
#define COPY_RECORDS 20000
/* Decoded bytes gathered before one append, whatever the count. */
#define COPY_BYTES (64u << 20)

static size_t rec_size(int signal)
{
	return signal == SIGNAL_LOGS ? sizeof(struct log_record) :
	       signal == SIGNAL_SPANS ? sizeof(struct span) : sizeof(struct metric_point);
}

static const void *batch_recs(const struct telemetry_batch *b, int signal, size_t *n)
{
	*n = signal == SIGNAL_LOGS ? b->n_logs : signal == SIGNAL_SPANS ? b->n_spans : b->n_points;
	return signal == SIGNAL_LOGS ? (const void *)b->logs :
	       signal == SIGNAL_SPANS ? (const void *)b->spans : (const void *)b->points;
}

/* ---- counting ----------------------------------------------------------- */

struct count_state {
	int signal;
	uint64_t n;
};

static int count_fn(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	(void)tmin;
	(void)tmax;
	struct count_state *c = ctx;
	size_t n;
	batch_recs(b, c->signal, &n);
	c->n += n;
	return 0;
}

static int damaged(const struct tstore_skipped *sk, int signal, struct buf *err)
{
	if (!sk->n)
		return 0;
	buf_addf(err, "%llu damaged %s block(s) cannot be read (the first: id %lld); see them with `ooda telemetry "
		      "check` and remove them with `ooda telemetry repair`, then run the migration again",
		 (unsigned long long)sk->n, tstore_signal_name(signal), sk->n_ids ? (long long)sk->ids[0].id : 0LL);
	return OODA_ECORRUPT;
}

int tstore_count(struct tstore *t, struct tstore_counts *out, struct buf *err)
{
	memset(out, 0, sizeof(*out));
	for (int s = SIGNAL_LOGS; s <= SIGNAL_METRICS; s++) {
		struct tstore_skipped sk = { 0 };
		struct tstore_scan q = { .signal = s, .oldest_first = true, .skipped = &sk };
		if (s == SIGNAL_LOGS)
			q.skip = TBLOCK_SKIP_BODY | TBLOCK_SKIP_ATTRS;
		struct count_state c = { .signal = s };
		int rc = tstore_scan(t, &q, count_fn, &c, err);
		if (!rc)
			rc = damaged(&sk, s, err);
		if (rc)
			return rc;
		out->records[s] = c.n;
	}
	return 0;
}

/* ---- copying ------------------------------------------------------------ */

struct copy_state {
	struct tstore *dst;
	int signal;
	size_t esz;
	struct arena arena;     /* the gathered records' strings and attributes */
	char *recs;             /* n records of esz bytes */
	size_t n, cap;
	uint64_t copied;
	tstore_copy_progress_fn progress;
	void *ctx;
	struct buf *err;
	int rc;
};

static int copy_append(struct copy_state *c, const void *recs, size_t n)
{
	if (!n)
		return 0;
	struct telemetry_batch b = { .arena = &c->arena };
	if (c->signal == SIGNAL_LOGS) {
		b.logs = (struct log_record *)recs;
		b.n_logs = n;
	} else if (c->signal == SIGNAL_SPANS) {
		b.spans = (struct span *)recs;
		b.n_spans = n;
	} else {
		b.points = (struct metric_point *)recs;
		b.n_points = n;
	}
	int rc = tstore_append(c->dst, &b, c->err);
	if (rc) {
		if (!c->err->len)
			buf_adds(c->err, ooda_strerror(rc));
		return rc;
	}
	c->copied += n;
	if (c->progress)
		c->progress(c->ctx, c->signal, c->copied);
	return 0;
}

static int copy_flush(struct copy_state *c)
{
	int rc = copy_append(c, c->recs, c->n);
	c->n = 0;
	arena_reset(&c->arena);
	return rc;
}

/* Embedded source: decode each block into the gathering arena. */
static int copy_block(void *ctx, const struct tstore_block *blk, struct buf *err)
{
	struct copy_state *c = ctx;
	struct telemetry_batch one = { 0 };
	int rc = tblock_decode(c->signal, blk->data, blk->len, &c->arena, &one, err);
	if (rc)
		return rc; /* the scan counts it as damaged */
	size_t n;
	const void *src = batch_recs(&one, c->signal, &n);
	if (c->n + n > c->cap) {
		c->cap = c->n + n > 2 * c->cap ? c->n + n : 2 * c->cap;
		c->recs = xrealloc(c->recs, c->cap * c->esz);
	}
	memcpy(c->recs + c->n * c->esz, src, n * c->esz);
	c->n += n;
	if (c->n >= COPY_RECORDS || c->arena.used >= COPY_BYTES) {
		if ((c->rc = copy_flush(c)))
			return 1; /* stop the scan; c->rc says why */
	}
	return 0;
}

/* ClickHouse source: its chunks go on as they are. */
static int copy_chunk(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	(void)tmin;
	(void)tmax;
	struct copy_state *c = ctx;
	size_t n;
	const void *recs = batch_recs(b, c->signal, &n);
	c->rc = copy_append(c, recs, n);
	return c->rc ? 1 : 0;
}

int tstore_copy(struct tstore *src, struct tstore *dst, tstore_copy_progress_fn progress, void *ctx,
		struct buf *err)
{
	int rc = 0;
	for (int s = SIGNAL_LOGS; s <= SIGNAL_METRICS && !rc; s++) {
		struct copy_state c = { .dst = dst, .signal = s, .esz = rec_size(s), .progress = progress,
					.ctx = ctx, .err = err };
		arena_init(&c.arena, 1u << 20);
		struct tstore_skipped sk = { 0 };
		struct tstore_scan q = { .signal = s, .oldest_first = true, .skipped = &sk, .block_fn = copy_block };
		rc = tstore_scan(src, &q, copy_chunk, &c, err);
		if (!rc)
			rc = c.rc;
		if (!rc)
			rc = damaged(&sk, s, err);
		if (!rc)
			rc = copy_flush(&c);
		if (!rc && progress && !c.copied)
			progress(ctx, s, 0);
		if (rc && err->len)
			buf_addf(err, " (copying %s)", tstore_signal_name(s));
		free(c.recs);
		arena_release(&c.arena);
	}
	return rc;
}
