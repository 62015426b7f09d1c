/*
 * The respond stage's glue (respond_glue.h): incident events from the
 * incidents stage become triage summaries, diagnostics snapshots,
 * notifications and escalation pages, on one worker thread of their own.
 * The incidents stage, notify and on-call know nothing of each other; this
 * file is the only place that joins them.
 */
#include "api/respond_glue.h"
#include "api/handlers.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "respond/escalation.h"
#include "respond/rca.h"
#include "respond/triage.h"
#include "web/stream.h"

#include <string.h>

#define ACTOR "ooda"

struct respond_glue {
	struct daemon *d;
	struct worker *w;
	pthread_mutex_t mu;  /* guards the three maps */
	json_t *latest;      /* incident id → its latest summary */
	json_t *refreshed;   /* open incident id → when its summary was last computed (ns; 0 never) */
	json_t *escalation;  /* incident id → escalation_state_json */
	int64_t woken_ns;    /* the engine tick's last wake (engine thread only) */
	bool seeded;         /* the open incidents of an earlier run were read (worker only) */
};

struct glue_item {
	char *event;
	char *doc;
};

static void item_free(void *p)
{
	struct glue_item *it = p;
	if (!it)
		return;
	free(it->event);
	free(it->doc);
	free(it);
}

/* ---- the latest summary ------------------------------------------------------ */

static int64_t doc_time(const json_t *doc, const char *key)
{
	const char *s = json_string_value(json_object_get(doc, key));
	int64_t ns = 0;
	if (!s || ooda_time_parse(s, strlen(s), &ns))
		return 0;
	return ns;
}

static int summary_compute(struct daemon *d, const json_t *doc, int64_t now_ns, json_t **out, struct buf *err)
{
	struct triage_deps deps;
	json_t *services = NULL;
	api_triage_deps(d, &deps, &services);
	deps.rank = rca_rank;
	deps.rank_free = rca_suspects_free;
	int rc = triage_compute(&deps, doc, now_ns, out, err);
	json_decref(services);
	return rc;
}

/*
 * Keeps the summary. One that names no suspect yet (the incident opened
 * seconds after the fault, before the telemetry showed where) is due again
 * after RESPOND_RETRY_EMPTY_NS rather than the full refresh interval.
 */
/* "payments,payments@d-42,checkout": the ranking's order, the part of a summary a responder acts on. */
static void ranking_key(const json_t *summary, struct buf *out)
{
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(summary, "suspects"), i, s) {
		const char *node = json_string_value(json_object_get(s, "node"));
		buf_addf(out, "%s%s", i ? "," : "", node ? node : "");
	}
}

/*
 * Keeps the summary, and when its ranking's order differs from the kept
 * one's, says so on the live feed as a "summary" event {"incident", "top"}:
 * an open incident page redraws its suspects (a young incident's ranking
 * firms up as data arrives after the onset).
 */
static void latest_keep(struct respond_glue *g, const char *id, json_t *summary, int64_t now_ns)
{
	int64_t due_from = now_ns;
	if (json_array_size(json_object_get(summary, "suspects")) == 0)
		due_from -= RESPOND_REFRESH_NS - RESPOND_RETRY_EMPTY_NS;
	struct buf was = BUF_INIT, now = BUF_INIT;
	ranking_key(summary, &now);
	pthread_mutex_lock(&g->mu);
	json_t *prev = json_object_get(g->latest, id);
	if (prev)
		ranking_key(prev, &was);
	json_object_set(g->latest, id, summary);
	json_object_set_new(g->refreshed, id, json_integer(due_from));
	pthread_mutex_unlock(&g->mu);
	if (prev && strcmp(was.data ? was.data : "", now.data ? now.data : "")) {
		json_t *top = json_object_get(json_array_get(json_object_get(summary, "suspects"), 0), "node");
		json_t *ev = json_pack("{s:s, s:O}", "incident", id, "top", top ? top : json_null());
		char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
		pthread_mutex_lock(&g->d->stream_mu);
		if (text && g->d->stream)
			web_stream_publish(g->d->stream, "summary", text);
		pthread_mutex_unlock(&g->d->stream_mu);
		free(text);
		json_decref(ev);
	}
	buf_release(&was);
	buf_release(&now);
}

