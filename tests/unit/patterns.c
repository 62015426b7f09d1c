/*
 * Unit tests for src/detect/patterns: which lines share a pattern and which
 * do not, where templates show "<*>", stable ids across generalisation and
 * merging, bounded memory under eviction, counts over time, hostile input
 * (very long lines, binary garbage) and the offline door.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "detect/patterns.h"

static struct patterns *make(const struct patterns_config *c)
{
	struct patterns *p = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(patterns_create(c, &p, &err), 0);
	buf_release(&err);
	return p;
}

static uint64_t add(struct patterns *p, const char *line)
{
	return patterns_add(p, line, strlen(line), 0, NULL);
}

static void test_same_or_different(void **state)
{
	static const struct {
		const char *a, *b;
		bool same;
	} cases[] = {
		{ "Connection from 10.0.0.1 closed", "Connection from 192.168.7.200 closed", true },
		{ "took 15 ms to answer", "took 2004 ms to answer", true },
		{ "request id=af31 done in 3.5s", "request id=09bd done in 12.25s", true },
		{ "read /var/lib/ooda/data.db failed", "read /tmp/x failed", true },
		{ "trace 4bf92f3577b34da6a3ce929d0e0e4736 sampled", "trace 00f067aa0ba902b7a3ce929d0e0e4736 sampled", true },
		{ "user 'u-1041' not found", "user 'u-77' not found", true },
		{ "user 'alice' not found", "user 'bob' not found", false }, /* until 5 names are seen */
		{ "instance 3edec1e4-9678-4a3a-a21b-a145a4ee5e61 spawned", "instance 96abccce-8d1f-4e07-b6d1-4b2ab87e23b4 spawned", true },
		{ "fetched http://a.example/x?y=1 ok", "fetched https://b.example/ ok", true },
		{ "block at 0xdeadbeef corrupt", "block at 0x7ffe1234 corrupt", true },
		{ "deleted blk_-5140072410813878235 blk_1 blk_2", "deleted blk_77", true },
		{ "link up on eth0", "link up on eth1", true },
		{ "stored 5.8 KB, free 317.1 KB", "stored 93.0 B, free 2.1 MB", true },
		{ "Connection refused", "User logged in", false },
		{ "disk full on /dev/sda1", "disk ok on /dev/sda1", false },
		{ "session 12 created", "session 12 destroyed", false },
		{ "link up on eth0", "link up on wlan0", false },
		{ "job 7 started", "job 7 started at once", false },
		{ "", "", true },
		{ "", "x", false },
		/* names that are variables by their shape, without a digit */
		{ "chrome.exe - www.google.com:443 open", "Dropbox.exe - proxy.example.edu:5070 open", true },
		{ "resolved api.github.com fine", "resolved cdn.example.net fine", true },
		{ "mail sent to alice@example.com now", "mail sent to bob@corp.example.org now", true },
		{ "saved C:\\Users\\alice\\a.txt ok", "saved D:\\data\\b ok", true },
		{ "peer fe80::1ff:fe23:4567:890a up", "peer 2001:db8::beef up", true },
		{ "lease to aa:bb:cc:dd:ee:ff done", "lease to 00:1a:2b:3c:4d:5e done", true },
		{ "sshd[812]: Connection closed by 10.0.0.1", "sshd[99]: Connection closed by 10.0.0.2", true },
		{ "sshd[812]: Connection closed by 10.0.0.1", "dropbear[7]: Connection closed by 10.0.0.2", true },
		{ "ran at Sat Jun 25 04:05:54 2005", "ran at Mon Dec 5 11:00:01 2005", true },
		{ "done {\"user\":\"alice\",\"ms\":12}", "done {\"user\":\"bob\",\"ms\":7}", true },
		/* words that tell messages apart stay words */
		{ "Class org.apache.Foo loaded", "Class org.apache.Bar loaded", false },
		{ "sshd[812]: Connection closed", "sshd[812]: Connection opened", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct patterns *p = make(NULL);
		uint64_t a = add(p, cases[i].a), b = add(p, cases[i].b);
		if ((a == b) != cases[i].same)
			fail_msg("case %zu: \"%s\" / \"%s\": expected %s", i, cases[i].a, cases[i].b,
				 cases[i].same ? "same pattern" : "different patterns");
		patterns_destroy(p);
	}
}

