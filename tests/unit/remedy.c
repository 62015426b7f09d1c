/*
 * Unit tests for the remedy stage's pure parts: the run state machine
 * allows exactly the drawn moves; the policy loader refuses an exec given
 * one string, an http host off the allow-list, an unknown key and an
 * irreversible step in an auto policy, naming the field, and fills the
 * guardrail defaults; the exec action captures output, reports the exit
 * status and kills a hanging program's whole process group at its timeout;
 * the http action never keeps a secret header's value; recipes expand
 * into the exact argv or URL per variant and refuse a param that would
 * smuggle an option, and a policy referencing a recipe is checked as its
 * expansion.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/time.h"
#include "remedy/action.h"
#include "remedy/policy.h"
#include "remedy/recipe.h"
#include "remedy/run.h"

/* ---- the state machine ---- */

static void test_run_moves(void **state)
{
	(void)state;
	static const struct {
		enum run_state from;
		enum run_event ev;
		int to;
	} cases[] = {
		{ RUN_PENDING, EV_START, RUN_RUNNING },
		{ RUN_PENDING, EV_NEEDS_APPROVAL, RUN_AWAITING_APPROVAL },
		{ RUN_PENDING, EV_REFUSE, RUN_REFUSED },
		{ RUN_PENDING, EV_DRY_RUN, RUN_DRY_RUN },
		{ RUN_AWAITING_APPROVAL, EV_START, RUN_RUNNING },
		{ RUN_AWAITING_APPROVAL, EV_REJECT, RUN_REJECTED },
		{ RUN_RUNNING, EV_STEPS_DONE, RUN_VERIFYING },
		{ RUN_RUNNING, EV_STEP_FAILED, RUN_FAILED },
		{ RUN_VERIFYING, EV_VERIFIED, RUN_SUCCEEDED },
		{ RUN_VERIFYING, EV_EXPECT_FAILED, RUN_FAILED },
		{ RUN_FAILED, EV_UNDO, RUN_UNDOING },
		{ RUN_UNDOING, EV_UNDO_DONE, RUN_UNDONE },
		/* forbidden: acting without approval, undoing a success, leaving a terminal state */
		{ RUN_AWAITING_APPROVAL, EV_STEPS_DONE, -1 },
		{ RUN_PENDING, EV_REJECT, -1 },
		{ RUN_SUCCEEDED, EV_UNDO, -1 },
		{ RUN_REFUSED, EV_START, -1 },
		{ RUN_UNDONE, EV_UNDO, -1 },
		{ RUN_RUNNING, EV_CANCEL, -1 },
		{ RUN_VERIFYING, EV_STEP_FAILED, -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = run_transition(cases[i].from, cases[i].ev);
		if (got != cases[i].to)
			fail_msg("%s --%s--> %s, want %s", run_state_name(cases[i].from), run_event_name(cases[i].ev),
				 got < 0 ? "forbidden" : run_state_name(got), cases[i].to < 0 ? "forbidden" : run_state_name(cases[i].to));
	}
	/* no state but the drawn ones has a way out; every terminal state has none */
	for (int s = 0; s < RUN_N_STATES; s++) {
		assert_int_equal(run_state_parse(run_state_name(s)), s);
		bool out = false;
		for (int e = 0; e < RUN_N_EVENTS; e++)
			out |= run_transition(s, e) >= 0;
		if (run_state_terminal(s) && s != RUN_FAILED)
			assert_false(out);
	}
	assert_int_equal(run_state_parse("nonsense"), -1);
	assert_true(run_state_active(RUN_VERIFYING));
	assert_false(run_state_active(RUN_AWAITING_APPROVAL));
}

/* ---- the policy loader ---- */

static int load(const char *text, struct remedy_policy *p, struct buf *err)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j)
		fail_msg("bad test JSON: %s: %s", je.text, text);
	json_t *hosts = json_pack("[s]", "127.0.0.1");
	int rc = policy_load(j, hosts, "policies[0]", p, err);
	json_decref(hosts);
	json_decref(j);
	return rc;
}

