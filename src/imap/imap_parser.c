/* imap_parser.c - the IMAP command tokenizer: a byte-at-a-time state machine
 * that turns a client's stream into tagged commands with an argument tree,
 * under hard limits, and resynchronises after a broken command by skipping to
 * its end (literal contents included) so one bad line never desynchronises
 * the session. */
#include "imap/imap_parser.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"

#define NO_PARENT UINT32_MAX
#define NAME_MAX_LEN 64
/* Buffers above this size are released between commands. */
#define KEEP_STRINGS (64u * 1024)
#define KEEP_NODES 1024u

enum state {
	ST_START,    /* before a tag; empty lines are skipped */
	ST_START_LF, /* CR of an empty line seen */
	ST_TAG,
	ST_AFTER_TAG, /* spaces, then the command name */
	ST_NAME,
	ST_AFTER_UID, /* "UID" and a space: spaces, then the second word */
	ST_NAME2,
	ST_ARGS,  /* an argument, ')' or the end of the line; spaces skipped */
	ST_AFTER, /* after a string, literal or ')': SP, ')' or end of line */
	ST_ATOM,
	ST_BRACKET, /* inside [...] of a FETCH attribute */
	ST_BRACKET_Q,
	ST_BRACKET_QE,
	ST_QUOTED,
	ST_QUOTED_ESC,
	ST_TILDE, /* '~' at an argument's start: literal8 or an atom */
	ST_LIT_DIGITS,
	ST_LIT_CLOSE, /* "{n+": expecting '}' */
	ST_LIT_CR,    /* "{n}": expecting CRLF */
	ST_LIT_LF,
	ST_LIT_WAIT, /* synchronising literal announced, session to answer */
	ST_LIT_DATA,
	ST_EOL_LF, /* CR at the end of a command line: expecting LF */
	ST_SKIP,   /* discarding a broken command to its end */
	ST_SKIP_Q,
	ST_SKIP_QE,
	ST_SKIP_LIT,
	ST_SKIP_LIT_CLOSE,
	ST_SKIP_LIT_CR,
	ST_SKIP_LIT_LF,
	ST_SKIP_DATA,
	ST_SKIP_PLAIN, /* discarding a broken line-mode line to its LF */
	ST_LINE,
	ST_LINE_LF,
	ST_FATAL,
};

/* An argument while the command is being read: strings are offsets into
 * p->strings (which moves as it grows), lists count their elements. */
struct pnode {
	enum imap_arg_type type;
	bool literal8;
	bool nonsync;
	uint32_t parent; /* index of the enclosing LIST, or NO_PARENT */
	size_t off;	 /* strings: offset in p->strings */
	size_t len;	 /* strings: bytes; lists: elements */
	size_t block;	 /* lists, when building: first element's index */
	size_t fill;	 /* lists, when building: elements placed so far */
};

struct command_block {
	struct imap_command cmd;
	struct imap_arg args[];
};

struct imap_parser {
	struct imap_parser_limits lim;
	unsigned flags;
	enum state state;

	/* The command being read. */
	struct buf strings; /* tag, name, then every string's bytes + NUL */
	struct pnode *nodes;
	size_t node_count, node_cap;
	size_t tag_len;
	bool tag_done;
	size_t name_off, name_len;
	bool name_done;
	bool fetch;	   /* FETCH / UID FETCH: '[' opens a section */
	uint32_t cur_list; /* innermost open LIST, or NO_PARENT */
	unsigned depth;
	size_t line_len;   /* bytes of the current line, CR/LF excluded */
	uint64_t cmd_size; /* bytes of the command so far */

	/* Literal being announced / read. */
	uint64_t lit_size;
	unsigned lit_digits;
	bool lit_overflow;
	bool lit8;
	bool lit_nonsync;
	uint64_t lit_left;

	/* Skipping after an error. */
	uint64_t skipped;

	/* Line mode. */
	bool line_mode;
	enum imap_line_kind line_kind;
	size_t line_len_out;

	/* Results. */
	struct command_block *done; /* completed, not yet taken */
	bool pending_reset;	    /* start afresh at the next feed */
	bool line_ready;
	enum imap_parse_error err;
	const char *err_msg;
	bool err_fatal;
};

/* How a step over one byte ended. */
enum step {
	STEP_NEXT,     /* byte consumed, go on */
	STEP_AGAIN,    /* look at the same byte again (state changed) */
	STEP_COMPLETE, /* byte consumed, command complete */
	STEP_LITERAL,  /* byte consumed, synchronising literal announced */
	STEP_LINE,     /* byte consumed, line-mode line complete */
	STEP_ERROR,    /* byte not consumed, error set */
	STEP_ERROR_CONSUMED,
};

/* Where skipping starts after an error. */
enum skip_from {
	SKIP_LINE,  /* scan to the end of the line, tracking quotes and literals */
	SKIP_NONE,  /* the command already ended */
	SKIP_DATA,  /* inside a literal: p->lit_left bytes to drop first */
	SKIP_PLAIN, /* line mode: to the LF, nothing tracked */
	SKIP_FATAL,
};

/* ------------------------------------------------------------------ */
/* Character classes */

/* Atom characters the tokenizer accepts: ATOM-CHAR plus the list
 * wildcards '%' '*' and resp-special ']' (LIST patterns, astrings and
 * sequence sets are all read as atoms; their own parsers are stricter). */
