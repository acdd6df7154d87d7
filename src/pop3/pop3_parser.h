/* pop3_parser.h - POP3 command lines (RFC 1939, RFC 2449 CAPA, RFC 2595
 * STLS, RFC 5034 AUTH) and the multi-line response encoder.
 *
 * Pure: bytes in, structures out; no I/O, no globals.
 *
 * The parser is incremental. pop3_parser_feed() takes whatever arrived and
 * stops after each complete line, so bytes that follow a command stay with
 * the caller (STLS must be able to drop them). A line is refused, once, when
 * it ends, if it was longer than the limit (it is skipped without being
 * stored) or held a NUL or a bare CR; the parser then goes on with the next
 * line. Lines end with LF; a CR just before it is removed.
 *
 * Command lines become a struct pop3_cmd whose strings point into the
 * parser's line buffer: valid until the next pop3_parser_feed() or
 * pop3_parser_free(), which first erase the previous line (it may have been
 * a password). */
#ifndef POSTANE_POP3_PARSER_H
#define POSTANE_POP3_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* RFC 2449 4: a command line is at most 255 octets including CRLF. We take
 * twice that, for clients that send a long AUTH initial response anyway. */
#define POP3_LINE_MAX 512
/* RFC 5034 4: SASL responses are not limited to 255 octets. This holds a
 * PLAIN response with the longest fields sasl.h accepts. */
#define POP3_RESPONSE_MAX 2048
/* Arguments after the keyword (TOP msg n; AUTH mech initial-response). */
#define POP3_MAX_ARGS 2

enum pop3_verb {
	POP3_VERB_UNKNOWN = 0,
	POP3_VERB_USER,
	POP3_VERB_PASS,
	POP3_VERB_AUTH,
	POP3_VERB_CAPA,
	POP3_VERB_STLS,
	POP3_VERB_QUIT,
	POP3_VERB_STAT,
	POP3_VERB_LIST,
	POP3_VERB_RETR,
	POP3_VERB_DELE,
	POP3_VERB_NOOP,
	POP3_VERB_RSET,
	POP3_VERB_TOP,
	POP3_VERB_UIDL,
	POP3_VERB_COUNT
};

struct pop3_cmd {
	enum pop3_verb verb;
	unsigned argc;
	/* The arguments, NUL-terminated. PASS has exactly one: everything
	 * after "PASS " (a password may contain spaces, RFC 1939 7). */
	const char *args[POP3_MAX_ARGS];
	size_t arg_len[POP3_MAX_ARGS];
	/* RETR, DELE, TOP, LIST n, UIDL n: the message number (>= 1 is not
	 * checked here); TOP: the line count. */
	uint64_t msg;
	uint64_t lines;
};

enum pop3_parse_result {
	POP3_PARSE_NEED_MORE, /* everything was used; no complete line yet */
	POP3_PARSE_COMMAND,   /* pop3_parser_command() is valid */
	POP3_PARSE_RESPONSE,  /* a SASL response line: pop3_parser_response() */
	POP3_PARSE_ERROR,     /* a bad line was used up: pop3_parser_error() */
};

enum pop3_parse_error {
	POP3_ERR_NONE = 0,
	POP3_ERR_TOO_LONG, /* line over the limit */
	POP3_ERR_BAD_CHAR, /* NUL or a CR inside the line */
	POP3_ERR_UNKNOWN,  /* no such command (or an empty line) */
	POP3_ERR_SYNTAX,   /* known command, wrong arguments */
};

struct pop3_parser;

struct pop3_parser_limits {
	size_t max_line;     /* command line incl. CRLF; 0 = POP3_LINE_MAX */
	size_t max_response; /* SASL response incl. CRLF; 0 = POP3_RESPONSE_MAX */
};

/* Allocation failure aborts. `limits` may be NULL (defaults). */
struct pop3_parser *pop3_parser_new(const struct pop3_parser_limits *limits);
/* Accepts NULL; sets *p to NULL. Erases the line buffer. */
void pop3_parser_free(struct pop3_parser **p);
/* Consume bytes up to and including the end of the next line. *used_r says
 * how many bytes of data were taken (all of them on NEED_MORE). */
enum pop3_parse_result pop3_parser_feed(struct pop3_parser *p, const char *data, size_t len,
					size_t *used_r);
/* The next line is a SASL response (RFC 5034 "+ " continuation), not a
 * command: it comes back as POP3_PARSE_RESPONSE, unparsed. One line only. */
void pop3_parser_expect_response(struct pop3_parser *p);
/* Forget any partial line and go back to expecting commands (after STLS). */
void pop3_parser_reset(struct pop3_parser *p);
/* After POP3_PARSE_COMMAND. */
const struct pop3_cmd *pop3_parser_command(const struct pop3_parser *p);
/* After POP3_PARSE_RESPONSE: the line without CRLF, NUL-terminated. */
const char *pop3_parser_response(const struct pop3_parser *p, size_t *len_r);
/* After POP3_PARSE_ERROR: a static reason for the -ERR text, and the code.
 * For POP3_ERR_SYNTAX *verb_r (may be NULL) names the command. */
const char *pop3_parser_error(const struct pop3_parser *p, enum pop3_parse_error *code_r,
			      enum pop3_verb *verb_r);

/* Parse one complete line (no CRLF) into *cmd_r. The buffer must have room
 * for len + 1 bytes: separators become NULs and line[len] is overwritten.
 * Returns POP3_ERR_NONE or the error with a static reason in *error_r. */
enum pop3_parse_error pop3_cmd_parse(char *line, size_t len, struct pop3_cmd *cmd_r,
				     const char **error_r);

/* "RETR"; "?" for unknown. */
const char *pop3_verb_name(enum pop3_verb verb);

/* ----- multi-line responses (RFC 1939 3) -----
 *
 * Turns stored message content into the lines of a RETR or TOP response:
 * every line ends in CRLF (a bare LF or bare CR becomes CRLF, as SMTP
 * stores it anyway), a line that starts with "." gets one more ".", and
 * pop3_encoder_finish() ends the response with ".CRLF" (after a CRLF if the
 * content did not end with one). For TOP the encoder stops after the header
 * section, the empty line that ends it, and `body_lines` more lines. */
struct pop3_encoder {
	bool top;
	bool in_body;	   /* the empty line after the header section was sent */
	bool line_start;   /* the next byte starts a line */
	bool pending_cr;   /* a CR whose LF may come in the next chunk */
	bool done;	   /* TOP: everything wanted has been sent */
	uint64_t line_len; /* bytes of the current line so far */
	uint64_t lines_left;
};

void pop3_encoder_init(struct pop3_encoder *e, bool top, uint64_t body_lines);
/* Encode len bytes of content into out. Returns 0, or -1 when out is full
 * (its max): then nothing was added. Once pop3_encoder_done(), the rest of
 * the content is ignored. */
int pop3_encoder_feed(struct pop3_encoder *e, const char *data, size_t len, struct buf *out);
bool pop3_encoder_done(const struct pop3_encoder *e);
/* End the response. Returns 0 or -1 (out full). */
int pop3_encoder_finish(struct pop3_encoder *e, struct buf *out);

#endif
