/*
 * libFuzzer harness for the file_sd target file loader
 * (scrape_sd_parse, ingest/scrape.h): the first byte picks YAML (bit 0)
 * or JSON, the rest is the file. Never crash, hang or leak; a refusal
 * always says why, and what is accepted is a list of groups.
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ingest/scrape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 18)
		return 0;
	struct buf err = BUF_INIT;
	void *groups = NULL;
	int rc = scrape_sd_parse((const char *)data + 1, size - 1, data[0] & 1, &groups, &err);
	if (rc != 0 && (err.len == 0 || groups))
		__builtin_trap();
	if (rc == 0 && !json_is_array((json_t *)groups))
		__builtin_trap();
	json_decref(groups);
	buf_release(&err);
	return 0;
}
