/* smtp_reply.c - incremental SMTP reply parser and EHLO keyword reader for
 * the outbound client. Strict about what would put client and server out of
 * step (codes, separators, mixed codes, sizes), lenient about bare LF. */
#include "smtp/smtp_reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "core/util.h"

struct smtp_reply_parser {
	struct smtp_reply_limits lim;
	/* The text of the reply's lines, each NUL-terminated, one after the
	 * other; the line being read sits raw (code included) at its end. */
	char *text;
	size_t text_len, text_cap;
	size_t line_start; /* where the raw current line begins in text */
	size_t *offsets;   /* start of each finished line's text */
	const char **ptrs; /* handed out in struct smtp_reply */
	unsigned nlines;
	unsigned code;
	char enhanced[SMTP_ENHANCED_MAX];
	bool complete; /* the last call returned a reply: start afresh */
	const char *error;
};

struct smtp_reply_parser *smtp_reply_parser_new(const struct smtp_reply_limits *limits)
{
	struct smtp_reply_parser *p = xcalloc(1, sizeof(*p));
	if (limits != NULL)
		p->lim = *limits;
	if (p->lim.max_line == 0)
		p->lim.max_line = SMTP_REPLY_LINE_MAX;
	if (p->lim.max_line < 3)
		p->lim.max_line = 3;
	if (p->lim.max_lines == 0)
		p->lim.max_lines = SMTP_REPLY_LINES_MAX;
	p->offsets = xcalloc(p->lim.max_lines, sizeof(*p->offsets));
	p->ptrs = xcalloc(p->lim.max_lines, sizeof(*p->ptrs));
	return p;
}

void smtp_reply_parser_free(struct smtp_reply_parser **parser)
{
	struct smtp_reply_parser *p = *parser;
	if (p == NULL)
		return;
	free(p->text);
	free(p->offsets);
	free(p->ptrs);
	free(p);
	*parser = NULL;
}

static void start_reply(struct smtp_reply_parser *p)
{
	p->text_len = 0;
	p->line_start = 0;
	p->nlines = 0;
	p->code = 0;
	p->enhanced[0] = '\0';
	p->complete = false;
}

void smtp_reply_parser_reset(struct smtp_reply_parser *p)
{
	start_reply(p);
	p->error = NULL;
	/* A long reply's memory need not stay with an idle connection. */
	free(p->text);
	p->text = NULL;
	p->text_cap = 0;
}

