/*
 * Audit records, their chain hash and the checkpoints that pin the chain.
 * The hash of record n is SHA-256 over the previous hash and the
 * length-prefixed fields of n, so no two different records hash alike by
 * shifting bytes between fields. Each record names its formula (hash
 * version, the table `formulas`): version 1 left detail out, version 2
 * covers it; the verifier takes each record's own version but never a
 * lower one after a higher, so a record cannot be downgraded to hide an
 * edited detail.
 */
#include "audit/audit.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/time.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

void audit_digest_hex(const void *data, size_t len, char out[65])
{
	if (!data) {
		out[0] = '\0';
		return;
	}
	uint8_t h[32];
	crypto_hash_sha256(h, data, len);
	hex_encode(h, 32, out);
}

static void put_u64(crypto_hash_sha256_state *st, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
	crypto_hash_sha256_update(st, b, 8);
}

static void put_str(crypto_hash_sha256_state *st, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	put_u64(st, n);
	if (n)
		crypto_hash_sha256_update(st, (const uint8_t *)s, n);
}

static void hash_fields(crypto_hash_sha256_state *st, const char *tag, const struct audit_row *a)
{
	crypto_hash_sha256_init(st);
	crypto_hash_sha256_update(st, (const uint8_t *)tag, strlen(tag));
	crypto_hash_sha256_update(st, a->prev_hash, 32);
	put_u64(st, (uint64_t)a->seq);
	put_u64(st, (uint64_t)a->time_ns);
	put_str(st, a->actor);
	put_str(st, a->action);
	put_str(st, a->target);
	put_str(st, a->before_digest);
	put_str(st, a->after_digest);
	put_str(st, a->rationale);
}

/* Version 1, rows written before schema 3: detail is not covered. */
static void chain_hash_v1(const struct audit_row *a, uint8_t out[32])
{
	crypto_hash_sha256_state st;
	hash_fields(&st, "ooda-audit-v1", a);
	crypto_hash_sha256_final(&st, out);
}

/* Version 2: detail too, with a byte telling NULL from "". */
static void chain_hash_v2(const struct audit_row *a, uint8_t out[32])
{
	crypto_hash_sha256_state st;
	hash_fields(&st, "ooda-audit-v2", a);
	uint8_t present = a->detail != NULL;
	crypto_hash_sha256_update(&st, &present, 1);
	put_str(&st, a->detail);
	crypto_hash_sha256_final(&st, out);
}

static const struct {
	int version;
	void (*hash)(const struct audit_row *a, uint8_t out[32]);
} formulas[] = {
	{ 1, chain_hash_v1 },
	{ 2, chain_hash_v2 },
};

/* false for a version this ooda does not know */
static bool chain_hash(const struct audit_row *a, uint8_t out[32])
{
	for (size_t i = 0; i < sizeof(formulas) / sizeof(formulas[0]); i++)
		if (formulas[i].version == a->hash_version) {
			formulas[i].hash(a, out);
			return true;
		}
	return false;
}

static void checkpoint_message(int64_t seq, const uint8_t hash[32], uint8_t msg[61])
{
	memcpy(msg, "ooda-checkpoint-v1", 18);
	for (int i = 0; i < 8; i++)
		msg[18 + i] = (uint8_t)((uint64_t)seq >> (56 - 8 * i));
	memcpy(msg + 26, hash, 32);
	memset(msg + 58, 0, 3);
}

int audit_signer_load(struct audit_signer *sg, const char *data_dir, int64_t every, struct buf *err)
{
	if (sodium_init() < 0) {
		buf_adds(err, "libsodium failed to initialise");
		return OODA_EINTERNAL;
	}
	memset(sg, 0, sizeof(*sg));
	sg->every = every;
	char path[4096];
	snprintf(path, sizeof(path), "%s/audit-ed25519.key", data_dir);
	int fd = open(path, O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, sg->sk, 64);
		close(fd);
		if (n != 64) {
			buf_addf(err, "%s: expected 64 bytes of key", path);
			return OODA_ECORRUPT;
		}
		crypto_sign_ed25519_sk_to_pk(sg->pk, sg->sk);
		return 0;
	}
	crypto_sign_keypair(sg->pk, sg->sk);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, sg->sk, 64) != 64 || fsync(fd)) {
		buf_addf(err, "cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return OODA_EIO;
	}
	close(fd);
	return 0;
}

