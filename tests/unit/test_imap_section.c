/* test_imap_section.c - unit tests for FETCH section specs (imap_section.c):
 * parsing (valid and invalid specs, astring field names, BINARY), the
 * canonical form, resolution against parsed messages using the imaptest
 * fetch-body, fetch-body-mime, fetch-body-message-rfc822[-x2|-mime] and
 * fetch-binary-mime[-base64|-qp] vectors, HEADER.FIELDS[.NOT] output, and
 * BINARY decoding and sizes (RFC 3516). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_section.h"
#include "mime/mime_parser.h"

static char *crlf(const char *lf, size_t *len_r)
{
	size_t n = strlen(lf), m = 0;
	char *out = malloc(2 * n + 1);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		if (lf[i] == '\n' && (i == 0 || lf[i - 1] != '\r'))
			out[m++] = '\r';
		out[m++] = lf[i];
	}
	out[m] = '\0';
	*len_r = m;
	return out;
}

struct msg {
	char *data;
	size_t len;
	struct mime_tree *t;
};

static struct msg load(const char *lf)
{
	struct msg m;
	m.data = crlf(lf, &m.len);
	m.t = mime_parse(m.data, m.len, NULL);
	return m;
}

static void unload(struct msg *m)
{
	mime_tree_free(&m->t);
	free(m->data);
}

/* BODY[spec] must give `want` (LF in want means CRLF), or not resolve when
 * want is NULL. */
static void body(const struct msg *m, const char *spec, const char *want)
{
	struct imap_section sec;
	const char *err = NULL;
	if (imap_section_parse(spec, strlen(spec), false, &sec, &err) < 0)
		fail_msg("parse \"%s\": %s", spec, err);
	struct imap_section_result res;
	int r = imap_section_resolve(m->t, &sec, &res);
	if (want == NULL) {
		if (r != 0)
			fail_msg("\"%s\" resolved", spec);
		imap_section_free(&sec);
		return;
	}
	if (r != 1)
		fail_msg("\"%s\" did not resolve", spec);
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(imap_section_result_write(&res, m->t, &b), 0);
	assert_int_equal(imap_section_result_size(&res), b.len);
	size_t wlen;
	char *w = crlf(want, &wlen);
	if (b.len != wlen || (wlen > 0 && memcmp(b.data, w, wlen) != 0))
		fail_msg("BODY[%s]:\n got \"%.*s\"\nwant \"%s\"", spec, (int)b.len,
			 b.data != NULL ? b.data : "", w);
	/* BINARY of an unencoded section is the same data. */
	size_t size;
	assert_int_equal(imap_section_binary(&res, m->t, NULL, &size), IMAP_BINARY_OK);
	assert_int_equal(size, wlen);
	free(w);
	buf_free(&b);
	imap_section_result_free(&res);
	imap_section_free(&sec);
}

/* BINARY[spec] and BINARY.SIZE[spec]; want given with real line ends. */
static void binary(const struct msg *m, const char *spec, const char *want, size_t wlen)
{
	struct imap_section sec;
	const char *err = NULL;
	if (imap_section_parse(spec, strlen(spec), true, &sec, &err) < 0)
		fail_msg("parse binary \"%s\": %s", spec, err);
	struct imap_section_result res;
	assert_int_equal(imap_section_resolve(m->t, &sec, &res), 1);
	struct buf b;
	buf_init(&b, 0);
	size_t size = 0, size2 = 0;
	assert_int_equal(imap_section_binary(&res, m->t, &b, &size), IMAP_BINARY_OK);
	assert_int_equal(imap_section_binary(&res, m->t, NULL, &size2), IMAP_BINARY_OK);
	assert_int_equal(size, wlen);
	assert_int_equal(size2, wlen);
	assert_int_equal(b.len, wlen);
	if (wlen > 0 && memcmp(b.data, want, wlen) != 0)
		fail_msg("BINARY[%s]: got \"%.*s\"", spec, (int)b.len, b.data);
	buf_free(&b);
	imap_section_result_free(&res);
	imap_section_free(&sec);
}

