/* imap_fetch_body.c - BODY[section] / BINARY[section] data through the MIME
 * layer's section resolver. */
#include "imap/imap_fetch_body.h"

#include "core/buf.h"
#include "imap/imap_section.h"
#include "mime/mime_parser.h"

enum imap_fetch_body_result imap_fetch_body(const struct mime_tree *tree, const char *section,
					    size_t section_len, bool binary, struct buf *out,
					    size_t *size_r)
{
	struct imap_section sec;
	const char *why;
	if (imap_section_parse(section, section_len, binary, &sec, &why) < 0)
		return IMAP_FETCH_BODY_BAD;
	struct imap_section_result res;
	enum imap_fetch_body_result ret = IMAP_FETCH_BODY_OK;
	if (imap_section_resolve(tree, &sec, &res) != 1) {
		imap_section_free(&sec);
		if (size_r != NULL)
			*size_r = 0;
		return IMAP_FETCH_BODY_NIL;
	}
	if (binary) {
		size_t size = 0;
		enum imap_binary_status st = imap_section_binary(&res, tree, out, &size);
		if (st == IMAP_BINARY_UNKNOWN_CTE)
			ret = IMAP_FETCH_BODY_UNKNOWN_CTE;
		else if (st == IMAP_BINARY_FULL)
			ret = IMAP_FETCH_BODY_FULL;
		if (size_r != NULL)
			*size_r = size;
	} else {
		if (size_r != NULL)
			*size_r = imap_section_result_size(&res);
		if (out != NULL && imap_section_result_write(&res, tree, out) < 0)
			ret = IMAP_FETCH_BODY_FULL;
	}
	imap_section_result_free(&res);
	imap_section_free(&sec);
	return ret;
}
