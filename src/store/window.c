/*
 * Window files (window.h, docs/export.md): the writer streams a time window
 * of the stores into frames under a running SHA-256; the reader checks each
 * frame's length against the limits before reading it and the checksum at
 * the end, and the importer decodes every frame (blocks with tblock_decode,
 * events and documents with jansson) before handing it to the stores, or
 * only checks when it has none. Sits in store/: it reads and writes through
 * tstore.h and vdoc.h only.
 */
#include "store/window.h"

#include "core/arena.h"
#include "core/error.h"
#include "core/time.h"
#include "core/xalloc.h"
#include "store/tblock.h"
#include "store/vdoc.h"

#include <jansson.h>
#include <sodium.h>
#include <string.h>

#ifndef OODA_VERSION
#define OODA_VERSION "dev"
#endif

#define EXPORT_ZSTD_LEVEL 3
#define IMPORT_EVENT_BATCH 1000

/* Document kinds a window carries. */
static const char *const doc_kinds[] = { "alert" };

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- writer ---------------------------------------------------------------- */

static int w_bytes(struct window_writer *w, const void *p, size_t n, struct buf *err)
{
	if (n && fwrite(p, 1, n, w->f) != n) {
		buf_addf(err, "writing the window file failed after %llu bytes", (unsigned long long)w->bytes);
		return OODA_EIO;
	}
	crypto_hash_sha256_update(w->sha, p, n);
	w->bytes += n;
	return 0;
}

static void header_json(const struct window_header *h, struct buf *out)
{
	json_t *j = json_pack("{s:i,s:s,s:I,s:I,s:s,s:I}", "format", WINDOW_FORMAT_VERSION, "ooda_version",
			      h->ooda_version[0] ? h->ooda_version : OODA_VERSION, "from_unix_nano",
			      (json_int_t)h->from_ns, "to_unix_nano", (json_int_t)h->to_ns, "service", h->service,
			      "created_unix_nano", (json_int_t)h->created_ns);
	char *t = json_dumps(j, JSON_COMPACT);
	buf_adds(out, t);
	free(t);
	json_decref(j);
}

int window_writer_open(struct window_writer *w, FILE *f, const struct window_header *h, struct buf *err)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->sha = xmalloc(sizeof(crypto_hash_sha256_state));
	crypto_hash_sha256_init(w->sha);
	uint8_t v[4];
	put_u32(v, WINDOW_FORMAT_VERSION);
	int rc = w_bytes(w, WINDOW_MAGIC, 8, err);
	if (!rc)
		rc = w_bytes(w, v, 4, err);
	if (rc)
		return rc;
	struct buf j = BUF_INIT;
	header_json(h, &j);
	rc = window_writer_frame(w, WINDOW_HEADER, j.data, j.len, err);
	buf_release(&j);
	return rc;
}

int window_writer_frame(struct window_writer *w, int type, const void *data, size_t len, struct buf *err)
{
	if (len > WINDOW_FRAME_MAX) {
		buf_addf(err, "a frame of %zu bytes is over the limit of %u", len, WINDOW_FRAME_MAX);
		return OODA_ELIMIT;
	}
	uint8_t hd[5];
	hd[0] = (uint8_t)type;
	put_u32(hd + 1, (uint32_t)len);
	int rc = w_bytes(w, hd, 5, err);
	if (!rc)
		rc = w_bytes(w, data, len, err);
	if (!rc)
		w->frames++;
	return rc;
}

int window_writer_finish(struct window_writer *w, struct window_counts *c, struct buf *err)
{
	json_t *j = json_pack("{s:I,s:I,s:I,s:I,s:I}", "logs", (json_int_t)c->logs, "spans", (json_int_t)c->spans,
			      "points", (json_int_t)c->points, "events", (json_int_t)c->events, "docs",
			      (json_int_t)c->docs);
	char *t = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	int rc = window_writer_frame(w, WINDOW_END, t, strlen(t), err);
	free(t);
	if (rc)
		return rc;
	uint8_t hd[5];
	hd[0] = WINDOW_SUM;
	put_u32(hd + 1, 32);
	crypto_hash_sha256_final(w->sha, c->sha256);
	if (fwrite(hd, 1, 5, w->f) != 5 || fwrite(c->sha256, 1, 32, w->f) != 32 || fflush(w->f)) {
		buf_adds(err, "writing the window file's checksum failed");
		return OODA_EIO;
	}
	w->bytes += 37;
	w->frames++;
	c->bytes = w->bytes;
	c->frames = w->frames;
	return 0;
}

