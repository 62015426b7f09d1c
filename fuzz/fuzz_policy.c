/*
 * libFuzzer harness for the remediation policy loader: any bytes given as
 * a policy document must load or fail with a message naming the field,
 * never crash, hang or leak; a loaded policy has a name, at least one
 * step, and every irreversible step sits in a policy that may run it.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "remedy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (!j)
		return 0;
	json_t *hosts = json_pack("[s]", "127.0.0.1");
	struct remedy_policy p;
	struct buf err = BUF_INIT;
	if (policy_load(j, hosts, "policy", &p, &err) != 0) {
		if (err.len == 0 || strncmp(err.data, "policy", 6))
			__builtin_trap(); /* a failure must always say where */
	} else {
		json_t *steps = json_object_get(p.doc, "do"), *s;
		size_t i;
		if (!p.name || !json_array_size(steps))
			__builtin_trap();
		json_array_foreach(steps, i, s)
			if (policy_step_irreversible(s) && p.mode == POLICY_AUTO &&
			    !json_is_true(json_object_get(p.doc, "irreversible_ok")))
				__builtin_trap();
		policy_release(&p);
	}
	buf_release(&err);
	json_decref(hosts);
	json_decref(j);
	return 0;
}
