/* imap_parser.h - incremental, bounded parser of IMAP client commands
 * (RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1 syntax, RFC 7888 LITERAL+ and
 * LITERAL-, RFC 3516 literal8, RFC 6855 UTF-8 in quoted strings).
 *
 * Pure: no I/O, no globals. The session feeds the parser whatever bytes it
 * has, in any split; the parser keeps its state between calls and copies what
 * it needs, so the caller may discard the consumed bytes at once.
 *
 * Feed protocol (imap_parser_feed):
 *
 *   IMAP_PARSE_NEED_MORE  every byte was consumed; feed more when it comes.
 *   IMAP_PARSE_COMPLETE   a command ended (its CRLF was consumed); get it
 *                         with imap_parser_command() or take ownership with
 *                         imap_parser_take_command(). Bytes after it belong
 *                         to the next command: feed them again (pipelining).
 *   IMAP_PARSE_LITERAL    a synchronising literal {n} (or ~{n}) was announced
 *                         and its header consumed. Check imap_parser_literal_
 *                         size() against the command's own limit (APPENDLIMIT
 *                         ...), then either imap_parser_literal_accept() and
 *                         write "+ OK" to the client, or imap_parser_literal_
 *                         reject() and write "tag NO/BAD ..." (the client
 *                         does not send the literal; the command is dropped
 *                         and the parser waits for the next one). Until one
 *                         of the two is called, feeding returns LITERAL again
 *                         and consumes nothing. Non-synchronising literals
 *                         {n+} never ask: the parser checks them itself.
 *   IMAP_PARSE_LINE       (line mode only, see imap_parser_expect_line) one
 *                         line was read; get it with imap_parser_line().
 *   IMAP_PARSE_ERROR      the command is broken: reply "tag BAD reason"
 *                         (imap_parser_tag() may be NULL: then "* BAD"). If
 *                         the error is not fatal, keep feeding: the parser
 *                         discards the rest of the broken command on its own
 *                         (to the end of its line, including the contents of
 *                         non-synchronising literals announced on the way, so
 *                         the stream stays in sync) and then parses the next
 *                         command. If it is fatal, send "* BYE" and close:
 *                         every later feed returns the same error.
 *
 * *consumed_r always says how many bytes the parser used; on ERROR it stops
 * just before the offending byte (the skipping that follows looks at it).
 *
 * Commands: the tag is kept as sent; the command name is upper-cased. "UID"
 * is joined with the word after it: "uid fetch" gives the name "UID FETCH",
 * and the arguments start after FETCH. In FETCH and UID FETCH only, an atom
 * containing '[' runs to the matching ']' (spaces, parentheses and quoted
 * strings allowed in between) and on after it: BODY[HEADER.FIELDS (A B)]<0.9>
 * is one ATOM argument holding exactly those bytes. Literals inside the
 * brackets are refused.
 *
 * Arguments are a tree of struct imap_arg. Every argument array (the top
 * level and each LIST) ends with an IMAP_ARG_EOL element. Atoms hold the raw
 * token bytes as sent (sequence sets, "\Seen", "BODY.PEEK[1]<0.10>", "1:*",
 * '%' and '*' of LIST patterns, ']' of astrings are all accepted as atom
 * characters; the command's own parser validates them). The atom NIL (any
 * case) has type IMAP_ARG_NIL but keeps its text, so an astring may still be
 * the mailbox "NIL". Quoted strings are unescaped. Strings are binary-safe
 * with an explicit length and also NUL-terminated; only literal8 (~{n})
 * contents may contain NUL bytes.
 *
 * Lenient on: several spaces between arguments, a space before CRLF, a bare
 * LF as line end, empty lines between commands (ignored). Strict on: CTL and
 * 8-bit bytes in atoms, NUL anywhere but literal8, bad escapes in quoted
 * strings, a missing space between arguments, unbalanced parentheses.
 *
 * Lifetime: the command returned by imap_parser_command() lives until the
 * next imap_parser_feed / reset / expect_line / free call; one taken with
 * imap_parser_take_command() is the caller's, freed with imap_command_free(),
 * and all its argument pointers live exactly as long as it does (the session
 * may keep it while the parser goes on with the next command). The tag and
 * name accessors, the error text and the line are valid until the next call
 * that changes the parser.
 *
 * Memory: nothing is allocated for a literal before its size has passed the
 * limits; its contents are then buffered as they arrive (up to max_literal),
 * so a client can make the parser hold max_command bytes: lower the limits
 * before authentication (imap_parser_set_limits). */
