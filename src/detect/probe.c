/*
 * Probes (see probe.h): the hysteresis window and the drift-free schedule
 * (pure, unit-tested), and the prober: one thread driving libcurl multi for
 * HTTP, non-blocking TCP connects and a small worker pool for DNS lookups
 * and exec children, which records each result in memory under one mutex
 * and in the telemetry store as metrics. probes_tick() and prober_json()
 * only read that memory. probe_config.c parses the services section into
 * probe specs; probe_check.c holds the checkers themselves.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "detect/probe_impl.h"
#include "core/config.h"
#include "core/error.h"
#include "core/lead.h"
#include "core/log.h"
#include "core/time.h"
#include "core/worker.h"
#include "store/tstore.h"
#include "model/jsontime.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pcre2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

const char *probe_state_name(enum probe_state s)
{
	static const char *const names[] = { "unknown", "passing", "failing" };
	return (unsigned)s < 3 ? names[s] : "unknown";
}

const char *probe_kind_name(enum probe_kind k)
{
	static const char *const names[] = { "http", "tcp", "dns", "exec" };
	return (unsigned)k < 4 ? names[k] : "?";
}

/* ---- hysteresis and schedule (pure) ------------------------------------- */

int probe_window_failures(const struct probe_window *w, int m)
{
	if (m > w->len)
		m = w->len;
	if (m <= 0)
		return 0;
	uint32_t mask = m >= 32 ? UINT32_MAX : ((UINT32_C(1) << m) - 1);
	return __builtin_popcount(w->bits & mask);
}

enum probe_state probe_window_push(struct probe_window *w, bool ok, int fail_n, int fail_m, int pass_k)
{
	w->bits = (w->bits << 1) | (ok ? 0u : 1u);
	if (w->len < PROBE_WINDOW_MAX)
		w->len++;
	w->consecutive_ok = ok ? w->consecutive_ok + 1 : 0;
	if (w->state == PROBE_FAILING) {
		if (w->consecutive_ok >= pass_k) {
			/* recovered: the failures that made it fail are history, not evidence */
			w->state = PROBE_PASSING;
			w->bits = 0;
			w->len = 0;
		}
	} else if (probe_window_failures(w, fail_m) >= fail_n) {
		w->state = PROBE_FAILING;
	} else if (ok && w->state == PROBE_UNKNOWN) {
		w->state = PROBE_PASSING;
	}
	return w->state;
}

int64_t probe_next_due(int64_t due, int64_t interval, int64_t now)
{
	if (interval <= 0)
		return now;
	if (now < due + interval)
		return due + interval;
	int64_t k = (now - due) / interval + 1;
	return due + k * interval;
}

/* ---- the prober --------------------------------------------------------- */

/* ---- results ------------------------------------------------------------ */

static void add_points(struct prober *p, const struct probe_rt *rt, const struct probe_result *r)
{
	if (!p->tstore)
		return;
	if (p->n_pts + 2 > p->cap_pts) {
		p->cap_pts = p->cap_pts ? p->cap_pts * 2 : 64;
		p->pts = xrealloc(p->pts, p->cap_pts * sizeof(*p->pts));
	}
	struct resource *res = arena_zalloc(&p->arena, sizeof(*res));
	res->service = arena_strdup(&p->arena, rt->spec.service);
	struct attr *a = arena_zalloc(&p->arena, 2 * sizeof(*a));
	a[0] = (struct attr){ .key = "probe", .type = ATTR_STR, .s = arena_strdup(&p->arena, rt->spec.name),
			      .len = (uint32_t)strlen(rt->spec.name) };
	a[1] = (struct attr){ .key = "service", .type = ATTR_STR, .s = res->service,
			      .len = (uint32_t)strlen(rt->spec.service) };
	const char *names[2] = { "ooda_probe_success", "ooda_probe_duration_seconds" };
	double values[2] = { r->ok ? 1.0 : 0.0, (double)r->duration_ns / 1e9 };
	for (int i = 0; i < 2; i++) {
		struct metric_point *m = &p->pts[p->n_pts++];
		memset(m, 0, sizeof(*m));
		m->name = names[i];
		m->unit = i ? "s" : "1";
		m->type = METRIC_GAUGE;
		m->prom_native = true; /* named for Prometheus already (no _ratio) */
		m->time_ns = r->at_ns;
		m->resource = res;
		m->scope_name = "ooda.probe";
		m->attrs = (struct attrs){ a, 2 };
		m->value = values[i];
	}
}

