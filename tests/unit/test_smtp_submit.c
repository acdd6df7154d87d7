/* test_smtp_submit.c - unit tests for the submission header scan
 * (smtp_submit.c): where the header section ends (whole and one byte at a
 * time), Message-ID:/Date: presence, and the From:/Sender: mailboxes
 * (display names, quoted names with commas and '@', comments, groups,
 * several From: fields, folded fields, limits and unparsable values). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp_submit.h"

/* submit_header_end() on an exact-size heap copy. */
static size_t header_end_n(const char *data, size_t len)
{
	char *copy = malloc(len == 0 ? 1 : len);
	assert_non_null(copy);
	memcpy(copy, data, len);
	size_t r = submit_header_end(copy, len);
	free(copy);
	return r;
}

static size_t header_end(const char *s)
{
	return header_end_n(s, strlen(s));
}

/* Scan a header section given as a C string (exact-size heap copy). */
static void scan(const char *hdr, struct submit_headers *out)
{
	size_t len = strlen(hdr);
	char *copy = malloc(len == 0 ? 1 : len);
	assert_non_null(copy);
	memcpy(copy, hdr, len);
	memset(out, 0x5a, sizeof(*out)); /* the scan must set every field */
	submit_scan_headers(copy, len, out);
	free(copy);
}

/* Scan "From: VALUE\r\n\r\n" and compare the addresses found (NULL-ended
 * list) and the unparsable flag. */
static void check_from(const char *value, bool unparsable, const char *const *want)
{
	char hdr[8192];
	snprintf(hdr, sizeof(hdr), "From: %s\r\nSubject: x\r\n\r\n", value);
	struct submit_headers h;
	scan(hdr, &h);
	assert_int_equal(h.from_fields, 1);
	if (h.unparsable != unparsable)
		fail_msg("From: %s: unparsable is %d, expected %d", value, h.unparsable,
			 unparsable);
	if (unparsable)
		return;
	unsigned n = 0;
	while (want[n] != NULL)
		n++;
	if (h.naddrs != n)
		fail_msg("From: %s: %u address(es), expected %u (first: %s)", value, h.naddrs, n,
			 h.naddrs > 0 ? h.addrs[0] : "-");
	for (unsigned i = 0; i < n; i++)
		if (strcmp(h.addrs[i], want[i]) != 0)
			fail_msg("From: %s: address %u is \"%s\", expected \"%s\"", value, i,
				 h.addrs[i], want[i]);
}

#define ADDRS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})

/* ----- header end ----- */

static void test_header_end_basic(void **state)
{
	(void)state;
	assert_int_equal(header_end(""), 0);
	assert_int_equal(header_end("\r"), 0);
	assert_int_equal(header_end("\r\n"), 2); /* an empty header section */
	assert_int_equal(header_end("\r\nbody\r\n"), 2);
	assert_int_equal(header_end("\r\n\r\n"), 2);
	assert_int_equal(header_end("From: a@b\r\n"), 0);
	assert_int_equal(header_end("From: a@b\r\n\r"), 0);
	assert_int_equal(header_end("From: a@b\r\n\r\n"), 13);
	assert_int_equal(header_end("From: a@b\r\n\r\nbody\r\n\r\nmore\r\n"), 13);
	assert_int_equal(header_end("A: 1\r\nB: 2\r\n\r\n"), 14);
	/* bare line ends are not a boundary (stored content is CRLF anyway) */
	assert_int_equal(header_end("From: a@b\n\n"), 0);
	assert_int_equal(header_end("From: a@b\r\n\n"), 0);
	assert_int_equal(header_end("From: a@b\n\r\n"), 0);
	assert_int_equal(header_end("From: a@b\r\r\n\r\n"), 14);
	assert_int_equal(header_end("\n"), 0);
	assert_int_equal(header_end("\n\r\n"), 0);
	/* a folded field is no boundary */
	assert_int_equal(header_end("Subject: a\r\n b\r\n\r\n"), 18);
}

