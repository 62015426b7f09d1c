/*
 * The table of simulated services (see topology.h). Work times are small so
 * that one process runs the whole system at tens of requests per second on a
 * laptop; the faults multiply them.
 */
#include "topology.h"

const struct svc_def svc_defs[SVC_COUNT] = {
	[SVC_FRONTEND] = { "frontend", "GET", "/checkout", { SVC_CHECKOUT, -1 }, 2, "3.2.0",
			   "web front end: renders the checkout page" },
	[SVC_CHECKOUT] = { "checkout", "POST", "/orders", { SVC_PAYMENTS, SVC_INVENTORY }, 3, "2.7.1",
			   "places orders: charges the card and reserves stock; reads the new-pricing flag" },
	[SVC_PAYMENTS] = { "payments", "POST", "/charge", { SVC_DATABASE, -1 }, 4, "2.3.0",
			   "charges cards; stores the charge" },
	[SVC_INVENTORY] = { "inventory", "POST", "/reserve", { SVC_DATABASE, -1 }, 2, "1.9.4",
			    "reserves stock; stores the reservation" },
	[SVC_DATABASE] = { "database", "POST", "/query", { -1, -1 }, 3, "15.4",
			   "the shared database (a service that answers queries)" },
	[SVC_RECONCILER] = { "reconciler", "RUN", "reconcile orders", { SVC_DATABASE, -1 }, 5, "1.0.0",
			     "background job: reconciles orders every 2 s, pings heartbeat sim-reconciler" },
};

int svc_find(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < SVC_COUNT; i++)
		if (strcmp(svc_defs[i].name, name) == 0)
			return i;
	return -1;
}
