/*
 * Unit tests for the actions on what the change stage owns (flag, config,
 * rollback) and the checks that read other stages (SLO triggers, error
 * budget and healthy-service preconditions, error-ratio expect), through
 * the remedy engine on a real control store with hooks that stand in for
 * the change, detect and model stages: a flag set by a run is put back to
 * the version before when expect fails; a config set goes back to the
 * version before the run; a rollback without approval is refused at load
 * unless waived; a policy on an SLO fires only on its page, one on a
 * canary verdict only on that verdict; a precondition
 * that does not hold refuses the run; expect on the error ratio holds once
 * errors stop and fails over the baseline; the new recipes expand to the
 * flag and rollback actions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/time.h"
#include "remedy/policy.h"
#include "remedy/recipe.h"
#include "remedy_fixture.h"

#define MAX_VERSIONS 16

struct fixture {
	struct remedy_fixture x;
	char flag[MAX_VERSIONS + 1][16]; /* the fake flag's state per version, 1-based */
	int flag_n;
	int config_n;                    /* versions of the fake config set */
	int config_current;              /* the version whose content is current */
	char last_actor[128];
	double ratio, baseline, budget;
	double requests;      /* what error_ratio says was served since the steps ran */
	int64_t ratio_since;  /* the since it was asked with */
	int probes_passing, probes_total;
	int rollbacks;
	int64_t changed_at;              /* when the fake flag's current version was written */
	char changed_by[64];             /* and by whom */
};

static int flag_set(void *ctx, const char *env, const char *key, const char *state, const char *variant,
		    const char *actor, const char *rationale, int64_t *before, int64_t *after, struct buf *err)
{
	struct fixture *f = ctx;
	assert_string_equal(env, "prod");
	if (strcmp(key, "new-pricing")) {
		buf_adds(err, "no such flag");
		return OODA_ENOTFOUND;
	}
	*before = f->flag_n;
	f->flag_n++;
	snprintf(f->flag[f->flag_n], sizeof(f->flag[0]), "%s", state ? state : variant);
	*after = f->flag_n;
	snprintf(f->last_actor, sizeof(f->last_actor), "%s", actor);
	return 0;
}

static int flag_restore(void *ctx, const char *env, const char *key, int64_t to, const char *actor,
			const char *rationale, int64_t *before, int64_t *after, struct buf *err)
{
	struct fixture *f = ctx;
	*before = f->flag_n;
	if (!to)
		to = f->flag_n - 1;
	assert_true(to >= 1 && to <= f->flag_n);
	f->flag_n++;
	memcpy(f->flag[f->flag_n], f->flag[to], sizeof(f->flag[0]));
	*after = f->flag_n;
	snprintf(f->last_actor, sizeof(f->last_actor), "%s", actor);
	return 0;
}

static int flag_changed(void *ctx, const char *env, const char *key, int64_t *version, int64_t *at_ns, char *author,
			size_t author_size)
{
	struct fixture *f = ctx;
	*version = f->flag_n;
	*at_ns = f->changed_at;
	snprintf(author, author_size, "%s", f->changed_by);
	return 0;
}

static int config_restore(void *ctx, const char *service, const char *env, int64_t to, const char *actor,
			  const char *rationale, int64_t *before, int64_t *after, struct buf *err)
{
	struct fixture *f = ctx;
	*before = f->config_n;
	if (!to)
		to = f->config_n - 1;
	f->config_n++;
	f->config_current = (int)to;
	*after = f->config_n;
	return 0;
}

static int rollback_last(void *ctx, const char *service, const char *env, bool approved, const char *actor,
			 const char *rationale, int64_t timeout_ns, struct buf *out, struct buf *err)
{
	struct fixture *f = ctx;
	f->rollbacks++;
	buf_adds(out, "{\"deploy\":\"d1\",\"run\":\"rb1\",\"status\":\"done\"}");
	return 0;
}

static int error_ratio(void *ctx, const char *service, int64_t window_ns, int64_t since_ns, int64_t base_end_ns,
		       double *ratio, double *requests, double *baseline)
{
	struct fixture *f = ctx;
	f->ratio_since = since_ns;
	*ratio = f->ratio;
	*requests = f->requests;
	*baseline = f->baseline;
	return 0;
}

static int slo_budget(void *ctx, const char *slo, double *remaining)
{
	*remaining = ((struct fixture *)ctx)->budget;
	return strcmp(slo, "checkout-availability") ? OODA_ENOTFOUND : 0;
}

