/*
 * Unit tests for the runbook parser (remedy/runbook.h): the front matter
 * names the runbook and its services and templates; checklist items become
 * manual steps and "- [auto]" items and ```step blocks automated ones, in
 * order and numbered from 1; prose, headings and other code blocks are
 * not steps; every refusal names the line or the field; the limits hold.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/xalloc.h"
#include "remedy/runbook.h"

static const char GOOD[] = "---\n"
			   "name: checkout-down\n"
			   "services: [checkout, payments]\n"
			   "templates: sev1\n"
			   "---\n"
			   "# Checkout is down\n"
			   "\n"
			   "Start here when the checkout probe fails.\n"
			   "\n"
			   "- [ ] Check the checkout dashboard\n"
			   "- [auto] restart-instance/sim service=http://127.0.0.1:9001\n"
			   "* [x] Tell the status page\n"
			   "- a plain item, not a step\n"
			   "\n"
			   "```sh\n"
			   "- [ ] inside another block: not a step\n"
			   "```\n"
			   "```step\n"
			   "{\"wait\": \"1s\"}\n"
			   "```\n";

static void test_parse_good(void **state)
{
	(void)state;
	json_t *doc = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(runbook_parse(GOOD, strlen(GOOD), &doc, &err), 0);
	assert_string_equal(json_string_value(json_object_get(doc, "name")), "checkout-down");
	assert_string_equal(json_string_value(json_object_get(doc, "title")), "Checkout is down");
	json_t *sv = json_object_get(doc, "services");
	assert_int_equal(json_array_size(sv), 2);
	assert_string_equal(json_string_value(json_array_get(sv, 1)), "payments");
	assert_string_equal(json_string_value(json_array_get(json_object_get(doc, "templates"), 0)), "sev1");
	json_t *steps = json_object_get(doc, "steps");
	assert_int_equal(json_array_size(steps), 4);
	static const struct {
		const char *kind, *text;
	} want[] = {
		{ "manual", "Check the checkout dashboard" },
		{ "auto", "restart-instance/sim service=http://127.0.0.1:9001" },
		{ "manual", "Tell the status page" },
		{ "auto", "{\"wait\":\"1s\"}" },
	};
	for (size_t i = 0; i < 4; i++) {
		json_t *s = json_array_get(steps, i);
		assert_int_equal(json_integer_value(json_object_get(s, "n")), (int)i + 1);
		assert_string_equal(json_string_value(json_object_get(s, "kind")), want[i].kind);
		assert_string_equal(json_string_value(json_object_get(s, "text")), want[i].text);
		assert_true((json_object_get(s, "step") != NULL) == !strcmp(want[i].kind, "auto"));
	}
	json_t *ref = json_object_get(json_object_get(json_array_get(steps, 1), "step"), "recipe");
	assert_string_equal(json_string_value(json_object_get(ref, "name")), "restart-instance");
	assert_string_equal(json_string_value(json_object_get(ref, "variant")), "sim");
	assert_string_equal(json_string_value(json_object_get(json_object_get(ref, "params"), "service")),
			    "http://127.0.0.1:9001");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(steps, 3), "step"), "wait")),
			    "1s");
	assert_string_equal(json_string_value(json_object_get(doc, "source")), GOOD);
	json_decref(doc);
	buf_release(&err);
}

static void test_parse_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *text, *err;
	} cases[] = {
		{ "- [ ] no front matter\n", "name: required" },
		{ "---\nname: Bad Name\n---\n- [ ] x\n", "name: 1 to 128" },
		{ "---\nname: a\nowner: bob\n---\n- [ ] x\n", "line 3: owner: unknown key" },
		{ "---\nname: a\n", "front matter: no closing" },
		{ "---\nname: a\n- [ ] x\n", "line 3: front matter lines are KEY: VALUE" },
		{ "---\nname: a\n---\nprose only\n", "steps: none found" },
		{ "---\nname: a\n---\n- [ ]   \n", "line 4: a checklist item needs its text" },
		{ "---\nname: a\n---\n- [auto] restart-instance/sim service\n", "line 4: automated step: after the recipe" },
		{ "---\nname: a\n---\n- [auto]\n", "line 4: automated step: - [auto] RECIPE" },
		{ "---\nname: a\n---\n```step\n{\"wait\": \n```\n", "line 4: a step block holds one JSON mapping" },
		{ "---\nname: a\n---\n```step\n[1]\n```\n", "line 4: a step block" },
		{ "---\nname: a\n---\n```step\n{\"wait\": \"1s\"}\n", "line 4: a ``` block that is never closed" },
		{ "---\nname: a\nservices: [a, B]\n---\n- [ ] x\n", "services: at most" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *doc = NULL;
		struct buf err = BUF_INIT;
		assert_int_equal(runbook_parse(cases[i].text, strlen(cases[i].text), &doc, &err), OODA_EINVAL);
		assert_null(doc);
		if (!strstr(err.data, cases[i].err))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.data, cases[i].err);
		buf_release(&err);
	}
}

static void test_parse_limits(void **state)
{
	(void)state;
	struct buf t = BUF_INIT, err = BUF_INIT;
	json_t *doc = NULL;
	buf_adds(&t, "---\nname: many\n---\n");
	for (int i = 0; i < RUNBOOK_MAX_STEPS; i++)
		buf_addf(&t, "- [ ] step %d\n", i + 1);
	assert_int_equal(runbook_parse(t.data, t.len, &doc, &err), 0);
	assert_int_equal(json_array_size(json_object_get(doc, "steps")), RUNBOOK_MAX_STEPS);
	json_decref(doc);
	doc = NULL;
	buf_adds(&t, "- [ ] one too many\n");
	assert_int_equal(runbook_parse(t.data, t.len, &doc, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "at most 64 steps"));
	buf_reset(&err);
	/* too many params on one automated step */
	buf_reset(&t);
	buf_adds(&t, "---\nname: p\n---\n- [auto] clear-queue/systemd");
	for (int i = 0; i <= RUNBOOK_MAX_PARAMS; i++)
		buf_addf(&t, " k%d=v", i);
	buf_adds(&t, "\n");
	assert_int_equal(runbook_parse(t.data, t.len, &doc, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "at most 16 params"));
	buf_reset(&err);
	/* a text over the size limit is refused before it is read */
	char *big = xmalloc(RUNBOOK_MAX_BYTES + 1);
	memset(big, 'a', RUNBOOK_MAX_BYTES + 1);
	assert_int_equal(runbook_parse(big, RUNBOOK_MAX_BYTES + 1, &doc, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "at most 65536 bytes"));
	free(big);
	buf_release(&t);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_parse_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
