/* test_dsn.c - unit tests for the DSN builder (dsn_build) and the reply to
 * status mapping (dsn_status_from_reply): message structure, the fields of
 * RFC 3464, sanitising of remote text, folding, headers-only reports, the
 * boundary, and refusals.
 *
 * With DSN_EXPORT_DIR set, the samples built by test_samples are also
 * written there as NAME.eml, for tests/e2e/test_dsn_format.py to parse with
 * Python's email package. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "queue/dsn.h"

#define T_ARRIVAL ((time_t)1767261600) /* Thu, 1 Jan 2026 10:00:00 +0000 */
#define T_ATTEMPT ((time_t)1767265200) /* 11:00:00 */
#define T_NOW ((time_t)1767268800)     /* 12:00:00 */
#define T_UNTIL ((time_t)1767693600)   /* Tue, 6 Jan 2026 10:00:00 +0000 */

static const char orig_msg[] = "Return-Path: <alice@example.org>\r\n"
			       "Received: from client.example.org by mx.example.org\r\n"
			       "From: Alice <alice@example.org>\r\n"
			       "To: Bob <bob@example.net>\r\n"
			       "Subject: Lunch\r\n"
			       "Message-ID: <lunch-1@example.org>\r\n"
			       "\r\n"
			       "Shall we have lunch on Friday?\r\n"
			       "-- \r\n"
			       "Alice\r\n";

static const struct dsn_rcpt rcpt_failed = {
	.address = "bob@example.net",
	.orcpt = "rfc822;Bob@Example.NET",
	.action = "failed",
	.status = "5.1.1",
	.remote_mta = "mx1.example.net",
	.diagnostic = "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown",
	.last_attempt = T_ATTEMPT,
};

static struct dsn_info base_info(const struct dsn_rcpt *rcpts, size_t n)
{
	struct dsn_info info = {
		.reporting_mta = "mx.example.org",
		.to = "alice@example.org",
		.envid = "QQ314159",
		.queue_id = "4F2A9C01B7",
		.arrival = T_ARRIVAL,
		.now = T_NOW,
		.boundary_seed = "K7Q2M9XZ",
		.rcpts = rcpts,
		.nrcpt = n,
	};
	return info;
}

/* Build into a fresh buffer; the caller frees it. */
static void build(const struct dsn_info *info, const char *orig, size_t len, struct buf *out)
{
	buf_init(out, 0);
	if (dsn_build(info, orig, len, out) != 0)
		fail_msg("dsn_build failed");
	assert_non_null(out->data);
	assert_int_equal(strlen(out->data), out->len);
}

static bool contains(const struct buf *b, const char *s)
{
	return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static void expect_contains(const struct buf *b, const char *s)
{
	if (!contains(b, s))
		fail_msg("missing \"%s\" in:\n%s", s, b->data);
}

static void expect_lacks(const struct buf *b, const char *s)
{
	if (contains(b, s))
		fail_msg("unexpected \"%s\" in:\n%s", s, b->data);
}

/* Like expect_contains() for wrapped text: runs of white space (line
 * breaks included) count as one space on both sides. */
static void squash(const char *s, size_t len, struct buf *out)
{
	buf_init(out, 0);
	bool space = false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == ' ' || c == '\r' || c == '\n' || c == '\t') {
			space = true;
			continue;
		}
		if (space && out->len > 0)
			buf_append(out, " ", 1);
		space = false;
		buf_append(out, &c, 1);
	}
	if (out->data == NULL)
		buf_append(out, "", 0);
}

static void expect_text(const struct buf *b, const char *s)
{
	struct buf hay, needle;
	squash(b->data, b->len, &hay);
	squash(s, strlen(s), &needle);
	if (needle.len > 0 && memmem(hay.data, hay.len, needle.data, needle.len) == NULL)
		fail_msg("missing text \"%s\" in:\n%s", s, b->data);
	buf_free(&hay);
	buf_free(&needle);
}

/* Every line ends with CRLF (no bare CR or LF), no line is longer than 998
 * bytes, and the header section is fields and continuation lines only. */
static void check_wellformed(const struct buf *b)
{
	size_t line_start = 0;
	bool in_header = true;
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\r') {
			if (i + 1 >= b->len || b->data[i + 1] != '\n')
				fail_msg("bare CR at %zu", i);
			continue;
		}
		if (b->data[i] != '\n')
			continue;
		if (i == 0 || b->data[i - 1] != '\r')
			fail_msg("bare LF at %zu", i);
		size_t len = i - 1 - line_start;
		if (len > 998)
			fail_msg("line of %zu bytes at %zu", len, line_start);
		const char *line = b->data + line_start;
		if (in_header && len == 0) {
			in_header = false;
		} else if (in_header && line[0] != ' ' && line[0] != '\t') {
			size_t n = 0;
			while (n < len && line[n] > 32 && line[n] < 127 && line[n] != ':')
				n++;
			if (n == 0 || n >= len || line[n] != ':')
				fail_msg("not a header field: \"%.*s\"", (int)len, line);
		}
		line_start = i + 1;
	}
	assert_int_equal(line_start, b->len); /* ends with CRLF */
	assert_false(in_header);
}

