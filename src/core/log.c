/* log.c - the event logger: timestamped lines, one write(2) each. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"

static enum log_level min_level = LOG_INFO;

void log_set_level(enum log_level level)
{
	min_level = level;
}

int log_level_parse(const char *name, enum log_level *level_r)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	for (int i = 0; i < 4; i++) {
		if (ascii_ieq(name, names[i])) {
			*level_r = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_msg(enum log_level level, const char *component, const char *id, const char *fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	if (level < min_level)
		return;
	char line[2048];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s%s%s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (long)(tv.tv_usec / 1000), names[level], component,
			 id != NULL ? " " : "", id != NULL ? id : "");
	if (n < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* One write keeps concurrent lines whole; a failed log write is not
	 * something we can report anywhere else. */
	if (write(STDERR_FILENO, line, len) < 0)
		return;
}

const char *log_escaped(int slot, const void *data, size_t len)
{
	/* Fixed thread-local storage: 200 input bytes at most 4 output bytes
	 * each, plus "..." and the NUL. */
	static _Thread_local char out[4][200 * 4 + 8];
	char *o = out[slot & 3];
	const unsigned char *p = data;
	size_t n = len < 200 ? len : 200, k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (c == '\\') {
			o[k++] = '\\';
			o[k++] = '\\';
		} else if (c >= 0x20 && c < 0x7f) {
			o[k++] = (char)c;
		} else {
			static const char hex[] = "0123456789abcdef";
			o[k++] = '\\';
			o[k++] = 'x';
			o[k++] = hex[c >> 4];
			o[k++] = hex[c & 15];
		}
	}
	if (n < len) {
		memcpy(o + k, "...", 3);
		k += 3;
	}
	o[k] = '\0';
	return o;
}
