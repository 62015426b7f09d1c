/*
 * This process' own figures for /metrics, read from /proc the way the
 * Prometheus client libraries do on Linux. The /proc/self/stat parser is
 * separate from the reads so it can be tested and fuzzed on any text.
 */
#include "core/procstat.h"
#include "core/buf.h"
#include "core/error.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Fields of /proc/<pid>/stat after the command name, counted from field 3 (state). */
enum { F_UTIME = 11, F_STIME = 12, F_STARTTIME = 19, F_VSIZE = 20, F_RSS = 21, F_NEEDED = 22 };

int procstat_parse(const char *text, size_t len, long clock_ticks, long page_size, int64_t boot_time,
		   struct procstat *out, struct buf *err)
{
	const char *close = NULL;
	for (size_t i = 0; i < len; i++)
		if (text[i] == ')')
			close = text + i;
	if (!close || clock_ticks <= 0 || page_size <= 0) {
		buf_adds(err, "stat text has no command name in parentheses");
		return OODA_EINVAL;
	}
	const char *p = close + 1, *end = text + len;
	unsigned long long f[F_NEEDED] = { 0 };
	for (int i = 0; i < F_NEEDED; i++) {
		while (p < end && *p == ' ')
			p++;
		if (p >= end) {
			buf_addf(err, "stat text ends after %d fields", i);
			return OODA_EINVAL;
		}
		const char *start = p;
		unsigned long long v = 0;
		if (*p == '-')
			p++; /* a negative field (priority, nice) counts as 0: none of ours can be */
		while (p < end && *p >= '0' && *p <= '9') {
			v = v * 10 + (unsigned long long)(*p - '0');
			p++;
		}
		if (i == 0) { /* state is a letter */
			while (p < end && *p != ' ')
				p++;
		} else if (p == start || (p < end && *p != ' ' && *p != '\n')) {
			buf_addf(err, "stat field %d is not a number", i + 3);
			return OODA_EINVAL;
		}
		f[i] = *start == '-' ? 0 : v;
	}
	out->cpu_seconds = (double)(f[F_UTIME] + f[F_STIME]) / (double)clock_ticks;
	out->start_time = (double)boot_time + (double)f[F_STARTTIME] / (double)clock_ticks;
	out->virtual_bytes = f[F_VSIZE];
	out->resident_bytes = f[F_RSS] * (uint64_t)page_size;
	return 0;
}

static int64_t boot_time(void)
{
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return 0;
	char line[256];
	long long bt = 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "btime ", 6)) {
			bt = atoll(line + 6);
			break;
		}
	fclose(f);
	return bt;
}

static int64_t open_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	if (!dir)
		return -1;
	int64_t n = 0;
	for (struct dirent *e; (e = readdir(dir));)
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1; /* not the one opendir holds */
}

int procstat_read(struct procstat *out, struct buf *err)
{
	memset(out, 0, sizeof(*out));
	out->open_fds = open_fds();
	struct rlimit rl;
	out->max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (int64_t)rl.rlim_cur : -1;
	FILE *f = fopen("/proc/self/stat", "r");
	if (!f) {
		buf_adds(err, "/proc/self/stat cannot be read");
		return OODA_EIO;
	}
	char text[1024];
	size_t n = fread(text, 1, sizeof(text), f);
	fclose(f);
	return procstat_parse(text, n, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), boot_time(), out, err);
}
