/* mime_param.h - MIME header value syntax (RFC 2045 5.1): tokens, comments,
 * quoted strings, and "; name=value" parameter lists, with RFC 2231
 * continuations (name*0=, name*1*=) merged into one parameter.
 *
 * Pure and forgiving: junk between parameters is skipped, unquoted values
 * may contain tspecials ("boundary=----=_Part_1"), an unterminated quoted
 * string or comment runs to the end. Merging follows Dovecot, which IMAP
 * clients expect in BODYSTRUCTURE: "name*0*=utf-8''a; name*1=b" becomes one
 * parameter "name*" = "utf-8''ab" (still percent-encoded; decode it with
 * mime_rfc2231_decode()), "name*0=a; name*1=b" becomes "name" = "ab".
 * Continuations with missing indexes are kept as they were. */
#ifndef POSTANE_MIME_PARAM_H
#define POSTANE_MIME_PARAM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

struct mime_param_ref {
	size_t name_off, name_len; /* into the list's text buffer */
	size_t value_off, value_len;
};

/* A parameter list owning its text. Offsets, not pointers, because the
 * text buffer grows. */
struct mime_param_list {
	struct buf text;
	struct mime_param_ref *v;
	size_t n, cap;
	size_t max;	/* parameters kept (0 = unlimited) */
	bool truncated; /* more than max were present */
};

void mime_param_list_init(struct mime_param_list *l, size_t max_params);
void mime_param_list_reset(struct mime_param_list *l);
void mime_param_list_free(struct mime_param_list *l);
/* Name and value of parameter i (valid until the list changes). */
const char *mime_param_name(const struct mime_param_list *l, size_t i, size_t *len_r);
const char *mime_param_value(const struct mime_param_list *l, size_t i, size_t *len_r);
/* Index of the first parameter named `name` (case-insensitive), or -1. */
long mime_param_find(const struct mime_param_list *l, const char *name);

/* Parse the parameters in s[0..len) (the part of a header value after its
 * main token: "; a=b; c=\"d\""), appending them to l and merging RFC 2231
 * continuations. */
void mime_param_parse(const char *s, size_t len, struct mime_param_list *l);

/* Offset of the first byte at or after pos that is not white space or part
 * of a comment. */
size_t mime_skip_cfws(const char *s, size_t len, size_t pos);
/* Length of the RFC 2045 token at s[pos..len) (0 if none). */
size_t mime_token_len(const char *s, size_t len, size_t pos);

#endif
