/*
 * Fresh-telemetry announcements between nodes (fresh.h), on two workers
 * (core/worker.h): the sender is woken per batch, and worker_wake merges
 * the wakes that arrive while it sends into one more call, which is the
 * coalescing fresh.h promises; the listener is called again as soon as it
 * returns, each call waiting up to FRESH_LISTEN_MS for the other nodes'.
 */
#include "api/fresh.h"
#include "core/error.h"
#include "core/lead.h"
#include "core/log.h"
#include "core/time.h"
#include "core/worker.h"
#include "core/xalloc.h"

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

/* After a failed announcement or wait, the next try comes this much later (and is logged once a minute). */
#define FRESH_RETRY_NS (INT64_C(500) * 1000000)
#define FRESH_LOG_NS (INT64_C(60) * 1000000000)

struct fresh {
	struct store *store;
	char node_id[128];
	void (*on_fresh)(void *ctx);
	void *ctx;
	struct worker *sender, *listener;
	int64_t retry_after;          /* the sender's: no announcement before this (monotonic) */
	int64_t sent_logged, heard_logged;
	atomic_uint_least64_t sent, heard;
};

void fresh_note(struct fresh *f)
{
	if (f && lead_term() <= 0) /* the leader's own batches poke its engine directly */
		worker_wake(f->sender);
}

/* The workers' pause after a failure: logged at most once a minute. */
static void failed(const char *what, int rc, int64_t *logged)
{
	int64_t now = ooda_mono_ns();
	if (now - *logged >= FRESH_LOG_NS) {
		log_warn("cluster: cannot %s (%s); the leader's rules read what it covers at their next evaluation",
			 what, ooda_strerror(rc));
		*logged = now;
	}
}

static void send_one(void *ctx, void *item)
{
	(void)item;
	struct fresh *f = ctx;
	if (ooda_mono_ns() < f->retry_after)
		return; /* PostgreSQL failed a moment ago: not one reconnect per batch */
	int rc = store_fresh_announce(f->store, f->node_id);
	if (!rc) {
		atomic_fetch_add(&f->sent, 1);
		return;
	}
	f->retry_after = ooda_mono_ns() + FRESH_RETRY_NS;
	failed("announce fresh telemetry to the leader", rc, &f->sent_logged);
}

static void listen_once(void *ctx, void *item)
{
	(void)item;
	struct fresh *f = ctx;
	int rc = store_fresh_wait(f->store, f->node_id, FRESH_LISTEN_MS);
	if (!rc) {
		if (lead_term() > 0) {
			f->on_fresh(f->ctx);
			atomic_fetch_add(&f->heard, 1);
		}
	} else if (rc != OODA_ETIMEOUT) {
		failed("listen for the other nodes' fresh telemetry", rc, &f->heard_logged);
		struct timespec pause = { 0, FRESH_RETRY_NS };
		nanosleep(&pause, NULL); /* within the stop's bound: the next call comes at once */
	}
}

int fresh_create(const struct fresh_options *o, struct fresh **out, struct buf *err)
{
	*out = NULL;
	struct fresh *f = xcalloc(1, sizeof(*f));
	f->store = o->store;
	snprintf(f->node_id, sizeof(f->node_id), "%s", o->node_id);
	f->on_fresh = o->on_fresh;
	f->ctx = o->ctx;
	atomic_init(&f->sent, 0);
	atomic_init(&f->heard, 0);
	struct worker_opts lo = { .interval_ns = 1 }; /* called again as soon as a wait ends */
	int rc = worker_create("fresh-send", send_one, f, NULL, &f->sender, err);
	if (!rc)
		rc = worker_create("fresh-listen", listen_once, f, &lo, &f->listener, err);
	if (rc) {
		fresh_destroy(f);
		return rc;
	}
	*out = f;
	return 0;
}

void fresh_destroy(struct fresh *f)
{
	if (!f)
		return;
	worker_destroy(f->listener);
	worker_destroy(f->sender);
	free(f);
}

void fresh_counts(struct fresh *f, uint64_t *sent, uint64_t *heard)
{
	*sent = f ? atomic_load(&f->sent) : 0;
	*heard = f ? atomic_load(&f->heard) : 0;
}
