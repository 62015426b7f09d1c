/*
 * What a notification looks like on the wire, per target type, and the
 * pure helpers around it: routing an event to targets, the Stripe-style
 * webhook signature, the retry backoff with full jitter and the stable row
 * id. notify.c renders a row with these when it queues it, and signs it
 * when it sends it; the unit tests check each shape against the receiving
 * service's documented format.
 */
#include "respond/notify_impl.h"
#include "core/hex.h"
#include "core/xalloc.h"
#include "core/time.h"

#include <sodium.h>
#include <string.h>
#include <time.h>

/* ---- routing -------------------------------------------------------------- */

static bool listed(char *const *v, size_t n, const char *value)
{
	if (!n)
		return true;
	for (size_t i = 0; value && i < n; i++)
		if (!strcmp(v[i], value))
			return true;
	return false;
}

size_t notify_route(const struct notify_config *c, const struct notify_event *ev, bool *picked)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n_targets; i++)
		picked[i] = false;
	for (size_t i = 0; i < c->n_routes; i++) {
		const struct notify_route *r = &c->routes[i];
		if ((r->kind && (!ev->kind || strcmp(r->kind, ev->kind))) ||
		    !listed(r->severity, r->n_severity, ev->severity) ||
		    !listed(r->service, r->n_service, ev->service) || !listed(r->team, r->n_team, ev->team))
			continue;
		for (size_t j = 0; j < r->n_targets; j++)
			if (!picked[r->targets[j]]) {
				picked[r->targets[j]] = true;
				n++;
			}
	}
	return n;
}

/* ---- helpers ---------------------------------------------------------------- */

/* The event's link, or public_url + the API path of its incident or alert; caller frees. */
static char *event_link(const struct notify_event *ev, const char *public_url)
{
	if (ev->link)
		return xstrdup(ev->link);
	if (!public_url)
		return NULL;
	struct buf b = BUF_INIT;
	size_t n = strlen(public_url);
	while (n && public_url[n - 1] == '/')
		n--;
	buf_add(&b, public_url, n);
	if (ev->incident_id)
		buf_addf(&b, "/api/v1/incidents/%s", ev->incident_id);
	else if (ev->alert_fingerprint)
		buf_addf(&b, "/api/v1/alerts/%s", ev->alert_fingerprint);
	else
		buf_adds(&b, "/");
	return buf_detach(&b, NULL);
}

static void json_set_str(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

static void dump_into(json_t *j, struct buf *out)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	if (s)
		buf_adds(out, s);
	free(s);
	json_decref(j);
}

static const char *title_of(const struct notify_event *ev)
{
	return ev->title ? ev->title : ev->kind;
}

/* The upper-case severity ("PAGE") into out. */
static const char *upper(const char *s, char *out, size_t size)
{
	size_t i = 0;
	for (; s && s[i] && i + 1 < size; i++)
		out[i] = (char)((s[i] >= 'a' && s[i] <= 'z') ? s[i] - 32 : s[i]);
	out[i] = 0;
	return out;
}

/* ---- generic webhook ------------------------------------------------------------ */

static void render_webhook(const struct notify_event *ev, const char *id, const char *link, int64_t at_ns,
			   struct buf *out)
{
	char ts[40];
	json_t *subject = json_object();
	if (ev->incident_id)
		json_set_str(subject, "id", ev->incident_id);
	json_set_str(subject, "fingerprint", ev->alert_fingerprint);
	json_set_str(subject, "title", ev->title);
	json_set_str(subject, "severity", ev->severity);
	json_set_str(subject, "service", ev->service);
	json_set_str(subject, "team", ev->team);
	json_set_str(subject, "impact", ev->impact);
	json_set_str(subject, "top_suspect", ev->top_suspect);
	json_set_str(subject, "link", link);
	json_t *j = json_pack("{ss ss ss ss so}", "id", id, "event", ev->event, "kind", ev->kind, "at",
			      ooda_time_format(at_ns, ts, sizeof(ts)), ev->kind, subject);
	if (ev->extra && json_is_object(ev->extra))
		json_object_set_new(j, "extra", json_deep_copy(ev->extra));
	dump_into(j, out);
}

/* ---- Slack incoming webhook ----------------------------------------------------- */

/* Slack mrkdwn: &, < and > are control characters and must be escaped. */
static void slack_escape(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '&')
			buf_adds(b, "&amp;");
		else if (*s == '<')
			buf_adds(b, "&lt;");
		else if (*s == '>')
			buf_adds(b, "&gt;");
		else
			buf_addch(b, *s);
	}
}

