/*
 * libFuzzer harness for the OTLP → Prometheus name translation
 * (src/model/promname.c), which every OTLP metric name, unit and
 * attribute key a sender chooses goes through. The input is
 * "name\nunit\nkind"; whatever it is, an escaped metric name holds only
 * [a-zA-Z0-9_:] with no leading digit and no `__`, an escaped label only
 * [a-zA-Z0-9_] with no leading digit, both fit PROMNAME_MAX, and the
 * translation is a fixed point: translating its own output without a
 * unit gives it back when there was no unit (a unit with punctuation is one
 * word, `a.b` → `a_b`, which words of the name do not match, as in
 * Prometheus).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/promname.h"

static int metric_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	char *in = malloc(size + 1);
	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = 0;
	char *unit = strchr(in, '\n');
	if (unit)
		*unit++ = 0;
	char *kind_s = unit ? strchr(unit, '\n') : NULL;
	if (kind_s)
		*kind_s++ = 0;
	enum promname_kind kind = kind_s ? (enum promname_kind)((unsigned char)kind_s[0] % 3) : PROMNAME_GAUGE;
	char out[PROMNAME_MAX], again[PROMNAME_MAX];
	for (int s = PROMNAME_UNDERSCORE_ESCAPING; s <= PROMNAME_NO_UTF8_ESCAPING; s++) {
		size_t n = promname_metric(in, unit, kind, s, out, sizeof(out));
		if (n != strlen(out) || n >= PROMNAME_MAX)
			__builtin_trap();
		size_t l = promname_label(in, s, again, sizeof(again));
		if (l != strlen(again))
			__builtin_trap();
		if (s != PROMNAME_UNDERSCORE_ESCAPING)
			continue;
		for (size_t i = 0; i < n; i++)
			if (!metric_char((unsigned char)out[i]) || (i && out[i] == '_' && out[i - 1] == '_'))
				__builtin_trap();
		if (n && out[0] >= '0' && out[0] <= '9')
			__builtin_trap();
		for (size_t i = 0; i < l; i++)
			if (!metric_char((unsigned char)again[i]) || again[i] == ':')
				__builtin_trap();
		if (l && again[0] >= '0' && again[0] <= '9')
			__builtin_trap();
		/* without a unit, a translated name is its own translation (a counter keeps its one _total) */
		if (!unit && n && n < PROMNAME_MAX - 8) {
			size_t m = promname_metric(out, NULL, kind == PROMNAME_COUNTER ? kind : PROMNAME_OTHER, s, again,
						   sizeof(again));
			if (m != n || memcmp(out, again, n))
				__builtin_trap();
		}
	}
	free(in);
	return 0;
}
