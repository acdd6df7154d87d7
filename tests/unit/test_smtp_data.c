/* test_smtp_data.c - unit tests for the DATA/BDAT decoder (smtp_data.c):
 * dot-unstuffing, end of data, line endings, SMTP smuggling; every case is
 * decoded whole, one byte at a time and in random splits, which must agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp_data.h"

#define RANDOM_SPLITS 64

struct decoded {
	char *out;
	size_t out_len, out_cap;
	size_t consumed;
	bool done;
	uint64_t bare_lf, bare_cr;
};

enum split_mode { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_RANDOM };

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

static void append(struct decoded *r, const char *data, size_t len)
{
	if (r->out_len + len + 1 > r->out_cap) {
		r->out_cap = (r->out_len + len + 1) * 2;
		r->out = realloc(r->out, r->out_cap);
		assert_non_null(r->out);
	}
	memcpy(r->out + r->out_len, data, len);
	r->out_len += len;
}

/* Decode `in` with a fresh decoder, feeding it in pieces chosen by `mode`
 * (and `seed` for SPLIT_RANDOM). Each call gets an output block of exactly
 * the documented 2 * len + 4 bytes, on the heap so that ASan sees overruns.
 * With `finish`, smtp_data_finish() runs after the input (BDAT LAST). */
static void decode(bool dot_mode, const char *in, size_t len, bool finish, enum split_mode mode,
		   uint32_t seed, struct decoded *r)
{
	struct smtp_data_decoder d;
	memset(r, 0, sizeof(*r));
	smtp_data_init(&d, dot_mode);
	uint32_t rng = seed * 2654435761u + 1;
	size_t i = 0;
	while (i < len && !d.done) {
		size_t n = len - i;
		if (mode == SPLIT_BYTES) {
			n = 1;
		} else if (mode == SPLIT_RANDOM) {
			uint32_t x = xorshift(&rng);
			n = (x & 3) == 0 ? 1 + (x >> 2) % (len - i) : 1 + (x >> 2) % 7;
			if (n > len - i)
				n = len - i;
		}
		char *out = malloc(2 * n + 4);
		assert_non_null(out);
		size_t out_len = (size_t)-1;
		size_t used = smtp_data_feed(&d, in + i, n, out, &out_len);
		if (used > n || out_len > 2 * n + 4)
			fail_msg("feed of %zu bytes used %zu, wrote %zu", n, used, out_len);
		/* Everything is consumed unless the end marker was found. */
		if (used < n && !d.done)
			fail_msg("feed stopped at %zu of %zu bytes without end of data", used, n);
		append(r, out, out_len);
		free(out);
		i += used;
	}
	r->consumed = i;
	r->done = d.done;
	if (d.done && i < len) {
		/* Bytes after the end marker are never taken. */
		char *out = malloc(2 * (len - i) + 4);
		assert_non_null(out);
		size_t out_len = (size_t)-1;
		assert_int_equal(smtp_data_feed(&d, in + i, len - i, out, &out_len), 0);
		assert_int_equal(out_len, 0);
		assert_true(d.done);
		free(out);
	}
	if (finish) {
		char *out = malloc(2);
		assert_non_null(out);
		size_t out_len = (size_t)-1;
		smtp_data_finish(&d, out, &out_len);
		assert_true(out_len <= 2);
		append(r, out, out_len);
		free(out);
	}
	r->bare_lf = d.bare_lf;
	r->bare_cr = d.bare_cr;
	append(r, "", 0);
	r->out[r->out_len] = '\0';
}

static const char *mode_name(enum split_mode m)
{
	return m == SPLIT_WHOLE ? "whole" : m == SPLIT_BYTES ? "byte by byte" : "random split";
}

