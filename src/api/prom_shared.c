/*
 * Exemplars and remote-write metadata shared through the control store
 * (prom_shared.h): written at ingest in one write transaction per request,
 * read back before a query from the id (or seq) this node last read, in
 * commit order (both are given out under the store's write lock).
 */
#include "api/prom_shared.h"
#include "api/cluster.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "query/exemplars.h"
#include "query/metrics.h"

/* Batches of exemplars the store keeps (newest); a node's ring holds the newest EXEMPLARS_CAPACITY entries. */
#define SHARED_EXEMPLAR_BATCHES 1000
/* One catch-up reads at most PAGES pages of PAGE rows. */
#define SHARED_PAGE 200
#define SHARED_PAGES 20

static bool shared(struct daemon *d)
{
	return d->cluster && cluster_multi(d->cluster);
}

static int exemplars_tx(struct store *s, void *ctx, struct buf *err)
{
	const struct buf *body = ctx;
	int rc = store_exemplars_put(s, ooda_now_ns(), body->data, body->len, SHARED_EXEMPLAR_BATCHES);
	if (rc)
		buf_addf(err, "exemplars cannot be stored for the other nodes: %s", ooda_strerror(rc));
	return rc;
}

void prom_shared_exemplars_add(struct daemon *d, const struct telemetry_batch *b)
{
	if (!d->exemplars)
		return;
	if (!shared(d)) {
		exemplars_add(d->exemplars, b);
		return;
	}
	struct buf body = BUF_INIT, err = BUF_INIT;
	if (exemplars_encode(b, &body) && store_write(d->store, exemplars_tx, &body, &err)) {
		log_warn("%s; this node keeps them", err.data);
		exemplars_add(d->exemplars, b);
	}
	buf_release(&body);
	buf_release(&err);
}

struct meta_ctx {
	const struct rw_metadata *meta;
	size_t n;
};

static int metadata_tx(struct store *s, void *ctx, struct buf *err)
{
	const struct meta_ctx *m = ctx;
	for (size_t i = 0; i < m->n; i++) {
		if (!m->meta[i].name || !*m->meta[i].name)
			continue;
		int rc = store_metadata_put(s, m->meta[i].name, m->meta[i].type, m->meta[i].help, m->meta[i].unit);
		if (rc) {
			buf_addf(err, "metric metadata cannot be stored for the other nodes: %s", ooda_strerror(rc));
			return rc;
		}
	}
	return 0;
}

void prom_shared_metadata_set(struct daemon *d, const struct rw_metadata *meta, size_t n)
{
	if (!d->metric_meta || !n)
		return;
	struct meta_ctx m = { meta, n };
	struct buf err = BUF_INIT;
	if (shared(d) && store_write(d->store, metadata_tx, &m, &err))
		log_warn("%s; this node keeps it", err.data);
	else if (shared(d)) {
		buf_release(&err);
		return; /* the catch-up before a query brings it in, on this node as on the others */
	}
	for (size_t i = 0; i < n; i++)
		metrics_meta_book_set(d->metric_meta, meta[i].name, meta[i].type, meta[i].help, meta[i].unit);
	buf_release(&err);
}

struct read_ctx {
	struct daemon *d;
	size_t rows;
};

static int exemplar_row(void *ctx, const void *row)
{
	struct read_ctx *r = ctx;
	const struct exemplar_batch_row *b = row;
	struct buf err = BUF_INIT;
	r->rows++;
	r->d->shared_exemplar_id = b->id;
	if (exemplars_add_encoded(r->d->exemplars, b->body, b->body_len, &err))
		log_warn("exemplars stored by another node skipped (batch %lld): %s", (long long)b->id, err.data);
	buf_release(&err);
	return 0;
}

static int meta_row(void *ctx, const void *row)
{
	struct read_ctx *r = ctx;
	const struct metric_meta_row *m = row;
	r->rows++;
	r->d->shared_meta_seq = m->seq;
	metrics_meta_book_set(r->d->metric_meta, m->name, m->type, m->help, m->unit);
	return 0;
}

void prom_shared_catch_up(struct daemon *d)
{
	if (!shared(d) || !d->exemplars || !d->metric_meta)
		return;
	pthread_mutex_lock(&d->shared_mu);
	for (int page = 0; page < SHARED_PAGES; page++) {
		struct read_ctx r = { d, 0 };
		if (store_exemplars_list(d->store, d->shared_exemplar_id, SHARED_PAGE, exemplar_row, &r) ||
		    r.rows < SHARED_PAGE)
			break;
	}
	for (int page = 0; page < SHARED_PAGES; page++) {
		struct read_ctx r = { d, 0 };
		if (store_metadata_list(d->store, d->shared_meta_seq, SHARED_PAGE, meta_row, &r) || r.rows < SHARED_PAGE)
			break;
	}
	pthread_mutex_unlock(&d->shared_mu);
}
