/* test_imap_sort.c - unit tests for imap_sort.h: address sort keys (RFC
 * 5256 addr-mailbox, RFC 5957 display names with RFC 2047 decoding, groups,
 * junk), every sort criterion alone, REVERSE, several criteria, absent
 * headers, and ties kept in mailbox order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_sort.h"

static void expect_keys(const char *value, const char *mailbox, const char *display)
{
	struct buf mb, disp;
	buf_init(&mb, 0);
	buf_init(&disp, 0);
	imap_sort_address_keys(value, strlen(value), &mb, &disp);
	const char *gm = mb.data != NULL ? mb.data : "";
	const char *gd = disp.data != NULL ? disp.data : "";
	if (strcmp(gm, mailbox) != 0 || strcmp(gd, display) != 0)
		fail_msg("keys of \"%s\": got \"%s\" / \"%s\", want \"%s\" / \"%s\"", value, gm, gd,
			 mailbox, display);
	buf_free(&mb);
	buf_free(&disp);
}

static void test_address_keys(void **state)
{
	(void)state;
	expect_keys("Alice Example <alice@example.test>", "alice", "Alice Example");
	expect_keys("bob@example.test", "bob", "bob@example.test");
	expect_keys("<bob@example.test>", "bob", "bob@example.test");
	expect_keys("\"Smith, John\" <js@example.test>", "js", "Smith, John");
	expect_keys("\"\" <empty@example.test>", "empty", "empty@example.test");
	expect_keys("carol@example.test (Carol C)", "carol", "Carol C");
	/* RFC 2047 in the display name is decoded */
	expect_keys("=?utf-8?q?J=C3=BCrgen?= <j@example.test>", "j", "J\xc3\xbcrgen");
	expect_keys("=?iso-8859-1?q?=C5sa?= <asa@example.test>", "asa", "\xc3\x85sa");
	/* the first address of several */
	expect_keys("Zed <zed@x.test>, Amy <amy@x.test>", "zed", "Zed");
	/* a group first: its start marker, whose addr-mailbox is the group
	 * name (RFC 5256 2.2 over the ENVELOPE layout; imaptest
	 * sort-addresses and sort-display-to) */
	expect_keys("Friends: Bea <bea@x.test>, cy@x.test;", "Friends", "Friends");
	expect_keys("user2: blah@domain1.org;", "user2", "user2");
	expect_keys("undisclosed-recipients:;", "undisclosed-recipients", "undisclosed-recipients");
	expect_keys("undisclosed-recipients:;, dan@x.test", "undisclosed-recipients",
		    "undisclosed-recipients");
	expect_keys("=?utf-8?q?Gr=C3=BCppe?=: a@x.test;",
		    "=?utf-8?q?Gr=C3=BCppe?=", "Gr\xc3\xbcppe");
	expect_keys(":;", "", "");
	/* a mailbox after a group does not count */
	expect_keys("dan@x.test, undisclosed-recipients:;", "dan", "dan@x.test");
	/* no domain, no local part: the parser's fill-ins are left out */
	expect_keys("d", "d", "d");
	expect_keys("<>", "", "");
	/* nothing usable */
	expect_keys("", "", "");
	expect_keys("   ", "", "");
	/* quoted local parts come unquoted */
	expect_keys("\"first last\"@example.test", "first last", "first last@example.test");
	/* either output may be skipped */
	struct buf mb;
	buf_init(&mb, 0);
	imap_sort_address_keys("x <y@z>", 7, &mb, NULL);
	assert_string_equal(mb.data, "y");
	buf_free(&mb);
}

static struct mime_str S(const char *s) {
	struct mime_str r = {s, s != NULL ? strlen(s) : 0};
	return r;
}

static void
expect_order(struct imap_sort_item *items, size_t n, const char *criteria, const char *want)
{
	/* criteria: space-separated names, "-" in front for REVERSE */
	struct imap_sort_criterion crit[16];
	unsigned nc = 0;
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s", criteria);
	for (char *tok = strtok(tmp, " "); tok != NULL; tok = strtok(NULL, " ")) {
		bool rev = tok[0] == '-';
		if (rev)
			tok++;
		static const struct {
			const char *name;
			enum imap_sort_key key;
		} keys[] = {
		    {"ARRIVAL", IMAP_SORT_ARRIVAL},
		    {"CC", IMAP_SORT_CC},
		    {"DATE", IMAP_SORT_DATE},
		    {"FROM", IMAP_SORT_FROM},
		    {"SIZE", IMAP_SORT_SIZE},
		    {"SUBJECT", IMAP_SORT_SUBJECT},
		    {"TO", IMAP_SORT_TO},
		    {"DISPLAYFROM", IMAP_SORT_DISPLAYFROM},
		    {"DISPLAYTO", IMAP_SORT_DISPLAYTO},
		};
		bool found = false;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (strcmp(keys[i].name, tok) == 0) {
				crit[nc].key = keys[i].key;
				crit[nc].reverse = rev;
				nc++;
				found = true;
			}
		}
		assert_true(found);
	}
	struct imap_sort_item *copy = malloc(n * sizeof(*copy));
	memcpy(copy, items, n * sizeof(*copy));
	imap_sort_items(copy, n, crit, nc);
	char got[256] = "";
	for (size_t i = 0; i < n; i++) {
		char num[16];
		snprintf(num, sizeof(num), "%s%u", i > 0 ? " " : "", (unsigned)copy[i].id);
		strcat(got, num);
	}
	if (strcmp(got, want) != 0)
		fail_msg("SORT (%s): got %s, want %s", criteria, got, want);
	/* sorting is total: the comparison agrees with the order */
	for (size_t i = 0; i + 1 < n; i++)
		assert_true(imap_sort_compare(&copy[i], &copy[i + 1], crit, nc) < 0);
	free(copy);
}