static int service_probes(void *ctx, const char *service, int *passing, int *total)
{
	struct fixture *f = ctx;
	*passing = f->probes_passing;
	*total = f->probes_total;
	return 0;
}

static int notify_hook(void *ctx, const char *target, const char *event, const char *text, const char *incident,
		       const char *dedupe, struct buf *err)
{
	return 1;
}

static int approval_hook(void *ctx, const char *run, const char *requester, const char *rationale, int64_t ttl_ns,
			 char id[48], struct buf *err)
{
	snprintf(id, 48, "ap-1");
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	remedy_fixture_open(&f->x, "/tmp/ooda-ract");
	f->flag_n = 3; /* the flag stands at v3, ENABLED */
	for (int i = 1; i <= 3; i++)
		snprintf(f->flag[i], sizeof(f->flag[0]), "ENABLED");
	f->config_n = f->config_current = 5;
	f->ratio = f->baseline = NAN;
	f->requests = 1000;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	remedy_fixture_close(&f->x);
	free(f);
	return 0;
}

static void engine_start(struct fixture *f, const char *policy_json)
{
	struct remedy_hooks h = { .ctx = f, .notify = notify_hook, .flag_set = flag_set, .flag_restore = flag_restore,
				  .flag_changed = flag_changed, .config_restore = config_restore,
				  .rollback_last = rollback_last, .error_ratio = error_ratio, .slo_budget = slo_budget,
				  .service_probes = service_probes, .approval_request = approval_hook };
	char text[4096];
	snprintf(text, sizeof(text), "[%s]", policy_json);
	remedy_fixture_start(&f->x, &h, text, NULL);
}

static void fire(struct fixture *f, const char *alert, const char *severity, int64_t at)
{
	struct remedy_trigger t = { .kind = "alert", .ref = "fp1", .name = alert, .service = "checkout",
				    .severity = severity, .at_ns = at };
	remedy_trigger(f->x.r, &t);
	remedy_wait_idle(f->x.r);
}

/* The only run (of policy, NULL: of any), which must be in status. */
static json_t *only_run_of(struct fixture *f, const char *policy, const char *status)
{
	struct remedy_run_filter flt = { .policy = policy };
	json_t *list = remedy_fixture_runs(&f->x, &flt);
	assert_int_equal(json_array_size(list), 1);
	const char *id = json_string_value(json_object_get(json_array_get(list, 0), "id"));
	struct buf out = BUF_INIT, err = BUF_INIT;
	assert_int_equal(remedy_run_json(f->x.r, id, &out, &err), 0);
	json_t *full = json_loads(out.data, 0, NULL);
	json_array_append_new(f->x.held, full);
	buf_release(&out);
	buf_release(&err);
	if (strcmp(json_string_value(json_object_get(full, "status")), status))
		fprintf(stderr, "run: %s\n", json_dumps(full, JSON_INDENT(1)));
	assert_string_equal(json_string_value(json_object_get(full, "status")), status);
	return full;
}

static json_t *only_run(struct fixture *f, const char *status)
{
	return only_run_of(f, NULL, status);
}

static int runs_count(struct fixture *f)
{
	struct remedy_run_filter flt = { 0 };
	return (int)json_array_size(remedy_fixture_runs(&f->x, &flt));
}

#define WHEN_ALERT "\"name\":\"fix\",\"when\":{\"alert\":\"CheckoutErrors\"}"

static void test_flag_undo_restores_version_before(void **state)
{
	struct fixture *f = *state;
	f->ratio = 0.5; /* errors go on: expect fails, the run undoes */
	engine_start(f, "{" WHEN_ALERT ",\"do\":[{\"flag\":{\"env\":\"prod\",\"key\":\"new-pricing\",\"state\":\"DISABLED\"}}],"
			"\"expect\":{\"error_ratio\":{\"service\":\"checkout\",\"below\":0.05},\"timeout\":\"50ms\"}}");
	fire(f, "CheckoutErrors", "page", 1000);
	json_t *run = only_run(f, "undone");
	/* v4 was the run's DISABLED, v5 puts v3 (ENABLED) back */
	assert_int_equal(f->flag_n, 5);
	assert_string_equal(f->flag[4], "DISABLED");
	assert_string_equal(f->flag[5], "ENABLED");
	assert_string_equal(f->last_actor, "policy:fix@v1");
	json_t *step = json_array_get(json_object_get(run, "steps"), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(step, "undo_state"), "before")), 3);
	const char *ud = json_string_value(json_object_get(json_object_get(step, "undo"), "describe"));
	assert_non_null(strstr(ud, "restore: flag prod/new-pricing"));
	assert_non_null(strstr(json_string_value(json_object_get(run, "verification")), "error ratio of checkout 50.00% >= 5.00%"));
}

