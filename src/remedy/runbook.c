/*
 * The runbook parser (runbook.h): front matter between two "---" lines
 * (name, title, services, templates), then Markdown in which only list
 * items that are checklist items ("- [ ] …", "- [x] …"), automated items
 * ("- [auto] RECIPE/VARIANT key=value …") and fenced ```step blocks are
 * steps; headings and prose are kept in the source and ignored here.
 */
#include "remedy/runbook.h"

#include "core/error.h"
#include "core/xalloc.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

static const char NAME_CHARS[] = "abcdefghijklmnopqrstuvwxyz0123456789-_.";

/* One line: [*p, eol) without the newline; advances *p past it. */
static size_t line_next(const char **p, const char *end, const char **eol)
{
	const char *s = *p, *e = memchr(s, '\n', (size_t)(end - s));
	if (!e)
		e = end;
	*eol = (e > s && e[-1] == '\r') ? e - 1 : e;
	*p = e < end ? e + 1 : end;
	return (size_t)(*eol - s);
}

static json_t *trimmed(const char *s, const char *e)
{
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	return json_stringn(s, (size_t)(e - s));
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= 128 && strspn(s, NAME_CHARS) == n;
}

/* "a, b" or "[a, b]" into a list of names. */
static int list_parse(const char *s, const char *e, const char *field, json_t *out, struct buf *err)
{
	while (s < e && isspace((unsigned char)*s))
		s++;
	if (s < e && *s == '[') {
		s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		if (e == s || e[-1] != ']') {
			buf_addf(err, "%s: a list such as [a, b] or a, b", field);
			return OODA_EINVAL;
		}
		e--;
	}
	while (s < e) {
		const char *c = memchr(s, ',', (size_t)(e - s));
		if (!c)
			c = e;
		json_t *item = trimmed(s, c);
		if (!item || !name_ok(json_string_value(item)) || json_array_size(out) >= RUNBOOK_MAX_LIST) {
			json_decref(item);
			buf_addf(err, "%s: at most %d names of a-z, 0-9, '-', '_', '.'", field, RUNBOOK_MAX_LIST);
			return OODA_EINVAL;
		}
		json_array_append_new(out, item);
		s = c + 1;
	}
	return 0;
}

static int front_matter(json_t *doc, const char *s, const char *e, int line, struct buf *err)
{
	const char *colon = memchr(s, ':', (size_t)(e - s));
	if (!colon) {
		buf_addf(err, "line %d: front matter lines are KEY: VALUE", line);
		return OODA_EINVAL;
	}
	json_t *key = trimmed(s, colon);
	const char *k = key ? json_string_value(key) : "";
	int rc = 0;
	if (!strcmp(k, "name") || !strcmp(k, "title")) {
		json_t *v = trimmed(colon + 1, e);
		const char *vs = v ? json_string_value(v) : NULL;
		if (!vs || (!strcmp(k, "name") ? !name_ok(vs) : (!*vs || strlen(vs) > 256))) {
			buf_addf(err, !strcmp(k, "name") ? "name: 1 to 128 of a-z, 0-9, '-', '_', '.'"
							  : "title: a text of 1 to 256 bytes");
			json_decref(v);
			rc = OODA_EINVAL;
		} else {
			json_object_set_new(doc, k, v);
		}
	} else if (!strcmp(k, "services") || !strcmp(k, "templates")) {
		rc = list_parse(colon + 1, e, k, json_object_get(doc, k), err);
	} else {
		buf_addf(err, "line %d: %s: unknown key (name, title, services, templates)", line, k);
		rc = OODA_EINVAL;
	}
	json_decref(key);
	return rc;
}

