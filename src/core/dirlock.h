/*
 * The data dir's lock: `ooda serve` holds an exclusive lock on
 * DIR/ooda.lock (flock) for as long as it runs, so a second daemon on the
 * same data dir is refused, and offline commands that must not run beside a
 * daemon (`ooda migrate`) can tell that one is there. The kernel drops the
 * lock when the process ends, however it ends (kill -9 included): a stale
 * lock file never blocks anything.
 */
#ifndef OODA_DIRLOCK_H
#define OODA_DIRLOCK_H

#include "core/buf.h"

/*
 * Takes the lock of data dir dir without waiting, creating dir and
 * DIR/ooda.lock if needed and writing the holder's process id into it. Returns the open
 * descriptor (>= 0; the lock lasts until dirlock_release or the process
 * ends); OODA_EBUSY when another process holds it, with detail naming
 * what names the holder (`who`, e.g. "an ooda serve") and its pid;
 * OODA_EIO when the file cannot be made, with detail.
 */
int dirlock_take(const char *dir, const char *who, struct buf *err);

/* Drops the lock taken by dirlock_take (fd < 0 is a no-op). */
void dirlock_release(int fd);

#endif