static void text_append(struct smtp_reply_parser *p, const char *data, size_t len)
{
	if (p->text_len + len + 1 > p->text_cap) {
		size_t cap = p->text_cap == 0 ? 256 : p->text_cap;
		while (cap < p->text_len + len + 1)
			cap *= 2;
		p->text = xrealloc(p->text, cap);
		p->text_cap = cap;
	}
	memcpy(p->text + p->text_len, data, len);
	p->text_len += len;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* 1 to `max` digits at s; returns how many (0 if none or too many). */
static size_t digits(const char *s, size_t max)
{
	size_t n = 0;
	while (is_digit(s[n]))
		n++;
	return n <= max ? n : 0;
}

/* RFC 3463: class "." subject "." detail, class 2/4/5, subject and detail
 * 1-3 digits, then a space or the end of the line. Returns its length. */
static size_t enhanced_len(const char *s)
{
	if ((s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	size_t n = digits(s + 2, 3);
	if (n == 0 || s[2 + n] != '.')
		return 0;
	size_t m = digits(s + 3 + n, 3);
	if (m == 0)
		return 0;
	size_t len = 3 + n + m;
	return s[len] == ' ' || s[len] == '\0' ? len : 0;
}

static enum smtp_reply_status fail(struct smtp_reply_parser *p, const char *why,
				   const char **error_r)
{
	p->error = why;
	*error_r = why;
	return SMTP_REPLY_ERROR;
}

/* The raw line text[line_start..text_len) is complete (LF removed). Check
 * it, keep its text, and say whether it was the reply's last line. */
static enum smtp_reply_status finish_line(struct smtp_reply_parser *p, const char **error_r)
{
	char *line = p->text + p->line_start;
	size_t len = p->text_len - p->line_start;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (memchr(line, '\r', len) != NULL)
		return fail(p, "CR inside a reply line", error_r);
	if (len > p->lim.max_line)
		return fail(p, "reply line too long", error_r);
	if (len < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]))
		return fail(p, "reply does not start with a 3-digit code", error_r);
	if (line[0] < '2' || line[0] > '5')
		return fail(p, "reply code out of range", error_r);
	unsigned code = (unsigned)(line[0] - '0') * 100u + (unsigned)(line[1] - '0') * 10u +
			(unsigned)(line[2] - '0');
	bool last;
	if (len == 3 || line[3] == ' ')
		last = true;
	else if (line[3] == '-')
		last = false;
	else
		return fail(p, "reply code not followed by space or hyphen", error_r);
	if (p->nlines > 0 && code != p->code)
		return fail(p, "different codes in one multi-line reply", error_r);
	if (p->nlines == p->lim.max_lines)
		return fail(p, "too many lines in reply", error_r);
	p->code = code;
	/* Keep only the text, NUL-terminated, where the raw line began. */
	size_t skip = len > 3 ? 4 : 3;
	memmove(line, line + skip, len - skip);
	line[len - skip] = '\0';
	p->offsets[p->nlines++] = p->line_start;
	p->text_len = p->line_start + len - skip + 1;
	if (p->nlines == 1) {
		size_t e = enhanced_len(line);
		if (e > 0 && e < sizeof(p->enhanced) && (unsigned)(line[0] - '0') == code / 100u) {
			memcpy(p->enhanced, line, e);
			p->enhanced[e] = '\0';
		}
	}
	p->line_start = p->text_len;
	return last ? SMTP_REPLY_DONE : SMTP_REPLY_MORE;
}

enum smtp_reply_status smtp_reply_parse(struct smtp_reply_parser *p, const void *data, size_t len,
					size_t *used_r, struct smtp_reply *reply_r,
					const char **error_r)
{
	const char *in = data;
	*used_r = 0;
	*error_r = NULL;
	if (p->error != NULL) {
		*error_r = p->error;
		return SMTP_REPLY_ERROR;
	}
	if (p->complete)
		start_reply(p);
	size_t i = 0;
	while (i < len) {
		const char *lf = memchr(in + i, '\n', len - i);
		size_t n = lf != NULL ? (size_t)(lf - (in + i)) : len - i;
		size_t have = p->text_len - p->line_start;
		/* The line may grow to max_line plus the CR before its LF. */
		if (have + n > p->lim.max_line + 1)
			return fail(p, "reply line too long", error_r);
		if (memchr(in + i, '\0', n) != NULL)
			return fail(p, "NUL in reply", error_r);
		text_append(p, in + i, n);
		i += n;
		if (lf == NULL)
			break;
		i++; /* the LF */
		enum smtp_reply_status st = finish_line(p, error_r);
		if (st == SMTP_REPLY_ERROR) {
			*used_r = i;
			return st;
		}
		if (st == SMTP_REPLY_DONE) {
			for (unsigned k = 0; k < p->nlines; k++)
				p->ptrs[k] = p->text + p->offsets[k];
			reply_r->code = p->code;
			memcpy(reply_r->enhanced, p->enhanced, sizeof(reply_r->enhanced));
			reply_r->nlines = p->nlines;
			reply_r->lines = p->ptrs;
			p->complete = true;
			*used_r = i;
			return SMTP_REPLY_DONE;
		}
	}
	*used_r = len;
	return SMTP_REPLY_MORE;
}

size_t smtp_reply_text(const struct smtp_reply *r, char *out, size_t outlen)
{
	size_t o = 0;
	size_t elen = strlen(r->enhanced);
	for (unsigned k = 0; k < r->nlines; k++) {
		const unsigned char *s = (const unsigned char *)r->lines[k];
		size_t len = strlen((const char *)s);
		if (elen > 0 && len >= elen && memcmp(s, r->enhanced, elen) == 0 &&
		    (s[elen] == ' ' || s[elen] == '\0')) {
			s += elen;
			len -= elen;
			while (len > 0 && *s == ' ') {
				s++;
				len--;
			}
		}
		if (len == 0)
			continue;
		if (o > 0 && o + 1 < outlen)
			out[o++] = ' ';
		for (size_t i = 0; i < len && o + 1 < outlen;) {
			unsigned char c = s[i];
			if (c >= 0x80) {
				size_t n = utf8_seq_len(s + i, len - i);
				if (n > 0) {
					if (o + n >= outlen)
						break;
					memcpy(out + o, s + i, n);
					o += n;
					i += n;
					continue;
				}
				c = '?';
			} else if (c == '\t') {
				c = ' ';
			} else if (c < 0x20 || c == 0x7f) {
				c = '?';
			}
			out[o++] = (char)c;
			i++;
		}
	}
	if (outlen > 0)
		out[o < outlen ? o : outlen - 1] = '\0';
	return o < outlen ? o : outlen - 1;
}

/* Does the line start with keyword `kw` followed by the end, a space or
 * (for the old AUTH= form) '='? Sets *rest_r to what follows. */
static bool keyword_is(const char *line, const char *kw, const char **rest_r)
{
	size_t n = strlen(kw);
	if (!ascii_nieq(line, kw, n))
		return false;
	char c = line[n];
	if (c != '\0' && c != ' ' && c != '=')
		return false;
	*rest_r = line + n;
	return true;
}

static unsigned auth_mechs(const char *s)
{
	static const struct {
		const char *name;
		unsigned bit;
	} mechs[] = {
	    {"PLAIN", SMTP_AUTH_PLAIN},
	    {"LOGIN", SMTP_AUTH_LOGIN},
	    {"CRAM-MD5", SMTP_AUTH_CRAM_MD5},
	    {"XOAUTH2", SMTP_AUTH_XOAUTH2},
	};
	unsigned bits = 0;
	while (*s != '\0') {
		while (*s == ' ' || *s == '=')
			s++;
		size_t n = 0;
		while (s[n] != '\0' && s[n] != ' ')
			n++;
		if (n == 0)
			break;
		unsigned bit = SMTP_AUTH_OTHER;
		for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
			if (strlen(mechs[i].name) == n && ascii_nieq(s, mechs[i].name, n))
				bit = mechs[i].bit;
		bits |= bit;
		s += n;
	}
	return bits;
}

void smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *e)
{
	memset(e, 0, sizeof(*e));
	/* The first line is the server's name and greeting, not a keyword. */
	for (unsigned k = 1; k < r->nlines; k++) {
		const char *line = r->lines[k];
		const char *rest;
		if (keyword_is(line, "STARTTLS", &rest)) {
			e->starttls = true;
		} else if (keyword_is(line, "PIPELINING", &rest)) {
			e->pipelining = true;
		} else if (keyword_is(line, "8BITMIME", &rest)) {
			e->eightbitmime = true;
		} else if (keyword_is(line, "SMTPUTF8", &rest)) {
			e->smtputf8 = true;
		} else if (keyword_is(line, "DSN", &rest)) {
			e->dsn = true;
		} else if (keyword_is(line, "CHUNKING", &rest)) {
			e->chunking = true;
		} else if (keyword_is(line, "ENHANCEDSTATUSCODES", &rest)) {
			e->enhancedstatuscodes = true;
		} else if (keyword_is(line, "SIZE", &rest) && *rest != '=') {
			e->size = true;
			while (*rest == ' ')
				rest++;
			size_t n = strcspn(rest, " ");
			uint64_t v;
			e->size_max = n > 0 && parse_u64(rest, n, &v) == 0 ? v : 0;
		} else if (keyword_is(line, "AUTH", &rest)) {
			e->auth = true;
			e->auth_mechs |= auth_mechs(rest);
		}
	}
}
