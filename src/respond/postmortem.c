/*
 * The postmortem draft (see postmortem.h): Markdown from the incident, its
 * timeline, hypotheses, triage summary and action items. The learn end of
 * the loop; it never decides blame — it states what happened, when, what
 * was found, and leaves marked placeholders where people must write.
 */
#include "respond/postmortem.h"

#include "core/error.h"
#include "core/time.h"

/* The array inside {"key":[…]}, or v itself when it is an array. */
static const json_t *list_of(const json_t *v, const char *key)
{
	if (json_is_object(v))
		v = json_object_get(v, key);
	return json_is_array(v) ? v : NULL;
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* Markdown table cells: no newline, no pipe. */
static void cell(struct buf *md, const char *s)
{
	for (; *s; s++)
		if (*s == '|')
			buf_adds(md, "\\|");
		else if (*s == '\n' || *s == '\r')
			buf_addch(md, ' ');
		else
			buf_addch(md, *s);
}

static int64_t time_of(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	int64_t ns;
	if (!s || ooda_time_parse(s, strlen(s), &ns))
		return -1;
	return ns;
}

/* "1h 02m 03s", "4m 10s", "45s"; negative with a leading minus. */
static void duration(struct buf *md, int64_t ns)
{
	if (ns < 0) {
		buf_addch(md, '-');
		ns = -ns;
	}
	long long s = (long long)(ns / OODA_NS_PER_SEC);
	if (s >= 3600)
		buf_addf(md, "%lldh %02lldm %02llds", s / 3600, s / 60 % 60, s % 60);
	else if (s >= 60)
		buf_addf(md, "%lldm %02llds", s / 60, s % 60);
	else
		buf_addf(md, "%llds", s);
}

static void utc(struct buf *md, int64_t ns)
{
	char t[40];
	ooda_time_format(ns, t, sizeof(t));
	/* "2026-12-05T14:02:00.000Z" → "2026-12-05 14:02:00 UTC" */
	t[10] = ' ';
	t[19] = 0;
	buf_addf(md, "%s UTC", t);
}

static void todo(struct buf *md, const char *what)
{
	buf_addf(md, "%s %s\n\n", POSTMORTEM_TODO, what);
}

static void section_summary(struct buf *md, const json_t *inc, int64_t onset, int64_t resolved)
{
	buf_adds(md, "## Summary\n\n");
	buf_addf(md, "- **Severity:** %s\n- **Status:** %s\n", json_string_value(json_object_get(inc, "severity")) ?
		 str(inc, "severity") : "unknown", str(inc, "status"));
	buf_addf(md, "- **Primary service:** %s\n", str(inc, "service"));
	const json_t *svcs = json_object_get(inc, "services");
	if (json_array_size(svcs) > 1) {
		buf_adds(md, "- **Services involved:** ");
		size_t i;
		const json_t *s;
		json_array_foreach(svcs, i, s) buf_addf(md, "%s%s", i ? ", " : "", json_string_value(s) ? json_string_value(s) : "?");
		buf_addch(md, '\n');
	}
	if (json_string_value(json_object_get(inc, "environment")))
		buf_addf(md, "- **Environment:** %s\n", str(inc, "environment"));
	if (onset >= 0) {
		buf_adds(md, "- **Onset:** ");
		utc(md, onset);
		buf_addch(md, '\n');
	}
	if (onset >= 0 && resolved >= onset) {
		buf_adds(md, "- **Duration (onset to resolved):** ");
		duration(md, resolved - onset);
		buf_addch(md, '\n');
	}
	buf_addch(md, '\n');
	todo(md, "two or three sentences a reader outside the team understands: what users saw, for how long, and "
		 "what ended it.");
}

static void section_impact(struct buf *md, const json_t *summary)
{
	buf_adds(md, "## Impact\n\n");
	const json_t *imp = json_object_get(summary, "impact");
	const json_t *svcs = json_object_get(imp, "services");
	if (!json_array_size(svcs)) {
		buf_adds(md, "No measured impact was recorded by triage.\n\n");
		todo(md, "who was affected and how much (requests, users, money, SLO budget).");
		return;
	}
	buf_adds(md, "| Service | Error ratio (baseline → incident) | p90 latency (baseline → incident) | Requests in incident window |\n"
		     "|---|---|---|---|\n");
	size_t i;
	const json_t *s;
	json_array_foreach(svcs, i, s) {
		const json_t *b = json_object_get(s, "baseline"), *c = json_object_get(s, "incident");
		buf_adds(md, "| ");
		cell(md, str(s, "service"));
		const json_t *be = json_object_get(b, "error_ratio"), *ce = json_object_get(c, "error_ratio");
		const json_t *bp = json_object_get(b, "p90_ms"), *cp = json_object_get(c, "p90_ms");
		buf_adds(md, " | ");
		if (json_is_number(be))
			buf_addf(md, "%.2f%%", 100 * json_number_value(be));
		else
			buf_adds(md, "n/a");
		buf_adds(md, " → ");
		if (json_is_number(ce))
			buf_addf(md, "%.2f%%", 100 * json_number_value(ce));
		else
			buf_adds(md, "n/a");
		buf_adds(md, " | ");
		if (json_is_number(bp))
			buf_addf(md, "%.0f ms", json_number_value(bp));
		else
			buf_adds(md, "n/a");
		buf_adds(md, " → ");
		if (json_is_number(cp))
			buf_addf(md, "%.0f ms", json_number_value(cp));
		else
			buf_adds(md, "n/a");
		buf_addf(md, " | %lld |\n", (long long)json_integer_value(json_object_get(c, "requests")));
	}
	buf_addch(md, '\n');
	const json_t *req = json_object_get(imp, "requests"), *err = json_object_get(imp, "errors");
	if (json_is_integer(req))
		buf_addf(md, "- **Requests during the incident:** %lld (%lld failed)\n", (long long)json_integer_value(req),
			 (long long)json_integer_value(err));
	const json_t *users = json_object_get(imp, "affected_users");
	if (json_is_integer(users))
		buf_addf(md, "- **Distinct users with a failed request:** %lld\n", (long long)json_integer_value(users));
	const json_t *slo = json_object_get(imp, "slo_budget");
	json_array_foreach(slo, i, s) {
		const json_t *burned = json_object_get(s, "burned");
		if (json_is_number(burned))
			buf_addf(md, "- **SLO %s:** %.1f%% of the error budget burned during the incident\n", str(s, "slo"),
				 100 * json_number_value(burned));
	}
	buf_addch(md, '\n');
	todo(md, "the impact on customers in words (which features, which regions, any data loss or none).");
}

static void section_timeline(struct buf *md, const json_t *entries, int64_t onset)
{
	buf_adds(md, "## Timeline\n\n");
	if (!json_array_size(entries)) {
		buf_adds(md, "No timeline entries were recorded.\n\n");
		todo(md, "the timeline of the incident.");
		return;
	}
	buf_adds(md, "| Since onset | Time (UTC) | Event | By |\n|---|---|---|---|\n");
	size_t i;
	const json_t *e;
	json_array_foreach(entries, i, e) {
		int64_t at = time_of(e, "at");
		buf_adds(md, "| ");
		if (at >= 0 && onset >= 0) {
			buf_adds(md, at >= onset ? "+" : "");
			duration(md, at - onset);
		}
		buf_adds(md, " | ");
		if (at >= 0)
			utc(md, at);
		buf_adds(md, " | ");
		if (json_string_value(json_object_get(e, "kind"))) {
			buf_adds(md, "*");
			cell(md, str(e, "kind"));
			buf_adds(md, "* ");
		}
		cell(md, str(e, "text"));
		buf_adds(md, " | ");
		cell(md, str(e, "actor"));
		buf_adds(md, " |\n");
	}
	buf_addch(md, '\n');
}

static int cmp_confidence(const void *a, const void *b)
{
	double x = json_number_value(json_object_get(*(json_t *const *)a, "confidence"));
	double y = json_number_value(json_object_get(*(json_t *const *)b, "confidence"));
	return (x < y) - (x > y);
}

static void hypothesis_line(struct buf *md, const json_t *h)
{
	buf_addf(md, "%s", str(h, "statement"));
	const json_t *ev = json_object_get(h, "evidence");
	if (json_array_size(ev)) {
		buf_adds(md, " (evidence: ");
		size_t i;
		const json_t *e;
		json_array_foreach(ev, i, e) buf_addf(md, "%s%s `%s`", i ? "; " : "", str(e, "kind"), str(e, "ref"));
		buf_adds(md, ")");
	}
	buf_addch(md, '\n');
}

static void section_cause(struct buf *md, const json_t *hyps, const json_t *summary)
{
	buf_adds(md, "## Root cause and contributing factors\n\n");
	size_t n = json_array_size(hyps), nc = 0, i;
	const json_t **conf = xcalloc(n + 1, sizeof(json_t *));
	const json_t *h;
	json_array_foreach(hyps, i, h) if (!strcmp(str(h, "state"), "confirmed")) conf[nc++] = h;
	qsort(conf, nc, sizeof(json_t *), cmp_confidence);
	if (nc) {
		buf_adds(md, "**Root cause (confirmed):** ");
		hypothesis_line(md, conf[0]);
		buf_addch(md, '\n');
		if (nc > 1) {
			buf_adds(md, "**Contributing factors (confirmed):**\n\n");
			for (size_t k = 1; k < nc; k++) {
				buf_adds(md, "- ");
				hypothesis_line(md, conf[k]);
			}
			buf_addch(md, '\n');
		}
	} else {
		buf_adds(md, "No hypothesis has been confirmed yet.\n\n");
		const json_t *sus = json_array_get(json_object_get(summary, "suspects"), 0);
		if (sus)
			buf_addf(md, "The root-cause ranking's first suspect was **%s** (confidence %.2f).\n\n", str(sus, "node"),
				 json_number_value(json_object_get(sus, "confidence")));
		todo(md, "the root cause, once confirmed.");
	}
	free(conf);
	bool any = false;
	json_array_foreach(hyps, i, h) {
		if (strcmp(str(h, "state"), "rejected"))
			continue;
		if (!any)
			buf_adds(md, "**Ruled out:**\n\n");
		any = true;
		buf_adds(md, "- ");
		hypothesis_line(md, h);
	}
	if (any)
		buf_addch(md, '\n');
	todo(md, "why the system allowed this to happen (the conditions, not the people).");
}

static void section_response(struct buf *md, const json_t *inc, const json_t *entries, int64_t onset)
{
	buf_adds(md, "## Detection and response\n\n");
	int64_t opened = time_of(inc, "opened_at"), detected = -1;
	size_t i;
	const json_t *e;
	json_array_foreach(entries, i, e) {
		const char *k = str(e, "kind");
		int64_t at = time_of(e, "at");
		if ((!strcmp(k, "alert") || !strcmp(k, "detection")) && at >= onset && (detected < 0 || at < detected))
			detected = at;
	}
	if (detected < 0)
		detected = opened;
	struct {
		const char *what;
		int64_t from, to;
	} rows[] = {
		{ "Time to detect (onset → first alert)", onset, detected },
		{ "Time to acknowledge (opened → acknowledged)", opened, time_of(inc, "acknowledged_at") },
		{ "Time to mitigate (onset → mitigated)", onset, time_of(inc, "mitigated_at") },
		{ "Time to resolve (onset → resolved)", onset, time_of(inc, "resolved_at") },
	};
	buf_adds(md, "| Measure | Duration |\n|---|---|\n");
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		buf_addf(md, "| %s | ", rows[r].what);
		if (rows[r].from >= 0 && rows[r].to >= rows[r].from)
			duration(md, rows[r].to - rows[r].from);
		else
			buf_adds(md, "not reached");
		buf_adds(md, " |\n");
	}
	buf_addch(md, '\n');
}