/* On the prober thread only: the store blocks until the points are durable. */
static void flush_points(struct prober *p, bool force)
{
	int64_t now = ooda_mono_ns();
	if (!p->n_pts || (!force && p->n_pts < 512 && now - p->last_flush < FLUSH_EVERY_NS))
		return;
	struct telemetry_batch b = { .arena = &p->arena, .points = p->pts, .n_points = p->n_pts };
	struct buf err = BUF_INIT;
	if (tstore_append(p->tstore, &b, &err) && p->store_errors++ % 60 == 0)
		log_error("probe results not stored: %s", err.data);
	buf_release(&err);
	arena_reset(&p->arena);
	p->n_pts = 0;
	p->last_flush = now;
}

void probe_record(struct prober *p, struct probe_rt *rt, const struct probe_result *r)
{
	pthread_mutex_lock(&p->mu);
	rt->running = false;
	rt->run++;
	rt->deadline = 0;
	probe_window_push(&rt->win, r->ok, rt->spec.fail_n, rt->spec.fail_m, rt->spec.pass_k);
	rt->head = (rt->head + 1) % PROBE_HISTORY;
	rt->hist[rt->head] = *r;
	if (rt->n_hist < PROBE_HISTORY)
		rt->n_hist++;
	rt->attempts++;
	rt->failures += !r->ok;
	rt->dirty = true;
	pthread_mutex_unlock(&p->mu);
	add_points(p, rt, r);
}


static void attempt_start(struct prober *p, struct probe_rt *rt, int64_t now)
{
	pthread_mutex_lock(&p->mu);
	rt->running = true;
	rt->started = now;
	rt->deadline = now + rt->spec.timeout_ns + JOB_GRACE_NS;
	pthread_mutex_unlock(&p->mu);
	switch (rt->spec.kind) {
	case PROBE_HTTP:
		probe_http_start(p, rt);
		break;
	case PROBE_TCP:
		rt->deadline = now + rt->spec.timeout_ns;
		probe_tcp_start(p, rt);
		break;
	default:
		probe_job_submit(p, rt);
		break;
	}
}

/* Abandons an attempt in flight (reload, shutdown, or a worker too late). */
static void attempt_cancel(struct prober *p, struct probe_rt *rt)
{
	probe_http_cleanup(p, rt);
	if (rt->fd >= 0)
		close(rt->fd);
	rt->fd = -1;
}

static void rt_free(struct prober *p, struct probe_rt *rt)
{
	attempt_cancel(p, rt);
	probe_spec_release(&rt->spec);
	free(rt);
}

/* Makes pending specs current, keeping the state of unchanged probes. Holds mu. */
static void apply_locked(struct prober *p, struct probe_spec *specs, size_t n)
{
	struct probe_rt **nv = xcalloc(n ? n : 1, sizeof(*nv));
	int64_t now = ooda_mono_ns();
	for (size_t i = 0; i < n; i++) {
		struct probe_rt *keep = NULL;
		for (size_t k = 0; k < p->n; k++) {
			struct probe_rt *o = p->v[k];
			if (o && !strcmp(o->spec.service, specs[i].service) && !strcmp(o->spec.name, specs[i].name) &&
			    !strcmp(o->spec.identity, specs[i].identity)) {
				keep = o;
				p->v[k] = NULL;
				break;
			}
		}
		if (keep) {
			bool interval_changed = keep->spec.interval_ns != specs[i].interval_ns;
			/* curl copied the URL; headers live in keep->hdrs: the attempt in flight is unaffected */
			probe_spec_release(&keep->spec);
			keep->spec = specs[i];
			if (interval_changed && !keep->running)
				keep->due = now;
		} else {
			keep = xcalloc(1, sizeof(*keep));
			keep->spec = specs[i];
			keep->id = ++p->next_id;
			keep->fd = -1;
			keep->due = now;
			buf_init(&keep->body);
		}
		memset(&specs[i], 0, sizeof(specs[i]));
		nv[i] = keep;
	}
	for (size_t k = 0; k < p->n; k++)
		if (p->v[k])
			rt_free(p, p->v[k]);
	free(p->v);
	free(specs);
	p->v = nv;
	p->n = n;
}

static struct probe_rt *rt_by_id(struct prober *p, uint64_t id)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i]->id == id)
			return p->v[i];
	return NULL;
}

