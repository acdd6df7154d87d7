/* smtp_addr.h - parser for SMTP paths and mailboxes (RFC 5321 4.1.2, with
 * the RFC 6531 SMTPUTF8 extension).
 *
 * Pure: bytes in, structure out, no I/O. Domains are returned lowercased and,
 * when internationalised, converted to their A-label form (libidn2), so that
 * lookups compare like with like. Source routes are refused. */
#ifndef POSTANE_SMTP_ADDR_H
#define POSTANE_SMTP_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_LOCAL_MAX 64    /* octets, RFC 5321 4.5.3.1.1 */
#define SMTP_DOMAIN_MAX 255  /* octets, RFC 5321 4.5.3.1.2 */
#define SMTP_PATH_MAX 256    /* octets incl. brackets, RFC 5321 4.5.3.1.3 */

/* Flags for smtp_addr_parse(). */
#define SMTP_ADDR_ALLOW_NULL 0x01       /* "<>" is valid (reverse-path) */
#define SMTP_ADDR_ALLOW_POSTMASTER 0x02 /* "<Postmaster>" without domain */
#define SMTP_ADDR_ALLOW_UTF8 0x04       /* SMTPUTF8 was given on MAIL */
#define SMTP_ADDR_NO_BRACKETS 0x08      /* parse a bare mailbox, no <> */

enum smtp_addr_error {
	SMTP_ADDR_OK = 0,
	SMTP_ADDR_ERR_SYNTAX,       /* 501 5.1.3 / 5.1.7 */
	SMTP_ADDR_ERR_TOO_LONG,     /* 501 5.1.3 (or 553) */
	SMTP_ADDR_ERR_SOURCE_ROUTE, /* 501 5.1.3 */
	SMTP_ADDR_ERR_UTF8,         /* 553 5.6.7: UTF-8 without SMTPUTF8 */
	SMTP_ADDR_ERR_IDN,          /* 501 5.1.3: invalid internationalised domain */
};

struct smtp_addr {
	bool null;        /* "<>" */
	bool postmaster;  /* "<Postmaster>" with no domain */
	bool quoted;      /* the local part was a quoted string */
	bool utf8;        /* non-ASCII in the local part or the domain as given */
	bool literal;     /* domain is an address literal "[...]" */
	/* Local part with quoting removed (may contain any printable byte). */
	char local[SMTP_LOCAL_MAX * 2 + 1];
	/* Lowercase domain, A-label form; literals kept with brackets. */
	char domain[SMTP_DOMAIN_MAX + 1];
};

/* Parse `len` bytes at `s`. On error returns the error kind and sets
 * *error_r to a short static English reason. */
enum smtp_addr_error smtp_addr_parse(const char *s, size_t len, unsigned flags,
				     struct smtp_addr *addr_r, const char **error_r);

/* True if `local` (NUL-terminated) is a valid RFC 5321 Dot-string (with
 * UTF-8 allowed when `utf8`). */
bool smtp_addr_is_dot_string(const char *local, bool utf8);

/* Render "local@domain" (quoting the local part when needed) into out.
 * Returns the length, or -1 if it does not fit. "<>" renders as "". */
int smtp_addr_format(const struct smtp_addr *addr, char *out, size_t outlen);

/* Validate a domain name as used in EHLO/HELO or a config file (not an
 * address literal): returns true for LDH labels (and A-labels). */
bool smtp_domain_is_valid(const char *s, size_t len);

/* Normalise a domain given by an administrator (lowercase, U-label to
 * A-label). Returns 0 or -1. */
int smtp_domain_normalize(const char *in, char *out, size_t outlen);

#endif
