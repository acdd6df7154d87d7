/* imap_fetch.c - FETCH attribute lists (macros, BODY[section]<partial>,
 * BINARY, CONDSTORE/QRESYNC modifiers), STORE arguments and flag lists,
 * from the parser's argument tree into self-contained requests. */
#include "imap/imap_fetch.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"

#define MODSEQ_MAX INT64_MAX

static int fail(const char **error_r, const char *msg)
{
	*error_r = msg;
	return -1;
}

int imap_parse_modseq(const char *s, size_t len, bool allow_zero, uint64_t *value_r)
{
	uint64_t v;
	if (len == 0 || len > 19 || parse_u64(s, len, &v) < 0)
		return -1;
	if (v > MODSEQ_MAX || (v == 0 && !allow_zero))
		return -1;
	*value_r = v;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Sections */

/* ATOM-CHAR: what may appear in an atom we echo without quotes. */
static bool is_strict_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){\"\\%*]", c) == NULL;
}

/* A header field name character (RFC 5322 ftext: printable, no ':'). */
static bool is_field_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != ':';
}

static void add_field(struct imap_section *sec, const char *name, size_t len)
{
	sec->fields = xrealloc(sec->fields, (sec->field_count + 1) * sizeof(*sec->fields));
	sec->fields[sec->field_count].name = xstrndup(name, len);
	sec->fields[sec->field_count].len = len;
	sec->field_count++;
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")" at s[0..n). */
static int parse_header_list(const char *s, size_t n, struct imap_section *sec,
			     const char **error_r)
{
	size_t i = 0;
	if (n < 2 || s[0] != '(')
		return fail(error_r, "Missing header field list");
	i = 1;
	char tmp[1024];
	for (;;) {
		while (i < n && s[i] == ' ')
			i++;
		if (i >= n)
			return fail(error_r, "Missing ')' in header field list");
		if (s[i] == ')') {
			i++;
			break;
		}
		size_t tl = 0;
		if (s[i] == '"') {
			i++;
			for (;;) {
				if (i >= n)
					return fail(error_r, "Missing '\"' in header field list");
				unsigned char c = (unsigned char)s[i++];
				if (c == '"')
					break;
				if (c == '\\') {
					if (i >= n)
						return fail(error_r, "Invalid header field name");
					c = (unsigned char)s[i++];
				}
				if (!is_field_char(c) || tl >= sizeof(tmp))
					return fail(error_r, "Invalid header field name");
				tmp[tl++] = (char)c;
			}
			if (i < n && s[i] != ' ' && s[i] != ')')
				return fail(error_r, "Invalid header field list");
		} else {
			while (i < n && s[i] != ' ' && s[i] != ')') {
				unsigned char c = (unsigned char)s[i++];
				if (!is_field_char(c) || c == '(' || c == '{' || c == '"' ||
				    c == '\\' || tl >= sizeof(tmp))
					return fail(error_r, "Invalid header field name");
				tmp[tl++] = (char)c;
			}
		}
		if (tl == 0)
			return fail(error_r, "Empty header field name");
		add_field(sec, tmp, tl);
	}
	if (i != n)
		return fail(error_r, "Junk after header field list");
	if (sec->field_count == 0)
		return fail(error_r, "Empty header field list");
	return 0;
}

static bool starts_with_word(const char *s, size_t n, const char *word)
{
	size_t wl = strlen(word);
	return n >= wl && ascii_nieq(s, word, wl);
}

/* Parse the section text s[0..n) (between the brackets). binary: only part
 * numbers are allowed (section-binary). */
static int parse_section(const char *s, size_t n, bool binary, struct imap_section *sec,
			 const char **error_r)
{
	size_t i = 0;
	while (i < n && s[i] >= '0' && s[i] <= '9') {
		uint64_t v = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			v = v * 10 + (uint64_t)(s[i] - '0');
			if (v > UINT32_MAX)
				return fail(error_r, "Section part number too large");
			i++;
		}
		if (v == 0)
			return fail(error_r, "Section part number 0");
		if (sec->part_count == IMAP_SECTION_MAX_PARTS)
			return fail(error_r, "Section nested too deep");
		sec->parts[sec->part_count++] = (uint32_t)v;
		if (i == n)
			return 0;
		if (s[i] != '.')
			return fail(error_r, "Invalid section");
		i++;
		if (i == n)
			return fail(error_r, "Invalid section");
	}
	if (i == n)
		return 0; /* BODY[] */
	if (binary)
		return fail(error_r, "Invalid BINARY section");
	const char *t = s + i;
	size_t tn = n - i;
	if (starts_with_word(t, tn, "HEADER.FIELDS")) {
		size_t kw = strlen("HEADER.FIELDS");
		sec->text = IMAP_SECTION_HEADER_FIELDS;
		if (starts_with_word(t + kw, tn - kw, ".NOT")) {
			kw += 4;
			sec->text = IMAP_SECTION_HEADER_FIELDS_NOT;
		}
		if (kw >= tn || t[kw] != ' ')
			return fail(error_r, "Missing header field list");
		while (kw < tn && t[kw] == ' ')
			kw++;
		return parse_header_list(t + kw, tn - kw, sec, error_r);
	}
	if (tn == 6 && ascii_nieq(t, "HEADER", 6)) {
		sec->text = IMAP_SECTION_HEADER;
		return 0;
	}
	if (tn == 4 && ascii_nieq(t, "TEXT", 4)) {
		sec->text = IMAP_SECTION_TEXT;
		return 0;
	}
	if (tn == 4 && ascii_nieq(t, "MIME", 4)) {
		if (sec->part_count == 0)
			return fail(error_r, "MIME section needs a part number");
		sec->text = IMAP_SECTION_MIME;
		return 0;
	}
	return fail(error_r, "Invalid section");
}

