/* imap_bodystructure.c - BODY/BODYSTRUCTURE rendering by an iterative walk
 * of the part tree: head() writes what comes before a part's children,
 * tail() what comes after them. */
#include "imap/imap_bodystructure.h"

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "imap/imap_envelope.h"
#include "imap/imap_quote.h"
#include "mime/mime_parser.h"

struct bs {
	struct buf *out;
	const struct mime_tree *tree;
	bool ext;
	unsigned flags;
	int err;
};

static void put(struct bs *c, const char *s)
{
	if (buf_append_str(c->out, s) < 0)
		c->err = -1;
}

static void put_string(struct bs *c, struct mime_str s)
{
	if (imap_append_string(c->out, s.p, s.len, c->flags) < 0)
		c->err = -1;
}

static void put_nstring(struct bs *c, struct mime_str s)
{
	if (imap_append_nstring(c->out, s.p, s.len, c->flags) < 0)
		c->err = -1;
}

static void put_number(struct bs *c, size_t n)
{
	if (buf_printf(c->out, "%zu", n) < 0)
		c->err = -1;
}

static void put_params(struct bs *c, const struct mime_param *v, unsigned n, bool text)
{
	bool charset = false;
	if (n == 0 && !text) {
		put(c, "NIL");
		return;
	}
	put(c, "(");
	for (unsigned i = 0; i < n; i++) {
		if (i > 0)
			put(c, " ");
		if (mime_str_is(v[i].name, "charset"))
			charset = true;
		put_string(c, v[i].name);
		put(c, " ");
		put_string(c, v[i].value);
	}
	if (text && !charset) {
		if (n > 0)
			put(c, " ");
		put(c, "\"charset\" \"us-ascii\"");
	}
	put(c, ")");
}

/* disposition, language, location */
static void put_ext_common(struct bs *c, const struct mime_part *p)
{
	put(c, " ");
	if (p->disposition.p == NULL) {
		put(c, "NIL");
	} else {
		put(c, "(");
		put_string(c, p->disposition);
		put(c, " ");
		put_params(c, p->disp_params, p->ndisp_params, false);
		put(c, ")");
	}
	put(c, " ");
	if (p->nlanguages == 0) {
		put(c, "NIL");
	} else {
		put(c, "(");
		for (unsigned i = 0; i < p->nlanguages; i++) {
			if (i > 0)
				put(c, " ");
			put_string(c, p->languages[i]);
		}
		put(c, ")");
	}
	put(c, " ");
	put_nstring(c, p->location);
}

static bool is_container(const struct mime_part *p)
{
	return (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) != 0 &&
	       (p->flags & MIME_PART_OVERFLOW) == 0;
}

static bool has_kids(const struct mime_part *p)
{
	return is_container(p) && p->children != NULL;
}

/* type subtype params id description encoding size */
static void put_basic_fields(struct bs *c, const struct mime_part *p, bool *text_r)
{
	bool text = false;
	if ((p->flags & MIME_PART_MESSAGE) != 0 && p->children != NULL &&
	    (p->flags & MIME_PART_OVERFLOW) == 0) {
		put(c, mime_str_is(p->subtype, "global") ? "\"message\" \"global\""
							 : "\"message\" \"rfc822\"");
	} else if ((p->flags & MIME_PART_OVERFLOW) != 0 ||
		   (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) != 0) {
		/* Content we did not descend into: opaque data. */
		put(c, "\"application\" \"octet-stream\"");
	} else {
		text = mime_str_is(p->type, "text");
		put_string(c, p->type);
		put(c, " ");
		put_string(c, p->subtype);
	}
	put(c, " ");
	put_params(c, p->params, p->nparams, text);
	put(c, " ");
	put_nstring(c, p->id);
	put(c, " ");
	put_nstring(c, p->description);
	put(c, " ");
	if (p->cte.p != NULL)
		put_string(c, p->cte);
	else
		put(c, "\"7bit\"");
	put(c, " ");
	put_number(c, p->body_end - p->body_start);
	*text_r = text;
}

static void put_leaf_ext(struct bs *c, const struct mime_part *p)
{
	put(c, " ");
	put_nstring(c, p->md5);
	put_ext_common(c, p);
}

static void head(struct bs *c, const struct mime_part *p)
{
	put(c, "(");
	if (is_container(p) && (p->flags & MIME_PART_MULTIPART) != 0) {
		if (p->children == NULL) {
			/* A multipart without parts is not allowed; say it
			 * held one empty text part. */
			put(c, c->ext ? "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
					"\"7bit\" 0 0 NIL NIL NIL NIL)"
				      : "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
					"\"7bit\" 0 0)");
		}
		return;
	}
	bool text;
	put_basic_fields(c, p, &text);
	if (has_kids(p)) {
		/* message/rfc822: envelope and body follow */
		const struct mime_part *m = p->children;
		put(c, " ");
		if (imap_envelope_write(c->out, c->tree->data + m->hdr_start,
					m->hdr_end - m->hdr_start, c->flags) < 0)
			c->err = -1;
		put(c, " ");
		return;
	}
	if (text) {
		put(c, " ");
		put_number(c, p->body_lines);
	}
	if (c->ext)
		put_leaf_ext(c, p);
	put(c, ")");
}

static void tail(struct bs *c, const struct mime_part *p)
{
	if (!has_kids(p) && !(is_container(p) && (p->flags & MIME_PART_MULTIPART) != 0))
		return; /* head() wrote it all */
	if ((p->flags & MIME_PART_MULTIPART) != 0) {
		put(c, " ");
		put_string(c, p->subtype);
		if (c->ext) {
			put(c, " ");
			put_params(c, p->params, p->nparams, false);
			put_ext_common(c, p);
		}
	} else {
		put(c, " ");
		put_number(c, p->body_lines);
		if (c->ext)
			put_leaf_ext(c, p);
	}
	put(c, ")");
}

int imap_bodystructure_write_part(struct buf *out, const struct mime_tree *tree,
				  const struct mime_part *start, bool extended, unsigned flags)
{
	struct bs c = {.out = out, .tree = tree, .ext = extended, .flags = flags};
	const struct mime_part *p = start;
	for (;;) {
		head(&c, p);
		if (has_kids(p)) {
			p = p->children;
			continue;
		}
		tail(&c, p);
		while (p != start && p->next == NULL) {
			p = p->parent;
			tail(&c, p);
		}
		if (p == start || c.err < 0)
			break;
		p = p->next;
	}
	return c.err;
}

int imap_bodystructure_write(struct buf *out, const struct mime_tree *tree, bool extended,
			     unsigned flags)
{
	return imap_bodystructure_write_part(out, tree, tree->root, extended, flags);
}
