/*
 * CLI commands of the respond stage that work offline: `ooda analyze rca`
 * ranks root-cause suspects from CSV files with the same engine the daemon
 * uses (respond/rca.h). No daemon, no store.
 */
#include "cli/cli.h"
#include "core/error.h"
#include "respond/rca_csv.h"

#include <errno.h>
#include <jansson.h>

enum csv_kind { CSV_SERIES, CSV_EDGES, CSV_CHANGES };

static int load_file(const char *path, enum csv_kind kind, struct rca_csv *d, struct buf *err)
{
	FILE *in = fopen(path, "r");
	if (!in) {
		buf_addf(err, "cannot open %s: %s", path, strerror(errno));
		return OODA_EIO;
	}
	int rc = kind == CSV_EDGES     ? rca_csv_load_edges(d, in, path, err)
		 : kind == CSV_CHANGES ? rca_csv_load_changes(d, in, path, err)
				       : rca_csv_load_series(d, in, path, err);
	fclose(in);
	return rc;
}

static int parse_number(const char *opt, const char *s, bool integer, double *out, struct buf *err)
{
	char *end;
	errno = 0;
	double v = integer ? (double)strtoll(s, &end, 10) : strtod(s, &end);
	if (!*s || *end || errno || !(v > 0)) {
		buf_addf(err, "%s needs a %s > 0, not \"%s\"", opt, integer ? "whole unix time in seconds" : "number",
			 s);
		return OODA_EINVAL;
	}
	*out = v;
	return 0;
}

/* The line of evidence the text output shows: the first item, and a change if there is one. */
static void evidence_line(json_t *ev, struct buf *out)
{
	size_t i;
	json_t *e;
	json_array_foreach(ev, i, e) {
		const char *kind = cli_jstr(e, "kind");
		if (i && strcmp(kind, "change"))
			continue;
		if (i)
			buf_adds(out, "; ");
		if (!strcmp(kind, "metric"))
			buf_addf(out, "%s %.4g -> %.4g (z %.1f)", cli_jstr(e, "metric"),
				 json_number_value(json_object_get(e, "baseline")),
				 json_number_value(json_object_get(e, "observed")),
				 json_number_value(json_object_get(e, "z")));
		else if (!strcmp(kind, "change"))
			buf_addf(out, "%s %s%s%s %llds before onset", *cli_jstr(e, "change_kind") ? cli_jstr(e, "change_kind") : "change",
				 cli_jstr(e, "ref"), *cli_jstr(e, "node") ? " on " : "", cli_jstr(e, "node"),
				 (long long)json_integer_value(json_object_get(e, "before_onset_s")));
		else if (!strcmp(kind, "callers_errors"))
			buf_addf(out, "callers' errors via %s", cli_jstr(e, "edge"));
		else
			buf_adds(out, kind);
	}
	if (!out->len)
		buf_adds(out, "-");
}

int cmd_analyze_rca(struct cli_args *a, struct buf *err)
{
	const char *metrics = cli_opt(a, "--metrics"), *normal = cli_opt(a, "--normal"),
		   *graph = cli_opt(a, "--graph"), *changes = cli_opt(a, "--changes"), *at = cli_opt(a, "--at"), *target = cli_opt(a, "--target"),
		   *floor = cli_opt(a, "--scale-floor"), *res = cli_opt(a, "--resolution");
	if (!metrics || !*metrics || a->n_pos) {
		buf_adds(err, "usage: ooda analyze rca --metrics FILE.csv [--normal NORMAL.csv] [--graph EDGES.csv] "
			      "[--changes CHANGES.csv] [--at UNIX_TS] [--target NODE] [--json]");
		return OODA_EINVAL;
	}
	struct rca_input in = { 0 };
	double v;
	int rc = 0;
	if (at && !(rc = parse_number("--at", at, true, &v, err)))
		in.onset_s = (int64_t)v;
	if (!rc && floor && !(rc = parse_number("--scale-floor", floor, false, &v, err)))
		in.scale_floor = v;
	if (!rc && res && !(rc = parse_number("--resolution", res, false, &v, err)))
		in.resolution = v;
	if (rc)
		return rc;
	struct rca_csv m, n, g, ch;
	rca_csv_init(&m);
	rca_csv_init(&n);
	rca_csv_init(&g);
	rca_csv_init(&ch);
	rc = load_file(metrics, CSV_SERIES, &m, err);
	if (!rc && normal)
		rc = load_file(normal, CSV_SERIES, &n, err);
	if (!rc && graph)
		rc = load_file(graph, CSV_EDGES, &g, err);
	if (!rc && changes)
		rc = load_file(changes, CSV_CHANGES, &ch, err);
	struct rca_suspect *s = NULL;
	size_t ns = 0;
	if (!rc) {
		in.series = m.series;
		in.n_series = m.n_series;
		in.normal = n.series;
		in.n_normal = n.n_series;
		in.edges = g.edges;
		in.n_edges = g.n_edges;
		in.changes = ch.changes;
		in.n_changes = ch.n_changes;
		in.target = target && *target ? target : NULL;
		rc = rca_rank(&in, &s, &ns, err);
	}
	if (!rc && a->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < ns; i++)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:f, s:f, s:O}", "node", s[i].node, "kind",
							     s[i].kind, "score", s[i].score, "confidence",
							     s[i].confidence, "evidence", s[i].evidence));
		char *t = json_dumps(arr, JSON_COMPACT);
		puts(t);
		free(t);
		json_decref(arr);
	} else if (!rc) {
		int64_t onset = rca_onset(&in);
		printf("onset %lld%s\n", (long long)onset, in.onset_s ? "" : " (estimated)");
		printf("%-4s  %-32s  %-9s  %9s  %10s  %s\n", "RANK", "NODE", "KIND", "SCORE", "CONFIDENCE", "EVIDENCE");
		for (size_t i = 0; i < ns; i++) {
			struct buf line = BUF_INIT;
			evidence_line(s[i].evidence, &line);
			printf("%-4zu  %-32s  %-9s  %9.2f  %10.3f  %s\n", i + 1, s[i].node, s[i].kind, s[i].score,
			       s[i].confidence, line.data);
			buf_release(&line);
		}
	}
	rca_suspects_free(s, ns);
	rca_csv_release(&m);
	rca_csv_release(&n);
	rca_csv_release(&g);
	rca_csv_release(&ch);
	return rc;
}
