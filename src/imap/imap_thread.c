/* imap_thread.c - RFC 5256 base subjects and the ORDEREDSUBJECT and
 * REFERENCES threading algorithms. Containers live in one array and link by
 * index; Message-IDs and subjects are found through open-addressing hash
 * tables; every walk over the tree uses an explicit stack or a breadth-first
 * order, so deep threads cost heap, not stack. */
#include "imap/imap_thread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"

/* ------------------------------------------------------------------ */
/* Base subject (RFC 5256 2.1) */

static char ascii_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

int imap_casemap_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	for (size_t i = 0; i < n; i++) {
		unsigned char x = (unsigned char)ascii_upper(a[i]);
		unsigned char y = (unsigned char)ascii_upper(b[i]);
		if (x != y)
			return x < y ? -1 : 1;
	}
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool prefix_ci(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	return len >= n && ascii_nieq(s, lit, n);
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP at s[i..end): its length, or 0. */
static size_t blob_len(const char *s, size_t i, size_t end)
{
	if (i >= end || s[i] != '[')
		return 0;
	size_t j = i + 1;
	while (j < end && s[j] != '[' && s[j] != ']')
		j++;
	if (j >= end || s[j] != ']')
		return 0;
	j++;
	while (j < end && is_wsp(s[j]))
		j++;
	return j - i;
}

/* subj-leader's first form, *subj-blob subj-refwd, at s[i..end):
 * subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":". Its length or 0. */
static size_t refwd_leader_len(const char *s, size_t i, size_t end)
{
	size_t j = i, b;
	while ((b = blob_len(s, j, end)) > 0)
		j += b;
	if (prefix_ci(s + j, end - j, "re")) {
		j += 2;
	} else if (prefix_ci(s + j, end - j, "fw")) {
		j += 2;
		if (j < end && (s[j] == 'd' || s[j] == 'D'))
			j++;
	} else {
		return 0;
	}
	while (j < end && is_wsp(s[j]))
		j++;
	j += blob_len(s, j, end);
	if (j >= end || s[j] != ':')
		return 0;
	return j + 1 - i;
}

bool imap_base_subject(const char *subject, size_t len, struct buf *out)
{
	/* Step 1 (the decoding is the caller's): every tab, CR and LF becomes
	 * a space, runs of spaces one space. */
	char *s = xmalloc(len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = subject[i];
		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		if (c == ' ' && n > 0 && s[n - 1] == ' ')
			continue;
		s[n++] = c;
	}
	bool reply = false;
	size_t start = 0, end = n;
	for (;;) {
		/* (2) subj-trailer = "(fwd)" / WSP, repeatedly from the end. */
		for (;;) {
			if (end > start && s[end - 1] == ' ') {
				end--;
			} else if (end - start >= 5 && ascii_nieq(s + end - 5, "(fwd)", 5)) {
				end -= 5;
				reply = true;
			} else {
				break;
			}
		}
		/* (3)-(5) leaders, then one blob if something follows it. */
		for (;;) {
			bool progress = false;
			for (;;) {
				size_t l;
				if (start < end && s[start] == ' ') {
					start++;
				} else if ((l = refwd_leader_len(s, start, end)) > 0) {
					start += l;
					reply = true;
				} else {
					break;
				}
				progress = true;
			}
			size_t b = blob_len(s, start, end);
			if (b > 0 && start + b < end) {
				start += b;
				progress = true;
			}
			if (!progress)
				break;
		}
		/* (6) "[fwd:" subject "]": unwrap and start over at (2). */
		if (end - start >= 6 && ascii_nieq(s + start, "[fwd:", 5) && s[end - 1] == ']') {
			start += 5;
			end--;
			reply = true;
			continue;
		}
		break;
	}
	buf_append(out, s + start, end - start);
	free(s);
	return reply;
}

/* ------------------------------------------------------------------ */
/* Message-IDs */

bool imap_thread_next_msgid(const char *value, size_t len, size_t *pos, const char **id_r,
			    size_t *id_len_r)
{
	size_t i = *pos;
	while (i < len) {
		if (value[i] != '<') {
			i++;
			continue;
		}
		size_t start = i + 1, j = start;
		while (j < len && value[j] != '>' && value[j] != '<')
			j++;
		if (j >= len)
			break;
		if (value[j] == '<') {
			i = j;
			continue;
		}
		i = j + 1;
		/* Blanks left by folding are not part of the id. */
		size_t a = start, b = j;
		while (a < b && (is_wsp(value[a]) || value[a] == '\r' || value[a] == '\n'))
			a++;
		while (b > a &&
		       (is_wsp(value[b - 1]) || value[b - 1] == '\r' || value[b - 1] == '\n'))
			b--;
		if (b == a)
			continue;
		*pos = i;
		*id_r = value + a;
		*id_len_r = b - a;
		return true;
	}
	*pos = len;
	return false;
}

/* ------------------------------------------------------------------ */
/* Containers */

#define NONE (-1)
#define ROOT 0 /* node 0 is the root: its children are the threads */

struct node {
	int32_t msg; /* index into msgs, NONE for a dummy */
	int32_t parent, first, last, prev, next;
	uint32_t nchildren;
	/* sort key: the sent date and mailbox position of the message (of a
	 * dummy: of its first child) */
	int64_t date;
	uint32_t order;
};

struct slot {
	const char *key;
	size_t len;
	uint64_t hash;
	int32_t node; /* NONE: empty */
};

struct table {
	struct slot *v;
	size_t cap, used;
	bool casemap; /* keys compare under i;ascii-casemap */
};

struct tctx {
	const struct imap_thread_msg *msgs;
	size_t nmsgs;
	struct node *v;
	size_t n, cap;
	struct table ids;
};

static uint64_t hash_bytes(const char *s, size_t len, bool casemap)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)(casemap ? ascii_upper(s[i]) : s[i]);
		h *= 1099511628211ull;
	}
	return h;
}

