/*
 * The alerting core (detect stage, the end of "orient"): every detector's
 * alert_signal lands here and becomes an alert with a lifecycle, one per
 * fingerprint. The core applies for/keep_firing_for, keeps each transition
 * with the evidence that caused it, groups simultaneous firing alerts of
 * related services, inhibits symptoms on callers of an already-failing
 * service, and applies silences. Alerts and silences are versioned
 * documents in the control store (vdoc kinds "alert" and "silence"), so
 * they survive a restart and every change is audited.
 *
 * Lifecycle of one fingerprint (functions named at each arrow):
 *
 *                 signal active                 held for for_ns
 *   (inactive) ───────────────────> pending ─────────────────────> firing
 *        ^        alerts_signal()      │     alerts_signal()/_tick()   │
 *        │                             │                               │ cleared, and stayed
 *        └─────────────────────────────┘                               │ cleared keep_firing_for_ns
 *           signal inactive before for_ns                              │ (alerts_signal()/_tick());
 *           (alerts_signal())                                          │ external: when told;
 *                                                                      v stale: no signal 10 min
 *   resolved ──── signal active again ───> pending (or firing at once) resolved
 *
 * With for_ns == 0 (and for every external signal) pending is skipped.
 *
 * Notification state: an alert "notifies" while it is firing, not
 * inhibited and not silenced. Inhibited and silenced alerts are still
 * recorded with every transition.
 *
 * Inhibition direction: the dependency graph has caller→callee edges. If
 * alert X on service S is firing, an alert Y on service T ≠ S that started
 * firing no earlier than X is inhibited by X when T reaches S following
 * caller→callee edges — T depends on S, so Y is a symptom of X.
 *
 * Grouping: an alert that starts firing joins the group of a firing alert
 * whose group started within the group window (default 30 s) before it,
 * when their services are the same or one reaches the other along
 * caller→callee edges; otherwise it opens a new group.
 *
 * Subscribers (alerts_subscribe): a later stage (incidents) follows every
 * state change above without this file knowing it. Each transition is
 * handed to every subscriber after its store write, from alerts_tick() —
 * that is, on the engine thread — in the order the transitions happened;
 * one made by alerts_signal() on another thread (the Alertmanager intake)
 * is handed over at the next tick.
 *
 * Thread safety: every function may be called from any thread; store
 * writes happen outside the internal lock, in transition order.
 */
#ifndef OODA_ALERTS_H
#define OODA_ALERTS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "model/signal.h"
#include "model/live.h"
#include "store/store.h"

#define ALERTS_MAX 10000                 /* alerts kept in memory (oldest resolved go first) */
#define ALERTS_MAX_SILENCES 1000
#define ALERTS_MAX_TRANSITIONS 50        /* per alert; the oldest are dropped */
#define ALERTS_DEFAULT_GROUP_WINDOW_NS (30 * INT64_C(1000000000))
#define ALERTS_STALE_NS (600 * INT64_C(1000000000))
#define ALERTS_MAX_SUBSCRIBERS 8
#define ALERTS_MAX_PENDING_TRANSITIONS 10000 /* waiting for the next tick; past it the oldest are dropped */

enum alert_state { ALERT_INACTIVE, ALERT_PENDING, ALERT_FIRING, ALERT_RESOLVED };

struct alerts;

/* "inactive" | "pending" | "firing" | "resolved" */
const char *alert_state_name(enum alert_state s);

/*
 * Creates the core. s and sg may be NULL (no persistence: unit tests);
 * live may be NULL (no graph unless alerts_set_graph_json is called).
 * With a store, loads every stored alert and silence. Returns 0 and sets
 * *out (free with alerts_destroy), or an OODA_E* code with detail in err.
 */
int alerts_create(struct store *s, const struct audit_signer *sg, struct live_signals *live, struct alerts **out,
		  struct buf *err);

/* One state change of one alert, as subscribers see it; everything is borrowed for the call. */
struct alert_transition {
	const char *fingerprint;  /* 16 hex digits */
	const char *name;
	const char *service;      /* NULL when the alert has none */
	const json_t *labels;     /* object, never NULL */
	enum alert_severity severity;
	enum alert_state from, to;
	int64_t at_ns;            /* when the transition happened (the signal's or the tick's time) */
};

typedef void alerts_subscriber_fn(void *ctx, const struct alert_transition *t);

/*
 * Adds fn to the subscribers: fn(ctx, t) is called for every later
 * transition (pending, firing, resolved, inactive), after the transition
 * is stored, on the thread calling alerts_tick() (the engine thread), with
 * no lock of the core held — fn may read the core (alerts_state,
 * alerts_get_json) but must not block: queue the work for a thread of its
 * own. Subscribers are called in the order they were added. Call before
 * the engine starts. OODA_ELIMIT past ALERTS_MAX_SUBSCRIBERS.
 */
int alerts_subscribe(struct alerts *a, alerts_subscriber_fn *fn, void *ctx);

/* Frees the core (after the engine stopped calling it). NULL is a no-op. */
void alerts_destroy(struct alerts *a);

/* How far apart firing alerts may start and still share a group; <= 0 restores the default. */
void alerts_set_group_window(struct alerts *a, int64_t window_ns);

/*
 * Feeds one signal (see signal.h). Unknown fingerprints are created on an
 * active signal; an inactive signal for an unknown fingerprint is ignored.
 * Everything in s is borrowed. Persists transitions before returning.
 */
