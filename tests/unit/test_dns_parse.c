/* test_dns_parse.c - unit tests for the DNS response parser (dns_parse.c):
 * hand-built wire-format answers with compression pointers, CNAME chains,
 * null MX (RFC 7505), TXT strings, and truncated or damaged messages, each
 * parsed from an exact-size heap copy so that ASan sees any overread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "dns/dns_parse.h"

/* --- a small message builder --------------------------------------------- */

struct msg {
	uint8_t b[4096];
	size_t n;
};

static void put8(struct msg *m, unsigned v)
{
	assert_true(m->n < sizeof(m->b));
	m->b[m->n++] = (uint8_t)v;
}

static void put16(struct msg *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v & 0xff);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

/* An uncompressed name from dotted text ("." or "" is the root). */
static void put_name(struct msg *m, const char *dotted)
{
	const char *p = dotted;
	while (*p != '\0' && strcmp(p, ".") != 0) {
		const char *dot = strchr(p, '.');
		size_t len = dot != NULL ? (size_t)(dot - p) : strlen(p);
		put8(m, (unsigned)len);
		for (size_t i = 0; i < len; i++)
			put8(m, (unsigned char)p[i]);
		p += len;
		if (*p == '.')
			p++;
	}
	put8(m, 0);
}

static void put_ptr(struct msg *m, size_t off)
{
	put16(m, 0xc000u | (unsigned)off);
}

#define QR 0x8000u
#define AA 0x0400u
#define TC 0x0200u
#define RD 0x0100u
#define RA 0x0080u
#define QOFF 12 /* where the question name starts */

static void header(struct msg *m, unsigned flags, unsigned qd, unsigned an)
{
	m->n = 0;
	put16(m, 0x1234);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
}

static void question(struct msg *m, const char *name, unsigned type)
{
	put_name(m, name);
	put16(m, type);
	put16(m, DNS_CLASS_IN);
}

/* Start a record whose owner is the name at `owner_off` (a pointer) or, when
 * owner_text is set, written out. Returns where RDLENGTH goes. */
static size_t rr_begin(struct msg *m, const char *owner_text, size_t owner_off, unsigned type)
{
	if (owner_text != NULL)
		put_name(m, owner_text);
	else
		put_ptr(m, owner_off);
	put16(m, type);
	put16(m, DNS_CLASS_IN);
	put32(m, 3600);
	size_t at = m->n;
	put16(m, 0);
	return at;
}

static void rr_end(struct msg *m, size_t at)
{
	size_t len = m->n - at - 2;
	m->b[at] = (uint8_t)(len >> 8);
	m->b[at + 1] = (uint8_t)(len & 0xff);
}

static void rr_a(struct msg *m, const char *owner, size_t owner_off, uint8_t a, uint8_t b,
		 uint8_t c, uint8_t d)
{
	size_t at = rr_begin(m, owner, owner_off, DNS_TYPE_A);
	put8(m, a);
	put8(m, b);
	put8(m, c);
	put8(m, d);
	rr_end(m, at);
}

static void rr_name(struct msg *m, const char *owner, size_t owner_off, unsigned type,
		    const char *target)
{
	size_t at = rr_begin(m, owner, owner_off, type);
	put_name(m, target);
	rr_end(m, at);
}

/* Parse from an exact-size copy. */
static int parse(const uint8_t *data, size_t len, struct dns_answer *a, const char **why)
{
	uint8_t *copy = malloc(len == 0 ? 1 : len);
	assert_non_null(copy);
	memcpy(copy, data, len);
	*why = "not set";
	int rc = dns_parse_answer(copy, len, a, why);
	free(copy);
	if (rc == 0 && *why != NULL)
		fail_msg("error text set on success: %s", *why);
	if (rc < 0 && (*why == NULL || (*why)[0] == '\0'))
		fail_msg("no error text");
	return rc;
}

static void parse_ok(const struct msg *m, struct dns_answer *a)
{
	const char *why;
	if (parse(m->b, m->n, a, &why) < 0)
		fail_msg("parse failed: %s", why);
}

static void parse_bad(const struct msg *m, const char *want)
{
	struct dns_answer a;
	const char *why;
	if (parse(m->b, m->n, &a, &why) == 0)
		fail_msg("parsed, want error \"%s\"", want != NULL ? want : "any");
	if (want != NULL && strcmp(why, want) != 0)
		fail_msg("error \"%s\", want \"%s\"", why, want);
}

