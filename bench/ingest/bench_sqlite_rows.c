/*
 * Baseline: plain SQLite, one row per log record. Reads an NDJSON pack (see
 * bench_gen.c), parses each line with jansson, and inserts one row per record
 * (time, service, severity, body, trace_id, attrs as JSON text) with a prepared
 * statement; WAL, one transaction per request body, synchronous=FULL so each
 * commit is durable like an acknowledged ingest request.
 *
 *   bench_sqlite_rows PACK DB
 * prints {"records":..,"bytes":..,"seconds":..}
 */
#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void check(int rc, sqlite3 *db, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		fprintf(stderr, "bench_sqlite_rows: %s: %s\n", what, sqlite3_errmsg(db));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bench_sqlite_rows PACK DB\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	sqlite3 *db;
	check(sqlite3_open(argv[2], &db), db, "open");
	check(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			       "CREATE TABLE logs(time INTEGER, service TEXT, severity TEXT, body TEXT, trace_id TEXT, attrs TEXT);"
			       "CREATE INDEX logs_service_time ON logs(service, time);",
			   NULL, NULL, NULL),
	      db, "schema");
	sqlite3_stmt *ins;
	check(sqlite3_prepare_v2(db, "INSERT INTO logs VALUES (?,?,?,?,?,?)", -1, &ins, NULL), db, "prepare");
	uint64_t records = 0, bytes = 0;
	char *body = NULL;
	size_t cap = 0;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	uint32_t h[2];
	while (fread(h, 4, 2, f) == 2) {
		if (h[0] + 1 > cap) {
			cap = h[0] + 1;
			body = realloc(body, cap);
		}
		if (fread(body, 1, h[0], f) != h[0])
			break;
		body[h[0]] = 0;
		bytes += h[0];
		check(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), db, "begin");
		for (char *line = body, *nl; *line; line = nl + 1) {
			nl = strchr(line, '\n');
			if (!nl)
				break;
			json_error_t je;
			json_t *o = json_loadb(line, (size_t)(nl - line), 0, &je);
			if (!o)
				continue;
			json_t *attrs = json_object();
			const char *k;
			json_t *v;
			json_object_foreach(o, k, v)
			{
				if (strcmp(k, "time") && strcmp(k, "service") && strcmp(k, "severity") && strcmp(k, "body") &&
				    strcmp(k, "trace_id"))
					json_object_set(attrs, k, v);
			}
			char *aj = json_dumps(attrs, JSON_COMPACT);
			sqlite3_bind_int64(ins, 1, json_integer_value(json_object_get(o, "time")));
			sqlite3_bind_text(ins, 2, json_string_value(json_object_get(o, "service")), -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 3, json_string_value(json_object_get(o, "severity")), -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 4, json_string_value(json_object_get(o, "body")), -1, SQLITE_STATIC);
			const char *tid = json_string_value(json_object_get(o, "trace_id"));
			if (tid)
				sqlite3_bind_text(ins, 5, tid, -1, SQLITE_STATIC);
			else
				sqlite3_bind_null(ins, 5);
			sqlite3_bind_text(ins, 6, aj, -1, SQLITE_STATIC);
			check(sqlite3_step(ins), db, "insert");
			sqlite3_reset(ins);
			free(aj);
			json_decref(attrs);
			json_decref(o);
			records++;
		}
		check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "commit");
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	sqlite3_finalize(ins);
	check(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), db, "checkpoint");
	sqlite3_close(db);
	double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("{\"records\":%llu,\"bytes\":%llu,\"seconds\":%.4f}\n", (unsigned long long)records,
	       (unsigned long long)bytes, secs);
	return 0;
}
