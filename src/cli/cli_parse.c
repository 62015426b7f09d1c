/*
 * The command line, read: options before the command (handed to the
 * command's own parser), the command and subcommand looked up in the table
 * of main.c, "did you mean" when they are not there, --help and -V, then
 * the command run and its result turned into one exit status (0 ok, 1
 * failure, 2 usage, 3 inconclusive) and, with --json, errors into one JSON
 * object on stderr. main() lives here.
 */
#include "cli/cli.h"
#include "api/daemon.h"
#include "core/error.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/*
 * Commands with no data to print as JSON: --json is refused with the reason
 * rather than ignored, so a script never takes their text for JSON. Every
 * other command prints JSON with --json (docs/cli.md, "JSON output").
 */
static const struct {
	const char *name;
	const char *prints;
} no_json[] = {
	{ "serve", "runs the daemon (its log format is log.format in ooda.yaml)" },
	{ "help", "prints help text" },
	{ "docs", "prints Markdown" },
	{ "completion", "prints a shell script" },
	{ "heartbeat", "passes COMMAND's own output through" },
};

static int json_refused(const struct cli_command *c, struct buf *err)
{
	for (size_t i = 0; i < sizeof(no_json) / sizeof(no_json[0]); i++)
		if (!strcmp(no_json[i].name, c->name)) {
			buf_addf(err, "`ooda %s` %s; it has no --json output", c->name, no_json[i].prints);
			return OODA_EINVAL;
		}
	return 0;
}

static bool option_known(const char *list, const char *name, bool *takes_value)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		bool val = len && p[len - 1] == '=';
		if ((val ? len - 1 : len) == n && !strncmp(p, name, n)) {
			*takes_value = val;
			return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

static int parse_args(const struct cli_command *c, int argc, char **argv, struct cli_args *a, struct buf *err)
{
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (!strcmp(arg, "--")) {
			for (i++; i < argc && a->n_passthrough < 64; i++)
				a->passthrough[a->n_passthrough++] = argv[i];
			break;
		}
		if (!strcmp(arg, "-h"))
			arg = "--help";
		if (strncmp(arg, "--", 2) || !arg[2]) {
			if (a->n_pos >= CLI_MAX_POS) {
				buf_adds(err, "too many arguments");
				return OODA_EINVAL;
			}
			a->pos[a->n_pos++] = arg;
			continue;
		}
		char name[64];
		const char *eq = strchr(arg, '=');
		size_t nl = eq ? (size_t)(eq - arg) : strlen(arg);
		if (nl >= sizeof(name)) {
			buf_addf(err, "unknown option %.80s", arg);
			return OODA_EINVAL;
		}
		memcpy(name, arg, nl);
		name[nl] = '\0';
		bool takes = false;
		if (!option_known(c->options, name, &takes) && !option_known(cli_global_options, name, &takes)) {
			cli_unknown_option(c, name, err);
			return OODA_EINVAL;
		}
		const char *val = "";
		if (takes) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else {
				buf_addf(err, "option %s needs a value", name);
				return OODA_EINVAL;
			}
		} else if (eq) {
			buf_addf(err, "option %s takes no value", name);
			return OODA_EINVAL;
		}
		if (a->n_opts >= CLI_MAX_OPTS) {
			buf_adds(err, "too many options");
			return OODA_EINVAL;
		}
		memcpy(a->opt_name_buf[a->n_opts], name, nl + 1);
		a->opt_names[a->n_opts] = a->opt_name_buf[a->n_opts];
		a->opt_values[a->n_opts++] = val;
	}
	a->json = cli_flag(a, "--json");
	cli_context_resolve(a);
	return 0;
}

int cli_exit_status(const struct cli_args *a, int rc)
{
	if (!rc)
		return a ? a->exit_status : CLI_EXIT_OK;
	return rc == OODA_EINVAL || rc == OODA_EPARSE ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
}

/*
 * Reports a failed command on stderr: "ooda: DETAIL", or with --json one
 * object {"error":{status, title, detail, exit}}. An error the daemon
 * answered with reads "STATUS TITLE: DETAIL" (client_call); its status and
 * title are split out, else status is null and title the error's name.
 */
static void report_error(bool json, int rc, const char *detail, int exit_status)
{
	if (!json) {
		fprintf(stderr, "ooda: %s\n", detail && *detail ? detail : ooda_strerror(rc));
		return;
	}
	json_t *status = json_null(), *title = NULL;
	int code = 0, used = 0;
	if (detail && sscanf(detail, "%3d %n", &code, &used) == 1 && used == 4 && code >= 400 && code < 600) {
		const char *colon = strstr(detail + used, ": ");
		if (colon) {
			status = json_integer(code);
			title = json_stringn(detail + used, (size_t)(colon - detail - used));
			detail = colon + 2;
		}
	}
	json_t *e = json_pack("{s:{s:o, s:o, s:s, s:i}}", "error", "status", status, "title",
			      title ? title : json_string(ooda_strerror(rc)), "detail",
			      detail && *detail ? detail : ooda_strerror(rc), "exit", exit_status);
	char *t = json_dumps(e, JSON_COMPACT);
	fprintf(stderr, "%s\n", t);
	free(t);
	json_decref(e);
}

/* Whether an option name is taken by some command with a value ("--env" → true). */
static bool takes_value_anywhere(const char *name, bool *known)
{
	bool takes = false;
	*known = option_known(cli_global_options, name, &takes);
	if (*known)
		return takes;
	for (const struct cli_command *c = cli_commands; c->name; c++)
		if (option_known(c->options, name, &takes)) {
			*known = true;
			if (takes)
				return true;
		}
	return false;
}

