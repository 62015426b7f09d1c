/*
 * The simulator's control port: what `ooda-sim fault`, the tests, the demo
 * script and ooda's redeploy hook talk to.
 *
 *   GET    /healthz          200 while the simulator runs
 *   GET    /state            services, load, job, flags, exporter, faults
 *   GET    /metrics          the job's last success (Prometheus text, as a Pushgateway has it)
 *   GET    /faults           the fault instances, active and cleared
 *   GET    /catalogue        the fault table (as list-faults --json)
 *   POST   /faults           {name, service?, for?} → 201 with the fault's id
 *   DELETE /faults/{id}      clear now
 *   POST   /hooks/redeploy   ooda's deploy.hooks.redeploy.http: {service, version, …}
 *                            sets that service's version (a rollback reaching the sim)
 *   POST   /admin/job/restart restarts the reconciler job (cures job-stopped)
 */
#include <jansson.h>

#include "core/error.h"
#include "fault.h"
#include "faultreq.h"
#include "world.h"

static unsigned status_of(int rc)
{
	return rc == OODA_ENOTFOUND ? 404 : rc == OODA_ECONFLICT ? 409 : rc == OODA_ELIMIT ? 422
	     : rc == OODA_EUNAVAIL ? 503 : rc == OODA_EIO ? 502 : 400;
}

static enum MHD_Result reply_buf(struct MHD_Connection *c, unsigned status, struct buf *b)
{
	enum MHD_Result rc = mhd_reply(c, status, "application/json", b->data, b->len);
	buf_release(b);
	return rc;
}

static enum MHD_Result post_fault(struct world *w, struct MHD_Connection *c, const char *body, size_t len)
{
	struct fault_request req;
	struct buf err = BUF_INIT, out = BUF_INIT;
	int rc = fault_request_parse(body, len, &req, &err);
	if (rc == 0)
		rc = world_fault_inject(w, req.def, req.svc, req.for_ns, &err);
	if (rc < 0) {
		enum MHD_Result r = mhd_problem(c, status_of(rc), err.data);
		buf_release(&err);
		return r;
	}
	buf_release(&err);
	/* the list entry of the new fault */
	struct buf all = BUF_INIT;
	world_faults_json(w, &all);
	json_t *arr = json_loads(all.data, 0, NULL);
	size_t k;
	json_t *f;
	json_array_foreach(arr, k, f) {
		if (json_integer_value(json_object_get(f, "id")) == rc) {
			char *s = json_dumps(f, JSON_COMPACT);
			buf_adds(&out, s);
			free(s);
		}
	}
	json_decref(arr);
	buf_release(&all);
	return reply_buf(c, 201, &out);
}

static enum MHD_Result redeploy_hook(struct world *w, struct MHD_Connection *c, const char *body, size_t len)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	int svc = svc_find(json_string_value(json_object_get(j, "service")));
	const char *v = json_string_value(json_object_get(j, "version"));
	enum MHD_Result r;
	if (svc < 0 || svc >= SVC_SERVERS)
		r = mhd_problem(c, 400, "service: must name a simulated service with a server");
	else if (!v || !*v || strlen(v) >= sizeof w->svc[0].version)
		r = mhd_problem(c, 400, "version: required, a string of 1 to 31 characters");
	else {
		world_set_version(w, svc, v);
		r = mhd_reply(c, 200, "application/json", "{\"redeployed\":true}", 19);
	}
	json_decref(j);
	return r;
}

static enum MHD_Result get_healthz(struct world *w, struct MHD_Connection *c, const char *arg, const char *body,
				  size_t len)
{
	return mhd_reply(c, 200, "text/plain", "ok\n", 3);
}

/* The job's last success, as a batch job pushes it to a Pushgateway for Prometheus to scrape. */
static enum MHD_Result get_metrics(struct world *w, struct MHD_Connection *c, const char *arg, const char *body,
				  size_t len)
{
	pthread_mutex_lock(&w->mu);
	int64_t last = w->job_last_ok_ns;
	pthread_mutex_unlock(&w->mu);
	struct buf out = BUF_INIT;
	buf_adds(&out, "# HELP sim_job_last_success_timestamp_seconds When the job last ran successfully.\n"
		       "# TYPE sim_job_last_success_timestamp_seconds gauge\n");
	if (last)
		buf_addf(&out, "sim_job_last_success_timestamp_seconds{job=\"reconciler\"} %.3f\n", (double)last / 1e9);
	enum MHD_Result rc = mhd_reply(c, 200, "text/plain; version=0.0.4", out.data, out.len);
	buf_release(&out);
	return rc;
}