static void test_policy_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *doc;
		const char *err; /* a substring of the message, which names the field */
	} cases[] = {
		{ "{\"name\":\"a\",\"when\":{\"alert\":\"A\"},\"do\":[{\"exec\":\"sleep 1; rm -rf /\"}]}",
		  "policies[0].do[0].exec.argv: must be a list of strings" },
		{ "{\"name\":\"a\",\"when\":{\"alert\":\"A\"},\"mode\":\"approve\",\"do\":[{\"exec\":{\"argv\":\"echo hi\"}}]}",
		  "policies[0].do[0].exec.argv: must be a list of strings" },
		{ "{\"name\":\"a\",\"when\":{\"alert\":\"A\"},\"mode\":\"approve\",\"do\":[{\"http\":{\"url\":\"http://evil.example/x\"}}]}",
		  "policies[0].do[0].http.url: host \"evil.example\" is not on remedy.http_allow_hosts" },
		{ "{\"name\":\"a\",\"when\":{\"alert\":\"A\"},\"do\":[{\"exec\":{\"argv\":[\"true\"]}}]}",
		  "policies[0].do[0]: exec cannot be undone" },
		{ "{\"name\":\"a\",\"when\":{\"alert\":\"A\"},\"irreversible_ok\":true,\"do\":[{\"exec\":{\"argv\":[\"true\"]}}]}",
		  "policies[0].rationale" },
		{ "{\"name\":\"a\",\"when\":{\"alert\":\"A\"},\"colour\":1,\"do\":[{\"wait\":\"1s\"}]}", "policies[0].colour: unknown key" },
		{ "{\"name\":\"a\",\"when\":{},\"do\":[{\"wait\":\"1s\"}]}", "policies[0].when: names an alert" },
		{ "{\"name\":\"a\",\"when\":{\"alert\":\"A\"},\"do\":[{\"wait\":\"1s\",\"exec\":{\"argv\":[\"x\"]}}]}",
		  "policies[0].do[0]: exactly one action key" },
		{ "{\"name\":\"a\",\"when\":{\"alert\":\"A\"},\"do\":[{\"wait\":\"1s\"}],\"mode\":\"yolo\"}", "policies[0].mode" },
		{ "{\"name\":\"a\",\"when\":{\"alert\":\"A\"},\"do\":[{\"wait\":\"1s\"}],\"guardrails\":{\"cooldown\":\"soon\"}}",
		  "policies[0].guardrails.cooldown" },
		{ "{\"name\":\"a\",\"when\":{\"alert\":\"A\"},\"do\":[{\"wait\":\"1s\"}],\"precondition\":[\"moon_phase\"]}",
		  "policies[0].precondition[0]" },
		{ "{\"name\":\"a\",\"when\":{\"alert\":\"A\"},\"do\":[{\"wait\":\"1s\"}],"
		  "\"precondition\":[{\"flag_changed\":{\"key\":\"new-pricing\"}}]}",
		  "policies[0].precondition[0].flag_changed.env: required" },
		{ "{\"name\":\"a\",\"when\":{\"alert\":\"A\"},\"do\":[{\"wait\":\"1s\"}],"
		  "\"precondition\":[{\"flag_changed\":{\"env\":\"prod\",\"key\":\"x\",\"within\":\"0s\"}}]}",
		  "policies[0].precondition[0].flag_changed.within: from 1s to 1d" },
		{ "{\"name\":\"a\",\"when\":{\"alert\":\"A\"},\"do\":[{\"wait\":\"1s\"}],"
		  "\"precondition\":[{\"flag_changed\":{\"env\":\"prod\",\"key\":\"x\",\"by\":\"me\"}}]}",
		  "policies[0].precondition[0].flag_changed.by: unknown key" },
		{ "{\"name\":\"a\",\"when\":{\"alert\":\"A\"},\"mode\":\"approve\",\"do\":[{\"http\":{\"url\":\"http://127.0.0.1/x\","
		  "\"headers\":{\"Authorization\":{\"value_env\":\"T\",\"value\":\"x\"}}}}]}",
		  "policies[0].do[0].http.headers.Authorization" },
		{ "{\"name\":\"a\",\"when\":{\"alert\":\"A\"},\"do\":[]}", "policies[0].do: a list of 1 to" },
		{ "{\"name\":\"A B\",\"when\":{\"alert\":\"A\"},\"do\":[{\"wait\":\"1s\"}]}", "policies[0].name" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct remedy_policy p;
		struct buf err = BUF_INIT;
		int rc = load(cases[i].doc, &p, &err);
		if (rc != OODA_EINVAL || !strstr(err.data ? err.data : "", cases[i].err))
			fail_msg("case %zu: rc %d, err \"%s\", want \"%s\"", i, rc, err.data ? err.data : "", cases[i].err);
		buf_release(&err);
	}
}

