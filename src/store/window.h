/*
 * Window files: a time window of the telemetry and alert stores written to
 * one self-checking file (`ooda export`) and loaded back into a fresh data
 * dir (`ooda import`), so an incident's or a drill's data outlives
 * retention and can be studied, shared or replayed in a test. The format is
 * docs/export.md: magic and format version, a JSON header frame, framed
 * sections (log, span and metric blocks in the tblock encoding, change
 * events and alert document versions as JSON), an end frame with the
 * counts, and a trailer frame holding the SHA-256 of every byte before it.
 * Writing streams block by block (memory is bounded by one block); reading
 * checks every length against the limits below before reading, so a
 * truncated, damaged or hostile file is refused, never trusted.
 */
#ifndef OODA_WINDOW_H
#define OODA_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"
#include "store/store.h"
#include "store/tstore.h"

#define WINDOW_MAGIC "OODAWIN\n"      /* 8 bytes, then the format version as u32 LE */
#define WINDOW_FORMAT_VERSION 1
#define WINDOW_FRAME_MAX (64u << 20)  /* largest payload of any frame */
#define WINDOW_JSON_MAX (16u << 20)   /* largest header, event, document or end frame */
#define WINDOW_EVENTS_MAX 1000000     /* change events one window may carry */
#define WINDOW_DOCS_MAX 1000000       /* document versions one window may carry */

/* Frame types (u8). */
enum window_frame {
	WINDOW_HEADER = 1,  /* JSON: format, ooda_version, window, service filter */
	WINDOW_LOGS = 2,    /* one tblock-encoded log block */
	WINDOW_SPANS = 3,   /* one tblock-encoded span block */
	WINDOW_METRICS = 4, /* one tblock-encoded metric block */
	WINDOW_EVENT = 5,   /* JSON: one change event as GET /api/v1/events shows it */
	WINDOW_DOC = 6,     /* JSON: one document version (alerts) */
	WINDOW_END = 7,     /* JSON: the counts */
	WINDOW_SUM = 8,     /* 32 bytes: SHA-256 of every byte before this frame */
};

/* What a window file holds; from/to in unix ns, service "" for every service. */
struct window_header {
	int64_t from_ns, to_ns;
	char service[128];
	char ooda_version[32];
	int64_t created_ns;
};

struct window_counts {
	uint64_t logs, spans, points, events, docs;
	uint64_t frames;
	uint64_t bytes;          /* of the file */
	uint64_t skipped_blocks; /* export: damaged blocks of the source the scan passed over */
	uint8_t sha256[32];
};

/*
 * Writes the window h of t (logs, spans, metric points, change events) and
 * s (versions of alert documents written in the window) to out, streaming.
 * With h->service set, only that service's records, events and alerts.
 * Fills *c. Returns 0, or an error with detail (OODA_EIO when out cannot
 * be written, OODA_ELIMIT when the window holds more events or documents
 * than the limits); out then holds no valid file (no trailer).
 */
int window_export(struct tstore *t, struct store *s, const struct window_header *h, FILE *out,
		  struct window_counts *c, struct buf *err);

/*
 * Reads a window file from in, checking its framing, limits, checksum and
 * every frame's contents, and — when t and s are not NULL — loads it: blocks
 * and events through tstore_append, document versions with their original
 * time and author (vdoc_restore_tx). With t and s NULL it only checks (the
 * importer's first pass, the fuzz harness). Fills *h and *c. Refuses, with
 * OODA_ECORRUPT and what is wrong (naming the checksum, or "truncated" and
 * the offset), a damaged or cut file; OODA_ESCHEMA an unknown format
 * version. What was loaded before a failure is not undone: load into a
 * fresh data dir and discard it on failure (ooda import does).
 */
int window_import(FILE *in, struct tstore *t, struct store *s, struct window_header *h, struct window_counts *c,
		  struct buf *err);

/* ---- framing, for window.c and its tests -------------------------------- */

struct window_writer {
	FILE *f;
	void *sha;           /* crypto_hash_sha256_state */
	uint64_t bytes, frames;
};

/* Writes magic, version and the header frame. Caller calls window_writer_finish or _release. */
int window_writer_open(struct window_writer *w, FILE *f, const struct window_header *h, struct buf *err);
/* One frame; OODA_ELIMIT when len > WINDOW_FRAME_MAX, OODA_EIO when f fails. */
int window_writer_frame(struct window_writer *w, int type, const void *data, size_t len, struct buf *err);
/* Writes the end frame with c's counts and the checksum trailer; fills c->bytes, frames, sha256. */
int window_writer_finish(struct window_writer *w, struct window_counts *c, struct buf *err);
void window_writer_release(struct window_writer *w);

struct window_reader {
	FILE *f;
	void *sha;
	uint64_t offset;
	struct buf frame;    /* the current frame's payload */
	bool ended;          /* the end frame was read */
	struct window_counts end; /* its counts */
};

/* Reads and checks magic, version and the header frame into *h. */
int window_reader_open(struct window_reader *r, FILE *f, struct window_header *h, struct buf *err);
/*
 * The next frame: 0 with *type and the payload in r->frame; 1 after the
 * trailer matched and the file ended there; OODA_ECORRUPT (truncated,
 * checksum mismatch, unknown frame, bytes after the trailer) or
 * OODA_ELIMIT (a length over the limits) with detail.
 */
int window_reader_next(struct window_reader *r, int *type, struct buf *err);
void window_reader_release(struct window_reader *r);

#endif