/* Resolved: no refresh, no escalation; GET falls back to the timeline's last summary (bounded memory). */
static void latest_forget(struct respond_glue *g, const char *id)
{
	pthread_mutex_lock(&g->mu);
	json_object_del(g->latest, id);
	json_object_del(g->refreshed, id);
	json_object_del(g->escalation, id);
	pthread_mutex_unlock(&g->mu);
}

/* "payments: error ratio 35.0% (baseline 0.1%)" — the first service whose error ratio rose; NULL if none. */
static void impact_line(const json_t *summary, struct buf *out)
{
	json_t *svcs = json_object_get(json_object_get(summary, "impact"), "services");
	size_t i;
	json_t *s;
	json_array_foreach(svcs, i, s) {
		double b = json_number_value(json_object_get(json_object_get(s, "baseline"), "error_ratio"));
		double n = json_number_value(json_object_get(json_object_get(s, "incident"), "error_ratio"));
		if (n > b) {
			buf_addf(out, "%s: error ratio %.1f%% (baseline %.1f%%)", json_string_value(json_object_get(s, "service")),
				 n * 100, b * 100);
			return;
		}
	}
}

/* "payments (service, 0.91)" — the best suspect. */
static void top_suspect(const json_t *summary, struct buf *out)
{
	json_t *s = json_array_get(json_object_get(summary, "suspects"), 0);
	if (s)
		buf_addf(out, "%s (%s, %.2f)", json_string_value(json_object_get(s, "node")),
			 json_string_value(json_object_get(s, "kind")), json_number_value(json_object_get(s, "confidence")));
}

/* Computes, keeps and (with entry) appends the summary; with snapshot also stores diagnostics.json. */
static void summarise(struct respond_glue *g, const char *id, const json_t *doc, bool entry, bool snapshot)
{
	struct daemon *d = g->d;
	int64_t now = ooda_now_ns();
	json_t *summary = NULL;
	struct buf err = BUF_INIT;
	if (summary_compute(d, doc, now, &summary, &err)) {
		log_warn("%s: no triage summary: %s", id, err.data);
		pthread_mutex_lock(&g->mu); /* still followed (escalation); tried again after the refresh interval */
		json_object_set_new(g->refreshed, id, json_integer(now));
		pthread_mutex_unlock(&g->mu);
		buf_release(&err);
		return;
	}
	latest_keep(g, id, summary, now);
	if (entry) {
		struct buf text = BUF_INIT, top = BUF_INIT;
		top_suspect(summary, &top);
		buf_addf(&text, "triage summary%s%s", top.len ? ": first suspect " : "", top.len ? top.data : "");
		char *data = json_dumps(summary, JSON_COMPACT);
		if (data && incidents_timeline_append(d->incidents, id, "summary", ACTOR, text.data, data, &err))
			log_warn("%s: summary not added to the timeline: %s", id, err.data);
		free(data);
		buf_release(&text);
		buf_release(&top);
	}
	json_decref(summary);
	if (snapshot) {
		struct triage_deps deps;
		json_t *services = NULL, *snap = NULL;
		api_triage_deps(d, &deps, &services);
		buf_reset(&err);
		if (!triage_snapshot(&deps, doc, now, &snap, &err)) {
			char *bytes = json_dumps(snap, JSON_COMPACT);
			struct buf out = BUF_INIT;
			if (bytes && incidents_artifact_add(d->incidents, id, "diagnostics.json", "application/json", bytes,
							    strlen(bytes), ACTOR, &out, &err))
				log_warn("%s: diagnostics.json not stored: %s", id, err.data);
			buf_release(&out);
			free(bytes);
		} else {
			log_warn("%s: no diagnostics snapshot: %s", id, err.data);
		}
		json_decref(snap);
		json_decref(services);
	}
	buf_release(&err);
}

