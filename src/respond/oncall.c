/*
 * The on-call config (the `oncall:` section of ooda.yaml) and the pure
 * answers on it: who is on call for a schedule at an instant, and the
 * shifts of a range. A rotation hands over at a local wall time in the
 * schedule's zone, so a 09:00 Berlin handoff stays at 09:00 across the
 * daylight-saving changes (the shift that spans the change is 23 or 25
 * hours long). Sits in respond/, below the stage glue (oncall_book.c) and
 * the escalation engine (escalation.c).
 */
#include "respond/oncall.h"
#include "respond/tz.h"
#include "core/error.h"
#include "core/time.h"
#include "model/jsontime.h"

#include <ctype.h>
#include <strings.h>

/* ---- building from the section ------------------------------------------- */

static const char *const weekdays[] = { "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
					"sunday" };

static char **strv_dup(const json_t *a, size_t *n)
{
	*n = json_array_size(a);
	char **v = xcalloc(*n + 1, sizeof(*v));
	for (size_t i = 0; i < *n; i++)
		v[i] = xstrdup(json_string_value(json_array_get(a, i)));
	return v;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void oncall_destroy(struct oncall *oc)
{
	if (!oc)
		return;
	for (size_t i = 0; i < oc->n_schedules; i++) {
		struct oncall_schedule *s = &oc->schedules[i];
		free(s->name);
		free(s->team);
		free(s->time_zone);
		tz_destroy(s->tz);
		for (size_t r = 0; r < s->n_rotations; r++)
			strv_free(s->rotations[r].participants, s->rotations[r].n_participants);
		free(s->rotations);
	}
	free(oc->schedules);
	for (size_t i = 0; i < oc->n_policies; i++) {
		struct oncall_policy *p = &oc->policies[i];
		free(p->name);
		free(p->team);
		for (size_t l = 0; l < p->n_levels; l++) {
			for (size_t t = 0; t < p->levels[l].n_targets; t++) {
				free(p->levels[l].targets[t].name);
				free(p->levels[l].targets[t].text);
			}
			free(p->levels[l].targets);
		}
		free(p->levels);
	}
	free(oc->policies);
	for (size_t i = 0; i < oc->n_teams; i++) {
		free(oc->teams[i].name);
		free(oc->teams[i].schedule);
		free(oc->teams[i].policy);
		strv_free(oc->teams[i].notify, oc->teams[i].n_notify);
	}
	free(oc->teams);
	free(oc);
}

/* Where a problem is: "oncall.schedules[2].rotations[0]" and so on. */
struct where {
	char path[160];
};

static int fail(struct buf *err, const struct where *w, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct buf *err, const struct where *w, const char *key, const char *fmt, ...)
{
	buf_addf(err, "%s%s%s: ", w->path, key ? "." : "", key ? key : "");
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(err, fmt, ap);
	va_end(ap);
	return OODA_EINVAL;
}

static void where_item(struct where *out, const struct where *parent, const char *key, size_t i)
{
	if (snprintf(out->path, sizeof(out->path), "%s.%s[%zu]", parent->path, key, i) >= (int)sizeof(out->path))
		out->path[sizeof(out->path) - 1] = '\0'; /* no path of the schema is this deep */
}

/* A name: printable, no spaces, no '/' or ':' (they separate target parts), at most ONCALL_MAX_NAME bytes. */
static bool name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (!n || n > ONCALL_MAX_NAME)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= ' ' || ch == 0x7f || ch == '/' || ch == ':')
			return false;
	}
	return true;
}

static int str_member(const json_t *o, const char *key, bool required, const char **out, struct buf *err,
		      const struct where *w)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return fail(err, w, key, "required");
		return 0;
	}
	if (!json_is_string(v))
		return fail(err, w, key, "expected a string");
	*out = json_string_value(v);
	return 0;
}

