/*
 * The tables behind error.h: each code's message, name and HTTP status,
 * generated from the one X-macro list.
 */
#include "core/error.h"

const char *ooda_strerror(int code)
{
	switch (code) {
	case OODA_OK:
		return "ok";
#define OODA_ERROR_MSG(name, value, status, msg) \
	case OODA_##name:                        \
		return msg;
		OODA_ERRORS(OODA_ERROR_MSG)
#undef OODA_ERROR_MSG
	}
	return "unknown error";
}

const char *ooda_errname(int code)
{
	switch (code) {
	case OODA_OK:
		return "OK";
#define OODA_ERROR_NAME(name, value, status, msg) \
	case OODA_##name:                         \
		return #name;
		OODA_ERRORS(OODA_ERROR_NAME)
#undef OODA_ERROR_NAME
	}
	return "E?";
}

int ooda_http_status(int code)
{
	switch (code) {
	case OODA_OK:
		return 200;
#define OODA_ERROR_STATUS(name, value, status, msg) \
	case OODA_##name:                           \
		return status;
		OODA_ERRORS(OODA_ERROR_STATUS)
#undef OODA_ERROR_STATUS
	}
	return 500;
}