static int write_checkpoint(struct store *s, const struct audit_signer *sg, int64_t seq,
			    const uint8_t hash[32], struct checkpoint_row *out)
{
	struct checkpoint_row cp = { .seq = seq, .time_ns = ooda_now_ns() };
	memcpy(cp.hash, hash, 32);
	memcpy(cp.pubkey, sg->pk, 32);
	uint8_t msg[61];
	checkpoint_message(seq, hash, msg);
	crypto_sign_detached(cp.signature, NULL, msg, sizeof(msg), sg->sk);
	int rc = store_checkpoint_insert(s, &cp);
	if (!rc && out)
		*out = cp;
	return rc;
}

int audit_append(struct store *s, const struct audit_signer *signer, const struct audit_entry *e,
		 struct buf *err)
{
	struct audit_row a = {
		.time_ns = ooda_now_ns(),
		.actor = e->actor && *e->actor ? e->actor : "unknown",
		.action = e->action,
		.target = e->target ? e->target : "",
		.rationale = e->rationale ? e->rationale : "",
		.detail = e->detail,
		.hash_version = AUDIT_HASH_VERSION,
	};
	char before[65], after[65];
	audit_digest_hex(e->before, e->before ? (e->before_len ? e->before_len : strlen(e->before)) : 0, before);
	audit_digest_hex(e->after, e->after ? (e->after_len ? e->after_len : strlen(e->after)) : 0, after);
	a.before_digest = before;
	a.after_digest = after;
	int64_t last;
	int rc = store_audit_last(s, &last, a.prev_hash);
	if (rc) {
		buf_adds(err, "cannot read the audit chain head");
		return rc;
	}
	a.seq = last + 1;
	chain_hash(&a, a.hash);
	rc = store_audit_insert(s, &a);
	if (rc) {
		buf_adds(err, "cannot append the audit record");
		return rc;
	}
	if (signer && signer->every > 0 && a.seq % signer->every == 0)
		rc = write_checkpoint(s, signer, a.seq, a.hash, NULL);
	return rc;
}

int audit_checkpoint(struct store *s, const struct audit_signer *signer, struct checkpoint_row *out,
		     struct buf *err)
{
	int64_t last;
	uint8_t hash[32];
	int rc = store_audit_last(s, &last, hash);
	if (!rc && last == 0) {
		buf_adds(err, "the audit log is empty");
		return OODA_EINVAL;
	}
	if (!rc)
		rc = write_checkpoint(s, signer, last, hash, out);
	if (rc == OODA_EIO)
		buf_adds(err, "a checkpoint for the current head exists already or cannot be written");
	return rc;
}

int audit_anchor(struct store *s, const struct audit_signer *signer, const char *actor,
		 struct checkpoint_row *out, struct buf *err)
{
	struct audit_entry e = { .actor = actor, .action = "audit.checkpoint", .target = "audit",
				 .rationale = "checkpoint requested" };
	int rc = audit_append(s, NULL, &e, err);
	return rc ? rc : audit_checkpoint(s, signer, out, err);
}

/* The first record after seq into *out (its seq and time only); 0 for none. */
static int first_after(void *ctx, const void *row)
{
	const struct audit_row *a = row;
	struct audit_row *out = ctx;
	out->seq = a->seq;
	out->time_ns = a->time_ns;
	return 1;
}

/* Whether the oldest unsigned record has waited interval_ns at now_ns. */
static int tick_due(struct store *s, const struct audit_signer *sg, int64_t now_ns, bool *due)
{
	struct checkpoint_row cp = { 0 };
	int rc = store_checkpoint_last(s, &cp);
	if (rc && rc != OODA_ENOTFOUND)
		return rc;
	struct audit_row next = { 0 };
	struct audit_filter f = { .after_seq = rc ? 0 : cp.seq, .limit = 1 };
	rc = store_audit_iter(s, &f, first_after, &next);
	*due = !rc && next.seq && now_ns - next.time_ns >= sg->interval_ns;
	return rc;
}

struct tick_ctx {
	const struct audit_signer *sg;
	int64_t now_ns;
	bool wrote;
};

static int tick_tx(struct store *s, void *ctx, struct buf *err)
{
	struct tick_ctx *t = ctx;
	bool due;
	int rc = tick_due(s, t->sg, t->now_ns, &due);
	if (!rc && due) {
		rc = audit_checkpoint(s, t->sg, NULL, err);
		t->wrote = !rc;
	}
	return rc;
}

