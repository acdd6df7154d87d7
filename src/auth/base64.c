/* base64.c - strict base64: anything but canonical input is an error, so
 * that SASL parsers never see surprising bytes. */
#include "auth/base64.h"

#include <stdbool.h>
#include <stdint.h>

static const char enc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encoded_len(size_t len)
{
	return (len + 2) / 3 * 4;
}

void base64_encode(const void *data, size_t len, char *out)
{
	const unsigned char *p = data;
	size_t o = 0, i = 0;
	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = enc[v >> 18];
		out[o++] = enc[(v >> 12) & 63];
		out[o++] = enc[(v >> 6) & 63];
		out[o++] = enc[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
		out[o++] = enc[v >> 18];
		out[o++] = enc[(v >> 12) & 63];
		out[o++] = i + 1 < len ? enc[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int dec(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long base64_decode(const char *in, size_t len, void *outp)
{
	unsigned char *out = outp;
	if (len % 4 != 0)
		return -1;
	long o = 0;
	for (size_t i = 0; i < len; i += 4) {
		int a = dec((unsigned char)in[i]), b = dec((unsigned char)in[i + 1]);
		if (a < 0 || b < 0)
			return -1;
		int last = i + 4 == len;
		if (in[i + 2] == '=') {
			/* "xx==": one byte; the unused bits must be zero. */
			if (!last || in[i + 3] != '=' || (b & 15) != 0)
				return -1;
			out[o++] = (unsigned char)(a << 2 | b >> 4);
			break;
		}
		int c = dec((unsigned char)in[i + 2]);
		if (c < 0)
			return -1;
		if (in[i + 3] == '=') {
			if (!last || (c & 3) != 0)
				return -1;
			out[o++] = (unsigned char)(a << 2 | b >> 4);
			out[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
			break;
		}
		int d = dec((unsigned char)in[i + 3]);
		if (d < 0)
			return -1;
		out[o++] = (unsigned char)(a << 2 | b >> 4);
		out[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
		out[o++] = (unsigned char)((c & 3) << 6 | d);
	}
	return o;
}
