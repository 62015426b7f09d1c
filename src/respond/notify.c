/*
 * The notification outbox and its delivery worker (contract and the row's
 * state machine in notify.h). Enqueueing renders the message per routed
 * target and inserts one outbox row each in the control store, then wakes
 * the worker; the worker (a core/worker, woken on enqueue and every 200 ms
 * for rows whose backoff has passed) reads the due rows, sends each with
 * libcurl and records the outcome. Alert transitions reach it through the
 * alerting core's subscriber list and are turned into events on the worker
 * thread, never on the engine thread.
 */
#include "respond/notify.h"
#include "respond/notify_impl.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "model/jsontime.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>

#define DUE_BATCH 32
#define WORKER_INTERVAL_NS (200 * OODA_NS_PER_MS)
#define QUEUE_CAPACITY 4096
#define PRUNE_EVERY_NS (60 * OODA_NS_PER_SEC)
#define PRUNE_BATCH 1000

/* A reference-counted configuration: the worker holds one while it sends, a reload swaps the current one. */
struct cfg_ref {
	struct notify_config *c;
	int refs; /* under notify.mu */
};

struct notify {
	struct store *store;
	const struct audit_signer *signer;
	struct alerts *alerts;
	pthread_mutex_t mu;
	struct cfg_ref *cur;
	char *section;            /* the section's JSON text, to tell a reload that changes nothing */
	struct worker *w;
	atomic_int_fast64_t keep_ns;  /* finished rows older than this are deleted; 0: kept */
	int64_t pruned_mono_ns;       /* worker thread only */
	atomic_uint_fast64_t sent, attempt_failures, dropped;
};

static struct cfg_ref *cfg_get(struct notify *n)
{
	pthread_mutex_lock(&n->mu);
	struct cfg_ref *r = n->cur;
	r->refs++;
	pthread_mutex_unlock(&n->mu);
	return r;
}

static void cfg_put(struct notify *n, struct cfg_ref *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&n->mu);
	bool last = --r->refs == 0;
	pthread_mutex_unlock(&n->mu);
	if (last) {
		notify_config_free(r->c);
		free(r);
	}
}

static int parse_section(const char *section_json, struct notify_config **out, struct buf *err)
{
	json_t *j = section_json ? json_loads(section_json, JSON_DECODE_ANY, NULL) : NULL;
	if (section_json && !j) {
		buf_adds(err, "notify: not valid JSON");
		return OODA_EINVAL;
	}
	int rc = notify_config_parse(j, out, err);
	json_decref(j);
	return rc;
}

/* ---- the outbox: inserting rows ------------------------------------------------ */

struct insert_tx {
	const struct notify_row *row;
	bool inserted;
	const struct audit_entry *audit; /* NULL: not audited */
	const struct audit_signer *signer;
};

static int insert_fn(struct store *s, void *ctx, struct buf *err)
{
	struct insert_tx *x = ctx;
	int rc = store_notify_insert(s, x->row, &x->inserted);
	if (rc) {
		buf_addf(err, "notification %s not queued: %s", x->row->id, ooda_strerror(rc));
		return rc;
	}
	return x->audit && x->inserted ? audit_append(s, x->signer, x->audit, err) : 0;
}

/*
 * Renders ev for t and inserts its row. Returns 1 when queued, 0 when the
 * dedupe key was there already, or an error.
 */
static int enqueue_one(struct notify *n, const struct notify_config *c, const struct notify_target *t,
		       const struct notify_event *ev, struct buf *err)
{
	const char *base = ev->dedupe_base ? ev->dedupe_base : ev->incident_id ? ev->incident_id : ev->alert_fingerprint;
	if (!base) {
		buf_adds(err, "a notification needs dedupe_base, incident_id or alert_fingerprint");
		return OODA_EINVAL;
	}
	struct buf key = BUF_INIT, payload = BUF_INIT;
	buf_addf(&key, "%s/%s/%s", base, ev->event, t->name);
	char id[24];
	notify_row_id(key.data, id);
	int64_t now = ooda_now_ns();
	notify_render(t, ev, id, c->public_url, now, &payload);
	struct notify_row row = {
		.id = id, .dedupe_key = key.data, .target = t->name, .kind = ev->kind, .event = ev->event,
		.payload = payload.data, .incident = ev->incident_id, .alert = ev->alert_fingerprint,
		.next_attempt_ns = now, .created_ns = now,
	};
	struct insert_tx x = { .row = &row };
	int rc = store_write(n->store, insert_fn, &x, err);
	buf_release(&key);
	buf_release(&payload);
	return rc ? rc : x.inserted ? 1 : 0;
}