/* The boundary from the top-level Content-Type. */
static void get_boundary(const struct buf *b, char *out, size_t outlen)
{
	const char *p = strstr(b->data, "boundary=\"");
	assert_non_null(p);
	p += strlen("boundary=\"");
	const char *q = strchr(p, '"');
	assert_non_null(q);
	assert_true((size_t)(q - p) < outlen);
	assert_true(q - p <= 70);
	snprintf(out, outlen, "%.*s", (int)(q - p), p);
}

static size_t count(const struct buf *b, const char *s)
{
	size_t n = 0, sl = strlen(s);
	for (const char *p = b->data;
	     (p = memmem(p, b->len - (size_t)(p - b->data), s, sl)) != NULL; p += sl)
		n++;
	return n;
}

/* Part i (0-based) between the boundaries: its header and body. */
static void get_part(const struct buf *b, int i, struct buf *part)
{
	char bd[100], delim[110];
	get_boundary(b, bd, sizeof(bd));
	snprintf(delim, sizeof(delim), "\r\n--%s", bd);
	const char *p = b->data;
	for (int k = 0; k <= i; k++) {
		p = strstr(p, delim);
		assert_non_null(p);
		p += strlen(delim);
		assert_memory_equal(p, "\r\n", 2);
		p += 2;
	}
	const char *e = strstr(p, delim);
	assert_non_null(e);
	buf_init(part, 0);
	buf_append(part, p, (size_t)(e - p));
}

/* The number of parts, checking the closing delimiter ends the message. */
static int part_count(const struct buf *b)
{
	char bd[100], open[110], close[110];
	get_boundary(b, bd, sizeof(bd));
	snprintf(open, sizeof(open), "\r\n--%s\r\n", bd);
	snprintf(close, sizeof(close), "\r\n--%s--\r\n", bd);
	assert_int_equal(count(b, close), 1);
	size_t cl = strlen(close);
	assert_memory_equal(b->data + b->len - cl, close, cl);
	return (int)count(b, open);
}

/* ----- samples, also exported for the Python test ----- */

static void export(const char *name, const struct buf *b)
{
	const char *dir = getenv("DSN_EXPORT_DIR");
	if (dir == NULL || dir[0] == '\0')
		return;
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s.eml", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		fail_msg("cannot write %s", path);
	assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
	assert_int_equal(fclose(f), 0);
}

static void sample_failure(struct buf *out)
{
	struct dsn_info info = base_info(&rcpt_failed, 1);
	build(&info, orig_msg, sizeof(orig_msg) - 1, out);
}

static void sample_delay(struct buf *out)
{
	static const struct dsn_rcpt r[] = {{
		.address = "carol@example.com",
		.action = "delayed",
		.status = "4.4.1",
		.remote_mta = "mx.example.com",
		.diagnostic = "421 4.4.1 mx.example.com: Service not available, try later",
		.last_attempt = T_ATTEMPT,
		.will_retry_until = T_UNTIL,
	}};
	struct dsn_info info = base_info(r, 1);
	info.delay = true;
	info.envid = NULL;
	build(&info, orig_msg, sizeof(orig_msg) - 1, out);
}

static void sample_headers_only(struct buf *out)
{
	struct dsn_info info = base_info(&rcpt_failed, 1);
	info.headers_only = true;
	build(&info, orig_msg, sizeof(orig_msg) - 1, out);
}

/* Three recipients, three outcomes; no ENVID, no ORCPT, no remote MTA. */
static void sample_multi(struct buf *out)
{
	static const struct dsn_rcpt r[] = {
		{.address = "bob@example.net",
		 .action = "failed",
		 .status = "5.2.2",
		 .remote_mta = "mx1.example.net",
		 .diagnostic = "552 5.2.2 Mailbox full",
		 .last_attempt = T_ATTEMPT},
		{.address = "dave@example.net",
		 .action = "failed",
		 .status = "4.4.7",
		 .diagnostic = "connect to mx.example.net[192.0.2.7]:25: Connection timed out"},
		{.address = "erin@example.net", .action = "delivered", .status = "2.0.0"},
	};
	struct dsn_info info = base_info(r, 3);
	info.envid = NULL;
	build(&info, orig_msg, sizeof(orig_msg) - 1, out);
}