void alerts_signal(struct alerts *a, const struct alert_signal *s);

/* A sink whose signals go to alerts_signal(a, …). */
struct alert_sink alerts_sink(struct alerts *a);

/*
 * Advances the clock to now_ns: pending alerts whose condition held for_ns
 * fire, firing alerts cleared for keep_firing_for_ns resolve, silences
 * expire, groups and inhibition are recomputed (the graph is refreshed from
 * live signals every few seconds). Then hands every transition since the
 * last tick to the subscribers. Never blocks except on short store writes
 * (and on what subscribers do, which must not block).
 */
void alerts_tick(struct alerts *a, int64_t now_ns);

/*
 * The earliest time (ns) at which alerts_tick would change something without
 * a new signal: a pending alert reaching its `for`, a cleared firing alert
 * reaching its keep_firing_for. 0 when nothing waits. For the engine, which
 * ticks then instead of at its next period (see engine_set_due).
 */
int64_t alerts_next_due(struct alerts *a);

/*
 * Replaces the dependency graph with the "edges" ([{source,target}…]) of
 * graph_json, the shape of live_graph_json. For tests and for callers that
 * know the graph better than live signals; while live is set, the next
 * refresh replaces it again. OODA_EPARSE on bad JSON.
 */
int alerts_set_graph_json(struct alerts *a, const char *graph_json, struct buf *err);

/*
 * Replaces the declared dependency edges (services[].dependencies of
 * ooda.yaml), in the same {"edges":[{source,target}…]} shape. Grouping and
 * inhibition use the union of these and the traced graph, so an alert on a
 * declared dependency joins its dependents' group before (or without) any
 * trace showing the call; a graph refresh keeps them. OODA_EPARSE on bad JSON.
 */
int alerts_set_declared_graph_json(struct alerts *a, const char *graph_json, struct buf *err);

/*
 * True when service from reaches service to along caller→callee edges of
 * the graph grouping uses (traced ∪ declared): from depends on to. The
 * incidents stage groups alerts with the same graph through this.
 */
bool alerts_service_reaches(struct alerts *a, const char *from, const char *to);

/* The declared edges as a JSON array of {source, target}, sorted; caller json_decref's. */
json_t *alerts_declared_edges(struct alerts *a);

/* Hash of name, service and the sorted labels, as 16 hex digits plus NUL. */
void alerts_fingerprint(const char *name, const char *service, const json_t *labels, char out[17]);

/*
 * {"alerts":[…]} of the alerts in state ("firing" when NULL, "pending",
 * "resolved", "inactive" or "all"), firing first then newest first. Each
 * alert without its transitions. OODA_EINVAL for an unknown state.
 */
int alerts_list_json(struct alerts *a, const char *state, struct buf *out, struct buf *err);

/* One alert with its transitions and evidence. OODA_ENOTFOUND if unknown. */
int alerts_get_json(struct alerts *a, const char *fingerprint, struct buf *out, struct buf *err);

/* The state of one alert, or OODA_ENOTFOUND. notify: firing, not inhibited, not silenced. */
int alerts_state(struct alerts *a, const char *fingerprint, enum alert_state *state, bool *notify);

/*
 * {"groups":[{id, started, state, services, alerts:[…]}]} newest first;
 * all false lists only groups with a firing member.
 */
int alerts_groups_json(struct alerts *a, bool all, struct buf *out, struct buf *err);

/*
 * A silence from its JSON: {name?, service?, labels?: {k: v}, matchers?:
 * ["k=v", "k!=v", "k=~regex", "k!~regex"…] (amtool's operators, at most 64;
 * a value may be in double quotes), starts_at?, ends_at? | duration? ("2h"),
 * reason}. k=v joins labels; the others are kept as "matchers". A regex is
 * PCRE2 anchored as ^(?:regex)$, as Alertmanager anchors its RE2 ones; a
 * label the alert lacks has the empty value for !=, the regex operators and
 * k="" (Alertmanager's rule). At least one matcher and a reason are required;
 * starts_at defaults to now_ns. The
 * creator is actor (audited). Writes the new id (at most 31 chars) to id.
 * OODA_EINVAL with the field named in err; OODA_ELIMIT past
 * ALERTS_MAX_SILENCES active silences.
 */
int alerts_silence_create(struct alerts *a, const json_t *req, const char *actor, int64_t now_ns, char id[32],
			  struct buf *err);

/* {"silences":[…]} newest first, each with "active" at now_ns; expired ones only when all. */
int alerts_silences_json(struct alerts *a, bool all, int64_t now_ns, struct buf *out);

/* Ends a silence now (a deleted version, audited). OODA_ENOTFOUND if unknown. */
int alerts_silence_delete(struct alerts *a, const char *id, const char *actor, struct buf *err);

/* Alerts by state, inhibited and silenced firing alerts, silences: Prometheus text for /metrics. */
void alerts_metrics(struct alerts *a, struct buf *out);

/*
 * Reads every alert and silence from the store again, replacing what is in
 * memory (queued writes are stored first): a node that begins to lead
 * takes over the state the previous leader stored, so an alert still
 * firing stays firing instead of being seen as new. Transitions waiting
 * for subscribers are kept. Returns 0 or the store's error with detail;
 * on error the state in memory is the one read so far.
 */
int alerts_reload(struct alerts *a, struct buf *err);

#endif
