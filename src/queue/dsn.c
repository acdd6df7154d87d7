/* dsn.c - delivery status notifications (RFC 3464 inside RFC 6522
 * multipart/report). The report is built in three pieces (human text,
 * delivery-status fields, the original); a boundary that occurs in none of
 * them is chosen; then the message is written out. Untrusted text goes
 * through one sanitiser before it reaches a line of the report. */
#include "queue/dsn.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "core/util.h"
#include "mime/mime_header.h"

#define FOLD_AT 78	    /* header lines are folded at spaces past this column */
#define TEXT_WIDTH 72	    /* the human-readable part is wrapped here */
#define VALUE_MAX 900	    /* a field value is cut here: lines stay below 998 */
#define BOUNDARY_PART_MAX 24 /* bytes of queue id and of seed in the boundary */

/* ----- writing with a sticky error ----- */

struct w {
	struct buf *b;
	bool fail;
};

static void put(struct w *w, const void *p, size_t n)
{
	if (!w->fail && buf_append(w->b, p, n) < 0)
		w->fail = true;
}

static void puts_(struct w *w, const char *s)
{
	put(w, s, strlen(s));
}

static void putf(struct w *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct w *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (!w->fail && buf_vprintf(w->b, fmt, ap) < 0)
		w->fail = true;
	va_end(ap);
}

/* ----- sanitising ----- */

/* Code point of the valid UTF-8 sequence of n bytes at s. */
static uint32_t utf8_code_point(const unsigned char *s, size_t n)
{
	static const unsigned char lead_mask[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
	uint32_t cp = s[0] & lead_mask[n];
	for (size_t i = 1; i < n; i++)
		cp = cp << 6 | (s[i] & 0x3f);
	return cp;
}

enum san_mode {
	SAN_ASCII, /* printable ASCII; UTF-8 as \x{HEX} (RFC 6533 3), other bytes '?' */
	SAN_UTF8   /* printable ASCII and valid UTF-8 but C1 controls; other bytes '?' */
};

/* Append s to dst as one line of text: control characters (CR and LF
 * included) and runs of white space become one space, leading and trailing
 * space goes, and the result stops near `max` bytes with "...". */
static void sanitize(struct buf *dst, const char *s, enum san_mode mode, size_t max)
{
	struct w w = {dst, false};
	size_t start = dst->len;
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);
	bool space = false;
	for (size_t i = 0; i < len;) {
		if (dst->len - start >= max) {
			puts_(&w, "...");
			return;
		}
		unsigned char c = p[i];
		if (c <= 0x20 || c == 0x7f) {
			space = true;
			i++;
			continue;
		}
		if (space && dst->len > start)
			puts_(&w, " ");
		space = false;
		if (c < 0x80) {
			put(&w, &c, 1);
			i++;
			continue;
		}
		size_t n = utf8_seq_len(p + i, len - i);
		if (n == 0 || (mode == SAN_UTF8 && utf8_code_point(p + i, n) < 0xa0))
			puts_(&w, "?"); /* invalid, or a C1 control character */
		else if (mode == SAN_UTF8)
			put(&w, p + i, n);
		else
			putf(&w, "\\x{%X}", (unsigned)utf8_code_point(p + i, n));
		i += n > 0 ? n : 1;
	}
}

/* A sanitised copy in a caller-owned buffer (free with buf_free). */
static const char *clean(struct buf *tmp, const char *s, enum san_mode mode)
{
	buf_init(tmp, 0);
	sanitize(tmp, s != NULL ? s : "", mode, VALUE_MAX);
	return tmp->data != NULL ? tmp->data : "";
}

/* Keep only the bytes of s that `keep` accepts, at most max of them. */
static void filter(char *out, size_t outlen, const char *s, bool (*keep)(unsigned char),
		   size_t max)
{
	size_t o = 0;
	for (; s != NULL && *s != '\0' && o + 1 < outlen && o < max; s++)
		if (keep((unsigned char)*s))
			out[o++] = *s;
	out[o] = '\0';
}

