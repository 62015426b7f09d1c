/*
 * CLI commands for SLOs: `ooda slo list` (one line per SLO: objective,
 * window, SLI, budget left, burn rates, alert state) and `ooda slo show
 * NAME` (the same in detail, the burn-rate rules, and the budget burn-down
 * over the window as a text sparkline). Each is a client of one route of
 * api/slo_api.c; --json prints the route's answer as is.
 */
#include "cli/cli.h"
#include "core/error.h"

#include <jansson.h>
#include <math.h>

static double num_of(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static void fmt_pct(char *out, size_t n, double v, int digits)
{
	if (isnan(v))
		snprintf(out, n, "-");
	else
		snprintf(out, n, "%.*f%%", digits, v * 100);
}

static const char *const windows[] = { "5m", "30m", "1h", "2h", "6h", "1d", "3d" };

int cmd_slo_list(struct cli_args *a, struct buf *err)
{
	json_t *j;
	int rc = cli_call_json(a, "GET", "/api/v1/slos", NULL, &j, err);
	if (rc || a->json)
		return rc;
	json_t *list = json_object_get(j, "slos");
	size_t n = json_array_size(list);
	static const char *const headers[] = { "NAME", "SERVICE", "OBJECTIVE", "WINDOW", "SLI", "BUDGET LEFT",
					       "BURN 5M", "BURN 1H", "BURN 6H", "BURN 3D", "ALERT" };
	enum { NC = 11 };
	const char **cells = xcalloc(n * NC + 1, sizeof(*cells));
	char (*txt)[NC][32] = xcalloc(n + 1, sizeof(*txt));
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(list, i);
		json_t *burn = json_object_get(s, "burn_rates");
		snprintf(txt[i][2], 32, "%g%%", num_of(s, "objective"));
		fmt_pct(txt[i][4], 32, num_of(json_object_get(s, "sli"), "value"), 3);
		fmt_pct(txt[i][5], 32, num_of(json_object_get(s, "error_budget"), "remaining"), 1);
		static const char *const bw[] = { "5m", "1h", "6h", "3d" };
		for (int k = 0; k < 4; k++)
			snprintf(txt[i][6 + k], 32, "%.2fx", num_of(burn, bw[k]));
		const char **row = &cells[i * NC];
		row[0] = cli_jstr(s, "name");
		row[1] = json_is_string(json_object_get(s, "service")) ? cli_jstr(s, "service") : "-";
		row[2] = txt[i][2];
		row[3] = cli_jstr(s, "window");
		row[4] = txt[i][4];
		row[5] = txt[i][5];
		for (int k = 6; k < 10; k++)
			row[k] = txt[i][k];
		row[10] = cli_jstr(json_object_get(s, "alert"), "state");
	}
	if (n)
		cli_table(headers, NC, cells, (int)n);
	else
		printf("no SLOs: declare them under slos: in ooda.yaml (docs/slo.md)\n");
	free(cells);
	free(txt);
	json_decref(j);
	return 0;
}

