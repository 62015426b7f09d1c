/*
 * RowBinary encoding and decoding and ClickHouse SQL quoting (rowbin.h):
 * the byte-level half of the ClickHouse telemetry backend.
 */
#include "store/rowbin.h"

#include <string.h>

void rowbin_u8(struct buf *b, uint8_t v)
{
	buf_add(b, &v, 1);
}

void rowbin_u16(struct buf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	buf_add(b, x, 2);
}

void rowbin_u64(struct buf *b, uint64_t v)
{
	uint8_t x[8];
	for (int i = 0; i < 8; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	buf_add(b, x, 8);
}

void rowbin_i64(struct buf *b, int64_t v)
{
	rowbin_u64(b, (uint64_t)v);
}

void rowbin_f64(struct buf *b, double v)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	rowbin_u64(b, u);
}

void rowbin_uleb(struct buf *b, uint64_t v)
{
	uint8_t x[10];
	size_t n = 0;
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		x[n++] = (uint8_t)(c | (v ? 0x80 : 0));
	} while (v);
	buf_add(b, x, n);
}

void rowbin_str(struct buf *b, const char *s, size_t len)
{
	rowbin_uleb(b, len);
	if (len)
		buf_add(b, s, len);
}

void rowbin_nstr(struct buf *b, const char *s)
{
	rowbin_u8(b, s ? 0 : 1);
	if (s)
		rowbin_str(b, s, strlen(s));
}

void rowbin_fixed(struct buf *b, const void *data, size_t n)
{
	buf_add(b, data, n);
}

void rowbin_u64s(struct buf *b, const uint64_t *v, size_t n)
{
	rowbin_uleb(b, n);
	for (size_t i = 0; i < n; i++)
		rowbin_u64(b, v[i]);
}

void rowbin_date_ns(struct buf *b, int64_t ns)
{
	int64_t d = ns / (INT64_C(86400) * 1000000000);
	rowbin_u16(b, (uint16_t)(d < 0 ? 0 : d > 65535 ? 65535 : d));
}

int rowbin_read_u64(struct rowbin_reader *r, uint64_t *out)
{
	if (r->end - r->p < 8)
		return 1;
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | r->p[i];
	r->p += 8;
	*out = v;
	return 0;
}

int rowbin_read_i64(struct rowbin_reader *r, int64_t *out)
{
	uint64_t u;
	if (rowbin_read_u64(r, &u))
		return 1;
	*out = (int64_t)u;
	return 0;
}

int rowbin_read_uleb(struct rowbin_reader *r, uint64_t *out)
{
	uint64_t v = 0;
	const uint8_t *p = r->p;
	for (int shift = 0; p < r->end && shift < 64; shift += 7) {
		uint8_t c = *p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			r->p = p;
			*out = v;
			return 0;
		}
	}
	return p < r->end ? -1 : 1; /* more than ten bytes is no length */
}

int rowbin_read_str(struct rowbin_reader *r, size_t max, const char **s, size_t *len)
{
	struct rowbin_reader t = *r;
	uint64_t n;
	int rc = rowbin_read_uleb(&t, &n);
	if (rc)
		return rc;
	if (n > max)
		return -1;
	if ((uint64_t)(t.end - t.p) < n)
		return 1;
	*s = (const char *)t.p;
	*len = (size_t)n;
	r->p = t.p + n;
	return 0;
}

int rowbin_read_nstr(struct rowbin_reader *r, size_t max, const char **s, size_t *len)
{
	if (r->p >= r->end)
		return 1;
	if (*r->p > 1)
		return -1;
	if (*r->p == 1) {
		r->p++;
		*s = NULL;
		*len = 0;
		return 0;
	}
	struct rowbin_reader t = { r->p + 1, r->end };
	int rc = rowbin_read_str(&t, max, s, len);
	if (!rc)
		r->p = t.p;
	return rc;
}

void chsql_quote(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	buf_addch(b, '\'');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\' || c == '\'') {
			buf_addch(b, '\\');
			buf_addch(b, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
			buf_add(b, e, 4);
		} else {
			buf_addch(b, (char)c);
		}
	}
	buf_addch(b, '\'');
}

bool chsql_ident_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (!n || n > 64 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}