/* --- tests ---------------------------------------------------------------- */

static void build_mx(struct msg *m)
{
	header(m, QR | RD | RA, 1, 3);
	question(m, "example.org", DNS_TYPE_MX);
	/* exchange "mx1" + pointer to "example.org" */
	size_t at = rr_begin(m, NULL, QOFF, DNS_TYPE_MX);
	put16(m, 10);
	size_t mx1 = m->n;
	put8(m, 3);
	put8(m, 'm');
	put8(m, 'x');
	put8(m, '1');
	put_ptr(m, QOFF);
	rr_end(m, at);
	at = rr_begin(m, NULL, QOFF, DNS_TYPE_MX);
	put16(m, 20);
	put_name(m, "backup.example.NET");
	rr_end(m, at);
	/* A pointer to a pointer: "mx1.example.org" again via mx1's labels. */
	at = rr_begin(m, NULL, QOFF, DNS_TYPE_MX);
	put16(m, 10);
	put_ptr(m, mx1);
	rr_end(m, at);
}

static void test_mx(void **state)
{
	(void)state;
	struct msg m;
	struct dns_answer a;
	build_mx(&m);
	parse_ok(&m, &a);
	assert_int_equal(a.id, 0x1234);
	assert_int_equal(a.rcode, DNS_RCODE_NOERROR);
	assert_false(a.truncated);
	assert_int_equal(a.qtype, DNS_TYPE_MX);
	assert_string_equal(a.qname, "example.org");
	assert_string_equal(a.name, "example.org");
	assert_int_equal(a.ncname, 0);
	assert_int_equal(a.nmx, 3);
	assert_false(a.null_mx);
	assert_int_equal(a.mx[0].pref, 10);
	assert_string_equal(a.mx[0].host, "mx1.example.org");
	assert_int_equal(a.mx[1].pref, 20);
	assert_string_equal(a.mx[1].host, "backup.example.NET");
	assert_string_equal(a.mx[2].host, "mx1.example.org");
	assert_int_equal(a.naddr + a.ntxt, 0);
	dns_answer_free(&a);
	dns_answer_free(&a); /* idempotent */
}

static void test_null_mx(void **state)
{
	(void)state;
	struct msg m;
	struct dns_answer a;
	header(&m, QR | AA, 1, 1);
	question(&m, "nullmx.test", DNS_TYPE_MX);
	size_t at = rr_begin(&m, NULL, QOFF, DNS_TYPE_MX);
	put16(&m, 0);
	put8(&m, 0);
	rr_end(&m, at);
	parse_ok(&m, &a);
	assert_true(a.authoritative);
	assert_int_equal(a.nmx, 1);
	assert_true(a.null_mx);
	assert_string_equal(a.mx[0].host, ".");
	dns_answer_free(&a);

	/* "." with another preference, or next to other MX records, is not a
	 * null MX (just an unusable host). */
	header(&m, QR, 1, 1);
	question(&m, "nullmx.test", DNS_TYPE_MX);
	at = rr_begin(&m, NULL, QOFF, DNS_TYPE_MX);
	put16(&m, 10);
	put8(&m, 0);
	rr_end(&m, at);
	parse_ok(&m, &a);
	assert_false(a.null_mx);
	dns_answer_free(&a);

	header(&m, QR, 1, 2);
	question(&m, "nullmx.test", DNS_TYPE_MX);
	at = rr_begin(&m, NULL, QOFF, DNS_TYPE_MX);
	put16(&m, 0);
	put8(&m, 0);
	rr_end(&m, at);
	at = rr_begin(&m, NULL, QOFF, DNS_TYPE_MX);
	put16(&m, 10);
	put_name(&m, "mx.nullmx.test");
	rr_end(&m, at);
	parse_ok(&m, &a);
	assert_int_equal(a.nmx, 2);
	assert_false(a.null_mx);
	dns_answer_free(&a);
}

