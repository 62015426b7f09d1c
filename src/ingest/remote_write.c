/*
 * Prometheus remote-write decoding (see remote_write.h): snappy block
 * decompression with a size cap, then a hand-rolled walk of
 * WriteRequest { TimeSeries timeseries = 1 { Label labels = 1 { name = 1,
 * value = 2 }, Sample samples = 2 { double value = 1, int64 timestamp = 2 } } }.
 * Metadata (field 3) is decoded on request (remote_write_decode_meta);
 * exemplars and native histograms are skipped.
 */
#include "ingest/remote_write.h"

#include <snappy-c.h>

#include "core/error.h"
#include "core/time.h"

#include <inttypes.h>
#include "ingest/decode_util.h"
#include "ingest/pbwire.h"

#define RW_MAX_UNCOMPRESSED ((size_t)256 << 20)

enum { WRITEREQ_TIMESERIES = 1, WRITEREQ_METADATA = 3 };
enum { META_TYPE = 1, META_NAME = 2, META_HELP = 4, META_UNIT = 5 };
enum { SERIES_LABELS = 1, SERIES_SAMPLES = 2 };
enum { LABEL_NAME = 1, LABEL_VALUE = 2 };
enum { SAMPLE_VALUE = 1, SAMPLE_TIMESTAMP = 2 };

#define RW_RESOURCE_CACHE 64

struct rw {
	struct dec d;
	const uint8_t *base;
	struct resource *res[RW_RESOURCE_CACHE];
	size_t n_res, next_res;
};

static int rw_error(struct rw *c, const uint8_t *at, const char *why)
{
	if (c->d.err)
		buf_addf(c->d.err, "remote-write protobuf: %s at byte %zu of the uncompressed body", why,
			 (size_t)(at - c->base));
	return OODA_EPARSE;
}

static const struct resource *rw_resource(struct rw *c, const char *job, const char *instance)
{
	job = job ? job : "prometheus";
	for (size_t i = 0; i < c->n_res; i++) {
		const struct resource *r = c->res[i];
		if (!strcmp(r->service, job) &&
		    ((!r->host && !instance) || (r->host && instance && !strcmp(r->host, instance))))
			return r;
	}
	struct resource *r = dec_zalloc(&c->d, sizeof(*r));
	if (!r)
		return NULL;
	r->service = job;
	r->host = instance;
	if (c->n_res < RW_RESOURCE_CACHE)
		c->res[c->n_res++] = r;
	else
		c->res[c->next_res++ % RW_RESOURCE_CACHE] = r;
	return r;
}

