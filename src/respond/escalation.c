/*
 * The escalation engine: one incident's walk through its escalation policy
 * as a small state machine advanced by a tick (the diagram is in
 * escalation.h). Pure: the respond stage calls
 * escalation_tick from the engine thread for each open incident, keeps the
 * state in the incident's document, and hands the pages to the
 * notification outbox. Schedule targets are resolved to the user on call at
 * the moment the page became due.
 */
#include "respond/escalation.h"
#include "respond/oncall.h"
#include "core/error.h"
#include "core/time.h"

void escalation_pages_release(struct escalation_pages *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].to);
		free(p->v[i].via);
	}
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

static void page_add(struct escalation_pages *out, int level, const char *kind, const char *name, const char *via,
		     const char *reason, int64_t at_ns)
{
	out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
	struct escalation_page *pg = &out->v[out->n++];
	size_t n = strlen(kind) + strlen(name) + 2;
	pg->to = xmalloc(n);
	snprintf(pg->to, n, "%s:%s", kind, name);
	pg->via = xstrdup(via);
	pg->level = level;
	pg->reason = reason;
	pg->at_ns = at_ns;
}

/* Pages every target of level (0-based) as of at_ns; returns how many. */
static int page_level(const struct oncall *oc, const struct oncall_overrides *ov, const struct oncall_policy *p,
		      int level, const char *reason, int64_t at_ns, struct escalation_pages *out)
{
	const struct oncall_level *lv = &p->levels[level];
	int n = 0;
	for (size_t i = 0; i < lv->n_targets; i++) {
		const struct oncall_target *t = &lv->targets[i];
		if (t->kind == ONCALL_TARGET_USER || t->kind == ONCALL_TARGET_NOTIFY) {
			page_add(out, level + 1, t->kind == ONCALL_TARGET_USER ? "user" : "notify", t->name, t->text, reason,
				 at_ns);
			n++;
			continue;
		}
		struct oncall_shift s;
		struct buf err = BUF_INIT;
		int rc = oncall_who(oc, ov, t->name, at_ns, &s, &err);
		buf_release(&err);
		if (rc)
			continue; /* the config was checked: a schedule target names a schedule */
		if (t->kind == ONCALL_TARGET_SCHEDULE && s.primary) {
			page_add(out, level + 1, "user", s.primary, t->text, reason, at_ns);
			n++;
		}
		for (size_t b = 0; t->kind == ONCALL_TARGET_BACKUP && b < s.n_backups; b++) {
			page_add(out, level + 1, "user", s.backups[b], t->text, reason, at_ns);
			n++;
		}
	}
	return n;
}

int escalation_tick(const struct oncall *oc, const struct oncall_overrides *ov, const struct oncall_policy *p,
		    struct escalation_state *st, int64_t opened_ns, int64_t now_ns, bool acked,
		    struct escalation_pages *out)
{
	if (acked) {
		st->phase = ESCALATION_STOPPED;
		return 0;
	}
	if (st->phase == ESCALATION_STOPPED || st->phase == ESCALATION_EXHAUSTED || !p || !p->n_levels)
		return 0;
	int pages = 0;
	if (st->phase == ESCALATION_FRESH) {
		st->phase = ESCALATION_ACTIVE;
		st->level = 0;
		st->cycle = 0;
		st->level_start_ns = st->last_page_ns = opened_ns;
		pages += page_level(oc, ov, p, 0, "open", opened_ns, out);
	}
	if (st->level < 0 || (size_t)st->level >= p->n_levels) /* the policy shrank on a reload */
		st->level = (int)p->n_levels - 1;
	/* bounded: one pass per level of each cycle at most */
	for (size_t guard = 0; guard <= p->n_levels * (size_t)(ONCALL_MAX_REPEAT + 1); guard++) {
		int64_t deadline = ooda_ns_add_sat(st->level_start_ns, p->levels[st->level].timeout_ns);
		if (now_ns >= deadline) {
			const char *reason = "escalate";
			if ((size_t)st->level + 1 < p->n_levels) {
				st->level++;
			} else if (st->cycle < p->repeat) {
				st->cycle++;
				st->level = 0;
				reason = "repeat";
			} else {
				st->phase = ESCALATION_EXHAUSTED;
				break;
			}
			st->level_start_ns = st->last_page_ns = deadline;
			pages += page_level(oc, ov, p, st->level, reason, deadline, out);
			continue;
		}
		if (p->renotify_ns > 0 && now_ns - st->last_page_ns >= p->renotify_ns) {
			/* one re-page per tick, at the last renotify instant passed */
			int64_t k = (now_ns - st->last_page_ns) / p->renotify_ns;
			st->last_page_ns = ooda_ns_add_sat(st->last_page_ns, ooda_ns_mul_sat(k, p->renotify_ns));
			pages += page_level(oc, ov, p, st->level, "renotify", st->last_page_ns, out);
		}
		break;
	}
	st->pages += pages;
	return pages;
}

static const char *const phases[] = { "fresh", "active", "exhausted", "stopped" };

json_t *escalation_state_json(const struct escalation_state *st)
{
	return json_pack("{s:s, s:i, s:i, s:I, s:I, s:I}", "phase", phases[st->phase], "level", st->level, "cycle",
			 st->cycle, "level_start_ns", (json_int_t)st->level_start_ns, "last_page_ns",
			 (json_int_t)st->last_page_ns, "pages", (json_int_t)st->pages);
}

int escalation_state_from_json(const json_t *j, struct escalation_state *st)
{
	const char *phase = json_string_value(json_object_get(j, "phase"));
	json_t *lv = json_object_get(j, "level"), *cy = json_object_get(j, "cycle");
	json_t *ls = json_object_get(j, "level_start_ns"), *lp = json_object_get(j, "last_page_ns");
	if (!phase || !json_is_integer(lv) || !json_is_integer(cy) || !json_is_integer(ls) || !json_is_integer(lp))
		return OODA_EINVAL;
	size_t i = 0;
	while (i < sizeof(phases) / sizeof(phases[0]) && strcmp(phases[i], phase))
		i++;
	if (i == sizeof(phases) / sizeof(phases[0]) || json_integer_value(lv) < 0 ||
	    json_integer_value(lv) >= ONCALL_MAX_LEVELS || json_integer_value(cy) < 0 ||
	    json_integer_value(cy) > ONCALL_MAX_REPEAT)
		return OODA_EINVAL;
	st->phase = (enum escalation_phase)i;
	st->level = (int)json_integer_value(lv);
	st->cycle = (int)json_integer_value(cy);
	st->level_start_ns = json_integer_value(ls);
	st->last_page_ns = json_integer_value(lp);
	st->pages = json_integer_value(json_object_get(j, "pages"));
	return 0;
}
