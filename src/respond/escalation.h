/*
 * The escalation engine: one incident's walk through its escalation policy
 * (respond/oncall.h), driven by a tick. Pure — no clock, store or thread.
 * The respond stage (api/respond_glue.c), on its triage worker woken by the
 * engine tick once a second, for each open incident: looks up
 * the policy of the service owner's team (oncall_owner_policy), takes an
 * oncall_book view, calls escalation_tick with the incident's opened time
 * and whether it is acknowledged or resolved, keeps the state on the
 * incident's timeline (escalation_state_json) and hands each page to the
 * notification outbox (notify_page(page.to, event)). The states:
 *
 *              escalation_tick (first)
 *   [fresh] ─────────────────────────────> [level 1]   page level 1, "open"
 *
 *   [level k] ── now >= last page + renotify ──> [level k]   page k, "renotify"
 *   [level k] ── now >= level start + timeout ─> [level k+1] page k+1, "escalate"
 *   [last level] ── timeout, repeats left ─────> [level 1]   page 1, "repeat"
 *   [last level] ── timeout, no repeat left ───> [exhausted] no more pages
 *   [any] ── acked (or resolved) ──────────────> [stopped]   no more pages
 *
 * Deterministic: the same state, times and config give the same pages.
 * A late tick catches up: every deadline passed is paged, once, in order.
 */
#ifndef OODA_ESCALATION_H
#define OODA_ESCALATION_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "respond/oncall.h"

enum escalation_phase { ESCALATION_FRESH, ESCALATION_ACTIVE, ESCALATION_EXHAUSTED, ESCALATION_STOPPED };

struct escalation_state {
	enum escalation_phase phase;
	int level;               /* 0-based index of the level being paged */
	int cycle;               /* 0 on the first pass, then 1..repeat */
	int64_t level_start_ns;  /* when the current level was first paged */
	int64_t last_page_ns;    /* when the current level was last paged */
	int64_t pages;           /* pages sent so far */
};

/* A fresh state (zeroes): the first tick pages level 1. */
#define ESCALATION_STATE_INIT { ESCALATION_FRESH, 0, 0, 0, 0, 0 }

struct escalation_page {
	int level;         /* 1-based */
	char *to;          /* "user:alice" or "notify:ops-chat" */
	char *via;         /* the policy target it came from: "schedule:payments" */
	const char *reason; /* "open", "renotify", "escalate", "repeat" (static) */
	int64_t at_ns;     /* the deadline that made it due */
};

struct escalation_pages {
	struct escalation_page *v;
	size_t n;
};

void escalation_pages_release(struct escalation_pages *p);

/*
 * Advances st to now_ns for an incident opened at opened_ns and appends the
 * pages due to out (schedule targets resolved with oncall_who at the
 * page's time, overrides honoured; a schedule nobody is on yet gives no
 * page). acked is true once the incident is acknowledged or resolved: the
 * state stops and nothing more is paged. Returns the number of pages
 * appended (>= 0).
 */
int escalation_tick(const struct oncall *oc, const struct oncall_overrides *ov, const struct oncall_policy *p,
		    struct escalation_state *st, int64_t opened_ns, int64_t now_ns, bool acked,
		    struct escalation_pages *out);

/* The state as JSON and back (for the incident's document). OODA_EINVAL on a malformed one. */
json_t *escalation_state_json(const struct escalation_state *st);
int escalation_state_from_json(const json_t *j, struct escalation_state *st);

#endif
