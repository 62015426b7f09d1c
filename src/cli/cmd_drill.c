/*
 * `ooda drill run`: fault drills that measure how well ooda notices and
 * diagnoses the faults of ooda-sim (docs/sim.md). A CLI-level orchestrator:
 * in a temporary directory it writes a drill config (the simulator's services,
 * rules with short windows under --fast), starts a dedicated `ooda serve` and
 * `ooda-sim run`, then injects each fault of the simulator's catalogue in turn
 * and scores the loop from ooda's own timestamps: the first alert's fired_at
 * against the fault's start (MTTD), the incident, its suspects against the
 * fault's expected root cause (top-1, top-3), incidents outside the fault's
 * blast radius (false incidents). Between scenarios it clears the fault, waits
 * for quiet and resolves what is open (actor "drill"). The dedicated ooda
 * notifies one webhook receiver of the drill's own, so the report has the
 * time to the first notification ooda delivered, from its outbox.
 *
 * --attach drills a system that already runs (`make demo`): the ooda the CLI
 * resolves (--server, token) and the simulator whose control port --sim
 * names; nothing is started, the notifications go wherever that ooda routes
 * them, and only incidents opened since the drill began are resolved.
 * Incidents cannot be tagged `drill` through the API, so an attached drill's
 * incidents stay in that ooda's reliability report: attach to a demo, not to
 * production.
 */
#include "cli/cli.h"
#include "core/error.h"
#include "core/time.h"
#include "core/xalloc.h"
#include "model/jsontime.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The simulated system as ooda.yaml describes it; port is the offset from the sim's base port. */
struct drill_service {
	const char *name, *owner, *tier;
	const char *deps[3];
	int port;
	double latency_s; /* p90 above this is slow: about three times the normal path */
};

static const struct drill_service drill_services[] = {
	{ "frontend", "web-team", "critical", { "checkout" }, 1, 0.15 },
	{ "checkout", "orders-team", "critical", { "payments", "inventory" }, 2, 0.12 },
	{ "payments", "payments-team", "critical", { "database" }, 3, 0.06 },
	{ "inventory", "orders-team", "standard", { "database" }, 4, 0.06 },
	{ "database", "data-team", "critical", { NULL }, 5, 0.025 },
};
#define N_SERVICES (sizeof(drill_services) / sizeof(drill_services[0]))

/*
 * The remediation policy the drill config holds for a fault, one row per fault
 * that has a remedy the simulator offers (docs/sim.md "Remediation hooks"). The
 * policy's YAML is written by drill_config with the service's port; a fault
 * without a row keeps remediated and mttr_s null.
 */
struct drill_remedy {
	const char *fault, *policy, *service; /* the service acted on */
	const char *when;  /* the trigger, YAML flow mapping */
	const char *pre;   /* the preconditions, YAML flow sequence; NULL: none */
	const char *step;  /* the step, YAML flow mapping; {url} is the service's base URL (the control port's for the job) */
	const char *expect;
	const char *why;   /* the rationale written with irreversible_ok */
};

#define DRILL_WHY_ADMIN "the simulator's admin endpoint is its own way back"

/*
 * A fault that shows as a service's errors is acted on when the fast RED change
 * detector finds them (red:SERVICE/error_ratio, seconds after the first failing
 * requests; docs/alerts.md) rather than when the 30 s error-ratio rule has held
 * for its `for`, and its recovery is verified on the service's own live error
 * ratio over the last 10 s rather than on that rule resolving, whose window
 * still holds the errors of before the fix. The leak is restarted before its
 * OOM, when checkout's memory trend reaches the limit within 15 minutes
 * (MemoryFillingUp), and verified on its health probe: the restart buys time
 * until the leak is fixed, and spares the users the crash loop.
 */
static const struct drill_remedy drill_remedies[] = {
	{ "bad-deploy", "drill-rollback-payments", "payments", "{alert: \"red:payments/error_ratio\"}", NULL,
	  "{recipe: {name: rollback-last-deploy, variant: sim, params: {service: \"{url}\", version: \"2.3.0\"}}}",
	  "{error_ratio: {service: payments, below: 0.05, window: 10s}, timeout: 3m}", DRILL_WHY_ADMIN },
	{ "dependency-down", "drill-restart-inventory", "inventory", "{probe: {service: inventory, name: health}}", NULL,
	  "{recipe: {name: restart-instance, variant: sim, params: {service: \"{url}\"}}}",
	  "{probe: {service: inventory, name: health}, timeout: 1m}", DRILL_WHY_ADMIN },
	{ "memory-leak", "drill-restart-checkout", "checkout", "{alert: MemoryFillingUp, service: checkout}", NULL,
	  "{recipe: {name: restart-instance, variant: sim, params: {service: \"{url}\"}}}",
	  "{probe: {service: checkout, name: health}, timeout: 1m}", DRILL_WHY_ADMIN },
	/* the flag change that preceded checkout's errors taken back: only a recent change by someone
	 * else than a policy (flag_changed), so the other faults' spill-over onto checkout refuses */
	{ "flag-misconfig", "drill-revert-flag-pricing", "checkout", "{alert: \"red:checkout/error_ratio\"}",
	  "[{flag_changed: {env: prod, key: new-pricing, within: 5m}}]",
	  "{flag: {env: prod, key: new-pricing, to: previous}}",
	  "{error_ratio: {service: checkout, below: 0.05, window: 10s}, timeout: 3m}",
	  "the flag step puts the version before it back when undone" },
	{ "config-shed", "drill-unshed-frontend", "frontend", "{alert: \"red:frontend/error_ratio\"}", NULL,
	  "{http: {url: \"{url}/admin/shed\", body: {ratio: 0}, timeout: 10s}}",
	  "{error_ratio: {service: frontend, below: 0.05, window: 10s}, timeout: 3m}", DRILL_WHY_ADMIN },
	{ "job-stopped", "drill-restart-reconciler", "reconciler", "{alert: \"heartbeat:sim-reconciler\"}", NULL,
	  "{http: {url: \"{url}/admin/job/restart\", timeout: 10s}}", "{alert_resolved: true, timeout: 1m}",
	  DRILL_WHY_ADMIN },
};
#define N_REMEDIES (sizeof(drill_remedies) / sizeof(drill_remedies[0]))

static const struct drill_remedy *remedy_for(const char *fault)
{
	for (size_t i = 0; i < N_REMEDIES; i++)
		if (!strcmp(drill_remedies[i].fault, fault))
			return &drill_remedies[i];
	return NULL;
}

/* How fast the loop runs: realistic (the defaults) or --fast (time-compressed for make test). */
struct drill_pace {
	const char *name;
	const char *eval, *window, *for_, *probe_every, *hb_grace;
	const char *err_for; /* the error-ratio rule's: a 2 s blip is in its window for up to window + 2 s */
	int detect_s;  /* give up on detection after this */
	int observe_s; /* how long a fault that should open nothing is watched */
	int quiet_s;   /* wait at most this for no firing alert after a clear */
	int suspects_s; /* the suspects are scored as shown this long after the incident opened */
	int remedy_s;   /* wait at most this after the fault started for its policy's run to end */
};

