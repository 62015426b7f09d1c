/*
 * Probes (see probe.h): the services section parsed into probe specs, the
 * hysteresis window and the drift-free schedule (pure, unit-tested), and
 * the prober — one thread driving libcurl multi for HTTP, non-blocking TCP
 * connects and a small worker pool for DNS lookups and exec children, which
 * records each result in memory under one mutex and in the telemetry store
 * as metrics. probes_tick() and prober_json() only read that memory.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "detect/probe.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "core/worker.h"
#include "store/tstore.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pcre2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

const char *probe_state_name(enum probe_state s)
{
	static const char *const names[] = { "unknown", "passing", "failing" };
	return (unsigned)s < 3 ? names[s] : "unknown";
}

const char *probe_kind_name(enum probe_kind k)
{
	static const char *const names[] = { "http", "tcp", "dns", "exec" };
	return (unsigned)k < 4 ? names[k] : "?";
}

/* ---- hysteresis and schedule (pure) ------------------------------------- */

int probe_window_failures(const struct probe_window *w, int m)
{
	if (m > w->len)
		m = w->len;
	if (m <= 0)
		return 0;
	uint32_t mask = m >= 32 ? UINT32_MAX : ((UINT32_C(1) << m) - 1);
	return __builtin_popcount(w->bits & mask);
}

enum probe_state probe_window_push(struct probe_window *w, bool ok, int fail_n, int fail_m, int pass_k)
{
	w->bits = (w->bits << 1) | (ok ? 0u : 1u);
	if (w->len < PROBE_WINDOW_MAX)
		w->len++;
	w->consecutive_ok = ok ? w->consecutive_ok + 1 : 0;
	if (w->state == PROBE_FAILING) {
		if (w->consecutive_ok >= pass_k) {
			/* recovered: the failures that made it fail are history, not evidence */
			w->state = PROBE_PASSING;
			w->bits = 0;
			w->len = 0;
		}
	} else if (probe_window_failures(w, fail_m) >= fail_n) {
		w->state = PROBE_FAILING;
	} else if (ok && w->state == PROBE_UNKNOWN) {
		w->state = PROBE_PASSING;
	}
	return w->state;
}

int64_t probe_next_due(int64_t due, int64_t interval, int64_t now)
{
	if (interval <= 0)
		return now;
	if (now < due + interval)
		return due + interval;
	int64_t k = (now - due) / interval + 1;
	return due + k * interval;
}

/* ---- parsing ------------------------------------------------------------ */

struct path {
	char s[256];
};

static int fail(struct buf *err, const struct path *p, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct buf *err, const struct path *p, const char *key, const char *fmt, ...)
{
	buf_addf(err, "%s%s%s: ", p->s, key && *key ? "." : "", key ? key : "");
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(err, fmt, ap);
	va_end(ap);
	return OODA_EINVAL;
}

static int get_str(const json_t *o, const char *key, const struct path *p, size_t max, const char **out,
		   struct buf *err)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail(err, p, key, "must be a string");
	if (json_string_length(v) == 0 || json_string_length(v) > max)
		return fail(err, p, key, "must be 1 to %zu characters", max);
	*out = json_string_value(v);
	return 0;
}

/* An integer written as a number or a numeric string, in [min, max]. */
static int get_int(const json_t *o, const char *key, const struct path *p, long long min, long long max,
		   long long *out, struct buf *err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	long long x;
	if (json_is_integer(v)) {
		x = json_integer_value(v);
	} else if (json_is_string(v)) {
		char *end;
		errno = 0;
		x = strtoll(json_string_value(v), &end, 10);
		if (errno || end == json_string_value(v) || *end)
			return fail(err, p, key, "must be an integer, not \"%s\"", json_string_value(v));
	} else {
		return fail(err, p, key, "must be an integer");
	}
	if (x < min || x > max)
		return fail(err, p, key, "must be between %lld and %lld, not %lld", min, max, x);
	*out = x;
	return 0;
}

/* A duration ("30s", "1m30s"; a bare number is seconds) in [min, max]. */
static int get_duration(const json_t *o, const char *key, const struct path *p, int64_t min, int64_t max,
			int64_t *out, struct buf *err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	int64_t d;
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < INT64_MAX / OODA_NS_PER_SEC) {
		d = json_integer_value(v) * OODA_NS_PER_SEC;
	} else if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 1e9) {
		d = (int64_t)(json_real_value(v) * 1e9);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (ooda_duration_parse(s, strlen(s), &d))
			return fail(err, p, key, "\"%s\" is not a duration (like 500ms, 30s, 5m)", s);
	} else {
		return fail(err, p, key, "must be a duration (like 500ms, 30s, 5m)");
	}
	if (d < min || d > max) {
		char a[32], b[32];
		return fail(err, p, key, "must be between %s and %s", ooda_duration_format(min, a, sizeof(a)),
			    ooda_duration_format(max, b, sizeof(b)));
	}
	*out = d;
	return 0;
}

static void status_set(struct probe_spec *s, int lo, int hi)
{
	for (int c = lo; c <= hi && c < 640; c++)
		s->expect_status[c / 8] |= (uint8_t)(1u << (c % 8));
}

bool probe_status_expected(const struct probe_spec *spec, long status)
{
	if (status < 0 || status >= 640)
		return false;
	return spec->expect_status[status / 8] & (1u << (status % 8));
}

/* One element of expect_status: 200, "204" or a class "2xx". */
static int status_item(struct probe_spec *s, const json_t *v, const struct path *p, const char *key, struct buf *err)
{
	if (json_is_integer(v)) {
		json_int_t c = json_integer_value(v);
		if (c < 100 || c > 599)
			return fail(err, p, key, "HTTP status %lld is outside 100..599", (long long)c);
		status_set(s, (int)c, (int)c);
		return 0;
	}
	const char *t = json_string_value(v);
	if (t && strlen(t) == 3 && t[0] >= '1' && t[0] <= '5' && (t[1] == 'x' || t[1] == 'X') &&
	    (t[2] == 'x' || t[2] == 'X')) {
		status_set(s, (t[0] - '0') * 100, (t[0] - '0') * 100 + 99);
		return 0;
	}
	if (t && strlen(t) == 3 && t[0] >= '1' && t[0] <= '5' && t[1] >= '0' && t[1] <= '9' && t[2] >= '0' &&
	    t[2] <= '9') {
		int c = atoi(t);
		status_set(s, c, c);
		return 0;
	}
	return fail(err, p, key, "expected an HTTP status (200) or a class (\"2xx\")");
}

