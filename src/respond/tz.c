/*
 * A TZif (RFC 8536) reader and the offset arithmetic on its result. The
 * file is read once per schedule at configuration time; afterwards a zone is
 * immutable and shared by readers on any thread. Every count is checked
 * against the bytes that remain before anything is read (tz_parse has a
 * fuzz harness, fuzz/fuzz_tzif.c).
 */
#include "respond/tz.h"
#include "core/error.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>

/* A footer rule day: Mm.w.d (month 1-12, week 1-5, weekday 0 = Sunday). */
struct tz_day {
	int m, w, d;
	int32_t time; /* seconds after local midnight, may be negative or past 24h */
};

struct tz_rule {
	bool present, has_dst;
	int32_t std_off, dst_off; /* east positive, as tz_offset answers */
	struct tz_day start, end;
};

struct tz_type {
	int32_t utoff;
	uint8_t isdst;
};

struct tz {
	int64_t *at;     /* transition times, ascending */
	uint8_t *idx;    /* type of each transition */
	size_t n;
	struct tz_type *types;
	size_t n_types;
	struct tz_rule rule;
};

/* ---- calendar ------------------------------------------------------------- */

int64_t tz_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int tz_weekday(int64_t days)
{
	/* 1970-01-01 was a Thursday (3 with Monday = 0) */
	int64_t w = (days + 3) % 7;
	return (int)(w < 0 ? w + 7 : w);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- the footer: a POSIX TZ string ------------------------------------------ */

/* A zone abbreviation: three or more letters, or <...> of letters, digits, + and -. */
static bool rule_name(const char **p)
{
	const char *s = *p;
	if (*s == '<') {
		s++;
		while (*s && *s != '>' && (isalnum((unsigned char)*s) || *s == '+' || *s == '-'))
			s++;
		if (*s != '>' || s - *p < 4)
			return false;
		*p = s + 1;
		return true;
	}
	while (isalpha((unsigned char)*s))
		s++;
	if (s - *p < 3)
		return false;
	*p = s;
	return true;
}

/* [+-]hh[:mm[:ss]] with hh <= max_h, in seconds. */
static bool rule_hms(const char **p, int max_h, int32_t *out)
{
	const char *s = *p;
	int sign = 1;
	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	int part[3] = { 0, 0, 0 };
	for (int i = 0; i < 3; i++) {
		if (i && *s != ':')
			break;
		if (i)
			s++;
		if (!isdigit((unsigned char)*s))
			return false;
		int v = 0, digits = 0;
		while (isdigit((unsigned char)*s) && digits < 3) {
			v = v * 10 + (*s++ - '0');
			digits++;
		}
		if (isdigit((unsigned char)*s) || (i && v > 59) || (!i && v > max_h))
			return false;
		part[i] = v;
	}
	*out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
	*p = s;
	return true;
}

static bool rule_int(const char **p, int lo, int hi, int *out)
{
	const char *s = *p;
	int v = 0, digits = 0;
	while (isdigit((unsigned char)*s) && digits < 3) {
		v = v * 10 + (*s++ - '0');
		digits++;
	}
	if (!digits || v < lo || v > hi)
		return false;
	*out = v;
	*p = s;
	return true;
}

/* ",Mm.w.d[/time]"; the Julian forms (Jn, n) are not accepted. */
static bool rule_day(const char **p, struct tz_day *day)
{
	const char *s = *p;
	if (*s++ != ',' || *s++ != 'M')
		return false;
	if (!rule_int(&s, 1, 12, &day->m) || *s++ != '.' || !rule_int(&s, 1, 5, &day->w) || *s++ != '.' ||
	    !rule_int(&s, 0, 6, &day->d))
		return false;
	day->time = 7200;
	if (*s == '/') {
		s++;
		if (!rule_hms(&s, 167, &day->time))
			return false;
	}
	*p = s;
	return true;
}

/*
 * "CET-1CEST,M3.5.0,M10.5.0/3": std name, offset (west positive), then
 * optionally the DST name, its offset (default one hour ahead) and the two
 * rule days. Anything else leaves r->present false: the last transition's
 * type then holds for ever.
 */
static void rule_parse(const char *s, struct tz_rule *r)
{
	memset(r, 0, sizeof(*r));
	int32_t off;
	if (!rule_name(&s) || !rule_hms(&s, 24, &off))
		return;
	r->std_off = -off;
	if (!*s) {
		r->present = true;
		return;
	}
	if (!rule_name(&s))
		return;
	r->dst_off = r->std_off + 3600;
	if (*s != ',') {
		if (!rule_hms(&s, 24, &off))
			return;
		r->dst_off = -off;
	}
	if (!rule_day(&s, &r->start) || !rule_day(&s, &r->end) || *s)
		return;
	r->has_dst = true;
	r->present = true;
}

/* Unix time of a rule day in year y, its local time read in offset off. */
static int64_t rule_when(const struct tz_day *day, int64_t y, int32_t off)
{
	int64_t first = tz_days_from_civil(y, day->m, 1);
	int wd1 = (tz_weekday(first) + 1) % 7; /* Sunday = 0, as POSIX counts */
	int64_t dom = 1 + (day->d - wd1 + 7) % 7 + (int64_t)(day->w - 1) * 7;
	int64_t next_first = day->m == 12 ? tz_days_from_civil(y + 1, 1, 1) : tz_days_from_civil(y, day->m + 1, 1);
	while (first + dom - 1 >= next_first)
		dom -= 7;
	return (first + dom - 1) * 86400 + day->time - off;
}

static int32_t rule_offset(const struct tz_rule *r, int64_t t)
{
	if (!r->has_dst)
		return r->std_off;
	int64_t y;
	int m, d;
	tz_civil_from_days(floor_div(t + r->std_off, 86400), &y, &m, &d);
	int64_t start = rule_when(&r->start, y, r->std_off), end = rule_when(&r->end, y, r->dst_off);
	bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
	return dst ? r->dst_off : r->std_off;
}

/* ---- TZif ----------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
	uint32_t isut, isstd, leap, time, type, chars;
};

static int bad(struct buf *err, const char *why)
{
	buf_addf(err, "not a valid TZif file: %s", why);
	return OODA_EPARSE;
}

static int header(const unsigned char *p, size_t len, struct tzif_counts *c, int *version, struct buf *err)
{
	if (len < 44 || memcmp(p, "TZif", 4))
		return bad(err, "no TZif header");
	*version = p[4] ? p[4] - '0' : 1;
	if (p[4] && (p[4] < '2' || p[4] > '9'))
		return bad(err, "unknown version");
	c->isut = be32(p + 20);
	c->isstd = be32(p + 24);
	c->leap = be32(p + 28);
	c->time = be32(p + 32);
	c->type = be32(p + 36);
	c->chars = be32(p + 40);
	if (c->type == 0 || c->type > 256 || c->chars == 0 || c->chars > 65536 || c->time > TZ_MAX_TRANSITIONS ||
	    c->leap > 65536 || (c->isut && c->isut != c->type) || (c->isstd && c->isstd != c->type))
		return bad(err, "counts out of range");
	return 0;
}

/* Bytes of a data block with times of tsize bytes (4 in v1, 8 after). */
static size_t block_size(const struct tzif_counts *c, size_t tsize)
{
	return (size_t)c->time * (tsize + 1) + (size_t)c->type * 6 + c->chars + (size_t)c->leap * (tsize + 4) +
	       c->isstd + c->isut;
}

int tz_parse(const unsigned char *data, size_t len, struct tz **out, struct buf *err)
{
	if (len > TZ_MAX_FILE)
		return bad(err, "larger than 256 KiB");
	struct tzif_counts c;
	int version, rc;
	if ((rc = header(data, len, &c, &version, err)))
		return rc;
	size_t off = 44, tsize = 4;
	size_t v1 = block_size(&c, 4);
	if (v1 > len - off)
		return bad(err, "truncated data block");
	if (version >= 2) {
		off += v1;
		if ((rc = header(data + off, len - off, &c, &version, err)))
			return rc;
		off += 44;
		tsize = 8;
		if (block_size(&c, 8) > len - off)
			return bad(err, "truncated data block");
	}
	const unsigned char *p = data + off;
	struct tz *z = xcalloc(1, sizeof(*z));
	z->n = c.time;
	z->n_types = c.type;
	z->at = xcalloc(c.time + 1, sizeof(*z->at));
	z->idx = xcalloc(c.time + 1, 1);
	z->types = xcalloc(c.type, sizeof(*z->types));
	for (size_t i = 0; i < c.time; i++) {
		z->at[i] = tsize == 8 ? be64(p + i * 8) : (int32_t)be32(p + i * 4);
		if (i && z->at[i] <= z->at[i - 1]) {
			tz_destroy(z);
			return bad(err, "transition times not ascending");
		}
	}
	p += (size_t)c.time * tsize;
	for (size_t i = 0; i < c.time; i++) {
		z->idx[i] = p[i];
		if (p[i] >= c.type) {
			tz_destroy(z);
			return bad(err, "transition type out of range");
		}
	}
	p += c.time;
	for (size_t i = 0; i < c.type; i++) {
		int32_t u = (int32_t)be32(p + i * 6);
		/* RFC 8536: -2^31 is invalid; real offsets lie within a day */
		if (u <= -89999 || u >= 93600 || p[i * 6 + 4] > 1) {
			tz_destroy(z);
			return bad(err, "local time type out of range");
		}
		z->types[i].utoff = u;
		z->types[i].isdst = p[i * 6 + 4];
	}
	if (version >= 2) {
		/* the footer: "\n" POSIX-TZ "\n" right after the data block */
		size_t fo = off + block_size(&c, 8);
		if (fo < len) {
			if (data[fo] != '\n')
				goto footer_bad;
			size_t e = fo + 1;
			while (e < len && data[e] != '\n')
				e++;
			if (e == len || e - fo - 1 > 255)
				goto footer_bad;
			char tzs[256];
			memcpy(tzs, data + fo + 1, e - fo - 1);
			tzs[e - fo - 1] = '\0';
			rule_parse(tzs, &z->rule);
		}
	}
	*out = z;
	return 0;
footer_bad:
	tz_destroy(z);
	return bad(err, "malformed footer");
}

void tz_destroy(struct tz *z)
{
	if (!z)
		return;
	free(z->at);
	free(z->idx);
	free(z->types);
	free(z);
}

static bool name_ok(const char *name)
{
	size_t n = strlen(name);
	if (!n || n > TZ_MAX_NAME || name[0] == '/' || name[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (!(isalnum(ch) || ch == '_' || ch == '+' || ch == '-' || ch == '/'))
			return false;
		if (ch == '/' && name[i + 1] == '/')
			return false;
	}
	return true;
}

int tz_load(const char *name, struct tz **out, struct buf *err)
{
	if (!name || !name_ok(name)) {
		buf_addf(err, "unknown time zone \"%s\" (an IANA name such as Europe/Berlin)", name ? name : "");
		return OODA_EINVAL;
	}
	const char *dir = getenv("TZDIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
	FILE *f = fopen(path, "rb");
	unsigned char *data = NULL;
	size_t len = 0;
	if (f) {
		data = xmalloc(TZ_MAX_FILE + 1);
		len = fread(data, 1, TZ_MAX_FILE + 1, f);
		if (ferror(f))
			len = 0;
		fclose(f);
	}
	if (!len && !strcmp(name, "UTC")) {
		free(data);
		struct tz *z = xcalloc(1, sizeof(*z));
		z->at = xcalloc(1, sizeof(*z->at));
		z->idx = xcalloc(1, 1);
		z->types = xcalloc(1, sizeof(*z->types));
		z->n_types = 1;
		*out = z;
		return 0;
	}
	struct buf why = BUF_INIT;
	int rc = len ? tz_parse(data, len, out, &why) : OODA_EINVAL;
	free(data);
	if (rc) {
		buf_addf(err, "unknown time zone \"%s\"", name);
		if (why.len)
			buf_addf(err, " (%s: %s)", path, why.data);
		else
			buf_adds(err, " (an IANA name such as Europe/Berlin)");
		rc = OODA_EINVAL;
	}
	buf_release(&why);
	return rc;
}

int32_t tz_offset(const struct tz *z, int64_t t)
{
	if (!z->n || t < z->at[0])
		return z->types[0].utoff;
	/* the last transition at or before t */
	size_t lo = 0, hi = z->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	if (lo == z->n - 1 && z->rule.present)
		return rule_offset(&z->rule, t);
	return z->types[z->idx[lo]].utoff;
}

int64_t tz_local_to_utc(const struct tz *z, int64_t local)
{
	/* the offsets in force a day either side cover every change but a double one */
	int32_t before = tz_offset(z, local - 86400), after = tz_offset(z, local + 86400);
	int64_t a = local - before, b = local - after;
	bool a_ok = a + tz_offset(z, a) == local, b_ok = b + tz_offset(z, b) == local;
	if (a_ok && b_ok)
		return a < b ? a : b;
	if (a_ok)
		return a;
	if (b_ok)
		return b;
	return a; /* in the gap: read with the old offset, which lands after the jump */
}
