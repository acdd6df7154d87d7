/* smtp_parser.h - SMTP command line parser (RFC 5321 4.1, RFC 3030 BDAT,
 * RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8).
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

#endif