int audit_tick(struct store *s, const struct audit_signer *signer, int64_t now_ns, struct buf *err)
{
	if (!signer || signer->interval_ns <= 0)
		return 0;
	bool due;
	/* a read first, so an idle log costs no write transaction */
	int rc = tick_due(s, signer, now_ns, &due);
	if (rc || !due) {
		if (rc)
			buf_adds(err, "cannot read the audit log for a timed checkpoint");
		return rc;
	}
	struct tick_ctx t = { signer, now_ns, false };
	rc = store_write(s, tick_tx, &t, err);
	return rc ? rc : t.wrote;
}

/* ---- the nodes' signing keys ---------------------------------------------- */

void audit_key_id(const uint8_t pk[32], char out[17])
{
	uint8_t h[32];
	crypto_hash_sha256(h, pk, 32);
	hex_encode(h, 8, out);
}

int audit_key_publish(struct store *s, const struct audit_signer *signer, const char *node_id, struct buf *err)
{
	int rc = store_audit_key_put(s, signer->pk, node_id, ooda_now_ns());
	if (rc)
		buf_addf(err, "the audit signing key of node %s cannot be published: %s", node_id, ooda_strerror(rc));
	return rc;
}

int audit_keyset_find(const struct audit_keyset *k, const uint8_t pk[32])
{
	for (size_t i = 0; i < k->n; i++)
		if (!memcmp(k->pk[i], pk, 32))
			return (int)i;
	return -1;
}

/* Published keys a verification takes at most: far more nodes than one control store serves. */
#define AUDIT_KEYS_MAX 4096

static void keyset_add(struct audit_keyset *k, const uint8_t pk[32], const char *node)
{
	if (audit_keyset_find(k, pk) >= 0 || k->n >= AUDIT_KEYS_MAX)
		return;
	k->pk = xrealloc(k->pk, (k->n + 1) * sizeof(*k->pk));
	k->node = xrealloc(k->node, (k->n + 1) * sizeof(*k->node));
	memcpy(k->pk[k->n], pk, 32);
	snprintf(k->node[k->n], sizeof(k->node[k->n]), "%s", node ? node : "");
	k->n++;
}

static int key_row(void *ctx, const void *row)
{
	const struct audit_key_row *r = row;
	keyset_add(ctx, r->pubkey, r->node_id);
	return 0;
}

int audit_keyset_load(struct store *s, const struct audit_signer *own, struct audit_keyset *out, struct buf *err)
{
	memset(out, 0, sizeof(*out));
	if (own)
		keyset_add(out, own->pk, "");
	int rc = store_audit_key_list(s, key_row, out);
	if (rc == OODA_EUNSUPPORTED)
		return 0;
	if (rc) {
		buf_adds(err, "cannot read the nodes' audit signing keys");
		audit_keyset_release(out);
	}
	return rc;
}

void audit_keyset_release(struct audit_keyset *k)
{
	free(k->pk);
	free(k->node);
	memset(k, 0, sizeof(*k));
}

int audit_head_parse(const char *text, struct audit_head *out, struct buf *err)
{
	const char *colon = text ? strchr(text, ':') : NULL;
	char *end;
	errno = 0;
	long long seq = colon ? strtoll(text, &end, 10) : 0;
	if (!colon || end != colon || errno || seq < 1 || colon == text) {
		buf_adds(err, "expected SEQ:HASH, a record number from 1 and its 64-hex hash");
		return OODA_EINVAL;
	}
	if (strlen(colon + 1) != 64 ||
	    sodium_hex2bin(out->hash, 32, colon + 1, 64, NULL, NULL, NULL)) {
		buf_adds(err, "expected SEQ:HASH with the hash as 64 hex characters");
		return OODA_EINVAL;
	}
	out->seq = seq;
	return 0;
}

json_t *audit_anchor_json(const struct checkpoint_row *cp)
{
	char hash[65], sig[129], pk[65], t[40];
	hex_encode(cp->hash, 32, hash);
	hex_encode(cp->signature, 64, sig);
	hex_encode(cp->pubkey, 32, pk);
	return json_pack("{s:I, s:s, s:s, s:s, s:s}", "seq", (json_int_t)cp->seq, "hash", hash, "time",
			 ooda_time_format(cp->time_ns, t, sizeof(t)), "signature", sig, "public_key", pk);
}

/* A hex member of exactly n bytes into out; false (detail in err) otherwise. */
static bool hex_member(json_t *j, const char *key, uint8_t *out, size_t n, const char *where, struct buf *err)
{
	const char *v = json_string_value(json_object_get(j, key));
	if (!v || strlen(v) != 2 * n || sodium_hex2bin(out, n, v, 2 * n, NULL, NULL, NULL)) {
		buf_addf(err, "%s.%s: expected %zu hex characters", where, key, 2 * n);
		return false;
	}
	return true;
}

