/*
 * The probe checkers (see probe.h): HTTP over the prober's libcurl multi
 * handle, TCP connects to a numeric address done without blocking, and the
 * jobs a small worker pool runs because they may block: DNS lookups, TCP
 * connects to a name and exec children. Each ends with probe_record().
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "detect/probe_impl.h"
#include "core/error.h"
#include "core/log.h"
#include "core/spawn.h"
#include "core/time.h"
#include "core/worker.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pcre2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

void probe_result_set(struct probe_result *r, bool ok, int64_t dur, int code, const char *fmt, ...)
{
	r->ok = ok;
	r->duration_ns = dur < 0 ? 0 : dur;
	r->code = code;
	r->at_ns = ooda_now_ns();
	r->error[0] = '\0';
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->error, sizeof(r->error), fmt, ap);
		va_end(ap);
	}
}

void probe_job_free(struct job *j)
{
	if (!j)
		return;
	free(j->host);
	free(j->port);
	for (size_t i = 0; j->argv && j->argv[i]; i++)
		free(j->argv[i]);
	free(j->argv);
	free(j);
}

/* Starts a non-blocking connect; 0 connected, 1 in progress, else -errno. */
static int tcp_open(const struct addrinfo *ai, int *fd)
{
	*fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (*fd < 0)
		return -errno;
	if (!connect(*fd, ai->ai_addr, ai->ai_addrlen))
		return 0;
	if (errno == EINPROGRESS)
		return 1;
	int e = errno;
	close(*fd);
	*fd = -1;
	return -e;
}

int probe_tcp_finish(int fd)
{
	int e = 0;
	socklen_t l = sizeof(e);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l))
		e = errno;
	return e;
}

static void run_tcp_job(struct job *j)
{
	int64_t t0 = ooda_mono_ns(), deadline = t0 + j->timeout_ns;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	int g = getaddrinfo(j->host, j->port, &hints, &ai);
	if (g) {
		probe_result_set(&j->res, false, ooda_mono_ns() - t0, -1, "cannot resolve %s: %s", j->host, gai_strerror(g));
		return;
	}
	int fd, rc = tcp_open(ai, &fd);
	freeaddrinfo(ai);
	if (rc == 1) {
		struct pollfd pf = { .fd = fd, .events = POLLOUT };
		int64_t left = deadline - ooda_mono_ns();
		int n = left > 0 ? poll(&pf, 1, (int)(left / OODA_NS_PER_MS) + 1) : 0;
		rc = n > 0 ? -probe_tcp_finish(fd) : n == 0 ? -ETIMEDOUT : -errno;
	}
	if (fd >= 0)
		close(fd);
	int64_t dur = ooda_mono_ns() - t0;
	if (rc == -ETIMEDOUT)
		probe_result_set(&j->res, false, dur, -1, "connect to %s:%s timed out", j->host, j->port);
	else if (rc)
		probe_result_set(&j->res, false, dur, -1, "connect to %s:%s: %s", j->host, j->port, strerror(-rc));
	else
		probe_result_set(&j->res, true, dur, -1, NULL);
}

static void run_dns_job(struct job *j)
{
	int64_t t0 = ooda_mono_ns();
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	int g = getaddrinfo(j->host, NULL, &hints, &ai);
	int64_t dur = ooda_mono_ns() - t0;
	if (g) {
		probe_result_set(&j->res, false, dur, -1, "cannot resolve %s: %s", j->host, gai_strerror(g));
		return;
	}
	freeaddrinfo(ai);
	if (dur > j->timeout_ns)
		probe_result_set(&j->res, false, dur, -1, "resolving %s took longer than the timeout", j->host);
	else
		probe_result_set(&j->res, true, dur, -1, NULL);
}

/* The last line of a child's output, for the error text. */
static void last_line(const char *out, size_t n, char *line, size_t size)
{
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
		n--;
	size_t s = n;
	while (s && out[s - 1] != '\n')
		s--;
	snprintf(line, size, "%.*s", (int)(n - s > 160 ? 160 : n - s), out + s);
}

