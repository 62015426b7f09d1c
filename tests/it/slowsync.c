/*
 * A slow disk for integration tests, preloaded into the daemon
 * (LD_PRELOAD): once the file named by OODA_TEST_SLOW_SYNC_FLAG exists,
 * every fsync/fdatasync of a file whose path contains "telemetry.db"
 * first sleeps OODA_TEST_SLOW_SYNC_MS milliseconds. When
 * OODA_TEST_SLOW_SYNC_COUNT names a file, one byte is appended to it after
 * each slowed sync has completed, so a test counts the slow syncs by the
 * file's size instead of timing them. Everything else is passed straight to
 * the C library.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Returns 1 when this sync was slowed (and is to be counted once done). */
static int maybe_slow(int fd)
{
	const char *flag = getenv("OODA_TEST_SLOW_SYNC_FLAG");
	const char *ms = getenv("OODA_TEST_SLOW_SYNC_MS");
	if (!flag || !ms || access(flag, F_OK) != 0)
		return 0;
	char link[64], path[4096];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	if (!strstr(path, "telemetry.db"))
		return 0;
	long v = atol(ms);
	struct timespec ts = { v / 1000, (v % 1000) * 1000000L };
	nanosleep(&ts, NULL);
	return 1;
}

static void count_slow(void)
{
	const char *file = getenv("OODA_TEST_SLOW_SYNC_COUNT");
	if (!file)
		return;
	int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	ssize_t w = write(fd, "s", 1);
	(void)w;
	close(fd);
}

int fdatasync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	int slowed = maybe_slow(fd);
	int rc = real(fd);
	if (slowed)
		count_slow();
	return rc;
}

int fsync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	int slowed = maybe_slow(fd);
	int rc = real(fd);
	if (slowed)
		count_slow();
	return rc;
}
