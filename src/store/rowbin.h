/*
 * ClickHouse's RowBinary format, both ways: the encoder that turns records
 * into the body of one INSERT … FORMAT RowBinary (tstore_clickhouse.c), and
 * the bounded reader that walks the rows a SELECT … FORMAT RowBinary answers.
 * Integers and floats are little-endian and fixed-width, strings carry an
 * unsigned LEB128 length, Nullable(T) a 0/1 byte before T, Array(T) a LEB128
 * count before its elements, Date the days since 1970-01-01 as UInt16.
 * Also here: the quoting of a value into ClickHouse SQL text, the one way
 * ooda's values reach a query string.
 */
#ifndef OODA_ROWBIN_H
#define OODA_ROWBIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

void rowbin_u8(struct buf *b, uint8_t v);
void rowbin_u16(struct buf *b, uint16_t v);
void rowbin_u64(struct buf *b, uint64_t v);
void rowbin_i64(struct buf *b, int64_t v);
void rowbin_f64(struct buf *b, double v);
/* Unsigned LEB128, as lengths and counts are written. */
void rowbin_uleb(struct buf *b, uint64_t v);
/* String: length then bytes. s may be NULL when len is 0. */
void rowbin_str(struct buf *b, const char *s, size_t len);
/* Nullable(String): NULL s writes the null marker. */
void rowbin_nstr(struct buf *b, const char *s);
/* FixedString(n): exactly n bytes. */
void rowbin_fixed(struct buf *b, const void *data, size_t n);
/* Array(UInt64). */
void rowbin_u64s(struct buf *b, const uint64_t *v, size_t n);
/* Date of a Unix time in nanoseconds (days since the epoch, clamped to 0..65535). */
void rowbin_date_ns(struct buf *b, int64_t ns);

/* A reader over bytes [p, end); every read checks what is left. */
struct rowbin_reader {
	const uint8_t *p, *end;
};
/* Each returns 0, or 1 when the input ends before the value does (p unmoved). */
int rowbin_read_i64(struct rowbin_reader *r, int64_t *out);
int rowbin_read_u64(struct rowbin_reader *r, uint64_t *out);
int rowbin_read_uleb(struct rowbin_reader *r, uint64_t *out);
/* A string of at most max bytes: points into the input. Returns -1 past max. */
int rowbin_read_str(struct rowbin_reader *r, size_t max, const char **s, size_t *len);
/* Nullable(String): *s NULL for null. */
int rowbin_read_nstr(struct rowbin_reader *r, size_t max, const char **s, size_t *len);

/*
 * Appends s[0..len) as a ClickHouse string literal: in single quotes, with
 * backslash and quote escaped by a backslash and every byte below 0x20 and
 * 0x7f as \xHH, so no value can end the literal or reach the parser.
 */
void chsql_quote(struct buf *b, const char *s, size_t len);
/* Is s a plain identifier (1..64 of [A-Za-z0-9_], not starting with a digit)? */
bool chsql_ident_ok(const char *s);

#endif