static void *prober_main(void *arg)
{
	struct prober *p = arg;
	struct curl_waitfd *wfd = NULL;
	struct pollfd *pfd = NULL;
	struct probe_rt **tcp = NULL;
	size_t cap = 0;
	while (!p->stop) {
		pthread_mutex_lock(&p->mu);
		if (p->has_pending) {
			apply_locked(p, p->pending, p->n_pending);
			p->pending = NULL;
			p->n_pending = 0;
			p->has_pending = false;
		}
		pthread_mutex_unlock(&p->mu);
		if (cap < p->n) {
			cap = p->n;
			wfd = xrealloc(wfd, cap * sizeof(*wfd));
			pfd = xrealloc(pfd, cap * sizeof(*pfd));
			tcp = xrealloc(tcp, cap * sizeof(*tcp));
		}
		int64_t now = ooda_mono_ns(), wake = now + OODA_NS_PER_SEC;
		/*
		 * Probing is the leader's work: with several nodes one attempt per
		 * interval reaches a target, not one per node. A follower keeps
		 * each probe's schedule without attempting, so on taking the lead
		 * it starts at the next due time.
		 */
		bool leads = lead_term() > 0;
		size_t nt = 0;
		for (size_t i = 0; i < p->n; i++) {
			struct probe_rt *rt = p->v[i];
			if (rt->running && rt->deadline && now >= rt->deadline) {
				/* a worker or a connect that outlived its timeout: the attempt failed */
				struct probe_result r;
				char d[32];
				probe_result_set(&r, false, now - rt->started, -1, "no answer within the timeout (%s)",
					   ooda_duration_format(rt->spec.timeout_ns, d, sizeof(d)));
				if (rt->fd >= 0 && rt->spec.kind == PROBE_TCP) {
					probe_tcp_done(p, rt, ETIMEDOUT);
				} else {
					attempt_cancel(p, rt);
					probe_record(p, rt, &r);
				}
			}
			if (!rt->running && now >= rt->due) {
				if (leads)
					attempt_start(p, rt, now);
				rt->due = probe_next_due(rt->due, rt->spec.interval_ns, now);
			}
			if (!rt->running && rt->due < wake)
				wake = rt->due;
			if (rt->running && rt->deadline && rt->deadline < wake)
				wake = rt->deadline;
			if (rt->running && rt->fd >= 0) {
				wfd[nt] = (struct curl_waitfd){ .fd = rt->fd, .events = CURL_WAIT_POLLOUT };
				tcp[nt++] = rt;
			}
		}
		int64_t ms = (wake - now) / OODA_NS_PER_MS + 1;
		if (p->n_pts && ms > 1000)
			ms = 1000;
		int numfds = 0;
		curl_multi_poll(p->multi, nt ? wfd : NULL, (unsigned)nt, (int)(ms < 0 ? 0 : ms), &numfds);
		int still = 0;
		curl_multi_perform(p->multi, &still);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(p->multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct probe_rt *rt = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&rt);
			if (rt)
				probe_http_done(p, rt, msg->data.result);
		}
		if (nt) {
			for (size_t i = 0; i < nt; i++)
				pfd[i] = (struct pollfd){ .fd = tcp[i]->fd, .events = POLLOUT };
			if (poll(pfd, nt, 0) > 0)
				for (size_t i = 0; i < nt; i++)
					if (pfd[i].revents)
						probe_tcp_done(p, tcp[i], probe_tcp_finish(pfd[i].fd));
		}
		pthread_mutex_lock(&p->mu);
		struct job *done = p->done;
		p->done = NULL;
		pthread_mutex_unlock(&p->mu);
		while (done) {
			struct job *j = done;
			done = j->next;
			struct probe_rt *rt = rt_by_id(p, j->id);
			if (rt && rt->running && rt->run == j->run)
				probe_record(p, rt, &j->res);
			probe_job_free(j);
		}
		flush_points(p, false);
	}
	flush_points(p, true);
	free(wfd);
	free(pfd);
	free(tcp);
	return NULL;
}

/* ---- lifecycle ------------------------------------------------------------ */