int respond_summary(struct daemon *d, const char *id, json_t **out, struct buf *err)
{
	struct buf doc = BUF_INIT;
	int rc = incidents_get_json(d->incidents, id, &doc, err);
	json_t *j = rc ? NULL : json_loads(doc.data, 0, NULL);
	buf_release(&doc);
	if (rc)
		return rc;
	const char *canon = json_string_value(json_object_get(j, "id"));
	struct respond_glue *g = d->respond_glue;
	*out = NULL;
	if (g && canon) {
		pthread_mutex_lock(&g->mu);
		*out = json_incref(json_object_get(g->latest, canon));
		pthread_mutex_unlock(&g->mu);
	}
	if (!*out && canon) {
		struct buf tl = BUF_INIT;
		if (!incidents_timeline_json(d->incidents, canon, "summary", &tl, err)) {
			json_t *t = json_loads(tl.data, 0, NULL), *e = json_object_get(t, "entries");
			json_t *last = json_array_get(e, json_array_size(e) - 1);
			*out = json_incref(json_object_get(last, "data"));
			json_decref(t);
		}
		buf_release(&tl);
	}
	if (!*out)
		rc = summary_compute(d, j, ooda_now_ns(), out, err);
	json_decref(j);
	return rc;
}

/* ---- notifications --------------------------------------------------------- */

/*
 * One timeline entry "notification" {target, event, notification} for each
 * of the n rows just queued for incident id (the newest n rows of the
 * incident whose event is event).
 */
static void record_rows(struct daemon *d, const char *id, const char *event, int n, const json_t *extra)
{
	struct notify_filter f = { .incident = id, .limit = 100 };
	struct buf out = BUF_INIT, err = BUF_INIT;
	if (notify_list_json(d->notify, &f, &out, &err)) {
		log_warn("%s: notifications not listed: %s", id, err.data);
		goto done;
	}
	json_t *j = json_loads(out.data, 0, NULL), *row;
	size_t i;
	json_array_foreach(json_object_get(j, "notifications"), i, row) {
		if (n <= 0)
			break;
		if (strcmp(json_string_value(json_object_get(row, "event")) ?: "", event))
			continue;
		n--;
		const char *target = json_string_value(json_object_get(row, "target"));
		json_t *data = json_pack("{s:s?, s:s, s:s?}", "target", target, "event", event, "notification",
					 json_string_value(json_object_get(row, "id")));
		if (extra)
			json_object_update(data, (json_t *)extra);
		char *dj = json_dumps(data, JSON_COMPACT);
		struct buf text = BUF_INIT;
		buf_addf(&text, "%s notification queued for %s", event, target ? target : "?");
		buf_reset(&err);
		if (dj && incidents_timeline_append(d->incidents, id, "notification", ACTOR, text.data, dj, &err))
			log_warn("%s: notification not added to the timeline: %s", id, err.data);
		buf_release(&text);
		free(dj);
		json_decref(data);
	}
	json_decref(j);
done:
	buf_release(&out);
	buf_release(&err);
}

/* The event of an incident doc, filled from it and its latest summary; strings borrowed from doc and bufs. */
static void event_fill(struct notify_event *ev, const json_t *doc, struct buf *impact, struct buf *suspect,
		       const json_t *summary)
{
	ev->kind = "incident";
	ev->incident_id = json_string_value(json_object_get(doc, "id"));
	ev->title = json_string_value(json_object_get(doc, "title"));
	ev->severity = json_string_value(json_object_get(doc, "severity"));
	ev->service = json_string_value(json_object_get(doc, "service"));
	ev->team = json_string_value(json_object_get(doc, "team"));
	impact_line(summary, impact);
	top_suspect(summary, suspect);
	ev->impact = impact->len ? impact->data : NULL;
	ev->top_suspect = suspect->len ? suspect->data : NULL;
}

