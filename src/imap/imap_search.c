/* imap_search.c - builds search programs from SEARCH / SORT / THREAD
 * arguments: a recursive-descent reader over the argument tree, bounded in
 * depth, that validates every operand (dates, numbers, sets, UTF-8). */
#include "imap/imap_search.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "core/util.h"
#include "imap/imap_date.h"
#include "imap/imap_fetch.h"

#define DEFAULT_MAX_DEPTH 32

enum operand {
	OP_NONE,
	OP_STRING,
	OP_KEYWORD,
	OP_HEADER,
	OP_DATE,
	OP_NUMBER,
	OP_UID,
	OP_NOT,
	OP_OR,
	OP_MODSEQ,
};

struct key_def {
	const char *name;
	enum imap_search_key key;
	enum operand op;
};

static const struct key_def key_defs[] = {
    {"ALL", IMAP_SEARCH_ALL, OP_NONE},
    {"ANSWERED", IMAP_SEARCH_ANSWERED, OP_NONE},
    {"BCC", IMAP_SEARCH_BCC, OP_STRING},
    {"BEFORE", IMAP_SEARCH_BEFORE, OP_DATE},
    {"BODY", IMAP_SEARCH_BODY, OP_STRING},
    {"CC", IMAP_SEARCH_CC, OP_STRING},
    {"DELETED", IMAP_SEARCH_DELETED, OP_NONE},
    {"DRAFT", IMAP_SEARCH_DRAFT, OP_NONE},
    {"FLAGGED", IMAP_SEARCH_FLAGGED, OP_NONE},
    {"FROM", IMAP_SEARCH_FROM, OP_STRING},
    {"HEADER", IMAP_SEARCH_HEADER, OP_HEADER},
    {"KEYWORD", IMAP_SEARCH_KEYWORD, OP_KEYWORD},
    {"LARGER", IMAP_SEARCH_LARGER, OP_NUMBER},
    {"MODSEQ", IMAP_SEARCH_MODSEQ, OP_MODSEQ},
    {"NEW", IMAP_SEARCH_NEW, OP_NONE},
    {"NOT", IMAP_SEARCH_NOT, OP_NOT},
    {"OLD", IMAP_SEARCH_OLD, OP_NONE},
    {"ON", IMAP_SEARCH_ON, OP_DATE},
    {"OR", IMAP_SEARCH_OR, OP_OR},
    {"RECENT", IMAP_SEARCH_RECENT, OP_NONE},
    {"SEEN", IMAP_SEARCH_SEEN, OP_NONE},
    {"SENTBEFORE", IMAP_SEARCH_SENTBEFORE, OP_DATE},
    {"SENTON", IMAP_SEARCH_SENTON, OP_DATE},
    {"SENTSINCE", IMAP_SEARCH_SENTSINCE, OP_DATE},
    {"SINCE", IMAP_SEARCH_SINCE, OP_DATE},
    {"SMALLER", IMAP_SEARCH_SMALLER, OP_NUMBER},
    {"SUBJECT", IMAP_SEARCH_SUBJECT, OP_STRING},
    {"TEXT", IMAP_SEARCH_TEXT, OP_STRING},
    {"TO", IMAP_SEARCH_TO, OP_STRING},
    {"UID", IMAP_SEARCH_UID, OP_UID},
    {"UNANSWERED", IMAP_SEARCH_UNANSWERED, OP_NONE},
    {"UNDELETED", IMAP_SEARCH_UNDELETED, OP_NONE},
    {"UNDRAFT", IMAP_SEARCH_UNDRAFT, OP_NONE},
    {"UNFLAGGED", IMAP_SEARCH_UNFLAGGED, OP_NONE},
    {"UNKEYWORD", IMAP_SEARCH_UNKEYWORD, OP_KEYWORD},
    {"UNSEEN", IMAP_SEARCH_UNSEEN, OP_NONE},
};

#define N_KEY_DEFS (sizeof(key_defs) / sizeof(key_defs[0]))

const char *imap_search_key_name(enum imap_search_key key)
{
	switch (key) {
	case IMAP_SEARCH_AND:
		return "AND";
	case IMAP_SEARCH_SEQSET:
		return "SEQSET";
	default:
		break;
	}
	for (size_t i = 0; i < N_KEY_DEFS; i++)
		if (key_defs[i].key == key)
			return key_defs[i].name;
	return "?";
}

