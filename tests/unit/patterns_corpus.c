/*
 * Unit test of src/detect/patterns on a generated corpus of many log kinds
 * that are not in the Loghub samples the miner was first tuned on: syslog
 * lines with source tags (sshd[pid]:, pam_unix(cron:session):), systemd
 * journal lines, a proxy client's lines with executable names and host:port
 * pairs, kernel messages, Java and Python stack traces, JSON in text, nginx
 * access lines, Windows paths, MAC and IPv6 addresses, UUIDs, e-mail
 * addresses, URLs and durations with units. Each line is made from a known
 * template, so the grouping accuracy is exact; the test checks that it stays
 * high and that the number of patterns stays near the number of templates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/buf.h"
#include "detect/patterns.h"

/* xorshift64*: the same corpus on every run */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * UINT64_C(2685821657736338717)) >> 33) % n;
}

#define PICK(a) (a)[rnd(sizeof(a) / sizeof((a)[0]))]

static const char *const users[] = { "root", "alice", "bob", "cyrus", "news", "admin", "deploy", "postgres",
				     "www-data", "git", "ubuntu", "test" };
static const char *const procs[] = { "sshd", "CRON", "su", "sudo", "systemd-logind", "login" };
static const char *const services[] = { "cron", "su", "sshd", "sudo", "login", "systemd-user" };
static const char *const exes[] = { "chrome.exe", "firefox.exe", "Dropbox.exe", "WeChat.exe", "svchost.exe",
				    "Teams.exe", "OneDrive.exe", "slack.exe", "code.exe" };
static const char *const hosts[] = { "proxy.cse.example.edu", "www.google.com", "api.github.com",
				     "cdn.jsdelivr.net", "mail.example.org", "login.microsoftonline.com",
				     "db-primary.internal.example.com", "s3.amazonaws.com" };
static const char *const units[] = { "nginx.service", "postgresql.service", "docker.service", "cron.service",
				     "ssh.service", "redis-server.service", "kubelet.service", "rsyslog.service" };
static const char *const pkgs[] = { "org.example.orders", "com.acme.billing", "io.netty.channel", "org.apache.kafka.clients" };
static const char *const classes[] = { "OrderHandler", "InvoiceService", "ChannelPipeline", "NetworkClient",
				       "RetryPolicy", "Dispatcher" };
static const char *const methods[] = { "process", "handle", "run", "invoke", "poll", "apply", "send" };
static const char *const funcs[] = { "handle_request", "main", "run", "_call", "dispatch", "load_config",
				     "fetch", "__init__" };
static const char *const http_methods[] = { "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD" };
static const char *const agents[] = { "curl/%u.%u.%u", "Go-http-client/1.1", "python-requests/2.%u.0",
				      "kube-probe/1.%u", "Prometheus/2.%u.0", "okhttp/4.%u.1" };
static const char *const hostnames[] = { "laptop-alice", "printer", "nas", "phone-bob", "tv", "thermostat",
					 "camera-front" };
static const char *const domains[] = { "example.com", "mail.example.org", "corp.example.net" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
				      "Nov", "Dec" };
static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };

static void ip4(struct buf *b)
{
	buf_addf(b, "%u.%u.%u.%u", 1 + rnd(223), rnd(256), rnd(256), 1 + rnd(254));
}

static void hostport(struct buf *b)
{
	if (rnd(4))
		buf_addf(b, "%s:%u", PICK(hosts), rnd(2) ? 443 : 1024 + rnd(60000));
	else {
		ip4(b);
		buf_addf(b, ":%u", 1 + rnd(65535));
	}
}

static void tag(struct buf *b)
{
	buf_addf(b, "%s[%u]:", PICK(procs), 100 + rnd(60000));
}

static void hex(struct buf *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		buf_addch(b, "0123456789abcdef"[rnd(16)]);
}

static void duration(struct buf *b)
{
	switch (rnd(4)) {
	case 0: buf_addf(b, "%ums", 1 + rnd(999)); break;
	case 1: buf_addf(b, "%u.%us", rnd(60), rnd(10)); break;
	case 2: buf_addf(b, "%um%us", 1 + rnd(59), rnd(60)); break;
	default: buf_addf(b, "%uh", 1 + rnd(23)); break;
	}
}