static bool is_atom_char(unsigned char c)
{
	/* 0x21-0x7e without ( ) { " \ : one bit per ASCII character */
	static const uint32_t atom_bits[4] = {0x0, 0xfffffcfa, 0xefffffff, 0x77ffffff};
	return c < 0x80 && ((atom_bits[c >> 5] >> (c & 31)) & 1) != 0;
}

/* tag = 1*<any ASTRING-CHAR except "+"> */
static bool is_tag_char(unsigned char c)
{
	return is_atom_char(c) && c != '%' && c != '*' && c != '+';
}

static bool is_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* ------------------------------------------------------------------ */
/* Storage helpers */

static void str_putc(struct imap_parser *p, unsigned char c)
{
	struct buf *b = &p->strings;
	if (b->len < b->cap) {
		b->data[b->len++] = (char)c;
		return;
	}
	if (buf_append(b, &c, 1) < 0)
		die("imap parser: string buffer limit"); /* bounded by max_command */
}

static void str_end(struct imap_parser *p)
{
	str_putc(p, '\0');
}

static void reset_command(struct imap_parser *p)
{
	if (p->strings.cap > KEEP_STRINGS) {
		buf_free(&p->strings);
		buf_init(&p->strings, 0);
	}
	buf_reset(&p->strings);
	if (p->node_cap > KEEP_NODES) {
		free(p->nodes);
		p->nodes = NULL;
		p->node_cap = 0;
	}
	p->node_count = 0;
	p->tag_len = 0;
	p->tag_done = false;
	p->name_off = p->name_len = 0;
	p->name_done = false;
	p->fetch = false;
	p->cur_list = NO_PARENT;
	p->depth = 0;
	p->line_len = 0;
	p->cmd_size = 0;
	p->lit_size = 0;
	p->lit_digits = 0;
	p->lit_overflow = false;
	p->lit8 = false;
	p->lit_nonsync = false;
	p->lit_left = 0;
	p->skipped = 0;
	p->err = IMAP_PARSE_ERR_NONE;
	p->err_msg = NULL;
	p->err_fatal = false;
	p->line_ready = false;
	p->line_len_out = 0;
	p->state = p->line_mode ? ST_LINE : ST_START;
}

static void drop_done(struct imap_parser *p)
{
	free(p->done);
	p->done = NULL;
}

/* ------------------------------------------------------------------ */
/* Errors */

/* The skipping state that continues from where reading state `s` stopped:
 * inside a quoted string the skipper must know it (a '{' or LF there is
 * different), and a literal header half read must still be recognised, or
 * the literal's contents would be taken for commands. */
static enum state skip_state_for(enum state s)
{
	switch (s) {
	case ST_QUOTED:
	case ST_BRACKET_Q:
		return ST_SKIP_Q;
	case ST_QUOTED_ESC:
	case ST_BRACKET_QE:
		return ST_SKIP_QE;
	case ST_LIT_DIGITS:
		return ST_SKIP_LIT;
	case ST_LIT_CLOSE:
		return ST_SKIP_LIT_CLOSE;
	case ST_LIT_CR:
		return ST_SKIP_LIT_CR;
	case ST_LIT_LF:
		return ST_SKIP_LIT_LF;
	default:
		return ST_SKIP;
	}
}

static enum step fail_at(struct imap_parser *p, enum imap_parse_error code, const char *msg,
			 enum skip_from from, bool consumed)
{
	p->err = code;
	p->err_msg = msg;
	p->err_fatal = false;
	p->skipped = 0;
	switch (from) {
	case SKIP_LINE:
		p->state = skip_state_for(p->state);
		break;
	case SKIP_NONE:
		p->state = ST_START;
		p->pending_reset = true;
		break;
	case SKIP_DATA:
		if (p->lit_left > p->lim.max_skip) {
			p->err_fatal = true;
			p->state = ST_FATAL;
		} else {
			p->state = ST_SKIP_DATA;
		}
		break;
	case SKIP_PLAIN:
		p->state = ST_SKIP_PLAIN;
		break;
	case SKIP_FATAL:
		p->err_fatal = true;
		p->state = ST_FATAL;
		break;
	}
	return consumed ? STEP_ERROR_CONSUMED : STEP_ERROR;
}

static enum step fail(struct imap_parser *p, const char *msg)
{
	return fail_at(p, IMAP_PARSE_ERR_SYNTAX, msg, SKIP_LINE, false);
}

/* ------------------------------------------------------------------ */
/* Arguments */

/* Start a new argument node inside the current list. Returns its index or
 * -1 when max_args is reached (the error is set). */
static long new_node(struct imap_parser *p, enum imap_arg_type type)
{
	if (p->node_count >= p->lim.max_args) {
		fail_at(p, IMAP_PARSE_ERR_TOO_MANY_ARGS, "Too many arguments", SKIP_LINE, false);
		return -1;
	}
	if (p->node_count == p->node_cap) {
		size_t ncap = p->node_cap < 16 ? 16 : p->node_cap * 2;
		if (ncap > p->lim.max_args)
			ncap = p->lim.max_args;
		p->nodes = xrealloc(p->nodes, ncap * sizeof(*p->nodes));
		p->node_cap = ncap;
	}
	struct pnode *n = &p->nodes[p->node_count];
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->parent = p->cur_list;
	n->off = p->strings.len;
	if (p->cur_list != NO_PARENT)
		p->nodes[p->cur_list].len++;
	return (long)p->node_count++;
}

/* Finish the string node being read (always the last node). */
static void end_string(struct imap_parser *p)
{
	struct pnode *n = &p->nodes[p->node_count - 1];
	n->len = p->strings.len - n->off;
	if (n->type == IMAP_ARG_ATOM && n->len == 3 &&
	    ascii_nieq(p->strings.data + n->off, "NIL", 3))
		n->type = IMAP_ARG_NIL;
	str_end(p);
}

