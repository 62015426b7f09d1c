/*
 * The YAML guard (core/yaml_guard.h): texts are parsed in children of a
 * single-threaded guard process, so a multi-threaded caller never forks
 * while its other threads hold allocator locks; a crash in the parser is
 * a verdict, not the caller's death; a lost guard falls back to a direct
 * child.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/xalloc.h"
#include "core/yaml_guard.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* libfyaml 0.7 crashes on this (a regression case of tests/it/test_cli.py too) */
static const char crasher[] = "- ? ? ??: \t  ? ? ?,";
static const char good[] = "server:\n  listen: 127.0.0.1:1\n";

static atomic_bool churn_stop;

/* Allocates and frees without pause, as a busy daemon's threads do. */
static void *churn(void *arg)
{
	(void)arg;
	size_t n = 0;
	while (!atomic_load(&churn_stop)) {
		void *p[16];
		for (int i = 0; i < 16; i++)
			p[i] = xmalloc(16 + (n++ % 4096));
		for (int i = 0; i < 16; i++)
			free(p[i]);
	}
	return NULL;
}

static void test_verdicts(void **state)
{
	(void)state;
	assert_true(yaml_guard_pid() > 0);
	assert_int_equal(yaml_guard_check(good, strlen(good)), YAML_PARSES);
	assert_int_equal(yaml_guard_check(crasher, strlen(crasher)), YAML_CRASHED);
	/* the guard survives its children's crashes */
	assert_true(yaml_guard_pid() > 0);
	assert_int_equal(yaml_guard_check("", 0), YAML_PARSES);
}

/* The daemon's case: config loads while other threads allocate. */
static void test_loads_beside_busy_threads(void **state)
{
	(void)state;
	pthread_t th[3];
	atomic_store(&churn_stop, false);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, churn, NULL), 0);
	int parsed = 0;
	for (int i = 0; i < 100; i++) {
		struct config c;
		struct buf err = BUF_INIT;
		config_init(&c);
		if (config_load_string(&c, "ooda.yaml", good, strlen(good), &err) == 0)
			parsed++;
		else
			print_error("load %d: %s\n", i, err.data);
		config_release(&c);
		buf_release(&err);
	}
	assert_int_equal(yaml_guard_check(crasher, strlen(crasher)), YAML_CRASHED);
	atomic_store(&churn_stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(parsed, 100);
}

/* A guard killed from outside: the next check still answers, in a direct child. */
static void test_guard_lost(void **state)
{
	(void)state;
	pid_t pid = yaml_guard_pid();
	assert_true(pid > 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(yaml_guard_check(good, strlen(good)), YAML_PARSES);
	assert_int_equal(yaml_guard_pid(), 0);
	assert_int_equal(yaml_guard_check(crasher, strlen(crasher)), YAML_CRASHED);
	/* it was reaped: no zombie is left */
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

static void test_stop_reaps(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	assert_int_equal(yaml_guard_start(&err), 0);
	pid_t pid = yaml_guard_pid();
	assert_true(pid > 0);
	/* a second start keeps the running guard */
	assert_int_equal(yaml_guard_start(&err), 0);
	assert_int_equal(yaml_guard_pid(), pid);
	yaml_guard_stop();
	assert_int_equal(yaml_guard_pid(), 0);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	yaml_guard_stop(); /* harmless without a guard */
	buf_release(&err);
}

int main(void)
{
	struct buf err = BUF_INIT;
	if (yaml_guard_start(&err)) { /* as the daemon does, before any thread */
		print_error("%s\n", err.data);
		return 1;
	}
	buf_release(&err);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_loads_beside_busy_threads),
		cmocka_unit_test(test_guard_lost),
		cmocka_unit_test(test_stop_reaps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
