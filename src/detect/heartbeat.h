/*
 * Heartbeats: dead-man's switches for jobs that should report in. Each
 * heartbeat in ooda.yaml says how often its job runs (`every`) and how much
 * lateness is tolerated (`grace`); the job pings POST
 * /api/v1/heartbeats/NAME (or runs under `ooda heartbeat NAME -- CMD`).
 * Silence past every + grace, or a ping reporting failure, makes the
 * heartbeat's signal active. The last pings are kept as versioned documents
 * (kind "heartbeat") in the control store so a restart remembers them; the
 * engine's tick (heartbeats_tick) only reads memory.
 */
#ifndef OODA_HEARTBEAT_H
#define OODA_HEARTBEAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "model/signal.h"
#include "store/store.h"

#define HEARTBEAT_MAX 1000

/*
 * The state of a heartbeat at a time, from heartbeat_state_at():
 *
 *   never ──ping ok──> up ──(no ok ping for every + grace)──> late
 *     │                 ^  <──────────────── ping ok ──────────┘
 *     │                 │
 *     │  (configured    └──── ping ok ──── failed <── ping status=fail (from any state)
 *     └── every + grace ago, no ping yet) ──> late
 *
 * A "start" ping records that a run began and changes no state.
 */
enum heartbeat_state { HEARTBEAT_NEVER, HEARTBEAT_UP, HEARTBEAT_LATE, HEARTBEAT_FAILED };

const char *heartbeat_state_name(enum heartbeat_state s);

struct heartbeat_spec {
	char *name, *service;    /* service may be NULL */
	int64_t every_ns, grace_ns;
	enum alert_severity severity;
};

/* What the last pings said. Times are wall-clock ns; 0 = never. */
struct heartbeat_status {
	int64_t last_ping_ns;    /* any ping */
	int64_t last_ok_ns;      /* last ping reporting success */
	int64_t last_start_ns;
	bool failed;             /* the last completed run reported failure */
	char message[256];
	int64_t duration_ms;     /* -1 = not reported */
	int exit_code;           /* -1 = not reported */
};

/*
 * The state at now of a heartbeat configured at since_ns. Pure.
 * *due_ns (may be NULL) gets the time after which it counts as late.
 */
enum heartbeat_state heartbeat_state_at(const struct heartbeat_spec *spec, const struct heartbeat_status *st,
					int64_t since_ns, int64_t now_ns, int64_t *due_ns);

/*
 * Parses the heartbeats section (a JSON array, or NULL/null) into specs.
 * OODA_EINVAL with the key path ("heartbeats[2].every: …") in err. Caller
 * frees with heartbeat_specs_free().
 */
int heartbeat_specs_parse(const json_t *section, struct heartbeat_spec **out, size_t *n, struct buf *err);
void heartbeat_specs_free(struct heartbeat_spec *v, size_t n);

struct heartbeats;

/* Heartbeats persisted in store s (pings audited with sg). Caller destroys. */
int heartbeats_create(struct store *s, const struct audit_signer *sg, struct heartbeats **out, struct buf *err);
void heartbeats_destroy(struct heartbeats *h);

/*
 * Checks the heartbeats section and, if apply, makes it current: known
 * names keep their pings, new names load theirs from the store. OODA_EINVAL
 * with the key path on a bad section (nothing changes).
 */
int heartbeats_configure(struct heartbeats *h, const json_t *section, bool apply, struct buf *err);

/* A ping as the API receives it. */
struct heartbeat_ping {
	const char *status;      /* "ok" (default), "fail" or "start" */
	const char *message;     /* may be NULL */
	int64_t duration_ms;     /* -1 = not given */
	int exit_code;           /* -1 = not given; a nonzero code without status means fail */
	const char *actor;
};

/*
 * Records a ping at now and persists it (blocks on the control store: call
 * from an HTTP worker, never from a tick). OODA_ENOTFOUND for a name not in
 * ooda.yaml, OODA_EINVAL for a bad status.
 */
int heartbeat_ping(struct heartbeats *h, const char *name, const struct heartbeat_ping *p, int64_t now_ns,
		   struct buf *err);

/* Appends {"heartbeats":[…]} (name NULL) or one heartbeat's object. OODA_ENOTFOUND if unknown. */
int heartbeats_json(struct heartbeats *h, const char *name, int64_t now_ns, struct buf *out, struct buf *err);

/*
 * The engine's tick (ctx = the heartbeats): one signal per heartbeat,
 * source "heartbeat", name "heartbeat:NAME", active while late or failed.
 * Reads memory only.
 */
void heartbeats_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink);

/*
 * The earliest time (wall-clock ns) a heartbeat not yet signalled late or
 * failed (by heartbeats_tick) becomes late without another ping: the first
 * instant past its last ok ping (or its configuration) plus every + grace;
 * 0 with none. For the
 * engine's due hook (engine_set_due), which ticks then rather than up to a
 * period later; a time already past is the engine's to ignore.
 */
int64_t heartbeats_next_due(struct heartbeats *h);

/*
 * The semantic check of the `heartbeats:` section of ooda.yaml (config_check_fn in
 * core/config.h), registered by the daemon with config_register_check().
 */
struct buf;
int heartbeat_config_check(const char *section_json, struct buf *err);

#endif
