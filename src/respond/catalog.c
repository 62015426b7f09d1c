/*
 * The service catalogue: services[] of ooda.yaml read once into an array,
 * looked up by name. Small (a few hundred services at most), so a linear
 * search is the whole index.
 */
#include "respond/catalog.h"
#include "core/error.h"
#include "core/xalloc.h"

#include <string.h>

struct catalog {
	struct catalog_service *svc;
	size_t n;
};

const char *catalog_tier_name(enum catalog_tier t)
{
	return t == TIER_CRITICAL ? "critical" : "standard";
}

static char *dup_or_null(const json_t *v)
{
	const char *s = json_string_value(v);
	return s && *s ? xstrdup(s) : NULL;
}

int catalog_create(const json_t *services, struct catalog **out, struct buf *err)
{
	struct catalog *c = xcalloc(1, sizeof(*c));
	size_t n = json_is_array(services) ? json_array_size(services) : 0;
	c->svc = n ? xcalloc(n, sizeof(*c->svc)) : NULL;
	for (size_t i = 0; i < n; i++) {
		const json_t *o = json_array_get(services, i);
		const char *name = json_string_value(json_object_get(o, "name"));
		const char *tier = json_string_value(json_object_get(o, "tier"));
		if (!name || !*name) {
			buf_addf(err, "services[%zu].name: required", i);
			catalog_destroy(c);
			return OODA_EINVAL;
		}
		if (catalog_get(c, name)) {
			buf_addf(err, "services[%zu].name: \"%s\" is declared twice", i, name);
			catalog_destroy(c);
			return OODA_EINVAL;
		}
		if (tier && strcmp(tier, "critical") && strcmp(tier, "standard")) {
			buf_addf(err, "services[%zu].tier: \"%s\" is neither critical nor standard", i, tier);
			catalog_destroy(c);
			return OODA_EINVAL;
		}
		struct catalog_service *s = &c->svc[c->n++];
		s->name = xstrdup(name);
		s->owner = dup_or_null(json_object_get(o, "owner"));
		s->tier = tier && !strcmp(tier, "critical") ? TIER_CRITICAL : TIER_STANDARD;
		s->runbook = dup_or_null(json_object_get(o, "runbook"));
		s->environment = dup_or_null(json_object_get(o, "environment"));
		if (!s->environment)
			s->environment = xstrdup(CATALOG_DEFAULT_ENVIRONMENT);
	}
	*out = c;
	return 0;
}

void catalog_destroy(struct catalog *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->svc[i].name);
		free(c->svc[i].owner);
		free(c->svc[i].runbook);
		free(c->svc[i].environment);
	}
	free(c->svc);
	free(c);
}

const struct catalog_service *catalog_get(const struct catalog *c, const char *name)
{
	if (!c || !name)
		return NULL;
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->svc[i].name, name))
			return &c->svc[i];
	return NULL;
}

size_t catalog_count(const struct catalog *c)
{
	return c ? c->n : 0;
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

bool catalog_equal(const struct catalog *a, const struct catalog *b)
{
	if (catalog_count(a) != catalog_count(b))
		return false;
	for (size_t i = 0; a && i < a->n; i++) {
		const struct catalog_service *x = &a->svc[i], *y = catalog_get(b, x->name);
		if (!y || x->tier != y->tier || !same(x->owner, y->owner) || !same(x->runbook, y->runbook) ||
		    !same(x->environment, y->environment))
			return false;
	}
	return true;
}