static void render_slack(const struct notify_event *ev, const char *link, struct buf *out)
{
	char sev[32];
	upper(ev->severity ? ev->severity : "info", sev, sizeof(sev));
	struct buf text = BUF_INIT, main = BUF_INIT, ctx = BUF_INIT;
	buf_addf(&text, "[%s] ", sev);
	slack_escape(&text, title_of(ev));
	buf_adds(&text, " (");
	slack_escape(&text, ev->event);
	buf_adds(&text, ")");

	buf_adds(&main, "*");
	if (link) {
		buf_adds(&main, "<");
		slack_escape(&main, link);
		buf_adds(&main, "|");
		slack_escape(&main, title_of(ev));
		buf_adds(&main, ">");
	} else {
		slack_escape(&main, title_of(ev));
	}
	buf_addf(&main, "* — %s\n*Severity:* %s", ev->event, sev);
	if (ev->service) {
		buf_adds(&main, " · *Service:* ");
		slack_escape(&main, ev->service);
	}
	if (ev->team) {
		buf_adds(&main, " · *Team:* ");
		slack_escape(&main, ev->team);
	}
	if (ev->impact) {
		buf_adds(&main, "\n*Impact:* ");
		slack_escape(&main, ev->impact);
	}
	if (ev->top_suspect) {
		buf_adds(&main, "\n*Top suspect:* ");
		slack_escape(&main, ev->top_suspect);
	}
	buf_addf(&ctx, "ooda · %s", ev->kind);
	if (ev->incident_id) {
		buf_adds(&ctx, " ");
		slack_escape(&ctx, ev->incident_id);
	} else if (ev->alert_fingerprint) {
		buf_adds(&ctx, " ");
		slack_escape(&ctx, ev->alert_fingerprint);
	}
	json_t *j = json_pack("{ss s[{ss s{ss ss}} {ss s[{ss ss}]}]}", "text", text.data, "blocks", "type", "section",
			      "text", "type", "mrkdwn", "text", main.data, "type", "context", "elements", "type",
			      "mrkdwn", "text", ctx.data);
	dump_into(j, out);
	buf_release(&text);
	buf_release(&main);
	buf_release(&ctx);
}

/* ---- PagerDuty Events API v2 ------------------------------------------------------- */

const char *notify_pagerduty_severity(const char *severity)
{
	static const struct {
		const char *ours, *theirs;
	} map[] = {
		{ "page", "critical" }, { "critical", "critical" }, { "ticket", "warning" },
		{ "warning", "warning" }, { "info", "info" },	    { "error", "error" },
	};
	for (size_t i = 0; severity && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(severity, map[i].ours))
			return map[i].theirs;
	return "error";
}

const char *notify_pagerduty_action(const char *event)
{
	if (event && !strcmp(event, "resolved"))
		return "resolve";
	if (event && !strcmp(event, "acknowledged"))
		return "acknowledge";
	return "trigger";
}

static void render_pagerduty(const struct notify_event *ev, const char *id, const char *link,
			     const char *public_url, int64_t at_ns, struct buf *out)
{
	const char *action = notify_pagerduty_action(ev->event);
	const char *dedup = ev->incident_id ? ev->incident_id
			    : ev->alert_fingerprint ? ev->alert_fingerprint
			    : ev->dedupe_base ? ev->dedupe_base : id;
	json_t *j = json_pack("{ss ss}", "event_action", action, "dedup_key", dedup);
	if (!strcmp(action, "trigger")) {
		char ts[40], sev[32];
		struct buf summary = BUF_INIT;
		buf_addf(&summary, "[%s] %s", upper(ev->severity ? ev->severity : "error", sev, sizeof(sev)),
			 title_of(ev));
		if (ev->impact)
			buf_addf(&summary, ": %s", ev->impact);
		if (summary.len > 1024) /* the API's bound; cut on a UTF-8 boundary */ {
			size_t n = 1021;
			while (n && ((unsigned char)summary.data[n] & 0xc0) == 0x80)
				n--;
			buf_setlen(&summary, n);
			buf_adds(&summary, "...");
		}
		json_t *details = json_object();
		json_set_str(details, "event", ev->event);
		json_set_str(details, "kind", ev->kind);
		json_set_str(details, "impact", ev->impact);
		json_set_str(details, "top_suspect", ev->top_suspect);
		json_set_str(details, "team", ev->team);
		json_set_str(details, "notification_id", id);
		if (ev->extra && json_is_object(ev->extra))
			json_object_update(details, (json_t *)ev->extra);
		json_t *payload = json_pack("{ss ss ss ss so}", "summary", summary.data, "source",
					    ev->service ? ev->service : "ooda", "severity",
					    notify_pagerduty_severity(ev->severity), "timestamp",
					    ooda_time_format(at_ns, ts, sizeof(ts)), "custom_details", details);
		json_set_str(payload, "component", ev->service);
		json_set_str(payload, "group", ev->team);
		json_set_str(payload, "class", ev->kind);
		json_object_set_new(j, "payload", payload);
		json_object_set_new(j, "client", json_string("ooda"));
		if (public_url)
			json_object_set_new(j, "client_url", json_string(public_url));
		if (link)
			json_object_set_new(j, "links", json_pack("[{ss ss}]", "href", link, "text", "Open in ooda"));
		buf_release(&summary);
	}
	dump_into(j, out);
}