/* Everything a remote server or client controls tries to break out of its
 * line: CR/LF, a fake boundary, header fields, NUL-free control bytes,
 * invalid and valid UTF-8. */
static const char evil_diag[] = "550 5.7.1 go away\r\nBcc: victim@example.com\r\n\r\n"
				"--4F2A9C01B7/K7Q2M9XZ/dsn.mx.example.org--\r\n"
				"X-Evil: \x01\x1b[31m red \xff\xfe B\xc3\xbcro \xe2\x82\xac \xc2\x9b" "1m";

static void sample_injection(struct buf *out)
{
	static const struct dsn_rcpt r[] = {{
		.address = "bob@example.net\r\nBcc: victim@example.com",
		.orcpt = "rfc822;bob@example.net\r\nX-Injected: 1",
		.action = "failed",
		.status = "5.7.1\r\nX-Injected: 2",
		.remote_mta = "mx1.example.net\r\nX-Injected: 3",
		.diagnostic = evil_diag,
		.last_attempt = T_ATTEMPT,
	}};
	struct dsn_info info = base_info(r, 1);
	info.envid = "QQ\r\nX-Injected: 4";
	info.queue_id = "4F2A9C01B7\r\nX-Injected: 5";
	info.to = "alice@example.org>\r\nBcc: victim@example.com";
	build(&info, orig_msg, sizeof(orig_msg) - 1, out);
}

/* SMTPUTF8: UTF-8 addresses, an 8-bit original. */
static const char orig_utf8[] = "From: J\xc3\xb6rg <j\xc3\xb6rg@example.org>\r\n"
				"To: <m\xc3\xbcller@example.de>\r\n"
				"Subject: Gr\xc3\xbc\xc3\x9f"
				"e\r\n"
				"\r\n"
				"Sch\xc3\xb6nen Tag!\r\n";

static void sample_utf8(struct buf *out)
{
	static const struct dsn_rcpt r[] = {{
		.address = "m\xc3\xbcller@example.de",
		.orcpt = "utf-8;m\xc3\xbcller@example.de",
		.action = "failed",
		.status = "5.1.1",
		.remote_mta = "mx.example.de",
		.diagnostic = "550 5.1.1 Benutzer m\xc3\xbcller unbekannt",
	}};
	struct dsn_info info = base_info(r, 1);
	info.to = "j\xc3\xb6rg@example.org";
	build(&info, orig_utf8, sizeof(orig_utf8) - 1, out);
}

/* A long remote reply, with and without spaces. */
static void sample_long(struct buf *out)
{
	static char diag[6000];
	if (diag[0] == '\0') {
		size_t n = 0;
		n += (size_t)snprintf(diag, sizeof(diag), "554 5.7.1 ");
		for (int i = 0; n < 400; i++)
			n += (size_t)snprintf(diag + n, sizeof(diag) - n, "word%d ", i);
		memset(diag + n, 'x', 3000);
		diag[n + 3000] = '\0';
	}
	static struct dsn_rcpt r[1];
	r[0] = rcpt_failed;
	r[0].diagnostic = diag;
	struct dsn_info info = base_info(r, 1);
	build(&info, orig_msg, sizeof(orig_msg) - 1, out);
}

static const struct {
	const char *name;
	void (*build)(struct buf *out);
} samples[] = {
	{"failure", sample_failure},
	{"delay", sample_delay},
	{"headers_only", sample_headers_only},
	{"multi", sample_multi},
	{"injection", sample_injection},
	{"utf8", sample_utf8},
	{"long", sample_long},
};

static void test_samples(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		struct buf b;
		samples[i].build(&b);
		check_wellformed(&b);
		assert_int_equal(part_count(&b), 3);
		export(samples[i].name, &b);
		buf_free(&b);
	}
}

/* ----- the failure report in detail ----- */