static void table_init(struct table *t, size_t expect, bool casemap)
{
	size_t cap = 16;
	while (cap < expect * 2)
		cap *= 2;
	t->v = xmalloc(cap * sizeof(*t->v));
	for (size_t i = 0; i < cap; i++)
		t->v[i].node = NONE;
	t->cap = cap;
	t->used = 0;
	t->casemap = casemap;
}

static void table_free(struct table *t)
{
	free(t->v);
	t->v = NULL;
}

static bool key_eq(const struct table *t, const struct slot *sl, const char *key, size_t len,
		   uint64_t h)
{
	if (sl->hash != h || sl->len != len)
		return false;
	return t->casemap ? imap_casemap_cmp(sl->key, len, key, len) == 0
			  : memcmp(sl->key, key, len) == 0;
}

static struct slot *table_find(struct table *t, const char *key, size_t len, uint64_t h)
{
	size_t mask = t->cap - 1;
	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		struct slot *sl = &t->v[i];
		if (sl->node == NONE || key_eq(t, sl, key, len, h))
			return sl;
	}
}

static void table_grow(struct table *t)
{
	struct slot *old = t->v;
	size_t oldcap = t->cap;
	t->cap *= 2;
	t->v = xmalloc(t->cap * sizeof(*t->v));
	for (size_t i = 0; i < t->cap; i++)
		t->v[i].node = NONE;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].node == NONE)
			continue;
		size_t mask = t->cap - 1;
		size_t j = (size_t)old[i].hash & mask;
		while (t->v[j].node != NONE)
			j = (j + 1) & mask;
		t->v[j] = old[i];
	}
	free(old);
}

/* The slot for key: existing (node set) or empty, ready to be filled. */
static struct slot *table_slot(struct table *t, const char *key, size_t len)
{
	if ((t->used + 1) * 2 > t->cap)
		table_grow(t);
	uint64_t h = hash_bytes(key, len, t->casemap);
	struct slot *sl = table_find(t, key, len, h);
	if (sl->node == NONE) {
		sl->key = key;
		sl->len = len;
		sl->hash = h;
	}
	return sl;
}

static void table_set(struct table *t, struct slot *sl, int32_t node)
{
	if (sl->node == NONE)
		t->used++;
	sl->node = node;
}

