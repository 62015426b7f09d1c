/*
 * The ClickHouse schema of ooda's telemetry, as numbered migrations
 * (tstore_clickhouse.h), and the table of newer-server features applied on
 * top. One row per record; every table is partitioned by day (retention
 * drops whole days) and ordered by service then time, the way ooda reads:
 * a scan names a time range and often services. Spans feed `traces`, a
 * trace-id-ordered index (service, day) filled by a materialised view, so a
 * trace lookup reads only the parts that hold it. `tokens` holds each
 * record's token hashes (tblock_token_hash), which a search matches with
 * hasAll(). Written for 18.16, the oldest server ooda supports: no codecs,
 * no skipping indexes, no TTL in the base schema.
 */
#include "store/tstore_clickhouse.h"

#include <stddef.h>

static const char *const m1[] = {
	"CREATE TABLE IF NOT EXISTS {db}.logs (day Date, service String, time Int64, severity UInt8, "
	"trace_id FixedString(16), tokens Array(UInt64), rec String) "
	"ENGINE = MergeTree PARTITION BY day ORDER BY (service, time)",
	"CREATE TABLE IF NOT EXISTS {db}.spans (day Date, service String, tmin Int64, tmax Int64, "
	"trace_id FixedString(16), name String, tokens Array(UInt64), rec String) "
	"ENGINE = MergeTree PARTITION BY day ORDER BY (service, tmin)",
	"CREATE TABLE IF NOT EXISTS {db}.metrics (day Date, service String, name String, time Int64, "
	"tokens Array(UInt64), rec String) "
	"ENGINE = MergeTree PARTITION BY day ORDER BY (service, time)",
	"CREATE TABLE IF NOT EXISTS {db}.traces (trace_id FixedString(16), day Date, service String) "
	"ENGINE = MergeTree PARTITION BY day ORDER BY (trace_id, service)",
	"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.traces_mv TO {db}.traces AS "
	"SELECT trace_id, day, service FROM {db}.spans",
	"CREATE TABLE IF NOT EXISTS {db}.events (day Date, seq UInt64, ver UInt64, id String, time Int64, kind String, "
	"service Nullable(String), environment Nullable(String), version Nullable(String), actor Nullable(String), "
	"description Nullable(String), source Nullable(String), links Nullable(String), attrs String) "
	"ENGINE = ReplacingMergeTree(ver) PARTITION BY day ORDER BY id",
	NULL,
};

const char *const *const ch_migrations[CH_SCHEMA_VERSION] = { m1 };

/*
 * Applied at every open on servers new enough (failures are logged, not
 * fatal: the day-partition retention and the hasAll() scan work without
 * them). Versions as ClickHouse's changelog gives them; none is in 18.16,
 * so only the fallback is tested here (docs/scale.md).
 */
const struct ch_feature ch_features_table[] = {
	{ "retention as TTL", 19, 6, true,
	  "ALTER TABLE {db}.logs MODIFY TTL day + INTERVAL {days} DAY" },
	{ "retention as TTL", 19, 6, true,
	  "ALTER TABLE {db}.spans MODIFY TTL day + INTERVAL {days} DAY" },
	{ "retention as TTL", 19, 6, true,
	  "ALTER TABLE {db}.metrics MODIFY TTL day + INTERVAL {days} DAY" },
	{ "ZSTD codec for records", 19, 10, false, "ALTER TABLE {db}.logs MODIFY COLUMN rec String CODEC(ZSTD(1))" },
	{ "ZSTD codec for records", 19, 10, false, "ALTER TABLE {db}.spans MODIFY COLUMN rec String CODEC(ZSTD(1))" },
	{ "ZSTD codec for records", 19, 10, false, "ALTER TABLE {db}.metrics MODIFY COLUMN rec String CODEC(ZSTD(1))" },
	{ "trace id bloom-filter index", 20, 1, false,
	  "ALTER TABLE {db}.logs ADD INDEX IF NOT EXISTS trace_bf trace_id TYPE bloom_filter GRANULARITY 4" },
	{ "token bloom-filter index", 20, 1, false,
	  "ALTER TABLE {db}.logs ADD INDEX IF NOT EXISTS tokens_bf tokens TYPE bloom_filter GRANULARITY 4" },
	{ NULL, 0, 0, false, NULL },
};
