/* Unit tests for src/core/xalloc: the aborting allocators give usable memory, and a request that cannot be met ends the process with a message naming the size. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/arena.h"
#include "core/error.h"
#include "ingest/remote_write.h"
#include "core/xalloc.h"

static void test_xmalloc_xcalloc(void **state)
{
	(void)state;
	static const struct {
		size_t n, size;
	} cases[] = { { 0, 0 }, { 0, 8 }, { 8, 0 }, { 1, 1 }, { 3, 24 }, { 1000, 4096 } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t total = cases[i].n * cases[i].size;
		unsigned char *z = xcalloc(cases[i].n, cases[i].size);
		unsigned char *m = xmalloc(total);
		assert_non_null(z);
		assert_non_null(m);
		assert_ptr_not_equal(z, m);
		for (size_t k = 0; k < total; k++)
			assert_int_equal(z[k], 0);
		memset(m, 0xab, total); /* the whole size is writable (ASan checks) */
		free(z);
		free(m);
	}
}

static void test_xrealloc_keeps_contents(void **state)
{
	(void)state;
	char *p = xrealloc(NULL, 4);
	memcpy(p, "abc", 4);
	p = xrealloc(p, 1 << 20);
	assert_string_equal(p, "abc");
	p = xreallocarray(p, 3, 2);
	assert_string_equal(p, "abc");
	p = xrealloc(p, 0); /* still a valid pointer to free */
	assert_non_null(p);
	free(p);
}

static void test_xstrdup(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
		{ "", 0, "" }, { "abc", 3, "abc" }, { "abc", 2, "ab" }, { "abc", 10, "abc" }, { "a\0bc", 4, "a" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *d = xstrdup(cases[i].in), *n = xstrndup(cases[i].in, cases[i].len);
		assert_string_equal(d, cases[i].in);
		assert_ptr_not_equal(d, cases[i].in);
		assert_string_equal(n, cases[i].want);
		free(d);
		free(n);
	}
	assert_null(xstrdup(NULL));
}

/* Runs fn in a child; returns its stderr and whether it died by SIGABRT. */
static bool run_child(void (*fn)(void), struct buf *out)
{
	int fd[2];
	assert_int_equal(pipe(fd), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fd[1], 2);
		close(fd[0]);
		signal(SIGABRT, SIG_DFL);
		fn();
		_exit(0); /* not reached when fn aborts */
	}
	close(fd[1]);
	char chunk[256];
	ssize_t got;
	while ((got = read(fd[0], chunk, sizeof(chunk))) > 0)
		buf_add(out, chunk, (size_t)got);
	close(fd[0]);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void calloc_overflow(void)
{
	free(xcalloc(SIZE_MAX / 2, 4));
}

static void reallocarray_overflow(void)
{
	free(xreallocarray(NULL, SIZE_MAX / 8, 16));
}

static void test_abort_names_size(void **state)
{
	(void)state;
	static const struct {
		void (*fn)(void);
		size_t n, size;
	} cases[] = { { calloc_overflow, SIZE_MAX / 2, 4 }, { reallocarray_overflow, SIZE_MAX / 8, 16 } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf out = BUF_INIT, want = BUF_INIT;
		assert_true(run_child(cases[i].fn, &out));
		buf_addf(&want, "ooda: out of memory allocating %zu x %zu bytes", cases[i].n, cases[i].size);
		assert_non_null(strstr(out.data, want.data));
		buf_release(&out);
		buf_release(&want);
	}
}

/*
 * The one allocation failure a client can meet is an input-sized buffer that
 * could not be had (a remote-write body); it is answered 503, retry later,
 * not 500.
 */
static void test_enomem_is_unavailable(void **state)
{
	(void)state;
	assert_int_equal(ooda_http_status(OODA_ENOMEM), 503);
	assert_string_equal(ooda_strerror(OODA_ENOMEM), "out of memory");
}

#if !defined(__SANITIZE_ADDRESS__) /* ASan reserves terabytes of shadow memory: no address-space limit */
/* The process's address space in bytes, from /proc/self/statm. */
static size_t vm_size(void)
{
	unsigned long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%lu", &pages), 1);
	fclose(f);
	return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/*
 * An input-sized allocation that cannot be had is an error, not an abort: a
 * remote-write body that declares 200 MiB uncompressed, decoded with 64 MiB of
 * address space to spare, gives OODA_ENOMEM and says how much it wanted.
 */
static void rw_without_memory(void)
{
	static const unsigned char body[] = { 0x80, 0x80, 0x80, 0x64, 0x00, 'x' }; /* varint 200 MiB, a literal */
	struct rlimit lim = { vm_size() + (64u << 20), vm_size() + (64u << 20) };
	if (setrlimit(RLIMIT_AS, &lim))
		_exit(3);
	struct arena a;
	arena_init(&a, 0);
	struct telemetry_batch b = { .arena = &a };
	struct buf err = BUF_INIT;
	int rc = remote_write_decode(body, sizeof(body), &b, &err);
	fprintf(stderr, "rc=%d %s\n", rc, err.data);
	_exit(rc == OODA_ENOMEM && strstr(err.data, "209715200-byte") ? 0 : 1);
}
#endif

static void test_input_sized_failure_is_an_error(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	skip();
#else
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		rw_without_memory();
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xmalloc_xcalloc),
		cmocka_unit_test(test_xrealloc_keeps_contents),
		cmocka_unit_test(test_xstrdup),
		cmocka_unit_test(test_abort_names_size),
		cmocka_unit_test(test_enomem_is_unavailable),
		cmocka_unit_test(test_input_sized_failure_is_an_error),
	};
	return cmocka_run_group_tests_name("xalloc", tests, NULL, NULL);
}