static void test_header_end_incremental(void **state)
{
	(void)state;
	/* Every prefix: 0 until the blank line is complete, then the same
	 * offset for every longer prefix. */
	static const char *msgs[] = {
	    "From: Alice <alice@example.test>\r\nSubject: hello\r\n\r\nbody\r\n",
	    "\r\nno headers\r\n",
	    "X: 1\r\n\r\n\r\n\r\n",
	    "Subject: a\r\n\tfolded\r\nFrom: b@c\r\n\r\n",
	};
	for (size_t m = 0; m < sizeof(msgs) / sizeof(msgs[0]); m++) {
		size_t len = strlen(msgs[m]);
		size_t full = header_end(msgs[m]);
		assert_true(full > 0);
		for (size_t k = 0; k <= len; k++) {
			size_t r = header_end_n(msgs[m], k);
			size_t want = k >= full ? full : 0;
			if (r != want)
				fail_msg("message %zu, prefix %zu: %zu, expected %zu", m, k, r,
					 want);
		}
	}
}

/* ----- Message-ID, Date ----- */

static void test_message_id_and_date(void **state)
{
	(void)state;
	struct submit_headers h;
	scan("From: a@b.test\r\n\r\n", &h);
	assert_false(h.has_message_id);
	assert_false(h.has_date);
	scan("Message-ID: <1@b>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nFrom: a@b.test\r\n\r\n",
	     &h);
	assert_true(h.has_message_id);
	assert_true(h.has_date);
	scan("message-id: <1@b>\r\n\r\n", &h);
	assert_true(h.has_message_id);
	assert_false(h.has_date);
	scan("MESSAGE-ID:<1@b>\r\nDATE:x\r\n\r\n", &h);
	assert_true(h.has_message_id);
	assert_true(h.has_date);
	scan("Message-Id:\r\n <folded@b>\r\nDate:\r\n\tMon, 1 Jan 2024\r\n\r\n", &h);
	assert_true(h.has_message_id);
	assert_true(h.has_date);
	/* similar names are not the fields */
	scan("Resent-Message-ID: <1@b>\r\nResent-Date: x\r\nX-Date: x\r\nDated: x\r\n"
	     "Message-IDs: x\r\nIn-Reply-To: <1@b>\r\nX-Message-ID: <1@b>\r\n\r\n",
	     &h);
	assert_false(h.has_message_id);
	assert_false(h.has_date);
	/* inside a folded field (a continuation line), not a field of its own */
	scan("Subject: hi\r\n Message-ID: <1@b>\r\n Date: x\r\n\r\n", &h);
	assert_false(h.has_message_id);
	assert_false(h.has_date);
	/* blank before the colon (RFC 5322 obsolete syntax): not recognised,
	 * so the server adds its own; never a problem */
	scan("Date : x\r\n\r\n", &h);
	assert_false(h.has_date);
	/* the scan stops at the given length: the body is not headers */
	const char *msg = "From: a@b.test\r\n\r\nMessage-ID: <1@b>\r\nDate: x\r\n";
	size_t end = header_end(msg);
	memset(&h, 0, sizeof(h));
	submit_scan_headers(msg, end, &h);
	assert_false(h.has_message_id);
	assert_false(h.has_date);
}

/* ----- From: and Sender: ----- */

static void test_from_simple_forms(void **state)
{
	(void)state;
	check_from("alice@example.test", false, ADDRS("alice@example.test"));
	check_from("<alice@example.test>", false, ADDRS("alice@example.test"));
	check_from("  alice@example.test  ", false, ADDRS("alice@example.test"));
	check_from("< alice@example.test >", false, ADDRS("alice@example.test"));
	check_from("ALICE@Example.TEST", false, ADDRS("ALICE@Example.TEST"));
	check_from("alice+tag@example.test", false, ADDRS("alice+tag@example.test"));
	check_from("\talice@example.test", false, ADDRS("alice@example.test"));
}

static void test_from_display_names(void **state)
{
	(void)state;
	check_from("Alice <alice@example.test>", false, ADDRS("alice@example.test"));
	check_from("Alice Liddell <alice@example.test>", false, ADDRS("alice@example.test"));
	check_from("Alice<alice@example.test>", false, ADDRS("alice@example.test"));
	check_from("=?UTF-8?Q?Al=C3=AFce?= <alice@example.test>", false,
		   ADDRS("alice@example.test"));
	check_from("A. Liddell <alice@example.test>", false, ADDRS("alice@example.test"));
	check_from("\"Alice\" <alice@example.test>", false, ADDRS("alice@example.test"));
}

