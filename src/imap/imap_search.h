/* imap_search.h - search programs of SEARCH / UID SEARCH (RFC 9051 6.4.4,
 * RFC 3501 6.4.4), with ESEARCH RETURN options (RFC 4731, RFC 5182 SAVE),
 * CONDSTORE MODSEQ (RFC 7162), and the search part of SORT / THREAD
 * (RFC 5256, RFC 5957 DISPLAYFROM/DISPLAYTO, RFC 5267 ESORT).
 *
 * RFC 9394 PARTIAL is parsed too; CONTEXT / UPDATE (RFC 5267) are not.
 *
 * Parsing only: argument tree in (see imap_parser.h), program out. The
 * session evaluates it. The program owns all its memory (strings are
 * copied; nothing points into the command).
 *
 * The program is a tree. Its root is an AND node whose children are the
 * top-level keys; a parenthesised list is another AND node; OR has exactly
 * two children and NOT one. Every other node is a key as RFC 9051 names it
 * (UNSEEN stays UNSEEN: no rewriting into NOT SEEN). */
#ifndef POSTANE_IMAP_SEARCH_H
#define POSTANE_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_parser.h"
#include "imap/imap_seqset.h"

struct buf;

enum imap_search_key {
	IMAP_SEARCH_AND = 0, /* children: every one must match */
	IMAP_SEARCH_OR,	     /* two children */
	IMAP_SEARCH_NOT,     /* one child */
	/* flags; no operand */
	IMAP_SEARCH_ALL,
	IMAP_SEARCH_ANSWERED,
	IMAP_SEARCH_DELETED,
	IMAP_SEARCH_DRAFT,
	IMAP_SEARCH_FLAGGED,
	IMAP_SEARCH_NEW,    /* RECENT UNSEEN (IMAP4rev1) */
	IMAP_SEARCH_OLD,    /* NOT RECENT (IMAP4rev1) */
	IMAP_SEARCH_RECENT, /* IMAP4rev1 */
	IMAP_SEARCH_SEEN,
	IMAP_SEARCH_UNANSWERED,
	IMAP_SEARCH_UNDELETED,
	IMAP_SEARCH_UNDRAFT,
	IMAP_SEARCH_UNFLAGGED,
	IMAP_SEARCH_UNSEEN,
	/* str: a keyword (atom) */
	IMAP_SEARCH_KEYWORD,
	IMAP_SEARCH_UNKEYWORD,
	/* str: a substring (UTF-8) */
	IMAP_SEARCH_BCC,
	IMAP_SEARCH_BODY,
	IMAP_SEARCH_CC,
	IMAP_SEARCH_FROM,
	IMAP_SEARCH_SUBJECT,
	IMAP_SEARCH_TEXT,
	IMAP_SEARCH_TO,
	/* field: header name; str: substring (may be empty: "has the field") */
	IMAP_SEARCH_HEADER,
	/* day: internal date (BEFORE ON SINCE) or Date: header (SENT*) */
	IMAP_SEARCH_BEFORE,
	IMAP_SEARCH_ON,
	IMAP_SEARCH_SINCE,
	IMAP_SEARCH_SENTBEFORE,
	IMAP_SEARCH_SENTON,
	IMAP_SEARCH_SENTSINCE,
	/* number: RFC822.SIZE strictly larger / smaller than it */
	IMAP_SEARCH_LARGER,
	IMAP_SEARCH_SMALLER,
	/* set: UIDs / sequence numbers (may be "$": set.searchres) */
	IMAP_SEARCH_UID,
	IMAP_SEARCH_SEQSET,
	/* number: mod-sequence (>= it matches); modseq_entry optional */
	IMAP_SEARCH_MODSEQ,
	IMAP_SEARCH_KEY_COUNT
};

enum imap_modseq_entry_type {
	IMAP_MODSEQ_ENTRY_NONE = 0,
	IMAP_MODSEQ_ENTRY_PRIV,
	IMAP_MODSEQ_ENTRY_SHARED,
	IMAP_MODSEQ_ENTRY_ALL,
};

struct imap_search_node {
	enum imap_search_key key;
	struct imap_search_node *children; /* AND, OR, NOT */
	struct imap_search_node *next;	   /* next sibling */
	char *str;			   /* NUL-terminated copy; no NUL inside */
	size_t str_len;
	char *field; /* HEADER */
	size_t field_len;
	int64_t day;		/* date keys: days since 1970-01-01 */
	uint64_t number;	/* LARGER, SMALLER, MODSEQ */
	struct imap_seqset set; /* UID, SEQSET (unresolved: '*' is 0) */
	char *modseq_entry;	/* MODSEQ "/flags/\Seen", or NULL */
	enum imap_modseq_entry_type modseq_type;
};

