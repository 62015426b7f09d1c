/*
 * CSV loaders for the root-cause engine's offline door (contract in
 * rca_csv.h). Rows are read line by line into flat arrays, keyed to their
 * (node, metric) through a small open-addressing table, then grouped and
 * sorted by time so rca_rank() gets ascending series. Every read is bounded
 * by the limits in the header.
 */
#include "respond/rca_csv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>

#include "core/error.h"

void rca_csv_init(struct rca_csv *d)
{
	memset(d, 0, sizeof(*d));
}

void rca_csv_release(struct rca_csv *d)
{
	for (size_t i = 0; i < d->n_names; i++)
		free(d->names[i]);
	free(d->names);
	free(d->series);
	free(d->edges);
	free(d->changes);
	free(d->t);
	free(d->v);
	rca_csv_init(d);
}

static char *name_keep(struct rca_csv *d, const char *s, size_t len)
{
	if (!(d->n_names & (d->n_names + 1)) || !d->names) /* grow at 0, 1, 3, 7, … */
		d->names = xreallocarray(d->names, 2 * (d->n_names + 1), sizeof(*d->names));
	return d->names[d->n_names++] = xstrndup(s, len);
}

/* A line reader that counts lines and bytes and refuses over-long lines. */
struct reader {
	FILE *in;
	const char *name;
	unsigned long line;
	size_t bytes;
	char buf[RCA_CSV_MAX_LINE + 3];
};

/* 1: a line in r->buf (newline stripped); 0: end; <0: error (err set). */
/* A reader of in, whose lines errors name as name:LINE; freed with free(). */
static struct reader *reader_new(FILE *in, const char *name)
{
	struct reader *r = xcalloc(1, sizeof(*r));
	r->in = in;
	r->name = name;
	return r;
}

static int reader_next(struct reader *r, size_t *len, struct buf *err)
{
	if (!fgets(r->buf, sizeof(r->buf), r->in)) {
		if (ferror(r->in)) {
			buf_addf(err, "%s:%lu: read error", r->name, r->line + 1);
			return OODA_EIO;
		}
		return 0;
	}
	r->line++;
	size_t n = strlen(r->buf);
	r->bytes += n;
	if (r->bytes > RCA_CSV_MAX_BYTES) {
		buf_addf(err, "%s:%lu: file larger than %u bytes", r->name, r->line, RCA_CSV_MAX_BYTES);
		return OODA_ELIMIT;
	}
	bool nl = n && r->buf[n - 1] == '\n';
	if (nl)
		n--;
	if (n && r->buf[n - 1] == '\r')
		n--;
	if (n > RCA_CSV_MAX_LINE) {
		buf_addf(err, "%s:%lu: line longer than %d bytes", r->name, r->line, RCA_CSV_MAX_LINE);
		return OODA_ELIMIT;
	}
	if (memchr(r->buf, '\0', n)) {
		buf_addf(err, "%s:%lu: NUL byte in line", r->name, r->line);
		return OODA_EPARSE;
	}
	r->buf[n] = '\0';
	*len = n;
	return 1;
}

/* Splits r->buf at commas into at most max trimmed fields; returns the count (max + 1: too many). */
static size_t split(char *s, char **f, size_t max)
{
	size_t k = 0;
	for (;;) {
		char *end = strchr(s, ',');
		if (end)
			*end = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		size_t len = strlen(s);
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			s[--len] = '\0';
		if (k == max)
			return max + 1;
		f[k++] = s;
		if (!end)
			return k;
		s = end + 1;
	}
}

static bool blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

/* A node or metric name: 1..RCA_CSV_MAX_NAME printable bytes, no quote. */
static int check_name(const struct reader *r, const char *what, const char *s, struct buf *err)
{
	size_t n = strlen(s);
	if (!n || n > RCA_CSV_MAX_NAME) {
		buf_addf(err, "%s:%lu: %s must be 1 to %d bytes", r->name, r->line, what, RCA_CSV_MAX_NAME);
		return OODA_EPARSE;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == '"' || s[i] == 0x7f) {
			buf_addf(err, "%s:%lu: %s has a control character or a quote (quoted fields are not supported)",
				 r->name, r->line, what);
			return OODA_EPARSE;
		}
	return 0;
}

static bool parse_ts(const char *s, int64_t *t)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0)
		return false;
	*t = v;
	return true;
}

/* The (node, metric) → series table. */
struct key {
	const char *node, *metric;
	uint32_t series;
};

static uint64_t key_hash(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ull;
	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (; *b; b++)
		h = (h ^ (unsigned char)*b) * 1099511628211ull;
	return h;
}

struct row {
	uint32_t series;
	uint32_t line;
	int64_t t;
	double v;
};

static int cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->series != y->series)
		return x->series < y->series ? -1 : 1;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

