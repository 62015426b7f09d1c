/*
 * Hand-over of leader work through the control store (handover.h): the
 * follower's side of the Alertmanager intake and the leader's engine tick
 * that takes what followers stored. The incident side of the follower's
 * write lives with the incident (respond/incident.c), in its transaction.
 */
#include "api/handover.h"
#include "api/daemon.h"
#include "audit/docwrite.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "core/xalloc.h"
#include "detect/alerts.h"
#include "ingest/alertmanager.h"
#include "respond/incident.h"

#include <jansson.h>
#include <stdatomic.h>
#include <string.h>

static atomic_uint_fast64_t put_seq;

static void count_signal(void *ctx, const struct alert_signal *s)
{
	(void)s;
	(*(size_t *)ctx)++;
}

int handover_alertmanager_put(struct daemon *d, const char *body, size_t len, int64_t now_ns, const char *actor,
			      size_t *n, struct buf *err)
{
	*n = 0;
	struct alert_sink counter = { .signal = count_signal, .ctx = n };
	int rc = alertmanager_decode(body, len, now_ns, &counter, n, err);
	if (rc)
		return rc;
	json_t *payload = json_loadb(body, len, 0, NULL);
	if (!payload) { /* the decoder accepted it, so this is memory */
		buf_adds(err, "the Alertmanager payload cannot be kept for the leader");
		return OODA_ENOMEM;
	}
	json_t *doc = json_pack("{s:I, s:o}", "at", (json_int_t)now_ns, "payload", payload);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text) {
		buf_adds(err, "the Alertmanager payload cannot be kept for the leader");
		return OODA_ENOMEM;
	}
	char key[80];
	snprintf(key, sizeof(key), "alertmanager/%020lld-%llu", (long long)now_ns,
		 (unsigned long long)atomic_fetch_add(&put_seq, 1));
	struct vdoc_write w = { .kind = INCIDENTS_HANDOVER_KIND, .key = key, .body = text, .body_len = strlen(text),
				.status = "pending", .expect_version = 0, .actor = actor,
				.rationale = "received by a node that does not lead: the leader applies it",
				.action = "alerts.handover", .target = key };
	rc = vdoc_put(d->store, &d->signer, &w, err);
	free(text);
	return rc;
}

/* ---- the leader's side ---- */

struct pending {
	char key[120];
	int64_t version;
	char *body;
};

struct list_ctx {
	struct pending v[HANDOVER_BATCH];
	size_t n;
};

static int collect(void *ctx, const void *row)
{
	struct list_ctx *l = ctx;
	const struct doc_row *r = row;
	if (l->n == HANDOVER_BATCH)
		return 1; /* stop: the rest wait for the next round */
	struct pending *p = &l->v[l->n++];
	snprintf(p->key, sizeof(p->key), "%s", r->key);
	p->version = r->version;
	p->body = xstrndup(r->body, r->body_len);
	return 0;
}

struct take_ctx {
	const struct audit_signer *signer;
	const struct pending *p;
};

static int take_tx(struct store *s, void *ctx, struct buf *err)
{
	struct take_ctx *t = ctx;
	struct vdoc_write w = { .kind = INCIDENTS_HANDOVER_KIND, .key = t->p->key, .body = t->p->body,
				.body_len = strlen(t->p->body), .status = "taken", .expect_version = t->p->version,
				.actor = "ooda", .rationale = "the leader took the hand-over", .action = "handover.take",
				.target = t->p->key };
	return vdoc_put_tx(s, t->signer, &w, err);
}

/* Takes one Alertmanager push and feeds it to this node's alerting core. */
static int take_alertmanager(struct daemon *d, const struct pending *p, struct buf *err)
{
	struct take_ctx t = { &d->signer, p };
	int rc = store_write(d->store, take_tx, &t, err);
	if (rc)
		return rc;
	json_t *doc = json_loads(p->body, 0, NULL);
	char *payload = json_dumps(json_object_get(doc, "payload"), JSON_COMPACT);
	int64_t at = json_integer_value(json_object_get(doc, "at"));
	json_decref(doc);
	if (!payload) {
		buf_adds(err, "stored without its payload");
		return OODA_EINVAL;
	}
	struct alert_sink sink = alerts_sink(d->alerts);
	size_t n = 0;
	rc = alertmanager_decode(payload, strlen(payload), at, &sink, &n, err);
	free(payload);
	if (!rc)
		log_info("%s: %zu alerts received by a follower, applied by the leader", p->key, n);
	return rc;
}

void handover_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	(void)sink;
	static int64_t seen_version = -1, looked_ns;
	struct daemon *d = ctx;
	int64_t v = 0;
	/* a commit anywhere moves the data version; look at least every 5 s in case a wake-up was missed */
	if (store_data_version(d->store, &v) || (v == seen_version && now_ns - looked_ns < 5 * OODA_NS_PER_SEC))
		return;
	seen_version = v;
	looked_ns = now_ns;
	struct list_ctx *l = xcalloc(1, sizeof(*l));
	if (vdoc_list_status(d->store, INCIDENTS_HANDOVER_KIND, "pending", collect, l))
		log_warn("hand-overs cannot be listed; trying again at the next change");
	for (size_t i = 0; i < l->n; i++) {
		struct pending *p = &l->v[i];
		struct buf err = BUF_INIT;
		int rc = OODA_EINVAL;
		if (!strncmp(p->key, "incident/", 9) && d->incidents)
			rc = incidents_handover_take(d->incidents, p->key, p->version, p->body, &err);
		else if (!strncmp(p->key, "alertmanager/", 13) && d->alerts)
			rc = take_alertmanager(d, p, &err);
		else
			buf_adds(&err, "no stage takes it");
		if (rc && rc != OODA_EPRECOND) /* EPRECOND: another leader took it first */
			log_warn("hand-over %s: %s", p->key, err.data);
		buf_release(&err);
		free(p->body);
	}
	free(l);
}