void window_writer_release(struct window_writer *w)
{
	free(w->sha);
	w->sha = NULL;
}

/* ---- reader ---------------------------------------------------------------- */

static int r_bytes(struct window_reader *r, void *p, size_t n, const char *what, struct buf *err)
{
	size_t got = n ? fread(p, 1, n, r->f) : 0;
	if (got != n) {
		buf_addf(err, "the window file is truncated: it ends at byte %llu, inside %s",
			 (unsigned long long)(r->offset + got), what);
		return OODA_ECORRUPT;
	}
	r->offset += n;
	return 0;
}

static int header_parse(const char *text, size_t len, struct window_header *h, struct buf *err)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, 0, &je);
	json_int_t fmt = 0, from = 0, to = 0, created = 0;
	const char *ver = "", *svc = "";
	if (!j || json_unpack_ex(j, &je, 0, "{s:I,s:s,s:I,s:I,s:s,s?I}", "format", &fmt, "ooda_version", &ver,
				 "from_unix_nano", &from, "to_unix_nano", &to, "service", &svc, "created_unix_nano",
				 &created)) {
		buf_addf(err, "the window file's header is not valid: %s", je.text);
		json_decref(j);
		return OODA_ECORRUPT;
	}
	int rc = 0;
	if (fmt != WINDOW_FORMAT_VERSION) {
		buf_addf(err, "the window file's header says format %lld, the frames say %d", (long long)fmt,
			 WINDOW_FORMAT_VERSION);
		rc = OODA_ECORRUPT;
	} else if (from > to || strlen(svc) >= sizeof(h->service)) {
		buf_adds(err, "the window file's header has a bad window or service");
		rc = OODA_ECORRUPT;
	} else {
		h->from_ns = from;
		h->to_ns = to;
		h->created_ns = created;
		snprintf(h->service, sizeof(h->service), "%s", svc);
		snprintf(h->ooda_version, sizeof(h->ooda_version), "%s", ver);
	}
	json_decref(j);
	return rc;
}

int window_reader_open(struct window_reader *r, FILE *f, struct window_header *h, struct buf *err)
{
	memset(r, 0, sizeof(*r));
	memset(h, 0, sizeof(*h));
	r->f = f;
	buf_init(&r->frame);
	r->sha = xmalloc(sizeof(crypto_hash_sha256_state));
	crypto_hash_sha256_init(r->sha);
	uint8_t head[12];
	int rc = r_bytes(r, head, sizeof(head), "the magic number and format version", err);
	if (rc)
		return rc;
	if (memcmp(head, WINDOW_MAGIC, 8)) {
		buf_adds(err, "not an ooda window file (no OODAWIN magic at its start)");
		return OODA_ECORRUPT;
	}
	uint32_t v = get_u32(head + 8);
	if (v != WINDOW_FORMAT_VERSION) {
		buf_addf(err, "the window file is format version %u; this ooda (%s) reads version %d only", v,
			 OODA_VERSION, WINDOW_FORMAT_VERSION);
		return OODA_ESCHEMA;
	}
	crypto_hash_sha256_update(r->sha, head, sizeof(head));
	int type;
	rc = window_reader_next(r, &type, err);
	if (rc > 0 || (!rc && type != WINDOW_HEADER)) {
		buf_adds(err, "the window file does not start with its header frame");
		return OODA_ECORRUPT;
	}
	if (rc)
		return rc;
	return header_parse(r->frame.data, r->frame.len, h, err);
}