int prober_create(const struct prober_options *opt, struct prober **out, struct buf *err)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct prober *p = xcalloc(1, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	p->tstore = opt ? opt->tstore : NULL;
	p->n_workers = opt && opt->workers > 0 ? opt->workers : 4;
	arena_init(&p->arena, 0);
	p->multi = curl_multi_init();
	if (!p->multi) {
		buf_adds(err, "cannot create the HTTP client of the prober");
		prober_destroy(p);
		return OODA_ENOMEM;
	}
	curl_multi_setopt(p->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
	*out = p;
	return 0;
}

int prober_configure(struct prober *p, const json_t *services, bool apply, struct buf *err)
{
	struct probe_spec *v;
	size_t n;
	int rc = probe_specs_parse(services, &v, &n, err);
	if (rc || !apply) {
		if (!rc)
			probe_specs_free(v, n);
		return rc;
	}
	json_t *declared = json_array();
	size_t i;
	json_t *svc;
	json_array_foreach(services, i, svc) {
		json_t *deps = json_object_get(svc, "dependencies");
		json_array_append_new(declared, json_pack("{s:O?, s:O?, s:o}", "name", json_object_get(svc, "name"), "owner",
							  json_object_get(svc, "owner"), "dependencies",
							  json_is_array(deps) ? json_incref(deps) : json_array()));
	}
	pthread_mutex_lock(&p->mu);
	json_decref(p->services);
	p->services = declared;
	if (!p->started) {
		apply_locked(p, v, n);
	} else {
		if (p->has_pending)
			probe_specs_free(p->pending, p->n_pending);
		p->pending = v;
		p->n_pending = n;
		p->has_pending = true;
	}
	pthread_mutex_unlock(&p->mu);
	if (p->started)
		curl_multi_wakeup(p->multi);
	return 0;
}

int prober_start(struct prober *p, struct buf *err)
{
	struct worker_opts o = { .capacity = 2 * PROBE_MAX, .threads = p->n_workers, .stop_mode = WORKER_CANCEL,
				 .item_free = probe_job_drop };
	int rc = worker_create("probe jobs", probe_job_run, p, &o, &p->jobs, err);
	if (rc)
		return rc;
	p->last_flush = ooda_mono_ns();
	pthread_mutex_lock(&p->mu);
	p->started = true;
	pthread_mutex_unlock(&p->mu);
	if (pthread_create(&p->thread, NULL, prober_main, p)) {
		p->started = false;
		buf_adds(err, "cannot start the prober thread");
		return OODA_EINTERNAL;
	}
	return 0;
}

void prober_destroy(struct prober *p)
{
	if (!p)
		return;
	if (p->started) {
		p->stop = 1;
		curl_multi_wakeup(p->multi);
		pthread_join(p->thread, NULL);
	}
	worker_destroy(p->jobs); /* queued jobs are dropped, running ones finish */
	while (p->done) {
		struct job *n = p->done->next;
		probe_job_free(p->done);
		p->done = n;
	}
	for (size_t i = 0; i < p->n; i++)
		rt_free(p, p->v[i]);
	free(p->v);
	json_decref(p->services);
	probe_specs_free(p->pending, p->n_pending);
	if (p->multi)
		curl_multi_cleanup(p->multi);
	arena_release(&p->arena);
	free(p->pts);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* ---- reading: API and tick ------------------------------------------------- */

static json_t *result_json(const struct probe_result *r)
{
	json_t *o = json_pack("{s:o, s:b, s:f}", "at", json_time(r->at_ns), "ok", r->ok, "duration_ms",
			      (double)r->duration_ns / 1e6);
	if (r->code >= 0)
		json_object_set_new(o, "code", json_integer(r->code));
	if (r->error[0])
		json_object_set_new(o, "error", json_string(r->error));
	return o;
}

static const struct probe_result *newest(const struct probe_rt *rt)
{
	return rt->n_hist ? &rt->hist[rt->head] : NULL;
}

/* Holds mu. */
static json_t *rt_json(const struct probe_rt *rt, int64_t mono, int64_t wall)
{
	const struct probe_spec *s = &rt->spec;
	char a[32], b[32];
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "service", s->service, "name", s->name,
			      "kind", probe_kind_name(s->kind), "target", s->target, "state", probe_state_name(rt->win.state),
			      "severity", alert_severity_name(s->severity),
			      "interval", ooda_duration_format(s->interval_ns, a, sizeof(a)),
			      "timeout", ooda_duration_format(s->timeout_ns, b, sizeof(b)));
	json_object_set_new(o, "owner", s->owner ? json_string(s->owner) : json_null());
	char fa[32];
	snprintf(fa, sizeof(fa), "%d of %d", s->fail_n, s->fail_m);
	json_object_set_new(o, "window", json_pack("{s:s, s:i, s:i, s:i, s:i}", "fail_after", fa, "pass_after", s->pass_k,
						   "failures", probe_window_failures(&rt->win, s->fail_m), "attempts",
						   rt->win.len < s->fail_m ? rt->win.len : s->fail_m,
						   "consecutive_successes", rt->win.consecutive_ok));
	json_object_set_new(o, "attempts", json_integer(rt->attempts));
	json_object_set_new(o, "failures", json_integer(rt->failures));
	json_object_set_new(o, "running", json_boolean(rt->running));
	if (s->kind == PROBE_HTTP && s->max_latency_ns)
		json_object_set_new(o, "max_latency", json_string(ooda_duration_format(s->max_latency_ns, a, sizeof(a))));
	json_object_set_new(o, "next_due", json_time(wall + (rt->due - mono)));
	const struct probe_result *last = newest(rt);
	json_object_set_new(o, "last", last ? result_json(last) : json_null());
	json_t *res = json_array();
	for (int i = 0; i < rt->n_hist; i++)
		json_array_append_new(res, result_json(&rt->hist[(rt->head - i + PROBE_HISTORY) % PROBE_HISTORY]));
	json_object_set_new(o, "results", res);
	return o;
}

static void dump(json_t *j, struct buf *out)
{
	char *t = json_dumps(j, JSON_COMPACT);
	buf_adds(out, t ? t : "null");
	free(t);
	json_decref(j);
}

/* The probe service/name, or NULL. Holds mu. */
static const struct probe_rt *find_locked(const struct prober *p, const char *service, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->v[i]->spec.service, service) && !strcmp(p->v[i]->spec.name, name))
			return p->v[i];
	return NULL;
}