static bool is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_host_char(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_';
}

static bool is_atom_char(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '_' || c == '.';
}

/* Encode an address as RFC 6533 utf-8-addr-xtext: QCHAR as is, everything
 * else as \x{HEX}. With keep_escapes, a backslash is taken to start an
 * escape the sender already wrote and is kept. */
static void utf8_addr_xtext(struct w *w, const char *s, bool keep_escapes)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), start = w->b->len;
	for (size_t i = 0; i < len;) {
		if (w->b->len - start >= VALUE_MAX) {
			puts_(w, "...");
			return;
		}
		unsigned char c = p[i];
		if (c >= 0x21 && c <= 0x7e && c != '+' && c != '=' && (c != '\\' || keep_escapes)) {
			put(w, &c, 1);
			i++;
			continue;
		}
		size_t n = c < 0x80 ? 1 : utf8_seq_len(p + i, len - i);
		if (n == 0)
			puts_(w, "?");
		else if (c < 0x20 || c == 0x7f)
			puts_(w, "?");
		else
			putf(w, "\\x{%X}", (unsigned)utf8_code_point(p + i, n));
		i += n > 0 ? n : 1;
	}
}

static bool has_8bit(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/* ----- header fields ----- */

/* "Name: value" folded at spaces, ending with CRLF. value must already be a
 * single sanitised line. */
static void field(struct w *w, const char *name, const char *value)
{
	size_t col = strlen(name) + 1;
	puts_(w, name);
	puts_(w, ":");
	bool first = true;
	for (const char *p = value; *p != '\0';) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		size_t n = strcspn(p, " ");
		if (!first && col + 1 + n > FOLD_AT) {
			puts_(w, "\r\n");
			col = 0;
		}
		put(w, " ", 1);
		put(w, p, n);
		col += 1 + n;
		first = false;
		p += n;
	}
	puts_(w, "\r\n");
}

/* A field whose value is "prefix" followed by untrusted text. */
static void field_clean(struct w *w, const char *name, const char *prefix, const char *text)
{
	struct buf v;
	buf_init(&v, 0);
	struct w vw = {&v, false};
	puts_(&vw, prefix);
	sanitize(&v, text, SAN_ASCII, VALUE_MAX);
	field(w, name, v.data != NULL ? v.data : "");
	buf_free(&v);
}