int window_reader_next(struct window_reader *r, int *type, struct buf *err)
{
	uint8_t hd[5];
	uint64_t at = r->offset;
	int rc = r_bytes(r, hd, 5, "a frame header (no checksum trailer)", err);
	if (rc)
		return rc;
	uint32_t len = get_u32(hd + 1);
	*type = hd[0];
	if (*type < WINDOW_HEADER || *type > WINDOW_SUM) {
		buf_addf(err, "the window file has an unknown frame type %d at byte %llu", *type,
			 (unsigned long long)at);
		return OODA_ECORRUPT;
	}
	uint32_t max = *type == WINDOW_SUM ? 32
		       : (*type == WINDOW_LOGS || *type == WINDOW_SPANS || *type == WINDOW_METRICS) ? WINDOW_FRAME_MAX
												: WINDOW_JSON_MAX;
	if (len > max || (*type == WINDOW_SUM && len != 32)) {
		buf_addf(err, "the window file has a frame of %u bytes at byte %llu, over its limit of %u", len,
			 (unsigned long long)at, max);
		return OODA_ELIMIT;
	}
	if (*type == WINDOW_SUM) {
		uint8_t want[32], got[32];
		crypto_hash_sha256_final(r->sha, got);
		memcpy(r->end.sha256, got, 32);
		if ((rc = r_bytes(r, want, 32, "the checksum trailer", err)))
			return rc;
		if (sodium_memcmp(want, got, 32)) {
			buf_adds(err, "checksum mismatch: the SHA-256 in the window file's trailer does not match its "
				      "contents (the file is damaged)");
			return OODA_ECORRUPT;
		}
		if (!r->ended) {
			buf_adds(err, "the window file has a checksum but no end frame");
			return OODA_ECORRUPT;
		}
		if (fgetc(r->f) != EOF) {
			buf_addf(err, "the window file has bytes after its checksum trailer (at byte %llu)",
				 (unsigned long long)r->offset);
			return OODA_ECORRUPT;
		}
		return 1;
	}
	if (r->ended) {
		buf_addf(err, "the window file has a frame after its end frame (at byte %llu)", (unsigned long long)at);
		return OODA_ECORRUPT;
	}
	buf_reset(&r->frame);
	/* read in slices, so a length that lies about a short file costs no more than the file */
	size_t done = 0;
	while (done < len) {
		size_t n = len - done < (1u << 20) ? len - done : (1u << 20);
		buf_grow(&r->frame, n + 1);
		if ((rc = r_bytes(r, r->frame.data + r->frame.len, n, "a frame", err)))
			return rc;
		r->frame.len += n;
		done += n;
	}
	buf_grow(&r->frame, 1);
	r->frame.data[r->frame.len] = 0;
	crypto_hash_sha256_update(r->sha, hd, 5);
	crypto_hash_sha256_update(r->sha, (const uint8_t *)r->frame.data, r->frame.len);
	return 0;
}

void window_reader_release(struct window_reader *r)
{
	free(r->sha);
	r->sha = NULL;
	buf_release(&r->frame);
}

/* ---- export ---------------------------------------------------------------- */

struct export_ctx {
	struct window_writer *w;
	const struct window_header *h;
	struct window_counts *c;
	struct buf *err;
	int rc;
	void *sel;          /* records of the current block inside the window */
	size_t sel_cap;     /* bytes */
};

static const size_t rec_size[] = {
	[SIGNAL_LOGS] = sizeof(struct log_record),
	[SIGNAL_SPANS] = sizeof(struct span),
	[SIGNAL_METRICS] = sizeof(struct metric_point),
};
static const int frame_of[] = { [SIGNAL_LOGS] = WINDOW_LOGS, [SIGNAL_SPANS] = WINDOW_SPANS,
				[SIGNAL_METRICS] = WINDOW_METRICS };

/* Encodes recs[0..n) as one frame, halving until each encoded block fits a frame. */
static int export_block(struct export_ctx *x, int signal, const char *service, const char *recs, size_t n)
{
	struct tblock b;
	memset(&b, 0, sizeof(b));
	int rc = tblock_encode(signal, service, recs, n, EXPORT_ZSTD_LEVEL, &b, x->err);
	if (!rc && b.data_len > WINDOW_FRAME_MAX && n > 1) {
		tblock_release(&b);
		size_t half = n / 2;
		rc = export_block(x, signal, service, recs, half);
		return rc ? rc : export_block(x, signal, service, recs + half * rec_size[signal], n - half);
	}
	if (!rc)
		rc = window_writer_frame(x->w, frame_of[signal], b.data, b.data_len, x->err);
	tblock_release(&b);
	return rc;
}

static bool in_window(const struct window_header *h, int64_t t0, int64_t t1)
{
	return t0 <= h->to_ns && t1 >= h->from_ns;
}

