/*
 * The service catalogue (respond stage): what ooda.yaml's services[] says
 * about each service beyond its probes — owner (the incident's team), tier
 * (critical or standard: it weighs in the severity of an incident), runbook
 * URL, environment, and declared dependencies. Built from the services
 * section as JSON; immutable once built, so a reload builds a new one and
 * swaps it in. Incidents take their severity, tags, team and runbook from
 * here.
 */
#ifndef OODA_CATALOG_H
#define OODA_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"

#define CATALOG_DEFAULT_ENVIRONMENT "production"

enum catalog_tier { TIER_STANDARD, TIER_CRITICAL };

struct catalog_service {
	char *name;
	char *owner;        /* NULL when not declared */
	enum catalog_tier tier;
	char *runbook;      /* NULL when not declared */
	char *environment;  /* never NULL: CATALOG_DEFAULT_ENVIRONMENT when not declared */
};

struct catalog;

/* "critical" | "standard" */
const char *catalog_tier_name(enum catalog_tier t);

/*
 * Builds a catalogue from the services section (a JSON array; NULL or
 * null for none). OODA_EINVAL with the key path in err (services[2].tier)
 * for a tier that is neither critical nor standard or a duplicate name.
 * Caller owns *out (catalog_destroy).
 */
int catalog_create(const json_t *services, struct catalog **out, struct buf *err);

void catalog_destroy(struct catalog *c);

/* The service called name, or NULL when the catalogue does not declare it; borrowed from c. */
const struct catalog_service *catalog_get(const struct catalog *c, const char *name);

/* True when a and b declare the same services with the same owner, tier, runbook and environment. */
bool catalog_equal(const struct catalog *a, const struct catalog *b);

/* Number of services declared. */
size_t catalog_count(const struct catalog *c);

#endif
