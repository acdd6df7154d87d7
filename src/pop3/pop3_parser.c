/* pop3_parser.c - POP3 command lines: an incremental line splitter with a
 * hard length limit, the command grammar (keyword, arguments, numbers), and
 * the encoder for multi-line responses (line ends, dot-stuffing, TOP). */
#include "pop3/pop3_parser.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

struct pop3_parser {
	size_t max_line, max_response;
	char *line;	      /* max(max_line, max_response) + 1 bytes */
	size_t len;	      /* bytes of the current line stored so far */
	size_t wipe_len;      /* bytes of the previous line still in `line` */
	bool overflow;	      /* current line went over the limit: skipping it */
	bool expect_response; /* the current line is a SASL response */
	struct pop3_cmd cmd;
	size_t response_len;
	enum pop3_parse_error error;
	enum pop3_verb error_verb;
	const char *why;
};

static const struct {
	const char *name;
	enum pop3_verb verb;
} verbs[] = {
    {"USER", POP3_VERB_USER}, {"PASS", POP3_VERB_PASS}, {"AUTH", POP3_VERB_AUTH},
    {"CAPA", POP3_VERB_CAPA}, {"STLS", POP3_VERB_STLS}, {"QUIT", POP3_VERB_QUIT},
    {"STAT", POP3_VERB_STAT}, {"LIST", POP3_VERB_LIST}, {"RETR", POP3_VERB_RETR},
    {"DELE", POP3_VERB_DELE}, {"NOOP", POP3_VERB_NOOP}, {"RSET", POP3_VERB_RSET},
    {"TOP", POP3_VERB_TOP},   {"UIDL", POP3_VERB_UIDL},
};

const char *pop3_verb_name(enum pop3_verb verb)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].verb == verb)
			return verbs[i].name;
	return "?";
}

/* ----- the command grammar ----- */

/* What each command takes: argument count range, and which of them are
 * numbers. */
static const struct {
	unsigned min, max;
	bool numeric;
	const char *syntax;
} grammar[POP3_VERB_COUNT] = {
    [POP3_VERB_USER] = {1, 1, false, "Syntax: USER name"},
    [POP3_VERB_PASS] = {1, 1, false, "Syntax: PASS password"},
    [POP3_VERB_AUTH] = {0, 2, false, "Syntax: AUTH [mechanism [initial-response]]"},
    [POP3_VERB_CAPA] = {0, 0, false, "Syntax: CAPA"},
    [POP3_VERB_STLS] = {0, 0, false, "Syntax: STLS"},
    [POP3_VERB_QUIT] = {0, 0, false, "Syntax: QUIT"},
    [POP3_VERB_STAT] = {0, 0, false, "Syntax: STAT"},
    [POP3_VERB_LIST] = {0, 1, true, "Syntax: LIST [msg]"},
    [POP3_VERB_RETR] = {1, 1, true, "Syntax: RETR msg"},
    [POP3_VERB_DELE] = {1, 1, true, "Syntax: DELE msg"},
    [POP3_VERB_NOOP] = {0, 0, false, "Syntax: NOOP"},
    [POP3_VERB_RSET] = {0, 0, false, "Syntax: RSET"},
    [POP3_VERB_TOP] = {2, 2, true, "Syntax: TOP msg lines"},
    [POP3_VERB_UIDL] = {0, 1, true, "Syntax: UIDL [msg]"},
};