/* Routes event of incident doc (notify_enqueue) and records what was queued. */
static void notify_incident(struct respond_glue *g, const json_t *doc, const char *event, const char *episode)
{
	struct daemon *d = g->d;
	const char *id = json_string_value(json_object_get(doc, "id"));
	if (!d->notify || !id)
		return;
	json_t *summary = NULL;
	struct buf err = BUF_INIT, impact = BUF_INIT, suspect = BUF_INIT, base = BUF_INIT;
	pthread_mutex_lock(&g->mu);
	summary = json_incref(json_object_get(g->latest, id));
	pthread_mutex_unlock(&g->mu);
	struct notify_event ev = { 0 };
	event_fill(&ev, doc, &impact, &suspect, summary);
	ev.event = event;
	buf_addf(&base, "%s%s%s", id, episode ? "#" : "", episode ? episode : "");
	ev.dedupe_base = base.data;
	int n = notify_enqueue(d->notify, &ev, &err);
	if (n < 0)
		log_warn("%s: %s notification not queued: %s", id, event, err.data);
	else if (n > 0)
		record_rows(d, id, event, n, NULL);
	json_decref(summary);
	buf_release(&err);
	buf_release(&impact);
	buf_release(&suspect);
	buf_release(&base);
}

static int severity_rank(const char *s)
{
	return s && strlen(s) == 4 && !strncmp(s, "SEV", 3) ? s[3] - '0' : 9;
}

/* Whether the last severity entry of id raised it (SEV3 → SEV1). */
static bool severity_raised(struct daemon *d, const char *id)
{
	struct buf tl = BUF_INIT, err = BUF_INIT;
	bool raised = false;
	if (!incidents_timeline_json(d->incidents, id, "severity", &tl, &err)) {
		json_t *t = json_loads(tl.data, 0, NULL), *e = json_object_get(t, "entries");
		json_t *data = json_object_get(json_array_get(e, json_array_size(e) - 1), "data");
		raised = severity_rank(json_string_value(json_object_get(data, "to"))) <
			 severity_rank(json_string_value(json_object_get(data, "from")));
		json_decref(t);
	}
	buf_release(&tl);
	buf_release(&err);
	return raised;
}

/* ---- escalation -------------------------------------------------------------- */

/* The state kept for id: in memory, else the last escalation page on the timeline, else fresh. */
static void escalation_load(struct respond_glue *g, const char *id, struct escalation_state *st)
{
	struct escalation_state fresh = ESCALATION_STATE_INIT;
	*st = fresh;
	pthread_mutex_lock(&g->mu);
	json_t *j = json_incref(json_object_get(g->escalation, id));
	pthread_mutex_unlock(&g->mu);
	if (!j) {
		struct buf tl = BUF_INIT, err = BUF_INIT;
		if (!incidents_timeline_json(g->d->incidents, id, "notification", &tl, &err)) {
			json_t *t = json_loads(tl.data, 0, NULL), *e = json_object_get(t, "entries");
			for (size_t i = json_array_size(e); !j && i-- > 0;)
				j = json_incref(json_object_get(json_object_get(json_array_get(e, i), "data"), "escalation"));
			json_decref(t);
		}
		buf_release(&tl);
		buf_release(&err);
	}
	if (j && escalation_state_from_json(j, st))
		*st = fresh;
	json_decref(j);
}

/*
 * Hands one page to the outbox: "notify:T" to target T, "user:U" to each
 * of the owner team's notify targets naming U (people have no address of
 * their own in ooda.yaml). Each queued row is a "notification" entry carrying
 * the escalation state.
 */
