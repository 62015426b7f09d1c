/*
 * ooda's own logs: one JSON object per line on stderr, with time, level,
 * message, and the request id of the HTTP request the thread is serving
 * (set by the HTTP layer, empty elsewhere).
 */
#ifndef OODA_LOG_H
#define OODA_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Messages below level are dropped. Default LOG_INFO; OODA_LOG=debug sets it. */
void ooda_log_set_level(enum log_level level);
/* Whether a message at level would be written (to skip building one that would not). */
bool ooda_log_enabled(enum log_level level);
/* Parses "debug|info|warn|error"; returns -1 if unknown. */
int ooda_log_level_parse(const char *s);
/* The request id attached to this thread's log lines; NULL clears. */
void ooda_log_set_request_id(const char *id);
const char *ooda_log_request_id(void);

/*
 * Logs msg plus optional extra fields. fields is either NULL or a string of
 * already-encoded JSON members without braces (`"route":"/x","status":200`).
 */
void ooda_logf(enum log_level level, const char *fields, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(...) ooda_logf(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) ooda_logf(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...) ooda_logf(LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) ooda_logf(LOG_ERROR, NULL, __VA_ARGS__)

#endif
