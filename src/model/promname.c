/*
 * OTLP names as Prometheus names (see promname.h for the rules). A name is
 * cut into words, the unit's and the type's words are added as Prometheus'
 * OTLP receiver adds them, and the words are joined again: with `_` when
 * escaping, with the name's own separators when UTF-8 names are kept. The
 * unit words come from two tables (UCUM unit → Prometheus word).
 */
#include "model/promname.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const char *const promname_strategy_names[] = {
	[PROMNAME_UNDERSCORE_ESCAPING] = "UnderscoreEscapingWithSuffixes",
	[PROMNAME_NO_UTF8_ESCAPING] = "NoUTF8EscapingWithSuffixes",
	NULL,
};

int promname_strategy_parse(const char *s)
{
	for (int i = 0; s && promname_strategy_names[i]; i++)
		if (!strcmp(s, promname_strategy_names[i]))
			return i;
	return -1;
}

struct unit_word {
	const char *ucum, *word;
};

/* The unit before a `/`. */
static const struct unit_word main_units[] = {
	/* time */
	{ "d", "days" }, { "h", "hours" }, { "min", "minutes" }, { "s", "seconds" },
	{ "ms", "milliseconds" }, { "us", "microseconds" }, { "ns", "nanoseconds" },
	/* bytes */
	{ "By", "bytes" }, { "KiBy", "kibibytes" }, { "MiBy", "mebibytes" }, { "GiBy", "gibibytes" },
	{ "TiBy", "tibibytes" }, { "KBy", "kilobytes" }, { "MBy", "megabytes" }, { "GBy", "gigabytes" },
	{ "TBy", "terabytes" },
	/* SI */
	{ "m", "meters" }, { "V", "volts" }, { "A", "amperes" }, { "J", "joules" }, { "W", "watts" },
	{ "g", "grams" },
	/* others */
	{ "Cel", "celsius" }, { "Hz", "hertz" }, { "1", "" }, { "%", "percent" },
	{ NULL, NULL },
};

/* The unit after a `/`. */
static const struct unit_word per_units[] = {
	{ "s", "second" }, { "m", "minute" }, { "h", "hour" }, { "d", "day" },
	{ "w", "week" }, { "mo", "month" }, { "y", "year" },
	{ NULL, NULL },
};

#define MAX_WORDS 128
#define MAX_INPUT 4096

struct word {
	const char *p;
	size_t n;
	const char *sep; /* the characters before it in the name; NULL: `_` */
	size_t sep_n;
};

static bool word_byte(unsigned char c, int strategy)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
	       (c >= 0x80 && strategy == PROMNAME_NO_UTF8_ESCAPING);
}

static bool alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*
 * The Prometheus word of one side of a unit (n bytes at u) into out: the
 * table's word, else the unit itself with every run of characters outside
 * [a-zA-Z0-9] as one `_` (ends trimmed); nothing for an annotation
 * (anything with braces). Returns the length.
 */
static size_t unit_word(const char *u, size_t n, const struct unit_word *map, char *out, size_t size)
{
	while (n && (*u == ' ' || *u == '\t'))
		u++, n--;
	while (n && (u[n - 1] == ' ' || u[n - 1] == '\t'))
		n--;
	out[0] = 0;
	if (!n || memchr(u, '{', n) || memchr(u, '}', n))
		return 0;
	for (const struct unit_word *m = map; m->ucum; m++)
		if (strlen(m->ucum) == n && !memcmp(m->ucum, u, n))
			return (size_t)snprintf(out, size, "%s", m->word);
	size_t k = 0;
	bool gap = false;
	for (size_t i = 0; i < n && k + 2 < size; i++) {
		if (!alnum((unsigned char)u[i])) {
			gap = k > 0;
			continue;
		}
		if (gap)
			out[k++] = '_';
		gap = false;
		out[k++] = u[i];
	}
	out[k] = 0;
	return k;
}

static bool has_word(const struct word *w, size_t n, const char *s)
{
	size_t len = strlen(s);
	for (size_t i = 0; i < n; i++)
		if (w[i].n == len && !memcmp(w[i].p, s, len))
			return true;
	return false;
}

/* Drops every word equal to s; returns the new count. */
static size_t drop_word(struct word *w, size_t n, const char *s)
{
	size_t len = strlen(s), k = 0;
	for (size_t i = 0; i < n; i++)
		if (!(w[i].n == len && !memcmp(w[i].p, s, len)))
			w[k++] = w[i];
	return k;
}

/* Terminates out after k bytes; after a cut, drops a UTF-8 character the cut left incomplete. */
static size_t terminate(char *out, size_t k, size_t size, bool cut)
{
	if (k >= size)
		k = size - 1;
	if (cut && k) {
		size_t j = k - 1;
		while (j && ((unsigned char)out[j] & 0xC0) == 0x80)
			j--;
		unsigned char lead = (unsigned char)out[j];
		size_t len = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
		if (j + len > k)
			k = j;
	}
	out[k] = 0;
	return k;
}