static int name_member(const json_t *o, const char *key, bool required, const char **out, struct buf *err,
		       const struct where *w)
{
	int rc = str_member(o, key, required, out, err, w);
	if (!rc && *out && !name_ok(*out))
		return fail(err, w, key, "\"%s\" is not a name (1 to %d characters, no spaces, '/' or ':')", *out,
			    ONCALL_MAX_NAME);
	return rc;
}

/* A list of names; absent is empty. */
static int names_member(const json_t *o, const char *key, size_t max, const json_t **out, struct buf *err,
			const struct where *w)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return fail(err, w, key, "expected a list of strings");
	if (json_array_size(v) > max)
		return fail(err, w, key, "at most %zu entries", max);
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || !name_ok(json_string_value(e)))
			return fail(err, w, key, "entry %zu is not a name", i + 1);
	}
	*out = v;
	return 0;
}

/* A duration: "10m" or a bare number of seconds; def when absent. */
static int dur_member(const json_t *o, const char *key, int64_t def, int64_t *out, struct buf *err,
		      const struct where *w)
{
	json_t *v = json_object_get(o, key);
	*out = def;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 366 * 86400) {
		*out = json_integer_value(v) * OODA_NS_PER_SEC;
		return 0;
	}
	const char *s = json_string_value(v);
	if (!s || ooda_duration_parse(s, strlen(s), out) || *out > INT64_C(366) * 86400 * OODA_NS_PER_SEC)
		return fail(err, w, key, "expected a duration such as 10m (at most 366d)");
	return 0;
}