static void test_flag_kept_when_expect_holds(void **state)
{
	struct fixture *f = *state;
	f->ratio = 0.01;
	engine_start(f, "{" WHEN_ALERT ",\"do\":[{\"flag\":{\"env\":\"prod\",\"key\":\"new-pricing\",\"state\":\"DISABLED\"}}],"
			"\"expect\":{\"error_ratio\":{\"service\":\"checkout\",\"below\":0.05},\"timeout\":\"5s\"}}");
	fire(f, "CheckoutErrors", "page", 1000);
	json_t *run = only_run(f, "succeeded");
	assert_int_equal(f->flag_n, 4);
	assert_string_equal(f->flag[4], "DISABLED");
	/* the ratio was asked for what was served since the steps ran, not before */
	assert_int_equal(f->ratio_since, json_integer_value(json_object_get(run, "verify_started_unix_nano")));
	assert_true(f->ratio_since > 0);
}

/* Too few requests since the steps ran to tell 5 % from 0 %: expect does not hold, whatever the ratio. */
static void test_error_ratio_needs_requests(void **state)
{
	struct fixture *f = *state;
	f->ratio = 0.0;
	f->requests = 19; /* below 0.05 needs 20 */
	engine_start(f, "{" WHEN_ALERT ",\"do\":[{\"flag\":{\"env\":\"prod\",\"key\":\"new-pricing\",\"state\":\"DISABLED\"}}],"
			"\"expect\":{\"error_ratio\":{\"service\":\"checkout\",\"below\":0.05},\"timeout\":\"50ms\"}}");
	fire(f, "CheckoutErrors", "page", 1000);
	json_t *run = only_run(f, "undone");
	assert_non_null(strstr(json_string_value(json_object_get(run, "verification")),
			       "error ratio of checkout unknown (19 requests since the steps ran, 20 needed)"));
}

static void test_config_undo_restores(void **state)
{
	struct fixture *f = *state;
	f->ratio = 0.5;
	f->baseline = 0.01;
	engine_start(f, "{" WHEN_ALERT ",\"do\":[{\"config\":{\"service\":\"checkout\",\"env\":\"prod\"}}],"
			"\"expect\":{\"error_ratio\":{\"service\":\"checkout\",\"baseline\":true},\"timeout\":\"50ms\"}}");
	fire(f, "CheckoutErrors", "page", 1000);
	json_t *run = only_run(f, "undone");
	/* the run put v4 back (as v6); the undo put v5 back (as v7) */
	assert_int_equal(f->config_n, 7);
	assert_int_equal(f->config_current, 5);
	assert_non_null(strstr(json_string_value(json_object_get(run, "verification")), "> baseline 1.00%"));
}

static void test_rollback_needs_approval_or_waiver(void **state)
{
	(void)state;
	const char *base = "{\"name\":\"rb\",\"when\":{\"alert\":\"X\"},\"do\":[{\"rollback\":{\"service\":\"checkout\"}}]%s}";
	struct {
		const char *extra;
		bool ok;
	} cases[] = {
		{ "", false },
		{ ",\"mode\":\"approve\"", true },
		{ ",\"mode\":\"dry-run\"", true },
		{ ",\"irreversible_ok\":true,\"rationale\":\"the plan is reviewed\"", true },
		{ ",\"do\":[]", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024];
		snprintf(text, sizeof(text), base, cases[i].extra);
		json_t *doc = json_loads(text, 0, NULL);
		assert_non_null(doc);
		struct remedy_policy p;
		struct buf err = BUF_INIT;
		int rc = policy_load(doc, NULL, "policies[0]", &p, &err);
		if (cases[i].ok != !rc)
			fprintf(stderr, "case %zu: %s\n", i, err.data ? err.data : "");
		assert_int_equal(!rc, cases[i].ok);
		if (i == 0)
			assert_non_null(strstr(err.data, "policies[0].do[0]: rollback cannot be undone"));
		policy_release(&p);
		buf_release(&err);
		json_decref(doc);
	}
}

