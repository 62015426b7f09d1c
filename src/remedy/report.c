/*
 * The automation report (report.h): groups the runs by policy and by
 * recipe and counts what a person deciding whether to trust a policy asks
 * — does it work, how fast, how often is it undone or held back, and how
 * often does it act on nothing.
 */
#include "remedy/report.h"

#include "core/error.h"
#include "core/time.h"
#include "core/xalloc.h"
#include "store/vdoc.h"

#include <stdlib.h>
#include <string.h>

static const char *jstr(const json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

static const struct {
	const char *prefix, *name;
} guardrail_prefixes[] = {
	{ "automation is paused", "pause" },  { "circuit breaker", "breaker" },
	{ "cooldown", "cooldown" },           { "max runs", "max_runs" },
	{ "max concurrent", "max_concurrent" }, { "blast radius", "max_services" },
	{ "precondition", "precondition" },
};

const char *report_guardrail_of(const char *reason)
{
	for (size_t i = 0; reason && i < sizeof(guardrail_prefixes) / sizeof(guardrail_prefixes[0]); i++)
		if (!strncmp(reason, guardrail_prefixes[i].prefix, strlen(guardrail_prefixes[i].prefix)))
			return guardrail_prefixes[i].name;
	return "other";
}

static bool truthy(const json_t *v)
{
	return json_is_true(v) || (json_is_string(v) && !strcmp(json_string_value(v), "true"));
}

/* The seconds from the trigger to the move into succeeded; < 0 when unknown. */
static double recovery_s(const json_t *run)
{
	int64_t at = json_integer_value(json_object_get(json_object_get(run, "trigger"), "at_ns"));
	if (!at)
		at = json_integer_value(json_object_get(run, "created_unix_nano"));
	size_t i;
	json_t *h;
	json_array_foreach(json_object_get(run, "history"), i, h) {
		const char *to = jstr(h, "to"), *when = jstr(h, "at");
		int64_t ns;
		if (to && when && !strcmp(to, "succeeded") && !ooda_time_parse(when, strlen(when), &ns))
			return ns >= at ? (double)(ns - at) / 1e9 : 0;
	}
	return -1;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank quantile q of n sorted values. */
static double quantile(const double *v, size_t n, double q)
{
	size_t k = (size_t)(q * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

/* The group name in obj (created on first use). */
static json_t *group(json_t *obj, const char *name)
{
	json_t *g = json_object_get(obj, name);
	if (!g) {
		g = json_pack("{ss si s{} si si si s[] s{} si}", "name", name, "runs", 0, "by_status", "succeeded", 0,
			      "finished", 0, "undone", 0, "_recovery", "guardrail_hits", "false_activations", 0);
		json_object_set_new(obj, name, g);
	}
	return g;
}

static void inc(json_t *obj, const char *key)
{
	json_object_set_new(obj, key, json_integer(json_integer_value(json_object_get(obj, key)) + 1));
}

static void count(json_t *g, const json_t *run, bool false_act)
{
	const char *st = jstr(run, "status") ? jstr(run, "status") : "?";
	inc(g, "runs");
	inc(json_object_get(g, "by_status"), st);
	bool ok = !strcmp(st, "succeeded");
	if (ok || !strcmp(st, "failed") || !strcmp(st, "undone"))
		inc(g, "finished");
	if (ok) {
		inc(g, "succeeded");
		double s = recovery_s(run);
		if (s >= 0)
			json_array_append_new(json_object_get(g, "_recovery"), json_real(s));
	}
	if (!strcmp(st, "undone") || !strcmp(st, "undoing") || json_object_get(run, "undo_order"))
		inc(g, "undone");
	if (!strcmp(st, "refused"))
		inc(json_object_get(g, "guardrail_hits"), report_guardrail_of(jstr(run, "reason")));
	if (false_act)
		inc(g, "false_activations");
}

/* The groups of obj as a list sorted by name, each with its success rate and recovery quantiles. */
static json_t *finish(json_t *obj)
{
	json_t *list = json_array();
	const char *k;
	json_t *g;
	void *tmp;
	json_object_foreach_safe(obj, tmp, k, g) {
		json_t *rec = json_object_get(g, "_recovery");
		size_t n = json_array_size(rec);
		double *v = xcalloc(n + 1, sizeof(*v)), sum = 0;
		for (size_t i = 0; i < n; i++) {
			v[i] = json_real_value(json_array_get(rec, i));
			sum += v[i];
		}
		qsort(v, n, sizeof(*v), dbl_cmp);
		json_object_set_new(g, "recovery_seconds",
				    n ? json_pack("{si sf sf sf}", "count", (int)n, "median", quantile(v, n, 0.5), "p90",
						  quantile(v, n, 0.9), "sum", sum)
				      : json_pack("{si sn sn sf}", "count", 0, "median", "p90", "sum", 0.0));
		free(v);
		json_object_del(g, "_recovery");
		json_int_t fin = json_integer_value(json_object_get(g, "finished"));
		json_object_set_new(g, "success_rate",
				    fin ? json_real((double)json_integer_value(json_object_get(g, "succeeded")) / (double)fin)
					: json_null());
		json_array_append(list, g);
	}
	/* json objects keep insertion order: sort by name */
	size_t n = json_array_size(list);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(jstr(json_array_get(list, j - 1), "name"),
						   jstr(json_array_get(list, j), "name")) > 0; j--) {
			json_t *a = json_incref(json_array_get(list, j - 1));
			json_array_set(list, j - 1, json_array_get(list, j));
			json_array_set_new(list, j, a);
		}
	return list;
}

int report_compute(const json_t *runs, const json_t *incidents, int64_t since_ns, json_t **out)
{
	json_t *drill = json_object(), *fp = json_object();
	size_t i;
	json_t *x;
	json_array_foreach(incidents, i, x) {
		const char *id = jstr(x, "id");
		if (!id)
			continue;
		const json_t *d = json_object_get(json_object_get(x, "tags"), "drill");
		if (truthy(d ? d : json_object_get(x, "drill")))
			json_object_set_new(drill, id, json_true());
		if (json_is_true(json_object_get(x, "false_positive")))
			json_object_set_new(fp, id, json_true());
	}
	json_t *pols = json_object(), *recs = json_object();
	int total = 0, drills = 0;
	json_array_foreach(runs, i, x) {
		if (json_integer_value(json_object_get(x, "created_unix_nano")) < since_ns)
			continue;
		const char *incid = jstr(x, "incident");
		if (json_is_true(json_object_get(x, "drill")) || (incid && json_object_get(drill, incid))) {
			drills++;
			continue;
		}
		total++;
		bool false_act = incid && json_object_get(fp, incid) && json_is_true(json_object_get(x, "acted"));
		count(group(pols, jstr(x, "policy") ? jstr(x, "policy") : "?"), x, false_act);
		size_t k;
		json_t *rn;
		json_array_foreach(json_object_get(x, "recipes"), k, rn)
			if (json_string_value(rn))
				count(group(recs, json_string_value(rn)), x, false_act);
	}
	char since[40];
	*out = json_pack("{ss si si so so}", "since", ooda_time_format(since_ns, since, sizeof(since)), "runs", total,
			 "drills_excluded", drills, "policies", finish(pols), "recipes", finish(recs));
	json_decref(pols);
	json_decref(recs);
	json_decref(drill);
	json_decref(fp);
	return 0;
}

struct runs_ctx {
	int64_t since;
	json_t *out;
};

static int run_row(void *ctx, const void *row)
{
	const struct doc_row *d = row;
	struct runs_ctx *c = ctx;
	json_t *doc = json_loadb(d->body, d->body_len, 0, NULL);
	if (doc && json_integer_value(json_object_get(doc, "created_unix_nano")) >= c->since &&
	    json_array_size(c->out) < REMEDY_MAX_RUNS_KEPT)
		json_array_append(c->out, doc);
	json_decref(doc);
	return 0;
}

int report_runs(struct remedy *r, int64_t since_ns, json_t **runs, struct buf *err)
{
	struct runs_ctx c = { since_ns, json_array() };
	int rc = vdoc_list(remedy_store(r), "remedy-run", "", run_row, &c);
	if (rc) {
		buf_adds(err, "remediation runs cannot be read");
		json_decref(c.out);
		return rc;
	}
	*runs = c.out;
	return 0;
}

static void label(struct buf *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_addch(out, '\\');
		if (*s == '\n') {
			buf_adds(out, "\\n");
			continue;
		}
		buf_addch(out, *s);
	}
}

void report_prometheus(const json_t *report, struct buf *out)
{
	const json_t *pols = json_object_get(report, "policies");
	size_t i;
	json_t *g;
	buf_adds(out, "# HELP ooda_remedy_runs_total Remediation runs by policy and final or current status (drills excluded).\n"
		      "# TYPE ooda_remedy_runs_total counter\n");
	json_array_foreach(pols, i, g) {
		const char *st;
		json_t *n;
		json_object_foreach(json_object_get(g, "by_status"), st, n) {
			buf_adds(out, "ooda_remedy_runs_total{policy=\"");
			label(out, jstr(g, "name"));
			buf_adds(out, "\",status=\"");
			label(out, st);
			buf_addf(out, "\"} %lld\n", (long long)json_integer_value(n));
		}
	}
	buf_adds(out, "# HELP ooda_remedy_recovery_seconds Time from trigger to verified recovery of succeeded runs.\n"
		      "# TYPE ooda_remedy_recovery_seconds summary\n");
	json_array_foreach(pols, i, g) {
		const json_t *rs = json_object_get(g, "recovery_seconds");
		static const char *const qs[][2] = { { "0.5", "median" }, { "0.9", "p90" } };
		for (size_t q = 0; q < 2 && json_integer_value(json_object_get(rs, "count")); q++) {
			buf_adds(out, "ooda_remedy_recovery_seconds{policy=\"");
			label(out, jstr(g, "name"));
			buf_addf(out, "\",quantile=\"%s\"} %.3f\n", qs[q][0], json_real_value(json_object_get(rs, qs[q][1])));
		}
		buf_adds(out, "ooda_remedy_recovery_seconds_sum{policy=\"");
		label(out, jstr(g, "name"));
		buf_addf(out, "\"} %.3f\n", json_real_value(json_object_get(rs, "sum")));
		buf_adds(out, "ooda_remedy_recovery_seconds_count{policy=\"");
		label(out, jstr(g, "name"));
		buf_addf(out, "\"} %lld\n", (long long)json_integer_value(json_object_get(rs, "count")));
	}
	buf_adds(out, "# HELP ooda_remedy_guardrail_hits_total Runs refused by a guardrail, by policy and guardrail.\n"
		      "# TYPE ooda_remedy_guardrail_hits_total counter\n");
	json_array_foreach(pols, i, g) {
		const char *gr;
		json_t *n;
		json_object_foreach(json_object_get(g, "guardrail_hits"), gr, n) {
			buf_adds(out, "ooda_remedy_guardrail_hits_total{policy=\"");
			label(out, jstr(g, "name"));
			buf_adds(out, "\",guardrail=\"");
			label(out, gr);
			buf_addf(out, "\"} %lld\n", (long long)json_integer_value(n));
		}
	}
}
