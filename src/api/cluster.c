/*
 * The leader's lease and the nodes' heartbeats (cluster.h): a thread that,
 * every CLUSTER_RENEW_NS, claims or renews the lease in the control store,
 * publishes the outcome through core/lead.h and writes this node's row of
 * cluster_nodes. Safety does not rest on this loop's timing: every write
 * a leader-only loop makes carries the term it entered with, and the
 * store refuses it inside the transaction once a newer term holds the
 * lease (store.h, fencing).
 */
#include "api/cluster.h"
#include "core/error.h"
#include "core/lead.h"
#include "core/log.h"
#include "core/time.h"
#include "core/worker.h"
#include "core/xalloc.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

/* A renewal must land this long before the lease ends, or the leader steps down first. */
#define LEASE_MARGIN_NS (INT64_C(1) * 1000000000)
/* A node not heard from for this long is shown as down. */
#define NODE_DOWN_NS (INT64_C(10) * 1000000000)

struct cluster {
	struct store *store;
	char node_id[128];
	char address[160];
	char version[64];
	void (*on_lead)(void *ctx);
	void *ctx;
	bool multi;                /* the store keeps a lease (PostgreSQL) */
	int64_t started_ns;
	/* the cluster thread's own */
	int64_t term;              /* held; 0 while following */
	int64_t valid_until_mono;  /* when a leader that could not renew must stop */
	uint64_t refusals_seen;    /* store_fence_refusals at the last step */
	int64_t logged_fail_ns;
	pthread_t thread;
	bool running;
	pthread_mutex_t mu;        /* stop, address */
	pthread_cond_t cv;
	bool stop;
};

struct claim_ctx {
	struct cluster *c;
	struct lease_row out;
	int64_t now_ns;
	int64_t lease_ns;
};

static int claim_tx(struct store *s, void *ctx, struct buf *err)
{
	struct claim_ctx *k = ctx;
	int rc = store_lease_claim(s, k->c->node_id, k->c->term, k->now_ns, k->lease_ns, &k->out);
	if (rc)
		buf_addf(err, "the leader's lease cannot be claimed: %s", ooda_strerror(rc));
	return rc;
}

static int heartbeat_tx(struct store *s, void *ctx, struct buf *err)
{
	const struct node_row *r = ctx;
	int rc = store_node_put(s, r);
	if (rc)
		buf_addf(err, "this node's heartbeat cannot be written: %s", ooda_strerror(rc));
	return rc;
}

static void step_down(struct cluster *c, const char *why)
{
	if (!c->term)
		return;
	log_warn("cluster: node %s stepping down from term %lld: %s", c->node_id, (long long)c->term, why);
	c->term = 0;
	lead_set(0);
}

/* One round: claim or renew, publish, heartbeat. first: the claim before the stages start. */
static void cluster_step(struct cluster *c, bool first)
{
	uint64_t refused = store_fence_refusals(c->store);
	if (refused != c->refusals_seen) {
		c->refusals_seen = refused;
		step_down(c, "a write carrying this node's term was refused (fenced): a newer leader holds the lease");
	}
	int64_t t0 = ooda_mono_ns();
	if (c->term && t0 > c->valid_until_mono)
		step_down(c, "the lease was not renewed in time (was this process paused?)");
	struct claim_ctx k = { .c = c, .now_ns = ooda_now_ns(), .lease_ns = CLUSTER_LEASE_NS };
	struct buf err = BUF_INIT;
	int rc = store_write(c->store, claim_tx, &k, &err);
	if (rc) {
		if (k.now_ns - c->logged_fail_ns >= 10 * OODA_NS_PER_SEC) {
			log_error("cluster: %s", err.data);
			c->logged_fail_ns = k.now_ns;
		}
	} else if (!strcmp(k.out.node_id, c->node_id) && k.out.term > 0) {
		if (k.out.term != c->term) {
			c->term = k.out.term;
			log_info("cluster: node %s leads with term %lld", c->node_id, (long long)c->term);
			lead_set(c->term);
			if (!first && c->on_lead)
				c->on_lead(c->ctx);
		}
		c->valid_until_mono = t0 + CLUSTER_LEASE_NS - LEASE_MARGIN_NS;
	} else if (c->term) {
		char why[200];
		snprintf(why, sizeof(why), "node %s holds the lease with term %lld", k.out.node_id, (long long)k.out.term);
		step_down(c, why);
	}
	buf_reset(&err);
	char address[sizeof(c->address)];
	pthread_mutex_lock(&c->mu);
	memcpy(address, c->address, sizeof(address));
	pthread_mutex_unlock(&c->mu);
	struct node_row n = { .node_id = c->node_id, .address = address, .version = c->version,
			      .role = c->term ? "leader" : "follower", .term = c->term,
			      .started_ns = c->started_ns, .seen_ns = ooda_now_ns() };
	if (store_write(c->store, heartbeat_tx, &n, &err) && !rc)
		log_warn("cluster: %s", err.data);
	buf_release(&err);
}