static void test_bad_params_named(void **state)
{
	(void)state;
	struct {
		const char *step, *want;
	} cases[] = {
		{ "{\"flag\":{\"env\":\"prod\",\"key\":\"a\"}}", "do[0].flag: either state" },
		{ "{\"flag\":{\"env\":\"prod\",\"key\":\"a\",\"state\":\"OFF\"}}", "do[0].flag.state: ENABLED or DISABLED" },
		{ "{\"flag\":{\"env\":\"prod\",\"key\":\"a b\",\"state\":\"DISABLED\"}}", "do[0].flag.key" },
		{ "{\"flag\":{\"env\":\"prod\",\"key\":\"a\",\"to\":0}}", "do[0].flag.to" },
		{ "{\"flag\":{\"key\":\"a\",\"to\":2}}", "do[0].flag.env: required" },
		{ "{\"config\":{\"service\":\"a\",\"env\":\"prod\",\"to\":\"latest\"}}", "do[0].config.to" },
		{ "{\"rollback\":{\"service\":\"a\",\"timeout\":\"2h\"}}", "do[0].rollback.timeout" },
		{ "{\"rollback\":{\"service\":\"a\",\"force\":true}}", "do[0].rollback.force: unknown key" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024];
		snprintf(text, sizeof(text), "{\"name\":\"p\",\"when\":{\"alert\":\"X\"},\"mode\":\"approve\",\"do\":[%s]}",
			 cases[i].step);
		json_t *doc = json_loads(text, 0, NULL);
		assert_non_null(doc);
		struct remedy_policy p;
		struct buf err = BUF_INIT;
		assert_int_equal(policy_load(doc, NULL, "policies[0]", &p, &err), OODA_EINVAL);
		if (!strstr(err.data, cases[i].want))
			fprintf(stderr, "case %zu: %s\n", i, err.data);
		assert_non_null(strstr(err.data, cases[i].want));
		buf_release(&err);
		json_decref(doc);
	}
}

static void test_rollback_runs_when_approved_policy_waived(void **state)
{
	struct fixture *f = *state;
	engine_start(f, "{" WHEN_ALERT ",\"do\":[{\"rollback\":{\"service\":\"checkout\",\"env\":\"prod\"}}],"
			"\"irreversible_ok\":true,\"rationale\":\"reviewed plan\"}");
	fire(f, "CheckoutErrors", "page", 1000);
	json_t *run = only_run(f, "succeeded");
	assert_int_equal(f->rollbacks, 1);
	json_t *step = json_array_get(json_object_get(run, "steps"), 0);
	assert_non_null(strstr(json_string_value(json_object_get(step, "output")), "\"run\":\"rb1\""));
	assert_false(json_is_true(json_object_get(step, "undoable")));
}

static void test_slo_trigger_pages_only(void **state)
{
	struct fixture *f = *state;
	engine_start(f, "{\"name\":\"burn\",\"when\":{\"slo\":\"checkout-availability\"},\"mode\":\"dry-run\","
			"\"do\":[{\"recipe\":{\"name\":\"disable-flag\",\"variant\":\"ooda\",\"params\":{\"flag\":\"new-pricing\",\"env\":\"prod\"}}}]}");
	fire(f, "slo:checkout-availability", "ticket", 1000); /* the slow burn */
	fire(f, "slo:other", "page", 2000);
	assert_int_equal(runs_count(f), 0);
	fire(f, "slo:checkout-availability", "page", 3000);
	json_t *run = only_run(f, "dry-run");
	const char *d = json_string_value(json_object_get(json_array_get(json_object_get(run, "steps"), 0), "describe"));
	assert_string_equal(d, "flag prod/new-pricing state=DISABLED");
	assert_int_equal(f->flag_n, 3); /* nothing acted */
}

static void canary(struct fixture *f, const char *kind, const char *id, int64_t at)
{
	struct remedy_trigger t = { .kind = "canary", .ref = id, .name = kind, .service = "checkout", .at_ns = at };
	remedy_trigger(f->x.r, &t);
	remedy_wait_idle(f->x.r);
}