static const struct drill_pace drill_paces[] = {
	{ "realistic", "5s", "30s", "10s", "5s", "3s", "32s", 150, 60, 150, 30, 240 },
	{ "fast", "1s", "20s", "3s", "1s", "2s", "22s", 45, 12, 60, 10, 90 },
};

struct drill {
	const struct drill_pace *pace;
	char dir[PATH_MAX], ooda_bin[PATH_MAX], sim_bin[PATH_MAX];
	char ooda_url[64], sim_url[64], token[512];
	pid_t ooda_pid, sim_pid;
	int sim_base;
	struct client ooda, sim;
	int attach;        /* --attach: nothing started, nothing of the pids checked */
	int64_t since_ns;  /* when the drill began: only incidents opened since are resolved */
	int rx_fd;         /* the notification receiver's listening socket; -1 when none */
	pthread_t rx_thread;
	int rx_started;
};

static volatile sig_atomic_t drill_interrupted; /* SIGINT or SIGTERM: stop after the current step */

/* ---- processes and ports ---------------------------------------------------- */

static int port_bindable(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int got = -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		got = ntohs(sa.sin_port);
	close(fd);
	return got;
}

/*
 * Whether port can be bound the way ooda-sim binds it (SO_REUSEADDR, as
 * libmicrohttpd's address reuse does): a port whose old connections sit in
 * TIME_WAIT is free for it.
 */
static bool port_free_for_sim(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return false;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/*
 * A base port with the five service ports after it free too (the sim needs
 * them consecutive). Drawn below Linux's ephemeral range (32768–60999), so
 * that the many client connections of a busy machine neither hold the ports
 * nor take them between this check and the sim's bind.
 */
static int drill_base_port(void)
{
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	for (int tries = 0; tries < 200; tries++) {
		int base = 20000 + (int)(rand_r(&seed) % 12000);
		bool ok = true;
		for (int k = 0; k <= 5 && ok; k++)
			ok = port_free_for_sim(base + k);
		if (ok)
			return base;
	}
	return -1;
}

static pid_t drill_spawn(struct drill *d, char *const argv[], const char *log, struct buf *err)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s", d->dir, log);
	pid_t pid = fork();
	if (pid < 0) {
		buf_addf(err, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0); /* a Ctrl-C reaches the drill, which stops its children in order */
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		setenv("OODA_TOKEN", d->token, 1);
		setenv("OODA_DRILL_WEBHOOK_KEY", "drill", 1); /* the drill's receiver checks no signature */
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void drill_stop(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	for (int i = 0; i < 300; i++) { /* 30 s, then SIGKILL */
		if (waitpid(*pid, NULL, WNOHANG) == *pid) {
			*pid = 0;
			return;
		}
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, NULL);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

static int alive(pid_t pid)
{
	return pid > 0 && waitpid(pid, NULL, WNOHANG) == 0;
}

/* Both processes still run (always true when attached: they are not ours to watch). */
static int both_alive(struct drill *d)
{
	return d->attach || (alive(d->ooda_pid) && alive(d->sim_pid));
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

/* ---- the notification receiver ------------------------------------------------ */

#define RX_MAX_REQUEST (1 << 20) /* bytes read of one request at most */

/* Reads one request (headers, then Content-Length bytes, bounded) and answers 204. */
static void rx_serve(int c)
{
	struct timeval tv = { 5, 0 };
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char buf[8192];
	size_t have = 0, total = 0, need = 0;
	int headers_done = 0;
	for (;;) {
		ssize_t n = read(c, buf + have, sizeof buf - 1 - have);
		if (n <= 0)
			break;
		total += (size_t)n;
		if (!headers_done) {
			have += (size_t)n;
			buf[have] = 0;
			char *end = strstr(buf, "\r\n\r\n");
			if (end) {
				headers_done = 1;
				for (char *p = buf; p && p < end; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL)
					if (!strncasecmp(p, "content-length:", 15))
						need = (size_t)strtoul(p + 15, NULL, 10);
				need += (size_t)(end + 4 - buf);
			} else if (have >= sizeof buf - 1) {
				break; /* headers longer than the buffer: answer anyway */
			}
		}
		if (headers_done) {
			have = 0;
			if (total >= need || total >= RX_MAX_REQUEST)
				break;
		}
	}
	static const char answer[] = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	ssize_t w = write(c, answer, sizeof answer - 1);
	(void)w;
	close(c);
}

static void *rx_main(void *arg)
{
	struct drill *d = arg;
	for (;;) {
		int c = accept(d->rx_fd, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL; /* shut down */
		}
		rx_serve(c);
	}
}

/* Listens on a free loopback port for the dedicated ooda's webhook; returns the port, or -1. */
static int rx_start(struct drill *d)
{
	d->rx_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	if (d->rx_fd < 0 || bind(d->rx_fd, (struct sockaddr *)&sa, sizeof sa) || listen(d->rx_fd, 16) ||
	    getsockname(d->rx_fd, (struct sockaddr *)&sa, &len))
		return -1;
	if (pthread_create(&d->rx_thread, NULL, rx_main, d))
		return -1;
	d->rx_started = 1;
	return ntohs(sa.sin_port);
}

static void rx_stop(struct drill *d)
{
	if (d->rx_fd >= 0)
		shutdown(d->rx_fd, SHUT_RDWR); /* accept returns: the thread ends */
	if (d->rx_started)
		pthread_join(d->rx_thread, NULL);
	if (d->rx_fd >= 0)
		close(d->rx_fd);
	d->rx_fd = -1;
	d->rx_started = 0;
}

/* ---- HTTP ------------------------------------------------------------------ */

/* Calls c and parses the answer; *status is the HTTP status (0 when unreachable). NULL on any failure. */
static json_t *drill_call(const struct client *c, const char *method, const char *path, json_t *body, int *status)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int st = 0;
	int rc = client_call(c, method, path, text, text ? strlen(text) : 0, text ? "application/json" : NULL, &st,
			     &out, &err);
	if (rc && !st && err.data)
		st = atoi(err.data);
	if (status)
		*status = st;
	json_t *j = rc ? NULL : json_loadb(out.data ? out.data : "", out.len, JSON_DECODE_ANY, NULL);
	free(text);
	json_decref(body);
	buf_release(&out);
	buf_release(&err);
	return j;
}

static int64_t jtime(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	int64_t ns = 0;
	if (!s || ooda_time_parse(s, strlen(s), &ns))
		return 0;
	return ns;
}

/* ---- setup ------------------------------------------------------------------- */

static void drill_config(struct drill *d, int rx_port, struct buf *y)
{
	const struct drill_pace *p = d->pace;
	buf_addf(y, "# written by `ooda drill run` (%s pace)\nlog:\n  level: warn\nservices:\n", p->name);
	for (size_t i = 0; i < N_SERVICES; i++) {
		const struct drill_service *s = &drill_services[i];
		buf_addf(y, "  - name: %s\n    owner: %s\n    tier: %s\n", s->name, s->owner, s->tier);
		if (s->deps[0]) {
			buf_adds(y, "    dependencies: [");
			for (int k = 0; k < 3 && s->deps[k]; k++)
				buf_addf(y, "%s%s", k ? ", " : "", s->deps[k]);
			buf_adds(y, "]\n");
		}
		buf_addf(y,
			 "    probes:\n      - name: health\n        http: {url: \"http://127.0.0.1:%d/healthz\", "
			 "expect_status: \"2xx\", max_latency: 500ms}\n        interval: %s\n        fail_after: 2 of 3\n",
			 d->sim_base + s->port, p->probe_every);
	}
	buf_addf(y, "heartbeats:\n  - name: sim-reconciler\n    every: 2s\n    grace: %s\n    service: reconciler\n",
		 p->hb_grace);
	buf_addf(y, "alerts:\n  interval: %s\n  group_window: 1m\n  rules:\n", p->eval);
	buf_addf(y,
		 "    - name: HighErrorRatio\n      expr: >-\n        sum by (service) (rate(ooda_span_errors_total[%s]))\n"
		 "        / sum by (service) (rate(ooda_span_requests_total[%s])) > 0.05\n      for: %s\n"
		 "      severity: page\n",
		 p->window, p->window, p->err_for);
	for (size_t i = 0; i < N_SERVICES; i++)
		buf_addf(y,
			 "    - name: HighLatency-%s\n      expr: >-\n        histogram_quantile(0.9, sum by (service, le) "
			 "(rate(ooda_span_duration_seconds_bucket{service=\"%s\"}[%s]))) > %g\n      for: %s\n"
			 "      severity: page\n",
			 drill_services[i].name, drill_services[i].name, p->window, drill_services[i].latency_s, p->for_);
	/* memory against the simulator's 256 MiB limit: at 75 %, and its trend reaching the limit
	 * within 15 minutes (the same rules as bench/drills) */
	buf_addf(y,
		 "    - name: MemoryHigh\n      expr: process_memory_usage_bytes > 201326592\n      for: %s\n"
		 "      severity: page\n"
		 "    - name: MemoryFillingUp\n      expr: predict_linear(process_memory_usage_bytes[%s], 900) > 268435456\n"
		 "      for: %s\n      severity: page\n",
		 p->for_, p->window, p->for_);
	buf_adds(y, "incidents:\n  reopen_window: 1s\n");
	buf_addf(y,
		 "notify:\n  targets:\n    - name: drill\n      type: webhook\n      url: http://127.0.0.1:%d/drill\n"
		 "      secret_env: OODA_DRILL_WEBHOOK_KEY\n      timeout: 2s\n  routes:\n    - targets: [drill]\n",
		 rx_port);
	/* the remediation policies: short guardrails, as every policy acts once per scenario
	 * and a run triggered by another fault's spill-over must not hold the next one back */
	buf_adds(y, "remedy:\n  http_allow_hosts: [127.0.0.1]\npolicies:\n");
	for (size_t i = 0; i < N_REMEDIES; i++) {
		const struct drill_remedy *r = &drill_remedies[i];
		char url[64];
		snprintf(url, sizeof url, "http://127.0.0.1:%d", d->sim_base); /* the job's: the control port */
		for (size_t k = 0; k < N_SERVICES; k++)
			if (!strcmp(drill_services[k].name, r->service))
				snprintf(url, sizeof url, "http://127.0.0.1:%d", d->sim_base + drill_services[k].port);
		buf_addf(y, "  - name: %s\n    when: %s\n", r->policy, r->when);
		if (r->pre)
			buf_addf(y, "    precondition: %s\n", r->pre);
		buf_adds(y, "    do:\n      - ");
		const char *at = strstr(r->step, "{url}");
		if (at)
			buf_addf(y, "%.*s%s%s", (int)(at - r->step), r->step, url, at + 5);
		else
			buf_adds(y, r->step);
		buf_addf(y,
			 "\n    expect: %s\n    irreversible_ok: true\n    rationale: fault drill %s; %s\n"
			 "    guardrails: {cooldown: 5s, max_runs: 30, window: 1h}\n",
			 r->expect, r->fault, r->why);
	}
	buf_addf(y, "deploy:\n  hooks:\n    redeploy:\n      http: {url: \"http://127.0.0.1:%d/hooks/redeploy\"}\n      timeout: 10s\n",
		 d->sim_base);
}

static int write_file(const char *path, const char *data, struct buf *err)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(data, f) == EOF || fclose(f)) {
		buf_addf(err, "%s: %s", path, strerror(errno));
		return OODA_EIO;
	}
	return 0;
}

static int drill_token(struct drill *d, struct buf *err)
{
	struct buf cmd = BUF_INIT;
	buf_addf(&cmd, "'%s' token create --role admin --name drill --data '%s/data' --init --rationale 'fault drill' 2>&1",
		 d->ooda_bin, d->dir);
	FILE *f = popen(cmd.data, "r");
	buf_release(&cmd);
	if (!f) {
		buf_addf(err, "token create: %s", strerror(errno));
		return OODA_EIO;
	}
	char line[512];
	d->token[0] = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = 0;
		if (*line)
			snprintf(d->token, sizeof d->token, "%s", line); /* the token is the last line */
	}
	if (pclose(f) != 0 || !*d->token) {
		buf_addf(err, "token create failed: %s", d->token);
		return OODA_EIO;
	}
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/token", d->dir); /* for a look at a kept drill (OODA_DRILL_KEEP) */
	struct buf t = BUF_INIT;
	buf_addf(&t, "%s\n", d->token);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		ssize_t w = write(fd, t.data, t.len);
		(void)w;
		close(fd);
	}
	buf_release(&t);
	return 0;
}