static void test_sort_criteria(void **state)
{
	(void)state;
	struct imap_sort_item items[5];
	memset(items, 0, sizeof(items));
	/* id, arrival, date, size, subject, from, to, cc, displayfrom, displayto */
	const struct {
		int64_t arrival, date;
		uint64_t size;
		const char *subject, *from, *to, *cc, *dfrom, *dto;
	} v[5] = {
	    {500, 300, 1000, "beta", "zed", "amy", NULL, "Zed", "Amy"},
	    {100, 200, 10, "Alpha", "Bob", "cy", "b", "Bob B", "cy@x"},
	    {300, 300, 500, NULL, "alice", NULL, "a", "alice@x", NULL},
	    {200, 100, 10, "alpha", NULL, "Bea", "", NULL, "Bea"},
	    {400, 400, 700, "Gamma", "bob", "dan", "c", "bob@x", "Dan"},
	};
	for (int i = 0; i < 5; i++) {
		items[i].id = (uint32_t)i + 1;
		items[i].position = (uint32_t)i;
		items[i].arrival = v[i].arrival;
		items[i].date = v[i].date;
		items[i].size = v[i].size;
		items[i].subject = S(v[i].subject);
		items[i].from = S(v[i].from);
		items[i].to = S(v[i].to);
		items[i].cc = S(v[i].cc);
		items[i].displayfrom = S(v[i].dfrom);
		items[i].displayto = S(v[i].dto);
	}
	expect_order(items, 5, "ARRIVAL", "2 4 3 5 1");
	expect_order(items, 5, "-ARRIVAL", "1 5 3 4 2");
	/* equal dates keep mailbox order, also under REVERSE */
	expect_order(items, 5, "DATE", "4 2 1 3 5");
	expect_order(items, 5, "-DATE", "5 1 3 2 4");
	expect_order(items, 5, "SIZE", "2 4 3 5 1");
	expect_order(items, 5, "-SIZE", "1 5 3 2 4");
	/* absent sorts as empty; case folded (Alpha = alpha) */
	expect_order(items, 5, "SUBJECT", "3 2 4 1 5");
	expect_order(items, 5, "FROM", "4 3 2 5 1");
	expect_order(items, 5, "TO", "3 1 4 2 5");
	expect_order(items, 5, "CC", "1 4 3 2 5");
	expect_order(items, 5, "DISPLAYFROM", "4 3 2 5 1");
	expect_order(items, 5, "DISPLAYTO", "3 1 4 2 5");
	/* several criteria: the later ones break ties */
	expect_order(items, 5, "SIZE DATE", "4 2 3 5 1");
	expect_order(items, 5, "SIZE -DATE", "2 4 3 5 1");
	expect_order(items, 5, "SUBJECT -ARRIVAL", "3 4 2 1 5");
	expect_order(items, 5, "FROM SIZE", "4 3 2 5 1");
	expect_order(items, 5, "-FROM -SIZE", "1 5 2 3 4");
}

static void test_sort_ties(void **state)
{
	(void)state;
	struct imap_sort_item items[4];
	memset(items, 0, sizeof(items));
	/* positions not in id order: ties follow position */
	const uint32_t pos[4] = {3, 0, 2, 1};
	for (int i = 0; i < 4; i++) {
		items[i].id = (uint32_t)i + 1;
		items[i].position = pos[i];
	}
	expect_order(items, 4, "SUBJECT", "2 4 3 1");
	expect_order(items, 4, "-SUBJECT", "2 4 3 1");
	expect_order(items, 4, "-ARRIVAL -DATE -SIZE", "2 4 3 1");
	expect_order(items, 1, "DATE", "1");
	expect_order(items, 0, "DATE", "");
}

static void test_needs_headers(void **state)
{
	(void)state;
	struct imap_sort_criterion c[2] = {{IMAP_SORT_ARRIVAL, false}, {IMAP_SORT_SIZE, true}};
	assert_false(imap_sort_needs_headers(c, 2));
	c[1].key = IMAP_SORT_DATE;
	assert_true(imap_sort_needs_headers(c, 2));
	c[0].key = IMAP_SORT_DISPLAYTO;
	assert_true(imap_sort_needs_headers(c, 1));
	assert_false(imap_sort_needs_headers(c, 0));
}

/* A large input sorts in n log n and stays total. */
static void test_sort_many(void **state)
{
	(void)state;
	enum { COUNT = 50000 };
	struct imap_sort_item *items = calloc(COUNT, sizeof(*items));
	char(*subj)[8] = calloc(COUNT, 8);
	for (int i = 0; i < COUNT; i++) {
		items[i].id = (uint32_t)i + 1;
		items[i].position = (uint32_t)i;
		items[i].date = (i * 7919) % 1000;
		snprintf(subj[i], 8, "s%03d", (i * 31) % 500);
		items[i].subject = S(subj[i]);
	}
	struct imap_sort_criterion c[2] = {{IMAP_SORT_SUBJECT, false}, {IMAP_SORT_DATE, true}};
	imap_sort_items(items, COUNT, c, 2);
	for (int i = 0; i + 1 < COUNT; i++)
		assert_true(imap_sort_compare(&items[i], &items[i + 1], c, 2) < 0);
	free(subj);
	free(items);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_address_keys), cmocka_unit_test(test_sort_criteria),
	    cmocka_unit_test(test_sort_ties),	 cmocka_unit_test(test_needs_headers),
	    cmocka_unit_test(test_sort_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
