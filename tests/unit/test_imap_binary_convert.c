/* test_imap_binary_convert.c - unit tests for imap_binary_convert.h: the
 * imaptest append-binary message, which parts are converted (binary with
 * NUL or bare line ends, 7bit/8bit with NUL) and which are not (clean
 * binary, base64, non-MIME, containers), the rewritten header, the decoded
 * content equal to the original bytes, idempotence, and the output limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_binary_convert.h"
#include "mime/mime_decode.h"
#include "mime/mime_parser.h"

/* Convert (n bytes, NULs allowed); the result in *out. */
static int convert(const char *msg, size_t n, struct buf *out)
{
	buf_init(out, 0);
	return imap_binary_convert(msg, n, out);
}

/* The decoded content of part `index` (pre-order) of a message. */
static void decoded_part(const char *msg, size_t n, unsigned index, struct buf *out)
{
	struct mime_tree *t = mime_parse(msg, n, NULL);
	assert_true(index < t->nparts);
	const struct mime_part *p = &t->parts[index];
	const char *b = msg + p->body_start;
	size_t bl = p->body_end - p->body_start;
	if (p->encoding == MIME_CTE_BASE64)
		assert_int_equal(mime_base64_decode(b, bl, 0, out, NULL), 0);
	else
		buf_append(out, b, bl);
	mime_tree_free(&t);
}

static unsigned part_encoding(const char *msg, size_t n, unsigned index)
{
	struct mime_tree *t = mime_parse(msg, n, NULL);
	assert_true(index < t->nparts);
	unsigned e = t->parts[index].encoding;
	mime_tree_free(&t);
	return e;
}

#define MSG(s) s, sizeof(s) - 1

static void test_imaptest_append_binary(void **state)
{
	(void)state;
	/* imaptest append-binary: a literal8 whose body is NUL "-" 0xE4 LF
	 * CR LF LF (BINARY.SIZE 7) */
	static const char in[] = "From: user@domain.org\r\n"
				 "Date: Sat, 24 Mar 2007 23:00:00 +0200\r\n"
				 "Mime-Version: 1.0\r\n"
				 "Content-Type: application/octet-stream\r\n"
				 "Content-Transfer-Encoding: binary\r\n"
				 "\r\n"
				 "\0-\xe4\n\r\n\n";
	static const char want[] = "From: user@domain.org\r\n"
				   "Date: Sat, 24 Mar 2007 23:00:00 +0200\r\n"
				   "Mime-Version: 1.0\r\n"
				   "Content-Type: application/octet-stream\r\n"
				   "Content-Transfer-Encoding: base64\r\n"
				   "\r\n"
				   "AC3kCg0KCg==\r\n";
	struct buf out, dec;
	assert_int_equal(convert(MSG(in), &out), 1);
	assert_int_equal(out.len, sizeof(want) - 1);
	assert_memory_equal(out.data, want, out.len);
	assert_null(memchr(out.data, '\0', out.len));
	buf_init(&dec, 0);
	decoded_part(out.data, out.len, 0, &dec);
	assert_int_equal(dec.len, 7);
	assert_memory_equal(dec.data, "\0-\xe4\n\r\n\n", 7);
	/* converted once is converted for good */
	struct buf again;
	assert_int_equal(convert(out.data, out.len, &again), 0);
	assert_int_equal(again.len, 0);
	buf_free(&again);
	buf_free(&dec);
	buf_free(&out);
}

