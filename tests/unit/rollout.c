/*
 * Unit tests for the pure half of progressive rollouts (change/rollout.h):
 * the plan loader (what it accepts and normalises, and a table of plans it
 * refuses with the member named) and the step state machine (every path a
 * rollout takes: promotion step by step, approval before a marked step,
 * abort on a failing verdict, holds on inconclusive ones up to the limit,
 * and the events that do not apply).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "change/rollout.h"
#include "core/error.h"
#include "core/time.h"
#include "core/xalloc.h"

static json_t *load_ok(const char *text)
{
	json_t *p = NULL;
	struct buf err = BUF_INIT;
	int rc = rollout_plan_load(text, strlen(text), &p, &err);
	if (rc)
		fail_msg("plan refused: %s: %s", text, err.data);
	buf_release(&err);
	return p;
}

static void test_plan_weights(void **state)
{
	(void)state;
	json_t *p = load_ok("{\"flag\":\"new-checkout\",\"env\":\"prod\",\"variant\":\"on\",\"service\":\"checkout\","
			    "\"steps\":[5,25,50,100],\"hold\":\"5m\"}");
	json_t *steps = json_object_get(p, "steps");
	assert_int_equal(json_array_size(steps), 4);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(steps, 1), "weight")), 25);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(steps, 3), "hold_ns")), 300 * OODA_NS_PER_SEC);
	assert_false(json_is_true(json_object_get(json_array_get(steps, 0), "approval")));
	/* thresholds default to deploy verification's */
	assert_true(json_number_value(json_object_get(json_object_get(p, "analysis"), "min_samples")) == 50);
	assert_true(json_number_value(json_object_get(json_object_get(p, "analysis"), "max_error_increase")) == 0.01);
	assert_int_equal(json_integer_value(json_object_get(p, "max_inconclusive")), 3);
	json_decref(p);

	p = load_ok("{\"deploy\":\"d-1\",\"steps\":[{\"hold\":\"10m\"},{\"hold\":\"30s\",\"approval\":true}],"
		    "\"analysis\":{\"min_samples\":20}}");
	steps = json_object_get(p, "steps");
	assert_null(json_object_get(json_array_get(steps, 0), "weight")); /* plain steps */
	assert_true(json_is_true(json_object_get(json_array_get(steps, 1), "approval")));
	assert_string_equal(json_string_value(json_object_get(p, "env")), "default");
	assert_true(json_number_value(json_object_get(json_object_get(p, "analysis"), "min_samples")) == 20);
	json_decref(p);
}