static int parse_http(struct probe_spec *s, const json_t *h, struct path *p, struct buf *err)
{
	if (!json_is_object(h))
		return fail(err, p, NULL, "must be a mapping with at least url");
	int rc = 0;
	const char *url = NULL, *method = NULL, *contains = NULL, *regex = NULL;
	if (!rc)
		rc = get_str(h, "url", p, 2048, &url, err);
	if (!rc && !url)
		rc = fail(err, p, "url", "is required");
	if (!rc && strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
		rc = fail(err, p, "url", "must be an http:// or https:// URL, not \"%s\"", url);
	if (!rc)
		rc = get_str(h, "method", p, 16, &method, err);
	for (const char *m = method; !rc && m && *m; m++)
		if (!(*m >= 'A' && *m <= 'Z'))
			rc = fail(err, p, "method", "must be an upper-case HTTP method like GET or HEAD");
	if (!rc)
		rc = get_str(h, "body_contains", p, 4096, &contains, err);
	if (!rc)
		rc = get_str(h, "body_regex", p, 4096, &regex, err);
	if (!rc)
		rc = get_duration(h, "max_latency", p, OODA_NS_PER_MS, 600 * OODA_NS_PER_SEC, &s->max_latency_ns, err);
	if (rc)
		return rc;
	s->target = xstrdup(url);
	s->method = xstrdup(method ? method : "GET");
	s->body_contains = xstrdup(contains);
	s->body_regex = xstrdup(regex);
	if (regex) {
		int code;
		PCRE2_SIZE off;
		pcre2_code *re = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);
		if (!re) {
			PCRE2_UCHAR msg[160];
			pcre2_get_error_message(code, msg, sizeof(msg));
			return fail(err, p, "body_regex", "%s at offset %zu", (const char *)msg, (size_t)off);
		}
		s->re = re;
	}
	/* headers: a mapping {Name: value} or a list of "Name: value" */
	json_t *hv = json_object_get(h, "headers");
	if (hv && !json_is_null(hv)) {
		size_t n = json_is_object(hv) ? json_object_size(hv) : json_is_array(hv) ? json_array_size(hv) : 0;
		if (!json_is_object(hv) && !json_is_array(hv))
			return fail(err, p, "headers", "must be a mapping of header names to values");
		if (n > 32)
			return fail(err, p, "headers", "at most 32 headers");
		s->headers = xcalloc(n + 1, sizeof(char *));
		if (json_is_object(hv)) {
			const char *k;
			json_t *v;
			json_object_foreach(hv, k, v) {
				if (!json_is_string(v) && !json_is_number(v))
					return fail(err, p, "headers", "value of %s must be a string", k);
				if (strpbrk(k, ": \r\n") || !*k || (json_is_string(v) && strpbrk(json_string_value(v), "\r\n")))
					return fail(err, p, "headers", "bad header %s", k);
				struct buf line = BUF_INIT;
				if (json_is_string(v))
					buf_addf(&line, "%s: %s", k, json_string_value(v));
				else
					buf_addf(&line, "%s: %lld", k, (long long)json_integer_value(v));
				s->headers[s->n_headers++] = buf_detach(&line, NULL);
			}
		} else {
			size_t i;
			json_t *v;
			json_array_foreach(hv, i, v) {
				const char *t = json_string_value(v);
				if (!t || !strchr(t, ':') || strpbrk(t, "\r\n")) {
					char k[32];
					snprintf(k, sizeof(k), "headers[%zu]", i);
					return fail(err, p, k, "must be \"Name: value\"");
				}
				s->headers[s->n_headers++] = xstrdup(t);
			}
		}
	}
	json_t *es = json_object_get(h, "expect_status");
	if (!es || json_is_null(es)) {
		status_set(s, 200, 299);
		s->expect_text = xstrdup("2xx");
	} else {
		if (json_is_array(es)) {
			if (json_array_size(es) == 0 || json_array_size(es) > 64)
				return fail(err, p, "expect_status", "must list 1 to 64 statuses");
			size_t i;
			json_t *v;
			json_array_foreach(es, i, v) {
				char k[40];
				snprintf(k, sizeof(k), "expect_status[%zu]", i);
				if ((rc = status_item(s, v, p, k, err)))
					return rc;
			}
		} else if ((rc = status_item(s, es, p, "expect_status", err))) {
			return rc;
		}
		s->expect_text = json_dumps(es, JSON_COMPACT | JSON_ENCODE_ANY);
	}
	struct buf id = BUF_INIT;
	buf_addf(&id, "http %s %s", s->method, url);
	for (size_t i = 0; i < s->n_headers; i++)
		buf_addf(&id, "\n%s", s->headers[i]);
	s->identity = buf_detach(&id, NULL);
	return 0;
}