static void date_text(time_t t, char *out, size_t outlen)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(out, outlen, "Thu, 1 Jan 1970 00:00:00 +0000");
		return;
	}
	snprintf(out, outlen, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void field_date(struct w *w, const char *name, time_t t)
{
	char d[64];
	date_text(t, d, sizeof(d));
	field(w, name, d);
}

/* "rfc822; addr", or "utf-8; addr-xtext" for an address with 8-bit bytes. */
static void field_address(struct w *w, const char *name, const char *type, size_t type_len,
			  const char *addr)
{
	struct buf v;
	buf_init(&v, 0);
	struct w vw = {&v, false};
	bool utf8_type = type_len == 5 && ascii_nieq(type, "utf-8", 5);
	if (utf8_type || has_8bit(addr, strlen(addr))) {
		puts_(&vw, "utf-8; ");
		utf8_addr_xtext(&vw, addr, utf8_type);
	} else {
		char t[32];
		char tcopy[32];
		snprintf(tcopy, sizeof(tcopy), "%.*s", (int)(type_len < 31 ? type_len : 31), type);
		filter(t, sizeof(t), tcopy, is_atom_char, 31);
		putf(&vw, "%s; ", t[0] != '\0' ? t : "unknown");
		sanitize(&v, addr, SAN_ASCII, VALUE_MAX);
	}
	field(w, name, v.data);
	buf_free(&v);
}

/* ----- status codes (RFC 3463) ----- */

/* Length of a valid status code "C.SSS.DDD" (class 2, 4 or 5) at s, which
 * must be followed by the end or white space; 0 if there is none. */
static size_t status_len(const char *s)
{
	if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	size_t i = 2;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;
		while (s[i + d] >= '0' && s[i + d] <= '9')
			d++;
		if (d < 1 || d > 3)
			return 0;
		i += d;
		if (part == 0) {
			if (s[i] != '.')
				return 0;
			i++;
		}
	}
	if (s[i] != '\0' && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
		return 0;
	return i;
}

void dsn_status_from_reply(int code, const char *enhanced, char out[16])
{
	int cls = code >= 200 && code <= 599 ? code / 100 : 0;
	if (cls == 3)
		cls = 0;
	const char *e = enhanced;
	while (e != NULL && (*e == ' ' || *e == '-'))
		e++; /* "-5.1.1" from a continuation line's text, or a space */
	size_t n = status_len(e);
	if (n > 0) {
		snprintf(out, 16, "%.*s", (int)n, e);
		if (cls != 0)
			out[0] = (char)('0' + cls);
		return;
	}
	snprintf(out, 16, "%d.0.0", cls != 0 ? cls : 5);
}

static const struct {
	const char *code; /* subject.detail */
	const char *text;
} status_texts[] = {
	{"0.0", "other or undefined status"},
	{"1.0", "other address status"},
	{"1.1", "bad destination mailbox address"},
	{"1.2", "bad destination system address"},
	{"1.3", "bad destination mailbox address syntax"},
	{"1.4", "destination mailbox address ambiguous"},
	{"1.5", "destination address valid"},
	{"1.6", "destination mailbox has moved, no forwarding address"},
	{"1.7", "bad sender's mailbox address syntax"},
	{"1.8", "bad sender's system address"},
	{"2.0", "other or undefined mailbox status"},
	{"2.1", "mailbox disabled, not accepting messages"},
	{"2.2", "mailbox full"},
	{"2.3", "message length exceeds administrative limit"},
	{"2.4", "mailing list expansion problem"},
	{"3.0", "other or undefined mail system status"},
	{"3.1", "mail system full"},
	{"3.2", "system not accepting network messages"},
	{"3.3", "system not capable of selected features"},
	{"3.4", "message too big for system"},
	{"3.5", "system incorrectly configured"},
	{"4.0", "other or undefined network or routing status"},
	{"4.1", "no answer from host"},
	{"4.2", "bad connection"},
	{"4.3", "directory server failure"},
	{"4.4", "unable to route"},
	{"4.5", "mail system congestion"},
	{"4.6", "routing loop detected"},
	{"4.7", "delivery time expired"},
	{"5.0", "other or undefined protocol status"},
	{"5.1", "invalid command"},
	{"5.2", "syntax error"},
	{"5.3", "too many recipients"},
	{"5.4", "invalid command arguments"},
	{"5.5", "wrong protocol version"},
	{"6.0", "other or undefined media error"},
	{"6.1", "media not supported"},
	{"6.2", "conversion required and prohibited"},
	{"6.3", "conversion required but not supported"},
	{"6.4", "conversion with loss performed"},
	{"6.5", "conversion failed"},
	{"7.0", "other or undefined security status"},
	{"7.1", "delivery not authorized, message refused"},
	{"7.2", "mailing list expansion prohibited"},
	{"7.3", "security conversion required but not possible"},
	{"7.4", "security features not supported"},
	{"7.5", "cryptographic failure"},
	{"7.6", "cryptographic algorithm not supported"},
	{"7.7", "message integrity failure"},
};

/* What a valid status code means, e.g. "permanent failure: mailbox full".
 * A failed recipient with a temporary status is one we gave up on. */
static void status_explain(struct w *w, const char *status, bool failed)
{
	const char *cls = status[0] == '2'   ? "success"
			  : status[0] == '5' ? "permanent failure"
			  : failed	     ? "gave up after temporary failures"
					     : "temporary failure";
	puts_(w, cls);
	const char *rest = status + 2;
	if (strcmp(rest, "0.0") == 0)
		return; /* "other or undefined status" says nothing more */
	const char *generic = NULL;
	for (size_t i = 0; i < sizeof(status_texts) / sizeof(status_texts[0]); i++) {
		const char *c = status_texts[i].code;
		if (strcmp(rest, c) == 0) {
			putf(w, ": %s", status_texts[i].text);
			return;
		}
		/* "X.S.0" describes any detail of subject S. */
		size_t sl = strcspn(c, ".");
		if (strcmp(c + sl, ".0") == 0 && strncmp(rest, c, sl) == 0 && rest[sl] == '.')
			generic = status_texts[i].text;
	}
	if (generic != NULL)
		putf(w, ": %s", generic);
}

/* ----- recipients ----- */

enum action { A_FAILED, A_DELAYED, A_DELIVERED, A_RELAYED, A_EXPANDED, A_COUNT };

static const char *const action_names[A_COUNT] = {"failed", "delayed", "delivered", "relayed",
						  "expanded"};

static int action_of(const char *s)
{
	for (int a = 0; a < A_COUNT; a++)
		if (s != NULL && ascii_ieq(s, action_names[a]))
			return a;
	return -1;
}

/* The recipient's status, checked; X.0.0 by action when absent or bad. */
static void rcpt_status(const struct dsn_rcpt *r, int action, char out[16])
{
	size_t n = status_len(r->status);
	if (n > 0 && r->status[n] == '\0') {
		snprintf(out, 16, "%s", r->status);
		return;
	}
	snprintf(out, 16, "%s",
		 action == A_FAILED ? "5.0.0" : action == A_DELAYED ? "4.0.0" : "2.0.0");
}

/* True when the diagnostic reads as an SMTP reply ("550 ...", "421-..."). */
static bool is_smtp_reply(const char *s)
{
	return s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' &&
	       s[2] <= '9' && (s[3] == '\0' || s[3] == ' ' || s[3] == '-');
}

/* ----- the human-readable part ----- */

/* Words of text wrapped at TEXT_WIDTH, the first line after `first`, the
 * others after `cont`. text is a sanitised single line. */
static void wrap(struct w *w, const char *first, const char *cont, const char *text)
{
	puts_(w, first);
	size_t col = strlen(first);
	bool line_empty = true;
	for (const char *p = text; *p != '\0';) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		size_t n = strcspn(p, " ");
		if (!line_empty && col + 1 + n > TEXT_WIDTH) {
			puts_(w, "\r\n");
			puts_(w, cont);
			col = strlen(cont);
			line_empty = true;
		}
		if (!line_empty) {
			put(w, " ", 1);
			col++;
		}
		put(w, p, n);
		col += n;
		line_empty = false;
		p += n;
	}
	puts_(w, "\r\n");
}

