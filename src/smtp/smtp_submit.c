/* smtp_submit.c - header checks for message submission: From:/Sender:
 * addresses and the presence of Message-ID:/Date:. */
#include "smtp/smtp_submit.h"

#include <string.h>
#include <strings.h>

size_t submit_header_end(const char *data, size_t len)
{
	if (len >= 2 && data[0] == '\r' && data[1] == '\n')
		return 2;
	for (size_t i = 0; i + 3 < len; i++)
		if (data[i] == '\r' && data[i + 1] == '\n' && data[i + 2] == '\r' && data[i + 3] == '\n')
			return i + 4;
	return 0;
}

/* Store one mailbox "local@domain" (already stripped of brackets and
 * blanks). */
static void add_addr(struct submit_headers *out, const char *p, size_t n)
{
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0)
		return;
	const char *at = memchr(p, '@', n);
	if (memchr(p, '\0', n) != NULL) {
		out->unparsable = true;
		return;
	}
	if (at == NULL || at == p || at == p + n - 1 || n >= SUBMIT_ADDR_MAX ||
	    out->naddrs == SUBMIT_MAX_ADDRS) {
		out->unparsable = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] == ' ' || p[i] == '\t' || p[i] == '<' || p[i] == '>' || p[i] == ',') {
			out->unparsable = true;
			return;
		}
	}
	memcpy(out->addrs[out->naddrs], p, n);
	out->addrs[out->naddrs][n] = '\0';
	out->naddrs++;
}

/* Parse an unfolded address-list value: mailboxes separated by commas
 * (outside quotes, comments and angle brackets), groups "name: a, b;". */
static void scan_address_list(const char *v, size_t len, struct submit_headers *out)
{
	char tok[1024];
	size_t t = 0;
	int depth = 0;      /* comment nesting */
	bool quoted = false, angle = false, had_angle = false;
	char angle_buf[SUBMIT_ADDR_MAX];
	size_t a = 0;
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? v[i] : ',';
		if (quoted) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '"')
				quoted = false;
			continue;
		}
		if (depth > 0) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (angle) {
			if (c == '>') {
				angle = false;
				had_angle = true;
			} else if (c == '<') {
				out->unparsable = true;
			} else if (a + 1 < sizeof(angle_buf)) {
				angle_buf[a++] = c;
			} else {
				out->unparsable = true;
			}
			continue;
		}
		switch (c) {
		case '"':
			quoted = true;
			t = 0; /* a display name, not an address */
			break;
		case '(':
			depth = 1;
			break;
		case '<':
			/* One angle-addr per mailbox: "<a> <b>" is ambiguous (mail
			 * readers show the first, a naive check takes the last). */
			if (had_angle)
				out->unparsable = true;
			/* "bob@x <alice@x>": an unquoted '@' in the display name
			 * is invalid, and readers would show bob@x. */
			if (memchr(tok, '@', t) != NULL)
				out->unparsable = true;
			angle = true;
			a = 0;
			break;
		case ':':
			t = 0; /* group name */
			break;
		case ',':
		case ';':
			if (had_angle)
				add_addr(out, angle_buf, a);
			else
				add_addr(out, tok, t);
			t = 0;
			a = 0;
			had_angle = false;
			break;
		default:
			/* Text after the angle-addr of a mailbox is not allowed. */
			if (had_angle && c != ' ' && c != '\t')
				out->unparsable = true;
			if (t + 1 < sizeof(tok))
				tok[t++] = c;
			else
				out->unparsable = true;
			break;
		}
	}
	if (quoted || angle || depth > 0)
		out->unparsable = true;
}

void submit_scan_headers(const char *hdr, size_t len, struct submit_headers *out)
{
	memset(out, 0, sizeof(*out));
	size_t i = 0;
	while (i < len) {
		/* One field: name ":" value, continuation lines start with WSP. */
		size_t start = i, end = i;
		while (end < len) {
			const char *nl = memchr(hdr + end, '\n', len - end);
			end = nl == NULL ? len : (size_t)(nl - hdr) + 1;
			if (end >= len || (hdr[end] != ' ' && hdr[end] != '\t'))
				break;
		}
		i = end;
		const char *colon = memchr(hdr + start, ':', end - start);
		if (colon == NULL)
			continue;
		size_t nlen = (size_t)(colon - (hdr + start));
		const char *name = hdr + start;
		const char *val = colon + 1;
		size_t vlen = end - (size_t)(val - hdr);
		if (nlen == 10 && strncasecmp(name, "Message-ID", 10) == 0) {
			out->has_message_id = true;
		} else if (nlen == 4 && strncasecmp(name, "Date", 4) == 0) {
			out->has_date = true;
		} else if ((nlen == 4 && strncasecmp(name, "From", 4) == 0) ||
			   (nlen == 6 && strncasecmp(name, "Sender", 6) == 0)) {
			if (nlen == 4)
				out->from_fields++;
			unsigned before = out->naddrs;
			/* Unfold: CR and LF become spaces. */
			char buf[4096];
			size_t b = 0;
			for (size_t k = 0; k < vlen && b + 1 < sizeof(buf); k++)
				buf[b++] = (val[k] == '\r' || val[k] == '\n') ? ' ' : val[k];
			if (vlen >= sizeof(buf))
				out->unparsable = true;
			scan_address_list(buf, b, out);
			/* A From:/Sender: without any mailbox proves nothing. */
			if (out->naddrs == before)
				out->unparsable = true;
		}
	}
}
