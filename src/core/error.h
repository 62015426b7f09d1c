/*
 * Error codes shared by every stage of ooda. One X-macro list generates the
 * enum, ooda_strerror() and the HTTP status each code maps to, so a new code
 * is one line here and nowhere else.
 */
#ifndef OODA_ERROR_H
#define OODA_ERROR_H

/* X(name, value, http_status, message) */
#define OODA_ERRORS(X)                                                  \
	X(EINVAL, -1, 400, "invalid argument")                          \
	X(ENOTFOUND, -2, 404, "not found")                              \
	X(ECONFLICT, -3, 409, "conflict")                               \
	X(ENOMEM, -4, 503, "out of memory")                             \
	X(EIO, -5, 500, "input/output error")                           \
	X(ETOOBIG, -6, 413, "too large")                                \
	X(EUNAUTH, -7, 401, "authentication required")                  \
	X(EFORBIDDEN, -8, 403, "forbidden")                             \
	X(EBUSY, -9, 429, "busy, retry later")                          \
	X(EUNSUPPORTED, -10, 415, "unsupported media type")             \
	X(EMETHOD, -11, 405, "method not allowed")                      \
	X(EPRECOND, -12, 412, "precondition failed")                    \
	X(ESCHEMA, -13, 500, "schema version mismatch")                 \
	X(ECORRUPT, -14, 500, "data corrupt")                           \
	X(ETIMEOUT, -15, 504, "timed out")                              \
	X(EUNAVAIL, -16, 503, "unavailable")                            \
	X(EPARSE, -17, 400, "parse error")                              \
	X(ELIMIT, -18, 422, "limit exceeded")                           \
	X(EINTERNAL, -19, 500, "internal error")                        \
	X(EREFUSED, -20, 422, "refused")                                \
	X(EGONE, -21, 410, "gone")                                      \
	X(EVALIDATE, -22, 422, "validation failed")                     \
	X(ENOSPACE, -23, 507, "insufficient storage")

enum ooda_error {
	OODA_OK = 0,
#define OODA_ERROR_ENUM(name, value, status, msg) OODA_##name = (value),
	OODA_ERRORS(OODA_ERROR_ENUM)
#undef OODA_ERROR_ENUM
};

/* A static, human-readable message for code; "unknown error" if not ours. */
const char *ooda_strerror(int code);

/* The short symbolic name of code ("EINVAL"), or "E?" if not ours. */
const char *ooda_errname(int code);

/* HTTP status a failing request with this code answers with (500 if unknown). */
int ooda_http_status(int code);

#endif