/* Wakes the worker, if it runs yet (rows queued before notify_start are sent when it starts). */
static void wake(struct notify *n)
{
	if (n->w)
		worker_wake(n->w);
}

static int check_event(const struct notify_event *ev, struct buf *err)
{
	if (!ev || !ev->kind || !*ev->kind || !ev->event || !*ev->event) {
		buf_adds(err, "a notification needs kind and event");
		return OODA_EINVAL;
	}
	return 0;
}

int notify_enqueue(struct notify *n, const struct notify_event *ev, struct buf *err)
{
	int rc = check_event(ev, err);
	if (rc)
		return rc;
	struct cfg_ref *r = cfg_get(n);
	const struct notify_config *c = r->c;
	bool *picked = xcalloc(c->n_targets + 1, sizeof(bool));
	notify_route(c, ev, picked);
	int queued = 0;
	for (size_t i = 0; i < c->n_targets && rc >= 0; i++) {
		if (!picked[i])
			continue;
		rc = enqueue_one(n, c, &c->targets[i], ev, err);
		if (rc > 0)
			queued++;
	}
	free(picked);
	cfg_put(n, r);
	if (queued)
		wake(n);
	return rc < 0 ? rc : queued;
}

int notify_page(struct notify *n, const char *target, const struct notify_event *ev, struct buf *err)
{
	int rc = check_event(ev, err);
	if (rc)
		return rc;
	struct cfg_ref *r = cfg_get(n);
	const struct notify_target *t = notify_config_target(r->c, target);
	if (!t) {
		buf_addf(err, "no notification target is named \"%s\"", target ? target : "");
		rc = OODA_ENOTFOUND;
	} else {
		rc = enqueue_one(n, r->c, t, ev, err);
	}
	cfg_put(n, r);
	if (rc > 0)
		wake(n);
	return rc;
}

int notify_test(struct notify *n, const char *target, const char *actor, char id[24], struct buf *err)
{
	struct cfg_ref *r = cfg_get(n);
	const struct notify_target *t = notify_config_target(r->c, target);
	int rc = 0;
	if (!t) {
		buf_addf(err, "target: no notification target is named \"%s\"", target ? target : "");
		rc = OODA_ENOTFOUND;
		goto out;
	}
	int64_t now = ooda_now_ns();
	struct buf key = BUF_INIT, payload = BUF_INIT, target_s = BUF_INIT, detail = BUF_INIT;
	buf_addf(&key, "test/%lld/%s", (long long)now, t->name);
	notify_row_id(key.data, id);
	struct notify_event ev = {
		.kind = "test", .event = "test", .title = "Test notification from ooda", .severity = "info",
		.impact = "none: this checks that the target receives what ooda sends", .at_ns = now,
	};
	notify_render(t, &ev, id, r->c->public_url, now, &payload);
	struct notify_row row = { .id = id, .dedupe_key = key.data, .target = t->name, .kind = "test",
				  .event = "test", .payload = payload.data, .next_attempt_ns = now, .created_ns = now };
	buf_addf(&target_s, "notification/%s", id);
	buf_adds(&detail, "{\"target\":");
	buf_add_json_str(&detail, t->name, strlen(t->name));
	buf_adds(&detail, "}");
	struct audit_entry a = { .actor = actor ? actor : "unknown", .action = "notify.test", .target = target_s.data,
				 .rationale = "test message", .detail = detail.data };
	struct insert_tx x = { .row = &row, .audit = &a, .signer = n->signer };
	rc = store_write(n->store, insert_fn, &x, err);
	buf_release(&key);
	buf_release(&payload);
	buf_release(&target_s);
	buf_release(&detail);
	if (!rc)
		wake(n);
out:
	cfg_put(n, r);
	return rc;
}