static void test_addresses(void **state)
{
	(void)state;
	struct msg m;
	struct dns_answer a;
	header(&m, QR, 1, 3);
	question(&m, "mx1.example.org", DNS_TYPE_A);
	rr_a(&m, NULL, QOFF, 192, 0, 2, 1);
	rr_a(&m, NULL, QOFF, 192, 0, 2, 2);
	/* A record of another name is not ours. */
	rr_a(&m, "other.example.org", 0, 198, 51, 100, 1);
	parse_ok(&m, &a);
	assert_int_equal(a.naddr, 2);
	assert_int_equal(a.addr[0].family, AF_INET);
	assert_memory_equal(a.addr[0].addr, "\xc0\x00\x02\x01", 4);
	assert_memory_equal(a.addr[1].addr, "\xc0\x00\x02\x02", 4);
	dns_answer_free(&a);

	header(&m, QR, 1, 1);
	question(&m, "mx1.example.org", DNS_TYPE_AAAA);
	size_t at = rr_begin(&m, NULL, QOFF, DNS_TYPE_AAAA);
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	for (size_t i = 0; i < 16; i++)
		put8(&m, v6[i]);
	rr_end(&m, at);
	parse_ok(&m, &a);
	assert_int_equal(a.naddr, 1);
	assert_int_equal(a.addr[0].family, AF_INET6);
	assert_memory_equal(a.addr[0].addr, v6, 16);
	dns_answer_free(&a);

	/* Wrong data lengths are malformed. */
	header(&m, QR, 1, 1);
	question(&m, "mx1.example.org", DNS_TYPE_A);
	at = rr_begin(&m, NULL, QOFF, DNS_TYPE_A);
	put32(&m, 0xc0000201);
	put8(&m, 0);
	rr_end(&m, at);
	parse_bad(&m, "malformed A record");
	header(&m, QR, 1, 1);
	question(&m, "mx1.example.org", DNS_TYPE_AAAA);
	at = rr_begin(&m, NULL, QOFF, DNS_TYPE_AAAA);
	put32(&m, 0xc0000201);
	rr_end(&m, at);
	parse_bad(&m, "malformed AAAA record");
}

static void test_cname_chain(void **state)
{
	(void)state;
	struct msg m;
	struct dns_answer a;
	/* alias.test -> mid.test -> Real.Test, records out of order. */
	header(&m, QR, 1, 5);
	question(&m, "alias.test", DNS_TYPE_A);
	rr_a(&m, "real.test", 0, 192, 0, 2, 7);
	rr_name(&m, "mid.test", 0, DNS_TYPE_CNAME, "Real.Test");
	rr_a(&m, "alias-decoy.test", 0, 192, 0, 2, 99);
	rr_name(&m, NULL, QOFF, DNS_TYPE_CNAME, "mid.test");
	rr_a(&m, "REAL.test", 0, 192, 0, 2, 8);
	parse_ok(&m, &a);
	assert_int_equal(a.ncname, 2);
	assert_string_equal(a.qname, "alias.test");
	assert_string_equal(a.name, "Real.Test");
	assert_int_equal(a.naddr, 2);
	assert_memory_equal(a.addr[0].addr, "\xc0\x00\x02\x07", 4);
	assert_memory_equal(a.addr[1].addr, "\xc0\x00\x02\x08", 4);
	dns_answer_free(&a);

	/* A chain whose end is not in the answer (NODATA or NXDOMAIN there). */
	header(&m, QR | DNS_RCODE_NXDOMAIN, 1, 1);
	question(&m, "alias.test", DNS_TYPE_MX);
	rr_name(&m, NULL, QOFF, DNS_TYPE_CNAME, "gone.test");
	parse_ok(&m, &a);
	assert_int_equal(a.rcode, DNS_RCODE_NXDOMAIN);
	assert_int_equal(a.ncname, 1);
	assert_string_equal(a.name, "gone.test");
	assert_int_equal(a.nmx, 0);
	dns_answer_free(&a);

	/* The longest chain allowed, then one more. */
	for (int extra = 0; extra <= 1; extra++) {
		int links = DNS_CNAME_MAX + extra;
		header(&m, QR, 1, (unsigned)links + 1);
		question(&m, "c0.test", DNS_TYPE_A);
		char from[32], to[32];
		for (int i = 0; i < links; i++) {
			snprintf(from, sizeof(from), "c%d.test", i);
			snprintf(to, sizeof(to), "c%d.test", i + 1);
			rr_name(&m, from, 0, DNS_TYPE_CNAME, to);
		}
		rr_a(&m, to, 0, 192, 0, 2, 1);
		if (extra == 0) {
			parse_ok(&m, &a);
			assert_int_equal(a.ncname, DNS_CNAME_MAX);
			assert_int_equal(a.naddr, 1);
			dns_answer_free(&a);
		} else {
			parse_bad(&m, "CNAME chain too long");
		}
	}

	/* A loop is stopped by the same bound. */
	header(&m, QR, 1, 2);
	question(&m, "loop1.test", DNS_TYPE_A);
	rr_name(&m, "loop1.test", 0, DNS_TYPE_CNAME, "loop2.test");
	rr_name(&m, "loop2.test", 0, DNS_TYPE_CNAME, "loop1.test");
	parse_bad(&m, "CNAME chain too long");

	/* A CNAME question gets the CNAME itself, not the chain. */
	header(&m, QR, 1, 1);
	question(&m, "alias.test", DNS_TYPE_CNAME);
	rr_name(&m, NULL, QOFF, DNS_TYPE_CNAME, "mid.test");
	parse_ok(&m, &a);
	assert_int_equal(a.ncname, 0);
	assert_string_equal(a.name, "alias.test");
	dns_answer_free(&a);
}