/* "RECIPE/VARIANT key=value …" into {"recipe": {name, variant, params}}. */
static int auto_parse(const char *s, const char *e, int line, json_t **step, struct buf *err)
{
	json_t *ref = json_object(), *params = json_object();
	int rc = 0, n = 0;
	while (s < e && !rc) {
		while (s < e && isspace((unsigned char)*s))
			s++;
		const char *w = s;
		while (s < e && !isspace((unsigned char)*s))
			s++;
		if (w == s)
			break;
		const char *eq = memchr(w, '=', (size_t)(s - w));
		if (n++ == 0) {
			const char *slash = memchr(w, '/', (size_t)(s - w));
			json_object_set_new(ref, "name", json_stringn(w, (size_t)((slash ? slash : s) - w)));
			if (slash)
				json_object_set_new(ref, "variant", json_stringn(slash + 1, (size_t)(s - slash - 1)));
		} else if (!eq || eq == w) {
			buf_addf(err, "line %d: automated step: after the recipe come key=value params", line);
			rc = OODA_EINVAL;
		} else if (json_object_size(params) >= RUNBOOK_MAX_PARAMS) {
			buf_addf(err, "line %d: automated step: at most %d params", line, RUNBOOK_MAX_PARAMS);
			rc = OODA_EINVAL;
		} else {
			char key[64];
			size_t kl = (size_t)(eq - w);
			if (kl >= sizeof(key)) {
				buf_addf(err, "line %d: automated step: a param name of at most 63 bytes", line);
				rc = OODA_EINVAL;
				break;
			}
			memcpy(key, w, kl);
			key[kl] = '\0';
			json_t *v = json_stringn(eq + 1, (size_t)(s - eq - 1));
			if (!v) {
				buf_addf(err, "line %d: automated step: param %s is not UTF-8", line, key);
				rc = OODA_EINVAL;
			} else {
				json_object_set_new(params, key, v);
			}
		}
	}
	if (!rc && !json_object_get(ref, "name")) {
		buf_addf(err, "line %d: automated step: - [auto] RECIPE/VARIANT key=value …", line);
		rc = OODA_EINVAL;
	}
	if (!rc && !json_string_value(json_object_get(ref, "name"))) {
		buf_addf(err, "line %d: automated step: the recipe name is not UTF-8", line);
		rc = OODA_EINVAL;
	}
	if (rc) {
		json_decref(ref);
		json_decref(params);
		return rc;
	}
	json_object_set_new(ref, "params", params);
	*step = json_pack("{so}", "recipe", ref);
	return 0;
}

static int step_add(json_t *doc, const char *kind, json_t *text, json_t *step, int line, struct buf *err)
{
	json_t *steps = json_object_get(doc, "steps");
	if (json_array_size(steps) >= RUNBOOK_MAX_STEPS || !text) {
		buf_addf(err, text ? "line %d: at most %d steps" : "line %d: not UTF-8", line, RUNBOOK_MAX_STEPS);
		json_decref(text);
		json_decref(step);
		return OODA_EINVAL;
	}
	json_array_append_new(steps, json_pack("{sI ss so so*}", "n", (json_int_t)json_array_size(steps) + 1, "kind", kind,
					       "text", text, "step", step));
	return 0;
}