static int wait_ready(struct drill *d, const struct client *c, const char *path, pid_t pid, const char *what,
		      struct buf *err)
{
	for (int i = 0; i < 300; i++) {
		int st = 0;
		json_decref(drill_call(c, "GET", path, NULL, &st));
		if (st == 200)
			return 0;
		if (!alive(pid)) {
			buf_addf(err, "%s exited at start (its log: %s)", what, d->dir);
			return OODA_EIO;
		}
		nap_ms(100);
	}
	buf_addf(err, "%s did not become ready in 30 s", what);
	return OODA_ETIMEOUT;
}

static int drill_start(struct drill *d, struct buf *err)
{
	int rc = drill_token(d, err);
	if (rc)
		return rc;
	int port = port_bindable(0);
	d->sim_base = drill_base_port();
	int rx_port = rx_start(d);
	if (port <= 0 || d->sim_base <= 0 || rx_port <= 0) {
		buf_adds(err, "no free loopback ports");
		return OODA_EIO;
	}
	snprintf(d->ooda_url, sizeof d->ooda_url, "http://127.0.0.1:%d", port);
	snprintf(d->sim_url, sizeof d->sim_url, "http://127.0.0.1:%d", d->sim_base);
	d->ooda = (struct client){ .server = d->ooda_url, .token = d->token, .timeout_s = 10 };
	d->sim = (struct client){ .server = d->sim_url, .timeout_s = 30 };

	struct buf y = BUF_INIT;
	drill_config(d, rx_port, &y);
	char cfg[PATH_MAX + 16], data[PATH_MAX + 16], listen[32], base[16];
	snprintf(cfg, sizeof cfg, "%s/drill.yaml", d->dir);
	snprintf(data, sizeof data, "%s/data", d->dir);
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	snprintf(base, sizeof base, "%d", d->sim_base);
	rc = write_file(cfg, y.data, err);
	buf_release(&y);
	if (rc)
		return rc;
	char *serve[] = { d->ooda_bin, "serve", "--config", cfg, "--data", data, "--listen", listen, NULL };
	if ((d->ooda_pid = drill_spawn(d, serve, "ooda.log", err)) < 0)
		return OODA_EIO;
	if ((rc = wait_ready(d, &d->ooda, "/readyz", d->ooda_pid, "ooda serve", err)))
		return rc;
	/* what runs before the drill, so a bad deploy has a previous version to blame and roll back to */
	static const char *const running[][2] = { { "payments", "2.3.0" }, { "checkout", "2.7.1" },
						   { "frontend", "3.2.0" }, { "inventory", "1.9.4" } };
	for (size_t i = 0; i < 4; i++)
		json_decref(drill_call(&d->ooda, "POST", "/api/v1/deploys",
				       json_pack("{s:s, s:s, s:s, s:s}", "service", running[i][0], "env", "prod", "version",
						 running[i][1], "note", "running before the drill"),
				       NULL));
	char *sim[] = { d->sim_bin, "run", "--ooda", d->ooda_url, "--base-port", base, "--rps", "20", NULL };
	if ((d->sim_pid = drill_spawn(d, sim, "sim.log", err)) < 0)
		return OODA_EIO;
	return wait_ready(d, &d->sim, "/healthz", d->sim_pid, "ooda-sim", err);
}

