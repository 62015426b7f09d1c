/*
 * Probes from config (see probe.h): the `probe:` blocks of the services
 * section parsed and checked into probe specs, with the key path of
 * whatever is wrong, and the services' dependency edges. probe.c runs them.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "detect/probe_impl.h"

#include <ctype.h>
#include <errno.h>
#include <pcre2.h>

#include "core/error.h"
#include "core/time.h"

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

void probe_spec_release(struct probe_spec *s)
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
		probe_spec_release(&v[i]);
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