int runbook_parse(const char *text, size_t len, json_t **out, struct buf *err)
{
	*out = NULL;
	if (!text || len > RUNBOOK_MAX_BYTES) {
		buf_addf(err, "runbook: at most %d bytes", RUNBOOK_MAX_BYTES);
		return OODA_EINVAL;
	}
	json_t *doc = json_pack("{s[] s[] s[]}", "services", "templates", "steps");
	const char *p = text, *end = text + len, *eol;
	int line = 0, rc = 0;
	enum { BODY, FRONT, FENCE } mode = BODY;
	struct buf fence = BUF_INIT;
	int fence_line = 0;
	bool in_step_fence = false;
	while (p < end && !rc) {
		const char *s = p;
		size_t n = line_next(&p, end, &eol);
		line++;
		if (memchr(s, '\0', n)) {
			buf_addf(err, "line %d: a NUL byte", line);
			rc = OODA_EINVAL;
			break;
		}
		bool dashes = n >= 3 && !memcmp(s, "---", 3) && n == 3;
		if (line == 1 && dashes) {
			mode = FRONT;
			continue;
		}
		if (mode == FRONT) {
			if (dashes)
				mode = BODY;
			else if (n && s[0] != '#')
				rc = front_matter(doc, s, eol, line, err);
			continue;
		}
		bool ticks = n >= 3 && !memcmp(s, "```", 3);
		if (mode == FENCE) {
			if (!ticks) {
				if (in_step_fence) {
					if (fence.len + n + 1 > RUNBOOK_MAX_LINE * 4) {
						buf_addf(err, "line %d: a step block of at most %d bytes", fence_line,
							 RUNBOOK_MAX_LINE * 4);
						rc = OODA_EINVAL;
					}
					buf_add(&fence, s, n);
					buf_adds(&fence, "\n");
				}
				continue;
			}
			mode = BODY;
			if (!in_step_fence)
				continue;
			json_error_t je;
			json_t *st = json_loadb(fence.data ? fence.data : "", fence.len, JSON_REJECT_DUPLICATES, &je);
			if (!json_is_object(st) || json_object_size(st) == 0) {
				buf_addf(err, "line %d: a step block holds one JSON mapping such as {\"wait\": \"1s\"}%s%s",
					 fence_line, st ? "" : ": ", st ? "" : je.text);
				json_decref(st);
				rc = OODA_EINVAL;
			} else {
				char *t = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
				rc = step_add(doc, "auto", json_string(t), st, fence_line, err);
				free(t);
			}
			buf_reset(&fence);
			continue;
		}
		if (ticks) {
			mode = FENCE;
			fence_line = line;
			json_t *lang = trimmed(s + 3, eol);
			in_step_fence = lang && !strcmp(json_string_value(lang), "step");
			json_decref(lang);
			continue;
		}
		if (n > RUNBOOK_MAX_LINE) {
			buf_addf(err, "line %d: at most %d bytes", line, RUNBOOK_MAX_LINE);
			rc = OODA_EINVAL;
			break;
		}
		const char *q = s;
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if (!json_object_get(doc, "title") && eol - q > 2 && !memcmp(q, "# ", 2)) {
			json_t *t = trimmed(q + 2, eol);
			if (t && json_string_length(t) && json_string_length(t) <= 256)
				json_object_set_new(doc, "title", t);
			else
				json_decref(t);
			continue;
		}
		if (eol - q < 2 || (q[0] != '-' && q[0] != '*') || q[1] != ' ')
			continue;
		q += 2;
		if (eol - q >= 3 && (!memcmp(q, "[ ]", 3) || !memcmp(q, "[x]", 3) || !memcmp(q, "[X]", 3))) {
			json_t *t = trimmed(q + 3, eol);
			if (t && !json_string_length(t)) {
				buf_addf(err, "line %d: a checklist item needs its text", line);
				json_decref(t);
				rc = OODA_EINVAL;
			} else {
				rc = step_add(doc, "manual", t, NULL, line, err);
			}
		} else if (eol - q >= 6 && !memcmp(q, "[auto]", 6)) {
			json_t *st = NULL;
			rc = auto_parse(q + 6, eol, line, &st, err);
			if (!rc)
				rc = step_add(doc, "auto", trimmed(q + 6, eol), st, line, err);
		}
	}
	if (!rc && mode == FRONT) {
		buf_adds(err, "front matter: no closing --- line");
		rc = OODA_EINVAL;
	}
	if (!rc && mode == FENCE) {
		buf_addf(err, "line %d: a ``` block that is never closed", fence_line);
		rc = OODA_EINVAL;
	}
	if (!rc && !json_object_get(doc, "name")) {
		buf_adds(err, "name: required (front matter: name: NAME)");
		rc = OODA_EINVAL;
	}
	if (!rc && !json_array_size(json_object_get(doc, "steps"))) {
		buf_adds(err, "steps: none found (- [ ] TEXT, - [auto] RECIPE/VARIANT k=v, or a ```step block)");
		rc = OODA_EINVAL;
	}
	json_t *src = rc ? NULL : json_stringn(text, len);
	if (!rc && !src) {
		buf_adds(err, "runbook: not UTF-8");
		rc = OODA_EINVAL;
	}
	buf_release(&fence);
	if (rc) {
		json_decref(doc);
		return rc;
	}
	json_object_set_new(doc, "source", src);
	*out = doc;
	return 0;
}
