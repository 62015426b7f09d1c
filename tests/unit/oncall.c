/*
 * Unit tests for on-call (src/respond/tz.c, oncall.c, escalation.c): time
 * zone offsets and wall-time handoffs across the daylight-saving changes,
 * daily and weekly rotations with backups, overrides, the shift calendar,
 * config errors that name their key path, and the escalation state machine
 * driven by explicit times. No clock, no sleeps, no store.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/time.h"
#include "respond/escalation.h"
#include "respond/oncall.h"
#include "respond/oncall_book.h"
#include "respond/tz.h"

#define S OODA_NS_PER_SEC
#define MIN (60 * S)

static int64_t at(const char *rfc3339)
{
	int64_t ns = 0;
	assert_int_equal(ooda_time_parse(rfc3339, strlen(rfc3339), &ns), 0);
	return ns;
}

static int64_t at_s(const char *rfc3339)
{
	return at(rfc3339) / S;
}

/* ---- time zones ------------------------------------------------------------- */

static void test_calendar(void **state)
{
	(void)state;
	int64_t d = tz_days_from_civil(2026, 1, 5);
	assert_int_equal(d, at_s("2026-01-05T00:00:00Z") / 86400);
	assert_int_equal(tz_weekday(d), 0); /* a Monday */
	int64_t y;
	int m, dd;
	for (int64_t k = -800; k < 80000; k += 37) {
		tz_civil_from_days(k, &y, &m, &dd);
		assert_int_equal(tz_days_from_civil(y, m, dd), k);
	}
}

