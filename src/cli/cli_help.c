/*
 * What the CLI says about itself, all generated from the command table and
 * the option descriptions in main.c: `ooda help` grouped by stage (observe,
 * orient, decide, act, learn, admin), one command's help (`ooda CMD SUB
 * --help`), "did you mean" for a mistyped command, subcommand or option,
 * docs/cli.md (`ooda docs cli`) and the bash, zsh and fish completion
 * scripts (`ooda completion SHELL`). Nothing here talks to the daemon.
 */
#include "cli/cli.h"
#include "core/error.h"

#include <ctype.h>
#include <string.h>

/* The stages, in the order help lists them; a command's `stage` names one. */
static const struct {
	const char *name;
	const char *title;
} stages[] = {
	{ "observe", "Observe: what the systems are doing (telemetry, services, probes)" },
	{ "orient", "Orient: what it means (alerts, SLOs, analysis, incidents as they stand)" },
	{ "decide", "Decide: what to do about it (triage, silences, approvals, rollback plans)" },
	{ "act", "Act: change things (flags, config, deploys, rollbacks, incident state)" },
	{ "learn", "Learn: after the fact (postmortems, action items, drills, window files)" },
	{ "admin", "Admin: the daemon, the CLI, tokens, audit and data" },
};
#define N_STAGES (sizeof(stages) / sizeof(stages[0]))

/* Global options: accepted before the command and after it. */
static const struct {
	const char *spec; /* as in a command's options: '=' takes a value */
	const char *text;
} globals[] = {
	{ "--server=", "the daemon's URL (else OODA_SERVER, else the `ooda login` context, else http://127.0.0.1:4318)" },
	{ "--token=", "the API token to send (else OODA_TOKEN, else the context's token file)" },
	{ "--json", "print the daemon's answer as JSON on stdout, and errors as a JSON object on stderr" },
	{ "--help", "print this command's help and exit 0 (also -h)" },
};
#define N_GLOBALS (sizeof(globals) / sizeof(globals[0]))

/* The name of global option i without its '=' ("--server"). */
static void global_name(size_t i, char *out, size_t n)
{
	size_t len = strcspn(globals[i].spec, "=");
	if (len >= n)
		len = n - 1;
	memcpy(out, globals[i].spec, len);
	out[len] = '\0';
}

const char *const cli_global_options = "--server=,--token=,--json,--help";

/* ---- option lists --------------------------------------------------------- */

/* Calls fn for each option of a comma list, name without '=', and whether it takes a value. */
static void options_each(const char *list, void (*fn)(void *ctx, const char *name, bool takes), void *ctx)
{
	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char name[64];
		bool takes = len && p[len - 1] == '=';
		size_t n = takes ? len - 1 : len;
		if (n && n < sizeof(name)) {
			memcpy(name, p, n);
			name[n] = '\0';
			fn(ctx, name, takes);
		}
		p = end ? end + 1 : NULL;
	}
}

/* "--role" → "ROLE", "--min-duration" → "MIN_DURATION". */
static void metavar(const char *name, char *out, size_t n)
{
	size_t k = 0;
	if (!strcmp(name, "--server")) {
		snprintf(out, n, "URL");
		return;
	}
	for (const char *p = name + 2; *p && k + 1 < n; p++)
		out[k++] = (char)(*p == '-' ? '_' : toupper((unsigned char)*p));
	out[k] = '\0';
}

static void full_name(const struct cli_command *c, char *out, size_t n)
{
	snprintf(out, n, "%s%s%s", c->name, c->sub ? " " : "", c->sub ? c->sub : "");
}

const struct cli_option_doc *cli_option_entry(const struct cli_command *c, const char *option)
{
	char full[96];
	full_name(c, full, sizeof(full));
	const struct cli_option_doc *exact = NULL, *group = NULL, *generic = NULL;
	for (const struct cli_option_doc *d = cli_option_docs; d->option; d++) {
		if (strcmp(d->option, option))
			continue;
		if (!d->command)
			generic = generic ? generic : d;
		else if (!strcmp(d->command, full))
			exact = d;
		else if (!strcmp(d->command, c->name))
			group = d;
	}
	return exact ? exact : group ? group : generic;
}

