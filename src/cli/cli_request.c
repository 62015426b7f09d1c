/*
 * The request shapes nearly every command repeats, once: a call on one
 * item of a collection (/api/v1/runs/ID/approve), a list with its filters
 * from options (--service → ?service=), the --rationale every change
 * carries, and the file a command reads its document from. Each ends in
 * cli_call_json (main.c), which prints the answer itself under --json.
 */
#include "cli/cli.h"
#include "core/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_call_item(struct cli_args *a, const char *method, const char *prefix, const char *id, const char *tail,
		  json_t *body, json_t **out, struct buf *err)
{
	struct buf path = BUF_INIT;
	buf_adds(&path, prefix);
	client_urlencode(&path, id);
	buf_adds(&path, tail);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	int rc = cli_call_json(a, method, path.data, text, out, err);
	free(text);
	buf_release(&path);
	return rc;
}

int cli_show_item(struct cli_args *a, const char *method, const char *prefix, const char *id, const char *tail,
		  json_t *body, void (*print)(json_t *j), struct buf *err)
{
	json_t *j;
	int rc = cli_call_item(a, method, prefix, id, tail, body, &j, err);
	if (!rc && !a->json)
		print(j);
	json_decref(j);
	return rc;
}

int cli_get_filtered(struct cli_args *a, const char *path, const char *const *opts, json_t **out, struct buf *err)
{
	struct buf p = BUF_INIT;
	buf_adds(&p, path);
	for (size_t i = 0; opts && opts[i]; i++)
		cli_param(&p, opts[i] + 2, cli_opt(a, opts[i]));
	int rc = cli_call_json(a, "GET", p.data, NULL, out, err);
	buf_release(&p);
	return rc;
}

const char *cli_rationale(const struct cli_args *a)
{
	const char *r = cli_opt(a, "--rationale");
	return r ? r : "";
}

const char *cli_strip_v(const char *s)
{
	return s && (*s == 'v' || *s == 'V') ? s + 1 : s;
}

int cli_read_file(const char *file, size_t max, const char *what, struct buf *out, struct buf *err)
{
	FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!f) {
		buf_addf(err, "cannot open %s: %s", file, strerror(errno));
		return OODA_EIO;
	}
	char chunk[8192];
	size_t n;
	size_t start = out->len;
	while (out->len - start <= max && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(out, chunk, n);
	if (f != stdin)
		fclose(f);
	if (out->len - start > max) {
		buf_addf(err, "%s: %s is at most %zu bytes", file, what, max);
		return OODA_ETOOBIG;
	}
	return 0;
}
