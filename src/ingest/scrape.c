/*
 * The scrape pool (scrape.h): targets built from the jobs' static_configs
 * and file_sd files, a scheduler thread that hands due targets to the
 * scrape threads (a core/worker pool), and the scrape itself (libcurl,
 * decode, report series, sink). A target's life:
 *
 *   target_new ──> idle ──due (scheduler)──> in flight (scrape_one) ──> idle
 *                    │                                     │
 *                    └── gone from the config: dropped; the last reference
 *                        (a scrape in flight holds one) frees it (target_unref)
 *
 * Locking: p->mu guards the target list, each target's state and the
 * current cfg; a scrape runs without it, on its own copies.
 */
#include "ingest/scrape_impl.h"

#include <curl/curl.h>
#include <errno.h>
#include <glob.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/lead.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "core/worker.h"
#include "core/xalloc.h"

#define SCRAPE_THREADS 4
#define SCRAPE_QUEUE 4096
#define SCRAPE_ARENA_LIMIT ((size_t)512 << 20)
#define SCRAPE_ERROR_MAX 512 /* bytes of lastError kept */

/* The Accept header of Prometheus 2.42's scrapes: OpenMetrics first, the text format as fallback. */
static const char scrape_accept[] = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
				    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

struct target {
	atomic_int refs;
	struct scrape_cfg *cfg; /* guarded by pool mu; a scrape takes its own reference */
	size_t job;
	char *key;              /* job \n url \n labels: identity across reloads */
	char *address, *url;
	struct scrape_label *labels; /* job, instance, then the group's (sorted by name when shown) */
	size_t n_labels;
	int64_t next_mono_ns;
	bool in_flight, dropped;
	/* last scrape, guarded by pool mu */
	int64_t last_ns, last_dur_ns;
	int health;             /* -1 unknown, 0 down, 1 up */
	char *last_error;
	/* the series of the last successful scrape (scrape threads only; one scrape of a target at a time) */
	struct arena *prev_arena;
	struct metric_point *prev;   /* name, labels and resource of each; in prev_arena */
	uint64_t *prev_hash;         /* the hash of each */
	size_t n_prev;
};

struct sd_state {
	char *signature;        /* matched files with mtime and size */
	int64_t next_read_mono_ns;
	struct scrape_group *groups;
	size_t n_groups;
};

struct scrape_pool {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop, started;
	pthread_t sched;
	struct worker *w;
	struct scrape_sink sink;
	struct scrape_cfg *cfg;
	struct sd_state *sd;    /* one per job of cfg */
	struct target **targets;
	size_t n_targets;
};