/* Runs the program without a shell (core/spawn.h); SIGKILL to its process group at the deadline. */
static void run_exec_job(struct job *j)
{
	int64_t t0 = ooda_mono_ns(), deadline = t0 + j->timeout_ns;
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC)) {
		probe_result_set(&j->res, false, 0, -1, "pipe: %s", strerror(errno));
		return;
	}
	/* its own process group: the deadline's SIGKILL reaches what it started */
	struct spawn_opts so = { .argv = j->argv, .out_fd = pfd[1], .null_stdin = true, .own_group = true };
	pid_t pid;
	int rc = ooda_spawn(&so, &pid);
	close(pfd[1]);
	if (rc) {
		close(pfd[0]);
		probe_result_set(&j->res, false, ooda_mono_ns() - t0, -1, "cannot run %s: %s", j->argv[0], strerror(rc));
		return;
	}
	char out[2048];
	size_t n = 0;
	bool eof = false, timed_out = false;
	while (!eof) {
		int64_t left = deadline - ooda_mono_ns();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd pf = { .fd = pfd[0], .events = POLLIN };
		int k = poll(&pf, 1, (int)(left / OODA_NS_PER_MS) + 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			continue;
		char chunk[1024];
		ssize_t r = read(pfd[0], chunk, sizeof(chunk));
		if (r <= 0) {
			eof = r == 0 || errno != EINTR;
			continue;
		}
		/* keep the tail */
		if (n + (size_t)r > sizeof(out)) {
			size_t drop = n + (size_t)r - sizeof(out);
			memmove(out, out + drop, n - drop);
			n -= drop;
		}
		memcpy(out + n, chunk, (size_t)r);
		n += (size_t)r;
	}
	close(pfd[0]);
	int st = 0;
	pid_t w = 0;
	while (!timed_out && (w = waitpid(pid, &st, WNOHANG)) == 0) {
		if (ooda_mono_ns() >= deadline) {
			timed_out = true;
			break;
		}
		poll(NULL, 0, 5);
	}
	if (timed_out) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		char d[32];
		probe_result_set(&j->res, false, ooda_mono_ns() - t0, -1, "%s timed out after %s and was killed", j->argv[0],
			   ooda_duration_format(j->timeout_ns, d, sizeof(d)));
		return;
	}
	int64_t dur = ooda_mono_ns() - t0;
	char line[200];
	last_line(out, n, line, sizeof(line));
	if (w < 0)
		probe_result_set(&j->res, false, dur, -1, "waitpid: %s", strerror(errno));
	else if (WIFSIGNALED(st))
		probe_result_set(&j->res, false, dur, -1, "%s killed by signal %d", j->argv[0], WTERMSIG(st));
	else if (WEXITSTATUS(st) != j->expect_exit)
		probe_result_set(&j->res, false, dur, WEXITSTATUS(st), "%s exited %d (expected %d)%s%s", j->argv[0],
			   WEXITSTATUS(st), j->expect_exit, line[0] ? ": " : "", line);
	else
		probe_result_set(&j->res, true, dur, WEXITSTATUS(st), NULL);
}

/* Hands a finished job back to the prober thread. */
static void job_finished(struct prober *p, struct job *j)
{
	pthread_mutex_lock(&p->mu);
	j->next = p->done;
	p->done = j;
	pthread_mutex_unlock(&p->mu);
	curl_multi_wakeup(p->multi);
}

/* The job pool's fn: runs one blocking job (a name to resolve, a command to run). */
void probe_job_run(void *arg, void *item)
{
	struct prober *p = arg;
	struct job *j = item;
	if (!j)
		return;
	switch (j->kind) {
	case PROBE_DNS:
		run_dns_job(j);
		break;
	case PROBE_EXEC:
		run_exec_job(j);
		break;
	default:
		run_tcp_job(j);
		break;
	}
	job_finished(p, j);
}

void probe_job_drop(void *item)
{
	probe_job_free(item);
}

void probe_job_submit(struct prober *p, struct probe_rt *rt)
{
	struct job *j = xcalloc(1, sizeof(*j));
	j->id = rt->id;
	j->run = rt->run;
	j->kind = rt->spec.kind;
	j->host = xstrdup(rt->spec.host);
	j->port = xstrdup(rt->spec.port);
	j->expect_exit = rt->spec.expect_exit;
	j->timeout_ns = rt->spec.timeout_ns;
	if (rt->spec.argv) {
		j->argv = xcalloc(rt->spec.argc + 1, sizeof(char *));
		for (size_t i = 0; i < rt->spec.argc; i++)
			j->argv[i] = xstrdup(rt->spec.argv[i]);
	}
	if (!p->jobs || worker_push(p->jobs, j)) { /* never with PROBE_MAX probes: the queue holds two configurations */
		probe_result_set(&j->res, false, 0, -1, "the probe job queue is full");
		job_finished(p, j);
	}
}

static size_t body_cb(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct probe_rt *rt = ctx;
	size_t n = size * nmemb;
	if (rt->body.len < BODY_CAP)
		buf_add(&rt->body, data, rt->body.len + n > BODY_CAP ? BODY_CAP - rt->body.len : n);
	return n;
}

