/*
 * The tamper-evident audit log: every mutation appends a record whose hash
 * covers the previous record's hash and every field the API and CLI show
 * (seq, time, actor, action, target, the digests of before and after,
 * rationale and detail), so editing, deleting or reordering any row breaks
 * the chain from that row on. Ed25519-signed checkpoints (key in the data
 * dir), written every N records and at least every few minutes while
 * records are written, catch a rewrite of the chain up to the last
 * checkpoint; a head anchored outside the host (`ooda audit anchor`)
 * catches a truncation even when the checkpoints went with the rows.
 */
#ifndef OODA_AUDIT_H
#define OODA_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "store/store.h"

/*
 * Hash formula of new records. 1: the fields without detail (rows written
 * before schema 3); 2: detail too. A chain may go from 1 to 2, never back.
 */
#define AUDIT_HASH_VERSION 2

struct audit_entry {
	const char *actor;     /* "token:alice", "policy:restart-checkout", "cli:root" */
	const char *action;    /* "token.create", "flag.update", ... */
	const char *target;    /* "token/tok_ab12", "flag/prod/new-checkout" */
	const char *before;    /* JSON of the state before, or NULL; only its digest is chained */
	size_t before_len;
	const char *after;
	size_t after_len;
	const char *rationale; /* why, in the actor's words; "" if none given */
	const char *detail;    /* extra JSON shown with the record, chained as stored; may be NULL */
};

/* Signs checkpoints; NULL where no checkpoints are wanted. */
struct audit_signer {
	int64_t every;        /* checkpoint each `every` records; 0 = only on request */
	int64_t interval_ns;  /* audit_tick: no record waits longer unsigned; 0 = off */
	uint8_t sk[64];
	uint8_t pk[32];
};

/*
 * Loads the signing key from DIR/audit-ed25519.key, creating it (mode 0600)
 * if absent. Returns 0, or OODA_EIO with detail.
 */
int audit_signer_load(struct audit_signer *sg, const char *data_dir, int64_t every, struct buf *err);

/*
 * Appends e. Must run inside a store write (a store_tx_fn), in the same
 * transaction as the change it records. When signer is set and the new seq
 * is a multiple of signer->every, also writes a checkpoint.
 */
int audit_append(struct store *s, const struct audit_signer *signer, const struct audit_entry *e,
		 struct buf *err);

/*
 * Writes a checkpoint of the current head (inside a store write) and, when
 * out is not NULL, copies it there. OODA_EINVAL when the log is empty,
 * OODA_EIO when the head has a checkpoint already or it cannot be written.
 */
int audit_checkpoint(struct store *s, const struct audit_signer *signer, struct checkpoint_row *out,
		     struct buf *err);

/*
 * An anchor (inside a store write): appends an `audit.checkpoint` record by
 * actor and signs a checkpoint of it, copied to out — the head to keep
 * outside the host (audit_anchor_json).
 */
int audit_anchor(struct store *s, const struct audit_signer *signer, const char *actor,
		 struct checkpoint_row *out, struct buf *err);

/*
 * The time-based checkpoint, called from the daemon's engine tick (not
 * inside a store write): when the oldest record after the last checkpoint
 * is at least signer->interval_ns old at now_ns, signs the current head.
 * Returns 1 when it wrote a checkpoint, 0 when none was due, or an error
 * with detail.
 */
int audit_tick(struct store *s, const struct audit_signer *signer, int64_t now_ns, struct buf *err);

/*
 * The checkpoint signing keys a verification trusts: on a control store
 * that several nodes share, each node signs with its own key (in its data
 * dir) and publishes the public half in the store when it starts
 * (audit_key_publish), so any node verifies the checkpoints of every other.
 */
struct audit_keyset {
	uint8_t (*pk)[32];
	char (*node)[128]; /* the node that published pk[i] ("" for the verifying node's own); NULL: keys pinned by hand */
	size_t n;
};

/* (tx) Publishes signer's public key as node_id's in the control store; a key there already keeps its row. */
int audit_key_publish(struct store *s, const struct audit_signer *signer, const char *node_id, struct buf *err);

/*
 * Fills out with own's key (when not NULL) and every key published in s,
 * without repeats. Caller releases out (audit_keyset_release). Returns 0
 * or OODA_EIO with detail.
 */
int audit_keyset_load(struct store *s, const struct audit_signer *own, struct audit_keyset *out, struct buf *err);
void audit_keyset_release(struct audit_keyset *k);
/* The index of pk in k, or -1. */
int audit_keyset_find(const struct audit_keyset *k, const uint8_t pk[32]);

/* A short name for a key: the first 8 bytes of its SHA-256 as 16 hex digits. */
void audit_key_id(const uint8_t pk[32], char out[17]);

/* A head the chain must still contain: record seq with this hash. */
struct audit_head {
	int64_t seq;
	uint8_t hash[32];
};

/* "SEQ:HASH" (hash as 64 hex) into out; OODA_EINVAL with detail otherwise. */
int audit_head_parse(const char *text, struct audit_head *out, struct buf *err);

/*
 * The one-line JSON form of a checkpoint, as `ooda audit anchor` prints it:
 * {"seq", "hash", "time", "signature", "public_key"}. Caller owns the result.
 */
json_t *audit_anchor_json(const struct checkpoint_row *cp);

/*
 * Reads an expected head from j: a "SEQ:HASH" string or an object with seq
 * and hash (an anchor line). When the object carries a signature, it must
 * verify against pinned_pk if given (and public_key must then be that key),
 * else against its public_key. Errors are OODA_EINVAL with detail naming the
 * member under the prefix `where` (e.g. "heads[2]").
 */
int audit_head_from_json(json_t *j, const uint8_t *pinned_pk, const char *where, struct audit_head *out,
			 struct buf *err);
/* The same with a set of trusted keys (NULL or empty: the signature's own public_key). */
int audit_head_from_json_keys(json_t *j, const struct audit_keyset *keys, const char *where, struct audit_head *out,
			      struct buf *err);

struct audit_verify_options {
	const uint8_t *pinned_pk;       /* checkpoints must carry this key; NULL: each its own */
	const struct audit_keyset *keys; /* or one of these (when pinned_pk is NULL and keys->n > 0) */
	const struct audit_head *heads; /* anchored heads the chain must contain; may be NULL */
	size_t n_heads;
};

struct audit_verify_result {
	bool ok;
	int64_t records;       /* rows checked */
	int64_t first_bad_seq; /* 0 when ok */
	int64_t checkpoints;   /* signatures verified */
	int64_t heads_matched; /* anchored heads found on the chain */
	int64_t head_seq;      /* last record checked, 0 for an empty log */
	uint8_t head_hash[32];
	char reason[256];
};

/*
 * Recomputes the chain with each record's hash version (refusing a version
 * lower than one seen before it), checks every checkpoint's signature, and
 * that every anchored head in opt is on the chain: a chain shorter than a
 * head, or with another hash at its seq, fails. opt may be NULL. Fills res;
 * returns 0 when the check ran (whatever its outcome) or an error when it
 * could not.
 */
int audit_verify(struct store *s, const struct audit_verify_options *opt, struct audit_verify_result *res,
		 struct buf *err);

/* Lower-case hex SHA-256 of data into out (65 bytes); "" for NULL data. */
void audit_digest_hex(const void *data, size_t len, char out[65]);

#endif