int audit_head_from_json(json_t *j, const uint8_t *pinned_pk, const char *where, struct audit_head *out,
			 struct buf *err)
{
	uint8_t one[1][32];
	struct audit_keyset k = { one, NULL, 0 };
	if (pinned_pk) {
		memcpy(one[0], pinned_pk, 32);
		k.n = 1;
	}
	return audit_head_from_json_keys(j, &k, where, out, err);
}

int audit_head_from_json_keys(json_t *j, const struct audit_keyset *keys, const char *where, struct audit_head *out,
			      struct buf *err)
{
	if (sodium_init() < 0)
		return OODA_EINTERNAL;
	if (json_is_string(j)) {
		struct buf why = BUF_INIT;
		int rc = audit_head_parse(json_string_value(j), out, &why);
		if (rc)
			buf_addf(err, "%s: %s", where, why.data);
		buf_release(&why);
		return rc;
	}
	json_t *seq = json_object_get(j, "seq");
	if (!json_is_object(j) || !json_is_integer(seq) || json_integer_value(seq) < 1) {
		buf_addf(err, "%s.seq: expected a record number from 1 (or the whole head as \"SEQ:HASH\")", where);
		return OODA_EINVAL;
	}
	out->seq = json_integer_value(seq);
	if (!hex_member(j, "hash", out->hash, 32, where, err))
		return OODA_EINVAL;
	if (!json_object_get(j, "signature"))
		return 0;
	uint8_t sig[64], pk[32], msg[61];
	if (!hex_member(j, "signature", sig, 64, where, err) || !hex_member(j, "public_key", pk, 32, where, err))
		return OODA_EINVAL;
	if (keys && keys->n && audit_keyset_find(keys, pk) < 0) {
		buf_addf(err, "%s.public_key: not the audit signing key of this data dir%s", where,
			 keys->n > 1 ? " nor of any node of this cluster" : "");
		return OODA_EINVAL;
	}
	checkpoint_message(out->seq, out->hash, msg);
	if (crypto_sign_verify_detached(sig, msg, sizeof(msg), pk)) {
		buf_addf(err, "%s.signature: does not sign this seq and hash", where);
		return OODA_EINVAL;
	}
	return 0;
}

struct verify_state {
	struct audit_verify_result *res;
	int64_t prev_seq;
	uint8_t prev_hash[32];
	int max_version;  /* highest hash version seen so far */
	/* checkpoints to match against recomputed hashes, ascending by seq */
	struct checkpoint_row *cps;
	size_t n_cps, cap_cps, next_cp;
	/* anchored heads, sorted ascending by seq */
	struct audit_head *heads;
	size_t n_heads, next_head;
};

static void fail(struct verify_state *v, int64_t seq, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct verify_state *v, int64_t seq, const char *fmt, ...)
{
	if (!v->res->ok)
		return;
	v->res->ok = false;
	v->res->first_bad_seq = seq;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->res->reason, sizeof(v->res->reason), fmt, ap);
	va_end(ap);
}

static int collect_cp(void *ctx, const void *row)
{
	struct verify_state *v = ctx;
	if (v->n_cps == v->cap_cps) {
		v->cap_cps = v->cap_cps ? v->cap_cps * 2 : 16;
		v->cps = xrealloc(v->cps, v->cap_cps * sizeof(*v->cps));
	}
	v->cps[v->n_cps++] = *(const struct checkpoint_row *)row;
	return 0;
}

static int head_cmp(const void *a, const void *b)
{
	int64_t x = ((const struct audit_head *)a)->seq, y = ((const struct audit_head *)b)->seq;
	return (x > y) - (x < y);
}

