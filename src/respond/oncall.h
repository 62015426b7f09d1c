/*
 * On-call: who answers a page. The `oncall:` section of ooda.yaml declares
 * schedules (rotation layers in a time zone: the first layer is the
 * primary, the next ones the backups), escalation policies (levels of
 * targets with timeouts) and teams (the owner named by services[].owner,
 * with its schedule and policy). This file turns that section into an
 * immutable struct oncall and answers, as pure functions of it, of a set
 * of overrides and of a time: who is on call (oncall_who), the shifts of a
 * range (oncall_shifts); respond/escalation.h says which pages an
 * unacknowledged incident is due. No clock, no store, no threads:
 * the stage glue (respond/oncall_book.h) keeps the current config and the
 * stored overrides and hands both in.
 */
#ifndef OODA_ONCALL_H
#define OODA_ONCALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"

struct tz;

enum oncall_rotation_type { ONCALL_DAILY, ONCALL_WEEKLY };

struct oncall_rotation {
	enum oncall_rotation_type type;
	int handoff_s;       /* seconds after local midnight */
	int handoff_day;     /* weekly: 0 = Monday … 6 = Sunday */
	int64_t start_day;   /* local date of the first shift, days since 1970-01-01 */
	char **participants; /* in turn order */
	size_t n_participants;
};

struct oncall_schedule {
	char *name, *team, *time_zone;
	struct tz *tz;
	struct oncall_rotation *rotations; /* [0] primary, then backups */
	size_t n_rotations;
};

enum oncall_target_kind {
	ONCALL_TARGET_SCHEDULE, /* schedule:NAME — its primary */
	ONCALL_TARGET_BACKUP,   /* schedule:NAME/backup — its backups */
	ONCALL_TARGET_USER,     /* user:NAME */
	ONCALL_TARGET_NOTIFY,   /* notify:TARGET — a notification target (chat channel, webhook) */
};

struct oncall_target {
	enum oncall_target_kind kind;
	char *name;  /* schedule, user or notify target name */
	char *text;  /* as written: "schedule:payments/backup" */
};

struct oncall_level {
	struct oncall_target *targets;
	size_t n_targets;
	int64_t timeout_ns; /* unacknowledged this long → the next level */
};

struct oncall_policy {
	char *name, *team;
	struct oncall_level *levels;
	size_t n_levels;
	int repeat;          /* times the whole policy starts again after the last level */
	int64_t renotify_ns; /* re-page the same level this often while unacknowledged; 0 = never */
};

struct oncall_team {
	char *name, *schedule, *policy;
	char **notify;
	size_t n_notify;
};

struct oncall {
	struct oncall_schedule *schedules;
	size_t n_schedules;
	struct oncall_policy *policies;
	size_t n_policies;
	struct oncall_team *teams;
	size_t n_teams;
};

/* Bounds of the section (checked by oncall_config_check). */
#define ONCALL_MAX_SCHEDULES 256
#define ONCALL_MAX_ROTATIONS 8
#define ONCALL_MAX_PARTICIPANTS 256
#define ONCALL_MAX_LEVELS 16
#define ONCALL_MAX_TARGETS 32
#define ONCALL_MAX_REPEAT 10
#define ONCALL_MAX_NAME 128

/*
 * Builds the on-call config from the `oncall:` section as JSON (NULL or
 * "null": an empty config). Loads each schedule's time zone. On a problem
 * returns OODA_EINVAL with "oncall.schedules[0].time_zone: message" in err
 * (the config loader turns the path into FILE:LINE:COL) and sets nothing.
 * Caller owns *out (oncall_destroy).
 */
int oncall_create(const char *section_json, struct oncall **out, struct buf *err);
void oncall_destroy(struct oncall *oc);

/* The section check registered with the config schema: oncall_create, then discard. */
int oncall_config_check(const char *section_json, struct buf *err);

const struct oncall_schedule *oncall_schedule_find(const struct oncall *oc, const char *name);
const struct oncall_policy *oncall_policy_find(const struct oncall *oc, const char *name);
/* The team of a service owner (services[].owner); NULL if none. */
const struct oncall_team *oncall_team_find(const struct oncall *oc, const char *name);

/*
 * The escalation policy that pages for a service whose services[].owner is
 * owner: its team's policy. NULL when the owner has no team under
 * oncall.teams or the team names no policy (nothing is paged then).
 */
const struct oncall_policy *oncall_owner_policy(const struct oncall *oc, const char *owner);

/* One override: user takes the primary's place on schedule in [from, to). */
struct oncall_override {
	char *id, *schedule, *user, *reason, *created_by;
	int64_t from_ns, to_ns, created_ns;
};

/* The overrides in force, as the caller keeps them (oncall_book); a later created_ns wins over an earlier one. */
struct oncall_overrides {
	struct oncall_override *v;
	size_t n;
};

void oncall_overrides_release(struct oncall_overrides *ov);
/* Appends a copy of o. */
void oncall_overrides_add(struct oncall_overrides *ov, const struct oncall_override *o);

#define ONCALL_MAX_BACKUPS (ONCALL_MAX_ROTATIONS - 1)

/*
 * Who is on call for one schedule at one instant. Strings point into oc and
 * ov (valid while they are). start/end bound the instant's stint: the
 * largest interval around at during which primary, backups and override do
 * not change, so walking end to end gives the calendar (oncall_shifts).
 */
struct oncall_shift {
	const char *schedule;
	const char *primary;            /* NULL before the rotation starts */
	const char *rotation_primary;   /* who the rotation says, override or not */
	const char *backups[ONCALL_MAX_BACKUPS];
	size_t n_backups;
	int64_t start_ns, end_ns;
	const struct oncall_override *override; /* the override in force, or NULL */
};

/*
 * Fills *out for schedule at at_ns. ov may be NULL. OODA_ENOTFOUND (detail
 * in err) for an unknown schedule.
 */
int oncall_who(const struct oncall *oc, const struct oncall_overrides *ov, const char *schedule, int64_t at_ns,
	       struct oncall_shift *out, struct buf *err);

/* A shift as JSON: {schedule, primary, backups, start, end, override}. Caller owns it. */
json_t *oncall_shift_json(const struct oncall_shift *s);

#define ONCALL_MAX_SHIFTS 1000

/*
 * The shifts of schedule overlapping [from_ns, to_ns), as a JSON array of
 * oncall_shift_json, at most ONCALL_MAX_SHIFTS (*truncated set when more).
 * OODA_ENOTFOUND for an unknown schedule, OODA_EINVAL when to <= from.
 */
int oncall_shifts(const struct oncall *oc, const struct oncall_overrides *ov, const char *schedule, int64_t from_ns,
		  int64_t to_ns, json_t **out, bool *truncated, struct buf *err);

#endif
