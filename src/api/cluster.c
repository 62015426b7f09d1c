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
#include <time.h>
#include <unistd.h>

/* A renewal must land this long before the lease ends, or the leader steps down first. */
#define LEASE_MARGIN_NS (INT64_C(1) * 1000000000)
/* A node's reason for refusing a file is kept (and shown) up to this many bytes. */
#define CLUSTER_CONFIG_ERROR_MAX 512
/* A node not heard from for this long is shown as down. */
#define NODE_DOWN_NS (INT64_C(10) * 1000000000)

struct cluster {
	struct store *store;
	char node_id[128];
	char address[160];
	char version[64];
	void (*on_lead)(void *ctx);
	void (*before_lead)(void *ctx);
	void *ctx;
	const struct audit_signer *signer;
	bool multi;                /* the store keeps a lease (PostgreSQL) */
	int64_t started_ns;
	/* the cluster thread's own */
	int64_t term;              /* held; 0 while following */
	int64_t valid_until_mono;  /* when a leader that could not renew must stop */
	uint64_t refusals_seen;    /* store_fence_refusals at the last step */
	int64_t logged_fail_ns;
	pthread_t thread;
	bool running;
	/* live signals merged across nodes (the cluster thread's own but for the counters) */
	struct live_signals *live;
	int64_t live_own_before;   /* this node's own deltas written before this are read back */
	int64_t live_after_id;     /* the last delta read */
	struct buf live_pending;   /* a delta taken but not stored yet */
	int64_t live_taken_mono;   /* when the last delta was taken */
	int64_t live_pruned_ns;
	int64_t live_logged_ns;
	int64_t live_put_logged_ns; /* under flush_mu */
	int64_t live_put_failed_mono; /* when the last write of a delta failed (0: it did not), under flush_mu */
	/*
	 * live_pending and every take-and-write of it are under flush_mu, so a
	 * flush that finds the outbox empty knows an earlier flush wrote its
	 * samples already. Reads of the others' deltas (live_after_id) run one
	 * at a time, shared by the callers that arrive meanwhile (cluster_live_catch_up).
	 */
	pthread_mutex_t flush_mu;
	pthread_mutex_t read_mu;
	pthread_cond_t read_cv;
	bool reading;
	uint64_t reads_started, reads_done;
	int64_t live_read_failed_mono; /* when the last read failed (0: it did not), under read_mu */
	uint64_t rows_sent, bytes_sent, rows_read, bytes_read, rows_refused; /* under mu */
	int64_t merge_ns;                                                   /* under mu */
	/* the configuration's generation (cluster.h), under mu */
	int64_t config_answered;   /* the generation this node answered */
	int64_t config_signalled;  /* the newest it asked on_config_generation to answer */
	struct config_gen_row config_asked; /* the newest generation seen in the store */
	char config_hash[65];
	char config_error[CLUSTER_CONFIG_ERROR_MAX];
	void (*on_config_generation)(void *ctx);
	/* the lease as the last round read it, for forwarding (cluster_leader), under mu */
	char leader_id[128];
	char leader_address[160];
	int64_t leader_until_ns;   /* the lease's end; past it no leader is known */
	pthread_mutex_t mu;        /* stop, address, the live counters, the configuration's generation, the leader */
	pthread_cond_t cv;
	bool stop;
	bool wake;                 /* run a round now (the address became known) */
};

struct claim_ctx {
	struct cluster *c;
	struct lease_row out;
	int64_t now_ns;
	int64_t lease_ns;
};

/* An audit record of this node's leadership, inside the lease's transaction. */
static int lead_audit(struct store *s, struct cluster *c, const char *action, int64_t term, const char *why,
		      struct buf *err)
{
	char actor[160], detail[200];
	snprintf(actor, sizeof(actor), "node:%s", c->node_id);
	snprintf(detail, sizeof(detail), "{\"term\":%lld}", (long long)term);
	struct audit_entry e = { .actor = actor, .action = action, .target = "cluster/leader", .rationale = why,
				 .detail = detail };
	return audit_append(s, c->signer, &e, err);
}

/*
 * Why the lease was this node's to take, as the audit record says it;
 * false when the leading node does not change (the first lease of a new
 * database, this node restarted under its own id), which is not audited.
 */
