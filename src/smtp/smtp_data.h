/* smtp_data.h - the message-content decoder behind DATA and BDAT.
 *
 * Pure and incremental: feed it the bytes as they arrive, in any split, and
 * it returns the message content. For DATA it removes dot-stuffing and finds
 * the end-of-data marker; for BDAT it passes bytes through. The one rule for
 * line endings (documented in docs/ARCHITECTURE.md):
 *
 *   - End of data is only <CRLF>.<CRLF> (or ".<CRLF>" as the very first
 *     line). A bare LF or bare CR is never a line end for end-of-data or for
 *     dot-unstuffing purposes (this defeats SMTP smuggling).
 *   - In the stored content, every bare LF and every bare CR is written as
 *     CRLF, so stored messages always use canonical CRLF line endings.
 *
 * Output can be at most twice the input plus 4 bytes. */
#ifndef POSTANE_SMTP_DATA_H
#define POSTANE_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct smtp_data_decoder {
	int state;
	bool dot_mode;        /* DATA: dot-stuffing and end marker; BDAT: off */
	bool done;            /* end of data seen (DATA only) */
	uint64_t bare_lf;     /* counts, for logging */
	uint64_t bare_cr;
};

/* dot_mode true for DATA, false for BDAT. */
void smtp_data_init(struct smtp_data_decoder *d, bool dot_mode);

/* Decode up to `len` input bytes into `out` (room for 2 * len + 4 bytes).
 * Stops right after the end-of-data marker in dot mode. Returns the number
 * of input bytes consumed and sets *out_len. */
size_t smtp_data_feed(struct smtp_data_decoder *d, const char *in, size_t len, char *out,
		      size_t *out_len);

/* BDAT LAST: flush a pending CR at the very end of the content as CRLF.
 * Writes at most 2 bytes to out and sets *out_len. */
void smtp_data_finish(struct smtp_data_decoder *d, char *out, size_t *out_len);

#endif
