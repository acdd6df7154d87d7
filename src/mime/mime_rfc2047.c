/* mime_rfc2047.c - encoded-word and RFC 2231 value decoding to UTF-8.
 * UTF-8, US-ASCII and ISO-8859-1 are converted inline; every other charset
 * goes through iconv(3), opened once per run of adjacent encoded words. */
#include "mime/mime_rfc2047.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "mime/mime_decode.h"

#define CHARSET_NAME_MAX 64

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

enum charset_kind { CS_UTF8, CS_ASCII, CS_LATIN1, CS_ICONV };

/* Normalise a charset name into name[] (NUL-terminated, for iconv_open) and
 * classify it. Returns -1 for a name that cannot be a charset. */
static int charset_lookup(const char *cs, size_t len, char name[CHARSET_NAME_MAX],
			  enum charset_kind *kind_r)
{
	const char *star = memchr(cs, '*', len);
	if (star != NULL)
		len = (size_t)(star - cs); /* RFC 2231 "charset*lang" */
	while (len > 0 && (cs[0] == ' ' || cs[0] == '\t')) {
		cs++;
		len--;
	}
	while (len > 0 && (cs[len - 1] == ' ' || cs[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= CHARSET_NAME_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)cs[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':' ||
			  c == '+';
		if (!ok)
			return -1; /* never hand '/' or odd bytes to iconv */
		name[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	name[len] = '\0';
	static const struct {
		const char *alias;
		const char *name;
		enum charset_kind kind;
	} table[] = {
	    {"utf-8", NULL, CS_UTF8},
	    {"utf8", NULL, CS_UTF8},
	    {"us-ascii", NULL, CS_ASCII},
	    {"ascii", NULL, CS_ASCII},
	    {"ansi_x3.4-1968", NULL, CS_ASCII},
	    {"iso646-us", NULL, CS_ASCII},
	    {"iso-8859-1", NULL, CS_LATIN1},
	    {"iso8859-1", NULL, CS_LATIN1},
	    {"iso_8859-1", NULL, CS_LATIN1},
	    {"latin1", NULL, CS_LATIN1},
	    {"l1", NULL, CS_LATIN1},
	    /* Labels real mail uses that glibc spells differently. */
	    {"ks_c_5601-1987", "CP949", CS_ICONV},
	    {"iso-8859-8-i", "ISO-8859-8", CS_ICONV},
	    {"iso-8859-6-i", "ISO-8859-6", CS_ICONV},
	    {"gb2312", "GB18030", CS_ICONV},
	    {"x-gbk", "GBK", CS_ICONV},
	    {"windows-874", "CP874", CS_ICONV},
	    {"x-sjis", "SHIFT_JIS", CS_ICONV},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(name, table[i].alias) == 0) {
			if (table[i].name != NULL)
				strcpy(name, table[i].name);
			*kind_r = table[i].kind;
			return 0;
		}
	}
	*kind_r = CS_ICONV;
	return 0;
}

/* Copy valid UTF-8, replacing each invalid byte with U+FFFD. */
static int append_utf8_checked(const unsigned char *p, size_t len, struct buf *out)
{
	size_t i = 0, run = 0;
	while (i < len) {
		size_t n = utf8_seq_len(p + i, len - i);
		if (n > 0) {
			i += n;
			continue;
		}
		if (i > run && buf_append(out, p + run, i - run) < 0)
			return -1;
		if (buf_append(out, replacement, 3) < 0)
			return -1;
		i++;
		run = i;
	}
	if (i > run && buf_append(out, p + run, i - run) < 0)
		return -1;
	return 0;
}

static int append_latin1(const unsigned char *p, size_t len, struct buf *out)
{
	char tmp[512];
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (n + 2 > sizeof(tmp)) {
			if (buf_append(out, tmp, n) < 0)
				return -1;
			n = 0;
		}
		if (p[i] < 0x80) {
			tmp[n++] = (char)p[i];
		} else {
			tmp[n++] = (char)(0xc0 | (p[i] >> 6));
			tmp[n++] = (char)(0x80 | (p[i] & 0x3f));
		}
	}
	return n > 0 ? buf_append(out, tmp, n) : 0;
}

static int append_iconv(const char *name, const unsigned char *p, size_t len, struct buf *out)
{
	iconv_t cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return -2;
	char tmp[1024];
	char *in = (char *)(uintptr_t)p;
	size_t inleft = len;
	int ret = 0;
	bool flushing = false;
	while (ret == 0) {
		char *o = tmp;
		size_t oleft = sizeof(tmp);
		size_t r = flushing ? iconv(cd, NULL, NULL, &o, &oleft)
				    : iconv(cd, &in, &inleft, &o, &oleft);
		int err = errno;
		if (o > tmp && buf_append(out, tmp, (size_t)(o - tmp)) < 0) {
			ret = -1;
			break;
		}
		if (r != (size_t)-1) {
			if (flushing)
				break;
			flushing = true; /* input done: emit any shift state */
			continue;
		}
		if (err == E2BIG)
			continue;
		if (flushing)
			break;
		/* EILSEQ (invalid byte) or EINVAL (cut sequence at the end). */
		if (buf_append(out, replacement, 3) < 0) {
			ret = -1;
			break;
		}
		if (err == EILSEQ && inleft > 0) {
			in++;
			inleft--;
		} else {
			flushing = true;
		}
	}
	iconv_close(cd);
	return ret;
}

int mime_charset_to_utf8(const char *charset, size_t charset_len, const void *in, size_t len,
			 struct buf *out)
{
	char name[CHARSET_NAME_MAX];
	enum charset_kind kind;
	if (charset_lookup(charset, charset_len, name, &kind) < 0)
		return -2;
	switch (kind) {
	case CS_UTF8:
	case CS_ASCII:
		/* Mail labelled us-ascii often carries UTF-8; keep it. */
		return append_utf8_checked(in, len, out);
	case CS_LATIN1:
		return append_latin1(in, len, out);
	case CS_ICONV:
		break;
	}
	return append_iconv(name, in, len, out);
}

/* An encoded word starting at in[i] ("=?"): returns its end offset, or 0. */
static size_t parse_word(const char *in, size_t len, size_t i, size_t *cs_start, size_t *cs_len,
			 char *enc, size_t *text_start, size_t *text_len)
{
	size_t p = i + 2;
	size_t cs = p;
	while (p < len && in[p] != '?') {
		unsigned char c = (unsigned char)in[p];
		if (c <= ' ' || c >= 0x7f || p - cs >= 75)
			return 0;
		p++;
	}
	if (p == cs || p + 2 >= len || in[p + 2] != '?')
		return 0;
	char e = in[p + 1];
	if (e != 'B' && e != 'b' && e != 'Q' && e != 'q')
		return 0;
	size_t t = p + 3;
	const char *q = memchr(in + t, '?', len - t);
	if (q == NULL)
		return 0;
	size_t qe = (size_t)(q - in);
	if (qe + 1 >= len || in[qe + 1] != '=')
		return 0;
	for (size_t k = t; k < qe; k++) {
		if (in[k] == '\r' || in[k] == '\n')
			return 0;
	}
	*cs_start = cs;
	*cs_len = p - cs;
	*enc = (char)(e | 0x20);
	*text_start = t;
	*text_len = qe - t;
	return qe + 2;
}

struct pending {
	bool active;
	size_t cs_start, cs_len; /* charset of the run */
	size_t raw_start, raw_end;
	struct buf bytes; /* decoded, not yet converted */
};

static int flush_pending(const char *in, struct pending *pd, struct buf *out)
{
	if (!pd->active)
		return 0;
	pd->active = false;
	int r =
	    mime_charset_to_utf8(in + pd->cs_start, pd->cs_len, pd->bytes.data, pd->bytes.len, out);
	buf_reset(&pd->bytes);
	if (r == -2) /* unknown charset: leave the words as they were */
		r = buf_append(out, in + pd->raw_start, pd->raw_end - pd->raw_start);
	return r;
}

static bool all_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	}
	return true;
}

