/* mime_address.c - address-list parsing for ENVELOPE. The input is split
 * into items at top-level ',' and ';' (outside quotes, comments, domain
 * literals and angle brackets); each item is then read once more as a
 * group start, a name-addr or an addr-spec. Every byte is looked at a small
 * constant number of times. The strings go into one block reserved up front
 * (their total never exceeds the input), so pointers stay valid. */
#include "mime/mime_address.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static const char missing_mailbox[] = "MISSING_MAILBOX";
static const char missing_domain[] = "MISSING_DOMAIN";

struct text {
	char *base;
	size_t cap, used;
};

struct str {
	size_t off, len;
	bool present;
};

struct ctx {
	const char *s;
	size_t len;
	struct text t;
	struct mime_address_list *l;
	size_t max;
};

void mime_address_list_init(struct mime_address_list *l)
{
	memset(l, 0, sizeof(*l));
	buf_init(&l->text, 0);
}

void mime_address_list_free(struct mime_address_list *l)
{
	buf_free(&l->text);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void put(struct text *t, const char *p, size_t n)
{
	if (n > t->cap - t->used)
		n = t->cap - t->used; /* never: strings never outgrow the input */
	memcpy(t->base + t->used, p, n);
	t->used += n;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* End of the quoted string starting at s[i] == '"'; content appended to t
 * (unescaped) when t is not NULL. */
static size_t quoted(const char *s, size_t len, size_t i, struct text *t)
{
	i++;
	while (i < len && s[i] != '"') {
		if (s[i] == '\\' && i + 1 < len)
			i++;
		if (t != NULL && s[i] != '\r' && s[i] != '\n')
			put(t, s + i, 1);
		i++;
	}
	return i < len ? i + 1 : len;
}

/* End of the comment starting at s[i] == '('; its content (outer
 * parentheses removed) appended to t when t is not NULL. */
static size_t comment(const char *s, size_t len, size_t i, struct text *t)
{
	size_t depth = 1;
	i++;
	while (i < len) {
		char c = s[i];
		if (c == '\\' && i + 1 < len) {
			if (t != NULL)
				put(t, s + i + 1, 1);
			i += 2;
			continue;
		}
		if (c == '(') {
			depth++;
		} else if (c == ')') {
			if (--depth == 0)
				return i + 1;
		}
		if (t != NULL && c != '\r' && c != '\n')
			put(t, s + i, 1);
		i++;
	}
	return len;
}

/* End of the domain literal starting at s[i] == '['. */
static size_t literal(const char *s, size_t len, size_t i)
{
	i++;
	while (i < len && s[i] != ']') {
		if (s[i] == '\\' && i + 1 < len)
			i++;
		i++;
	}
	return i < len ? i + 1 : len;
}

/* End of the angle-addr starting at s[i] == '<' (just past '>' or len). */
static size_t angle(const char *s, size_t len, size_t i)
{
	i++;
	while (i < len && s[i] != '>') {
		if (s[i] == '"')
			i = quoted(s, len, i, NULL);
		else if (s[i] == '(')
			i = comment(s, len, i, NULL);
		else if (s[i] == '[')
			i = literal(s, len, i);
		else
			i++;
	}
	return i < len ? i + 1 : len;
}

/* A phrase (display name): words joined by single spaces, comments
 * dropped, quoted strings unescaped. */
static struct str phrase(struct ctx *c, size_t a, size_t b)
{
	const char *s = c->s;
	struct str r = {.off = c->t.used};
	bool first = true;
	size_t i = a;
	while (i < b) {
		if (is_ws(s[i])) {
			i++;
		} else if (s[i] == '(') {
			i = comment(s, b, i, NULL);
		} else if (s[i] == '"') {
			if (!first)
				put(&c->t, " ", 1);
			i = quoted(s, b, i, &c->t);
			first = false;
		} else {
			size_t j = i;
			while (j < b && !is_ws(s[j]) && s[j] != '(' && s[j] != '"')
				j++;
			if (!first)
				put(&c->t, " ", 1);
			put(&c->t, s + i, j - i);
			first = false;
			i = j;
		}
	}
	r.len = c->t.used - r.off;
	r.present = r.len > 0;
	return r;
}

struct spec {
	struct str local, domain;
	size_t comment_at; /* input offset of the last comment's '(' */
	bool has_comment;
};

/* An addr-spec in s[a..b): local "@" domain, obsolete blanks and comments
 * allowed anywhere. The last comment is remembered (a name candidate). */
static void addr_spec(struct ctx *c, size_t a, size_t b, struct spec *sp)
{
	const char *s = c->s;
	struct str *cur = &sp->local;
	memset(sp, 0, sizeof(*sp));
	sp->local.off = c->t.used;
	size_t i = a;
	while (i < b) {
		char ch = s[i];
		if (is_ws(ch) || ch == '<' || ch == '>') {
			i++;
		} else if (ch == '(') {
			sp->comment_at = i;
			sp->has_comment = true;
			i = comment(s, b, i, NULL);
		} else if (ch == '"') {
			i = quoted(s, b, i, &c->t);
			cur->present = true;
		} else if (ch == '[') {
			size_t j = literal(s, b, i);
			put(&c->t, s + i, j - i);
			cur->present = true;
			i = j;
		} else if (ch == '@' && cur == &sp->local) {
			sp->local.len = c->t.used - sp->local.off;
			cur = &sp->domain;
			sp->domain.off = c->t.used;
			i++;
		} else {
			put(&c->t, s + i, 1);
			cur->present = true;
			i++;
		}
	}
	cur->len = c->t.used - cur->off;
	if (cur->len > 0)
		cur->present = true;
}

static bool room(struct ctx *c, size_t need)
{
	if (c->max == 0)
		return true;
	if (c->l->n + need <= c->max)
		return true;
	c->l->truncated = true;
	return false;
}

static void emit(struct ctx *c, const struct str *name, const struct str *route,
		 const struct str *mailbox, const char *mailbox_fill, const struct str *domain,
		 const char *domain_fill)
{
	struct mime_address_list *l = c->l;
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 4 : l->cap * 2;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	struct mime_address *a = &l->v[l->n++];
	memset(a, 0, sizeof(*a));
	const char *base = c->t.base;
	if (name != NULL && name->present) {
		a->name = base + name->off;
		a->name_len = name->len;
	}
	if (route != NULL && route->present) {
		a->route = base + route->off;
		a->route_len = route->len;
	}
	if (mailbox != NULL && mailbox->present) {
		a->mailbox = base + mailbox->off;
		a->mailbox_len = mailbox->len;
	} else if (mailbox_fill != NULL) {
		a->mailbox = mailbox_fill;
		a->mailbox_len = strlen(mailbox_fill);
	}
	if (domain != NULL && domain->present) {
		a->domain = base + domain->off;
		a->domain_len = domain->len;
	} else if (domain_fill != NULL) {
		a->domain = domain_fill;
		a->domain_len = strlen(domain_fill);
	}
}

/* Does the chunk s[a..b) hold a top-level '@'? */
static bool chunk_has_at(const char *s, size_t a, size_t b)
{
	for (size_t i = a; i < b; i++) {
		if (s[i] == '"')
			i = quoted(s, b, i, NULL) - 1;
		else if (s[i] == '[')
			i = literal(s, b, i) - 1;
		else if (s[i] == '@')
			return true;
	}
	return false;
}

/* A mailbox in s[a..b): name-addr or addr-spec. */
static void mailbox(struct ctx *c, size_t a, size_t b)
{
	const char *s = c->s;
	size_t lt = b;
	for (size_t i = a; i < b;) {
		if (s[i] == '"')
			i = quoted(s, b, i, NULL);
		else if (s[i] == '(')
			i = comment(s, b, i, NULL);
		else if (s[i] == '[')
			i = literal(s, b, i);
		else if (s[i] == '<') {
			lt = i;
			break;
		} else
			i++;
	}
	struct str name = {0}, route = {0};
	struct spec sp;
	if (lt < b) {
		name = phrase(c, a, lt);
		size_t gt = angle(s, b, lt);
		size_t inner_end = gt > lt + 1 && gt <= b && s[gt - 1] == '>' ? gt - 1 : gt;
		size_t i = lt + 1;
		while (i < inner_end && (is_ws(s[i]) || s[i] == '(')) {
			if (s[i] == '(')
				i = comment(s, inner_end, i, NULL);
			else
				i++;
		}
		if (i < inner_end && s[i] == '@') {
			/* Obsolete route: "@a,@b:" (blanks and comments
			 * dropped). */
			size_t colon = i;
			while (colon < inner_end && s[colon] != ':') {
				if (s[colon] == '(')
					colon = comment(s, inner_end, colon, NULL);
				else if (s[colon] == '[')
					colon = literal(s, inner_end, colon);
				else
					colon++;
			}
			if (colon < inner_end) {
				route.off = c->t.used;
				for (size_t k = i; k < colon;) {
					if (s[k] == '(') {
						k = comment(s, colon, k, NULL);
					} else {
						if (!is_ws(s[k]))
							put(&c->t, s + k, 1);
						k++;
					}
				}
				route.len = c->t.used - route.off;
				route.present = route.len > 0;
				i = colon + 1;
			}
		}
		addr_spec(c, i, inner_end, &sp);
	} else {
		/* "Real Name user@host": only the last blank-separated
		 * chunk holds an '@', with a local part before it. */
		size_t nchunks = 0, last = a, last_end = a, i = a;
		bool at_before = false, dot_before = false;
		while (i < b) {
			while (i < b && (is_ws(s[i]) || s[i] == '(')) {
				if (s[i] == '(')
					i = comment(s, b, i, NULL);
				else
					i++;
			}
			if (i >= b)
				break;
			size_t start = i;
			while (i < b && !is_ws(s[i]) && s[i] != '(') {
				if (s[i] == '"')
					i = quoted(s, b, i, NULL);
				else if (s[i] == '[')
					i = literal(s, b, i);
				else
					i++;
			}
			if (nchunks > 0) {
				if (chunk_has_at(s, last, last_end))
					at_before = true;
				dot_before = s[last_end - 1] == '.';
			}
			nchunks++;
			last = start;
			last_end = i;
		}
		if (nchunks >= 2 && !at_before && !dot_before && s[last] != '@' && s[last] != '.' &&
		    chunk_has_at(s, last, last_end)) {
			name = phrase(c, a, last);
			addr_spec(c, last, b, &sp);
		} else {
			addr_spec(c, a, b, &sp);
		}
	}
	if (!name.present && sp.has_comment) {
		name.off = c->t.used;
		comment(s, b, sp.comment_at, &c->t);
		name.len = c->t.used - name.off;
		name.present = name.len > 0;
	}
	emit(c, &name, &route, &sp.local, missing_mailbox, &sp.domain, missing_domain);
}

void mime_address_parse(struct mime_address_list *l, const char *s, size_t len, size_t max_entries)
{
	l->n = 0;
	l->truncated = false;
	buf_reset(&l->text);
	struct ctx c = {.s = s, .len = len, .l = l, .max = max_entries};
	/* Every string is built from distinct input bytes, so twice the
	 * input is a safe bound that is never reached. */
	size_t cap = len > (SIZE_MAX - 16) / 2 ? len : len * 2 + 16;
	c.t.base = buf_reserve(&l->text, cap);
	if (c.t.base == NULL)
		return;
	c.t.cap = cap;
	bool in_group = false;
	size_t pos = 0;
	while (pos < len) {
		while (pos < len && (is_ws(s[pos]) || s[pos] == '(')) {
			if (s[pos] == '(')
				pos = comment(s, len, pos, NULL);
			else
				pos++;
		}
		if (pos >= len)
			break;
		if (s[pos] == ',') {
			pos++;
			continue;
		}
		if (s[pos] == ';') {
			if (in_group) {
				emit(&c, NULL, NULL, NULL, NULL, NULL, NULL);
				in_group = false;
			}
			pos++;
			continue;
		}
		size_t j = pos;
		bool seen_lt = false, seen_at = false;
		while (j < len) {
			char ch = s[j];
			if (ch == '"') {
				j = quoted(s, len, j, NULL);
			} else if (ch == '(') {
				j = comment(s, len, j, NULL);
			} else if (ch == '[') {
				j = literal(s, len, j);
			} else if (ch == '<') {
				seen_lt = true;
				j = angle(s, len, j);
			} else if (ch == ',' || ch == ';' ||
				   (ch == ':' && !seen_lt && !seen_at && !in_group)) {
				break;
			} else {
				if (ch == '@')
					seen_at = true;
				j++;
			}
		}
		if (j < len && s[j] == ':') {
			/* Group start: "name:" */
			if (!room(&c, 2))
				break;
			struct str name = phrase(&c, pos, j);
			name.present = true; /* an empty group name is "" */
			emit(&c, NULL, NULL, &name, NULL, NULL, NULL);
			in_group = true;
			pos = j + 1;
			continue;
		}
		if (!room(&c, in_group ? 2 : 1))
			break;
		mailbox(&c, pos, j);
		pos = j;
	}
	if (in_group)
		emit(&c, NULL, NULL, NULL, NULL, NULL, NULL);
	buf_commit(&l->text, c.t.used);
}
