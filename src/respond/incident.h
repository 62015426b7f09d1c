/*
 * Incidents (respond stage, the start of "decide"): alerts that matter
 * become incidents — opened from alert transitions by default rules or the
 * `incidents:` section of ooda.yaml, grouped when a storm from one failing
 * dependency hits its callers, reopened when the same alert fires again
 * soon after resolve — and people work on them: a lifecycle with who and
 * when, a commander, severity, an append-only timeline, annotations,
 * hypotheses, artifacts (bytes with their SHA-256) and public status
 * updates. Every change is one control-store transaction with its audit
 * record and its timeline entries.
 *
 * Lifecycle (the table `lifecycle` in incident.c). Every arrow but the
 * last is incidents_transition() (by hand, a responder); the reopen is made
 * only by an alert firing again, in handle_transition() (incident.c):
 *
 *              ack              mitigate           resolve            review
 *   triggered ─────> acknowledged ─────> mitigated ─────> resolved ─────> reviewed
 *    │ │                  │ resolve                          ^  │
 *    │ │                  └──────────────────────────────────┤  │
 *    │ └──── mitigate ────> mitigated                        │  │
 *    └──────────────────────── resolve ──────────────────────┘  │
 *    ^                                                          │
 *    └── the alert fires again within reopen_window (reopened+1)┘
 *
 * An illegal arrow is OODA_ECONFLICT (409) naming from and to.
 *
 * Threads: alert transitions arrive on the engine thread (the alerts_subscribe
 * callback) and are queued for the stage's own worker; API calls run on
 * HTTP threads. One mutex serialises every change; reads go to the store
 * without it. Hook subscribers (incidents_subscribe) are called after the
 * change is durable, with no lock held.
 *
 * The document (a contract: triage, postmortem and notifications read it;
 * keep the names):
 *
 *   {"id":"INC-7","number":7,"title":…,"severity":"SEV1"…"SEV4",
 *    "status":"triggered|acknowledged|mitigated|resolved|reviewed",
 *    "service":primary,"services":[primary, every other involved],
 *    "environment":…,"team":…|null,"runbook":…|null,
 *    "tags":{"service","environment","version"?,"team"?},"commander":…|null,
 *    "source":{"kind":"alert|slo|probe|anomaly|alertmanager|manual","alert":fp|null,"name":…|null},
 *    "alerts":[fp…],"onset_at","opened_at","acknowledged_at","mitigated_at",
 *    "resolved_at","reviewed_at" (RFC 3339 or null),"reopened":n,"updated_at",
 *    "checklist":[…] (only with a template)}
 *
 * A timeline entry: {"seq":n (from 1, ascending),"at","kind","actor","text","data":{…}}
 * with kind opened, alert, detection, change, status {from,to,note?},
 * severity {from,to}, handoff {from,to,note}, notification, annotation
 * {markdown}, hypothesis (the hypothesis), artifact {id,name,sha256,size},
 * status_update {state,message}, summary, action, reopened.
 *
 * Hook points for the rest of the respond stage (notifications, escalation,
 * triage): incidents_subscribe() for events, incidents_timeline_append()
 * to add entries, incidents_get_json()/incidents_list_json() to read.
 */
#ifndef OODA_INCIDENT_H
#define OODA_INCIDENT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "detect/alerts.h"
#include "store/store.h"
#include "store/tstore.h"

#define INCIDENTS_QUEUE 4096                  /* alert transitions waiting for the worker */
#define INCIDENTS_MAX_SUBSCRIBERS 8
#define INCIDENTS_MAX_TEXT 65536              /* an annotation, a note, a status message */
#define INCIDENTS_DEFAULT_GROUP_WINDOW_NS (600 * INT64_C(1000000000))
#define INCIDENTS_DEFAULT_REOPEN_WINDOW_NS (3600 * INT64_C(1000000000))
#define INCIDENTS_DEFAULT_MAX_ARTIFACT (1024 * 1024)
#define INCIDENTS_ANOMALY_MIN_SCORE 0.99      /* a RED anomaly this confident opens one */

struct incidents;

struct incidents_options {
	struct store *store;
	const struct audit_signer *signer;
	struct alerts *alerts;  /* the graph for grouping and the evidence of alerts; may be NULL (tests) */
	struct tstore *tstore;  /* change events for the timeline; may be NULL */
};

