/* imap_fetch.h - arguments of FETCH / UID FETCH (RFC 9051 6.4.5, RFC 3501
 * 6.4.5, RFC 3516 BINARY, RFC 7162 CHANGEDSINCE / VANISHED) and of STORE /
 * UID STORE (RFC 9051 6.4.6, RFC 7162 UNCHANGEDSINCE), plus flag lists
 * (also for APPEND).
 *
 * Pure: argument tree in (see imap_parser.h), request out. Requests own all
 * their memory (nothing points into the command): free them with
 * imap_fetch_request_free() / imap_store_request_free() / imap_flags_free().
 *
 * Sections are parsed minimally: BODY[1.2.HEADER.FIELDS (DATE FROM)] gives
 * the raw text between the brackets, the part numbers {1, 2}, the text kind
 * HEADER_FIELDS and the field names (unquoted). Whether the parts exist is
 * for the MIME layer to decide. */
#ifndef POSTANE_IMAP_FETCH_H
#define POSTANE_IMAP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_parser.h"
#include "imap/imap_seqset.h"

struct buf;

enum imap_fetch_att {
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822,	  /* = BODY[], sets \Seen */
	IMAP_FETCH_RFC822_HEADER, /* = BODY.PEEK[HEADER] */
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_RFC822_TEXT, /* = BODY[TEXT], sets \Seen */
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_BODY, /* non-extensible BODYSTRUCTURE */
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_UID,
	IMAP_FETCH_MODSEQ,
	IMAP_FETCH_BODY_SECTION, /* BODY[...] / BODY.PEEK[...] */
	IMAP_FETCH_BINARY,	 /* BINARY[...] / BINARY.PEEK[...] */
	IMAP_FETCH_BINARY_SIZE,	 /* BINARY.SIZE[...] */
};

enum imap_section_text {
	IMAP_SECTION_ALL = 0, /* BODY[] or BODY[1.2]: the whole (part) */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME, /* only after part numbers */
};

#define IMAP_SECTION_MAX_PARTS 64

struct imap_header_name {
	char *name; /* unquoted, NUL-terminated */
	size_t len;
};

struct imap_section {
	char *raw; /* the text between the brackets as sent, NUL-terminated */
	size_t raw_len;
	uint32_t parts[IMAP_SECTION_MAX_PARTS];
	unsigned part_count;
	enum imap_section_text text;
	struct imap_header_name *fields; /* HEADER.FIELDS[.NOT] */
	unsigned field_count;
};

struct imap_fetch_item {
	enum imap_fetch_att att;
	bool peek;		     /* BODY.PEEK / BINARY.PEEK */
	struct imap_section section; /* BODY_SECTION, BINARY, BINARY_SIZE */
	bool partial;		     /* <offset.count> given */
	uint64_t partial_offset;
	uint64_t partial_count;
};

struct imap_fetch_request {
	struct imap_seqset set;
	struct imap_fetch_item *items;
	unsigned item_count;
	bool uid; /* UID FETCH (a UID item is always present then) */
	bool changedsince_given;
	uint64_t changedsince; /* CHANGEDSINCE (a MODSEQ item is then present) */
	bool vanished;	       /* VANISHED (UID FETCH with CHANGEDSINCE only) */
	bool sets_seen;	       /* some item without PEEK reads body text: set \Seen */
};

/* Parse the arguments of FETCH (uid false) or UID FETCH (uid true): the
 * sequence set, the attributes (one, a macro ALL/FAST/FULL, or a list), and
 * the optional modifier list. seqset_flags: IMAP_SEQSET_ALLOW_SEARCHRES when
 * "$" is allowed. Returns 0, or -1 with *error_r (static text for BAD).
 * The request is initialised either way: free it. */
int imap_fetch_parse(const struct imap_arg *args, bool uid, unsigned seqset_flags,
		     struct imap_fetch_request *req_r, const char **error_r);
void imap_fetch_request_free(struct imap_fetch_request *req);

/* Parse one fetch attribute from its atom text ("BODY.PEEK[1]<0.100>"). */
int imap_fetch_item_parse(const char *s, size_t len, struct imap_fetch_item *item_r,
			  const char **error_r);
void imap_fetch_item_free(struct imap_fetch_item *item);

/* Append the name the item has in the FETCH response, upper-case and
 * canonical: "FLAGS", "BODY[1.HEADER.FIELDS (DATE FROM)]<0>" (PEEK dropped,
 * only the origin of a partial). Returns 0 or -1 when out is full. */
int imap_fetch_item_name(const struct imap_fetch_item *item, struct buf *out);

/* Flags. \Recent is never settable. */
enum imap_flag {
	IMAP_FLAG_SEEN = 1 << 0,
	IMAP_FLAG_ANSWERED = 1 << 1,
	IMAP_FLAG_FLAGGED = 1 << 2,
	IMAP_FLAG_DELETED = 1 << 3,
	IMAP_FLAG_DRAFT = 1 << 4,
};

#define IMAP_KEYWORD_MAX_LEN 250

struct imap_flags {
	unsigned system; /* IMAP_FLAG_* */
	char **keywords; /* atoms, first spelling kept, no duplicates (ASCII case-insensitive) */
	unsigned keyword_count;
};

void imap_flags_init(struct imap_flags *flags);
void imap_flags_free(struct imap_flags *flags);
/* Parse flags from an argument array up to its EOL (the elements of a
 * flag-list, or the flags after STORE's FLAGS). Returns 0 or -1. */
int imap_flags_parse(const struct imap_arg *args, struct imap_flags *flags_r, const char **error_r);
/* Parse a parenthesised flag-list (APPEND). */
int imap_flag_list_parse(const struct imap_arg *arg, struct imap_flags *flags_r,
			 const char **error_r);
/* Is s a valid keyword (flag-keyword = atom)? */
bool imap_keyword_valid(const char *s, size_t len);

enum imap_store_mode {
	IMAP_STORE_REPLACE, /* FLAGS */
	IMAP_STORE_ADD,	    /* +FLAGS */
	IMAP_STORE_REMOVE,  /* -FLAGS */
};

struct imap_store_request {
	struct imap_seqset set;
	enum imap_store_mode mode;
	bool silent;
	struct imap_flags flags;
	bool unchangedsince_given;
	uint64_t unchangedsince;
};

/* Parse the arguments of STORE / UID STORE. Returns 0 or -1 with *error_r;
 * the request is initialised either way: free it. */
int imap_store_parse(const struct imap_arg *args, unsigned seqset_flags,
		     struct imap_store_request *req_r, const char **error_r);
void imap_store_request_free(struct imap_store_request *req);

/* mod-sequence-value (1..2^63-1), or with allow_zero mod-sequence-valzer. */
int imap_parse_modseq(const char *s, size_t len, bool allow_zero, uint64_t *value_r);

#endif