/* "09:00" → seconds after midnight. */
static bool parse_hhmm(const char *s, int *out)
{
	if (!s || strlen(s) != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
	    !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return false;
	int h = (s[0] - '0') * 10 + s[1] - '0', m = (s[3] - '0') * 10 + s[4] - '0';
	if (h > 23 || m > 59)
		return false;
	*out = h * 3600 + m * 60;
	return true;
}

/* "2026-01-05" → days since the epoch. */
static bool parse_date(const char *s, int64_t *out)
{
	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return false;
	int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
	if (y < 1970 || y > 2200 || m < 1 || m > 12 || d < 1 || d > 31)
		return false;
	int64_t days = tz_days_from_civil(y, m, d);
	int64_t yy;
	int mm, dd;
	tz_civil_from_days(days, &yy, &mm, &dd);
	if (mm != m || dd != d) /* 2026-02-30 */
		return false;
	*out = days;
	return true;
}

static int build_rotation(const json_t *j, struct oncall_rotation *r, struct buf *err, const struct where *w)
{
	if (!json_is_object(j))
		return fail(err, w, NULL, "expected a mapping");
	const char *type, *handoff, *day, *start;
	const json_t *parts;
	int rc;
	if ((rc = str_member(j, "type", false, &type, err, w)) || (rc = str_member(j, "handoff", false, &handoff, err, w)) ||
	    (rc = str_member(j, "handoff_day", false, &day, err, w)) ||
	    (rc = str_member(j, "start", true, &start, err, w)) ||
	    (rc = names_member(j, "participants", ONCALL_MAX_PARTICIPANTS, &parts, err, w)))
		return rc;
	if (!type || !strcasecmp(type, "weekly"))
		r->type = ONCALL_WEEKLY;
	else if (!strcasecmp(type, "daily"))
		r->type = ONCALL_DAILY;
	else
		return fail(err, w, "type", "\"%s\" is not daily or weekly", type);
	r->handoff_s = 9 * 3600;
	if (handoff && !parse_hhmm(handoff, &r->handoff_s))
		return fail(err, w, "handoff", "\"%s\" is not a local time HH:MM such as 09:00", handoff);
	if (!parse_date(start, &r->start_day))
		return fail(err, w, "start", "\"%s\" is not a date YYYY-MM-DD", start);
	r->handoff_day = tz_weekday(r->start_day);
	if (day) {
		size_t i = 0;
		while (i < 7 && strcasecmp(day, weekdays[i]))
			i++;
		if (i == 7)
			return fail(err, w, "handoff_day", "\"%s\" is not a day of the week (monday … sunday)", day);
		if (r->type == ONCALL_DAILY)
			return fail(err, w, "handoff_day", "only a weekly rotation has a handoff day");
		r->handoff_day = (int)i;
	}
	if (!json_array_size(parts))
		return fail(err, w, "participants", "at least one participant is needed");
	r->participants = strv_dup(parts, &r->n_participants);
	return 0;
}

static int build_schedule(const json_t *j, struct oncall_schedule *s, struct buf *err, const struct where *w)
{
	if (!json_is_object(j))
		return fail(err, w, NULL, "expected a mapping");
	const char *name, *team, *zone;
	int rc;
	if ((rc = name_member(j, "name", true, &name, err, w)) || (rc = name_member(j, "team", false, &team, err, w)) ||
	    (rc = str_member(j, "time_zone", false, &zone, err, w)))
		return rc;
	s->name = xstrdup(name);
	s->team = xstrdup(team);
	s->time_zone = xstrdup(zone ? zone : "UTC");
	struct buf why = BUF_INIT;
	if (tz_load(s->time_zone, &s->tz, &why)) {
		rc = fail(err, w, "time_zone", "%s", why.data);
		buf_release(&why);
		return rc;
	}
	buf_release(&why);
	json_t *rots = json_object_get(j, "rotations");
	if (!json_is_array(rots) || !json_array_size(rots))
		return fail(err, w, "rotations", "a list of at least one rotation is required (the first is the primary)");
	if (json_array_size(rots) > ONCALL_MAX_ROTATIONS)
		return fail(err, w, "rotations", "at most %d rotations (a primary and %d backups)", ONCALL_MAX_ROTATIONS,
			    ONCALL_MAX_BACKUPS);
	s->rotations = xcalloc(json_array_size(rots), sizeof(*s->rotations));
	size_t i;
	json_t *r;
	json_array_foreach(rots, i, r) {
		struct where rw;
		where_item(&rw, w, "rotations", i);
		if ((rc = build_rotation(r, &s->rotations[i], err, &rw)))
			return rc;
		s->n_rotations++;
	}
	return 0;
}

/* "schedule:NAME", "schedule:NAME/backup", "user:NAME", "notify:NAME". */
static int build_target(const char *text, const struct oncall *oc, struct oncall_target *t, struct buf *err,
			const struct where *w)
{
	static const struct {
		const char *prefix;
		enum oncall_target_kind kind;
	} kinds[] = {
		{ "schedule:", ONCALL_TARGET_SCHEDULE },
		{ "user:", ONCALL_TARGET_USER },
		{ "notify:", ONCALL_TARGET_NOTIFY },
	};
	const char *rest = NULL;
	size_t k = 0;
	for (; text && k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t n = strlen(kinds[k].prefix);
		if (!strncmp(text, kinds[k].prefix, n)) {
			rest = text + n;
			break;
		}
	}
	if (!rest)
		return fail(err, w, "targets",
			    "\"%s\" is not a target (schedule:NAME, schedule:NAME/backup, user:NAME or notify:NAME)",
			    text ? text : "");
	t->kind = kinds[k].kind;
	size_t n = strlen(rest);
	if (t->kind == ONCALL_TARGET_SCHEDULE && n > 7 && !strcmp(rest + n - 7, "/backup")) {
		t->kind = ONCALL_TARGET_BACKUP;
		n -= 7;
	}
	t->name = xstrndup(rest, n);
	t->text = xstrdup(text);
	if (!name_ok(t->name))
		return fail(err, w, "targets", "\"%s\": \"%s\" is not a name", text, t->name);
	if ((t->kind == ONCALL_TARGET_SCHEDULE || t->kind == ONCALL_TARGET_BACKUP) && !oncall_schedule_find(oc, t->name))
		return fail(err, w, "targets", "\"%s\": no schedule \"%s\" under oncall.schedules", text, t->name);
	if (t->kind == ONCALL_TARGET_BACKUP && oncall_schedule_find(oc, t->name)->n_rotations < 2)
		return fail(err, w, "targets", "\"%s\": schedule \"%s\" has no backup rotation", text, t->name);
	return 0;
}

static int build_policy(const json_t *j, const struct oncall *oc, struct oncall_policy *p, struct buf *err,
			const struct where *w)
{
	if (!json_is_object(j))
		return fail(err, w, NULL, "expected a mapping");
	const char *name, *team;
	int rc;
	if ((rc = name_member(j, "name", true, &name, err, w)) || (rc = name_member(j, "team", false, &team, err, w)) ||
	    (rc = dur_member(j, "renotify", 0, &p->renotify_ns, err, w)))
		return rc;
	p->name = xstrdup(name);
	p->team = xstrdup(team);
	json_t *rep = json_object_get(j, "repeat");
	if (rep && !json_is_null(rep)) {
		if (!json_is_integer(rep) || json_integer_value(rep) < 0 || json_integer_value(rep) > ONCALL_MAX_REPEAT)
			return fail(err, w, "repeat", "expected an integer from 0 to %d", ONCALL_MAX_REPEAT);
		p->repeat = (int)json_integer_value(rep);
	}
	if (p->renotify_ns && p->renotify_ns < 60 * OODA_NS_PER_SEC)
		return fail(err, w, "renotify", "at least 1m (or 0 for never)");
	json_t *levels = json_object_get(j, "levels");
	if (!json_is_array(levels) || !json_array_size(levels))
		return fail(err, w, "levels", "a list of at least one level is required");
	if (json_array_size(levels) > ONCALL_MAX_LEVELS)
		return fail(err, w, "levels", "at most %d levels", ONCALL_MAX_LEVELS);
	p->levels = xcalloc(json_array_size(levels), sizeof(*p->levels));
	size_t i;
	json_t *l;
	json_array_foreach(levels, i, l) {
		struct where lw;
		where_item(&lw, w, "levels", i);
		struct oncall_level *lv = &p->levels[i];
		p->n_levels++;
		if (!json_is_object(l))
			return fail(err, &lw, NULL, "expected a mapping");
		if ((rc = dur_member(l, "timeout", 30 * 60 * OODA_NS_PER_SEC, &lv->timeout_ns, err, &lw)))
			return rc;
		/* 1s: the resolution of the respond stage's escalation pass (drills, tests); the default is 30m */
		if (lv->timeout_ns < OODA_NS_PER_SEC)
			return fail(err, &lw, "timeout", "at least 1s");
		json_t *ts = json_object_get(l, "targets");
		if (!json_is_array(ts) || !json_array_size(ts))
			return fail(err, &lw, "targets", "a list of at least one target is required");
		if (json_array_size(ts) > ONCALL_MAX_TARGETS)
			return fail(err, &lw, "targets", "at most %d targets", ONCALL_MAX_TARGETS);
		lv->targets = xcalloc(json_array_size(ts), sizeof(*lv->targets));
		size_t k;
		json_t *t;
		json_array_foreach(ts, k, t) {
			lv->n_targets++;
			if ((rc = build_target(json_string_value(t), oc, &lv->targets[k], err, &lw)))
				return rc;
		}
	}
	return 0;
}

static int build_team(const json_t *j, const struct oncall *oc, struct oncall_team *t, struct buf *err,
		      const struct where *w)
{
	if (!json_is_object(j))
		return fail(err, w, NULL, "expected a mapping");
	const char *name, *sched, *pol;
	const json_t *notify;
	int rc;
	if ((rc = name_member(j, "name", true, &name, err, w)) ||
	    (rc = name_member(j, "schedule", false, &sched, err, w)) ||
	    (rc = name_member(j, "escalation_policy", false, &pol, err, w)) ||
	    (rc = names_member(j, "notify", ONCALL_MAX_TARGETS, &notify, err, w)))
		return rc;
	t->name = xstrdup(name);
	t->schedule = xstrdup(sched);
	t->policy = xstrdup(pol);
	t->notify = strv_dup(notify, &t->n_notify);
	if (sched && !oncall_schedule_find(oc, sched))
		return fail(err, w, "schedule", "no schedule \"%s\" under oncall.schedules", sched);
	if (pol && !oncall_policy_find(oc, pol))
		return fail(err, w, "escalation_policy", "no policy \"%s\" under oncall.escalation_policies", pol);
	return 0;
}

/* Each list of the section, built one item at a time (each item may look up the ones before). */
static int build_list(const json_t *root, const char *key, size_t max, size_t item_size, void **items, size_t *n,
		      struct oncall *oc, struct buf *err)
{
	json_t *list = json_object_get(root, key);
	struct where w = { "oncall" };
	if (!list || json_is_null(list))
		return 0;
	if (!json_is_array(list))
		return fail(err, &w, key, "expected a list");
	if (json_array_size(list) > max)
		return fail(err, &w, key, "at most %zu entries", max);
	*items = xcalloc(json_array_size(list) + 1, item_size);
	size_t i;
	json_t *item;
	json_array_foreach(list, i, item) {
		struct where iw;
		where_item(&iw, &w, key, i);
		(*n)++;
		void *slot = (char *)*items + i * item_size;
		int rc = !strcmp(key, "schedules")	     ? build_schedule(item, slot, err, &iw)
			 : !strcmp(key, "escalation_policies") ? build_policy(item, oc, slot, err, &iw)
							       : build_team(item, oc, slot, err, &iw);
		if (rc)
			return rc;
		/* unique names: the new item is the last one counted */
		const char *name = *(char *const *)slot;
		for (size_t k = 0; k + 1 < *n; k++)
			if (!strcmp(*(char *const *)((char *)*items + k * item_size), name))
				return fail(err, &iw, "name", "\"%s\" is declared twice", name);
	}
	return 0;
}

int oncall_create(const char *section_json, struct oncall **out, struct buf *err)
{
	struct oncall *oc = xcalloc(1, sizeof(*oc));
	json_t *root = section_json ? json_loads(section_json, JSON_DECODE_ANY, NULL) : NULL;
	int rc = 0;
	struct where w = { "oncall" };
	if (section_json && !root)
		rc = fail(err, &w, NULL, "not valid JSON");
	else if (root && !json_is_null(root) && !json_is_object(root))
		rc = fail(err, &w, NULL, "expected a mapping of schedules, escalation_policies and teams");
	else if (json_is_object(root)) {
		const char *k;
		json_t *v;
		json_object_foreach(root, k, v) {
			if (strcmp(k, "schedules") && strcmp(k, "escalation_policies") && strcmp(k, "teams")) {
				rc = fail(err, &w, k, "unknown key (expected schedules, escalation_policies or teams)");
				break;
			}
		}
		/* the struct members are the item types' first field, the name */
		if (!rc)
			rc = build_list(root, "schedules", ONCALL_MAX_SCHEDULES, sizeof(struct oncall_schedule),
					(void **)&oc->schedules, &oc->n_schedules, oc, err);
		if (!rc)
			rc = build_list(root, "escalation_policies", ONCALL_MAX_SCHEDULES, sizeof(struct oncall_policy),
					(void **)&oc->policies, &oc->n_policies, oc, err);
		if (!rc)
			rc = build_list(root, "teams", ONCALL_MAX_SCHEDULES, sizeof(struct oncall_team),
					(void **)&oc->teams, &oc->n_teams, oc, err);
	}
	json_decref(root);
	if (rc) {
		oncall_destroy(oc);
		return rc;
	}
	*out = oc;
	return 0;
}

int oncall_config_check(const char *section_json, struct buf *err)
{
	struct oncall *oc = NULL;
	int rc = oncall_create(section_json, &oc, err);
	oncall_destroy(oc);
	return rc;
}

const struct oncall_schedule *oncall_schedule_find(const struct oncall *oc, const char *name)
{
	for (size_t i = 0; oc && name && i < oc->n_schedules; i++)
		if (oc->schedules[i].name && !strcmp(oc->schedules[i].name, name))
			return &oc->schedules[i];
	return NULL;
}

const struct oncall_policy *oncall_policy_find(const struct oncall *oc, const char *name)
{
	for (size_t i = 0; oc && name && i < oc->n_policies; i++)
		if (oc->policies[i].name && !strcmp(oc->policies[i].name, name))
			return &oc->policies[i];
	return NULL;
}

const struct oncall_team *oncall_team_find(const struct oncall *oc, const char *name)
{
	for (size_t i = 0; oc && name && i < oc->n_teams; i++)
		if (oc->teams[i].name && !strcmp(oc->teams[i].name, name))
			return &oc->teams[i];
	return NULL;
}

const struct oncall_policy *oncall_owner_policy(const struct oncall *oc, const char *owner)
{
	const struct oncall_team *t = oncall_team_find(oc, owner);
	return t ? oncall_policy_find(oc, t->policy) : NULL;
}

/* ---- overrides -------------------------------------------------------------- */

void oncall_overrides_release(struct oncall_overrides *ov)
{
	for (size_t i = 0; i < ov->n; i++) {
		struct oncall_override *o = &ov->v[i];
		free(o->id);
		free(o->schedule);
		free(o->user);
		free(o->reason);
		free(o->created_by);
	}
	free(ov->v);
	ov->v = NULL;
	ov->n = 0;
}

void oncall_overrides_add(struct oncall_overrides *ov, const struct oncall_override *o)
{
	ov->v = xreallocarray(ov->v, ov->n + 1, sizeof(*ov->v));
	struct oncall_override *c = &ov->v[ov->n++];
	*c = *o;
	c->id = xstrdup(o->id);
	c->schedule = xstrdup(o->schedule);
	c->user = xstrdup(o->user);
	c->reason = xstrdup(o->reason);
	c->created_by = xstrdup(o->created_by);
}

/* ---- who ------------------------------------------------------------------ */

#define NS OODA_NS_PER_SEC

/*
 * One rotation at unix second t: the participant and the shift's bounds
 * (unix seconds). Before the rotation's first handoff: nobody, and the
 * "shift" runs until that handoff.
 */
static const char *rotation_at(const struct oncall_rotation *r, const struct tz *z, int64_t t, int64_t *start,
			       int64_t *end)
{
	int64_t local = t + tz_offset(z, t);
	int64_t day = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
	int64_t sec = local - day * 86400;
	/* the local day of the shift's handoff */
	int64_t hday = sec >= r->handoff_s ? day : day - 1;
	int64_t first = r->start_day, len = 1;
	if (r->type == ONCALL_WEEKLY) {
		len = 7;
		hday -= (tz_weekday(hday) - r->handoff_day + 7) % 7;
		first += (r->handoff_day - tz_weekday(first) + 7) % 7; /* the first handoff on or after start */
	}
	if (hday < first) {
		*start = INT64_MIN / NS;
		*end = tz_local_to_utc(z, first * 86400 + r->handoff_s);
		return NULL;
	}
	int64_t k = (hday - first) / len;
	*start = tz_local_to_utc(z, hday * 86400 + r->handoff_s);
	*end = tz_local_to_utc(z, (hday + len) * 86400 + r->handoff_s);
	return r->participants[k % (int64_t)r->n_participants];
}

int oncall_who(const struct oncall *oc, const struct oncall_overrides *ov, const char *schedule, int64_t at_ns,
	       struct oncall_shift *out, struct buf *err)
{
	const struct oncall_schedule *s = oncall_schedule_find(oc, schedule);
	if (!s) {
		buf_addf(err, "no on-call schedule \"%s\" in ooda.yaml (oncall.schedules)", schedule ? schedule : "");
		return OODA_ENOTFOUND;
	}
	memset(out, 0, sizeof(*out));
	out->schedule = s->name;
	int64_t t = at_ns >= 0 ? at_ns / NS : -((-at_ns + NS - 1) / NS);
	int64_t lo = INT64_MIN, hi = INT64_MAX;
	for (size_t i = 0; i < s->n_rotations; i++) {
		int64_t a, b;
		const char *who = rotation_at(&s->rotations[i], s->tz, t, &a, &b);
		a = ooda_ns_mul_sat(a, NS);
		b = ooda_ns_mul_sat(b, NS);
		if (a > lo)
			lo = a;
		if (b < hi)
			hi = b;
		if (!i)
			out->primary = out->rotation_primary = who;
		else if (who)
			out->backups[out->n_backups++] = who;
	}
	/* overrides: the one in force created last wins; any other one that begins or ends in the stint bounds it */
	for (size_t i = 0; ov && i < ov->n; i++) {
		const struct oncall_override *o = &ov->v[i];
		if (strcmp(o->schedule, s->name) || o->to_ns <= o->from_ns)
			continue;
		if (o->from_ns <= at_ns && at_ns < o->to_ns) {
			if (!out->override || o->created_ns >= out->override->created_ns)
				out->override = o;
		}
		if (o->from_ns > at_ns && o->from_ns < hi)
			hi = o->from_ns;
		if (o->to_ns > at_ns && o->to_ns < hi)
			hi = o->to_ns;
		if (o->from_ns <= at_ns && o->from_ns > lo)
			lo = o->from_ns;
		if (o->to_ns <= at_ns && o->to_ns > lo)
			lo = o->to_ns;
	}
	if (out->override)
		out->primary = out->override->user;
	out->start_ns = lo;
	out->end_ns = hi;
	return 0;
}

json_t *oncall_shift_json(const struct oncall_shift *s)
{
	json_t *backups = json_array();
	for (size_t i = 0; i < s->n_backups; i++)
		json_array_append_new(backups, json_string(s->backups[i]));
	json_t *ov = json_null();
	if (s->override) {
		const struct oncall_override *o = s->override;
		ov = json_pack("{s:s, s:s, s:s?, s:o, s:o, s:s?, s:s?}", "id", o->id, "user", o->user, "replaces",
			       s->rotation_primary, "from", json_time_or_null(o->from_ns), "to", json_time_or_null(o->to_ns), "reason",
			       o->reason, "created_by", o->created_by);
	}
	return json_pack("{s:s, s:s?, s:o, s:o, s:o, s:o}", "schedule", s->schedule, "primary", s->primary, "backups",
			 backups, "start", json_time_or_null(s->start_ns), "end", json_time_or_null(s->end_ns), "override", ov);
}

int oncall_shifts(const struct oncall *oc, const struct oncall_overrides *ov, const char *schedule, int64_t from_ns,
		  int64_t to_ns, json_t **out, bool *truncated, struct buf *err)
{
	if (to_ns <= from_ns) {
		buf_adds(err, "to must be after from");
		return OODA_EINVAL;
	}
	json_t *list = json_array();
	*truncated = false;
	int64_t t = from_ns;
	while (t < to_ns) {
		if (json_array_size(list) == ONCALL_MAX_SHIFTS) {
			*truncated = true;
			break;
		}
		struct oncall_shift s;
		int rc = oncall_who(oc, ov, schedule, t, &s, err);
		if (rc) {
			json_decref(list);
			return rc;
		}
		if (s.primary)
			json_array_append_new(list, oncall_shift_json(&s));
		if (s.end_ns <= t) /* cannot happen: a stint ends after the instant asked */
			break;
		t = s.end_ns;
	}
	*out = list;
	return 0;
}
