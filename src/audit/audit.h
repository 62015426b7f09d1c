/*
 * The tamper-evident audit log: every mutation appends a record whose hash
 * covers the previous record's hash, so editing, deleting or reordering any
 * row breaks the chain from that row on. Optional Ed25519-signed
 * checkpoints (key in the data dir) also catch a rewrite of the whole chain.
 */
#ifndef OODA_AUDIT_H
#define OODA_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "store/store.h"

struct audit_entry {
	const char *actor;     /* "token:alice", "policy:restart-checkout", "cli:root" */
	const char *action;    /* "token.create", "flag.update", ... */
	const char *target;    /* "token/tok_ab12", "flag/prod/new-checkout" */
	const char *before;    /* JSON of the state before, or NULL; only its digest is chained */
	size_t before_len;
	const char *after;
	size_t after_len;
	const char *rationale; /* why, in the actor's words; "" if none given */
	const char *detail;    /* extra JSON kept beside the record, not chained; may be NULL */
};

/* Signs checkpoints; NULL where no checkpoints are wanted. */
struct audit_signer {
	int64_t every;        /* checkpoint each `every` records; 0 = only on request */
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

/* Writes a checkpoint of the current head (inside a store write). */
int audit_checkpoint(struct store *s, const struct audit_signer *signer, struct buf *err);

struct audit_verify_result {
	bool ok;
	int64_t records;       /* rows checked */
	int64_t first_bad_seq; /* 0 when ok */
	int64_t checkpoints;   /* signatures verified */
	char reason[256];
};

/*
 * Recomputes the chain and checks every checkpoint's signature (against
 * pinned_pk when given, else the key recorded with it). Fills res; returns
 * 0 when the check ran (whatever its outcome) or an error when it could not.
 */
int audit_verify(struct store *s, const uint8_t *pinned_pk, struct audit_verify_result *res,
		 struct buf *err);

/* Lower-case hex SHA-256 of data into out (65 bytes); "" for NULL data. */
void audit_digest_hex(const void *data, size_t len, char out[65]);

/* Hex of n bytes into out (2n+1 bytes). */
void hex_encode(const uint8_t *in, size_t n, char *out);

#endif