static void target_unref(struct target *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	scrape_cfg_unref(t->cfg);
	free(t->key);
	free(t->address);
	free(t->url);
	for (size_t i = 0; i < t->n_labels; i++) {
		free((char *)t->labels[i].name);
		free((char *)t->labels[i].value);
	}
	free(t->labels);
	free(t->last_error);
	if (t->prev_arena) {
		arena_release(t->prev_arena);
		free(t->prev_arena);
	}
	free(t->prev_hash);
	free(t);
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

#define FNV_BASIS 14695981039346656037ULL

/* The first scrape time of t: its phase in the interval (a hash of its key) from the wall clock, as Prometheus offsets targets. */
static int64_t first_due(const struct target *t, int64_t interval_ns)
{
	uint64_t h = fnv1a(FNV_BASIS, t->key, strlen(t->key));
	int64_t offset = (int64_t)(h % (uint64_t)interval_ns);
	int64_t now = ooda_now_ns();
	int64_t wait = ((offset - now % interval_ns) % interval_ns + interval_ns) % interval_ns;
	return ooda_mono_ns() + wait;
}

static struct target *target_new(struct scrape_cfg *cfg, size_t ji, const char *address, const struct scrape_group *g)
{
	const struct scrape_job *j = &cfg->jobs[ji];
	struct target *t = xcalloc(1, sizeof(*t));
	atomic_init(&t->refs, 1);
	t->job = ji;
	t->health = -1;
	t->address = xstrdup(address);
	struct buf b = BUF_INIT;
	buf_addf(&b, "%s://%s%s%s", j->scheme, address, j->path, j->query);
	t->url = buf_detach(&b, NULL);
	t->labels = xcalloc(2 + g->n_labels, sizeof(*t->labels));
	t->labels[t->n_labels++] = (struct scrape_label){ xstrdup("job"), xstrdup(j->name) };
	t->labels[t->n_labels++] = (struct scrape_label){ xstrdup("instance"), xstrdup(address) };
	for (size_t i = 0; i < g->n_labels; i++) {
		bool over = false; /* a group's job or instance label replaces the default one */
		for (size_t k = 0; k < 2; k++)
			if (!strcmp(t->labels[k].name, g->labels[i].name)) {
				free((char *)t->labels[k].value);
				t->labels[k].value = xstrdup(g->labels[i].value);
				over = true;
			}
		if (!over)
			t->labels[t->n_labels++] = (struct scrape_label){ xstrdup(g->labels[i].name), xstrdup(g->labels[i].value) };
	}
	buf_addf(&b, "%s\n%s", j->name, t->url);
	for (size_t i = 0; i < t->n_labels; i++)
		buf_addf(&b, "\n%s=%s", t->labels[i].name, t->labels[i].value);
	buf_addf(&b, "\n%lld/%lld", (long long)j->interval_ns, (long long)j->timeout_ns);
	t->key = buf_detach(&b, NULL);
	atomic_fetch_add(&cfg->refs, 1);
	t->cfg = cfg;
	t->next_mono_ns = first_due(t, j->interval_ns);
	return t;
}

/* ---- file_sd --------------------------------------------------------------- */

struct paths {
	char **v;
	size_t n;
};

/* The files matching the job's globs (at most 1000), with mtime and size: a change of any means a re-read. */
static char *sd_signature(const struct scrape_job *j, struct paths *g)
{
	struct buf sig = BUF_INIT;
	for (size_t i = 0; i < j->n_sd_files; i++) {
		glob_t one;
		if (glob(j->sd_files[i], 0, NULL, &one) == 0) {
			for (size_t k = 0; k < one.gl_pathc && g->n < 1000; k++) {
				struct stat st;
				if (stat(one.gl_pathv[k], &st))
					continue;
				buf_addf(&sig, "%s %lld.%09ld %lld\n", one.gl_pathv[k], (long long)st.st_mtim.tv_sec,
					 st.st_mtim.tv_nsec, (long long)st.st_size);
				g->v = xreallocarray(g->v, g->n + 1, sizeof(char *));
				g->v[g->n++] = xstrdup(one.gl_pathv[k]);
			}
		}
		globfree(&one);
	}
	return buf_detach(&sig, NULL);
}

static void paths_free(struct paths *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->v[i]);
	free(g->v);
}

static void sd_groups_free(struct sd_state *s)
{
	for (size_t i = 0; i < s->n_groups; i++)
		scrape_group_release(&s->groups[i]);
	free(s->groups);
	s->groups = NULL;
	s->n_groups = 0;
}

/*
 * Re-reads a job's target files when their signature changed or the
 * refresh interval passed. A file that cannot be read or parsed keeps the
 * groups it gave before (Prometheus does the same) and is logged.
 * Returns true when the groups changed. Called with mu held.
 */
static bool sd_refresh(const struct scrape_job *j, struct sd_state *s, int64_t now_mono)
{
	if (!j->n_sd_files)
		return false;
	struct paths paths = { 0 };
	char *sig = sd_signature(j, &paths);
	bool due = now_mono >= s->next_read_mono_ns;
	if (!due && s->signature && !strcmp(sig, s->signature)) {
		free(sig);
		paths_free(&paths);
		return false;
	}
	free(s->signature);
	s->signature = sig;
	s->next_read_mono_ns = now_mono + j->sd_refresh_ns;
	struct scrape_group *groups = NULL;
	size_t n = 0, total = 0;
	bool ok = true;
	for (size_t i = 0; ok && i < paths.n; i++) {
		const char *fn = paths.v[i];
		FILE *f = fopen(fn, "rb");
		struct buf text = BUF_INIT, err = BUF_INIT;
		if (!f) {
			log_warn("scrape job %s: cannot read target file %s: %s", j->name, fn, strerror(errno));
			ok = false;
			continue;
		}
		char chunk[8192];
		size_t got;
		while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0 && text.len <= SCRAPE_MAX_SD_FILE)
			buf_add(&text, chunk, got);
		fclose(f);
		size_t fl = strlen(fn);
		bool yaml = fl > 4 && (!strcmp(fn + fl - 4, ".yml") || !strcmp(fn + fl - 5, ".yaml"));
		void *arr = NULL;
		int rc = scrape_sd_parse(text.len ? text.data : "", text.len, yaml, &arr, &err);
		if (!rc)
			rc = scrape_groups_from_json(arr, &groups, &n, &err);
		json_decref(arr);
		if (rc) {
			log_warn("scrape job %s: target file %s refused, keeping its previous targets: %s", j->name, fn,
				 err.data ? err.data : "");
			ok = false;
		}
		buf_release(&text);
		buf_release(&err);
	}
	paths_free(&paths);
	for (size_t k = 0; k < n; k++)
		total += groups[k].n_targets;
	if (!ok || total > SCRAPE_MAX_TARGETS) {
		if (ok)
			log_warn("scrape job %s: target files name more than %d targets; keeping the previous ones", j->name,
				 SCRAPE_MAX_TARGETS);
		for (size_t k = 0; k < n; k++)
			scrape_group_release(&groups[k]);
		free(groups);
		return false;
	}
	sd_groups_free(s);
	s->groups = groups;
	s->n_groups = n;
	return true;
}

