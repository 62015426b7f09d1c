/*
 * The load generator and the background job. Load: a few worker threads share
 * one schedule — each takes the next firing time (advanced by wave_interval),
 * sleeps until then and sends GET /checkout?user=N to the frontend as a
 * simulated user — so a slow request delays only its worker, not the rate.
 * Job: the reconciler runs every job_every_s, reads from the database (a
 * traced call) and pings ooda's heartbeat sim-reconciler; the job-stopped
 * fault makes it skip both, silently, as a wedged cron job does.
 */
#include <math.h>

#include "core/error.h"
#include "core/time.h"
#include "httpc.h"
#include "traceparent.h"
#include "world.h"

#define LOAD_WORKERS 8

static void sleep_until(struct world *w, double t)
{
	double now = world_clock(w);
	while (w->running && t > now) {
		double d = t - now;
		if (d > 0.2)
			d = 0.2; /* stay responsive to stop */
		struct timespec ts = { (time_t)d, (long)(fmod(d, 1.0) * 1e9) };
		nanosleep(&ts, NULL);
		now = world_clock(w);
	}
}

static void *load_main(void *arg)
{
	struct world *w = arg;
	char url[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", w->svc[SVC_FRONTEND].http.port,
		 svc_defs[SVC_FRONTEND].route);
	while (w->running) {
		pthread_mutex_lock(&w->mu);
		double now = world_clock(w);
		if (w->next_fire < now - 1)
			w->next_fire = now; /* behind by more than a second: do not burst to catch up */
		double t = w->next_fire;
		w->next_fire += wave_interval(&w->wave, t, &w->load_rng);
		int user = 1 + (int)(sim_rand64(&w->load_rng) % 500);
		pthread_mutex_unlock(&w->mu);
		sleep_until(w, t);
		if (!w->running)
			break;
		char u[200];
		snprintf(u, sizeof u, "%s?user=%d", url, user);
		struct buf err = BUF_INIT;
		long status = 0;
		int rc = httpc_call("GET", u, NULL, NULL, 0, 5000, &status, NULL, &err);
		buf_release(&err);
		pthread_mutex_lock(&w->mu);
		w->load_sent++;
		if (rc < 0 || status >= 500)
			w->load_failed++;
		pthread_mutex_unlock(&w->mu);
	}
	return NULL;
}

static void *job_main(void *arg)
{
	struct world *w = arg;
	double next = world_clock(w);
	while (w->running) {
		sleep_until(w, next);
		if (!w->running)
			break;
		next += w->opt.job_every_s;
		pthread_mutex_lock(&w->mu);
		bool stopped = w->job_stopped;
		pthread_mutex_unlock(&w->mu);
		if (stopped)
			continue;
		int64_t t0 = ooda_now_ns();
		int status = service_handle(w, SVC_RECONCILER, NULL, 0);
		int64_t done = ooda_now_ns();
		int64_t ms = (done - t0) / OODA_NS_PER_MS;
		if (status < 500) { /* the last-success time a batch job pushes to a Pushgateway */
			pthread_mutex_lock(&w->mu);
			w->job_last_ok_ns = done;
			pthread_mutex_unlock(&w->mu);
		}
		char body[160], path[96];
		snprintf(body, sizeof body, "{\"status\":\"%s\",\"duration_ms\":%lld,\"message\":\"reconciled orders\"}",
			 status < 500 ? "ok" : "fail", (long long)ms);
		snprintf(path, sizeof path, "/api/v1/heartbeats/%s", SIM_HEARTBEAT);
		struct buf err = BUF_INIT;
		int rc = world_ooda(w, "POST", path, body, NULL, &err);
		buf_release(&err);
		pthread_mutex_lock(&w->mu);
		w->job_runs++;
		if (rc == 0)
			w->job_pings++;
		else
			w->job_ping_errors++;
		pthread_mutex_unlock(&w->mu);
	}
	return NULL;
}

int load_start(struct world *w, struct buf *err)
{
	w->next_fire = world_clock(w);
	for (int i = 0; i < LOAD_WORKERS; i++) {
		if (pthread_create(&w->load_threads[w->nload], NULL, load_main, w) != 0) {
			buf_adds(err, "cannot start the load generator");
			return OODA_ENOMEM;
		}
		w->nload++;
	}
	if (pthread_create(&w->job_thread, NULL, job_main, w) != 0) {
		buf_adds(err, "cannot start the reconciler job");
		return OODA_ENOMEM;
	}
	w->job_started = true;
	return 0;
}

void load_stop(struct world *w)
{
	for (int i = 0; i < w->nload; i++)
		pthread_join(w->load_threads[i], NULL);
	w->nload = 0;
	if (w->job_started)
		pthread_join(w->job_thread, NULL);
	w->job_started = false;
}