static int parse_tcp(struct probe_spec *s, const json_t *v, struct path *p, struct buf *err)
{
	const char *t = json_string_value(v);
	if (!t)
		return fail(err, p, NULL, "must be \"host:port\"");
	const char *colon = strrchr(t, ':');
	if (!colon || colon == t || !colon[1] || strlen(t) > 300)
		return fail(err, p, NULL, "must be \"host:port\", not \"%s\"", t);
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return fail(err, p, NULL, "port of \"%s\" must be 1..65535", t);
	const char *h = t;
	size_t hl = (size_t)(colon - t);
	if (*h == '[' && hl >= 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	s->host = xstrndup(h, hl);
	s->port = xstrdup(colon + 1);
	s->target = xstrdup(t);
	struct buf id = BUF_INIT;
	buf_addf(&id, "tcp %s", t);
	s->identity = buf_detach(&id, NULL);
	return 0;
}

static int parse_dns(struct probe_spec *s, const json_t *v, struct path *p, struct buf *err)
{
	const char *t = json_string_value(v);
	if (!t || !*t || strlen(t) > 253 || strpbrk(t, " /:\t\r\n"))
		return fail(err, p, NULL, "must be a host name to resolve");
	s->target = xstrdup(t);
	s->host = xstrdup(t);
	struct buf id = BUF_INIT;
	buf_addf(&id, "dns %s", t);
	s->identity = buf_detach(&id, NULL);
	return 0;
}

static int parse_exec(struct probe_spec *s, const json_t *e, struct path *p, struct buf *err)
{
	const json_t *argv = e;
	if (json_is_object(e)) {
		int rc;
		argv = json_object_get(e, "argv");
		if (!argv)
			return fail(err, p, "argv", "is required (the program and its arguments; no shell)");
		long long x = 0;
		if ((rc = get_int(e, "expect_exit", p, 0, 255, &x, err)))
			return rc;
		s->expect_exit = (int)x;
	}
	struct path ap = *p;
	if (json_is_object(e))
		snprintf(ap.s, sizeof(ap.s), "%.240s.argv", p->s);
	if (!json_is_array(argv) || json_array_size(argv) == 0 || json_array_size(argv) > 64)
		return fail(err, &ap, NULL, "must be a list of 1 to 64 strings (the program and its arguments)");
	s->argc = json_array_size(argv);
	s->argv = xcalloc(s->argc + 1, sizeof(char *));
	struct buf id = BUF_INIT;
	buf_adds(&id, "exec");
	size_t i;
	json_t *v;
	json_array_foreach(argv, i, v) {
		if (!json_is_string(v) && !json_is_number(v)) {
			buf_release(&id);
			char k[24];
			snprintf(k, sizeof(k), "[%zu]", i);
			buf_addf(err, "%s%s: must be a string", ap.s, k);
			return OODA_EINVAL;
		}
		if (json_is_string(v)) {
			s->argv[i] = xstrdup(json_string_value(v));
		} else {
			char *t = json_dumps(v, JSON_ENCODE_ANY);
			s->argv[i] = t;
		}
		buf_addf(&id, "\x1f%s", s->argv[i]);
	}
	buf_addf(&id, "\x1f=%d", s->expect_exit);
	s->identity = buf_detach(&id, NULL);
	s->target = xstrdup(s->argv[0]);
	return 0;
}

/* "3 of 5", "3/5", or N (N of N). */
static int parse_fail_after(struct probe_spec *s, const json_t *v, struct path *p, struct buf *err)
{
	if (!v || json_is_null(v))
		return 0;
	long long n = 0, m = 0;
	if (json_is_integer(v)) {
		n = m = json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *t = json_string_value(v);
		char *end;
		n = strtoll(t, &end, 10);
		while (*end == ' ')
			end++;
		if (!strncmp(end, "of", 2))
			end += 2;
		else if (*end == '/')
			end++;
		else if (!*end && end != t)
			m = n;
		if (!m) {
			char *e2;
			m = strtoll(end, &e2, 10);
			if (e2 == end || *e2)
				return fail(err, p, "fail_after", "must be \"N of M\" (like \"3 of 5\"), not \"%s\"", t);
		}
	} else {
		return fail(err, p, "fail_after", "must be \"N of M\" (like \"3 of 5\")");
	}
	if (m < 1 || m > PROBE_WINDOW_MAX || n < 1 || n > m)
		return fail(err, p, "fail_after", "needs 1 <= N <= M <= %d", PROBE_WINDOW_MAX);
	s->fail_n = (int)n;
	s->fail_m = (int)m;
	return 0;
}

static int parse_probe(struct probe_spec *s, const char *service, const json_t *o, struct path *p, struct buf *err)
{
	if (!json_is_object(o))
		return fail(err, p, NULL, "must be a mapping (name, and one of http, tcp, dns, exec)");
	int rc = 0;
	const char *name = NULL;
	if (!rc)
		rc = get_str(o, "name", p, 128, &name, err);
	if (!rc && !name)
		rc = fail(err, p, "name", "is required");
	for (const char *c = name; !rc && c && *c; c++)
		if (!(isalnum((unsigned char)*c) || *c == '-' || *c == '_' || *c == '.'))
			rc = fail(err, p, "name", "may hold letters, digits, '-', '_' and '.' only");
	if (rc)
		return rc;
	s->service = xstrdup(service);
	s->name = xstrdup(name);
	s->interval_ns = PROBE_DEFAULT_INTERVAL_NS;
	s->fail_n = PROBE_DEFAULT_FAIL_N;
	s->fail_m = PROBE_DEFAULT_FAIL_M;
	s->pass_k = PROBE_DEFAULT_PASS_K;
	s->severity = SEVERITY_PAGE;
	s->expect_exit = 0;
	static const char *const kinds[] = { "http", "tcp", "dns", "exec" };
	int found = -1;
	for (int k = 0; k < 4; k++)
		if (json_object_get(o, kinds[k])) {
			if (found >= 0)
				return fail(err, p, kinds[k], "a probe has one kind; %s is already given", kinds[found]);
			found = k;
		}
	if (found < 0)
		return fail(err, p, NULL, "needs one of http, tcp, dns, exec");
	s->kind = (enum probe_kind)found;
	struct path kp;
	snprintf(kp.s, sizeof(kp.s), "%.240s.%.4s", p->s, kinds[found]);
	json_t *kv = json_object_get(o, kinds[found]);
	switch (s->kind) {
	case PROBE_HTTP:
		rc = parse_http(s, kv, &kp, err);
		break;
	case PROBE_TCP:
		rc = parse_tcp(s, kv, &kp, err);
		break;
	case PROBE_DNS:
		rc = parse_dns(s, kv, &kp, err);
		break;
	case PROBE_EXEC:
		rc = parse_exec(s, kv, &kp, err);
		break;
	}
	if (!rc)
		rc = get_duration(o, "interval", p, 100 * OODA_NS_PER_MS, 24 * 3600 * OODA_NS_PER_SEC, &s->interval_ns, err);
	if (rc)
		return rc;
	s->timeout_ns = s->interval_ns < PROBE_DEFAULT_TIMEOUT_NS ? s->interval_ns : PROBE_DEFAULT_TIMEOUT_NS;
	const json_t *tsrc = o;
	struct path *tp = p;
	if (s->kind == PROBE_EXEC && json_is_object(kv) && json_object_get(kv, "timeout"))
		tsrc = kv, tp = &kp;
	if ((rc = get_duration(tsrc, "timeout", tp, 10 * OODA_NS_PER_MS, 3600 * OODA_NS_PER_SEC, &s->timeout_ns, err)))
		return rc;
	if (s->timeout_ns > s->interval_ns)
		return fail(err, tp, "timeout", "must not be longer than the interval, so attempts never overlap");
	if ((rc = parse_fail_after(s, json_object_get(o, "fail_after"), p, err)))
		return rc;
	long long k = s->pass_k;
	if ((rc = get_int(o, "pass_after", p, 1, PROBE_WINDOW_MAX, &k, err)))
		return rc;
	s->pass_k = (int)k;
	const char *sev = NULL;
	if ((rc = get_str(o, "severity", p, 16, &sev, err)))
		return rc;
	if (sev && alert_severity_parse(sev, &s->severity))
		return fail(err, p, "severity", "must be page, ticket or info, not \"%s\"", sev);
	return 0;
}

static void spec_release(struct probe_spec *s)
{
	free(s->service);
	free(s->name);
	free(s->owner);
	free(s->target);
	free(s->identity);
	free(s->method);
	for (size_t i = 0; i < s->n_headers; i++)
		free(s->headers[i]);
	free(s->headers);
	free(s->expect_text);
	free(s->body_contains);
	free(s->body_regex);
	if (s->re)
		pcre2_code_free(s->re);
	free(s->host);
	free(s->port);
	for (size_t i = 0; s->argv && i < s->argc; i++)
		free(s->argv[i]);
	free(s->argv);
	memset(s, 0, sizeof(*s));
}

void probe_specs_free(struct probe_spec *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		spec_release(&v[i]);
	free(v);
}

int probe_specs_parse(const json_t *services, struct probe_spec **out, size_t *n, struct buf *err)
{
	*out = NULL;
	*n = 0;
	if (!services || json_is_null(services))
		return 0;
	if (!json_is_array(services)) {
		buf_adds(err, "services: must be a list of services");
		return OODA_EINVAL;
	}
	size_t total = 0, i;
	json_t *svc;
	json_array_foreach(services, i, svc) {
		json_t *pr = json_object_get(svc, "probes");
		total += json_is_array(pr) ? json_array_size(pr) : 0;
	}
	if (total > PROBE_MAX) {
		buf_addf(err, "services: %zu probes, at most %d", total, PROBE_MAX);
		return OODA_EINVAL;
	}
	struct probe_spec *v = xcalloc(total ? total : 1, sizeof(*v));
	size_t k = 0;
	int rc = 0;
	json_array_foreach(services, i, svc) {
		struct path p;
		snprintf(p.s, sizeof(p.s), "services[%zu]", i);
		if (!json_is_object(svc)) {
			rc = fail(err, &p, NULL, "must be a mapping with a name");
			break;
		}
		json_t *pr = json_object_get(svc, "probes");
		if (!pr || json_is_null(pr))
			continue;
		const char *service = NULL;
		if ((rc = get_str(svc, "name", &p, 128, &service, err)))
			break;
		if (!service) {
			rc = fail(err, &p, "name", "is required for a service with probes");
			break;
		}
		if (!json_is_array(pr)) {
			rc = fail(err, &p, "probes", "must be a list");
			break;
		}
		size_t j;
		json_t *po;
		json_array_foreach(pr, j, po) {
			struct path pp;
			snprintf(pp.s, sizeof(pp.s), "services[%zu].probes[%zu]", i, j);
			if ((rc = parse_probe(&v[k], service, po, &pp, err))) {
				k++;
				break;
			}
			const char *owner = json_string_value(json_object_get(svc, "owner"));
			v[k].owner = owner ? xstrdup(owner) : NULL;
			for (size_t q = 0; q < k; q++)
				if (!strcmp(v[q].service, service) && !strcmp(v[q].name, v[k].name)) {
					rc = fail(err, &pp, "name", "\"%s\" is already a probe of service %s", v[k].name, service);
					break;
				}
			k++;
			if (rc)
				break;
		}
		if (rc)
			break;
	}
	if (rc) {
		probe_specs_free(v, k);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

/* Declared dependencies name other services: "services[i].dependencies[j]: ..." otherwise. */
static int services_deps_check(const json_t *services, struct buf *err)
{
	size_t i, j;
	json_t *svc, *d;
	json_array_foreach(services, i, svc) {
		const char *name = json_string_value(json_object_get(svc, "name"));
		json_array_foreach(json_object_get(svc, "dependencies"), j, d) {
			const char *dep = json_string_value(d);
			if (!dep || !*dep || strlen(dep) > 128) {
				buf_addf(err, "services[%zu].dependencies[%zu]: must be a service name of 1 to 128 characters", i, j);
				return OODA_EINVAL;
			}
			if (name && !strcmp(dep, name)) {
				buf_addf(err, "services[%zu].dependencies[%zu]: %s cannot depend on itself", i, j, dep);
				return OODA_EINVAL;
			}
		}
	}
	return 0;
}

void services_edges_json(const json_t *services, struct buf *out)
{
	json_t *edges = json_array();
	size_t i, j;
	json_t *svc, *d;
	json_array_foreach(services, i, svc) {
		json_t *name = json_object_get(svc, "name");
		json_array_foreach(json_object_get(svc, "dependencies"), j, d)
			if (json_is_string(name) && json_is_string(d))
				json_array_append_new(edges, json_pack("{s:O, s:O}", "source", name, "target", d));
	}
	json_t *g = json_pack("{s:o}", "edges", edges);
	char *t = json_dumps(g, JSON_COMPACT);
	buf_adds(out, t ? t : "{\"edges\":[]}");
	free(t);
	json_decref(g);
}

int probe_config_check(const char *section_json, struct buf *err)
{
	json_t *j = json_loads(section_json, JSON_DECODE_ANY, NULL);
	struct probe_spec *v = NULL;
	size_t n = 0;
	int rc = probe_specs_parse(json_is_null(j) ? NULL : j, &v, &n, err);
	if (!rc)
		rc = services_deps_check(j, err);
	probe_specs_free(v, n);
	json_decref(j);
	return rc;
}

/* ---- the prober --------------------------------------------------------- */

#define BODY_CAP (256u << 10)      /* response bytes kept for body_contains / body_regex */
#define FLUSH_EVERY_NS OODA_NS_PER_SEC
#define JOB_GRACE_NS OODA_NS_PER_SEC /* a worker's answer may come this late before the attempt times out */

/* A probe at run time. Only the prober thread changes it; readers hold mu. */
struct probe_rt {
	struct probe_spec spec;
	uint64_t id;                /* unique for the prober's life: worker answers name it */
	uint64_t run;               /* attempt counter: an answer for another attempt is dropped */
	int64_t due;                /* monotonic time of the next attempt */
	bool running;
	int64_t started, deadline;  /* monotonic */
	CURL *easy;
	struct curl_slist *hdrs;
	struct buf body;
	char errbuf[CURL_ERROR_SIZE];
	int fd;                     /* TCP connect in progress, or -1 */
	struct probe_window win;
	struct probe_result hist[PROBE_HISTORY]; /* ring, hist[head] newest */
	int n_hist, head;
	int64_t attempts, failures;
	bool dirty;                 /* evaluated since the last tick */
};

/* Work for the pool: a DNS lookup, an exec, or a TCP connect to a name. */
struct job {
	struct job *next;
	uint64_t id, run;
	enum probe_kind kind;
	char *host, *port;
	char **argv;
	int expect_exit;
	int64_t timeout_ns;
	struct probe_result res;
};

struct prober {
	pthread_mutex_t mu;         /* v, n, pending, done and what readers see of each probe */
	struct probe_rt **v;
	size_t n;
	struct probe_spec *pending;
	size_t n_pending;
	bool has_pending;
	json_t *services;           /* [{name, owner, dependencies}] as declared */
	struct job *done;
	uint64_t next_id;
	CURLM *multi;
	struct tstore *tstore;
	pthread_t thread;
	bool started;
	volatile int stop;
	struct worker *jobs;        /* core/worker: a pool of n_workers threads for blocking jobs */
	int n_workers;
	struct arena arena;         /* strings of the metric points waiting for the store */
	struct metric_point *pts;
	size_t n_pts, cap_pts;
	int64_t last_flush;
	int64_t store_errors;
};

static void result_set(struct probe_result *r, bool ok, int64_t dur, int code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void result_set(struct probe_result *r, bool ok, int64_t dur, int code, const char *fmt, ...)
{
	r->ok = ok;
	r->duration_ns = dur < 0 ? 0 : dur;
	r->code = code;
	r->at_ns = ooda_now_ns();
	r->error[0] = '\0';
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->error, sizeof(r->error), fmt, ap);
		va_end(ap);
	}
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->host);
	free(j->port);
	for (size_t i = 0; j->argv && j->argv[i]; i++)
		free(j->argv[i]);
	free(j->argv);
	free(j);
}

/* Starts a non-blocking connect; 0 connected, 1 in progress, else -errno. */
static int tcp_open(const struct addrinfo *ai, int *fd)
{
	*fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (*fd < 0)
		return -errno;
	if (!connect(*fd, ai->ai_addr, ai->ai_addrlen))
		return 0;
	if (errno == EINPROGRESS)
		return 1;
	int e = errno;
	close(*fd);
	*fd = -1;
	return -e;
}

static int tcp_finish(int fd)
{
	int e = 0;
	socklen_t l = sizeof(e);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l))
		e = errno;
	return e;
}