/* ---- the target list --------------------------------------------------------- */

/*
 * Rebuilds p->targets from p->cfg and the file_sd groups: a target whose
 * key is unchanged is kept with its state, new ones are made, the others
 * dropped. Called with mu held.
 */
static void targets_rebuild(struct scrape_pool *p)
{
	struct target **next = NULL;
	size_t n = 0;
	for (size_t ji = 0; ji < p->cfg->n_jobs; ji++) {
		const struct scrape_job *j = &p->cfg->jobs[ji];
		size_t per_job = 0;
		for (int pass = 0; pass < 2; pass++) {
			const struct scrape_group *gs = pass ? p->sd[ji].groups : j->groups;
			size_t ng = pass ? p->sd[ji].n_groups : j->n_groups;
			for (size_t gi = 0; gi < ng; gi++)
				for (size_t ti = 0; ti < gs[gi].n_targets && per_job < SCRAPE_MAX_TARGETS; ti++, per_job++) {
					struct target *t = target_new(p->cfg, ji, gs[gi].targets[ti], &gs[gi]);
					bool dup = false;
					for (size_t k = 0; k < n && !dup; k++)
						dup = !strcmp(next[k]->key, t->key);
					if (dup) {
						target_unref(t);
						continue;
					}
					for (size_t k = 0; k < p->n_targets; k++) {
						struct target *old = p->targets[k];
						if (old && !strcmp(old->key, t->key)) {
							target_unref(t);
							t = old;
							p->targets[k] = NULL;
							if (t->cfg != p->cfg) {
								scrape_cfg_unref(t->cfg);
								atomic_fetch_add(&p->cfg->refs, 1);
								t->cfg = p->cfg;
							}
							t->job = ji;
							break;
						}
					}
					next = xreallocarray(next, n + 1, sizeof(*next));
					next[n++] = t;
				}
		}
	}
	for (size_t k = 0; k < p->n_targets; k++) {
		struct target *t = p->targets[k];
		if (!t)
			continue;
		t->dropped = true;
		/* idle with series out there: a scrape thread writes their staleness markers (scrape_farewell);
		 * one in flight does it when it ends */
		if (!t->in_flight && t->health >= 0 && p->w) {
			t->in_flight = true;
			if (!worker_push(p->w, t))
				continue; /* the worker owns our reference now */
			t->in_flight = false;
		}
		target_unref(t);
	}
	free(p->targets);
	p->targets = next;
	p->n_targets = n;
}

/* ---- one scrape ------------------------------------------------------------ */

struct fetch {
	struct buf body;
	int64_t limit;
	bool over;
};

static size_t body_cb(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct fetch *f = ctx;
	size_t n = size * nmemb;
	if ((int64_t)(f->body.len + n) > f->limit) {
		f->over = true;
		return 0;
	}
	buf_add(&f->body, data, n);
	return n;
}

/* A secret given inline or in a file (re-read each scrape, as Prometheus does; trailing newlines dropped). */
static char *secret_read(const char *inline_value, const char *file, struct buf *err)
{
	if (inline_value)
		return xstrdup(inline_value);
	if (!file)
		return NULL;
	FILE *f = fopen(file, "rb");
	if (!f) {
		buf_addf(err, "cannot read the credentials file %s: %s", file, strerror(errno));
		return NULL;
	}
	char tmp[4097];
	size_t n = fread(tmp, 1, sizeof(tmp) - 1, f);
	fclose(f);
	while (n && (tmp[n - 1] == '\n' || tmp[n - 1] == '\r'))
		n--;
	tmp[n] = '\0';
	char *s = xstrdup(tmp);
	for (volatile char *z = tmp; z < tmp + sizeof(tmp); z++)
		*z = 0;
	return s;
}