enum imap_search_command {
	IMAP_SEARCH_CMD_SEARCH,
	IMAP_SEARCH_CMD_SORT,
	IMAP_SEARCH_CMD_THREAD,
};

enum imap_search_charset {
	IMAP_SEARCH_CHARSET_US_ASCII,
	IMAP_SEARCH_CHARSET_UTF8,
};

enum imap_search_return {
	IMAP_SEARCH_RETURN_MIN = 1 << 0,
	IMAP_SEARCH_RETURN_MAX = 1 << 1,
	IMAP_SEARCH_RETURN_ALL = 1 << 2,
	IMAP_SEARCH_RETURN_COUNT = 1 << 3,
	IMAP_SEARCH_RETURN_SAVE = 1 << 4,
	IMAP_SEARCH_RETURN_PARTIAL = 1 << 5, /* RFC 9394: see partial_* */
};

enum imap_sort_key {
	IMAP_SORT_ARRIVAL,
	IMAP_SORT_CC,
	IMAP_SORT_DATE,
	IMAP_SORT_FROM,
	IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT,
	IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM,
	IMAP_SORT_DISPLAYTO,
};

struct imap_sort_criterion {
	enum imap_sort_key key;
	bool reverse;
};

enum imap_thread_algorithm {
	IMAP_THREAD_ORDEREDSUBJECT,
	IMAP_THREAD_REFERENCES,
};

struct imap_search_program {
	enum imap_search_command command;
	struct imap_search_node *root; /* AND of the top-level keys */
	enum imap_search_charset charset;
	bool charset_given;   /* CHARSET named (SORT/THREAD always name one) */
	bool return_given;    /* RETURN (...) present: answer with ESEARCH/ESORT */
	unsigned return_opts; /* IMAP_SEARCH_RETURN_*; "RETURN ()" gives ALL */
	/* PARTIAL: results first..last (1-based, first <= last), counted from
	 * the end of the result when partial_from_end ("-1:-100"). */
	uint32_t partial_first, partial_last;
	bool partial_from_end;
	struct imap_sort_criterion *sort; /* SORT */
	unsigned sort_count;
	enum imap_thread_algorithm thread; /* THREAD */
	bool uses_modseq;		   /* a MODSEQ key: the reply carries (MODSEQ n) */
	bool uses_searchres;		   /* a "$" set somewhere */
};

struct imap_search_options {
	unsigned max_depth;   /* nesting of NOT / OR / ( ); 0: 32 */
	bool allow_searchres; /* "$" accepted as a set (SEARCHRES advertised) */
};

enum imap_search_status {
	IMAP_SEARCH_OK = 0,
	IMAP_SEARCH_BAD,	/* tagged BAD with *error_r */
	IMAP_SEARCH_BADCHARSET, /* tagged NO [BADCHARSET IMAP_SEARCH_CHARSETS] */
};

/* The charsets we support, as the BADCHARSET response code wants them. */
#define IMAP_SEARCH_CHARSETS "(US-ASCII UTF-8)"

/* Parse the arguments after the command name of SEARCH / UID SEARCH,
 * SORT / UID SORT or THREAD / UID THREAD. Strings must be valid UTF-8 (which
 * includes US-ASCII) and hold no NUL. opts may be NULL. On success *prog_r
 * is the program; otherwise it is NULL and *error_r is static text. */
enum imap_search_status imap_search_parse(const struct imap_arg *args,
					  enum imap_search_command command,
					  const struct imap_search_options *opts,
					  struct imap_search_program **prog_r,
					  const char **error_r);
/* Accepts NULL; sets *prog to NULL. */
void imap_search_program_free(struct imap_search_program **prog);

/* Name of a key as RFC 9051 spells it ("UNSEEN"; "AND" for groups). */
const char *imap_search_key_name(enum imap_search_key key);

/* Append a readable rendering of the program for logs and tests, in IMAP
 * search syntax, upper-case, with groups in parentheses:
 * FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith". Strings are quoted with \" and
 * \\ escaped; other bytes below 0x20 as \xNN. Returns 0 or -1 if out is
 * full. */
int imap_search_program_format(const struct imap_search_program *prog, struct buf *out);

#endif
