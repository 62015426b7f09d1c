/*
 * Tokens: creation and revocation (each with its audit record in the same
 * transaction) and the per-request check against a cached copy of the
 * token table. The cache reloads when the tokens' generation moved
 * (store_gen_read, checked on every request: a token made or revoked
 * through any node of a cluster counts from the next request on) and when
 * the database's data_version moves, checked at most every 500 ms, so a
 * token revoked from the CLI on a running data dir stops working within
 * half a second.
 */
#include "http/auth.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/time.h"

#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/socket.h>

struct cached_token {
	uint8_t hash[32];
	enum role role;
	char id[40];
	char name[128];
	char env[64];
};

struct auth {
	struct store *s;
	pthread_mutex_t mu;
	struct cached_token *tokens;
	size_t n, cap;
	int64_t data_version;
	int64_t gen;          /* the tokens' generation the copy was read at */
	int64_t checked_ns;
	bool stale;
};

struct load_ctx {
	struct auth *a;
};

static int load_row(void *ctx, const void *row)
{
	struct auth *a = ctx;
	const struct token_row *t = row;
	if (t->revoked_ns)
		return 0;
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->tokens = xrealloc(a->tokens, a->cap * sizeof(*a->tokens));
	}
	struct cached_token *c = &a->tokens[a->n++];
	memcpy(c->hash, t->hash, 32);
	c->role = role_parse(t->role);
	snprintf(c->id, sizeof(c->id), "%s", t->id);
	snprintf(c->name, sizeof(c->name), "%s", t->name);
	snprintf(c->env, sizeof(c->env), "%s", t->env);
	return 0;
}

/* Reloads under a->mu if the tokens changed. */
static void refresh(struct auth *a)
{
	int64_t gen = a->gen;
	if (!store_gen_read(a->s, STORE_GEN_TOKENS, &gen) && gen != a->gen)
		a->stale = true;
	int64_t now = ooda_mono_ns();
	if (!a->stale && now - a->checked_ns < 500 * OODA_NS_PER_MS)
		return;
	a->checked_ns = now;
	int64_t v = 0;
	if (store_data_version(a->s, &v))
		return;
	if (!a->stale && v == a->data_version)
		return;
	a->n = 0;
	if (store_token_list(a->s, load_row, a) == 0) {
		a->data_version = v;
		a->gen = gen;
		a->stale = false;
	}
}

int auth_create(struct store *s, struct auth **out, struct buf *err)
{
	if (sodium_init() < 0) {
		buf_adds(err, "libsodium failed to initialise");
		return OODA_EINTERNAL;
	}
	struct auth *a = xcalloc(1, sizeof(*a));
	a->s = s;
	a->stale = true;
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_lock(&a->mu);
	refresh(a);
	pthread_mutex_unlock(&a->mu);
	*out = a;
	return 0;
}

void auth_destroy(struct auth *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->mu);
	free(a->tokens);
	free(a);
}

void auth_invalidate(struct auth *a)
{
	pthread_mutex_lock(&a->mu);
	a->stale = true;
	pthread_mutex_unlock(&a->mu);
}

size_t auth_active_tokens(struct auth *a)
{
	pthread_mutex_lock(&a->mu);
	refresh(a);
	size_t n = a->n;
	pthread_mutex_unlock(&a->mu);
	return n;
}