static enum step close_list(struct imap_parser *p)
{
	if (p->depth == 0)
		return fail(p, "Unexpected ')'");
	p->cur_list = p->nodes[p->cur_list].parent;
	p->depth--;
	p->state = ST_AFTER;
	return STEP_NEXT;
}

/* Build the caller-visible command from the nodes: each argument array
 * (top level, then every list in order of appearance) is one contiguous run
 * ending with an EOL element. */
static void build_command(struct imap_parser *p)
{
	size_t top = 0, lists = 0;
	for (size_t i = 0; i < p->node_count; i++) {
		if (p->nodes[i].parent == NO_PARENT)
			top++;
		if (p->nodes[i].type == IMAP_ARG_LIST)
			lists++;
	}
	size_t total = p->node_count + lists + 1;
	struct command_block *blk = xcalloc(1, sizeof(*blk) + total * sizeof(struct imap_arg));
	struct imap_arg *args = blk->args;
	const char *base = p->strings.data; /* final now: nothing more is appended */
	size_t next = top + 1;		    /* args[top] is the top level's EOL */
	size_t top_fill = 0;
	for (size_t i = 0; i < p->node_count; i++) {
		struct pnode *n = &p->nodes[i];
		size_t pos;
		if (n->parent == NO_PARENT) {
			pos = top_fill++;
		} else {
			struct pnode *parent = &p->nodes[n->parent];
			pos = parent->block + parent->fill++;
		}
		struct imap_arg *a = &args[pos];
		a->type = n->type;
		if (n->type == IMAP_ARG_LIST) {
			n->block = next;
			n->fill = 0;
			next += n->len + 1;
			a->len = n->len;
			a->list = &args[n->block];
		} else {
			a->literal8 = n->literal8;
			a->nonsync = n->nonsync;
			a->len = n->len;
			a->str = base + n->off;
		}
	}
	/* EOL elements are zeroed by xcalloc (type IMAP_ARG_EOL). */
	blk->cmd.tag = base;
	blk->cmd.name = base + p->name_off;
	blk->cmd.args = args;
	blk->cmd.arg_count = (unsigned)top;
	blk->cmd.size = p->cmd_size;
	blk->cmd.storage_ = NULL; /* the strings stay the parser's until taken */
	p->done = blk;
}

static enum step end_of_line(struct imap_parser *p)
{
	if (p->depth > 0)
		return fail_at(p, IMAP_PARSE_ERR_SYNTAX, "Missing ')'", SKIP_NONE, true);
	build_command(p);
	p->pending_reset = true;
	p->state = ST_START;
	return STEP_COMPLETE;
}

/* ------------------------------------------------------------------ */
/* Tag and command name */

static void name_finished(struct imap_parser *p)
{
	p->name_len = p->strings.len - p->name_off;
	str_end(p);
	p->name_done = true;
	const char *name = p->strings.data + p->name_off;
	p->fetch = strcmp(name, "FETCH") == 0 || strcmp(name, "UID FETCH") == 0;
}

static enum step name_char(struct imap_parser *p, unsigned char c)
{
	if (p->strings.len - p->name_off >= NAME_MAX_LEN)
		return fail(p, "Command name too long");
	if (c >= 'a' && c <= 'z')
		c = (unsigned char)(c - 'a' + 'A');
	str_putc(p, c);
	return STEP_NEXT;
}

/* ------------------------------------------------------------------ */
/* Literals */

/* The literal limit of the command being read: APPEND may carry a whole
 * message, other commands only max_literal_other. */
static uint64_t literal_limit(const struct imap_parser *p)
{
	if (p->lim.max_literal_other == 0 || p->lim.max_literal_other >= p->lim.max_literal)
		return p->lim.max_literal;
	bool append = p->name_done && p->name_len == 6 &&
		      memcmp(p->strings.data + p->name_off, "APPEND", 6) == 0;
	return append ? p->lim.max_literal : p->lim.max_literal_other;
}

/* The CRLF after "{n}" / "{n+}" was read (the LF is the current byte). */
static enum step literal_start(struct imap_parser *p)
{
	uint64_t n = p->lit_overflow ? UINT64_MAX : p->lit_size;
	bool nonsync = p->lit_nonsync;
	enum imap_parse_error code = IMAP_PARSE_ERR_NONE;
	const char *msg = NULL;

	if (nonsync && (p->flags & (IMAP_PARSER_LITERAL_PLUS | IMAP_PARSER_LITERAL_MINUS)) == 0) {
		code = IMAP_PARSE_ERR_SYNTAX;
		msg = "Non-synchronizing literals not supported";
	} else if (nonsync && (p->flags & IMAP_PARSER_LITERAL_PLUS) == 0 &&
		   n > IMAP_LITERAL_MINUS_MAX) {
		code = IMAP_PARSE_ERR_LITERAL_TOO_BIG;
		msg = "Non-synchronizing literal larger than 4096 bytes";
	} else if (n > literal_limit(p)) {
		code = IMAP_PARSE_ERR_LITERAL_TOO_BIG;
		msg = "Literal too big";
	} else if (n > p->lim.max_command - p->cmd_size) {
		code = IMAP_PARSE_ERR_COMMAND_TOO_BIG;
		msg = "Command too big";
	} else if (p->node_count >= p->lim.max_args) {
		code = IMAP_PARSE_ERR_TOO_MANY_ARGS;
		msg = "Too many arguments";
	}
	if (code != IMAP_PARSE_ERR_NONE) {
		if (!nonsync) /* the client waits for "+" and will not send it */
			return fail_at(p, code, msg, SKIP_NONE, true);
		if (p->lit_overflow)
			return fail_at(p, code, msg, SKIP_FATAL, true);
		p->lit_left = n;
		return fail_at(p, code, msg, SKIP_DATA, true);
	}