/* ---- email (RFC 5322) ------------------------------------------------------------------ */

/* A header value on one line: CR and LF become spaces; non-ASCII text as an RFC 2047 encoded word. */
static void header_value(struct buf *b, const char *s)
{
	bool ascii = true;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p >= 0x80)
			ascii = false;
	if (!ascii) {
		size_t n = strlen(s);
		size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
		char *enc = xmalloc(cap);
		sodium_bin2base64(enc, cap, (const unsigned char *)s, n, sodium_base64_VARIANT_ORIGINAL);
		buf_addf(b, "=?UTF-8?B?%s?=", enc);
		free(enc);
		return;
	}
	for (; *s; s++)
		buf_addch(b, (*s == '\r' || *s == '\n') ? ' ' : *s);
}

/* A body line: CR and LF become spaces so the message keeps its CRLF structure. */
static void body_line(struct buf *b, const char *label, const char *s)
{
	if (!s)
		return;
	buf_adds(b, label);
	for (; *s; s++)
		buf_addch(b, (*s == '\r' || *s == '\n') ? ' ' : *s);
	buf_adds(b, "\r\n");
}

static void render_email(const struct notify_target *t, const struct notify_event *ev, const char *id,
			 const char *link, int64_t at_ns, struct buf *out)
{
	time_t secs = (time_t)(at_ns / OODA_NS_PER_SEC);
	struct tm tm;
	char date[64], sev[32], subject[512];
	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(subject, sizeof(subject), "[%s] %s (%s)", upper(ev->severity ? ev->severity : "info", sev, sizeof(sev)),
		 title_of(ev), ev->event);
	buf_addf(out, "Date: %s\r\nFrom: ooda <%s>\r\nTo: ", date, t->from ? t->from : "ooda@localhost");
	for (size_t i = 0; i < t->n_to; i++)
		buf_addf(out, "%s%s", i ? ", " : "", t->to[i]);
	buf_addf(out, "\r\nMessage-ID: <%s@ooda>\r\nSubject: ", id);
	header_value(out, subject);
	buf_adds(out, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
		      "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n\r\n");
	body_line(out, "", title_of(ev));
	buf_adds(out, "\r\n");
	body_line(out, "Event:       ", ev->event);
	body_line(out, "Severity:    ", ev->severity);
	body_line(out, "Service:     ", ev->service);
	body_line(out, "Team:        ", ev->team);
	body_line(out, "Impact:      ", ev->impact);
	body_line(out, "Top suspect: ", ev->top_suspect);
	body_line(out, "Incident:    ", ev->incident_id);
	body_line(out, "Alert:       ", ev->alert_fingerprint);
	body_line(out, "Link:        ", link);
	buf_addf(out, "\r\n-- \r\nooda notification %s\r\n", id);
}

void notify_render(const struct notify_target *t, const struct notify_event *ev, const char *id,
		   const char *public_url, int64_t now_ns, struct buf *out)
{
	int64_t at = ev->at_ns ? ev->at_ns : now_ns;
	char *link = event_link(ev, public_url);
	switch (t->type) { /* one renderer per type; the table of types is in notify_config.c */
	case NOTIFY_SLACK:
		render_slack(ev, link, out);
		break;
	case NOTIFY_PAGERDUTY:
		render_pagerduty(ev, id, link, public_url, at, out);
		break;
	case NOTIFY_EMAIL:
		render_email(t, ev, id, link, at, out);
		break;
	case NOTIFY_WEBHOOK:
	default:
		render_webhook(ev, id, link, at, out);
		break;
	}
	free(link);
}

/* ---- signature, backoff, ids ---------------------------------------------------------- */

void notify_sign(const char *secret, size_t secret_len, int64_t t_s, const char *body, size_t len,
		 struct buf *out)
{
	char t[32];
	int tn = snprintf(t, sizeof(t), "%lld.", (long long)t_s);
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, secret_len);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)t, (unsigned long long)tn);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	char hex[2 * sizeof(mac) + 1];
	hex_encode(mac, sizeof(mac), hex);
	buf_addf(out, "t=%lld,v1=%s", (long long)t_s, hex);
}

int64_t notify_backoff_ns(int64_t attempts, int64_t base_ns, int64_t max_ns, uint64_t rnd)
{
	if (base_ns < 0)
		base_ns = 0;
	if (max_ns < 0)
		max_ns = 0;
	int64_t cap = base_ns;
	for (int64_t i = 1; i < attempts && cap < max_ns; i++)
		cap = cap > max_ns / 2 ? max_ns : cap * 2;
	if (cap > max_ns)
		cap = max_ns;
	return (int64_t)(rnd % ((uint64_t)cap + 1));
}

void notify_row_id(const char *dedupe_key, char id[24])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)dedupe_key, strlen(dedupe_key));
	memcpy(id, "ntf_", 4);
	hex_encode(h, 8, id + 4);
}
