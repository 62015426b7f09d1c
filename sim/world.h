/*
 * The running simulated system: the services (each an HTTP server on its own
 * loopback port, see service.c), the load generator (load.c), the background
 * job, the flag poller, the exporter to ooda, the active faults and the
 * simulator's control port. `ooda-sim run` creates one world, waits for a
 * signal and destroys it. Everything a fault changes lives in struct
 * svc_state under its lock.
 */
#ifndef OODA_SIM_WORLD_H
#define OODA_SIM_WORLD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "export.h"
#include "mhdutil.h"
#include "topology.h"
#include "wave.h"

/* Latency histogram bounds, seconds (Prometheus `le`). */
#define SIM_BUCKETS 10
extern const double sim_bucket_le[SIM_BUCKETS];

#define SIM_FLAG_KEY "new-pricing"
#define SIM_HEARTBEAT "sim-reconciler"
#define SIM_MEM_BASE (64.0 * 1048576)
#define SIM_MEM_LIMIT (256.0 * 1048576)
/*
 * A crash loop backs off as Kubernetes' CrashLoopBackOff does: the first
 * crash restarts at once (SIM_CRASH_FIRST_S, the process's start), the next
 * ones wait 10 s, then twice as long each time, at most 5 minutes; 10
 * minutes without a crash (or a restart through the admin endpoint, or the
 * fault cleared) starts over.
 */
#define SIM_CRASH_FIRST_S 2
#define SIM_CRASH_BACKOFF_S 10
#define SIM_CRASH_BACKOFF_MAX_S 300
#define SIM_CRASH_RESET_S 600

/* How long an OOM crash at now keeps the service down, given the last crash (0: none) and its wait. */
int64_t sim_crash_wait(int64_t last_crash, int64_t last_wait, int64_t now);

struct sim_options {
	const char *ooda_url;   /* default http://127.0.0.1:4318 */
	const char *token;      /* may be NULL: ooda without tokens */
	const char *env;        /* deployment.environment and flag env, default prod */
	int base_port;          /* control port; services at base+1.. ; 0 = ephemeral */
	const char *ports_file; /* may be NULL */
	double rps;
	double wave_period_s;
	double job_every_s;     /* the reconciler's period */
	double flag_poll_s;
	uint64_t seed;
	long export_ms;
};

void sim_options_init(struct sim_options *o);

struct svc_state {
	struct world *w;
	int idx;
	pthread_mutex_t mu;
	struct mhd_server http;
	char version[32];
	char prev_version[32];
	char bad_version[32];  /* a version that fails bad_ratio of requests */
	double bad_ratio;
	double latency_mult;   /* slow-dependency: ×10 */
	bool down;             /* dependency-down */
	double shed_ratio;     /* config-shed, /admin/shed */
	double leak_per_req;   /* memory-leak: bytes per request */
	double mem_bytes;      /* the simulated resident memory */
	int64_t restarting_until; /* crash loop / restart: unavailable until (ns) */
	int64_t last_crash;       /* the last OOM crash (ns), 0: none since the last reset */
	int64_t crash_backoff;    /* the wait the last crash got (ns) */
	uint64_t restarts;
	double noise_ratio;    /* noise: errors during the blip */
	/* metrics */
	uint64_t req_ok, req_err, req_shed;
	uint64_t bucket[SIM_BUCKETS];
	double latency_sum;
	uint64_t latency_count;
	uint64_t rng;
};

#define SIM_MAX_FAULTS 64

struct fault {
	int id;
	int def;
	int svc;
	int64_t started_ns;
	int64_t until_ns;  /* 0: until cleared */
	int64_t cleared_ns;
	bool active;
	char detail[160];  /* e.g. the deploy id and version */
	char saved[64];    /* what clear restores */
};

struct world {
	struct sim_options opt;
	struct svc_state svc[SVC_COUNT];
	struct exporter *exp;
	struct mhd_server control;
	int64_t started_ns;
	char *auth_header; /* "Authorization: Bearer T" or NULL */

