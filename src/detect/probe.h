/*
 * Synthetic probes: the "observe" half of detect that asks services how
 * they are instead of waiting to be told. Each service in ooda.yaml may
 * declare probes (HTTP(S), TCP connect, DNS resolve, exec), each with its
 * own interval and timeout. One prober thread runs them all concurrently —
 * libcurl multi for HTTP, non-blocking connect for TCP, a small worker pool
 * for DNS and exec — on absolute deadlines so schedules never drift, stores
 * every result as the metrics ooda_probe_success and
 * ooda_probe_duration_seconds (tstore_append, batched, from the prober
 * thread only), and folds results into a state with hysteresis. The engine
 * calls probes_tick() every 250 ms; it only reads memory and emits one
 * alert_signal per new evaluation. The YAML is documented in docs/probes.md.
 */
#ifndef OODA_PROBE_H
#define OODA_PROBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "model/signal.h"

struct tstore;

#define PROBE_MAX 1000          /* probes per configuration */
#define PROBE_HISTORY 10        /* results kept per probe for the API and evidence */
#define PROBE_WINDOW_MAX 32     /* largest M of "N of M" */

/* Defaults, documented in docs/probes.md. */
#define PROBE_DEFAULT_INTERVAL_NS (INT64_C(30) * 1000000000)
#define PROBE_DEFAULT_TIMEOUT_NS (INT64_C(10) * 1000000000) /* clipped to the interval */
#define PROBE_DEFAULT_FAIL_N 3
#define PROBE_DEFAULT_FAIL_M 5
#define PROBE_DEFAULT_PASS_K 2

enum probe_kind { PROBE_HTTP, PROBE_TCP, PROBE_DNS, PROBE_EXEC };

/*
 * The state of a probe, with hysteresis:
 *
 *             first success                 N failures among the last M attempts
 *   unknown ────────────────> passing ─────────────────────────────────────> failing
 *      │                        ^                                              │
 *      │ N failures of last M   └──────────────────────────────────────────────┘
 *      └──────────> failing         K consecutive successes (the window restarts empty)
 *
 * Every transition happens in probe_window_push().
 */
enum probe_state { PROBE_UNKNOWN, PROBE_PASSING, PROBE_FAILING };

const char *probe_state_name(enum probe_state s);
const char *probe_kind_name(enum probe_kind k);

/* One probe as declared in ooda.yaml, validated. Owned strings (probe_specs_free). */
struct probe_spec {
	char *service, *name;
	char *owner;             /* services[].owner, or NULL */
	enum probe_kind kind;
	char *target;            /* the URL, "host:port", DNS name or argv[0], for people */
	char *identity;          /* what is probed, in full; equal identity keeps state across a reload */
	int64_t interval_ns, timeout_ns;
	int fail_n, fail_m;      /* failing after fail_n failures among the last fail_m attempts */
	int pass_k;              /* passing again after pass_k consecutive successes */
	enum alert_severity severity;
	/* http */
	char *method;
	char **headers;          /* "Name: value" */
	size_t n_headers;
	uint8_t expect_status[80]; /* bit per status code 0..639 */
	char *expect_text;       /* the expected statuses as written, for messages */
	char *body_contains;
	char *body_regex;
	void *re;                /* compiled body_regex (pcre2_code) */
	int64_t max_latency_ns;  /* 0 = no bound */
	/* tcp */
	char *host, *port;
	/* exec */
	char **argv;             /* NULL-terminated */
	size_t argc;
	int expect_exit;
};

/*
 * Parses the services section (a JSON array, or NULL/null for none) into
 * probes. Service entries without `probes` are skipped. Which keys may
 * appear is the config schema's (core/config.c), checked before; unknown
 * keys are not looked at here. On error returns OODA_EINVAL with the key path in err
 * ("services[1].probes[0].http.url: must be an http:// or https:// URL")
 * and sets nothing. Caller frees *out with probe_specs_free().
 */
