/*
 * The parts of the notifier that are pure functions, shared by notify.c,
 * the unit tests and the config fuzzer: the parsed `notify` section
 * (notify_config.c), message rendering per target type, the webhook
 * signature, the retry backoff and routing (notify_render.c). No store, no
 * threads, no network here.
 */
#ifndef OODA_NOTIFY_IMPL_H
#define OODA_NOTIFY_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "respond/notify.h"

#define NOTIFY_MAX_TARGETS 64
#define NOTIFY_MAX_ROUTES 256
#define NOTIFY_MAX_SECRET 4096
#define NOTIFY_DEFAULT_PAGERDUTY_URL "https://events.pagerduty.com/v2/enqueue"

enum notify_type { NOTIFY_WEBHOOK, NOTIFY_SLACK, NOTIFY_PAGERDUTY, NOTIFY_EMAIL };

/* "webhook" | "slack" | "pagerduty" | "email" */
const char *notify_type_name(enum notify_type t);

struct notify_target {
	char *name;
	enum notify_type type;
	char *url;           /* http(s):// for the HTTP types, smtp(s):// for email */
	char *secret;        /* webhook HMAC key, PagerDuty routing key, SMTP password, Slack URL; NULL if none */
	size_t secret_len;
	char *username;      /* email: SMTP login; NULL: none */
	char *from;          /* email */
	char **to;           /* email: recipients */
	size_t n_to;
	int64_t timeout_ns;
};

struct notify_route {
	char **severity, **service, **team; /* empty list: any */
	size_t n_severity, n_service, n_team;
	char *kind;          /* "incident" | "alert"; NULL: any */
	size_t *targets;     /* indices into notify_config.targets */
	size_t n_targets;
};

struct notify_config {
	struct notify_target *targets;
	size_t n_targets;
	struct notify_route *routes;
	size_t n_routes;
	int64_t max_attempts;
	int64_t base_ns, max_backoff_ns;
	char *public_url;    /* NULL: links are left out */
};

/*
 * Parses the section (NULL or JSON null: no targets, default retry) and
 * reads each target's secret from its environment variable or file.
 * Caller owns *out (notify_config_free). OODA_EINVAL with one
 * "notify.<path>: message" line per problem in err.
 */
int notify_config_parse(const json_t *section, struct notify_config **out, struct buf *err);
void notify_config_free(struct notify_config *c);

/* The target named name, or NULL. */
const struct notify_target *notify_config_target(const struct notify_config *c, const char *name);

/*
 * Every target some route matching ev sends to: picked[i] is set for
 * target i (picked holds c->n_targets entries). A route matches when each
 * of its non-empty lists holds ev's value (an event without that value
 * does not match) and its kind, if any, is ev's. Returns how many targets
 * were picked.
 */
size_t notify_route(const struct notify_config *c, const struct notify_event *ev, bool *picked);

/*
 * The body queued for target t: Slack {"text","blocks"}; the webhook's
 * {"id","event","kind","<kind>":{…}}; the PagerDuty Events v2 event
 * without its routing_key (added when sent); for email the RFC 5322
 * message (headers and a plain-text body). id is the row id; public_url
 * may be NULL. Appends to out.
 */
void notify_render(const struct notify_target *t, const struct notify_event *ev, const char *id,
		   const char *public_url, int64_t now_ns, struct buf *out);

/* The PagerDuty severity of ours: page/critical → critical, ticket/warning → warning, info → info, else error. */
const char *notify_pagerduty_severity(const char *severity);

/* The PagerDuty event_action of an event: resolved → resolve, acknowledged → acknowledge, else trigger. */
const char *notify_pagerduty_action(const char *event);

/*
 * The X-Ooda-Signature value of body sent at unix time t_s:
 * "t=<t_s>,v1=<hex HMAC-SHA256(secret, "<t_s>.<body>")>". Appends to out.
 */
void notify_sign(const char *secret, size_t secret_len, int64_t t_s, const char *body, size_t len,
		 struct buf *out);

/*
 * Delay before the next attempt after `attempts` failed ones: uniform in
 * [0, min(max_ns, base_ns·2^(attempts-1))] ("full jitter") drawn from rnd.
 * Never negative, never above max_ns.
 */
int64_t notify_backoff_ns(int64_t attempts, int64_t base_ns, int64_t max_ns, uint64_t rnd);

/* "ntf_" + 16 hex digits of SHA-256(dedupe_key): the same key always gets the same id. */
void notify_row_id(const char *dedupe_key, char id[24]);

/*
 * One delivery pass on the caller's thread: every row due at now_ns (0:
 * the clock's now) is attempted and its outcome recorded. The worker runs
 * this; tests call it without starting the worker, with a time of their
 * choosing, so no test waits for a backoff.
 */
void notify_deliver_due(struct notify *n, int64_t now_ns);

/* One batch of the retention (notify_set_retention) as if the time were now_ns: the rows deleted, or an error. */
int notify_prune(struct notify *n, int64_t now_ns);

#endif