static void test_failure_header(void **state)
{
	(void)state;
	struct buf b;
	sample_failure(&b);
	/* The top-level header section. */
	const char *end = strstr(b.data, "\r\n\r\n");
	assert_non_null(end);
	struct buf h;
	buf_init(&h, 0);
	buf_append(&h, b.data, (size_t)(end - b.data) + 2);
	expect_contains(&h, "From: \"Mail Delivery System\" <MAILER-DAEMON@mx.example.org>\r\n");
	expect_contains(&h, "To: <alice@example.org>\r\n");
	expect_contains(&h, "Subject: Undelivered Mail Returned to Sender\r\n");
	expect_contains(&h, "Date: Thu, 1 Jan 2026 12:00:00 +0000\r\n");
	expect_contains(&h, "Message-ID: <20260101120000.4F2A9C01B7.K7Q2M9XZ@mx.example.org>\r\n");
	expect_contains(&h, "MIME-Version: 1.0\r\n");
	expect_contains(&h, "Auto-Submitted: auto-replied\r\n");
	expect_contains(&h, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
			    "\tboundary=\"");
	expect_contains(&h, "Content-Transfer-Encoding: 7bit\r\n");
	buf_free(&h);
	/* Pure: the same input gives the same bytes. */
	struct buf again;
	sample_failure(&again);
	assert_int_equal(again.len, b.len);
	assert_memory_equal(again.data, b.data, b.len);
	buf_free(&again);
	buf_free(&b);
}

static void test_failure_parts(void **state)
{
	(void)state;
	struct buf b, p;
	sample_failure(&b);
	assert_int_equal(part_count(&b), 3);

	get_part(&b, 0, &p);
	expect_contains(&p, "Content-Type: text/plain; charset=us-ascii\r\n");
	expect_text(&p, "This is the mail delivery system at mx.example.org.");
	expect_text(&p, "could not be delivered");
	expect_contains(&p, "\r\n  <bob@example.net>\r\n");
	expect_text(&p, "Status: 5.1.1 (permanent failure: bad destination mailbox address)");
	expect_text(&p, "Server: mx1.example.net");
	expect_text(&p, "It replied: 550 5.1.1 <bob@example.net>: Recipient address rejected: "
			"User unknown");
	expect_text(&p, "Last attempt: Thu, 1 Jan 2026 11:00:00 +0000");
	expect_text(&p, "Your message is attached below.");
	expect_text(&p, "Queue ID: 4F2A9C01B7");
	expect_text(&p, "Received: Thu, 1 Jan 2026 10:00:00 +0000");
	/* ORCPT differs only in case from the address: not repeated. */
	expect_lacks(&p, "Addressed as:");
	buf_free(&p);

	get_part(&b, 1, &p);
	const char want[] = "Content-Description: Delivery report\r\n"
			    "Content-Type: message/delivery-status\r\n"
			    "\r\n"
			    "Original-Envelope-Id: QQ314159\r\n"
			    "Reporting-MTA: dns; mx.example.org\r\n"
			    "Arrival-Date: Thu, 1 Jan 2026 10:00:00 +0000\r\n"
			    "X-Postane-Queue-ID: 4F2A9C01B7\r\n"
			    "\r\n"
			    "Original-Recipient: rfc822; Bob@Example.NET\r\n"
			    "Final-Recipient: rfc822; bob@example.net\r\n"
			    "Action: failed\r\n"
			    "Status: 5.1.1\r\n"
			    "Remote-MTA: dns; mx1.example.net\r\n"
			    "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: Recipient "
			    "address\r\n"
			    " rejected: User unknown\r\n"
			    "Last-Attempt-Date: Thu, 1 Jan 2026 11:00:00 +0000\r\n";
	if (p.len != sizeof(want) - 1 || memcmp(p.data, want, p.len) != 0)
		fail_msg("delivery-status part:\n%s\nwant:\n%s", p.data, want);
	buf_free(&p);

	/* The original, byte for byte. */
	get_part(&b, 2, &p);
	const char head[] = "Content-Description: Undelivered Message\r\n"
			    "Content-Type: message/rfc822\r\n"
			    "Content-Transfer-Encoding: 7bit\r\n"
			    "\r\n";
	assert_int_equal(p.len, sizeof(head) - 1 + sizeof(orig_msg) - 1);
	assert_memory_equal(p.data, head, sizeof(head) - 1);
	assert_memory_equal(p.data + sizeof(head) - 1, orig_msg, sizeof(orig_msg) - 1);
	buf_free(&p);
	buf_free(&b);
}

static void test_delay(void **state)
{
	(void)state;
	struct buf b, p;
	sample_delay(&b);
	expect_contains(&b, "Subject: Delayed Mail (still being retried)\r\n");
	get_part(&b, 0, &p);
	expect_text(&p, "has not been delivered yet");
	expect_text(&p, "you do not need to send the message again");
	expect_text(&p, "Not delivered yet (still trying):");
	expect_text(&p, "4.4.1 (temporary failure: no answer from host)");
	expect_text(&p, "Trying until: Tue, 6 Jan 2026 10:00:00 +0000");
	buf_free(&p);
	get_part(&b, 1, &p);
	expect_lacks(&p, "Original-Envelope-Id");
	expect_lacks(&p, "Original-Recipient");
	expect_contains(&p, "Action: delayed\r\n");
	expect_contains(&p, "Status: 4.4.1\r\n");
	expect_contains(&p, "Will-Retry-Until: Tue, 6 Jan 2026 10:00:00 +0000\r\n");
	expect_contains(&p, "Diagnostic-Code: smtp; 421 4.4.1 mx.example.com:");
	buf_free(&p);
	buf_free(&b);
}

