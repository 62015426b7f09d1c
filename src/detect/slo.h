/*
 * Service level objectives and their burn-rate alerts: the detect stage's
 * SLO engine. Each SLO of ooda.yaml `slos:` keeps one good/total counter
 * pair per minute in a fixed ring of 30 days (SLO_RING_MINUTES), fed from
 * the live RED series (ratio and latency SLIs) or from PromQL evaluated once
 * per closed minute (promql SLIs). From the ring it computes the error
 * budget left over the rolling window, the burn rate over the standard
 * windows (5m … 3d), and the multi-window multi-burn-rate alerts of the SRE
 * workbook (page on 14.4× over 1h and 5m, or 6× over 6h and 30m; ticket on
 * 3× over 1d and 2h, or 1× over 3d and 6h), which it reports as
 * `struct alert_signal` every tick. Closed minutes are written to the
 * telemetry store as `ooda_slo_good_total` / `ooda_slo_events_total`
 * delta-sum points by a worker thread, and read back at start, so a restart
 * keeps the budget. docs/slo.md has the math and the numbers.
 *
 * Threads: slo_tick() runs on the engine thread and never does I/O; the
 * worker started by slo_set_start() does the PromQL evaluations and the
 * durable writes; the API reads through slo_list_json()/slo_get_json();
 * a config reload replaces the SLOs with slo_set_apply(). All of them may
 * run at once: each sees either the SLOs before a reload or those after it,
 * never a mix.
 */
#ifndef OODA_SLO_H
#define OODA_SLO_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "model/signal.h"
#include "model/live.h"
#include "store/tstore.h"

#define SLO_RING_MINUTES (30 * 1440) /* the longest window: 30 days of minutes */
#define SLO_MAX 128                  /* SLOs per deployment */
#define SLO_MAX_RULES 8              /* burn-rate rules per severity */
#define SLO_NAME_MAX 63
/* The burn-rate windows every SLO reports, in minutes: 5m 30m 1h 2h 6h 1d 3d. */
#define SLO_N_WINDOWS 7

struct slo_set;

struct slo_options {
	struct live_signals *live; /* RED source for ratio/latency SLIs; NULL = none */
	struct tstore *tstore;     /* persistence and PromQL SLIs; NULL = memory only */
	/* Wall clock of the worker [ooda_now_ns]. */
	int64_t (*clock)(void *ctx);
	void *clock_ctx;
};

/*
 * Checks the `slos` section (its JSON text, as config_section_json() gives
 * it; NULL or "null" = no SLOs) and builds the set. Problems name the key
 * path: "slos[2].sli.latency.threshold: ...". Returns 0 and sets *out
 * (caller owns it; free with slo_set_destroy), OODA_EINVAL with the reason
 * in err, or OODA_ENOMEM. Nothing runs until slo_set_start().
 */
int slo_set_create(const char *slos_json, const struct slo_options *opt, struct slo_set **out,
		   struct buf *err);

/* Validates the section only (config reload, `ooda config check`). */
int slo_config_check(const char *slos_json, struct buf *err);

/*
 * Rebuilds every ring from the stored minute points of the last 30 days
 * (when there is a tstore) and starts the worker thread (also when there
 * are no SLOs yet: a reload may add some). Returns 0, or an error with
 * detail in err (a failed rebuild is logged, not an error).
 */
int slo_set_start(struct slo_set *set, struct buf *err);

/*
 * Makes slos_json (as for slo_set_create) the SLOs of a running set, for a
 * config reload. SLOs are matched by name: one whose name stays keeps its
 * minute counts and burn state and takes the new definition (objective,
 * window, budgeting, SLI, alert rules) from the next evaluation on; a new
 * name starts from what the telemetry store holds under it (usually
 * nothing); a name that is gone stops being evaluated, and the next tick
 * reports its page and ticket signals inactive so its alerts resolve. Its
 * stored minute points stay in the store (retention drops them).
 *
 * The swap is atomic for the tick, the worker and the API. On OODA_EINVAL
 * (the reason, with the key path, in err) or OODA_ENOMEM nothing changes.
 * If changes is set, a summary such as "added a; changed b; removed c" is
 * appended to it (nothing when the SLOs are the same).
 */
int slo_set_apply(struct slo_set *set, const char *slos_json, struct buf *changes, struct buf *err);

/* Stops the worker (after its current write) and frees everything. NULL is a no-op. */
void slo_set_destroy(struct slo_set *set);

/* Number of SLOs in the set. */
int slo_set_count(struct slo_set *set);

/*
 * The engine tick (ctx is the struct slo_set): pulls the recent minutes of
 * ratio/latency SLIs from live RED, evaluates every SLO at now_ns and sends
 * two signals per SLO to sink, each tick: name "slo:NAME", source "slo",
 * labels {slo, severity}, severity page and ticket, active when one of that
 * severity's rules holds, evidence {burn_rates, budget_remaining, objective,
 * window, events, rule}. Never blocks on I/O.
 */
void slo_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink);

/*
 * Sets the counts of the minute holding t_ns for SLO name (good <= total,
 * both >= 0), as the PromQL path and tests do. The ring only keeps the
 * last SLO_RING_MINUTES minutes before the newest minute set; older minutes
 * are refused. Returns 0, OODA_ENOTFOUND or OODA_EINVAL.
 */
int slo_record(struct slo_set *set, const char *name, int64_t t_ns, double good, double total);

/* What one evaluation of one SLO found; see docs/slo.md for the math. */
struct slo_status {
	double burn[SLO_N_WINDOWS];   /* by slo_window_minutes() order */
	double events[SLO_N_WINDOWS]; /* total events in each window */
	double sli;                   /* over the SLO window; NaN when no events */
	double good, total;           /* events over the SLO window */
	double budget_remaining;      /* fraction of the budget left (may go below 0) */
	double budget_remaining_events;  /* occurrences: allowed bad events left */
	double budget_remaining_minutes; /* timeslices: bad-slice minutes left */
	enum alert_severity severity; /* SEVERITY_INFO when no rule holds */
	bool page, ticket;
};

/* The reported windows in minutes, SLO_N_WINDOWS of them. */
const int *slo_window_minutes(void);

/* Evaluates SLO name at now_ns into *out. Returns 0 or OODA_ENOTFOUND. */
int slo_status_get(struct slo_set *set, const char *name, int64_t now_ns, struct slo_status *out);

/*
 * Appends {"slos":[…]} to out: per SLO its definition, current SLI, error
 * budget (fraction and events or minutes), burn rates per window and alert
 * state at now_ns. Returns 0.
 */
int slo_list_json(struct slo_set *set, int64_t now_ns, struct buf *out, struct buf *err);

/*
 * One SLO as in slo_list_json() plus "burn_down": the budget remaining at
 * the end of every hour of the current window. Returns 0, or OODA_ENOTFOUND
 * with the reason in err.
 */
int slo_get_json(struct slo_set *set, const char *name, int64_t now_ns, struct buf *out,
		 struct buf *err);

/*
 * The semantic check of the `slos:` section of ooda.yaml (config_check_fn in
 * core/config.h), registered by the daemon with config_register_check().
 */
struct buf;
int slo_config_check(const char *section_json, struct buf *err);

#endif
