/*
 * Benchmark of the log template miner (src/detect/patterns) on the Loghub
 * 2k samples: for each dataset it reads <name>_2k.log_structured.csv, feeds
 * the Content column to a fresh miner with the default configuration, and
 * scores grouping accuracy against the EventId column (a line is right when
 * the set of lines sharing its pattern equals the set sharing its EventId).
 * Throughput is thread CPU time: each dataset is replayed into one miner
 * until it has run 0.3 s, and the concatenation of all datasets until 1 s.
 * Then leave-one-system-out cross-validation of the tunable defaults
 * (similarity, distinct_values): for each dataset the configuration with
 * the best mean grouping accuracy on the other seven is chosen from a small
 * grid and scored on the one left out.
 * Last, the snapshot of a busy miner (all datasets into one, a line every
 * 100 ms): its size and the CPU time of patterns_save and patterns_load.
 * Usage: bench_loghub DATA_DIR [--dump NAME] (--dump lists wrong groups).
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "core/buf.h"
#include "detect/patterns.h"

static const char *const datasets[] = { "HDFS", "Spark", "Zookeeper", "BGL", "HPC", "Thunderbird", "Mac", "OpenStack" };
#define N_SETS (sizeof(datasets) / sizeof(datasets[0]))

struct record {
	char *content;
	size_t len;
	char *event;
};

struct set {
	struct record *r;
	size_t n, cap;
};

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b = BUF_INIT;
	char chunk[65536];
	size_t got;
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, got);
	fclose(f);
	return buf_detach(&b, len);
}

/*
 * One RFC 4180 field starting at *pos: quoted fields may hold commas,
 * newlines and doubled quotes. Appends the value to out; returns the
 * character that ended it (',' '\n' or 0 at end of input).
 */
static int csv_field(const char *s, size_t n, size_t *pos, struct buf *out)
{
	size_t i = *pos;
	buf_reset(out);
	if (i < n && s[i] == '"') {
		i++;
		while (i < n) {
			if (s[i] == '"') {
				if (i + 1 < n && s[i + 1] == '"') {
					buf_addch(out, '"');
					i += 2;
					continue;
				}
				i++;
				break;
			}
			buf_addch(out, s[i++]);
		}
	}
	while (i < n && s[i] != ',' && s[i] != '\n') {
		if (s[i] != '\r')
			buf_addch(out, s[i]);
		i++;
	}
	int end = i < n ? s[i] : 0;
	*pos = i < n ? i + 1 : n;
	return end;
}

static int load(const char *dir, const char *name, struct set *set)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s/%s_2k.log_structured.csv", dir, name, name);
	size_t n;
	char *s = slurp(path, &n);
	if (!s) {
		fprintf(stderr, "cannot read %s\n", path);
		return -1;
	}
	struct buf f = BUF_INIT;
	size_t pos = 0;
	int col = 0, c_content = -1, c_event = -1, end;
	do {
		end = csv_field(s, n, &pos, &f);
		if (!strcmp(f.data, "Content"))
			c_content = col;
		if (!strcmp(f.data, "EventId"))
			c_event = col;
		col++;
	} while (end == ',');
	if (c_content < 0 || c_event < 0) {
		fprintf(stderr, "%s: no Content or EventId column\n", path);
		free(s);
		return -1;
	}
	while (pos < n) {
		struct record r = { 0 };
		col = 0;
		do {
			end = csv_field(s, n, &pos, &f);
			if (col == c_content) {
				/* one line per record: a newline inside a field becomes a space */
				for (size_t i = 0; i < f.len; i++)
					if (f.data[i] == '\n')
						f.data[i] = ' ';
				r.content = strdup(f.data);
				r.len = f.len;
			} else if (col == c_event) {
				r.event = strdup(f.data);
			}
			col++;
		} while (end == ',');
		if (!r.content || !r.event) {
			free(r.content);
			free(r.event);
			continue;
		}
		if (set->n == set->cap) {
			set->cap = set->cap ? set->cap * 2 : 1024;
			set->r = realloc(set->r, set->cap * sizeof(*set->r));
		}
		set->r[set->n++] = r;
	}
	buf_release(&f);
	free(s);
	return 0;
}