static void test_headers_only(void **state)
{
	(void)state;
	struct buf b, p;
	sample_headers_only(&b);
	get_part(&b, 0, &p);
	expect_text(&p, "The header of your message is attached below.");
	buf_free(&p);
	get_part(&b, 2, &p);
	expect_contains(&p, "Content-Type: text/rfc822-headers\r\n");
	expect_contains(&p, "Subject: Lunch\r\nMessage-ID: <lunch-1@example.org>\r\n");
	expect_lacks(&p, "message/rfc822");
	expect_lacks(&p, "lunch on Friday");
	/* The part ends with the last header line. */
	const char *tail = "Message-ID: <lunch-1@example.org>\r\n";
	assert_memory_equal(p.data + p.len - strlen(tail), tail, strlen(tail));
	buf_free(&p);
	expect_lacks(&b, "lunch on Friday");
	buf_free(&b);

	/* The caller may pass the header already cut, with or without its
	 * last CRLF, or a message with no body at all. */
	static const char *const cut[] = {
		"From: a@example.org\r\nSubject: x\r\n",
		"From: a@example.org\r\nSubject: x",
		"From: a@example.org\r\nSubject: x\r\n\r\n",
	};
	for (size_t i = 0; i < 3; i++) {
		struct dsn_info info = base_info(&rcpt_failed, 1);
		info.headers_only = true;
		build(&info, cut[i], strlen(cut[i]), &b);
		check_wellformed(&b);
		get_part(&b, 2, &p);
		const char *want = "\r\n\r\nFrom: a@example.org\r\nSubject: x\r\n";
		assert_memory_equal(p.data + p.len - strlen(want), want, strlen(want));
		buf_free(&p);
		buf_free(&b);
	}
}

static void test_multi(void **state)
{
	(void)state;
	struct buf b, p;
	sample_multi(&b);
	expect_contains(&b, "Subject: Undelivered Mail Returned to Sender\r\n");
	get_part(&b, 0, &p);
	expect_text(&p, "Could not be delivered to:");
	expect_text(&p, "Delivered to: <erin@example.net> Status: 2.0.0 (success)");
	expect_text(&p, "5.2.2 (permanent failure: mailbox full)");
	expect_text(&p, "4.4.7 (gave up after temporary failures: delivery time expired)");
	expect_text(&p, "Problem: connect to mx.example.net[192.0.2.7]:25: Connection timed out");
	buf_free(&p);
	get_part(&b, 1, &p);
	assert_int_equal(count(&p, "Final-Recipient:"), 3);
	/* The part's own header, the per-message block, one per recipient. */
	assert_int_equal(count(&p, "\r\n\r\n"), 4);
	expect_contains(&p, "Final-Recipient: rfc822; dave@example.net\r\n"
			    "Action: failed\r\n"
			    "Status: 4.4.7\r\n"
			    "Diagnostic-Code: X-Postane; connect to "
			    "mx.example.net[192.0.2.7]:25:\r\n"
			    " Connection timed out\r\n");
	expect_contains(&p, "Final-Recipient: rfc822; erin@example.net\r\n"
			    "Action: delivered\r\n"
			    "Status: 2.0.0\r\n");
	expect_lacks(&p, "Original-Envelope-Id");
	buf_free(&p);
	buf_free(&b);

	/* Only successes: a success report. */
	static const struct dsn_rcpt ok[] = {
		{.address = "erin@example.net", .action = "delivered", .status = "2.0.0"},
		{.address = "fred@example.net", .action = "RELAYED"},
	};
	struct dsn_info info = base_info(ok, 2);
	build(&info, orig_msg, sizeof(orig_msg) - 1, &b);
	expect_contains(&b, "Subject: Successful Mail Delivery Report\r\n");
	expect_contains(&b, "Action: relayed\r\nStatus: 2.0.0\r\n");
	expect_text(&b, "Passed on");
	buf_free(&b);
}

/* ----- sanitising ----- */

/* Every CR and LF in the message ends a line we wrote: no header field
 * injected anywhere, no extra MIME part. */
