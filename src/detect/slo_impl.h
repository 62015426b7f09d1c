/*
 * The insides of the SLO engine, shared by slo.c (the ring, evaluation, the
 * tick, reloads and the JSON views), slo_config.c (reading and checking the
 * `slos:` section) and slo_store.c (the worker: PromQL SLIs, durable minutes
 * and reading them back at start). Only slo*.c include this; everyone else
 * goes through slo.h.
 */
#ifndef OODA_DETECT_SLO_IMPL_H
#define OODA_DETECT_SLO_IMPL_H

#include "detect/slo.h"

#include <pthread.h>
#include <stdatomic.h>

#include "core/arena.h"
#include "core/time.h"

#define MIN_NS (60 * OODA_NS_PER_SEC)
#define SLO_LIVE_HORIZON 50      /* minutes re-read from live RED (its ring holds 60) */
#define SLO_PERSIST_AGE 2        /* a minute is written once it is this many minutes old */
#define SLO_HZ 64                /* persisted-count memory, in minutes, >= horizon */
#define SLO_PROMQL_DELAY_NS (30 * OODA_NS_PER_SEC) /* after a minute closes, before its PromQL */
#define SLO_PROMQL_BACKFILL 1440 /* minutes evaluated after a restart, at most */
#define SLO_SCRATCH_SLOTS 4096   /* live slots read per pull */
#define SLO_FULL_PULL_NS (5 * OODA_NS_PER_SEC) /* how often the whole horizon is re-read */
#define SLO_MAX_WINDOWS 32
#define BURN_EPS 1e-9            /* relative slack so 14.4x compares as 14.4x */

static const int std_windows[SLO_N_WINDOWS] = { 5, 30, 60, 120, 360, 1440, 4320 };

enum sli_kind { SLI_RATIO, SLI_LATENCY, SLI_PROMQL };
static const char *const sli_names[] = { "ratio", "latency", "promql" };

struct slo_rule {
	int long_min, short_min;
	double burn;
	int long_w, short_w; /* indexes into slo.win */
};

struct hz_entry {
	uint32_t tag; /* minute + 1; 0 = unused */
	double good, total; /* what the store holds for that minute */
};

struct slo {
	/* definition (immutable after create) */
	char *name, *service, *operation;
	char *description;    /* for people: shown by the API, NULL if none */
	char *def;            /* the section entry as canonical JSON: what a reload compares */
	double objective;     /* percent, e.g. 99.9 */
	double allowed;       /* 1 - objective/100 */
	int window_min;
	bool timeslices;
	int slice_min;        /* 1 for occurrences */
	double slice_target;
	enum sli_kind kind;
	double threshold_s;   /* latency */
	char *q_good, *q_bad, *q_total;
	struct promql_expr *e_good, *e_bad, *e_total;
	struct arena expr_arena;
	double min_events;
	struct slo_rule rules[2][SLO_MAX_RULES]; /* [0] page, [1] ticket */
	int n_rules[2];
	int win[SLO_MAX_WINDOWS]; /* distinct windows in minutes, ascending */
	int n_win;
	int std_w[SLO_N_WINDOWS], slo_w;

	/* state, under set->lock */
	double *good, *total; /* SLO_RING_MINUTES each */
	uint32_t *tag;        /* minute + 1 held by each ring place; 0 = empty */
	int64_t newest;       /* newest minute written; -1 when none */
	struct hz_entry hz[SLO_HZ];
	int64_t promql_next;  /* next minute to evaluate; -1 until start */
	int64_t last_full_pull_ns;
};

/*
 * Locks: `defs` guards which SLOs there are (slos, n, tick_status): the
 * tick, the worker's steps and the API hold it for reading for as long as
 * they look at an SLO, and only slo_set_apply() takes it for writing, to
 * swap in a new set at once, so no reader ever sees half of a reload.
 * `lock` (always taken inside `defs`) guards the counts of the SLOs.
 */
struct slo_set {
	pthread_rwlock_t defs;
	struct slo *slos;
	int n;
	struct slo_options opt;
	pthread_mutex_t lock;
	pthread_mutex_t apply_mu; /* one reload at a time */
	atomic_bool applying;     /* a reload waits for defs: the worker ends its step early */
	struct worker *worker;    /* core/worker: a step every second */
	bool worker_running;
	bool stop;
	json_t *orphans; /* [{name, service}] of removed SLOs, reported inactive by the next tick; under lock */
	/* tick scratch (the tick is single-threaded) */
	double *s_req, *s_err, *s_fast;
	struct slo_status *tick_status;
};

/* The clock of set: opt.clock, or the wall clock. */
static inline int64_t set_now(const struct slo_set *set)
{
	return set->opt.clock ? set->opt.clock(set->opt.clock_ctx) : ooda_now_ns();
}

/* The counts of minute m of s, or zeros when its ring place holds another minute. */
static inline void ring_get(const struct slo *s, int64_t m, double *good, double *total)
{
	size_t pos = (size_t)(m % SLO_RING_MINUTES);
	if (m >= 0 && s->tag[pos] == (uint32_t)(m + 1)) {
		*good = s->good[pos];
		*total = s->total[pos];
	} else {
		*good = *total = 0;
	}
}

/* Sets (add = false) or adds to the counts of minute m; false if it is too old to hold. */
static inline bool ring_put(struct slo *s, int64_t m, double good, double total, bool add)
{
	if (m < 0 || m >= UINT32_MAX - 1)
		return false;
	if (s->newest >= 0 && m <= s->newest - SLO_RING_MINUTES)
		return false;
	size_t pos = (size_t)(m % SLO_RING_MINUTES);
	if (s->tag[pos] != (uint32_t)(m + 1)) {
		s->tag[pos] = (uint32_t)(m + 1);
		s->good[pos] = s->total[pos] = 0;
	}
	if (add) {
		s->good[pos] += good;
		s->total[pos] += total;
	} else {
		s->good[pos] = good;
		s->total[pos] = total;
	}
	if (m > s->newest)
		s->newest = m;
	return true;
}

/* ---- slo_config.c ---------------------------------------------------- */

/*
 * Parses the `slos:` section (JSON text, NULL or null for none) into a new
 * array of *n_out SLOs the caller owns (slo_release() each, then free());
 * with alloc_rings each gets its minute ring. Returns OODA_EINVAL with the
 * key path and the reason in err for a bad section, *out NULL then.
 */
int slo_parse_all(const char *text, struct slo **out, int *n_out, bool alloc_rings, struct buf *err);
/* Gives s an empty 30-day minute ring. */
void slo_ring_alloc(struct slo *s);
/* Frees what s holds (its definition, expressions and ring), not s itself. */
void slo_release(struct slo *s);

/* ---- slo_store.c ----------------------------------------------------- */

/*
 * Fills the rings of slos[0..n) (but those marked in skip) from the minute
 * points stored over the last 30 days. The caller makes sure nobody else
 * touches those rings meanwhile. Logs the outcome; returns nothing because
 * a budget without history is still a budget.
 */
void slo_rebuild(const struct slo_options *opt, struct slo *slos, int n, const bool *skip, int64_t now);

#endif