const char *cli_option_doc(const struct cli_command *c, const char *option)
{
	const struct cli_option_doc *d = cli_option_entry(c, option);
	return d ? d->text : NULL;
}

/* The value placeholder of option for c: the table's metavar, else the name in capitals. */
static void option_metavar(const struct cli_command *c, const char *option, char *out, size_t n)
{
	const struct cli_option_doc *d = c ? cli_option_entry(c, option) : NULL;
	if (d && d->metavar)
		snprintf(out, n, "%s", d->metavar);
	else
		metavar(option, out, n);
}

struct usage_ctx {
	const struct cli_command *c;
	struct buf *out;
};

static void usage_opt(void *ctx, const char *name, bool takes)
{
	struct usage_ctx *u = ctx;
	char mv[64];
	option_metavar(u->c, name, mv, sizeof(mv));
	if (takes)
		buf_addf(u->out, " [%s %s]", name, mv);
	else
		buf_addf(u->out, " [%s]", name);
}

void cli_usage_line(const struct cli_command *c, struct buf *out)
{
	buf_addf(out, "ooda %s%s%s", c->name, c->sub ? " " : "", c->sub ? c->sub : "");
	if (c->usage && *c->usage)
		buf_addf(out, " %s", c->usage);
	struct usage_ctx u = { c, out };
	options_each(c->options, usage_opt, &u);
}

struct opt_lines {
	const struct cli_command *c;
	struct buf *out;
	const char *fmt; /* "  %-24s %s\n" or markdown */
	bool markdown;
	int missing;
	struct buf *err;
};

static void opt_line(void *ctx, const char *name, bool takes)
{
	struct opt_lines *o = ctx;
	char mv[64], left[128];
	option_metavar(o->c, name, mv, sizeof(mv));
	snprintf(left, sizeof(left), takes ? "%s %s" : "%s", name, mv);
	const char *text = cli_option_doc(o->c, name);
	if (!text) {
		o->missing++;
		if (o->err) {
			char full[96];
			full_name(o->c, full, sizeof(full));
			buf_addf(o->err, "%s%s of `ooda %s` has no description in the option table of src/cli/main.c",
				 o->missing > 1 ? "; " : "", name, full);
		}
		text = "";
	}
	if (o->markdown)
		buf_addf(o->out, "- `%s`: %s\n", left, text);
	else
		buf_addf(o->out, "  %-26s %s\n", left, text);
}

static const char *stage_title(const char *name)
{
	for (size_t i = 0; i < N_STAGES; i++)
		if (name && !strcmp(stages[i].name, name))
			return stages[i].title;
	return NULL;
}

/* ---- help ----------------------------------------------------------------- */

void cli_help_command(const struct cli_command *c, struct buf *out)
{
	buf_adds(out, "usage: ");
	cli_usage_line(c, out);
	buf_addf(out, "\n\n%s\n", c->summary);
	if (c->options && *c->options) {
		buf_adds(out, "\nOptions:\n");
		struct opt_lines o = { .c = c, .out = out };
		options_each(c->options, opt_line, &o);
	}
	buf_adds(out, "\nGlobal options (before or after the command):\n");
	for (size_t i = 0; i < N_GLOBALS; i++) {
		char name[32], mv[32], left[64];
		global_name(i, name, sizeof(name));
		metavar(name, mv, sizeof(mv));
		snprintf(left, sizeof(left), strchr(globals[i].spec, '=') ? "%s %s" : "%s", name, mv);
		buf_addf(out, "  %-26s %s\n", left, globals[i].text);
	}
	buf_adds(out, "\nExit status: 0 ok, 1 failure (reported by the daemon, or a failed check), 2 usage");
	if (c->sub && !strcmp(c->name, "deploy") && !strcmp(c->sub, "verify"))
		buf_adds(out, ", 3 inconclusive");
	buf_adds(out, ".\n");
}

static bool is_group(const char *name)
{
	for (const struct cli_command *c = cli_commands; c->name; c++)
		if (!strcmp(c->name, name) && c->sub)
			return true;
	return false;
}