/* Fetches t's URL; 0 with the body and its Content-Type, else err holds the reason. */
static int fetch(const struct scrape_job *j, const char *url, struct fetch *f, char **ctype, struct buf *err)
{
	CURL *e = curl_easy_init();
	if (!e) {
		buf_adds(err, "no memory for an HTTP client");
		return OODA_ENOMEM;
	}
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	struct buf hv = BUF_INIT;
	char *secret = NULL;
	int rc = 0;
	buf_addf(&hv, "Accept: %s", scrape_accept);
	h = curl_slist_append(h, hv.data);
	buf_reset(&hv);
	buf_addf(&hv, "X-Prometheus-Scrape-Timeout-Seconds: %g", (double)j->timeout_ns / 1e9);
	h = curl_slist_append(h, hv.data);
	if (j->auth_type) {
		secret = secret_read(j->auth_credentials, j->auth_credentials_file, err);
		if (!secret && j->auth_credentials_file) {
			rc = OODA_EIO;
			goto out;
		}
		buf_reset(&hv);
		buf_addf(&hv, "Authorization: %s %s", j->auth_type, secret ? secret : "");
		h = curl_slist_append(h, hv.data);
	} else if (j->basic_user) {
		secret = secret_read(j->basic_password, j->basic_password_file, err);
		if (!secret && j->basic_password_file) {
			rc = OODA_EIO;
			goto out;
		}
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, j->basic_user);
		curl_easy_setopt(e, CURLOPT_PASSWORD, secret ? secret : "");
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "ooda-scraper");
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(j->timeout_ns / OODA_NS_PER_MS));
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (j->insecure_skip_verify) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (j->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, j->ca_file);
	CURLcode cc = curl_easy_perform(e);
	long status = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	if (f->over) {
		buf_addf(err, "body size limit exceeded: the answer is larger than %lld bytes (body_size_limit)",
			 (long long)f->limit);
		rc = OODA_ETOOBIG;
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		buf_addf(err, "scrape timed out after %gs (scrape_timeout)", (double)j->timeout_ns / 1e9);
		rc = OODA_ETIMEOUT;
	} else if (cc != CURLE_OK) {
		buf_addf(err, "%s", *errbuf ? errbuf : curl_easy_strerror(cc));
		rc = OODA_EIO;
	} else if (status != 200) {
		buf_addf(err, "server returned HTTP status %ld", status);
		rc = OODA_EIO;
	} else {
		char *ct = NULL;
		curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct);
		*ctype = ct ? xstrdup(ct) : NULL;
	}
out:
	if (secret) {
		for (volatile char *s = secret; *s; s++)
			*s = 0;
		free(secret);
	}
	buf_release(&hv);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t point_hash(const struct metric_point *pt)
{
	uint64_t h = fnv1a(FNV_BASIS, pt->name, strlen(pt->name) + 1);
	for (uint32_t a = 0; a < pt->attrs.n; a++) {
		h = fnv1a(h, pt->attrs.v[a].key, strlen(pt->attrs.v[a].key) + 1);
		h = fnv1a(h, pt->attrs.v[a].s, pt->attrs.v[a].len);
		h = fnv1a(h, "\1", 1);
	}
	return h;
}

/* Room for one more point of b (*cap allocated, grown in its arena); NULL at the arena limit. */
static struct metric_point *point_push(struct telemetry_batch *b, size_t *cap)
{
	if (b->n_points == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct metric_point *np = arena_zalloc(b->arena, nc * sizeof(*np));
		if (!np)
			return NULL;
		if (b->n_points)
			memcpy(np, b->points, b->n_points * sizeof(*np));
		b->points = np;
		*cap = nc;
	}
	struct metric_point *pt = &b->points[b->n_points++];
	*pt = (struct metric_point){ .type = METRIC_GAUGE };
	return pt;
}

/* Adds one report series (up, scrape_duration_seconds, ...) with the target's labels. */
static void report_add(struct telemetry_batch *b, size_t *cap, const struct target *t, const char *name, double value,
		       int64_t at_ns, const struct resource *res)
{
	struct attr *as = arena_zalloc(b->arena, (t->n_labels ? t->n_labels : 1) * sizeof(*as));
	if (!as)
		return;
	uint32_t na = 0;
	for (size_t i = 0; i < t->n_labels; i++) {
		if (!*t->labels[i].value)
			continue;
		as[na].key = arena_strdup(b->arena, t->labels[i].name);
		as[na].type = ATTR_STR;
		as[na].s = arena_strdup(b->arena, t->labels[i].value);
		as[na].len = (uint32_t)strlen(t->labels[i].value);
		if (!as[na].key || !as[na].s)
			return;
		na++;
	}
	struct metric_point *pt = point_push(b, cap);
	if (pt)
		*pt = (struct metric_point){ .name = name, .type = METRIC_GAUGE, .resource = res, .value = value,
					     .time_ns = at_ns, .attrs = { as, na } };
}

/* Prometheus' staleness marker: a NaN with these bits ends a series (PromQL hides it from then on). */
#define SCRAPE_STALE_NAN_BITS UINT64_C(0x7ff0000000000002)

