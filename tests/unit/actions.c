/*
 * Unit tests for action items on a temporary control store: keys count per
 * incident, the incident check refuses an unknown incident and writes
 * nothing, bad fields are named, done and reopened items keep done_at
 * right, a change that changes nothing writes no version, the overdue
 * filter follows the UTC date, and calendar dates are checked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/error.h"
#include "core/time.h"
#include "respond/actions.h"
#include "store/vdoc.h"

struct fixture {
	char dir[64];
	struct store *s;
	struct audit_signer sg;
	struct actions a;
};

static bool only_inc7(void *ctx, const char *id)
{
	(*(int *)ctx)++;
	return !strcmp(id, "INC-7");
}

static int calls;

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/ooda-actions-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	struct buf err = BUF_INIT;
	assert_int_equal(store_open(f->dir, 0, &f->s, &err), 0);
	assert_int_equal(audit_signer_load(&f->sg, f->dir, 100, &err), 0);
	buf_release(&err);
	f->a = (struct actions){ .store = f->s, .signer = &f->sg, .exists = only_inc7, .exists_ctx = &calls };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->s);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static int64_t at(const char *s)
{
	int64_t ns;
	assert_int_equal(ooda_time_parse(s, strlen(s), &ns), 0);
	return ns;
}

static json_t *add(struct fixture *f, const char *inc, const char *body_json, int want, const char *err_has)
{
	json_t *body = json_loads(body_json, 0, NULL), *out = NULL;
	assert_non_null(body);
	struct buf err = BUF_INIT;
	assert_int_equal(actions_add(&f->a, inc, body, "alice", "review", at("2026-12-05T10:00:00Z"), &out, &err), want);
	if (err_has)
		assert_non_null(strstr(err.data, err_has));
	json_decref(body);
	buf_release(&err);
	return out;
}

static void test_add_and_check(void **state)
{
	struct fixture *f = *state;
	json_t *a1 = add(f, "INC-7", "{\"title\":\"t1\",\"owner\":\"o\",\"due\":\"2026-12-01\"}", 0, NULL);
	json_t *a2 = add(f, "INC-7", "{\"title\":\"t2\",\"owner\":\"o\",\"due\":\"2026-12-09\",\"status\":\"done\"}", 0, NULL);
	assert_string_equal(json_string_value(json_object_get(a1, "key")), "INC-7/A1");
	assert_string_equal(json_string_value(json_object_get(a2, "key")), "INC-7/A2");
	assert_true(json_is_null(json_object_get(a1, "done_at")));
	assert_string_equal(json_string_value(json_object_get(a2, "done_at")), "2026-12-05T10:00:00.000Z");
	assert_string_equal(json_string_value(json_object_get(a1, "created_by")), "alice");
	json_decref(a1);
	json_decref(a2);
	/* the incident check: INC-8 does not exist, nothing is written */
	assert_null(add(f, "INC-8", "{\"title\":\"t\",\"owner\":\"o\",\"due\":\"2026-12-01\"}", OODA_ENOTFOUND, "INC-8"));
	struct vdoc v;
	struct buf err = BUF_INIT;
	assert_int_equal(vdoc_get(f->s, ACTIONS_KIND, "INC-8/A1", 0, &v, &err), OODA_ENOTFOUND);
	vdoc_release(&v);
	buf_release(&err);
	assert_true(calls >= 3);
	/* bad fields are named, and checked before the incident */
	static const struct {
		const char *inc, *body, *field;
	} bad[] = {
		{ "INC-7", "{\"title\":\"t\",\"owner\":\"o\",\"due\":\"2026-02-29\"}", "due" },
		{ "INC-7", "{\"title\":\"t\",\"owner\":\"o\",\"due\":\"26-12-01\"}", "due" },
		{ "INC-7", "{\"title\":\"t\",\"owner\":\"o\"}", "due: required" },
		{ "INC-7", "{\"title\":7,\"owner\":\"o\",\"due\":\"2026-12-01\"}", "title" },
		{ "INC-7", "{\"title\":\"t\",\"owner\":\"o\",\"due\":\"2026-12-01\",\"x\":1}", "x: unknown field" },
		{ "INC/7", "{\"title\":\"t\",\"owner\":\"o\",\"due\":\"2026-12-01\"}", "incident" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(add(f, bad[i].inc, bad[i].body, OODA_EINVAL, bad[i].field));
	/* without a check any well-formed id is accepted */
	f->a.exists = NULL;
	json_t *a3 = add(f, "INC-8", "{\"title\":\"t\",\"owner\":\"o\",\"due\":\"2026-12-01\"}", 0, NULL);
	assert_string_equal(json_string_value(json_object_get(a3, "key")), "INC-8/A1");
	json_decref(a3);
}

static void test_update_and_list(void **state)
{
	struct fixture *f = *state;
	json_decref(add(f, "INC-7", "{\"title\":\"t1\",\"owner\":\"ann\",\"due\":\"2026-12-04\"}", 0, NULL));
	json_decref(add(f, "INC-7", "{\"title\":\"t2\",\"owner\":\"bob\",\"due\":\"2026-12-05\"}", 0, NULL));
	struct buf err = BUF_INIT;
	json_t *out, *body = json_pack("{s:s}", "status", "done");
	int64_t now = at("2026-12-05T23:59:00Z");
	assert_int_equal(actions_update(&f->a, "INC-7/A1", body, "bob", "", now, &out, &err), 0);
	assert_string_equal(json_string_value(json_object_get(out, "done_at")), "2026-12-05T23:59:00.000Z");
	json_decref(out);
	/* the same change again writes no version */
	struct vdoc v;
	assert_int_equal(actions_update(&f->a, "INC-7/A1", body, "bob", "", now, &out, &err), 0);
	json_decref(out);
	assert_int_equal(vdoc_get(f->s, ACTIONS_KIND, "INC-7/A1", 0, &v, &err), 0);
	assert_int_equal(v.version, 2);
	vdoc_release(&v);
	json_decref(body);
	/* reopened: done_at cleared */
	body = json_pack("{s:s}", "status", "open");
	assert_int_equal(actions_update(&f->a, "INC-7/A1", body, "bob", "", now, &out, &err), 0);
	assert_true(json_is_null(json_object_get(out, "done_at")));
	json_decref(out);
	json_decref(body);
	body = json_pack("{s:s}", "due", "soon");
	assert_int_equal(actions_update(&f->a, "INC-7/A1", body, "bob", "", now, &out, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "due"));
	assert_int_equal(actions_update(&f->a, "INC-7/A9", body, "bob", "", now, &out, &err), OODA_ENOTFOUND);
	json_decref(body);
	/* overdue follows the UTC date: on 12-05, A1 (due 12-04) is, A2 (due today) is not */
	struct actions_filter fo = { .overdue = true };
	assert_int_equal(actions_list(&f->a, &fo, now, &out, &err), 0);
	json_t *arr = json_object_get(out, "actions");
	assert_int_equal(json_array_size(arr), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "key")), "INC-7/A1");
	json_decref(out);
	assert_int_equal(actions_list(&f->a, &fo, at("2026-12-06T00:00:01Z"), &out, &err), 0);
	assert_int_equal(json_array_size(json_object_get(out, "actions")), 2);
	json_decref(out);
	struct actions_filter fb = { .owner = "bob" };
	assert_int_equal(actions_list(&f->a, &fb, now, &out, &err), 0);
	assert_int_equal(json_array_size(json_object_get(out, "actions")), 1);
	json_decref(out);
	struct actions_filter fs = { .status = "closed" };
	assert_int_equal(actions_list(&f->a, &fs, now, &out, &err), OODA_EINVAL);
	buf_release(&err);
}

static void test_dates(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{ "2026-12-05", true }, { "2024-02-29", true },  { "2026-02-29", false }, { "2026-13-01", false },
		{ "2026-1-05", false }, { "2026-12-05T", false }, { "", false },          { "abcd-ef-gh", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(actions_date_valid(cases[i].s), cases[i].ok);
	assert_true(actions_incident_id_valid("INC-7"));
	assert_false(actions_incident_id_valid("INC-7/A1"));
	assert_false(actions_incident_id_valid(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_and_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_and_list, setup, teardown),
		cmocka_unit_test(test_dates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