static void page_send(struct respond_glue *g, const json_t *doc, const struct oncall_team *team,
		      const struct escalation_page *p, int64_t page_no, const struct escalation_state *st)
{
	struct daemon *d = g->d;
	const char *id = json_string_value(json_object_get(doc, "id"));
	struct buf impact = BUF_INIT, suspect = BUF_INIT, base = BUF_INIT, err = BUF_INIT;
	json_t *extra = json_pack("{s:i, s:s, s:s?, s:s}", "level", p->level, "page_to", p->to, "via", p->via, "reason",
				  p->reason);
	struct notify_event ev = { 0 };
	pthread_mutex_lock(&g->mu);
	json_t *summary = json_incref(json_object_get(g->latest, id));
	pthread_mutex_unlock(&g->mu);
	event_fill(&ev, doc, &impact, &suspect, summary);
	ev.event = "escalated";
	ev.extra = extra;
	buf_addf(&base, "%s#page%lld", id, (long long)page_no);
	ev.dedupe_base = base.data;
	const char *targets[16];
	size_t n = 0;
	if (!strncmp(p->to, "notify:", 7))
		targets[n++] = p->to + 7;
	else
		for (size_t i = 0; team && i < team->n_notify && n < 16; i++)
			targets[n++] = team->notify[i];
	json_t *rec = json_pack("{s:o, s:i, s:s, s:s}", "escalation", escalation_state_json(st), "level", p->level,
				"page_to", p->to, "reason", p->reason);
	for (size_t i = 0; i < n; i++) {
		buf_reset(&err);
		int rc = notify_page(d->notify, targets[i], &ev, &err);
		if (rc < 0)
			log_warn("%s: page to %s not queued: %s", id, targets[i], err.data);
		else if (rc > 0)
			record_rows(d, id, "escalated", 1, rec);
	}
	if (!n) /* nobody to send to: the state is kept in memory only */
		log_warn("%s: level %d page to %s has no notify target", id, p->level, p->to);
	json_decref(rec);
	json_decref(extra);
	json_decref(summary);
	buf_release(&impact);
	buf_release(&suspect);
	buf_release(&base);
	buf_release(&err);
}

static void escalate(struct respond_glue *g, const json_t *doc, int64_t now_ns)
{
	struct daemon *d = g->d;
	const char *id = json_string_value(json_object_get(doc, "id"));
	const char *owner = json_string_value(json_object_get(doc, "team"));
	if (!d->oncall || !d->notify || !id || !owner)
		return;
	struct oncall_view v;
	oncall_book_view(d->oncall, &v);
	const struct oncall_policy *p = oncall_owner_policy(v.oc, owner);
	if (p) {
		struct escalation_state st;
		escalation_load(g, id, &st);
		struct escalation_pages pages = { 0 };
		int64_t before = st.pages;
		bool acked = strcmp(json_string_value(json_object_get(doc, "status")) ?: "", "triggered") != 0;
		escalation_tick(v.oc, &v.ov, p, &st, doc_time(doc, "opened_at"), now_ns, acked, &pages);
		for (size_t i = 0; i < pages.n; i++)
			page_send(g, doc, oncall_team_find(v.oc, owner), &pages.v[i], before + (int64_t)i + 1, &st);
		pthread_mutex_lock(&g->mu);
		json_object_set_new(g->escalation, id, escalation_state_json(&st));
		pthread_mutex_unlock(&g->mu);
		escalation_pages_release(&pages);
	}
	oncall_view_release(&v);
}

/* ---- the worker -------------------------------------------------------------- */

/*
 * The open incidents the pass looks at: those the worker saw open (g->refreshed),
 * seeded once from the store after a restart, so a pass reads no resolved one.
 */
static void seed_open(struct respond_glue *g)
{
	struct incident_filter f = { .status = "open", .limit = RESPOND_MAX_OPEN };
	struct buf out = BUF_INIT, err = BUF_INIT;
	if (!incidents_list_json(g->d->incidents, &f, &out, &err)) {
		json_t *j = json_loads(out.data, 0, NULL), *doc;
		size_t i;
		pthread_mutex_lock(&g->mu);
		json_array_foreach(json_object_get(j, "incidents"), i, doc) {
			const char *id = json_string_value(json_object_get(doc, "id"));
			if (id && !json_object_get(g->refreshed, id))
				json_object_set_new(g->refreshed, id, json_integer(0));
		}
		pthread_mutex_unlock(&g->mu);
		json_decref(j);
	}
	g->seeded = true;
	buf_release(&out);
	buf_release(&err);
}