static bool acquired_why(const struct cluster *c, bool had, const struct lease_row *before, const struct claim_ctx *k,
			 char *out, size_t size)
{
	if (!had || !strcmp(before->node_id, c->node_id))
		return false;
	double ago = (double)(k->now_ns - before->expires_ns) / 1e9;
	if (before->expires_ns == 0) /* lease_release */
		snprintf(out, size, "lease given up: node %s stopped and released term %lld; term %lld", before->node_id,
			 (long long)before->term, (long long)k->out.term);
	else
		snprintf(out, size, "lease expired: node %s held term %lld until %.1f s ago; term %lld", before->node_id,
			 (long long)before->term, ago, (long long)k->out.term);
	return true;
}

static int claim_tx(struct store *s, void *ctx, struct buf *err)
{
	struct claim_ctx *k = ctx;
	struct cluster *c = k->c;
	struct lease_row before = { 0 };
	/* the write lock is held: the lease read now is the one the claim replaces */
	bool had = !c->term && !store_lease_get(s, &before);
	int rc = store_lease_claim(s, c->node_id, c->term, k->now_ns, k->lease_ns, &k->out);
	if (rc) {
		buf_addf(err, "the leader's lease cannot be claimed: %s", ooda_strerror(rc));
		return rc;
	}

	if (!strcmp(k->out.node_id, c->node_id) && k->out.term > 0 && k->out.term != c->term) {
		char why[300];
		if (acquired_why(c, had, &before, k, why, sizeof(why)))
			return lead_audit(s, c, "cluster.lead", k->out.term, why, err);
	}
	return 0;
}

struct step_down_ctx {
	struct cluster *c;
	int64_t term;
	const char *why;
};

static int step_down_tx(struct store *s, void *ctx, struct buf *err)
{
	struct step_down_ctx *d = ctx;
	return lead_audit(s, d->c, "cluster.step_down", d->term, d->why, err);
}

struct heartbeat_ctx {
	struct node_row row;
	const struct buf *delta; /* this node's live delta, or empty */
};

static int heartbeat_tx(struct store *s, void *ctx, struct buf *err)
{
	const struct heartbeat_ctx *h = ctx;
	int rc = store_node_put(s, &h->row);
	if (rc) {
		buf_addf(err, "this node's heartbeat cannot be written: %s", ooda_strerror(rc));
		return rc;
	}
	if (h->delta->len && (rc = store_live_put(s, h->row.node_id, h->row.seen_ns, h->delta->data, h->delta->len)))
		buf_addf(err, "this node's live signals cannot be written: %s", ooda_strerror(rc));
	return rc;
}

static int live_put_tx(struct store *s, void *ctx, struct buf *err)
{
	struct cluster *c = ctx;
	int rc = store_live_put(s, c->node_id, ooda_now_ns(), c->live_pending.data, c->live_pending.len);
	if (rc)
		buf_addf(err, "this node's live signals cannot be written: %s", ooda_strerror(rc));
	return rc;
}

static int prune_tx(struct store *s, void *ctx, struct buf *err)
{
	int rc = store_live_prune(s, *(const int64_t *)ctx);
	if (rc)
		buf_addf(err, "old live signal deltas cannot be deleted: %s", ooda_strerror(rc));
	return rc;
}

struct read_ctx {
	struct cluster *c;
	size_t rows;
	uint64_t bytes, refused;
};

static int live_row(void *ctx, const void *row)
{
	struct read_ctx *r = ctx;
	const struct live_delta_row *d = row;
	struct buf err = BUF_INIT;
	r->rows++;
	r->bytes += d->body_len;
	r->c->live_after_id = d->id;
	if (live_delta_apply(r->c->live, d->body, d->body_len, &err)) {
		r->refused++;
		if (d->written_ns - r->c->live_logged_ns >= 10 * OODA_NS_PER_SEC) {
			log_warn("cluster: live signals of node %s (delta %lld) skipped: %s", d->node_id, (long long)d->id,
				 err.data);
			r->c->live_logged_ns = d->written_ns;
		}
	}
	buf_release(&err);
	return 0;
}