static void test_untouched(void **state)
{
	(void)state;
	struct buf out;
	/* plain CRLF text: not even parsed */
	assert_int_equal(convert(MSG("Subject: x\r\n\r\nhello\r\n"), &out), 0);
	assert_int_equal(out.len, 0);
	/* clean binary content (CRLF lines, no NUL) stays binary */
	assert_int_equal(convert(MSG("MIME-Version: 1.0\r\n"
				     "Content-Transfer-Encoding: binary\r\n\r\n"
				     "\xff\xfe\x80 bytes\r\nmore\r\n"),
				 &out),
			 0);
	/* bare LF in 7bit/8bit text: a line end, left to the store */
	assert_int_equal(convert(MSG("MIME-Version: 1.0\r\n"
				     "Content-Transfer-Encoding: 8bit\r\n\r\n"
				     "line\nline\n"),
				 &out),
			 0);
	/* NUL where MIME is not in effect, in base64 or quoted-printable, or
	 * under an unknown encoding: nothing to declare or nothing to fix */
	assert_int_equal(convert(MSG("Subject: no mime\r\n\r\nnul\0here\r\n"), &out), 0);
	assert_int_equal(convert(MSG("MIME-Version: 1.0\r\n"
				     "Content-Transfer-Encoding: base64\r\n\r\n"
				     "QUJD\0\r\n"),
				 &out),
			 0);
	assert_int_equal(convert(MSG("MIME-Version: 1.0\r\n"
				     "Content-Transfer-Encoding: x-uuencode\r\n\r\n"
				     "a\0b\r\n"),
				 &out),
			 0);
	/* NUL only in a header */
	assert_int_equal(convert(MSG("MIME-Version: 1.0\r\nX-A: a\0b\r\n\r\nbody\r\n"), &out), 0);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

static void test_multipart(void **state)
{
	(void)state;
	static const char in[] = "MIME-Version: 1.0\r\n"
				 "Content-Type: multipart/mixed; boundary=b\r\n"
				 "\r\n"
				 "--b\r\n"
				 "Content-Type: text/plain\r\n"
				 "\r\n"
				 "text stays\r\n"
				 "--b\r\n"
				 "Content-Type: application/octet-stream\r\n"
				 "Content-transfer-encoding:\r\n BINARY\r\n"
				 "X-After: kept\r\n"
				 "\r\n"
				 "\0\x01\x02\n"
				 "--b\r\n"
				 "Content-Type: text/plain\r\n"
				 "\r\n"
				 "8bit with a \0 in it\r\n"
				 "--b--\r\n"
				 "epilogue\r\n";
	static const char want[] = "MIME-Version: 1.0\r\n"
				   "Content-Type: multipart/mixed; boundary=b\r\n"
				   "\r\n"
				   "--b\r\n"
				   "Content-Type: text/plain\r\n"
				   "\r\n"
				   "text stays\r\n"
				   "--b\r\n"
				   "Content-Type: application/octet-stream\r\n"
				   "Content-Transfer-Encoding: base64\r\n"
				   "X-After: kept\r\n"
				   "\r\n"
				   "AAEC\n" /* the delimiter's line end, as it was */
				   "--b\r\n"
				   "Content-Type: text/plain\r\n"
				   "Content-Transfer-Encoding: base64\r\n"
				   "\r\n"
				   "OGJpdCB3aXRoIGEgACBpbiBpdA==\r\n"
				   "--b--\r\n"
				   "epilogue\r\n";
	struct buf out, dec;
	assert_int_equal(convert(MSG(in), &out), 1);
	if (out.len != sizeof(want) - 1 || memcmp(out.data, want, out.len) != 0)
		fail_msg("got:\n%.*s", (int)out.len, out.data);
	/* parts 2 and 3 decode to the original bytes; part 1 is as it was */
	assert_int_equal(part_encoding(out.data, out.len, 1), MIME_CTE_7BIT);
	assert_int_equal(part_encoding(out.data, out.len, 2), MIME_CTE_BASE64);
	assert_int_equal(part_encoding(out.data, out.len, 3), MIME_CTE_BASE64);
	buf_init(&dec, 0);
	decoded_part(out.data, out.len, 2, &dec);
	assert_int_equal(dec.len, 3); /* the LF before the delimiter is the delimiter's */
	assert_memory_equal(dec.data, "\0\x01\x02", 3);
	buf_reset(&dec);
	decoded_part(out.data, out.len, 3, &dec);
	assert_int_equal(dec.len, 19);
	assert_memory_equal(dec.data, "8bit with a \0 in it", 19);
	buf_free(&dec);
	buf_free(&out);
}

static void test_embedded_and_long(void **state)
{
	(void)state;
	/* a binary leaf inside message/rfc822, longer than one base64 line,
	 * with several Content-Transfer-Encoding fields */
	struct buf in, out, dec;
	buf_init(&in, 0);
	buf_append_str(&in, "MIME-Version: 1.0\r\n"
			    "Content-Type: message/rfc822\r\n"
			    "\r\n"
			    "Subject: inner\r\n"
			    "MIME-Version: 1.0\r\n"
			    "Content-Transfer-Encoding: binary\r\n"
			    "Content-Transfer-Encoding: 7bit\r\n"
			    "\r\n");
	unsigned char bytes[200];
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (unsigned char)(i * 7);
	buf_append(&in, bytes, sizeof(bytes));
	assert_int_equal(convert(in.data, in.len, &out), 1);
	/* one field left, lines of 76 characters, the final one ended */
	const char *hdr = "Subject: inner\r\nMIME-Version: 1.0\r\n"
			  "Content-Transfer-Encoding: base64\r\n\r\n";
	char *h = memmem(out.data, out.len, hdr, strlen(hdr));
	assert_non_null(h);
	const char *body = h + strlen(hdr);
	size_t blen = out.len - (size_t)(body - out.data);
	assert_int_equal(blen, 3 * (76 + 2) + 40 + 2); /* 3 x 57 bytes, then 29 */
	assert_memory_equal(body + 76, "\r\n", 2);
	assert_memory_equal(out.data + out.len - 2, "\r\n", 2);
	buf_init(&dec, 0);
	decoded_part(out.data, out.len, 1, &dec);
	assert_int_equal(dec.len, sizeof(bytes));
	assert_memory_equal(dec.data, bytes, sizeof(bytes));
	buf_free(&dec);
	buf_free(&in);
	buf_free(&out);
}

static void test_limit(void **state)
{
	(void)state;
	static const char in[] = "MIME-Version: 1.0\r\n"
				 "Content-Transfer-Encoding: binary\r\n"
				 "\r\n"
				 "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
	struct buf out;
	for (size_t max = 1; max < sizeof(in) + 32; max++) {
		buf_init(&out, max);
		int r = imap_binary_convert(in, sizeof(in) - 1, &out);
		assert_true(r == -1 || r == 1);
		if (r == 1)
			assert_true(out.len <= max);
		buf_free(&out);
	}
	buf_init(&out, 2 * (sizeof(in) - 1) + 64);
	assert_int_equal(imap_binary_convert(in, sizeof(in) - 1, &out), 1);
	buf_free(&out);
}

/* Random MIME-ish messages: conversion never fails without a limit, is
 * idempotent, and every converted part decodes to its original bytes. */
static void test_random(void **state)
{
	(void)state;
	static const char *const pieces[] = {
	    "MIME-Version: 1.0\r\n",
	    "Content-Type: multipart/mixed; boundary=z\r\n",
	    "Content-Transfer-Encoding: binary\r\n",
	    "Content-Transfer-Encoding: 8bit\r\n",
	    "\r\n",
	    "--z\r\n",
	    "--z--\r\n",
	    "\n",
	    "\r",
	    "\0",
	    "text",
	    "\xe4\xff",
	    "--z\n",
	};
	srand(5516);
	int converted = 0;
	for (int round = 0; round < 3000; round++) {
		struct buf in, out, again;
		buf_init(&in, 0);
		int n = rand() % 24;
		for (int i = 0; i < n; i++) {
			const char *p = pieces[rand() % (sizeof(pieces) / sizeof(pieces[0]))];
			buf_append(&in, p, p[0] == '\0' ? 1 : strlen(p));
		}
		int r = convert(in.data != NULL ? in.data : "", in.len, &out);
		assert_true(r == 0 || r == 1);
		if (r == 1) {
			converted++;
			assert_int_equal(convert(out.data, out.len, &again), 0);
			buf_free(&again);
			/* same number of parts, each leaf's content preserved */
			struct mime_tree *a = mime_parse(in.data, in.len, NULL);
			struct mime_tree *b = mime_parse(out.data, out.len, NULL);
			assert_int_equal(a->nparts, b->nparts);
			for (unsigned k = 0; k < a->nparts; k++) {
				if (a->parts[k].children != NULL)
					continue;
				struct buf da, db;
				buf_init(&da, 0);
				buf_init(&db, 0);
				decoded_part(in.data, in.len, k, &da);
				decoded_part(out.data, out.len, k, &db);
				assert_int_equal(da.len, db.len);
				if (da.len > 0)
					assert_memory_equal(da.data, db.data, da.len);
				buf_free(&da);
				buf_free(&db);
			}
			mime_tree_free(&a);
			mime_tree_free(&b);
		}
		buf_free(&out);
		buf_free(&in);
	}
	assert_true(converted > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_imaptest_append_binary),
	    cmocka_unit_test(test_untouched),
	    cmocka_unit_test(test_multipart),
	    cmocka_unit_test(test_embedded_and_long),
	    cmocka_unit_test(test_limit),
	    cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
