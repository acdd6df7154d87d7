/* smtp_reply.h - SMTP reply parser for the outbound client (RFC 5321 4.2,
 * RFC 3463 enhanced status codes, RFC 2034) and the EHLO keyword parser
 * (RFC 5321 4.1.1.1 and the extensions the client uses).
 *
 * Pure and incremental: bytes go in as they arrive, complete replies come
 * out one at a time; no I/O, no globals. A reply is
 *
 *     250-first line          ("ddd-" continues,
 *     250 last line            "ddd " or a bare "ddd" ends it)
 *
 * Every line must carry the same code. Lines end in CRLF; a bare LF is
 * accepted as a line end too (as other MTAs do), a CR anywhere else is not.
 * Line length and line count are bounded by limits given at creation. After
 * an error the parser stays failed: the connection cannot be trusted to be
 * in step any more. */
#ifndef POSTANE_SMTP_REPLY_H
#define POSTANE_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_REPLY_LINE_MAX 2000 /* default bytes per line, CRLF not counted */
#define SMTP_REPLY_LINES_MAX 100 /* default lines per reply */
#define SMTP_ENHANCED_MAX 16	 /* "5.123.123" plus NUL fits */

struct smtp_reply_limits {
	size_t max_line;    /* 0: SMTP_REPLY_LINE_MAX */
	unsigned max_lines; /* 0: SMTP_REPLY_LINES_MAX */
};

struct smtp_reply {
	unsigned code; /* 200..599 */
	/* "class.subject.detail" when the first line's text starts with one
	 * whose class matches the code's first digit, else "". */
	char enhanced[SMTP_ENHANCED_MAX];
	unsigned nlines; /* at least 1 */
	/* Text of each line after "ddd-"/"ddd " (NUL-terminated, may be ""),
	 * untrusted bytes (no NUL, CR or LF). Owned by the parser: valid until
	 * the next call to smtp_reply_parse(), _reset() or _free(). */
	const char *const *lines;
};

enum smtp_reply_status {
	SMTP_REPLY_MORE = 0, /* every byte consumed; no complete reply yet */
	SMTP_REPLY_DONE,     /* *reply_r holds a complete reply */
	SMTP_REPLY_ERROR,    /* malformed or too large; *error_r says why */
};

struct smtp_reply_parser;

/* limits may be NULL (defaults). Allocation failure aborts. */
struct smtp_reply_parser *smtp_reply_parser_new(const struct smtp_reply_limits *limits);
/* Accepts NULL; sets *parser to NULL. */
void smtp_reply_parser_free(struct smtp_reply_parser **parser);
/* Forget any partial reply and a previous error (after STARTTLS). */
void smtp_reply_parser_reset(struct smtp_reply_parser *parser);

/* Feed data[0..len). Consumes bytes up to the end of the first complete
 * reply (*used_r tells how many; the rest belongs to the next reply) or all
 * of them when the reply is not complete yet. Returns DONE with *reply_r
 * filled, MORE, or ERROR with a static reason in *error_r (also on every
 * later call). */
enum smtp_reply_status smtp_reply_parse(struct smtp_reply_parser *parser, const void *data,
					size_t len, size_t *used_r, struct smtp_reply *reply_r,
					const char **error_r);

/* The reply's text on one line for logs and bounces: the lines joined with
 * a space, the enhanced status code left out of each line that repeats it,
 * control bytes and invalid UTF-8 replaced by '?', cut to fit `outlen`
 * (NUL-terminated; outlen > 0). Returns strlen(out). */
size_t smtp_reply_text(const struct smtp_reply *reply, char *out, size_t outlen);

/* What a server announced in its EHLO reply. */
#define SMTP_AUTH_PLAIN 0x01u
#define SMTP_AUTH_LOGIN 0x02u
#define SMTP_AUTH_CRAM_MD5 0x04u
#define SMTP_AUTH_XOAUTH2 0x08u
#define SMTP_AUTH_OTHER 0x80u /* some mechanism not listed above */

struct smtp_ehlo {
	bool starttls;
	bool pipelining;
	bool size;	   /* SIZE announced */
	uint64_t size_max; /* its limit; 0 = none announced (RFC 1870 4) */
	bool eightbitmime;
	bool smtputf8;
	bool dsn;
	bool chunking;
	bool enhancedstatuscodes;
	bool auth;	     /* AUTH announced (possibly as the old "AUTH=" form) */
	unsigned auth_mechs; /* SMTP_AUTH_* */
};

/* Read the keywords of a 250 EHLO reply (lines after the first; keywords
 * case-insensitive, unknown ones ignored). A SIZE value that is not a
 * number is taken as no limit. */
void smtp_ehlo_parse(const struct smtp_reply *reply, struct smtp_ehlo *ehlo_r);

#endif
