/*
 * Whole-store copies for `ooda migrate`: the one list of the control
 * store's tables with their columns (for both backends), and the copy that
 * streams each table out of one store and writes it into another in
 * bounded transactions, row for row and byte for byte, so the audit chain's
 * hashes and signatures still verify on the other side. The rows travel as
 * typed cells (store_backend.h); each backend turns them into its own SQL.
 */
#include "store/store_backend.h"
#include "core/error.h"

/*
 * Every table a copy moves, in the order it moves them. leader_lease and
 * cluster_nodes are left out: they describe the nodes that run on a store,
 * and the nodes started on the copy write their own.
 */
static const struct store_table copy_tables[] = {
	{ "tokens", "id, name, role, env, hash, created_ns, created_by, revoked_ns", "ttttbiti", "created_ns, id",
	  "created_ns, id" },
	{ "audit",
	  "seq, time_ns, actor, action, target, before_digest, after_digest, rationale, detail, prev_hash, hash, "
	  "hash_version",
	  "iittttttnbbi", "seq", "seq" },
	{ "audit_checkpoints", "seq, time_ns, hash, signature, pubkey", "iibbb", "seq", "seq" },
	{ "docs", "kind, key, version, time_ns, author, rationale, body, deleted, status", "ttiitttit",
	  "kind, key, version", "kind, key, version" },
	{ "pattern_snapshots", "service, saved_ns, lines, snapshot, severities", "tiibb", "service", "service" },
	{ "notifications",
	  "id, dedupe_key, target, kind, event, payload, incident, alert, status, attempts, next_attempt_ns, "
	  "last_error, created_ns, delivered_ns",
	  "tttttttttiitii", "rowid", "ord" },
	{ "incidents", "number, status, service, severity, updated_ns, body", "itttit", "number", "number" },
	{ "incident_timeline", "number, seq, at_ns, kind, actor, text, data", "iiitttt", "number, seq",
	  "number, seq" },
	{ "incident_artifacts", "number, id, name, content_type, size, sha256, uploaded_by, at_ns, bytes",
	  "iittittib", "number, id", "number, id" },
	{ "rollouts", "id, status, env, due_ns, updated_ns, body", "tttiit", "id", "id" },
	/* the keys that signed the checkpoints above, so the copy verifies on any node */
	{ "audit_keys", "pubkey, node_id, published_ns", "bti", "published_ns, pubkey", "published_ns, pubkey" },
};

#define N_TABLES (sizeof(copy_tables) / sizeof(copy_tables[0]))
_Static_assert(N_TABLES <= STORE_COPY_MAX_TABLES, "raise STORE_COPY_MAX_TABLES");

size_t store_copy_tables(void)
{
	return N_TABLES;
}

const char *store_copy_table_name(size_t i)
{
	return i < N_TABLES ? copy_tables[i].name : NULL;
}

int store_copy_count(struct store *s, int64_t rows[STORE_COPY_MAX_TABLES], struct buf *err)
{
	const struct store_backend *be = store_backend(s);
	for (size_t i = 0; i < N_TABLES; i++) {
		rows[i] = 0;
		int rc = be->table_count(store_impl(s), &copy_tables[i], &rows[i]);
		if (rc) {
			buf_addf(err, "cannot count the rows of %s on %s", copy_tables[i].name, be->name);
			return rc;
		}
	}
	return 0;
}

/*
 * Rows read from the source and not yet written: their cells, with the
 * bytes of every text and blob copied into one buffer (offsets until the
 * write, since the buffer may move as it grows).
 */
struct copy_batch {
	struct store *dst;
	const struct store_table *t;
	size_t ncol;
	struct store_cell *cells; /* rows * ncol; p holds an offset into bytes + 1 (0: NULL) */
	size_t rows, cap;
	struct buf bytes;
	size_t max_rows, max_bytes;
	int64_t copied;
	store_copy_progress_fn progress;
	void *ctx;
	struct buf *err;
};

static int batch_write_tx(struct store *s, void *ctx, struct buf *err)
{
	struct copy_batch *b = ctx;
	const struct store_backend *be = store_backend(s);
	struct store_cell row[STORE_TABLE_MAX_COLS];
	for (size_t r = 0; r < b->rows; r++) {
		for (size_t k = 0; k < b->ncol; k++) {
			row[k] = b->cells[r * b->ncol + k];
			uintptr_t off = (uintptr_t)row[k].p;
			row[k].p = off ? b->bytes.data + (off - 1) : NULL;
		}
		int rc = be->table_insert(store_impl(s), b->t, row);
		if (rc) {
			buf_addf(err, "cannot insert row %lld of %s into %s: %s", (long long)(b->copied + (int64_t)r + 1),
				 b->t->name, be->name, ooda_strerror(rc));
			return rc;
		}
	}
	return 0;
}

static int batch_flush(struct copy_batch *b)
{
	if (!b->rows)
		return 0;
	int rc = store_write(b->dst, batch_write_tx, b, b->err);
	if (rc)
		return rc;
	b->copied += (int64_t)b->rows;
	b->rows = 0;
	buf_setlen(&b->bytes, 0);
	if (b->progress)
		b->progress(b->ctx, b->t->name, b->copied);
	return 0;
}

static int batch_add(void *ctx, const void *rowp)
{
	struct copy_batch *b = ctx;
	const struct store_cell *row = rowp;
	if (b->rows == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->cells = xrealloc(b->cells, b->cap * b->ncol * sizeof(*b->cells));
	}
	struct store_cell *out = &b->cells[b->rows * b->ncol];
	for (size_t k = 0; k < b->ncol; k++) {
		out[k] = row[k];
		if (row[k].p) {
			out[k].p = (const char *)(uintptr_t)(b->bytes.len + 1);
			buf_add(&b->bytes, row[k].p, row[k].len);
			buf_addch(&b->bytes, '\0'); /* text goes on as a C string */
		}
	}
	b->rows++;
	if (b->rows >= b->max_rows || b->bytes.len >= b->max_bytes)
		return batch_flush(b);
	return 0;
}

int store_copy(struct store *src, struct store *dst, const struct store_copy_options *opt, struct buf *err)
{
	const struct store_backend *from = store_backend(src);
	int rc = 0;
	for (size_t i = 0; i < N_TABLES; i++) {
		size_t commas = 0;
		for (const char *c = copy_tables[i].cols; *c; c++)
			commas += *c == ',';
		if (commas + 1 != strlen(copy_tables[i].types) || commas + 1 > STORE_TABLE_MAX_COLS) {
			buf_addf(err, "internal: the column list of %s does not match its types", copy_tables[i].name);
			return OODA_EINTERNAL;
		}
	}
	for (size_t i = 0; i < N_TABLES && !rc; i++) {
		struct copy_batch b = { .dst = dst,
					.t = &copy_tables[i],
					.ncol = strlen(copy_tables[i].types),
					.max_rows = opt && opt->batch_rows ? opt->batch_rows : 1000,
					.max_bytes = opt && opt->batch_bytes ? opt->batch_bytes : 4u << 20,
					.progress = opt ? opt->progress : NULL,
					.ctx = opt ? opt->ctx : NULL,
					.err = err };
		buf_init(&b.bytes);
		rc = from->table_iter(store_impl(src), b.t, batch_add, &b);
		if (rc && !err->len)
			buf_addf(err, "cannot read %s from %s: %s", b.t->name, from->name, ooda_strerror(rc));
		if (!rc)
			rc = batch_flush(&b);
		if (!rc && b.progress && !b.copied)
			b.progress(b.ctx, b.t->name, 0);
		free(b.cells);
		buf_release(&b.bytes);
	}
	return rc;
}
