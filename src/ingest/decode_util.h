/*
 * Shared plumbing of the ingest decoders (OTLP, remote-write, NDJSON,
 * change events): a decode context that grows the batch's record arrays in
 * its arena, enforces the per-batch limits, counts rejected records for
 * partial success, and lifts the indexed resource dimensions out of
 * attributes. Internal to src/ingest; not part of the daemon's API.
 */
#ifndef OODA_DECODE_UTIL_H
#define OODA_DECODE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "model/record.h"

#define DECODE_MAX_RECORDS 1000000u /* records of one kind per batch */
#define DECODE_MAX_DEPTH 64         /* nesting of JSON and AnyValue */
#define DECODE_MAX_ATTR_LEN 65536u  /* attribute key or value bytes */
#define DECODE_MAX_ATTRS 65536u     /* attributes on one record */

struct dec {
	struct telemetry_batch *b;
	struct buf *err;
	int rc; /* first hard failure (limit, arena exhausted), 0 if none */
	size_t cap_logs, cap_spans, cap_points, cap_events;
	struct buf scratch; /* JSON text of structured values */
	struct buf key;     /* dotted keys while flattening JSON */
};

void dec_init(struct dec *d, struct telemetry_batch *b, struct buf *err);
void dec_release(struct dec *d);

/* Arena allocation; on exhaustion sets d->rc = OODA_ETOOBIG and returns NULL. */
void *dec_alloc(struct dec *d, size_t size);
void *dec_zalloc(struct dec *d, size_t size);
char *dec_strndup(struct dec *d, const char *s, size_t len);

/*
 * Appends one zeroed record and returns it, or NULL when the batch limit
 * or the arena limit is reached (d->rc and d->err say which).
 */
struct log_record *dec_push_log(struct dec *d);
struct span *dec_push_span(struct dec *d);
struct metric_point *dec_push_point(struct dec *d);
struct change_event *dec_push_event(struct dec *d);

/*
 * Makes room for element n of arr (n used, *cap allocated, elem bytes each),
 * doubling in the arena. Returns the (possibly moved) array, or NULL past
 * limit elements or the arena limit (d->rc, d->err say which; what names
 * the elements in the message).
 */
void *dec_grow(struct dec *d, void *arr, size_t n, size_t *cap, size_t elem, size_t limit,
	       const char *what);

/* Appends one zeroed attribute to a, growing it in the arena; NULL on limits. */
struct attr *dec_push_attr(struct dec *d, struct attrs *a, uint32_t *cap);

/* Counts a skipped record; the first message becomes batch->reject_msg. */
void dec_reject(struct dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fills the indexed fields of r from r->attrs; service defaults to "unknown". */
void dec_lift_resource(struct resource *r);


/*
 * OTel SeverityNumber for a level word (trace, debug, info, warn, warning,
 * error, fatal, critical; any case) or an enum name such as
 * "SEVERITY_NUMBER_ERROR2". Returns -1 if unknown.
 */
int dec_severity_text(const char *s, size_t len);

struct jval;

/*
 * Appends the members of a JSON object to as, nested objects flattened with
 * dots ({"user":{"id":42}} → "user.id" = 42), arrays as ATTR_JSON text,
 * integers as ATTR_INT, other numbers as ATTR_DOUBLE; nulls are dropped.
 * Top-level members named in skip (NULL-terminated, may be NULL) are left
 * out. Strings are copied into the batch arena. Returns 0, a negative
 * OODA_E* on limits, or 1 with *why set when a key or value passes 64 KiB.
 */
int dec_json_attrs(struct dec *d, const struct jval *obj, const char *const *skip, struct attrs *as,
		   uint32_t *cap, const char **why);

/*
 * Appends one member m of a JSON object to as, under the same rules as
 * dec_json_attrs (an object member is flattened). Same returns.
 */
int dec_json_attr(struct dec *d, const struct jval *m, struct attrs *as, uint32_t *cap, const char **why);

/* true if the n bytes at s equal the NUL-terminated word w. */
static inline bool dec_eq(const char *s, size_t n, const char *w)
{
	if (n == 0)
		return w[0] == '\0';
	if (s[0] != w[0])
		return false;
	size_t wl = strlen(w);
	return wl == n && memcmp(s, w, n) == 0;
}

#endif