/* ---- sending ------------------------------------------------------------------------ */

static size_t discard_cb(char *p, size_t size, size_t nmemb, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * nmemb;
}

struct upload {
	const char *data;
	size_t len, off;
};

static size_t read_cb(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct upload *u = ctx;
	size_t n = size * nmemb;
	if (n > u->len - u->off)
		n = u->len - u->off;
	memcpy(p, u->data + u->off, n);
	u->off += n;
	return n;
}

/* libcurl's progress callback: a stopping daemon abandons the attempt (the row stays pending). */
static int abort_cb(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	struct worker *w = ctx;
	return w && worker_stopping(w) ? 1 : 0;
}

static void set_abort(CURL *e, struct worker *w)
{
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, abort_cb);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, w);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
}

/* The body as sent: the queued payload, with the routing key added for PagerDuty. Caller frees. */
static char *wire_body(const struct notify_target *t, const char *payload)
{
	if (t->type != NOTIFY_PAGERDUTY)
		return xstrdup(payload);
	json_t *j = json_loads(payload, 0, NULL);
	if (!j)
		return xstrdup(payload);
	json_object_set_new(j, "routing_key", json_stringn(t->secret, t->secret_len));
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s ? s : xstrdup(payload);
}

/* One HTTP POST of a row: 0 on a 2xx answer, else OODA_EUNAVAIL with the reason in err. */
static int send_http(const struct notify_target *t, const struct notify_row *row, struct worker *w, struct buf *err)
{
	CURL *e = curl_easy_init();
	if (!e) {
		buf_adds(err, "cannot create an HTTP client");
		return OODA_ENOMEM;
	}
	char *body = wire_body(t, row->payload);
	struct buf h = BUF_INIT;
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "User-Agent: ooda-notify/1");
	hdrs = curl_slist_append(hdrs, "Expect:");
	buf_addf(&h, "X-Ooda-Delivery: %s", row->id);
	hdrs = curl_slist_append(hdrs, h.data);
	buf_reset(&h);
	buf_addf(&h, "X-Ooda-Event: %s.%s", row->kind, row->event);
	hdrs = curl_slist_append(hdrs, h.data);
	if (t->type == NOTIFY_WEBHOOK && t->secret) {
		buf_reset(&h);
		buf_adds(&h, "X-Ooda-Signature: ");
		notify_sign(t->secret, t->secret_len, ooda_now_ns() / OODA_NS_PER_SEC, body, strlen(body), &h);
		hdrs = curl_slist_append(hdrs, h.data);
	}
	char errbuf[CURL_ERROR_SIZE] = "";
	/* a Slack target without url keeps its webhook URL as the secret */
	curl_easy_setopt(e, CURLOPT_URL, t->url ? t->url : t->secret);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(t->timeout_ns / OODA_NS_PER_MS));
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	set_abort(e, w);
	CURLcode code = curl_easy_perform(e);
	long status = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	int rc = 0;
	if (code != CURLE_OK) {
		buf_adds(err, errbuf[0] ? errbuf : curl_easy_strerror(code));
		rc = OODA_EUNAVAIL;
	} else if (status < 200 || status > 299) {
		buf_addf(err, "the receiver answered HTTP %ld", status);
		rc = OODA_EUNAVAIL;
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(e);
	buf_release(&h);
	free(body);
	return rc;
}

