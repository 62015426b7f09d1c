/*
 * libFuzzer harness for the header lines of a leader's answer to a
 * forwarded request (src/api/forward.c): whatever the line, the split reads
 * only its bytes, the name ends before the colon, and the value lies inside
 * the line with no blank or line end at either edge.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/forward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	char *line = malloc(size ? size : 1); /* exactly the line: a read past it is a report */
	if (!line)
		return 0;
	memcpy(line, data, size);
	struct forward_header h;
	if (forward_header_split(line, size, &h)) {
		if (h.name != line || h.name_len == 0 || h.name_len >= size || line[h.name_len] != ':')
			abort();
		if (h.value < line + h.name_len + 1 || h.value + h.value_len > line + size)
			abort();
		if (h.value_len) {
			char first = h.value[0], last = h.value[h.value_len - 1];
			if (first == ' ' || first == '\t' || last == ' ' || last == '\t' || last == '\r' || last == '\n')
				abort();
		}
		if (memchr(line, ':', h.name_len))
			abort();
	}
	free(line);
	return 0;
}
