/*
 * Fresh-telemetry announcements between nodes (fresh.h): one thread sends
 * them, coalescing the requests that arrive while it sends, and one waits
 * for the other nodes' and passes them on while this node leads.
 */
#include "api/fresh.h"
#include "core/error.h"
#include "core/lead.h"
#include "core/log.h"
#include "core/time.h"
#include "core/worker.h"
#include "core/xalloc.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

/* After a failed announcement or wait, the next try comes this much later (and is logged once a minute). */
#define FRESH_RETRY_NS (INT64_C(500) * 1000000)
#define FRESH_LOG_NS (INT64_C(60) * 1000000000)

struct fresh {
	struct store *store;
	char node_id[128];
	void (*on_fresh)(void *ctx);
	void *ctx;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool pending;   /* a batch was noted since the last announcement began */
	bool stop;
	uint64_t sent, heard; /* under mu */
	pthread_t sender, listener;
	bool sender_up, listener_up;
};

void fresh_note(struct fresh *f)
{
	if (!f || lead_term() > 0) /* the leader's own batches poke its engine directly */
		return;
	pthread_mutex_lock(&f->mu);
	if (!f->pending) {
		f->pending = true;
		pthread_cond_signal(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
}

/* Waits until the monotonic deadline or a stop; true when stopping. mu held. */
static bool pause_until(struct fresh *f, int64_t deadline)
{
	while (!f->stop && !worker_cond_wait_until(&f->cv, &f->mu, deadline))
		;
	return f->stop;
}

static void *sender_main(void *arg)
{
	struct fresh *f = arg;
	int64_t logged = 0;
	pthread_mutex_lock(&f->mu);
	while (!f->stop) {
		if (!f->pending) {
			pthread_cond_wait(&f->cv, &f->mu);
			continue;
		}
		f->pending = false; /* batches noted from now on need the next announcement */
		pthread_mutex_unlock(&f->mu);
		int rc = store_fresh_announce(f->store, f->node_id);
		pthread_mutex_lock(&f->mu);
		if (!rc) {
			f->sent++;
			continue;
		}
		int64_t now = ooda_mono_ns();
		if (now - logged >= FRESH_LOG_NS) {
			log_warn("cluster: cannot announce fresh telemetry to the leader (%s); "
				 "its rules read it at their next evaluation", ooda_strerror(rc));
			logged = now;
		}
		pause_until(f, now + FRESH_RETRY_NS); /* what is noted meanwhile goes with the next try */
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static bool stopping(struct fresh *f)
{
	pthread_mutex_lock(&f->mu);
	bool s = f->stop;
	pthread_mutex_unlock(&f->mu);
	return s;
}

static void *listener_main(void *arg)
{
	struct fresh *f = arg;
	int64_t logged = 0;
	while (!stopping(f)) {
		int rc = store_fresh_wait(f->store, f->node_id, FRESH_LISTEN_MS);
		if (!rc) {
			if (lead_term() > 0) {
				f->on_fresh(f->ctx);
				pthread_mutex_lock(&f->mu);
				f->heard++;
				pthread_mutex_unlock(&f->mu);
			}
			continue;
		}
		if (rc == OODA_ETIMEOUT)
			continue;
		int64_t now = ooda_mono_ns();
		if (now - logged >= FRESH_LOG_NS) {
			log_warn("cluster: cannot listen for the other nodes' fresh telemetry (%s)", ooda_strerror(rc));
			logged = now;
		}
		pthread_mutex_lock(&f->mu);
		bool stop = pause_until(f, now + FRESH_RETRY_NS);
		pthread_mutex_unlock(&f->mu);
		if (stop)
			break;
	}
	return NULL;
}

int fresh_create(const struct fresh_options *o, struct fresh **out, struct buf *err)
{
	*out = NULL;
	struct fresh *f = xcalloc(1, sizeof(*f));
	f->store = o->store;
	snprintf(f->node_id, sizeof(f->node_id), "%s", o->node_id);
	f->on_fresh = o->on_fresh;
	f->ctx = o->ctx;
	pthread_mutex_init(&f->mu, NULL);
	worker_cond_init(&f->cv);
	f->sender_up = !pthread_create(&f->sender, NULL, sender_main, f);
	f->listener_up = f->sender_up && !pthread_create(&f->listener, NULL, listener_main, f);
	if (!f->listener_up) {
		fresh_destroy(f);
		buf_adds(err, "cannot start the threads that share fresh telemetry between nodes");
		return OODA_EINTERNAL;
	}
	*out = f;
	return 0;
}

void fresh_destroy(struct fresh *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	if (f->sender_up)
		pthread_join(f->sender, NULL);
	if (f->listener_up)
		pthread_join(f->listener, NULL);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
}

void fresh_counts(struct fresh *f, uint64_t *sent, uint64_t *heard)
{
	*sent = *heard = 0;
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	*sent = f->sent;
	*heard = f->heard;
	pthread_mutex_unlock(&f->mu);
}