/* Dense labels 0..k-1 for n keys, by first appearance (n is small). */
static void label_u64(const uint64_t *keys, size_t n, int *lab)
{
	int k = 0;
	for (size_t i = 0; i < n; i++) {
		lab[i] = -1;
		for (size_t j = 0; j < i; j++)
			if (keys[j] == keys[i]) {
				lab[i] = lab[j];
				break;
			}
		if (lab[i] < 0)
			lab[i] = k++;
	}
}

static void label_str(struct record *r, size_t n, int *lab)
{
	int k = 0;
	for (size_t i = 0; i < n; i++) {
		lab[i] = -1;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(r[j].event, r[i].event)) {
				lab[i] = lab[j];
				break;
			}
		if (lab[i] < 0)
			lab[i] = k++;
	}
}

/* Grouping accuracy of predicted labels p against true labels t. */
static double grouping_accuracy(const int *p, const int *t, size_t n, bool *right)
{
	size_t ok = 0;
	for (size_t i = 0; i < n; i++) {
		bool same = true;
		for (size_t j = 0; j < n && same; j++)
			same = (p[j] == p[i]) == (t[j] == t[i]);
		right[i] = same;
		ok += same;
	}
	return n ? (double)ok / n : 1;
}

/* Grouping accuracy of a fresh miner with configuration c on set s; ids[] gets each line's resolved id. */
static double score_set(const struct patterns_config *c, struct set *s, const int *tl, uint64_t *ids, bool *right,
			size_t *n_patterns, struct patterns **keep)
{
	struct patterns *pt;
	if (patterns_create(c, &pt, NULL))
		return -1;
	int *pl = malloc(s->n * sizeof(int));
	for (size_t i = 0; i < s->n; i++)
		ids[i] = patterns_add(pt, s->r[i].content, s->r[i].len, (int64_t)i, NULL);
	/* lines count in the pattern their pattern was merged into */
	for (size_t i = 0; i < s->n; i++)
		ids[i] = patterns_resolve(pt, ids[i]);
	label_u64(ids, s->n, pl);
	double ga = grouping_accuracy(pl, tl, s->n, right);
	*n_patterns = patterns_count(pt);
	free(pl);
	if (keep)
		*keep = pt;
	else
		patterns_destroy(pt);
	return ga;
}

/* The grid the cross-validation chooses from; the first entry is the default. */
static const double grid_similarity[] = { 1.0, 0.9, 0.8, 0.7, 0.6 };
static const uint32_t grid_distinct[] = { 5, 2, 3, 4, 6, 7, 8 };
#define N_SIM (sizeof(grid_similarity) / sizeof(grid_similarity[0]))
#define N_DIST (sizeof(grid_distinct) / sizeof(grid_distinct[0]))

/* Leave-one-system-out: tune on seven datasets, score the eighth, for each. */
static void cross_validate(struct set *sets, int *const *tl)
{
	static double ga[N_SIM * N_DIST][N_SETS];
	for (size_t g = 0; g < N_SIM * N_DIST; g++) {
		struct patterns_config c = { .similarity = grid_similarity[g / N_DIST],
					     .distinct_values = grid_distinct[g % N_DIST] };
		for (size_t d = 0; d < N_SETS; d++) {
			uint64_t *ids = malloc(sets[d].n * sizeof(*ids));
			bool *right = malloc(sets[d].n);
			size_t np;
			ga[g][d] = score_set(&c, &sets[d], tl[d], ids, right, &np, NULL);
			free(ids);
			free(right);
		}
	}
	printf("\nleave-one-system-out (tuned on the other seven from %zu configurations)\n", N_SIM * N_DIST);
	printf("%-12s %10s %8s %10s %8s\n", "held out", "similarity", "distinct", "train GA", "GA");
	double sum = 0;
	for (size_t d = 0; d < N_SETS; d++) {
		size_t best = 0;
		double best_train = -1;
		for (size_t g = 0; g < N_SIM * N_DIST; g++) {
			double t = 0;
			for (size_t o = 0; o < N_SETS; o++)
				t += o == d ? 0 : ga[g][o];
			t /= N_SETS - 1;
			if (t > best_train + 1e-12) {
				best_train = t;
				best = g;
			}
		}
		printf("%-12s %10.2f %8u %10.4f %8.4f\n", datasets[d], grid_similarity[best / N_DIST],
		       grid_distinct[best % N_DIST], best_train, ga[best][d]);
		sum += ga[best][d];
	}
	printf("%-12s %10s %8s %10s %8.4f\n\n", "mean", "", "", "", sum / N_SETS);
}

