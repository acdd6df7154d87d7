/* smtp_parser.h - SMTP command line parser (RFC 5321 4.1, RFC 3030 BDAT,
 * RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 3461 DSN).
 *
 * Pure: one command line in (without its CRLF), a struct smtp_cmd out. The
 * parser writes NUL terminators into the caller's line buffer, and the
 * pointers in smtp_cmd point into it: they live as long as that buffer. */
#ifndef POSTANE_SMTP_PARSER_H
#define POSTANE_SMTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
	SMTP_VERB_COUNT
};

#define SMTP_MAX_PARAMS 16

struct smtp_param {
	const char *keyword; /* as sent; compare case-insensitively */
	const char *value;   /* NULL when the parameter has no "=value" */
	/* True when this is an RFC 3461 parameter of this verb (RET, ENVID on
	 * MAIL; NOTIFY, ORCPT on RCPT): its value was validated and decoded
	 * into smtp_cmd.dsn, so the session need not look at it again. */
	bool dsn;
};

/* RFC 3461 (DSN) parameters. The parser validates them on MAIL and RCPT
 * whether or not the session offers DSN; a malformed value, or one given
 * twice, is SMTP_PARSE_SYNTAX (501 5.5.4). On the other verb they are just
 * unknown parameters (dsn == false), left for the session to refuse (555). */
enum smtp_dsn_ret {
	SMTP_DSN_RET_NONE = 0, /* no RET parameter */
	SMTP_DSN_RET_FULL,
	SMTP_DSN_RET_HDRS
};

#define SMTP_DSN_NOTIFY_NEVER 0x1u
#define SMTP_DSN_NOTIFY_SUCCESS 0x2u
#define SMTP_DSN_NOTIFY_FAILURE 0x4u
#define SMTP_DSN_NOTIFY_DELAY 0x8u

/* Longest values as sent (xtext, before decoding): RFC 3461 4.4 and 4.2. */
#define SMTP_DSN_ENVID_MAX 100
#define SMTP_DSN_ORCPT_MAX 500

struct smtp_dsn {
	/* MAIL */
	enum smtp_dsn_ret ret;
	/* ENVID as sent (xtext, points into the line), NULL when absent;
	 * this is the form to relay to the next hop. */
	const char *envid_xtext;
	/* ENVID decoded: printable US-ASCII (space allowed), "" when absent. */
	char envid[SMTP_DSN_ENVID_MAX + 1];
	/* RCPT: SMTP_DSN_NOTIFY_* bits; 0 when NOTIFY was not given. NEVER
	 * is never combined with another bit. */
	unsigned notify;
	/* ORCPT as sent ("rfc822;Bob+2B1@example.org", points into the line),
	 * NULL when absent. */
	const char *orcpt_xtext;
	/* ORCPT decoded: "addr-type;address" ("rfc822;Bob+1@example.org"),
	 * "" when absent; the first orcpt_type_len bytes are the addr-type.
	 * No control characters; bytes >= 0x80 only as sent ("+C3+A9", or
	 * raw UTF-8 under the "utf-8" addr-type of RFC 6533). */
	char orcpt[SMTP_DSN_ORCPT_MAX + 1];
	size_t orcpt_type_len;
};

struct smtp_cmd {
	enum smtp_verb verb;
	/* HELO/EHLO domain, VRFY/EXPN/HELP/NOOP/AUTH argument (NUL-terminated,
	 * may be empty). */
	const char *arg;
	/* MAIL/RCPT: the path including its angle brackets. */
	const char *path;
	size_t path_len;
	struct smtp_param params[SMTP_MAX_PARAMS];
	unsigned param_count;
	/* BDAT */
	uint64_t chunk_size;
	bool last;
	/* MAIL/RCPT: RFC 3461 parameters (each also in params[], dsn set). */
	struct smtp_dsn dsn;
};

enum smtp_parse_result {
	SMTP_PARSE_OK = 0,
	SMTP_PARSE_UNKNOWN, /* 500 5.5.1: unrecognised command */
	SMTP_PARSE_SYNTAX,  /* 501 5.5.4: bad arguments */
	SMTP_PARSE_BAD_CHAR /* 500 5.5.2: NUL, CR or LF inside the line */
};

/* Parse the command in line[0..len) (no CRLF). The buffer must have room for
 * len + 1 bytes: line[len] is overwritten with a NUL. On failure *error_r
 * points to a static reason suitable for the reply text. */
enum smtp_parse_result smtp_cmd_parse(char *line, size_t len, struct smtp_cmd *cmd_r,
				      const char **error_r);

/* Name of a verb ("MAIL"); "?" for unknown. */
const char *smtp_verb_name(enum smtp_verb verb);

/* Find a parameter by keyword (case-insensitive); NULL if absent. */
const struct smtp_param *smtp_cmd_param(const struct smtp_cmd *cmd, const char *keyword);

/* Decode RFC 3461 section 4 xtext in[0..len) into out (NUL-terminated,
 * at most outlen - 1 bytes). "+XX" is one byte (hex digits of either case
 * are accepted); other bytes must be '!'..'~' except '+' and '='.
 * Returns the decoded length, or -1 on bad syntax or when out is too small.
 * The decoded bytes may be anything, NUL included: check them. */
int smtp_xtext_decode(const char *in, size_t len, char *out, size_t outlen);

#endif