void probe_http_cleanup(struct prober *p, struct probe_rt *rt)
{
	if (rt->easy) {
		curl_multi_remove_handle(p->multi, rt->easy);
		curl_easy_cleanup(rt->easy);
		rt->easy = NULL;
	}
	curl_slist_free_all(rt->hdrs);
	rt->hdrs = NULL;
	buf_release(&rt->body);
}

void probe_http_start(struct prober *p, struct probe_rt *rt)
{
	const struct probe_spec *s = &rt->spec;
	CURL *e = curl_easy_init();
	if (!e) {
		struct probe_result r;
		probe_result_set(&r, false, 0, -1, "cannot create an HTTP transfer");
		probe_record(p, rt, &r);
		return;
	}
	rt->easy = e;
	rt->errbuf[0] = '\0';
	buf_init(&rt->body);
	for (size_t i = 0; i < s->n_headers; i++)
		rt->hdrs = curl_slist_append(rt->hdrs, s->headers[i]);
	rt->hdrs = curl_slist_append(rt->hdrs, "User-Agent: ooda-probe/" OODA_VERSION);
	curl_easy_setopt(e, CURLOPT_URL, s->target);
	if (!strcmp(s->method, "HEAD"))
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(s->method, "GET"))
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, s->method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, rt->hdrs);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(s->timeout_ns / OODA_NS_PER_MS));
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, rt);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, rt->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, rt);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_multi_add_handle(p->multi, e);
}

static bool body_matches(void *re, const struct buf *body)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	int m = pcre2_match(re, (PCRE2_SPTR)body->data, body->len, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	return m >= 0;
}

void probe_http_done(struct prober *p, struct probe_rt *rt, CURLcode code)
{
	const struct probe_spec *s = &rt->spec;
	long status = 0;
	curl_off_t total = 0;
	curl_easy_getinfo(rt->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(rt->easy, CURLINFO_TOTAL_TIME_T, &total);
	int64_t dur = (int64_t)total * 1000;
	struct probe_result r;
	char a[32], b[32];
	if (code != CURLE_OK) {
		probe_result_set(&r, false, dur, (int)status, "%s", rt->errbuf[0] ? rt->errbuf : curl_easy_strerror(code));
	} else if (!probe_status_expected(s, status)) {
		probe_result_set(&r, false, dur, (int)status, "status %ld, expected %s", status, s->expect_text);
	} else if (s->body_contains && !memmem(rt->body.data, rt->body.len, s->body_contains, strlen(s->body_contains))) {
		probe_result_set(&r, false, dur, (int)status, "body does not contain \"%.80s\"", s->body_contains);
	} else if (s->re && !body_matches(s->re, &rt->body)) {
		probe_result_set(&r, false, dur, (int)status, "body does not match /%.80s/", s->body_regex);
	} else if (s->max_latency_ns && dur > s->max_latency_ns) {
		probe_result_set(&r, false, dur, (int)status, "took %s, over max_latency %s",
			   ooda_duration_format(dur / OODA_NS_PER_MS * OODA_NS_PER_MS, a, sizeof(a)),
			   ooda_duration_format(s->max_latency_ns, b, sizeof(b)));
	} else {
		probe_result_set(&r, true, dur, (int)status, NULL);
	}
	probe_http_cleanup(p, rt);
	probe_record(p, rt, &r);
}

void probe_tcp_start(struct prober *p, struct probe_rt *rt)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *ai = NULL;
	if (getaddrinfo(rt->spec.host, rt->spec.port, &hints, &ai)) {
		probe_job_submit(p, rt); /* a name: resolving may block, so a worker does it all */
		return;
	}
	int rc = tcp_open(ai, &rt->fd);
	freeaddrinfo(ai);
	if (rc == 1)
		return;
	struct probe_result r;
	if (rc)
		probe_result_set(&r, false, ooda_mono_ns() - rt->started, -1, "connect to %s: %s", rt->spec.target, strerror(-rc));
	else
		probe_result_set(&r, true, ooda_mono_ns() - rt->started, -1, NULL);
	if (rt->fd >= 0)
		close(rt->fd);
	rt->fd = -1;
	probe_record(p, rt, &r);
}

void probe_tcp_done(struct prober *p, struct probe_rt *rt, int e)
{
	struct probe_result r;
	int64_t dur = ooda_mono_ns() - rt->started;
	if (e == ETIMEDOUT)
		probe_result_set(&r, false, dur, -1, "connect to %s timed out", rt->spec.target);
	else if (e)
		probe_result_set(&r, false, dur, -1, "connect to %s: %s", rt->spec.target, strerror(e));
	else
		probe_result_set(&r, true, dur, -1, NULL);
	close(rt->fd);
	rt->fd = -1;
	probe_record(p, rt, &r);
}
