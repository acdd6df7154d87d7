/* fuzz_smtp_cmd.c - libFuzzer target for smtp_cmd_parse(): one command line
 * as a client sends it, then the MAIL/RCPT path through the address parser. */
#undef NDEBUG /* the assertions are what a fuzz target checks */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_addr.h"
#include "smtp/smtp_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each address parsed must format, and the formatted "local@domain" must
 * parse (as a bare mailbox, with the same flags) to the same address. */
static void check_path(const char *path, size_t len, unsigned flags)
{
	struct smtp_addr a, b;
	const char *why;
	char text[SMTP_LOCAL_MAX * 2 + SMTP_DOMAIN_MAX + 8];
	if (smtp_addr_parse(path, len, flags, &a, &why) != SMTP_ADDR_OK) {
		assert(why != NULL);
		return;
	}
	int n = smtp_addr_format(&a, text, sizeof(text));
	assert(n >= 0 && (size_t)n == strlen(text));
	if (a.null)
		return;
	int e = smtp_addr_parse(text, (size_t)n, flags | SMTP_ADDR_NO_BRACKETS, &b, &why);
	assert(e == SMTP_ADDR_OK);
	assert(strcmp(a.local, b.local) == 0 && strcmp(a.domain, b.domain) == 0);
	assert(a.postmaster == b.postmaster && a.literal == b.literal);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The server hands over the line with its CRLF still behind it; the
	 * parser may write a NUL at line[len], nowhere beyond. */
	char *line = malloc(size + 1);
	memcpy(line, data, size);
	line[size] = '\r';
	struct smtp_cmd cmd;
	const char *why;
	enum smtp_parse_result r = smtp_cmd_parse(line, size, &cmd, &why);
	assert((r == SMTP_PARSE_OK) == (why == NULL));
	assert(cmd.param_count <= SMTP_MAX_PARAMS);
	if (r == SMTP_PARSE_OK && cmd.path != NULL) {
		assert(cmd.path >= line && cmd.path + cmd.path_len <= line + size);
		unsigned base = cmd.path[0] == '<' ? 0 : SMTP_ADDR_NO_BRACKETS;
		static const unsigned extra[] = {0, SMTP_ADDR_ALLOW_NULL,
						 SMTP_ADDR_ALLOW_POSTMASTER | SMTP_ADDR_ALLOW_UTF8,
						 SMTP_ADDR_ALLOW_NULL | SMTP_ADDR_ALLOW_UTF8};
		for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
			check_path(cmd.path, cmd.path_len, base | extra[i]);
		for (unsigned i = 0; i < cmd.param_count; i++)
			assert(smtp_cmd_param(&cmd, cmd.params[i].keyword) != NULL);
	}
	free(line);
	return 0;
}
