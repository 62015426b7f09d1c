/*
 * The stage table of the daemon: one row per stage of the loop (SLOs,
 * change, detect, and later respond and remedy) saying which sections of
 * ooda.yaml it checks, how it starts, reloads, which engine ticks it adds
 * and how it stops. daemon.c walks the rows — start in table order, a
 * reload checks every row and then applies every row, stop in reverse
 * order — and knows no stage by name. The rows and their glue live in
 * stages.c; adding a stage is its folder, its fields in struct daemon and
 * one row there (docs/architecture.md, "Adding a stage").
 */
#ifndef OODA_STAGE_H
#define OODA_STAGE_H

#include "api/daemon.h"
#include "web/stream.h"

/* One ooda.yaml section and the stage's semantic check of it (core/config.h). */
struct stage_section {
	const char *section;
	config_check_fn *check;
};

struct stage {
	const char *name;
	/* the sections this stage owns; registered with config_register_check at process start */
	const struct stage_section *sections;
	size_t n_sections;
	/*
	 * Creates the stage's objects from d->cfg, applies its sections and
	 * starts its worker threads. On error the row's stop() still runs.
	 */
	int (*start)(struct daemon *d, struct buf *err);
	/*
	 * Checks (apply false) or applies (apply true) the stage's sections of
	 * cfg on a running daemon (SIGHUP, POST /api/v1/config/reload). A
	 * summary of what changed may be written to changes: it is logged and
	 * audited as {"<stage name>": changes}; key
	 * paths in err, prefixed with the file. Apply runs only after every
	 * row's check passed, so it fails only when out of memory.
	 */
	int (*reload)(struct daemon *d, const struct config *cfg, bool apply, struct buf *changes, struct buf *err);
	/* Adds the stage's callbacks to the engine thread (engine_add), in the order they tick; may be NULL. */
	int (*add_ticks)(struct daemon *d, struct engine *e);
	/*
	 * Stops the stage's threads and frees what start() made. Runs after the
	 * HTTP server stopped and the engine thread was joined, in reverse table
	 * order, and on a failed start: must accept a half-started stage.
	 */
	void (*stop)(struct daemon *d);
	/*
	 * May be NULL. Called in table order as soon as a stop is asked for
	 * (SIGTERM, SIGINT), before HTTP drains: the stage starts no new side
	 * effect (a queued rollback run stays stored and resumes at the next
	 * start); what is in hand finishes. Must not block.
	 */
	void (*quiesce)(struct daemon *d);
};

/* The rows, in start order. */
extern const struct stage daemon_stages[];
extern const size_t daemon_n_stages;

#endif