/* A pass without an event: refresh due summaries and escalate, over at most RESPOND_MAX_OPEN open incidents. */
static void periodic(struct respond_glue *g)
{
	if (!g->seeded)
		seed_open(g);
	const char *ids[RESPOND_MAX_OPEN];
	char *owned[RESPOND_MAX_OPEN];
	int64_t last[RESPOND_MAX_OPEN];
	size_t n = 0;
	const char *key;
	json_t *v;
	pthread_mutex_lock(&g->mu);
	json_object_foreach(g->refreshed, key, v) {
		if (n == RESPOND_MAX_OPEN)
			break;
		owned[n] = xstrdup(key);
		ids[n] = owned[n];
		last[n++] = json_integer_value(v);
	}
	pthread_mutex_unlock(&g->mu);
	int64_t now = ooda_now_ns();
	for (size_t i = 0; i < n && !worker_stopping(g->w); i++) {
		struct buf out = BUF_INIT, err = BUF_INIT;
		json_t *doc = incidents_get_json(g->d->incidents, ids[i], &out, &err) ? NULL : json_loads(out.data, 0, NULL);
		const char *status = json_string_value(json_object_get(doc, "status"));
		if (!doc || !status || !strcmp(status, "resolved") || !strcmp(status, "reviewed")) {
			latest_forget(g, ids[i]);
		} else {
			/* a young incident's evidence grows fastest: its summary is due more often */
			int64_t opened = 0;
			const char *at = json_string_value(json_object_get(doc, "opened_at"));
			if (!at || ooda_time_parse(at, strlen(at), &opened))
				opened = 0;
			int64_t every = now - opened < RESPOND_YOUNG_NS ? RESPOND_RETRY_EMPTY_NS : RESPOND_REFRESH_NS;
			if (now - last[i] >= every)
				summarise(g, ids[i], doc, false, false);
			escalate(g, doc, now);
		}
		json_decref(doc);
		buf_release(&out);
		buf_release(&err);
	}
	for (size_t i = 0; i < n; i++)
		free(owned[i]);
}

static void handle_event(struct respond_glue *g, const char *event, const json_t *doc)
{
	const char *id = json_string_value(json_object_get(doc, "id"));
	const char *status = json_string_value(json_object_get(doc, "status"));
	if (!id)
		return;
	if (!strcmp(event, "opened")) {
		summarise(g, id, doc, true, true);
		notify_incident(g, doc, "opened", NULL);
		escalate(g, doc, ooda_now_ns());
	} else if (!strcmp(event, "alert-joined")) {
		summarise(g, id, doc, true, false);
	} else if (!strcmp(event, "reopened")) {
		char ep[32];
		snprintf(ep, sizeof(ep), "r%lld", (long long)json_integer_value(json_object_get(doc, "reopened")));
		struct escalation_state fresh = ESCALATION_STATE_INIT; /* a reopened incident is paged from level 1 */
		pthread_mutex_lock(&g->mu);
		json_object_set_new(g->escalation, id, escalation_state_json(&fresh));
		pthread_mutex_unlock(&g->mu);
		summarise(g, id, doc, true, false);
		notify_incident(g, doc, "reopened", ep);
	} else if (!strcmp(event, "severity")) {
		if (severity_raised(g->d, id))
			notify_incident(g, doc, "severity-raised", json_string_value(json_object_get(doc, "severity")));
	} else if (!strcmp(event, "transition") && status) {
		char ep[32];
		snprintf(ep, sizeof(ep), "r%lld", (long long)json_integer_value(json_object_get(doc, "reopened")));
		if (!strcmp(status, "acknowledged") || !strcmp(status, "resolved"))
			notify_incident(g, doc, status, ep);
		if (!strcmp(status, "resolved") || !strcmp(status, "reviewed"))
			latest_forget(g, id); /* no refresh, no escalation after resolve */
	}
}

static void glue_run(void *ctx, void *p)
{
	struct respond_glue *g = ctx;
	struct glue_item *it = p;
	if (!it) {
		periodic(g);
		return;
	}
	json_t *doc = json_loads(it->doc, 0, NULL);
	if (doc)
		handle_event(g, it->event, doc);
	json_decref(doc);
	item_free(it);
}

/* The incidents_subscribe hook: copy and queue, never block. */
static void on_incident(void *ctx, const char *event, const char *incident_json)
{
	struct respond_glue *g = ctx;
	if (!strcmp(event, "commander"))
		return;
	struct glue_item *it = xcalloc(1, sizeof(*it));
	it->event = xstrdup(event);
	it->doc = xstrdup(incident_json);
	if (worker_push(g->w, it)) {
		if (!worker_stopping(g->w))
			log_warn("triage worker queue full: %s of an incident dropped", event);
		item_free(it);
	}
}