/* Reads the other nodes' new deltas into this node's live signals: a bounded number of pages a round. False when the store did not answer. */
static bool live_read(struct cluster *c)
{
	bool ok = true;
	int64_t t0 = ooda_mono_ns();
	struct read_ctx r = { .c = c };
	for (int page = 0; page < 40; page++) {
		size_t before = r.rows;
		int rc = store_live_list(c->store, c->node_id, c->live_after_id, c->live_own_before, CLUSTER_LIVE_PAGE,
					 live_row, &r);
		ok = ok && !rc;
		if (rc || r.rows - before < CLUSTER_LIVE_PAGE)
			break;
	}
	int64_t took = ooda_mono_ns() - t0;
	pthread_mutex_lock(&c->mu);
	c->rows_read += r.rows;
	c->bytes_read += r.bytes;
	c->rows_refused += r.refused;
	if (r.rows)
		c->merge_ns = took;
	pthread_mutex_unlock(&c->mu);
	return ok;
}

void cluster_live_catch_up(struct cluster *c)
{
	if (!c || !c->live)
		return;
	pthread_mutex_lock(&c->read_mu);
	if (c->live_read_failed_mono && ooda_mono_ns() - c->live_read_failed_mono < CLUSTER_RENEW_NS) {
		/* the store did not answer a moment ago: answer from what this node has, without waiting on it again */
		pthread_mutex_unlock(&c->read_mu);
		return;
	}
	uint64_t want = c->reads_started + 1; /* a read that begins after this call did */
	while (c->reads_done < want) {
		if (c->reading) {
			pthread_cond_wait(&c->read_cv, &c->read_mu);
			continue;
		}
		c->reading = true;
		uint64_t mine = ++c->reads_started;
		pthread_mutex_unlock(&c->read_mu);
		bool ok = live_read(c);
		pthread_mutex_lock(&c->read_mu);
		c->live_read_failed_mono = ok ? 0 : ooda_mono_ns();
		c->reading = false;
		c->reads_done = mine;
		pthread_cond_broadcast(&c->read_cv);
	}
	pthread_mutex_unlock(&c->read_mu);
}

/* Stores live_pending (flush_mu held); true when it was written (or empty). */
static bool live_pending_put(struct cluster *c)
{
	if (!c->live_pending.len)
		return true;
	struct buf err = BUF_INIT;
	bool ok = !store_write(c->store, live_put_tx, c, &err);
	if (ok) {
		pthread_mutex_lock(&c->mu);
		c->rows_sent++;
		c->bytes_sent += c->live_pending.len;
		pthread_mutex_unlock(&c->mu);
		buf_reset(&c->live_pending);
		c->live_put_failed_mono = 0;
	} else {
		c->live_put_failed_mono = ooda_mono_ns();
		int64_t now = ooda_now_ns();
		if (now - c->live_put_logged_ns >= 10 * OODA_NS_PER_SEC) {
			log_warn("cluster: %s (kept for the next round)", err.data);
			c->live_put_logged_ns = now;
		}
	}
	buf_release(&err);
	return ok;
}

/*
 * Takes this node's samples and stores them (flush_mu held): a delta kept
 * from a failed write goes first, then what the outbox gathered meanwhile.
 */
static void live_flush_locked(struct cluster *c)
{
	for (int i = 0; i < 2; i++) {
		size_t entries = 0;
		if (!c->live_pending.len)
			live_delta_take(c->live, &c->live_pending, &entries);
		if (!c->live_pending.len || !live_pending_put(c))
			return;
	}
}

void cluster_live_flush(struct cluster *c)
{
	if (!c || !c->live)
		return;
	cluster_live_catch_up(c); /* children another node sent whose parent this batch brought: the edge goes out now */
	pthread_mutex_lock(&c->flush_mu);
	/* a write failed a moment ago: the request is not held up by the store; the round writes it */
	if (!c->live_put_failed_mono || ooda_mono_ns() - c->live_put_failed_mono >= CLUSTER_RENEW_NS)
		live_flush_locked(c);
	pthread_mutex_unlock(&c->flush_mu);
}

static void step_down(struct cluster *c, const char *why)
{
	if (!c->term)
		return;
	log_warn("cluster: node %s stepping down from term %lld: %s", c->node_id, (long long)c->term, why);
	char text[400];
	snprintf(text, sizeof(text), "term %lld: %s", (long long)c->term, why);
	struct step_down_ctx d = { c, c->term, text };
	c->term = 0;
	lead_set(0);
	/* after lead_set: the loops stop at once; the record may fail while the store is away */
	struct buf err = BUF_INIT;
	if (store_write(c->store, step_down_tx, &d, &err))
		log_warn("cluster: the step-down of node %s is not in the audit log: %s", c->node_id, err.data);
	buf_release(&err);
}