/* A paragraph of our own text followed by an empty line. */
static void para(struct w *w, const char *text)
{
	wrap(w, "", "", text);
	puts_(w, "\r\n");
}

/* A "label: untrusted text" line under a recipient. */
static void detail(struct w *w, const char *label, const char *text)
{
	struct buf t;
	const char *v = clean(&t, text, SAN_UTF8);
	char first[40];
	snprintf(first, sizeof(first), "    %-13s ", label);
	wrap(w, first, "                  ", v);
	buf_free(&t);
}

/* The address part of a decoded ORCPT ("rfc822;bob@x" -> "bob@x"). */
static const char *orcpt_address(const char *orcpt, size_t *type_len_r)
{
	const char *semi = strchr(orcpt, ';');
	if (semi == NULL) {
		*type_len_r = 0;
		return orcpt;
	}
	*type_len_r = (size_t)(semi - orcpt);
	const char *a = semi + 1;
	while (*a == ' ')
		a++;
	return a;
}

static void human_rcpt(struct w *w, const struct dsn_rcpt *r, int action)
{
	struct buf t;
	const char *addr = clean(&t, r->address, SAN_UTF8);
	putf(w, "  <%s>\r\n", addr);
	buf_free(&t);
	if (r->orcpt != NULL && r->orcpt[0] != '\0') {
		size_t tl;
		const char *oa = orcpt_address(r->orcpt, &tl);
		if (!ascii_ieq(oa, r->address)) {
			struct buf o;
			buf_init(&o, 0);
			struct w ow = {&o, false};
			puts_(&ow, "<");
			sanitize(&o, oa, SAN_UTF8, VALUE_MAX);
			puts_(&ow, ">");
			detail(w, "Addressed as:", o.data);
			buf_free(&o);
		}
	}
	char st[16];
	rcpt_status(r, action, st);
	struct buf s;
	buf_init(&s, 0);
	struct w sw = {&s, false};
	putf(&sw, "%s (", st);
	status_explain(&sw, st, action == A_FAILED);
	puts_(&sw, ")");
	detail(w, "Status:", s.data);
	buf_free(&s);
	if (r->remote_mta != NULL && r->remote_mta[0] != '\0')
		detail(w, "Server:", r->remote_mta);
	if (r->diagnostic != NULL && r->diagnostic[0] != '\0')
		detail(w, is_smtp_reply(r->diagnostic) ? "It replied:" : "Problem:", r->diagnostic);
	char d[64];
	if (r->last_attempt != 0) {
		date_text(r->last_attempt, d, sizeof(d));
		detail(w, "Last attempt:", d);
	}
	if (action == A_DELAYED && r->will_retry_until != 0) {
		date_text(r->will_retry_until, d, sizeof(d));
		detail(w, "Trying until:", d);
	}
	puts_(w, "\r\n");
}

