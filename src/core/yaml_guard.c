/*
 * The YAML guard (yaml_guard.h): a single-threaded helper process that
 * parses each configuration text in a child of its own, so that the
 * daemon never forks while its other threads may hold locks. The daemon
 * and the guard speak over a socket pair: the daemon sends the length
 * (8 bytes, host order) and the text; the guard answers one byte, an
 * enum yaml_verdict. One request at a time, under a mutex.
 */
#include "core/yaml_guard.h"

#include "core/error.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define GUARD_ALARM_S 5          /* a parse that takes longer is a hang */
#define GUARD_ANSWER_S 30        /* the daemon's wait for the guard's answer */
#define GUARD_MAX_TEXT (64 << 20) /* larger texts are refused before they get here */

static pthread_mutex_t guard_mu = PTHREAD_MUTEX_INITIALIZER;
static int guard_fd = -1;
static pid_t guard_pid;

/* The child's work: parse, then exit 0; a crash or the alarm ends it on a signal. */
static void parse_and_exit(const char *text, size_t len)
{
	/* a crash ends the child: no handler inherited from the parent may catch it */
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
		signal(fatal[i], SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	int devnull = open("/dev/null", O_WRONLY);
	if (devnull >= 0)
		dup2(devnull, STDERR_FILENO);
	alarm(GUARD_ALARM_S);
	struct fy_parse_cfg pcfg = { .flags = FYPCF_QUIET };
	struct fy_document *doc = fy_document_build_from_string(&pcfg, text, len);
	if (doc)
		fy_document_destroy(doc);
	_exit(0);
}

/* Forks a child to parse text, waits for it, and classifies its end. */
static int parse_in_child(const char *text, size_t len)
{
	pid_t pid = fork();
	if (pid < 0)
		return OODA_EIO;
	if (pid == 0)
		parse_and_exit(text, len);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return OODA_EIO;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return YAML_PARSES;
	/* any other end is a crash: a signal, or a sanitizer's exit after catching one */
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? YAML_HUNG : YAML_CRASHED;
}

static int read_full(int fd, void *p, size_t n)
{
	char *c = p;
	while (n > 0) {
		ssize_t r = read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The guard's life: answer requests until the daemon closes its end. */
static void guard_main(int fd)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_IGN); /* a terminal's Ctrl-C is the daemon's to handle */
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		uint64_t len = 0;
		if (read_full(fd, &len, sizeof len) || len > GUARD_MAX_TEXT)
			_exit(0);
		char *text = xmalloc(len + 1);
		if (read_full(fd, text, len))
			_exit(0);
		text[len] = '\0';
		int v = parse_in_child(text, len);
		free(text);
		unsigned char answer = v < 0 ? 0xff : (unsigned char)v;
		if (write_full(fd, &answer, 1))
			_exit(0);
	}
}

int yaml_guard_start(struct buf *err)
{
	pthread_mutex_lock(&guard_mu);
	if (guard_fd >= 0) {
		pthread_mutex_unlock(&guard_mu);
		return 0;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		pthread_mutex_unlock(&guard_mu);
		buf_addf(err, "YAML guard: socketpair: %s", strerror(errno));
		return OODA_EIO;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		pthread_mutex_unlock(&guard_mu);
		buf_addf(err, "YAML guard: fork: %s", strerror(errno));
		return OODA_EIO;
	}
	if (pid == 0) {
		close(sv[0]);
		/* keep nothing of the parent's but stdio and the socket */
		if (sv[1] > 3)
			close_range(3, (unsigned)sv[1] - 1, 0);
		close_range((unsigned)sv[1] + 1, ~0U, 0);
		guard_main(sv[1]);
		_exit(0);
	}
	close(sv[1]);
	struct timeval tv = { .tv_sec = GUARD_ANSWER_S };
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	guard_fd = sv[0];
	guard_pid = pid;
	pthread_mutex_unlock(&guard_mu);
	return 0;
}

/* Under guard_mu: closes the socket and reaps the guard. */
static void guard_drop(void)
{
	if (guard_fd < 0)
		return;
	close(guard_fd);
	guard_fd = -1;
	int status;
	if (waitpid(guard_pid, &status, WNOHANG) == 0) {
		kill(guard_pid, SIGKILL);
		while (waitpid(guard_pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	guard_pid = 0;
}

void yaml_guard_stop(void)
{
	pthread_mutex_lock(&guard_mu);
	if (guard_fd >= 0) {
		/* EOF ends the guard's loop; give it a moment before the kill */
		shutdown(guard_fd, SHUT_WR);
		unsigned char b;
		while (read(guard_fd, &b, 1) < 0 && errno == EINTR)
			;
	}
	guard_drop();
	pthread_mutex_unlock(&guard_mu);
}

pid_t yaml_guard_pid(void)
{
	pthread_mutex_lock(&guard_mu);
	pid_t p = guard_fd >= 0 ? guard_pid : 0;
	pthread_mutex_unlock(&guard_mu);
	return p;
}

int yaml_guard_check(const char *text, size_t len)
{
	pthread_mutex_lock(&guard_mu);
	if (guard_fd >= 0 && len <= GUARD_MAX_TEXT) {
		uint64_t n = len;
		unsigned char answer = 0;
		if (!write_full(guard_fd, &n, sizeof n) && !write_full(guard_fd, text, len) &&
		    !read_full(guard_fd, &answer, 1) && answer <= YAML_HUNG) {
			pthread_mutex_unlock(&guard_mu);
			return answer;
		}
		int e = errno;
		if (e == EAGAIN || e == EWOULDBLOCK) {
			/* the guard exists but did not answer in time: treat the text as a hang */
			guard_drop();
			pthread_mutex_unlock(&guard_mu);
			log_warn("YAML guard did not answer within %d s; it was stopped", GUARD_ANSWER_S);
			return YAML_HUNG;
		}
		guard_drop();
		log_warn("YAML guard is gone; configuration texts are now parsed in a direct child");
	}
	/* No guard: this process is single-threaded (CLI, tests) or lost its guard. */
	int v = parse_in_child(text, len);
	pthread_mutex_unlock(&guard_mu);
	return v;
}