static void test_from_quoted_names_with_specials(void **state)
{
	(void)state;
	check_from("\"Liddell, Alice\" <alice@example.test>", false, ADDRS("alice@example.test"));
	check_from("\"bob@example.test\" <alice@example.test>", false, ADDRS("alice@example.test"));
	check_from("\"Bob <bob@example.test>, Carol\" <alice@example.test>", false,
		   ADDRS("alice@example.test"));
	check_from("\"a \\\" quote, and bob@x.test\" <alice@example.test>", false,
		   ADDRS("alice@example.test"));
	check_from("\"a (paren\" <alice@example.test>", false, ADDRS("alice@example.test"));
	check_from("\"semi; colon:\" <alice@example.test>", false, ADDRS("alice@example.test"));
	check_from("\"x\\\\\" <alice@example.test>", false, ADDRS("alice@example.test"));
}

static void test_from_comments(void **state)
{
	(void)state;
	check_from("alice@example.test (Alice)", false, ADDRS("alice@example.test"));
	check_from("alice@example.test (Alice, bob@example.test)", false,
		   ADDRS("alice@example.test"));
	check_from("(bob@example.test) alice@example.test", false, ADDRS("alice@example.test"));
	check_from("Alice <alice@example.test> (work)", false, ADDRS("alice@example.test"));
	check_from("alice@example.test (nested (bob@x.test, c) comment)", false,
		   ADDRS("alice@example.test"));
	check_from("alice@example.test (escaped \\) paren, bob@x.test)", false,
		   ADDRS("alice@example.test"));
	check_from("alice@example.test (\"quote in comment)", false, ADDRS("alice@example.test"));
}

static void test_from_lists_and_groups(void **state)
{
	(void)state;
	check_from("alice@example.test, bob@example.test", false,
		   ADDRS("alice@example.test", "bob@example.test"));
	check_from("Alice <alice@example.test>, \"Bob, B\" <bob@example.test>", false,
		   ADDRS("alice@example.test", "bob@example.test"));
	check_from("alice@example.test,bob@example.test,carol@example.test", false,
		   ADDRS("alice@example.test", "bob@example.test", "carol@example.test"));
	check_from("alice@example.test, ", false, ADDRS("alice@example.test"));
	check_from(", alice@example.test", false, ADDRS("alice@example.test"));
	check_from("Team: alice@example.test, Bob <bob@example.test>;", false,
		   ADDRS("alice@example.test", "bob@example.test"));
	check_from("Team: alice@example.test;, carol@example.test", false,
		   ADDRS("alice@example.test", "carol@example.test"));
	check_from("\"The: Team\": alice@example.test;", false, ADDRS("alice@example.test"));
}

static void test_from_several_fields_and_sender(void **state)
{
	(void)state;
	struct submit_headers h;
	scan("From: alice@example.test\r\nSubject: x\r\nFrom: bob@example.test\r\n\r\n", &h);
	assert_int_equal(h.from_fields, 2);
	assert_int_equal(h.naddrs, 2);
	scan("from: alice@example.test\r\nFROM: <bob@example.test>\r\nFrom: c@x.test\r\n\r\n", &h);
	assert_int_equal(h.from_fields, 3);
	scan("Subject: no from\r\n\r\n", &h);
	assert_int_equal(h.from_fields, 0);
	assert_int_equal(h.naddrs, 0);
	assert_false(h.unparsable);
	scan("\r\n", &h);
	assert_int_equal(h.from_fields, 0);
	scan("", &h);
	assert_int_equal(h.from_fields, 0);
	/* Sender: counts as an address, not as a From: field */
	scan("Sender: Secretary <sec@example.test>\r\nFrom: Boss <boss@example.test>\r\n\r\n", &h);
	assert_int_equal(h.from_fields, 1);
	assert_int_equal(h.naddrs, 2);
	assert_string_equal(h.addrs[0], "sec@example.test");
	assert_string_equal(h.addrs[1], "boss@example.test");
	assert_false(h.unparsable);
	scan("sender: x@y.test\r\n\r\n", &h);
	assert_int_equal(h.from_fields, 0);
	assert_int_equal(h.naddrs, 1);
	/* other address fields are not collected */
	scan("To: t@x.test\r\nCc: c@x.test\r\nReply-To: r@x.test\r\nResent-From: rf@x.test\r\n"
	     "Return-Path: <rp@x.test>\r\nX-From: xf@x.test\r\nFrom: f@x.test\r\n\r\n",
	     &h);
	assert_int_equal(h.naddrs, 1);
	assert_string_equal(h.addrs[0], "f@x.test");
}

