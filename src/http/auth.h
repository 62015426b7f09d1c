/*
 * API tokens and the check of each request's bearer token. A token is
 * "ooda_" followed by 43 base64url characters of randomness; only its
 * SHA-256 is stored. Checks hit an in-memory copy of the token table,
 * reloaded when the database changed (also by another process, such as
 * `ooda token create` run beside the daemon).
 */
#ifndef OODA_AUTH_H
#define OODA_AUTH_H

#include "audit/audit.h"
#include "http/server.h"
#include "store/store.h"

struct auth;
struct sockaddr;

/*
 * What a request without credentials gets (routes marked ROUTE_OPEN never
 * look at credentials, so a stale token cannot fail a health check). The
 * rule "no tokens, loopback only" holds per request, not only at start: a
 * daemon bound beyond loopback whose last token was revoked (over HTTP or
 * by `ooda token revoke --data` beside it) still serves strangers nothing.
 */
enum auth_anon {
	AUTH_ANON_OPEN,          /* an open route: served, no role */
	AUTH_ANON_ADMIN,         /* no tokens and a loopback peer: open mode, served as admin */
	AUTH_ANON_NEED_TOKEN,    /* tokens exist: 401 */
	AUTH_ANON_LOOPBACK_ONLY, /* no tokens, and the peer is not on this machine: 403 */
};

/* The decision for a request without credentials: a pure function of its three inputs. */
enum auth_anon auth_anonymous(bool tokens_exist, bool peer_is_loopback, unsigned route_flags);

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104; false for anything else, and for NULL. */
bool auth_peer_is_loopback(const struct sockaddr *sa);

/* Caller owns *out; free with auth_destroy(). */
int auth_create(struct store *s, struct auth **out, struct buf *err);
void auth_destroy(struct auth *a);

/* Looks token up (constant-time compare of hashes); fills who. OODA_EUNAUTH if unknown or revoked. */
int auth_check(struct auth *a, const char *token, struct principal *who, struct buf *err);

/* Number of active tokens (after a refresh if the database changed). */
size_t auth_active_tokens(struct auth *a);

/* Forces a reload on the next check (after this process changed tokens). */
void auth_invalidate(struct auth *a);

struct token_request {
	const char *name;
	const char *role;      /* ingest|viewer|responder|approver|admin */
	const char *env;       /* optional flag environment scope */
	const char *actor;     /* who creates or revokes, for the audit record */
	const char *rationale;
};

/*
 * Creates a token and its audit record in one transaction. On success the
 * secret (shown once, never stored) is in secret (at least 64 bytes) and
 * the stored row in *row.
 */
int token_create(struct store *s, const struct audit_signer *sg, const struct token_request *r,
		 char *secret, size_t secret_size, struct token_row *row, struct buf *err);

/* Revokes by id or name, with its audit record. OODA_ENOTFOUND if no active token matches. */
int token_revoke(struct store *s, const struct audit_signer *sg, const char *id_or_name,
		 const char *actor, const char *rationale, struct token_row *row, struct buf *err);

/*
 * As token_revoke, but in the same transaction refuses with OODA_ECONFLICT
 * (nothing changed, the reason in err) when no active admin token would be
 * left: what a daemon listening beyond loopback does, so that nobody can
 * lock it out of administration over HTTP.
 */
int token_revoke_keep_admin(struct store *s, const struct audit_signer *sg, const char *id_or_name,
			    const char *actor, const char *rationale, struct token_row *row, struct buf *err);

/* Appends a token row as JSON (never the hash). */
void token_json(const struct token_row *t, struct buf *out);

#endif