/*
 * Appends a staleness marker at at_ns for each series of t's previous
 * scrape that keep (sorted hashes; NULL: none) lacks, as Prometheus does
 * for a series that vanished, a failed scrape and a removed target.
 */
static void stale_add(struct telemetry_batch *b, size_t *cap, const struct target *t, const uint64_t *keep,
		      size_t n_keep, int64_t at_ns)
{
	double stale;
	uint64_t bits = SCRAPE_STALE_NAN_BITS;
	memcpy(&stale, &bits, sizeof(stale));
	for (size_t i = 0; i < t->n_prev; i++) {
		if (keep && bsearch(&t->prev_hash[i], keep, n_keep, sizeof(*keep), cmp_u64))
			continue;
		struct metric_point *pt = point_push(b, cap);
		if (!pt)
			return;
		*pt = t->prev[i]; /* the copy in t->prev_arena outlives the batch */
		pt->value = stale;
		pt->time_ns = at_ns;
		pt->n_exemplars = 0;
		pt->exemplars = NULL;
	}
}

static void prev_release(struct target *t)
{
	if (t->prev_arena) {
		arena_release(t->prev_arena);
		free(t->prev_arena);
	}
	free(t->prev_hash);
	t->prev_arena = NULL;
	t->prev = NULL;
	t->prev_hash = NULL;
	t->n_prev = 0;
}

/* Keeps copies of the first n points of b (their series: name, labels, resource) as t's previous scrape. */
static void prev_keep(struct target *t, const struct telemetry_batch *b, size_t n, const uint64_t *hash)
{
	prev_release(t);
	if (!n)
		return;
	struct arena *a = xmalloc(sizeof(*a));
	arena_init(a, 0);
	struct metric_point *v = arena_zalloc(a, n * sizeof(*v));
	const struct resource *last_src = NULL;
	struct resource *last_copy = NULL;
	for (size_t i = 0; v && i < n; i++) {
		const struct metric_point *src = &b->points[i];
		struct attr *as = arena_zalloc(a, (src->attrs.n ? src->attrs.n : 1) * sizeof(*as));
		if (!as) {
			v = NULL;
			break;
		}
		for (uint32_t k = 0; k < src->attrs.n; k++) {
			as[k] = src->attrs.v[k];
			as[k].key = arena_strdup(a, src->attrs.v[k].key);
			as[k].s = arena_strndup(a, src->attrs.v[k].s, src->attrs.v[k].len);
		}
		if (src->resource != last_src) {
			last_src = src->resource;
			last_copy = arena_zalloc(a, sizeof(*last_copy));
			if (last_copy) {
				last_copy->service = arena_strdup(a, src->resource->service);
				last_copy->host = src->resource->host ? arena_strdup(a, src->resource->host) : NULL;
			}
		}
		v[i] = (struct metric_point){ .name = arena_strdup(a, src->name), .type = METRIC_GAUGE,
					      .resource = last_copy, .attrs = { as, src->attrs.n } };
	}
	if (!v) { /* out of memory: no staleness markers for this target next time */
		arena_release(a);
		free(a);
		return;
	}
	t->prev_arena = a;
	t->prev = v;
	t->prev_hash = xmalloc(n * sizeof(*t->prev_hash));
	memcpy(t->prev_hash, hash, n * sizeof(*hash));
	t->n_prev = n;
}

struct scrape_result {
	bool up;
	int64_t dur_ns;
	size_t samples, added;
	struct buf err;
};

static void sink_append(struct scrape_pool *p, const struct target *t, const struct scrape_job *j,
			const struct telemetry_batch *b)
{
	struct buf serr = BUF_INIT;
	if (b->n_points && p->sink.append && p->sink.append(p->sink.ctx, b, &serr))
		log_warn("scrape %s (job %s): samples not stored: %s", t->url, j->name, serr.data ? serr.data : "");
	buf_release(&serr);
}

/*
 * One scrape of t; runs on a scrape thread, without p->mu. Only one
 * scrape of a target runs at a time (in_flight), so t->prev is this
 * thread's alone.
 */