static void test_from_folded(void **state)
{
	(void)state;
	struct submit_headers h;
	scan("From: Alice\r\n <alice@example.test>\r\n\r\n", &h);
	assert_int_equal(h.naddrs, 1);
	assert_string_equal(h.addrs[0], "alice@example.test");
	assert_false(h.unparsable);
	scan("From:\r\n\talice@example.test,\r\n bob@example.test\r\nSubject: x\r\n\r\n", &h);
	assert_int_equal(h.naddrs, 2);
	assert_string_equal(h.addrs[0], "alice@example.test");
	assert_string_equal(h.addrs[1], "bob@example.test");
	scan("From: \"Liddell,\r\n Alice\" <alice@example.test>\r\n\r\n", &h);
	assert_int_equal(h.naddrs, 1);
	assert_string_equal(h.addrs[0], "alice@example.test");
	/* a "From:" on a continuation line belongs to the field above */
	scan("Subject: hi\r\n From: bob@example.test\r\nFrom: alice@example.test\r\n\r\n", &h);
	assert_int_equal(h.from_fields, 1);
	assert_int_equal(h.naddrs, 1);
	assert_string_equal(h.addrs[0], "alice@example.test");
	/* bare LF line ends are understood too */
	scan("From: alice@example.test\nSender:\n bob@example.test\n\n", &h);
	assert_int_equal(h.naddrs, 2);
	assert_string_equal(h.addrs[1], "bob@example.test");
	/* the last field without a line end */
	scan("Subject: x\r\nFrom: alice@example.test", &h);
	assert_int_equal(h.naddrs, 1);
	assert_string_equal(h.addrs[0], "alice@example.test");
	/* lines without a colon are skipped */
	scan("garbage line\r\nFrom: alice@example.test\r\n\r\n", &h);
	assert_int_equal(h.naddrs, 1);
}