static void human_part(struct w *w, const struct dsn_info *info, const char *host,
		       const bool any[A_COUNT], const int *actions, bool attached)
{
	char line[400];
	snprintf(line, sizeof(line), "This is the mail delivery system at %s.", host);
	para(w, line);
	if (info->delay) {
		para(w, "Your message has not been delivered yet to the recipients listed below. "
			"This is only a warning: the mail system keeps trying, and you do not need "
			"to send the message again. You will get another notification if delivery "
			"finally fails.");
	} else if (any[A_FAILED]) {
		para(w, "Your message could not be delivered to one or more recipients. The "
			"reasons are given below.");
		para(w, "If you need help, write to the postmaster of this mail system and "
			"include this report.");
	} else {
		para(w, "This is a report on the delivery of your message to the recipients "
			"listed below, as you asked for.");
	}

	static const char *const heads[A_COUNT] = {
		"Could not be delivered to:",
		"Not delivered yet (still trying):",
		"Delivered to:",
		"Passed on (the next system sends no further reports) to:",
		"Delivered to a list or alias, which passed it on, for:",
	};
	for (int a = 0; a < A_COUNT; a++) {
		if (!any[a])
			continue;
		para(w, heads[a]);
		for (size_t i = 0; i < info->nrcpt; i++)
			if (actions[i] == a)
				human_rcpt(w, &info->rcpts[i], a);
	}

	if (attached && info->headers_only)
		para(w, "The header of your message is attached below.");
	else if (attached)
		para(w, "Your message is attached below.");
	if (info->queue_id != NULL && info->queue_id[0] != '\0') {
		struct buf t;
		wrap(w, "Queue ID: ", "  ", clean(&t, info->queue_id, SAN_UTF8));
		buf_free(&t);
	}
	if (info->arrival != 0) {
		char d[64];
		date_text(info->arrival, d, sizeof(d));
		wrap(w, "Received: ", "  ", d);
	}
}

/* ----- the delivery-status part ----- */

