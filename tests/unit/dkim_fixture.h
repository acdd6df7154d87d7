/* dkim_fixture.h - helpers shared by the DKIM unit tests: reading the
 * third-party conformance data (mail-auth, dkimpy, Mail::DKIM corpus),
 * line-end conversion, DKIM tag lookup and a fake DNS table.
 *
 * The data directory is $DKIM_CONFORMANCE_DIR, else tests/data/dkim, else
 * /work/shared/conformance/dkim; tests skip when none exists. Include after
 * <cmocka.h>. */
#ifndef POSTANE_TEST_DKIM_FIXTURE_H
#define POSTANE_TEST_DKIM_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/buf.h"

static inline const char *dkim_conformance_dir(void)
{
	static const char *const cand[] = {"tests/data/dkim", "/work/shared/conformance/dkim"};
	const char *env = getenv("DKIM_CONFORMANCE_DIR");
	struct stat st;
	if (env != NULL && env[0] != '\0')
		return stat(env, &st) == 0 && S_ISDIR(st.st_mode) ? env : NULL;
	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++)
		if (stat(cand[i], &st) == 0 && S_ISDIR(st.st_mode))
			return cand[i];
	return NULL;
}

/* The whole file (NUL-terminated), or NULL. */
static inline char *read_whole(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	struct buf b;
	buf_init(&b, 0);
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	buf_append(&b, "", 0); /* allocates for an empty file */
	*len_r = b.len;
	return b.data; /* ownership passes to the caller */
}

/* Every bare LF becomes CRLF (existing CRLFs kept). */
static inline void to_crlf(const char *s, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			buf_append(out, "\r", 1);
		buf_append(out, s + i, 1);
	}
}

/* A fake DNS: "name value" lines. */
struct fake_dns {
	char *names[64];
	char *values[64];
	size_t n;
};

static inline void fake_dns_add(struct fake_dns *d, const char *name, size_t nlen, const char *value,
				size_t vlen)
{
	if (d->n == 64)
		return;
	d->names[d->n] = strndup(name, nlen);
	d->values[d->n] = strndup(value, vlen);
	d->n++;
}

static inline const char *fake_dns_get(const struct fake_dns *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcasecmp(d->names[i], name) == 0)
			return d->values[i];
	return NULL;
}

static inline void fake_dns_free(struct fake_dns *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->names[i]);
		free(d->values[i]);
	}
	d->n = 0;
}

/* Parse "name<blanks>value" lines of [s, s + len) into d. */
static inline void fake_dns_parse(struct fake_dns *d, const char *s, size_t len)
{
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(s + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - s) : len;
		size_t e = end;
		if (e > pos && s[e - 1] == '\r')
			e--;
		size_t sp = pos;
		while (sp < e && s[sp] != ' ' && s[sp] != '\t')
			sp++;
		size_t v = sp;
		while (v < e && (s[v] == ' ' || s[v] == '\t'))
			v++;
		if (sp > pos && v < e && s[pos] != '#')
			fake_dns_add(d, s + pos, sp - pos, s + v, e - v);
		pos = end + 1;
	}
}

/* A mail-auth resources file: DNS lines, an empty line, the message (LF
 * line ends; converted to CRLF into msg). */
static inline int load_mail_auth(const char *path, struct fake_dns *dns, struct buf *msg)
{
	size_t len;
	char *data = read_whole(path, &len);
	if (data == NULL)
		return -1;
	char *sep = strstr(data, "\n\n");
	if (sep == NULL) {
		free(data);
		return -1;
	}
	fake_dns_parse(dns, data, (size_t)(sep - data));
	char *m = sep + 2;
	to_crlf(m, len - (size_t)(m - data), msg);
	free(data);
	return 0;
}

/* The value of tag `tag` in a tag list (RFC 6376 3.2), with all FWS
 * removed, into out. Returns 1 if found, 0 if not. */
static inline int tag_value(const char *list, size_t len, const char *tag, struct buf *out)
{
	size_t pos = 0, tlen = strlen(tag);
	while (pos < len) {
		const char *semi = memchr(list + pos, ';', len - pos);
		size_t end = semi != NULL ? (size_t)(semi - list) : len;
		size_t i = pos;
		while (i < end && strchr(" \t\r\n", list[i]) != NULL)
			i++;
		size_t name = i;
		while (i < end && list[i] != '=' && strchr(" \t\r\n", list[i]) == NULL)
			i++;
		size_t nlen = i - name;
		while (i < end && strchr(" \t\r\n", list[i]) != NULL)
			i++;
		if (i < end && list[i] == '=' && nlen == tlen && memcmp(list + name, tag, tlen) == 0) {
			buf_reset(out);
			for (size_t k = i + 1; k < end; k++)
				if (strchr(" \t\r\n", list[k]) == NULL)
					buf_append(out, list + k, 1);
			if (out->data == NULL)
				buf_append(out, "", 0);
			return 1;
		}
		pos = end + 1;
	}
	return 0;
}

#endif
