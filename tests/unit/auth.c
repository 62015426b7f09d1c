/*
 * Unit tests of the per-request access rule (auth_anonymous) and of the
 * peer-address check behind it: without tokens only loopback peers are
 * served, at every moment, whatever address the daemon listens on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "http/auth.h"

static void test_anonymous(void **state)
{
	(void)state;
	static const struct {
		bool tokens, loopback;
		unsigned flags;
		enum auth_anon want;
	} cases[] = {
		{ false, true, 0, AUTH_ANON_ADMIN },
		{ false, false, 0, AUTH_ANON_LOOPBACK_ONLY }, /* last token revoked on 0.0.0.0: strangers get nothing */
		{ true, true, 0, AUTH_ANON_NEED_TOKEN },
		{ true, false, 0, AUTH_ANON_NEED_TOKEN },
		{ false, false, ROUTE_INGEST, AUTH_ANON_LOOPBACK_ONLY },
		{ true, false, ROUTE_OPEN, AUTH_ANON_OPEN },
		{ false, false, ROUTE_OPEN, AUTH_ANON_OPEN },
		{ true, true, ROUTE_OPEN | ROUTE_QUIET, AUTH_ANON_OPEN },
		{ false, true, ROUTE_OPEN, AUTH_ANON_OPEN }, /* an open route never grants a role */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum auth_anon got = auth_anonymous(cases[i].tokens, cases[i].loopback, cases[i].flags);
		if (got != cases[i].want)
			print_message("case %zu: got %d want %d\n", i, got, cases[i].want);
		assert_int_equal(got, cases[i].want);
	}
}

static bool v4(const char *text)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	assert_int_equal(inet_pton(AF_INET, text, &a.sin_addr), 1);
	return auth_peer_is_loopback((const struct sockaddr *)&a);
}

static bool v6(const char *text)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	assert_int_equal(inet_pton(AF_INET6, text, &a.sin6_addr), 1);
	return auth_peer_is_loopback((const struct sockaddr *)&a);
}

static void test_peer_is_loopback(void **state)
{
	(void)state;
	assert_true(v4("127.0.0.1"));
	assert_true(v4("127.1.2.3"));
	assert_false(v4("10.0.0.1"));
	assert_false(v4("0.0.0.0"));
	assert_false(v4("128.0.0.1"));
	assert_false(v4("192.0.2.2"));
	assert_true(v6("::1"));
	assert_true(v6("::ffff:127.0.0.1"));
	assert_false(v6("::ffff:10.0.0.1"));
	assert_false(v6("::"));
	assert_false(v6("fd00::2"));
	assert_false(auth_peer_is_loopback(NULL));
	struct sockaddr unix_like = { .sa_family = AF_UNIX };
	assert_false(auth_peer_is_loopback(&unix_like));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_anonymous),
		cmocka_unit_test(test_peer_is_loopback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