static void test_txt(void **state)
{
	(void)state;
	struct msg m;
	struct dns_answer a;
	header(&m, QR, 1, 3);
	question(&m, "txt.test", DNS_TYPE_TXT);
	size_t at = rr_begin(&m, NULL, QOFF, DNS_TYPE_TXT);
	put8(&m, 6);
	for (const char *p = "v=spf1"; *p; p++)
		put8(&m, (unsigned char)*p);
	put8(&m, 7);
	for (const char *p = " mx -al"; *p; p++)
		put8(&m, (unsigned char)*p);
	put8(&m, 0); /* an empty character-string */
	put8(&m, 1);
	put8(&m, 'l');
	rr_end(&m, at);
	at = rr_begin(&m, NULL, QOFF, DNS_TYPE_TXT);
	put8(&m, 0);
	rr_end(&m, at);
	at = rr_begin(&m, NULL, QOFF, DNS_TYPE_TXT);
	put8(&m, 3);
	put8(&m, 'a');
	put8(&m, 0);
	put8(&m, 'b');
	rr_end(&m, at);
	parse_ok(&m, &a);
	assert_int_equal(a.ntxt, 3);
	assert_string_equal(a.txt[0].data, "v=spf1 mx -all");
	assert_int_equal(a.txt[0].len, 14);
	assert_string_equal(a.txt[1].data, "");
	assert_int_equal(a.txt[1].len, 0);
	assert_int_equal(a.txt[2].len, 3);
	assert_memory_equal(a.txt[2].data, "a\0b", 4);
	dns_answer_free(&a);

	/* A string longer than the record data. */
	header(&m, QR, 1, 1);
	question(&m, "txt.test", DNS_TYPE_TXT);
	at = rr_begin(&m, NULL, QOFF, DNS_TYPE_TXT);
	put8(&m, 5);
	put8(&m, 'a');
	rr_end(&m, at);
	put8(&m, 'b'); /* bytes after the record, so only rdlength can tell */
	put8(&m, 'c');
	put8(&m, 'd');
	put8(&m, 'e');
	parse_bad(&m, "malformed TXT record");
}

static void test_rcodes(void **state)
{
	(void)state;
	struct msg m;
	struct dns_answer a;
	header(&m, QR | DNS_RCODE_NXDOMAIN, 1, 0);
	question(&m, "nope.test", DNS_TYPE_MX);
	parse_ok(&m, &a);
	assert_int_equal(a.rcode, DNS_RCODE_NXDOMAIN);
	assert_int_equal(a.nmx, 0);
	dns_answer_free(&a);
	header(&m, QR | DNS_RCODE_SERVFAIL, 1, 0);
	question(&m, "broken.test", DNS_TYPE_MX);
	parse_ok(&m, &a);
	assert_int_equal(a.rcode, DNS_RCODE_SERVFAIL);
	dns_answer_free(&a);
	assert_string_equal(dns_rcode_text(DNS_RCODE_SERVFAIL), "server failure");
	assert_string_equal(dns_rcode_text(DNS_RCODE_NXDOMAIN), "no such domain");
	assert_string_equal(dns_rcode_text(DNS_RCODE_REFUSED), "query refused");
	assert_string_equal(dns_rcode_text(11), "unexpected response code");
}