	pthread_mutex_t fault_mu; /* serializes inject and clear (apply may call ooda) */
	pthread_mutex_t mu; /* faults, wave, flags, job */
	struct fault faults[SIM_MAX_FAULTS];
	int nfaults;
	int next_fault_id;
	struct wave wave;
	uint64_t load_rng;
	double next_fire;     /* seconds since start of the next request */
	bool flag_on[2];      /* new-pricing for plan free [0] and pro [1] */
	uint64_t flag_polls, flag_errors;
	bool job_stopped;
	uint64_t job_runs, job_pings, job_ping_errors, job_restarts;
	int64_t job_last_ok_ns; /* wall clock of the last run that succeeded (0: none yet) */
	uint64_t load_sent, load_failed;

	volatile int running;
	pthread_t load_threads[8];
	int nload;
	pthread_t job_thread, flag_thread, tick_thread;
	bool job_started, flag_started, tick_started;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
};

/*
 * Starts the whole system: the services' servers, the control port, the
 * exporter, the flag poller (creating flag new-pricing in ooda when absent),
 * the reconciler, the load generator and the fault ticker; writes the ports
 * file. Returns the world, or NULL with err (nothing left running).
 */
struct world *world_start(const struct sim_options *opt, struct buf *err);

/* Stops every thread and server, exports what is queued, frees w. */
void world_stop(struct world *w);

/*
 * Injects fault def on service svc for for_ns (0: until cleared). Returns the
 * new fault's id (> 0), or OODA_ECONFLICT when the same fault is active on
 * that service, OODA_ELIMIT when SIM_MAX_FAULTS are listed, or the apply
 * function's error, each with err.
 */
int world_fault_inject(struct world *w, int def, int svc, int64_t for_ns, struct buf *err);

/* Clears fault id now. OODA_ENOTFOUND when no active fault has that id. */
int world_fault_clear(struct world *w, int id, struct buf *err);

/* Appends the faults (active and cleared) as a JSON array. */
void world_faults_json(struct world *w, struct buf *out);

/* Appends the state: services (port, version, health, knobs, counters), job, flags, load, exporter. */
void world_state_json(struct world *w, struct buf *out);

/*
 * Calls ooda's API: method path (with query) and a JSON body (may be NULL),
 * with the token and "X-Ooda-Rationale: ooda-sim". Returns 0 for a 2xx with
 * the body appended to resp (may be NULL); OODA_EIO with the status and body
 * in err otherwise, or OODA_EUNAVAIL when ooda does not answer.
 */
int world_ooda(struct world *w, const char *method, const char *path, const char *body, struct buf *resp,
	       struct buf *err);

/* Sets service svc's version (rollback through /admin/version or ooda's redeploy hook). */
void world_set_version(struct world *w, int svc, const char *version);

/* Restarts service svc: memory back to base, unavailable for a moment (restart counted). */
void world_restart(struct world *w, int svc);
/*
 * Restarts the reconciler job (POST /admin/job/restart on the control port):
 * a job stopped by job-stopped runs and pings again from its next tick; the
 * fault stays listed until cleared. Counted in the state's job.restarts.
 */
void world_job_restart(struct world *w);

/* Queues a log record for svc: severity (9 info, 13 warn, 17 error, 21 fatal), message, ids may be NULL. */
void world_log(struct world *w, int svc, int severity, const char *msg, const uint8_t *trace_id,
	       const uint8_t *span_id, int user);

/* The healthy definition of flag new-pricing (flagd JSON), as created at start. */
const char *world_flag_healthy(void);

/* Seconds since the world started. */
double world_clock(struct world *w);

/* In service.c: start and stop the HTTP server of service i (port 0 = ephemeral). */
int service_start(struct world *w, int i, int port, struct buf *err);
void service_stop(struct world *w, int i);

/*
 * In service.c: one request handled by service i as its server span, with
 * trace context tp (NULL: a new trace) and the user; the span and its client
 * spans are exported. Returns the HTTP status it answers.
 */
int service_handle(struct world *w, int i, const char *traceparent, int user);

/* In service.c: the Prometheus text of service i. */
void service_metrics(struct world *w, int i, struct buf *out);

/* In load.c: the load generator and the reconciler job threads. */
int load_start(struct world *w, struct buf *err);
void load_stop(struct world *w);

/* In control.c: the simulator's control port. */
int control_start(struct world *w, int port, struct buf *err);
void control_stop(struct world *w);

#endif
