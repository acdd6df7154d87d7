/* mime_parser.c - one forward pass over the message, line by line, with an
 * explicit stack of open parts and the list of active multipart boundaries.
 * Headers are first delimited (empty line, boundary line or end of data),
 * then their Content-* fields are interpreted. Strings live in a chunked
 * arena that never moves; parts live in a growing array linked by index
 * during the parse and by pointer once it is done. */
#include "mime/mime_parser.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"
#include "mime/mime_header.h"
#include "mime/mime_param.h"

#define MAX_PARAMS 100
#define MAX_LANGUAGES 32
#define ARENA_BLOCK 4096

struct mime_arena_block {
	struct mime_arena_block *next;
	size_t used, cap;
	alignas(max_align_t) unsigned char data[];
};

enum fstate {
	F_HEADER,   /* reading the part's header */
	F_BODY,	    /* leaf body */
	F_MULTI,    /* multipart body outside any child: preamble, or skipping */
	F_EPILOGUE, /* multipart body after its close delimiter */
	F_MESSAGE,  /* message/rfc822 body: the embedded message is above */
};

struct frame {
	unsigned part;
	enum fstate state;
};

struct bnd {
	const char *p;
	size_t len;
	unsigned frame;
};

struct link {
	unsigned parent, first, last, next; /* part indexes; UINT32_MAX = none */
	size_t nl_body;			    /* LF characters before body_start */
};

#define NONE UINT32_MAX

struct parser {
	const char *d;
	size_t len;
	struct mime_limits lim;
	struct mime_tree *t;
	struct link *links;
	size_t parts_cap;
	struct frame *stack;
	unsigned sp;
	struct bnd *bnd;
	unsigned nbnd;
	size_t pos; /* start of the next line to read */
	size_t nl;  /* LF characters before pos */
	struct buf scratch;
	struct mime_param_list params;
};

/* ---- arena ---- */