static void test_policy_defaults(void **state)
{
	(void)state;
	struct remedy_policy p;
	struct buf err = BUF_INIT;
	int rc = load("{\"name\":\"restart-checkout\",\"when\":{\"alert\":\"CheckoutDown\",\"for\":\"30s\"},"
		      "\"do\":[{\"exec\":{\"argv\":[\"true\"]},\"undo\":{\"exec\":{\"argv\":[\"false\"]}}},{\"wait\":\"1s\"}],"
		      "\"expect\":{\"alert_resolved\":true,\"timeout\":\"2m\"},\"guardrails\":{\"max_runs\":5}}",
		      &p, &err);
	if (rc)
		fail_msg("%s", err.data);
	assert_string_equal(p.name, "restart-checkout");
	assert_int_equal(p.mode, POLICY_AUTO);
	assert_int_equal(p.guard.cooldown_ns, 600 * OODA_NS_PER_SEC);
	assert_int_equal(p.guard.max_runs, 5);
	assert_int_equal(p.guard.max_concurrent, GUARD_MAX_CONCURRENT_DEFAULT);
	assert_int_equal(p.guard.breaker, GUARD_BREAKER_DEFAULT);
	assert_int_equal(p.for_ns, 30 * OODA_NS_PER_SEC);
	assert_int_equal(p.expect_timeout_ns, 120 * OODA_NS_PER_SEC);
	policy_release(&p);
	buf_release(&err);
}

/* ---- actions ---- */

static int run_step(const char *action, const char *params, struct action_result *res)
{
	json_t *p = json_loads(params, JSON_DECODE_ANY, NULL);
	assert_non_null(p);
	json_t *hosts = json_pack("[s]", "127.0.0.1");
	struct buf err = BUF_INIT;
	const struct remedy_action *a = action_find(action);
	assert_non_null(a);
	int rc = a->validate(p, hosts, "step", &err);
	if (rc)
		fail_msg("%s", err.data);
	struct action_env env = { .run_id = "run_test", .policy = "p" };
	action_result_init(res);
	rc = a->run(&env, p, res);
	buf_release(&err);
	json_decref(hosts);
	json_decref(p);
	return rc;
}

static void test_exec_output_and_status(void **state)
{
	(void)state;
	struct action_result r;
	assert_int_equal(run_step("exec", "{\"argv\":[\"sh\",\"-c\",\"echo out; echo err >&2; exit 3\"]}", &r), 0);
	assert_false(r.ok);
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.output.data, "out"));
	assert_non_null(strstr(r.output.data, "err"));
	assert_non_null(strstr(r.error.data, "exit status 3"));
	action_result_release(&r);

	/* output beyond the cap is dropped, the step still finishes */
	assert_int_equal(run_step("exec", "{\"argv\":[\"head\",\"-c\",\"100000\",\"/dev/zero\"]}", &r), 0);
	assert_true(r.ok);
	assert_int_equal(r.output.len, ACTION_OUTPUT_MAX);
	action_result_release(&r);

	/* the environment is an allow-list: a variable not listed does not reach the program */
	setenv("REMEDY_UNIT_SECRET", "s3cr3t", 1);
	setenv("REMEDY_UNIT_OK", "visible", 1);
	assert_int_equal(run_step("exec", "{\"argv\":[\"env\"],\"env\":[\"REMEDY_UNIT_OK\"]}", &r), 0);
	assert_true(r.ok);
	/* it reaches the program, and its value is kept out of the output (it may be a credential) */
	assert_non_null(strstr(r.output.data, "REMEDY_UNIT_OK=[redacted]"));
	assert_null(strstr(r.output.data, "visible"));
	assert_null(strstr(r.output.data, "s3cr3t"));
	action_result_release(&r);

	assert_int_equal(run_step("exec", "{\"argv\":[\"/nonexistent/program\"]}", &r), 0);
	assert_false(r.ok);
	assert_int_equal(r.status, 127);
	action_result_release(&r);
}