	long idx = new_node(p, IMAP_ARG_LITERAL); /* cannot fail: checked above */
	p->nodes[idx].literal8 = p->lit8;
	p->nodes[idx].nonsync = nonsync;
	p->lit_left = n;
	p->line_len = 0; /* the literal's contents are not part of any line */
	if (nonsync) {
		p->state = ST_LIT_DATA;
		return STEP_NEXT;
	}
	p->state = ST_LIT_WAIT;
	return STEP_LITERAL;
}

static enum step literal_header_begin(struct imap_parser *p, bool lit8)
{
	if (p->node_count >= p->lim.max_args)
		return fail_at(p, IMAP_PARSE_ERR_TOO_MANY_ARGS, "Too many arguments", SKIP_LINE,
			       false);
	p->lit_size = 0;
	p->lit_digits = 0;
	p->lit_overflow = false;
	p->lit8 = lit8;
	p->lit_nonsync = false;
	p->state = ST_LIT_DIGITS;
	return STEP_NEXT;
}

/* ------------------------------------------------------------------ */
/* Skipping */

static enum step skip_done(struct imap_parser *p)
{
	p->pending_reset = false;
	if (p->state == ST_SKIP_PLAIN)
		p->line_mode = false; /* line mode covers exactly one line */
	reset_command(p);
	return STEP_NEXT;
}

static enum step skip_literal(struct imap_parser *p, bool nonsync)
{
	if (!nonsync)
		return skip_done(p); /* the client waits for "+": command over */
	if (p->lit_overflow || p->lit_size > p->lim.max_skip - p->skipped)
		return fail_at(p, IMAP_PARSE_ERR_SKIP_LIMIT, "Too much data after an error",
			       SKIP_FATAL, true);
	p->lit_left = p->lit_size;
	p->state = ST_SKIP_DATA;
	return STEP_NEXT;
}

static bool lit_digit(struct imap_parser *p, unsigned char c)
{
	if (c < '0' || c > '9')
		return false;
	if (p->lit_size > (UINT64_MAX - 9) / 10)
		p->lit_overflow = true;
	else
		p->lit_size = p->lit_size * 10 + (uint64_t)(c - '0');
	if (p->lit_digits < 1000)
		p->lit_digits++;
	return true;
}

static enum step step_skip(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case ST_SKIP:
		if (c == '\n')
			return skip_done(p);
		if (c == '"')
			p->state = ST_SKIP_Q;
		else if (c == '{') {
			p->lit_size = 0;
			p->lit_digits = 0;
			p->lit_overflow = false;
			p->state = ST_SKIP_LIT;
		}
		return STEP_NEXT;
	case ST_SKIP_Q:
		if (c == '\n')
			return skip_done(p);
		if (c == '\\')
			p->state = ST_SKIP_QE;
		else if (c == '"')
			p->state = ST_SKIP;
		return STEP_NEXT;
	case ST_SKIP_QE:
		if (c == '\n')
			return skip_done(p);
		p->state = ST_SKIP_Q;
		return STEP_NEXT;
	case ST_SKIP_LIT:
		if (lit_digit(p, c))
			return STEP_NEXT;
		if (p->lit_digits > 0 && c == '+') {
			p->state = ST_SKIP_LIT_CLOSE;
			return STEP_NEXT;
		}
		if (p->lit_digits > 0 && c == '}') {
			p->lit_nonsync = false;
			p->state = ST_SKIP_LIT_CR;
			return STEP_NEXT;
		}
		p->state = ST_SKIP;
		return STEP_AGAIN;
	case ST_SKIP_LIT_CLOSE:
		if (c == '}') {
			p->lit_nonsync = true;
			p->state = ST_SKIP_LIT_CR;
			return STEP_NEXT;
		}
		p->state = ST_SKIP;
		return STEP_AGAIN;
	case ST_SKIP_LIT_CR:
		if (c == '\r') {
			p->state = ST_SKIP_LIT_LF;
			return STEP_NEXT;
		}
		if (c == '\n')
			return skip_literal(p, p->lit_nonsync);
		p->state = ST_SKIP;
		return STEP_AGAIN;
	case ST_SKIP_LIT_LF:
		if (c == '\n')
			return skip_literal(p, p->lit_nonsync);
		p->state = ST_SKIP;
		return STEP_AGAIN;
	case ST_SKIP_PLAIN:
		if (c == '\n')
			return skip_done(p);
		return STEP_NEXT;
	default:
		return STEP_NEXT;
	}
}

/* ------------------------------------------------------------------ */
/* Line mode */

