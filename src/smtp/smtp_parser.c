/* smtp_parser.c - tokenises one SMTP command line. Lenient where real
 * clients commonly differ (case of verbs, a space after "FROM:", a bare
 * path without brackets), strict where ambiguity would be dangerous
 * (control bytes, parameter syntax, BDAT sizes, RFC 3461 DSN values). */
#include "smtp/smtp_parser.h"

#include <string.h>
#include <strings.h>

#include "core/utf8.h"
#include "core/util.h"

static const char *const verb_names[SMTP_VERB_COUNT] = {
	"?",    "HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET",
	"NOOP", "QUIT", "VRFY", "EXPN", "HELP", "STARTTLS", "AUTH",
};

const char *smtp_verb_name(enum smtp_verb verb)
{
	return verb < SMTP_VERB_COUNT ? verb_names[verb] : "?";
}

static enum smtp_parse_result fail(enum smtp_parse_result r, const char *why, const char **error_r)
{
	*error_r = why;
	return r;
}

static bool is_keyword_char(unsigned char c, bool first)
{
	bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
	return alnum || (!first && c == '-');
}

/* Parse " KEY[=VALUE] KEY[=VALUE]..." in [p, end), NUL-terminating each
 * keyword and value in place. */
static enum smtp_parse_result parse_params(char *p, char *end, struct smtp_cmd *cmd,
					   const char **error_r)
{
	for (;;) {
		while (p < end && *p == ' ')
			*p++ = '\0';
		if (p >= end)
			return SMTP_PARSE_OK;
		char *tok = p;
		while (p < end && *p != ' ')
			p++;
		*p = '\0'; /* a space, or the line's own terminator */
		if (p < end)
			p++;
		if (cmd->param_count == SMTP_MAX_PARAMS)
			return fail(SMTP_PARSE_SYNTAX, "too many parameters", error_r);
		char *q = tok;
		if (!is_keyword_char((unsigned char)*q, true))
			return fail(SMTP_PARSE_SYNTAX, "bad parameter keyword", error_r);
		while (is_keyword_char((unsigned char)*q, false))
			q++;
		char *value = NULL;
		if (*q == '=') {
			*q++ = '\0';
			value = q;
			if (*value == '\0')
				return fail(SMTP_PARSE_SYNTAX, "empty parameter value", error_r);
			for (; *q != '\0'; q++) {
				unsigned char c = (unsigned char)*q;
				/* esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 */
				if (c < 33 || c == '=' || c == 127)
					return fail(SMTP_PARSE_SYNTAX, "bad parameter value", error_r);
			}
		} else if (*q != '\0') {
			return fail(SMTP_PARSE_SYNTAX, "bad parameter keyword", error_r);
		}
		cmd->params[cmd->param_count].keyword = tok;
		cmd->params[cmd->param_count].value = value;
		cmd->param_count++;
	}
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* xtext (RFC 3461 4): xchar = '!'..'~' except '+' and '='; hexchar = "+XX".
 * With allow_utf8, raw UTF-8 sequences are copied as they are (the
 * utf-8-addr-unitext of RFC 6533 3, for ORCPT=utf-8;...). */
static int xtext_decode(const char *in, size_t len, char *out, size_t outlen, bool allow_utf8)
{
	size_t o = 0;
	if (outlen == 0)
		return -1;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)in[i];
		size_t n = 1;
		if (c == '+') {
			if (len - i < 3)
				return -1;
			int hi = hex_value((unsigned char)in[i + 1]);
			int lo = hex_value((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 3;
		} else if (c >= 33 && c <= 126 && c != '=') {
			i++;
		} else if (c >= 0x80 && allow_utf8) {
			n = utf8_seq_len((const unsigned char *)in + i, len - i);
			if (n == 0)
				return -1;
			if (outlen - o <= n)
				return -1;
			memcpy(out + o, in + i, n);
			o += n;
			i += n;
			continue;
		} else {
			return -1;
		}
		if (outlen - o <= 1)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (int)o;
}

int smtp_xtext_decode(const char *in, size_t len, char *out, size_t outlen)
{
	return xtext_decode(in, len, out, outlen, false);
}

/* atext of RFC 5322 3.2.3 ('=' can never reach here). */
static bool is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool has_control(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return true;
	}
	return false;
}

static enum smtp_parse_result dsn_ret(struct smtp_dsn *d, const char *v, const char **error_r)
{
	if (d->ret != SMTP_DSN_RET_NONE)
		return fail(SMTP_PARSE_SYNTAX, "duplicate RET parameter", error_r);
	if (v != NULL && strcasecmp(v, "FULL") == 0)
		d->ret = SMTP_DSN_RET_FULL;
	else if (v != NULL && strcasecmp(v, "HDRS") == 0)
		d->ret = SMTP_DSN_RET_HDRS;
	else
		return fail(SMTP_PARSE_SYNTAX, "bad RET parameter (FULL or HDRS)", error_r);
	return SMTP_PARSE_OK;
}

static enum smtp_parse_result dsn_envid(struct smtp_dsn *d, const char *v, const char **error_r)
{
	if (d->envid_xtext != NULL)
		return fail(SMTP_PARSE_SYNTAX, "duplicate ENVID parameter", error_r);
	if (v == NULL)
		return fail(SMTP_PARSE_SYNTAX, "bad ENVID parameter", error_r);
	size_t len = strlen(v);
	if (len > SMTP_DSN_ENVID_MAX)
		return fail(SMTP_PARSE_SYNTAX, "ENVID parameter too long", error_r);
	int n = xtext_decode(v, len, d->envid, sizeof(d->envid), false);
	if (n < 0) {
		d->envid[0] = '\0';
		return fail(SMTP_PARSE_SYNTAX, "bad ENVID parameter (xtext)", error_r);
	}
	/* RFC 3461 4.4: printable US-ASCII only. */
	for (int i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d->envid[i];
		if (c < 0x20 || c > 0x7e) {
			d->envid[0] = '\0';
			return fail(SMTP_PARSE_SYNTAX, "bad ENVID parameter (not printable)",
				    error_r);
		}
	}
	d->envid_xtext = v;
	return SMTP_PARSE_OK;
}

static enum smtp_parse_result dsn_notify(struct smtp_dsn *d, const char *v, const char **error_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} kw[] = {
		{"NEVER", SMTP_DSN_NOTIFY_NEVER},
		{"SUCCESS", SMTP_DSN_NOTIFY_SUCCESS},
		{"FAILURE", SMTP_DSN_NOTIFY_FAILURE},
		{"DELAY", SMTP_DSN_NOTIFY_DELAY},
	};
	if (d->notify != 0)
		return fail(SMTP_PARSE_SYNTAX, "duplicate NOTIFY parameter", error_r);
	if (v == NULL)
		return fail(SMTP_PARSE_SYNTAX, "bad NOTIFY parameter", error_r);
	unsigned bits = 0;
	for (const char *p = v;;) {
		size_t n = strcspn(p, ",");
		unsigned bit = 0;
		for (size_t k = 0; k < sizeof(kw) / sizeof(kw[0]); k++)
			if (strlen(kw[k].name) == n && strncasecmp(p, kw[k].name, n) == 0)
				bit = kw[k].bit;
		if (bit == 0)
			return fail(SMTP_PARSE_SYNTAX,
				    "bad NOTIFY parameter (NEVER, or SUCCESS, FAILURE, DELAY)",
				    error_r);
		bits |= bit;
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	if ((bits & SMTP_DSN_NOTIFY_NEVER) != 0 && bits != SMTP_DSN_NOTIFY_NEVER)
		return fail(SMTP_PARSE_SYNTAX, "bad NOTIFY parameter (NEVER with others)", error_r);
	d->notify = bits;
	return SMTP_PARSE_OK;
}

static enum smtp_parse_result dsn_orcpt(struct smtp_dsn *d, const char *v, const char **error_r)
{
	if (d->orcpt_xtext != NULL)
		return fail(SMTP_PARSE_SYNTAX, "duplicate ORCPT parameter", error_r);
	if (v == NULL)
		return fail(SMTP_PARSE_SYNTAX, "bad ORCPT parameter", error_r);
	size_t len = strlen(v);
	if (len > SMTP_DSN_ORCPT_MAX)
		return fail(SMTP_PARSE_SYNTAX, "ORCPT parameter too long", error_r);
	/* original-recipient-address = addr-type ";" xtext; addr-type = atom.
	 * The address itself is not held to the addr-type's syntax (RFC 3461
	 * 4.2), only to xtext. */
	size_t tlen = 0;
	while (tlen < len && v[tlen] != ';') {
		if (!is_atext((unsigned char)v[tlen]))
			return fail(SMTP_PARSE_SYNTAX, "bad ORCPT parameter (addr-type)", error_r);
		tlen++;
	}
	if (tlen == 0 || tlen == len)
		return fail(SMTP_PARSE_SYNTAX, "bad ORCPT parameter (addr-type;address)", error_r);
	memcpy(d->orcpt, v, tlen + 1);
	bool utf8 = tlen == 5 && strncasecmp(v, "utf-8", 5) == 0;
	int n = xtext_decode(v + tlen + 1, len - tlen - 1, d->orcpt + tlen + 1,
			     sizeof(d->orcpt) - tlen - 1, utf8);
	if (n < 0 || has_control(d->orcpt + tlen + 1, (size_t)n)) {
		d->orcpt[0] = '\0';
		return fail(SMTP_PARSE_SYNTAX, "bad ORCPT parameter (xtext)", error_r);
	}
	d->orcpt_type_len = tlen;
	d->orcpt_xtext = v;
	return SMTP_PARSE_OK;
}

/* Validate and decode the RFC 3461 parameters of a MAIL or RCPT. */
static enum smtp_parse_result parse_dsn_params(struct smtp_cmd *cmd, const char **error_r)
{
	struct smtp_dsn *d = &cmd->dsn;
	bool mail = cmd->verb == SMTP_VERB_MAIL;
	for (unsigned i = 0; i < cmd->param_count; i++) {
		struct smtp_param *p = &cmd->params[i];
		enum smtp_parse_result r;
		if (mail && strcasecmp(p->keyword, "RET") == 0)
			r = dsn_ret(d, p->value, error_r);
		else if (mail && strcasecmp(p->keyword, "ENVID") == 0)
			r = dsn_envid(d, p->value, error_r);
		else if (!mail && strcasecmp(p->keyword, "NOTIFY") == 0)
			r = dsn_notify(d, p->value, error_r);
		else if (!mail && strcasecmp(p->keyword, "ORCPT") == 0)
			r = dsn_orcpt(d, p->value, error_r);
		else
			continue;
		if (r != SMTP_PARSE_OK)
			return r;
		p->dsn = true;
	}
	return SMTP_PARSE_OK;
}

/* Find the end of "<...>" honouring quoted strings; returns index after '>'
 * or 0 when unterminated. */
static size_t path_end(const char *p, size_t len)
{
	bool quoted = false;
	for (size_t i = 1; i < len; i++) {
		if (quoted) {
			if (p[i] == '\\' && i + 1 < len)
				i++;
			else if (p[i] == '"')
				quoted = false;
		} else if (p[i] == '"') {
			quoted = true;
		} else if (p[i] == '>') {
			return i + 1;
		} else if (p[i] == '<') {
			return 0;
		}
	}
	return 0;
}

static enum smtp_parse_result parse_path_cmd(char *args, char *end, const char *prefix,
					     struct smtp_cmd *cmd, const char **error_r)
{
	size_t plen = strlen(prefix);
	if ((size_t)(end - args) < plen || strncasecmp(args, prefix, plen) != 0)
		return fail(SMTP_PARSE_SYNTAX,
			    prefix[0] == 'F' ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>",
			    error_r);
	char *p = args + plen;
	while (p < end && *p == ' ')
		p++;
	if (p == end)
		return fail(SMTP_PARSE_SYNTAX, "missing address", error_r);
	size_t n;
	if (*p == '<') {
		n = path_end(p, (size_t)(end - p));
		if (n == 0)
			return fail(SMTP_PARSE_SYNTAX, "unterminated address", error_r);
	} else {
		/* Tolerate a bare mailbox without brackets, as many servers do. */
		n = 0;
		while (p + n < end && p[n] != ' ')
			n++;
	}
	cmd->path = p;
	cmd->path_len = n;
	char *rest = p + n;
	if (rest < end) {
		if (*rest != ' ')
			return fail(SMTP_PARSE_SYNTAX, "garbage after address", error_r);
		/* parse_params() overwrites the separating space with a NUL;
		 * the path keeps its own length. */
		enum smtp_parse_result r = parse_params(rest, end, cmd, error_r);
		if (r != SMTP_PARSE_OK)
			return r;
		return parse_dsn_params(cmd, error_r);
	}
	return SMTP_PARSE_OK;
}

enum smtp_parse_result smtp_cmd_parse(char *line, size_t len, struct smtp_cmd *cmd,
				      const char **error_r)
{
	memset(cmd, 0, sizeof(*cmd));
	*error_r = NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c == '\0' || c == '\r' || c == '\n')
			return fail(SMTP_PARSE_BAD_CHAR, "control character in command", error_r);
		if (c == '\t')
			line[i] = ' ';
	}
	/* Trailing spaces are common and harmless. */
	while (len > 0 && line[len - 1] == ' ')
		len--;
	line[len] = '\0';
	char *end = line + len;

	size_t vlen = 0;
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	enum smtp_verb verb = SMTP_VERB_UNKNOWN;
	for (int v = 1; v < SMTP_VERB_COUNT; v++) {
		if (strlen(verb_names[v]) == vlen && strncasecmp(line, verb_names[v], vlen) == 0) {
			verb = (enum smtp_verb)v;
			break;
		}
	}
	if (verb == SMTP_VERB_UNKNOWN)
		return fail(SMTP_PARSE_UNKNOWN, "command unrecognized", error_r);
	cmd->verb = verb;
	char *args = line + vlen;
	if (args < end)
		args++; /* the single separating space */
	while (args < end && *args == ' ')
		args++;
	cmd->arg = args;

	switch (verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		if (*args == '\0')
			return fail(SMTP_PARSE_SYNTAX,
				    verb == SMTP_VERB_EHLO ? "Syntax: EHLO hostname" : "Syntax: HELO hostname",
				    error_r);
		/* Only the first word counts; some clients add junk. */
		for (char *p = args; *p != '\0'; p++)
			if (*p == ' ')
				*p = '\0';
		return SMTP_PARSE_OK;
	case SMTP_VERB_MAIL:
		return parse_path_cmd(args, end, "FROM:", cmd, error_r);
	case SMTP_VERB_RCPT:
		return parse_path_cmd(args, end, "TO:", cmd, error_r);
	case SMTP_VERB_DATA:
	case SMTP_VERB_RSET:
	case SMTP_VERB_QUIT:
	case SMTP_VERB_STARTTLS:
		if (*args != '\0')
			return fail(SMTP_PARSE_SYNTAX, "no arguments allowed", error_r);
		return SMTP_PARSE_OK;
	case SMTP_VERB_BDAT: {
		char *sp = strchr(args, ' ');
		size_t nlen = sp != NULL ? (size_t)(sp - args) : strlen(args);
		if (parse_u64(args, nlen, &cmd->chunk_size) < 0)
			return fail(SMTP_PARSE_SYNTAX, "Syntax: BDAT size [LAST]", error_r);
		if (sp != NULL) {
			char *kw = sp + 1;
			while (*kw == ' ')
				kw++;
			if (strcasecmp(kw, "LAST") != 0)
				return fail(SMTP_PARSE_SYNTAX, "Syntax: BDAT size [LAST]", error_r);
			cmd->last = true;
		}
		return SMTP_PARSE_OK;
	}
	case SMTP_VERB_VRFY:
	case SMTP_VERB_EXPN:
		if (*args == '\0')
			return fail(SMTP_PARSE_SYNTAX, "argument required", error_r);
		return SMTP_PARSE_OK;
	case SMTP_VERB_AUTH:
		if (*args == '\0')
			return fail(SMTP_PARSE_SYNTAX, "Syntax: AUTH mechanism [initial-response]",
				    error_r);
		return SMTP_PARSE_OK;
	case SMTP_VERB_NOOP:
	case SMTP_VERB_HELP:
	default:
		return SMTP_PARSE_OK;
	}
}

const struct smtp_param *smtp_cmd_param(const struct smtp_cmd *cmd, const char *keyword)
{
	for (unsigned i = 0; i < cmd->param_count; i++)
		if (strcasecmp(cmd->params[i].keyword, keyword) == 0)
			return &cmd->params[i];
	return NULL;
}
