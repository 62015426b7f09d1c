/*
 * Replays a pack (see bench_gen.c) as HTTP/1.1 POSTs over keep-alive
 * connections, one thread per connection, and prints one JSON line:
 * {"requests":..,"records":..,"bytes":..,"seconds":..,"retries":..}.
 *
 *   bench_post HOST PORT PATH CONTENT_TYPE PACK CONNECTIONS
 *
 * 429 and 503 answers are retried after a short pause (counted); any other
 * non-2xx answer stops the run with the answer on stderr and status 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct item { const unsigned char *body; uint32_t len, n; };

static struct item *items;
static size_t n_items;
static atomic_size_t next_item;
static atomic_ulong retries;
static atomic_int failed;
static const char *host, *path, *ctype;
static int port;

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, host, &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("connect");
		exit(1);
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Reads one response; returns its status, or -1 when the connection closed. */
static int read_response(int fd, char *buf, size_t cap, char *errbody, size_t errcap)
{
	size_t have = 0;
	char *hdr_end = NULL;
	while (!hdr_end) {
		ssize_t r = read(fd, buf + have, cap - 1 - have);
		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = 0;
		hdr_end = strstr(buf, "\r\n\r\n");
		if (!hdr_end && have >= cap - 1)
			return -1;
	}
	int status = atoi(buf + 9);
	size_t hlen = (size_t)(hdr_end + 4 - buf);
	long clen = -1;
	int chunked = 0;
	for (char *l = strstr(buf, "\r\n") + 2; l < hdr_end; l = strstr(l, "\r\n") + 2) {
		if (!strncasecmp(l, "content-length:", 15))
			clen = atol(l + 15);
		else if (!strncasecmp(l, "transfer-encoding:", 18) && strstr(l, "chunked") && strstr(l, "chunked") < strstr(l, "\r\n"))
			chunked = 1;
	}
	size_t body_have = have - hlen;
	memmove(buf, buf + hlen, body_have);
	if (chunked) {
		/* read until the terminating zero-size chunk */
		for (;;) {
			buf[body_have] = 0;
			if (body_have >= 5 && (!memcmp(buf, "0\r\n\r\n", 5) || strstr(buf, "\r\n0\r\n\r\n")))
				break;
			if (body_have >= cap - 1) { /* long body: keep the tail only */
				memmove(buf, buf + body_have - 16, 16);
				body_have = 16;
			}
			ssize_t r = read(fd, buf + body_have, cap - 1 - body_have);
			if (r <= 0)
				return -1;
			body_have += (size_t)r;
		}
	} else {
		size_t want = clen < 0 ? 0 : (size_t)clen;
		while (body_have < want) {
			size_t room = cap - 1 - (body_have < cap - 1 ? body_have : 0);
			ssize_t r = read(fd, buf + (body_have < cap - 1 ? body_have : 0), room > want - body_have ? want - body_have : room);
			if (r <= 0)
				return -1;
			body_have += (size_t)r;
		}
	}
	buf[body_have < cap - 1 ? body_have : cap - 1] = 0;
	snprintf(errbody, errcap, "%s", buf);
	return status;
}

static void *worker(void *arg)
{
	(void)arg;
	int fd = dial();
	char *rbuf = malloc(1 << 16), errb[512];
	for (;;) {
		size_t i = atomic_fetch_add(&next_item, 1);
		if (i >= n_items || atomic_load(&failed))
			break;
		for (;;) {
			char head[1024];
			int hn = snprintf(head, sizeof(head),
					  "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: %s\r\nContent-Length: %u\r\n\r\n", path,
					  host, port, ctype, items[i].len);
			struct iovec iov[2] = { { head, (size_t)hn }, { (void *)items[i].body, items[i].len } };
			size_t total = (size_t)hn + items[i].len, sent = 0;
			int broken = 0;
			while (sent < total) {
				ssize_t w = writev(fd, iov, 2);
				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0) { broken = 1; break; }
				sent += (size_t)w;
				size_t adv = (size_t)w;
				for (int k = 0; k < 2; k++) {
					size_t take = adv < iov[k].iov_len ? adv : iov[k].iov_len;
					iov[k].iov_base = (char *)iov[k].iov_base + take;
					iov[k].iov_len -= take;
					adv -= take;
				}
			}
			int st = broken ? -1 : read_response(fd, rbuf, 1 << 16, errb, sizeof(errb));
			if (st == -1) { /* peer closed the connection: reconnect and resend */
				close(fd);
				fd = dial();
				atomic_fetch_add(&retries, 1);
				continue;
			}
			if (st == 429 || st == 503) {
				atomic_fetch_add(&retries, 1);
				struct timespec ts = { 0, 20 * 1000 * 1000 };
				nanosleep(&ts, NULL);
				continue;
			}
			if (st < 200 || st > 299) {
				fprintf(stderr, "bench_post: %s answered %d: %s\n", path, st, errb);
				atomic_store(&failed, 1);
			}
			break;
		}
	}
	close(fd);
	free(rbuf);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: bench_post HOST PORT PATH CONTENT_TYPE PACK CONNECTIONS\n");
		return 2;
	}
	host = argv[1];
	port = atoi(argv[2]);
	path = argv[3];
	ctype = argv[4];
	int conns = atoi(argv[6]);
	int fd = open(argv[5], O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		perror(argv[5]);
		return 1;
	}
	const unsigned char *p = st.st_size ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0) : NULL;
	size_t cap = 0, off = 0;
	uint64_t records = 0, bytes = 0;
	while (off + 8 <= (size_t)st.st_size) {
		uint32_t h[2];
		memcpy(h, p + off, 8);
		if (n_items == cap) {
			cap = cap ? cap * 2 : 1024;
			items = realloc(items, cap * sizeof(*items));
		}
		items[n_items++] = (struct item){ p + off + 8, h[0], h[1] };
		records += h[1];
		bytes += h[0];
		off += 8 + h[0];
	}
	pthread_t *t = calloc((size_t)conns, sizeof(*t));
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < conns; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < conns; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("{\"requests\":%zu,\"records\":%llu,\"bytes\":%llu,\"seconds\":%.4f,\"retries\":%lu}\n", n_items,
	       (unsigned long long)records, (unsigned long long)bytes, secs, atomic_load(&retries));
	return atomic_load(&failed) ? 1 : 0;
}