int auth_check(struct auth *a, const char *token, struct principal *who, struct buf *err)
{
	size_t len = strlen(token);
	while (len && (token[len - 1] == ' ' || token[len - 1] == '\r'))
		len--;
	if (len < 8 || len > 256) {
		buf_adds(err, "malformed bearer token");
		return OODA_EUNAUTH;
	}
	uint8_t h[32];
	crypto_hash_sha256(h, (const uint8_t *)token, len);
	pthread_mutex_lock(&a->mu);
	refresh(a);
	int found = -1;
	/* compare against every token so timing does not depend on which matched */
	for (size_t i = 0; i < a->n; i++)
		if (sodium_memcmp(h, a->tokens[i].hash, 32) == 0)
			found = (int)i;
	if (found >= 0) {
		const struct cached_token *c = &a->tokens[found];
		who->role = c->role;
		snprintf(who->actor, sizeof(who->actor), "token:%s", c->name);
		snprintf(who->token_id, sizeof(who->token_id), "%s", c->id);
		snprintf(who->env, sizeof(who->env), "%s", c->env);
	}
	pthread_mutex_unlock(&a->mu);
	if (found < 0) {
		buf_adds(err, "unknown or revoked token");
		return OODA_EUNAUTH;
	}
	return 0;
}

enum auth_anon auth_anonymous(bool tokens_exist, bool peer_is_loopback, unsigned route_flags)
{
	if (route_flags & ROUTE_OPEN)
		return AUTH_ANON_OPEN;
	if (tokens_exist)
		return AUTH_ANON_NEED_TOKEN;
	return peer_is_loopback ? AUTH_ANON_ADMIN : AUTH_ANON_LOOPBACK_ONLY;
}