/* ---- one scenario ---------------------------------------------------------------- */

struct scenario {
	const char *name, *kind, *service; /* expected root cause; service NULL for kind none */
	bool opens_nothing; /* the catalogue's expected_incident "none": any incident is a false one */
	int detected, incident;
	double mttd_s; /* < 0: not detected */
	double notified_s; /* fault start → first notification delivered; < 0: none */
	int top1, top3; /* -1: unknown (no suspects route, or no incident) */
	int false_incidents;
	int duplicate_incidents; /* more incidents in the blast radius: the fault's alerts not grouped into one */
	int suspects_route;
	int remediated;  /* -1: no policy for this fault; 0/1: its run reached succeeded, expect verified */
	double mttr_s;   /* fault start → the run's verified recovery (its move to succeeded); < 0: none */
	json_t *remedy;  /* {policy, run, status, verification, reason} of the scored run; NULL: none */
	char first_alert[160]; /* "NAME on SERVICE" of the first alert fired after the fault started */
	json_t *incidents;     /* [{id, service, title}] opened during the scenario */
	json_t *suspects;      /* [{node, kind, score}] the first three scored; NULL: none */
	int64_t from_ns, to_ns; /* the scenario's window: the fault's start → quiet again after it (0: none) */
	char error[256];
};

/* True when service s is the expected one or reaches it through dependencies (its blast radius). */
static int in_radius(const char *s, const char *expected)
{
	if (!s || !expected)
		return 0;
	if (!strcmp(s, expected))
		return 1;
	for (size_t i = 0; i < N_SERVICES; i++)
		if (!strcmp(drill_services[i].name, s))
			for (int k = 0; k < 3 && drill_services[i].deps[k]; k++)
				if (in_radius(drill_services[i].deps[k], expected))
					return 1;
	return 0;
}

static int word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Does a suspect name service: its node is the service or holds it as a word ("deploy:payments"). */
static int suspect_names(json_t *sus, const char *service)
{
	const char *keys[] = { "node", "service" };
	size_t n = strlen(service);
	for (size_t k = 0; k < 2; k++) {
		const char *node = json_string_value(json_object_get(sus, keys[k]));
		for (const char *p = node; p && (p = strstr(p, service)); p++)
			if ((p == node || !word_char(p[-1])) && !word_char(p[n]))
				return 1;
	}
	return 0;
}

static int suspect_is_service(json_t *sus)
{
	for (size_t i = 0; i < N_SERVICES; i++)
		if (suspect_names(sus, drill_services[i].name))
			return 1;
	return suspect_names(sus, "reconciler");
}

static int64_t run_succeeded_at(json_t *run);

/* Whether the drill's own remediation policy for fault has a run, made after start, that reached succeeded. */
static bool fault_recovered(struct drill *d, const char *fault, int64_t start)
{
	const struct drill_remedy *rm = fault ? remedy_for(fault) : NULL;
	if (!rm || d->attach)
		return false;
	char path[128];
	snprintf(path, sizeof path, "/api/v1/runs?policy=%s&limit=50", rm->policy);
	json_t *j = drill_call(&d->ooda, "GET", path, NULL, NULL), *r;
	size_t i;
	bool done = false;
	json_array_foreach(json_object_get(j, "runs"), i, r)
		done = done || (jtime(r, "created") >= start && run_succeeded_at(r));
	json_decref(j);
	return done;
}

/*
 * The incident's suspects, best first (a new reference), as a responder
 * opening the incident pace->suspects_s after it opened would see them: the
 * last non-empty list by then (or the first one after, waiting as long
 * again); NULL on 404 or when none came. When the drill's remediation
 * policy recovered the fault (started at start) before then, the last list
 * seen while the fault was on: what is ranked after an automatic recovery
 * is the aftermath (callers' late error alerts), not the diagnosis.
 */
static json_t *incident_suspects(struct drill *d, json_t *incident, const char *fault, int64_t start, int *route)
{
	struct buf path = BUF_INIT;
	buf_adds(&path, "/api/v1/incidents/");
	client_urlencode(&path, cli_jstr(incident, "id"));
	buf_adds(&path, "/suspects");
	json_t *list = NULL;
	int64_t at = jtime(incident, "opened_at") + (int64_t)d->pace->suspects_s * 1000000000LL;
	int64_t give_up = at + (int64_t)d->pace->suspects_s * 1000000000LL;
	for (;;) {
		/* asked before the list, so that a list read after the recovery is never kept */
		bool over = list && fault_recovered(d, fault, start);
		int st = 0;
		json_t *j = drill_call(&d->ooda, "GET", path.data, NULL, &st);
		if (st == 404 && !j) {
			*route = 0;
			break;
		}
		*route = 1;
		json_t *s = json_object_get(j, "suspects");
		if (!over && json_array_size(s) > 0) {
			json_decref(list);
			list = json_incref(s);
		}
		json_decref(j);
		int64_t now = ooda_now_ns();
		if ((list && now >= at) || now >= give_up || over)
			break;
		nap_ms(500);
	}
	buf_release(&path);
	return list;
}

static void resolve_open(struct drill *d, const char *why)
{
	json_t *j = drill_call(&d->ooda, "GET", "/api/v1/incidents?status=open", NULL, NULL);
	size_t i;
	json_t *inc;
	json_array_foreach(json_object_get(j, "incidents"), i, inc) {
		if (jtime(inc, "opened_at") < d->since_ns)
			continue; /* attached: not the drill's */
		struct buf path = BUF_INIT;
		buf_adds(&path, "/api/v1/incidents/");
		client_urlencode(&path, cli_jstr(inc, "id"));
		buf_adds(&path, "/transition");
		json_decref(drill_call(&d->ooda, "POST", path.data, json_pack("{s:s, s:s}", "to", "resolved", "note", why),
				       NULL));
		buf_release(&path);
	}
	json_decref(j);
}

