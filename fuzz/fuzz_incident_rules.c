/*
 * libFuzzer harness for the loader of the `incidents:` section (rules,
 * templates, windows, severity matrix): any bytes given as its JSON must
 * load or fail with a message naming where, never crash, hang or leak; a
 * loaded section then decides one alert without trouble.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "respond/catalog.h"
#include "respond/incident.h"
#include "respond/incident_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct incidents_config c;
	struct buf err = BUF_INIT;
	if (incidents_config_parse(text, &c, &err) != 0) {
		if (err.len == 0)
			__builtin_trap(); /* a failure must always say why */
	} else {
		json_t *labels = json_pack("{ss}", "team", "payments");
		struct incident_signal s = { .name = "HighErrorRate", .service = "payments", .source = "rule",
					     .severity = SEVERITY_PAGE, .labels = labels };
		struct incident_decision d;
		incident_decide(&c, NULL, &s, &d);
		if (!incident_severity_valid(d.severity))
			__builtin_trap();
		incident_template_for(&c, "payments", "HighErrorRate");
		json_decref(labels);
		incidents_config_release(&c);
	}
	buf_release(&err);
	free(text);
	return 0;
}