struct ctx {
	struct imap_search_program *prog;
	unsigned max_depth;
	bool allow_searchres;
	const char *error;
};

static struct imap_search_node *node_new(enum imap_search_key key)
{
	struct imap_search_node *n = xcalloc(1, sizeof(*n));
	n->key = key;
	imap_seqset_init(&n->set);
	return n;
}

static void node_free(struct imap_search_node *n)
{
	while (n != NULL) {
		struct imap_search_node *next = n->next;
		node_free(n->children);
		free(n->str);
		free(n->field);
		free(n->modseq_entry);
		imap_seqset_free(&n->set);
		free(n);
		n = next;
	}
}

static int bad(struct ctx *c, const char *msg)
{
	c->error = msg;
	return -1;
}

/* An astring operand that must be valid UTF-8 without NUL. */
static int get_string(struct ctx *c, const struct imap_arg *a, char **str_r, size_t *len_r)
{
	const char *s;
	size_t len;
	if (!imap_arg_get_astring(a, &s, &len))
		return bad(c, "Missing search string");
	if (memchr(s, '\0', len) != NULL)
		return bad(c, "NUL in search string");
	if (!utf8_valid(s, len))
		return bad(c, "Search string is not valid UTF-8");
	*str_r = xstrndup(s, len);
	*len_r = len;
	return 0;
}

static int get_number(struct ctx *c, const struct imap_arg *a, uint64_t *v_r)
{
	const char *s;
	size_t len;
	uint64_t v;
	if (a->type != IMAP_ARG_ATOM || !imap_arg_get_atom(a, &s, &len) || len > 19 ||
	    parse_u64(s, len, &v) < 0 || v > INT64_MAX)
		return bad(c, "Invalid number");
	*v_r = v;
	return 0;
}

static int get_date(struct ctx *c, const struct imap_arg *a, int64_t *day_r)
{
	const char *s;
	size_t len;
	const char *why;
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_QUOTED)
		return bad(c, "Invalid search date");
	imap_arg_get_astring(a, &s, &len);
	if (imap_date_parse(s, len, day_r, &why) < 0)
		return bad(c, why);
	return 0;
}

static int get_set(struct ctx *c, const struct imap_arg *a, struct imap_seqset *set)
{
	const char *s;
	size_t len;
	if (a->type != IMAP_ARG_ATOM || !imap_arg_get_atom(a, &s, &len))
		return bad(c, "Invalid sequence set");
	imap_seqset_free(set);
	if (imap_seqset_parse(s, len, c->allow_searchres ? IMAP_SEQSET_ALLOW_SEARCHRES : 0, set,
			      &c->error) < 0)
		return -1;
	if (set->searchres)
		c->prog->uses_searchres = true;
	return 0;
}

/* "/flags/" attr-flag, as RFC 7162 entry-flag-name (quotes removed). */
static bool valid_entry_name(const char *s, size_t len)
{
	if (len <= 7 || !ascii_nieq(s, "/flags/", 7))
		return false;
	s += 7;
	len -= 7;
	if (s[0] == '\\') {
		s++;
		len--;
	}
	return imap_keyword_valid(s, len);
}

static int parse_key(struct ctx *c, const struct imap_arg **ap, unsigned depth,
		     struct imap_search_node **node_r);

/* Keys of an argument array up to its EOL, as the children of `group`. */
static int parse_keys(struct ctx *c, const struct imap_arg *a, unsigned depth,
		      struct imap_search_node *group)
{
	struct imap_search_node **tail = &group->children;
	if (imap_arg_is_eol(a))
		return bad(c, "Missing search key");
	while (!imap_arg_is_eol(a)) {
		/* linked before it is filled, so that a failure frees it too */
		if (parse_key(c, &a, depth, tail) < 0)
			return -1;
		tail = &(*tail)->next;
	}
	return 0;
}

static int parse_key(struct ctx *c, const struct imap_arg **ap, unsigned depth,
		     struct imap_search_node **node_r)
{
	const struct imap_arg *a = *ap;
	if (imap_arg_is_eol(a))
		return bad(c, "Missing search key");

