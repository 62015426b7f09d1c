/*
 * Alert rules (detect stage): PromQL conditions from the `alerts:` section
 * of ooda.yaml, evaluated against the telemetry store and live signals on
 * the rules' own worker thread (rules_start; see evalworker.h), so a slow
 * store read never delays the engine tick. Each series an expression
 * returns is one active alert_signal carrying the series' labels (plus the
 * rule's) and its value as evidence; a series that stops being returned is
 * reported inactive.
 * The alerting core (alerts.h) applies for and keep_firing_for.
 *
 * The section is either a list of rules or a mapping:
 *
 *   alerts:                          alerts:
 *     - name: QueueBacklog             interval: 1s        # default 1s
 *       expr: queue_depth > 100        group_window: 30s   # default 30s
 *       for: 2m                        rules:
 *       keep_firing_for: 5m              - name: …
 *       severity: page        # page|ticket|info (critical/warning accepted)
 *       service: checkout     # else the series' service or job label
 *       labels: {team: payments}
 *       annotations:
 *         summary: "backlog {{ $value }} on {{ $labels.job }}"
 */
#ifndef OODA_RULES_H
#define OODA_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "model/signal.h"
#include "model/live.h"
#include "query/promql.h"
#include "store/tstore.h"

#define RULES_MAX 1000
#define RULES_DEFAULT_INTERVAL_NS INT64_C(1000000000)
#define RULES_MAX_SERIES_PER_RULE 1000

struct rules;

/*
 * Creates an empty rule set reading metrics from tstore and live (either
 * may be NULL: no data). Caller owns *out (rules_destroy). 0 or OODA_ENOMEM.
 */
int rules_create(struct tstore *tstore, struct live_signals *live, struct rules **out, struct buf *err);

/*
 * Starts the worker that evaluates the rules from then on; rules_tick()
 * only hands evaluations to it and delivers what they found. Without it,
 * rules_tick() evaluates on the caller's thread (tests, tools). Returns 0
 * or OODA_EINTERNAL with the reason in err.
 */
int rules_start(struct rules *r, struct buf *err);

/* Stops the worker (waiting for the evaluation in progress) and frees r. NULL is a no-op. */
void rules_destroy(struct rules *r);

/*
 * Validates the `alerts:` section (section_json: compact JSON text of it,
 * NULL or "null" for none) and, when apply and r are set, makes it the
 * current rule set; rules keep the series they saw active when their name
 * stays. r may be NULL to only validate. On error returns OODA_EINVAL with
 * the path and reason ("alerts[2].expr: parse error at char 7: …") in err
 * and changes nothing.
 */
int rules_configure(struct rules *r, const char *section_json, bool apply, struct buf *err);

/* The group_window of the current section (0 when not set). */
int64_t rules_group_window(struct rules *r);

/*
 * The current rules as {"interval_s", "last_evaluation_ns" (wall clock, 0:
 * none yet), "evaluation_s" (how long it took), "early_evaluations" (how
 * many came before the interval because telemetry arrived), "rules":[{name,
 * expr, for_s, keep_firing_for_s, severity, labels, annotations}]}, rules in
 * file order. Caller owns the result (json_decref).
 */
json_t *rules_list_json(struct rules *r);

/* Number of rules in the current set. */
size_t rules_count(struct rules *r);

/*
 * The engine tick. With the worker started: sends sink the signals of the
 * evaluations finished since the last tick and hands the worker an
 * evaluation at now_ns (rules_evaluate) if it is idle; never waits for one.
 * Without the worker: rules_evaluate(r, now_ns, sink) here and now.
 */
void rules_tick(struct rules *r, int64_t now_ns, const struct alert_sink *sink);

/*
 * Telemetry arrived (spans or metric points; lock-free, never blocks). The
 * next evaluation may then come as soon as the fresh gap
 * (rules_fresh_gap_ns: a RULES_FRESH_DIVISOR-th of the interval, at least
 * RULES_FRESH_MIN_GAP_NS) has passed since the last one, instead of the
 * whole interval: with the engine poked when a batch is made durable
 * (engine_poke) and woken when the gap ends (rules_next_due), rules read a
 * pushed batch a poke gap after it is durable, or when the gap ends if the
 * last evaluation was more recent; at most RULES_FRESH_DIVISOR evaluations
 * per interval however often batches come (the debounce).
 */
#define RULES_FRESH_DIVISOR 8
#define RULES_FRESH_MIN_GAP_NS (100 * INT64_C(1000000))
void rules_note_fresh(struct rules *r);

/* The fresh gap of an interval (see rules_note_fresh), all ns. Pure. */
int64_t rules_fresh_gap_ns(int64_t interval_ns);

/*
 * When fresh telemetry may be read (wall-clock ns): the last evaluation's
 * time plus the fresh gap while telemetry noted by rules_note_fresh waits
 * unread, if that is after now_ns; 0 when none waits (or before the first
 * evaluation, or when the gap is not shorter than the interval, or the time
 * is not after now_ns: then the evaluation is handed over or running, and
 * its end asks for a tick). Lock-free: for the engine's due hook
 * (engine_set_due), which ticks then rather than at its next period.
 */
int64_t rules_next_due(struct rules *r, int64_t now_ns);

/*
 * fn(ctx) runs on the evaluating thread after each evaluation that sent
 * signals (with a worker: evalworker_on_signals), so the owner can poke
 * the engine to deliver them now, and after each evaluation during which
 * fresh telemetry was noted (it found the worker busy: the poke hands the
 * next evaluation over). Call before the engine starts.
 */
void rules_on_signals(struct rules *r, void (*fn)(void *ctx), void *ctx);

/*
 * One evaluation (ctx is the struct rules): reports rules removed by a
 * reload inactive, then, when the interval has passed since the last
 * evaluation (a RULES_FRESH_DIVISOR-th of it when rules_note_fresh was
 * called since),
 * evaluates every rule (else returns at once), sending signals
 * to sink. A rule whose evaluation fails keeps its series as they were and
 * logs why. Reads the store: not for the engine thread.
 */
void rules_evaluate(void *ctx, int64_t now_ns, const struct alert_sink *sink);

/* Waits until the evaluation handed to the worker (if any) has finished (tests). */
void rules_wait(struct rules *r);

/* Replaces the metric source (tests); src must outlive r. NULL restores the store's. */
void rules_set_source(struct rules *r, const struct promql_source *src);

/*
 * Renders an annotation template: {{ $value }} (also {{$value}}) becomes
 * the value (%g), {{ $labels.NAME }} the label's value ("" if absent);
 * anything else between braces is kept as written. Appends to out.
 */
void rules_template(const char *tmpl, double value, const json_t *labels, struct buf *out);

/*
 * The semantic check of the `alerts:` section of ooda.yaml (config_check_fn in
 * core/config.h), registered by the daemon with config_register_check().
 */
struct buf;
int rules_config_check(const char *section_json, struct buf *err);

#endif
