/*
 * Starting a program from the daemon, one way for every caller (the probes'
 * exec checks, the deploy hooks, the remedy exec steps). The daemon has many
 * threads: a forked child must not allocate or take a lock before its exec
 * (a PATH search and putenv do), so the program is started with
 * posix_spawnp and everything it needs is prepared before. It starts with
 * an empty signal mask (the daemon blocks the signals its threads wait for)
 * and SIGPIPE, SIGTERM, SIGINT and SIGHUP at their defaults, so it can be
 * stopped as any program can.
 */
#ifndef OODA_CORE_SPAWN_H
#define OODA_CORE_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

struct spawn_opts {
	char *const *argv;      /* argv[0] is searched in PATH; NULL-terminated */
	char *const *env;       /* the whole environment, NULL-terminated; NULL: ours */
	char *const *env_extra; /* NAME=value entries set on top of env, replacing its own (NULL: none) */
	int out_fd;             /* >= 0: stdout and stderr go to it; < 0: ours */
	bool null_stdin;        /* stdin reads /dev/null */
	bool own_group;         /* its own process group, so a kill of -pid reaches what it started */
	const char *cwd;        /* its working directory; NULL: ours */
};

/*
 * Starts o->argv. Returns 0 with *pid set (the caller reaps it), or the
 * errno value of the failure (ENOENT: no such program, or no such cwd).
 */
int ooda_spawn(const struct spawn_opts *o, pid_t *pid);

#endif