/* One character per point, from full (█) to empty (▁); '!' once the budget is spent. */
static void sparkline(json_t *points, int width)
{
	static const char *const bars[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	size_t n = json_array_size(points);
	if (!n)
		return;
	int cols = n < (size_t)width ? (int)n : width;
	for (int c = 0; c < cols; c++) {
		/* the last point of the column's range: the budget left at its end */
		size_t idx = (size_t)(((double)(c + 1) * (double)n) / cols) - 1;
		double v = num_of(json_array_get(points, idx), "remaining");
		if (isnan(v) || v <= 0) {
			fputs(v <= 0 ? "!" : " ", stdout);
			continue;
		}
		int b = (int)lrint(v * 7);
		fputs(bars[b < 0 ? 0 : b > 7 ? 7 : b], stdout);
	}
	putchar('\n');
}

int cmd_slo_show(struct cli_args *a, struct buf *err)
{
	if (a->n_pos < 1) {
		buf_adds(err, "usage: ooda slo show NAME");
		return OODA_EINVAL;
	}
	json_t *s;
	int rc = cli_call_item(a, "GET", "/api/v1/slos/", a->pos[0], "", NULL, &s, err);
	if (rc || a->json)
		return rc;
	json_t *sli = json_object_get(s, "sli"), *eb = json_object_get(s, "error_budget");
	json_t *alert = json_object_get(s, "alert");
	char v[32], rem[32];
	fmt_pct(v, sizeof(v), num_of(sli, "value"), 4);
	fmt_pct(rem, sizeof(rem), num_of(eb, "remaining"), 1);
	printf("SLO        %s\n", cli_jstr(s, "name"));
	if (json_is_string(json_object_get(s, "service")))
		printf("service    %s%s%s\n", cli_jstr(s, "service"), json_is_string(json_object_get(s, "operation")) ? " " : "",
		       cli_jstr(s, "operation"));
	printf("objective  %g%% over a rolling %s, %s", num_of(s, "objective"), cli_jstr(s, "window"), cli_jstr(s, "budgeting"));
	if (!strcmp(cli_jstr(s, "budgeting"), "timeslices"))
		printf(" (%s slices, good at >= %g%%)", cli_jstr(s, "timeslice"), num_of(s, "timeslice_target") * 100);
	printf("\nSLI        %s: %s of %.0f events good\n", cli_jstr(sli, "kind"), v,
	       num_of(json_object_get(s, "events"), "total"));
	if (!isnan(num_of(eb, "remaining_minutes")))
		printf("budget     %s left (%.1f of %.1f bad minutes)\n", rem, num_of(eb, "remaining_minutes"),
		       num_of(eb, "total_minutes"));
	else
		printf("budget     %s left (%.1f of %.1f bad events)\n", rem, num_of(eb, "remaining_events"),
		       num_of(eb, "total_events"));
	printf("alert      %s\n\n", cli_jstr(alert, "state"));

	static const char *const bh[] = { "WINDOW", "BURN RATE", "EVENTS" };
	const char *cells[7 * 3];
	char txt[7][2][32];
	for (int i = 0; i < 7; i++) {
		snprintf(txt[i][0], 32, "%.2fx", num_of(json_object_get(s, "burn_rates"), windows[i]));
		snprintf(txt[i][1], 32, "%.0f", num_of(json_object_get(s, "window_events"), windows[i]));
		cells[i * 3] = windows[i];
		cells[i * 3 + 1] = txt[i][0];
		cells[i * 3 + 2] = txt[i][1];
	}
	cli_table(bh, 3, cells, 7);

	json_t *rules = json_object_get(alert, "rules");
	size_t nr = json_array_size(rules);
	if (nr) {
		putchar('\n');
		static const char *const rh[] = { "SEVERITY", "LONG", "SHORT", "THRESHOLD", "LONG BURN", "SHORT BURN", "HOLDS" };
		const char **rc2 = xcalloc(nr * 7, sizeof(*rc2));
		char (*rt)[4][32] = xcalloc(nr, sizeof(*rt));
		for (size_t i = 0; rc2 && rt && i < nr; i++) {
			json_t *r = json_array_get(rules, i);
			snprintf(rt[i][0], 32, "%gx", num_of(r, "burn_rate"));
			snprintf(rt[i][1], 32, "%.2fx", num_of(r, "long_burn"));
			snprintf(rt[i][2], 32, "%.2fx", num_of(r, "short_burn"));
			rc2[i * 7] = cli_jstr(r, "severity");
			rc2[i * 7 + 1] = cli_jstr(r, "long");
			rc2[i * 7 + 2] = cli_jstr(r, "short");
			rc2[i * 7 + 3] = rt[i][0];
			rc2[i * 7 + 4] = rt[i][1];
			rc2[i * 7 + 5] = rt[i][2];
			rc2[i * 7 + 6] = json_is_true(json_object_get(r, "holds")) ? "yes" : "no";
		}
		if (rc2 && rt)
			cli_table(rh, 7, rc2, (int)nr);
		free(rc2);
		free(rt);
	}
	json_t *bd = json_object_get(s, "burn_down");
	if (json_array_size(bd)) {
		printf("\nbudget burn-down over the window (%s … now, %s left):\n", cli_jstr(json_array_get(bd, 0), "t"), rem);
		sparkline(bd, 72);
	}
	json_decref(s);
	return 0;
}