static int rw_series(struct rw *c, const uint8_t *p, size_t n)
{
	struct pbr r = { p, p + n };
	struct pbf f;
	const char *why = NULL, *name = NULL, *job = NULL, *instance = NULL;
	struct attrs attrs = { 0 };
	uint32_t cap = 0;
	const char *bad = NULL;
	int rc;
	/* labels first: samples may precede them on the wire */
	while ((rc = pbw_next(&r, &f, &why)) > 0) {
		if (f.num != SERIES_LABELS)
			continue;
		if (f.wt != WT_LEN)
			return rw_error(c, f.at, "label is not length-delimited");
		struct pbr lr = { f.data, f.data + f.len };
		struct pbf lf;
		const uint8_t *ln = NULL, *lv = NULL;
		size_t lnl = 0, lvl = 0;
		while ((rc = pbw_next(&lr, &lf, &why)) > 0) {
			if ((lf.num == LABEL_NAME || lf.num == LABEL_VALUE) && lf.wt != WT_LEN)
				return rw_error(c, lf.at, "label name or value is not length-delimited");
			if (lf.num == LABEL_NAME) {
				ln = lf.data;
				lnl = lf.len;
			} else if (lf.num == LABEL_VALUE) {
				lv = lf.data;
				lvl = lf.len;
			}
		}
		if (rc < 0)
			return rw_error(c, lf.at, why);
		if (lnl > DECODE_MAX_ATTR_LEN || lvl > DECODE_MAX_ATTR_LEN) {
			bad = "label longer than 65536 bytes";
			continue;
		}
		char *v = dec_strndup(&c->d, (const char *)(lv ? lv : (const uint8_t *)""), lvl);
		if (!v)
			return c->d.rc;
		if (dec_eq((const char *)ln, lnl, "__name__")) {
			name = v;
			continue;
		}
		if (dec_eq((const char *)ln, lnl, "job"))
			job = v;
		else if (dec_eq((const char *)ln, lnl, "instance"))
			instance = v;
		struct attr *a = dec_push_attr(&c->d, &attrs, &cap);
		if (!a)
			return c->d.rc;
		a->key = dec_strndup(&c->d, (const char *)(ln ? ln : (const uint8_t *)""), lnl);
		if (!a->key)
			return c->d.rc;
		a->type = ATTR_STR;
		a->s = v;
		a->len = (uint32_t)lvl;
	}
	if (rc < 0)
		return rw_error(c, f.at, why);
	if (!name || !*name)
		bad = bad ? bad : "series without a __name__ label";
	const struct resource *res = NULL;
	if (!bad && !(res = rw_resource(c, job, instance)))
		return c->d.rc;
	r = (struct pbr){ p, p + n };
	while ((rc = pbw_next(&r, &f, &why)) > 0) {
		if (f.num != SERIES_SAMPLES)
			continue;
		if (f.wt != WT_LEN)
			return rw_error(c, f.at, "sample is not length-delimited");
		double value = 0;
		int64_t ts = 0;
		struct pbr sr = { f.data, f.data + f.len };
		struct pbf sf;
		while ((rc = pbw_next(&sr, &sf, &why)) > 0) {
			if (sf.num == SAMPLE_VALUE) {
				if (sf.wt != WT_I64)
					return rw_error(c, sf.at, "sample value is not a double");
				memcpy(&value, &sf.u, 8);
			} else if (sf.num == SAMPLE_TIMESTAMP) {
				if (sf.wt != WT_VARINT)
					return rw_error(c, sf.at, "sample timestamp is not a varint");
				ts = (int64_t)sf.u;
			}
		}
		if (rc < 0)
			return rw_error(c, sf.at, why);
		if (bad) {
			dec_reject(&c->d, "%s", bad);
			continue;
		}
		int64_t t_ns;
		if (ooda_ns_mul(ts, OODA_NS_PER_MS, &t_ns) || !ooda_time_valid(t_ns)) {
			dec_reject(&c->d, "sample timestamp %" PRId64 " ms is outside 1970 to 2262", ts);
			continue;
		}
		struct metric_point *pt = dec_push_point(&c->d);
		if (!pt)
			return c->d.rc;
		pt->name = name;
		pt->type = METRIC_GAUGE;
		pt->prom_native = true;
		pt->resource = res;
		pt->attrs = attrs;
		pt->value = value;
		pt->time_ns = t_ns;
	}
	if (rc < 0)
		return rw_error(c, f.at, why);
	return 0;
}

/* Prometheus' MetricMetadata.MetricType, by number. */
static const char *const meta_types[] = { "unknown", "counter", "gauge", "histogram", "gaugehistogram",
					  "summary", "info", "stateset" };