static int32_t node_new(struct tctx *c, int32_t msg)
{
	if (c->n == c->cap) {
		c->cap = c->cap == 0 ? 64 : c->cap * 2;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	struct node *nd = &c->v[c->n];
	memset(nd, 0, sizeof(*nd));
	nd->msg = msg;
	nd->parent = nd->first = nd->last = nd->prev = nd->next = NONE;
	return (int32_t)c->n++;
}

static bool is_dummy(const struct tctx *c, int32_t i)
{
	return c->v[i].msg < 0;
}

static void unlink_node(struct tctx *c, int32_t i)
{
	struct node *nd = &c->v[i];
	if (nd->parent == NONE)
		return;
	struct node *p = &c->v[nd->parent];
	if (nd->prev != NONE)
		c->v[nd->prev].next = nd->next;
	else
		p->first = nd->next;
	if (nd->next != NONE)
		c->v[nd->next].prev = nd->prev;
	else
		p->last = nd->prev;
	p->nchildren--;
	nd->parent = nd->prev = nd->next = NONE;
}

/* Make child the last child of parent (unlinking it first). */
static void link_node(struct tctx *c, int32_t parent, int32_t child)
{
	unlink_node(c, child);
	struct node *p = &c->v[parent];
	struct node *ch = &c->v[child];
	ch->parent = parent;
	ch->prev = p->last;
	ch->next = NONE;
	if (p->last != NONE)
		c->v[p->last].next = child;
	else
		p->first = child;
	p->last = child;
	p->nchildren++;
}

/* Is a the node b or one of its ancestors? */
static bool is_ancestor_or_self(const struct tctx *c, int32_t a, int32_t b)
{
	for (int32_t x = b; x != NONE; x = c->v[x].parent)
		if (x == a)
			return true;
	return false;
}

static int32_t id_node(struct tctx *c, const char *id, size_t len)
{
	struct slot *sl = table_slot(&c->ids, id, len);
	if (sl->node == NONE) {
		int32_t nd = node_new(c, NONE);
		/* node_new may move c->v, never the table */
		table_set(&c->ids, sl, nd);
	}
	return sl->node;
}

/* Nodes reachable from ROOT, parents before children. */
static int32_t *bfs_order(const struct tctx *c, size_t *count_r)
{
	int32_t *q = xmalloc((c->n + 1) * sizeof(int32_t));
	size_t head = 0, tail = 0;
	q[tail++] = ROOT;
	while (head < tail) {
		int32_t x = q[head++];
		for (int32_t k = c->v[x].first; k != NONE; k = c->v[k].next)
			q[tail++] = k;
	}
	*count_r = tail;
	return q;
}

static int key_cmp(const struct node *a, const struct node *b)
{
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order ? 1 : 0;
}

static int key_cmp_qsort(const void *x, const void *y, void *ctx)
{
	const struct tctx *c = ctx;
	return key_cmp(&c->v[*(const int32_t *)x], &c->v[*(const int32_t *)y]);
}

/* RFC 5256 step (6): sort every set of siblings by sent date, children
 * before their parents, a dummy keyed by its first child. */
static void sort_siblings(struct tctx *c)
{
	size_t count;
	int32_t *order = bfs_order(c, &count);
	int32_t *kids = xmalloc((c->n + 1) * sizeof(int32_t));
	for (size_t k = count; k-- > 0;) {
		int32_t x = order[k];
		struct node *nd = &c->v[x];
		if (nd->nchildren >= 2) {
			size_t m = 0;
			for (int32_t ch = nd->first; ch != NONE; ch = c->v[ch].next)
				kids[m++] = ch;
			qsort_r(kids, m, sizeof(int32_t), key_cmp_qsort, c);
			nd->first = nd->last = NONE;
			nd->nchildren = 0;
			for (size_t i = 0; i < m; i++) {
				c->v[kids[i]].parent = NONE;
				link_node(c, x, kids[i]);
			}
		}
		nd = &c->v[x];
		if (nd->msg >= 0) {
			nd->date = c->msgs[nd->msg].date;
			nd->order = (uint32_t)nd->msg;
		} else if (nd->first != NONE) {
			nd->date = c->v[nd->first].date;
			nd->order = c->v[nd->first].order;
		}
	}
	free(kids);
	free(order);
}

/* ------------------------------------------------------------------ */
/* REFERENCES (RFC 5256 section 3) */

/* Step (1): containers for every Message-ID, linked as References say. */
static void link_references(struct tctx *c)
{
	for (size_t i = 0; i < c->nmsgs; i++) {
		const struct imap_thread_msg *m = &c->msgs[i];
		const char *id;
		size_t idlen, pos = 0;
		int32_t own = NONE;
		if (m->message_id != NULL &&
		    imap_thread_next_msgid(m->message_id, m->message_id_len, &pos, &id, &idlen)) {
			int32_t x = id_node(c, id, idlen);
			/* A duplicate Message-ID counts for the first message only. */
			if (c->v[x].msg == NONE) {
				own = x;
				c->v[x].msg = (int32_t)i;
			}
		}
		if (own == NONE)
			own = node_new(c, (int32_t)i);
		/* (A) the References chain, or the first In-Reply-To id. */
		const char *refs = m->references;
		size_t refs_len = m->references_len;
		pos = 0;
		if (refs == NULL || !imap_thread_next_msgid(refs, refs_len, &pos, &id, &idlen)) {
			refs = m->in_reply_to;
			refs_len = m->in_reply_to_len;
		}
		pos = 0;
		int32_t prev = NONE;
		bool first_only = refs == m->in_reply_to;
		/* Only the last IMAP_THREAD_MAX_REFERENCES ids count. */
		size_t skip = 0;
		if (!first_only && refs != NULL) {
			size_t count = 0;
			while (imap_thread_next_msgid(refs, refs_len, &pos, &id, &idlen))
				count++;
			skip = count > IMAP_THREAD_MAX_REFERENCES
				   ? count - IMAP_THREAD_MAX_REFERENCES
				   : 0;
			pos = 0;
		}
		while (refs != NULL && imap_thread_next_msgid(refs, refs_len, &pos, &id, &idlen)) {
			if (skip > 0) {
				skip--;
				continue;
			}
			int32_t x = id_node(c, id, idlen);
			if (prev != NONE && x != prev && c->v[x].parent == NONE &&
			    !is_ancestor_or_self(c, x, prev))
				link_node(c, prev, x);
			prev = x;
			if (first_only)
				break;
		}
		/* (B) the message under its last reference, whatever parent
		 * it had; none if that would make a loop or there is none. */
		unlink_node(c, own);
		if (prev != NONE && !is_ancestor_or_self(c, own, prev))
			link_node(c, prev, own);
	}
}

/* Steps (2) and (3): every parentless container under the root; dummies
 * removed, their children promoted, except that a dummy with several
 * children stays at the top level. Computed from each message's nearest
 * real ancestor and its top container, so no recursion is needed. */
static void prune(struct tctx *c)
{
	size_t n = c->n;
	for (size_t i = 1; i < n; i++)
		if (c->v[i].parent == NONE)
			link_node(c, ROOT, (int32_t)i);
	size_t count;
	int32_t *order = bfs_order(c, &count);
	int32_t *top = xmalloc(n * sizeof(int32_t));
	int32_t *real = xmalloc(n * sizeof(int32_t)); /* nearest real ancestor */
	uint32_t *under = xcalloc(n, sizeof(uint32_t));
	for (size_t k = 1; k < count; k++) {
		int32_t x = order[k], p = c->v[x].parent;
		if (p == ROOT) {
			top[x] = x;
			real[x] = NONE;
		} else {
			top[x] = top[p];
			real[x] = c->v[p].msg >= 0 ? p : real[p];
		}
		if (c->v[x].msg >= 0 && real[x] == NONE && p != ROOT)
			under[top[x]]++;
	}
	/* New parents, assigned in breadth-first order (stable output). */
	int32_t *newp = xmalloc(n * sizeof(int32_t));
	for (size_t k = 1; k < count; k++) {
		int32_t x = order[k];
		newp[x] = NONE; /* dropped */
		if (c->v[x].msg < 0) {
			if (c->v[x].parent == ROOT && under[x] >= 2)
				newp[x] = ROOT;
			continue;
		}
		if (c->v[x].parent == ROOT)
			newp[x] = ROOT;
		else if (real[x] != NONE)
			newp[x] = real[x];
		else if (under[top[x]] >= 2)
			newp[x] = top[x];
		else
			newp[x] = ROOT; /* the only message under a top dummy */
	}
	for (size_t i = 0; i < n; i++) {
		c->v[i].parent = c->v[i].first = c->v[i].last = NONE;
		c->v[i].prev = c->v[i].next = NONE;
		c->v[i].nchildren = 0;
	}
	for (size_t k = 1; k < count; k++) {
		int32_t x = order[k];
		if (newp[x] >= 0)
			link_node(c, newp[x], x);
	}
	free(newp);
	free(under);
	free(real);
	free(top);
	free(order);
}

/* The thread subject of a top-level container (step 5.B.i). */
static const struct imap_thread_msg *thread_msg(const struct tctx *c, int32_t x)
{
	const struct node *nd = &c->v[x];
	if (nd->msg >= 0)
		return &c->msgs[nd->msg];
	if (nd->first != NONE && c->v[nd->first].msg >= 0)
		return &c->msgs[c->v[nd->first].msg];
	return NULL;
}

static bool is_reply(const struct tctx *c, int32_t x)
{
	return !is_dummy(c, x) && c->msgs[c->v[x].msg].subject_is_reply;
}

/* Step (5): threads with the same base subject gathered. */
static void merge_subjects(struct tctx *c)
{
	struct table subj;
	table_init(&subj, c->v[ROOT].nchildren, true);
	size_t nroots = c->v[ROOT].nchildren;
	int32_t *roots = xmalloc((nroots + 1) * sizeof(int32_t));
	size_t m = 0;
	for (int32_t x = c->v[ROOT].first; x != NONE; x = c->v[x].next)
		roots[m++] = x;
	/* (B) one container per subject: dummies first, then non-replies. */
	for (size_t k = 0; k < m; k++) {
		int32_t x = roots[k];
		const struct imap_thread_msg *tm = thread_msg(c, x);
		if (tm == NULL || tm->base_subject_len == 0)
			continue;
		struct slot *sl = table_slot(&subj, tm->base_subject, tm->base_subject_len);
		if (sl->node == NONE)
			table_set(&subj, sl, x);
		else if (!is_dummy(c, sl->node) &&
			 (is_dummy(c, x) || (is_reply(c, sl->node) && !is_reply(c, x))))
			sl->node = x;
	}
	/* (C) merge. */
	for (size_t k = 0; k < m; k++) {
		int32_t x = roots[k];
		if (c->v[x].parent != ROOT)
			continue; /* already merged into another thread */
		const struct imap_thread_msg *tm = thread_msg(c, x);
		if (tm == NULL || tm->base_subject_len == 0)
			continue;
		struct slot *sl = table_slot(&subj, tm->base_subject, tm->base_subject_len);
		int32_t t = sl->node;
		if (t == NONE || t == x)
			continue;
		if (is_dummy(c, t) && is_dummy(c, x)) {
			while (c->v[x].first != NONE)
				link_node(c, t, c->v[x].first);
			unlink_node(c, x);
		} else if (is_dummy(c, t) && !is_dummy(c, x)) {
			link_node(c, t, x);
		} else if (!is_dummy(c, t) && is_reply(c, x) && !is_reply(c, t)) {
			link_node(c, t, x);
		} else {
			int32_t d = node_new(c, NONE); /* the table does not move */
			link_node(c, ROOT, d);
			link_node(c, d, t);
			link_node(c, d, x);
			sl->node = d;
		}
	}
	free(roots);
	table_free(&subj);
}

/* ------------------------------------------------------------------ */
/* ORDEREDSUBJECT (RFC 5256 section 4) */

static int subject_order_cmp(const void *x, const void *y, void *ctx)
{
	const struct tctx *c = ctx;
	const struct imap_thread_msg *a = &c->msgs[*(const int32_t *)x];
	const struct imap_thread_msg *b = &c->msgs[*(const int32_t *)y];
	int r = imap_casemap_cmp(a->base_subject, a->base_subject_len, b->base_subject,
				 b->base_subject_len);
	if (r != 0)
		return r;
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	int32_t i = *(const int32_t *)x, j = *(const int32_t *)y;
	return i < j ? -1 : i > j;
}

static void ordered_subject(struct tctx *c)
{
	int32_t *idx = xmalloc((c->nmsgs + 1) * sizeof(int32_t));
	for (size_t i = 0; i < c->nmsgs; i++)
		idx[i] = (int32_t)i;
	qsort_r(idx, c->nmsgs, sizeof(int32_t), subject_order_cmp, c);
	int32_t head = NONE;
	const struct imap_thread_msg *hm = NULL;
	for (size_t k = 0; k < c->nmsgs; k++) {
		const struct imap_thread_msg *m = &c->msgs[idx[k]];
		int32_t x = node_new(c, idx[k]);
		if (hm != NULL && imap_casemap_cmp(hm->base_subject, hm->base_subject_len,
						   m->base_subject, m->base_subject_len) == 0) {
			link_node(c, head, x);
		} else {
			link_node(c, ROOT, x);
			head = x;
			hm = m;
		}
	}
	free(idx);
}

/* ------------------------------------------------------------------ */
/* Output */

struct render {
	const struct tctx *c;
	struct buf *out;
	int err;
};

static void put(struct render *r, const char *s, size_t len)
{
	if (buf_append(r->out, s, len) < 0)
		r->err = -1;
}

/* "(" then the chain from x: ids separated by spaces as long as each has
 * one child. Returns the first child of a node with several (a dummy's
 * children all), to be opened one group each, or NONE when the group is
 * already closed. */
static int32_t open_group(struct render *r, int32_t x)
{
	const struct tctx *c = r->c;
	bool first = true;
	put(r, "(", 1);
	for (;;) {
		const struct node *nd = &c->v[x];
		if (nd->msg >= 0) {
			char num[16];
			int len = snprintf(num, sizeof(num), "%s%u", first ? "" : " ",
					   (unsigned)c->msgs[nd->msg].id);
			put(r, num, (size_t)len);
			first = false;
		}
		if (nd->msg >= 0 && nd->nchildren == 1) {
			x = nd->first;
			continue;
		}
		if (nd->nchildren == 0) {
			put(r, ")", 1);
			return NONE;
		}
		if (!first)
			put(r, " ", 1);
		return nd->first;
	}
}

static int render(const struct tctx *c, struct buf *out)
{
	struct render r = {.c = c, .out = out};
	/* one frame per open group with children still to open */
	int32_t *stack = xmalloc((c->n + 1) * sizeof(int32_t));
	size_t depth = 0;
	for (int32_t t = c->v[ROOT].first; t != NONE && r.err == 0; t = c->v[t].next) {
		int32_t kid = open_group(&r, t);
		if (kid != NONE)
			stack[depth++] = kid;
		while (depth > 0) {
			int32_t x = stack[depth - 1];
			if (x == NONE) {
				put(&r, ")", 1);
				depth--;
				continue;
			}
			stack[depth - 1] = c->v[x].next;
			kid = open_group(&r, x);
			if (kid != NONE)
				stack[depth++] = kid;
		}
	}
	free(stack);
	return r.err;
}

int imap_thread(enum imap_thread_algorithm algorithm, const struct imap_thread_msg *msgs, size_t n,
		struct buf *out)
{
	if (n == 0)
		return 0;
	struct tctx c;
	memset(&c, 0, sizeof(c));
	c.msgs = msgs;
	c.nmsgs = n;
	node_new(&c, NONE); /* ROOT */
	if (algorithm == IMAP_THREAD_ORDEREDSUBJECT) {
		ordered_subject(&c);
		sort_siblings(&c);
	} else {
		table_init(&c.ids, n * 2, false);
		link_references(&c);
		prune(&c);
		sort_siblings(&c);
		merge_subjects(&c);
		sort_siblings(&c);
		table_free(&c.ids);
	}
	int r = render(&c, out);
	free(c.v);
	return r;
}
