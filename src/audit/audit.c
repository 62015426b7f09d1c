/*
 * Audit records, their chain hash and the checkpoints that pin the chain.
 * The hash of record n is SHA-256 over the previous hash and the
 * length-prefixed fields of n, so no two different records hash alike by
 * shifting bytes between fields.
 */
#include "audit/audit.h"
#include "core/error.h"
#include "core/time.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

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

static void chain_hash(const struct audit_row *a, uint8_t out[32])
{
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)"ooda-audit-v1", 13);
	crypto_hash_sha256_update(&st, a->prev_hash, 32);
	put_u64(&st, (uint64_t)a->seq);
	put_u64(&st, (uint64_t)a->time_ns);
	put_str(&st, a->actor);
	put_str(&st, a->action);
	put_str(&st, a->target);
	put_str(&st, a->before_digest);
	put_str(&st, a->after_digest);
	put_str(&st, a->rationale);
	crypto_hash_sha256_final(&st, out);
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
			    const uint8_t hash[32])
{
	struct checkpoint_row cp = { .seq = seq, .time_ns = ooda_now_ns() };
	memcpy(cp.hash, hash, 32);
	memcpy(cp.pubkey, sg->pk, 32);
	uint8_t msg[61];
	checkpoint_message(seq, hash, msg);
	crypto_sign_detached(cp.signature, NULL, msg, sizeof(msg), sg->sk);
	return store_backend(s)->checkpoint_insert(store_impl(s), &cp);
}

int audit_append(struct store *s, const struct audit_signer *signer, const struct audit_entry *e,
		 struct buf *err)
{
	const struct store_backend *be = store_backend(s);
	struct audit_row a = {
		.time_ns = ooda_now_ns(),
		.actor = e->actor && *e->actor ? e->actor : "unknown",
		.action = e->action,
		.target = e->target ? e->target : "",
		.rationale = e->rationale ? e->rationale : "",
		.detail = e->detail,
	};
	char before[65], after[65];
	audit_digest_hex(e->before, e->before ? (e->before_len ? e->before_len : strlen(e->before)) : 0, before);
	audit_digest_hex(e->after, e->after ? (e->after_len ? e->after_len : strlen(e->after)) : 0, after);
	a.before_digest = before;
	a.after_digest = after;
	int64_t last;
	int rc = be->audit_last(store_impl(s), &last, a.prev_hash);
	if (rc) {
		buf_adds(err, "cannot read the audit chain head");
		return rc;
	}
	a.seq = last + 1;
	chain_hash(&a, a.hash);
	rc = be->audit_insert(store_impl(s), &a);
	if (rc) {
		buf_adds(err, "cannot append the audit record");
		return rc;
	}
	if (signer && signer->every > 0 && a.seq % signer->every == 0)
		rc = write_checkpoint(s, signer, a.seq, a.hash);
	return rc;
}

int audit_checkpoint(struct store *s, const struct audit_signer *signer, struct buf *err)
{
	int64_t last;
	uint8_t hash[32];
	int rc = store_backend(s)->audit_last(store_impl(s), &last, hash);
	if (!rc && last == 0) {
		buf_adds(err, "the audit log is empty");
		return OODA_EINVAL;
	}
	if (!rc)
		rc = write_checkpoint(s, signer, last, hash);
	if (rc == OODA_EIO)
		buf_adds(err, "a checkpoint for the current head exists already or cannot be written");
	return rc;
}

struct verify_state {
	struct audit_verify_result *res;
	int64_t prev_seq;
	uint8_t prev_hash[32];
	/* checkpoints to match against recomputed hashes, ascending by seq */
	struct checkpoint_row *cps;
	size_t n_cps, cap_cps, next_cp;
	const uint8_t *pinned;
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
		v->cps = realloc(v->cps, v->cap_cps * sizeof(*v->cps));
	}
	v->cps[v->n_cps++] = *(const struct checkpoint_row *)row;
	return 0;
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
	struct audit_row copy = *a;
	uint8_t h[32];
	chain_hash(&copy, h);
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
	v->prev_seq = a->seq;
	memcpy(v->prev_hash, a->hash, 32);
	return 0;
}

int audit_verify(struct store *s, const uint8_t *pinned_pk, struct audit_verify_result *res,
		 struct buf *err)
{
	if (sodium_init() < 0)
		return OODA_EINTERNAL;
	memset(res, 0, sizeof(*res));
	res->ok = true;
	struct verify_state v = { .res = res, .pinned = pinned_pk };
	const struct store_backend *be = store_backend(s);
	int rc = be->checkpoint_iter(store_impl(s), collect_cp, &v);
	for (size_t i = 0; !rc && i < v.n_cps && res->ok; i++) {
		struct checkpoint_row *cp = &v.cps[i];
		uint8_t msg[61];
		checkpoint_message(cp->seq, cp->hash, msg);
		const uint8_t *pk = pinned_pk ? pinned_pk : cp->pubkey;
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
		rc = be->audit_iter(store_impl(s), &f, verify_row, &v);
	}
	if (!rc && res->ok && v.next_cp < v.n_cps)
		fail(&v, v.cps[v.next_cp].seq, "records up to %lld were removed: a signed checkpoint names them",
		     (long long)v.cps[v.next_cp].seq);
	free(v.cps);
	if (rc)
		buf_adds(err, "cannot read the audit log");
	return rc;
}
