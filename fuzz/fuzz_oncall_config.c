/*
 * libFuzzer harness for the `oncall:` section loader (respond/oncall.c):
 * any JSON must build a config or fail with a key path, never crash or
 * leak; a config that builds answers oncall_who, a week of shifts and an
 * escalation tick for each of its schedules and policies.
 */
#include <stddef.h>
#include <stdint.h>

#include "respond/escalation.h"
#include "respond/oncall.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	char *text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct oncall *oc = NULL;
	struct buf err = BUF_INIT;
	if (oncall_create(text, &oc, &err) != 0) {
		if (strncmp(err.data ? err.data : "", "oncall", 6))
			__builtin_trap(); /* a failure names its key path */
	} else {
		const int64_t t = INT64_C(1800000000000000000);
		for (size_t i = 0; i < oc->n_schedules; i++) {
			struct oncall_shift s;
			if (oncall_who(oc, NULL, oc->schedules[i].name, t, &s, &err) || s.end_ns <= t)
				__builtin_trap();
			json_t *shifts = NULL;
			bool truncated;
			if (oncall_shifts(oc, NULL, oc->schedules[i].name, t, t + INT64_C(7) * 86400 * 1000000000, &shifts,
					  &truncated, &err))
				__builtin_trap();
			json_decref(shifts);
		}
		for (size_t i = 0; i < oc->n_policies; i++) {
			struct escalation_state st = ESCALATION_STATE_INIT;
			struct escalation_pages pages = { 0 };
			escalation_tick(oc, NULL, &oc->policies[i], &st, t, t + INT64_C(86400) * 1000000000, false, &pages);
			escalation_pages_release(&pages);
		}
		oncall_destroy(oc);
	}
	buf_release(&err);
	free(text);
	return 0;
}