static void section_well_wrong(struct buf *md, const json_t *inc, const json_t *entries, const json_t *summary)
{
	struct buf well = BUF_INIT, wrong = BUF_INIT;
	const json_t *src = json_object_get(inc, "source");
	const char *kind = str(src, "kind");
	if (*kind && strcmp(kind, "manual"))
		buf_addf(&well, "- Detected by monitoring (%s%s%s) before any manual report.\n", kind,
			 *str(src, "name") ? ": " : "", str(src, "name"));
	else
		buf_adds(&wrong, "- The incident was opened by hand: monitoring did not detect it first.\n");
	bool notified = false;
	size_t i;
	const json_t *e;
	json_array_foreach(entries, i, e) notified |= !strcmp(str(e, "kind"), "notification");
	if (notified)
		buf_adds(&well, "- Responders were notified (a notification is in the timeline).\n");
	else
		buf_adds(&wrong, "- No notification was recorded in the timeline.\n");
	const char *runbook = json_string_value(json_object_get(inc, "runbook"));
	if (!runbook)
		runbook = json_string_value(json_object_get(summary, "runbook"));
	if (runbook)
		buf_addf(&well, "- A runbook was at hand: %s\n", runbook);
	else
		buf_adds(&wrong, "- No runbook was linked to the service.\n");
	int64_t opened = time_of(inc, "opened_at"), ack = time_of(inc, "acknowledged_at");
	if (opened >= 0 && ack >= opened) {
		int64_t d = ack - opened;
		if (d <= 5 * 60 * OODA_NS_PER_SEC) {
			buf_adds(&well, "- Acknowledged within ");
			duration(&well, d);
			buf_adds(&well, ".\n");
		} else if (d > 15 * 60 * OODA_NS_PER_SEC) {
			buf_adds(&wrong, "- Acknowledgement took ");
			duration(&wrong, d);
			buf_adds(&wrong, ".\n");
		}
	} else if (opened >= 0) {
		buf_adds(&wrong, "- The incident was never acknowledged.\n");
	}
	const json_t *ch = json_array_get(json_object_get(summary, "changes"), 0);
	if (ch)
		buf_addf(&wrong, "- A change (%s %s on %s) went out %.0f s before the onset without a check catching it.\n",
			 str(ch, "kind"), *str(ch, "version") ? str(ch, "version") : str(ch, "id"), str(ch, "service"),
			 json_number_value(json_object_get(ch, "before_onset_s")));
	buf_adds(md, "## What went well\n\n");
	buf_adds(md, well.len ? well.data : "");
	buf_addch(md, '\n');
	todo(md, "anything else that helped.");
	buf_adds(md, "## What went wrong\n\n");
	buf_adds(md, wrong.len ? wrong.data : "");
	buf_addch(md, '\n');
	todo(md, "anything else that made the incident longer or harder.");
	buf_release(&well);
	buf_release(&wrong);
}