/*
 * A reload another node was asked for: read the generation (one row, each
 * round and every CLUSTER_CONFIG_POLL_NS between rounds; every commit of
 * every node moves the store's data version, so waking on LISTEN/NOTIFY
 * would read it far more often) and, when it is newer than this node
 * answered, ask the daemon once to re-read its file.
 */
static void config_watch(struct cluster *c)
{
	struct config_gen_row g;
	if (store_config_gen_get(c->store, &g))
		return;
	bool ask = false;
	pthread_mutex_lock(&c->mu);
	if (g.generation > c->config_asked.generation)
		c->config_asked = g;
	if (g.generation > c->config_answered && g.generation > c->config_signalled) {
		c->config_signalled = g.generation;
		ask = true;
	}
	pthread_mutex_unlock(&c->mu);
	if (ask && c->on_config_generation)
		c->on_config_generation(c->ctx);
}

/* One round: claim or renew, publish, heartbeat. first: the claim before the stages start. */
struct leader_find {
	const char *node_id;
	char address[160];
};

static int leader_row(void *ctx, const void *row)
{
	struct leader_find *f = ctx;
	const struct node_row *r = row;
	if (!strcmp(r->node_id, f->node_id))
		snprintf(f->address, sizeof(f->address), "%s", r->address);
	return 0;
}

/* The address node recorded, "" when none is or it is not bound yet (port 0). */
static void leader_address_read(struct cluster *c, const char *node, char *out, size_t size)
{
	struct leader_find f = { .node_id = node };
	if (store_node_list(c->store, leader_row, &f))
		f.address[0] = '\0';
	const char *colon = strrchr(f.address, ':');
	if (colon && !strcmp(colon, ":0"))
		f.address[0] = '\0';
	snprintf(out, size, "%s", f.address);
}

/*
 * Keeps the lease just read for cluster_leader: its holder, the end of its
 * lease and, when another node holds it, that node's recorded address, read
 * again each round (a node records its real port once its HTTP server bound
 * it, after its first heartbeat; a restarted leader may come back on another).
 */
static void leader_note(struct cluster *c, const struct lease_row *l)
{
	struct leader_find f = { .node_id = l->node_id };
	if (strcmp(l->node_id, c->node_id))
		leader_address_read(c, l->node_id, f.address, sizeof(f.address));
	pthread_mutex_lock(&c->mu);
	snprintf(c->leader_id, sizeof(c->leader_id), "%s", l->node_id);
	snprintf(c->leader_address, sizeof(c->leader_address), "%s", f.address);
	c->leader_until_ns = l->expires_ns;
	pthread_mutex_unlock(&c->mu);
}