/* Appends one line of template t to b. */
static void make_line(unsigned t, struct buf *b)
{
	switch (t) {
	case 0:
		tag(b);
		buf_addf(b, " Accepted publickey for %s from ", PICK(users));
		ip4(b);
		buf_addf(b, " port %u ssh2", 1024 + rnd(60000));
		break;
	case 1:
		tag(b);
		buf_addf(b, " Failed password for invalid user %s from ", PICK(users));
		ip4(b);
		buf_addf(b, " port %u ssh2", 1024 + rnd(60000));
		break;
	case 2:
		tag(b);
		buf_addf(b, " pam_unix(%s:session): session opened for user %s by (uid=%u)", PICK(services),
			 PICK(users), rnd(2000));
		break;
	case 3:
		tag(b);
		buf_addf(b, " pam_unix(%s:session): session closed for user %s", PICK(services), PICK(users));
		break;
	case 4:
		buf_addf(b, "systemd-logind[%u]: New session %u of user %s.", 300 + rnd(900), rnd(100000), PICK(users));
		break;
	case 5:
		buf_addf(b, "systemd[1]: %s: Main process exited, code=exited, status=%u/FAILURE", PICK(units), 1 + rnd(3));
		break;
	case 6:
		buf_addf(b, "%s - ", PICK(exes));
		hostport(b);
		buf_adds(b, " open through proxy ");
		hostport(b);
		buf_adds(b, " HTTPS");
		break;
	case 7:
		buf_addf(b, "%s - ", PICK(exes));
		hostport(b);
		buf_addf(b, " close, %u bytes sent, %u bytes received, lifetime %02u:%02u", rnd(100000), rnd(100000),
			 rnd(60), rnd(60));
		break;
	case 8:
		buf_addf(b, "%s - ", PICK(exes));
		hostport(b);
		buf_adds(b, " error : Could not connect through proxy ");
		hostport(b);
		buf_adds(b, " - Proxy server cannot establish a connection with the target, status code 403");
		break;
	case 9:
		buf_addf(b, "kernel: [%u.%06u] usb %u-%u: new high-speed USB device number %u using xhci_hcd", rnd(90000),
			 rnd(1000000), 1 + rnd(4), 1 + rnd(8), 2 + rnd(30));
		break;
	case 10:
		buf_addf(b, "kernel: [%u.%06u] eth%u: Link is Up - 1Gbps/Full - flow control rx/tx", rnd(90000),
			 rnd(1000000), rnd(4));
		break;
	case 11: {
		const char *cl = PICK(classes);
		buf_addf(b, "\tat %s.%s.%s(%s.java:%u)", PICK(pkgs), cl, PICK(methods), cl, 10 + rnd(900));
		break;
	}
	case 12:
		buf_adds(b, "Caused by: java.net.ConnectException: Connection refused (Connection refused)");
		break;
	case 13:
		buf_addf(b, "  File \"/usr/lib/python3/dist-packages/app/%s.py\", line %u, in %s", PICK(methods),
			 1 + rnd(800), PICK(funcs));
		break;
	case 14:
		buf_adds(b, "Traceback (most recent call last):");
		break;
	case 15:
		buf_addf(b, "request done {\"user\":\"%s\",\"path\":\"/api/v1/orders/%u\",\"status\":%u,\"latency_ms\":%u}",
			 PICK(users), rnd(100000), 200 + rnd(4) * 100, rnd(5000));
		break;
	case 16: {
		ip4(b);
		buf_addf(b, " - - [%02u/%s/2024:%02u:%02u:%02u +0000] \"%s /api/v1/items/%u HTTP/1.1\" %u %u \"-\" \"",
			 1 + rnd(28), PICK(months), rnd(24), rnd(60), rnd(60), PICK(http_methods), rnd(10000),
			 200 + rnd(4) * 100, rnd(100000));
		buf_addf(b, PICK(agents), rnd(9), rnd(30), rnd(9));
		buf_addch(b, '"');
		break;
	}
	case 17:
		buf_adds(b, "[client ");
		ip4(b);
		buf_addf(b, "] File does not exist: /var/www/html/%s/%u.png", PICK(methods), rnd(1000));
		break;
	case 18:
		buf_addf(b, "dhcpd[%u]: DHCPACK on ", 100 + rnd(9000));
		ip4(b);
		buf_addf(b, " to %02x:%02x:%02x:%02x:%02x:%02x (%s) via eth%u", rnd(256), rnd(256), rnd(256), rnd(256),
			 rnd(256), rnd(256), PICK(hostnames), rnd(2));
		break;
	case 19:
		buf_addf(b, "Connection from 2001:db8:%x::%x port %u on fe80::%x:%x port 22", rnd(65536), 1 + rnd(65535),
			 1024 + rnd(60000), rnd(65536), 1 + rnd(65535));
		break;
	case 20:
		buf_adds(b, "Job ");
		hex(b, 8);
		buf_addch(b, '-');
		hex(b, 4);
		buf_adds(b, "-4");
		hex(b, 3);
		buf_adds(b, "-a");
		hex(b, 3);
		buf_addch(b, '-');
		hex(b, 12);
		buf_adds(b, " finished in ");
		duration(b);
		break;
	case 21:
		buf_addf(b, "Uploaded C:\\Users\\%s\\Documents\\report-%u.docx to https://%s/upload?id=%u", PICK(users),
			 rnd(100), PICK(hosts), rnd(100000));
		break;
	case 22:
		buf_addf(b, "Sent password reset mail to %s@%s", PICK(users), PICK(domains));
		break;
	case 23:
		buf_adds(b, "Cache miss for key ");
		hex(b, 16);
		break;
	case 24:
		buf_addf(b, "worker %u heartbeat from node-%c.cluster.local", rnd(64), 'a' + rnd(20));
		break;
	case 25:
		tag(b);
		buf_adds(b, " Received disconnect from ");
		ip4(b);
		buf_addf(b, " port %u:11: Bye Bye [preauth]", 1024 + rnd(60000));
		break;
	case 26:
		buf_addf(b, "session %u created", rnd(100000));
		break;
	case 27:
		buf_addf(b, "session %u destroyed", rnd(100000));
		break;
	case 28:
		buf_addf(b, "backup of volume %u completed at %s %s %2u %02u:%02u:%02u %u", rnd(50), PICK(days),
			 PICK(months), 1 + rnd(28), rnd(24), rnd(60), rnd(60), 2020 + rnd(6));
		break;
	case 29:
		buf_addf(b, "Loaded %s from C:\\Program Files\\%s\\bin", PICK(exes), PICK(classes));
		break;
	}
}