#ifndef POSTANE_IMAP_PARSER_H
#define POSTANE_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum imap_arg_type {
	IMAP_ARG_EOL = 0, /* ends every argument array */
	IMAP_ARG_NIL,	  /* the atom NIL, any case (str holds it as sent) */
	IMAP_ARG_ATOM,
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	bool literal8; /* LITERAL sent as ~{n} */
	bool nonsync;  /* LITERAL sent as {n+} */
	/* NIL/ATOM/QUOTED/LITERAL: bytes in str. LIST: elements in list. */
	size_t len;
	/* NIL/ATOM/QUOTED/LITERAL: the bytes, followed by a NUL. NULL else. */
	const char *str;
	/* LIST: len elements followed by an IMAP_ARG_EOL element. NULL else. */
	const struct imap_arg *list;
};

struct imap_command {
	const char *tag;	     /* as sent */
	const char *name;	     /* upper-case: "NOOP", "UID FETCH" */
	const struct imap_arg *args; /* arg_count elements, then IMAP_ARG_EOL */
	unsigned arg_count;
	uint64_t size; /* bytes on the wire, literals and CRLFs included */
	/* private */
	char *storage_;
};

/* Free a command taken from the parser; accepts NULL, sets *cmd to NULL. */
void imap_command_free(struct imap_command **cmd);
/* True if the command's name is `name` (upper-case, e.g. "UID FETCH"). */
bool imap_command_is(const struct imap_command *cmd, const char *name);

/* Limits given at creation. A field left 0 takes the default below. */
struct imap_parser_limits {
	size_t max_line;      /* bytes of one line, literal contents and CRLF excluded */
	uint64_t max_literal; /* bytes of one literal's contents */
	/* ... in commands other than APPEND (0: max_literal); checked for
	 * non-synchronising literals too, which the session never sees. */
	uint64_t max_literal_other;
	uint64_t max_command; /* bytes of a whole command: lines, CRLFs, literals */
	unsigned max_depth;   /* nesting of parenthesised lists */
	unsigned max_args;    /* argument nodes in total (list elements included) */
	uint64_t max_skip;    /* bytes discarded after an error before it turns fatal */
};

#define IMAP_PARSER_DEFAULT_MAX_LINE 65536
#define IMAP_PARSER_DEFAULT_MAX_LITERAL (64ull * 1024 * 1024)
#define IMAP_PARSER_DEFAULT_MAX_COMMAND (65ull * 1024 * 1024)
#define IMAP_PARSER_DEFAULT_MAX_DEPTH 16
#define IMAP_PARSER_DEFAULT_MAX_ARGS 10000
#define IMAP_PARSER_DEFAULT_MAX_SKIP (64ull * 1024 * 1024)
/* RFC 7888 4: the largest non-synchronising literal LITERAL- allows. */
#define IMAP_LITERAL_MINUS_MAX 4096

enum imap_parser_flags {
	/* LITERAL+ advertised: {n+} of any size up to max_literal. */
	IMAP_PARSER_LITERAL_PLUS = 1 << 0,
	/* LITERAL- advertised (and not LITERAL+): {n+} up to 4096 bytes; a
	 * larger one is a LITERAL_TOO_BIG error (its bytes are skipped).
	 * With neither flag, every {n+} is such an error. */
	IMAP_PARSER_LITERAL_MINUS = 1 << 1,
};

enum imap_parse_result {
	IMAP_PARSE_NEED_MORE = 0,
	IMAP_PARSE_COMPLETE,
	IMAP_PARSE_LITERAL,
	IMAP_PARSE_LINE,
	IMAP_PARSE_ERROR,
};

enum imap_parse_error {
	IMAP_PARSE_ERR_NONE = 0,
	IMAP_PARSE_ERR_SYNTAX,		/* BAD */
	IMAP_PARSE_ERR_LINE_TOO_LONG,	/* BAD */
	IMAP_PARSE_ERR_LITERAL_TOO_BIG, /* BAD [TOOBIG] (or NO [TOOBIG] for APPEND) */
	IMAP_PARSE_ERR_COMMAND_TOO_BIG, /* BAD [TOOBIG] */
	IMAP_PARSE_ERR_TOO_DEEP,	/* BAD */
	IMAP_PARSE_ERR_TOO_MANY_ARGS,	/* BAD */
	IMAP_PARSE_ERR_SKIP_LIMIT,	/* always fatal: BYE */
};