int rca_csv_load_series(struct rca_csv *d, FILE *in, const char *name, struct buf *err)
{
	rca_csv_init(d);
	struct reader *r = reader_new(in, name);
	size_t cap = 1024, n_keys = 0, n_rows = 0, rows_cap = 1024;
	struct key *tab = xcalloc(cap, sizeof(*tab));
	struct key *keys = NULL; /* by series index */
	struct row *rows = xmalloc(rows_cap * sizeof(*rows));
	bool seen_first = false;
	int rc = 0;
	size_t len;
	while ((rc = reader_next(r, &len, err)) == 1) {
		if (blank(r->buf))
			continue;
		char *f[4];
		size_t nf = split(r->buf, f, 4);
		int64_t t = 0;
		bool ts_ok = nf >= 1 && parse_ts(f[0], &t);
		if (!seen_first) {
			seen_first = true;
			if (!ts_ok && nf == 4)
				continue; /* a header */
		}
		if (nf != 4) {
			buf_addf(err, "%s:%lu: expected 4 fields (timestamp,node,metric,value), found %s%zu", name,
				 r->line, nf > 4 ? "more than " : "", nf > 4 ? (size_t)4 : nf);
			rc = OODA_EPARSE;
			break;
		}
		if (!ts_ok) {
			buf_addf(err, "%s:%lu: timestamp \"%.40s\" is not whole unix seconds > 0", name, r->line, f[0]);
			rc = OODA_EPARSE;
			break;
		}
		if ((rc = check_name(r, "node", f[1], err)) || (rc = check_name(r, "metric", f[2], err)))
			break;
		double v = NAN;
		if (*f[3] && strcasecmp(f[3], "nan")) {
			char *end;
			errno = 0;
			v = strtod(f[3], &end);
			if (*end || end == f[3] || !isfinite(v)) {
				buf_addf(err, "%s:%lu: value \"%.40s\" is not a finite number", name, r->line, f[3]);
				rc = OODA_EPARSE;
				break;
			}
		}
		if (n_rows >= RCA_CSV_MAX_ROWS) {
			buf_addf(err, "%s:%lu: more than %u rows", name, r->line, RCA_CSV_MAX_ROWS);
			rc = OODA_ELIMIT;
			break;
		}
		uint64_t h = key_hash(f[1], f[2]);
		size_t slot = h & (cap - 1);
		while (tab[slot].node && (strcmp(tab[slot].node, f[1]) || strcmp(tab[slot].metric, f[2])))
			slot = (slot + 1) & (cap - 1);
		if (!tab[slot].node) {
			if (n_keys >= RCA_CSV_MAX_SERIES) {
				buf_addf(err, "%s:%lu: more than %u distinct (node, metric) series", name, r->line,
					 RCA_CSV_MAX_SERIES);
				rc = OODA_ELIMIT;
				break;
			}
			keys = xreallocarray(keys, n_keys + 1, sizeof(*keys));
			keys[n_keys] = (struct key){ name_keep(d, f[1], strlen(f[1])), name_keep(d, f[2], strlen(f[2])),
						     (uint32_t)n_keys };
			tab[slot] = keys[n_keys++];
			if (2 * n_keys > cap) { /* rehash at half full */
				size_t ncap = cap * 2;
				struct key *nt = xcalloc(ncap, sizeof(*nt));
				for (size_t i = 0; i < n_keys; i++) {
					size_t s = key_hash(keys[i].node, keys[i].metric) & (ncap - 1);
					while (nt[s].node)
						s = (s + 1) & (ncap - 1);
					nt[s] = keys[i];
				}
				free(tab);
				tab = nt;
				cap = ncap;
				slot = key_hash(f[1], f[2]) & (cap - 1);
				while (strcmp(tab[slot].node, f[1]) || strcmp(tab[slot].metric, f[2]))
					slot = (slot + 1) & (cap - 1);
			}
		}
		if (n_rows == rows_cap) {
			rows_cap *= 2;
			rows = xreallocarray(rows, rows_cap, sizeof(*rows));
		}
		rows[n_rows++] = (struct row){ tab[slot].series, (uint32_t)r->line, t, v };
	}
	if (rc == 0 && !n_rows) {
		buf_addf(err, "%s:%lu: no rows (expected timestamp,node,metric,value)", name, r->line);
		rc = OODA_EPARSE;
	}
	if (rc == 0) {
		qsort(rows, n_rows, sizeof(*rows), cmp_row);
		for (size_t i = 1; i < n_rows; i++)
			if (rows[i].series == rows[i - 1].series && rows[i].t == rows[i - 1].t) {
				buf_addf(err, "%s:%u: a second row for %s/%s at %lld (first at line %u)", name,
					 rows[i].line, keys[rows[i].series].node, keys[rows[i].series].metric,
					 (long long)rows[i].t, rows[i - 1].line);
				rc = OODA_EPARSE;
				break;
			}
	}
	if (rc == 0) {
		d->t = xcalloc(n_rows, sizeof(*d->t));
		d->v = xcalloc(n_rows, sizeof(*d->v));
		d->series = xcalloc(n_keys, sizeof(*d->series));
		d->n_series = n_keys;
		for (size_t i = 0; i < n_rows; i++) {
			struct rca_series *s = &d->series[rows[i].series];
			if (!s->n) {
				s->node = keys[rows[i].series].node;
				s->metric = keys[rows[i].series].metric;
				s->t_s = &d->t[i];
				s->v = &d->v[i];
			}
			d->t[i] = rows[i].t;
			d->v[i] = rows[i].v;
			s->n++;
		}
	}
	free(tab);
	free(keys);
	free(rows);
	free(r);
	if (rc)
		rca_csv_release(d);
	return rc < 0 ? rc : 0;
}