size_t promname_metric(const char *name, const char *unit, enum promname_kind kind, int strategy, char *out,
		       size_t size)
{
	if (!size)
		return 0;
	if (size > PROMNAME_MAX)
		size = PROMNAME_MAX;
	struct word w[MAX_WORDS + 8];
	size_t nw = 0;
	const char *sep = NULL;
	size_t sep_n = 0;
	const char *s = name ? name : "";
	const char *end = s + strnlen(s, MAX_INPUT);
	while (s < end && nw < MAX_WORDS) {
		const char *st = s;
		if (!word_byte((unsigned char)*s, strategy)) {
			while (s < end && !word_byte((unsigned char)*s, strategy))
				s++;
			sep = st;
			sep_n = (size_t)(s - st);
			continue;
		}
		while (s < end && word_byte((unsigned char)*s, strategy))
			s++;
		w[nw].p = st;
		w[nw].n = (size_t)(s - st);
		w[nw].sep = sep;
		w[nw].sep_n = sep_n;
		nw++;
		sep = NULL;
		sep_n = 0;
	}
	/* the unit: main word, then per_<word> */
	char mainw[64], perw[64];
	mainw[0] = perw[0] = 0;
	if (unit && *unit) {
		size_t ul = strnlen(unit, 256);
		const char *slash = memchr(unit, '/', ul);
		size_t mn = slash ? (size_t)(slash - unit) : ul;
		unit_word(unit, mn, main_units, mainw, sizeof(mainw));
		if (slash)
			unit_word(slash + 1, ul - mn - 1, per_units, perw, sizeof(perw));
	}
	if (*mainw && !has_word(w, nw, mainw))
		w[nw++] = (struct word){ mainw, strlen(mainw), NULL, 0 };
	if (*perw && !has_word(w, nw, perw)) {
		w[nw++] = (struct word){ "per", 3, NULL, 0 };
		w[nw++] = (struct word){ perw, strlen(perw), NULL, 0 };
	}
	if (kind == PROMNAME_COUNTER) {
		nw = drop_word(w, nw, "total");
		w[nw++] = (struct word){ "total", 5, NULL, 0 };
	}
	if (kind == PROMNAME_GAUGE && unit && !strcmp(unit, "1")) {
		nw = drop_word(w, nw, "ratio");
		w[nw++] = (struct word){ "ratio", 5, NULL, 0 };
	}
	size_t k = 0;
	bool cut = false;
	if (nw && strategy != PROMNAME_NO_UTF8_ESCAPING && w[0].p[0] >= '0' && w[0].p[0] <= '9' && k + 1 < size)
		out[k++] = '_';
	for (size_t i = 0; i < nw && !cut; i++) {
		const char *sp = "_";
		size_t sn = 1;
		if (strategy == PROMNAME_NO_UTF8_ESCAPING && w[i].sep) {
			sp = w[i].sep;
			sn = w[i].sep_n;
		}
		if (i) {
			if (k + sn + 1 >= size) { /* no room for a character after it */
				cut = true;
				break;
			}
			memcpy(out + k, sp, sn);
			k += sn;
		}
		size_t take = w[i].n;
		if (k + take >= size) {
			take = size - 1 - k;
			cut = true;
		}
		memcpy(out + k, w[i].p, take);
		k += take;
	}
	return terminate(out, k, size, cut);
}

size_t promname_label(const char *key, int strategy, char *out, size_t size)
{
	if (!size)
		return 0;
	const char *s = key ? key : "";
	size_t n = strnlen(s, MAX_INPUT), k = 0;
	bool cut = false;
	if (strategy == PROMNAME_NO_UTF8_ESCAPING) {
		if (n >= size) {
			n = size - 1;
			cut = true;
		}
		memcpy(out, s, n);
		return terminate(out, n, size, cut);
	}
	/* escaped first, then the prefix decided on what was written */
	char tmp[PROMNAME_MAX];
	size_t t = 0;
	for (size_t i = 0; i < n && t + 1 < sizeof(tmp); i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c & 0xC0) == 0x80 && i && (unsigned char)s[i - 1] >= 0x80)
			continue; /* one `_` per character, not per byte */
		tmp[t++] = (alnum(c) || c == '_') ? (char)c : '_';
	}
	const char *prefix = "";
	if (t && tmp[0] >= '0' && tmp[0] <= '9')
		prefix = "key_";
	else if (t && tmp[0] == '_' && (t < 2 || tmp[1] != '_'))
		prefix = "key";
	k = (size_t)snprintf(out, size, "%s%.*s", prefix, (int)t, tmp);
	if (k >= size)
		k = size - 1;
	out[k] = 0;
	return k;
}