/* ---- the daemon's hooks for action items and the reliability report ------------ */

static bool hook_exists(void *ctx, const char *id)
{
	struct daemon *d = ctx;
	struct buf out = BUF_INIT, err = BUF_INIT;
	bool ok = d->incidents && !incidents_get_json(d->incidents, id, &out, &err);
	buf_release(&out);
	buf_release(&err);
	return ok;
}

#define FETCH_MAX 10000 /* incidents one report reads at most */

static int hook_fetch(void *ctx, int64_t from_ns, int64_t to_ns, json_t **incidents, json_t **timelines,
		      struct buf *err)
{
	struct daemon *d = ctx;
	struct incident_filter f = { .limit = FETCH_MAX };
	struct buf out = BUF_INIT;
	*incidents = *timelines = NULL;
	int rc = d->incidents ? incidents_list_json(d->incidents, &f, &out, err) : OODA_EUNAVAIL;
	json_t *all = rc ? NULL : json_loads(out.data, 0, NULL);
	buf_release(&out);
	if (rc)
		return rc;
	json_t *list = json_array(), *tls = json_object(), *doc;
	size_t i;
	json_array_foreach(json_object_get(all, "incidents"), i, doc) {
		int64_t at = doc_time(doc, "onset_at");
		if (!at)
			at = doc_time(doc, "opened_at");
		const char *id = json_string_value(json_object_get(doc, "id"));
		if (!id || at < from_ns || at >= to_ns)
			continue;
		json_array_append(list, doc);
		struct buf tl = BUF_INIT, e2 = BUF_INIT;
		if (!incidents_timeline_json(d->incidents, id, NULL, &tl, &e2))
			json_object_set_new(tls, id, json_loads(tl.data, 0, NULL));
		buf_release(&tl);
		buf_release(&e2);
	}
	json_decref(all);
	*incidents = list;
	*timelines = tls;
	return 0;
}

int respond_glue_start(struct daemon *d, struct buf *err)
{
	struct respond_glue *g = xcalloc(1, sizeof(*g));
	g->d = d;
	pthread_mutex_init(&g->mu, NULL);
	g->latest = json_object();
	g->refreshed = json_object();
	g->escalation = json_object();
	d->respond_glue = g;
	d->incident_exists = hook_exists;
	d->incidents_fetch = hook_fetch;
	d->incident_ctx = d;
	struct worker_opts o = { .capacity = 1024, .item_free = item_free, .stop_mode = WORKER_CANCEL, .leader_only = true };
	int rc = worker_create("triage", glue_run, g, &o, &g->w, err);
	return rc ? rc : incidents_subscribe(d->incidents, on_incident, g);
}

void respond_glue_stop(struct daemon *d)
{
	struct respond_glue *g = d->respond_glue;
	if (!g)
		return;
	d->incident_exists = NULL;
	d->incidents_fetch = NULL;
	worker_stop(g->w); /* later events from the incidents worker are refused and freed */
}

void respond_glue_destroy(struct daemon *d)
{
	struct respond_glue *g = d->respond_glue;
	if (!g)
		return;
	respond_glue_stop(d);
	worker_destroy(g->w);
	json_decref(g->latest);
	json_decref(g->refreshed);
	json_decref(g->escalation);
	pthread_mutex_destroy(&g->mu);
	free(g);
	d->respond_glue = NULL;
}

void respond_glue_wait_idle(struct daemon *d)
{
	if (d->respond_glue)
		worker_wait_idle(d->respond_glue->w);
}

/* On the engine thread: wakes the worker once a second; never blocks. */
static void tick_respond(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	(void)sink;
	struct respond_glue *g = ctx;
	if (now_ns - g->woken_ns < OODA_NS_PER_SEC)
		return;
	g->woken_ns = now_ns;
	worker_wake(g->w);
}

int respond_glue_add_ticks(struct daemon *d, struct engine *e)
{
	return d->respond_glue ? engine_add(e, tick_respond, d->respond_glue) : 0;
}
