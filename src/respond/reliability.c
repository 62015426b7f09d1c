/*
 * The reliability report (see reliability.h): MTTD/MTTA/MTTM/MTTR, incidents
 * per ISO week and recurrence, computed from incident documents and their
 * timelines. Pure: JSON in, JSON out, no store and no clock; the review end
 * of the loop (learn) reads it through the API and /metrics.
 */
#include "respond/reliability.h"

#include "core/error.h"
#include "core/time.h"
#include "model/jsontime.h"

#define NS_PER_DAY (86400 * OODA_NS_PER_SEC)

/* The measures, one row each: name, and how an incident's interval is taken. */
enum measure { M_MTTD, M_MTTA, M_MTTM, M_MTTR, M_COUNT };
static const char *const measure_names[M_COUNT] = { "mttd", "mtta", "mttm", "mttr" };

/* Samples of one measure (seconds). */
struct samples {
	double *v;
	size_t n, cap;
};

static void samples_add(struct samples *s, double x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->v = xrealloc(s->v, s->cap * sizeof(double));
	}
	s->v[s->n++] = x;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static json_t *samples_json(struct samples *s)
{
	json_t *o = json_object();
	json_object_set_new(o, "n", json_integer((json_int_t)s->n));
	if (!s->n) {
		json_object_set_new(o, "mean_s", json_null());
		json_object_set_new(o, "median_s", json_null());
		return o;
	}
	double sum = 0;
	for (size_t i = 0; i < s->n; i++)
		sum += s->v[i];
	qsort(s->v, s->n, sizeof(double), cmp_double);
	double med = s->n % 2 ? s->v[s->n / 2] : (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2;
	json_object_set_new(o, "mean_s", json_real(sum / (double)s->n));
	json_object_set_new(o, "median_s", json_real(med));
	return o;
}

/* Days since 1970-01-01 → civil date (Howard Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yy + (*m <= 2);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

char *reliability_iso_week(int64_t ns, char *out, size_t size)
{
	int64_t day = ns >= 0 ? ns / NS_PER_DAY : -((-ns + NS_PER_DAY - 1) / NS_PER_DAY);
	int64_t wd = ((day + 3) % 7 + 7) % 7 + 1; /* 1970-01-01 was a Thursday; Monday = 1 */
	int64_t thursday = day - wd + 4;          /* the week belongs to the year of its Thursday */
	int64_t y;
	unsigned m, d;
	civil_from_days(thursday, &y, &m, &d);
	int64_t week = (thursday - days_from_civil(y, 1, 1)) / 7 + 1;
	snprintf(out, size, "%04lld-W%02lld", (long long)y, (long long)week);
	return out;
}

/* A time field: 0 and *ns set, 1 when absent or null, OODA_EINVAL when malformed. */
static int get_time(const json_t *inc, const char *field, int64_t *ns, struct buf *err)
{
	const json_t *v = json_object_get(inc, field);
	if (!v || json_is_null(v))
		return 1;
	const char *s = json_string_value(v);
	if (!s || ooda_time_parse(s, strlen(s), ns)) {
		buf_addf(err, "incident %s: %s is not an RFC 3339 time",
			 json_string_value(json_object_get(inc, "id")) ? json_string_value(json_object_get(inc, "id")) : "?",
			 field);
		return OODA_EINVAL;
	}
	return 0;
}

static bool is_drill(const json_t *inc)
{
	const json_t *d = json_object_get(json_object_get(inc, "tags"), "drill");
	if (!d)
		d = json_object_get(inc, "drill");
	return json_is_true(d) || (json_is_string(d) && !strcmp(json_string_value(d), "true"));
}

static const json_t *timeline_of(const json_t *timelines, const json_t *inc)
{
	const char *id = json_string_value(json_object_get(inc, "id"));
	if (!id || !json_is_object(timelines))
		return NULL;
	const json_t *t = json_object_get(timelines, id);
	if (json_is_object(t))
		t = json_object_get(t, "entries");
	return json_is_array(t) ? t : NULL;
}

/* The first alert or detection entry at or after onset, else opened_at. */
static int detected_at(const json_t *tl, int64_t onset, int64_t opened, int64_t *out)
{
	size_t i;
	const json_t *e;
	int64_t best = -1;
	json_array_foreach(tl, i, e) {
		const char *k = json_string_value(json_object_get(e, "kind"));
		const char *at = json_string_value(json_object_get(e, "at"));
		int64_t t;
		if (!k || !at || (strcmp(k, "alert") && strcmp(k, "detection")) || ooda_time_parse(at, strlen(at), &t))
			continue;
		if (t >= onset && (best < 0 || t < best))
			best = t;
	}
	*out = best >= 0 ? best : opened;
	return best >= 0 || opened >= 0 ? 0 : 1;
}

