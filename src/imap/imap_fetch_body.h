/* imap_fetch_body.h - the data of BODY[section] and BINARY[section] for a
 * FETCH, from the section text as the client sent it (between the
 * brackets). Kept apart from imap_cmd_fetch.c so that the section resolver
 * (imap_section.h) and the FETCH argument parser (imap_fetch.h) never meet
 * in one file. Pure. */
#ifndef POSTANE_IMAP_FETCH_BODY_H
#define POSTANE_IMAP_FETCH_BODY_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct mime_tree;

enum imap_fetch_body_result {
	IMAP_FETCH_BODY_OK,      /* data appended (possibly empty) */
	IMAP_FETCH_BODY_NIL,     /* no such part: the value is NIL / empty */
	IMAP_FETCH_BODY_BAD,     /* the section text is invalid: BAD */
	IMAP_FETCH_BODY_UNKNOWN_CTE, /* BINARY: NO [UNKNOWN-CTE] */
	IMAP_FETCH_BODY_FULL,    /* the data would not fit the output: NO */
};

/* Append the section's data to out (or, with out NULL, only its size to
 * *size_r): binary selects BINARY (transfer encoding removed). */
enum imap_fetch_body_result imap_fetch_body(const struct mime_tree *tree, const char *section,
					    size_t section_len, bool binary, struct buf *out,
					    size_t *size_r);

#endif