	if (a->type == IMAP_ARG_LIST) {
		if (depth + 1 > c->max_depth)
			return bad(c, "Search program nested too deep");
		struct imap_search_node *n = node_new(IMAP_SEARCH_AND);
		*node_r = n;
		if (parse_keys(c, a->list, depth + 1, n) < 0)
			return -1;
		*ap = a + 1;
		return 0;
	}
	const char *s;
	size_t len;
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL)
		return bad(c, "Invalid search key");
	imap_arg_get_atom(a, &s, &len);
	if ((s[0] >= '0' && s[0] <= '9') || s[0] == '*' || (len == 1 && s[0] == '$')) {
		struct imap_search_node *n = node_new(IMAP_SEARCH_SEQSET);
		*node_r = n;
		if (get_set(c, a, &n->set) < 0)
			return -1;
		*ap = a + 1;
		return 0;
	}
	const struct key_def *def = NULL;
	for (size_t i = 0; i < N_KEY_DEFS; i++) {
		size_t nl = strlen(key_defs[i].name);
		if (nl == len && ascii_nieq(s, key_defs[i].name, nl)) {
			def = &key_defs[i];
			break;
		}
	}
	if (def == NULL)
		return bad(c, "Unknown search key");
	struct imap_search_node *n = node_new(def->key);
	*node_r = n;
	a++;
	switch (def->op) {
	case OP_NONE:
		break;
	case OP_STRING:
		if (get_string(c, a, &n->str, &n->str_len) < 0)
			return -1;
		a++;
		break;
	case OP_KEYWORD: {
		const char *k;
		size_t kl;
		if (!imap_arg_get_astring(a, &k, &kl) || !imap_keyword_valid(k, kl))
			return bad(c, "Invalid keyword");
		n->str = xstrndup(k, kl);
		n->str_len = kl;
		a++;
		break;
	}
	case OP_HEADER: {
		if (get_string(c, a, &n->field, &n->field_len) < 0)
			return -1;
		if (n->field_len == 0)
			return bad(c, "Empty header field name");
		for (size_t i = 0; i < n->field_len; i++) {
			unsigned char ch = (unsigned char)n->field[i];
			if (ch <= 0x20 || ch >= 0x7f || ch == ':')
				return bad(c, "Invalid header field name");
		}
		a++;
		if (get_string(c, a, &n->str, &n->str_len) < 0)
			return -1;
		a++;
		break;
	}
	case OP_DATE:
		if (get_date(c, a, &n->day) < 0)
			return -1;
		a++;
		break;
	case OP_NUMBER:
		if (get_number(c, a, &n->number) < 0)
			return -1;
		a++;
		break;
	case OP_UID:
		if (get_set(c, a, &n->set) < 0)
			return -1;
		a++;
		break;
	case OP_NOT:
	case OP_OR:
		if (depth + 1 > c->max_depth)
			return bad(c, "Search program nested too deep");
		if (parse_key(c, &a, depth + 1, &n->children) < 0)
			return -1;
		if (def->op == OP_OR && parse_key(c, &a, depth + 1, &n->children->next) < 0)
			return -1;
		break;
	case OP_MODSEQ:
		c->prog->uses_modseq = true;
		if (a->type == IMAP_ARG_QUOTED) {
			if (!valid_entry_name(a->str, a->len))
				return bad(c, "Invalid MODSEQ entry name");
			n->modseq_entry = xstrndup(a->str, a->len);
			a++;
			if (imap_arg_atom_equals(a, "priv"))
				n->modseq_type = IMAP_MODSEQ_ENTRY_PRIV;
			else if (imap_arg_atom_equals(a, "shared"))
				n->modseq_type = IMAP_MODSEQ_ENTRY_SHARED;
			else if (imap_arg_atom_equals(a, "all"))
				n->modseq_type = IMAP_MODSEQ_ENTRY_ALL;
			else
				return bad(c, "Invalid MODSEQ entry type");
			a++;
		}
		if (a->type != IMAP_ARG_ATOM || !imap_arg_get_atom(a, &s, &len) ||
		    imap_parse_modseq(s, len, true, &n->number) < 0)
			return bad(c, "Invalid MODSEQ value");
		a++;
		break;
	}
	*ap = a;
	return 0;
}

