/*
 * Private to src/respond/incident*.c: the stage's state and the one way a
 * change is written — an incident_change (the document after, its new
 * timeline entries, the audit action) committed by incident_commit in one
 * control-store transaction with its audit record.
 */
#ifndef OODA_INCIDENT_PRIV_H
#define OODA_INCIDENT_PRIV_H

#include <pthread.h>

#include "respond/catalog.h"
#include "respond/incident.h"
#include "respond/incident_impl.h"

struct worker;

struct incidents {
	struct store *store;
	const struct audit_signer *signer;
	struct alerts *alerts;
	struct tstore *tstore;
	pthread_mutex_t mu;             /* every change, and cfg and cat */
	struct incidents_config cfg;
	struct catalog *cat;
	char *cfg_text;                 /* the incidents section as applied, to say what a reload changed */
	struct worker *worker;          /* handles alert transitions */
	char shared_fp[17];             /* the RED detector's shared slowdown while firing (worker thread); "" when not */
	struct {
		incidents_event_fn *fn;
		void *ctx;
	} subs[INCIDENTS_MAX_SUBSCRIBERS];
	int n_subs;
};

struct incident_change {
	json_t *doc;                    /* owned: the whole document after the change */
	bool is_new;                    /* the write numbers it */
	json_t *entries;                /* owned: new timeline entries {kind, actor, text, data}; seq filled by the write */
	const char *action, *actor, *rationale;
	json_t *detail;                 /* owned, may be NULL: audit detail */
	char *before;                   /* owned: the document before, NULL for a new one */
	struct incident_artifact_row *artifact; /* borrowed: stored in the same write */
	int64_t now_ns;
	const char *event, *event2;     /* hook events; NULL or "" for none */
	char *event_json;               /* owned: the public document after the write */
	json_t *out;                    /* owned: what incident_finish writes instead of the document */
	bool handover;                  /* a follower's: the event waits in the store for the leader (HANDOVER_KIND) */
};

bool incident_status_open(const char *s);
int incident_number_parse(const char *id, int64_t *n, struct buf *err);
int incident_load(struct incidents *inc, const char *id, json_t **doc, struct buf *err);
json_t *incident_public(const json_t *doc);
json_t *incident_new_doc(const char *title, const char *severity, const char *service, int64_t now_ns);
int incident_entries(struct incidents *inc, int64_t number, const char *kind, json_t **out);

/* Adds a timeline entry to c; steals data (NULL: {}). */
void incident_entry(struct incident_change *c, const char *kind, const char *actor, const char *text, json_t *data);

int incident_commit(struct incidents *inc, struct incident_change *c, struct buf *err);
void incident_notify(struct incidents *inc, const struct incident_change *c);
void incident_change_release(struct incident_change *c);

/*
 * A change by hand: incident_begin locks and loads id into c (on error
 * nothing is held); the caller edits c; incident_finish writes it unless
 * rc != 0, unlocks, writes the document (or c->out) to out, calls the
 * hooks and releases c. Returns rc or the write's error.
 */
int incident_begin(struct incidents *inc, const char *id, const char *actor, const char *action,
		   struct incident_change *c, struct buf *err);
int incident_finish(struct incidents *inc, struct incident_change *c, int rc, struct buf *out, struct buf *err);

#endif