static void cluster_step(struct cluster *c, bool first)
{
	uint64_t refused = store_fence_refusals(c->store);
	if (refused != c->refusals_seen) {
		c->refusals_seen = refused;
		step_down(c, "stale fencing token: a write carrying this node's term was refused; a newer leader holds "
			     "the lease");
	}
	int64_t t0 = ooda_mono_ns();
	if (c->term && t0 > c->valid_until_mono)
		step_down(c, "lease expired: not renewed in time (was this process paused?)");
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
			if (!first && c->before_lead)
				c->before_lead(c->ctx);
			lead_set(c->term);
			if (!first && c->on_lead)
				c->on_lead(c->ctx);
		}
		c->valid_until_mono = t0 + CLUSTER_LEASE_NS - LEASE_MARGIN_NS;
	} else if (c->term) {
		char why[200];
		snprintf(why, sizeof(why), "lease lost: node %s holds it with term %lld", k.out.node_id, (long long)k.out.term);
		step_down(c, why);
	}
	buf_reset(&err);
	if (!rc)
		leader_note(c, &k.out);
	char address[sizeof(c->address)];
	pthread_mutex_lock(&c->mu);
	memcpy(address, c->address, sizeof(address));
	pthread_mutex_unlock(&c->mu);
	size_t entries = 0;
	/* first the others' deltas: an edge made here from a child another node sent goes out in this heartbeat */
	cluster_live_catch_up(c);
	int64_t mono = ooda_mono_ns();
	if (c->live)
		pthread_mutex_lock(&c->flush_mu); /* until the heartbeat carried live_pending, or kept it */
	if (c->live && !c->live_pending.len && mono - c->live_taken_mono >= CLUSTER_LIVE_SEND_NS) {
		live_delta_take(c->live, &c->live_pending, &entries);
		c->live_taken_mono = mono;
	}
	char config_hash[sizeof(c->config_hash)], config_error[sizeof(c->config_error)];
	pthread_mutex_lock(&c->mu);
	int64_t config_answered = c->config_answered;
	memcpy(config_hash, c->config_hash, sizeof(config_hash));
	memcpy(config_error, c->config_error, sizeof(config_error));
	pthread_mutex_unlock(&c->mu);
	struct heartbeat_ctx h = { .row = { .node_id = c->node_id, .address = address, .version = c->version,
					    .role = c->term ? "leader" : "follower", .term = c->term,
					    .started_ns = c->started_ns, .seen_ns = ooda_now_ns(),
					    .config_generation = config_answered, .config_hash = config_hash,
					    .config_error = config_error },
				   .delta = &c->live_pending };
	if (store_write(c->store, heartbeat_tx, &h, &err)) {
		if (!rc)
			log_warn("cluster: %s", err.data);
	} else {
		c->live_put_failed_mono = 0; /* the store answers again: ingest writes its rows again */
		if (c->live_pending.len) { /* else kept for the next round; the outbox fills meanwhile */
			pthread_mutex_lock(&c->mu);
			c->rows_sent++;
			c->bytes_sent += c->live_pending.len;
			pthread_mutex_unlock(&c->mu);
			buf_reset(&c->live_pending);
		}
	}
	if (c->live)
		pthread_mutex_unlock(&c->flush_mu);
	buf_reset(&err);
	config_watch(c);
	if (c->live) {
		int64_t now = ooda_now_ns();
		if (c->term && now - c->live_pruned_ns >= 60 * OODA_NS_PER_SEC) {
			int64_t before = now - CLUSTER_LIVE_KEEP_NS;
			if (!store_write(c->store, prune_tx, &before, &err))
				c->live_pruned_ns = now;
		}
	}
	buf_release(&err);
}