static void show(const char *what, const char *s, size_t len)
{
	fprintf(stderr, "%s (%zu): \"", what, len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r')
			fputs("\\r", stderr);
		else if (c == '\n')
			fputs("\\n", stderr);
		else if (c < 32 || c > 126)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputs("\"\n", stderr);
}

/* The expected outcome of one case. bare_lf/bare_cr of -1 are not checked
 * against a fixed number (but still must agree across splits). */
struct expect {
	const char *out;
	size_t out_len;
	size_t consumed;
	bool done;
	int bare_lf, bare_cr;
};

static void compare(const char *in, size_t len, const struct expect *want,
		    const struct decoded *got, enum split_mode mode, uint32_t seed)
{
	bool same = got->out_len == want->out_len &&
		    memcmp(got->out, want->out, want->out_len) == 0 &&
		    got->consumed == want->consumed && got->done == want->done &&
		    (want->bare_lf < 0 || got->bare_lf == (uint64_t)want->bare_lf) &&
		    (want->bare_cr < 0 || got->bare_cr == (uint64_t)want->bare_cr);
	if (same)
		return;
	show("input", in, len);
	show("want", want->out, want->out_len);
	show("got", got->out, got->out_len);
	fail_msg("%s (seed %u): consumed %zu want %zu, done %d want %d, bare LF %llu want %d, "
		 "bare CR %llu want %d",
		 mode_name(mode), seed, got->consumed, want->consumed, got->done, want->done,
		 (unsigned long long)got->bare_lf, want->bare_lf, (unsigned long long)got->bare_cr,
		 want->bare_cr);
}

/* Decode `in` whole, byte by byte and in RANDOM_SPLITS random splits; every
 * run must give `want` (and the same counters as the whole run). */
static void check_all_splits(bool dot_mode, const char *in, size_t len, bool finish,
			     const struct expect *want_in)
{
	struct expect want = *want_in;
	struct decoded whole, r;
	decode(dot_mode, in, len, finish, SPLIT_WHOLE, 0, &whole);
	compare(in, len, &want, &whole, SPLIT_WHOLE, 0);
	want.bare_lf = (int)whole.bare_lf;
	want.bare_cr = (int)whole.bare_cr;
	decode(dot_mode, in, len, finish, SPLIT_BYTES, 0, &r);
	compare(in, len, &want, &r, SPLIT_BYTES, 0);
	free(r.out);
	for (uint32_t seed = 1; seed <= RANDOM_SPLITS; seed++) {
		decode(dot_mode, in, len, finish, SPLIT_RANDOM, seed, &r);
		compare(in, len, &want, &r, SPLIT_RANDOM, seed);
		free(r.out);
	}
	free(whole.out);
}

/* DATA mode: `in` decodes to `out`, consuming `consumed` bytes. */
static void data_case(const char *in, size_t in_len, const char *out, size_t out_len,
		      size_t consumed, bool done, int bare_lf, int bare_cr)
{
	struct expect want = {out, out_len, consumed, done, bare_lf, bare_cr};
	check_all_splits(true, in, in_len, false, &want);
}

/* For string literals (which may contain NUL bytes). */
#define DATA_DONE(in, out, consumed, lf, cr)                                                \
	data_case(in, sizeof(in) - 1, out, sizeof(out) - 1, consumed, true, lf, cr)
#define DATA_ALL(in, out, done, lf, cr)                                                     \
	data_case(in, sizeof(in) - 1, out, sizeof(out) - 1, sizeof(in) - 1, done, lf, cr)
#define BDAT(in, out, lf, cr)                                                               \
	do {                                                                                \
		struct expect want_ = {out, sizeof(out) - 1, sizeof(in) - 1, false, lf, cr}; \
		check_all_splits(false, in, sizeof(in) - 1, true, &want_);                  \
	} while (0)

static void test_simple_message(void **state)
{
	(void)state;
	DATA_ALL("Subject: hi\r\n\r\nbody\r\n.\r\n", "Subject: hi\r\n\r\nbody\r\n", true, 0, 0);
	DATA_ALL("hello\r\n.\r\n", "hello\r\n", true, 0, 0);
	/* RFC 5321 D.1 style message. */
	DATA_ALL("Blah blah blah...\r\n...etc. etc. etc.\r\n.\r\n",
		 "Blah blah blah...\r\n..etc. etc. etc.\r\n", true, 0, 0);
}

static void test_empty_message(void **state)
{
	(void)state;
	/* ".<CRLF>" as the very first line ends the data: nothing stored. */
	DATA_ALL(".\r\n", "", true, 0, 0);
	/* One empty line. */
	DATA_ALL("\r\n.\r\n", "\r\n", true, 0, 0);
	/* Nothing at all yet: not done. */
	data_case("", 0, "", 0, 0, false, 0, 0);
}

static void test_dot_unstuffing(void **state)
{
	(void)state;
	DATA_ALL("..\r\n.\r\n", ".\r\n", true, 0, 0);
	DATA_ALL("...\r\n.\r\n", "..\r\n", true, 0, 0);
	DATA_ALL("..foo\r\n...bar\r\n.\r\n", ".foo\r\n..bar\r\n", true, 0, 0);
	/* RFC 5321 4.5.2: a leading dot with more on the line is deleted. */
	DATA_ALL(".foo\r\n.\r\n", "foo\r\n", true, 0, 0);
	DATA_ALL("a\r\n. \r\n.\r\n", "a\r\n \r\n", true, 0, 0);
	/* Dots elsewhere are content. */
	DATA_ALL("a.b\r\nc.\r\n.d.\r\n.\r\n", "a.b\r\nc.\r\nd.\r\n", true, 0, 0);
	DATA_ALL("x\r\n..\r\n..\r\n.\r\n", "x\r\n.\r\n.\r\n", true, 0, 0);
}

static void test_end_marker_stops(void **state)
{
	(void)state;
	/* Bytes after the marker (pipelined commands) are not consumed. */
	DATA_DONE("hello\r\n.\r\nQUIT\r\n", "hello\r\n", 10, 0, 0);
	DATA_DONE("hello\r\n.\r\n.\r\n", "hello\r\n", 10, 0, 0);
	DATA_DONE(".\r\nMAIL FROM:<a@example.org>\r\n", "", 3, 0, 0);
	DATA_DONE("x\r\n.\r\n\r\n.\r\n", "x\r\n", 6, 0, 0);
	/* Incomplete markers are held, not emitted, and not the end. */
	DATA_ALL("hello\r\n", "hello\r\n", false, 0, 0);
	DATA_ALL("hello\r\n.", "hello\r\n", false, 0, 0);
	DATA_ALL("hello\r\n.\r", "hello\r\n", false, 0, 0);
	DATA_ALL("hello\r", "hello", false, 0, 0);
	DATA_ALL(".", "", false, 0, 0);
}

static void test_line_endings(void **state)
{
	(void)state;
	/* Bare LF and bare CR are stored as CRLF and counted. */
	DATA_ALL("a\nb\r\n.\r\n", "a\r\nb\r\n", true, 1, 0);
	DATA_ALL("a\rb\r\n.\r\n", "a\r\nb\r\n", true, 0, 1);
	DATA_ALL("a\r\r\nb\r\n.\r\n", "a\r\n\r\nb\r\n", true, 0, 1);
	DATA_ALL("a\n\nb\r\n.\r\n", "a\r\n\r\nb\r\n", true, 2, 0);
	DATA_ALL("a\n\r\nb\r\n.\r\n", "a\r\n\r\nb\r\n", true, 1, 0);
	DATA_ALL("a\r\rb\r\n.\r\n", "a\r\n\r\nb\r\n", true, 0, 2);
	DATA_ALL("l1\nl2\rl3\r\nl4\n\r\n.\r\n", "l1\r\nl2\r\nl3\r\nl4\r\n\r\n", true, 2, 1);
	/* CRLF is kept as it is. */
	DATA_ALL("a\r\nb\r\n\r\nc\r\n.\r\n", "a\r\nb\r\n\r\nc\r\n", true, 0, 0);
	/* Other bytes, NUL included, pass through. */
	DATA_ALL("\x00\x01\xff\t\r\n.\r\n", "\x00\x01\xff\t\r\n", true, 0, 0);
}

/* The classic smuggling payload body: a whole second transaction. */
#define SMUGGLED                                                                            \
	"MAIL FROM:<admin@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n"          \
	"From: admin@example.com\r\n\r\nsmuggled\r\n"

static void test_smuggling_sequences(void **state)
{
	(void)state;
	/* None of these ends the data: everything up to the real
	 * <CRLF>.<CRLF> is one message. The stored copy holds the dot line in
	 * canonical form; an outgoing relay dot-stuffs it like any other. */
	DATA_ALL("a\n.\n" SMUGGLED ".\r\n", "a\r\n.\r\n" SMUGGLED, true, 2, 0);
	DATA_ALL("a\r.\r" SMUGGLED ".\r\n", "a\r\n.\r\n" SMUGGLED, true, 0, 2);
	DATA_ALL("a\n.\r\n" SMUGGLED ".\r\n", "a\r\n.\r\n" SMUGGLED, true, 1, 0);
	DATA_ALL("a\r\n.\n" SMUGGLED ".\r\n", "a\r\n.\r\n" SMUGGLED, true, 1, 0);
	DATA_ALL("a\r\n.\r" SMUGGLED ".\r\n", "a\r\n.\r\n" SMUGGLED, true, 0, 1);
	DATA_ALL("a\r.\r\n" SMUGGLED ".\r\n", "a\r\n.\r\n" SMUGGLED, true, 0, 1);
	DATA_ALL("a\r\n.\r\r\n" SMUGGLED ".\r\n", "a\r\n.\r\n\r\n" SMUGGLED, true, 0, 1);
	DATA_ALL("a\r\n\x00.\r\n" SMUGGLED ".\r\n", "a\r\n\x00.\r\n" SMUGGLED, true, 0, 0);
	DATA_ALL("a\r\n .\r\n" SMUGGLED ".\r\n", "a\r\n .\r\n" SMUGGLED, true, 0, 0);

	/* At the very start of the data. */
	DATA_ALL("\n.\n" SMUGGLED ".\r\n", "\r\n.\r\n" SMUGGLED, true, 2, 0);
	DATA_ALL(".\n" SMUGGLED ".\r\n", ".\r\n" SMUGGLED, true, 1, 0);
	DATA_ALL(".\r" SMUGGLED ".\r\n", ".\r\n" SMUGGLED, true, 0, 1);
	DATA_ALL("\r.\r\n" SMUGGLED ".\r\n", "\r\n.\r\n" SMUGGLED, true, 0, 1);

	/* Without the real marker nothing ends, whatever follows. */
	DATA_ALL("a\n.\n" SMUGGLED, "a\r\n.\r\n" SMUGGLED, false, 2, 0);
	DATA_ALL("a\r\n.\r" SMUGGLED, "a\r\n.\r\n" SMUGGLED, false, 0, 1);

	/* The real marker still ends the data right after a bare CR or LF
	 * line ending, because it carries its own CRLF. */
	DATA_DONE("a\r\r\n.\r\nX", "a\r\n\r\n", 7, 0, 1);
	DATA_DONE("a\n\r\n.\r\nX", "a\r\n\r\n", 7, 1, 0);
}

/* BDAT: no dot-stuffing, no end marker, same line-ending rule. */
static void test_bdat_mode(void **state)
{
	(void)state;
	BDAT("..\r\n.\r\n", "..\r\n.\r\n", 0, 0);
	BDAT(".\r\n", ".\r\n", 0, 0);
	BDAT("a\nb\rc", "a\r\nb\r\nc", 1, 1);
	BDAT("line\r\n", "line\r\n", 0, 0);
	/* smtp_data_finish() flushes a trailing CR as CRLF. */
	BDAT("abc\r", "abc\r\n", 0, 1);
	BDAT("\r", "\r\n", 0, 1);
	BDAT("a\r\r", "a\r\n\r\n", 0, 2);
	BDAT("", "", 0, 0);
	BDAT("a\n.\n" SMUGGLED ".\r\n", "a\r\n.\r\n" SMUGGLED ".\r\n", 2, 0);

	/* Across two chunks: a CR at the end of one and an LF at the start of
	 * the next are one CRLF. */
	struct smtp_data_decoder d;
	char out[64];
	size_t out_len;
	smtp_data_init(&d, false);
	assert_int_equal(smtp_data_feed(&d, "abc\r", 4, out, &out_len), 4);
	assert_int_equal(out_len, 3);
	assert_memory_equal(out, "abc", 3);
	assert_int_equal(smtp_data_feed(&d, "\ndef", 4, out, &out_len), 4);
	assert_int_equal(out_len, 5);
	assert_memory_equal(out, "\r\ndef", 5);
	smtp_data_finish(&d, out, &out_len);
	assert_int_equal(out_len, 0);
	assert_int_equal(d.bare_cr, 0);
	assert_int_equal(d.bare_lf, 0);
	assert_false(d.done);
}

/* After the end, the decoder takes nothing more; init starts afresh. */
static void test_done_and_reuse(void **state)
{
	(void)state;
	struct smtp_data_decoder d;
	char out[64];
	size_t out_len;
	smtp_data_init(&d, true);
	assert_int_equal(smtp_data_feed(&d, "x\r\n.\r\n", 6, out, &out_len), 6);
	assert_true(d.done);
	assert_int_equal(out_len, 3);
	assert_int_equal(smtp_data_feed(&d, "more\r\n", 6, out, &out_len), 0);
	assert_int_equal(out_len, 0);
	assert_true(d.done);

	smtp_data_init(&d, true);
	assert_false(d.done);
	assert_int_equal(smtp_data_feed(&d, "..y\r\n.\r\n", 8, out, &out_len), 8);
	assert_true(d.done);
	assert_int_equal(out_len, 4);
	assert_memory_equal(out, ".y\r\n", 4);
}

/* An independent model of the rule in smtp_data.h, for complete DATA input
 * (which must hold an end marker). */
static void reference_data(const char *in, size_t len, struct decoded *r)
{
	memset(r, 0, sizeof(*r));
	bool line_start = true;
	size_t i = 0;
	while (i < len) {
		char c = in[i];
		if (line_start && c == '.') {
			if (i + 2 < len && in[i + 1] == '\r' && in[i + 2] == '\n') {
				r->done = true;
				i += 3;
				break;
			}
			/* A dot before a bare CR/LF is kept; otherwise it
			 * is a stuffing dot and goes. */
			if (i + 1 < len && (in[i + 1] == '\r' || in[i + 1] == '\n'))
				append(r, ".", 1);
			line_start = false;
			i++;
			continue;
		}
		line_start = false;
		if (c == '\r' && i + 1 < len && in[i + 1] == '\n') {
			append(r, "\r\n", 2);
			line_start = true;
			i += 2;
		} else if (c == '\r' || c == '\n') {
			append(r, "\r\n", 2);
			if (c == '\r')
				r->bare_cr++;
			else
				r->bare_lf++;
			i++;
		} else {
			append(r, &c, 1);
			i++;
		}
	}
	r->consumed = i;
	append(r, "", 0);
}

/* Random inputs over the interesting alphabet, checked against the model
 * in every split. */
static void test_random_against_model(void **state)
{
	(void)state;
	static const char alphabet[] = {'\r', '\n', '.', '.', 'a', '\0', '\r', '\n'};
	char in[400];
	uint32_t rng = 12345;
	for (int iter = 0; iter < 1500; iter++) {
		size_t n = xorshift(&rng) % 200;
		for (size_t k = 0; k < n; k++)
			in[k] = alphabet[xorshift(&rng) % sizeof(alphabet)];
		memcpy(in + n, "\r\n.\r\nTAIL", 9);
		size_t len = n + 9;
		struct decoded ref;
		reference_data(in, len, &ref);
		assert_true(ref.done);
		struct expect want = {ref.out, ref.out_len, ref.consumed, true, (int)ref.bare_lf,
				      (int)ref.bare_cr};
		struct decoded got;
		decode(true, in, len, false, SPLIT_WHOLE, 0, &got);
		compare(in, len, &want, &got, SPLIT_WHOLE, 0);
		free(got.out);
		decode(true, in, len, false, SPLIT_BYTES, 0, &got);
		compare(in, len, &want, &got, SPLIT_BYTES, 0);
		free(got.out);
		uint32_t seed = (uint32_t)iter + 1;
		decode(true, in, len, false, SPLIT_RANDOM, seed, &got);
		compare(in, len, &want, &got, SPLIT_RANDOM, seed);
		free(got.out);
		free(ref.out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_message),
		cmocka_unit_test(test_empty_message),
		cmocka_unit_test(test_dot_unstuffing),
		cmocka_unit_test(test_end_marker_stops),
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_smuggling_sequences),
		cmocka_unit_test(test_bdat_mode),
		cmocka_unit_test(test_done_and_reuse),
		cmocka_unit_test(test_random_against_model),
	};
	return cmocka_run_group_tests_name("smtp_data", tests, NULL, NULL);
}
