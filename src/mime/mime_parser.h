/* mime_parser.h - parse a whole message (RFC 5322 + MIME, RFC 2045/2046) held
 * in memory into a tree of parts with byte offsets.
 *
 * Pure: a const byte range in, a tree out; no I/O, no globals. The parse is
 * one linear pass with an explicit stack (no recursion): its time is linear
 * in the message size (times the number of open multipart boundaries, which
 * max_depth bounds), its memory bounded by max_parts and max_depth. It never
 * reads outside the range and never fails: whatever the input, the result
 * is a well-formed tree.
 *
 * The tree follows the IMAP model (and Dovecot's):
 *   - the root part is the whole message: header, then body;
 *   - a multipart part has one child per body part found between its
 *     boundary delimiters (preamble and epilogue belong to its body only);
 *   - a message/rfc822 or message/global part has exactly one child, the
 *     embedded message, spanning the part's whole body;
 *   - other parts are leaves.
 * Real-world damage is tolerated as Dovecot does: boundaries are matched as
 * line prefixes (the longest active one wins, the innermost on a tie), a
 * boundary of an enclosing multipart also ends the inner parts, a missing
 * close delimiter ends at the end of the enclosing part, a header cut by a
 * boundary or by the end of data ends there. The CRLF (or LF) before a
 * delimiter belongs to the delimiter, not to the part before it.
 *
 * Limits: a multipart or message part at depth max_depth (the root is depth
 * 0) is not descended into; it becomes an opaque leaf flagged
 * MIME_PART_OVERFLOW. Once max_parts parts exist, further body parts are
 * skipped (their bytes stay in the parent's body) and message parts become
 * overflow leaves; tree->truncated says so. Only the first max_header_size
 * bytes of each header are interpreted (the header's extent is still
 * exact).
 *
 * Sizes and line counts are those of the bytes as stored. Messages stored
 * with CRLF (as postane's SMTP side stores them) need nothing more; for a
 * message with bare LF line ends, an IMAP server that sends CRLF must add
 * the number of bare LFs in a range to its size (Dovecot reports such
 * "virtual" sizes). */
#ifndef POSTANE_MIME_PARSER_H
#define POSTANE_MIME_PARSER_H

#include <stdbool.h>
#include <stddef.h>

/* A string of the parsed tree; p == NULL means absent. Always followed by
 * a NUL byte, but it may hold NUL bytes itself: use len. */
struct mime_str {
	const char *p;
	size_t len;
};

struct mime_param {
	struct mime_str name, value;
};

enum mime_cte {
	MIME_CTE_7BIT = 0, /* also the default */
	MIME_CTE_8BIT,
	MIME_CTE_BINARY,
	MIME_CTE_BASE64,
	MIME_CTE_QP,
	MIME_CTE_UNKNOWN, /* a token we do not know (x-uuencode, ...) */
};

#define MIME_PART_MULTIPART 0x01 /* children separated by boundaries */
#define MIME_PART_MESSAGE 0x02	 /* message/rfc822|global: one child */
#define MIME_PART_TEXT 0x04	 /* media type "text" (BODYSTRUCTURE lines) */
#define MIME_PART_IS_MIME 0x08	 /* Content-* headers apply (RFC 2045 4) */
#define MIME_PART_OVERFLOW 0x10	 /* a multipart/message left opaque by a limit */
#define MIME_PART_NO_BLANK 0x20	 /* the header did not end with an empty line */
#define MIME_PART_DIGEST 0x40	 /* multipart/digest: children default message/rfc822 */

struct mime_part {
	struct mime_part *parent, *children, *next;
	unsigned nchildren;
	unsigned depth;	 /* root 0; each multipart or message level adds 1 */
	unsigned number; /* 1-based position among its siblings (0 for a root
			    or an embedded message) */
	unsigned flags;	 /* MIME_PART_* */

	/* Offsets into the message: the header is [hdr_start, hdr_end) and
	 * includes its terminating empty line; the body is [body_start,
	 * body_end). hdr_end == body_start. */
	size_t hdr_start, hdr_end, body_start, body_end;
	size_t body_lines; /* LF characters in the body */

	/* Content-Type as written (defaults filled in: "text" "plain", or
	 * "message" "rfc822" inside multipart/digest). Parameters as written,
	 * RFC 2231 continuations merged; a text part without charset does
	 * NOT get one added here (renderers do that). */
	struct mime_str type, subtype;
	struct mime_param *params;
	unsigned nparams;
	struct mime_str boundary; /* multipart only */

	struct mime_str cte;	/* Content-Transfer-Encoding token as written */
	enum mime_cte encoding; /* MIME_CTE_7BIT when absent or invalid */
	struct mime_str id, description, md5, location; /* unfolded values */
	struct mime_str disposition;
	struct mime_param *disp_params;
	unsigned ndisp_params;
	struct mime_str *languages;
	unsigned nlanguages;
};

struct mime_limits {
	unsigned max_depth;	/* e.g. 50 */
	unsigned max_parts;	/* e.g. 10000; at least 1 */
	size_t max_header_size; /* bytes of each header interpreted, e.g. 256 KiB */
};

#define MIME_DEFAULT_MAX_DEPTH 50
#define MIME_DEFAULT_MAX_PARTS 10000
#define MIME_DEFAULT_MAX_HEADER_SIZE (256 * 1024)

struct mime_arena_block;

struct mime_tree {
	const char *data; /* the caller's message; must outlive the tree */
	size_t len;
	struct mime_part *root;	 /* == &parts[0] */
	struct mime_part *parts; /* all parts in document (pre-)order */
	unsigned nparts;
	bool truncated;			/* some limit was reached */
	struct mime_arena_block *arena; /* private: strings and arrays */
};

/* Fill in the defaults above. */
void mime_limits_default(struct mime_limits *limits);

/* Parse `len` bytes at `data`. The tree keeps pointers into data; data must
 * stay valid and unchanged while the tree is used. limits may be NULL for
 * the defaults. Never returns NULL (allocation failure aborts). */
struct mime_tree *mime_parse(const void *data, size_t len, const struct mime_limits *limits);
/* Free the tree and set *tree to NULL; NULL is fine. */
void mime_tree_free(struct mime_tree **tree);

/* Case-insensitive comparisons on tree strings. */
bool mime_str_is(struct mime_str s, const char *lit);
/* First parameter named `name` (case-insensitive), or NULL. */
const struct mime_param *mime_param_get(const struct mime_param *params, unsigned n,
					const char *name);

#endif