/* "<offset.count>" at s[0..n). */
static int parse_partial(const char *s, size_t n, struct imap_fetch_item *item,
			 const char **error_r)
{
	if (n < 5 || s[0] != '<' || s[n - 1] != '>')
		return fail(error_r, "Invalid partial");
	const char *dot = memchr(s, '.', n);
	if (dot == NULL)
		return fail(error_r, "Invalid partial");
	size_t ol = (size_t)(dot - s) - 1;
	size_t cl = n - 2 - ol - 1;
	uint64_t off, count;
	if (ol == 0 || ol > 19 || parse_u64(s + 1, ol, &off) < 0 || off > MODSEQ_MAX)
		return fail(error_r, "Invalid partial offset");
	if (cl == 0 || cl > 19 || parse_u64(dot + 1, cl, &count) < 0 || count == 0 ||
	    count > MODSEQ_MAX)
		return fail(error_r, "Invalid partial length");
	item->partial = true;
	item->partial_offset = off;
	item->partial_count = count;
	return 0;
}

struct simple_att {
	const char *name;
	enum imap_fetch_att att;
};

static const struct simple_att simple_atts[] = {
    {"FLAGS", IMAP_FETCH_FLAGS},
    {"INTERNALDATE", IMAP_FETCH_INTERNALDATE},
    {"RFC822", IMAP_FETCH_RFC822},
    {"RFC822.HEADER", IMAP_FETCH_RFC822_HEADER},
    {"RFC822.SIZE", IMAP_FETCH_RFC822_SIZE},
    {"RFC822.TEXT", IMAP_FETCH_RFC822_TEXT},
    {"ENVELOPE", IMAP_FETCH_ENVELOPE},
    {"BODY", IMAP_FETCH_BODY},
    {"BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE},
    {"UID", IMAP_FETCH_UID},
    {"MODSEQ", IMAP_FETCH_MODSEQ},
};

void imap_fetch_item_free(struct imap_fetch_item *item)
{
	free(item->section.raw);
	for (unsigned i = 0; i < item->section.field_count; i++)
		free(item->section.fields[i].name);
	free(item->section.fields);
	memset(item, 0, sizeof(*item));
}

int imap_fetch_item_parse(const char *s, size_t len, struct imap_fetch_item *item_r,
			  const char **error_r)
{
	memset(item_r, 0, sizeof(*item_r));
	const char *lb = memchr(s, '[', len);
	if (lb == NULL) {
		for (size_t i = 0; i < sizeof(simple_atts) / sizeof(simple_atts[0]); i++) {
			size_t nl = strlen(simple_atts[i].name);
			if (nl == len && ascii_nieq(s, simple_atts[i].name, nl)) {
				item_r->att = simple_atts[i].att;
				return 0;
			}
		}
		return fail(error_r, "Unknown FETCH attribute");
	}
	size_t pl = (size_t)(lb - s);
	bool binary = false, size_only = false;
	if (pl == 4 && ascii_nieq(s, "BODY", 4)) {
		item_r->att = IMAP_FETCH_BODY_SECTION;
	} else if (pl == 9 && ascii_nieq(s, "BODY.PEEK", 9)) {
		item_r->att = IMAP_FETCH_BODY_SECTION;
		item_r->peek = true;
	} else if (pl == 6 && ascii_nieq(s, "BINARY", 6)) {
		item_r->att = IMAP_FETCH_BINARY;
		binary = true;
	} else if (pl == 11 && ascii_nieq(s, "BINARY.PEEK", 11)) {
		item_r->att = IMAP_FETCH_BINARY;
		item_r->peek = true;
		binary = true;
	} else if (pl == 11 && ascii_nieq(s, "BINARY.SIZE", 11)) {
		item_r->att = IMAP_FETCH_BINARY_SIZE;
		binary = true;
		size_only = true;
	} else {
		return fail(error_r, "Unknown FETCH attribute");
	}
	/* The closing ']' is the first one outside a quoted string. */
	size_t i = pl + 1;
	bool quoted = false;
	for (; i < len; i++) {
		if (quoted) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				quoted = false;
		} else if (s[i] == '"') {
			quoted = true;
		} else if (s[i] == ']') {
			break;
		}
	}
	if (i >= len)
		return fail(error_r, "Missing ']' in section");
	size_t rb = i;
	struct imap_section *sec = &item_r->section;
	sec->raw_len = rb - pl - 1;
	sec->raw = xstrndup(s + pl + 1, sec->raw_len);
	if (parse_section(sec->raw, sec->raw_len, binary, sec, error_r) < 0) {
		imap_fetch_item_free(item_r);
		return -1;
	}
	size_t rest = len - rb - 1;
	if (rest > 0) {
		if (size_only || parse_partial(s + rb + 1, rest, item_r, error_r) < 0) {
			if (size_only)
				*error_r = "Junk after BINARY.SIZE section";
			imap_fetch_item_free(item_r);
			return -1;
		}
	}
	return 0;
}