static int export_scan_fn(void *ctx, const struct telemetry_batch *b, int64_t tmin, int64_t tmax)
{
	(void)tmin;
	(void)tmax;
	struct export_ctx *x = ctx;
	int signal = b->n_logs ? SIGNAL_LOGS : b->n_spans ? SIGNAL_SPANS : SIGNAL_METRICS;
	size_t total = b->n_logs ? b->n_logs : b->n_spans ? b->n_spans : b->n_points;
	if (!total)
		return 0;
	size_t need = total * rec_size[signal];
	if (need > x->sel_cap) {
		x->sel = xrealloc(x->sel, need);
		x->sel_cap = need;
	}
	size_t n = 0;
	const char *service = NULL;
	for (size_t i = 0; i < total; i++) {
		bool keep;
		const void *r;
		const struct resource *res;
		if (signal == SIGNAL_LOGS) {
			keep = in_window(x->h, b->logs[i].time_ns, b->logs[i].time_ns);
			r = &b->logs[i];
			res = b->logs[i].resource;
		} else if (signal == SIGNAL_SPANS) {
			keep = in_window(x->h, b->spans[i].start_ns, b->spans[i].end_ns);
			r = &b->spans[i];
			res = b->spans[i].resource;
		} else {
			keep = in_window(x->h, b->points[i].time_ns, b->points[i].time_ns);
			r = &b->points[i];
			res = b->points[i].resource;
		}
		if (!keep)
			continue;
		if (!service)
			service = res && res->service ? res->service : "unknown";
		memcpy((char *)x->sel + n * rec_size[signal], r, rec_size[signal]);
		n++;
	}
	if (!n)
		return 0;
	x->rc = export_block(x, signal, service, x->sel, n);
	if (x->rc)
		return 1;
	if (signal == SIGNAL_LOGS)
		x->c->logs += n;
	else if (signal == SIGNAL_SPANS)
		x->c->spans += n;
	else
		x->c->points += n;
	return 0;
}

static int export_events(struct export_ctx *x, struct tstore *t)
{
	struct tstore_event_filter f = { .service = x->h->service[0] ? x->h->service : NULL,
					 .from_ns = x->h->from_ns, .to_ns = x->h->to_ns,
					 .limit = WINDOW_EVENTS_MAX + 1 };
	struct buf out = BUF_INIT;
	int rc = tstore_events_json(t, &f, &out, x->err);
	json_t *arr = rc ? NULL : json_loadb(out.data, out.len, 0, NULL);
	buf_release(&out);
	if (rc)
		return rc;
	if (!json_is_array(arr)) {
		json_decref(arr);
		buf_adds(x->err, "reading the change events failed");
		return OODA_EIO;
	}
	if (json_array_size(arr) > WINDOW_EVENTS_MAX) {
		json_decref(arr);
		buf_addf(x->err, "the window holds more than %d change events: export a shorter window",
			 WINDOW_EVENTS_MAX);
		return OODA_ELIMIT;
	}
	/* oldest first, as they happened */
	for (size_t i = json_array_size(arr); i-- > 0 && !rc;) {
		char *text = json_dumps(json_array_get(arr, i), JSON_COMPACT);
		rc = window_writer_frame(x->w, WINDOW_EVENT, text, strlen(text), x->err);
		free(text);
		x->c->events++;
	}
	json_decref(arr);
	return rc;
}

/* Does an alert document belong to service (its labels.service or service)? */
static bool doc_of_service(const struct doc_row *d, const char *service)
{
	if (!*service)
		return true;
	json_t *j = json_loadb(d->body, d->body_len, 0, NULL);
	const char *s = json_string_value(json_object_get(json_object_get(j, "labels"), "service"));
	if (!s)
		s = json_string_value(json_object_get(j, "service"));
	bool yes = s && !strcmp(s, service);
	json_decref(j);
	return yes;
}

struct doc_keys {
	char **keys;
	size_t n, cap;
};

static int doc_key_fn(void *ctx, const void *row)
{
	struct doc_keys *k = ctx;
	const struct doc_row *d = row;
	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 64;
		k->keys = xreallocarray(k->keys, k->cap, sizeof(*k->keys));
	}
	k->keys[k->n++] = xstrdup(d->key);
	return k->n > WINDOW_DOCS_MAX ? 1 : 0;
}