static void section_actions(struct buf *md, const json_t *items)
{
	buf_adds(md, "## Action items\n\n");
	if (!json_array_size(items)) {
		buf_adds(md, "No action items yet.\n\n");
		todo(md, "action items, each with an owner and a due date (`ooda actions add`).");
		return;
	}
	buf_adds(md, "| Key | Action | Owner | Due | Status |\n|---|---|---|---|---|\n");
	size_t i;
	const json_t *a;
	json_array_foreach(items, i, a) {
		buf_adds(md, "| ");
		cell(md, str(a, "key"));
		buf_adds(md, " | ");
		cell(md, str(a, "title"));
		buf_adds(md, " | ");
		cell(md, str(a, "owner"));
		buf_adds(md, " | ");
		cell(md, str(a, "due"));
		buf_adds(md, " | ");
		cell(md, str(a, "status"));
		buf_adds(md, " |\n");
	}
	buf_addch(md, '\n');
}

/*
 * Automation: what remediation did, from the timeline's "remediation"
 * entries (the remedy stage writes them with data {run, policy, status} or
 * {runbook_run, runbook, step}): each run with its policy or runbook, its
 * last recorded status and the time from its first entry to its last; then
 * the runbook steps people marked done. Left out when nothing ran.
 */
static void section_automation(struct buf *md, const json_t *entries)
{
	json_t *runs = json_object(), *order = json_array(), *steps = json_array();
	size_t i;
	const json_t *e;
	json_array_foreach(entries, i, e) {
		if (strcmp(str(e, "kind"), "remediation"))
			continue;
		const json_t *d = json_object_get(e, "data");
		const char *id = str(d, "run");
		if (!*id) {
			if (json_object_get(d, "step"))
				json_array_append(steps, (json_t *)e);
			continue;
		}
		json_t *r = json_object_get(runs, id);
		if (!r) {
			r = json_pack("{ss sI}", "policy", str(d, "policy"), "first", (json_int_t)time_of(e, "at"));
			json_object_set_new(runs, id, r);
			json_array_append_new(order, json_string(id));
		}
		json_object_set_new(r, "status", json_string(str(d, "status")));
		json_object_set_new(r, "last", json_integer(time_of(e, "at")));
	}
	if (json_array_size(order) || json_array_size(steps)) {
		buf_adds(md, "## Automation\n\n");
		if (json_array_size(order))
			buf_adds(md, "| Run | Policy or runbook | Outcome | First to last record |\n|---|---|---|---|\n");
		const json_t *id;
		json_array_foreach(order, i, id) {
			const json_t *r = json_object_get(runs, json_string_value(id));
			buf_adds(md, "| ");
			cell(md, json_string_value(id));
			buf_adds(md, " | ");
			cell(md, str(r, "policy"));
			buf_adds(md, " | ");
			cell(md, str(r, "status"));
			buf_adds(md, " | ");
			int64_t a = json_integer_value(json_object_get(r, "first")), b = json_integer_value(json_object_get(r, "last"));
			if (a >= 0 && b >= a)
				duration(md, b - a);
			buf_adds(md, " |\n");
		}
		if (json_array_size(order))
			buf_addch(md, '\n');
		json_array_foreach(steps, i, e) {
			buf_adds(md, "- ");
			buf_adds(md, str(e, "text"));
			buf_addch(md, '\n');
		}
		if (json_array_size(steps))
			buf_addch(md, '\n');
	}
	json_decref(runs);
	json_decref(order);
	json_decref(steps);
}

