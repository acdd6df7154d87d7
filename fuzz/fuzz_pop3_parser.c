/* fuzz_pop3_parser.c - libFuzzer target for the POP3 command parser and the
 * RETR/TOP encoder: the input is a client's byte stream, fed in pieces whose
 * sizes come from the input itself, with small limits so that over-long
 * lines are reached; then the same bytes as message content through the
 * encoder, whose output must decode back to the content. */
#undef NDEBUG /* the assertions are what a fuzz target checks */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "pop3/pop3_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_command(const struct pop3_cmd *c)
{
	assert(c->verb > POP3_VERB_UNKNOWN && c->verb < POP3_VERB_COUNT);
	assert(c->argc <= POP3_MAX_ARGS);
	for (unsigned i = 0; i < c->argc; i++) {
		assert(c->args[i] != NULL);
		assert(strlen(c->args[i]) == c->arg_len[i]);
		assert(c->arg_len[i] > 0);
		if (c->verb != POP3_VERB_PASS)
			assert(strchr(c->args[i], ' ') == NULL);
		assert(strchr(c->args[i], '\r') == NULL && strchr(c->args[i], '\n') == NULL);
	}
}

static void run_parser(const char *in, size_t len, size_t max_line, unsigned seed)
{
	struct pop3_parser_limits lim = {.max_line = max_line, .max_response = max_line * 2};
	struct pop3_parser *p = pop3_parser_new(&lim);
	size_t pos = 0;
	while (pos < len) {
		size_t step = (seed % 13) + 1;
		seed = seed * 1103515245u + 12345u;
		size_t n = step > len - pos ? len - pos : step;
		size_t used = 0;
		enum pop3_parse_result r = pop3_parser_feed(p, in + pos, n, &used);
		assert(used <= n);
		switch (r) {
		case POP3_PARSE_NEED_MORE:
			assert(used == n);
			assert(memchr(in + pos, '\n', n) == NULL);
			break;
		case POP3_PARSE_COMMAND: {
			assert(used > 0 && in[pos + used - 1] == '\n');
			assert(used <= max_line);
			const struct pop3_cmd *c = pop3_parser_command(p);
			check_command(c);
			/* AUTH exchanges: the next line is a response. */
			if (c->verb == POP3_VERB_AUTH && c->argc == 1)
				pop3_parser_expect_response(p);
			break;
		}
		case POP3_PARSE_RESPONSE: {
			assert(used > 0 && in[pos + used - 1] == '\n');
			size_t rl;
			const char *t = pop3_parser_response(p, &rl);
			assert(strlen(t) == rl);
			assert(rl < max_line * 2);
			break;
		}
		case POP3_PARSE_ERROR: {
			assert(used > 0 && in[pos + used - 1] == '\n');
			enum pop3_parse_error code;
			const char *why = pop3_parser_error(p, &code, NULL);
			assert(why != NULL && why[0] != '\0');
			assert(code != POP3_ERR_NONE);
			break;
		}
		}
		pos += used;
	}
	pop3_parser_free(&p);
	assert(p == NULL);
}

/* Encode, then undo the stuffing: the content must come back with CRLF
 * line ends (TOP: a prefix of it, cut at a line end). */
static void run_encoder(const char *in, size_t len, bool top, uint64_t lines, unsigned seed)
{
	struct pop3_encoder e;
	struct buf out;
	buf_init(&out, 0);
	pop3_encoder_init(&e, top, lines);
	for (size_t pos = 0; pos < len;) {
		size_t n = (seed % 17) + 1;
		seed = seed * 1103515245u + 12345u;
		if (n > len - pos)
			n = len - pos;
		assert(pop3_encoder_feed(&e, in + pos, n, &out) == 0);
		pos += n;
	}
	assert(pop3_encoder_finish(&e, &out) == 0);
	assert(out.len >= 3 && memcmp(out.data + out.len - 3, ".\r\n", 3) == 0);

	/* The canonical content: bare CR and bare LF become CRLF. */
	struct buf canon;
	buf_init(&canon, 0);
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\r' || in[i] == '\n') {
			buf_append(&canon, "\r\n", 2);
			if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
				i++;
		} else {
			buf_append(&canon, &in[i], 1);
		}
	}
	if (canon.len > 0 && canon.data[canon.len - 1] != '\n')
		buf_append(&canon, "\r\n", 2);

	struct buf dec;
	buf_init(&dec, 0);
	size_t body = out.len - 3, pos = 0;
	while (pos < body) {
		const char *eol = memmem(out.data + pos, body - pos, "\r\n", 2);
		assert(eol != NULL);
		size_t ll = (size_t)(eol - (out.data + pos));
		assert(memchr(out.data + pos, '\r', ll) == NULL);
		assert(memchr(out.data + pos, '\n', ll) == NULL);
		size_t skip = 0;
		if (ll > 0 && out.data[pos] == '.') {
			assert(ll >= 2 && out.data[pos + 1] == '.');
			skip = 1;
		}
		buf_append(&dec, out.data + pos + skip, ll - skip);
		buf_append(&dec, "\r\n", 2);
		pos += ll + 2;
	}
	if (top) {
		assert(dec.len <= canon.len);
	} else {
		assert(dec.len == canon.len);
	}
	if (dec.len > 0)
		assert(memcmp(dec.data, canon.data, dec.len) == 0);
	buf_free(&dec);
	buf_free(&canon);
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	/* First byte: the line limit (8..263) and split seed. */
	size_t max_line = 8 + data[0];
	unsigned seed = data[1];
	const char *in = (const char *)data + 2;
	size_t len = size - 2;
	run_parser(in, len, max_line, seed);
	run_parser(in, len, POP3_LINE_MAX, seed + 7);
	run_encoder(in, len, false, 0, seed);
	run_encoder(in, len, true, data[0] % 5, seed + 3);
	return 0;
}