static int doc_version_fn(void *ctx, const void *row)
{
	struct export_ctx *x = ctx;
	const struct doc_row *d = row;
	if (d->time_ns < x->h->from_ns || d->time_ns > x->h->to_ns || (!d->deleted && !doc_of_service(d, x->h->service)))
		return 0;
	if (x->c->docs >= WINDOW_DOCS_MAX) {
		buf_addf(x->err, "the window holds more than %d document versions: export a shorter window",
			 WINDOW_DOCS_MAX);
		return OODA_ELIMIT;
	}
	json_t *j = json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:b,s:s%}", "kind", d->kind, "key", d->key, "version",
			      (json_int_t)d->version, "time_unix_nano", (json_int_t)d->time_ns, "author",
			      d->author ? d->author : "", "rationale", d->rationale ? d->rationale : "", "deleted",
			      d->deleted, "body", d->body ? d->body : "", d->body ? d->body_len : 0);
	if (!j) {
		buf_addf(x->err, "document %s %s is not text", d->kind, d->key);
		return OODA_EINTERNAL;
	}
	char *t = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	int rc = window_writer_frame(x->w, WINDOW_DOC, t, strlen(t), x->err);
	free(t);
	if (!rc)
		x->c->docs++;
	return rc;
}

static int export_docs(struct export_ctx *x, struct store *s)
{
	int rc = 0;
	for (size_t k = 0; k < sizeof(doc_kinds) / sizeof(doc_kinds[0]) && !rc; k++) {
		struct doc_keys keys = { 0 };
		rc = vdoc_list(s, doc_kinds[k], "", doc_key_fn, &keys);
		for (size_t i = 0; i < keys.n && !rc; i++) {
			rc = vdoc_history(s, doc_kinds[k], keys.keys[i], doc_version_fn, x);
			if (rc == OODA_ENOTFOUND)
				rc = 0;
		}
		for (size_t i = 0; i < keys.n; i++)
			free(keys.keys[i]);
		free(keys.keys);
	}
	return rc;
}

int window_export(struct tstore *t, struct store *s, const struct window_header *h, FILE *out,
		  struct window_counts *c, struct buf *err)
{
	memset(c, 0, sizeof(*c));
	struct window_writer w;
	int rc = window_writer_open(&w, out, h, err);
	struct export_ctx x = { .w = &w, .h = h, .c = c, .err = err };
	const char *svc = h->service;
	struct tstore_skipped skipped = { 0 };
	for (int sig = SIGNAL_LOGS; sig <= SIGNAL_METRICS && !rc; sig++) {
		struct tstore_scan q = { .signal = sig, .from_ns = h->from_ns, .to_ns = h->to_ns,
					 .services = h->service[0] ? &svc : NULL, .n_services = h->service[0] ? 1 : 0,
					 .oldest_first = true, .skipped = &skipped };
		rc = tstore_scan(t, &q, export_scan_fn, &x, err);
		if (!rc)
			rc = x.rc;
	}
	c->skipped_blocks = skipped.n;
	if (!rc)
		rc = export_events(&x, t);
	if (!rc && s)
		rc = export_docs(&x, s);
	if (!rc)
		rc = window_writer_finish(&w, c, err);
	window_writer_release(&w);
	free(x.sel);
	return rc;
}

/* ---- import ---------------------------------------------------------------- */

/* A JSON object's members as record attributes, in arena. */
static void attrs_from_json(json_t *o, struct arena *a, struct attrs *out)
{
	out->n = 0;
	out->v = NULL;
	if (!json_is_object(o) || !json_object_size(o))
		return;
	out->v = arena_zalloc(a, json_object_size(o) * sizeof(struct attr));
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		struct attr *at = &out->v[out->n++];
		at->key = arena_strdup(a, k);
		if (json_is_string(v)) {
			at->type = ATTR_STR;
			at->s = arena_strndup(a, json_string_value(v), json_string_length(v));
			at->len = (uint32_t)json_string_length(v);
		} else if (json_is_integer(v)) {
			at->type = ATTR_INT;
			at->i = json_integer_value(v);
		} else if (json_is_real(v)) {
			at->type = ATTR_DOUBLE;
			at->d = json_real_value(v);
		} else if (json_is_boolean(v)) {
			at->type = ATTR_BOOL;
			at->b = json_is_true(v);
		} else {
			char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			at->type = ATTR_JSON;
			at->s = arena_strdup(a, t ? t : "null");
			at->len = (uint32_t)strlen(at->s);
			free(t);
		}
	}
}

static const char *jstr(json_t *o, const char *k, struct arena *a)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? arena_strdup(a, s) : NULL;
}