/* One SMTP transaction of a row's message: 0 once the server accepted it. */
static int send_email(const struct notify_target *t, const struct notify_row *row, struct worker *w,
		      struct buf *err)
{
	CURL *e = curl_easy_init();
	if (!e) {
		buf_adds(err, "cannot create an SMTP client");
		return OODA_ENOMEM;
	}
	struct buf addr = BUF_INIT;
	struct curl_slist *rcpt = NULL;
	for (size_t i = 0; i < t->n_to; i++) {
		buf_reset(&addr);
		buf_addf(&addr, "<%s>", t->to[i]);
		rcpt = curl_slist_append(rcpt, addr.data);
	}
	buf_reset(&addr);
	buf_addf(&addr, "<%s>", t->from);
	struct upload u = { .data = row->payload, .len = strlen(row->payload) };
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(e, CURLOPT_URL, t->url);
	curl_easy_setopt(e, CURLOPT_MAIL_FROM, addr.data);
	curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(e, CURLOPT_READDATA, &u);
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)u.len);
	curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	if (t->username)
		curl_easy_setopt(e, CURLOPT_USERNAME, t->username);
	if (t->secret)
		curl_easy_setopt(e, CURLOPT_PASSWORD, t->secret);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(t->timeout_ns / OODA_NS_PER_MS));
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	set_abort(e, w);
	CURLcode code = curl_easy_perform(e);
	int rc = 0;
	if (code != CURLE_OK) {
		buf_adds(err, errbuf[0] ? errbuf : curl_easy_strerror(code));
		rc = OODA_EUNAVAIL;
	}
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(e);
	buf_release(&addr);
	return rc;
}

/* ---- the worker ------------------------------------------------------------------------ */

/* An owned copy of a due row. */
struct due {
	char *id, *target, *kind, *event, *payload;
	int64_t attempts;
};

struct due_list {
	struct due v[DUE_BATCH];
	size_t n;
};

static int due_row(void *ctx, const void *row)
{
	struct due_list *l = ctx;
	const struct notify_row *r = row;
	if (l->n == DUE_BATCH)
		return 1;
	l->v[l->n++] = (struct due){ .id = xstrdup(r->id), .target = xstrdup(r->target), .kind = xstrdup(r->kind),
				     .event = xstrdup(r->event), .payload = xstrdup(r->payload),
				     .attempts = r->attempts };
	return 0;
}

static void due_free(struct due *d)
{
	free(d->id);
	free(d->target);
	free(d->kind);
	free(d->event);
	free(d->payload);
}

static int update_fn(struct store *s, void *ctx, struct buf *err)
{
	int rc = store_notify_update(s, ctx);
	if (rc)
		buf_addf(err, "notification outcome not recorded: %s", ooda_strerror(rc));
	return rc;
}

static bool stopping(struct notify *n)
{
	return n->w && worker_stopping(n->w);
}

/*
 * One attempt at row d and its outcome written: delivered, pending again
 * after a backoff, or failed (attempts exhausted, target gone). The only
 * place a row changes state after it was queued.
 */
static void delivery_attempt(struct notify *n, const struct notify_config *c, struct due *d)
{
	struct buf why = BUF_INIT;
	const struct notify_target *t = notify_config_target(c, d->target);
	int rc;
	if (!t) {
		buf_addf(&why, "no target is named \"%s\" in notify.targets any more", d->target);
		rc = OODA_ENOTFOUND;
	} else {
		struct notify_row r = { .id = d->id, .kind = d->kind, .event = d->event, .payload = d->payload };
		rc = t->type == NOTIFY_EMAIL ? send_email(t, &r, n->w, &why) : send_http(t, &r, n->w, &why);
	}
	if (rc && stopping(n)) { /* abandoned by the stop: not an attempt, sent again at the next start */
		buf_release(&why);
		return;
	}
	int64_t now = ooda_now_ns();
	struct notify_row u = { .id = d->id, .attempts = d->attempts + 1, .last_error = why.data };
	if (!rc) {
		u.status = "delivered";
		u.delivered_ns = now;
		u.next_attempt_ns = now;
		atomic_fetch_add(&n->sent, 1);
		log_info("notification %s delivered to %s (attempt %lld)", d->id, d->target, (long long)u.attempts);
	} else {
		atomic_fetch_add(&n->attempt_failures, 1);
		if (rc == OODA_ENOTFOUND || u.attempts >= c->max_attempts) {
			u.status = "failed";
			u.next_attempt_ns = now;
			log_warn("notification %s to %s failed after %lld attempts: %s", d->id, d->target,
				 (long long)u.attempts, why.data);
		} else {
			uint64_t rnd;
			randombytes_buf(&rnd, sizeof(rnd));
			u.status = "pending";
			u.next_attempt_ns = ooda_ns_add_sat(now, notify_backoff_ns(u.attempts, c->base_ns,
										   c->max_backoff_ns, rnd));
			log_info("notification %s to %s: attempt %lld failed, retrying: %s", d->id, d->target,
				 (long long)u.attempts, why.data);
		}
	}
	struct buf err = BUF_INIT;
	if (store_write(n->store, update_fn, &u, &err))
		log_error("notification %s: %s", d->id, err.data);
	buf_release(&err);
	buf_release(&why);
}