static void test_templates(void **state)
{
	static const struct {
		const char *lines[3];
		const char *tmpl;
	} cases[] = {
		{ { "Connection from 10.0.0.1 closed" }, "Connection from <*> closed" },
		{ { "HWID=1973 state (code 5)" }, "HWID=<*> state (code <*>" },
		{ { "wrote /var/log/x.log in 20ms" }, "wrote <*> in <*>" },
		{ { "user \"alice\" logged in" }, "user \"alice\" logged in" },
		{ { "user \"a41\" logged in" }, "user <*> logged in" },
		{ { "port eth0 up" }, "port eth<*> up" },
		{ { "a b c", "a x c" }, "a b c" }, /* strict: different words stay apart */
		{ { "list 1 2 3 4 end" }, "list <*> end" },
		{ { "  spaced\tout \r\n" }, "spaced out" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct patterns *p = make(NULL);
		uint64_t id = 0;
		for (int k = 0; k < 3 && cases[i].lines[k]; k++)
		{
			uint64_t got = add(p, cases[i].lines[k]);
			if (!k)
				id = got;
		}
		const char *t = patterns_template(p, id);
		assert_non_null(t);
		if (strcmp(t, cases[i].tmpl))
			fail_msg("case %zu: template \"%s\", expected \"%s\"", i, t, cases[i].tmpl);
		patterns_destroy(p);
	}
}

static void test_stable_ids_and_merge(void **state)
{
	struct patterns *p = make(NULL);
	bool is_new = false;
	uint64_t first = patterns_add(p, "worker alpha finished the nightly job", 37, 10, &is_new);
	assert_true(is_new);
	assert_string_equal(patterns_template(p, first), "worker alpha finished the nightly job");
	uint64_t again = patterns_add(p, "worker alpha finished the nightly job", 37, 11, &is_new);
	assert_false(is_new);
	assert_int_equal(again, first);

	/* one word takes distinct values: after five of them it is a variable */
	static const char *const names[] = { "beta", "gamma", "delta", "epsilon", "zeta", "eta" };
	uint64_t ids[6];
	for (int i = 0; i < 6; i++) {
		char line[64];
		snprintf(line, sizeof(line), "worker %s finished the nightly job", names[i]);
		ids[i] = patterns_add(p, line, strlen(line), 20 + i, NULL);
	}
	assert_int_not_equal(ids[0], first); /* two values are not yet a variable */
	assert_int_equal(patterns_resolve(p, ids[0]), first);
	assert_int_equal(patterns_resolve(p, ids[3]), first);
	assert_int_equal(ids[4], first); /* from then on lines join directly */
	assert_int_equal(ids[5], first);
	assert_string_equal(patterns_template(p, first), "worker <*> finished the nightly job");
	assert_string_equal(patterns_template(p, ids[1]), "worker <*> finished the nightly job");
	assert_int_equal(patterns_count(p), 1);

	struct pattern_info info;
	assert_int_equal(patterns_get(p, ids[2], &info), 0);
	assert_int_equal(info.id, first);
	assert_int_equal(info.count, 8);
	assert_int_equal(info.first_seen_ns, 10);
	assert_int_equal(info.last_seen_ns, 25);
	assert_string_equal(info.example, "worker alpha finished the nightly job");

	/* the id is a hash of the template at creation: a new miner agrees */
	struct patterns *q = make(NULL);
	assert_int_equal(add(q, "worker alpha finished the nightly job"), first);
	patterns_destroy(q);

	assert_int_equal(patterns_get(p, 12345, &info), OODA_ENOTFOUND);
	assert_null(patterns_template(p, 12345));
	assert_int_equal(patterns_resolve(p, 12345), 0);
	patterns_destroy(p);
}

static void test_eviction_bounds_memory(void **state)
{
	struct patterns_config cfg = { .max_patterns = 50 };
	struct patterns *p = make(&cfg);
	char line[128];
	size_t mem_at_1k = 0;
	uint64_t last = 0;
	for (int i = 0; i < 20000; i++) {
		/* every line its own message: two words differ from any other line */
		char w[4] = { (char)('a' + i % 26), (char)('a' + i / 26 % 26), (char)('a' + i / 676 % 26), 0 };
		snprintf(line, sizeof(line), "event %s happened %c%c%c", w, w[2], w[1], w[0]);
		last = add(p, line);
		assert_true(patterns_count(p) <= 50);
		if (i == 1000)
			mem_at_1k = patterns_memory(p);
	}
	assert_int_equal(patterns_count(p), 50);
	assert_true(patterns_memory(p) <= mem_at_1k + mem_at_1k / 10);
	assert_non_null(patterns_template(p, last));
	/* the oldest were evicted */
	struct patterns *q = make(&cfg);
	uint64_t oldest = add(q, "event aaa happened aaa");
	patterns_destroy(q);
	assert_null(patterns_template(p, oldest));
	patterns_destroy(p);
}

static int collect(const struct pattern_info *info, void *arg)
{
	uint64_t *sum = arg;
	*sum += info->count;
	return 0;
}

static int stop_at_first(const struct pattern_info *info, void *arg)
{
	return 7;
}

static void test_history_and_foreach(void **state)
{
	struct patterns_config cfg = { .history_buckets = 3, .bucket_ns = 100 };
	struct patterns *p = make(&cfg);
	const char *l = "disk latency high on sda";
	uint64_t id = 0;
	int64_t times[] = { 0, 50, 120, 130, 250, 90 /* late, still in the window */ };
	for (size_t i = 0; i < 6; i++)
		id = patterns_add(p, l, strlen(l), times[i], NULL);
	add(p, "another message entirely here");
	struct pattern_info info;
	assert_int_equal(patterns_get(p, id, &info), 0);
	assert_int_equal(info.n_history, 3);
	assert_int_equal(info.bucket0, 0);
	assert_int_equal(info.history[0], 3);
	assert_int_equal(info.history[1], 2);
	assert_int_equal(info.history[2], 1);
	assert_int_equal(info.last_seen_ns, 250);
	/* far ahead: the window slides, old buckets are forgotten */
	patterns_add(p, l, strlen(l), 1000, NULL);
	assert_int_equal(patterns_get(p, id, &info), 0);
	assert_int_equal(info.bucket0, 8);
	assert_int_equal(info.history[0] + info.history[1], 0);
	assert_int_equal(info.history[2], 1);
	assert_int_equal(info.count, 7);

	uint64_t sum = 0;
	assert_int_equal(patterns_foreach(p, collect, &sum), 0);
	assert_int_equal(sum, 8);
	assert_int_equal(patterns_foreach(p, stop_at_first, NULL), 7);
	patterns_destroy(p);
}

static void test_hostile_input(void **state)
{
	struct patterns_config cfg = { .max_patterns = 64, .max_tokens = 32, .max_line = 1024 };
	struct patterns *p = make(&cfg);
	size_t n = 1 << 20;
	char *big = malloc(n);
	for (size_t i = 0; i < n; i++)
		big[i] = (i % 7) ? (char)('a' + i % 26) : ' ';
	uint64_t a = patterns_add(p, big, n, 0, NULL);
	/* only the first max_line bytes count: a different tail is the same line */
	big[n - 2] = 'Z';
	assert_int_equal(patterns_add(p, big, n, 0, NULL), a);
	assert_true(strlen(patterns_template(p, a)) <= 3 * 1024 + 32);
	/* binary garbage, NUL bytes, lone quotes and delimiters */
	uint32_t x = 2463534242u;
	for (int r = 0; r < 2000; r++) {
		char junk[300];
		size_t len = 1 + r % sizeof(junk);
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			junk[i] = (char)x;
		}
		uint64_t id = patterns_add(p, junk, len, r, NULL);
		assert_non_null(patterns_template(p, id));
	}
	static const char *const odd[] = { "\"", "'", "=", "a=", "=b", "..", "....0", "<*>", "<*> <*>",
					   "/", "://", "\"\"", "KB", "5 KB", "x\x00y" };
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		assert_non_null(patterns_template(p, add(p, odd[i])));
	assert_true(patterns_count(p) <= 64);
	free(big);
	patterns_destroy(p);
}