int postmortem_render(const json_t *incident, const json_t *timeline, const json_t *hypotheses, const json_t *summary,
		      const json_t *action_items, struct buf *md, struct buf *err)
{
	if (!json_is_object(incident)) {
		buf_adds(err, "incident: expected the incident document (a JSON object)");
		return OODA_EINVAL;
	}
	const json_t *entries = list_of(timeline, "entries"), *hyps = list_of(hypotheses, "hypotheses");
	const json_t *items = list_of(action_items, "actions");
	int64_t onset = time_of(incident, "onset_at");
	if (onset < 0)
		onset = time_of(incident, "opened_at");
	buf_adds(md, "# Postmortem: ");
	buf_adds(md, *str(incident, "id") ? str(incident, "id") : "incident");
	if (*str(incident, "title"))
		buf_addf(md, " — %s", str(incident, "title"));
	buf_adds(md, "\n\n*Draft generated by ooda for review. This is a blameless review: it describes what the "
		     "systems and the process did, not who is at fault.*\n\n");
	section_summary(md, incident, onset, time_of(incident, "resolved_at"));
	section_impact(md, summary);
	section_timeline(md, entries, onset);
	section_cause(md, hyps, summary);
	section_response(md, incident, entries, onset);
	section_well_wrong(md, incident, entries, summary);
	section_automation(md, entries);
	section_actions(md, items);
	return 0;
}
