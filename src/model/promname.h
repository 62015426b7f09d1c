/*
 * OTLP metric and attribute names as Prometheus names: the translation
 * Prometheus' own OTLP receiver and the OpenTelemetry Collector's
 * Prometheus exporters apply (the OpenTelemetry "Prometheus and
 * OpenMetrics Compatibility" rules), so dashboards and alert rules written
 * for that path find the same series in ooda. The query side
 * (query/metrics.c) turns stored points into series with it; the block
 * writer (store/tblock_write.c) indexes the translated names with it.
 */
#ifndef OODA_PROMNAME_H
#define OODA_PROMNAME_H

#include <stddef.h>

/*
 * How names are written (ingest.otlp_translation_strategy):
 * UNDERSCORE_ESCAPING is Prometheus 2's only way and Prometheus 3's
 * default: every character outside [a-zA-Z0-9_:] becomes `_`.
 * NO_UTF8_ESCAPING keeps the characters (Prometheus 3's
 * NoUTF8EscapingWithSuffixes); both add the unit and type suffixes.
 */
enum promname_strategy { PROMNAME_UNDERSCORE_ESCAPING = 0, PROMNAME_NO_UTF8_ESCAPING = 1 };

/* The strategies' names as ooda.yaml spells them, by value, NULL-terminated. */
extern const char *const promname_strategy_names[];

/* The strategy named s, or -1 when s names none. */
int promname_strategy_parse(const char *s);

/* What the metric is, for the suffixes: `_total` on counters, `_ratio` on gauges of unit "1". */
enum promname_kind {
	PROMNAME_GAUGE,   /* an OTLP gauge */
	PROMNAME_COUNTER, /* a monotonic sum */
	PROMNAME_OTHER,   /* a non-monotonic sum, a histogram, a summary */
};

/* The longest name written; longer inputs are cut (at a character boundary). */
#define PROMNAME_MAX 256

/*
 * Writes the Prometheus metric (family) name of the OTLP metric name with
 * unit (NULL or "" for none) into out (size bytes, NUL-terminated; at
 * most PROMNAME_MAX bytes are used): the name split into words at every
 * character outside [a-zA-Z0-9:] (so runs collapse and ends are trimmed),
 * the unit's word appended unless a word of the name already is it
 * (`s` → seconds, `By` → bytes, `{packets}` → nothing, `m/s` →
 * meters_per_second), `total` moved to the end of a counter, `ratio`
 * appended to a gauge of unit "1", and `_` in front of a leading digit.
 * A histogram's series add _bucket, _sum and _count to it. Returns the
 * length written.
 */
size_t promname_metric(const char *name, const char *unit, enum promname_kind kind, int strategy, char *out,
		       size_t size);

/*
 * Writes the Prometheus label name of an OTLP attribute key into out
 * (size bytes, NUL-terminated): every character outside [a-zA-Z0-9_]
 * becomes `_`, a leading digit gets `key_` in front and a single leading
 * `_` gets `key` (a leading `__` stays). NO_UTF8_ESCAPING keeps the key
 * as it is. Returns the length written.
 */
size_t promname_label(const char *key, int strategy, char *out, size_t size);

#endif