static int append_field_name(struct buf *out, const struct imap_header_name *f)
{
	bool atom = f->len > 0;
	for (size_t i = 0; i < f->len; i++)
		if (!is_strict_atom_char((unsigned char)f->name[i]))
			atom = false;
	if (atom)
		return buf_append(out, f->name, f->len);
	if (buf_append(out, "\"", 1) < 0)
		return -1;
	for (size_t i = 0; i < f->len; i++) {
		char c = f->name[i];
		if ((c == '"' || c == '\\') && buf_append(out, "\\", 1) < 0)
			return -1;
		if (buf_append(out, &c, 1) < 0)
			return -1;
	}
	return buf_append(out, "\"", 1);
}

static int append_section(struct buf *out, const struct imap_section *sec)
{
	static const char *const texts[] = {"",	    "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT",
					    "TEXT", "MIME"};
	if (buf_append(out, "[", 1) < 0)
		return -1;
	for (unsigned i = 0; i < sec->part_count; i++)
		if (buf_printf(out, i > 0 ? ".%u" : "%u", (unsigned)sec->parts[i]) < 0)
			return -1;
	if (sec->text != IMAP_SECTION_ALL) {
		if (sec->part_count > 0 && buf_append(out, ".", 1) < 0)
			return -1;
		if (buf_append_str(out, texts[sec->text]) < 0)
			return -1;
	}
	if (sec->text == IMAP_SECTION_HEADER_FIELDS ||
	    sec->text == IMAP_SECTION_HEADER_FIELDS_NOT) {
		if (buf_append(out, " (", 2) < 0)
			return -1;
		for (unsigned i = 0; i < sec->field_count; i++) {
			if (i > 0 && buf_append(out, " ", 1) < 0)
				return -1;
			if (append_field_name(out, &sec->fields[i]) < 0)
				return -1;
		}
		if (buf_append(out, ")", 1) < 0)
			return -1;
	}
	return buf_append(out, "]", 1);
}