static int event_parse(const struct buf *frame, struct arena *a, struct change_event *e, struct buf *err)
{
	json_t *j = json_loadb(frame->data, frame->len, 0, NULL);
	json_t *t = json_object_get(j, "time_unix_nano");
	if (!json_is_object(j) || !json_is_integer(t) || !json_is_string(json_object_get(j, "id"))) {
		json_decref(j);
		buf_adds(err, "the window file has a change event without id or time_unix_nano");
		return OODA_ECORRUPT;
	}
	memset(e, 0, sizeof(*e));
	e->id = jstr(j, "id", a);
	e->time_ns = json_integer_value(t);
	e->kind = jstr(j, "kind", a);
	e->service = jstr(j, "service", a);
	e->environment = jstr(j, "environment", a);
	e->version = jstr(j, "version", a);
	e->actor = jstr(j, "actor", a);
	e->description = jstr(j, "description", a);
	e->source = jstr(j, "source", a);
	json_t *links = json_object_get(j, "links");
	if (links && !json_is_null(links)) {
		char *lt = json_dumps(links, JSON_COMPACT | JSON_ENCODE_ANY);
		e->links = arena_strdup(a, lt ? lt : "[]");
		free(lt);
	}
	attrs_from_json(json_object_get(j, "attributes"), a, &e->attrs);
	json_decref(j);
	return 0;
}

struct doc_import {
	struct doc_row row;
	json_t *j;
};

static int doc_parse(const struct buf *frame, struct doc_import *d, struct buf *err)
{
	json_error_t je;
	memset(d, 0, sizeof(*d));
	d->j = json_loadb(frame->data, frame->len, 0, &je);
	json_int_t version = 0, time = 0;
	int deleted = 0;
	size_t blen = 0;
	if (!d->j || json_unpack_ex(d->j, &je, 0, "{s:s,s:s,s:I,s:I,s:s,s:s,s:b,s:s%}", "kind", &d->row.kind, "key",
				    &d->row.key, "version", &version, "time_unix_nano", &time, "author",
				    &d->row.author, "rationale", &d->row.rationale, "deleted", &deleted, "body",
				    &d->row.body, &blen)) {
		buf_addf(err, "the window file has a bad document frame: %s", je.text);
		json_decref(d->j);
		d->j = NULL;
		return OODA_ECORRUPT;
	}
	bool known = false;
	for (size_t k = 0; k < sizeof(doc_kinds) / sizeof(doc_kinds[0]); k++)
		known = known || !strcmp(d->row.kind, doc_kinds[k]);
	if (!known || !*d->row.key) {
		buf_addf(err, "the window file has a document of kind \"%s\", which a window does not carry",
			 d->row.kind);
		json_decref(d->j);
		d->j = NULL;
		return OODA_ECORRUPT;
	}
	d->row.version = version;
	d->row.time_ns = time;
	d->row.deleted = deleted;
	d->row.body_len = blen;
	return 0;
}

static int doc_restore_fn(struct store *s, void *ctx, struct buf *err)
{
	return vdoc_restore_tx(s, ctx, err);
}

struct import_ctx {
	struct tstore *t;
	struct arena blocks;    /* the decoded block being loaded */
	struct arena arena;     /* the events waiting for their batch */
	struct telemetry_batch events;
	size_t events_cap;
};

static int flush_events(struct import_ctx *x, struct buf *err)
{
	int rc = 0;
	if (x->t && x->events.n_events)
		rc = tstore_append(x->t, &x->events, err);
	arena_reset(&x->arena);
	x->events.events = NULL;
	x->events.n_events = 0;
	x->events_cap = 0;
	return rc;
}