int mime_rfc2047_decode(const char *in, size_t len, struct buf *out)
{
	const char *q = len > 0 ? memchr(in, '=', len) : NULL;
	if (q == NULL) /* the common case: nothing encoded */
		return len > 0 ? buf_append(out, in, len) : 0;
	struct pending pd = {0};
	struct buf word;
	buf_init(&pd.bytes, len + 1);
	buf_init(&word, len + 1);
	size_t lit = 0, i = (size_t)(q - in);
	int ret = 0;
	while (ret == 0 && i + 1 < len) {
		if (in[i] != '=' || in[i + 1] != '?') {
			const char *n = memchr(in + i + 1, '=', len - i - 1);
			if (n == NULL)
				break;
			i = (size_t)(n - in);
			continue;
		}
		size_t cs, cs_len, ts, tl;
		char enc;
		size_t end = parse_word(in, len, i, &cs, &cs_len, &enc, &ts, &tl);
		if (end == 0) {
			i += 2;
			continue;
		}
		/* Decode first: a malformed word is plain text, and so is the
		 * white space around it. */
		buf_reset(&word);
		int d = enc == 'b'
			    ? mime_base64_decode(in + ts, tl, MIME_DECODE_STRICT, &word, NULL)
			    : mime_qp_decode(in + ts, tl, MIME_DECODE_STRICT | MIME_DECODE_Q, &word,
					     NULL);
		if (d < 0) {
			i = end;
			continue;
		}
		if (pd.active && all_blank(in + lit, i - lit)) {
			/* Adjacent encoded words: the blanks between them go.
			 * Same charset (case-insensitive): keep collecting. */
			bool same = pd.cs_len == cs_len;
			for (size_t k = 0; same && k < cs_len; k++) {
				unsigned char a = (unsigned char)in[pd.cs_start + k];
				unsigned char b = (unsigned char)in[cs + k];
				if ((a | 0x20) != (b | 0x20))
					same = false;
			}
			if (!same)
				ret = flush_pending(in, &pd, out);
		} else {
			ret = flush_pending(in, &pd, out);
			if (ret == 0 && i > lit)
				ret = buf_append(out, in + lit, i - lit);
		}
		if (ret < 0)
			break;
		if (!pd.active) {
			pd.active = true;
			pd.cs_start = cs;
			pd.cs_len = cs_len;
			pd.raw_start = i;
		}
		pd.raw_end = end;
		if (word.len > 0)
			buf_append(&pd.bytes, word.data, word.len);
		lit = end;
		i = end;
	}
	if (ret == 0)
		ret = flush_pending(in, &pd, out);
	if (ret == 0 && lit < len)
		ret = buf_append(out, in + lit, len - lit);
	buf_free(&pd.bytes);
	buf_free(&word);
	return ret < 0 ? -1 : 0;
}

int mime_rfc2231_decode(const char *value, size_t len, struct buf *out)
{
	const char *q1 = memchr(value, '\'', len);
	const char *cs = "us-ascii";
	size_t cs_len = 8, start = 0;
	if (q1 != NULL) {
		const char *q2 = memchr(q1 + 1, '\'', len - (size_t)(q1 + 1 - value));
		if (q2 != NULL) {
			if (q1 > value) {
				cs = value;
				cs_len = (size_t)(q1 - value);
			}
			start = (size_t)(q2 + 1 - value);
		}
	}
	struct buf raw;
	buf_init(&raw, len + 1);
	for (size_t i = start; i < len; i++) {
		int h, l;
		char c = value[i];
		if (c == '%' && i + 2 < len &&
		    (h = mime_hex_value((unsigned char)value[i + 1])) >= 0 &&
		    (l = mime_hex_value((unsigned char)value[i + 2])) >= 0) {
			c = (char)(h * 16 + l);
			i += 2;
		}
		buf_append(&raw, &c, 1);
	}
	int r = mime_charset_to_utf8(cs, cs_len, raw.data, raw.len, out);
	buf_free(&raw);
	return r;
}