static int alerts_in(struct drill *d, const char *state)
{
	char path[64];
	snprintf(path, sizeof path, "/api/v1/alerts?state=%s", state);
	json_t *j = drill_call(&d->ooda, "GET", path, NULL, NULL);
	int n = j ? (int)json_array_size(json_object_get(j, "alerts")) : 1;
	json_decref(j);
	return n;
}

/*
 * Waits (at most the pace's quiet_s) until the fast RED change detector has
 * learnt every service's baseline (GET /api/v1/anomalies, red_detector:
 * none still learning), or is off. The first fault then meets the system a
 * user runs, whose detectors know their services, not one seconds old: in
 * its warm-up the detector keeps no evidence, so a fault then is left to
 * the rules. Returns the seconds waited.
 */
static double wait_warm(struct drill *d)
{
	int64_t t0 = ooda_mono_ns();
	for (int i = 0; i < d->pace->quiet_s * 2 && !drill_interrupted; i++) {
		json_t *j = drill_call(&d->ooda, "GET", "/api/v1/anomalies", NULL, NULL);
		json_t *rd = json_object_get(j, "red_detector");
		bool warm = rd && (!json_is_true(json_object_get(rd, "enabled")) ||
				   (json_integer_value(json_object_get(rd, "services")) > 0 &&
				    json_integer_value(json_object_get(rd, "learning")) == 0));
		json_decref(j);
		if (warm || !rd) /* !rd: an ooda from before the detector */
			break;
		nap_ms(500);
	}
	return (double)(ooda_mono_ns() - t0) / 1e9;
}

/*
 * Waits until no alert fires or is pending (bounded): a pending alert of this
 * scenario's tail would otherwise fire during the next one and count as its
 * detection. Then resolves what is still open, with the note why. Every
 * scenario starts from this state, the first one included: an incident still
 * open when a fault starts takes in the fault's alerts (same alert, or a
 * related service within the group window), so the fault opens none of its
 * own and is scored without one (docs/decisions.md, "Fault drills start from
 * quiet").
 */
static void wait_quiet(struct drill *d, const char *why)
{
	for (int i = 0, calm = 0; i < d->pace->quiet_s * 2 && calm < 2; i++) {
		calm = alerts_in(d, "firing") == 0 && alerts_in(d, "pending") == 0 ? calm + 1 : 0;
		nap_ms(500);
	}
	resolve_open(d, why);
}

/* The first delivery, from the outbox, of a notification that something broke (an alert
 * firing, an incident opened or reopened) created at or after start_ns; 0 when none. A
 * resolution of the previous scenario's tail does not count. */
static int64_t first_delivery(struct drill *d, int64_t start_ns)
{
	json_t *j = drill_call(&d->ooda, "GET", "/api/v1/notifications?status=delivered&limit=200", NULL, NULL);
	int64_t first = 0;
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(j, "notifications"), i, n) {
		int64_t t = jtime(n, "delivered_at");
		const char *ev = cli_jstr(n, "event");
		int broke = !strcmp(ev, "firing") || !strcmp(ev, "opened") || !strcmp(ev, "reopened");
		if (broke && jtime(n, "created_at") >= start_ns && t && (!first || t < first))
			first = t;
	}
	json_decref(j);
	return first;
}

/* When the run moved to succeeded, from its own history (0 when it has not). */
static int64_t run_succeeded_at(json_t *run)
{
	size_t i;
	json_t *h;
	json_array_foreach(json_object_get(run, "history"), i, h) {
		if (!strcmp(cli_jstr(h, "to"), "succeeded"))
			return jtime(h, "at");
	}
	return 0;
}

/*
 * The remediation of the fault that started at start_ns: the runs of the
 * fault's policy created since, waited for until one succeeds, at most
 * pace->remedy_s after the start (a failed or refused run may be followed by
 * another trigger inside that time). The
 * scored run is the first to succeed, else the newest. MTTR is measured from
 * ooda's record: the fault's start → the run's move to succeeded (expect held).
 */
static void scenario_remedy(struct drill *d, struct scenario *sc, int64_t start, int progress)
{
	const struct drill_remedy *rm = remedy_for(sc->name);
	if (!rm || d->attach) /* an attached system has its own policies, or none */
		return;
	sc->remediated = 0;
	char path[128];
	snprintf(path, sizeof path, "/api/v1/runs?policy=%s&limit=50", rm->policy);
	int64_t deadline = start + (int64_t)d->pace->remedy_s * OODA_NS_PER_SEC;
	json_t *scored = NULL;
	for (;;) {
		json_t *j = drill_call(&d->ooda, "GET", path, NULL, NULL);
		json_t *best = NULL, *r;
		size_t i;
		int64_t best_at = 0;
		json_array_foreach(json_object_get(j, "runs"), i, r) {
			if (jtime(r, "created") < start)
				continue;
			int64_t at = run_succeeded_at(r);
			if (at && (!best_at || at < best_at)) {
				best = r;
				best_at = at;
			} else if (!best_at && (!best || jtime(r, "created") > jtime(best, "created"))) {
				best = r;
			}
		}
		json_decref(scored);
		scored = json_incref(best);
		json_decref(j);
		if (best_at) {
			sc->remediated = 1;
			sc->mttr_s = (double)(best_at - start) / 1e9;
		}
		if (best_at || ooda_now_ns() >= deadline || !both_alive(d) || drill_interrupted)
			break;
		if (progress)
			fprintf(stderr, "\r\033[Kdrill: %s: remediation %s", sc->name,
				scored ? cli_jstr(scored, "status") : "not triggered yet");
		nap_ms(500);
	}
	if (scored)
		sc->remedy = json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "policy", rm->policy, "run", cli_jstr(scored, "id"),
				       "status", cli_jstr(scored, "status"), "verification",
				       json_string_value(json_object_get(scored, "verification")), "reason",
				       json_string_value(json_object_get(scored, "reason")));
	else
		sc->remedy = json_pack("{s:s, s:n}", "policy", rm->policy, "run");
	json_decref(scored);
}

