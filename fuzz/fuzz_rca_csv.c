/*
 * libFuzzer harness for the root-cause engine's CSV door: any bytes must
 * either load as long-format series (and then rank without crashing, every
 * confidence in [0,1], best first) or be refused with a FILE:LINE reason;
 * the same bytes read as a graph or a changes file must load or be
 * refused likewise.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "respond/rca.h"
#include "respond/rca_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	struct buf err = BUF_INIT;
	struct rca_csv d, g;
	FILE *in = fmemopen((void *)data, size, "r");
	if (!in)
		return 0;
	int rc = rca_csv_load_series(&d, in, "f.csv", &err);
	fclose(in);
	if (rc != 0 && strncmp(err.data, "f.csv:", 6))
		__builtin_trap();
	in = fmemopen((void *)data, size, "r");
	if (!in)
		return 0;
	buf_reset(&err);
	int grc = rca_csv_load_edges(&g, in, "f.csv", &err);
	fclose(in);
	if (grc != 0 && strncmp(err.data, "f.csv:", 6))
		__builtin_trap();
	struct rca_csv ch;
	in = fmemopen((void *)data, size, "r");
	if (!in)
		return 0;
	buf_reset(&err);
	int crc = rca_csv_load_changes(&ch, in, "f.csv", &err);
	fclose(in);
	if (crc != 0 && strncmp(err.data, "f.csv:", 6))
		__builtin_trap();
	if (rc == 0) {
		struct rca_input ri = { .series = d.series, .n_series = d.n_series };
		if (grc == 0) {
			ri.edges = g.edges;
			ri.n_edges = g.n_edges;
			ri.target = g.n_edges ? g.edges[0].caller : NULL;
		}
		if (crc == 0) {
			ri.changes = ch.changes;
			ri.n_changes = ch.n_changes;
		}
		struct rca_suspect *s;
		size_t n;
		buf_reset(&err);
		if (rca_rank(&ri, &s, &n, &err) == 0) {
			for (size_t i = 0; i < n; i++) {
				if (!(s[i].confidence >= 0 && s[i].confidence <= 1) || !isfinite(s[i].score))
					__builtin_trap();
				if (i && s[i].score > s[i - 1].score)
					__builtin_trap();
			}
			rca_suspects_free(s, n);
		} else if (!err.len) {
			__builtin_trap();
		}
		rca_csv_release(&d);
	}
	if (grc == 0)
		rca_csv_release(&g);
	if (crc == 0)
		rca_csv_release(&ch);
	buf_release(&err);
	return 0;
}