static void run_tcp_job(struct job *j)
{
	int64_t t0 = ooda_mono_ns(), deadline = t0 + j->timeout_ns;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	int g = getaddrinfo(j->host, j->port, &hints, &ai);
	if (g) {
		result_set(&j->res, false, ooda_mono_ns() - t0, -1, "cannot resolve %s: %s", j->host, gai_strerror(g));
		return;
	}
	int fd, rc = tcp_open(ai, &fd);
	freeaddrinfo(ai);
	if (rc == 1) {
		struct pollfd pf = { .fd = fd, .events = POLLOUT };
		int64_t left = deadline - ooda_mono_ns();
		int n = left > 0 ? poll(&pf, 1, (int)(left / OODA_NS_PER_MS) + 1) : 0;
		rc = n > 0 ? -tcp_finish(fd) : n == 0 ? -ETIMEDOUT : -errno;
	}
	if (fd >= 0)
		close(fd);
	int64_t dur = ooda_mono_ns() - t0;
	if (rc == -ETIMEDOUT)
		result_set(&j->res, false, dur, -1, "connect to %s:%s timed out", j->host, j->port);
	else if (rc)
		result_set(&j->res, false, dur, -1, "connect to %s:%s: %s", j->host, j->port, strerror(-rc));
	else
		result_set(&j->res, true, dur, -1, NULL);
}