static void test_injection(void **state)
{
	(void)state;
	struct buf b, p;
	sample_injection(&b);
	check_wellformed(&b);
	assert_int_equal(part_count(&b), 3);
	expect_lacks(&b, "\nBcc:");
	expect_lacks(&b, "\nX-Injected");
	expect_lacks(&b, "\nX-Evil");
	expect_lacks(&b, "\x1b");
	expect_lacks(&b, "\x01");
	expect_contains(&b, "To: <alice@example.org> Bcc: victim@example.com>\r\n");

	/* The delivery-status part is 7-bit and its fields are ours. */
	get_part(&b, 1, &p);
	for (size_t i = 0; i < p.len; i++)
		if ((unsigned char)p.data[i] >= 0x80)
			fail_msg("8-bit byte in delivery-status at %zu", i);
	expect_contains(&p, "Original-Envelope-Id: QQ X-Injected: 4\r\n");
	expect_contains(&p, "X-Postane-Queue-ID: 4F2A9C01B7 X-Injected: 5\r\n");
	expect_contains(&p, "Status: 5.0.0\r\n"); /* the malformed status was replaced */
	expect_contains(&p, "Remote-MTA: dns; mx1.example.net X-Injected: 3\r\n");
	expect_text(&p, "X-Evil: [31m red ?? B\\x{FC}ro \\x{20AC} \\x{9B}1m");
	buf_free(&p);

	/* The human part keeps valid UTF-8, nothing else. */
	get_part(&b, 0, &p);
	expect_contains(&p, "Content-Type: text/plain; charset=utf-8\r\n");
	expect_text(&p, "B\xc3\xbcro \xe2\x82\xac ?1m");
	expect_lacks(&p, "\xff");
	expect_lacks(&p, "\xc2\x9b"); /* C1 CSI */
	buf_free(&p);
	buf_free(&b);
}

static void test_utf8(void **state)
{
	(void)state;
	struct buf b, p;
	sample_utf8(&b);
	check_wellformed(&b);
	expect_contains(&b, "To: <j\xc3\xb6rg@example.org>\r\n");
	expect_contains(&b, "Content-Transfer-Encoding: 8bit\r\n\r\nThis is a MIME");
	get_part(&b, 1, &p);
	expect_contains(&p, "Original-Recipient: utf-8; m\\x{FC}ller@example.de\r\n");
	expect_contains(&p, "Final-Recipient: utf-8; m\\x{FC}ller@example.de\r\n");
	expect_contains(&p, "Diagnostic-Code: smtp; 550 5.1.1 Benutzer m\\x{FC}ller unbekannt\r\n");
	buf_free(&p);
	get_part(&b, 0, &p);
	expect_contains(&p, "charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n");
	expect_contains(&p, "  <m\xc3\xbcller@example.de>\r\n");
	expect_text(&p, "It replied: 550 5.1.1 Benutzer m\xc3\xbcller unbekannt");
	buf_free(&p);
	get_part(&b, 2, &p);
	expect_contains(&p, "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n");
	buf_free(&p);
	buf_free(&b);

	/* RFC 6533 utf-8-addr-xtext: '+', '=', '\' and space are escaped in
	 * an address with 8-bit bytes; a utf-8 ORCPT's own escapes are kept. */
	static const struct dsn_rcpt r[] = {{
		.address = "\"a b\"+x=\\\xc3\xa9@example.org",
		.orcpt = "utf-8;\\x{E9}@example.org",
		.action = "failed",
	}};
	struct dsn_info info = base_info(r, 1);
	build(&info, "", 0, &b);
	expect_contains(&b, "Final-Recipient: utf-8; "
			    "\"a\\x{20}b\"\\x{2B}x\\x{3D}\\x{5C}\\x{E9}@example.org\r\n");
	expect_contains(&b, "Original-Recipient: utf-8; \\x{E9}@example.org\r\n");
	buf_free(&b);
}

static void test_long_folded(void **state)
{
	(void)state;
	struct buf b, p;
	sample_long(&b);
	check_wellformed(&b);
	get_part(&b, 1, &p);
	const char *d = strstr(p.data, "Diagnostic-Code: smtp; 554 5.7.1 word0 word1");
	assert_non_null(d);
	/* Folded: the lines of the field stay short where there are spaces;
	 * the field is cut and marked. */
	size_t lines = 0, total = 0;
	const char *e = d;
	for (;;) {
		const char *nl = strstr(e, "\r\n");
		assert_non_null(nl);
		size_t len = (size_t)(nl - e);
		total += len;
		lines++;
		if (nl[2] != ' ') {
			/* The last line: the unbreakable run, cut. */
			assert_true(len > 78);
			assert_memory_equal(nl - 3, "...", 3);
			break;
		}
		assert_true(len <= 78);
		e = nl + 2;
	}
	assert_true(lines > 4);
	assert_true(total < 1000);
	buf_free(&p);
	buf_free(&b);
}