enum pop3_parse_error pop3_cmd_parse(char *line, size_t len, struct pop3_cmd *cmd_r,
				     const char **error_r)
{
	memset(cmd_r, 0, sizeof(*cmd_r));
	line[len] = '\0';
	*error_r = NULL;
	if (memchr(line, '\0', len) != NULL || memchr(line, '\r', len) != NULL ||
	    memchr(line, '\n', len) != NULL) {
		*error_r = "Bad character in command";
		return POP3_ERR_BAD_CHAR;
	}
	size_t klen = strcspn(line, " ");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strlen(verbs[i].name) == klen && ascii_nieq(line, verbs[i].name, klen)) {
			cmd_r->verb = verbs[i].verb;
			break;
		}
	}
	if (cmd_r->verb == POP3_VERB_UNKNOWN) {
		*error_r = klen == 0 ? "Empty command" : "Unknown command";
		return POP3_ERR_UNKNOWN;
	}
	enum pop3_verb v = cmd_r->verb;
	char *p = line + klen;
	if (v == POP3_VERB_PASS) {
		/* Exactly one argument that may contain spaces: the rest of the
		 * line after the single separating space. */
		if (*p != ' ' || p[1] == '\0') {
			*error_r = grammar[v].syntax;
			return POP3_ERR_SYNTAX;
		}
		cmd_r->args[0] = p + 1;
		cmd_r->arg_len[0] = len - klen - 1;
		cmd_r->argc = 1;
		return POP3_ERR_NONE;
	}
	/* Arguments separated by spaces; runs of spaces and trailing spaces
	 * are tolerated (some clients send "LIST "). */
	while (*p != '\0') {
		while (*p == ' ')
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (cmd_r->argc == POP3_MAX_ARGS || cmd_r->argc == grammar[v].max) {
			*error_r = grammar[v].syntax;
			return POP3_ERR_SYNTAX;
		}
		size_t n = strcspn(p, " ");
		cmd_r->args[cmd_r->argc] = p;
		cmd_r->arg_len[cmd_r->argc] = n;
		cmd_r->argc++;
		p += n;
	}
	if (cmd_r->argc < grammar[v].min) {
		*error_r = grammar[v].syntax;
		return POP3_ERR_SYNTAX;
	}
	if (grammar[v].numeric) {
		uint64_t *dst[2] = {&cmd_r->msg, &cmd_r->lines};
		for (unsigned i = 0; i < cmd_r->argc; i++) {
			if (parse_u64(cmd_r->args[i], cmd_r->arg_len[i], dst[i]) < 0) {
				*error_r = "Invalid number";
				return POP3_ERR_SYNTAX;
			}
		}
	}
	return POP3_ERR_NONE;
}

/* ----- the incremental line splitter ----- */

struct pop3_parser *pop3_parser_new(const struct pop3_parser_limits *limits)
{
	struct pop3_parser *p = xcalloc(1, sizeof(*p));
	p->max_line = limits != NULL && limits->max_line > 0 ? limits->max_line : POP3_LINE_MAX;
	p->max_response =
	    limits != NULL && limits->max_response > 0 ? limits->max_response : POP3_RESPONSE_MAX;
	/* A limit counts the LF too; at least one content byte fits. */
	if (p->max_line < 2)
		p->max_line = 2;
	if (p->max_response < 2)
		p->max_response = 2;
	size_t cap = p->max_line > p->max_response ? p->max_line : p->max_response;
	p->line = xmalloc(cap + 1);
	return p;
}

static void wipe_line(struct pop3_parser *p)
{
	size_t n = p->wipe_len > p->len ? p->wipe_len : p->len;
	if (n > 0)
		explicit_bzero(p->line, n);
	p->wipe_len = 0;
}

void pop3_parser_free(struct pop3_parser **pp)
{
	struct pop3_parser *p = *pp;
	if (p == NULL)
		return;
	wipe_line(p);
	explicit_bzero(&p->cmd, sizeof(p->cmd));
	free(p->line);
	free(p);
	*pp = NULL;
}

void pop3_parser_reset(struct pop3_parser *p)
{
	wipe_line(p);
	p->len = 0;
	p->overflow = false;
	p->expect_response = false;
	memset(&p->cmd, 0, sizeof(p->cmd));
}

void pop3_parser_expect_response(struct pop3_parser *p)
{
	p->expect_response = true;
}

static enum pop3_parse_result fail(struct pop3_parser *p, enum pop3_parse_error code,
				   const char *why)
{
	p->error = code;
	p->why = why;
	return POP3_PARSE_ERROR;
}