static void run_dns_job(struct job *j)
{
	int64_t t0 = ooda_mono_ns();
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	int g = getaddrinfo(j->host, NULL, &hints, &ai);
	int64_t dur = ooda_mono_ns() - t0;
	if (g) {
		result_set(&j->res, false, dur, -1, "cannot resolve %s: %s", j->host, gai_strerror(g));
		return;
	}
	freeaddrinfo(ai);
	if (dur > j->timeout_ns)
		result_set(&j->res, false, dur, -1, "resolving %s took longer than the timeout", j->host);
	else
		result_set(&j->res, true, dur, -1, NULL);
}

/* The last line of a child's output, for the error text. */
static void last_line(const char *out, size_t n, char *line, size_t size)
{
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
		n--;
	size_t s = n;
	while (s && out[s - 1] != '\n')
		s--;
	snprintf(line, size, "%.*s", (int)(n - s > 160 ? 160 : n - s), out + s);
}

/* fork/exec without a shell; SIGKILL to its process group at the deadline. */
static void run_exec_job(struct job *j)
{
	int64_t t0 = ooda_mono_ns(), deadline = t0 + j->timeout_ns;
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC)) {
		result_set(&j->res, false, 0, -1, "pipe: %s", strerror(errno));
		return;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	posix_spawnattr_t at;
	posix_spawnattr_init(&at);
	sigset_t none, def;
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGHUP);
	posix_spawnattr_setsigmask(&at, &none);     /* the daemon blocks these; the child must not */
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	pid_t pid;
	int rc = posix_spawnp(&pid, j->argv[0], &fa, &at, j->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(pfd[1]);
	if (rc) {
		close(pfd[0]);
		result_set(&j->res, false, ooda_mono_ns() - t0, -1, "cannot run %s: %s", j->argv[0], strerror(rc));
		return;
	}
	char out[2048];
	size_t n = 0;
	bool eof = false, timed_out = false;
	while (!eof) {
		int64_t left = deadline - ooda_mono_ns();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd pf = { .fd = pfd[0], .events = POLLIN };
		int k = poll(&pf, 1, (int)(left / OODA_NS_PER_MS) + 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			continue;
		char chunk[1024];
		ssize_t r = read(pfd[0], chunk, sizeof(chunk));
		if (r <= 0) {
			eof = r == 0 || errno != EINTR;
			continue;
		}
		/* keep the tail */
		if (n + (size_t)r > sizeof(out)) {
			size_t drop = n + (size_t)r - sizeof(out);
			memmove(out, out + drop, n - drop);
			n -= drop;
		}
		memcpy(out + n, chunk, (size_t)r);
		n += (size_t)r;
	}
	close(pfd[0]);
	int st = 0;
	pid_t w = 0;
	while (!timed_out && (w = waitpid(pid, &st, WNOHANG)) == 0) {
		if (ooda_mono_ns() >= deadline) {
			timed_out = true;
			break;
		}
		poll(NULL, 0, 5);
	}
	if (timed_out) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		char d[32];
		result_set(&j->res, false, ooda_mono_ns() - t0, -1, "%s timed out after %s and was killed", j->argv[0],
			   ooda_duration_format(j->timeout_ns, d, sizeof(d)));
		return;
	}
	int64_t dur = ooda_mono_ns() - t0;
	char line[200];
	last_line(out, n, line, sizeof(line));
	if (w < 0)
		result_set(&j->res, false, dur, -1, "waitpid: %s", strerror(errno));
	else if (WIFSIGNALED(st))
		result_set(&j->res, false, dur, -1, "%s killed by signal %d", j->argv[0], WTERMSIG(st));
	else if (WEXITSTATUS(st) != j->expect_exit)
		result_set(&j->res, false, dur, WEXITSTATUS(st), "%s exited %d (expected %d)%s%s", j->argv[0],
			   WEXITSTATUS(st), j->expect_exit, line[0] ? ": " : "", line);
	else
		result_set(&j->res, true, dur, WEXITSTATUS(st), NULL);
}

/* Hands a finished job back to the prober thread. */
static void job_finished(struct prober *p, struct job *j)
{
	pthread_mutex_lock(&p->mu);
	j->next = p->done;
	p->done = j;
	pthread_mutex_unlock(&p->mu);
	curl_multi_wakeup(p->multi);
}

/* The job pool's fn: runs one blocking job (a name to resolve, a command to run). */
static void job_run(void *arg, void *item)
{
	struct prober *p = arg;
	struct job *j = item;
	if (!j)
		return;
	switch (j->kind) {
	case PROBE_DNS:
		run_dns_job(j);
		break;
	case PROBE_EXEC:
		run_exec_job(j);
		break;
	default:
		run_tcp_job(j);
		break;
	}
	job_finished(p, j);
}

static void job_drop(void *item)
{
	job_free(item);
}

static void job_submit(struct prober *p, struct probe_rt *rt)
{
	struct job *j = xcalloc(1, sizeof(*j));
	j->id = rt->id;
	j->run = rt->run;
	j->kind = rt->spec.kind;
	j->host = xstrdup(rt->spec.host);
	j->port = xstrdup(rt->spec.port);
	j->expect_exit = rt->spec.expect_exit;
	j->timeout_ns = rt->spec.timeout_ns;
	if (rt->spec.argv) {
		j->argv = xcalloc(rt->spec.argc + 1, sizeof(char *));
		for (size_t i = 0; i < rt->spec.argc; i++)
			j->argv[i] = xstrdup(rt->spec.argv[i]);
	}
	if (!p->jobs || worker_push(p->jobs, j)) { /* never with PROBE_MAX probes: the queue holds two configurations */
		result_set(&j->res, false, 0, -1, "the probe job queue is full");
		job_finished(p, j);
	}
}

/* ---- results ------------------------------------------------------------ */

static void add_points(struct prober *p, const struct probe_rt *rt, const struct probe_result *r)
{
	if (!p->tstore)
		return;
	if (p->n_pts + 2 > p->cap_pts) {
		p->cap_pts = p->cap_pts ? p->cap_pts * 2 : 64;
		p->pts = xrealloc(p->pts, p->cap_pts * sizeof(*p->pts));
	}
	struct resource *res = arena_zalloc(&p->arena, sizeof(*res));
	res->service = arena_strdup(&p->arena, rt->spec.service);
	struct attr *a = arena_zalloc(&p->arena, 2 * sizeof(*a));
	a[0] = (struct attr){ .key = "probe", .type = ATTR_STR, .s = arena_strdup(&p->arena, rt->spec.name),
			      .len = (uint32_t)strlen(rt->spec.name) };
	a[1] = (struct attr){ .key = "service", .type = ATTR_STR, .s = res->service,
			      .len = (uint32_t)strlen(rt->spec.service) };
	const char *names[2] = { "ooda_probe_success", "ooda_probe_duration_seconds" };
	double values[2] = { r->ok ? 1.0 : 0.0, (double)r->duration_ns / 1e9 };
	for (int i = 0; i < 2; i++) {
		struct metric_point *m = &p->pts[p->n_pts++];
		memset(m, 0, sizeof(*m));
		m->name = names[i];
		m->unit = i ? "s" : "1";
		m->type = METRIC_GAUGE;
		m->time_ns = r->at_ns;
		m->resource = res;
		m->scope_name = "ooda.probe";
		m->attrs = (struct attrs){ a, 2 };
		m->value = values[i];
	}
}