bool auth_peer_is_loopback(const struct sockaddr *sa)
{
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

void token_json(const struct token_row *t, struct buf *out)
{
	char created[40], revoked[40];
	buf_adds(out, "{\"id\":");
	buf_add_json_str(out, t->id, strlen(t->id));
	buf_adds(out, ",\"name\":");
	buf_add_json_str(out, t->name, strlen(t->name));
	buf_addf(out, ",\"role\":\"%s\",\"env\":", t->role);
	buf_add_json_str(out, t->env, strlen(t->env));
	buf_addf(out, ",\"created\":\"%s\",\"created_by\":", ooda_time_format(t->created_ns, created, sizeof(created)));
	buf_add_json_str(out, t->created_by, strlen(t->created_by));
	if (t->revoked_ns)
		buf_addf(out, ",\"revoked\":\"%s\"}", ooda_time_format(t->revoked_ns, revoked, sizeof(revoked)));
	else
		buf_adds(out, ",\"revoked\":null}");
}

struct create_ctx {
	const struct audit_signer *sg;
	const struct token_request *r;
	struct token_row *row;
};

static int create_tx(struct store *s, void *ctx, struct buf *err)
{
	struct create_ctx *c = ctx;
	int rc = store_token_insert(s, c->row);
	if (rc) {
		buf_adds(err, rc == OODA_ECONFLICT ? "token id collision; try again" : "cannot store the token");
		return rc;
	}
	struct buf after = BUF_INIT, target = BUF_INIT;
	token_json(c->row, &after);
	buf_addf(&target, "token/%s", c->row->id);
	struct audit_entry e = {
		.actor = c->r->actor, .action = "token.create", .target = target.data,
		.after = after.data, .after_len = after.len,
		.rationale = c->r->rationale, .detail = after.data,
	};
	rc = audit_append(s, c->sg, &e, err);
	buf_release(&after);
	buf_release(&target);
	return rc;
}

static bool valid_name(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n >= max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return false;
	return true;
}

int token_create(struct store *s, const struct audit_signer *sg, const struct token_request *r,
		 char *secret, size_t secret_size, struct token_row *row, struct buf *err)
{
	if (!valid_name(r->name, sizeof(row->name))) {
		buf_adds(err, "name: required, at most 127 printable characters");
		return OODA_EINVAL;
	}
	if (role_parse(r->role) == ROLE_NONE) {
		buf_addf(err, "role: \"%s\" is not one of ingest, viewer, responder, approver, admin",
			 r->role ? r->role : "");
		return OODA_EINVAL;
	}
	if (r->env && strlen(r->env) >= sizeof(row->env)) {
		buf_adds(err, "env: at most 63 characters");
		return OODA_EINVAL;
	}
	if (secret_size < 64)
		return OODA_EINVAL;
	if (sodium_init() < 0)
		return OODA_EINTERNAL;
	uint8_t rnd[32], idb[8];
	randombytes_buf(rnd, sizeof(rnd));
	randombytes_buf(idb, sizeof(idb));
	memcpy(secret, "ooda_", 5);
	sodium_bin2base64(secret + 5, secret_size - 5, rnd, sizeof(rnd), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	memset(row, 0, sizeof(*row));
	memcpy(row->id, "tok_", 4);
	hex_encode(idb, sizeof(idb), row->id + 4);
	snprintf(row->name, sizeof(row->name), "%s", r->name);
	snprintf(row->role, sizeof(row->role), "%s", r->role);
	snprintf(row->env, sizeof(row->env), "%s", r->env ? r->env : "");
	snprintf(row->created_by, sizeof(row->created_by), "%s", r->actor);
	row->created_ns = ooda_now_ns();
	crypto_hash_sha256(row->hash, (const uint8_t *)secret, strlen(secret));
	struct create_ctx c = { sg, r, row };
	int rc = store_write(s, create_tx, &c, err);
	sodium_memzero(rnd, sizeof(rnd));
	if (rc)
		sodium_memzero(secret, secret_size);
	return rc;
}

struct revoke_ctx {
	const struct audit_signer *sg;
	const char *id_or_name, *actor, *rationale;
	struct token_row *row;
	bool keep_admin;
	size_t admins; /* active admin tokens after the revocation */
};

static int count_admin(void *ctx, const void *row)
{
	struct revoke_ctx *c = ctx;
	const struct token_row *t = row;
	/* the list reads committed rows, so the one this transaction revokes is skipped by id */
	if (!t->revoked_ns && role_parse(t->role) == ROLE_ADMIN && strcmp(t->id, c->row->id))
		c->admins++;
	return 0;
}

static int revoke_tx(struct store *s, void *ctx, struct buf *err)
{
	struct revoke_ctx *c = ctx;
	int rc = store_token_revoke(s, c->id_or_name, ooda_now_ns(), c->row);
	if (rc == OODA_ENOTFOUND)
		buf_addf(err, "no active token with id or name \"%s\"", c->id_or_name);
	else if (rc == OODA_ECONFLICT)
		buf_addf(err, "several active tokens are named \"%s\"; revoke by id", c->id_or_name);
	if (rc)
		return rc;
	if (c->keep_admin && role_parse(c->row->role) == ROLE_ADMIN) {
		c->admins = 0;
		if ((rc = store_token_list(s, count_admin, c)))
			return rc;
		if (c->admins == 0) {
			buf_addf(err, "%s is the last admin token and this server listens beyond loopback: revoking "
				      "it would leave nobody able to administer it over HTTP; create another admin "
				      "token first", c->row->name);
			return OODA_ECONFLICT;
		}
	}
	struct buf after = BUF_INIT, target = BUF_INIT;
	token_json(c->row, &after);
	buf_addf(&target, "token/%s", c->row->id);
	struct audit_entry e = {
		.actor = c->actor, .action = "token.revoke", .target = target.data,
		.after = after.data, .after_len = after.len, .rationale = c->rationale,
	};
	rc = audit_append(s, c->sg, &e, err);
	buf_release(&after);
	buf_release(&target);
	return rc;
}

int token_revoke(struct store *s, const struct audit_signer *sg, const char *id_or_name,
		 const char *actor, const char *rationale, struct token_row *row, struct buf *err)
{
	struct revoke_ctx c = { sg, id_or_name, actor, rationale, row, false, 0 };
	return store_write(s, revoke_tx, &c, err);
}

int token_revoke_keep_admin(struct store *s, const struct audit_signer *sg, const char *id_or_name,
			    const char *actor, const char *rationale, struct token_row *row, struct buf *err)
{
	struct revoke_ctx c = { sg, id_or_name, actor, rationale, row, true, 0 };
	return store_write(s, revoke_tx, &c, err);
}