static void test_canary_trigger(void **state)
{
	struct fixture *f = *state;
	engine_start(f, "{\"name\":\"verdict\",\"when\":{\"canary\":\"deploy-verify\",\"service\":\"checkout\"},\"mode\":\"approve\","
			"\"do\":[{\"rollback\":{\"service\":\"checkout\"}}]}");
	canary(f, "rollout-abort", "ro-1", 1000);
	fire(f, "CheckoutErrors", "page", 2000);
	assert_int_equal(runs_count(f), 0);
	canary(f, "deploy-verify", "d-7", 3000);
	json_t *run = only_run(f, "awaiting-approval");
	assert_non_null(strstr(json_string_value(json_object_get(run, "rationale")), "canary verdict deploy-verify of d-7"));
	assert_int_equal(f->rollbacks, 0); /* waits for a person */
}

static void test_preconditions_refuse(void **state)
{
	struct fixture *f = *state;
	engine_start(f, "{" WHEN_ALERT ",\"do\":[{\"flag\":{\"env\":\"prod\",\"key\":\"new-pricing\",\"state\":\"DISABLED\"}}],"
			"\"precondition\":[{\"error_budget\":{\"slo\":\"checkout-availability\",\"below\":0.5}},"
			"{\"services_healthy\":[\"payments\"]}],\"guardrails\":{\"cooldown\":\"0s\"}}");
	f->budget = 0.8; /* plenty of budget left: no need to act */
	f->probes_passing = f->probes_total = 2;
	fire(f, "CheckoutErrors", "page", 1000);
	json_t *run = only_run(f, "refused");
	assert_non_null(strstr(json_string_value(json_object_get(run, "reason")),
			       "precondition error_budget checkout-availability 80% < 50% failed"));
	assert_int_equal(f->flag_n, 3);
}

static void test_preconditions_pass(void **state)
{
	struct fixture *f = *state;
	engine_start(f, "{" WHEN_ALERT ",\"do\":[{\"flag\":{\"env\":\"prod\",\"key\":\"new-pricing\",\"state\":\"DISABLED\"}}],"
			"\"precondition\":[{\"error_budget\":{\"slo\":\"checkout-availability\",\"below\":0.5}},"
			"{\"services_healthy\":[\"payments\"]}]}");
	f->budget = 0.2;
	f->probes_passing = 1;
	f->probes_total = 2; /* one replica down: refused */
	fire(f, "CheckoutErrors", "page", 1000);
	json_t *run = only_run(f, "refused");
	assert_non_null(strstr(json_string_value(json_object_get(run, "reason")), "services_healthy payments=1/2 failed"));
	remedy_destroy(f->x.r);
	f->x.r = NULL;
	f->probes_passing = 2;
	engine_start(f, "{\"name\":\"fix2\",\"when\":{\"alert\":\"CheckoutErrors\"},\"do\":[{\"flag\":{\"env\":\"prod\",\"key\":\"new-pricing\",\"state\":\"DISABLED\"}}],"
			"\"precondition\":[{\"error_budget\":{\"slo\":\"checkout-availability\",\"below\":0.5}},"
			"{\"services_healthy\":[\"payments\"]}]}");
	fire(f, "CheckoutErrors", "page", 2000);
	assert_int_equal(f->flag_n, 4);
}

/*
 * {flag_changed} before {flag: {to: previous}}: the flag change that came
 * just before the trigger is taken back; a creation, an old change or a
 * policy's own write is left alone (refused, nothing written).
 */