void notify_deliver_due(struct notify *n, int64_t now_ns)
{
	for (int round = 0; round < 16 && !stopping(n); round++) {
		struct due_list l = { .n = 0 };
		if (store_notify_due(n->store, now_ns ? now_ns : ooda_now_ns(), DUE_BATCH, due_row, &l) < 0) {
			log_error("notification outbox not readable");
			break;
		}
		struct cfg_ref *r = cfg_get(n);
		for (size_t i = 0; i < l.n; i++) {
			if (!stopping(n))
				delivery_attempt(n, r->c, &l.v[i]);
			due_free(&l.v[i]);
		}
		cfg_put(n, r);
		if (l.n < DUE_BATCH)
			break;
	}
}

/* An alert transition handed over by the subscriber, owned by the worker queue. */
struct alert_job {
	char fingerprint[17];
	char *name, *service, *team;
	enum alert_severity severity;
	bool firing;
	int64_t at_ns;
};

static void alert_job_free(void *item)
{
	struct alert_job *j = item;
	free(j->name);
	free(j->service);
	free(j->team);
	free(j);
}

/* Was the latest row queued for this alert its firing? (then its resolution is worth telling) */
static int last_event_row(void *ctx, const void *row)
{
	const struct notify_row *r = row;
	*(bool *)ctx = !strcmp(r->event, "firing");
	return 1;
}

static void alert_job_run(struct notify *n, struct alert_job *j)
{
	if (!j->firing) {
		bool was_firing = false;
		struct notify_filter f = { .alert = j->fingerprint, .limit = 1 };
		if (store_notify_list(n->store, &f, last_event_row, &was_firing) < 0 || !was_firing)
			return;
	}
	char base[64], impact[512];
	snprintf(base, sizeof(base), "%s@%lld", j->fingerprint, (long long)j->at_ns);
	snprintf(impact, sizeof(impact), "%s %s%s%s", j->name, j->firing ? "is firing" : "has resolved",
		 j->service ? " on " : "", j->service ? j->service : "");
	struct notify_event ev = {
		.kind = "alert", .event = j->firing ? "firing" : "resolved", .dedupe_base = base,
		.alert_fingerprint = j->fingerprint, .title = j->name,
		.severity = alert_severity_name(j->severity), .service = j->service, .team = j->team,
		.impact = impact, .at_ns = j->at_ns,
	};
	struct buf err = BUF_INIT;
	if (notify_enqueue(n, &ev, &err) < 0)
		log_error("alert %s not notified: %s", j->fingerprint, err.data);
	buf_release(&err);
}

static int prune_fn(struct store *s, void *ctx, struct buf *err)
{
	int64_t *a = ctx; /* {before_ns, deleted} */
	size_t deleted = 0;
	int rc = store_notify_prune(s, a[0], PRUNE_BATCH, &deleted);
	if (rc)
		buf_addf(err, "old notifications not deleted: %s", ooda_strerror(rc));
	a[1] = (int64_t)deleted;
	return rc;
}

int notify_prune(struct notify *n, int64_t now_ns)
{
	int64_t keep = atomic_load(&n->keep_ns);
	if (keep <= 0)
		return 0;
	int64_t a[2] = { ooda_ns_sub_sat(now_ns, keep), 0 };
	struct buf err = BUF_INIT;
	int rc = store_write(n->store, prune_fn, a, &err);
	if (rc)
		log_error("%s", err.data);
	buf_release(&err);
	return rc ? rc : (int)a[1];
}

void notify_set_retention(struct notify *n, int64_t keep_ns)
{
	atomic_store(&n->keep_ns, keep_ns);
}