/* ---- parsing ---- */

static void parse_ok(const char *spec, bool bin, const char *canonical)
{
	struct imap_section sec;
	const char *err = "unset";
	size_t len = strlen(spec);
	char *copy = malloc(len == 0 ? 1 : len);
	memcpy(copy, spec, len);
	if (imap_section_parse(copy, len, bin, &sec, &err) < 0)
		fail_msg("\"%s\": %s", spec, err);
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(imap_section_write(&sec, &b), 0);
	assert_string_equal(b.data != NULL ? b.data : "", canonical);
	buf_free(&b);
	imap_section_free(&sec);
	free(copy);
}

static void parse_bad(const char *spec, size_t len, bool bin)
{
	struct imap_section sec;
	const char *err = NULL;
	char *copy = malloc(len == 0 ? 1 : len);
	memcpy(copy, spec, len);
	if (imap_section_parse(copy, len, bin, &sec, &err) == 0)
		fail_msg("\"%.*s\" parsed", (int)len, spec);
	assert_non_null(err);
	assert_null(sec.fields);
	free(copy);
}

#define BAD(lit) parse_bad(lit, sizeof(lit) - 1, false)

static void test_parse(void **state)
{
	(void)state;
	parse_ok("", false, "");
	parse_ok("HEADER", false, "HEADER");
	parse_ok("header", false, "HEADER");
	parse_ok("TEXT", false, "TEXT");
	parse_ok("1", false, "1");
	parse_ok("1.2.3", false, "1.2.3");
	parse_ok("4294967295", false, "4294967295");
	parse_ok("1.mime", false, "1.MIME");
	parse_ok("2.Header", false, "2.HEADER");
	parse_ok("2.1.TEXT", false, "2.1.TEXT");
	parse_ok("HEADER.FIELDS (From To)", false, "HEADER.FIELDS (FROM TO)");
	parse_ok("1.header.fields.not (date  \"X-Foo\")", false,
		 "1.HEADER.FIELDS.NOT (DATE X-FOO)");
	parse_ok("HEADER.FIELDS (\"a b\" c]d)", false, "HEADER.FIELDS (\"A B\" C]D)");
	parse_ok("HEADER.FIELDS ({7}\r\nSubject)", false, "HEADER.FIELDS (SUBJECT)");
	parse_ok("HEADER.FIELDS ({2+}\r\nTo From)", false, "HEADER.FIELDS (TO FROM)");
	parse_ok("HEADER.FIELDS (\"q\\\"x\")", false, "HEADER.FIELDS (\"Q\\\"X\")");
	parse_ok("", true, "");
	parse_ok("1.2", true, "1.2");

	BAD("0");
	BAD("01");
	BAD("1.0");
	BAD("1.");
	BAD("1..2");
	BAD(".1");
	BAD("MIME");
	BAD("1MIME");
	BAD("1.FOO");
	BAD("FOO");
	BAD("HEADERX");
	BAD("TEXT ");
	BAD("HEADER.FIELDS");
	BAD("HEADER.FIELDS ");
	BAD("HEADER.FIELDS(a)");
	BAD("HEADER.FIELDS ()");
	BAD("HEADER.FIELDS (a");
	BAD("HEADER.FIELDS (a) ");
	BAD("HEADER.FIELDS (a b ");
	BAD("HEADER.FIELDS (\"a)");
	BAD("HEADER.FIELDS (\"a\\x\")");
	BAD("HEADER.FIELDS (\"a\r\")");
	BAD("HEADER.FIELDS ({5}\r\nab)");
	BAD("HEADER.FIELDS ({x}\r\nab)");
	BAD("HEADER.FIELDS ({1}ab)");
	BAD("HEADER.FIELDS (a(b)");
	BAD("HEADER.FIELDS (a)b");
	BAD("4294967296");
	BAD("1.2.3\0");
	parse_bad("HEADER", 6, true);
	parse_bad("1.MIME", 6, true);

	/* Depth and name limits. */
	struct buf s;
	buf_init(&s, 0);
	for (int i = 0; i < IMAP_SECTION_MAX_PARTS; i++)
		buf_printf(&s, i > 0 ? ".%d" : "%d", i + 1);
	struct imap_section sec;
	const char *err;
	assert_int_equal(imap_section_parse(s.data, s.len, false, &sec, &err), 0);
	assert_int_equal(sec.nparts, IMAP_SECTION_MAX_PARTS);
	imap_section_free(&sec);
	buf_append_str(&s, ".1");
	assert_int_equal(imap_section_parse(s.data, s.len, false, &sec, &err), -1);
	buf_reset(&s);
	buf_append_str(&s, "HEADER.FIELDS (");
	for (int i = 0; i <= IMAP_SECTION_MAX_FIELDS; i++)
		buf_printf(&s, i > 0 ? " X%d" : "X%d", i);
	buf_append_str(&s, ")");
	assert_int_equal(imap_section_parse(s.data, s.len, false, &sec, &err), -1);
	buf_free(&s);
}

