/*
 * The ClickHouse telemetry backend (tstore_clickhouse.c): its schema, the
 * server features it uses when the version has them, and the pieces the
 * unit tests reach (the SQL a scan sends, the URL check). Callers open it
 * through tstore_open with tstore_options.backend = "clickhouse".
 */
#ifndef OODA_TSTORE_CLICKHOUSE_H
#define OODA_TSTORE_CLICKHOUSE_H

#include <stdbool.h>

#include "core/buf.h"
#include "store/tstore.h"

/* The number of migrations in ch_migrations (its schema_version table). */
#define CH_SCHEMA_VERSION 1

/* Migration N (1-based) is ch_migrations[N - 1]: NULL-terminated statements; {db} names the database. */
extern const char *const *const ch_migrations[CH_SCHEMA_VERSION];

/* A feature of newer servers: sql runs at open when the version is at least major.minor. */
struct ch_feature {
	const char *what;     /* for the log line */
	int major, minor;
	bool needs_retention; /* only with a retention age ({days} in sql) */
	const char *sql;
};
/* Terminated by a row with what NULL. */
extern const struct ch_feature ch_features_table[];

/*
 * Appends to sql the SELECT a scan sends: q's time range, services,
 * minimum severity, trace id and tokens as WHERE clauses, every string
 * quoted with chsql_quote. Returns 0, or OODA_EINVAL for a bad signal.
 */
int ch_scan_sql(const char *db, const struct tstore_scan *q, struct buf *sql);

/* 0 when url is http(s)://host[:port] with no user info, path or query; else OODA_EINVAL, why in err. */
int ch_url_check(const char *url, struct buf *err);

#endif