static void scenario_run(struct drill *d, struct scenario *sc, int progress)
{
	sc->remediated = -1;
	sc->mttr_s = -1;
	sc->mttd_s = -1;
	sc->notified_s = -1;
	sc->top1 = sc->top3 = -1;
	int st = 0;
	json_t *f = drill_call(&d->sim, "POST", "/faults", json_pack("{s:s}", "name", sc->name), &st);
	int64_t start = jtime(f, "started");
	sc->from_ns = start;
	json_int_t fid = json_integer_value(json_object_get(f, "id"));
	json_decref(f);
	if (!start) {
		snprintf(sc->error, sizeof sc->error, "the simulator refused the fault (HTTP %d)", st);
		return;
	}
	int none = !sc->service;
	int64_t deadline = ooda_now_ns() + (int64_t)(none ? d->pace->observe_s : d->pace->detect_s) * 1000000000LL;
	json_t *mine = json_array(); /* incidents opened since the fault started */
	int64_t first_fire = 0, first_sent = 0;
	while (ooda_now_ns() < deadline && both_alive(d)) {
		json_t *al = drill_call(&d->ooda, "GET", "/api/v1/alerts?state=all", NULL, NULL);
		size_t i;
		json_t *a;
		json_array_foreach(json_object_get(al, "alerts"), i, a) {
			int64_t t = jtime(a, "fired_at");
			if (t >= start && (!first_fire || t < first_fire)) {
				first_fire = t;
				snprintf(sc->first_alert, sizeof sc->first_alert, "%s on %s", cli_jstr(a, "name"),
					 *cli_jstr(a, "service") ? cli_jstr(a, "service") : "-");
			}
		}
		json_decref(al);
		if (first_fire && !first_sent)
			first_sent = first_delivery(d, start);
		json_t *inc = drill_call(&d->ooda, "GET", "/api/v1/incidents", NULL, NULL);
		json_array_clear(mine);
		json_array_foreach(json_object_get(inc, "incidents"), i, a) {
			if (jtime(a, "opened_at") >= start)
				json_array_append(mine, a);
		}
		json_decref(inc);
		int in = 0;
		json_array_foreach(mine, i, a) in |= in_radius(json_string_value(json_object_get(a, "service")), sc->service);
		if (progress)
			fprintf(stderr, "\r\033[Kdrill: %s: %s, %zu incident(s)", sc->name,
				first_fire ? "detected" : "waiting for detection", json_array_size(mine));
		/* done once the notification left too (or plainly is not coming: no route sends it) */
		if (!none && first_fire && in && (first_sent || ooda_now_ns() - first_fire > 15 * OODA_NS_PER_SEC))
			break;
		nap_ms(500);
	}
	if (first_fire) {
		sc->detected = 1;
		sc->mttd_s = (double)(first_fire - start) / 1e9;
	}
	if (first_sent)
		sc->notified_s = (double)(first_sent - start) / 1e9;
	size_t i;
	json_t *a;
	json_t *scored = NULL; /* the first incident in the blast radius */
	sc->incidents = json_array();
	json_array_foreach(mine, i, a) {
		const char *svc = json_string_value(json_object_get(a, "service"));
		json_array_append_new(sc->incidents, json_pack("{s:s, s:s?, s:s}", "id", cli_jstr(a, "id"), "service", svc,
							       "title", cli_jstr(a, "title")));
		int route = 0;
		json_t *sus = none ? incident_suspects(d, a, NULL, start, &route) : NULL;
		if (!none && in_radius(svc, sc->service) && !scored) {
			scored = a;
			sc->incident = 1;
			sus = incident_suspects(d, a, sc->name, start, &route);
			sc->suspects_route = route;
			if (sus) {
				sc->top1 = suspect_names(json_array_get(sus, 0), sc->service);
				sc->top3 = 0;
				sc->suspects = json_array();
				for (size_t k = 0; k < 3 && k < json_array_size(sus); k++) {
					json_t *x = json_array_get(sus, k);
					sc->top3 |= suspect_names(x, sc->service);
					json_array_append_new(sc->suspects,
							      json_pack("{s:s?, s:s?, s:O?}", "node", cli_jstr(x, "node"),
									"kind", cli_jstr(x, "kind"), "score",
									json_object_get(x, "score")));
				}
			} else if (route) {
				sc->top1 = sc->top3 = 0; /* the route answered, but named nothing */
			}
		} else if (!none && in_radius(svc, sc->service)) {
			sc->duplicate_incidents++; /* the fault's, but not grouped with the first */
		} else if (!none) {
			sc->false_incidents++; /* outside the fault's blast radius */
		} else if (sc->opens_nothing) {
			sc->false_incidents++; /* noise and a blip must open nothing */
		} else {
			sc->suspects_route = route;
			/* traffic: an incident is a false blame when its top suspect is a service (or,
			 * without suspects, when the incident itself names a service) */
			if (sus ? suspect_is_service(json_array_get(sus, 0)) : svc != NULL)
				sc->false_incidents++;
		}
		json_decref(sus);
	}
	json_decref(mine);
	scenario_remedy(d, sc, start, progress);
	char path[64];
	snprintf(path, sizeof path, "/faults/%lld", (long long)fid);
	json_decref(drill_call(&d->sim, "DELETE", path, NULL, NULL)); /* 404 when it ended by itself */
	if (progress)
		fprintf(stderr, "\r\033[Kdrill: %s: cleared, waiting for quiet", sc->name);
	char why[128];
	snprintf(why, sizeof why, "drill: scenario %s is over", sc->name);
	wait_quiet(d, why);
	sc->to_ns = ooda_now_ns();
	if (progress)
		fprintf(stderr, "\r\033[K");
}

/* Nothing lost: every log record the simulator had acknowledged (2xx from ooda) is
 * queryable. The simulator's count is read first, so ooda's may only be larger. */
static json_t *drill_telemetry(struct drill *d)
{
	json_t *st = drill_call(&d->sim, "GET", "/state", NULL, NULL);
	json_t *ex = json_object_get(st, "export");
	json_int_t acked = json_integer_value(json_object_get(ex, "logs"));
	json_int_t dropped = json_integer_value(json_object_get(ex, "dropped"));
	json_decref(st);
	json_int_t seen = -1;
	for (int i = 0; i < 20; i++) { /* a batch acknowledged a moment ago may still be on its way to the readers */
		json_t *f = drill_call(&d->ooda, "GET", "/api/v1/logs/facets?since=24h&fields=service", NULL, NULL);
		seen = json_is_integer(json_object_get(f, "total")) ? json_integer_value(json_object_get(f, "total")) : -1;
		json_decref(f);
		if (seen >= acked)
			break;
		nap_ms(250);
	}
	return json_pack("{s:I, s:I, s:I, s:I}", "logs_acknowledged", acked, "logs_queryable", seen, "lost",
			 seen >= acked ? (json_int_t)0 : acked - (seen < 0 ? 0 : seen), "export_dropped", dropped);
}

/* ---- output -------------------------------------------------------------------- */

/* RFC 3339 in UTC, as ooda writes times (the input of `ooda export --from/--to`). */
static json_t *jnum_or_null(double v, int ok)
{
	return ok ? json_real((double)(long long)(v * 10 + 0.5) / 10) : json_null();
}

static json_t *jbool_or_null(int v)
{
	return v < 0 ? json_null() : json_boolean(v);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median of v[0..n) (sorts v); 0 when n is 0. */
static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : 0;
}