static void test_from_unparsable(void **state)
{
	(void)state;
	static const char *bad[] = {
	    "Alice",				    /* no address */
	    "alice",				    /* no domain */
	    "alice@",				    /* empty domain */
	    "@example.test",			    /* empty local part */
	    "<alice@example.test",		    /* unclosed angle */
	    "Alice <alice@example.test",	    /* unclosed angle */
	    "\"Alice <alice@example.test>",	    /* unclosed quote */
	    "Alice (unclosed <alice@example.test>", /* unclosed comment */
	    "alice@example.test (a (b) c",	    /* unclosed nested comment */
	    "Alice alice@example.test",		    /* name without brackets */
	    "alice @example.test",		    /* blank inside */
	    "alice@ example.test",
	    "<@route.test:alice@example.test>", /* source route */
	    "<alice>",				/* no domain in brackets */
	    "a@b.test, bob",			/* one of several bad */
	    "\"quoted local\"@example.test",	/* quoted local parts */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_from(bad[i], true, NONE);
}

static void test_from_limits(void **state)
{
	(void)state;
	char value[8192];
	/* SUBMIT_MAX_ADDRS addresses fit, one more is unparsable */
	size_t o = 0;
	for (int i = 0; i < SUBMIT_MAX_ADDRS; i++)
		o += (size_t)snprintf(value + o, sizeof(value) - o, "%su%d@x.test", i ? ", " : "",
				      i);
	struct submit_headers h;
	char hdr[9000];
	snprintf(hdr, sizeof(hdr), "From: %s\r\n\r\n", value);
	scan(hdr, &h);
	assert_int_equal(h.naddrs, SUBMIT_MAX_ADDRS);
	assert_false(h.unparsable);
	snprintf(hdr, sizeof(hdr), "From: %s, one@more.test\r\n\r\n", value);
	scan(hdr, &h);
	assert_true(h.unparsable);
	assert_int_equal(h.naddrs, SUBMIT_MAX_ADDRS);
	/* the limit spans From: and Sender: */
	snprintf(hdr, sizeof(hdr), "From: %s\r\nSender: s@x.test\r\n\r\n", value);
	scan(hdr, &h);
	assert_true(h.unparsable);

	/* the longest address that fits: SUBMIT_ADDR_MAX - 1 bytes */
	char addr[SUBMIT_ADDR_MAX + 8];
	memset(addr, 'l', SUBMIT_ADDR_MAX - 1);
	memcpy(addr + SUBMIT_ADDR_MAX - 1 - 7, "@x.test", 7);
	addr[SUBMIT_ADDR_MAX - 1] = '\0';
	check_from(addr, false, ADDRS(addr));
	snprintf(value, sizeof(value), "Long <%s>", addr);
	check_from(value, false, ADDRS(addr));
	/* one byte more */
	memset(addr, 'l', SUBMIT_ADDR_MAX);
	memcpy(addr + SUBMIT_ADDR_MAX - 7, "@x.test", 7);
	addr[SUBMIT_ADDR_MAX] = '\0';
	check_from(addr, true, NONE);
	snprintf(value, sizeof(value), "Long <%s>", addr);
	check_from(value, true, NONE);

	/* a very long display name (over the token buffer) */
	char name[3000];
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(value, sizeof(value), "\"%s\" <alice@example.test>", name);
	check_from(value, false, ADDRS("alice@example.test"));
	snprintf(value, sizeof(value), "(%s) alice@example.test", name);
	check_from(value, false, ADDRS("alice@example.test"));
	snprintf(value, sizeof(value), "%s <alice@example.test>", name);
	check_from(value, true, NONE);

	/* a field value over 4 KiB is unparsable as a whole */
	static char big[6000];
	memset(big, ' ', sizeof(big));
	memcpy(big, "From: alice@example.test (", 26);
	memset(big + 26, 'c', 5000);
	memcpy(big + 5026, ")\r\n\r\n", 6);
	scan(big, &h);
	assert_true(h.unparsable);
}

/* Regression (was a bug): a From: (or Sender:) field that holds no mailbox at all - only a
 * quoted display name, only a comment, an empty group, "<>" or nothing -
 * gives naddrs 0 with unparsable false, so the submission check has
 * nothing to refuse and a user can send From: "bob@example.test" (which
 * mail clients display as the sender). The header contract says anything
 * that does not look like local@domain is reported as unparsable.
 * Reproduction: submit_scan_headers("From: \"bob@example.test\"\r\n\r\n")
 * -> from_fields 1, naddrs 0, unparsable false. The e2e test
 * test_from_header_without_mailbox_refused shows the 250. */
static void test_from_without_mailbox(void **state)
{
	(void)state;
	static const char *bad[] = {
	    "\"bob@example.test\"",	 "(bob@example.test)", "", " ", "Team:;", "<>", "Bob <>",
	    "\"Bob\" (bob@example.test)"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_from(bad[i], true, NONE);
	struct submit_headers h;
	scan("From: alice@example.test\r\nSender: \"bob@example.test\"\r\n\r\n", &h);
	assert_true(h.unparsable);
}

/* Regression (was a bug): two angle-addrs in one mailbox ("<bob@x> <alice@x>", "Bob <bob@x>
 * <alice@x>") or an unquoted address used as the display name ("bob@x
 * <alice@x>") are malformed, but the scan keeps only the last <...> and
 * reports alice, while common parsers (Python's email package,
 * email.utils.parseaddr) read bob: the owner check passes for a From:
 * that readers show as bob's. Reproduction:
 * submit_scan_headers("From: <bob@example.test> <alice@example.test>\r\n\r\n")
 * -> naddrs 1, addrs[0] "alice@example.test", unparsable false. The e2e
 * test test_from_header_ambiguous_mailbox_refused shows the 250. */
static void test_from_ambiguous_mailbox(void **state)
{
	(void)state;
	check_from("<bob@example.test> <alice@example.test>", true, NONE);
	check_from("<bob@example.test><alice@example.test>", true, NONE);
	check_from("Bob <bob@example.test> <alice@example.test>", true, NONE);
	check_from("bob@example.test <alice@example.test>", true, NONE);
}

/* Regression (was a bug): a NUL byte inside a From:/Sender: address is kept: the address is
 * stored with the NUL, so the C string the submission check compares is
 * only the part before it, while the message carries all of it. "From:
 * alice@example.test<NUL>.evil.test" passes as alice's own address; a
 * reader that drops NULs shows alice@example.test.evil.test. Found by
 * fuzz_smtp_submit. Reproduction: submit_scan_headers("From:
 * alice@example.test\0.evil.test\r\n\r\n", its length) -> naddrs 1, addrs[0]
 * "alice@example.test", unparsable false. The e2e test
 * test_from_header_with_nul_refused shows the 250. */
static void test_from_nul_in_address(void **state)
{
	(void)state;
	static const char hdr[] = "From: alice@example.test\0.evil.test\r\n\r\n";
	struct submit_headers h;
	memset(&h, 0, sizeof(h));
	submit_scan_headers(hdr, sizeof(hdr) - 1, &h);
	assert_true(h.unparsable);
	static const char hdr2[] = "From: Alice <alice@example.test\0bob@example.test>\r\n\r\n";
	memset(&h, 0, sizeof(h));
	submit_scan_headers(hdr2, sizeof(hdr2) - 1, &h);
	assert_true(h.unparsable);
}

/* Fed one field at a time in any order, with noise fields around: the
 * result does not depend on where From: is. */
static void test_position_independent(void **state)
{
	(void)state;
	static const char *noise[] = {
	    "Subject: a, b <c@d.test>\r\n", "To: \"x\" <to@x.test>\r\n",
	    "Received: from x (y [1.2.3.4])\r\n\tby z; Mon, 1 Jan 2024\r\n",
	    "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"};
	static const char from[] = "From: \"A, B\" <alice@example.test>\r\n";
	for (int pos = 0; pos <= 4; pos++) {
		char hdr[2048];
		size_t o = 0;
		for (int i = 0; i <= 4; i++) {
			if (i == pos)
				o += (size_t)snprintf(hdr + o, sizeof(hdr) - o, "%s", from);
			if (i < 4)
				o += (size_t)snprintf(hdr + o, sizeof(hdr) - o, "%s", noise[i]);
		}
		snprintf(hdr + o, sizeof(hdr) - o, "\r\n");
		struct submit_headers h;
		scan(hdr, &h);
		assert_int_equal(h.from_fields, 1);
		assert_int_equal(h.naddrs, 1);
		assert_string_equal(h.addrs[0], "alice@example.test");
		assert_false(h.unparsable);
		assert_false(h.has_message_id);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_end_basic),
	    cmocka_unit_test(test_header_end_incremental),
	    cmocka_unit_test(test_message_id_and_date),
	    cmocka_unit_test(test_from_simple_forms),
	    cmocka_unit_test(test_from_display_names),
	    cmocka_unit_test(test_from_quoted_names_with_specials),
	    cmocka_unit_test(test_from_comments),
	    cmocka_unit_test(test_from_lists_and_groups),
	    cmocka_unit_test(test_from_several_fields_and_sender),
	    cmocka_unit_test(test_from_folded),
	    cmocka_unit_test(test_from_unparsable),
	    cmocka_unit_test(test_from_limits),
	    cmocka_unit_test(test_from_without_mailbox),
	    cmocka_unit_test(test_from_ambiguous_mailbox),
	    cmocka_unit_test(test_from_nul_in_address),
	    cmocka_unit_test(test_position_independent),
	};
	return cmocka_run_group_tests_name("smtp_submit", tests, NULL, NULL);
}