static enum step step_line(struct imap_parser *p, unsigned char c)
{
	if (p->state == ST_LINE_LF) {
		if (c != '\n')
			return fail_at(p, IMAP_PARSE_ERR_SYNTAX, "CR not followed by LF",
				       SKIP_PLAIN, false);
	} else if (c == '\r') {
		p->state = ST_LINE_LF;
		return STEP_NEXT;
	}
	if (c == '\n') {
		p->line_len_out = p->strings.len;
		str_end(p);
		p->line_ready = true;
		p->line_mode = false;
		p->pending_reset = true;
		p->state = ST_START;
		return STEP_LINE;
	}
	if (++p->line_len > p->lim.max_line)
		return fail_at(p, IMAP_PARSE_ERR_LINE_TOO_LONG, "Line too long", SKIP_PLAIN, false);
	if (c == '\0')
		return fail_at(p, IMAP_PARSE_ERR_SYNTAX, "NUL byte in line", SKIP_PLAIN, false);
	if (p->line_kind == IMAP_LINE_BASE64) {
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
		/* "*" alone cancels the exchange. */
		if (c == '*' && p->strings.len == 0)
			ok = true;
		else if (p->strings.len == 1 && p->strings.data[0] == '*')
			ok = false;
		if (!ok)
			return fail_at(p, IMAP_PARSE_ERR_SYNTAX, "Invalid base64 data", SKIP_PLAIN,
				       false);
	}
	str_putc(p, c);
	return STEP_NEXT;
}

/* ------------------------------------------------------------------ */
/* Commands */

static enum step start_atom(struct imap_parser *p, unsigned char c)
{
	if (new_node(p, IMAP_ARG_ATOM) < 0)
		return STEP_ERROR;
	str_putc(p, c);
	p->state = ST_ATOM;
	if (c == '[' && p->fetch)
		p->state = ST_BRACKET;
	return STEP_NEXT;
}

static enum step step_command(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case ST_START:
		/* handled by the caller (empty lines, first tag byte) */
		return STEP_NEXT;

	case ST_TAG:
		if (is_tag_char(c)) {
			str_putc(p, c);
			return STEP_NEXT;
		}
		if (c == ' ') {
			p->tag_len = p->strings.len;
			str_end(p);
			p->tag_done = true;
			p->state = ST_AFTER_TAG;
			return STEP_NEXT;
		}
		if (c == '\r' || c == '\n') {
			p->tag_len = p->strings.len;
			str_end(p);
			p->tag_done = true;
			return fail(p, "Missing command");
		}
		return fail(p, "Invalid character in tag");

	case ST_AFTER_TAG:
		if (c == ' ')
			return STEP_NEXT;
		if (c == '\r' || c == '\n')
			return fail(p, "Missing command");
		if (!is_name_char(c))
			return fail(p, "Invalid command name");
		p->name_off = p->strings.len;
		p->state = ST_NAME;
		return STEP_AGAIN;

	case ST_NAME:
	case ST_NAME2:
		if (is_name_char(c))
			return name_char(p, c);
		if (c == ' ' || c == '\r' || c == '\n') {
			if (p->state == ST_NAME &&
			    strncmp(p->strings.data + p->name_off, "UID", 3) == 0 &&
			    p->strings.len - p->name_off == 3 && c == ' ') {
				p->state = ST_AFTER_UID;
				return STEP_NEXT;
			}
			name_finished(p);
			p->state = ST_ARGS;
			return STEP_AGAIN;
		}
		return fail(p, "Invalid command name");

	case ST_AFTER_UID:
		if (c == ' ')
			return STEP_NEXT;
		if (is_name_char(c)) {
			str_putc(p, ' ');
			p->state = ST_NAME2;
			return STEP_AGAIN;
		}
		if (c == '\r' || c == '\n') {
			name_finished(p);
			p->state = ST_ARGS;
			return STEP_AGAIN;
		}
		return fail(p, "Invalid command name");

	case ST_ARGS:
		switch (c) {
		case ' ':
			return STEP_NEXT;
		case '\r':
			p->state = ST_EOL_LF;
			return STEP_NEXT;
		case '\n':
			return end_of_line(p);
		case '(': {
			if (p->depth >= p->lim.max_depth)
				return fail_at(p, IMAP_PARSE_ERR_TOO_DEEP, "Too deep nesting",
					       SKIP_LINE, false);
			long idx = new_node(p, IMAP_ARG_LIST);
			if (idx < 0)
				return STEP_ERROR;
			p->cur_list = (uint32_t)idx;
			p->depth++;
			return STEP_NEXT;
		}
		case ')':
			return close_list(p);
		case '"':
			if (new_node(p, IMAP_ARG_QUOTED) < 0)
				return STEP_ERROR;
			p->state = ST_QUOTED;
			return STEP_NEXT;
		case '{':
			return literal_header_begin(p, false);
		case '~':
			p->state = ST_TILDE;
			return STEP_NEXT;
		default:
			if (is_atom_char(c) || c == '\\')
				return start_atom(p, c);
			return fail(p, c == '\0' ? "NUL byte in command" : "Invalid character");
		}

	case ST_TILDE:
		if (c == '{')
			return literal_header_begin(p, true);
		if (new_node(p, IMAP_ARG_ATOM) < 0)
			return STEP_ERROR;
		str_putc(p, '~');
		p->state = ST_ATOM;
		return STEP_AGAIN;

	case ST_AFTER:
		switch (c) {
		case ' ':
			p->state = ST_ARGS;
			return STEP_NEXT;
		case ')':
			return close_list(p);
		case '\r':
			p->state = ST_EOL_LF;
			return STEP_NEXT;
		case '\n':
			return end_of_line(p);
		default:
			return fail(p, "Missing space between arguments");
		}

	case ST_ATOM:
		if (is_atom_char(c)) {
			str_putc(p, c);
			if (c == '[' && p->fetch)
				p->state = ST_BRACKET;
			return STEP_NEXT;
		}
		switch (c) {
		case ' ':
			end_string(p);
			p->state = ST_ARGS;
			return STEP_NEXT;
		case ')':
			end_string(p);
			return close_list(p);
		case '\r':
			end_string(p);
			p->state = ST_EOL_LF;
			return STEP_NEXT;
		case '\n':
			end_string(p);
			return end_of_line(p);
		default:
			return fail(p,
				    c == '\0' ? "NUL byte in atom" : "Invalid character in atom");
		}

	case ST_BRACKET:
		if (c == ']') {
			str_putc(p, c);
			p->state = ST_ATOM;
			return STEP_NEXT;
		}
		if (c == '"') {
			str_putc(p, c);
			p->state = ST_BRACKET_Q;
			return STEP_NEXT;
		}
		if (c == '{')
			return fail(p, "Literal inside a section specification");
		if (c == '\r' || c == '\n')
			return fail(p, "Missing ']'");
		if (c == ' ' || c == '(' || c == ')' || is_atom_char(c)) {
			str_putc(p, c);
			return STEP_NEXT;
		}
		return fail(p, "Invalid character in section");

	case ST_BRACKET_Q:
		if (c == '"') {
			str_putc(p, c);
			p->state = ST_BRACKET;
			return STEP_NEXT;
		}
		if (c == '\\') {
			str_putc(p, c);
			p->state = ST_BRACKET_QE;
			return STEP_NEXT;
		}
		if (c < 0x20 || c >= 0x7f)
			return fail(p, "Invalid character in section");
		str_putc(p, c);
		return STEP_NEXT;

	case ST_BRACKET_QE:
		if (c != '"' && c != '\\')
			return fail(p, "Invalid escape in quoted string");
		str_putc(p, c);
		p->state = ST_BRACKET_Q;
		return STEP_NEXT;

	case ST_QUOTED:
		if (c == '"') {
			end_string(p);
			p->state = ST_AFTER;
			return STEP_NEXT;
		}
		if (c == '\\') {
			p->state = ST_QUOTED_ESC;
			return STEP_NEXT;
		}
		if (c == '\r' || c == '\n')
			return fail(p, "Missing '\"'");
		if (c == '\0')
			return fail(p, "NUL byte in quoted string");
		str_putc(p, c);
		return STEP_NEXT;

	case ST_QUOTED_ESC:
		if (c != '"' && c != '\\')
			return fail(p, "Invalid escape in quoted string");
		str_putc(p, c);
		p->state = ST_QUOTED;
		return STEP_NEXT;

	case ST_LIT_DIGITS:
		if (lit_digit(p, c))
			return STEP_NEXT;
		if (p->lit_digits > 0 && c == '+') {
			p->lit_nonsync = true;
			p->state = ST_LIT_CLOSE;
			return STEP_NEXT;
		}
		if (p->lit_digits > 0 && c == '}') {
			p->state = ST_LIT_CR;
			return STEP_NEXT;
		}
		return fail(p, "Invalid literal size");

	case ST_LIT_CLOSE:
		if (c == '}') {
			p->state = ST_LIT_CR;
			return STEP_NEXT;
		}
		return fail(p, "Invalid literal size");

	case ST_LIT_CR:
		if (c == '\r') {
			p->state = ST_LIT_LF;
			return STEP_NEXT;
		}
		if (c == '\n')
			return literal_start(p);
		return fail(p, "Literal size not followed by CRLF");

	case ST_LIT_LF:
		if (c == '\n')
			return literal_start(p);
		return fail(p, "Literal size not followed by CRLF");

	case ST_EOL_LF:
		if (c == '\n')
			return end_of_line(p);
		return fail(p, "CR not followed by LF");

	default:
		return fail(p, "Internal parser state");
	}
}