static void work(void *ctx, void *item)
{
	struct notify *n = ctx;
	if (item) {
		alert_job_run(n, item);
		alert_job_free(item);
	}
	notify_deliver_due(n, 0);
	int64_t mono = ooda_mono_ns();
	if (!n->pruned_mono_ns || mono - n->pruned_mono_ns >= PRUNE_EVERY_NS) {
		/* once a minute, and again on the next call while batches come back full */
		if (notify_prune(n, ooda_now_ns()) < PRUNE_BATCH)
			n->pruned_mono_ns = mono;
	}
}

static void alert_transition(void *ctx, const struct alert_transition *t)
{
	struct notify *n = ctx;
	bool firing = t->to == ALERT_FIRING;
	if (!firing && !(t->to == ALERT_RESOLVED && t->from == ALERT_FIRING))
		return;
	pthread_mutex_lock(&n->mu);
	bool routed = n->cur->c->n_routes > 0;
	pthread_mutex_unlock(&n->mu);
	if (!routed)
		return;
	if (firing) {
		enum alert_state st;
		bool notify = false;
		if (alerts_state(n->alerts, t->fingerprint, &st, &notify) || !notify)
			return; /* silenced or inhibited: recorded by the core, told to nobody */
	}
	struct alert_job *j = xcalloc(1, sizeof(*j));
	snprintf(j->fingerprint, sizeof(j->fingerprint), "%s", t->fingerprint);
	j->name = xstrdup(t->name);
	j->service = xstrdup(t->service);
	j->team = xstrdup(json_string_value(json_object_get(t->labels, "team")));
	j->severity = t->severity;
	j->firing = firing;
	j->at_ns = t->at_ns;
	if (worker_push(n->w, j)) {
		atomic_fetch_add(&n->dropped, 1);
		log_warn("alert %s not notified: the notification queue is full", t->fingerprint);
		alert_job_free(j);
	}
}

