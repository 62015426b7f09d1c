/*
 * The protobuf wire format, read by hand for the ingest decoders (OTLP and
 * Prometheus remote-write): varint, 64-bit, length-delimited and 32-bit
 * fields over a bounded byte range. Every read checks the remaining length
 * first. Internal to src/ingest.
 */
#ifndef OODA_PBWIRE_H
#define OODA_PBWIRE_H

#include <stddef.h>
#include <stdint.h>

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

struct pbf {
	uint32_t num, wt;
	uint64_t u;          /* varint, I64, I32 */
	const uint8_t *data; /* LEN */
	size_t len;
	const uint8_t *at;   /* where the tag starts */
};

struct pbr {
	const uint8_t *p, *end;
};

static inline int pb_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	const uint8_t *p = *pp;
	if (p < end && *p < 0x80) { /* the common one-byte case */
		*out = *p;
		*pp = p + 1;
		return 0;
	}
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (p >= end)
			return -1;
		uint8_t b = *p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			*pp = p;
			return 0;
		}
	}
	return -1;
}

static inline uint64_t le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

/*
 * Reads the next field of r into f. Returns 1 when a field was read, 0 at
 * the end of the range, -1 on malformed input with *why set (f->at is then
 * where the bad field starts).
 */
static inline int pbw_next(struct pbr *r, struct pbf *f, const char **why)
{
	if (r->p >= r->end)
		return 0;
	f->at = r->p;
	uint64_t tag;
	if (pb_varint(&r->p, r->end, &tag)) {
		*why = "truncated or overlong field tag";
		return -1;
	}
	f->num = (uint32_t)(tag >> 3);
	f->wt = (uint32_t)(tag & 7);
	if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) {
		*why = "invalid field number";
		return -1;
	}
	switch (f->wt) {
	case WT_VARINT:
		if (pb_varint(&r->p, r->end, &f->u)) {
			*why = "truncated varint";
			return -1;
		}
		return 1;
	case WT_I64:
		if (r->end - r->p < 8) {
			*why = "truncated 64-bit field";
			return -1;
		}
		f->u = le64(r->p);
		r->p += 8;
		return 1;
	case WT_I32:
		if (r->end - r->p < 4) {
			*why = "truncated 32-bit field";
			return -1;
		}
		f->u = (uint64_t)r->p[0] | (uint64_t)r->p[1] << 8 | (uint64_t)r->p[2] << 16 |
		       (uint64_t)r->p[3] << 24;
		r->p += 4;
		return 1;
	case WT_LEN: {
		uint64_t n;
		if (pb_varint(&r->p, r->end, &n)) {
			*why = "truncated length";
			return -1;
		}
		if (n > (uint64_t)(r->end - r->p)) {
			*why = "length-delimited field runs past its message";
			return -1;
		}
		f->data = r->p;
		f->len = (size_t)n;
		r->p += n;
		return 1;
	}
	default:
		*why = "unsupported wire type";
		return -1;
	}
}

#endif