int rca_csv_load_edges(struct rca_csv *d, FILE *in, const char *name, struct buf *err)
{
	rca_csv_init(d);
	struct reader *r = reader_new(in, name);
	size_t cap = 0;
	bool seen_first = false;
	int rc;
	size_t len;
	while ((rc = reader_next(r, &len, err)) == 1) {
		if (blank(r->buf))
			continue;
		char *f[2];
		size_t nf = split(r->buf, f, 2);
		if (!seen_first) {
			seen_first = true;
			if (nf == 2 && !strcmp(f[0], "caller") && !strcmp(f[1], "callee"))
				continue;
		}
		if (nf != 2) {
			buf_addf(err, "%s:%lu: expected 2 fields (caller,callee)", name, r->line);
			rc = OODA_EPARSE;
			break;
		}
		if ((rc = check_name(r, "caller", f[0], err)) || (rc = check_name(r, "callee", f[1], err)))
			break;
		if (d->n_edges >= RCA_CSV_MAX_EDGES) {
			buf_addf(err, "%s:%lu: more than %u edges", name, r->line, RCA_CSV_MAX_EDGES);
			rc = OODA_ELIMIT;
			break;
		}
		if (d->n_edges == cap) {
			cap = cap ? 2 * cap : 64;
			d->edges = xreallocarray(d->edges, cap, sizeof(*d->edges));
		}
		d->edges[d->n_edges].caller = name_keep(d, f[0], strlen(f[0]));
		d->edges[d->n_edges].callee = name_keep(d, f[1], strlen(f[1]));
		d->n_edges++;
	}
	free(r);
	if (rc < 0) {
		rca_csv_release(d);
		return rc;
	}
	return 0;
}

int rca_csv_load_changes(struct rca_csv *d, FILE *in, const char *name, struct buf *err)
{
	rca_csv_init(d);
	struct reader *r = reader_new(in, name);
	size_t cap = 0;
	bool seen_first = false;
	int rc;
	size_t len;
	while ((rc = reader_next(r, &len, err)) == 1) {
		if (blank(r->buf))
			continue;
		char *f[4];
		size_t nf = split(r->buf, f, 4);
		int64_t t = 0;
		bool ts_ok = nf >= 1 && parse_ts(f[0], &t);
		if (!seen_first) {
			seen_first = true;
			if (!ts_ok && nf == 4)
				continue; /* a header */
		}
		if (nf != 4) {
			buf_addf(err, "%s:%lu: expected 4 fields (timestamp,node,kind,ref)", name, r->line);
			rc = OODA_EPARSE;
			break;
		}
		if (!ts_ok) {
			buf_addf(err, "%s:%lu: timestamp \"%.40s\" is not whole unix seconds > 0", name, r->line, f[0]);
			rc = OODA_EPARSE;
			break;
		}
		if ((rc = check_name(r, "node", f[1], err)) || (rc = check_name(r, "kind", f[2], err)) ||
		    (rc = check_name(r, "ref", f[3], err)))
			break;
		if (d->n_changes >= RCA_CSV_MAX_CHANGES) {
			buf_addf(err, "%s:%lu: more than %u changes", name, r->line, RCA_CSV_MAX_CHANGES);
			rc = OODA_ELIMIT;
			break;
		}
		if (d->n_changes == cap) {
			cap = cap ? 2 * cap : 64;
			d->changes = xreallocarray(d->changes, cap, sizeof(*d->changes));
		}
		d->changes[d->n_changes++] = (struct rca_change){
			.node = name_keep(d, f[1], strlen(f[1])),
			.at_s = t,
			.kind = name_keep(d, f[2], strlen(f[2])),
			.ref = name_keep(d, f[3], strlen(f[3])),
		};
	}
	free(r);
	if (rc < 0) {
		rca_csv_release(d);
		return rc;
	}
	return 0;
}
