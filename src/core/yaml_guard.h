/*
 * The YAML guard: libfyaml 0.7 (Debian 12) can crash or loop on some
 * malformed documents, so every configuration text is first parsed in a
 * throw-away process with an alarm. A multi-threaded process must not do
 * that with a bare fork(): another thread may hold an allocator lock at
 * the moment of the fork, and the child then deadlocks on its first
 * allocation (observed under ASan as a reload refused with "did not
 * finish"). The daemon therefore starts a small guard process while it is
 * still single-threaded; the guard, itself single-threaded, forks one
 * child per text. Processes that never start the guard (the CLI, unit
 * tests) fork directly, which is safe while they have one thread.
 */
#ifndef OODA_YAML_GUARD_H
#define OODA_YAML_GUARD_H

#include <stddef.h>
#include <sys/types.h>

#include "core/buf.h"

enum yaml_verdict {
	YAML_PARSES = 0,     /* the parser finished (the text may still be invalid YAML) */
	YAML_CRASHED = 1,    /* the parser died on a signal */
	YAML_HUNG = 2,       /* the parser did not finish within the alarm */
};

/*
 * Starts the guard process. Call before the first thread is created; a
 * second call while one runs does nothing. Returns 0, or OODA_EIO with
 * detail in err (yaml_guard_check then falls back to a direct fork).
 */
int yaml_guard_start(struct buf *err);

/* Stops the guard (closes its socket and reaps it). Safe without a guard. */
void yaml_guard_stop(void);

/* The guard's process id, or 0 when none runs (for tests). */
pid_t yaml_guard_pid(void);

/*
 * Parses text in a throw-away process and says how that went. Thread-safe.
 * Returns an enum yaml_verdict, or a negative code when no process could
 * be made (the caller then parses in-process).
 */
int yaml_guard_check(const char *text, size_t len);

#endif