static bool wants_json(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--json"))
			return true;
	return false;
}

/*
 * Options before the command (`ooda --server URL --json status`) are kept
 * in pre[] and handed to the command's parser ahead of its own arguments,
 * so they are checked against the command like any other. -V/--version and
 * -h/--help are answered here. Returns the index of the command word, or
 * -1 with err set (usage), or -2 when done (*exit_status set).
 */
static int parse_pre(int argc, char **argv, char **pre, int *n_pre, bool *help, int *exit_status, struct buf *err)
{
	int i = 1;
	*n_pre = 0;
	*help = false;
	bool version = false;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *arg = argv[i];
		if (!strcmp(arg, "-V") || !strcmp(arg, "--version")) {
			version = true;
			continue;
		}
		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			*help = true;
			continue;
		}
		char name[64];
		size_t nl = strcspn(arg, "=");
		bool known = false;
		if (nl < sizeof(name)) {
			memcpy(name, arg, nl);
			name[nl] = '\0';
		}
		bool takes = nl < sizeof(name) && !strncmp(arg, "--", 2) && takes_value_anywhere(name, &known);
		if (!known) {
			const char *cands[] = { "--server", "--token", "--json", "--help", "--version" };
			const char *s = nl < sizeof(name) ? cli_suggest(name, cands, 5) : NULL;
			buf_addf(err, "unknown option %.64s before the command", arg);
			if (s)
				buf_addf(err, "; did you mean %s?", s);
			buf_adds(err, " See `ooda help`.");
			return -1;
		}
		if (*n_pre + 2 > CLI_MAX_OPTS * 2) {
			buf_adds(err, "too many options");
			return -1;
		}
		pre[(*n_pre)++] = argv[i];
		if (takes && !strchr(arg, '=')) {
			if (i + 1 >= argc) {
				buf_addf(err, "option %s needs a value", name);
				return -1;
			}
			pre[(*n_pre)++] = argv[++i];
		}
	}
	if (version) {
		if (wants_json(argc, argv))
			printf("{\"version\":\"%s\"}\n", OODA_VERSION);
		else
			printf("ooda %s\n", OODA_VERSION);
		*exit_status = 0;
		return -2;
	}
	if (i >= argc) {
		struct buf out = BUF_INIT;
		cli_help_all(&out);
		fputs(out.data, *help ? stdout : stderr);
		buf_release(&out);
		*exit_status = *help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
		return -2;
	}
	return i;
}

int main(int argc, char **argv)
{
	json_set_alloc_funcs(xmalloc, free); /* jansson follows core/xalloc.h: abort when memory runs out */
	daemon_register_config_checks();
	struct buf err = BUF_INIT;
	bool json = wants_json(argc, argv), help;
	char *pre[CLI_MAX_OPTS * 2];
	int n_pre, status = 0;
	int at = parse_pre(argc, argv, pre, &n_pre, &help, &status, &err);
	if (at == -2) {
		buf_release(&err);
		return status;
	}
	if (at < 0) {
		report_error(json, OODA_EINVAL, err.data, CLI_EXIT_USAGE);
		buf_release(&err);
		return CLI_EXIT_USAGE;
	}
	const char *name = argv[at], *sub = at + 1 < argc ? argv[at + 1] : NULL;
	const struct cli_command *found = NULL;
	bool group = false;
	int used = at + 1;
	for (const struct cli_command *c = cli_commands; c->name; c++) {
		if (strcmp(c->name, name))
			continue;
		group = group || c->sub;
		if (!c->sub) {
			found = c;
			break;
		}
		if (sub && !strcmp(c->sub, sub)) {
			found = c;
			used = at + 2;
			break;
		}
	}
	if (!found) {
		bool sub_help = sub && (!strcmp(sub, "--help") || !strcmp(sub, "-h"));
		if (group && (help || sub_help)) {
			struct buf out = BUF_INIT;
			cli_help_group(name, &out);
			fputs(out.data, stdout);
			buf_release(&out);
			return CLI_EXIT_OK;
		}
		if (group && (!sub || sub[0] == '-')) {
			buf_addf(&err, "`ooda %s` needs a subcommand; see `ooda help %s`", name, name);
		} else {
			cli_unknown_command(name, group ? sub : NULL, &err);
		}
		report_error(json, OODA_EINVAL, err.data, CLI_EXIT_USAGE);
		buf_release(&err);
		return CLI_EXIT_USAGE;
	}
	char **args = xmalloc(sizeof(char *) * (size_t)(n_pre + argc - used + 1));
	int n_args = 0;
	for (int k = 0; k < n_pre; k++)
		args[n_args++] = pre[k];
	for (int k = used; k < argc; k++)
		args[n_args++] = argv[k];
	struct cli_args a = { 0 };
	int rc = parse_args(found, n_args, args, &a, &err);
	if (!rc && (help || cli_flag(&a, "--help"))) {
		struct buf out = BUF_INIT;
		cli_help_command(found, &out);
		fputs(out.data, stdout);
		buf_release(&out);
	} else if (!rc && !(a.json && (rc = json_refused(found, &err)))) {
		rc = found->fn(&a, &err);
	}
	int code = cli_exit_status(&a, rc);
	if (rc)
		report_error(json, rc, err.data, code);
	free(args);
	buf_release(&err);
	return code;
}
