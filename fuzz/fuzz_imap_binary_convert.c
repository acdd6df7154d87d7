/* fuzz_imap_binary_convert.c - libFuzzer target for imap_binary_convert():
 * the input is an APPENDed message. Checks: no failure without a limit,
 * nothing written when nothing is converted, the bound on the output, and
 * idempotence (a converted message needs no more conversion). */
#undef NDEBUG /* the assertions are what a fuzz target checks */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "imap/imap_binary_convert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out, again;
	buf_init(&out, 0);
	buf_init(&again, 0);
	int r = imap_binary_convert((const char *)data, size, &out);
	assert(r == 0 || r == 1);
	if (r == 0)
		assert(out.len == 0);
	if (r == 1) {
		assert(out.len <= 2 * size + 64 * (size / 8 + 1));
		assert(imap_binary_convert(out.data, out.len, &again) == 0);
	}
	buf_free(&again);
	buf_free(&out);
	return 0;
}
