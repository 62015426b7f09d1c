/*
 * The formats JSON Schema validation asserts rather than merely annotates
 * (see jschema.c): date-time, date, time and duration (RFC 3339 / ISO
 * 8601), email, hostname, ipv4, ipv6, uri and uuid, each a checker over
 * the string's bytes, and the table jschema.c looks them up in both when
 * compiling a schema's "format" and when validating a string against it.
 */
#include "change/jschema_impl.h"

#include <arpa/inet.h>
#include <string.h>

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int two(const char *s)
{
	return is_digit(s[0]) && is_digit(s[1]) ? (s[0] - '0') * 10 + (s[1] - '0') : -1;
}

static bool fmt_date(const char *s, size_t n)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (n != 10 || s[4] != '-' || s[7] != '-' || two(s) < 0 || two(s + 2) < 0)
		return false;
	int y = two(s) * 100 + two(s + 2), m = two(s + 5), d = two(s + 8);
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return !(m == 2 && d == 29 && !leap);
}

/* RFC 3339 full-time: HH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
static bool fmt_time(const char *s, size_t n)
{
	if (n < 9 || s[2] != ':' || s[5] != ':')
		return false;
	int h = two(s), m = two(s + 3), sec = two(s + 6);
	if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60)
		return false;
	size_t i = 8;
	if (s[i] == '.') {
		size_t d = ++i;
		while (i < n && is_digit(s[i]))
			i++;
		if (i == d)
			return false;
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z'))
		return i + 1 == n;
	if (i + 6 != n || (s[i] != '+' && s[i] != '-') || s[i + 3] != ':')
		return false;
	int oh = two(s + i + 1), om = two(s + i + 4);
	return oh >= 0 && oh <= 23 && om >= 0 && om <= 59;
}

static bool fmt_date_time(const char *s, size_t n)
{
	return n > 11 && (s[10] == 'T' || s[10] == 't') && fmt_date(s, 10) && fmt_time(s + 11, n - 11);
}

/* Parses digits and one of units (in order, from *ui); false if neither. */
static bool dur_part(const char **p, const char *end, const char *units, size_t *ui)
{
	const char *q = *p;
	while (q < end && is_digit(*q))
		q++;
	if (q == *p || q == end)
		return false;
	const char *u = strchr(units + *ui, *q);
	if (!*q || !u)
		return false;
	*ui = (size_t)(u - units) + 1;
	*p = q + 1;
	return true;
}

/* ISO 8601 duration as in RFC 3339 appendix A: P1Y2M3DT4H5M6S, PT30S, P2W. */
static bool fmt_duration(const char *s, size_t n)
{
	const char *p = s + 1, *end = s + n;
	if (n < 3 || s[0] != 'P')
		return false;
	size_t ui = 0;
	if (end[-1] == 'W')
		return dur_part(&p, end, "W", &ui) && p == end;
	bool any = false;
	while (p < end && *p != 'T') {
		if (!dur_part(&p, end, "YMD", &ui))
			return false;
		any = true;
	}
	if (p < end) {
		p++;
		ui = 0;
		if (p == end)
			return false;
		while (p < end) {
			if (!dur_part(&p, end, "HMS", &ui))
				return false;
			any = true;
		}
	}
	return any;
}

/* RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
static bool fmt_hostname(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (is_alpha(s[i]) || is_digit(s[i]) || (s[i] == '-' && label > 0)) {
			label++;
		} else {
			return false;
		}
	}
	return true;
}

/* local@domain: a dot-atom local part (RFC 5321) and a host name. */
static bool fmt_email(const char *s, size_t n)
{
	const char *at = memrchr(s, '@', n);
	if (!at)
		return false;
	size_t local = (size_t)(at - s);
	if (local == 0 || local > 64 || s[0] == '.' || s[local - 1] == '.')
		return false;
	for (size_t i = 0; i < local; i++) {
		char c = s[i];
		if (c == '.' && s[i + 1] == '.')
			return false;
		if (!is_alpha(c) && !is_digit(c) && (!c || !strchr(".!#$%&'*+-/=?^_`{|}~", c)))
			return false;
	}
	return fmt_hostname(at + 1, n - local - 1);
}

/* Dotted quad, no leading zeros. */
static bool fmt_ipv4(const char *s, size_t n)
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		if (part && (i >= n || s[i++] != '.'))
			return false;
		size_t d = i;
		int v = 0;
		while (i < n && is_digit(s[i]) && i - d < 3)
			v = v * 10 + (s[i++] - '0');
		if (i == d || v > 255 || (i - d > 1 && s[d] == '0'))
			return false;
	}
	return i == n;
}

static bool fmt_ipv6(const char *s, size_t n)
{
	char tmp[INET6_ADDRSTRLEN];
	struct in6_addr a;
	if (n == 0 || n >= sizeof(tmp) || memchr(s, 0, n))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	return inet_pton(AF_INET6, tmp, &a) == 1;
}

/* RFC 3986 absolute URI: a scheme, ':', then only URI characters and %HH. */
static bool fmt_uri(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0 || !is_alpha(s[0]))
		return false;
	while (i < n && (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	if (i == n || s[i] != ':')
		return false;
	for (i++; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
				return false;
			i += 2;
		} else if (!is_alpha(c) && !is_digit(c) && (!c || !strchr("-._~:/?#[]@!$&'()*+,;=", c))) {
			return false;
		}
	}
	return true;
}

static bool fmt_uuid(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !is_hex(s[i]))
			return false;
	return true;
}

static const struct jschema_format formats[] = {
	{ "date-time", fmt_date_time }, { "date", fmt_date },   { "time", fmt_time },
	{ "duration", fmt_duration },   { "email", fmt_email }, { "hostname", fmt_hostname },
	{ "ipv4", fmt_ipv4 },           { "ipv6", fmt_ipv6 },   { "uri", fmt_uri },
	{ "uuid", fmt_uuid },
};

const struct jschema_format *jschema_format_find(const char *name)
{
	for (size_t i = 0; i < COUNT(formats); i++)
		if (!strcmp(formats[i].name, name))
			return &formats[i];
	return NULL;
}

void jschema_format_names(struct buf *out)
{
	for (size_t i = 0; i < COUNT(formats); i++)
		buf_addf(out, "%s %s", i ? "," : "", formats[i].name);
}