/* On the prober thread only: the store blocks until the points are durable. */
static void flush_points(struct prober *p, bool force)
{
	int64_t now = ooda_mono_ns();
	if (!p->n_pts || (!force && p->n_pts < 512 && now - p->last_flush < FLUSH_EVERY_NS))
		return;
	struct telemetry_batch b = { .arena = &p->arena, .points = p->pts, .n_points = p->n_pts };
	struct buf err = BUF_INIT;
	if (tstore_append(p->tstore, &b, &err) && p->store_errors++ % 60 == 0)
		log_error("probe results not stored: %s", err.data);
	buf_release(&err);
	arena_reset(&p->arena);
	p->n_pts = 0;
	p->last_flush = now;
}

static void record(struct prober *p, struct probe_rt *rt, const struct probe_result *r)
{
	pthread_mutex_lock(&p->mu);
	rt->running = false;
	rt->run++;
	rt->deadline = 0;
	probe_window_push(&rt->win, r->ok, rt->spec.fail_n, rt->spec.fail_m, rt->spec.pass_k);
	rt->head = (rt->head + 1) % PROBE_HISTORY;
	rt->hist[rt->head] = *r;
	if (rt->n_hist < PROBE_HISTORY)
		rt->n_hist++;
	rt->attempts++;
	rt->failures += !r->ok;
	rt->dirty = true;
	pthread_mutex_unlock(&p->mu);
	add_points(p, rt, r);
}

static size_t body_cb(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct probe_rt *rt = ctx;
	size_t n = size * nmemb;
	if (rt->body.len < BODY_CAP)
		buf_add(&rt->body, data, rt->body.len + n > BODY_CAP ? BODY_CAP - rt->body.len : n);
	return n;
}

static void http_cleanup(struct prober *p, struct probe_rt *rt)
{
	if (rt->easy) {
		curl_multi_remove_handle(p->multi, rt->easy);
		curl_easy_cleanup(rt->easy);
		rt->easy = NULL;
	}
	curl_slist_free_all(rt->hdrs);
	rt->hdrs = NULL;
	buf_release(&rt->body);
}

static void http_start(struct prober *p, struct probe_rt *rt)
{
	const struct probe_spec *s = &rt->spec;
	CURL *e = curl_easy_init();
	if (!e) {
		struct probe_result r;
		result_set(&r, false, 0, -1, "cannot create an HTTP transfer");
		record(p, rt, &r);
		return;
	}
	rt->easy = e;
	rt->errbuf[0] = '\0';
	buf_init(&rt->body);
	for (size_t i = 0; i < s->n_headers; i++)
		rt->hdrs = curl_slist_append(rt->hdrs, s->headers[i]);
	rt->hdrs = curl_slist_append(rt->hdrs, "User-Agent: ooda-probe/" OODA_VERSION);
	curl_easy_setopt(e, CURLOPT_URL, s->target);
	if (!strcmp(s->method, "HEAD"))
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(s->method, "GET"))
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, s->method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, rt->hdrs);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(s->timeout_ns / OODA_NS_PER_MS));
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, rt);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, rt->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, rt);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_multi_add_handle(p->multi, e);
}

static bool body_matches(void *re, const struct buf *body)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	int m = pcre2_match(re, (PCRE2_SPTR)body->data, body->len, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	return m >= 0;
}

static void http_done(struct prober *p, struct probe_rt *rt, CURLcode code)
{
	const struct probe_spec *s = &rt->spec;
	long status = 0;
	curl_off_t total = 0;
	curl_easy_getinfo(rt->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(rt->easy, CURLINFO_TOTAL_TIME_T, &total);
	int64_t dur = (int64_t)total * 1000;
	struct probe_result r;
	char a[32], b[32];
	if (code != CURLE_OK) {
		result_set(&r, false, dur, (int)status, "%s", rt->errbuf[0] ? rt->errbuf : curl_easy_strerror(code));
	} else if (!probe_status_expected(s, status)) {
		result_set(&r, false, dur, (int)status, "status %ld, expected %s", status, s->expect_text);
	} else if (s->body_contains && !memmem(rt->body.data, rt->body.len, s->body_contains, strlen(s->body_contains))) {
		result_set(&r, false, dur, (int)status, "body does not contain \"%.80s\"", s->body_contains);
	} else if (s->re && !body_matches(s->re, &rt->body)) {
		result_set(&r, false, dur, (int)status, "body does not match /%.80s/", s->body_regex);
	} else if (s->max_latency_ns && dur > s->max_latency_ns) {
		result_set(&r, false, dur, (int)status, "took %s, over max_latency %s",
			   ooda_duration_format(dur / OODA_NS_PER_MS * OODA_NS_PER_MS, a, sizeof(a)),
			   ooda_duration_format(s->max_latency_ns, b, sizeof(b)));
	} else {
		result_set(&r, true, dur, (int)status, NULL);
	}
	http_cleanup(p, rt);
	record(p, rt, &r);
}

static void tcp_start(struct prober *p, struct probe_rt *rt)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *ai = NULL;
	if (getaddrinfo(rt->spec.host, rt->spec.port, &hints, &ai)) {
		job_submit(p, rt); /* a name: resolving may block, so a worker does it all */
		return;
	}
	int rc = tcp_open(ai, &rt->fd);
	freeaddrinfo(ai);
	if (rc == 1)
		return;
	struct probe_result r;
	if (rc)
		result_set(&r, false, ooda_mono_ns() - rt->started, -1, "connect to %s: %s", rt->spec.target, strerror(-rc));
	else
		result_set(&r, true, ooda_mono_ns() - rt->started, -1, NULL);
	if (rt->fd >= 0)
		close(rt->fd);
	rt->fd = -1;
	record(p, rt, &r);
}

static void tcp_done(struct prober *p, struct probe_rt *rt, int e)
{
	struct probe_result r;
	int64_t dur = ooda_mono_ns() - rt->started;
	if (e == ETIMEDOUT)
		result_set(&r, false, dur, -1, "connect to %s timed out", rt->spec.target);
	else if (e)
		result_set(&r, false, dur, -1, "connect to %s: %s", rt->spec.target, strerror(e));
	else
		result_set(&r, true, dur, -1, NULL);
	close(rt->fd);
	rt->fd = -1;
	record(p, rt, &r);
}

static void attempt_start(struct prober *p, struct probe_rt *rt, int64_t now)
{
	pthread_mutex_lock(&p->mu);
	rt->running = true;
	rt->started = now;
	rt->deadline = now + rt->spec.timeout_ns + JOB_GRACE_NS;
	pthread_mutex_unlock(&p->mu);
	switch (rt->spec.kind) {
	case PROBE_HTTP:
		http_start(p, rt);
		break;
	case PROBE_TCP:
		rt->deadline = now + rt->spec.timeout_ns;
		tcp_start(p, rt);
		break;
	default:
		job_submit(p, rt);
		break;
	}
}

/* Abandons an attempt in flight (reload, shutdown, or a worker too late). */
static void attempt_cancel(struct prober *p, struct probe_rt *rt)
{
	http_cleanup(p, rt);
	if (rt->fd >= 0)
		close(rt->fd);
	rt->fd = -1;
}