/* ---- resolution ---- */

static const char body_mime_msg[] =
    "From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"foo\n bar\"\n\nRoot MIME prologue\n\n"
    "--foo bar\nContent-Type: text/x-myown; charset=us-ascii\n\nhello\n\n"
    "--foo bar\nContent-Type: message/rfc822\n\nFrom: sub@domain.org\n"
    "Date: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n"
    "Content-Type: multipart/alternative; boundary=\"sub1\"\n\nSub MIME prologue\n"
    "--sub1\nContent-Type: text/html\n\n<p>Hello world</p>\n\n--sub1\n"
    "Content-Type: text/plain\n\nHello another world\n\n--sub1--\nSub MIME epilogue\n\n"
    "--foo bar--\nRoot MIME epilogue\n";

static const char sub_msg[] =
    "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n"
    "Content-Type: multipart/alternative; boundary=\"sub1\"\n\nSub MIME prologue\n"
    "--sub1\nContent-Type: text/html\n\n<p>Hello world</p>\n\n--sub1\n"
    "Content-Type: text/plain\n\nHello another world\n\n--sub1--\nSub MIME epilogue\n";

static void test_body_mime(void **state)
{
	(void)state;
	struct msg m = load(body_mime_msg);
	assert_int_equal(m.len, 602);
	body(&m, "", body_mime_msg);
	body(&m, "TEXT", strstr(body_mime_msg, "Root MIME prologue"));
	body(&m, "1", "hello\n");
	body(&m, "1.mime", "Content-Type: text/x-myown; charset=us-ascii\n\n");
	body(&m, "2", sub_msg);
	body(&m, "2.mime", "Content-Type: message/rfc822\n\n");
	body(&m, "2.header",
	     "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\n"
	     "Subject: submsg\nContent-Type: multipart/alternative; "
	     "boundary=\"sub1\"\n\n");
	body(&m, "2.header.fields (from subject X-foo)",
	     "From: sub@domain.org\nSubject: submsg\n\n");
	body(&m, "2.header.fields.not (from subject X-foo)",
	     "Date: Sun, 12 Aug 2012 12:34:56 +0300\n"
	     "Content-Type: multipart/alternative; boundary=\"sub1\"\n\n");
	body(&m, "2.text", strstr(sub_msg, "Sub MIME prologue"));
	body(&m, "2.1.mime", "Content-Type: text/html\n\n");
	body(&m, "2.1", "<p>Hello world</p>\n");
	body(&m, "2.2.mime", "Content-Type: text/plain\n\n");
	body(&m, "2.2", "Hello another world\n");
	/* Sections that do not exist or do not apply. */
	body(&m, "3", NULL);
	body(&m, "1.1", NULL);
	body(&m, "1.HEADER", NULL);
	body(&m, "1.TEXT", NULL);
	body(&m, "2.3", NULL);
	body(&m, "2.1.1", NULL);
	body(&m, "2.1.HEADER", NULL);
	body(&m, "99.1", NULL);
	unload(&m);

	/* Nested multiparts. */
	m = load("Content-Type: multipart/mixed; boundary=a\n\n--a\n"
		 "Content-Type: multipart/alternative; boundary=b\n\n--b\n\none\n--b\n\ntwo\n"
		 "--b--\n--a\n\nthree\n--a--\n");
	body(&m, "1.1", "one");
	body(&m, "1.2", "two");
	body(&m, "1.2.MIME", "\n");
	body(&m, "2", "three");
	body(&m, "1.3", NULL);
	body(&m, "1.1.1", NULL);
	body(&m, "2.1", NULL);
	body(&m, "1.HEADER", NULL);
	unload(&m);
}

