/*
 * Driver of the NAB bench: runs the anomaly engine, with its default
 * configuration, over every corpus file named on the command line through
 * the offline door (anomaly_analyze_csv), writing one result CSV per file
 * for score.py, then measures the engine alone: all files' points parsed
 * into memory first, then anomaly_update() over them on one thread, timed
 * with the thread's CPU clock (the machine is shared) and repeated; the
 * median rate is printed as points/s.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "core/buf.h"
#include "detect/anomaly.h"

#define RUNS 7
#define REPEAT 20

struct series {
	int64_t *t;
	double *v;
	size_t n;
};

static double thread_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load(const char *path, struct series *se)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[4200];
	size_t cap = 0;
	*se = (struct series){ 0 };
	bool header = true;
	while (fgets(line, sizeof(line), f)) {
		if (header) {
			header = false;
			continue;
		}
		if (se->n == cap) {
			cap = cap ? cap * 2 : 4096;
			se->t = realloc(se->t, cap * sizeof(*se->t));
			se->v = realloc(se->v, cap * sizeof(*se->v));
			if (!se->t || !se->v)
				return -1;
		}
		if (anomaly_parse_row(line, strlen(line), &se->t[se->n], &se->v[se->n]) == 0)
			se->n++;
	}
	fclose(f);
	return 0;
}

/*
 * Experiments only (the published figures use the defaults): the
 * environment variable OODA_ANOMALY may override config fields, e.g.
 * "holdoff=100 alert=0.99".
 */
static void config_from_env(struct anomaly_config *c)
{
	const char *e = getenv("OODA_ANOMALY");
	if (!e)
		return;
	char key[32];
	double v;
	int n;
	while (sscanf(e, " %31[a-z_]=%lf%n", key, &v, &n) == 2) {
		if (!strcmp(key, "warmup"))
			c->warmup_points = (uint32_t)v;
		else if (!strcmp(key, "short"))
			c->short_points = (uint32_t)v;
		else if (!strcmp(key, "holdoff"))
			c->holdoff_points = (uint32_t)v;
		else if (!strcmp(key, "alert"))
			c->alert_level = v;
		else if (!strcmp(key, "level"))
			c->level_halflife = v;
		else if (!strcmp(key, "error"))
			c->error_halflife = v;
		else if (!strcmp(key, "surprise"))
			c->surprise_halflife = v;
		else if (!strcmp(key, "no_daily"))
			c->no_daily = v != 0;
		else if (!strcmp(key, "no_weekly"))
			c->no_weekly = v != 0;
		e += n;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: bench_nab DATA_DIR OUT_DIR FILE...\n");
		return 2;
	}
	const char *data = argv[1], *outdir = argv[2];
	int nfiles = argc - 3;
	struct anomaly_config cfg = { 0 };
	config_from_env(&cfg);
	struct series *all = calloc((size_t)nfiles, sizeof(*all));
	size_t points = 0;
	for (int i = 0; i < nfiles; i++) {
		char in_path[4096], out_path[4096];
		snprintf(in_path, sizeof(in_path), "%s/%s", data, argv[3 + i]);
		snprintf(out_path, sizeof(out_path), "%s/%s", outdir, argv[3 + i]);
		FILE *in = fopen(in_path, "r"), *out = fopen(out_path, "w");
		if (!in || !out) {
			fprintf(stderr, "bench_nab: cannot open %s or %s\n", in_path, out_path);
			return 1;
		}
		struct buf err = BUF_INIT;
		int rc = anomaly_analyze_csv(in, out, &cfg, &err);
		fclose(in);
		if (fclose(out) != 0 || rc != 0) {
			fprintf(stderr, "bench_nab: %s: %s\n", in_path, err.data);
			return 1;
		}
		buf_release(&err);
		if (load(in_path, &all[i]) != 0)
			return 1;
		points += all[i].n;
	}

	size_t size = anomaly_state_size(&cfg);
	struct anomaly_state *s = malloc(size);
	double rates[RUNS], sink = 0;
	for (int r = 0; r < RUNS; r++) {
		double t0 = thread_cpu_s();
		for (int rep = 0; rep < REPEAT; rep++) {
			for (int i = 0; i < nfiles; i++) {
				struct anomaly_result res;
				anomaly_init(s, &cfg);
				for (size_t k = 0; k < all[i].n; k++) {
					anomaly_update(s, all[i].t[k], all[i].v[k], &res);
					sink += res.score;
				}
			}
		}
		double t1 = thread_cpu_s();
		rates[r] = (double)points * REPEAT / (t1 - t0);
	}
	qsort(rates, RUNS, sizeof(double), cmp_double);
	printf("engine: %zu points in %d files, state %zu bytes per series\n", points, nfiles, size);
	printf("engine: %.0f points/s per core (thread CPU time, median of %d runs of %zu points), %.1f ns/point\n",
	       rates[RUNS / 2], RUNS, points * REPEAT, 1e9 / rates[RUNS / 2]);
	if (sink < 0)
		printf("%f\n", sink);
	free(s);
	for (int i = 0; i < nfiles; i++) {
		free(all[i].t);
		free(all[i].v);
	}
	free(all);
	return 0;
}
