/* util.h - small helpers with no mail knowledge: checked allocation, time
 * formatting, random identifiers, string escaping, file-system durability.
 *
 * Allocation failure aborts the process (x* functions never return NULL). */
#ifndef POSTANE_UTIL_H
#define POSTANE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Print "postane: MESSAGE" to stderr and abort. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Monotonic milliseconds. */
uint64_t now_ms(void);
/* RFC 5322 date-time of `t` in local time: "Sun, 22 Nov 2026 00:12:19 +0000". */
void rfc5322_date(time_t t, char *out, size_t outlen);

/* Fill with cryptographically random bytes (getrandom); aborts on failure. */
void random_bytes(void *p, size_t n);
/* A random identifier of `len` characters from [0-9A-Z] (len < outlen). */
void random_id(char *out, size_t outlen, size_t len);

/* Append `len` bytes of untrusted data to `out` in a printable, log-safe form:
 * printable ASCII kept, everything else as \xNN (backslash as \\). At most
 * `limit` input bytes are rendered; "..." marks a cut. */
void escape_for_log(struct buf *out, const void *data, size_t len, size_t limit);

/* Case-insensitive ASCII comparison helpers. */
bool ascii_ieq(const char *a, const char *b);
bool ascii_nieq(const char *a, const char *b, size_t n);
void ascii_lower(char *s);

/* Parse an unsigned decimal with overflow checking; all bytes must be digits.
 * Returns 0 or -1. */
int parse_u64(const char *s, size_t len, uint64_t *value_r);

/* File-system helpers: 0 or -1 with errno set. */
int mkdir_p(const char *path, unsigned mode);
int fsync_dir(const char *path);
/* Write `len` bytes to a new file at `path` through a temporary file, fsync,
 * rename, fsync the directory. */
int write_file_durable(const char *path, const void *data, size_t len, unsigned mode);
/* Write all bytes, retrying on EINTR and short writes. */
int write_full(int fd, const void *data, size_t len);

#endif