static void *arena_alloc(struct mime_tree *t, size_t n)
{
	size_t align = alignof(max_align_t);
	n = (n + align - 1) & ~(align - 1);
	struct mime_arena_block *b = t->arena;
	if (b == NULL || b->cap - b->used < n) {
		size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		b = xmalloc(sizeof(*b) + cap);
		b->used = 0;
		b->cap = cap;
		b->next = t->arena;
		t->arena = b;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

static struct mime_str arena_str(struct mime_tree *t, const char *p, size_t n)
{
	char *s = arena_alloc(t, n + 1);
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return (struct mime_str){s, n};
}

/* ---- small helpers ---- */

bool mime_str_is(struct mime_str s, const char *lit)
{
	return s.p != NULL && mime_ascii_ieq(s.p, s.len, lit);
}

const struct mime_param *mime_param_get(const struct mime_param *params, unsigned n,
					const char *name)
{
	for (unsigned i = 0; i < n; i++) {
		if (mime_str_is(params[i].name, name))
			return &params[i];
	}
	return NULL;
}

void mime_limits_default(struct mime_limits *limits)
{
	limits->max_depth = MIME_DEFAULT_MAX_DEPTH;
	limits->max_parts = MIME_DEFAULT_MAX_PARTS;
	limits->max_header_size = MIME_DEFAULT_MAX_HEADER_SIZE;
}

static struct mime_str lit_str(const char *s)
{
	return (struct mime_str){s, strlen(s)};
}

/* ---- parts ---- */

static unsigned part_new(struct parser *p, unsigned parent, size_t hdr_start, unsigned depth)
{
	struct mime_tree *t = p->t;
	if (t->nparts == p->parts_cap) {
		p->parts_cap = p->parts_cap < 8 ? 8 : p->parts_cap * 2;
		t->parts = xrealloc(t->parts, p->parts_cap * sizeof(*t->parts));
		p->links = xrealloc(p->links, p->parts_cap * sizeof(*p->links));
	}
	unsigned i = t->nparts++;
	struct mime_part *part = &t->parts[i];
	memset(part, 0, sizeof(*part));
	part->hdr_start = part->hdr_end = part->body_start = part->body_end = hdr_start;
	part->depth = depth;
	part->type = lit_str("text");
	part->subtype = lit_str("plain");
	struct link *l = &p->links[i];
	l->parent = parent;
	l->first = l->last = l->next = NONE;
	l->nl_body = 0;
	if (parent != NONE) {
		struct link *pl = &p->links[parent];
		if (pl->last == NONE)
			pl->first = i;
		else
			p->links[pl->last].next = i;
		pl->last = i;
		t->parts[parent].nchildren++;
		if ((t->parts[parent].flags & MIME_PART_MULTIPART) != 0)
			part->number = t->parts[parent].nchildren;
	}
	return i;
}

static void push_frame(struct parser *p, unsigned part, enum fstate state)
{
	p->stack[p->sp].part = part;
	p->stack[p->sp].state = state;
	p->sp++;
}

/* ---- header interpretation ---- */

enum {
	CF_TYPE,
	CF_CTE,
	CF_ID,
	CF_DESCRIPTION,
	CF_DISPOSITION,
	CF_LANGUAGE,
	CF_LOCATION,
	CF_MD5,
};

static int content_field(const struct mime_header_field *f)
{
	if (f->name_len < 8 || !mime_ascii_ieq(f->name, 8, "content-"))
		return -1;
	const char *n = f->name + 8;
	size_t l = f->name_len - 8;
	if (mime_ascii_ieq(n, l, "type"))
		return CF_TYPE;
	if (mime_ascii_ieq(n, l, "transfer-encoding"))
		return CF_CTE;
	if (mime_ascii_ieq(n, l, "id"))
		return CF_ID;
	if (mime_ascii_ieq(n, l, "description"))
		return CF_DESCRIPTION;
	if (mime_ascii_ieq(n, l, "disposition"))
		return CF_DISPOSITION;
	if (mime_ascii_ieq(n, l, "language"))
		return CF_LANGUAGE;
	if (mime_ascii_ieq(n, l, "location"))
		return CF_LOCATION;
	if (mime_ascii_ieq(n, l, "md5"))
		return CF_MD5;
	return -1;
}

/* Unfold a raw value into the parser's scratch buffer. */
static const char *unfold(struct parser *p, const char *v, size_t len, size_t *len_r)
{
	buf_reset(&p->scratch);
	if (mime_header_unfold(v, len, &p->scratch) < 0 || p->scratch.data == NULL) {
		*len_r = 0;
		return "";
	}
	*len_r = p->scratch.len;
	return p->scratch.data;
}

/* Copy the parameter list into the arena. */
static struct mime_param *params_copy(struct mime_tree *t, const struct mime_param_list *l,
				      unsigned *n_r)
{
	*n_r = (unsigned)l->n;
	if (l->n == 0)
		return NULL;
	struct mime_param *v = arena_alloc(t, l->n * sizeof(*v));
	for (size_t i = 0; i < l->n; i++) {
		size_t nl, vl;
		const char *n = mime_param_name(l, i, &nl);
		const char *val = mime_param_value(l, i, &vl);
		v[i].name = arena_str(t, n, nl);
		v[i].value = arena_str(t, val, vl);
	}
	return v;
}

static enum mime_cte cte_kind(const char *s, size_t len)
{
	if (mime_ascii_ieq(s, len, "7bit"))
		return MIME_CTE_7BIT;
	if (mime_ascii_ieq(s, len, "8bit"))
		return MIME_CTE_8BIT;
	if (mime_ascii_ieq(s, len, "binary"))
		return MIME_CTE_BINARY;
	if (mime_ascii_ieq(s, len, "base64"))
		return MIME_CTE_BASE64;
	if (mime_ascii_ieq(s, len, "quoted-printable"))
		return MIME_CTE_QP;
	return MIME_CTE_UNKNOWN;
}

/* Content-Type: "type/subtype; params". Returns true if valid (and then
 * part->type/subtype/params are set). */
static bool parse_content_type(struct parser *p, struct mime_part *part, const char *raw,
			       size_t raw_len)
{
	size_t len;
	const char *v = unfold(p, raw, raw_len, &len);
	size_t pos = mime_skip_cfws(v, len, 0);
	size_t tstart = pos, tlen = mime_token_len(v, len, pos);
	pos = mime_skip_cfws(v, len, pos + tlen);
	if (tlen == 0 || pos >= len || v[pos] != '/')
		return false;
	pos = mime_skip_cfws(v, len, pos + 1);
	size_t sstart = pos, slen = mime_token_len(v, len, pos);
	if (slen == 0)
		return false;
	pos += slen;
	mime_param_list_reset(&p->params);
	mime_param_parse(v + pos, len - pos, &p->params);
	part->type = arena_str(p->t, v + tstart, tlen);
	part->subtype = arena_str(p->t, v + sstart, slen);
	part->params = params_copy(p->t, &p->params, &part->nparams);
	return true;
}

static void parse_disposition(struct parser *p, struct mime_part *part, const char *raw,
			      size_t raw_len)
{
	size_t len;
	const char *v = unfold(p, raw, raw_len, &len);
	size_t pos = mime_skip_cfws(v, len, 0);
	size_t tlen = mime_token_len(v, len, pos);
	if (tlen == 0)
		return;
	part->disposition = arena_str(p->t, v + pos, tlen);
	mime_param_list_reset(&p->params);
	mime_param_parse(v + pos + tlen, len - pos - tlen, &p->params);
	part->disp_params = params_copy(p->t, &p->params, &part->ndisp_params);
}

static void parse_language(struct parser *p, struct mime_part *part, const char *raw,
			   size_t raw_len)
{
	size_t len;
	const char *v = unfold(p, raw, raw_len, &len);
	struct mime_str tmp[MAX_LANGUAGES];
	unsigned n = 0;
	size_t pos = mime_skip_cfws(v, len, 0);
	while (pos < len && n < MAX_LANGUAGES) {
		size_t tlen = mime_token_len(v, len, pos);
		if (tlen == 0)
			break;
		tmp[n++] = arena_str(p->t, v + pos, tlen);
		pos = mime_skip_cfws(v, len, pos + tlen);
		if (pos >= len || v[pos] != ',')
			break;
		pos = mime_skip_cfws(v, len, pos + 1);
	}
	if (n == 0)
		return;
	part->languages = arena_alloc(p->t, n * sizeof(*part->languages));
	memcpy(part->languages, tmp, n * sizeof(*tmp));
	part->nlanguages = n;
}

static struct mime_str unfolded_copy(struct parser *p, const char *raw, size_t raw_len)
{
	size_t len;
	const char *v = unfold(p, raw, raw_len, &len);
	return arena_str(p->t, v, len);
}

enum kind { K_LEAF, K_MULTIPART, K_MESSAGE };

/* Interpret the Content-* fields of part i's header and say what its body
 * holds. */
static enum kind interpret_header(struct parser *p, unsigned i)
{
	struct mime_part *part = &p->t->parts[i];
	unsigned parent = p->links[i].parent;
	const struct mime_part *pp = parent != NONE ? &p->t->parts[parent] : NULL;
	bool in_multipart = pp != NULL && (pp->flags & MIME_PART_MULTIPART) != 0;
	size_t hlen = part->hdr_end - part->hdr_start;
	if (hlen > p->lim.max_header_size)
		hlen = p->lim.max_header_size;

	const char *val[8] = {0};
	size_t vlen[8] = {0};
	bool mime_version = false;
	struct mime_header_iter it;
	struct mime_header_field f;
	struct mime_header_limits hl = {.max_fields = 0, .max_field_len = hlen};
	mime_header_iter_init(&it, p->d + part->hdr_start, hlen, &hl);
	while (mime_header_iter_next(&it, &f) > 0) {
		if (!f.has_colon)
			continue;
		int k = content_field(&f);
		if (k >= 0) {
			if (val[k] == NULL) {
				val[k] = f.value;
				vlen[k] = f.value_len;
			}
		} else if (mime_ascii_ieq(f.name, f.name_len, "mime-version")) {
			mime_version = true;
		}
	}
	bool is_mime = mime_version || in_multipart || val[CF_TYPE] != NULL;
	if (is_mime)
		part->flags |= MIME_PART_IS_MIME;
	else
		memset(val, 0, sizeof(val)); /* RFC 2045 4: Content-* not in effect */

	bool typed =
	    val[CF_TYPE] != NULL && parse_content_type(p, part, val[CF_TYPE], vlen[CF_TYPE]);
	enum kind kind = K_LEAF;
	if (typed && mime_str_is(part->type, "multipart")) {
		const struct mime_param *b =
		    mime_param_get(part->params, part->nparams, "boundary");
		if (b != NULL && b->value.len > 0) {
			part->boundary = b->value;
			kind = K_MULTIPART;
			if (mime_str_is(part->subtype, "digest"))
				part->flags |= MIME_PART_DIGEST;
		} else {
			typed = false; /* invalid without a boundary: RFC 2045 5.2 */
		}
	}
	if (!typed) {
		part->params = NULL;
		part->nparams = 0;
		if (pp != NULL && (pp->flags & MIME_PART_DIGEST) != 0) {
			part->type = lit_str("message");
			part->subtype = lit_str("rfc822");
		} else {
			part->type = lit_str("text");
			part->subtype = lit_str("plain");
		}
	}
	if (mime_str_is(part->type, "message") &&
	    (mime_str_is(part->subtype, "rfc822") || mime_str_is(part->subtype, "global")))
		kind = K_MESSAGE;
	if (mime_str_is(part->type, "text"))
		part->flags |= MIME_PART_TEXT;

	if (val[CF_CTE] != NULL) {
		size_t len;
		const char *v = unfold(p, val[CF_CTE], vlen[CF_CTE], &len);
		size_t pos = mime_skip_cfws(v, len, 0);
		size_t tlen = mime_token_len(v, len, pos);
		if (tlen > 0) {
			part->cte = arena_str(p->t, v + pos, tlen);
			part->encoding = cte_kind(v + pos, tlen);
		}
	}
	if (val[CF_ID] != NULL)
		part->id = unfolded_copy(p, val[CF_ID], vlen[CF_ID]);
	if (val[CF_DESCRIPTION] != NULL)
		part->description = unfolded_copy(p, val[CF_DESCRIPTION], vlen[CF_DESCRIPTION]);
	if (val[CF_MD5] != NULL)
		part->md5 = unfolded_copy(p, val[CF_MD5], vlen[CF_MD5]);
	if (val[CF_LOCATION] != NULL)
		part->location = unfolded_copy(p, val[CF_LOCATION], vlen[CF_LOCATION]);
	if (val[CF_DISPOSITION] != NULL)
		parse_disposition(p, part, val[CF_DISPOSITION], vlen[CF_DISPOSITION]);
	if (val[CF_LANGUAGE] != NULL)
		parse_language(p, part, val[CF_LANGUAGE], vlen[CF_LANGUAGE]);
	return kind;
}

/* ---- structure ---- */

/* LF characters before offset `at`, which lies within the current line's
 * preceding line break (pos is the start of the line being looked at). */
static size_t nl_before(const struct parser *p, size_t line_start, size_t at)
{
	if (at < line_start && line_start > 0 && p->d[line_start - 1] == '\n')
		return p->nl - 1;
	return p->nl;
}

/* The header of the part on top of the stack ended at hdr_end (and its
 * body starts there); decide what follows. `closing`: the part also ends
 * here (cut by a boundary or the end of data). */
static void header_done(struct parser *p, size_t hdr_end, size_t nl_at_end, bool blank,
			bool closing)
{
	struct frame *fr = &p->stack[p->sp - 1];
	unsigned i = fr->part;
	struct mime_part *part = &p->t->parts[i];
	part->hdr_end = part->body_start = part->body_end = hdr_end;
	p->links[i].nl_body = nl_at_end;
	if (!blank)
		part->flags |= MIME_PART_NO_BLANK;
	enum kind kind = interpret_header(p, i);
	part = &p->t->parts[i];
	bool deep = part->depth >= p->lim.max_depth;
	if (kind == K_MULTIPART) {
		if (deep) {
			part->flags |= MIME_PART_OVERFLOW;
			p->t->truncated = true;
			fr->state = F_BODY;
			return;
		}
		part->flags |= MIME_PART_MULTIPART;
		fr->state = F_MULTI;
		if (!closing) {
			struct bnd *b = &p->bnd[p->nbnd++];
			b->p = part->boundary.p;
			b->len = part->boundary.len;
			b->frame = p->sp - 1;
		}
		return;
	}
	if (kind == K_MESSAGE) {
		if (deep || p->t->nparts >= p->lim.max_parts) {
			part->flags |= MIME_PART_OVERFLOW;
			p->t->truncated = true;
			fr->state = F_BODY;
			return;
		}
		part->flags |= MIME_PART_MESSAGE;
		fr->state = F_MESSAGE;
		unsigned depth = part->depth + 1;
		unsigned c = part_new(p, i, hdr_end, depth);
		p->links[c].nl_body = nl_at_end;
		if (closing) {
			/* An empty embedded message. */
			p->t->parts[c].flags |= MIME_PART_NO_BLANK;
			(void)interpret_header(p, c);
			return;
		}
		push_frame(p, c, F_HEADER);
		return;
	}
	fr->state = F_BODY;
}

/* Close the frame on top of the stack: its part ends at `end` (with
 * nl_end LF characters before it). */
static void close_top(struct parser *p, size_t end, size_t nl_end)
{
	struct frame *fr = &p->stack[p->sp - 1];
	unsigned i = fr->part;
	struct mime_part *part = &p->t->parts[i];
	if (part->hdr_start > end) {
		/* An empty part that began right at the delimiter whose line
		 * break ends its enclosing part: move it onto that end. */
		part->hdr_start = part->hdr_end = part->body_start = part->body_end = end;
	}
	if (fr->state == F_HEADER) {
		header_done(p, end, nl_end, false, true); /* pushes nothing */
		part = &p->t->parts[i];
	} else if (end < part->body_start) {
		/* The empty line ending the header is also the line break
		 * that starts the delimiter (RFC 2046 5.1.1): it belongs to
		 * the delimiter, the header ends before it. */
		part->hdr_end = part->body_start = end;
		part->flags |= MIME_PART_NO_BLANK;
	}
	part->body_end = end;
	part->body_lines = end > part->body_start ? nl_end - p->links[i].nl_body : 0;
	if (p->nbnd > 0 && p->bnd[p->nbnd - 1].frame == p->sp - 1)
		p->nbnd--;
	p->sp--;
}

/* Is the line at L a boundary delimiter of an active multipart? Returns the
 * index in p->bnd or -1; *close_r set for a close delimiter. */
static int match_boundary(const struct parser *p, size_t L, size_t line_len, bool *close_r)
{
	if (line_len < 2 || p->d[L] != '-' || p->d[L + 1] != '-')
		return -1;
	const char *rest = p->d + L + 2;
	size_t rlen = line_len - 2;
	int best = -1;
	size_t best_len = 0;
	for (unsigned k = p->nbnd; k-- > 0;) {
		const struct bnd *b = &p->bnd[k];
		if (b->len <= rlen && (best < 0 || b->len > best_len) &&
		    memcmp(rest, b->p, b->len) == 0) {
			best = (int)k;
			best_len = b->len;
		}
	}
	if (best >= 0)
		*close_r =
		    rlen >= best_len + 2 && rest[best_len] == '-' && rest[best_len + 1] == '-';
	return best;
}

/* A boundary line [L, next) of p->bnd[k] was found (nl counts the LF
 * characters before L). */
static void on_boundary(struct parser *p, int k, bool is_close, size_t L, size_t next, bool had_lf)
{
	size_t D = L;
	if (L > 0 && p->d[L - 1] == '\n') {
		D = L - 1;
		if (D > 0 && p->d[D - 1] == '\r')
			D--;
	}
	unsigned owner = p->bnd[k].frame;
	if (owner + 1 < p->sp) {
		/* Never back into the previous delimiter line. */
		size_t first = p->t->parts[p->stack[owner + 1].part].hdr_start;
		if (D < first)
			D = first;
	}
	size_t nl_d = nl_before(p, L, D);
	while (p->sp - 1 > owner)
		close_top(p, D, nl_d);
	struct frame *fr = &p->stack[owner];
	p->pos = next;
	p->nl += had_lf ? 1 : 0;
	if (is_close) {
		fr->state = F_EPILOGUE;
		p->nbnd = (unsigned)k; /* this one and any inner ones are done */
		return;
	}
	if (p->t->nparts >= p->lim.max_parts) {
		p->t->truncated = true; /* skip this body part */
		fr->state = F_MULTI;
		return;
	}
	unsigned parent = fr->part;
	unsigned c = part_new(p, parent, next, p->t->parts[parent].depth + 1);
	push_frame(p, c, F_HEADER);
}

/* Read the header of the part on top of the stack. */
static void read_header(struct parser *p)
{
	const char *d = p->d;
	size_t i = p->pos, len = p->len;
	for (;;) {
		if (i >= len) {
			p->pos = len;
			header_done(p, len, p->nl, false, false);
			return;
		}
		if (d[i] == '\n' || (d[i] == '\r' && i + 1 < len && d[i + 1] == '\n')) {
			size_t end = i + (d[i] == '\r' ? 2 : 1);
			p->nl++;
			p->pos = end;
			header_done(p, end, p->nl, true, false);
			return;
		}
		const char *nlp = memchr(d + i, '\n', len - i);
		size_t next = nlp != NULL ? (size_t)(nlp - d) + 1 : len;
		if (p->nbnd > 0 && d[i] == '-') {
			bool is_close = false;
			size_t ll = nlp != NULL ? (size_t)(nlp - d) - i : len - i;
			if (ll > 0 && d[i + ll - 1] == '\r')
				ll--;
			int k = match_boundary(p, i, ll, &is_close);
			if (k >= 0) {
				p->pos = i;
				on_boundary(p, k, is_close, i, next, nlp != NULL);
				return;
			}
		}
		if (nlp != NULL)
			p->nl++;
		i = next;
		p->pos = i;
	}
}

/* Read body lines (of a leaf, preamble or epilogue) up to the next boundary
 * line or the end of data. */
static void read_body(struct parser *p)
{
	const char *d = p->d;
	size_t len = p->len, i = p->pos;
	if (p->nbnd == 0) {
		/* Nothing can end this body but the end of data. */
		for (const char *q = d + i; (q = memchr(q, '\n', (size_t)(d + len - q))) != NULL;
		     q++)
			p->nl++;
		p->pos = len;
		return;
	}
	while (i < len) {
		const char *nlp = memchr(d + i, '\n', len - i);
		size_t next = nlp != NULL ? (size_t)(nlp - d) + 1 : len;
		if (d[i] == '-') {
			bool is_close = false;
			size_t ll = nlp != NULL ? (size_t)(nlp - d) - i : len - i;
			if (ll > 0 && d[i + ll - 1] == '\r')
				ll--;
			int k = match_boundary(p, i, ll, &is_close);
			if (k >= 0) {
				p->pos = i;
				on_boundary(p, k, is_close, i, next, nlp != NULL);
				return;
			}
		}
		if (nlp != NULL)
			p->nl++;
		i = next;
	}
	p->pos = len;
}

static void finish(struct parser *p)
{
	struct mime_tree *t = p->t;
	for (unsigned i = 0; i < t->nparts; i++) {
		struct mime_part *part = &t->parts[i];
		const struct link *l = &p->links[i];
		part->parent = l->parent != NONE ? &t->parts[l->parent] : NULL;
		part->children = l->first != NONE ? &t->parts[l->first] : NULL;
		part->next = l->next != NONE ? &t->parts[l->next] : NULL;
	}
	t->root = &t->parts[0];
}

struct mime_tree *mime_parse(const void *data, size_t len, const struct mime_limits *limits)
{
	struct parser p;
	memset(&p, 0, sizeof(p));
	if (limits != NULL)
		p.lim = *limits;
	else
		mime_limits_default(&p.lim);
	if (p.lim.max_parts == 0)
		p.lim.max_parts = 1;
	p.d = data;
	p.len = len;
	p.t = xcalloc(1, sizeof(*p.t));
	p.t->data = data;
	p.t->len = len;
	p.stack = xmalloc(((size_t)p.lim.max_depth + 2) * sizeof(*p.stack));
	p.bnd = xmalloc(((size_t)p.lim.max_depth + 2) * sizeof(*p.bnd));
	buf_init(&p.scratch, 0);
	mime_param_list_init(&p.params, MAX_PARAMS);

	unsigned root = part_new(&p, NONE, 0, 0);
	push_frame(&p, root, F_HEADER);
	while (p.sp > 0 && p.pos < len) {
		if (p.stack[p.sp - 1].state == F_HEADER)
			read_header(&p);
		else
			read_body(&p);
	}
	while (p.sp > 0)
		close_top(&p, len, p.nl);
	finish(&p);

	free(p.stack);
	free(p.bnd);
	free(p.links);
	buf_free(&p.scratch);
	mime_param_list_free(&p.params);
	return p.t;
}

void mime_tree_free(struct mime_tree **tree)
{
	struct mime_tree *t = *tree;
	if (t == NULL)
		return;
	*tree = NULL;
	for (struct mime_arena_block *b = t->arena, *n; b != NULL; b = n) {
		n = b->next;
		free(b);
	}
	free(t->parts);
	free(t);
}
