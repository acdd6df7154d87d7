/* imap_thread.h - the pure parts of THREAD (RFC 5256): base subject
 * extraction (section 2.1) and the ORDEREDSUBJECT and REFERENCES threading
 * algorithms (sections 3 and 4 there) over an array of message records.
 *
 * Pure: no I/O, no globals. Time and memory are bounded by the input: the
 * algorithms use hash tables and explicit stacks, never recursion, so a
 * thread that is one chain of 100,000 messages costs no stack. Loops in
 * References, missing parents, duplicate and absent Message-IDs are handled
 * as the RFC says (a duplicate Message-ID counts only for the first message
 * that has it). */
#ifndef POSTANE_IMAP_THREAD_H
#define POSTANE_IMAP_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_search.h"

struct buf;

/* Append the base subject of a subject (already RFC 2047-decoded, any
 * folding left in is treated as white space) to out: RFC 5256 2.1 steps 1-6
 * (white space normalised, "Re:", "Fwd:", "[blob]", "(fwd)" and "[fwd: ...]"
 * removed; letter case is kept, comparisons fold ASCII case). Returns true
 * when something marking a reply or forward was removed ("Re:", "Fwd:",
 * "(fwd)", "[fwd: ]"), which REFERENCES threading needs. An append beyond
 * out's maximum leaves out partial. */
bool imap_base_subject(const char *subject, size_t len, struct buf *out);

/* Compare two strings under the i;ascii-casemap collation (RFC 4790): bytes
 * with a-z folded to A-Z; a proper prefix sorts first. Returns <0, 0, >0. */
int imap_casemap_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* One message to thread. Strings need not be NUL-terminated; NULL (with
 * length 0) means the header is absent. */
struct imap_thread_msg {
	uint32_t id;		/* printed in the result: sequence number or UID */
	const char *message_id; /* raw Message-ID value */
	size_t message_id_len;
	const char *references; /* raw References value */
	size_t references_len;
	const char *in_reply_to; /* raw In-Reply-To value */
	size_t in_reply_to_len;
	const char *base_subject; /* imap_base_subject() of the decoded Subject */
	size_t base_subject_len;
	bool subject_is_reply; /* what imap_base_subject() returned */
	int64_t date;	       /* sent date (the internal date if there is none) */
};

/* References ids used per message: the last ones, the nearest ancestors
 * (a bound on memory against hostile headers; real threads are far
 * shallower). */
#define IMAP_THREAD_MAX_REFERENCES 100

/* Thread msgs[0..n) (in mailbox order: ties in date sort by this order) and
 * append the thread list as the THREAD response carries it, without the
 * leading "THREAD": "(2)(3 6 (4 23)(44 7 96))"; nothing for n == 0.
 * Returns 0, or -1 if out would exceed its maximum. */
int imap_thread(enum imap_thread_algorithm algorithm, const struct imap_thread_msg *msgs, size_t n,
		struct buf *out);

/* Iterate over the msg-ids ("<...>", angle brackets not included) of a raw
 * header value. *pos starts at 0. Returns true with the id in *id_r /
 * *len_r, or false at the end. Empty ids "<>" are skipped. */
bool imap_thread_next_msgid(const char *value, size_t len, size_t *pos, const char **id_r,
			    size_t *id_len_r);

#endif
