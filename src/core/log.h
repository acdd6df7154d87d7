/* log.h - one line per event on standard error.
 *
 * Lines look like
 *   2026-11-22T00:12:19.123Z info smtp 0001A: connect from 127.0.0.1:4242
 * Each line is written with a single write(2), so lines from several threads
 * never interleave. Untrusted bytes must go through log_escaped()/
 * escape_for_log(); credentials are never passed to the logger. */
#ifndef POSTANE_LOG_H
#define POSTANE_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
/* Parse "debug"/"info"/"warn"/"error"; returns 0 or -1. */
int log_level_parse(const char *name, enum log_level *level_r);
/* `component` names the module ("smtp", "store"), `id` the session or
 * transaction (may be NULL). */
void log_msg(enum log_level level, const char *component, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define log_debug(c, id, ...) log_msg(LOG_DEBUG, c, id, __VA_ARGS__)
#define log_info(c, id, ...) log_msg(LOG_INFO, c, id, __VA_ARGS__)
#define log_warn(c, id, ...) log_msg(LOG_WARN, c, id, __VA_ARGS__)
#define log_error(c, id, ...) log_msg(LOG_ERROR, c, id, __VA_ARGS__)

/* Returns a pointer to a thread-local, NUL-terminated, log-safe rendering of
 * `len` untrusted bytes (at most 200 shown). Valid until the next call from
 * the same thread with the same slot (0..3). */
const char *log_escaped(int slot, const void *data, size_t len);

#endif
