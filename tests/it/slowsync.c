/*
 * A slow disk for integration tests, preloaded into the daemon
 * (LD_PRELOAD): once the file named by OODA_TEST_SLOW_SYNC_FLAG exists,
 * every fsync/fdatasync of a file whose path contains "telemetry.db"
 * first sleeps OODA_TEST_SLOW_SYNC_MS milliseconds. Everything else is
 * passed straight to the C library.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void maybe_slow(int fd)
{
	const char *flag = getenv("OODA_TEST_SLOW_SYNC_FLAG");
	const char *ms = getenv("OODA_TEST_SLOW_SYNC_MS");
	if (!flag || !ms || access(flag, F_OK) != 0)
		return;
	char link[64], path[4096];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return;
	path[n] = '\0';
	if (!strstr(path, "telemetry.db"))
		return;
	long v = atol(ms);
	struct timespec ts = { v / 1000, (v % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int fdatasync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	maybe_slow(fd);
	return real(fd);
}

int fsync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	maybe_slow(fd);
	return real(fd);
}