int prober_json(struct prober *p, const char *service, const char *name, struct buf *out, struct buf *err)
{
	int64_t mono = ooda_mono_ns(), wall = ooda_now_ns();
	pthread_mutex_lock(&p->mu);
	if (!service) {
		json_t *arr = json_array();
		for (size_t i = 0; i < p->n; i++)
			json_array_append_new(arr, rt_json(p->v[i], mono, wall));
		json_t *svcs = p->services ? json_deep_copy(p->services) : json_array();
		pthread_mutex_unlock(&p->mu);
		dump(json_pack("{s:o, s:o}", "probes", arr, "services", svcs), out);
		return 0;
	}
	const struct probe_rt *rt = find_locked(p, service, name);
	json_t *o = rt ? rt_json(rt, mono, wall) : NULL;
	pthread_mutex_unlock(&p->mu);
	if (!o) {
		buf_addf(err, "no probe %s of service %s in ooda.yaml", name, service);
		return OODA_ENOTFOUND;
	}
	dump(o, out);
	return 0;
}

int prober_state(struct prober *p, const char *service, const char *name, bool *passing, int64_t *newest_begun_ns)
{
	pthread_mutex_lock(&p->mu);
	const struct probe_rt *rt = find_locked(p, service, name);
	if (rt) {
		const struct probe_result *last = newest(rt);
		*passing = rt->win.state == PROBE_PASSING && last && last->ok;
		*newest_begun_ns = last ? last->at_ns - last->duration_ns : 0;
	}
	pthread_mutex_unlock(&p->mu);
	return rt ? 0 : OODA_ENOTFOUND;
}

void probes_tick(void *ctx, int64_t now_ns, const struct alert_sink *sink)
{
	struct prober *p = ctx;
	int64_t mono = ooda_mono_ns();
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->n; i++) {
		struct probe_rt *rt = p->v[i];
		if (!rt->dirty)
			continue;
		rt->dirty = false;
		if (!sink || !sink->signal)
			continue;
		const struct probe_result *last = newest(rt);
		json_t *ev = rt_json(rt, mono, now_ns);
		json_object_set_new(ev, "latency_ms", json_real(last ? (double)last->duration_ns / 1e6 : 0));
		json_object_set_new(ev, "error", json_string(last && last->error[0] ? last->error : ""));
		json_t *labels = json_pack("{s:s, s:s}", "probe", rt->spec.name, "kind", probe_kind_name(rt->spec.kind));
		struct buf name = BUF_INIT, summary = BUF_INIT;
		buf_addf(&name, "probe:%s/%s", rt->spec.service, rt->spec.name);
		bool failing = rt->win.state == PROBE_FAILING;
		buf_addf(&summary, "probe %s/%s (%s %s) is %s%s%s", rt->spec.service, rt->spec.name,
			 probe_kind_name(rt->spec.kind), rt->spec.target, probe_state_name(rt->win.state),
			 failing && last && last->error[0] ? ": " : "", failing && last ? last->error : "");
		json_t *ann = json_pack("{s:s}", "summary", summary.data);
		struct alert_signal s = {
			.source = "probe",
			.name = name.data,
			.service = rt->spec.service,
			.severity = rt->spec.severity,
			.labels = labels,
			.annotations = ann,
			.evidence = ev,
			.active = failing,
			.at_ns = last ? last->at_ns : now_ns,
		};
		alert_emit(sink, &s);
		json_decref(ev);
		json_decref(labels);
		json_decref(ann);
		buf_release(&name);
		buf_release(&summary);
	}
	pthread_mutex_unlock(&p->mu);
}
