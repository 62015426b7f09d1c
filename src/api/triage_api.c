/*
 * Glue between the running daemon and respond/triage: fills struct
 * triage_deps from the daemon's stores, live signals, error classes, SLOs,
 * probes, heartbeats and the services: section of ooda.yaml, so the
 * incidents stage computes a triage summary, a snapshot or a root-cause
 * input with one call. The ranking is left NULL here; the respond glue
 * (respond_glue.c) sets deps->rank = rca_rank for the summaries it computes.
 */
#include "api/api.h"
#include "api/handlers.h"
#include "respond/triage.h"

void api_triage_deps(struct daemon *d, struct triage_deps *deps, json_t **services)
{
	memset(deps, 0, sizeof(*deps));
	deps->tstore = d->tstore;
	deps->store = d->store;
	deps->live = d->live;
	deps->logclass = d->logclass;
	deps->slos = d->slos;
	deps->prober = d->prober;
	deps->heartbeats = d->heartbeats;
	pthread_rwlock_rdlock(&d->cfg_lock);
	char *st = config_section_json(&d->cfg, "services");
	pthread_rwlock_unlock(&d->cfg_lock);
	*services = st ? json_loads(st, JSON_DECODE_ANY, NULL) : NULL;
	free(st);
	deps->services = *services;
}