/* One side of a partial range: nz-number, or "-" nz-number when negative. */
static int partial_number(const char *s, size_t len, bool negative, uint32_t *v_r)
{
	uint64_t v;
	if (negative) {
		if (len < 2 || s[0] != '-')
			return -1;
		s++;
		len--;
	}
	if (len > 10 || parse_u64(s, len, &v) < 0 || v == 0 || v > UINT32_MAX)
		return -1;
	*v_r = (uint32_t)v;
	return 0;
}

/* RFC 9394: partial-range = "n:m" (from the start) / "-n:-m" (from the end). */
static int parse_partial_range(struct ctx *c, const struct imap_arg *a)
{
	const char *s;
	size_t len;
	if (a->type != IMAP_ARG_ATOM || !imap_arg_get_atom(a, &s, &len))
		return bad(c, "Invalid PARTIAL range");
	const char *colon = memchr(s, ':', len);
	if (colon == NULL)
		return bad(c, "Invalid PARTIAL range");
	bool negative = s[0] == '-';
	size_t ll = (size_t)(colon - s);
	uint32_t lo, hi;
	if (partial_number(s, ll, negative, &lo) < 0 ||
	    partial_number(colon + 1, len - ll - 1, negative, &hi) < 0)
		return bad(c, "Invalid PARTIAL range");
	if (lo > hi) {
		uint32_t t = lo;
		lo = hi;
		hi = t;
	}
	c->prog->partial_first = lo;
	c->prog->partial_last = hi;
	c->prog->partial_from_end = negative;
	return 0;
}

static int parse_return(struct ctx *c, const struct imap_arg *list)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {
	    {"MIN", IMAP_SEARCH_RETURN_MIN},   {"MAX", IMAP_SEARCH_RETURN_MAX},
	    {"ALL", IMAP_SEARCH_RETURN_ALL},   {"COUNT", IMAP_SEARCH_RETURN_COUNT},
	    {"SAVE", IMAP_SEARCH_RETURN_SAVE},
	};
	c->prog->return_given = true;
	for (const struct imap_arg *a = list; !imap_arg_is_eol(a); a++) {
		unsigned bit = 0;
		if (imap_arg_atom_equals(a, "PARTIAL")) {
			if ((c->prog->return_opts & IMAP_SEARCH_RETURN_PARTIAL) != 0)
				return bad(c, "Duplicate PARTIAL");
			a++;
			if (parse_partial_range(c, a) < 0)
				return -1;
			c->prog->return_opts |= IMAP_SEARCH_RETURN_PARTIAL;
			continue;
		}
		for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
			if (imap_arg_atom_equals(a, opts[i].name))
				bit = opts[i].bit;
		if (bit == 0)
			return bad(c, "Unknown RETURN option");
		c->prog->return_opts |= bit;
	}
	if (c->prog->return_opts == 0)
		c->prog->return_opts = IMAP_SEARCH_RETURN_ALL; /* RFC 4731 3.1 */
	return 0;
}

static int parse_sort(struct ctx *c, const struct imap_arg *list)
{
	static const struct {
		const char *name;
		enum imap_sort_key key;
	} keys[] = {
	    {"ARRIVAL", IMAP_SORT_ARRIVAL},
	    {"CC", IMAP_SORT_CC},
	    {"DATE", IMAP_SORT_DATE},
	    {"FROM", IMAP_SORT_FROM},
	    {"SIZE", IMAP_SORT_SIZE},
	    {"SUBJECT", IMAP_SORT_SUBJECT},
	    {"TO", IMAP_SORT_TO},
	    {"DISPLAYFROM", IMAP_SORT_DISPLAYFROM},
	    {"DISPLAYTO", IMAP_SORT_DISPLAYTO},
	};
	struct imap_search_program *p = c->prog;
	const struct imap_arg *a = list;
	if (imap_arg_is_eol(a))
		return bad(c, "Empty sort criteria");
	while (!imap_arg_is_eol(a)) {
		bool reverse = false;
		if (imap_arg_atom_equals(a, "REVERSE")) {
			reverse = true;
			a++;
		}
		bool found = false;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (imap_arg_atom_equals(a, keys[i].name)) {
				p->sort = xrealloc(p->sort, (p->sort_count + 1) * sizeof(*p->sort));
				p->sort[p->sort_count].key = keys[i].key;
				p->sort[p->sort_count].reverse = reverse;
				p->sort_count++;
				found = true;
				break;
			}
		}
		if (!found)
			return bad(c, "Invalid sort criterion");
		a++;
	}
	return 0;
}