static void scrape_one(struct scrape_pool *p, struct target *t, const struct scrape_job *j, struct scrape_result *r)
{
	int64_t start_ns = ooda_now_ns(), start_mono = ooda_mono_ns();
	struct fetch f = { .body = BUF_INIT, .limit = j->body_limit };
	char *ctype = NULL;
	struct arena a;
	arena_init(&a, 0);
	a.limit = SCRAPE_ARENA_LIMIT;
	struct telemetry_batch b = { .arena = &a };
	struct scrape_text_result res = { 0 };
	int rc = fetch(j, t->url, &f, &ctype, &r->err);
	if (!rc) {
		struct scrape_text_opts o = {
			.format = scrape_format_of(ctype), .now_ns = start_ns, .honor_timestamps = j->honor_timestamps,
			.honor_labels = j->honor_labels, .sample_limit = j->sample_limit, .target = t->labels,
			.n_target = t->n_labels,
		};
		rc = scrape_text_decode(f.body.len ? f.body.data : "", f.body.len, &o, &b, &res, &r->err);
		if (rc == OODA_ELIMIT && j->sample_limit && res.samples >= j->sample_limit)
			buf_adds(&r->err, " (sample_limit)");
	}
	r->dur_ns = ooda_mono_ns() - start_mono;
	r->up = rc == 0;
	size_t n_samples = r->up ? b.n_points : 0;
	if (!r->up) {
		b.n_points = 0;
		res.n_meta = 0;
	}
	r->samples = n_samples;
	/* the series of this scrape: which are new (scrape_series_added), which vanished (staleness markers) */
	uint64_t *hash = xmalloc((n_samples ? n_samples : 1) * sizeof(*hash));
	uint64_t *sorted = xmalloc((n_samples ? n_samples : 1) * sizeof(*sorted));
	for (size_t i = 0; i < n_samples; i++)
		sorted[i] = hash[i] = point_hash(&b.points[i]);
	qsort(sorted, n_samples, sizeof(*sorted), cmp_u64);
	size_t nh = 0;
	for (size_t i = 0; i < n_samples; i++)
		if (!nh || sorted[nh - 1] != sorted[i])
			sorted[nh++] = sorted[i];
	uint64_t *prev_sorted = xmalloc((t->n_prev ? t->n_prev : 1) * sizeof(*prev_sorted));
	memcpy(prev_sorted, t->prev_hash ? t->prev_hash : prev_sorted, t->n_prev * sizeof(*prev_sorted));
	qsort(prev_sorted, t->n_prev, sizeof(*prev_sorted), cmp_u64);
	size_t added = 0;
	for (size_t i = 0; i < nh; i++)
		if (!bsearch(&sorted[i], prev_sorted, t->n_prev, sizeof(*prev_sorted), cmp_u64))
			added++;
	free(prev_sorted);
	r->added = added;
	size_t cap = b.n_points; /* the decoder's array may have room; grow from exactly n_points */
	stale_add(&b, &cap, t, r->up ? sorted : NULL, nh, start_ns);
	/* the report series, as Prometheus adds them to every scrape */
	struct resource *res_r = arena_zalloc(&a, sizeof(*res_r));
	if (res_r) {
		res_r->service = t->labels[0].value;
		res_r->host = t->labels[1].value;
		const struct {
			const char *name;
			double v;
		} rep[] = {
			{ "up", r->up ? 1 : 0 },
			{ "scrape_duration_seconds", (double)r->dur_ns / 1e9 },
			{ "scrape_samples_scraped", (double)n_samples },
			{ "scrape_samples_post_metric_relabeling", (double)n_samples },
			{ "scrape_series_added", (double)added },
		};
		for (size_t i = 0; i < sizeof(rep) / sizeof(rep[0]); i++)
			report_add(&b, &cap, t, rep[i].name, rep[i].v, start_ns, res_r);
	}
	sink_append(p, t, j, &b);
	if (res.n_meta && p->sink.meta)
		p->sink.meta(p->sink.ctx, res.meta, res.n_meta);
	prev_keep(t, &b, n_samples, hash);
	free(hash);
	free(sorted);
	free(ctype);
	buf_release(&f.body);
	arena_release(&a);
}

/* A removed target's last word: staleness markers for every series of its last scrape, and for its report series. */
static void scrape_farewell(struct scrape_pool *p, struct target *t, const struct scrape_job *j)
{
	struct arena a;
	arena_init(&a, 0);
	a.limit = SCRAPE_ARENA_LIMIT;
	struct telemetry_batch b = { .arena = &a };
	size_t cap = 0;
	int64_t now = ooda_now_ns();
	stale_add(&b, &cap, t, NULL, 0, now);
	struct resource *res_r = arena_zalloc(&a, sizeof(*res_r));
	static const char *const report[] = { "up", "scrape_duration_seconds", "scrape_samples_scraped",
					      "scrape_samples_post_metric_relabeling", "scrape_series_added" };
	double stale;
	uint64_t bits = SCRAPE_STALE_NAN_BITS;
	memcpy(&stale, &bits, sizeof(stale));
	if (res_r && t->health >= 0) {
		res_r->service = t->labels[0].value;
		res_r->host = t->labels[1].value;
		for (size_t i = 0; i < sizeof(report) / sizeof(report[0]); i++)
			report_add(&b, &cap, t, report[i], stale, now, res_r);
	}
	sink_append(p, t, j, &b);
	prev_release(t);
	arena_release(&a);
}