static int verify_row(void *ctx, const void *row)
{
	struct verify_state *v = ctx;
	const struct audit_row *a = row;
	v->res->records++;
	if (a->seq != v->prev_seq + 1) {
		fail(v, v->prev_seq + 1, "record %lld is missing (next present is %lld)",
		     (long long)(v->prev_seq + 1), (long long)a->seq);
		return 1;
	}
	if (memcmp(a->prev_hash, v->prev_hash, 32)) {
		fail(v, a->seq, "record %lld does not link to the hash of record %lld",
		     (long long)a->seq, (long long)v->prev_seq);
		return 1;
	}
	if (a->hash_version < v->max_version) {
		fail(v, a->seq, "record %lld claims hash version %d after a record of version %d: "
				"a downgrade that would leave fields unchecked",
		     (long long)a->seq, a->hash_version, v->max_version);
		return 1;
	}
	struct audit_row copy = *a;
	uint8_t h[32];
	if (!chain_hash(&copy, h)) {
		fail(v, a->seq, "record %lld has hash version %d, unknown to this ooda",
		     (long long)a->seq, a->hash_version);
		return 1;
	}
	if (memcmp(h, a->hash, 32)) {
		fail(v, a->seq, "record %lld was altered: its content no longer matches its hash",
		     (long long)a->seq);
		return 1;
	}
	while (v->next_cp < v->n_cps && v->cps[v->next_cp].seq == a->seq) {
		if (memcmp(v->cps[v->next_cp].hash, a->hash, 32)) {
			fail(v, a->seq, "record %lld differs from the signed checkpoint at %lld",
			     (long long)a->seq, (long long)a->seq);
			return 1;
		}
		v->next_cp++;
	}
	for (; v->next_head < v->n_heads && v->heads[v->next_head].seq == a->seq; v->next_head++) {
		if (memcmp(v->heads[v->next_head].hash, a->hash, 32)) {
			fail(v, a->seq, "record %lld differs from the anchored head at %lld: "
					"the chain was rewritten up to there",
			     (long long)a->seq, (long long)a->seq);
			return 1;
		}
		v->res->heads_matched++;
	}
	v->max_version = a->hash_version;
	v->prev_seq = a->seq;
	memcpy(v->prev_hash, a->hash, 32);
	v->res->head_seq = a->seq;
	memcpy(v->res->head_hash, a->hash, 32);
	return 0;
}

int audit_verify(struct store *s, const struct audit_verify_options *opt, struct audit_verify_result *res,
		 struct buf *err)
{
	if (sodium_init() < 0)
		return OODA_EINTERNAL;
	const uint8_t *pinned_pk = opt ? opt->pinned_pk : NULL;
	const struct audit_keyset *keys = opt ? opt->keys : NULL;
	memset(res, 0, sizeof(*res));
	res->ok = true;
	struct verify_state v = { .res = res };
	if (opt && opt->n_heads) {
		v.heads = xmalloc(opt->n_heads * sizeof(*v.heads));
		memcpy(v.heads, opt->heads, opt->n_heads * sizeof(*v.heads));
		v.n_heads = opt->n_heads;
		qsort(v.heads, v.n_heads, sizeof(*v.heads), head_cmp);
	}
	int rc = store_checkpoint_iter(s, collect_cp, &v);
	for (size_t i = 0; !rc && i < v.n_cps && res->ok; i++) {
		struct checkpoint_row *cp = &v.cps[i];
		uint8_t msg[61];
		checkpoint_message(cp->seq, cp->hash, msg);
		const uint8_t *pk = pinned_pk ? pinned_pk : cp->pubkey;
		if (!pinned_pk && keys && keys->n && audit_keyset_find(keys, cp->pubkey) < 0) {
			char id[17];
			audit_key_id(cp->pubkey, id);
			if (keys->node)
				fail(&v, cp->seq, "checkpoint at record %lld is signed by key %s, which no node of this "
						  "cluster published", (long long)cp->seq, id);
			else /* keys the caller pinned */
				fail(&v, cp->seq, "checkpoint at record %lld has an invalid signature: key %s is not "
						  "a pinned key", (long long)cp->seq, id);
			break;
		}
		if ((pinned_pk && memcmp(pinned_pk, cp->pubkey, 32)) ||
		    crypto_sign_verify_detached(cp->signature, msg, sizeof(msg), pk)) {
			fail(&v, cp->seq, "checkpoint at record %lld has an invalid signature",
			     (long long)cp->seq);
			break;
		}
		res->checkpoints++;
	}
	if (!rc && res->ok) {
		struct audit_filter f = { 0 };
		rc = store_audit_iter(s, &f, verify_row, &v);
	}
	if (!rc && res->ok && v.next_cp < v.n_cps)
		fail(&v, v.cps[v.next_cp].seq, "records up to %lld were removed: a signed checkpoint names them",
		     (long long)v.cps[v.next_cp].seq);
	if (!rc && res->ok && v.next_head < v.n_heads)
		fail(&v, v.prev_seq + 1, "the chain ends at record %lld but the anchored head is record %lld: "
					 "records after %lld were removed",
		     (long long)v.prev_seq, (long long)v.heads[v.n_heads - 1].seq, (long long)v.prev_seq);
	free(v.cps);
	free(v.heads);
	if (rc)
		buf_adds(err, "cannot read the audit log");
	return rc;
}