int probe_specs_parse(const json_t *services, struct probe_spec **out, size_t *n, struct buf *err);
void probe_specs_free(struct probe_spec *v, size_t n);

/* Is status an expected HTTP status of spec? */
bool probe_status_expected(const struct probe_spec *spec, long status);

/* The attempts window behind the hysteresis. Zero-initialised = unknown, empty. */
struct probe_window {
	uint32_t bits;           /* bit i set = the attempt i attempts ago failed (bit 0 = latest) */
	int len;                 /* attempts in the window, at most PROBE_WINDOW_MAX */
	int consecutive_ok;
	enum probe_state state;
};

/* Records one attempt and returns the new state (see the drawing above). Pure. */
enum probe_state probe_window_push(struct probe_window *w, bool ok, int fail_n, int fail_m, int pass_k);

/* Failures among the last m attempts of the window. */
int probe_window_failures(const struct probe_window *w, int m);

/*
 * The next deadline after due on the grid due + k * interval (k >= 1) that is
 * later than now: a late or slow run never shifts the schedule, and missed
 * slots are skipped rather than run in a burst. Pure.
 */
int64_t probe_next_due(int64_t due, int64_t interval, int64_t now);

/* What one attempt found. */
struct probe_result {
	bool ok;
	int64_t at_ns;           /* wall clock at the end of the attempt */
	int64_t duration_ns;
	int code;                /* HTTP status, exit code, or -1 */
	char error[240];         /* why it failed, "" on success */
};

struct prober;

struct prober_options {
	struct tstore *tstore;   /* where results go as metrics; NULL = not stored (tests) */
	int workers;             /* DNS and exec worker threads; 0 picks 4 */
};

/* Creates an idle prober with no probes. Caller destroys it. */
int prober_create(const struct prober_options *opt, struct prober **out, struct buf *err);

/*
 * Checks the services section and, if apply, makes it current: probes whose
 * service, name and identity did not change keep their state, window and
 * history; others start unknown. A bad section returns OODA_EINVAL with the
 * key path and changes nothing. Safe from any thread.
 */
int prober_configure(struct prober *p, const json_t *services, bool apply, struct buf *err);

/* Starts the prober thread and its workers. */
int prober_start(struct prober *p, struct buf *err);

/* Stops the threads (in-flight attempts are abandoned), frees everything. NULL is a no-op. */
void prober_destroy(struct prober *p);

/*
 * The engine's tick (ctx = the prober): for each probe evaluated since the
 * last tick, emits one signal, source "probe", name "probe:SERVICE/NAME",
 * active while the probe is failing, with the recent results as evidence.
 * Reads memory only; never blocks on I/O.
 */
void probes_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink);

/*
 * Appends {"probes":[…], "services":[{name, owner, dependencies}…]} (service
 * and name NULL; services as declared in ooda.yaml, with or without probes)
 * or one probe's object as JSON to out; each probe names its service's owner. OODA_ENOTFOUND with detail when the named probe is unknown.
 */
int prober_json(struct prober *p, const char *service, const char *name, struct buf *out, struct buf *err);

/*
 * One probe's state as the remediation checks read it: *passing (its window's
 * state is passing and its newest attempt succeeded: a window of "2 of 3" still
 * reads passing after one failure) and *newest_begun_ns (wall clock when that
 * attempt began, 0 when it has made none). OODA_ENOTFOUND when the service has no
 * probe of that name.
 */
int prober_state(struct prober *p, const char *service, const char *name, bool *passing, int64_t *newest_begun_ns);

/*
 * The dependency edges the services section declares (services[].dependencies),
 * as {"edges":[{"source":SERVICE,"target":DEPENDENCY}…]} appended to out, the
 * shape alerts_set_declared_graph_json reads. services may be NULL.
 */
void services_edges_json(const json_t *services, struct buf *out);

/*
 * The semantic check of the `services:` section of ooda.yaml (config_check_fn in
 * core/config.h), registered by the daemon with config_register_check().
 */
struct buf;
int probe_config_check(const char *section_json, struct buf *err);

#endif