#define N_TEMPLATES 30

struct pair {
	uint64_t id;
	size_t line;
};

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * Grouping accuracy: a line is right when the lines sharing its pattern are
 * exactly the lines sharing its template, that is when its template went to
 * one pattern only and its pattern holds no other template.
 */
static double grouping_accuracy(const uint64_t *ids, const unsigned *tmpl, size_t n)
{
	uint64_t first_id[N_TEMPLATES] = { 0 };
	bool split[N_TEMPLATES] = { false };
	for (size_t i = 0; i < n; i++) {
		if (!first_id[tmpl[i]])
			first_id[tmpl[i]] = ids[i];
		else if (first_id[tmpl[i]] != ids[i])
			split[tmpl[i]] = true;
	}
	struct pair *v = test_malloc(n * sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = (struct pair){ ids[i], i };
	qsort(v, n, sizeof(*v), cmp_pair);
	size_t ok = 0;
	for (size_t a = 0, b; a < n; a = b) {
		uint32_t mask = 0;
		for (b = a; b < n && v[b].id == v[a].id; b++)
			mask |= UINT32_C(1) << tmpl[v[b].line];
		if (mask & (mask - 1))
			continue; /* the pattern mixes templates */
		for (size_t k = a; k < b; k++)
			ok += !split[tmpl[v[k].line]];
	}
	test_free(v);
	return n ? (double)ok / (double)n : 1;
}

static void test_generated_corpus(void **state)
{
	enum { N = 30000 };
	struct patterns *p = NULL;
	assert_int_equal(patterns_create(NULL, &p, NULL), 0);
	uint64_t *ids = test_malloc(N * sizeof(*ids));
	unsigned *tmpl = test_malloc(N * sizeof(*tmpl));
	struct buf b = BUF_INIT;
	rng_state = 0x9E3779B97F4A7C15u;
	for (size_t i = 0; i < N; i++) {
		/* skewed: low template numbers are more frequent */
		unsigned t = rnd(N_TEMPLATES);
		if (rnd(2))
			t = rnd(t + 1);
		buf_reset(&b);
		make_line(t, &b);
		tmpl[i] = t;
		ids[i] = patterns_add(p, b.data, b.len, (int64_t)i, NULL);
	}
	for (size_t i = 0; i < N; i++)
		ids[i] = patterns_resolve(p, ids[i]);
	/* which templates came out split or mixed: shown when the test fails */
	double ga = grouping_accuracy(ids, tmpl, N);
	size_t np = patterns_count(p);
	print_message("generated corpus: %d lines of %d templates, grouping accuracy %.4f, %zu patterns\n", N,
		      N_TEMPLATES, ga, np);
	if (ga < 0.99 || np > N_TEMPLATES + 3) {
		struct pattern_info info;
		for (size_t i = 0; i < N; i++) {
			bool first = true;
			for (size_t j = 0; j < i && first; j++)
				first = ids[j] != ids[i];
			if (first && !patterns_get(p, ids[i], &info))
				print_message("  template %2u: %s\n", tmpl[i], info.template_);
		}
	}
	assert_true(ga >= 0.99);
	assert_true(np <= N_TEMPLATES + 3);
	buf_release(&b);
	test_free(ids);
	test_free(tmpl);
	patterns_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generated_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
