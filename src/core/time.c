/*
 * Clock reads and the text forms of times and durations. Calendar math is
 * done by hand (days from civil date) so no libc function with hidden
 * global state or time-zone lookups is involved.
 */
#include "core/time.h"
#include "core/error.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>

int ooda_ns_add(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return OODA_EINVAL;
	*out = r;
	return 0;
}

int ooda_ns_sub(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return OODA_EINVAL;
	*out = r;
	return 0;
}

int ooda_ns_mul(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;
	if (__builtin_mul_overflow(a, b, &r))
		return OODA_EINVAL;
	*out = r;
	return 0;
}

int64_t ooda_ns_add_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

int64_t ooda_ns_sub_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

int64_t ooda_ns_mul_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_mul_overflow(a, b, &r))
		return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
	return r;
}

int ooda_time_from_u64(uint64_t u, int64_t *ns)
{
	if (u > (uint64_t)OODA_TIME_MAX)
		return OODA_EINVAL;
	*ns = (int64_t)u;
	return 0;
}

int64_t ooda_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * OODA_NS_PER_SEC + ts.tv_nsec;
}

int64_t ooda_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * OODA_NS_PER_SEC + ts.tv_nsec;
}

static _Thread_local int64_t thread_since;

void ooda_thread_since_set(int64_t mono_ns)
{
	thread_since = mono_ns;
}

int64_t ooda_thread_since(void)
{
	return thread_since;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

char *ooda_time_format(int64_t ns, char *out, size_t size)
{
	int64_t secs = ns / OODA_NS_PER_SEC;
	int64_t rem = ns % OODA_NS_PER_SEC;
	if (rem < 0) {
		rem += OODA_NS_PER_SEC;
		secs--;
	}
	int64_t days = secs / 86400;
	int64_t sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	snprintf(out, size, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
		 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60),
		 (int)(rem / OODA_NS_PER_MS));
	return out;
}

static int digits(const char *s, size_t len, size_t *i, int n, int *out)
{
	int v = 0;
	for (int k = 0; k < n; k++) {
		if (*i >= len || !isdigit((unsigned char)s[*i]))
			return -1;
		v = v * 10 + (s[(*i)++] - '0');
	}
	*out = v;
	return 0;
}

static int expect(const char *s, size_t len, size_t *i, char c)
{
	if (*i >= len || (s[*i] != c && !(c == 'T' && (s[*i] == 't' || s[*i] == ' '))))
		return -1;
	(*i)++;
	return 0;
}

int ooda_time_parse(const char *s, size_t len, int64_t *ns)
{
	if (!len || len > 64)
		return OODA_EINVAL;
	size_t i = 0;
	int all_digits = 1;
	for (size_t k = 0; k < len; k++)
		if (!isdigit((unsigned char)s[k]) && !(k == 0 && s[k] == '-'))
			all_digits = 0;
	if (all_digits) {
		char tmp[65];
		memcpy(tmp, s, len);
		tmp[len] = '\0';
		char *end;
		errno = 0;
		long long v = strtoll(tmp, &end, 10);
		if (*end || errno)
			return OODA_EINVAL;
		if (v < 0)
			return OODA_EINVAL; /* before 1970, and -v may not exist */
		int64_t scale = v <= 100000000000LL ? OODA_NS_PER_SEC :
				v <= 100000000000000LL ? OODA_NS_PER_MS :
				v <= 100000000000000000LL ? 1000 : 1;
		int64_t r;
		if (ooda_ns_mul((int64_t)v, scale, &r))
			return OODA_EINVAL;
		*ns = r;
		return 0;
	}
	int Y, M, D, h, mi, sec;
	if (digits(s, len, &i, 4, &Y) || expect(s, len, &i, '-') ||
	    digits(s, len, &i, 2, &M) || expect(s, len, &i, '-') ||
	    digits(s, len, &i, 2, &D))
		return OODA_EINVAL;
	h = mi = sec = 0;
	int64_t frac = 0;
	int64_t offset = 0;
	if (i < len) {
		if (expect(s, len, &i, 'T') || digits(s, len, &i, 2, &h) ||
		    expect(s, len, &i, ':') || digits(s, len, &i, 2, &mi) ||
		    expect(s, len, &i, ':') || digits(s, len, &i, 2, &sec))
			return OODA_EINVAL;
		if (i < len && s[i] == '.') {
			i++;
			int64_t scale = OODA_NS_PER_SEC / 10;
			size_t start = i;
			while (i < len && isdigit((unsigned char)s[i])) {
				frac += (s[i] - '0') * scale;
				scale /= 10;
				i++;
			}
			if (i == start)
				return OODA_EINVAL;
		}
		if (i >= len)
			return OODA_EINVAL;
		if (s[i] == 'Z' || s[i] == 'z') {
			i++;
		} else if (s[i] == '+' || s[i] == '-') {
			int sign = s[i] == '-' ? -1 : 1, oh, om;
			i++;
			if (digits(s, len, &i, 2, &oh) || expect(s, len, &i, ':') ||
			    digits(s, len, &i, 2, &om) || oh > 23 || om > 59)
				return OODA_EINVAL;
			offset = sign * ((int64_t)oh * 3600 + om * 60);
		} else {
			return OODA_EINVAL;
		}
	}
	if (i != len || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 60)
		return OODA_EINVAL;
	/* Y has four digits, so days and secs are small; only the ns can overflow */
	int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
	int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset;
	int64_t r;
	if (ooda_ns_mul(secs, OODA_NS_PER_SEC, &r) || ooda_ns_add(r, frac, &r) || !ooda_time_valid(r))
		return OODA_EINVAL;
	*ns = r;
	return 0;
}

