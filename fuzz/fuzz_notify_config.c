/*
 * libFuzzer harness for the notification config loader: any bytes given as
 * the JSON of the `notify:` section must load or fail with a message naming
 * the key, never crash, hang or leak; a loaded section routes and renders an
 * event for every target.
 */
#include <stddef.h>
#include <stdint.h>

#include "respond/notify_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (!j)
		return 0;
	struct notify_config *c = NULL;
	struct buf err = BUF_INIT;
	if (notify_config_parse(j, &c, &err) != 0) {
		if (err.len == 0 || strncmp(err.data, "notify", 6))
			__builtin_trap(); /* a failure must always say where */
	} else {
		struct notify_event ev = { .kind = "alert", .event = "firing", .dedupe_base = "x", .severity = "page",
					   .service = "checkout", .team = "payments", .title = "t" };
		bool picked[NOTIFY_MAX_TARGETS + 1];
		notify_route(c, &ev, picked);
		for (size_t i = 0; i < c->n_targets; i++) {
			struct buf out = BUF_INIT;
			notify_render(&c->targets[i], &ev, "ntf_0000000000000000", c->public_url, 1, &out);
			buf_release(&out);
		}
	}
	notify_config_free(c);
	buf_release(&err);
	json_decref(j);
	return 0;
}