static const struct {
	const char *plan, *names;
} refused[] = {
	{ "[]", "JSON object" },
	{ "{\"flag\":\"f\",\"variant\":\"on\",\"service\":\"s\",\"steps\":[5,100],\"hold\":\"1m\",\"color\":1}", "color" },
	{ "{\"steps\":[100],\"hold\":\"1m\"}", "flag" },
	{ "{\"flag\":\"f\",\"service\":\"s\",\"steps\":[100],\"hold\":\"1m\"}", "variant" },
	{ "{\"flag\":\"f\",\"variant\":\"on\",\"steps\":[100],\"hold\":\"1m\"}", "service" },
	{ "{\"flag\":\"f\",\"variant\":\"on\",\"service\":\"s\",\"steps\":[50,25,100],\"hold\":\"1m\"}", "steps[1].weight" },
	{ "{\"flag\":\"f\",\"variant\":\"on\",\"service\":\"s\",\"steps\":[5,50],\"hold\":\"1m\"}", "100 %" },
	{ "{\"flag\":\"f\",\"variant\":\"on\",\"service\":\"s\",\"steps\":[5,100]}", "steps[0].hold" },
	{ "{\"flag\":\"f\",\"variant\":\"on\",\"service\":\"s\",\"steps\":[100],\"hold\":\"2d\"}", "hold" },
	{ "{\"flag\":\"f\",\"variant\":\"on\",\"service\":\"s\",\"steps\":[100],\"hold\":\"100ms\"}", "hold" },
	{ "{\"flag\":\"f\",\"variant\":\"on\",\"service\":\"s\",\"steps\":[],\"hold\":\"1m\"}", "steps" },
	{ "{\"flag\":\"f\",\"variant\":\"on\",\"service\":\"s\",\"steps\":[{\"weight\":100,\"hold\":\"1m\",\"pause\":1}]}",
	  "steps[0].pause" },
	{ "{\"flag\":\"f\",\"variant\":\"on\",\"service\":\"s\",\"steps\":[{\"weight\":100,\"hold\":\"1m\",\"approval\":\"yes\"}]}",
	  "steps[0].approval" },
	{ "{\"flag\":\"f\",\"variant\":\"on\",\"service\":\"s\",\"steps\":[100.5],\"hold\":\"1m\"}", "steps[0].weight" },
	{ "{\"flag\":\"f\",\"variant\":\"on\",\"service\":\"s\",\"steps\":[100],\"hold\":\"1m\",\"analysis\":{\"alpha\":2}}",
	  "analysis.alpha" },
	{ "{\"flag\":\"f\",\"variant\":\"on\",\"service\":\"s\",\"steps\":[100],\"hold\":\"1m\",\"analysis\":{\"beta\":1}}",
	  "analysis.beta" },
	{ "{\"flag\":\"f g\",\"variant\":\"on\",\"service\":\"s\",\"steps\":[100],\"hold\":\"1m\"}", "flag" },
	{ "{\"deploy\":\"d\",\"steps\":[{\"hold\":\"1m\"}],\"max_inconclusive\":-1}", "max_inconclusive" },
	{ "{\"deploy\":\"d\",\"deploy\":\"e\",\"steps\":[{\"hold\":\"1m\"}]}", "JSON object" },
};

static void test_plan_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		json_t *p = NULL;
		struct buf err = BUF_INIT;
		int rc = rollout_plan_load(refused[i].plan, strlen(refused[i].plan), &p, &err);
		if (rc != OODA_EINVAL || p || !strstr(err.data, refused[i].names))
			fail_msg("plan %zu: rc %d, want a refusal naming %s, got: %s", i, rc, refused[i].names,
				 err.data ? err.data : "");
		buf_release(&err);
	}
	/* over the size limit, whatever it holds */
	size_t n = ROLLOUT_MAX_PLAN_BYTES + 1;
	char *big = xmalloc(n);
	memset(big, ' ', n);
	json_t *p = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(rollout_plan_load(big, n, &p, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "at most"));
	buf_release(&err);
	free(big);
}

/* Runs ev on s and checks the action, and the status and step it leads to. */
static void expect(struct rollout_state *s, enum rollout_event ev, enum rollout_action a, enum rollout_status st,
		   int step)
{
	struct rollout_next n;
	rollout_transition(s, ev, &n);
	assert_int_equal(n.action, a);
	assert_int_equal(n.status, st);
	assert_int_equal(n.step, step);
	s->status = n.status;
	if (n.step != s->step)
		s->inconclusive = 0;
	s->step = n.step;
}

static void test_machine_promotes(void **state)
{
	(void)state;
	bool ap[3] = { false, false, false };
	struct rollout_state s = { RO_PENDING, -1, 3, 0, 2, ap };
	expect(&s, RO_EV_START, RO_ACT_ADVANCE, RO_RUNNING, 0);
	expect(&s, RO_EV_PASS, RO_ACT_ADVANCE, RO_RUNNING, 1);
	expect(&s, RO_EV_PROMOTE, RO_ACT_ADVANCE, RO_RUNNING, 2); /* a person skips the rest of the hold */
	expect(&s, RO_EV_PASS, RO_ACT_COMPLETE, RO_SUCCEEDED, 2);
	/* finished: nothing applies any more */
	expect(&s, RO_EV_ABORT, RO_ACT_REFUSE, RO_SUCCEEDED, 2);
	expect(&s, RO_EV_PROMOTE, RO_ACT_REFUSE, RO_SUCCEEDED, 2);
}