void cli_help_group(const char *name, struct buf *out)
{
	buf_addf(out, "usage: ooda %s SUBCOMMAND [ARGS] [OPTIONS]\n\nSubcommands:\n", name);
	for (const struct cli_command *c = cli_commands; c->name; c++)
		if (!strcmp(c->name, name)) {
			buf_adds(out, "  ");
			cli_usage_line(c, out);
			buf_addf(out, "\n      %s\n", c->summary);
		}
	buf_addf(out, "\n`ooda %s SUBCOMMAND --help` shows one subcommand's options.\n", name);
}

/* The first sentence of a summary, for the one-line overview. */
static void first_sentence(const char *s, struct buf *out)
{
	const char *end = s;
	while (*end && !(end[0] == '.' && (end[1] == ' ' || !end[1])))
		end++;
	buf_add(out, s, (size_t)(end - s));
}

void cli_help_all(struct buf *out)
{
	buf_adds(out, "ooda: observe, orient, decide, act, learn.\n\n"
		      "usage: ooda [GLOBAL OPTIONS] COMMAND [SUBCOMMAND] [ARGS] [OPTIONS]\n");
	for (size_t s = 0; s < N_STAGES; s++) {
		buf_addf(out, "\n%s\n", stages[s].title);
		for (const struct cli_command *c = cli_commands; c->name; c++) {
			if (!c->stage || strcmp(c->stage, stages[s].name))
				continue;
			char full[96];
			full_name(c, full, sizeof(full));
			buf_addf(out, "  %-24s ", full);
			first_sentence(c->summary, out);
			buf_addch(out, '\n');
		}
	}
	bool other = false; /* a row without a known stage is still listed (docs/cli.md refuses it) */
	for (const struct cli_command *c = cli_commands; c->name; c++) {
		if (stage_title(c->stage))
			continue;
		if (!other)
			buf_adds(out, "\nOther\n");
		other = true;
		char full[96];
		full_name(c, full, sizeof(full));
		buf_addf(out, "  %-24s ", full);
		first_sentence(c->summary, out);
		buf_addch(out, '\n');
	}
	buf_adds(out, "\nGlobal options: --server URL, --token TOKEN, --json, -h/--help; -V/--version alone.\n"
		      "`ooda COMMAND [SUBCOMMAND] --help` shows a command's options; `ooda completion bash|zsh|fish` "
		      "prints a completion script.\n"
		      "Exit status: 0 ok, 1 failure (reported by the daemon, or a failed check), 2 usage, "
		      "3 inconclusive (deploy verify).\n");
}

int cli_help(const char *name, const char *sub, struct buf *out, struct buf *err)
{
	if (!name) {
		cli_help_all(out);
		return 0;
	}
	for (const struct cli_command *c = cli_commands; c->name; c++) {
		if (strcmp(c->name, name))
			continue;
		if (!c->sub && !sub) {
			cli_help_command(c, out);
			return 0;
		}
		if (c->sub && sub && !strcmp(c->sub, sub)) {
			cli_help_command(c, out);
			return 0;
		}
	}
	if (!sub && is_group(name)) {
		cli_help_group(name, out);
		return 0;
	}
	cli_unknown_command(name, sub, err);
	return OODA_EINVAL;
}

/* ---- did you mean ------------------------------------------------------- */