static enum MHD_Result get_state(struct world *w, struct MHD_Connection *c, const char *arg, const char *body,
				 size_t len)
{
	struct buf out = BUF_INIT;
	world_state_json(w, &out);
	return reply_buf(c, 200, &out);
}

static enum MHD_Result get_catalogue(struct world *w, struct MHD_Connection *c, const char *arg, const char *body,
				     size_t len)
{
	struct buf out = BUF_INIT;
	fault_catalogue_json(&out);
	return reply_buf(c, 200, &out);
}

static enum MHD_Result get_faults(struct world *w, struct MHD_Connection *c, const char *arg, const char *body,
				  size_t len)
{
	struct buf out = BUF_INIT;
	world_faults_json(w, &out);
	return reply_buf(c, 200, &out);
}

static enum MHD_Result post_faults(struct world *w, struct MHD_Connection *c, const char *arg, const char *body,
				   size_t len)
{
	return post_fault(w, c, body, len);
}

static enum MHD_Result delete_fault(struct world *w, struct MHD_Connection *c, const char *arg, const char *body,
				    size_t len)
{
	char *end;
	long id = strtol(arg, &end, 10);
	if (end == arg || *end || id <= 0 || id > 1000000000)
		return mhd_problem(c, 400, "id: must be a fault id (a positive number)");
	struct buf err = BUF_INIT;
	int rc = world_fault_clear(w, (int)id, &err);
	enum MHD_Result r = rc < 0 ? mhd_problem(c, status_of(rc), err.data)
				   : mhd_reply(c, 200, "application/json", "{\"cleared\":true}", 16);
	buf_release(&err);
	return r;
}

static enum MHD_Result post_redeploy(struct world *w, struct MHD_Connection *c, const char *arg, const char *body,
				     size_t len)
{
	return redeploy_hook(w, c, body, len);
}

static enum MHD_Result post_job_restart(struct world *w, struct MHD_Connection *c, const char *arg,
					const char *body, size_t len)
{
	world_job_restart(w);
	return mhd_reply(c, 202, "application/json", "{\"restarting\":true}", 19);
}

/* The control port's routes; a path ending in '/' takes the rest of the URL as its argument. */
static const struct control_route {
	const char *method;
	const char *path;
	enum MHD_Result (*fn)(struct world *w, struct MHD_Connection *c, const char *arg, const char *body,
			      size_t len);
} control_routes[] = {
	{ "GET", "/healthz", get_healthz },
	{ "GET", "/state", get_state },
	{ "GET", "/metrics", get_metrics },
	{ "GET", "/catalogue", get_catalogue },
	{ "GET", "/faults", get_faults },
	{ "POST", "/faults", post_faults },
	{ "DELETE", "/faults/", delete_fault },
	{ "POST", "/hooks/redeploy", post_redeploy },
	{ "POST", "/admin/job/restart", post_job_restart },
};

static enum MHD_Result on_control(void *cls, struct MHD_Connection *c, const char *method, const char *url,
				  const char *body, size_t len)
{
	struct world *w = cls;
	bool path_known = false;
	for (size_t i = 0; i < sizeof control_routes / sizeof control_routes[0]; i++) {
		const struct control_route *r = &control_routes[i];
		size_t n = strlen(r->path);
		bool prefix = r->path[n - 1] == '/';
		if (prefix ? strncmp(url, r->path, n) != 0 || !url[n] : strcmp(url, r->path) != 0)
			continue;
		path_known = true;
		if (strcmp(method, r->method) == 0)
			return r->fn(w, c, prefix ? url + n : NULL, body, len);
	}
	if (path_known)
		return mhd_problem(c, 405, "method not allowed on this path (see docs/sim.md)");
	return mhd_problem(c, 404, "routes: /state, /metrics, /faults, /faults/{id}, /catalogue, /hooks/redeploy, /admin/job/restart");
}

int control_start(struct world *w, int port, struct buf *err)
{
	w->control.route = on_control;
	w->control.cls = w;
	if (mhd_serve(&w->control, port) < 0) {
		buf_addf(err, "control port: cannot listen on 127.0.0.1:%d (is another ooda-sim running? --base-port)",
			 port);
		return OODA_EUNAVAIL;
	}
	return 0;
}

void control_stop(struct world *w)
{
	mhd_stop(&w->control);
}