/* A program that ignores SIGTERM, with a child of its own: both are gone after the timeout. */
static void test_exec_timeout_kills_group(void **state)
{
	(void)state;
	char pidfile[] = "/tmp/remedy-unit-XXXXXX";
	int fd = mkstemp(pidfile);
	assert_true(fd >= 0);
	close(fd);
	char params[512];
	snprintf(params, sizeof(params),
		 "{\"argv\":[\"sh\",\"-c\",\"trap '' TERM; sleep 30 & echo $! > %s; wait\"],\"timeout\":\"2s\"}", pidfile);
	struct action_result r;
	assert_int_equal(run_step("exec", params, &r), 0);
	assert_false(r.ok);
	assert_true(r.timed_out);
	assert_non_null(strstr(r.error.data, "timed out"));
	action_result_release(&r);
	FILE *f = fopen(pidfile, "r");
	assert_non_null(f);
	int child = 0;
	assert_int_equal(fscanf(f, "%d", &child), 1);
	fclose(f);
	unlink(pidfile);
	/* the grandchild (sleep 30) was killed with the group: it no longer exists (or is a zombie of init).
	 * SIGKILL is delivered asynchronously, so on a loaded machine it may take a moment to die: wait up
	 * to 10 s for it, far short of the 30 s it would live if the kill had missed it. */
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/%d/stat", child);
	bool dead = false;
	for (int i = 0; i < 1000 && !dead; i++) {
		FILE *st = fopen(proc, "r");
		char line[512] = "";
		if (st && !fgets(line, sizeof(line), st))
			line[0] = 0;
		if (st)
			fclose(st);
		char *rp = strrchr(line, ')');
		dead = !st || (rp && rp[1] && rp[2] == 'Z');
		if (!dead) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	assert_true(dead);
}

/* A secret header value read from the environment reaches the server but not the result, even echoed back. */
static void test_http_secret_redacted(void **state)
{
	(void)state;
	setenv("REMEDY_UNIT_TOKEN", "tok-9f8e7d", 1);
	struct action_result r;
	/* nothing listens on port 1: the error must not carry the secret either */
	assert_int_equal(run_step("http",
				  "{\"url\":\"http://127.0.0.1:1/x\",\"headers\":{\"Authorization\":{\"value_env\":\"REMEDY_UNIT_TOKEN\"}},"
				  "\"timeout\":\"2s\"}",
				  &r),
			 0);
	assert_false(r.ok);
	assert_null(strstr(r.error.data ? r.error.data : "", "tok-9f8e7d"));
	action_result_release(&r);
}


/* ---- recipes ---- */

static json_t *expand(const char *ref, struct buf *err, int *rc)
{
	json_t *j = json_loads(ref, 0, NULL), *out = NULL;
	assert_non_null(j);
	*rc = recipe_expand(j, "do[0].recipe", &out, err);
	json_decref(j);
	return out;
}

static void test_recipe_variants(void **state)
{
	(void)state;
	static const struct {
		const char *ref;
		const char *want; /* the expansion, compact JSON with sorted keys; or the error's substring */
		bool ok;
	} cases[] = {
		{ "{\"name\":\"restart-instance\",\"variant\":\"sim\",\"params\":{\"service\":\"http://127.0.0.1:9001\"}}",
		  "[{\"http\":{\"method\":\"POST\",\"retries\":2,\"timeout\":\"10s\",\"url\":\"http://127.0.0.1:9001/admin/restart\"},\"idempotent\":true}]", true },
		{ "{\"name\":\"restart-instance\",\"variant\":\"systemd\",\"params\":{\"service\":\"checkout.service\"}}",
		  "\"argv\":[\"systemctl\",\"restart\",\"checkout.service\"]", true },
		{ "{\"name\":\"restart-instance\",\"variant\":\"kubernetes\",\"params\":{\"service\":\"checkout\"}}",
		  "\"argv\":[\"kubectl\",\"rollout\",\"restart\",\"deployment/checkout\",\"-n\",\"default\"]", true },
		{ "{\"name\":\"scale-out\",\"variant\":\"kubernetes\",\"params\":{\"service\":\"checkout\",\"replicas\":\"4\",\"namespace\":\"shop\"}}",
		  "\"argv\":[\"kubectl\",\"scale\",\"deployment/checkout\",\"--replicas=4\",\"-n\",\"shop\"]", true },
		{ "{\"name\":\"shed-load\",\"variant\":\"sim\",\"params\":{\"service\":\"http://127.0.0.1:9001\",\"ratio\":\"0.5\"}}",
		  "\"body\":{\"ratio\":0.5}", true },
		{ "{\"name\":\"drain-node\",\"variant\":\"kubernetes\",\"params\":{\"node\":\"--all\"}}",
		  "do[0].recipe.params.node: a string of 1 to 512", false },
		{ "{\"name\":\"scale-out\",\"variant\":\"kubernetes\",\"params\":{\"service\":\"a b\",\"replicas\":\"4\"}}",
		  "do[0].recipe.params.service", false },
		{ "{\"name\":\"scale-out\",\"variant\":\"sim\",\"params\":{}}", "do[0].recipe.variant: recipe scale-out has the variants kubernetes", false },
		{ "{\"name\":\"reboot-the-world\",\"variant\":\"sim\"}", "do[0].recipe.name: no recipe", false },
		{ "{\"name\":\"scale-out\",\"variant\":\"kubernetes\",\"params\":{\"service\":\"x\"}}",
		  "do[0].recipe.params.replicas: required", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf err = BUF_INIT;
		int rc;
		json_t *out = expand(cases[i].ref, &err, &rc);
		char *text = out ? json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		const char *got = cases[i].ok ? (text ? text : "") : (err.data ? err.data : "");
		if ((rc == 0) != cases[i].ok || !strstr(got, cases[i].want))
			fail_msg("case %zu: rc %d, got %s, want %s", i, rc, got, cases[i].want);
		free(text);
		json_decref(out);
		buf_release(&err);
	}
	json_t *list = recipe_list_json();
	assert_int_equal(json_array_size(list), 8);
	json_decref(list);
	assert_null(recipe_get_json("nope"));
}

static void test_policy_with_recipe(void **state)
{
	(void)state;
	struct remedy_policy p;
	struct buf err = BUF_INIT;
	/* a restart cannot be undone: an auto policy must waive it */
	const char *ref = "\"do\":[{\"recipe\":{\"name\":\"restart-instance\",\"variant\":\"sim\",\"params\":{\"service\":\"http://127.0.0.1:9001\"}}}]";
	char doc[1024];
	snprintf(doc, sizeof(doc), "{\"name\":\"r\",\"when\":{\"alert\":\"A\"},%s}", ref);
	assert_int_equal(load(doc, &p, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "policies[0].do[0].recipe: http cannot be undone"));
	buf_reset(&err);
	snprintf(doc, sizeof(doc), "{\"name\":\"r\",\"when\":{\"alert\":\"A\"},\"irreversible_ok\":true,\"rationale\":\"a restart is its own undo\",%s}", ref);
	if (load(doc, &p, &err))
		fail_msg("%s", err.data);
	policy_release(&p);
	/* the expansion meets the allow-list too */
	snprintf(doc, sizeof(doc), "{\"name\":\"r\",\"when\":{\"alert\":\"A\"},\"mode\":\"approve\",\"do\":[{\"recipe\":{\"name\":\"restart-instance\",\"variant\":\"sim\",\"params\":{\"service\":\"http://10.0.0.9:9001\"}}}]}");
	buf_reset(&err);
	assert_int_equal(load(doc, &p, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "policies[0].do[0].recipe.http.url: host \"10.0.0.9\" is not on remedy.http_allow_hosts"));
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_moves),
		cmocka_unit_test(test_policy_refusals),
		cmocka_unit_test(test_policy_defaults),
		cmocka_unit_test(test_exec_output_and_status),
		cmocka_unit_test(test_exec_timeout_kills_group),
		cmocka_unit_test(test_http_secret_redacted),
		cmocka_unit_test(test_recipe_variants),
		cmocka_unit_test(test_policy_with_recipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
