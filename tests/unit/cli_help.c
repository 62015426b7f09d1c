/*
 * The CLI's help machinery (src/cli/cli_help.c) over a small command table
 * of its own: "did you mean" (edit distance, prefixes, no far-fetched
 * guesses), option descriptions (most specific wins), help grouped by
 * stage, and docs refusing an undocumented option or a command without a
 * stage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cli/cli.h"
#include "core/error.h"

static int fn(struct cli_args *a, struct buf *err)
{
	return 0;
}

static struct cli_command table[] = {
	{ "status", NULL, fn, "", "", "Show the server.", "admin" },
	{ "token", "create", fn, "--role=,--env=", "", "Create a token.", "admin" },
	{ "token", "list", fn, "", "", "List tokens.", "admin" },
	{ "flags", "list", fn, "--env=", "", "List flags.", "act" },
	{ "incident", "list", fn, "--status=", "", "Incidents.", "orient" },
	{ NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};

static struct cli_option_doc docs[] = {
	{ "--env", NULL, "the environment" },
	{ "--env", "token create", "restrict the token" },
	{ "--role", NULL, "the role", "NAME" },
	{ "--status", "incident", "only this status" },
	{ NULL, NULL, NULL },
};

const struct cli_command *const cli_commands = table;
const struct cli_option_doc *const cli_option_docs = docs;

static void test_edit_distance(void **state)
{
	(void)state;
	struct {
		const char *x, *y;
		size_t d;
	} cases[] = {
		{ "status", "status", 0 }, { "stauts", "status", 1 }, { "statu", "status", 1 },
		{ "sttus", "status", 1 },  { "xyzzy", "status", 6 }, { "", "abc", 3 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (cli_edit_distance(cases[i].x, cases[i].y) != cases[i].d)
			fail_msg("%s/%s: %zu, want %zu", cases[i].x, cases[i].y, cli_edit_distance(cases[i].x, cases[i].y),
				 cases[i].d);
}

static void test_suggest(void **state)
{
	(void)state;
	const char *cands[] = { "status", "token", "flags", "incident" };
	struct {
		const char *word, *want;
	} cases[] = {
		{ "stauts", "status" }, { "tokne", "token" }, { "flag", "flags" }, { "incid", "incident" },
		{ "xyzzy", NULL },      { "a", NULL },        { "st", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = cli_suggest(cases[i].word, cands, 4);
		if ((got == NULL) != (cases[i].want == NULL) || (got && strcmp(got, cases[i].want)))
			fail_msg("%s: %s, want %s", cases[i].word, got ? got : "none", cases[i].want ? cases[i].want : "none");
	}
	struct buf err = BUF_INIT;
	cli_unknown_command("token", "crate", &err);
	assert_non_null(strstr(err.data, "did you mean `ooda token create`?"));
	buf_reset(&err);
	cli_unknown_option(&table[1], "--rloe", &err);
	assert_non_null(strstr(err.data, "did you mean --role?"));
	buf_release(&err);
}

static void test_option_docs_and_help(void **state)
{
	(void)state;
	assert_string_equal(cli_option_doc(&table[1], "--env"), "restrict the token"); /* exact command */
	assert_string_equal(cli_option_doc(&table[3], "--env"), "the environment");    /* generic */
	assert_string_equal(cli_option_doc(&table[4], "--status"), "only this status"); /* the command's group */
	assert_null(cli_option_doc(&table[0], "--nope"));
	struct buf out = BUF_INIT, err = BUF_INIT;
	cli_help_all(&out);
	char *orient = strstr(out.data, "Orient:"), *act = strstr(out.data, "Act:"), *admin = strstr(out.data, "Admin:");
	assert_true(orient && act && admin && orient < act && act < admin);
	char *inc = strstr(out.data, "incident list"), *flags = strstr(out.data, "flags list");
	assert_true(inc > orient && inc < act && flags > act && flags < admin);
	buf_reset(&out);
	assert_int_equal(cli_help("token", "create", &out, &err), 0);
	assert_non_null(strstr(out.data, "--env ENV"));
	assert_non_null(strstr(out.data, "restrict the token"));
	assert_non_null(strstr(out.data, "[--role NAME] [--env ENV]")); /* the table's placeholder, else the name */
	buf_reset(&out);
	assert_int_equal(cli_docs_markdown(&out, &err), 0);
	/* an option nobody described, a command without a stage: docs refuse, naming them */
	table[0].options = "--undocumented";
	table[2].stage = NULL;
	buf_reset(&out);
	assert_int_equal(cli_docs_markdown(&out, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "--undocumented of `ooda status` has no description"));
	assert_non_null(strstr(err.data, "`ooda token list` has no stage"));
	buf_reset(&out);
	cli_help_all(&out);
	assert_non_null(strstr(out.data, "\nOther\n  token list"));
	table[0].options = "";
	table[2].stage = "admin";
	buf_release(&out);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edit_distance),
		cmocka_unit_test(test_suggest),
		cmocka_unit_test(test_option_docs_and_help),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
