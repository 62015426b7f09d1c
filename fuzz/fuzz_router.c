/*
 * libFuzzer harness for the router: arbitrary methods and paths against the
 * daemon's real route table. A match must bind only well-formed parameters;
 * a miss must be 404 or 405.
 */
#include <stddef.h>
#include <stdint.h>

#include "api/daemon.h"
#include "http/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 8192)
		return 0;
	static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS" };
	const char *method = methods[data[0] % 7];
	char path[8192];
	memcpy(path, data + 1, size - 1);
	path[size - 1] = '\0';
	struct http_request req;
	memset(&req, 0, sizeof(req));
	arena_init(&req.arena, 1024);
	struct buf allow = BUF_INIT;
	int status = 0;
	const struct route *r = router_match(api_routes_get(), method, path, &req, &status, &allow);
	if (r) {
		for (int i = 0; i < req.n_params; i++)
			if (!req.param_values[i][0] || strchr(req.param_values[i], '/'))
				__builtin_trap();
	} else if (status != 404 && status != 405) {
		__builtin_trap();
	} else if (status == 405 && allow.len == 0) {
		__builtin_trap();
	}
	buf_release(&allow);
	arena_release(&req.arena);
	return 0;
}
