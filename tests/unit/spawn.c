/*
 * Unit tests for starting a program (src/core/spawn.c): the environment on
 * top of ours, stdout and stderr to a pipe, stdin from /dev/null, the
 * working directory, its own process group, an empty signal mask while the
 * caller blocks signals, and the errors for a missing program or directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/spawn.h"

/* Runs o to the end with its output into out; returns its exit status. */
static int run(struct spawn_opts *o, char *out, size_t size)
{
	int pfd[2];
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	o->out_fd = pfd[1];
	pid_t pid;
	assert_int_equal(ooda_spawn(o, &pid), 0);
	close(pfd[1]);
	size_t n = 0;
	ssize_t r;
	while (n + 1 < size && (r = read(pfd[0], out + n, size - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = 0;
	close(pfd[0]);
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_environment_output_and_cwd(void **state)
{
	(void)state;
	setenv("SPAWN_UNIT_A", "ours", 1);
	setenv("SPAWN_UNIT_B", "kept", 1);
	char *argv[] = { "sh", "-c", "echo A=$SPAWN_UNIT_A B=$SPAWN_UNIT_B; pwd; cat; echo err >&2; exit 3", NULL };
	char *extra[] = { "SPAWN_UNIT_A=theirs", NULL };
	char out[512];
	struct spawn_opts o = { .argv = argv, .env_extra = extra, .null_stdin = true, .cwd = "/tmp" };
	assert_int_equal(run(&o, out, sizeof out), 3);
	/* the extra entry replaces ours, the rest is ours; stdin is empty; stderr joins stdout */
	assert_string_equal(out, "A=theirs B=kept\n/tmp\nerr\n");
	/* a whole environment of the caller's: nothing else */
	char *env[] = { "PATH=/usr/bin:/bin", "SPAWN_UNIT_B=only", NULL };
	struct spawn_opts o2 = { .argv = argv, .env = env, .null_stdin = true };
	assert_int_equal(run(&o2, out, sizeof out), 3);
	assert_non_null(strstr(out, "A= B=only\n"));
}

static void test_group_and_signals(void **state)
{
	(void)state;
	/* the caller blocks what its threads wait for, and ignores SIGPIPE */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	struct sigaction ign = { .sa_handler = SIG_IGN }, prev;
	sigaction(SIGPIPE, &ign, &prev);
	/* the program reads its own: fields 1 and 5 of /proc/self/stat are its pid and process group; SigBlk and
	 * SigIgn of /proc/self/status are masks in hex */
	char *stat[] = { "cut", "-d", " ", "-f1,5", "/proc/self/stat", NULL };
	char *masks[] = { "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status", NULL };
	char out[512];
	struct spawn_opts o = { .argv = stat, .null_stdin = true, .own_group = true };
	assert_int_equal(run(&o, out, sizeof out), 0);
	int pid = 0, pgrp = -1;
	assert_int_equal(sscanf(out, "%d %d", &pid, &pgrp), 2);
	assert_int_equal(pid, pgrp);
	/* without own_group it stays in ours */
	struct spawn_opts o2 = { .argv = stat, .null_stdin = true };
	assert_int_equal(run(&o2, out, sizeof out), 0);
	assert_int_equal(sscanf(out, "%d %d", &pid, &pgrp), 2);
	assert_int_equal(pgrp, (int)getpgrp());
	struct spawn_opts o3 = { .argv = masks, .null_stdin = true };
	assert_int_equal(run(&o3, out, sizeof out), 0);
	if (!strstr(out, "SigBlk:\t0000000000000000"))
		fail_msg("the program starts with signals blocked: %s", out);
	/* SIGPIPE is not ignored: a program writing to a closed pipe stops, as it would from a shell */
	const char *ign_line = strstr(out, "SigIgn:\t");
	assert_non_null(ign_line);
	unsigned long long mask = strtoull(ign_line + 8, NULL, 16);
	assert_false(mask & (1ULL << (SIGPIPE - 1)));
	sigaction(SIGPIPE, &prev, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void test_errors(void **state)
{
	(void)state;
	pid_t pid;
	char *missing[] = { "/nonexistent/program", NULL };
	struct spawn_opts o = { .argv = missing, .out_fd = -1 };
	assert_int_equal(ooda_spawn(&o, &pid), ENOENT);
	char *sh[] = { "sh", "-c", "true", NULL };
	struct spawn_opts o2 = { .argv = sh, .out_fd = -1, .cwd = "/nonexistent/dir" };
	assert_int_equal(ooda_spawn(&o2, &pid), ENOENT);
	char *none[] = { NULL };
	struct spawn_opts o3 = { .argv = none, .out_fd = -1 };
	assert_int_equal(ooda_spawn(&o3, &pid), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_environment_output_and_cwd),
		cmocka_unit_test(test_group_and_signals),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
