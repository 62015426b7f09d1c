/*
 * libFuzzer harness for the simulator's control requests (sim/faultreq.c:
 * the body of POST /faults). Whatever parses names a fault and a service of
 * the tables, with a `for` from 0 to a day; what does not says why.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "fault.h"
#include "faultreq.h"
#include "topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fault_request r;
	struct buf err = BUF_INIT;
	if (fault_request_parse((const char *)data, size, &r, &err) == 0) {
		if (r.def < 0 || r.def >= fault_def_count || r.svc < 0 || r.svc >= SVC_COUNT || r.for_ns < 0 ||
		    r.for_ns > FAULT_MAX_FOR_NS)
			__builtin_trap();
	} else if (err.len == 0) {
		__builtin_trap();
	}
	buf_release(&err);
	return 0;
}