/* Read literal contents in bulk. Returns bytes consumed from data; sets
 * *r when the step ended in an error. */
static size_t literal_data(struct imap_parser *p, const unsigned char *data, size_t len,
			   enum step *r)
{
	size_t n = len;
	if (n > p->lit_left)
		n = (size_t)p->lit_left;
	*r = STEP_NEXT;
	if (!p->lit8) {
		const unsigned char *nul = memchr(data, '\0', n);
		if (nul != NULL) {
			n = (size_t)(nul - data);
			*r = STEP_ERROR;
		}
	}
	if (n > 0 && buf_append(&p->strings, data, n) < 0)
		die("imap parser: string buffer limit");
	p->lit_left -= n;
	p->cmd_size += n;
	if (*r == STEP_ERROR) {
		fail_at(p, IMAP_PARSE_ERR_SYNTAX, "NUL byte in literal (use literal8)", SKIP_DATA,
			false);
		return n;
	}
	if (p->lit_left == 0) {
		end_string(p);
		p->state = ST_AFTER;
	}
	return n;
}

/* Count one byte of the command against the line and command limits. */
static enum step count_byte(struct imap_parser *p, unsigned char c)
{
	if (p->cmd_size >= p->lim.max_command)
		return fail_at(p, IMAP_PARSE_ERR_COMMAND_TOO_BIG, "Command too big", SKIP_LINE,
			       false);
	if (c != '\r' && c != '\n' && p->line_len >= p->lim.max_line)
		return fail_at(p, IMAP_PARSE_ERR_LINE_TOO_LONG, "Line too long", SKIP_LINE, false);
	p->cmd_size++;
	if (c != '\r' && c != '\n')
		p->line_len++;
	return STEP_NEXT;
}

static bool is_skip_state(enum state s)
{
	return s >= ST_SKIP && s <= ST_SKIP_PLAIN;
}

