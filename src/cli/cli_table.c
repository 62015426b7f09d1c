/*
 * Tables for people: every list command prints its rows aligned under a
 * header line, either from cells it made itself (cli_table) or straight
 * from the JSON array the daemon answered, one column per member or cell
 * function (cli_table_json). --json output never comes here.
 */
#include "cli/cli.h"
#include "core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_table(const char *const *headers, int ncols, const char **cells, int nrows)
{
	size_t width[32] = { 0 };
	for (int c = 0; c < ncols && c < 32; c++) {
		width[c] = strlen(headers[c]);
		for (int r = 0; r < nrows; r++) {
			size_t w = strlen(cells[r * ncols + c] ? cells[r * ncols + c] : "");
			if (w > width[c])
				width[c] = w;
		}
	}
	for (int c = 0; c < ncols; c++)
		printf("%-*s%s", c == ncols - 1 ? 0 : (int)width[c], headers[c], c == ncols - 1 ? "\n" : "  ");
	for (int r = 0; r < nrows; r++)
		for (int c = 0; c < ncols; c++) {
			const char *v = cells[r * ncols + c] ? cells[r * ncols + c] : "";
			printf("%-*s%s", c == ncols - 1 ? 0 : (int)width[c], v, c == ncols - 1 ? "\n" : "  ");
		}
}

void cli_table_json(json_t *list, const struct cli_column *cols, int ncols)
{
	size_t n = json_array_size(list), nc = (size_t)ncols;
	const char **headers = xcalloc(nc, sizeof(*headers));
	const char **cells = xcalloc(n * nc + 1, sizeof(*cells));
	struct buf *made = xcalloc(n * nc + 1, sizeof(*made));
	for (size_t c = 0; c < nc; c++)
		headers[c] = cols[c].header;
	for (size_t r = 0; r < n; r++)
		for (size_t c = 0; c < nc; c++) {
			json_t *row = json_array_get(list, r);
			struct buf *b = &made[r * nc + c];
			if (cols[c].cell)
				cols[c].cell(row, b);
			cells[r * nc + c] = !cols[c].cell ? cli_jstr(row, cols[c].key) : b->data ? b->data : "";
		}
	cli_table(headers, ncols, cells, (int)n);
	for (size_t i = 0; i < n * nc; i++)
		buf_release(&made[i]);
	free(made);
	free(cells);
	free(headers);
}

void cli_cell_version(json_t *row, struct buf *out)
{
	buf_addf(out, "v%lld", (long long)json_integer_value(json_object_get(row, "version")));
}

void cli_cell_services(json_t *row, struct buf *out)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(row, "services"), i, v)
		buf_addf(out, "%s%s", i ? "," : "", json_string_value(v));
}