static void test_body_fields(void **state)
{
	(void)state;
	struct msg m =
	    load("From: User1 <user1@domain.org>\nDate: Sat, 24 Mar 2007 23:00:00 +0200\n"
		 "Subject: s1\n\nbody1\n\n");
	body(&m, "header",
	     "From: User1 <user1@domain.org>\nDate: Sat, 24 Mar 2007 23:00:00 +0200\n"
	     "Subject: s1\n\n");
	body(&m, "text", "body1\n\n");
	body(&m, "header.fields (from)", "From: User1 <user1@domain.org>\n\n");
	body(&m, "header.fields (from from)", "From: User1 <user1@domain.org>\n\n");
	body(&m, "header.fields (from subject)", "From: User1 <user1@domain.org>\nSubject: s1\n\n");
	body(&m, "header.fields.not (date)", "From: User1 <user1@domain.org>\nSubject: s1\n\n");
	body(&m, "header.fields.not (date date)",
	     "From: User1 <user1@domain.org>\nSubject: s1\n\n");
	body(&m, "header.fields (xyz)", "\n");
	/* A non-multipart message has part 1: its body; 1.MIME its header. */
	body(&m, "1", "body1\n\n");
	body(&m, "1.MIME",
	     "From: User1 <user1@domain.org>\nDate: Sat, 24 Mar 2007 23:00:00 +0200\n"
	     "Subject: s1\n\n");
	body(&m, "2", NULL);
	body(&m, "1.1", NULL);
	unload(&m);

	/* Repeated and folded fields, LF-only message, no body. */
	struct msg lf;
	const char raw[] = "Received: a\nSubject: folded\n  line\nreceived: b\nX: y";
	lf.data = malloc(sizeof(raw) - 1);
	memcpy(lf.data, raw, sizeof(raw) - 1);
	lf.len = sizeof(raw) - 1;
	lf.t = mime_parse(lf.data, lf.len, NULL);
	struct imap_section sec;
	const char *err;
	const char spec[] = "HEADER.FIELDS (RECEIVED SUBJECT X)";
	assert_int_equal(imap_section_parse(spec, sizeof(spec) - 1, false, &sec, &err), 0);
	struct imap_section_result res;
	assert_int_equal(imap_section_resolve(lf.t, &sec, &res), 1);
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(imap_section_result_write(&res, lf.t, &b), 0);
	/* Each field ends in CRLF, then the empty line. */
	assert_string_equal(
	    b.data, "Received: a\r\nSubject: folded\n  line\r\nreceived: b\r\nX: y\r\n\r\n");
	assert_int_equal(imap_section_result_size(&res), b.len);
	buf_free(&b);
	imap_section_result_free(&res);
	imap_section_free(&sec);
	unload(&lf);
}