/* The cause used for recurrence (see reliability.h). */
static const char *cause_of(const json_t *inc, const json_t *tl)
{
	const char *cause = NULL;
	size_t i;
	const json_t *e;
	json_array_foreach(tl, i, e) {
		const json_t *data = json_object_get(e, "data");
		const char *k = json_string_value(json_object_get(e, "kind"));
		const char *st = json_string_value(json_object_get(data, "state"));
		if (k && !strcmp(k, "hypothesis") && st && !strcmp(st, "confirmed") &&
		    json_string_value(json_object_get(data, "statement")))
			cause = json_string_value(json_object_get(data, "statement"));
	}
	if (!cause)
		cause = json_string_value(json_object_get(inc, "root_cause"));
	if (!cause)
		cause = json_string_value(json_object_get(inc, "error_class"));
	if (!cause)
		cause = json_string_value(json_object_get(json_object_get(inc, "source"), "name"));
	return cause ? cause : "";
}

struct group {
	struct samples m[M_COUNT];
	json_int_t incidents, recurrences;
};

static void group_release(struct group *g)
{
	for (int i = 0; i < M_COUNT; i++)
		free(g->m[i].v);
}

static json_t *group_json(struct group *g)
{
	json_t *o = json_object();
	json_object_set_new(o, "incidents", json_integer(g->incidents));
	for (int i = 0; i < M_COUNT; i++)
		json_object_set_new(o, measure_names[i], samples_json(&g->m[i]));
	json_object_set_new(o, "recurrences", json_integer(g->recurrences));
	json_object_set_new(o, "recurrence_ratio",
			    g->incidents ? json_real((double)g->recurrences / (double)g->incidents) : json_null());
	return o;
}

struct counted {
	int64_t onset;
	const char *service, *cause;
	const json_t *inc, *tl;
};

static int cmp_onset(const void *a, const void *b)
{
	const struct counted *x = a, *y = b;
	return (x->onset > y->onset) - (x->onset < y->onset);
}

int reliability_compute(const json_t *incidents, const json_t *timelines_by_id, int64_t from_ns, int64_t to_ns,
			json_t **out, struct buf *err)
{
	*out = NULL;
	if (json_is_object(incidents))
		incidents = json_object_get(incidents, "incidents");
	if (!json_is_array(incidents)) {
		buf_adds(err, "incidents: expected an array of incident documents");
		return OODA_EINVAL;
	}
	if (from_ns >= to_ns) {
		buf_adds(err, "from must be earlier than to");
		return OODA_EINVAL;
	}
	size_t n = json_array_size(incidents), nc = 0, i;
	struct counted *c = xcalloc(n + 1, sizeof(*c));
	json_int_t drills = 0;
	const json_t *inc;
	int rc = 0;
	json_array_foreach(incidents, i, inc) {
		if (!json_is_object(inc)) {
			buf_addf(err, "incidents[%zu]: expected an object", i);
			rc = OODA_EINVAL;
			goto out;
		}
		int64_t onset = -1, opened = -1;
		int r1 = get_time(inc, "onset_at", &onset, err), r2 = get_time(inc, "opened_at", &opened, err);
		if (r1 < 0 || r2 < 0) {
			rc = OODA_EINVAL;
			goto out;
		}
		if (r1)
			onset = opened;
		if (onset < 0 || onset < from_ns || onset >= to_ns)
			continue;
		if (is_drill(inc)) {
			drills++;
			continue;
		}
		const char *svc = json_string_value(json_object_get(inc, "service"));
		c[nc].onset = onset;
		c[nc].service = svc ? svc : "";
		c[nc].inc = inc;
		c[nc].tl = timeline_of(timelines_by_id, inc);
		c[nc].cause = cause_of(inc, c[nc].tl);
		nc++;
	}
	qsort(c, nc, sizeof(*c), cmp_onset);

	struct group all = { 0 };
	struct group *per = xcalloc(nc + 1, sizeof(*per));
	const char **names = xcalloc(nc + 1, sizeof(char *));
	size_t nsvc = 0;
	json_t *weeks = json_object(), *recurring = json_array();
	for (size_t k = 0; k < nc; k++) {
		const json_t *x = c[k].inc;
		size_t g = 0;
		while (g < nsvc && strcmp(names[g], c[k].service))
			g++;
		if (g == nsvc)
			names[nsvc++] = c[k].service;
		struct group *gs[2] = { &all, &per[g] };
		int64_t onset = c[k].onset, opened = -1, ack = -1, mit = -1, res = -1, det = -1;
		if (get_time(x, "opened_at", &opened, err) > 0)
			opened = -1;
		if (get_time(x, "acknowledged_at", &ack, err) < 0 || get_time(x, "mitigated_at", &mit, err) < 0 ||
		    get_time(x, "resolved_at", &res, err) < 0) {
			rc = OODA_EINVAL;
			group_release(&all);
			for (size_t z = 0; z < nc; z++)
				group_release(&per[z]);
			free(per);
			free(names);
			json_decref(weeks);
			json_decref(recurring);
			goto out;
		}
		int64_t starts[M_COUNT] = { onset, opened, onset, onset };
		int64_t ends[M_COUNT] = { detected_at(c[k].tl, onset, opened, &det) ? -1 : det, ack, mit, res };
		/* a later recurrence: same service and cause as an earlier incident */
		bool recurs = false;
		for (size_t e = 0; e < k && !recurs; e++)
			recurs = !strcmp(c[e].service, c[k].service) && !strcmp(c[e].cause, c[k].cause);
		for (int s = 0; s < 2; s++) {
			gs[s]->incidents++;
			gs[s]->recurrences += recurs;
			for (int m = 0; m < M_COUNT; m++)
				if (starts[m] >= 0 && ends[m] >= starts[m])
					samples_add(&gs[s]->m[m], (double)(ends[m] - starts[m]) / (double)OODA_NS_PER_SEC);
		}
		if (recurs) {
			size_t r;
			json_t *o;
			bool found = false;
			json_array_foreach(recurring, r, o) {
				if (!strcmp(json_string_value(json_object_get(o, "service")), c[k].service) &&
				    !strcmp(json_string_value(json_object_get(o, "cause")), c[k].cause)) {
					json_object_set_new(o, "count",
							    json_integer(json_integer_value(json_object_get(o, "count")) + 1));
					found = true;
					break;
				}
			}
			if (!found)
				json_array_append_new(recurring, json_pack("{s:s, s:s, s:i}", "service", c[k].service,
									   "cause", c[k].cause, "count", 2));
		}
		char wk[16];
		reliability_iso_week(onset, wk, sizeof(wk));
		json_object_set_new(weeks, wk, json_integer(json_integer_value(json_object_get(weeks, wk)) + 1));
	}
	json_t *svcs = json_object();
	for (size_t g = 0; g < nsvc; g++)
		json_object_set_new(svcs, names[g], group_json(&per[g]));
	*out = json_object();
	json_object_set_new(*out, "from", json_time(from_ns));
	json_object_set_new(*out, "to", json_time(to_ns));
	json_object_set_new(*out, "incidents", json_integer(all.incidents));
	json_object_set_new(*out, "drills_excluded", json_integer(drills));
	json_object_set_new(*out, "overall", group_json(&all));
	json_object_set_new(*out, "services", svcs);
	json_object_set_new(*out, "per_week", weeks);
	json_object_set_new(*out, "recurring", recurring);
	group_release(&all);
	for (size_t z = 0; z < nc; z++)
		group_release(&per[z]);
	free(per);
	free(names);
out:
	free(c);
	return rc;
}