static double throughput(struct set *const *sets, size_t n_sets, double min_secs)
{
	struct patterns *pt;
	if (patterns_create(NULL, &pt, NULL))
		return 0;
	uint64_t lines = 0, sink = 0;
	double t0 = cpu_now(), t;
	int64_t clock = 0;
	do {
		for (size_t s = 0; s < n_sets; s++)
			for (size_t i = 0; i < sets[s]->n; i++)
				sink += patterns_add(pt, sets[s]->r[i].content, sets[s]->r[i].len, clock++, NULL);
		lines += (uint64_t)clock - lines;
		t = cpu_now() - t0;
	} while (t < min_secs);
	patterns_destroy(pt);
	if (sink == 42)
		putchar(' ');
	return (double)lines / t;
}

/* Size of a busy miner's snapshot and the thread CPU time to save and to load it. */
static int snapshot_bench(struct set *const *sets, size_t n_sets)
{
	struct patterns *pt;
	if (patterns_create(NULL, &pt, NULL))
		return 1;
	int64_t clock = INT64_C(1800000000000000000);
	size_t lines = 0;
	for (size_t s = 0; s < n_sets; s++)
		for (size_t i = 0; i < sets[s]->n; i++, lines++, clock += 100000000)
			patterns_add(pt, sets[s]->r[i].content, sets[s]->r[i].len, clock, NULL);
	struct buf snap = BUF_INIT;
	int reps = 0;
	double t0 = cpu_now(), save_s;
	do {
		buf_reset(&snap);
		patterns_save(pt, &snap);
		reps++;
	} while ((save_s = cpu_now() - t0) < 0.5);
	save_s /= reps;
	double load_s = 0;
	int loads = 0;
	while (load_s < 0.5) {
		struct patterns *q;
		double a = cpu_now();
		if (patterns_load(NULL, snap.data, snap.len, &q, NULL))
			return 1;
		load_s += cpu_now() - a;
		loads++;
		patterns_destroy(q);
	}
	load_s /= loads;
	printf("snapshot of one miner fed all %zu lines: %zu patterns, %zu bytes (%.0f per pattern), "
	       "save %.3f ms, load %.3f ms\n",
	       lines, patterns_count(pt), snap.len, (double)snap.len / (double)patterns_count(pt), save_s * 1e3,
	       load_s * 1e3);
	buf_release(&snap);
	patterns_destroy(pt);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "../shared/data/loghub"; /* the data beside the checkout */
	const char *dump = argc > 3 && !strcmp(argv[2], "--dump") ? argv[3] : NULL;
	static struct set sets[N_SETS];
	struct set *all[N_SETS];
	for (size_t d = 0; d < N_SETS; d++) {
		if (load(dir, datasets[d], &sets[d]))
			return 1;
		all[d] = &sets[d];
	}
	printf("%-12s %7s %8s %12s %10s\n", "dataset", "lines", "GA", "lines/s", "patterns");
	double sum = 0;
	size_t total = 0;
	static int *true_labels[N_SETS];
	for (size_t d = 0; d < N_SETS; d++) {
		struct set *s = &sets[d];
		true_labels[d] = malloc(s->n * sizeof(int));
		label_str(s->r, s->n, true_labels[d]);
		struct patterns *pt = NULL;
		uint64_t *ids = malloc(s->n * sizeof(*ids));
		bool *right = malloc(s->n);
		size_t np = 0;
		double ga = score_set(NULL, s, true_labels[d], ids, right, &np, &pt);
		double lps = throughput(&all[d], 1, 0.3);
		printf("%-12s %7zu %8.4f %12.0f %10zu\n", datasets[d], s->n, ga, lps, np);
		sum += ga;
		total += s->n;
		if (dump && !strcmp(dump, datasets[d])) {
			for (size_t i = 0; i < s->n; i++) {
				if (right[i])
					continue;
				printf("  %s\t%016llx\t%s\t%s\n", s->r[i].event, (unsigned long long)ids[i],
				       patterns_template(pt, ids[i]), s->r[i].content);
			}
		}
		patterns_destroy(pt);
		free(ids);
		free(right);
	}
	double lps = throughput(all, N_SETS, 1.0);
	printf("%-12s %7zu %8.4f %12.0f\n", "all", total, sum / N_SETS, lps);
	if (!dump)
		cross_validate(sets, true_labels);
	return snapshot_bench(all, N_SETS);
}
