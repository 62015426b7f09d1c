/*
 * Structured JSON log lines for the daemon. Each line is built in a local
 * buffer and written with one write(2), so lines from worker threads never
 * interleave.
 */
#include "core/log.h"
#include "core/buf.h"
#include "core/time.h"

#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static _Thread_local char request_id[64];

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void ooda_log_set_level(enum log_level level)
{
	min_level = level;
}

bool ooda_log_enabled(enum log_level level)
{
	return level >= min_level;
}

int ooda_log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, level_names[i]))
			return i;
	return -1;
}

void ooda_log_set_request_id(const char *id)
{
	if (!id) {
		request_id[0] = '\0';
		return;
	}
	snprintf(request_id, sizeof(request_id), "%s", id);
}

const char *ooda_log_request_id(void)
{
	return request_id;
}

void ooda_logf(enum log_level level, const char *fields, const char *fmt, ...)
{
	if (level < min_level)
		return;
	struct buf line = BUF_INIT, msg = BUF_INIT;
	char ts[40];
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	buf_addf(&line, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":",
		 ooda_time_format(ooda_now_ns(), ts, sizeof(ts)), level_names[level]);
	buf_add_json_str(&line, msg.data, msg.len);
	if (request_id[0]) {
		buf_adds(&line, ",\"request_id\":");
		buf_add_json_str(&line, request_id, strlen(request_id));
	}
	if (fields && *fields) {
		buf_addch(&line, ',');
		buf_adds(&line, fields);
	}
	buf_adds(&line, "}\n");
	ssize_t w = write(STDERR_FILENO, line.data, line.len);
	(void)w;
	buf_release(&line);
	buf_release(&msg);
}