static void test_berlin_offsets(void **state)
{
	(void)state;
	struct tz *z = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(tz_load("Europe/Berlin", &z, &err), 0);
	static const struct {
		const char *t;
		int32_t off;
	} cases[] = {
		{ "2026-01-15T12:00:00Z", 3600 },  { "2026-03-29T00:59:59Z", 3600 }, /* the spring change is 01:00Z */
		{ "2026-03-29T01:00:00Z", 7200 },  { "2026-10-25T00:59:59Z", 7200 }, /* the autumn one, too */
		{ "2026-10-25T01:00:00Z", 3600 },  { "2050-07-01T12:00:00Z", 7200 }, /* past the file: its footer rule */
		{ "2050-12-01T12:00:00Z", 3600 },  { "2050-03-27T01:00:00Z", 7200 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(tz_offset(z, at_s(cases[i].t)), cases[i].off);
	/* wall times: a 09:00 handoff either side of the change; the gap and the repeated hour */
	int64_t local = tz_days_from_civil(2026, 3, 28) * 86400 + 9 * 3600;
	assert_int_equal(tz_local_to_utc(z, local), at_s("2026-03-28T08:00:00Z"));
	assert_int_equal(tz_local_to_utc(z, local + 86400), at_s("2026-03-29T07:00:00Z"));
	assert_int_equal(tz_local_to_utc(z, local + 86400 - 9 * 3600 + 2 * 3600 + 1800), at_s("2026-03-29T01:30:00Z"));
	int64_t autumn = tz_days_from_civil(2026, 10, 25) * 86400 + 2 * 3600 + 1800;
	assert_int_equal(tz_local_to_utc(z, autumn), at_s("2026-10-25T00:30:00Z"));
	tz_destroy(z);
	buf_release(&err);
}

/* The southern hemisphere's rule wraps the year (summer time from October to April), footer included. */
static void test_sydney_offsets(void **state)
{
	(void)state;
	struct tz *z = NULL;
	struct buf err = BUF_INIT;
	if (tz_load("Australia/Sydney", &z, &err))
		skip();
	assert_int_equal(tz_offset(z, at_s("2026-01-15T00:00:00Z")), 11 * 3600);
	assert_int_equal(tz_offset(z, at_s("2026-07-15T00:00:00Z")), 10 * 3600);
	assert_int_equal(tz_offset(z, at_s("2050-01-15T00:00:00Z")), 11 * 3600);
	assert_int_equal(tz_offset(z, at_s("2050-07-15T00:00:00Z")), 10 * 3600);
	assert_int_equal(tz_offset(z, at_s("2050-12-31T23:00:00Z")), 11 * 3600);
	tz_destroy(z);
	buf_release(&err);
}

static void test_bad_zones(void **state)
{
	(void)state;
	static const char *const names[] = { "Mars/Olympus", "../etc/passwd", "/etc/passwd", "Europe//Berlin", "",
					     "Europe", "Europe/Berlin/", "a b" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct tz *z = NULL;
		struct buf err = BUF_INIT;
		assert_int_equal(tz_load(names[i], &z, &err), OODA_EINVAL);
		assert_non_null(strstr(err.data, "unknown time zone"));
		buf_release(&err);
	}
}

/* Every truncation and a few corruptions of a real file are refused or read, never over-read. */
static void test_tzif_truncated(void **state)
{
	(void)state;
	FILE *f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
	if (!f)
		skip();
	unsigned char data[8192];
	size_t len = fread(data, 1, sizeof(data), f);
	fclose(f);
	for (size_t n = 0; n < len; n++) {
		unsigned char *copy = xmalloc(n + 1); /* exactly n bytes readable for ASan */
		memcpy(copy, data, n);
		struct tz *z = NULL;
		struct buf err = BUF_INIT;
		if (!tz_parse(copy, n, &z, &err)) {
			(void)tz_offset(z, 1800000000);
			tz_destroy(z);
		}
		buf_release(&err);
		free(copy);
	}
	unsigned char bad[8192];
	memcpy(bad, data, len);
	bad[0] = 'X';
	struct tz *z = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(tz_parse(bad, len, &z, &err), OODA_EPARSE);
	assert_non_null(strstr(err.data, "not a valid TZif file"));
	buf_release(&err);
}

/* ---- rotations ------------------------------------------------------------- */

static const char *const config_json =
	"{\"schedules\":["
	"{\"name\":\"payments\",\"team\":\"payments\",\"time_zone\":\"Europe/Berlin\",\"rotations\":["
	"{\"type\":\"weekly\",\"handoff\":\"09:00\",\"handoff_day\":\"monday\",\"start\":\"2026-01-05\","
	"\"participants\":[\"alice\",\"bob\",\"carol\"]},"
	"{\"type\":\"daily\",\"handoff\":\"09:00\",\"start\":\"2026-01-05\",\"participants\":[\"dave\",\"erin\"]}]},"
	"{\"name\":\"spring\",\"time_zone\":\"Europe/Berlin\",\"rotations\":["
	"{\"type\":\"daily\",\"handoff\":\"09:00\",\"start\":\"2026-03-27\",\"participants\":[\"a\",\"b\"]}]},"
	"{\"name\":\"solo\",\"time_zone\":\"Europe/Berlin\",\"rotations\":["
	"{\"type\":\"weekly\",\"handoff\":\"09:00\",\"handoff_day\":\"monday\",\"start\":\"2026-01-05\","
	"\"participants\":[\"alice\",\"bob\",\"carol\"]}]}],"
	"\"escalation_policies\":["
	"{\"name\":\"pay\",\"repeat\":1,\"renotify\":\"5m\",\"levels\":["
	"{\"targets\":[\"schedule:payments\"],\"timeout\":\"10m\"},"
	"{\"targets\":[\"schedule:payments/backup\",\"notify:payments-chat\"],\"timeout\":\"15m\"}]},"
	"{\"name\":\"plain\",\"repeat\":1,\"levels\":["
	"{\"targets\":[\"user:zoe\"],\"timeout\":\"10m\"},{\"targets\":[\"user:yves\"],\"timeout\":\"15m\"}]}],"
	"\"teams\":[{\"name\":\"payments\",\"schedule\":\"payments\",\"escalation_policy\":\"pay\"}]}";

static struct oncall *load(void)
{
	struct oncall *oc = NULL;
	struct buf err = BUF_INIT;
	int rc = oncall_create(config_json, &oc, &err);
	if (rc)
		fail_msg("%s", err.data);
	buf_release(&err);
	return oc;
}

static void test_weekly_rotation(void **state)
{
	(void)state;
	struct oncall *oc = load();
	static const struct {
		const char *t, *primary, *backup;
	} cases[] = {
		{ "2026-01-05T07:59:59Z", NULL, NULL },	    /* before the first handoff (09:00 CET) */
		{ "2026-01-05T08:00:00Z", "alice", "dave" }, { "2026-01-06T07:59:59Z", "alice", "dave" },
		{ "2026-01-06T08:00:00Z", "alice", "erin" }, { "2026-01-12T07:59:59Z", "alice", "dave" },
		{ "2026-01-12T08:00:00Z", "bob", "erin" },   { "2026-01-19T08:00:00Z", "carol", "dave" },
		{ "2026-01-26T08:00:00Z", "alice", "erin" }, /* round again */
		{ "2026-04-06T07:00:00Z", "bob", "erin" },   /* 09:00 CEST: the handoff follows the wall clock */
		{ "2026-04-06T06:59:59Z", "alice", "dave" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct oncall_shift s;
		struct buf err = BUF_INIT;
		assert_int_equal(oncall_who(oc, NULL, "payments", at(cases[i].t), &s, &err), 0);
		if (!cases[i].primary) {
			assert_null(s.primary);
		} else {
			assert_string_equal(s.primary, cases[i].primary);
			assert_int_equal(s.n_backups, 1);
			assert_string_equal(s.backups[0], cases[i].backup);
		}
		assert_null(s.override);
		buf_release(&err);
	}
	struct oncall_shift s;
	struct buf err = BUF_INIT;
	assert_int_equal(oncall_who(oc, NULL, "nope", 0, &s, &err), OODA_ENOTFOUND);
	buf_release(&err);
	oncall_destroy(oc);
}

/* A daily 09:00 Berlin handoff across the March change: the shift that spans it lasts 23 hours. */
static void test_daily_rotation_dst(void **state)
{
	(void)state;
	struct oncall *oc = load();
	struct oncall_shift s;
	struct buf err = BUF_INIT;
	assert_int_equal(oncall_who(oc, NULL, "spring", at("2026-03-28T07:59:59Z"), &s, &err), 0);
	assert_string_equal(s.primary, "a");
	assert_int_equal(s.start_ns, at("2026-03-27T08:00:00Z"));
	assert_int_equal(oncall_who(oc, NULL, "spring", at("2026-03-28T08:00:00Z"), &s, &err), 0);
	assert_string_equal(s.primary, "b");
	assert_int_equal(s.start_ns, at("2026-03-28T08:00:00Z"));
	assert_int_equal(s.end_ns, at("2026-03-29T07:00:00Z"));
	assert_int_equal(s.end_ns - s.start_ns, 23 * 3600 * S);
	assert_int_equal(oncall_who(oc, NULL, "spring", at("2026-03-29T06:59:59Z"), &s, &err), 0);
	assert_string_equal(s.primary, "b");
	assert_int_equal(oncall_who(oc, NULL, "spring", at("2026-03-29T07:00:00Z"), &s, &err), 0);
	assert_string_equal(s.primary, "a");
	assert_int_equal(s.end_ns, at("2026-03-30T07:00:00Z"));
	buf_release(&err);
	oncall_destroy(oc);
}

static struct oncall_override ov_of(const char *id, const char *user, const char *from, const char *to, int64_t created)
{
	return (struct oncall_override){ .id = (char *)id, .schedule = (char *)"solo", .user = (char *)user,
					 .reason = (char *)"swap", .created_by = (char *)"tester", .from_ns = at(from),
					 .to_ns = at(to), .created_ns = created };
}

static void test_overrides(void **state)
{
	(void)state;
	struct oncall *oc = load();
	struct oncall_overrides ov = { 0 };
	struct oncall_override a = ov_of("ov-1", "carol", "2026-01-06T10:00:00Z", "2026-01-06T18:00:00Z", 1);
	struct oncall_override b = ov_of("ov-2", "zoe", "2026-01-06T12:00:00Z", "2026-01-06T13:00:00Z", 2);
	oncall_overrides_add(&ov, &a);
	oncall_overrides_add(&ov, &b);
	struct oncall_shift s;
	struct buf err = BUF_INIT;
	assert_int_equal(oncall_who(oc, &ov, "solo", at("2026-01-06T11:00:00Z"), &s, &err), 0);
	assert_string_equal(s.primary, "carol");
	assert_string_equal(s.rotation_primary, "alice");
	assert_string_equal(s.override->id, "ov-1");
	assert_int_equal(s.start_ns, at("2026-01-06T10:00:00Z"));
	assert_int_equal(s.end_ns, at("2026-01-06T12:00:00Z")); /* the next override begins */
	assert_int_equal(oncall_who(oc, &ov, "solo", at("2026-01-06T12:30:00Z"), &s, &err), 0);
	assert_string_equal(s.primary, "zoe"); /* created later: wins */
	assert_int_equal(oncall_who(oc, &ov, "solo", at("2026-01-06T18:00:00Z"), &s, &err), 0);
	assert_string_equal(s.primary, "alice");
	assert_null(s.override);
	/* another schedule is untouched */
	assert_int_equal(oncall_who(oc, &ov, "payments", at("2026-01-06T11:00:00Z"), &s, &err), 0);
	assert_string_equal(s.primary, "alice");

	/* the calendar: two weeks, the first split by the overrides */
	json_t *shifts = NULL;
	bool truncated = true;
	assert_int_equal(oncall_shifts(oc, &ov, "solo", at("2026-01-05T08:00:00Z"), at("2026-01-19T08:00:00Z"), &shifts,
				       &truncated, &err),
			 0);
	assert_false(truncated);
	static const char *const want[] = { "alice", "carol", "zoe", "carol", "alice", "bob" };
	assert_int_equal(json_array_size(shifts), sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < json_array_size(shifts); i++)
		assert_string_equal(json_string_value(json_object_get(json_array_get(shifts, i), "primary")), want[i]);
	assert_string_equal(json_string_value(json_object_get(json_array_get(shifts, 5), "start")),
			    "2026-01-12T08:00:00.000Z");
	json_decref(shifts);
	assert_int_equal(oncall_shifts(oc, &ov, "solo", 10, 10, &shifts, &truncated, &err), OODA_EINVAL);
	buf_release(&err);
	oncall_overrides_release(&ov);
	oncall_destroy(oc);
}

/* ---- config errors ----------------------------------------------------------- */

static void test_config_errors(void **state)
{
	(void)state;
	static const struct {
		const char *json, *want;
	} cases[] = {
		{ "{\"schedules\":[{\"name\":\"x\",\"time_zone\":\"Mars/Olympus\",\"rotations\":[{\"start\":\"2026-01-05\","
		  "\"participants\":[\"a\"]}]}]}",
		  "oncall.schedules[0].time_zone: unknown time zone \"Mars/Olympus\"" },
		{ "{\"schedules\":[{\"name\":\"x\",\"rotations\":[{\"start\":\"2026-02-30\",\"participants\":[\"a\"]}]}]}",
		  "oncall.schedules[0].rotations[0].start: \"2026-02-30\" is not a date" },
		{ "{\"schedules\":[{\"name\":\"x\",\"rotations\":[{\"start\":\"2026-01-05\",\"handoff\":\"9am\","
		  "\"participants\":[\"a\"]}]}]}",
		  "oncall.schedules[0].rotations[0].handoff: \"9am\" is not a local time" },
		{ "{\"schedules\":[{\"name\":\"x\",\"rotations\":[{\"type\":\"daily\",\"handoff_day\":\"monday\","
		  "\"start\":\"2026-01-05\",\"participants\":[\"a\"]}]}]}",
		  "rotations[0].handoff_day: only a weekly rotation" },
		{ "{\"schedules\":[{\"name\":\"x\",\"rotations\":[{\"start\":\"2026-01-05\",\"participants\":[]}]}]}",
		  "participants: at least one participant" },
		{ "{\"schedules\":[{\"name\":\"x\",\"rotations\":[{\"start\":\"2026-01-05\",\"participants\":[\"a\"]}]},"
		  "{\"name\":\"x\",\"rotations\":[{\"start\":\"2026-01-05\",\"participants\":[\"a\"]}]}]}",
		  "oncall.schedules[1].name: \"x\" is declared twice" },
		{ "{\"escalation_policies\":[{\"name\":\"p\",\"levels\":[{\"targets\":[\"schedule:none\"]}]}]}",
		  "oncall.escalation_policies[0].levels[0].targets: \"schedule:none\": no schedule \"none\"" },
		{ "{\"escalation_policies\":[{\"name\":\"p\",\"levels\":[{\"targets\":[\"sms:123\"]}]}]}",
		  "\"sms:123\" is not a target" },
		{ "{\"escalation_policies\":[{\"name\":\"p\",\"levels\":[{\"targets\":[\"user:a\"],\"timeout\":\"500ms\"}]}]}",
		  "levels[0].timeout: at least 1s" },
		{ "{\"teams\":[{\"name\":\"t\",\"escalation_policy\":\"gone\"}]}",
		  "oncall.teams[0].escalation_policy: no policy \"gone\"" },
		{ "{\"teams\":[{\"name\":\"t\",\"schedule\":\"gone\"}]}", "oncall.teams[0].schedule: no schedule \"gone\"" },
		{ "{\"rotas\":[]}", "oncall.rotas: unknown key" },
		{ "[1]", "oncall: expected a mapping" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf err = BUF_INIT;
		assert_int_equal(oncall_config_check(cases[i].json, &err), OODA_EINVAL);
		if (!strstr(err.data, cases[i].want))
			fail_msg("case %zu: \"%s\" does not contain \"%s\"", i, err.data, cases[i].want);
		buf_release(&err);
	}
	struct buf err = BUF_INIT;
	assert_int_equal(oncall_config_check(NULL, &err), 0);
	assert_int_equal(oncall_config_check("null", &err), 0);
	assert_int_equal(oncall_config_check(config_json, &err), 0);
	buf_release(&err);
}

/* ---- escalation ------------------------------------------------------------ */

static const struct escalation_page *page(const struct escalation_pages *p, size_t i)
{
	assert_true(i < p->n);
	return &p->v[i];
}

/* Level 1 at open, re-notified every 5m, level 2 when level 1 has not acknowledged within 10m. */
static void test_escalation_levels(void **state)
{
	(void)state;
	struct oncall *oc = load();
	/* the owner team's policy pages for its services */
	const struct oncall_policy *p = oncall_owner_policy(oc, "payments");
	assert_non_null(p);
	assert_string_equal(p->name, "pay");
	assert_null(oncall_owner_policy(oc, "nobody"));
	assert_null(oncall_owner_policy(oc, NULL));
	struct escalation_state st = ESCALATION_STATE_INIT;
	struct escalation_pages out = { 0 };
	int64_t open = at("2026-01-06T10:00:00Z"); /* alice primary, erin backup */

	assert_int_equal(escalation_tick(oc, NULL, p, &st, open, open, false, &out), 1);
	assert_int_equal(page(&out, 0)->level, 1);
	assert_string_equal(page(&out, 0)->to, "user:alice");
	assert_string_equal(page(&out, 0)->via, "schedule:payments");
	assert_string_equal(page(&out, 0)->reason, "open");
	escalation_pages_release(&out);

	assert_int_equal(escalation_tick(oc, NULL, p, &st, open, open + 4 * MIN, false, &out), 0);
	assert_int_equal(escalation_tick(oc, NULL, p, &st, open, open + 5 * MIN, false, &out), 1);
	assert_string_equal(page(&out, 0)->reason, "renotify");
	assert_int_equal(page(&out, 0)->level, 1);
	assert_string_equal(page(&out, 0)->to, "user:alice");
	escalation_pages_release(&out);
	assert_int_equal(escalation_tick(oc, NULL, p, &st, open, open + 9 * MIN, false, &out), 0);

	/* level 1 did not acknowledge within its 10m: level 2 (the backup and the chat) */
	assert_int_equal(escalation_tick(oc, NULL, p, &st, open, open + 10 * MIN, false, &out), 2);
	assert_int_equal(page(&out, 0)->level, 2);
	assert_string_equal(page(&out, 0)->to, "user:erin");
	assert_string_equal(page(&out, 0)->via, "schedule:payments/backup");
	assert_string_equal(page(&out, 1)->to, "notify:payments-chat");
	assert_string_equal(page(&out, 0)->reason, "escalate");
	assert_int_equal(page(&out, 0)->at_ns, open + 10 * MIN);
	escalation_pages_release(&out);
	assert_int_equal(st.level, 1);

	/* acknowledged: nothing more, ever */
	assert_int_equal(escalation_tick(oc, NULL, p, &st, open, open + 12 * MIN, true, &out), 0);
	assert_int_equal(st.phase, ESCALATION_STOPPED);
	assert_int_equal(escalation_tick(oc, NULL, p, &st, open, open + 300 * MIN, false, &out), 0);
	assert_int_equal(out.n, 0);
	oncall_destroy(oc);
}

static void test_escalation_ack_before_timeout(void **state)
{
	(void)state;
	struct oncall *oc = load();
	const struct oncall_policy *p = oncall_policy_find(oc, "plain");
	struct escalation_state st = ESCALATION_STATE_INIT;
	struct escalation_pages out = { 0 };
	assert_int_equal(escalation_tick(oc, NULL, p, &st, 0, 0, false, &out), 1);
	assert_int_equal(escalation_tick(oc, NULL, p, &st, 0, 9 * MIN, true, &out), 0);
	assert_int_equal(escalation_tick(oc, NULL, p, &st, 0, 60 * MIN, false, &out), 0);
	assert_int_equal(out.n, 1);
	assert_string_equal(page(&out, 0)->to, "user:zoe");
	escalation_pages_release(&out);
	oncall_destroy(oc);
}

/* repeat: 1 runs the policy twice, then it is exhausted; a late tick catches up on every deadline, in order. */
static void test_escalation_repeat_bound(void **state)
{
	(void)state;
	struct oncall *oc = load();
	const struct oncall_policy *p = oncall_policy_find(oc, "plain");
	struct escalation_state st = ESCALATION_STATE_INIT;
	struct escalation_pages out = { 0 };
	assert_int_equal(escalation_tick(oc, NULL, p, &st, 0, 1000 * MIN, false, &out), 4);
	static const struct {
		const char *to, *reason;
		int level;
		int64_t at;
	} want[] = {
		{ "user:zoe", "open", 1, 0 },
		{ "user:yves", "escalate", 2, 10 * MIN },
		{ "user:zoe", "repeat", 1, 25 * MIN },
		{ "user:yves", "escalate", 2, 35 * MIN },
	};
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(page(&out, i)->to, want[i].to);
		assert_string_equal(page(&out, i)->reason, want[i].reason);
		assert_int_equal(page(&out, i)->level, want[i].level);
		assert_int_equal(page(&out, i)->at_ns, want[i].at);
	}
	assert_int_equal(st.phase, ESCALATION_EXHAUSTED);
	assert_int_equal(escalation_tick(oc, NULL, p, &st, 0, 2000 * MIN, false, &out), 0);
	assert_int_equal(st.pages, 4);
	escalation_pages_release(&out);

	/* the state survives a round trip through its document */
	json_t *j = escalation_state_json(&st);
	struct escalation_state back;
	assert_int_equal(escalation_state_from_json(j, &back), 0);
	assert_int_equal(back.phase, st.phase);
	assert_int_equal(back.level, st.level);
	assert_int_equal(back.cycle, st.cycle);
	assert_int_equal(back.level_start_ns, st.level_start_ns);
	assert_int_equal(back.last_page_ns, st.last_page_ns);
	assert_int_equal(back.pages, st.pages);
	json_object_set_new(j, "phase", json_string("bogus"));
	assert_int_equal(escalation_state_from_json(j, &back), OODA_EINVAL);
	json_decref(j);
	oncall_destroy(oc);
}

/* A schedule target pages whoever is on call when the page is due, override honoured. */
static void test_escalation_schedule_override(void **state)
{
	(void)state;
	struct oncall *oc = load();
	const struct oncall_policy *p = oncall_policy_find(oc, "pay");
	struct oncall_overrides ov = { 0 };
	struct oncall_override o = ov_of("ov-9", "carol", "2026-01-06T09:00:00Z", "2026-01-06T12:00:00Z", 1);
	o.schedule = (char *)"payments";
	oncall_overrides_add(&ov, &o);
	struct escalation_state st = ESCALATION_STATE_INIT;
	struct escalation_pages out = { 0 };
	int64_t open = at("2026-01-06T10:00:00Z");
	assert_int_equal(escalation_tick(oc, &ov, p, &st, open, open, false, &out), 1);
	assert_string_equal(page(&out, 0)->to, "user:carol");
	escalation_pages_release(&out);
	/* an incident opened after the override ended pages the rotation's primary */
	st = (struct escalation_state)ESCALATION_STATE_INIT;
	assert_int_equal(escalation_tick(oc, &ov, p, &st, open + 180 * MIN, open + 180 * MIN, false, &out), 1);
	assert_string_equal(page(&out, 0)->to, "user:alice");
	escalation_pages_release(&out);
	oncall_overrides_release(&ov);
	oncall_destroy(oc);
}

/* A reload swaps the whole config; a bad one changes nothing; a view taken before stays valid. */
static void test_book_reload(void **state)
{
	(void)state;
	struct oncall_book *b = NULL;
	struct buf err = BUF_INIT, changes = BUF_INIT;
	assert_int_equal(oncall_book_create(NULL, NULL, config_json, &b, &err), 0);
	struct oncall_view old;
	oncall_book_view(b, &old);
	assert_int_equal(old.oc->n_schedules, 3);

	const char *bad = "{\"schedules\":[{\"name\":\"x\",\"time_zone\":\"Mars/Olympus\",\"rotations\":"
			  "[{\"start\":\"2026-01-05\",\"participants\":[\"a\"]}]}]}";
	assert_int_equal(oncall_book_reload(b, bad, false, &changes, &err), OODA_EINVAL);
	assert_int_equal(oncall_book_reload(b, bad, true, &changes, &err), OODA_EINVAL);
	struct oncall_view v;
	oncall_book_view(b, &v);
	assert_int_equal(v.oc->n_schedules, 3);
	oncall_view_release(&v);

	assert_int_equal(oncall_book_reload(b, config_json, true, &changes, &err), 0);
	assert_int_equal(changes.len, 0); /* the same section: nothing to report */
	const char *one = "{\"schedules\":[{\"name\":\"x\",\"rotations\":[{\"start\":\"2026-01-05\","
			  "\"participants\":[\"a\"]}]}]}";
	assert_int_equal(oncall_book_reload(b, one, true, &changes, &err), 0);
	assert_string_equal(changes.data, "1 schedules, 0 escalation policies, 0 teams");
	oncall_book_view(b, &v);
	assert_int_equal(v.oc->n_schedules, 1);
	oncall_view_release(&v);
	/* the view from before the swap still answers from the old config */
	struct oncall_shift s;
	assert_int_equal(oncall_who(old.oc, &old.ov, "payments", at("2026-01-06T10:00:00Z"), &s, &err), 0);
	assert_string_equal(s.primary, "alice");
	oncall_view_release(&old);
	/* without a store, overrides are refused, not lost */
	json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "schedule", "x", "user", "u", "to", "2030-01-01T00:00:00Z",
				"reason", "r");
	json_t *out = NULL;
	assert_int_equal(oncall_override_create(b, req, "tester", NULL, at("2029-01-01T00:00:00Z"), &out, &err),
			 OODA_EUNAVAIL);
	json_decref(req);
	oncall_book_destroy(b);
	buf_release(&err);
	buf_release(&changes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_calendar),
		cmocka_unit_test(test_berlin_offsets),
		cmocka_unit_test(test_sydney_offsets),
		cmocka_unit_test(test_bad_zones),
		cmocka_unit_test(test_tzif_truncated),
		cmocka_unit_test(test_weekly_rotation),
		cmocka_unit_test(test_daily_rotation_dst),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_escalation_levels),
		cmocka_unit_test(test_escalation_ack_before_timeout),
		cmocka_unit_test(test_escalation_repeat_bound),
		cmocka_unit_test(test_escalation_schedule_override),
		cmocka_unit_test(test_book_reload),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
