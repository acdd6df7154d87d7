/* imap_search_eval.h - evaluation of search programs (imap_search.h) on
 * messages, in levels of cost, and the cached header digest that the
 * middle level, SORT and THREAD read.
 *
 * Levels: INDEX keys need only what the mailbox index holds (flags, UID,
 * sequence number, size, internal date, MODSEQ); HEADERS keys need the
 * header digest (struct imap_search_headers, cached per message file);
 * MESSAGE keys need the message itself (BODY, TEXT, HEADER of a field the
 * digest does not hold). Evaluation is three-valued: a key that needs more
 * than the level gives MAYBE, and NOT / AND / OR combine MAYBE as Kleene
 * logic does, so a message is only opened when its cheap keys leave the
 * answer open. At the MESSAGE level, AND and OR look at their cheaper
 * operands first.
 *
 * Strings match as substrings after simple Unicode case folding of both
 * sides (imap_search_fold), on RFC 2047-decoded header values and on text
 * parts with their transfer encoding removed and their charset converted
 * to UTF-8. Pure: no I/O, no globals; the caller supplies the digest and
 * the message bytes. */
#ifndef POSTANE_IMAP_SEARCH_EVAL_H
#define POSTANE_IMAP_SEARCH_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "imap/imap_search.h"
#include "imap/imap_seqset.h"
#include "mime/mime_parser.h"

/* ----- the header digest ----- */

enum imap_search_hdr {
	/* RFC 2047-decoded values of every occurrence, joined by LF */
	IMAP_HDR_FROM,
	IMAP_HDR_TO,
	IMAP_HDR_CC,
	IMAP_HDR_BCC,
	IMAP_HDR_SUBJECT,
	/* raw unfolded value of the first occurrence */
	IMAP_HDR_DATE,
	IMAP_HDR_MESSAGE_ID,
	IMAP_HDR_REFERENCES,
	IMAP_HDR_IN_REPLY_TO,
	/* derived sort and thread keys */
	IMAP_HDR_BASE_SUBJECT, /* RFC 5256 base subject of the first Subject */
	IMAP_HDR_SORT_FROM,    /* addr-mailbox of the first address */
	IMAP_HDR_SORT_TO,
	IMAP_HDR_SORT_CC,
	IMAP_HDR_DISPLAY_FROM, /* RFC 5957 display name */
	IMAP_HDR_DISPLAY_TO,
	/* the parsed addresses of every occurrence of From, To, Cc, Bcc,
	 * written out as "Name <local@domain>" or "local@domain" (groups as
	 * "name: members;"), occurrences joined by LF: what the address keys
	 * match besides the decoded text, so that comments, quoting and
	 * folding inside an address do not hide it */
	IMAP_HDR_ADDR_FROM,
	IMAP_HDR_ADDR_TO,
	IMAP_HDR_ADDR_CC,
	IMAP_HDR_ADDR_BCC,
	IMAP_HDR_COUNT
};

/* Entries [IMAP_HDR_DATE, IMAP_HDR_KEYS_END) are the sort and thread keys. */
#define IMAP_HDR_KEYS_END IMAP_HDR_ADDR_FROM

/* Store cache field holding the encoded digest (the version is in it). */
#define IMAP_SEARCH_HEADERS_CACHE_FIELD "search.2"

struct imap_search_headers {
	struct mime_str v[IMAP_HDR_COUNT]; /* p == NULL: absent */
	bool date_valid;		   /* Date: present and readable */
	int64_t date;			   /* ... as an instant (UTC seconds) */
	int date_tz;			   /* ... and its zone, minutes east */
	bool subject_is_reply;		   /* imap_base_subject() said so */
	struct buf data_;		   /* private: backing store of v */
};

void imap_search_headers_init(struct imap_search_headers *h);
void imap_search_headers_free(struct imap_search_headers *h);
/* Fill h from the header section of a message (data may hold the whole
 * message; scanning stops at the end of the header). */