static int import_frame(struct import_ctx *x, struct store *s, int type, const struct buf *frame,
			struct window_counts *c, struct buf *err)
{
	int rc = 0;
	if (type == WINDOW_LOGS || type == WINDOW_SPANS || type == WINDOW_METRICS) {
		int sig = type == WINDOW_LOGS ? SIGNAL_LOGS : type == WINDOW_SPANS ? SIGNAL_SPANS : SIGNAL_METRICS;
		arena_reset(&x->blocks); /* reused: a fresh arena per block costs page faults */
		struct telemetry_batch b = { .arena = &x->blocks };
		rc = tblock_decode(sig, frame->data, frame->len, &x->blocks, &b, err);
		if (rc)
			buf_adds(err, " (a block of the window file)");
		if (!rc && x->t)
			rc = tstore_append(x->t, &b, err);
		if (!rc) {
			c->logs += b.n_logs;
			c->spans += b.n_spans;
			c->points += b.n_points;
		}
	} else if (type == WINDOW_EVENT) {
		if (c->events >= WINDOW_EVENTS_MAX) {
			buf_addf(err, "the window file holds more than %d change events", WINDOW_EVENTS_MAX);
			return OODA_ELIMIT;
		}
		if (x->events.n_events == x->events_cap) {
			size_t cap = x->events_cap ? 2 * x->events_cap : 64;
			struct change_event *v = arena_alloc(&x->arena, cap * sizeof(*v));
			if (x->events.n_events)
				memcpy(v, x->events.events, x->events.n_events * sizeof(*v));
			x->events.events = v;
			x->events_cap = cap;
		}
		rc = event_parse(frame, &x->arena, &x->events.events[x->events.n_events], err);
		if (!rc) {
			x->events.n_events++;
			c->events++;
			if (x->events.n_events >= IMPORT_EVENT_BATCH)
				rc = flush_events(x, err);
		}
	} else if (type == WINDOW_DOC) {
		if (c->docs >= WINDOW_DOCS_MAX) {
			buf_addf(err, "the window file holds more than %d documents", WINDOW_DOCS_MAX);
			return OODA_ELIMIT;
		}
		struct doc_import d;
		rc = doc_parse(frame, &d, err);
		if (!rc && s)
			rc = store_write(s, doc_restore_fn, &d.row, err);
		if (!rc)
			c->docs++;
		json_decref(d.j);
	} else if (type == WINDOW_HEADER) {
		buf_adds(err, "the window file has a second header frame");
		rc = OODA_ECORRUPT;
	}
	return rc;
}

/* The end frame's counts must be what the file held. */
static int end_check(const struct buf *frame, const struct window_counts *c, struct buf *err)
{
	json_t *j = json_loadb(frame->data, frame->len, 0, NULL);
	json_int_t n[5] = { 0 };
	int rc = 0;
	if (!j || json_unpack(j, "{s:I,s:I,s:I,s:I,s:I}", "logs", &n[0], "spans", &n[1], "points", &n[2], "events",
			      &n[3], "docs", &n[4])) {
		buf_adds(err, "the window file's end frame is not valid");
		rc = OODA_ECORRUPT;
	} else if ((uint64_t)n[0] != c->logs || (uint64_t)n[1] != c->spans || (uint64_t)n[2] != c->points ||
		   (uint64_t)n[3] != c->events || (uint64_t)n[4] != c->docs) {
		buf_adds(err, "the window file's end frame counts differ from the records it holds");
		rc = OODA_ECORRUPT;
	}
	json_decref(j);
	return rc;
}

int window_import(FILE *in, struct tstore *t, struct store *s, struct window_header *h, struct window_counts *c,
		  struct buf *err)
{
	memset(c, 0, sizeof(*c));
	if (!t || !s)
		t = NULL, s = NULL;
	struct window_reader r;
	struct import_ctx x = { .t = t };
	arena_init(&x.arena, 0);
	arena_init(&x.blocks, 1 << 20);
	x.events.arena = &x.arena;
	int rc = window_reader_open(&r, in, h, err);
	int type = 0;
	/*
	 * A frame that does not decode is most often a damaged file: read on to
	 * the trailer (framing only), and report the checksum when it does not
	 * match, the frame's own complaint when it does.
	 */
	int bad = 0;
	struct buf why = BUF_INIT;
	while (!rc) {
		rc = window_reader_next(&r, &type, err);
		if (rc)
			break;
		c->frames++;
		if (type == WINDOW_END) {
			r.ended = true;
			if (!bad && !(bad = flush_events(&x, &why)))
				bad = end_check(&r.frame, c, &why);
		} else if (!bad) {
			bad = import_frame(&x, s, type, &r.frame, c, &why);
		}
	}
	if (rc == 1 && bad) {
		buf_add(err, why.data, why.len);
		rc = bad;
	}
	buf_release(&why);
	if (rc == 1)
		rc = 0;
	c->bytes = r.offset;
	memcpy(c->sha256, r.end.sha256, 32);
	window_reader_release(&r);
	arena_release(&x.arena);
	arena_release(&x.blocks);
	return rc;
}