static void test_flag_changed_reverts_recent_change(void **state)
{
	struct fixture *f = *state;
	static const struct {
		int versions;
		int64_t ago_s;         /* the current version written this long before the trigger */
		const char *by, *within;
		const char *status, *reason; /* reason: a substring of the refusal */
	} cases[] = {
		{ 3, 5, "token:alice", NULL, "succeeded", NULL },
		{ 3, 50, "token:alice", "1m", "succeeded", NULL },
		{ 3, 20 * 60, "token:alice", NULL, "refused",
		  "precondition flag_changed prod/new-pricing v3 (by token:alice, 1200.0 s before the trigger) failed" },
		{ 3, 90, "token:alice", "1m", "refused", "(by token:alice, 90.0 s before the trigger) failed" },
		{ 3, 5, "policy:fix@v1", NULL, "refused",
		  "precondition flag_changed prod/new-pricing v3 (written by policy:fix@v1) failed" },
		{ 1, 5, "token:alice", NULL, "refused", "flag_changed prod/new-pricing v1 (created, never changed) failed" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		remedy_destroy(f->x.r);
		f->x.r = NULL;
		f->flag_n = cases[i].versions;
		snprintf(f->flag[1], sizeof(f->flag[0]), "ENABLED");
		snprintf(f->flag[2], sizeof(f->flag[0]), "DISABLED");
		snprintf(f->flag[3], sizeof(f->flag[0]), "ENABLED");
		snprintf(f->changed_by, sizeof(f->changed_by), "%s", cases[i].by);
		int64_t now = ooda_now_ns();
		f->changed_at = now - cases[i].ago_s * OODA_NS_PER_SEC;
		f->ratio = 0.01;
		char policy[1024], name[16];
		snprintf(name, sizeof(name), "fix%zu", i);
		snprintf(policy, sizeof(policy),
			 "{\"name\":\"%s\",\"when\":{\"alert\":\"CheckoutErrors\"},"
			 "\"precondition\":[{\"flag_changed\":{\"env\":\"prod\",\"key\":\"new-pricing\"%s%s%s}}],"
			 "\"do\":[{\"flag\":{\"env\":\"prod\",\"key\":\"new-pricing\",\"to\":\"previous\"}}],"
			 "\"expect\":{\"error_ratio\":{\"service\":\"checkout\",\"below\":0.05},\"timeout\":\"5s\"}}",
			 name, cases[i].within ? ",\"within\":\"" : "", cases[i].within ? cases[i].within : "",
			 cases[i].within ? "\"" : "");
		engine_start(f, policy);
		fire(f, "CheckoutErrors", "page", now);
		json_t *run = only_run_of(f, name, cases[i].status);
		if (cases[i].reason) {
			const char *reason = json_string_value(json_object_get(run, "reason"));
			if (!strstr(reason ? reason : "", cases[i].reason))
				fail_msg("case %zu: reason \"%s\", want \"%s\"", i, reason ? reason : "", cases[i].reason);
			assert_int_equal(f->flag_n, cases[i].versions); /* nothing written */
		} else {
			assert_int_equal(f->flag_n, cases[i].versions + 1);
			assert_string_equal(f->flag[f->flag_n], "DISABLED"); /* v2's content, as before the change */
			assert_non_null(strstr(json_string_value(json_object_get(run, "rationale")),
					       "precondition flag_changed prod/new-pricing v3 (by token:alice"));
		}
	}
}

static void test_recipes_expand(void **state)
{
	(void)state;
	struct {
		const char *ref, *want;
	} cases[] = {
		{ "{\"name\":\"disable-flag\",\"variant\":\"ooda\",\"params\":{\"flag\":\"new-pricing\",\"env\":\"prod\"}}",
		  "[{\"flag\":{\"env\":\"prod\",\"key\":\"new-pricing\",\"state\":\"DISABLED\"}}]" },
		{ "{\"name\":\"open-circuit\",\"variant\":\"ooda\",\"params\":{\"service\":\"checkout\",\"env\":\"prod\"}}",
		  "[{\"flag\":{\"env\":\"prod\",\"key\":\"checkout.circuit_open\",\"variant\":\"on\"}}]" },
		{ "{\"name\":\"rollback-last-deploy\",\"variant\":\"ooda\",\"params\":{\"service\":\"checkout\"}}",
		  "[{\"rollback\":{\"service\":\"checkout\"}}]" },
		{ "{\"name\":\"rollback-last-deploy\",\"variant\":\"ooda\",\"params\":{\"service\":\"checkout\",\"env\":\"prod\"}}",
		  "[{\"rollback\":{\"service\":\"checkout\",\"env\":\"prod\"}}]" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *ref = json_loads(cases[i].ref, 0, NULL), *out = NULL, *want = json_loads(cases[i].want, 0, NULL);
		struct buf err = BUF_INIT;
		assert_int_equal(recipe_expand(ref, "do[0].recipe", &out, &err), 0);
		if (!json_equal(out, want))
			fprintf(stderr, "case %zu: %s\n", i, json_dumps(out, JSON_COMPACT));
		assert_true(json_equal(out, want));
		json_decref(ref);
		json_decref(out);
		json_decref(want);
		buf_release(&err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flag_undo_restores_version_before, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flag_kept_when_expect_holds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_ratio_needs_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_undo_restores, setup, teardown),
		cmocka_unit_test(test_rollback_needs_approval_or_waiver),
		cmocka_unit_test(test_bad_params_named),
		cmocka_unit_test_setup_teardown(test_rollback_runs_when_approved_policy_waived, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slo_trigger_pages_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_canary_trigger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preconditions_refuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preconditions_pass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flag_changed_reverts_recent_change, setup, teardown),
		cmocka_unit_test(test_recipes_expand),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