static void test_other_records_ignored(void **state)
{
	(void)state;
	struct msg m;
	struct dns_answer a;
	header(&m, QR, 1, 3);
	question(&m, "example.org", DNS_TYPE_MX);
	/* A record of class CH, an RRSIG-like unknown type, then the MX. */
	put_ptr(&m, QOFF);
	put16(&m, DNS_TYPE_MX);
	put16(&m, 3);
	put32(&m, 0);
	put16(&m, 3);
	put16(&m, 1);
	put8(&m, 0);
	size_t at = rr_begin(&m, NULL, QOFF, 46);
	put32(&m, 0xdeadbeef);
	rr_end(&m, at);
	at = rr_begin(&m, NULL, QOFF, DNS_TYPE_MX);
	put16(&m, 5);
	put_name(&m, "mx.example.org");
	rr_end(&m, at);
	parse_ok(&m, &a);
	assert_int_equal(a.nmx, 1);
	assert_int_equal(a.mx[0].pref, 5);
	dns_answer_free(&a);
}

static void test_name_escaping(void **state)
{
	(void)state;
	struct msg m;
	struct dns_answer a;
	header(&m, QR, 1, 1);
	question(&m, "example.org", DNS_TYPE_MX);
	size_t at = rr_begin(&m, NULL, QOFF, DNS_TYPE_MX);
	put16(&m, 1);
	put8(&m, 5);
	put8(&m, 'a');
	put8(&m, '.');
	put8(&m, '\\');
	put8(&m, 0);
	put8(&m, 0xff);
	put8(&m, 1);
	put8(&m, ' ');
	put8(&m, 0);
	rr_end(&m, at);
	parse_ok(&m, &a);
	assert_string_equal(a.mx[0].host, "a\\.\\\\\\000\\255.\\032");
	dns_answer_free(&a);
}

static void test_bad_messages(void **state)
{
	(void)state;
	struct msg m;
	header(&m, QR, 1, 0);
	m.n = 11;
	parse_bad(&m, "message shorter than a header");
	header(&m, 0, 1, 0);
	question(&m, "example.org", DNS_TYPE_MX);
	parse_bad(&m, "not a response");
	header(&m, QR, 0, 0);
	parse_bad(&m, "no question section");

	/* A pointer to itself, forwards, and into its own name. */
	header(&m, QR, 1, 0);
	put_ptr(&m, QOFF);
	put16(&m, DNS_TYPE_MX);
	put16(&m, 1);
	parse_bad(&m, "bad compression pointer");
	header(&m, QR, 1, 0);
	put_ptr(&m, QOFF + 2);
	put8(&m, 0);
	put16(&m, DNS_TYPE_MX);
	put16(&m, 1);
	parse_bad(&m, "bad compression pointer");
	header(&m, QR, 1, 0);
	put8(&m, 1);
	put8(&m, 'a');
	put_ptr(&m, QOFF);
	put16(&m, DNS_TYPE_MX);
	put16(&m, 1);
	parse_bad(&m, "bad compression pointer");
	/* Two names pointing at each other. */
	header(&m, QR, 1, 1);
	question(&m, "example.org", DNS_TYPE_MX);
	size_t first = m.n;
	put8(&m, 1);
	put8(&m, 'x');
	put_ptr(&m, first + 4);
	put16(&m, DNS_TYPE_MX);
	put16(&m, 1);
	put32(&m, 0);
	put16(&m, 3);
	put16(&m, 1);
	put_ptr(&m, first);
	parse_bad(&m, NULL);

	/* Label types 01 and 10 (extended, obsolete). */
	header(&m, QR, 1, 0);
	put8(&m, 0x41);
	put8(&m, 0);
	put16(&m, DNS_TYPE_MX);
	put16(&m, 1);
	parse_bad(&m, "unsupported label type");

	/* A name over 255 octets. */
	struct msg m2;
	header(&m2, QR, 1, 0);
	for (int i = 0; i < 5; i++) {
		put8(&m2, 63);
		for (int k = 0; k < 63; k++)
			put8(&m2, 'a');
	}
	put8(&m2, 0);
	put16(&m2, DNS_TYPE_MX);
	put16(&m2, 1);
	parse_bad(&m2, "name too long");

	/* Exactly 255 octets is fine: 3 x 63 + 61 + 4 length octets + root. */
	header(&m2, QR, 1, 0);
	for (int i = 0; i < 4; i++) {
		int n = i < 3 ? 63 : 61;
		put8(&m2, (unsigned)n);
		for (int k = 0; k < n; k++)
			put8(&m2, 'b');
	}
	put8(&m2, 0);
	put16(&m2, DNS_TYPE_MX);
	put16(&m2, 1);
	struct dns_answer a;
	parse_ok(&m2, &a);
	assert_int_equal(strlen(a.qname), 253);
	dns_answer_free(&a);

	/* Record data longer than the message; an MX whose name overruns. */
	header(&m, QR, 1, 1);
	question(&m, "example.org", DNS_TYPE_MX);
	put_ptr(&m, QOFF);
	put16(&m, DNS_TYPE_MX);
	put16(&m, 1);
	put32(&m, 0);
	put16(&m, 200);
	put16(&m, 10);
	parse_bad(&m, "record data runs past the end of the message");
	header(&m, QR, 1, 1);
	question(&m, "example.org", DNS_TYPE_MX);
	size_t at = rr_begin(&m, NULL, QOFF, DNS_TYPE_MX);
	put16(&m, 10);
	put8(&m, 2);
	put8(&m, 'm');
	rr_end(&m, at);
	put8(&m, 'x');
	put8(&m, 0);
	parse_bad(&m, "malformed MX record");
}

