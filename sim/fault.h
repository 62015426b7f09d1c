/*
 * The fault catalogue: one table row per fault that `ooda-sim fault NAME`
 * can inject — its description, the service it hits by default, the root
 * cause a responder (or a drill) should find, and the apply and clear
 * functions that change the running world. `ooda-sim list-faults --json`
 * prints the table; drills score against expected_kind and the service.
 *
 * A fault's life, per instance (world.c keeps the list):
 *
 *   requested ──fault_apply──> active ──world_fault_clear (DELETE, or the
 *                                 │      `for` deadline in the ticker)──> cleared
 *                                 └── apply failed: never listed
 */
#ifndef OODA_SIM_FAULT_H
#define OODA_SIM_FAULT_H

#include <stdint.h>

#include "core/buf.h"

struct world;
struct fault;

struct fault_def {
	const char *name;
	const char *description;
	int default_svc;           /* index in svc_defs */
	const char *expected_kind; /* deploy, latency, down, resource, flag, config, heartbeat, none */
	const char *root_cause;    /* the cause, in words ("%s" is the service) */
	const char *expected_incident; /* "cause": one incident on the root cause; "unblamed": none that blames a
	                                  service (more traffic is no service's fault); "none": no incident at all */
	int64_t default_for_ns;    /* 0: until cleared */
	/* Changes the world; may call ooda. Fills f->detail. Non-zero: nothing changed. */
	int (*apply)(struct world *w, struct fault *f, struct buf *err);
	/* Undoes apply; must not fail (a failed call to ooda is logged). */
	void (*clear)(struct world *w, struct fault *f);
};

extern const struct fault_def fault_defs[];
extern const int fault_def_count;

/* Index of the fault called name, or -1. */
int fault_find(const char *name);

/*
 * Appends the catalogue as a JSON array to out: name, description,
 * default_service, expected_root_cause {kind, service, text}, expected_incident,
 * default_for.
 */
void fault_catalogue_json(struct buf *out);

#endif