/* Returns 0, -1 (BAD) or -2 (BADCHARSET). */
static int parse_charset(struct ctx *c, const struct imap_arg *a)
{
	const char *s;
	size_t len;
	if (!imap_arg_get_astring(a, &s, &len))
		return bad(c, "Missing charset");
	c->prog->charset_given = true;
	if (len == 5 && ascii_nieq(s, "UTF-8", 5)) {
		c->prog->charset = IMAP_SEARCH_CHARSET_UTF8;
	} else if (len == 8 && ascii_nieq(s, "US-ASCII", 8)) {
		c->prog->charset = IMAP_SEARCH_CHARSET_US_ASCII;
	} else {
		c->error = "Unsupported charset";
		return -2;
	}
	return 0;
}

enum imap_search_status imap_search_parse(const struct imap_arg *args,
					  enum imap_search_command command,
					  const struct imap_search_options *opts,
					  struct imap_search_program **prog_r, const char **error_r)
{
	struct ctx c;
	memset(&c, 0, sizeof(c));
	c.max_depth = opts != NULL && opts->max_depth != 0 ? opts->max_depth : DEFAULT_MAX_DEPTH;
	c.allow_searchres = opts != NULL && opts->allow_searchres;
	c.prog = xcalloc(1, sizeof(*c.prog));
	c.prog->command = command;
	c.prog->charset = IMAP_SEARCH_CHARSET_US_ASCII;
	c.prog->root = node_new(IMAP_SEARCH_AND);
	*prog_r = NULL;

	const struct imap_arg *a = args;
	int r = 0;
	if (command != IMAP_SEARCH_CMD_THREAD && imap_arg_atom_equals(a, "RETURN")) {
		a++;
		if (a->type != IMAP_ARG_LIST) {
			r = bad(&c, "RETURN needs a list of options");
			goto out;
		}
		if ((r = parse_return(&c, a->list)) < 0)
			goto out;
		a++;
	}
	switch (command) {
	case IMAP_SEARCH_CMD_SEARCH:
		if (imap_arg_atom_equals(a, "CHARSET")) {
			if ((r = parse_charset(&c, a + 1)) < 0)
				goto out;
			a += 2;
		}
		break;
	case IMAP_SEARCH_CMD_SORT:
		if (a->type != IMAP_ARG_LIST) {
			r = bad(&c, "Missing sort criteria");
			goto out;
		}
		if ((r = parse_sort(&c, a->list)) < 0)
			goto out;
		a++;
		if ((r = parse_charset(&c, a)) < 0)
			goto out;
		a++;
		break;
	case IMAP_SEARCH_CMD_THREAD:
		if (imap_arg_atom_equals(a, "ORDEREDSUBJECT")) {
			c.prog->thread = IMAP_THREAD_ORDEREDSUBJECT;
		} else if (imap_arg_atom_equals(a, "REFERENCES")) {
			c.prog->thread = IMAP_THREAD_REFERENCES;
		} else {
			r = bad(&c, "Unknown threading algorithm");
			goto out;
		}
		a++;
		if ((r = parse_charset(&c, a)) < 0)
			goto out;
		a++;
		break;
	}
	r = parse_keys(&c, a, 0, c.prog->root);
out:
	if (r < 0) {
		*error_r = c.error;
		imap_search_program_free(&c.prog);
		return r == -2 ? IMAP_SEARCH_BADCHARSET : IMAP_SEARCH_BAD;
	}
	*prog_r = c.prog;
	return IMAP_SEARCH_OK;
}

void imap_search_program_free(struct imap_search_program **progp)
{
	struct imap_search_program *p = *progp;
	if (p == NULL)
		return;
	node_free(p->root);
	free(p->sort);
	free(p);
	*progp = NULL;
}