static void rt_free(struct prober *p, struct probe_rt *rt)
{
	attempt_cancel(p, rt);
	spec_release(&rt->spec);
	free(rt);
}

/* Makes pending specs current, keeping the state of unchanged probes. Holds mu. */
static void apply_locked(struct prober *p, struct probe_spec *specs, size_t n)
{
	struct probe_rt **nv = xcalloc(n ? n : 1, sizeof(*nv));
	int64_t now = ooda_mono_ns();
	for (size_t i = 0; i < n; i++) {
		struct probe_rt *keep = NULL;
		for (size_t k = 0; k < p->n; k++) {
			struct probe_rt *o = p->v[k];
			if (o && !strcmp(o->spec.service, specs[i].service) && !strcmp(o->spec.name, specs[i].name) &&
			    !strcmp(o->spec.identity, specs[i].identity)) {
				keep = o;
				p->v[k] = NULL;
				break;
			}
		}
		if (keep) {
			bool interval_changed = keep->spec.interval_ns != specs[i].interval_ns;
			/* curl copied the URL; headers live in keep->hdrs: the attempt in flight is unaffected */
			spec_release(&keep->spec);
			keep->spec = specs[i];
			if (interval_changed && !keep->running)
				keep->due = now;
		} else {
			keep = xcalloc(1, sizeof(*keep));
			keep->spec = specs[i];
			keep->id = ++p->next_id;
			keep->fd = -1;
			keep->due = now;
			buf_init(&keep->body);
		}
		memset(&specs[i], 0, sizeof(specs[i]));
		nv[i] = keep;
	}
	for (size_t k = 0; k < p->n; k++)
		if (p->v[k])
			rt_free(p, p->v[k]);
	free(p->v);
	free(specs);
	p->v = nv;
	p->n = n;
}

static struct probe_rt *rt_by_id(struct prober *p, uint64_t id)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i]->id == id)
			return p->v[i];
	return NULL;
}

static void *prober_main(void *arg)
{
	struct prober *p = arg;
	struct curl_waitfd *wfd = NULL;
	struct pollfd *pfd = NULL;
	struct probe_rt **tcp = NULL;
	size_t cap = 0;
	while (!p->stop) {
		pthread_mutex_lock(&p->mu);
		if (p->has_pending) {
			apply_locked(p, p->pending, p->n_pending);
			p->pending = NULL;
			p->n_pending = 0;
			p->has_pending = false;
		}
		pthread_mutex_unlock(&p->mu);
		if (cap < p->n) {
			cap = p->n;
			wfd = xrealloc(wfd, cap * sizeof(*wfd));
			pfd = xrealloc(pfd, cap * sizeof(*pfd));
			tcp = xrealloc(tcp, cap * sizeof(*tcp));
		}
		int64_t now = ooda_mono_ns(), wake = now + OODA_NS_PER_SEC;
		size_t nt = 0;
		for (size_t i = 0; i < p->n; i++) {
			struct probe_rt *rt = p->v[i];
			if (rt->running && rt->deadline && now >= rt->deadline) {
				/* a worker or a connect that outlived its timeout: the attempt failed */
				struct probe_result r;
				char d[32];
				result_set(&r, false, now - rt->started, -1, "no answer within the timeout (%s)",
					   ooda_duration_format(rt->spec.timeout_ns, d, sizeof(d)));
				if (rt->fd >= 0 && rt->spec.kind == PROBE_TCP) {
					tcp_done(p, rt, ETIMEDOUT);
				} else {
					attempt_cancel(p, rt);
					record(p, rt, &r);
				}
			}
			if (!rt->running && now >= rt->due) {
				attempt_start(p, rt, now);
				rt->due = probe_next_due(rt->due, rt->spec.interval_ns, now);
			}
			if (!rt->running && rt->due < wake)
				wake = rt->due;
			if (rt->running && rt->deadline && rt->deadline < wake)
				wake = rt->deadline;
			if (rt->running && rt->fd >= 0) {
				wfd[nt] = (struct curl_waitfd){ .fd = rt->fd, .events = CURL_WAIT_POLLOUT };
				tcp[nt++] = rt;
			}
		}
		int64_t ms = (wake - now) / OODA_NS_PER_MS + 1;
		if (p->n_pts && ms > 1000)
			ms = 1000;
		int numfds = 0;
		curl_multi_poll(p->multi, nt ? wfd : NULL, (unsigned)nt, (int)(ms < 0 ? 0 : ms), &numfds);
		int still = 0;
		curl_multi_perform(p->multi, &still);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(p->multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct probe_rt *rt = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&rt);
			if (rt)
				http_done(p, rt, msg->data.result);
		}
		if (nt) {
			for (size_t i = 0; i < nt; i++)
				pfd[i] = (struct pollfd){ .fd = tcp[i]->fd, .events = POLLOUT };
			if (poll(pfd, nt, 0) > 0)
				for (size_t i = 0; i < nt; i++)
					if (pfd[i].revents)
						tcp_done(p, tcp[i], tcp_finish(pfd[i].fd));
		}
		pthread_mutex_lock(&p->mu);
		struct job *done = p->done;
		p->done = NULL;
		pthread_mutex_unlock(&p->mu);
		while (done) {
			struct job *j = done;
			done = j->next;
			struct probe_rt *rt = rt_by_id(p, j->id);
			if (rt && rt->running && rt->run == j->run)
				record(p, rt, &j->res);
			job_free(j);
		}
		flush_points(p, false);
	}
	flush_points(p, true);
	free(wfd);
	free(pfd);
	free(tcp);
	return NULL;
}

/* ---- lifecycle ------------------------------------------------------------ */