/* The run of bytes at d[0..n) that state `s` would take one by one without
 * any decision (atom characters, quoted-string text, skipped text), cut to
 * what the limits still allow, so that the byte loop can take them in bulk.
 * The byte that ends the run goes through the per-byte path. */
static size_t plain_run(const struct imap_parser *p, const unsigned char *d, size_t n)
{
	size_t i = 0;
	switch (p->state) {
	case ST_ATOM:
		while (i < n && is_atom_char(d[i]) && !(d[i] == '[' && p->fetch))
			i++;
		break;
	case ST_QUOTED:
		while (i < n && d[i] != '"' && d[i] != '\\' && d[i] != '\r' && d[i] != '\n' &&
		       d[i] != '\0')
			i++;
		break;
	case ST_SKIP:
		while (i < n && d[i] != '"' && d[i] != '{' && d[i] != '\n')
			i++;
		if ((uint64_t)i > p->lim.max_skip - p->skipped)
			i = (size_t)(p->lim.max_skip - p->skipped);
		return i;
	default:
		return 0;
	}
	if (i > p->lim.max_line - p->line_len)
		i = p->lim.max_line - p->line_len;
	if ((uint64_t)i > p->lim.max_command - p->cmd_size)
		i = (size_t)(p->lim.max_command - p->cmd_size);
	return i;
}

enum imap_parse_result imap_parser_feed(struct imap_parser *p, const void *data, size_t len,
					size_t *consumed_r)
{
	const unsigned char *d = data;
	size_t i = 0;
	*consumed_r = 0;

	if (p->state == ST_FATAL)
		return IMAP_PARSE_ERROR;
	if (p->state == ST_LIT_WAIT)
		return IMAP_PARSE_LITERAL;
	drop_done(p);
	if (p->pending_reset) {
		p->pending_reset = false;
		reset_command(p);
	}

	while (i < len) {
		enum state s = p->state;
		enum step r;

		if (s == ST_LIT_DATA) {
			i += literal_data(p, d + i, len - i, &r);
			if (r == STEP_ERROR) {
				*consumed_r = i;
				return IMAP_PARSE_ERROR;
			}
			continue;
		}
		if (s == ST_SKIP_DATA) {
			size_t n = len - i;
			if (n > p->lit_left)
				n = (size_t)p->lit_left;
			i += n;
			p->lit_left -= n;
			p->skipped += n;
			if (p->lit_left == 0)
				p->state = ST_SKIP;
			continue;
		}

		size_t run = plain_run(p, d + i, len - i);
		if (run > 0) {
			if (s == ST_SKIP) {
				p->skipped += run;
			} else {
				if (buf_append(&p->strings, d + i, run) < 0)
					die("imap parser: string buffer limit");
				p->line_len += run;
				p->cmd_size += run;
			}
			i += run;
			continue;
		}

		unsigned char c = d[i];
		if (is_skip_state(s)) {
			if (p->skipped >= p->lim.max_skip) {
				fail_at(p, IMAP_PARSE_ERR_SKIP_LIMIT,
					"Too much data after an error", SKIP_FATAL, false);
				*consumed_r = i;
				return IMAP_PARSE_ERROR;
			}
			p->skipped++;
			do {
				r = step_skip(p, c);
			} while (r == STEP_AGAIN);
			if (r == STEP_ERROR_CONSUMED) {
				*consumed_r = i + 1;
				return IMAP_PARSE_ERROR;
			}
			i++;
			continue;
		}
		if (s == ST_LINE || s == ST_LINE_LF) {
			r = step_line(p, c);
		} else if (s == ST_START || s == ST_START_LF) {
			/* Empty lines between commands are ignored. */
			if (c == '\n') {
				p->state = ST_START;
				i++;
				continue;
			}
			if (s == ST_START_LF) {
				r = fail(p, "CR not followed by LF");
			} else if (c == '\r') {
				p->state = ST_START_LF;
				i++;
				continue;
			} else if (!is_tag_char(c)) {
				r = fail(p, "Invalid character in tag");
			} else {
				r = count_byte(p, c);
				if (r == STEP_NEXT) {
					p->state = ST_TAG;
					str_putc(p, c);
				}
			}
		} else {
			r = count_byte(p, c);
			if (r == STEP_NEXT) {
				do {
					r = step_command(p, c);
				} while (r == STEP_AGAIN);
			}
		}

		switch (r) {
		case STEP_NEXT:
		case STEP_AGAIN:
			i++;
			break;
		case STEP_COMPLETE:
			*consumed_r = i + 1;
			return IMAP_PARSE_COMPLETE;
		case STEP_LITERAL:
			*consumed_r = i + 1;
			return IMAP_PARSE_LITERAL;
		case STEP_LINE:
			*consumed_r = i + 1;
			return IMAP_PARSE_LINE;
		case STEP_ERROR:
			*consumed_r = i;
			return IMAP_PARSE_ERROR;
		case STEP_ERROR_CONSUMED:
			*consumed_r = i + 1;
			return IMAP_PARSE_ERROR;
		}
	}
	*consumed_r = len;
	return IMAP_PARSE_NEED_MORE;
}

/* ------------------------------------------------------------------ */
/* Public API */