static void scrape_item(void *ctx, void *item)
{
	struct scrape_pool *p = ctx;
	struct target *t = item;
	if (!t)
		return;
	pthread_mutex_lock(&p->mu);
	struct scrape_cfg *cfg = t->cfg;
	size_t ji = t->job; /* cfg and index together: a reload may renumber the jobs */
	bool dropped = t->dropped;
	atomic_fetch_add(&cfg->refs, 1);
	pthread_mutex_unlock(&p->mu);
	struct scrape_result r = { .err = BUF_INIT };
	if (!dropped)
		scrape_one(p, t, &cfg->jobs[ji], &r);
	pthread_mutex_lock(&p->mu);
	t->in_flight = false;
	dropped = t->dropped;
	if (!dropped) {
		t->health = r.up;
		t->last_ns = ooda_now_ns() - r.dur_ns;
		t->last_dur_ns = r.dur_ns;
		free(t->last_error);
		t->last_error = NULL;
		if (!r.up) {
			if (r.err.len > SCRAPE_ERROR_MAX)
				buf_setlen(&r.err, SCRAPE_ERROR_MAX);
			t->last_error = xstrdup(r.err.len ? r.err.data : "scrape failed");
		}
	}
	pthread_mutex_unlock(&p->mu);
	if (dropped) /* removed while scraping, or handed over by targets_rebuild to say goodbye */
		scrape_farewell(p, t, &cfg->jobs[ji]);
	else if (!r.up)
		log_debug("scrape %s (job %s) failed: %s", t->url, cfg->jobs[ji].name, r.err.len ? r.err.data : "");
	buf_release(&r.err);
	scrape_cfg_unref(cfg);
	target_unref(t);
}

static void item_free(void *item)
{
	struct target *t = item;
	t->in_flight = false;
	target_unref(t);
}

/* ---- the scheduler ---------------------------------------------------------- */

static void *scheduler_main(void *arg)
{
	struct scrape_pool *p = arg;
	pthread_mutex_lock(&p->mu);
	int64_t next_sd = 0;
	while (!p->stop) {
		int64_t now = ooda_mono_ns();
		if (now >= next_sd) { /* target files: a cheap stat each second, a re-read on change */
			bool changed = false;
			for (size_t ji = 0; ji < p->cfg->n_jobs; ji++)
				changed |= sd_refresh(&p->cfg->jobs[ji], &p->sd[ji], now);
			if (changed)
				targets_rebuild(p);
			next_sd = now + OODA_NS_PER_SEC;
		}
		int64_t wake = next_sd;
		bool leads = !p->sink.leader_only || lead_term() > 0; /* scrape_sink.leader_only */
		for (size_t i = 0; i < p->n_targets; i++) {
			struct target *t = p->targets[i];
			int64_t iv = t->cfg->jobs[t->job].interval_ns;
			if (t->next_mono_ns <= now) {
				if (!t->in_flight && leads) {
					t->in_flight = true;
					atomic_fetch_add(&t->refs, 1);
					if (worker_push(p->w, t)) {
						t->in_flight = false;
						atomic_fetch_sub(&t->refs, 1);
					}
				}
				/* a scrape still running at its next turn skips that turn */
				while (t->next_mono_ns <= now)
					t->next_mono_ns += iv;
			}
			if (t->next_mono_ns < wake)
				wake = t->next_mono_ns;
		}
		worker_cond_wait_until(&p->cond, &p->mu, wake);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* ---- the pool ------------------------------------------------------------- */

int scrape_pool_create(const struct scrape_sink *sink, struct scrape_pool **out, struct buf *err)
{
	(void)err;
	curl_global_init(CURL_GLOBAL_DEFAULT); /* reference-counted; before any scrape thread runs */
	struct scrape_pool *p = xcalloc(1, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	worker_cond_init(&p->cond);
	p->sink = *sink;
	int rc = scrape_cfg_load(NULL, NULL, NULL, &p->cfg, err);
	if (rc) { /* cannot happen for an empty section; kept whole for the contract */
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->mu);
		free(p);
		curl_global_cleanup();
		return rc;
	}
	p->sd = xcalloc(1, sizeof(*p->sd));
	*out = p;
	return 0;
}

static void sd_free_all(struct sd_state *sd, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sd_groups_free(&sd[i]);
		free(sd[i].signature);
	}
	free(sd);
}

int scrape_pool_configure(struct scrape_pool *p, const char *global_json, const char *section_json,
			  const char *base_dir, bool apply, struct buf *changes, struct buf *err)
{
	struct scrape_cfg *c;
	int rc = scrape_cfg_load(global_json, section_json, base_dir, &c, err);
	if (rc || !apply) {
		scrape_cfg_unref(c);
		return rc;
	}
	pthread_mutex_lock(&p->mu);
	size_t old_jobs = p->cfg->n_jobs, old_targets = p->n_targets;
	sd_free_all(p->sd, old_jobs);
	p->sd = xcalloc(c->n_jobs ? c->n_jobs : 1, sizeof(*p->sd));
	int64_t now = ooda_mono_ns();
	for (size_t ji = 0; ji < c->n_jobs; ji++)
		sd_refresh(&c->jobs[ji], &p->sd[ji], now);
	scrape_cfg_unref(p->cfg);
	p->cfg = c;
	targets_rebuild(p);
	if (changes && (old_jobs || c->n_jobs))
		buf_addf(changes, "jobs %zu → %zu, targets %zu → %zu", old_jobs, c->n_jobs, old_targets, p->n_targets);
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int scrape_pool_start(struct scrape_pool *p, struct buf *err)
{
	struct worker_opts wo = { .capacity = SCRAPE_QUEUE, .threads = SCRAPE_THREADS, .item_free = item_free };
	int rc = worker_create("scrape", scrape_item, p, &wo, &p->w, err);
	if (rc)
		return rc;
	if (pthread_create(&p->sched, NULL, scheduler_main, p)) {
		buf_adds(err, "cannot start the scrape scheduler thread");
		return OODA_EINTERNAL;
	}
	p->started = true;
	return 0;
}

void scrape_pool_destroy(struct scrape_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
	if (p->started)
		pthread_join(p->sched, NULL);
	worker_destroy(p->w);
	for (size_t i = 0; i < p->n_targets; i++)
		target_unref(p->targets[i]);
	free(p->targets);
	sd_free_all(p->sd, p->cfg ? p->cfg->n_jobs : 0);
	scrape_cfg_unref(p->cfg);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
	free(p);
	curl_global_cleanup();
}

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct scrape_label *)a)->name, ((const struct scrape_label *)b)->name);
}