int imap_fetch_item_name(const struct imap_fetch_item *item, struct buf *out)
{
	const char *prefix;
	switch (item->att) {
	case IMAP_FETCH_BODY_SECTION:
		prefix = "BODY";
		break;
	case IMAP_FETCH_BINARY:
		prefix = "BINARY";
		break;
	case IMAP_FETCH_BINARY_SIZE:
		prefix = "BINARY.SIZE";
		break;
	default:
		for (size_t i = 0; i < sizeof(simple_atts) / sizeof(simple_atts[0]); i++)
			if (simple_atts[i].att == item->att)
				return buf_append_str(out, simple_atts[i].name);
		return -1;
	}
	if (buf_append_str(out, prefix) < 0 || append_section(out, &item->section) < 0)
		return -1;
	if (item->partial &&
	    buf_printf(out, "<%llu>", (unsigned long long)item->partial_offset) < 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* FETCH */

static bool is_simple(enum imap_fetch_att att)
{
	return att != IMAP_FETCH_BODY_SECTION && att != IMAP_FETCH_BINARY &&
	       att != IMAP_FETCH_BINARY_SIZE;
}

static bool has_att(const struct imap_fetch_request *req, enum imap_fetch_att att)
{
	for (unsigned i = 0; i < req->item_count; i++)
		if (req->items[i].att == att)
			return true;
	return false;
}

/* Takes over *item's memory. */
static void add_item(struct imap_fetch_request *req, struct imap_fetch_item *item)
{
	if (is_simple(item->att) && has_att(req, item->att)) {
		imap_fetch_item_free(item);
		return;
	}
	req->items = xrealloc(req->items, (req->item_count + 1) * sizeof(*req->items));
	req->items[req->item_count++] = *item;
	if (!item->peek && (item->att == IMAP_FETCH_RFC822 || item->att == IMAP_FETCH_RFC822_TEXT ||
			    item->att == IMAP_FETCH_BODY_SECTION || item->att == IMAP_FETCH_BINARY))
		req->sets_seen = true;
}

static void add_simple(struct imap_fetch_request *req, enum imap_fetch_att att)
{
	struct imap_fetch_item item;
	memset(&item, 0, sizeof(item));
	item.att = att;
	add_item(req, &item);
}

static int parse_att_arg(const struct imap_arg *arg, struct imap_fetch_request *req,
			 const char **error_r)
{
	const char *s;
	size_t len;
	if (arg->type != IMAP_ARG_ATOM)
		return fail(error_r, "Invalid FETCH attribute");
	imap_arg_get_atom(arg, &s, &len);
	struct imap_fetch_item item;
	if (imap_fetch_item_parse(s, len, &item, error_r) < 0)
		return -1;
	add_item(req, &item);
	return 0;
}

static int parse_fetch_modifiers(const struct imap_arg *list, bool uid,
				 struct imap_fetch_request *req, const char **error_r)
{
	const struct imap_arg *a = list;
	if (imap_arg_is_eol(a))
		return fail(error_r, "Empty FETCH modifier list");
	while (!imap_arg_is_eol(a)) {
		if (imap_arg_atom_equals(a, "CHANGEDSINCE")) {
			const char *s;
			size_t len;
			if (req->changedsince_given)
				return fail(error_r, "Duplicate CHANGEDSINCE");
			if (a[1].type != IMAP_ARG_ATOM || !imap_arg_get_atom(&a[1], &s, &len) ||
			    imap_parse_modseq(s, len, true, &req->changedsince) < 0)
				return fail(error_r, "Invalid CHANGEDSINCE value");
			req->changedsince_given = true;
			a += 2;
		} else if (imap_arg_atom_equals(a, "VANISHED")) {
			if (!uid)
				return fail(error_r, "VANISHED only with UID FETCH");
			if (req->vanished)
				return fail(error_r, "Duplicate VANISHED");
			req->vanished = true;
			a++;
		} else {
			return fail(error_r, "Unknown FETCH modifier");
		}
	}
	if (req->vanished && !req->changedsince_given)
		return fail(error_r, "VANISHED needs CHANGEDSINCE");
	return 0;
}

void imap_fetch_request_free(struct imap_fetch_request *req)
{
	for (unsigned i = 0; i < req->item_count; i++)
		imap_fetch_item_free(&req->items[i]);
	free(req->items);
	imap_seqset_free(&req->set);
	memset(req, 0, sizeof(*req));
}

int imap_fetch_parse(const struct imap_arg *args, bool uid, unsigned seqset_flags,
		     struct imap_fetch_request *req_r, const char **error_r)
{
	memset(req_r, 0, sizeof(*req_r));
	imap_seqset_init(&req_r->set);
	req_r->uid = uid;
	const char *s;
	size_t len;
	if (args[0].type != IMAP_ARG_ATOM || !imap_arg_get_atom(&args[0], &s, &len))
		return fail(error_r, "Missing sequence set");
	if (imap_seqset_parse(s, len, seqset_flags, &req_r->set, error_r) < 0)
		return -1;
	const struct imap_arg *att = &args[1];
	if (att->type == IMAP_ARG_LIST) {
		const struct imap_arg *list = att->list;
		if (imap_arg_is_eol(list))
			return fail(error_r, "Empty FETCH attribute list");
		for (; !imap_arg_is_eol(list); list++)
			if (parse_att_arg(list, req_r, error_r) < 0)
				return -1;
	} else if (imap_arg_atom_equals(att, "ALL") || imap_arg_atom_equals(att, "FAST") ||
		   imap_arg_atom_equals(att, "FULL")) {
		add_simple(req_r, IMAP_FETCH_FLAGS);
		add_simple(req_r, IMAP_FETCH_INTERNALDATE);
		add_simple(req_r, IMAP_FETCH_RFC822_SIZE);
		if (!imap_arg_atom_equals(att, "FAST"))
			add_simple(req_r, IMAP_FETCH_ENVELOPE);
		if (imap_arg_atom_equals(att, "FULL"))
			add_simple(req_r, IMAP_FETCH_BODY);
	} else if (att->type == IMAP_ARG_ATOM) {
		if (parse_att_arg(att, req_r, error_r) < 0)
			return -1;
	} else {
		return fail(error_r, "Missing FETCH attributes");
	}
	const struct imap_arg *mod = &args[2];
	if (mod->type == IMAP_ARG_LIST) {
		if (parse_fetch_modifiers(mod->list, uid, req_r, error_r) < 0)
			return -1;
		mod++;
	}
	if (!imap_arg_is_eol(mod))
		return fail(error_r, "Junk after FETCH arguments");
	if (uid && !has_att(req_r, IMAP_FETCH_UID))
		add_simple(req_r, IMAP_FETCH_UID);
	if (req_r->changedsince_given && !has_att(req_r, IMAP_FETCH_MODSEQ))
		add_simple(req_r, IMAP_FETCH_MODSEQ);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Flags and STORE */

void imap_flags_init(struct imap_flags *flags)
{
	memset(flags, 0, sizeof(*flags));
}

void imap_flags_free(struct imap_flags *flags)
{
	for (unsigned i = 0; i < flags->keyword_count; i++)
		free(flags->keywords[i]);
	free(flags->keywords);
	memset(flags, 0, sizeof(*flags));
}

bool imap_keyword_valid(const char *s, size_t len)
{
	if (len == 0 || len > IMAP_KEYWORD_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_strict_atom_char((unsigned char)s[i]))
			return false;
	return true;
}

struct system_flag {
	const char *name;
	unsigned bit;
};

static const struct system_flag system_flags[] = {
    {"\\Seen", IMAP_FLAG_SEEN},	      {"\\Answered", IMAP_FLAG_ANSWERED},
    {"\\Flagged", IMAP_FLAG_FLAGGED}, {"\\Deleted", IMAP_FLAG_DELETED},
    {"\\Draft", IMAP_FLAG_DRAFT},
};

int imap_flags_parse(const struct imap_arg *args, struct imap_flags *flags_r, const char **error_r)
{
	for (const struct imap_arg *a = args; !imap_arg_is_eol(a); a++) {
		const char *s;
		size_t len;
		if (!imap_arg_get_atom(a, &s, &len))
			return fail(error_r, "Invalid flag");
		if (len > 0 && s[0] == '\\') {
			unsigned bit = 0;
			for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]);
			     i++) {
				size_t nl = strlen(system_flags[i].name);
				if (nl == len && ascii_nieq(s, system_flags[i].name, nl))
					bit = system_flags[i].bit;
			}
			if (bit == 0)
				return fail(error_r, len == 7 && ascii_nieq(s, "\\Recent", 7)
							 ? "\\Recent flag cannot be set"
							 : "Invalid system flag");
			flags_r->system |= bit;
			continue;
		}
		if (!imap_keyword_valid(s, len))
			return fail(error_r, "Invalid keyword");
		bool dup = false;
		for (unsigned i = 0; i < flags_r->keyword_count; i++)
			if (strlen(flags_r->keywords[i]) == len &&
			    ascii_nieq(flags_r->keywords[i], s, len))
				dup = true;
		if (dup)
			continue;
		flags_r->keywords =
		    xrealloc(flags_r->keywords, (flags_r->keyword_count + 1) * sizeof(char *));
		flags_r->keywords[flags_r->keyword_count++] = xstrndup(s, len);
	}
	return 0;
}