static void test_message_rfc822(void **state)
{
	(void)state;
	struct msg m = load("From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\n"
			    "Mime-Version: 1.0\nContent-Type: message/rfc822\n\n"
			    "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\n"
			    "Subject: submsg\n\nHello world\n");
	const char *sub = "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\n"
			  "Subject: submsg\n\nHello world\n";
	body(&m, "text", sub);
	body(&m, "1", sub);
	body(&m, "1.1", "Hello world\n");
	body(&m, "1.header",
	     "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\n"
	     "Subject: submsg\n\n");
	body(&m, "1.header.fields (from subject X-foo)",
	     "From: sub@domain.org\nSubject: submsg\n\n");
	body(&m, "1.header.fields.not (from subject X-foo)",
	     "Date: Sun, 12 Aug 2012 12:34:56 +0300\n\n");
	body(&m, "1.text", "Hello world\n");
	body(&m, "1.2", NULL);
	unload(&m);

	/* Two levels. */
	m = load("From: user@domain.org\nMime-Version: 1.0\nContent-Type: message/rfc822\n\n"
		 "From: user2@domain.org\nMime-Version: 1.0\nContent-Type: message/rfc822\n\n"
		 "From: sub@domain.org\nSubject: submsg\n\nHello world\n");
	body(&m, "1.1", "From: sub@domain.org\nSubject: submsg\n\nHello world\n");
	body(&m, "1.header",
	     "From: user2@domain.org\nMime-Version: 1.0\n"
	     "Content-Type: message/rfc822\n\n");
	body(&m, "1.text", "From: sub@domain.org\nSubject: submsg\n\nHello world\n");
	body(&m, "1.1.1", "Hello world\n");
	body(&m, "1.1.header", "From: sub@domain.org\nSubject: submsg\n\n");
	body(&m, "1.1.text", "Hello world\n");
	unload(&m);

	/* A digest inside a message (fetch-body-message-rfc822-mime). */
	m = load("From: user@domain.org\nMime-Version: 1.0\nContent-Type: message/rfc822\n\n"
		 "From: sub@domain.org\nSubject: submsg\n"
		 "Content-Type: multipart/digest; boundary=\"foo\"\n\nprologue\n\n--foo \n\n"
		 "From: m1@example.com\nSubject: m1\n\nm1 body\n\n--foo \nX-Mime: m2 header\n\n"
		 "From: m2@example.com\nSubject: m2\n\nm2 body\n\n--foo--\n\nepilogue\n");
	body(&m, "1.header",
	     "From: sub@domain.org\nSubject: submsg\n"
	     "Content-Type: multipart/digest; boundary=\"foo\"\n\n");
	body(&m, "1.1", "From: m1@example.com\nSubject: m1\n\nm1 body\n");
	body(&m, "1.1.MIME", "\n");
	body(&m, "1.1.HEADER", "From: m1@example.com\nSubject: m1\n\n");
	body(&m, "1.1.TEXT", "m1 body\n");
	body(&m, "1.2", "From: m2@example.com\nSubject: m2\n\nm2 body\n");
	body(&m, "1.2.MIME", "X-Mime: m2 header\n\n");
	body(&m, "1.2.HEADER", "From: m2@example.com\nSubject: m2\n\n");
	body(&m, "1.2.TEXT", "m2 body\n");
	body(&m, "1.3", NULL);
	unload(&m);
}

