/* smtp_addr.c - RFC 5321 path/mailbox grammar with RFC 6531 UTF-8 and IDN
 * normalisation. Every index is checked against the input length; the
 * output buffers are sized for the protocol maxima. */
#include "smtp/smtp_addr.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/utf8.h"

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_atext(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

bool smtp_addr_is_dot_string(const char *local, bool utf8)
{
	const unsigned char *p = (const unsigned char *)local;
	size_t len = strlen(local);
	bool need_atext = true; /* at start and after a dot */
	for (size_t i = 0; i < len;) {
		if (p[i] == '.') {
			if (need_atext)
				return false;
			need_atext = true;
			i++;
		} else if (p[i] >= 0x80) {
			size_t n = utf8 ? utf8_seq_len(p + i, len - i) : 0;
			if (n == 0)
				return false;
			need_atext = false;
			i += n;
		} else if (is_atext(p[i])) {
			need_atext = false;
			i++;
		} else {
			return false;
		}
	}
	return len > 0 && !need_atext;
}

/* Parse a quoted string at s[0] == '"'; unescaped content goes to out.
 * Returns the number of input bytes used (including both quotes) or 0. */
static size_t parse_quoted(const unsigned char *s, size_t len, char *out, size_t outlen,
			   bool *saw_utf8)
{
	size_t i = 1, o = 0;
	while (i < len) {
		unsigned char c = s[i];
		if (c == '"') {
			out[o] = '\0';
			return i + 1;
		}
		if (c == '\\') {
			if (i + 1 >= len || s[i + 1] < 32 || s[i + 1] > 126)
				return 0;
			c = s[i + 1];
			i += 2;
			if (o + 1 >= outlen)
				return 0;
			out[o++] = (char)c;
			continue;
		}
		if (c >= 0x80) {
			size_t n = utf8_seq_len(s + i, len - i);
			if (n == 0)
				return 0;
			/* Accepted even without SMTPUTF8 so that the caller
			 * can report the precise problem. */
			*saw_utf8 = true;
			if (o + n >= outlen)
				return 0;
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
			continue;
		}
		if (c < 32 || c == 127)
			return 0;
		if (o + 1 >= outlen)
			return 0;
		out[o++] = (char)c;
		i++;
	}
	return 0;
}

static bool valid_address_literal(const char *s, size_t len)
{
	/* s includes the brackets. */
	char tmp[SMTP_DOMAIN_MAX + 1];
	if (len < 3 || len - 2 >= sizeof(tmp))
		return false;
	memcpy(tmp, s + 1, len - 2);
	tmp[len - 2] = '\0';
	unsigned char bin[16];
	if (strncasecmp(tmp, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, tmp + 5, bin) == 1;
	if (inet_pton(AF_INET, tmp, bin) == 1)
		return true;
	/* General-address-literal: Standardized-tag ":" 1*dcontent */
	const char *colon = strchr(tmp, ':');
	if (colon == NULL || colon == tmp || colon[1] == '\0')
		return false;
	for (const char *p = tmp; p < colon; p++)
		if (!is_alpha((unsigned char)*p) && !is_digit((unsigned char)*p) && *p != '-')
			return false;
	for (const char *p = colon + 1; *p != '\0'; p++)
		if ((unsigned char)*p < 33 || (unsigned char)*p > 126 || *p == '[' || *p == ']' ||
		    *p == '\\')
			return false;
	return true;
}

/* Check ASCII LDH labels: let-dig [ldh-str], 1..63 octets each. */
static bool ascii_domain_valid(const char *s, size_t len)
{
	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (is_alpha(c) || is_digit(c)) {
			label++;
		} else if (c == '-') {
			if (label == 0)
				return false;
			label++;
		} else {
			return false;
		}
		if (label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

bool smtp_domain_is_valid(const char *s, size_t len)
{
	return ascii_domain_valid(s, len);
}

/* Lowercase, and convert U-labels to A-labels. Returns an error kind. */
static enum smtp_addr_error normalize_domain(const char *s, size_t len, bool allow_utf8,
					     char *out, size_t outlen, bool *saw_utf8)
{
	bool has8 = false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			has8 = true;
	if (!has8) {
		if (!ascii_domain_valid(s, len) || len >= outlen)
			return SMTP_ADDR_ERR_SYNTAX;
		for (size_t i = 0; i < len; i++)
			out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
		out[len] = '\0';
		return SMTP_ADDR_OK;
	}
	*saw_utf8 = true;
	if (!utf8_valid(s, len))
		return SMTP_ADDR_ERR_SYNTAX;
	if (!allow_utf8)
		return SMTP_ADDR_ERR_UTF8;
	char in[SMTP_DOMAIN_MAX * 4 + 1];
	if (len >= sizeof(in))
		return SMTP_ADDR_ERR_TOO_LONG;
	memcpy(in, s, len);
	in[len] = '\0';
	char *ace = NULL;
	/* IDNA2008 with UTS #46 non-transitional mapping (case folding), and
	 * no transitional fallback: that would silently map one domain onto
	 * another (ZWJ dropped, "ß" to "ss"). */
	int rc = idn2_to_ascii_8z(in, &ace, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK || ace == NULL) {
		free(ace);
		return SMTP_ADDR_ERR_IDN;
	}
	size_t alen = strlen(ace);
	enum smtp_addr_error ret = SMTP_ADDR_OK;
	if (alen >= outlen || !ascii_domain_valid(ace, alen)) {
		ret = SMTP_ADDR_ERR_IDN;
	} else {
		for (size_t i = 0; i <= alen; i++)
			out[i] = (ace[i] >= 'A' && ace[i] <= 'Z') ? (char)(ace[i] + 32) : ace[i];
	}
	free(ace);
	return ret;
}

int smtp_domain_normalize(const char *in, char *out, size_t outlen)
{
	bool saw8 = false;
	return normalize_domain(in, strlen(in), true, out, outlen, &saw8) == SMTP_ADDR_OK ? 0 : -1;
}

static enum smtp_addr_error fail(enum smtp_addr_error e, const char *why, const char **error_r)
{
	*error_r = why;
	return e;
}

enum smtp_addr_error smtp_addr_parse(const char *str, size_t len, unsigned flags,
				     struct smtp_addr *addr, const char **error_r)
{
	const unsigned char *s = (const unsigned char *)str;
	bool allow_utf8 = (flags & SMTP_ADDR_ALLOW_UTF8) != 0;
	memset(addr, 0, sizeof(*addr));
	*error_r = NULL;

	if ((flags & SMTP_ADDR_NO_BRACKETS) == 0) {
		if (len < 2 || s[0] != '<' || s[len - 1] != '>')
			return fail(SMTP_ADDR_ERR_SYNTAX, "address must be enclosed in <>", error_r);
		s++;
		len -= 2;
		if (len + 2 > SMTP_PATH_MAX)
			return fail(SMTP_ADDR_ERR_TOO_LONG, "path too long", error_r);
	}
	if (len == 0) {
		if ((flags & SMTP_ADDR_ALLOW_NULL) == 0)
			return fail(SMTP_ADDR_ERR_SYNTAX, "empty address", error_r);
		addr->null = true;
		return SMTP_ADDR_OK;
	}
	if (s[0] == '@')
		return fail(SMTP_ADDR_ERR_SOURCE_ROUTE, "source routes are not accepted", error_r);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0' || s[i] == '\r' || s[i] == '\n')
			return fail(SMTP_ADDR_ERR_SYNTAX, "control character in address", error_r);
	}

	/* Local part. */
	size_t i;
	bool saw8 = false;
	if (s[0] == '"') {
		i = parse_quoted(s, len, addr->local, sizeof(addr->local), &saw8);
		if (i == 0)
			return fail(SMTP_ADDR_ERR_SYNTAX, "bad quoted local part", error_r);
		addr->quoted = true;
		/* The limit is on the local part as sent, quotes included. */
		if (i > SMTP_LOCAL_MAX)
			return fail(SMTP_ADDR_ERR_TOO_LONG, "local part too long", error_r);
	} else {
		i = 0;
		while (i < len && s[i] != '@')
			i++;
		if (i > SMTP_LOCAL_MAX)
			return fail(SMTP_ADDR_ERR_TOO_LONG, "local part too long", error_r);
		memcpy(addr->local, s, i);
		addr->local[i] = '\0';
		for (size_t k = 0; k < i; k++)
			if (s[k] >= 0x80)
				saw8 = true;
		if (i == len && (flags & SMTP_ADDR_ALLOW_POSTMASTER) != 0 &&
		    strcasecmp(addr->local, "postmaster") == 0) {
			addr->postmaster = true;
			memcpy(addr->local, "postmaster", 11);
			return SMTP_ADDR_OK;
		}
		if (!smtp_addr_is_dot_string(addr->local, true))
			return fail(SMTP_ADDR_ERR_SYNTAX, "bad local part", error_r);
	}
	if (saw8 && !allow_utf8)
		return fail(SMTP_ADDR_ERR_UTF8, "UTF-8 address needs SMTPUTF8", error_r);
	if (saw8 && !utf8_valid(addr->local, strlen(addr->local)))
		return fail(SMTP_ADDR_ERR_SYNTAX, "invalid UTF-8 in local part", error_r);
	addr->utf8 = saw8;
	if (i >= len || s[i] != '@')
		return fail(SMTP_ADDR_ERR_SYNTAX, "missing domain", error_r);
	i++;

	/* Domain or address literal. */
	const char *dom = (const char *)s + i;
	size_t dlen = len - i;
	if (dlen == 0)
		return fail(SMTP_ADDR_ERR_SYNTAX, "missing domain", error_r);
	if (dlen > SMTP_DOMAIN_MAX)
		return fail(SMTP_ADDR_ERR_TOO_LONG, "domain too long", error_r);
	if (dom[0] == '[') {
		if (dom[dlen - 1] != ']' || !valid_address_literal(dom, dlen))
			return fail(SMTP_ADDR_ERR_SYNTAX, "bad address literal", error_r);
		memcpy(addr->domain, dom, dlen);
		addr->domain[dlen] = '\0';
		addr->literal = true;
		return SMTP_ADDR_OK;
	}
	bool dom8 = false;
	enum smtp_addr_error e =
		normalize_domain(dom, dlen, allow_utf8, addr->domain, sizeof(addr->domain), &dom8);
	if (dom8)
		addr->utf8 = true;
	switch (e) {
	case SMTP_ADDR_OK:
		return SMTP_ADDR_OK;
	case SMTP_ADDR_ERR_UTF8:
		return fail(e, "UTF-8 address needs SMTPUTF8", error_r);
	case SMTP_ADDR_ERR_IDN:
		return fail(e, "invalid internationalised domain", error_r);
	case SMTP_ADDR_ERR_TOO_LONG:
		return fail(e, "domain too long", error_r);
	default:
		return fail(SMTP_ADDR_ERR_SYNTAX, "bad domain", error_r);
	}
}

int smtp_addr_format(const struct smtp_addr *addr, char *out, size_t outlen)
{
	size_t o = 0;
	if (addr->null) {
		if (outlen < 1)
			return -1;
		out[0] = '\0';
		return 0;
	}
	const char *l = addr->local;
	bool plain = smtp_addr_is_dot_string(l, true);
	if (!plain) {
		if (o + 1 >= outlen)
			return -1;
		out[o++] = '"';
	}
	for (; *l != '\0'; l++) {
		if (!plain && (*l == '"' || *l == '\\')) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = '\\';
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = *l;
	}
	if (!plain) {
		if (o + 1 >= outlen)
			return -1;
		out[o++] = '"';
	}
	if (addr->postmaster && addr->domain[0] == '\0') {
		out[o] = '\0';
		return (int)o;
	}
	size_t dl = strlen(addr->domain);
	if (o + 1 + dl >= outlen)
		return -1;
	out[o++] = '@';
	memcpy(out + o, addr->domain, dl);
	o += dl;
	out[o] = '\0';
	return (int)o;
}