static void *cluster_main(void *arg)
{
	struct cluster *c = arg;
	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		int64_t deadline = ooda_mono_ns() + CLUSTER_RENEW_NS;
		while (!c->stop && !worker_cond_wait_until(&c->cv, &c->mu, deadline))
			;
		if (c->stop)
			break;
		pthread_mutex_unlock(&c->mu);
		cluster_step(c, false);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* This host's name and listen's port ("host:port"), or the process id when the port is 0. */
static void default_node_id(const char *listen, char *out, size_t size)
{
	char host[100] = "localhost";
	if (gethostname(host, sizeof(host)))
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	const char *colon = listen ? strrchr(listen, ':') : NULL;
	if (colon && strcmp(colon + 1, "0"))
		snprintf(out, size, "%s:%s", host, colon + 1);
	else /* a port the kernel picks is not known yet: the process id tells nodes on one host apart */
		snprintf(out, size, "%s:pid%ld", host, (long)getpid());
}

int cluster_create(const struct cluster_options *o, struct cluster **out, struct buf *err)
{
	*out = NULL;
	struct cluster *c = xcalloc(1, sizeof(*c));
	c->store = o->store;
	if (o->node_id && *o->node_id)
		snprintf(c->node_id, sizeof(c->node_id), "%s", o->node_id);
	else
		default_node_id(o->listen, c->node_id, sizeof(c->node_id));
	snprintf(c->address, sizeof(c->address), "%s", o->listen ? o->listen : "");
	snprintf(c->version, sizeof(c->version), "%s", o->version ? o->version : "");
	c->on_lead = o->on_lead;
	c->ctx = o->ctx;
	c->started_ns = ooda_now_ns();
	struct lease_row l;
	int rc = store_lease_get(c->store, &l);
	c->multi = rc != OODA_EUNSUPPORTED;
	pthread_mutex_init(&c->mu, NULL);
	worker_cond_init(&c->cv);
	*out = c;
	if (!c->multi) {
		c->term = 1; /* one node: it leads */
		lead_set(1);
		return 0;
	}
	lead_set(0);
	c->refusals_seen = store_fence_refusals(c->store);
	cluster_step(c, true);
	if (!c->term)
		log_info("cluster: node %s follows (the lease is held by another node)", c->node_id);
	if (pthread_create(&c->thread, NULL, cluster_main, c)) {
		buf_adds(err, "cannot start the cluster thread");
		return OODA_EINTERNAL;
	}
	c->running = true;
	return 0;
}

/* Gives the lease up: it expires now, so the next claim by another node wins. */
static void lease_release(struct cluster *c)
{
	/* a renewal of our own term that ends a nanosecond ago */
	struct claim_ctx k = { .c = c, .now_ns = ooda_now_ns(), .lease_ns = -1 };
	struct buf err = BUF_INIT;
	if (!store_write(c->store, claim_tx, &k, &err))
		log_info("cluster: node %s gave up the lease of term %lld", c->node_id, (long long)c->term);
	buf_release(&err);
}

void cluster_destroy(struct cluster *c)
{
	if (!c)
		return;
	if (c->running) {
		pthread_mutex_lock(&c->mu);
		c->stop = true;
		pthread_cond_signal(&c->cv);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->thread, NULL);
	}
	if (c->multi && c->term && store_fence_refusals(c->store) == c->refusals_seen)
		lease_release(c);
	if (c->multi)
		lead_set(0);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

void cluster_set_address(struct cluster *c, const char *address)
{
	pthread_mutex_lock(&c->mu);
	snprintf(c->address, sizeof(c->address), "%s", address);
	pthread_mutex_unlock(&c->mu);
}

struct list_ctx {
	json_t *nodes;
	const struct lease_row *lease;
	int64_t now_ns;
};

static int node_json(void *ctx, const void *row)
{
	struct list_ctx *l = ctx;
	const struct node_row *r = row;
	char seen[40];
	bool leads = l->lease && !strcmp(r->node_id, l->lease->node_id) && l->lease->expires_ns >= l->now_ns;
	json_array_append_new(l->nodes,
			      json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:b}", "id", r->node_id, "address", r->address,
					"role", leads ? "leader" : "follower", "last_seen",
					ooda_time_format(r->seen_ns, seen, sizeof(seen)), "version", r->version, "term",
					(json_int_t)r->term, "up", l->now_ns - r->seen_ns < NODE_DOWN_NS));
	return 0;
}

int cluster_status_json(struct cluster *c, json_t **out, struct buf *err)
{
	*out = NULL;
	int64_t now = ooda_now_ns();
	char seen[40];
	if (!c->multi) {
		char address[sizeof(c->address)];
		pthread_mutex_lock(&c->mu);
		memcpy(address, c->address, sizeof(address));
		pthread_mutex_unlock(&c->mu);
		json_t *n = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:b}", "id", c->node_id, "address", address,
				      "role", "leader", "last_seen", ooda_time_format(now, seen, sizeof(seen)), "version",
				      c->version, "term", (json_int_t)1, "up", 1);
		*out = json_pack("{s:s, s:s, s:I, s:[o]}", "node_id", c->node_id, "leader", c->node_id, "term",
				 (json_int_t)1, "nodes", n);
		return *out ? 0 : OODA_ENOMEM;
	}
	struct lease_row l;
	int rc = store_lease_get(c->store, &l);
	bool have = !rc;
	if (rc && rc != OODA_ENOTFOUND) {
		buf_addf(err, "the leader's lease cannot be read: %s", ooda_strerror(rc));
		return rc;
	}
	struct list_ctx lc = { json_array(), have ? &l : NULL, now };
	if ((rc = store_node_list(c->store, node_json, &lc))) {
		json_decref(lc.nodes);
		buf_addf(err, "the nodes cannot be read: %s", ooda_strerror(rc));
		return rc;
	}
	bool live = have && l.expires_ns >= now;
	*out = json_pack("{s:s, s:s?, s:I, s:o}", "node_id", c->node_id, "leader", live ? l.node_id : NULL, "term",
			 (json_int_t)(have ? l.term : 0), "nodes", lc.nodes);
	return *out ? 0 : OODA_ENOMEM;
}