int imap_flag_list_parse(const struct imap_arg *arg, struct imap_flags *flags_r,
			 const char **error_r)
{
	if (arg->type != IMAP_ARG_LIST)
		return fail(error_r, "Flag list expected");
	return imap_flags_parse(arg->list, flags_r, error_r);
}

void imap_store_request_free(struct imap_store_request *req)
{
	imap_seqset_free(&req->set);
	imap_flags_free(&req->flags);
	memset(req, 0, sizeof(*req));
}

int imap_store_parse(const struct imap_arg *args, unsigned seqset_flags,
		     struct imap_store_request *req_r, const char **error_r)
{
	memset(req_r, 0, sizeof(*req_r));
	imap_seqset_init(&req_r->set);
	imap_flags_init(&req_r->flags);
	const char *s;
	size_t len;
	if (args[0].type != IMAP_ARG_ATOM || !imap_arg_get_atom(&args[0], &s, &len))
		return fail(error_r, "Missing sequence set");
	if (imap_seqset_parse(s, len, seqset_flags, &req_r->set, error_r) < 0)
		return -1;
	const struct imap_arg *a = &args[1];
	if (a->type == IMAP_ARG_LIST) {
		const struct imap_arg *m = a->list;
		if (imap_arg_is_eol(m))
			return fail(error_r, "Empty STORE modifier list");
		while (!imap_arg_is_eol(m)) {
			if (!imap_arg_atom_equals(m, "UNCHANGEDSINCE"))
				return fail(error_r, "Unknown STORE modifier");
			if (req_r->unchangedsince_given)
				return fail(error_r, "Duplicate UNCHANGEDSINCE");
			if (m[1].type != IMAP_ARG_ATOM || !imap_arg_get_atom(&m[1], &s, &len) ||
			    imap_parse_modseq(s, len, true, &req_r->unchangedsince) < 0)
				return fail(error_r, "Invalid UNCHANGEDSINCE value");
			req_r->unchangedsince_given = true;
			m += 2;
		}
		a++;
	}
	if (a->type != IMAP_ARG_ATOM || !imap_arg_get_atom(a, &s, &len))
		return fail(error_r, "Missing STORE data item");
	req_r->mode = IMAP_STORE_REPLACE;
	if (len > 0 && (s[0] == '+' || s[0] == '-')) {
		req_r->mode = s[0] == '+' ? IMAP_STORE_ADD : IMAP_STORE_REMOVE;
		s++;
		len--;
	}
	if (len == 12 && ascii_nieq(s, "FLAGS.SILENT", 12))
		req_r->silent = true;
	else if (!(len == 5 && ascii_nieq(s, "FLAGS", 5)))
		return fail(error_r, "Invalid STORE data item");
	a++;
	if (a->type == IMAP_ARG_LIST) {
		if (imap_flags_parse(a->list, &req_r->flags, error_r) < 0)
			return -1;
		a++;
		if (!imap_arg_is_eol(a))
			return fail(error_r, "Junk after flag list");
		return 0;
	}
	if (imap_arg_is_eol(a))
		return fail(error_r, "Missing flags");
	return imap_flags_parse(a, &req_r->flags, error_r);
}