static void test_binary(void **state)
{
	(void)state;
	struct msg m = load(body_mime_msg);
	binary(&m, "", m.data, 602);
	binary(&m, "1", "hello\r\n", 7);
	size_t sublen;
	char *sub = crlf(sub_msg, &sublen);
	assert_int_equal(sublen, 298);
	binary(&m, "2", sub, 298);
	free(sub);
	binary(&m, "2.1", "<p>Hello world</p>\r\n", 20);
	binary(&m, "2.2", "Hello another world\r\n", 21);
	unload(&m);

	m = load("From: user@domain.org\nMime-Version: 1.0\n"
		 "Content-Type: multipart/mixed; boundary=\"foo\n bar\"\n\nRoot MIME prologue\n\n"
		 "--foo bar\nContent-Type: text/x-myown; charset=us-ascii\n"
		 "Content-Transfer-Encoding: base64\n\n\naGVs\nbG8gd29y\nbGQ=\n\n"
		 "--foo bar\nContent-Type: text/x-myown; charset=us-ascii\n"
		 "Content-Transfer-Encoding: base64\n\n  aGVs    \n bG8g  \n   d29y  \t \n"
		 "    bGQ= \n\n\n"
		 "--foo bar\nContent-Type: text/x-myown; charset=us-ascii\n"
		 "Content-Transfer-Encoding: base64\n\naGVsbG8g\ndG8geW91IHRv\nbw==\n\n"
		 "--foo bar\nContent-Type: text/x-myown; charset=us-ascii\n"
		 "Content-Transfer-Encoding: base64\n\naGVsbG8gdG8gZXZlcnlvbmUh\n"
		 "--foo bar\nContent-Type: text/x-myown; charset=us-ascii\n"
		 "Content-Transfer-Encoding: base64\n\nYWJjZGVmZw1oaWprbA0KbW5vCnBxcnN0dXZxeHl6\n\n"
		 "--foo bar--\nRoot MIME epilogue\n");
	binary(&m, "1", "hello world", 11);
	binary(&m, "2", "hello world", 11);
	binary(&m, "3", "hello to you too", 16);
	binary(&m, "4", "hello to everyone!", 18);
	binary(&m, "5", "abcdefg\rhijkl\r\nmno\npqrstuvqxyz", 30);
	unload(&m);

	m = load("From: user@domain.org\nMime-Version: 1.0\n"
		 "Content-Type: multipart/mixed; boundary=\"foo\n bar\"\n\nRoot MIME prologue\n\n"
		 "--foo bar\nContent-Type: text/x-myown; charset=us-ascii\n"
		 "Content-Transfer-Encoding: quoted-printable\n\n"
		 "hello  \nbar=\n\nfoo\t=\nbar\nfoo\t \t= \n=62\nfoo = \t\nbar\nfoo =\n=62\n"
		 "foo  \nbar=\n\nfoo_bar\n\n--foo bar--\nRoot MIME epilogue\n");
	const char qp[] = "hello\r\nbar\r\nfoo\tbar\r\nfoo\t \tb\r\nfoo bar\r\nfoo b\r\nfoo\r\n"
			  "bar\r\nfoo_bar\r\n";
	binary(&m, "1", qp, 65);
	unload(&m);

	/* Unknown encoding; a full buffer. */
	m = load("Mime-Version: 1.0\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 x\n");
	struct imap_section sec;
	const char *err;
	assert_int_equal(imap_section_parse("1", 1, true, &sec, &err), 0);
	struct imap_section_result res;
	assert_int_equal(imap_section_resolve(m.t, &sec, &res), 1);
	assert_int_equal(imap_section_binary(&res, m.t, NULL, NULL), IMAP_BINARY_UNKNOWN_CTE);
	imap_section_result_free(&res);
	imap_section_free(&sec);
	unload(&m);

	m = load("Mime-Version: 1.0\nContent-Transfer-Encoding: base64\n\naGVsbG8gd29ybGQ=\n");
	assert_int_equal(imap_section_parse("1", 1, true, &sec, &err), 0);
	assert_int_equal(imap_section_resolve(m.t, &sec, &res), 1);
	struct buf small;
	buf_init(&small, 5);
	assert_int_equal(imap_section_binary(&res, m.t, &small, NULL), IMAP_BINARY_FULL);
	buf_free(&small);
	size_t size;
	assert_int_equal(imap_section_binary(&res, m.t, NULL, &size), IMAP_BINARY_OK);
	assert_int_equal(size, 11);
	imap_section_result_free(&res);
	imap_section_free(&sec);
	/* BINARY[] of the message is the raw message. */
	assert_int_equal(imap_section_parse("", 0, true, &sec, &err), 0);
	assert_int_equal(imap_section_resolve(m.t, &sec, &res), 1);
	assert_int_equal(imap_section_binary(&res, m.t, NULL, &size), IMAP_BINARY_OK);
	assert_int_equal(size, m.len);
	imap_section_result_free(&res);
	imap_section_free(&sec);
	unload(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),	cmocka_unit_test(test_body_mime),
	    cmocka_unit_test(test_body_fields), cmocka_unit_test(test_message_rfc822),
	    cmocka_unit_test(test_binary),
	};
	return cmocka_run_group_tests_name("imap_section", tests, NULL, NULL);
}