static int rw_metadata(struct rw *c, const uint8_t *p, size_t n, struct rw_metadata *m)
{
	struct pbr r = { p, p + n };
	struct pbf f;
	const char *why = NULL;
	int rc;
	const char **dst;
	*m = (struct rw_metadata){ .type = "unknown", .help = "", .unit = "" };
	while ((rc = pbw_next(&r, &f, &why)) > 0) {
		switch (f.num) {
		case META_TYPE:
			if (f.wt != WT_VARINT)
				return rw_error(c, f.at, "metadata type is not a varint");
			m->type = f.u < sizeof(meta_types) / sizeof(meta_types[0]) ? meta_types[f.u] : "unknown";
			continue;
		case META_NAME: dst = &m->name; break;
		case META_HELP: dst = &m->help; break;
		case META_UNIT: dst = &m->unit; break;
		default: continue;
		}
		if (f.wt != WT_LEN)
			return rw_error(c, f.at, "metadata string is not length-delimited");
		if (!(*dst = dec_strndup(&c->d, (const char *)f.data, f.len)))
			return c->d.rc;
	}
	if (rc < 0)
		return rw_error(c, f.at, why ? why : "bad metadata");
	return 0;
}

int remote_write_decode(const void *body, size_t len, struct telemetry_batch *batch, struct buf *err)
{
	return remote_write_decode_meta(body, len, batch, NULL, NULL, err);
}

int remote_write_decode_meta(const void *body, size_t len, struct telemetry_batch *batch,
			     struct rw_metadata **meta, size_t *n_meta, struct buf *err)
{
	size_t meta_cap = 0;
	if (meta) {
		*meta = NULL;
		*n_meta = 0;
	}
	size_t ulen;
	if (snappy_uncompressed_length(body, len, &ulen) != SNAPPY_OK) {
		if (err)
			buf_adds(err, "remote-write: body is not a snappy block");
		return OODA_EPARSE;
	}
	if (ulen > RW_MAX_UNCOMPRESSED) {
		if (err)
			buf_addf(err, "remote-write: uncompressed body of %zu bytes exceeds 256 MiB", ulen);
		return OODA_ETOOBIG;
	}
	char *raw = malloc(ulen ? ulen : 1); /* sized by input: checked */
	if (!raw) {
		if (err)
			buf_addf(err, "remote-write: no memory for the %zu-byte uncompressed body; retry later", ulen);
		return OODA_ENOMEM;
	}
	size_t got = ulen;
	if (snappy_uncompress(body, len, raw, &got) != SNAPPY_OK || got != ulen) {
		free(raw);
		if (err)
			buf_adds(err, "remote-write: corrupt snappy block");
		return OODA_EPARSE;
	}
	struct rw c = { .base = (const uint8_t *)raw };
	dec_init(&c.d, batch, err);
	struct pbr r = { c.base, c.base + ulen };
	struct pbf f;
	const char *why = NULL;
	int rc;
	while ((rc = pbw_next(&r, &f, &why)) > 0) {
		if (f.num == WRITEREQ_METADATA && meta) {
			if (f.wt != WT_LEN) {
				rc = rw_error(&c, f.at, "metadata is not length-delimited");
				break;
			}
			if (*n_meta >= RW_MAX_METADATA)
				continue;
			if (*n_meta == meta_cap) {
				size_t nc = meta_cap ? meta_cap * 2 : 16;
				struct rw_metadata *nm = dec_alloc(&c.d, nc * sizeof(*nm));
				if (!nm) {
					rc = c.d.rc;
					break;
				}
				if (*n_meta)
					memcpy(nm, *meta, *n_meta * sizeof(*nm));
				*meta = nm;
				meta_cap = nc;
			}
			if ((rc = rw_metadata(&c, f.data, f.len, &(*meta)[*n_meta])) < 0)
				break;
			if ((*meta)[*n_meta].name && *(*meta)[*n_meta].name)
				(*n_meta)++;
			continue;
		}
		if (f.num != WRITEREQ_TIMESERIES)
			continue;
		if (f.wt != WT_LEN) {
			rc = rw_error(&c, f.at, "timeseries is not length-delimited");
			break;
		}
		if ((rc = rw_series(&c, f.data, f.len)) < 0)
			break;
	}
	if (rc < 0 && why && rc == -1)
		rc = rw_error(&c, f.at, why);
	dec_release(&c.d);
	free(raw);
	return rc < 0 ? rc : 0;
}