static void *cluster_main(void *arg)
{
	struct cluster *c = arg;
	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		int64_t deadline = ooda_mono_ns() + CLUSTER_RENEW_NS;
		/* between rounds, the reload generation alone every CLUSTER_CONFIG_POLL_NS */
		for (;;) {
			int64_t poll = ooda_mono_ns() + CLUSTER_CONFIG_POLL_NS;
			while (!c->stop && !c->wake &&
			       !worker_cond_wait_until(&c->cv, &c->mu, poll < deadline ? poll : deadline))
				;
			if (c->stop || c->wake || ooda_mono_ns() >= deadline)
				break;
			pthread_mutex_unlock(&c->mu);
			config_watch(c);
			pthread_mutex_lock(&c->mu);
		}
		c->wake = false;
		if (c->stop)
			break;
		pthread_mutex_unlock(&c->mu);
		cluster_step(c, false);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

struct publish_ctx {
	struct cluster *c;
};

static int publish_tx(struct store *s, void *ctx, struct buf *err)
{
	struct publish_ctx *p = ctx;
	return audit_key_publish(s, p->c->signer, p->c->node_id, err);
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
	c->before_lead = o->before_lead;
	c->on_config_generation = o->on_config_generation;
	snprintf(c->config_hash, sizeof(c->config_hash), "%s", o->config_hash ? o->config_hash : "");
	c->signer = o->signer;
	buf_init(&c->live_pending);
	pthread_mutex_init(&c->flush_mu, NULL);
	pthread_mutex_init(&c->read_mu, NULL);
	worker_cond_init(&c->read_cv);
	c->ctx = o->ctx;
	c->started_ns = ooda_now_ns();
	if (c->signer) {
		/* so that any node verifies the checkpoints this one signs (audit.h, audit_keyset_load) */
		struct publish_ctx p = { c };
		struct buf perr = BUF_INIT;
		if (store_write(c->store, publish_tx, &p, &perr))
			log_error("cluster: %s", perr.data);
		buf_release(&perr);
	}
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
	if (o->live) {
		c->live = o->live;
		c->live_own_before = o->live_replayed ? 0 : c->started_ns;
		live_merge_enable(c->live);
	}
	c->refusals_seen = store_fence_refusals(c->store);
	struct config_gen_row g;
	if (!store_config_gen_get(c->store, &g)) /* the file read at start answers every generation before it */
		c->config_answered = c->config_signalled = g.generation, c->config_asked = g;
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

/* Gives the lease up: it expires at once, so the next claim by another node wins. */
static void lease_release(struct cluster *c)
{
	/* a renewal of our own term that ends a nanosecond ago */
	/* not audited itself: the node that takes the lease next records "lease given up" */
	int64_t now = ooda_now_ns(); /* it ends at 0, which tells the next holder it was given up */
	struct claim_ctx k = { .c = c, .now_ns = now, .lease_ns = -now };
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
	if (c->live) { /* the samples since the last round: the others keep counting them */
		pthread_mutex_lock(&c->flush_mu);
		live_flush_locked(c);
		pthread_mutex_unlock(&c->flush_mu);
	}
	if (c->multi && c->term && store_fence_refusals(c->store) == c->refusals_seen)
		lease_release(c);
	if (c->multi)
		lead_set(0);
	buf_release(&c->live_pending);
	pthread_mutex_destroy(&c->flush_mu);
	pthread_mutex_destroy(&c->read_mu);
	pthread_cond_destroy(&c->read_cv);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

bool cluster_multi(const struct cluster *c)
{
	return c->multi;
}

const char *cluster_node_id(const struct cluster *c)
{
	return c->node_id;
}

int cluster_leader(struct cluster *c, char *id, size_t id_size, char *address, size_t address_size)
{
	if (!c->multi || lead_term() > 0)
		return 1;
	pthread_mutex_lock(&c->mu);
	snprintf(id, id_size, "%s", c->leader_id);
	snprintf(address, address_size, "%s", c->leader_address);
	bool live = c->leader_id[0] && strcmp(c->leader_id, c->node_id) && c->leader_until_ns >= ooda_now_ns();
	pthread_mutex_unlock(&c->mu);
	if (live && !address[0]) /* it led before it recorded where it serves: ask the store now */
		leader_address_read(c, id, address, address_size);
	return live && address[0] ? 0 : OODA_EUNAVAIL;
}

void cluster_set_address(struct cluster *c, const char *address)
{
	pthread_mutex_lock(&c->mu);
	snprintf(c->address, sizeof(c->address), "%s", address);
	c->wake = true; /* a round now records it: followers forward to this address */
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

struct list_ctx {
	json_t *nodes;
	const struct lease_row *lease;
	int64_t now_ns;
};

static json_t *node_config_json(int64_t gen, const char *hash, const char *error)
{
	return json_pack("{s:I, s:s, s:s}", "generation", (json_int_t)gen, "hash", hash ? hash : "", "error",
			 error ? error : "");
}

static int node_json(void *ctx, const void *row)
{
	struct list_ctx *l = ctx;
	const struct node_row *r = row;
	char seen[40];
	bool leads = l->lease && !strcmp(r->node_id, l->lease->node_id) && l->lease->expires_ns >= l->now_ns;
	json_array_append_new(l->nodes,
			      json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:o}", "id", r->node_id, "address",
					r->address, "role", leads ? "leader" : "follower", "last_seen",
					ooda_time_format(r->seen_ns, seen, sizeof(seen)), "version", r->version, "term",
					(json_int_t)r->term, "up", l->now_ns - r->seen_ns < NODE_DOWN_NS, "config",
					node_config_json(r->config_generation, r->config_hash, r->config_error)));
	return 0;
}

/* ---- one configuration for the cluster ------------------------------------ */

int cluster_config_request(struct cluster *c, struct store *s, const char *actor, int64_t *gen, struct buf *err)
{
	*gen = 0;
	if (!c->multi)
		return 0;
	int rc = store_config_gen_bump(s, c->node_id, actor, ooda_now_ns(), gen);
	if (rc) {
		buf_addf(err, "the cluster's reload generation cannot be written: %s", ooda_strerror(rc));
		return rc;
	}
	pthread_mutex_lock(&c->mu);
	/* this node answers it with the reload it just made (cluster_config_answered, after the commit) */
	if (*gen > c->config_signalled)
		c->config_signalled = *gen;
	if (*gen > c->config_asked.generation) {
		c->config_asked.generation = *gen;
		snprintf(c->config_asked.node_id, sizeof(c->config_asked.node_id), "%s", c->node_id);
		snprintf(c->config_asked.actor, sizeof(c->config_asked.actor), "%s", actor);
		c->config_asked.at_ns = ooda_now_ns();
	}
	pthread_mutex_unlock(&c->mu);
	return 0;
}

int64_t cluster_config_pending(struct cluster *c, struct config_gen_row *asked)
{
	pthread_mutex_lock(&c->mu);
	int64_t gen = c->config_asked.generation > c->config_answered ? c->config_asked.generation : 0;
	if (asked)
		*asked = c->config_asked;
	pthread_mutex_unlock(&c->mu);
	return gen;
}

void cluster_config_answered(struct cluster *c, int64_t gen, const char *hash, const char *error)
{
	pthread_mutex_lock(&c->mu);
	if (gen > c->config_answered)
		c->config_answered = gen;
	if (hash)
		snprintf(c->config_hash, sizeof(c->config_hash), "%s", hash);
	snprintf(c->config_error, sizeof(c->config_error), "%s", error ? error : "");
	c->wake = true; /* the heartbeat carrying the answer goes out now, not at the next round */
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

struct wait_ctx {
	json_t *nodes;
	int64_t gen, now_ns;
	bool all;
};

static int wait_row(void *ctx, const void *row)
{
	struct wait_ctx *w = ctx;
	const struct node_row *r = row;
	if (w->now_ns - r->seen_ns >= NODE_DOWN_NS)
		return 0; /* down: it answers when it starts, with the file it starts with */
	bool answered = r->config_generation >= w->gen;
	w->all = w->all && answered;
	json_t *n = node_config_json(r->config_generation, r->config_hash, r->config_error);
	json_object_set_new(n, "id", json_string(r->node_id));
	json_object_set_new(n, "answered", json_boolean(answered));
	json_array_append_new(w->nodes, n);
	return 0;
}

int cluster_config_wait(struct cluster *c, int64_t gen, int64_t timeout_ns, json_t **nodes, struct buf *err)
{
	*nodes = NULL;
	int64_t deadline = ooda_mono_ns() + timeout_ns;
	for (;;) {
		struct wait_ctx w = { json_array(), gen, ooda_now_ns(), true };
		int rc = store_node_list(c->store, wait_row, &w);
		if (rc) {
			json_decref(w.nodes);
			buf_addf(err, "the nodes cannot be read: %s", ooda_strerror(rc));
			return rc;
		}
		if (w.all || ooda_mono_ns() >= deadline) {
			*nodes = w.nodes;
			return w.all ? 0 : OODA_ETIMEOUT;
		}
		json_decref(w.nodes);
		struct timespec ts = { 0, 100 * 1000 * 1000 }; /* the nodes write their rows once a second */
		nanosleep(&ts, NULL);
	}
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
		pthread_mutex_lock(&c->mu);
		json_t *cfg = node_config_json(c->config_answered, c->config_hash, c->config_error);
		pthread_mutex_unlock(&c->mu);
		json_t *n = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:o}", "id", c->node_id, "address", address,
				      "role", "leader", "last_seen", ooda_time_format(now, seen, sizeof(seen)), "version",
				      c->version, "term", (json_int_t)1, "up", 1, "config", cfg);
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
	pthread_mutex_lock(&c->mu);
	json_t *merge = json_pack("{s:I, s:I, s:I, s:I, s:I, s:f}", "rows_sent", (json_int_t)c->rows_sent, "bytes_sent",
				  (json_int_t)c->bytes_sent, "rows_read", (json_int_t)c->rows_read, "bytes_read",
				  (json_int_t)c->bytes_read, "rows_refused", (json_int_t)c->rows_refused, "merge_ms",
				  (double)c->merge_ns / 1e6);
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_lock(&c->mu);
	struct config_gen_row g = c->config_asked;
	pthread_mutex_unlock(&c->mu);
	char at[40];
	json_t *config = json_pack("{s:I, s:s, s:s, s:s}", "generation", (json_int_t)g.generation, "node", g.node_id,
				   "actor", g.actor, "at", g.at_ns ? ooda_time_format(g.at_ns, at, sizeof(at)) : "");
	*out = json_pack("{s:s, s:s?, s:I, s:o, s:o, s:o}", "node_id", c->node_id, "leader", live ? l.node_id : NULL,
			 "term", (json_int_t)(have ? l.term : 0), "nodes", lc.nodes, "live", merge, "config", config);
	return *out ? 0 : OODA_ENOMEM;
}