static void status_part(struct w *w, const struct dsn_info *info, const char *host,
			const int *actions)
{
	if (info->envid != NULL && info->envid[0] != '\0')
		field_clean(w, "Original-Envelope-Id", "", info->envid);
	field_clean(w, "Reporting-MTA", "dns; ", host);
	if (info->arrival != 0)
		field_date(w, "Arrival-Date", info->arrival);
	if (info->queue_id != NULL && info->queue_id[0] != '\0')
		field_clean(w, "X-Postane-Queue-ID", "", info->queue_id);
	for (size_t i = 0; i < info->nrcpt; i++) {
		const struct dsn_rcpt *r = &info->rcpts[i];
		int a = actions[i];
		puts_(w, "\r\n");
		if (r->orcpt != NULL && r->orcpt[0] != '\0') {
			size_t tl;
			const char *oa = orcpt_address(r->orcpt, &tl);
			if (tl == 0)
				field_address(w, "Original-Recipient", "rfc822", 6, oa);
			else
				field_address(w, "Original-Recipient", r->orcpt, tl, oa);
		}
		field_address(w, "Final-Recipient", "rfc822", 6, r->address);
		field(w, "Action", action_names[a]);
		char st[16];
		rcpt_status(r, a, st);
		field(w, "Status", st);
		if (r->remote_mta != NULL && r->remote_mta[0] != '\0')
			field_clean(w, "Remote-MTA", "dns; ", r->remote_mta);
		if (r->diagnostic != NULL && r->diagnostic[0] != '\0')
			field_clean(w, "Diagnostic-Code",
				    is_smtp_reply(r->diagnostic) ? "smtp; " : "X-Postane; ",
				    r->diagnostic);
		if (r->last_attempt != 0)
			field_date(w, "Last-Attempt-Date", r->last_attempt);
		if (a == A_DELAYED && r->will_retry_until != 0)
			field_date(w, "Will-Retry-Until", r->will_retry_until);
	}
}

/* ----- the original ----- */

/* Append data with every line end made CRLF, and a final CRLF. */
static void put_crlf(struct w *w, const char *d, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && d[j] != '\r' && d[j] != '\n')
			j++;
		put(w, d + i, j - i);
		if (j == len) {
			puts_(w, "\r\n");
			return;
		}
		puts_(w, "\r\n");
		i = j + (d[j] == '\r' && j + 1 < len && d[j + 1] == '\n' ? 2 : 1);
	}
}

/* ----- the whole message ----- */

static bool occurs(const char *hay, size_t len, const char *needle)
{
	return hay != NULL && memmem(hay, len, needle, strlen(needle)) != NULL;
}