/* ------------------------------------------------------------------ */
/* Rendering */

static int format_string(struct buf *out, const char *s, size_t len)
{
	if (buf_append(out, "\"", 1) < 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		int r;
		if (ch == '"' || ch == '\\')
			r = buf_printf(out, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			r = buf_printf(out, "\\x%02X", ch);
		else
			r = buf_append(out, &ch, 1);
		if (r < 0)
			return -1;
	}
	return buf_append(out, "\"", 1);
}

static int format_node(const struct imap_search_node *n, struct buf *out, bool top);

static int format_children(const struct imap_search_node *first, struct buf *out)
{
	for (const struct imap_search_node *k = first; k != NULL; k = k->next) {
		if (k != first && buf_append(out, " ", 1) < 0)
			return -1;
		if (format_node(k, out, false) < 0)
			return -1;
	}
	return 0;
}

static int format_node(const struct imap_search_node *n, struct buf *out, bool top)
{
	static const char *const entry_types[] = {"", "priv", "shared", "all"};
	char date[IMAP_DATE_LEN + 1];
	switch (n->key) {
	case IMAP_SEARCH_AND:
		if (top)
			return format_children(n->children, out);
		if (buf_append(out, "(", 1) < 0 || format_children(n->children, out) < 0)
			return -1;
		return buf_append(out, ")", 1);
	case IMAP_SEARCH_SEQSET:
		return imap_seqset_format(&n->set, out);
	default:
		break;
	}
	if (buf_append_str(out, imap_search_key_name(n->key)) < 0)
		return -1;
	switch (n->key) {
	case IMAP_SEARCH_OR:
	case IMAP_SEARCH_NOT:
		if (buf_append(out, " ", 1) < 0)
			return -1;
		return format_children(n->children, out);
	case IMAP_SEARCH_KEYWORD:
	case IMAP_SEARCH_UNKEYWORD:
		return buf_printf(out, " %s", n->str);
	case IMAP_SEARCH_BCC:
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_CC:
	case IMAP_SEARCH_FROM:
	case IMAP_SEARCH_SUBJECT:
	case IMAP_SEARCH_TEXT:
	case IMAP_SEARCH_TO:
		return buf_append(out, " ", 1) < 0 ? -1 : format_string(out, n->str, n->str_len);
	case IMAP_SEARCH_HEADER:
		/* the field as an atom when it can be one, else quoted */
		if (buf_append(out, " ", 1) < 0)
			return -1;
		if (imap_keyword_valid(n->field, n->field_len)) {
			if (buf_append(out, n->field, n->field_len) < 0)
				return -1;
		} else if (format_string(out, n->field, n->field_len) < 0) {
			return -1;
		}
		return buf_append(out, " ", 1) < 0 ? -1 : format_string(out, n->str, n->str_len);
	case IMAP_SEARCH_BEFORE:
	case IMAP_SEARCH_ON:
	case IMAP_SEARCH_SINCE:
	case IMAP_SEARCH_SENTBEFORE:
	case IMAP_SEARCH_SENTON:
	case IMAP_SEARCH_SENTSINCE:
		imap_date_format(n->day, date, sizeof(date));
		return buf_printf(out, " %s", date);
	case IMAP_SEARCH_LARGER:
	case IMAP_SEARCH_SMALLER:
		return buf_printf(out, " %llu", (unsigned long long)n->number);
	case IMAP_SEARCH_UID:
		return buf_append(out, " ", 1) < 0 ? -1 : imap_seqset_format(&n->set, out);
	case IMAP_SEARCH_MODSEQ:
		if (n->modseq_entry != NULL) {
			if (buf_append(out, " ", 1) < 0 ||
			    format_string(out, n->modseq_entry, strlen(n->modseq_entry)) < 0 ||
			    buf_printf(out, " %s", entry_types[n->modseq_type]) < 0)
				return -1;
		}
		return buf_printf(out, " %llu", (unsigned long long)n->number);
	default:
		return 0;
	}
}

int imap_search_program_format(const struct imap_search_program *prog, struct buf *out)
{
	return format_node(prog->root, out, true);
}