static json_t *labels_obj(const struct scrape_label *v, size_t n)
{
	struct scrape_label *s = xcalloc(n ? n : 1, sizeof(*s));
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_label);
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++)
		if (*s[i].value)
			json_object_set_new(o, s[i].name, json_string(s[i].value));
	free(s);
	return o;
}

void scrape_pool_targets_json(struct scrape_pool *p, const char *state, struct buf *out)
{
	bool active = !state || !*state || !strcmp(state, "active") || !strcmp(state, "any");
	json_t *list = json_array();
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; active && i < p->n_targets; i++) {
		const struct target *t = p->targets[i];
		const struct scrape_job *j = &t->cfg->jobs[t->job];
		char at[40], iv[32], to[32];
		json_t *disc = labels_obj(t->labels, t->n_labels);
		json_object_del(disc, "instance");
		json_object_set_new(disc, "__address__", json_string(t->address));
		json_object_set_new(disc, "__metrics_path__", json_string(j->path));
		json_object_set_new(disc, "__scheme__", json_string(j->scheme));
		json_object_set_new(disc, "__scrape_interval__", json_string(ooda_duration_format(j->interval_ns, iv, sizeof(iv))));
		json_object_set_new(disc, "__scrape_timeout__", json_string(ooda_duration_format(j->timeout_ns, to, sizeof(to))));
		json_t *e = json_pack("{so, so, ss, ss, ss, ss, ss, sf, ss, ss, ss}", "discoveredLabels", disc, "labels",
				      labels_obj(t->labels, t->n_labels), "scrapePool", j->name, "scrapeUrl", t->url,
				      "globalUrl", t->url, "lastError", t->last_error ? t->last_error : "", "lastScrape",
				      t->last_ns ? ooda_time_format(t->last_ns, at, sizeof(at)) : "0001-01-01T00:00:00Z",
				      "lastScrapeDuration", (double)t->last_dur_ns / 1e9, "health",
				      t->health < 0 ? "unknown" : t->health ? "up" : "down", "scrapeInterval", iv,
				      "scrapeTimeout", to);
		if (e)
			json_array_append_new(list, e);
	}
	pthread_mutex_unlock(&p->mu);
	json_t *doc = json_pack("{ss, s{so, s[]}}", "status", "success", "data", "activeTargets", list, "droppedTargets");
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	buf_adds(out, text ? text : "{\"status\":\"success\",\"data\":{\"activeTargets\":[],\"droppedTargets\":[]}}");
	free(text);
	json_decref(doc);
}