/* ----- the rest ----- */

static void test_bare_lf_original(void **state)
{
	(void)state;
	static const char lf[] = "From: a@example.org\nSubject: x\r\rbody\n.\nend";
	struct dsn_info info = base_info(&rcpt_failed, 1);
	struct buf b, p;
	build(&info, lf, sizeof(lf) - 1, &b);
	check_wellformed(&b);
	get_part(&b, 2, &p);
	expect_contains(&p,
			"\r\n\r\nFrom: a@example.org\r\nSubject: x\r\n\r\nbody\r\n.\r\nend\r\n");
	buf_free(&p);
	buf_free(&b);
}

static void test_no_original(void **state)
{
	(void)state;
	struct dsn_info info = base_info(&rcpt_failed, 1);
	struct buf b, p;
	build(&info, NULL, 0, &b);
	check_wellformed(&b);
	assert_int_equal(part_count(&b), 2);
	get_part(&b, 0, &p);
	expect_lacks(&p, "attached");
	buf_free(&p);
	buf_free(&b);
	build(&info, "", 0, &b);
	assert_int_equal(part_count(&b), 2);
	buf_free(&b);
}

/* An original holding the boundary we would choose gets another one. */
static void test_boundary_collision(void **state)
{
	(void)state;
	struct dsn_info info = base_info(&rcpt_failed, 1);
	struct buf b;
	char bd[100], bd2[100];
	build(&info, "", 0, &b);
	get_boundary(&b, bd, sizeof(bd));
	buf_free(&b);
	assert_non_null(strstr(bd, "4F2A9C01B7"));
	assert_non_null(strstr(bd, "K7Q2M9XZ"));

	char orig[400];
	snprintf(orig, sizeof(orig),
		 "Subject: x\r\n\r\n--%s\r\nContent-Type: text/html\r\n\r\n--%s--\r\n", bd, bd);
	build(&info, orig, strlen(orig), &b);
	get_boundary(&b, bd2, sizeof(bd2));
	assert_string_not_equal(bd, bd2);
	assert_null(strstr(orig, bd2));
	assert_int_equal(part_count(&b), 3);
	buf_free(&b);

	/* Another seed, another boundary and Message-ID. */
	info.boundary_seed = "OTHERSEED";
	build(&info, "", 0, &b);
	get_boundary(&b, bd2, sizeof(bd2));
	assert_string_not_equal(bd, bd2);
	expect_contains(&b, ".OTHERSEED@mx.example.org>");
	buf_free(&b);

	/* Seeds and ids with odd characters are filtered, long ones cut. */
	info.boundary_seed = "\"seed\" with\r\nspaces";
	info.queue_id = "0123456789012345678901234567890123456789";
	info.reporting_mta = "a-very-long-host-name.with.many.labels.example.org";
	build(&info, "", 0, &b);
	check_wellformed(&b);
	get_boundary(&b, bd2, sizeof(bd2));
	for (const char *c = bd2; *c != '\0'; c++)
		if (strchr("\"\r\n ", *c) != NULL)
			fail_msg("bad boundary character in \"%s\"", bd2);
	buf_free(&b);
}