void imap_search_headers_build(struct imap_search_headers *h, const char *data, size_t len);
/* Replace dst with the sort and thread keys of src only: entries from
 * IMAP_HDR_DATE to IMAP_HDR_KEYS_END (no search entries), each cut to a few hundred bytes,
 * References to its last IMAP_SEARCH_KEYS_REFS_MAX bytes (whole ids), plus
 * the date and the reply flag. What SORT and THREAD keep per message, so
 * that their memory stays small whatever the headers hold. */
#define IMAP_SEARCH_KEYS_MAX 512
#define IMAP_SEARCH_KEYS_REFS_MAX 4096
void imap_search_headers_keys(struct imap_search_headers *dst,
			      const struct imap_search_headers *src);
/* Serialise for the cache; returns 0 or -1 if out is full. */
int imap_search_headers_encode(const struct imap_search_headers *h, struct buf *out);
/* Fill h from a cached blob; returns 0, or -1 for a blob that is not a
 * valid digest of this version (h is then empty). */
int imap_search_headers_decode(struct imap_search_headers *h, const void *blob, size_t len);

/* ----- matching ----- */

/* Append s folded for case-insensitive matching: simple Unicode case
 * folding (ASCII, Latin-1, Latin Extended-A and Additional, Greek,
 * Cyrillic, Armenian, fullwidth Latin). Bytes that are not valid UTF-8 are
 * copied unchanged. Never longer than the input. Returns 0 or -1 if out is
 * full. */
int imap_search_fold(const char *s, size_t len, struct buf *out);
/* Does hay contain needle (already folded) once hay is folded? */
bool imap_search_contains(const char *hay, size_t hay_len, const char *needle, size_t needle_len);

/* What imap_search_prepare() needs to know of the mailbox. */
struct imap_search_env {
	uint32_t count;			     /* messages ('*' of sequence sets) */
	uint32_t max_uid;		     /* largest UID, 0 when empty ('*' of UID sets) */
	const struct imap_seqset *searchres; /* "$" (UIDs); NULL: empty */
};

/* What a prepared program needs (imap_search_prepare's result). */
#define IMAP_SEARCH_NEED_HEADERS 0x01 /* some key reads the header digest */
#define IMAP_SEARCH_NEED_MESSAGE 0x02 /* some key reads the message */
#define IMAP_SEARCH_NEED_ZONE 0x04    /* set imap_search_message.zone */

/* Make a parsed program ready for evaluation, in place: search strings
 * folded, sequence and UID sets resolved against the mailbox, "$" replaced
 * by the saved result (so that a program is prepared once per command).
 * Returns IMAP_SEARCH_NEED_* flags. */
unsigned imap_search_prepare(struct imap_search_program *prog, const struct imap_search_env *env);

enum imap_search_level {
	IMAP_SEARCH_LEVEL_INDEX,
	IMAP_SEARCH_LEVEL_HEADERS,
	IMAP_SEARCH_LEVEL_MESSAGE,
};

enum imap_search_match {
	IMAP_MATCH_NO,
	IMAP_MATCH_YES,
	IMAP_MATCH_MAYBE, /* needs a higher level (or the data was missing) */
};

struct imap_search_text;

/* One message as the evaluator sees it. Fill the index part; set headers
 * (HEADERS level) and data/len (MESSAGE level) when they are available; a
 * digest is built from data at the MESSAGE level when headers is NULL.
 * Call imap_search_message_release() when done with it. */
struct imap_search_message {
	uint32_t seq, uid;
	uint32_t flags;	      /* STORE_FLAG_* */
	const char *keywords; /* space-separated, or NULL */
	uint64_t modseq;
	uint64_t size;
	int64_t internaldate;
	int zone; /* minutes east of UTC of the server's zone at internaldate */
	bool recent;
	const struct imap_search_headers *headers;
	const char *data;
	size_t len;
	struct imap_search_text *text_; /* private: what was derived from data */
};

enum imap_search_match imap_search_eval(const struct imap_search_program *prog,
					struct imap_search_message *m,
					enum imap_search_level level);
/* Free what evaluation derived from the message (headers and data stay the
 * caller's). */
void imap_search_message_release(struct imap_search_message *m);

#endif