int ooda_duration_parse(const char *s, size_t len, int64_t *ns)
{
	static const struct {
		const char *name;
		double ns;
	} units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "µs", 1e3 }, { "ms", 1e6 },
		{ "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 }, { "d", 86400e9 },
		{ "w", 604800e9 }, { "y", 31536000e9 },
	};
	size_t i = 0;
	double total = 0;
	if (!len || len > 64)
		return OODA_EINVAL;
	while (i < len) {
		size_t start = i;
		while (i < len && (isdigit((unsigned char)s[i]) || s[i] == '.'))
			i++;
		if (i == start)
			return OODA_EINVAL;
		char num[40];
		if (i - start >= sizeof(num))
			return OODA_EINVAL;
		memcpy(num, s + start, i - start);
		num[i - start] = '\0';
		char *end;
		double v = strtod(num, &end);
		if (*end)
			return OODA_EINVAL;
		size_t ustart = i;
		while (i < len && !isdigit((unsigned char)s[i]) && s[i] != '.')
			i++;
		size_t ulen = i - ustart;
		double mult = -1;
		for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++)
			if (strlen(units[k].name) == ulen && !memcmp(units[k].name, s + ustart, ulen))
				mult = units[k].ns;
		if (mult < 0)
			return OODA_EINVAL;
		total += v * mult;
	}
	if (!(total < 9223372036854775808.0)) /* 2^63: NaN, infinity and past OODA_TIME_MAX */
		return OODA_EINVAL;
	*ns = (int64_t)llround(total);
	return 0;
}

char *ooda_duration_format(int64_t ns, char *out, size_t size)
{
	if (ns < OODA_NS_PER_SEC) {
		if (ns % OODA_NS_PER_MS == 0 || ns >= OODA_NS_PER_MS)
			snprintf(out, size, "%lldms", (long long)(ns / OODA_NS_PER_MS));
		else
			snprintf(out, size, "%lldns", (long long)ns);
		return out;
	}
	int64_t s = ns / OODA_NS_PER_SEC;
	size_t n = 0;
	out[0] = '\0';
	static const struct { int64_t secs; char unit; } parts[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};
	for (size_t k = 0; k < 4 && n < size; k++) {
		if (s >= parts[k].secs) {
			int w = snprintf(out + n, size - n, "%lld%c",
					 (long long)(s / parts[k].secs), parts[k].unit);
			if (w < 0)
				break;
			n += (size_t)w;
			s %= parts[k].secs;
		}
	}
	return out;
}
