/* fuzz_imap_utf7.c - libFuzzer target for modified UTF-7 mailbox names and
 * the mailbox-name validator: whatever decodes strictly must encode back to
 * the same bytes (one canonical form), whatever UTF-8 encodes must decode
 * back to itself, and validation never crashes. */
#undef NDEBUG /* the assertions are what a fuzz target checks */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "imap/imap_utf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *why = NULL;
	struct buf a, b;

	/* As modified UTF-7. */
	buf_init(&a, 0);
	buf_init(&b, 0);
	if (imap_utf7_to_utf8(s, size, &a, &why) == 0) {
		const char *u8 = a.data != NULL ? a.data : "";
		assert(utf8_valid(u8, a.len));
		assert(memchr(u8, '\0', a.len) == NULL);
		assert(imap_utf8_to_utf7(u8, a.len, &b, &why) == 0);
		assert(b.len == size && (size == 0 || memcmp(b.data, s, size) == 0));
		assert(imap_utf7_is_valid(s, size));
		(void)imap_mailbox_name_check(u8, a.len, NULL, &why);
	} else {
		assert(why != NULL);
		assert(!imap_utf7_is_valid(s, size));
	}
	buf_free(&a);
	buf_free(&b);

	/* As UTF-8. */
	buf_init(&a, 0);
	buf_init(&b, 0);
	if (imap_utf8_to_utf7(s, size, &a, &why) == 0) {
		assert(utf8_valid(s, size) && memchr(s, '\0', size) == NULL);
		const char *u7 = a.data != NULL ? a.data : "";
		for (size_t i = 0; i < a.len; i++)
			assert(u7[i] >= 0x20 && u7[i] <= 0x7e);
		assert(imap_utf7_to_utf8(u7, a.len, &b, &why) == 0);
		assert(b.len == size && (size == 0 || memcmp(b.data, s, size) == 0));
	} else {
		assert(!utf8_valid(s, size) || memchr(s, '\0', size) != NULL);
	}
	buf_free(&a);
	buf_free(&b);

	/* As a mailbox name: accepted names hold no traversal or control. */
	if (imap_mailbox_name_check(s, size, NULL, &why) == 0) {
		assert(size > 0 && utf8_valid(s, size));
		assert(s[0] != '/' && s[size - 1] != '/');
		assert(memchr(s, '\0', size) == NULL && memchr(s, '\n', size) == NULL &&
		       memchr(s, '\r', size) == NULL);
		for (size_t i = 0; i + 1 < size; i++)
			assert(!(s[i] == '/' && s[i + 1] == '/'));
		assert(!(size >= 2 && s[0] == '.' && s[1] == '.' && (size == 2 || s[2] == '/')));
		assert(!(size >= 1 && s[0] == '.' && (size == 1 || s[1] == '/')));
		for (size_t i = 0; i + 2 < size; i++)
			assert(!(s[i] == '/' && s[i + 1] == '.' &&
				 (i + 2 == size || s[i + 2] == '/' ||
				  (s[i + 2] == '.' && (i + 3 == size || s[i + 3] == '/')))));
		if (size >= 2 && s[size - 1] == '.' && s[size - 2] == '/')
			assert(0);
	} else {
		assert(why != NULL);
	}
	return 0;
}