static void test_machine_aborts(void **state)
{
	(void)state;
	bool ap[4] = { false };
	struct rollout_state s = { RO_PENDING, -1, 4, 0, 2, ap };
	expect(&s, RO_EV_START, RO_ACT_ADVANCE, RO_RUNNING, 0);
	expect(&s, RO_EV_PASS, RO_ACT_ADVANCE, RO_RUNNING, 1);
	expect(&s, RO_EV_FAIL, RO_ACT_ABORT, RO_ABORTED, 1); /* at its first failing step */
	expect(&s, RO_EV_PASS, RO_ACT_REFUSE, RO_ABORTED, 1);
	expect(&s, RO_EV_APPROVE, RO_ACT_REFUSE, RO_ABORTED, 1);

	/* inconclusive holds again, up to max_inconclusive, then aborts: no verdict is not a pass */
	s = (struct rollout_state){ RO_RUNNING, 0, 4, 0, 2, ap };
	expect(&s, RO_EV_INCONCLUSIVE, RO_ACT_EXTEND, RO_RUNNING, 0);
	s.inconclusive++;
	expect(&s, RO_EV_INCONCLUSIVE, RO_ACT_EXTEND, RO_RUNNING, 0);
	s.inconclusive++;
	expect(&s, RO_EV_INCONCLUSIVE, RO_ACT_ABORT, RO_ABORTED, 0);

	/* a person aborts a running one */
	s = (struct rollout_state){ RO_RUNNING, 2, 4, 0, 2, ap };
	expect(&s, RO_EV_ABORT, RO_ACT_ABORT, RO_ABORTED, 2);
}

static void test_machine_approval(void **state)
{
	(void)state;
	bool ap[3] = { true, false, true };
	struct rollout_state s = { RO_PENDING, -1, 3, 0, 0, ap };
	/* the first step itself waits */
	expect(&s, RO_EV_START, RO_ACT_AWAIT, RO_AWAITING, -1);
	expect(&s, RO_EV_PASS, RO_ACT_REFUSE, RO_AWAITING, -1); /* no analysis while waiting */
	expect(&s, RO_EV_PROMOTE, RO_ACT_REFUSE, RO_AWAITING, -1); /* promote does not replace the approval */
	expect(&s, RO_EV_APPROVE, RO_ACT_ADVANCE, RO_RUNNING, 0);
	expect(&s, RO_EV_APPROVE, RO_ACT_REFUSE, RO_RUNNING, 0); /* an approval nothing waits for */
	expect(&s, RO_EV_PASS, RO_ACT_ADVANCE, RO_RUNNING, 1);
	expect(&s, RO_EV_PASS, RO_ACT_AWAIT, RO_AWAITING, 1);
	expect(&s, RO_EV_REJECT, RO_ACT_ABORT, RO_ABORTED, 1);

	s = (struct rollout_state){ RO_AWAITING, 1, 3, 0, 0, ap };
	expect(&s, RO_EV_ABORT, RO_ACT_ABORT, RO_ABORTED, 1);
}

static void test_status_names(void **state)
{
	(void)state;
	for (int i = 0; i < RO_STATUS_COUNT; i++)
		assert_int_equal(rollout_status_parse(rollout_status_name((enum rollout_status)i)), i);
	assert_int_equal(rollout_status_parse("done"), RO_STATUS_COUNT);
	assert_int_equal(rollout_status_parse(NULL), RO_STATUS_COUNT);
	assert_string_equal(rollout_status_name(RO_AWAITING), "awaiting-approval");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_weights),	 cmocka_unit_test(test_plan_refused),
		cmocka_unit_test(test_machine_promotes), cmocka_unit_test(test_machine_aborts),
		cmocka_unit_test(test_machine_approval), cmocka_unit_test(test_status_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