static void test_config_limits(void **state)
{
	static const struct patterns_config bad[] = {
		{ .similarity = 1.5 },
		{ .distinct_values = 1 },
		{ .distinct_values = 99 },
		{ .max_tokens = 100000 },
		{ .bucket_ns = -1 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct patterns *p = NULL;
		struct buf err = BUF_INIT;
		assert_int_equal(patterns_create(&bad[i], &p, &err), OODA_EINVAL);
		assert_true(err.len > 0);
		assert_null(p);
		buf_release(&err);
	}
	patterns_destroy(NULL);
}

static void test_analyze_file(void **state)
{
	static const char input[] = "open file 1\r\nopen file 22\nclose now\nopen file 3";
	FILE *in = fmemopen((void *)input, sizeof(input) - 1, "r");
	char *out_data = NULL;
	size_t out_len = 0;
	FILE *out = open_memstream(&out_data, &out_len);
	struct buf err = BUF_INIT;
	assert_int_equal(patterns_analyze_file(in, out, NULL, &err), 0);
	fclose(in);
	fclose(out);
	char *lines[4];
	int n = 0;
	for (char *s = out_data, *nl; n < 4 && (nl = strchr(s, '\n')); s = nl + 1) {
		*nl = '\0';
		lines[n++] = s;
	}
	assert_int_equal(n, 4);
	assert_int_equal(strlen(lines[0]), 16 + 1 + strlen("open file <*>"));
	assert_string_equal(lines[0] + 16, "\topen file <*>");
	assert_memory_equal(lines[0], lines[1], 16);
	assert_memory_equal(lines[0], lines[3], 16);
	assert_string_equal(lines[2] + 16, "\tclose now");
	assert_memory_not_equal(lines[0], lines[2], 16);
	free(out_data);
	buf_release(&err);
}

/* Lines of a Loghub sample, if the shared data set is present. */
static void test_loghub_sample(void **state)
{
	const char *dir = getenv("OODA_SHARED_DATA");
	char path[512];
	snprintf(path, sizeof(path), "%s/loghub/HDFS/HDFS_2k.log", dir ? dir : OODA_SHARED_DATA);
	FILE *in = fopen(path, "r");
	if (!in) {
		skip();
		return;
	}
	char *out_data = NULL;
	size_t out_len = 0;
	FILE *out = open_memstream(&out_data, &out_len);
	assert_int_equal(patterns_analyze_file(in, out, NULL, NULL), 0);
	fclose(in);
	fclose(out);
	size_t n_lines = 0;
	for (size_t i = 0; i < out_len; i++)
		n_lines += out_data[i] == '\n';
	assert_int_equal(n_lines, 2000);
	free(out_data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_or_different),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_stable_ids_and_merge),
		cmocka_unit_test(test_eviction_bounds_memory),
		cmocka_unit_test(test_history_and_foreach),
		cmocka_unit_test(test_hostile_input),
		cmocka_unit_test(test_config_limits),
		cmocka_unit_test(test_analyze_file),
		cmocka_unit_test(test_loghub_sample),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