static json_t *drill_report(struct scenario *sc, size_t n, const struct drill_pace *pace)
{
	json_t *list = json_array();
	double *mttd = xcalloc(n + 1, sizeof(*mttd)), *mttr = xcalloc(n + 1, sizeof(*mttr));
	size_t nm = 0, nr = 0, t1n = 0, t1ok = 0;
	json_int_t falses = 0, dups = 0;
	for (size_t i = 0; i < n; i++) {
		struct scenario *s = &sc[i];
		json_t *e = json_pack("{s:s, s:b, s:o, s:b, s:o, s:o, s:o, s:o, s:I}", "name", s->name, "detected",
				      s->detected, "mttd_s", jnum_or_null(s->mttd_s, s->detected), "incident", s->incident,
				      "top1", jbool_or_null(s->service ? s->top1 : -1), "top3",
				      jbool_or_null(s->service ? s->top3 : -1), "remediated", jbool_or_null(s->remediated), "mttr_s", jnum_or_null(s->mttr_s, s->mttr_s >= 0), "false_incidents",
				      (json_int_t)s->false_incidents);
		json_object_set_new(e, "duplicate_incidents", json_integer(s->duplicate_incidents));
		json_object_set_new(e, "expected", json_pack("{s:s, s:s?}", "kind", s->kind, "service", s->service));
		json_object_set_new(e, "suspects_route", json_boolean(s->suspects_route));
		json_object_set_new(e, "first_alert", *s->first_alert ? json_string(s->first_alert) : json_null());
		json_object_set_new(e, "first_notification_s", jnum_or_null(s->notified_s, s->notified_s >= 0));
		json_object_set_new(e, "incidents", s->incidents ? json_incref(s->incidents) : json_array());
		json_object_set_new(e, "remediation", s->remedy ? json_incref(s->remedy) : json_null());
		json_object_set_new(e, "suspects", s->suspects ? json_incref(s->suspects) : json_null());
		json_object_set_new(e, "window", s->from_ns > 0 && s->to_ns > s->from_ns
							 ? json_pack("{s:o, s:o}", "from", json_time(s->from_ns), "to",
								     json_time(s->to_ns))
							 : json_null());
		if (*s->error)
			json_object_set_new(e, "error", json_string(s->error));
		json_array_append_new(list, e);
		if (s->service && s->detected)
			mttd[nm++] = s->mttd_s;
		if (s->mttr_s >= 0)
			mttr[nr++] = s->mttr_s;
		if (s->service && s->top1 >= 0) {
			t1n++;
			t1ok += (size_t)s->top1;
		}
		falses += s->false_incidents;
		dups += s->duplicate_incidents;
	}
	double p50 = median(mttd, nm), r50 = median(mttr, nr);
	free(mttd);
	free(mttr);
	json_t *sum = json_pack("{s:o, s:o, s:I, s:I, s:o, s:s}", "mttd_p50_s", jnum_or_null(p50, nm > 0), "top1_rate",
				t1n ? json_real((double)t1ok / (double)t1n) : json_null(), "false_incidents", falses,
				"duplicate_incidents", dups, "mttr_p50_s", jnum_or_null(r50, nr > 0), "pace", pace->name);
	return json_pack("{s:o, s:o}", "scenarios", list, "summary", sum);
}

static const char *cell(json_t *v, char *tmp, size_t n)
{
	if (json_is_true(v))
		return "yes";
	if (json_is_false(v))
		return "no";
	if (json_is_integer(v)) {
		snprintf(tmp, n, "%lld", (long long)json_integer_value(v));
		return tmp;
	}
	if (json_is_number(v)) {
		snprintf(tmp, n, "%.1f", json_number_value(v));
		return tmp;
	}
	return "-";
}

static void drill_print(json_t *r)
{
	static const char *const headers[] = { "SCENARIO", "DETECTED", "MTTD_S", "NOTIFIED_S", "INCIDENT", "TOP1", "TOP3",
					       "REMEDIATED", "MTTR_S", "FALSE" };
	static const char *const keys[] = { "detected", "mttd_s", "first_notification_s", "incident", "top1", "top3",
					    "remediated", "mttr_s", "false_incidents" };
	enum { NCOL = sizeof(headers) / sizeof(headers[0]) };
	json_t *list = json_object_get(r, "scenarios");
	size_t n = json_array_size(list);
	const char **cells = xcalloc(n * NCOL + 1, sizeof(*cells));
	char (*tmp)[24] = xcalloc(n * NCOL + 1, sizeof(*tmp));
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(list, i);
		cells[i * NCOL] = cli_jstr(s, "name");
		for (size_t k = 0; k + 1 < NCOL; k++)
			cells[i * NCOL + 1 + k] = cell(json_object_get(s, keys[k]), tmp[i * NCOL + 1 + k], sizeof tmp[0]);
	}
	cli_table(headers, NCOL, cells, (int)n);
	json_t *sum = json_object_get(r, "summary");
	char a[24], b[24], c[24], e[24];
	printf("\nMTTD p50 %s s, top-1 rate %s, false incidents %s, MTTR p50 %s s (%s pace)\n",
	       cell(json_object_get(sum, "mttd_p50_s"), a, sizeof a), cell(json_object_get(sum, "top1_rate"), b, sizeof b),
	       cell(json_object_get(sum, "false_incidents"), c, sizeof c), cell(json_object_get(sum, "mttr_p50_s"), e, sizeof e),
	       cli_jstr(sum, "pace"));
	free(cells);
	free(tmp);
}

/* ---- the command ------------------------------------------------------------------ */

static void on_signal(int sig)
{
	(void)sig;
	drill_interrupted = 1;
}

static int find_binaries(struct drill *d, struct cli_args *a, struct buf *err)
{
	ssize_t n = readlink("/proc/self/exe", d->ooda_bin, sizeof d->ooda_bin - 1);
	if (n <= 0) {
		buf_addf(err, "cannot find the ooda binary: %s", strerror(errno));
		return OODA_EIO;
	}
	d->ooda_bin[n] = 0;
	const char *sim = cli_opt(a, "--ooda-sim");
	if (sim) {
		snprintf(d->sim_bin, sizeof d->sim_bin, "%s", sim);
	} else {
		const char *slash = strrchr(d->ooda_bin, '/');
		int len = slash ? (int)(slash - d->ooda_bin) : 0;
		snprintf(d->sim_bin, sizeof d->sim_bin, "%.*s/sim/ooda-sim", len, d->ooda_bin);
		if (access(d->sim_bin, X_OK))
			snprintf(d->sim_bin, sizeof d->sim_bin, "%.*s/ooda-sim", len, d->ooda_bin);
	}
	if (access(d->sim_bin, X_OK)) {
		buf_addf(err, "--ooda-sim: %s is not an executable ooda-sim", d->sim_bin);
		return OODA_EINVAL;
	}
	return 0;
}

/* Whether name is one of the comma-separated names of list ("a,b"). */
static int scenario_listed(const char *list, const char *name)
{
	size_t len = strlen(name);
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == len && !strncmp(p, name, n))
			return 1;
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}

