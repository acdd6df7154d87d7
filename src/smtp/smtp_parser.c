/* smtp_parser.c - tokenises one SMTP command line. Lenient where real
 * clients commonly differ (case of verbs, a space after "FROM:", a bare
 * path without brackets), strict where ambiguity would be dangerous
 * (control bytes, parameter syntax, BDAT sizes). */
#include "smtp/smtp_parser.h"

#include <string.h>
#include <strings.h>

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
		return parse_params(rest, end, cmd, error_r);
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