size_t cli_edit_distance(const char *x, const char *y)
{
	size_t n = strlen(x), m = strlen(y);
	if (n > 63 || m > 63)
		return 64;
	size_t d[64][64];
	for (size_t i = 0; i <= n; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			size_t cost = x[i - 1] != y[j - 1];
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			/* a swap of two neighbours counts as one edit ("stauts") */
			if (i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[n][m];
}

/* Close enough to suggest: a prefix of 3+ characters, or few edits for the length. */
static bool close_to(const char *word, const char *cand, size_t *score)
{
	size_t wl = strlen(word);
	size_t d = cli_edit_distance(word, cand);
	size_t limit = wl <= 3 ? 1 : wl <= 6 ? 2 : 3;
	if (wl >= 3 && !strncmp(cand, word, wl) && strlen(cand) > wl)
		d = 1; /* "incid" → "incident" */
	*score = d;
	return d <= limit && d < wl;
}

const char *cli_suggest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t best_d = 99;
	for (size_t i = 0; i < n; i++) {
		size_t d;
		if (cands[i] && close_to(word, cands[i], &d) && d < best_d) {
			best = cands[i];
			best_d = d;
		}
	}
	return best;
}

void cli_unknown_command(const char *name, const char *sub, struct buf *err)
{
	const char *cands[256];
	size_t n = 0;
	bool known = false;
	for (const struct cli_command *c = cli_commands; c->name && n < 256; c++) {
		if (!strcmp(c->name, name))
			known = true;
		if (!known || strcmp(c->name, name)) {
			if (!n || strcmp(cands[n - 1], c->name))
				cands[n++] = c->name;
		}
	}
	if (known && sub) {
		n = 0;
		for (const struct cli_command *c = cli_commands; c->name && n < 256; c++)
			if (!strcmp(c->name, name) && c->sub)
				cands[n++] = c->sub;
		const char *s = cli_suggest(sub, cands, n);
		buf_addf(err, "unknown subcommand \"%s\" for `ooda %s`", sub, name);
		if (s)
			buf_addf(err, "; did you mean `ooda %s %s`?", name, s);
		buf_addf(err, " See `ooda help %s`.", name);
		return;
	}
	const char *s = cli_suggest(name, cands, n);
	buf_addf(err, "unknown command \"%s\"", name);
	if (s)
		buf_addf(err, "; did you mean `ooda %s`?", s);
	buf_adds(err, " See `ooda help`.");
}

struct opt_cands {
	const char *names[64];
	char store[64][64];
	size_t n;
};

static void opt_cand(void *ctx, const char *name, bool takes)
{
	struct opt_cands *o = ctx;
	(void)takes;
	if (o->n < 64) {
		snprintf(o->store[o->n], sizeof(o->store[o->n]), "%s", name);
		o->names[o->n] = o->store[o->n];
		o->n++;
	}
}

void cli_unknown_option(const struct cli_command *c, const char *option, struct buf *err)
{
	struct opt_cands o = { .n = 0 };
	options_each(c->options, opt_cand, &o);
	options_each(cli_global_options, opt_cand, &o);
	const char *s = cli_suggest(option, o.names, o.n);
	char full[96];
	full_name(c, full, sizeof(full));
	buf_addf(err, "unknown option %s for `ooda %s`", option, full);
	if (s)
		buf_addf(err, "; did you mean %s?", s);
	buf_addf(err, " See `ooda %s --help`.", full);
}

/* ---- docs/cli.md ----------------------------------------------------------- */

int cli_docs_markdown(struct buf *out, struct buf *err)
{
	buf_adds(out, "# Command line\n\n"
		      "Generated by `ooda docs cli` from the command table and the option descriptions in\n"
		      "`src/cli/main.c`; a test fails when this file and the table disagree.\n\n"
		      "    ooda [GLOBAL OPTIONS] COMMAND [SUBCOMMAND] [ARGS] [OPTIONS]\n\n"
		      "Options go before or after the command (`ooda --server URL status` and\n"
		      "`ooda status --server URL` are the same); an option before the command must be\n"
		      "one the command takes. `--name=value` and `--name value` are the same.\n"
		      "`ooda help` lists the commands by stage; `ooda COMMAND [SUBCOMMAND] --help` (or `-h`)\n"
		      "prints one command's options and exits 0; `-V` or `--version` prints the version.\n"
		      "A mistyped command, subcommand or option is refused with the closest known one\n"
		      "(\"did you mean …\").\n\n"
		      "## Global options\n\n");
	for (size_t i = 0; i < N_GLOBALS; i++) {
		char name[32], mv[32];
		global_name(i, name, sizeof(name));
		metavar(name, mv, sizeof(mv));
		buf_addf(out, "- `%s%s%s`: %s\n", name, strchr(globals[i].spec, '=') ? " " : "",
			 strchr(globals[i].spec, '=') ? mv : "", globals[i].text);
	}
	buf_adds(out, "\nWhere the server and token come from, first match wins: the flag, the environment variable, "
		      "the context file `ooda login` writes (`$XDG_CONFIG_HOME/ooda/config`, else "
		      "`~/.config/ooda/config`; lines `server = URL` and `token_file = PATH`), the default. "
		      "The context's token is sent only to the context's server; a token file group or others "
		      "can read is refused. `ooda status` shows which were used; commands that change something "
		      "name the server they changed. A 401 answer says how to send a token: set `OODA_TOKEN`, "
		      "pass `--token`, or run `ooda login`.\n\n"
		      "## Exit status\n\n"
		      "The same for every command:\n\n"
		      "- `0`: done (for a check: it passed).\n"
		      "- `1`: a failure the daemon reported (any 4xx or 5xx answer, a refused token, an unknown id), "
		      "the daemon could not be reached, or a check failed (`config check` found problems, "
		      "`deploy verify` failed, `audit verify` found a broken chain, `rollback plan` is blocked, "
		      "`telemetry check` found damaged blocks).\n"
		      "- `2`: usage: an unknown command, subcommand or option, a missing argument, a bad value "
		      "on the command line, or a file it names that cannot be parsed (`analyze rca` CSVs, "
		      "`audit verify --checkpoint`).\n"
		      "- `3`: inconclusive: `deploy verify` had too little data to pass or fail. A CI gate that "
		      "treats only `0` as a pass never lets \"too little data\" through.\n\n"
		      "`ooda heartbeat NAME -- COMMAND` exits with COMMAND's own status.\n\n"
		      "## JSON output\n\n"
		      "Without `--json` no command prints JSON, except where JSON is the data itself: "
		      "`flags get` and `flags export` print flagd flag definitions, `config get` prints the stored "
		      "config set, `audit anchor` prints its anchor line. "
		      "With `--json`, every command that prints data prints it as JSON on stdout (the daemon's "
		      "answer as it is, or one object for local commands such as `version` and `config check`; "
		      "`logs tail --json` prints one log object per line). "
		      "`serve`, `help`, `docs`, `completion` and `heartbeat` have no data to print as JSON and "
		      "refuse `--json` (exit 2) rather than ignore it. "
		      "An error with `--json` is one JSON object on stderr, so stdout holds only data:\n\n"
		      "    {\"error\":{\"status\":404,\"title\":\"Not Found\",\"detail\":\"…\",\"exit\":1}}\n\n"
		      "`status` is the HTTP status the daemon answered with, or `null` when the error happened in the "
		      "CLI (usage, the daemon unreachable, a failed check); `title` is the problem's title (or the "
		      "error's name); `exit` is the exit status.\n\n"
		      "## Shell completion\n\n"
		      "`ooda completion bash|zsh|fish` prints a completion script generated from the command table "
		      "(commands, subcommands, each command's options):\n\n"
		      "    source <(ooda completion bash)          # bash, e.g. in ~/.bashrc\n"
		      "    source <(ooda completion zsh)           # zsh (through bashcompinit)\n"
		      "    ooda completion fish | source           # fish\n\n"
		      "## Commands\n");
	int missing = 0;
	for (size_t s = 0; s < N_STAGES; s++) {
		buf_addf(out, "\n### %s\n\n", stages[s].title);
		for (const struct cli_command *c = cli_commands; c->name; c++) {
			if (!c->stage || strcmp(c->stage, stages[s].name))
				continue;
			buf_adds(out, "- `");
			cli_usage_line(c, out);
			buf_addf(out, "`\n  %s\n", c->summary);
			struct buf opts = BUF_INIT;
			struct opt_lines o = { .c = c, .out = &opts, .markdown = true, .err = err };
			options_each(c->options, opt_line, &o);
			missing += o.missing;
			for (const char *p = opts.data; *p;) {
				const char *nl = strchr(p, '\n');
				buf_adds(out, "  ");
				buf_add(out, p, (size_t)(nl - p) + 1);
				p = nl + 1;
			}
			buf_release(&opts);
		}
	}
	for (const struct cli_command *c = cli_commands; c->name; c++)
		if (!stage_title(c->stage)) {
			char full[96];
			full_name(c, full, sizeof(full));
			buf_addf(err, "%s`ooda %s` has no stage (observe, orient, decide, act, learn or admin) in the "
				      "command table",
				 err->len ? "; " : "", full);
			missing++;
		}
	return missing ? OODA_EINVAL : 0;
}

/* ---- completion --------------------------------------------------------- */

static void add_word(struct buf *out, const char *w)
{
	if (out->len)
		buf_addch(out, ' ');
	buf_adds(out, w);
}

static void opt_word(void *ctx, const char *name, bool takes)
{
	(void)takes;
	add_word(ctx, name);
}

static void value_word(void *ctx, const char *name, bool takes)
{
	struct buf *out = ctx;
	if (!takes)
		return;
	char pat[80];
	snprintf(pat, sizeof(pat), "|%s|", name);
	if (!strstr(out->data, pat)) {
		buf_adds(out, name);
		buf_adds(out, "|");
	}
}

/* The distinct command names, in table order. */
static size_t command_names(const char **names, size_t cap)
{
	size_t n = 0;
	for (const struct cli_command *c = cli_commands; c->name; c++) {
		bool seen = false;
		for (size_t i = 0; i < n; i++)
			seen = seen || !strcmp(names[i], c->name);
		if (!seen && n < cap)
			names[n++] = c->name;
	}
	return n;
}

static void completion_bash(struct buf *out)
{
	const char *names[256];
	size_t n = command_names(names, 256);
	struct buf words = BUF_INIT, vals = BUF_INIT;
	for (size_t i = 0; i < n; i++)
		add_word(&words, names[i]);
	add_word(&words, "--server --token --json --help --version");
	buf_adds(&vals, "|--server|--token|");
	for (const struct cli_command *c = cli_commands; c->name; c++)
		options_each(c->options, value_word, &vals);
	/* "|--a|--b|" → "--a|--b" for a case pattern */
	struct buf pat = BUF_INIT;
	buf_add(&pat, vals.data + 1, vals.len - 2);
	buf_addf(out, "# bash completion for ooda, generated by `ooda completion bash` from its command table.\n"
		      "# Use: source <(ooda completion bash)\n"
		      "_ooda() {\n"
		      "\t[[ -n ${ZSH_VERSION-} ]] && setopt localoptions ksharrays # zsh: arrays from 0, as in bash\n"
		      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
		      "\tlocal cmd= sub= subs= words= i w\n"
		      "\tcase $prev in\n\t%s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n\tesac\n"
		      "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
		      "\t\tw=${COMP_WORDS[i]}\n"
		      "\t\tcase $w in\n"
		      "\t\t%s) ((i++)) ;;\n"
		      "\t\t-*) ;;\n"
		      "\t\t*) if [[ -z $cmd ]]; then cmd=$w; elif [[ -z $sub ]]; then sub=$w; fi ;;\n"
		      "\t\tesac\n"
		      "\tdone\n"
		      "\tif [[ -z $cmd ]]; then\n"
		      "\t\tCOMPREPLY=($(compgen -W \"%s\" -- \"$cur\"))\n"
		      "\t\treturn\n"
		      "\tfi\n"
		      "\tcase $cmd in\n",
		 pat.data, pat.data, words.data);
	for (size_t i = 0; i < n; i++) {
		struct buf subs = BUF_INIT;
		for (const struct cli_command *c = cli_commands; c->name; c++)
			if (!strcmp(c->name, names[i]) && c->sub)
				add_word(&subs, c->sub);
		if (subs.len)
			buf_addf(out, "\t%s) subs=\"%s\" ;;\n", names[i], subs.data);
		buf_release(&subs);
	}
	buf_adds(out, "\tesac\n"
		      "\tif [[ -n $subs && -z $sub ]]; then\n"
		      "\t\tCOMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
		      "\t\treturn\n"
		      "\tfi\n"
		      "\tlocal key=$cmd\n"
		      "\t[[ -n $subs ]] && key=\"$cmd $sub\"\n"
		      "\tcase $key in\n");
	for (const struct cli_command *c = cli_commands; c->name; c++) {
		struct buf ow = BUF_INIT;
		options_each(c->options, opt_word, &ow);
		if (ow.len)
			buf_addf(out, "\t\"%s%s%s\") words=\"%s\" ;;\n", c->name, c->sub ? " " : "", c->sub ? c->sub : "",
				 ow.data);
		buf_release(&ow);
	}
	buf_adds(out, "\tesac\n"
		      "\tCOMPREPLY=($(compgen -W \"$words --server --token --json --help\" -- \"$cur\"))\n"
		      "}\n"
		      "complete -o default -F _ooda ooda\n");
	buf_release(&words);
	buf_release(&vals);
	buf_release(&pat);
}

/* A description for fish: single quotes escaped, at most one sentence of 90 characters. */
static void fish_text(struct buf *out, const char *s)
{
	struct buf t = BUF_INIT;
	first_sentence(s, &t);
	size_t n = t.len > 90 ? 90 : t.len;
	while (n < t.len && n && ((unsigned char)t.data[n] & 0xC0) == 0x80)
		n--; /* never cut a UTF-8 character in two */
	for (size_t i = 0; i < n; i++) {
		if (t.data[i] == '\'' || t.data[i] == '\\')
			buf_addch(out, '\\');
		buf_addch(out, t.data[i]);
	}
	buf_release(&t);
}

struct fish_ctx {
	struct buf *out;
	const struct cli_command *c;
	const char *cond;
};

static void fish_opt(void *ctx, const char *name, bool takes)
{
	struct fish_ctx *f = ctx;
	buf_addf(f->out, "complete -c ooda -n '%s' -l %s%s -d '", f->cond, name + 2, takes ? " -r" : "");
	const char *text = cli_option_doc(f->c, name);
	fish_text(f->out, text ? text : "");
	buf_adds(f->out, "'\n");
}

static void completion_fish(struct buf *out)
{
	const char *names[256];
	size_t n = command_names(names, 256);
	buf_adds(out, "# fish completion for ooda, generated by `ooda completion fish` from its command table.\n"
		      "# Use: ooda completion fish | source\n"
		      "complete -c ooda -f\n");
	for (size_t i = 0; i < N_GLOBALS; i++) {
		char name[32];
		global_name(i, name, sizeof(name));
		buf_addf(out, "complete -c ooda -l %s%s -d '", name + 2, strchr(globals[i].spec, '=') ? " -r" : "");
		fish_text(out, globals[i].text);
		buf_adds(out, "'\n");
	}
	for (size_t i = 0; i < n; i++) {
		struct buf subs = BUF_INIT;
		const struct cli_command *single = NULL;
		for (const struct cli_command *c = cli_commands; c->name; c++)
			if (!strcmp(c->name, names[i])) {
				if (c->sub)
					add_word(&subs, c->sub);
				else
					single = c;
			}
		buf_addf(out, "complete -c ooda -n __fish_use_subcommand -a %s -d '", names[i]);
		if (single)
			fish_text(out, single->summary);
		else
			buf_addf(out, "%s", subs.data);
		buf_adds(out, "'\n");
		char cond[1024];
		if (single) {
			snprintf(cond, sizeof(cond), "__fish_seen_subcommand_from %s", names[i]);
			struct fish_ctx f = { out, single, cond };
			options_each(single->options, fish_opt, &f);
		}
		for (const struct cli_command *c = cli_commands; c->name; c++) {
			if (strcmp(c->name, names[i]) || !c->sub)
				continue;
			snprintf(cond, sizeof(cond), "__fish_seen_subcommand_from %s; and not __fish_seen_subcommand_from %s",
				 names[i], subs.data);
			buf_addf(out, "complete -c ooda -n '%s' -a %s -d '", cond, c->sub);
			fish_text(out, c->summary);
			buf_adds(out, "'\n");
			snprintf(cond, sizeof(cond), "__fish_seen_subcommand_from %s; and __fish_seen_subcommand_from %s",
				 names[i], c->sub);
			struct fish_ctx f = { out, c, cond };
			options_each(c->options, fish_opt, &f);
		}
		buf_release(&subs);
	}
}

int cli_completion(const char *shell, struct buf *out, struct buf *err)
{
	if (shell && !strcmp(shell, "bash")) {
		completion_bash(out);
	} else if (shell && !strcmp(shell, "zsh")) {
		buf_adds(out, "#compdef ooda\n"
			      "# zsh completion for ooda: the bash completion below, through zsh's bashcompinit.\n"
			      "# Use: source <(ooda completion zsh)\n"
			      "(( $+functions[compdef] )) || { autoload -U +X compinit && compinit; }\n"
			      "autoload -U +X bashcompinit && bashcompinit\n");
		completion_bash(out);
	} else if (shell && !strcmp(shell, "fish")) {
		completion_fish(out);
	} else {
		buf_adds(err, "usage: ooda completion bash|zsh|fish");
		return OODA_EINVAL;
	}
	return 0;
}