/*
 * Checks the incidents section (compact JSON, NULL for none): rules,
 * templates, windows, the severity matrix. OODA_EINVAL with the key path
 * ("incidents.rules[1].severity: …") in err. Also the fuzzed loader.
 */
int incidents_config_check(const char *section_json, struct buf *err);

/* Creates the stage (no thread yet). Caller owns *out (incidents_destroy). */
int incidents_create(const struct incidents_options *o, struct incidents **out, struct buf *err);

/*
 * Checks (apply false; inc may be NULL) or makes current (apply true) the
 * incidents and services sections (JSON text or NULL). A summary of what
 * changed goes to changes when not NULL.
 */
int incidents_configure(struct incidents *inc, const char *incidents_json, const char *services_json, bool apply,
			struct buf *changes, struct buf *err);

/* Subscribes to the alerting core's transitions and starts the worker. */
int incidents_start(struct incidents *inc, struct buf *err);

/* Stops the worker (after what it was doing) and frees inc. NULL is a no-op. */
void incidents_destroy(struct incidents *inc);

/* Waits until every queued alert transition was handled (tests). */
void incidents_wait_idle(struct incidents *inc);

/* ---- hooks ----------------------------------------------------------------- */

/*
 * An incident event: "opened", "transition", "reopened", "severity",
 * "alert-joined", "commander". incident_json is the incident document
 * (GET /api/v1/incidents/{id}), borrowed for the call. Called after the
 * change is stored, on the thread that made it (the stage's worker or an
 * HTTP thread), with no incidents lock held; must not block for long.
 */
typedef void incidents_event_fn(void *ctx, const char *event, const char *incident_json);

/* Adds a subscriber; call before incidents_start. OODA_ELIMIT past INCIDENTS_MAX_SUBSCRIBERS. */
int incidents_subscribe(struct incidents *inc, incidents_event_fn *fn, void *ctx);

/*
 * Appends one timeline entry (kind from the contract: "notification",
 * "summary", "action", …) to incident id ("INC-7" or "7"), audited with
 * actor. data_json may be NULL. OODA_ENOTFOUND, OODA_EINVAL.
 */
int incidents_timeline_append(struct incidents *inc, const char *id, const char *kind, const char *actor,
			      const char *text, const char *data_json, struct buf *err);

/* ---- reads ----------------------------------------------------------------- */

struct incident_filter {
	const char *status;   /* one status, "open" (not resolved or reviewed), or NULL for all */
	const char *service;  /* any of its services */
	const char *severity;
	size_t limit;         /* 0: 100 */
};

/* {"incidents":[…]} newest first. OODA_EINVAL for an unknown status or severity. */
int incidents_list_json(struct incidents *inc, const struct incident_filter *f, struct buf *out, struct buf *err);

/* The incident document. OODA_ENOTFOUND, OODA_EINVAL for a malformed id. */
int incidents_get_json(struct incidents *inc, const char *id, struct buf *out, struct buf *err);

/* {"entries":[…]} by seq. */
int incidents_timeline_json(struct incidents *inc, const char *id, const char *kind, struct buf *out,
			    struct buf *err);

/* {"hypotheses":[…]}, {"status_updates":[…]}, {"artifacts":[…]}. */
int incidents_hypotheses_json(struct incidents *inc, const char *id, struct buf *out, struct buf *err);
int incidents_status_updates_json(struct incidents *inc, const char *id, struct buf *out, struct buf *err);
int incidents_artifacts_json(struct incidents *inc, const char *id, struct buf *out, struct buf *err);

/*
 * The bytes of artifact aid of incident id into bytes, its name and content
 * type into name/ctype (caller frees). The SHA-256 is checked first:
 * OODA_ECORRUPT with both digests in err when the stored bytes changed.
 */
int incidents_artifact_get(struct incidents *inc, const char *id, const char *aid, struct buf *bytes, char **name,
			   char **ctype, struct buf *err);

/*
 * The public status page: {"incidents":[{id, title, status, severity,
 * service, updates:[…]}]} of incidents with at least one status update,
 * open ones and those resolved in the last day. OODA_ENOTFOUND when
 * incidents.status_page is false.
 */
int incidents_status_page_json(struct incidents *inc, struct buf *out, struct buf *err);

/* ---- changes (each audited with actor, in one transaction) ----------------- */

