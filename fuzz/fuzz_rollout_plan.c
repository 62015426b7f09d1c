/*
 * libFuzzer harness for the rollout plan loader (change/rollout.h): any
 * bytes are loaded as a plan. A refusal must say why and hand back nothing;
 * an accepted plan must have what the engine relies on (1 to 20 steps, each
 * with a hold, weights rising to 100 for a flag, every threshold present),
 * and loading its own normalised form again must accept it.
 */
#include <stddef.h>
#include <stdint.h>

#include "change/rollout.h"
#include "core/error.h"

static const char *const thresholds[] = { "min_samples", "alpha", "max_error_increase", "max_p99_increase",
					  "max_median_increase" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *plan = NULL;
	struct buf err = BUF_INIT;
	int rc = rollout_plan_load((const char *)data, size, &plan, &err);
	if (rc && (err.len == 0 || plan))
		__builtin_trap();
	if (!rc) {
		json_t *steps = json_object_get(plan, "steps");
		size_t n = json_array_size(steps);
		if (n < 1 || n > ROLLOUT_MAX_STEPS)
			__builtin_trap();
		for (size_t i = 0; i < n; i++)
			if (json_integer_value(json_object_get(json_array_get(steps, i), "hold_ns")) <= 0)
				__builtin_trap();
		bool flag = json_object_get(plan, "flag") != NULL;
		json_t *last = json_object_get(json_array_get(steps, n - 1), "weight");
		if (flag && json_integer_value(last) != 100)
			__builtin_trap();
		for (size_t i = 0; i < sizeof(thresholds) / sizeof(thresholds[0]); i++)
			if (!json_is_number(json_object_get(json_object_get(plan, "analysis"), thresholds[i])))
				__builtin_trap();
		/* the normalised plan, without what the loader adds, loads again */
		json_t *again = json_deep_copy(plan);
		for (size_t i = 0; i < n; i++)
			json_object_del(json_array_get(json_object_get(again, "steps"), i), "hold_ns");
		char *text = json_dumps(again, JSON_COMPACT);
		json_t *p2 = NULL;
		buf_reset(&err);
		if (text && strlen(text) <= ROLLOUT_MAX_PLAN_BYTES && rollout_plan_load(text, strlen(text), &p2, &err))
			__builtin_trap();
		json_decref(p2);
		free(text);
		json_decref(again);
	}
	json_decref(plan);
	buf_release(&err);
	return 0;
}