enum pop3_parse_result pop3_parser_feed(struct pop3_parser *p, const char *data, size_t len,
					size_t *used_r)
{
	/* The previous line may have been a password: erase it first. */
	if (p->wipe_len > 0) {
		explicit_bzero(p->line, p->wipe_len);
		p->wipe_len = 0;
	}
	memset(&p->cmd, 0, sizeof(p->cmd));
	p->error = POP3_ERR_NONE;
	p->error_verb = POP3_VERB_UNKNOWN;
	p->why = NULL;
	size_t limit = p->expect_response ? p->max_response : p->max_line;
	const char *nl = len > 0 ? memchr(data, '\n', len) : NULL;
	size_t take = nl != NULL ? (size_t)(nl - data) : len;
	if (!p->overflow) {
		/* Content plus its LF must fit in the limit. */
		if (take > limit - 1 - p->len) {
			explicit_bzero(p->line, p->len);
			p->len = 0;
			p->overflow = true;
		} else {
			memcpy(p->line + p->len, data, take);
			p->len += take;
		}
	}
	if (nl == NULL) {
		*used_r = len;
		return POP3_PARSE_NEED_MORE;
	}
	*used_r = take + 1;

	/* A complete line. */
	bool response = p->expect_response;
	bool overflow = p->overflow;
	size_t n = p->len;
	p->expect_response = false;
	p->overflow = false;
	p->len = 0;
	p->wipe_len = n;
	if (overflow)
		return fail(p, POP3_ERR_TOO_LONG, "Line too long");
	if (n > 0 && p->line[n - 1] == '\r')
		n--;
	if (memchr(p->line, '\0', n) != NULL || memchr(p->line, '\r', n) != NULL)
		return fail(p, POP3_ERR_BAD_CHAR, "Bad character in command");
	if (response) {
		p->line[n] = '\0';
		p->response_len = n;
		return POP3_PARSE_RESPONSE;
	}
	const char *why;
	enum pop3_parse_error e = pop3_cmd_parse(p->line, n, &p->cmd, &why);
	if (e != POP3_ERR_NONE) {
		p->error_verb = p->cmd.verb;
		memset(&p->cmd, 0, sizeof(p->cmd));
		return fail(p, e, why);
	}
	return POP3_PARSE_COMMAND;
}

const struct pop3_cmd *pop3_parser_command(const struct pop3_parser *p)
{
	return &p->cmd;
}

const char *pop3_parser_response(const struct pop3_parser *p, size_t *len_r)
{
	*len_r = p->response_len;
	return p->line;
}

const char *pop3_parser_error(const struct pop3_parser *p, enum pop3_parse_error *code_r,
			      enum pop3_verb *verb_r)
{
	if (code_r != NULL)
		*code_r = p->error;
	if (verb_r != NULL)
		*verb_r = p->error_verb;
	return p->why != NULL ? p->why : "";
}

/* ----- multi-line responses ----- */

void pop3_encoder_init(struct pop3_encoder *e, bool top, uint64_t body_lines)
{
	memset(e, 0, sizeof(*e));
	e->top = top;
	e->line_start = true;
	e->lines_left = body_lines;
}

bool pop3_encoder_done(const struct pop3_encoder *e)
{
	return e->done;
}

/* A line ended (its CRLF is written): header/body bookkeeping for TOP. */
static void end_line(struct pop3_encoder *e, char *out, size_t *o)
{
	out[(*o)++] = '\r';
	out[(*o)++] = '\n';
	if (!e->in_body) {
		if (e->line_len == 0) {
			e->in_body = true;
			if (e->top && e->lines_left == 0)
				e->done = true;
		}
	} else if (e->top && --e->lines_left == 0) {
		e->done = true;
	}
	e->line_start = true;
	e->line_len = 0;
}

int pop3_encoder_feed(struct pop3_encoder *e, const char *data, size_t len, struct buf *out)
{
	if (e->done || len == 0)
		return 0;
	/* Each input byte becomes at most two output bytes (".." or CRLF),
	 * and a pending CR adds two more. */
	char *w = buf_reserve(out, 2 * len + 2);
	if (w == NULL)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < len && !e->done; i++) {
		char c = data[i];
		if (e->pending_cr) {
			e->pending_cr = false;
			end_line(e, w, &o);
			if (c == '\n' || e->done)
				continue;
		}
		if (c == '\r') {
			e->pending_cr = true;
			continue;
		}
		if (c == '\n') {
			end_line(e, w, &o);
			continue;
		}
		if (e->line_start && c == '.')
			w[o++] = '.';
		e->line_start = false;
		e->line_len++;
		w[o++] = c;
	}
	buf_commit(out, o);
	return 0;
}

int pop3_encoder_finish(struct pop3_encoder *e, struct buf *out)
{
	char *w = buf_reserve(out, 7);
	if (w == NULL)
		return -1;
	size_t o = 0;
	if (!e->done) {
		if (e->pending_cr) {
			e->pending_cr = false;
			end_line(e, w, &o);
		}
		if (!e->done && !e->line_start) {
			w[o++] = '\r';
			w[o++] = '\n';
			e->line_start = true;
		}
	}
	memcpy(w + o, ".\r\n", 3);
	o += 3;
	buf_commit(out, o);
	e->done = true;
	return 0;
}