static void test_status_fallback(void **state)
{
	(void)state;
	static const struct {
		const char *action, *status, *want;
	} cases[] = {
		{"failed", NULL, "5.0.0"},      {"failed", "", "5.0.0"},
		{"failed", "5.1", "5.0.0"},     {"failed", "5.1.1.1", "5.0.0"},
		{"failed", "3.1.1", "5.0.0"},   {"failed", "5.1234.1", "5.0.0"},
		{"failed", "5.1.1 ", "5.0.0"},  {"delayed", NULL, "4.0.0"},
		{"delivered", "x", "2.0.0"},    {"failed", "4.4.7", "4.4.7"},
		{"failed", "5.999.999", "5.999.999"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dsn_rcpt r = {.address = "b@example.net", .action = cases[i].action,
				     .status = cases[i].status};
		struct dsn_info info = base_info(&r, 1);
		struct buf b;
		build(&info, "", 0, &b);
		char want[64];
		snprintf(want, sizeof(want), "\r\nStatus: %s\r\n", cases[i].want);
		expect_contains(&b, want);
		buf_free(&b);
	}
}

static void test_refused(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	buf_append_str(&b, "keep");
	struct dsn_rcpt r = rcpt_failed;
	struct dsn_info info = base_info(&r, 1);
	struct dsn_info bad;

	assert_int_equal(dsn_build(NULL, "", 0, &b), -1);
	bad = info;
	bad.to = NULL;
	assert_int_equal(dsn_build(&bad, "", 0, &b), -1);
	bad = info;
	bad.to = "";
	assert_int_equal(dsn_build(&bad, "", 0, &b), -1);
	bad = info;
	bad.reporting_mta = NULL;
	assert_int_equal(dsn_build(&bad, "", 0, &b), -1);
	bad = info;
	bad.reporting_mta = "";
	assert_int_equal(dsn_build(&bad, "", 0, &b), -1);
	bad = info;
	bad.nrcpt = 0;
	assert_int_equal(dsn_build(&bad, "", 0, &b), -1);
	bad = info;
	bad.rcpts = NULL;
	assert_int_equal(dsn_build(&bad, "", 0, &b), -1);
	assert_int_equal(dsn_build(&info, NULL, 5, &b), -1);
	r.action = "bounced";
	assert_int_equal(dsn_build(&info, "", 0, &b), -1);
	r.action = NULL;
	assert_int_equal(dsn_build(&info, "", 0, &b), -1);
	r.action = "failed";
	r.address = "";
	assert_int_equal(dsn_build(&info, "", 0, &b), -1);
	r.address = NULL;
	assert_int_equal(dsn_build(&info, "", 0, &b), -1);
	assert_int_equal(b.len, 4);
	assert_string_equal(b.data, "keep");
	buf_free(&b);

	/* Over the buffer's maximum: -1, and the buffer as it was. */
	r = rcpt_failed;
	struct buf small;
	buf_init(&small, 600);
	buf_append_str(&small, "prefix");
	assert_int_equal(dsn_build(&info, orig_msg, sizeof(orig_msg) - 1, &small), -1);
	assert_int_equal(small.len, 6);
	assert_string_equal(small.data, "prefix");
	buf_free(&small);

	/* It appends. */
	buf_init(&b, 0);
	buf_append_str(&b, "X");
	assert_int_equal(dsn_build(&info, orig_msg, sizeof(orig_msg) - 1, &b), 0);
	assert_memory_equal(b.data, "XFrom: ", 7);
	buf_free(&b);
}

static void expect_status(int code, const char *enhanced, const char *want)
{
	char out[16];
	memset(out, 'Z', sizeof(out));
	dsn_status_from_reply(code, enhanced, out);
	if (strcmp(out, want) != 0)
		fail_msg("%d \"%s\": got \"%s\", want \"%s\"", code, enhanced ? enhanced : "(null)",
			 out, want);
}

static void test_status_from_reply(void **state)
{
	(void)state;
	expect_status(550, "5.1.1", "5.1.1");
	expect_status(550, "5.1.1 <bob@example.net>: no such user", "5.1.1");
	expect_status(452, "4.2.2 Mailbox full", "4.2.2");
	expect_status(250, "2.0.0 Ok", "2.0.0");
	expect_status(550, " 5.7.1 refused", "5.7.1");
	expect_status(550, "-5.7.1 refused", "5.7.1"); /* text of a "550-" line */
	expect_status(550, "5.999.999", "5.999.999");
	/* No enhanced code: the reply's class. */
	expect_status(550, NULL, "5.0.0");
	expect_status(554, "Transaction failed", "5.0.0");
	expect_status(421, "mx.example.net closing", "4.0.0");
	expect_status(450, "", "4.0.0");
	expect_status(250, NULL, "2.0.0");
	/* Malformed enhanced codes are ignored. */
	expect_status(550, "5.1 no", "5.0.0");
	expect_status(550, "5.1.1234", "5.0.0");
	expect_status(550, "5.1.1x", "5.0.0");
	expect_status(550, "3.1.1", "5.0.0");
	expect_status(550, "5..1", "5.0.0");
	expect_status(451, "4.1.", "4.0.0");
	/* The reply code's class wins over the enhanced code's. */
	expect_status(550, "4.2.2 Mailbox full", "5.2.2");
	expect_status(452, "5.2.2 Mailbox full", "4.2.2");
	/* No reply at all: the enhanced code if there is one, else 5.0.0. */
	expect_status(0, NULL, "5.0.0");
	expect_status(0, "4.4.1", "4.4.1");
	expect_status(354, NULL, "5.0.0");
	expect_status(-1, "junk", "5.0.0");
	expect_status(999, NULL, "5.0.0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_failure_header),
		cmocka_unit_test(test_failure_parts),
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_headers_only),
		cmocka_unit_test(test_multi),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_long_folded),
		cmocka_unit_test(test_bare_lf_original),
		cmocka_unit_test(test_no_original),
		cmocka_unit_test(test_boundary_collision),
		cmocka_unit_test(test_status_fallback),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_status_from_reply),
	};
	return cmocka_run_group_tests_name("dsn", tests, NULL, NULL);
}
