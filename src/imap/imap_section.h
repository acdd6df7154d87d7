/* imap_section.h - IMAP FETCH section specs (RFC 9051 6.4.5, RFC 3501 6.4.5,
 * RFC 3516 BINARY): parsing the text between the brackets of BODY[...] or
 * BINARY[...], resolving it against a parsed message into byte ranges, and
 * decoding a part's Content-Transfer-Encoding for BINARY[] / BINARY.SIZE[].
 *
 * Pure. Part numbers follow RFC 9051 (and Dovecot): a non-multipart
 * message has the single part 1 (its body); the parts of a message/rfc822
 * part are those of the message it contains; HEADER, HEADER.FIELDS[.NOT]
 * and TEXT apply to the whole message or to a message/rfc822 part; MIME
 * needs a part number and gives that part's own MIME header. */
#ifndef POSTANE_IMAP_SECTION_H
#define POSTANE_IMAP_SECTION_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct mime_tree;
struct mime_part;

#define IMAP_SECTION_MAX_PARTS 64   /* numbers in "1.2.3..." */
#define IMAP_SECTION_MAX_FIELDS 512 /* names in HEADER.FIELDS (...) */

enum imap_section_kind {
	IMAP_SECTION_FULL,	 /* "" with no part number: the whole message */
	IMAP_SECTION_BODY,	 /* "1.2": the part's body */
	IMAP_SECTION_HEADER,	 /* [n.]HEADER */
	IMAP_SECTION_FIELDS,	 /* [n.]HEADER.FIELDS (list) */
	IMAP_SECTION_FIELDS_NOT, /* [n.]HEADER.FIELDS.NOT (list) */
	IMAP_SECTION_TEXT,	 /* [n.]TEXT */
	IMAP_SECTION_MIME,	 /* n.MIME */
};

struct imap_section_name {
	const char *p; /* into the section's own storage, NUL-terminated */
	size_t len;
};

struct imap_section {
	enum imap_section_kind kind;
	bool binary; /* parsed for BINARY[...] / BINARY.SIZE[...] */
	unsigned nparts;
	unsigned part[IMAP_SECTION_MAX_PARTS];
	unsigned nfields;
	struct imap_section_name *fields; /* HEADER.FIELDS[.NOT] names */
	char *storage;			  /* private */
};

/* Parse `len` bytes of section text (between '[' and ']', e.g. "1.2.HEADER",
 * "HEADER.FIELDS (From \"To\")"). Keywords are case-insensitive; field
 * names are astrings (atoms, quoted strings or literals "{n}\r\n...").
 * With `binary`, only part numbers are allowed (RFC 3516 section-binary).
 * Returns 0, or -1 with a static reason in *error_r. On success the caller
 * frees the section with imap_section_free(). */
int imap_section_parse(const char *s, size_t len, bool binary, struct imap_section *sec,
		       const char **error_r);
void imap_section_free(struct imap_section *sec);
/* Append the canonical text of the section ("1.HEADER.FIELDS (FROM TO)",
 * keywords and names upper-cased) for the FETCH response. Returns 0 or -1. */
int imap_section_write(const struct imap_section *sec, struct buf *out);

struct imap_range {
	size_t start, end; /* offsets into the message */
};

struct imap_section_result {
	const struct mime_part *part; /* the part the section resolved to */
	bool decode;		      /* BINARY applies part->encoding (a leaf part's body) */
	/* FULL, BODY, HEADER, TEXT, MIME: one range. */
	size_t start, end;
	/* FIELDS / FIELDS_NOT: the selected header fields, each range without
	 * its final line break; the data to send is each range followed by
	 * CRLF, then one more CRLF (the empty line ending a header). */
	bool fields;
	struct imap_range *ranges;
	size_t nranges;
};

/* Resolve a parsed section against a tree. Returns 1 with *res set (free it
 * with imap_section_result_free()), or 0 if the message has no such part
 * or the section does not apply to it (e.g. HEADER of a text part). */
int imap_section_resolve(const struct mime_tree *tree, const struct imap_section *sec,
			 struct imap_section_result *res);
void imap_section_result_free(struct imap_section_result *res);
/* Number of bytes imap_section_result_write() appends. */
size_t imap_section_result_size(const struct imap_section_result *res);
/* Append the section's data. Returns 0 or -1 (out full). */
int imap_section_result_write(const struct imap_section_result *res, const struct mime_tree *tree,
			      struct buf *out);

enum imap_binary_status {
	IMAP_BINARY_OK = 0,
	IMAP_BINARY_UNKNOWN_CTE, /* NO [UNKNOWN-CTE] (RFC 3516 4.3) */
	IMAP_BINARY_FULL,	 /* out would exceed its maximum */
};

/* BINARY[section]: append the content of a resolved BINARY section with its
 * Content-Transfer-Encoding removed (base64, quoted-printable; identity for
 * 7bit/8bit/binary, for multipart and message parts, and for the whole
 * message, BINARY[]). out may be NULL to only compute the size
 * (BINARY.SIZE); *size_r (may be NULL) receives it. */
enum imap_binary_status imap_section_binary(const struct imap_section_result *res,
					    const struct mime_tree *tree, struct buf *out,
					    size_t *size_r);

#endif