int dsn_build(const struct dsn_info *info, const char *orig, size_t orig_len, struct buf *out)
{
	if (info == NULL || info->reporting_mta == NULL || info->reporting_mta[0] == '\0' ||
	    info->to == NULL || info->to[0] == '\0' || info->rcpts == NULL || info->nrcpt == 0 ||
	    (orig == NULL && orig_len > 0))
		return -1;
	int *actions = xcalloc(info->nrcpt, sizeof(*actions));
	bool any[A_COUNT] = {false};
	for (size_t i = 0; i < info->nrcpt; i++) {
		const struct dsn_rcpt *r = &info->rcpts[i];
		actions[i] = action_of(r->action);
		if (actions[i] < 0 || r->address == NULL || r->address[0] == '\0') {
			free(actions);
			return -1;
		}
		any[actions[i]] = true;
	}

	/* Our host name, for Reporting-MTA, From: and Message-ID:. */
	char host[256];
	filter(host, sizeof(host), info->reporting_mta, is_host_char, sizeof(host) - 1);
	if (host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");

	struct buf human, status;
	buf_init(&human, 0);
	buf_init(&status, 0);
	struct w hw = {&human, false}, sw = {&status, false};

	/* What is attached: the original, or its header section. */
	size_t attach_len = orig_len;
	if (info->headers_only && orig_len > 0)
		mime_header_size(orig, orig_len, &attach_len);

	human_part(&hw, info, host, any, actions, attach_len > 0);
	status_part(&sw, info, host, actions);
	free(actions);
	bool human8 = has_8bit(human.data, human.len);
	bool orig8 = has_8bit(orig, attach_len);

	/* A boundary found in none of the parts. */
	char qid[BOUNDARY_PART_MAX + 1], seed[BOUNDARY_PART_MAX + 1], boundary[96];
	filter(qid, sizeof(qid), info->queue_id, is_alnum, BOUNDARY_PART_MAX);
	filter(seed, sizeof(seed), info->boundary_seed, is_alnum, BOUNDARY_PART_MAX);
	snprintf(boundary, sizeof(boundary), "%s/%s/dsn.%s", qid[0] != '\0' ? qid : "x",
		 seed[0] != '\0' ? seed : "0", host);
	boundary[69] = '\0'; /* RFC 2046 5.1.1: at most 70 characters */
	size_t blen = strlen(boundary);
	if (blen > 60)
		blen = 60;
	unsigned tries = 0;
	while (occurs(human.data, human.len, boundary) ||
	       occurs(status.data, status.len, boundary) || occurs(orig, attach_len, boundary)) {
		/* Only a sender who knows the random seed gets here at all. */
		if (++tries > 100)
			hw.fail = true;
		if (hw.fail)
			break;
		snprintf(boundary + blen, sizeof(boundary) - blen, ".%u", tries);
	}

	size_t saved = out->len;
	struct w w = {out, hw.fail || sw.fail};
	char date[64];
	date_text(info->now, date, sizeof(date));
	struct tm tm;
	time_t now = info->now;
	char stamp[32] = "19700101000000";
	if (gmtime_r(&now, &tm) != NULL)
		snprintf(stamp, sizeof(stamp), "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);

	putf(&w, "From: \"Mail Delivery System\" <MAILER-DAEMON@%s>\r\n", host);
	struct buf to;
	buf_init(&to, 0);
	struct w tw = {&to, false};
	puts_(&tw, "<");
	sanitize(&to, info->to, SAN_UTF8, VALUE_MAX);
	puts_(&tw, ">");
	field(&w, "To", to.data);
	buf_free(&to);
	field(&w, "Subject", info->delay	 ? "Delayed Mail (still being retried)"
			     : any[A_FAILED] ? "Undelivered Mail Returned to Sender"
					     : "Successful Mail Delivery Report");
	field(&w, "Date", date);
	putf(&w, "Message-ID: <%s.%s.%s@%s>\r\n", stamp, qid[0] != '\0' ? qid : "dsn",
	     seed[0] != '\0' ? seed : "0", host);
	puts_(&w, "MIME-Version: 1.0\r\n");
	puts_(&w, "Auto-Submitted: auto-replied\r\n");
	putf(&w, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
		 "\tboundary=\"%s\"\r\n",
	     boundary);
	putf(&w, "Content-Transfer-Encoding: %s\r\n", human8 || orig8 ? "8bit" : "7bit");
	puts_(&w, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");

	putf(&w, "--%s\r\n", boundary);
	puts_(&w, "Content-Description: Notification\r\n");
	putf(&w, "Content-Type: text/plain; charset=%s\r\n", human8 ? "utf-8" : "us-ascii");
	putf(&w, "Content-Transfer-Encoding: %s\r\n\r\n", human8 ? "8bit" : "7bit");
	put(&w, human.data, human.len);

	putf(&w, "\r\n--%s\r\n", boundary);
	puts_(&w, "Content-Description: Delivery report\r\n");
	puts_(&w, "Content-Type: message/delivery-status\r\n\r\n");
	put(&w, status.data, status.len);

	if (attach_len > 0) {
		putf(&w, "\r\n--%s\r\n", boundary);
		if (info->headers_only) {
			puts_(&w, "Content-Description: Undelivered Message Headers\r\n");
			puts_(&w, "Content-Type: text/rfc822-headers\r\n");
		} else {
			puts_(&w, "Content-Description: Undelivered Message\r\n");
			puts_(&w, "Content-Type: message/rfc822\r\n");
		}
		putf(&w, "Content-Transfer-Encoding: %s\r\n\r\n", orig8 ? "8bit" : "7bit");
		put_crlf(&w, orig, attach_len);
	}
	putf(&w, "\r\n--%s--\r\n", boundary);

	buf_free(&human);
	buf_free(&status);
	if (w.fail) {
		out->len = saved;
		if (out->data != NULL)
			out->data[saved] = '\0';
		return -1;
	}
	return 0;
}
