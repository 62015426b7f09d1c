/*
 * Feature flags as the daemon keeps them: one versioned document per flag
 * and environment (kind "flag", key "ENV/KEY", body the flagd definition of
 * that one flag), plus one per environment for the set's `$evaluators` and
 * metadata (kind "flagset", key ENV). For evaluation each environment has a
 * compiled flag_set (change/flag.h) that is rebuilt and swapped the moment a
 * change commits, so OFREP sees a change at once; evaluators hold a
 * reference, so a swap never frees a set in use. A change made through
 * another node (several nodes on one PostgreSQL) moves the flags'
 * generation (store_gen_read), which flagstore_acquire checks first: the
 * sets are then built again from the store before the answer.
 *
 * Every change goes through here: validated against the whole environment
 * (a `$ref` must resolve, variants must agree), written as a new version
 * with its audit record in one transaction, then announced as a change
 * event of kind "flag" for the timeline.
 */
#ifndef OODA_FLAGSTORE_H
#define OODA_FLAGSTORE_H

#include <jansson.h>
#include <stdatomic.h>

#include "audit/audit.h"
#include "change/flag.h"
#include "store/store.h"
#include "store/tstore.h"

#define FLAG_ENV_DEFAULT "default"

struct flagstore;

/* A compiled environment, held while evaluating. */
struct flag_env_ref {
	struct flag_set *fs;
	atomic_int refs;
	char env[64];
};

int flagstore_create(struct store *s, const struct audit_signer *sg, struct tstore *t, struct flagstore **out,
		     struct buf *err);
void flagstore_destroy(struct flagstore *f);

/* Valid environment and flag names: [A-Za-z0-9_.-], 1..63 (keys 1..255). */
bool flagstore_env_valid(const char *env);
bool flagstore_key_valid(const char *key);

/*
 * The stored definition of flag env/key at version (0: current), or NULL when
 * absent or deleted. Caller json_decref's.
 */
json_t *flagstore_def(struct store *s, const char *env, const char *key, int64_t version);

/* The compiled set of env (built on first use); release it when done. Never NULL on 0. */
int flagstore_acquire(struct flagstore *f, const char *env, struct flag_env_ref **out, struct buf *err);
void flagstore_release(struct flag_env_ref *r);

struct flag_change {
	const char *env, *key;
	const char *actor, *rationale;
	int64_t expect_version; /* -1 = any */
	int64_t version;        /* out */
};

/* Creates or replaces a flag (def: one flagd flag object). ESCHEMA/EINVAL with detail for bad flags. */
int flagstore_put(struct flagstore *f, struct flag_change *c, const json_t *def, struct buf *err);
int flagstore_delete(struct flagstore *f, struct flag_change *c, struct buf *err);
/* Makes version `to` current again, as a new version. */
int flagstore_rollback(struct flagstore *f, struct flag_change *c, int64_t to, struct buf *err);

/*
 * Asked about each flag an import would change, before anything is written:
 * before is the current definition (NULL if none), after the imported one
 * (NULL when replace deletes the flag). True refuses the whole import.
 */
typedef bool (*flag_guard_fn)(void *ctx, const char *key, const json_t *before, const json_t *after);

/*
 * Imports a flagd document into env: changed flags get new versions,
 * unchanged ones are left alone, flags absent from the document are kept
 * unless replace. Strict refuses a document with targeting that does not
 * compile; non-strict keeps such flags, which then evaluate to PARSE_ERROR
 * as they do in flagd. One transaction. *changed = number of flags written.
 * guard (may be NULL) vetoes: OODA_ECONFLICT naming the flag, nothing written.
 */
int flagstore_import(struct flagstore *f, const char *env, const char *json, size_t len, bool replace,
		     bool strict, const char *actor, const char *rationale, flag_guard_fn guard, void *guard_ctx,
		     int *changed, struct buf *err);
/* The environment as one flagd document (caller json_decref's it). */
int flagstore_export(struct flagstore *f, const char *env, json_t **out, struct buf *err);

/*
 * Kill switch: sets state DISABLED on the flag `key`, or on every flag of
 * `service` (metadata.service) changed at or after since_ns. Appends the
 * keys disabled to a JSON array in out.
 */
int flagstore_kill(struct flagstore *f, const char *env, const char *key, const char *service, int64_t since_ns,
		   const char *actor, const char *rationale, struct buf *out, struct buf *err);

/* Versions of every flag of env, {"KEY": version, …} — a deploy's flag snapshot. */
int flagstore_snapshot(struct flagstore *f, const char *env, json_t **out, struct buf *err);

#endif
