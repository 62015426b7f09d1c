/*
 * The process figures Prometheus client libraries expose on Linux as
 * process_*: CPU seconds, resident and virtual memory, start time, open and
 * maximum file descriptors. They come from /proc/self/stat, /proc/stat (boot
 * time), /proc/self/fd and the RLIMIT_NOFILE soft limit.
 */
#ifndef OODA_CORE_PROCSTAT_H
#define OODA_CORE_PROCSTAT_H

#include <stddef.h>
#include <stdint.h>

struct buf;

struct procstat {
	double cpu_seconds;      /* user + system time */
	double start_time;       /* unix seconds the process started */
	uint64_t resident_bytes; /* resident set size */
	uint64_t virtual_bytes;  /* virtual memory size */
	int64_t open_fds;        /* -1 when unknown */
	int64_t max_fds;         /* soft limit; -1 when unlimited or unknown */
};

/*
 * Parses the text of /proc/<pid>/stat (len bytes, need not be
 * NUL-terminated). clock_ticks is sysconf(_SC_CLK_TCK), page_size the page
 * size, boot_time the btime of /proc/stat. Sets cpu_seconds, start_time,
 * resident_bytes and virtual_bytes. Returns 0, or OODA_EINVAL with the
 * reason in err when the text is not of that shape (the command name may
 * hold spaces and parentheses: the fields start after the last ')').
 */
int procstat_parse(const char *text, size_t len, long clock_ticks, long page_size, int64_t boot_time,
		   struct procstat *out, struct buf *err);

/*
 * Reads this process' figures. Returns 0, or a negative code with the
 * reason in err when /proc is not there (the fields it could not read are
 * zero, the fd counts -1).
 */
int procstat_read(struct procstat *out, struct buf *err);

#endif