void imap_parser_set_limits(struct imap_parser *p, const struct imap_parser_limits *limits)
{
	memset(&p->lim, 0, sizeof(p->lim));
	if (limits != NULL)
		p->lim = *limits;
	if (p->lim.max_line == 0)
		p->lim.max_line = IMAP_PARSER_DEFAULT_MAX_LINE;
	if (p->lim.max_literal == 0)
		p->lim.max_literal = IMAP_PARSER_DEFAULT_MAX_LITERAL;
	if (p->lim.max_command == 0)
		p->lim.max_command = IMAP_PARSER_DEFAULT_MAX_COMMAND;
	if (p->lim.max_depth == 0)
		p->lim.max_depth = IMAP_PARSER_DEFAULT_MAX_DEPTH;
	if (p->lim.max_args == 0)
		p->lim.max_args = IMAP_PARSER_DEFAULT_MAX_ARGS;
	if (p->lim.max_skip == 0)
		p->lim.max_skip = IMAP_PARSER_DEFAULT_MAX_SKIP;
}

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits, unsigned flags)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));
	imap_parser_set_limits(p, limits);
	p->flags = flags;
	buf_init(&p->strings, 0);
	reset_command(p);
	return p;
}

void imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;
	if (p == NULL)
		return;
	drop_done(p);
	buf_free(&p->strings);
	free(p->nodes);
	free(p);
	*pp = NULL;
}

void imap_parser_set_flags(struct imap_parser *p, unsigned flags)
{
	p->flags = flags;
}

void imap_parser_reset(struct imap_parser *p)
{
	drop_done(p);
	p->line_mode = false;
	p->pending_reset = false;
	reset_command(p);
}

const struct imap_command *imap_parser_command(const struct imap_parser *p)
{
	return p->done != NULL ? &p->done->cmd : NULL;
}

struct imap_command *imap_parser_take_command(struct imap_parser *p)
{
	if (p->done == NULL)
		return NULL;
	struct imap_command *cmd = &p->done->cmd;
	p->done = NULL;
	/* The strings move to the command; the parser starts a new buffer. */
	cmd->storage_ = p->strings.data;
	buf_init(&p->strings, 0);
	return cmd;
}

void imap_command_free(struct imap_command **cmdp)
{
	struct imap_command *cmd = *cmdp;
	if (cmd == NULL)
		return;
	free(cmd->storage_);
	free(cmd); /* first member of its command_block */
	*cmdp = NULL;
}

bool imap_command_is(const struct imap_command *cmd, const char *name)
{
	return strcmp(cmd->name, name) == 0;
}

const char *imap_parser_tag(const struct imap_parser *p)
{
	if (!p->tag_done || p->line_mode || p->strings.data == NULL)
		return NULL;
	return p->strings.data;
}

const char *imap_parser_command_name(const struct imap_parser *p)
{
	if (!p->name_done || p->strings.data == NULL)
		return NULL;
	return p->strings.data + p->name_off;
}

uint64_t imap_parser_literal_size(const struct imap_parser *p)
{
	return p->lit_size;
}

bool imap_parser_literal_is8(const struct imap_parser *p)
{
	return p->lit8;
}

void imap_parser_literal_accept(struct imap_parser *p)
{
	if (p->state != ST_LIT_WAIT)
		return;
	if (p->lit_left == 0) {
		end_string(p);
		p->state = ST_AFTER;
	} else {
		p->state = ST_LIT_DATA;
	}
}

void imap_parser_literal_reject(struct imap_parser *p)
{
	if (p->state != ST_LIT_WAIT)
		return;
	p->state = ST_START;
	p->pending_reset = true;
}

const char *imap_parser_error(const struct imap_parser *p, enum imap_parse_error *code_r,
			      bool *fatal_r)
{
	if (code_r != NULL)
		*code_r = p->err;
	if (fatal_r != NULL)
		*fatal_r = p->err_fatal;
	return p->err_msg != NULL ? p->err_msg : "No error";
}

void imap_parser_expect_line(struct imap_parser *p, enum imap_line_kind kind)
{
	drop_done(p);
	p->line_mode = true;
	p->line_kind = kind;
	p->pending_reset = false;
	reset_command(p);
}

const char *imap_parser_line(const struct imap_parser *p, size_t *len_r)
{
	if (!p->line_ready) {
		*len_r = 0;
		return NULL;
	}
	*len_r = p->line_len_out;
	return p->strings.data;
}

/* ------------------------------------------------------------------ */
/* Argument accessors */

bool imap_arg_is_eol(const struct imap_arg *arg)
{
	return arg->type == IMAP_ARG_EOL;
}

bool imap_arg_atom_equals(const struct imap_arg *arg, const char *word)
{
	if (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL)
		return false;
	size_t n = strlen(word);
	return arg->len == n && ascii_nieq(arg->str, word, n);
}

bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL)
		return false;
	*str_r = arg->str;
	if (len_r != NULL)
		*len_r = arg->len;
	return true;
}

bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type != IMAP_ARG_QUOTED && arg->type != IMAP_ARG_LITERAL)
		return false;
	*str_r = arg->str;
	if (len_r != NULL)
		*len_r = arg->len;
	return true;
}

bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL &&
	    arg->type != IMAP_ARG_QUOTED && arg->type != IMAP_ARG_LITERAL)
		return false;
	*str_r = arg->str;
	if (len_r != NULL)
		*len_r = arg->len;
	return true;
}

bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type == IMAP_ARG_NIL) {
		*str_r = NULL;
		if (len_r != NULL)
			*len_r = 0;
		return true;
	}
	return imap_arg_get_string(arg, str_r, len_r);
}

bool imap_arg_get_list(const struct imap_arg *arg, const struct imap_arg **list_r, size_t *count_r)
{
	if (arg->type != IMAP_ARG_LIST)
		return false;
	*list_r = arg->list;
	if (count_r != NULL)
		*count_r = arg->len;
	return true;
}