static void prom_label(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_addch(out, '\\');
		if (*s == '\n') {
			buf_adds(out, "\\n");
			continue;
		}
		buf_addch(out, *s);
	}
}

static void prom_metric(struct buf *out, const json_t *report, const char *metric, const char *help,
			const char *measure, const char *stat)
{
	buf_addf(out, "# HELP %s %s\n# TYPE %s gauge\n", metric, help, metric);
	json_t *svcs = json_object_get(report, "services");
	const char *name;
	json_t *g;
	/* overall first (service=""), then each service by name */
	const char **keys = xcalloc(json_object_size(svcs) + 2, sizeof(char *));
	size_t nk = 0;
	json_object_foreach(svcs, name, g) keys[nk++] = name;
	for (size_t a = 1; a < nk; a++)
		for (size_t b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
			const char *tmp = keys[b];
			keys[b] = keys[b - 1];
			keys[b - 1] = tmp;
		}
	for (size_t k = 0; k <= nk; k++) {
		const char *svc = k ? keys[k - 1] : "";
		g = k ? json_object_get(svcs, svc) : json_object_get(report, "overall");
		const json_t *v = measure ? json_object_get(json_object_get(g, measure), stat) : json_object_get(g, stat);
		if (!json_is_number(v))
			continue;
		buf_addf(out, "%s{service=\"", metric);
		prom_label(out, svc);
		buf_addf(out, "\"} %.17g\n", json_number_value(v));
	}
	free(keys);
}

void reliability_render_prometheus(const json_t *report, struct buf *out)
{
	prom_metric(out, report, "ooda_incidents", "Incidents with onset in the report period (drills excluded).",
		    NULL, "incidents");
	prom_metric(out, report, "ooda_incidents_recurrences",
		    "Incidents of the period that repeat an earlier one (same service and cause).", NULL, "recurrences");
	static const char *const help[M_COUNT] = {
		"time from onset to detection", "time from open to acknowledgement", "time from onset to mitigation",
		"time from onset to resolution",
	};
	for (int m = 0; m < M_COUNT; m++) {
		char metric[64], h[160];
		snprintf(metric, sizeof(metric), "ooda_incidents_%s_seconds", measure_names[m]);
		snprintf(h, sizeof(h), "Mean %s, seconds.", help[m]);
		prom_metric(out, report, metric, h, measure_names[m], "mean_s");
		snprintf(metric, sizeof(metric), "ooda_incidents_%s_median_seconds", measure_names[m]);
		snprintf(h, sizeof(h), "Median %s, seconds.", help[m]);
		prom_metric(out, report, metric, h, measure_names[m], "median_s");
	}
}