int prober_create(const struct prober_options *opt, struct prober **out, struct buf *err)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct prober *p = xcalloc(1, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	p->tstore = opt ? opt->tstore : NULL;
	p->n_workers = opt && opt->workers > 0 ? opt->workers : 4;
	arena_init(&p->arena, 0);
	p->multi = curl_multi_init();
	if (!p->multi) {
		buf_adds(err, "cannot create the HTTP client of the prober");
		prober_destroy(p);
		return OODA_ENOMEM;
	}
	curl_multi_setopt(p->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
	*out = p;
	return 0;
}

int prober_configure(struct prober *p, const json_t *services, bool apply, struct buf *err)
{
	struct probe_spec *v;
	size_t n;
	int rc = probe_specs_parse(services, &v, &n, err);
	if (rc || !apply) {
		if (!rc)
			probe_specs_free(v, n);
		return rc;
	}
	json_t *declared = json_array();
	size_t i;
	json_t *svc;
	json_array_foreach(services, i, svc) {
		json_t *deps = json_object_get(svc, "dependencies");
		json_array_append_new(declared, json_pack("{s:O?, s:O?, s:o}", "name", json_object_get(svc, "name"), "owner",
							  json_object_get(svc, "owner"), "dependencies",
							  json_is_array(deps) ? json_incref(deps) : json_array()));
	}
	pthread_mutex_lock(&p->mu);
	json_decref(p->services);
	p->services = declared;
	if (!p->started) {
		apply_locked(p, v, n);
	} else {
		if (p->has_pending)
			probe_specs_free(p->pending, p->n_pending);
		p->pending = v;
		p->n_pending = n;
		p->has_pending = true;
	}
	pthread_mutex_unlock(&p->mu);
	if (p->started)
		curl_multi_wakeup(p->multi);
	return 0;
}

int prober_start(struct prober *p, struct buf *err)
{
	struct worker_opts o = { .capacity = 2 * PROBE_MAX, .threads = p->n_workers, .stop_mode = WORKER_CANCEL,
				 .item_free = job_drop };
	int rc = worker_create("probe jobs", job_run, p, &o, &p->jobs, err);
	if (rc)
		return rc;
	p->last_flush = ooda_mono_ns();
	pthread_mutex_lock(&p->mu);
	p->started = true;
	pthread_mutex_unlock(&p->mu);
	if (pthread_create(&p->thread, NULL, prober_main, p)) {
		p->started = false;
		buf_adds(err, "cannot start the prober thread");
		return OODA_EINTERNAL;
	}
	return 0;
}

void prober_destroy(struct prober *p)
{
	if (!p)
		return;
	if (p->started) {
		p->stop = 1;
		curl_multi_wakeup(p->multi);
		pthread_join(p->thread, NULL);
	}
	worker_destroy(p->jobs); /* queued jobs are dropped, running ones finish */
	while (p->done) {
		struct job *n = p->done->next;
		job_free(p->done);
		p->done = n;
	}
	for (size_t i = 0; i < p->n; i++)
		rt_free(p, p->v[i]);
	free(p->v);
	json_decref(p->services);
	probe_specs_free(p->pending, p->n_pending);
	if (p->multi)
		curl_multi_cleanup(p->multi);
	arena_release(&p->arena);
	free(p->pts);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* ---- reading: API and tick ------------------------------------------------- */

static json_t *result_json(const struct probe_result *r)
{
	char t[40];
	json_t *o = json_pack("{s:s, s:b, s:f}", "at", ooda_time_format(r->at_ns, t, sizeof(t)), "ok", r->ok,
			      "duration_ms", (double)r->duration_ns / 1e6);
	if (r->code >= 0)
		json_object_set_new(o, "code", json_integer(r->code));
	if (r->error[0])
		json_object_set_new(o, "error", json_string(r->error));
	return o;
}

static const struct probe_result *newest(const struct probe_rt *rt)
{
	return rt->n_hist ? &rt->hist[rt->head] : NULL;
}

/* Holds mu. */
static json_t *rt_json(const struct probe_rt *rt, int64_t mono, int64_t wall)
{
	const struct probe_spec *s = &rt->spec;
	char a[32], b[32], when[40];
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "service", s->service, "name", s->name,
			      "kind", probe_kind_name(s->kind), "target", s->target, "state", probe_state_name(rt->win.state),
			      "severity", alert_severity_name(s->severity),
			      "interval", ooda_duration_format(s->interval_ns, a, sizeof(a)),
			      "timeout", ooda_duration_format(s->timeout_ns, b, sizeof(b)));
	json_object_set_new(o, "owner", s->owner ? json_string(s->owner) : json_null());
	char fa[32];
	snprintf(fa, sizeof(fa), "%d of %d", s->fail_n, s->fail_m);
	json_object_set_new(o, "window", json_pack("{s:s, s:i, s:i, s:i, s:i}", "fail_after", fa, "pass_after", s->pass_k,
						   "failures", probe_window_failures(&rt->win, s->fail_m), "attempts",
						   rt->win.len < s->fail_m ? rt->win.len : s->fail_m,
						   "consecutive_successes", rt->win.consecutive_ok));
	json_object_set_new(o, "attempts", json_integer(rt->attempts));
	json_object_set_new(o, "failures", json_integer(rt->failures));
	json_object_set_new(o, "running", json_boolean(rt->running));
	if (s->kind == PROBE_HTTP && s->max_latency_ns)
		json_object_set_new(o, "max_latency", json_string(ooda_duration_format(s->max_latency_ns, a, sizeof(a))));
	json_object_set_new(o, "next_due", json_string(ooda_time_format(wall + (rt->due - mono), when, sizeof(when))));
	const struct probe_result *last = newest(rt);
	json_object_set_new(o, "last", last ? result_json(last) : json_null());
	json_t *res = json_array();
	for (int i = 0; i < rt->n_hist; i++)
		json_array_append_new(res, result_json(&rt->hist[(rt->head - i + PROBE_HISTORY) % PROBE_HISTORY]));
	json_object_set_new(o, "results", res);
	return o;
}

static void dump(json_t *j, struct buf *out)
{
	char *t = json_dumps(j, JSON_COMPACT);
	buf_adds(out, t ? t : "null");
	free(t);
	json_decref(j);
}

int prober_json(struct prober *p, const char *service, const char *name, struct buf *out, struct buf *err)
{
	int64_t mono = ooda_mono_ns(), wall = ooda_now_ns();
	pthread_mutex_lock(&p->mu);
	if (!service) {
		json_t *arr = json_array();
		for (size_t i = 0; i < p->n; i++)
			json_array_append_new(arr, rt_json(p->v[i], mono, wall));
		json_t *svcs = p->services ? json_deep_copy(p->services) : json_array();
		pthread_mutex_unlock(&p->mu);
		dump(json_pack("{s:o, s:o}", "probes", arr, "services", svcs), out);
		return 0;
	}
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->v[i]->spec.service, service) && !strcmp(p->v[i]->spec.name, name)) {
			json_t *o = rt_json(p->v[i], mono, wall);
			pthread_mutex_unlock(&p->mu);
			dump(o, out);
			return 0;
		}
	pthread_mutex_unlock(&p->mu);
	buf_addf(err, "no probe %s of service %s in ooda.yaml", name, service);
	return OODA_ENOTFOUND;
}

void probes_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	struct prober *p = ctx;
	int64_t mono = ooda_mono_ns();
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->n; i++) {
		struct probe_rt *rt = p->v[i];
		if (!rt->dirty)
			continue;
		rt->dirty = false;
		if (!sink || !sink->signal)
			continue;
		const struct probe_result *last = newest(rt);
		json_t *ev = rt_json(rt, mono, now_ns);
		json_object_set_new(ev, "latency_ms", json_real(last ? (double)last->duration_ns / 1e6 : 0));
		json_object_set_new(ev, "error", json_string(last && last->error[0] ? last->error : ""));
		json_t *labels = json_pack("{s:s, s:s}", "probe", rt->spec.name, "kind", probe_kind_name(rt->spec.kind));
		struct buf name = BUF_INIT, summary = BUF_INIT;
		buf_addf(&name, "probe:%s/%s", rt->spec.service, rt->spec.name);
		bool failing = rt->win.state == PROBE_FAILING;
		buf_addf(&summary, "probe %s/%s (%s %s) is %s%s%s", rt->spec.service, rt->spec.name,
			 probe_kind_name(rt->spec.kind), rt->spec.target, probe_state_name(rt->win.state),
			 failing && last && last->error[0] ? ": " : "", failing && last ? last->error : "");
		json_t *ann = json_pack("{s:s}", "summary", summary.data);
		struct alert_signal s = {
			.source = "probe",
			.name = name.data,
			.service = rt->spec.service,
			.severity = rt->spec.severity,
			.labels = labels,
			.annotations = ann,
			.evidence = ev,
			.active = failing,
			.at_ns = last ? last->at_ns : now_ns,
		};
		alert_emit(sink, &s);
		json_decref(ev);
		json_decref(labels);
		json_decref(ann);
		buf_release(&name);
		buf_release(&summary);
	}
	pthread_mutex_unlock(&p->mu);
}