/*
 * Opens an incident by hand: {title, service?, severity?, summary?}.
 * Writes the new document to out.
 *
 * Every change made on a node that does not lead (core/lead.h) — opened
 * by hand, moved along its lifecycle, its severity or commander changed
 * through the API — does not hand its event to this node's subscribers,
 * whose workers run on the leader only: in the change's own transaction
 * the event is stored as a hand-over (a document of kind
 * INCIDENTS_HANDOVER_KIND, key "incident/INC-N/TIME", status "pending")
 * that the leader takes with incidents_handover_take.
 */
int incidents_open(struct incidents *inc, const json_t *req, const char *actor, struct buf *out, struct buf *err);

/* Work a follower stored for the leader: documents of this kind with status "pending" (also used by api/). */
#define INCIDENTS_HANDOVER_KIND "handover"

/*
 * On the leader: takes the hand-over stored under key at version with
 * body {"incident", "event", "event2"?}: marks it taken (expect_version,
 * so one leader takes it once; the write is fenced like every leader
 * write), then hands the event, with the incident as it is now, to the
 * subscribers. Returns 0, OODA_EPRECOND when it was taken already,
 * OODA_EINVAL for a body that is not an incident's hand-over, or another
 * error with detail.
 */
int incidents_handover_take(struct incidents *inc, const char *key, int64_t version, const char *body,
			    struct buf *err);

/* Moves id to status `to` (the lifecycle table); OODA_ECONFLICT naming from and to when illegal. */
int incidents_transition(struct incidents *inc, const char *id, const char *to, const char *note, const char *actor,
			 struct buf *out, struct buf *err);

/*
 * incidents_transition that also records the resolution: a move to
 * resolved sets the incident's false_positive (true: the incident was no
 * real problem). false_positive with any other `to` is OODA_EINVAL.
 */
int incidents_transition_fp(struct incidents *inc, const char *id, const char *to, const char *note,
			    bool false_positive, const char *actor, struct buf *out, struct buf *err);

/* Hands command to commander (NULL or "" clears it) with a note. */
int incidents_set_commander(struct incidents *inc, const char *id, const char *commander, const char *note,
			    const char *actor, struct buf *out, struct buf *err);

/* Sets the severity (SEV1…SEV4). */
int incidents_set_severity(struct incidents *inc, const char *id, const char *severity, const char *note,
			   const char *actor, struct buf *out, struct buf *err);

/* An annotation (markdown); writes the timeline entry to out. */
int incidents_annotate(struct incidents *inc, const char *id, const char *markdown, const char *actor,
		       struct buf *out, struct buf *err);

/* A hypothesis {statement, confidence?, evidence?:[{kind, ref}]}; writes it (with its id "H<n>") to out. */
int incidents_hypothesis_add(struct incidents *inc, const char *id, const json_t *req, const char *actor,
			     struct buf *out, struct buf *err);

/* Confirms or rejects hypothesis hid (state "confirmed"|"rejected"|"open"). */
int incidents_hypothesis_decide(struct incidents *inc, const char *id, const char *hid, const char *state,
				const char *note, const char *actor, struct buf *out, struct buf *err);

/* Stores len bytes as an artifact; OODA_ETOOBIG past incidents.max_artifact_bytes. Writes its listing to out. */
int incidents_artifact_add(struct incidents *inc, const char *id, const char *name, const char *ctype,
			   const void *bytes, size_t len, const char *actor, struct buf *out, struct buf *err);

/* A status update (state investigating|identified|monitoring|resolved, public message). */
int incidents_status_update(struct incidents *inc, const char *id, const char *state, const char *message,
			    const char *actor, struct buf *out, struct buf *err);

/* ---- the pure parts, exposed for unit tests -------------------------------- */

/*
 * Whether the lifecycle allows from → to by hand (reopen false) or by an
 * alert firing again (reopen true); *stamp receives the timestamp field
 * the arrow sets ("acknowledged_at", …, or NULL).
 */
bool incident_transition_allowed(const char *from, const char *to, bool reopen, const char **stamp);

/* true when from depends on to (from reaches to along caller→callee edges). */
typedef bool incident_reaches_fn(void *ctx, const char *from, const char *to);

/*
 * The primary service of a set: the deepest failing dependency, that is
 * the service the most others reach (ties: the earliest in the list).
 * Returns its index; 0 for n <= 1.
 */
size_t incident_primary(const char *const *services, size_t n, incident_reaches_fn *reaches, void *ctx);

/* Whether service a and b are related for grouping: equal, or one reaches the other. */
bool incident_related(const char *a, const char *b, incident_reaches_fn *reaches, void *ctx);

#endif