/* The first name of list that the catalogue lacks (into out), or 0 when every one is there. */
static int scenario_unknown(const char *list, json_t *cat, char *out, size_t cap)
{
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		int found = 0;
		size_t i;
		json_t *f;
		json_array_foreach(cat, i, f) {
			const char *nm = cli_jstr(f, "name");
			found |= strlen(nm) == n && !strncmp(nm, p, n);
		}
		if (!found) {
			snprintf(out, cap, "%.*s", (int)(n < 64 ? n : 64), p);
			return 1;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}

int cmd_drill_run(struct cli_args *a, struct buf *err)
{
	struct drill d = { .pace = &drill_paces[cli_flag(a, "--fast") ? 1 : 0], .rx_fd = -1,
			   .attach = cli_flag(a, "--attach"), .since_ns = 0 };
	const char *only = cli_opt(a, "--scenario");
	if (only && (!*only || !strcmp(only, "all")))
		only = NULL;
	const char *sim_url = cli_opt(a, "--sim");
	if (sim_url && !d.attach) {
		buf_adds(err, "--sim: only with --attach (without it the drill starts its own ooda-sim)");
		return OODA_EINVAL;
	}
	if (d.attach && (!sim_url || (strncmp(sim_url, "http://", 7) && strncmp(sim_url, "https://", 8)) ||
			 strlen(sim_url) >= sizeof d.sim_url)) {
		buf_adds(err, "--sim: the simulator's control URL is required with --attach (http://HOST:PORT, "
			      "the port ooda-sim's --base-port names)");
		return OODA_EINVAL;
	}
	int rc = d.attach ? 0 : find_binaries(&d, a, err);
	if (rc)
		return rc;
	const char *tmpdir = getenv("TMPDIR");
	snprintf(d.dir, sizeof d.dir, "%s/ooda-drill-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	if (!d.attach && !mkdtemp(d.dir)) {
		buf_addf(err, "mkdtemp %s: %s", d.dir, strerror(errno));
		return OODA_EIO;
	}
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	int progress = isatty(2);
	struct scenario *sc = NULL;
	size_t n = 0;
	json_t *cat = NULL;
	if (d.attach) {
		cli_server(a); /* resolves --server and the token like every other command */
		d.ooda = a->client;
		d.ooda.timeout_s = 10;
		snprintf(d.sim_url, sizeof d.sim_url, "%s", sim_url);
		d.sim = (struct client){ .server = d.sim_url, .timeout_s = 30 };
		d.since_ns = ooda_now_ns();
		int st = 0;
		json_decref(drill_call(&d.ooda, "GET", "/api/v1/alerts?state=firing", NULL, &st));
		if (st != 200) {
			buf_addf(err, "--attach: %s answered GET /api/v1/alerts with HTTP %d (is it ooda, is the token right?)",
				 d.ooda.server, st);
			rc = st == 401 || st == 403 ? OODA_EUNAUTH : OODA_EIO;
			goto out;
		}
	} else if ((rc = drill_start(&d, err))) {
		goto out;
	}
	cat = drill_call(&d.sim, "GET", "/catalogue", NULL, NULL);
	if (!json_is_array(cat)) {
		buf_addf(err, "%s answered GET /catalogue with no fault list: is it ooda-sim's control port?", d.sim_url);
		rc = OODA_EIO;
		goto out;
	}
	char unknown[80];
	if (only && scenario_unknown(only, cat, unknown, sizeof unknown)) {
		buf_addf(err, "--scenario: no fault named '%s' (ooda-sim list-faults; or all)", unknown);
		rc = OODA_EINVAL;
		goto out;
	}
	sc = xcalloc(json_array_size(cat) + 1, sizeof(*sc));
	size_t i;
	json_t *f;
	json_array_foreach(cat, i, f) {
		if (only && !scenario_listed(only, cli_jstr(f, "name")))
			continue;
		json_t *exp = json_object_get(f, "expected_root_cause");
		sc[n].name = cli_jstr(f, "name");
		sc[n].kind = cli_jstr(exp, "kind");
		sc[n].service = json_string_value(json_object_get(exp, "service"));
		const char *expect = cli_jstr(f, "expected_incident");
		sc[n].opens_nothing = expect && !strcmp(expect, "none");
		n++;
	}
	if (!n) {
		buf_addf(err, "--scenario: no fault named '%s' (ooda-sim list-faults; or all)", only ? only : "");
		rc = OODA_EINVAL;
		goto out;
	}
	/* the first traces and the dependency graph before any fault; then, as between scenarios, quiet: what the
	 * start-up raised (a slow first probe or a latency rule on a loaded machine) is resolved before the first
	 * fault, or that fault's alerts would join it; an attached system is warm and resolves only its own */
	for (int k = 0; !d.attach && k < (d.pace == &drill_paces[1] ? 8 : 30) * 2 && !drill_interrupted; k++)
		nap_ms(500);
	fprintf(stderr, "drill: the detectors learnt the services' baselines in %.1f s more\n", wait_warm(&d));
	wait_quiet(&d, d.attach ? "drill: before the drill" : "drill: the drill's start-up is over");
	for (i = 0; i < n && !drill_interrupted; i++) {
		if (!both_alive(&d)) {
			buf_addf(err, "%s exited during the drill (logs in %s)", alive(d.ooda_pid) ? "ooda-sim" : "ooda", d.dir);
			rc = OODA_EIO;
			goto out;
		}
		scenario_run(&d, &sc[i], progress);
		/* one line per scenario on stderr: the run's progress in a log, stdout stays the report */
		fprintf(stderr, "drill: %s: %s", sc[i].name, sc[i].detected ? "detected" : "not detected");
		if (sc[i].detected)
			fprintf(stderr, " after %.1f s", sc[i].mttd_s);
		fprintf(stderr, ", %s, %d false incident(s)", sc[i].incident ? "incident opened" : "no incident",
			sc[i].false_incidents);
		if (sc[i].duplicate_incidents)
			fprintf(stderr, ", %d more in its blast radius", sc[i].duplicate_incidents);
		if (sc[i].remediated == 1)
			fprintf(stderr, ", recovered by %s after %.1f s", cli_jstr(sc[i].remedy, "policy"), sc[i].mttr_s);
		else if (sc[i].remediated == 0)
			fprintf(stderr, ", not remediated (%s: %s)", cli_jstr(sc[i].remedy, "policy"),
				*cli_jstr(sc[i].remedy, "status") ? cli_jstr(sc[i].remedy, "status") : "no run");
		fprintf(stderr, "%s%s\n", *sc[i].error ? ": " : "", sc[i].error);
	}
	if (drill_interrupted) {
		buf_adds(err, "interrupted");
		rc = OODA_EINVAL;
		goto out;
	}
	json_t *r = drill_report(sc, n, d.pace);
	json_object_set_new(r, "telemetry", drill_telemetry(&d));
	if (!d.attach && cli_flag(a, "--keep")) { /* a scenario's window is exported from there (docs/drills.md) */
		char data[sizeof d.dir + 8];
		snprintf(data, sizeof data, "%s/data", d.dir);
		json_object_set_new(r, "data_dir", json_string(data));
	}
	if (a->json) {
		char *text = json_dumps(r, JSON_INDENT(2));
		printf("%s\n", text);
		free(text);
	} else {
		drill_print(r);
	}
	json_decref(r);
out:
	drill_stop(&d.sim_pid); /* the simulator first: its exporter posts what is queued to ooda */
	drill_stop(&d.ooda_pid);
	rx_stop(&d);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (d.attach)
		; /* no temp dir */
	else if ((rc && getenv("OODA_DRILL_KEEP")) || cli_flag(a, "--keep"))
		fprintf(stderr, "drill: logs kept in %s\n", d.dir);
	else
		nftw(d.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	for (i = 0; sc && i < n; i++) {
		json_decref(sc[i].incidents);
		json_decref(sc[i].suspects);
		json_decref(sc[i].remedy);
	}
	free(sc);
	json_decref(cat);
	return rc;
}
