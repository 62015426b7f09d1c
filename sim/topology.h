/*
 * The simulated system, as a table: which services exist, which route each
 * serves, whom each calls, and how long its own work takes. frontend →
 * checkout → payments and inventory → database, plus the background job
 * `reconciler` (no port: a thread that calls the database and pings an ooda
 * heartbeat). Everything else in sim/ looks services up here by index.
 */
#ifndef OODA_SIM_TOPOLOGY_H
#define OODA_SIM_TOPOLOGY_H

enum {
	SVC_FRONTEND,
	SVC_CHECKOUT,
	SVC_PAYMENTS,
	SVC_INVENTORY,
	SVC_DATABASE,
	SVC_SERVERS, /* services below have no HTTP server */
	SVC_RECONCILER = SVC_SERVERS,
	SVC_COUNT
};

#define SVC_MAX_CALLS 2

struct svc_def {
	const char *name;
	const char *method;          /* of the route it serves */
	const char *route;           /* e.g. "/checkout" */
	int calls[SVC_MAX_CALLS];    /* downstream services, -1 for none */
	double work_ms;              /* its own work per request, before jitter */
	const char *version;         /* version at start */
	const char *description;
};

extern const struct svc_def svc_defs[SVC_COUNT];

/* Index of the service called name, or -1. */
int svc_find(const char *name);

#endif