/* Every prefix of a valid message: an error or, with TC, the records that
 * arrived whole. Never a crash or an overread. */
static void test_truncation(void **state)
{
	(void)state;
	struct msg m;
	struct dns_answer a;
	const char *why;
	build_mx(&m);
	for (size_t len = 0; len < m.n; len++) {
		if (parse(m.b, len, &a, &why) == 0)
			fail_msg("prefix of %zu octets parsed", len);
	}
	/* The same with TC set: the question must be whole; later cuts keep the
	 * complete records. */
	m.b[2] |= TC >> 8;
	size_t question_end = QOFF + 13 + 4;
	size_t whole = 0;
	for (size_t len = 0; len <= m.n; len++) {
		int rc = parse(m.b, len, &a, &why);
		if (len < question_end) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_true(a.truncated);
		assert_true(a.nmx >= whole);
		whole = a.nmx;
		dns_answer_free(&a);
	}
	assert_int_equal(whole, 3);
}

/* Flip every byte of a few valid messages to every value of interest. */
static void test_mutations(void **state)
{
	(void)state;
	struct msg m;
	build_mx(&m);
	static const uint8_t values[] = {0x00, 0x01, 0x0c, 0x3f, 0x40, 0x80, 0xc0, 0xc1, 0xff};
	for (size_t i = 0; i < m.n; i++) {
		for (size_t v = 0; v < sizeof(values); v++) {
			struct msg x = m;
			x.b[i] = values[v];
			struct dns_answer a;
			const char *why;
			if (parse(x.b, x.n, &a, &why) == 0) {
				assert_true(a.nmx <= DNS_ANSWER_MAX);
				dns_answer_free(&a);
			}
		}
	}
}

static void test_record_cap(void **state)
{
	(void)state;
	struct msg m;
	struct dns_answer a;
	header(&m, QR, 1, DNS_ANSWER_MAX + 10);
	question(&m, "many.test", DNS_TYPE_A);
	for (int i = 0; i < DNS_ANSWER_MAX + 10; i++)
		rr_a(&m, NULL, QOFF, 10, 0, 0, (uint8_t)i);
	parse_ok(&m, &a);
	assert_int_equal(a.naddr, DNS_ANSWER_MAX);
	dns_answer_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mx),
	    cmocka_unit_test(test_null_mx),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_cname_chain),
	    cmocka_unit_test(test_txt),
	    cmocka_unit_test(test_rcodes),
	    cmocka_unit_test(test_other_records_ignored),
	    cmocka_unit_test(test_name_escaping),
	    cmocka_unit_test(test_bad_messages),
	    cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_mutations),
	    cmocka_unit_test(test_record_cap),
	};
	return cmocka_run_group_tests_name("dns_parse", tests, NULL, NULL);
}