int notify_follow_alerts(struct notify *n, struct alerts *a)
{
	n->alerts = a;
	return alerts_subscribe(a, alert_transition, n);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

int notify_create(struct store *s, const struct audit_signer *signer, const char *section_json,
		  struct notify **out, struct buf *err)
{
	struct notify_config *c = NULL;
	int rc = parse_section(section_json, &c, err);
	if (rc)
		return rc;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct notify *n = xcalloc(1, sizeof(*n));
	n->store = s;
	n->signer = signer;
	pthread_mutex_init(&n->mu, NULL);
	n->cur = xcalloc(1, sizeof(*n->cur));
	n->cur->c = c;
	n->cur->refs = 1;
	n->section = xstrdup(section_json);
	*out = n;
	return 0;
}

int notify_start(struct notify *n, struct buf *err)
{
	struct worker_opts o = { .capacity = QUEUE_CAPACITY, .interval_ns = WORKER_INTERVAL_NS,
				 .stop_mode = WORKER_CANCEL, .item_free = alert_job_free,
				 .leader_only = true };
	int rc = worker_create("notify", work, n, &o, &n->w, err);
	if (!rc)
		worker_wake(n->w); /* rows left pending by the last run */
	return rc;
}

int notify_reload(struct notify *n, const char *section_json, bool apply, struct buf *changes, struct buf *err)
{
	struct notify_config *c = NULL;
	int rc = parse_section(section_json, &c, err);
	if (rc || !apply) {
		notify_config_free(c);
		return rc;
	}
	struct cfg_ref *nr = xcalloc(1, sizeof(*nr));
	nr->c = c;
	nr->refs = 1;
	bool same = (!section_json && !n->section) || (section_json && n->section && !strcmp(section_json, n->section));
	pthread_mutex_lock(&n->mu);
	struct cfg_ref *old = n->cur;
	n->cur = nr;
	pthread_mutex_unlock(&n->mu);
	if (!same && changes) { /* "targets hook, chat; 3 routes" */
		buf_adds(changes, "targets ");
		for (size_t i = 0; i < c->n_targets; i++)
			buf_addf(changes, "%s%s", i ? ", " : "", c->targets[i].name);
		buf_addf(changes, "%s; %zu routes", c->n_targets ? "" : "none", c->n_routes);
	}
	free(n->section);
	n->section = xstrdup(section_json);
	cfg_put(n, old);
	wake(n);
	return 0;
}

void notify_destroy(struct notify *n)
{
	if (!n)
		return;
	worker_destroy(n->w);
	cfg_put(n, n->cur);
	pthread_mutex_destroy(&n->mu);
	free(n->section);
	free(n);
}

void notify_wait_idle(struct notify *n)
{
	if (n && n->w)
		worker_wait_idle(n->w);
}

/* ---- reading ----------------------------------------------------------------------------- */

struct list_ctx {
	json_t *arr;
	bool payload;
};

static void set_time(json_t *o, const char *key, int64_t ns)
{
	json_object_set_new(o, key, json_time_or_null(ns));
}

static int list_row(void *ctx, const void *row)
{
	struct list_ctx *l = ctx;
	const struct notify_row *r = row;
	json_t *o = json_pack("{ss ss ss ss ss sI ss}", "id", r->id, "target", r->target, "kind", r->kind, "event",
			      r->event, "status", r->status, "attempts", (json_int_t)r->attempts, "last_error",
			      r->last_error);
	json_object_set_new(o, "incident", *r->incident ? json_string(r->incident) : json_null());
	json_object_set_new(o, "alert", *r->alert ? json_string(r->alert) : json_null());
	set_time(o, "created_at", r->created_ns);
	set_time(o, "next_attempt_at", strcmp(r->status, "pending") ? 0 : r->next_attempt_ns);
	set_time(o, "delivered_at", r->delivered_ns);
	json_object_set_new(o, "dedupe_key", json_string(r->dedupe_key));
	if (l->payload)
		json_object_set_new(o, "payload", json_string(r->payload));
	json_array_append_new(l->arr, o);
	return 0;
}

int notify_list_json(struct notify *n, const struct notify_filter *f, struct buf *out, struct buf *err)
{
	static const char *const statuses[] = { "pending", "delivered", "failed" };
	if (f->status && *f->status) {
		size_t i = 0;
		while (i < 3 && strcmp(f->status, statuses[i]))
			i++;
		if (i == 3) {
			buf_addf(err, "status: must be pending, delivered or failed, not \"%s\"", f->status);
			return OODA_EINVAL;
		}
	}
	struct list_ctx l = { .arr = json_array(), .payload = f->id && *f->id };
	int rc = store_notify_list(n->store, f, list_row, &l);
	if (rc) {
		buf_addf(err, "notifications not readable: %s", ooda_strerror(rc));
		json_decref(l.arr);
		return rc;
	}
	json_t *j = json_pack("{so}", "notifications", l.arr);
	char *s = json_dumps(j, JSON_COMPACT);
	buf_adds(out, s ? s : "{\"notifications\":[]}");
	free(s);
	json_decref(j);
	return 0;
}

void notify_metrics(struct notify *n, struct buf *out)
{
	struct notify_counts c = { 0 };
	if (n)
		store_notify_counts(n->store, &c);
	buf_addf(out,
		 "# HELP ooda_notifications Rows of the notification outbox by status.\n"
		 "# TYPE ooda_notifications gauge\n"
		 "ooda_notifications{status=\"pending\"} %lld\nooda_notifications{status=\"delivered\"} %lld\n"
		 "ooda_notifications{status=\"failed\"} %lld\n"
		 "# HELP ooda_notification_deliveries_total Notifications delivered since start.\n"
		 "# TYPE ooda_notification_deliveries_total counter\nooda_notification_deliveries_total %llu\n"
		 "# HELP ooda_notification_retries_total Delivery attempts that failed since start (each is retried or ends failed).\n"
		 "# TYPE ooda_notification_retries_total counter\nooda_notification_retries_total %llu\n"
		 "# HELP ooda_notification_dropped_total Alert transitions not notified because the queue was full.\n"
		 "# TYPE ooda_notification_dropped_total counter\nooda_notification_dropped_total %llu\n",
		 (long long)c.pending, (long long)c.delivered, (long long)c.failed,
		 n ? (unsigned long long)atomic_load(&n->sent) : 0ULL,
		 n ? (unsigned long long)atomic_load(&n->attempt_failures) : 0ULL,
		 n ? (unsigned long long)atomic_load(&n->dropped) : 0ULL);
}
