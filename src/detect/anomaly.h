/*
 * The streaming anomaly engine: one fixed-size state per series, fed one
 * point at a time, answering with a score in [0,1] that reads as confidence
 * that the series is misbehaving, a direction and the band it expected. The
 * daemon runs it on every RED series and on configured series (detect
 * stage, orient step of the loop); `ooda analyze` and the NAB bench run the
 * same engine over CSV files through anomaly_analyze_csv(). Pure: no I/O
 * except the CSV door, no allocation after the caller allocated the state.
 *
 * How it scores, per point: three predictors run side by side — a level
 * (EWMA of the median of the last three points, so a lone spike does not
 * drag it), a daily profile and a weekly profile (one slot per time-of-day
 * or time-of-week bucket, corrected by a fast offset so level shifts do not
 * poison a whole period). Each keeps its own long-run mean absolute error,
 * floored at half the unclipped error of the level so a spiky series does
 * not get a hair-trigger scale; among the credible predictors the one that
 * explains the point best is the baseline, so seasonality is used only
 * where the data show it. The residual against the baseline becomes a
 * robust z-score and its log-compressed size a surprise. Three detectors
 * read it: the short-term mean of the surprise (spikes, steps), its
 * medium-term mean (a rise in how often the series surprises: spike
 * density, noise) and the log of the short-term mean step |x - previous x|
 * (the series moving far more than it used to). A fourth looks for change
 * points the fast level absorbs (persistent shifts of a spread or two, slow
 * drifts): a two-sided CUSUM of the value, less its seasonal slot when a
 * season predicts better than the level, against a slow reference
 * (half-life 500 points) in units of its slow mean absolute deviation,
 * each point clipped to two deviations; its log is the statistic. Each is
 * compared with its own long-term mean and spread, so a series that
 * always wanders or always bursts learns that it does; the largest gap g
 * is taken. Two rules
 * then adjust it. A departure that recurred at this time of day on each of
 * the last two days (within half an hour: daily jobs drift) is discounted
 * by its usual size, so a nightly batch is not an incident. A record
 * departure, one that beats the largest departure above (or below) the
 * baseline remembered over the same long-term horizon by a fifth and is
 * at least six scales out, is given a fixed high gap: on a spiky series
 * the other detectors have learned to expect spikes, but not one taller
 * than all of them. The gap, read as a Gaussian tail, gives score =
 * P(|N(0,1)| < g). After a score crosses the alert level, the engine stays
 * quiet for a hold-off so one incident raises one alert. No score is given
 * while warming up.
 */
#ifndef OODA_DETECT_ANOMALY_H
#define OODA_DETECT_ANOMALY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct buf;

/*
 * One configuration for every series; a zeroed struct means the documented
 * defaults below. Booleans default to false, so each names the deviation.
 */
struct anomaly_config {
	uint32_t warmup_points;   /* points before any score; default 150 */
	uint32_t short_points;    /* short-term averaging window; default 6 */
	uint32_t holdoff_points;  /* quiet points after an alert; default 150 */
	double alert_level;       /* score that counts as an alert for the hold-off; default 0.997 */
	double level_halflife;    /* level EWMA half-life, points; default 4 */
	double error_halflife;    /* residual scale half-life, points; default 600 */
	double surprise_halflife; /* long-term surprise distribution half-life, points; default 2000 */
	int64_t slot_ns;          /* width of one seasonal slot; default 5 minutes */
	bool no_daily;            /* do not learn a daily profile (nor recurring daily departures) */
	bool no_weekly;           /* do not learn a weekly profile */
};

/* Opaque; anomaly_state_size() bytes, aligned like a double. */
struct anomaly_state;

struct anomaly_result {
	double score;              /* [0,1], confidence the point is anomalous */
	int direction;             /* +1 above the baseline, -1 below, 0 neither */
	double baseline;           /* the value the engine expected */
	double expected_lo, expected_hi; /* band of ordinary values around it */
	bool warming_up;           /* still learning: score is 0 */
	/* which detector gave the score: "surprise", "density", "variability", "change" or "record"; NULL at 0 */
	const char *detector;
};

/*
 * Bytes a state for config c needs (c may be NULL: defaults). The size
 * depends only on c; every series with the same config has the same size.
 */
size_t anomaly_state_size(const struct anomaly_config *c);

/*
 * Fills s (anomaly_state_size(c) bytes owned by the caller, suitably
 * aligned, e.g. from malloc) with a fresh state for config c (NULL:
 * defaults). Nothing to release: free the memory when done.
 */
void anomaly_init(struct anomaly_state *s, const struct anomaly_config *c);

/*
 * Folds in one point (t_ns: ns since the epoch, non-decreasing in practice;
 * value: any double — NaN and infinities are ignored and answered with score
 * 0) and writes the verdict into *out. O(1) time, no allocation.
 */
void anomaly_update(struct anomaly_state *s, int64_t t_ns, double value, struct anomaly_result *out);

/*
 * Parses one CSV data row "timestamp,value" (len bytes, no newline needed).
 * timestamp: "YYYY-MM-DD HH:MM:SS[.frac]" (UTC; 'T' and a trailing 'Z' are
 * accepted), RFC 3339 with an offset, or a unix time in s/ms/us/ns. Returns
 * 0 with *t_ns and *value set, or OODA_EPARSE.
 */
int anomaly_parse_row(const char *line, size_t len, int64_t *t_ns, double *value);

/*
 * The offline door: reads a CSV with a header line and rows
 * "timestamp,value" from in, runs one fresh engine (config c, NULL:
 * defaults) over them and writes "timestamp,value,anomaly_score" to out,
 * timestamps copied as read. Blank lines are skipped. Returns 0;
 * OODA_EPARSE for a malformed row or a missing header (line number into
 * err), OODA_ELIMIT for a line over 4 KiB, OODA_EIO on a read or write
 * error, OODA_ENOMEM. Output written before an error stays written.
 */
int anomaly_analyze_csv(FILE *in, FILE *out, const struct anomaly_config *c, struct buf *err);

#endif
