/*
 * The body of a fault request to the simulator's control port
 * (`POST /faults {"name", "service"?, "for"?}`), parsed and checked against
 * the fault catalogue and the service table before anything changes.
 * Fuzzed by fuzz/fuzz_sim_control.c.
 */
#ifndef OODA_SIM_FAULTREQ_H
#define OODA_SIM_FAULTREQ_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* The longest `for` accepted: a day. */
#define FAULT_MAX_FOR_NS (INT64_C(86400) * INT64_C(1000000000))

struct fault_request {
	int def;        /* index in fault_defs */
	int svc;        /* index in svc_defs; the fault's default when absent */
	int64_t for_ns; /* 0: until cleared; the fault's default when absent */
};

/*
 * Parses body (len bytes, JSON object). name must name a fault; service, when
 * present, a simulated service; for, when present, a duration string ("30s",
 * "2m") or a number of seconds, above 0 and at most a day. Unknown members
 * are refused. Returns 0 and fills *out, or OODA_EINVAL with the field named
 * in err (nothing in *out is meaningful then).
 */
int fault_request_parse(const char *body, size_t len, struct fault_request *out, struct buf *err);

#endif
