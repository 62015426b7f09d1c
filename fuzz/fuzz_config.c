/*
 * libFuzzer harness for the ooda.yaml loader: any bytes must load or fail
 * with a message, never crash, hang or leak. config_load_string runs the
 * whole schema validation (config_validate), section checks included, so
 * the fuzzer reaches every section's check as well as the YAML parser; a
 * loaded config is validated a second time, which must agree.
 */
#include <stddef.h>
#include <stdint.h>

#include "api/daemon.h"
#include "core/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	daemon_register_config_checks();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	struct config c;
	struct buf err = BUF_INIT;
	config_init(&c);
	if (config_load_string(&c, "fuzz.yaml", (const char *)data, size, &err) != 0 && err.len == 0)
		__builtin_trap(); /* a failure must always say why */
	if (c.doc && config_validate(&c, &err) != 0)
		__builtin_trap(); /* what loaded must validate */
	config_release(&c);
	buf_release(&err);
	return 0;
}