/* What a line read in line mode must look like. */
enum imap_line_kind {
	/* Any bytes but NUL and bare CR (IDLE's "DONE"). */
	IMAP_LINE_TEXT,
	/* AUTHENTICATE continuation: empty, "*" (cancel), or base64 characters
	 * [A-Za-z0-9+/=] only. */
	IMAP_LINE_BASE64,
};

struct imap_parser;

/* limits may be NULL (all defaults). */
struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits, unsigned flags);
/* Accepts NULL; sets *p to NULL. */
void imap_parser_free(struct imap_parser **p);
/* Change the literal flags, e.g. when capabilities change. */
void imap_parser_set_flags(struct imap_parser *p, unsigned flags);
/* Replace the limits (0 fields: defaults), between commands: e.g. a small
 * max_literal / max_command before authentication (a non-synchronising
 * literal is buffered up to max_literal without asking the session), the
 * message size limit after it. */
void imap_parser_set_limits(struct imap_parser *p, const struct imap_parser_limits *limits);
/* Forget any partial command (and a completed one not taken). */
void imap_parser_reset(struct imap_parser *p);

/* Consume bytes from data[0..len); see the protocol above. */
enum imap_parse_result imap_parser_feed(struct imap_parser *p, const void *data, size_t len,
					size_t *consumed_r);

/* After COMPLETE: the command, owned by the parser (see Lifetime). NULL if
 * there is none. */
const struct imap_command *imap_parser_command(const struct imap_parser *p);
/* After COMPLETE: the command, now owned by the caller. NULL if none. */
struct imap_command *imap_parser_take_command(struct imap_parser *p);

/* The tag of the command being parsed (or just completed / failed), or NULL
 * while it is incomplete or when it was invalid. Valid until the next feed. */
const char *imap_parser_tag(const struct imap_parser *p);
/* Its upper-case name ("UID FETCH"), or NULL when not parsed yet. */
const char *imap_parser_command_name(const struct imap_parser *p);

/* After LITERAL: the announced size and whether it is a literal8. */
uint64_t imap_parser_literal_size(const struct imap_parser *p);
bool imap_parser_literal_is8(const struct imap_parser *p);
/* After LITERAL: go on reading the literal (write "+ OK" to the client). */
void imap_parser_literal_accept(struct imap_parser *p);
/* After LITERAL: drop the command; the parser waits for the next one. */
void imap_parser_literal_reject(struct imap_parser *p);

/* After ERROR: the reason (static text for the BAD reply), the kind of
 * error, and whether it is fatal. */
const char *imap_parser_error(const struct imap_parser *p, enum imap_parse_error *code_r,
			      bool *fatal_r);

/* Read the next line (AUTHENTICATE continuation, IDLE's DONE) instead of a
 * command. Only between commands (after COMPLETE). The next feed returns
 * LINE (or ERROR: too long, bad bytes; the line is then skipped), after which
 * the parser is back to reading commands. */
void imap_parser_expect_line(struct imap_parser *p, enum imap_line_kind kind);
/* After LINE: the line without its CRLF, NUL-terminated; valid until the
 * next feed. */
const char *imap_parser_line(const struct imap_parser *p, size_t *len_r);

/* Argument accessors. All return false (and leave outputs alone) when the
 * argument has another type. len_r may be NULL. */
bool imap_arg_is_eol(const struct imap_arg *arg);
/* ATOM (or NIL) equal to `word`, ASCII case-insensitive. */
bool imap_arg_atom_equals(const struct imap_arg *arg, const char *word);
/* ATOM or NIL. */
bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* QUOTED or LITERAL. */
bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* astring: ATOM, NIL (the mailbox "NIL"), QUOTED or LITERAL. */
bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* nstring: NIL gives *str_r = NULL, *len_r = 0; QUOTED or LITERAL. */
bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* LIST: its elements (ending with EOL) and their count. */
bool imap_arg_get_list(const struct imap_arg *arg, const struct imap_arg **list_r, size_t *count_r);

#endif
