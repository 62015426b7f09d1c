/*
 * The insides of the prober, shared by probe.c (the schedule, the prober
 * thread, results and the readers) and probe_check.c (the checkers: HTTP
 * over libcurl multi, non-blocking TCP connects, and the DNS, TCP-by-name
 * and exec jobs the worker pool runs). probe_config.c only needs
 * probe_spec_release(). Only probe*.c include this; everyone else goes
 * through probe.h.
 */
#ifndef OODA_DETECT_PROBE_IMPL_H
#define OODA_DETECT_PROBE_IMPL_H

#include "detect/probe.h"

#include <curl/curl.h>
#include <pthread.h>

#include "core/arena.h"
#include "core/time.h"

#define BODY_CAP (256u << 10)      /* response bytes kept for body_contains / body_regex */
#define FLUSH_EVERY_NS OODA_NS_PER_SEC
#define JOB_GRACE_NS OODA_NS_PER_SEC /* a worker's answer may come this late before the attempt times out */

/* A probe at run time. Only the prober thread changes it; readers hold mu. */
struct probe_rt {
	struct probe_spec spec;
	uint64_t id;                /* unique for the prober's life: worker answers name it */
	uint64_t run;               /* attempt counter: an answer for another attempt is dropped */
	int64_t due;                /* monotonic time of the next attempt */
	bool running;
	int64_t started, deadline;  /* monotonic */
	CURL *easy;
	struct curl_slist *hdrs;
	struct buf body;
	char errbuf[CURL_ERROR_SIZE];
	int fd;                     /* TCP connect in progress, or -1 */
	struct probe_window win;
	struct probe_result hist[PROBE_HISTORY]; /* ring, hist[head] newest */
	int n_hist, head;
	int64_t attempts, failures;
	bool dirty;                 /* evaluated since the last tick */
};

/* Work for the pool: a DNS lookup, an exec, or a TCP connect to a name. */
struct job {
	struct job *next;
	uint64_t id, run;
	enum probe_kind kind;
	char *host, *port;
	char **argv;
	int expect_exit;
	int64_t timeout_ns;
	struct probe_result res;
};

struct prober {
	pthread_mutex_t mu;         /* v, n, pending, done and what readers see of each probe */
	struct probe_rt **v;
	size_t n;
	struct probe_spec *pending;
	size_t n_pending;
	bool has_pending;
	json_t *services;           /* [{name, owner, dependencies}] as declared */
	struct job *done;
	uint64_t next_id;
	CURLM *multi;
	struct tstore *tstore;
	pthread_t thread;
	bool started;
	volatile int stop;
	struct worker *jobs;        /* core/worker: a pool of n_workers threads for blocking jobs */
	int n_workers;
	struct arena arena;         /* strings of the metric points waiting for the store */
	struct metric_point *pts;
	size_t n_pts, cap_pts;
	int64_t last_flush;
	int64_t store_errors;
};

/* ---- probe_config.c -------------------------------------------------- */

/* Frees what s holds and zeroes it; s itself stays the caller's. */
void probe_spec_release(struct probe_spec *s);

/* ---- probe.c ------------------------------------------------------------ */

/*
 * Ends rt's attempt with result r: pushes it through the hysteresis window
 * and the history (under p->mu) and queues its metric points. Prober thread.
 */
void probe_record(struct prober *p, struct probe_rt *rt, const struct probe_result *r);

/* ---- probe_check.c ------------------------------------------------------ */

/* Fills r: ok, duration (clamped at 0), code, now, and an optional message. */
void probe_result_set(struct probe_result *r, bool ok, int64_t dur, int code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Frees a job and what it holds; NULL is fine. */
void probe_job_free(struct job *j);
/* The job pool's fn (core/worker): runs one job, then hands it to p's done list. */
void probe_job_run(void *arg, void *item);
/* The job pool's drop: frees a job never run. */
void probe_job_drop(void *item);
/* Hands rt's attempt to the job pool; a full queue is a failed attempt. */
void probe_job_submit(struct prober *p, struct probe_rt *rt);
/* 0 when fd's non-blocking connect succeeded, else its errno. */
int probe_tcp_finish(int fd);
/* Starts rt's HTTP attempt on p->multi; a failure to start is recorded at once. */
void probe_http_start(struct prober *p, struct probe_rt *rt);
/* Judges rt's finished transfer (status, body, latency), cleans up and records. */
void probe_http_done(struct prober *p, struct probe_rt *rt, CURLcode code);
/* Frees rt's transfer, if any, and its headers and body. */
void probe_http_cleanup(struct prober *p, struct probe_rt *rt);
/* Starts rt's TCP attempt: a numeric address connects here, a name goes to the pool. */
void probe_tcp_start(struct prober *p, struct probe_rt *rt);
/* Records rt's connect ending with errno e (0 = connected) and closes it. */
void probe_tcp_done(struct prober *p, struct probe_rt *rt, int e);

#endif
