/* imap_cmd_mailbox.c - IMAP mailbox commands: SELECT, EXAMINE, CREATE,
 * DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST (with LIST-EXTENDED,
 * LIST-STATUS, SPECIAL-USE), LSUB, STATUS, APPEND, CLOSE, UNSELECT,
 * EXPUNGE, UID EXPUNGE, GETQUOTA, GETQUOTAROOT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/util.h"
#include "imap/imap_binary_convert.h"
#include "imap/imap_date.h"
#include "imap/imap_private.h"
#include "imap/imap_quote.h"
#include "imap/imap_utf7.h"
#include "smtp/smtp_data.h"

/* ----- shared ----- */

static bool get_mailbox(struct imap_session *s, const struct imap_command *cmd,
			const struct imap_arg *arg, char *out, size_t outlen)
{
	const char *why;
	if (imap_mailbox_arg(s, arg, out, outlen, &why) < 0) {
		imap_tagged(s, cmd, "NO", "Invalid mailbox name: %s", why);
		return false;
	}
	return true;
}

static const char *store_reason(struct imap_session *s)
{
	return store_conn_error(s->env->store);
}

/* ----- SELECT / EXAMINE ----- */

struct qresync_params {
	bool condstore;
	bool given;
	uint32_t uidvalidity;
	uint64_t modseq;
	struct imap_seqset known;
	bool have_known;
};

static int parse_select_params(struct imap_session *s, const struct imap_arg *arg,
			       struct qresync_params *q, const char **why)
{
	const struct imap_arg *list;
	size_t n;
	if (!imap_arg_get_list(arg, &list, &n)) {
		*why = "select parameters expected";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (imap_arg_atom_equals(&list[i], "CONDSTORE")) {
			q->condstore = true;
			continue;
		}
		if (imap_arg_atom_equals(&list[i], "QRESYNC") && i + 1 < n) {
			const struct imap_arg *ql;
			size_t qn;
			const char *a;
			size_t alen;
			uint64_t v;
			if (!s->qresync) {
				*why = "QRESYNC not enabled";
				return -1;
			}
			if (!imap_arg_get_list(&list[++i], &ql, &qn) || qn < 2 ||
			    !imap_arg_get_atom(&ql[0], &a, &alen) || parse_u64(a, alen, &v) < 0 ||
			    v == 0 || v > UINT32_MAX) {
				*why = "bad QRESYNC parameters";
				return -1;
			}
			q->uidvalidity = (uint32_t)v;
			if (!imap_arg_get_atom(&ql[1], &a, &alen) || parse_u64(a, alen, &q->modseq) < 0) {
				*why = "bad QRESYNC parameters";
				return -1;
			}
			if (qn >= 3 && imap_arg_get_atom(&ql[2], &a, &alen)) {
				if (imap_seqset_parse(a, alen, 0, &q->known, why) < 0)
					return -1;
				q->have_known = true;
			}
			q->given = true;
			continue;
		}
		*why = "unknown select parameter";
		return -1;
	}
	return 0;
}

struct vanished_ctx {
	struct imap_seqset set;
	const struct imap_seqset *known;
};

static void vanished_cb(void *ctx, uint32_t uid)
{
	struct vanished_ctx *vc = ctx;
	if (vc->known == NULL || imap_seqset_contains(vc->known, uid))
		imap_seqset_add(&vc->set, uid, uid);
}

/* QRESYNC (RFC 7162 3.2.5): what changed since the client's MODSEQ. */
static void qresync_report(struct imap_session *s, struct qresync_params *q)
{
	struct imap_view *v = s->view;
	if (q->uidvalidity != v->mb.uidvalidity)
		return;
	struct vanished_ctx vc = {.known = q->have_known ? &q->known : NULL};
	imap_seqset_init(&vc.set);
	if (q->have_known) {
		uint32_t star = v->uidnext > 1 ? v->uidnext - 1 : 1;
		imap_seqset_resolve(&q->known, star);
		imap_seqset_normalize(&q->known);
	}
	store_expunged(s->env->store, v->mb.id, q->modseq, vanished_cb, &vc);
	if (vc.set.count > 0) {
		imap_seqset_normalize(&vc.set);
		struct buf b;
		buf_init(&b, 0);
		imap_seqset_format(&vc.set, &b);
		imap_untagged(s, "VANISHED (EARLIER) %s", b.data);
		buf_free(&b);
	}
	imap_seqset_free(&vc.set);
	struct buf line;
	buf_init(&line, 0);
	for (uint32_t i = 0; i < v->count; i++) {
		struct imap_msg *m = &v->msgs[i];
		if (m->modseq <= q->modseq)
			continue;
		if (q->have_known && !imap_seqset_contains(&q->known, m->uid))
			continue;
		buf_reset(&line);
		buf_printf(&line, "* %u FETCH (UID %u FLAGS ", i + 1, m->uid);
		imap_append_flags(&line, m->flags, m->keywords, m->recent);
		buf_printf(&line, " MODSEQ (%llu))\r\n", (unsigned long long)m->modseq);
		buf_append(imap_out(s), line.data, line.len);
	}
	buf_free(&line);
}

static void do_select(struct imap_session *s, const struct imap_command *cmd, bool readonly)
{
	char name[STORE_MAILBOX_NAME_MAX];
	struct qresync_params q = {0};
	imap_seqset_init(&q.known);
	const char *why;
	if (cmd->arg_count < 1 || cmd->arg_count > 2) {
		imap_tagged(s, cmd, "BAD", "Syntax: %s mailbox [(parameters)]", cmd->name);
		goto out;
	}
	if (cmd->arg_count == 2 && parse_select_params(s, &cmd->args[1], &q, &why) < 0) {
		imap_tagged(s, cmd, "BAD", "%s", why);
		goto out;
	}
	/* Selecting closes whatever was selected, even if this one fails. */
	if (s->view != NULL) {
		imap_view_close(s);
		imap_set_state(s, IMAP_S_AUTH);
		if (s->condstore || s->qresync || s->rev2)
			imap_untagged(s, "OK [CLOSED] Previous mailbox closed");
	}
	if (!get_mailbox(s, cmd, &cmd->args[0], name, sizeof(name)))
		goto out;
	struct store_mailbox mb;
	int f = store_mailbox_find(s->env->store, s->user.id, name, &mb);
	if (f <= 0) {
		imap_tagged(s, cmd, "NO", f < 0 ? "[SERVERBUG] %s" : "[NONEXISTENT] Mailbox %s does not exist",
			    f < 0 ? store_reason(s) : "");
		goto out;
	}
	if (q.condstore || q.given)
		s->condstore = true;
	uint32_t first_recent;
	if (imap_view_open(s, &mb, readonly, &first_recent) < 0) {
		imap_tagged(s, cmd, "NO", "[SERVERBUG] Cannot open mailbox");
		goto out;
	}
	struct imap_view *v = s->view;
	imap_set_state(s, IMAP_S_SELECTED);
	imap_view_send_flags(s);
	imap_untagged(s, "%u EXISTS", v->count);
	if (!s->rev2) {
		uint32_t recent = 0, unseen = 0;
		for (uint32_t i = 0; i < v->count; i++) {
			recent += v->msgs[i].recent;
			if (unseen == 0 && !(v->msgs[i].flags & STORE_FLAG_SEEN))
				unseen = i + 1;
		}
		imap_untagged(s, "%u RECENT", recent);
		if (unseen > 0)
			imap_untagged(s, "OK [UNSEEN %u] First unseen", unseen);
	} else {
		struct buf b;
		buf_init(&b, 0);
		buf_append_str(&b, "LIST () \"/\" ");
		imap_append_mailbox(s, &b, mb.name);
		imap_untagged(s, "%s", b.data);
		buf_free(&b);
	}
	imap_untagged(s, "OK [UIDVALIDITY %u] UIDs valid", mb.uidvalidity);
	imap_untagged(s, "OK [UIDNEXT %u] Predicted next UID", v->uidnext);
	imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)v->modseq);
	if (q.given)
		qresync_report(s, &q);
	imap_tagged(s, cmd, "OK", "[%s] %s completed", readonly ? "READ-ONLY" : "READ-WRITE",
		    cmd->name);
out:
	imap_seqset_free(&q.known);
}

static void cmd_select(struct imap_session *s, const struct imap_command *cmd)
{
	do_select(s, cmd, false);
}

static void cmd_examine(struct imap_session *s, const struct imap_command *cmd)
{
	do_select(s, cmd, true);
}

/* ----- CREATE / DELETE / RENAME / (UN)SUBSCRIBE ----- */

static void cmd_create(struct imap_session *s, const struct imap_command *cmd)
{
	char name[STORE_MAILBOX_NAME_MAX];
	const char *use = NULL;
	if (cmd->arg_count < 1 || cmd->arg_count > 2) {
		imap_tagged(s, cmd, "BAD", "Syntax: CREATE mailbox [(USE (attrs))]");
		return;
	}
	if (!get_mailbox(s, cmd, &cmd->args[0], name, sizeof(name)))
		return;
	if (cmd->arg_count == 2) {
		/* RFC 6154 CREATE-SPECIAL-USE: (USE (\Sent)) */
		const struct imap_arg *l, *ul;
		size_t n, un;
		const char *a;
		if (!imap_arg_get_list(&cmd->args[1], &l, &n) || n != 2 ||
		    !imap_arg_atom_equals(&l[0], "USE") || !imap_arg_get_list(&l[1], &ul, &un) ||
		    un != 1 || !imap_arg_get_atom(&ul[0], &a, NULL)) {
			imap_tagged(s, cmd, "BAD", "Syntax: CREATE mailbox [(USE (attr))]");
			return;
		}
		static const char *const uses[] = {"\\All", "\\Archive", "\\Drafts", "\\Flagged",
						   "\\Junk", "\\Sent", "\\Trash"};
		for (size_t i = 0; i < sizeof(uses) / sizeof(uses[0]); i++)
			if (strcasecmp(a, uses[i]) == 0)
				use = uses[i];
		if (use == NULL) {
			imap_tagged(s, cmd, "NO", "[USEATTR] Unsupported special-use attribute");
			return;
		}
	}
	if (strcmp(name, "INBOX") == 0) {
		imap_tagged(s, cmd, "NO", "[ALREADYEXISTS] INBOX already exists");
		return;
	}
	/* Parents that do not exist yet are created too (RFC 9051 6.3.4). */
	for (char *p = strchr(name, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		struct store_mailbox mb;
		if (store_mailbox_find(s->env->store, s->user.id, name, &mb) == 0)
			store_mailbox_create(s->env->store, s->user.id, name, NULL);
		*p = '/';
	}
	if (store_mailbox_create(s->env->store, s->user.id, name, use) < 0) {
		const char *err = store_reason(s);
		if (strcmp(err, "exists") == 0)
			imap_tagged(s, cmd, "NO", "[ALREADYEXISTS] Mailbox already exists");
		else
			imap_tagged(s, cmd, "NO", "[SERVERBUG] Cannot create mailbox");
		return;
	}
	imap_tagged(s, cmd, "OK", "Create completed");
}

static void cmd_delete(struct imap_session *s, const struct imap_command *cmd)
{
	char name[STORE_MAILBOX_NAME_MAX];
	if (cmd->arg_count != 1) {
		imap_tagged(s, cmd, "BAD", "Syntax: DELETE mailbox");
		return;
	}
	if (!get_mailbox(s, cmd, &cmd->args[0], name, sizeof(name)))
		return;
	if (strcmp(name, "INBOX") == 0) {
		imap_tagged(s, cmd, "NO", "Cannot delete INBOX");
		return;
	}
	if (s->view != NULL && strcmp(s->view->mb.name, name) == 0) {
		imap_view_close(s);
		imap_set_state(s, IMAP_S_AUTH);
	}
	if (store_mailbox_delete(s->env->store, s->user.id, name) < 0) {
		const char *err = store_reason(s);
		if (strcmp(err, "no such mailbox") == 0)
			imap_tagged(s, cmd, "NO", "[NONEXISTENT] Mailbox does not exist");
		else if (strcmp(err, "has children") == 0)
			imap_tagged(s, cmd, "NO", "[HASCHILDREN] Mailbox has children, delete them first");
		else
			imap_tagged(s, cmd, "NO", "[SERVERBUG] Cannot delete mailbox");
		return;
	}
	imap_tagged(s, cmd, "OK", "Delete completed");
}

static void cmd_rename(struct imap_session *s, const struct imap_command *cmd)
{
	char from[STORE_MAILBOX_NAME_MAX], to[STORE_MAILBOX_NAME_MAX];
	if (cmd->arg_count != 2) {
		imap_tagged(s, cmd, "BAD", "Syntax: RENAME from to");
		return;
	}
	if (!get_mailbox(s, cmd, &cmd->args[0], from, sizeof(from)) ||
	    !get_mailbox(s, cmd, &cmd->args[1], to, sizeof(to)))
		return;
	size_t fl = strlen(from);
	if (strncmp(to, from, fl) == 0 && to[fl] == '/') {
		imap_tagged(s, cmd, "NO", "Cannot rename a mailbox into itself");
		return;
	}
	for (char *p = strchr(to, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		struct store_mailbox mb;
		if (store_mailbox_find(s->env->store, s->user.id, to, &mb) == 0)
			store_mailbox_create(s->env->store, s->user.id, to, NULL);
		*p = '/';
	}
	if (s->view != NULL && strcmp(s->view->mb.name, from) == 0) {
		imap_view_close(s);
		imap_set_state(s, IMAP_S_AUTH);
	}
	if (store_mailbox_rename(s->env->store, s->user.id, from, to) < 0) {
		const char *err = store_reason(s);
		if (strcmp(err, "exists") == 0)
			imap_tagged(s, cmd, "NO", "[ALREADYEXISTS] Target mailbox already exists");
		else if (strcmp(err, "no such mailbox") == 0)
			imap_tagged(s, cmd, "NO", "[NONEXISTENT] Mailbox does not exist");
		else
			imap_tagged(s, cmd, "NO", "[SERVERBUG] Cannot rename mailbox");
		return;
	}
	imap_tagged(s, cmd, "OK", "Rename completed");
}

static void do_subscribe(struct imap_session *s, const struct imap_command *cmd, bool on)
{
	char name[STORE_MAILBOX_NAME_MAX];
	if (cmd->arg_count != 1) {
		imap_tagged(s, cmd, "BAD", "Syntax: %s mailbox", cmd->name);
		return;
	}
	if (!get_mailbox(s, cmd, &cmd->args[0], name, sizeof(name)))
		return;
	if (store_mailbox_subscribe(s->env->store, s->user.id, name, on) < 0) {
		imap_tagged(s, cmd, "NO", "[SERVERBUG] %s failed", cmd->name);
		return;
	}
	imap_tagged(s, cmd, "OK", "%s completed", cmd->name);
}

static void cmd_subscribe(struct imap_session *s, const struct imap_command *cmd)
{
	do_subscribe(s, cmd, true);
}

static void cmd_unsubscribe(struct imap_session *s, const struct imap_command *cmd)
{
	do_subscribe(s, cmd, false);
}

/* ----- LIST / LSUB ----- */

/* IMAP pattern match: '*' anything, '%' anything but the separator.
 * Simulated as a set of pattern positions, one pass over the name: time
 * O(pattern x name) whatever the wildcards (backtracking would be
 * exponential in the number of them: one LIST could stall a loop). */
static void pattern_closure(const char *p, size_t pl, bool *set)
{
	for (size_t i = 0; i < pl; i++)
		if (set[i] && (p[i] == '*' || p[i] == '%'))
			set[i + 1] = true;
}

static bool pattern_match(const char *p, const char *n)
{
	size_t pl = strlen(p);
	bool *cur = xcalloc(pl + 1, sizeof(bool)), *next = xcalloc(pl + 1, sizeof(bool));
	cur[0] = true;
	pattern_closure(p, pl, cur);
	bool any = true;
	for (; *n != '\0' && any; n++) {
		memset(next, 0, pl + 1);
		any = false;
		for (size_t i = 0; i < pl; i++) {
			if (!cur[i])
				continue;
			/* INBOX matches case-insensitively; names already use "INBOX". */
			if (p[i] == '*' || (p[i] == '%' && *n != '/'))
				next[i] = any = true;
			else if (p[i] != '*' && p[i] != '%' && p[i] == *n)
				next[i + 1] = any = true;
		}
		pattern_closure(p, pl, next);
		bool *t = cur;
		cur = next;
		next = t;
	}
	bool match = any && cur[pl];
	free(cur);
	free(next);
	return match;
}

struct list_entry {
	char *name;
	bool exists, subscribed, has_children;
	bool sub_child; /* a descendant is subscribed */
	bool listed;	/* LIST: already returned (for an earlier pattern) */
	char special_use[32];
	int64_t id;
};

struct list_ctx {
	struct list_entry *v;
	size_t n, cap;
};

static struct list_entry *list_find(struct list_ctx *lc, const char *name)
{
	for (size_t i = 0; i < lc->n; i++)
		if (strcmp(lc->v[i].name, name) == 0)
			return &lc->v[i];
	return NULL;
}

static struct list_entry *list_add(struct list_ctx *lc, const char *name)
{
	struct list_entry *e = list_find(lc, name);
	if (e != NULL)
		return e;
	if (lc->n == lc->cap) {
		lc->cap = lc->cap == 0 ? 32 : lc->cap * 2;
		lc->v = xrealloc(lc->v, lc->cap * sizeof(*lc->v));
	}
	e = &lc->v[lc->n++];
	memset(e, 0, sizeof(*e));
	e->name = xstrdup(name);
	return e;
}

static void list_mailbox_cb(void *ctx, const struct store_mailbox *mb)
{
	struct list_ctx *lc = ctx;
	struct list_entry *e = list_add(lc, mb->name);
	e->exists = true;
	e->id = mb->id;
	snprintf(e->special_use, sizeof(e->special_use), "%s", mb->special_use);
}

static void list_sub_cb(void *ctx, const char *name)
{
	struct list_ctx *lc = ctx;
	list_add(lc, name)->subscribed = true;
}

static int cmp_entries(const void *a, const void *b)
{
	const struct list_entry *x = a, *y = b;
	bool xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;
	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void list_free(struct list_ctx *lc)
{
	for (size_t i = 0; i < lc->n; i++)
		free(lc->v[i].name);
	free(lc->v);
}

static void status_items(struct imap_session *s, int64_t mailbox_id, const char *name,
			 const struct imap_arg *items, size_t n, struct buf *out);

/* Does any of the (decoded) patterns match the name? NULL patterns are
 * ones that could not be decoded. */
static bool match_any(char *const *pats, size_t npats, const char *name)
{
	for (size_t p = 0; p < npats; p++)
		if (pats[p] != NULL && pattern_match(pats[p], name))
			return true;
	return false;
}

/* RFC 5258 3.5, LIST (SUBSCRIBED RECURSIVEMATCH): a mailbox that is not
 * itself subscribed is returned with CHILDINFO only if at least one of its
 * subscribed descendants is not returned itself (no pattern matches it, or
 * SPECIAL-USE selection leaves it out): "servers SHOULD suppress redundant
 * CHILDINFO responses". */
static bool sub_child_unlisted(const struct list_ctx *lc, const struct list_entry *e,
			       char *const *pats, size_t npats, bool sel_special)
{
	size_t l = strlen(e->name);
	for (size_t j = 0; j < lc->n; j++) {
		const struct list_entry *c = &lc->v[j];
		if (!c->subscribed || strncmp(c->name, e->name, l) != 0 || c->name[l] != '/')
			continue;
		if (!match_any(pats, npats, c->name) || (sel_special && c->special_use[0] == '\0'))
			return true;
	}
	return false;
}

static void do_list(struct imap_session *s, const struct imap_command *cmd, bool lsub)
{
	const struct imap_arg *args = cmd->args;
	unsigned argc = cmd->arg_count, i = 0;
	bool sel_subscribed = lsub, sel_special = false, sel_recursive = false;
	bool ret_subscribed = false, ret_children = true, ret_special = true;
	const struct imap_arg *ret_status = NULL;
	size_t ret_status_n = 0;
	const struct imap_arg *list;
	size_t n;
	/* LIST-EXTENDED selection options. */
	if (!lsub && i < argc && imap_arg_get_list(&args[i], &list, &n)) {
		for (size_t k = 0; k < n; k++) {
			if (imap_arg_atom_equals(&list[k], "SUBSCRIBED"))
				sel_subscribed = true;
			else if (imap_arg_atom_equals(&list[k], "SPECIAL-USE"))
				sel_special = true;
			else if (imap_arg_atom_equals(&list[k], "RECURSIVEMATCH"))
				sel_recursive = true;
			else if (!imap_arg_atom_equals(&list[k], "REMOTE")) {
				imap_tagged(s, cmd, "BAD", "Unknown LIST selection option");
				return;
			}
		}
		if (sel_recursive && !sel_subscribed) {
			imap_tagged(s, cmd, "BAD", "RECURSIVEMATCH needs another selection option");
			return;
		}
		i++;
	}
	if (argc < i + 2) {
		imap_tagged(s, cmd, "BAD", "Syntax: %s reference pattern", cmd->name);
		return;
	}
	const struct imap_arg *ref_arg = &args[i++], *pat_arg = &args[i++];
	if (!lsub && i < argc) {
		if (!imap_arg_atom_equals(&args[i], "RETURN") || i + 1 >= argc ||
		    !imap_arg_get_list(&args[i + 1], &list, &n)) {
			imap_tagged(s, cmd, "BAD", "Syntax: LIST ... RETURN (options)");
			return;
		}
		for (size_t k = 0; k < n; k++) {
			if (imap_arg_atom_equals(&list[k], "SUBSCRIBED"))
				ret_subscribed = true;
			else if (imap_arg_atom_equals(&list[k], "CHILDREN"))
				ret_children = true;
			else if (imap_arg_atom_equals(&list[k], "SPECIAL-USE"))
				ret_special = true;
			else if (imap_arg_atom_equals(&list[k], "STATUS") && k + 1 < n &&
				 imap_arg_get_list(&list[k + 1], &ret_status, &ret_status_n))
				k++;
			else {
				imap_tagged(s, cmd, "BAD", "Unknown LIST return option");
				return;
			}
		}
	}
	const char *ref;
	size_t reflen;
	if (!imap_arg_get_astring(ref_arg, &ref, &reflen)) {
		imap_tagged(s, cmd, "BAD", "Reference name expected");
		return;
	}
	/* Patterns: one, or a list of them (LIST-EXTENDED). */
	const struct imap_arg *pats = pat_arg;
	size_t npats = 1;
	if (imap_arg_get_list(pat_arg, &list, &n)) {
		pats = list;
		npats = n;
	}
	struct list_ctx lc = {0};
	store_mailbox_list(s->env->store, s->user.id, list_mailbox_cb, &lc);
	store_subscriptions(s->env->store, s->user.id, list_sub_cb, &lc);
	/* Parents of every mailbox (and, for subscription listings, of every
	 * subscription), for \Noselect/\HasChildren. */
	size_t base = lc.n;
	for (size_t k = 0; k < base; k++) {
		if (!lc.v[k].exists && !sel_subscribed)
			continue;
		char *name = xstrdup(lc.v[k].name);
		for (char *p = strrchr(name, '/'); p != NULL; p = strrchr(name, '/')) {
			*p = '\0';
			struct list_entry *parent = list_add(&lc, name);
			parent->has_children = true;
		}
		free(name);
	}
	for (size_t k = 0; k < lc.n; k++) {
		size_t l = strlen(lc.v[k].name);
		lc.v[k].has_children = false;
		for (size_t j = 0; j < lc.n; j++) {
			if (strncmp(lc.v[j].name, lc.v[k].name, l) != 0 || lc.v[j].name[l] != '/')
				continue;
			if (lc.v[j].exists)
				lc.v[k].has_children = true;
			if (lc.v[j].subscribed)
				lc.v[k].sub_child = true;
		}
	}
	qsort(lc.v, lc.n, sizeof(*lc.v), cmp_entries);
	/* Decode every reference + pattern first, like a mailbox name (mUTF-7
	 * unless UTF-8 is on): RECURSIVEMATCH looks at all of them together.
	 * NULL: not a string or not decodable; "": LIST "" "". */
	char **dec = xcalloc(npats + 1, sizeof(*dec));
	for (size_t p = 0; p < npats; p++) {
		const char *pat;
		size_t patlen;
		if (!imap_arg_get_astring(&pats[p], &pat, &patlen))
			continue;
		char full[STORE_MAILBOX_NAME_MAX * 2];
		snprintf(full, sizeof(full), "%.*s%.*s", (int)reflen, ref, (int)patlen, pat);
		if (full[0] == '\0' || s->utf8) {
			dec[p] = xstrdup(full);
		} else {
			struct buf d;
			const char *why;
			buf_init(&d, sizeof(full) - 1);
			if (imap_utf7_to_utf8(full, strlen(full), &d, &why) >= 0 && d.data != NULL)
				dec[p] = xstrdup(d.data);
			buf_free(&d);
		}
		if (dec[p] != NULL && strncasecmp(dec[p], "INBOX", 5) == 0 &&
		    (dec[p][5] == '\0' || dec[p][5] == '/'))
			memcpy(dec[p], "INBOX", 5);
	}
	struct buf line;
	buf_init(&line, 0);
	for (size_t p = 0; p < npats; p++) {
		const char *decoded = dec[p];
		if (decoded == NULL)
			continue;
		if (decoded[0] == '\0') {
			/* LIST "" "": the hierarchy delimiter. */
			imap_untagged(s, "%s (\\Noselect) \"/\" \"\"", lsub ? "LSUB" : "LIST");
			continue;
		}
		for (size_t k = 0; k < lc.n; k++) {
			struct list_entry *e = &lc.v[k];
			if ((!lsub && e->listed) || !pattern_match(decoded, e->name))
				continue;
			bool show, noselect = !e->exists, nonexistent = false;
			const char *childinfo = NULL;
			if (lsub) {
				show = e->subscribed;
				/* RFC 3501 6.3.9: a parent matched by "%" whose
				 * subscribed child is not matched shows \Noselect. */
				if (!show && e->sub_child) {
					bool child_listed = false;
					size_t l = strlen(e->name);
					for (size_t j = 0; j < lc.n && !child_listed; j++)
						child_listed = lc.v[j].subscribed &&
							       strncmp(lc.v[j].name, e->name, l) == 0 &&
							       lc.v[j].name[l] == '/' &&
							       pattern_match(decoded, lc.v[j].name);
					show = !child_listed;
					noselect = true;
				}
			} else if (sel_subscribed) {
				show = e->subscribed;
				nonexistent = e->subscribed && !e->exists;
				noselect = false;
				/* RFC 5258 3.5 and its table in 4: CHILDINFO with
				 * a subscribed mailbox that has subscribed
				 * descendants, and for a parent not subscribed
				 * itself only when not redundant. */
				if (sel_recursive && e->sub_child &&
				    (show || sub_child_unlisted(&lc, e, dec, npats, sel_special))) {
					childinfo = "SUBSCRIBED";
					nonexistent = !e->exists;
					show = true;
				}
			} else {
				show = e->exists || e->has_children;
			}
			if (sel_special && e->special_use[0] == '\0')
				show = false;
			if (!show)
				continue;
			e->listed = true;
			buf_reset(&line);
			buf_printf(&line, "* %s (", lsub ? "LSUB" : "LIST");
			bool first = true;
#define ATTR(x)                                                                                    \
	do {                                                                                       \
		buf_printf(&line, "%s%s", first ? "" : " ", x);                                  \
		first = false;                                                                     \
	} while (0)
			if (nonexistent)
				ATTR("\\NonExistent");
			else if (noselect)
				ATTR("\\Noselect");
			if (!lsub && ret_children && !nonexistent)
				ATTR(e->has_children ? "\\HasChildren" : "\\HasNoChildren");
			if (!lsub && (ret_subscribed || sel_subscribed) && e->subscribed)
				ATTR("\\Subscribed");
			if (!lsub && (ret_special || sel_special) && e->special_use[0] != '\0')
				ATTR(e->special_use);
#undef ATTR
			buf_append_str(&line, ") \"/\" ");
			imap_append_mailbox(s, &line, e->name);
			if (childinfo != NULL)
				buf_printf(&line, " (\"CHILDINFO\" (\"%s\"))", childinfo);
			buf_append_str(&line, "\r\n");
			buf_append(imap_out(s), line.data, line.len);
			if (ret_status != NULL && e->exists)
				status_items(s, e->id, e->name, ret_status, ret_status_n, imap_out(s));
		}
	}
	buf_free(&line);
	for (size_t p = 0; p < npats; p++)
		free(dec[p]);
	free(dec);
	list_free(&lc);
	imap_tagged(s, cmd, "OK", "%s completed", cmd->name);
}

static void cmd_list(struct imap_session *s, const struct imap_command *cmd)
{
	do_list(s, cmd, false);
}

static void cmd_lsub(struct imap_session *s, const struct imap_command *cmd)
{
	do_list(s, cmd, true);
}

/* ----- STATUS ----- */

/* Write "* STATUS name (...)\r\n" for the requested items. */
static void status_items(struct imap_session *s, int64_t mailbox_id, const char *name,
			 const struct imap_arg *items, size_t n, struct buf *out)
{
	struct store_mailbox_status st = {0};
	struct store_mailbox mb;
	store_mailbox_status(s->env->store, mailbox_id, &st);
	if (store_mailbox_find(s->env->store, s->user.id, name, &mb) != 1)
		return;
	buf_append_str(out, "* STATUS ");
	imap_append_mailbox(s, out, name);
	buf_append_str(out, " (");
	for (size_t i = 0; i < n; i++) {
		const char *a;
		if (!imap_arg_get_atom(&items[i], &a, NULL))
			continue;
		if (i > 0)
			buf_append(out, " ", 1);
		if (strcasecmp(a, "MESSAGES") == 0)
			buf_printf(out, "MESSAGES %u", st.messages);
		else if (strcasecmp(a, "UIDNEXT") == 0)
			buf_printf(out, "UIDNEXT %u", mb.uidnext);
		else if (strcasecmp(a, "UIDVALIDITY") == 0)
			buf_printf(out, "UIDVALIDITY %u", mb.uidvalidity);
		else if (strcasecmp(a, "UNSEEN") == 0)
			buf_printf(out, "UNSEEN %u", st.unseen);
		else if (strcasecmp(a, "RECENT") == 0)
			buf_printf(out, "RECENT %u", st.recent);
		else if (strcasecmp(a, "SIZE") == 0)
			buf_printf(out, "SIZE %llu", (unsigned long long)st.size);
		else if (strcasecmp(a, "DELETED") == 0)
			buf_printf(out, "DELETED %u", st.deleted);
		else if (strcasecmp(a, "HIGHESTMODSEQ") == 0)
			buf_printf(out, "HIGHESTMODSEQ %llu", (unsigned long long)mb.highestmodseq);
		else if (strcasecmp(a, "APPENDLIMIT") == 0)
			buf_printf(out, "APPENDLIMIT %llu",
				   (unsigned long long)s->env->cfg->max_message_size);
	}
	buf_append_str(out, ")\r\n");
}

static bool status_item_ok(const char *a)
{
	static const char *const ok[] = {"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "RECENT",
					 "SIZE",     "DELETED", "HIGHESTMODSEQ", "APPENDLIMIT"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcasecmp(a, ok[i]) == 0)
			return true;
	return false;
}

static void cmd_status(struct imap_session *s, const struct imap_command *cmd)
{
	char name[STORE_MAILBOX_NAME_MAX];
	const struct imap_arg *items;
	size_t n;
	if (cmd->arg_count != 2 || !imap_arg_get_list(&cmd->args[1], &items, &n) || n == 0) {
		imap_tagged(s, cmd, "BAD", "Syntax: STATUS mailbox (items)");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *a;
		if (!imap_arg_get_atom(&items[i], &a, NULL) || !status_item_ok(a)) {
			imap_tagged(s, cmd, "BAD", "Unknown STATUS item");
			return;
		}
	}
	if (!get_mailbox(s, cmd, &cmd->args[0], name, sizeof(name)))
		return;
	struct store_mailbox mb;
	int f = store_mailbox_find(s->env->store, s->user.id, name, &mb);
	if (f <= 0) {
		imap_tagged(s, cmd, "NO", "[NONEXISTENT] Mailbox does not exist");
		return;
	}
	status_items(s, mb.id, name, items, n, imap_out(s));
	imap_tagged(s, cmd, "OK", "Status completed");
}

/* ----- quota ----- */

static void send_quota(struct imap_session *s)
{
	uint64_t quota = 0, used = 0;
	if (store_account_quota(s->env->store, s->user.id, &quota, &used) != 1 || quota == 0) {
		imap_untagged(s, "QUOTA \"\" ()");
		return;
	}
	imap_untagged(s, "QUOTA \"\" (STORAGE %llu %llu)", (unsigned long long)(used + 1023) / 1024,
		      (unsigned long long)quota / 1024);
}

static void cmd_getquotaroot(struct imap_session *s, const struct imap_command *cmd)
{
	char name[STORE_MAILBOX_NAME_MAX];
	if (cmd->arg_count != 1) {
		imap_tagged(s, cmd, "BAD", "Syntax: GETQUOTAROOT mailbox");
		return;
	}
	if (!get_mailbox(s, cmd, &cmd->args[0], name, sizeof(name)))
		return;
	struct buf b;
	buf_init(&b, 0);
	buf_append_str(&b, "QUOTAROOT ");
	imap_append_mailbox(s, &b, name);
	buf_append_str(&b, " \"\"");
	imap_untagged(s, "%s", b.data);
	buf_free(&b);
	send_quota(s);
	imap_tagged(s, cmd, "OK", "Getquotaroot completed");
}

static void cmd_getquota(struct imap_session *s, const struct imap_command *cmd)
{
	const char *root;
	size_t len;
	if (cmd->arg_count != 1 || !imap_arg_get_astring(&cmd->args[0], &root, &len)) {
		imap_tagged(s, cmd, "BAD", "Syntax: GETQUOTA root");
		return;
	}
	if (len != 0) {
		imap_tagged(s, cmd, "NO", "[NONEXISTENT] No such quota root");
		return;
	}
	send_quota(s);
	imap_tagged(s, cmd, "OK", "Getquota completed");
}

static void cmd_setquota(struct imap_session *s, const struct imap_command *cmd)
{
	imap_tagged(s, cmd, "NO", "[NOPERM] Quotas are set by the administrator");
}

/* ----- APPEND ----- */

struct append_job {
	struct imap_session *s;
	struct store_commit_result res;
	char error[160];
};

static void append_done(void *arg)
{
	struct append_job *j = arg;
	struct imap_session *s = j->s;
	if (!s->dead && s->cmd != NULL) {
		if (j->res.result == 0)
			imap_tagged(s, s->cmd, "OK", "[APPENDUID %u %u] Append completed",
				    j->res.uidvalidity, j->res.uid);
		else if (j->res.disk_full)
			imap_tagged(s, s->cmd, "NO", "[OVERQUOTA] Not enough disk space");
		else
			imap_tagged(s, s->cmd, "NO", "[SERVERBUG] Cannot save message");
	}
	free(j);
	imap_command_finished(s);
}

static void append_commit_cb(void *ctx, const struct store_commit_result *res)
{
	struct append_job *j = ctx;
	j->res = *res;
	j->res.error = NULL;
	loop_post(j->s->env->loop, append_done, j);
}

static void cmd_append(struct imap_session *s, const struct imap_command *cmd)
{
	char name[STORE_MAILBOX_NAME_MAX];
	const struct imap_arg *args = cmd->args;
	unsigned argc = cmd->arg_count, i = 1;
	uint32_t flags = 0;
	struct buf kw, conv;
	buf_init(&kw, 4096);
	buf_init(&conv, 2 * (size_t)s->env->cfg->max_message_size + 65536);
	int64_t date = 0;
	const char *why;
	const char *data = NULL;
	size_t len = 0;
	if (argc < 2) {
		imap_tagged(s, cmd, "BAD", "Syntax: APPEND mailbox [(flags)] [date] literal");
		goto out;
	}
	if (i < argc && args[i].type == IMAP_ARG_LIST) {
		if (imap_parse_flags(&args[i], &flags, &kw, &why) < 0) {
			imap_tagged(s, cmd, "BAD", "Invalid flags: %s", why);
			goto out;
		}
		i++;
	}
	if (i + 1 < argc && args[i].type == IMAP_ARG_QUOTED) {
		time_t t;
		int tz;
		if (imap_datetime_parse(args[i].str, args[i].len, &t, &tz, &why) < 0) {
			imap_tagged(s, cmd, "BAD", "Invalid date-time: %s", why);
			goto out;
		}
		date = (int64_t)t;
		i++;
	}
	if (i < argc && imap_arg_atom_equals(&args[i], "UTF8") && i + 1 < argc) {
		/* RFC 6855: APPEND ... UTF8 (~{n}...) */
		const struct imap_arg *l;
		size_t n;
		if (!imap_arg_get_list(&args[i + 1], &l, &n) || n != 1 ||
		    !imap_arg_get_string(&l[0], &data, &len)) {
			imap_tagged(s, cmd, "BAD", "Syntax: APPEND ... UTF8 (literal8)");
			goto out;
		}
		i += 2;
	} else if (i < argc && imap_arg_get_string(&args[i], &data, &len)) {
		i++;
	}
	if (data == NULL || i != argc) {
		imap_tagged(s, cmd, "BAD", "Syntax: APPEND mailbox [(flags)] [date] literal");
		goto out;
	}
	if (!get_mailbox(s, cmd, &args[0], name, sizeof(name)))
		goto out;
	struct store_mailbox mb;
	int f = store_mailbox_find(s->env->store, s->user.id, name, &mb);
	if (f <= 0) {
		imap_tagged(s, cmd, "NO", "[TRYCREATE] Mailbox does not exist");
		goto out;
	}
	if (len == 0) {
		imap_tagged(s, cmd, "NO", "Empty message");
		goto out;
	}
	if (len > s->env->cfg->max_message_size) {
		imap_tagged(s, cmd, "NO", "[TOOBIG] Message too large");
		goto out;
	}
	/* RFC 3516 4.3: binary parts that could not be stored and served as
	 * they are (NUL, bare CR/LF) are stored as base64. */
	int converted = imap_binary_convert(data, len, &conv);
	if (converted < 0) {
		imap_tagged(s, cmd, "NO", "[SERVERBUG] Cannot save message");
		goto out;
	}
	if (converted == 1) {
		data = conv.data;
		len = conv.len;
	}
	uint64_t quota = 0, used = 0;
	if (store_account_quota(s->env->store, s->user.id, &quota, &used) == 1 && quota > 0 &&
	    used + len > quota) {
		imap_tagged(s, cmd, "NO", "[OVERQUOTA] Quota exceeded");
		goto out;
	}
	struct store_msg *msg;
	if (store_msg_begin(s->env->store, &msg) < 0) {
		imap_tagged(s, cmd, "NO", "[SERVERBUG] Cannot save message");
		goto out;
	}
	/* The one line-ending rule of the store (see smtp_data.h): bare CR
	 * and LF become CRLF, so sizes and sections are exact for IMAP. */
	struct smtp_data_decoder dec;
	smtp_data_init(&dec, false);
	char *norm = xmalloc(2 * 65536 + 8);
	for (size_t off = 0; off < len;) {
		size_t take = len - off < 65536 ? len - off : 65536, outlen;
		size_t consumed = smtp_data_feed(&dec, data + off, take, norm, &outlen);
		store_msg_write(msg, norm, outlen);
		off += consumed;
	}
	size_t tail;
	smtp_data_finish(&dec, norm, &tail);
	store_msg_write(msg, norm, tail);
	free(norm);
	bool full;
	if (store_msg_error(msg, &full) != NULL) {
		store_msg_abort(&msg);
		imap_tagged(s, cmd, "NO", full ? "[OVERQUOTA] Not enough disk space"
					       : "[SERVERBUG] Cannot save message");
		goto out;
	}
	struct append_job *j = xcalloc(1, sizeof(*j));
	j->s = s;
	struct store_envelope env = {
		.sender = "",
		.append_mailbox = mb.id,
		.append_flags = flags,
		.append_keywords = kw.data,
		.append_date = date > 0 ? date : (int64_t)time(NULL),
	};
	s->cmd_async = true;
	store_msg_commit_env(msg, &env, append_commit_cb, j);
out:
	buf_free(&kw);
	buf_free(&conv);
}

/* ----- CLOSE / UNSELECT / EXPUNGE ----- */

static size_t deleted_uids(struct imap_view *v, const struct imap_seqset *only, uint32_t **out)
{
	uint32_t *u = xmalloc((v->count == 0 ? 1 : v->count) * sizeof(uint32_t));
	size_t n = 0;
	for (uint32_t i = 0; i < v->count; i++)
		if ((v->msgs[i].flags & STORE_FLAG_DELETED) &&
		    (only == NULL || imap_seqset_contains(only, v->msgs[i].uid)))
			u[n++] = v->msgs[i].uid;
	*out = u;
	return n;
}

static void cmd_close(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->arg_count != 0) {
		imap_tagged(s, cmd, "BAD", "CLOSE takes no arguments");
		return;
	}
	if (!s->view->readonly) {
		uint32_t *uids;
		size_t n = deleted_uids(s->view, NULL, &uids);
		if (n > 0 && store_expunge(s->env->store, s->view->mb.id, uids, n) < 0)
			log_error("imap", s->id, "CLOSE expunge: %s", store_reason(s));
		free(uids);
	}
	imap_view_close(s);
	imap_set_state(s, IMAP_S_AUTH);
	imap_tagged(s, cmd, "OK", "Close completed");
}

static void cmd_unselect(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->arg_count != 0) {
		imap_tagged(s, cmd, "BAD", "UNSELECT takes no arguments");
		return;
	}
	imap_view_close(s);
	imap_set_state(s, IMAP_S_AUTH);
	imap_tagged(s, cmd, "OK", "Unselect completed");
}

static void do_expunge(struct imap_session *s, const struct imap_command *cmd,
		       const struct imap_seqset *only)
{
	if (s->view->readonly) {
		imap_tagged(s, cmd, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	uint32_t *uids;
	size_t n = deleted_uids(s->view, only, &uids);
	if (n > 0 && store_expunge(s->env->store, s->view->mb.id, uids, n) < 0) {
		free(uids);
		imap_tagged(s, cmd, "NO", "[SERVERBUG] Expunge failed");
		return;
	}
	imap_view_expunged(s, uids, n);
	free(uids);
	imap_tagged(s, cmd, "OK", "Expunge completed");
}

static void cmd_expunge(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->arg_count != 0) {
		imap_tagged(s, cmd, "BAD", "EXPUNGE takes no arguments");
		return;
	}
	do_expunge(s, cmd, NULL);
}

static void cmd_uid_expunge(struct imap_session *s, const struct imap_command *cmd)
{
	const char *a;
	size_t len;
	const char *why;
	struct imap_seqset set;
	imap_seqset_init(&set);
	if (cmd->arg_count != 1 || !imap_arg_get_atom(&cmd->args[0], &a, &len) ||
	    imap_seqset_parse(a, len, 0, &set, &why) < 0) {
		imap_seqset_free(&set);
		imap_tagged(s, cmd, "BAD", "Syntax: UID EXPUNGE uid-set");
		return;
	}
	struct imap_view *v = s->view;
	imap_seqset_resolve(&set, v->count > 0 ? v->msgs[v->count - 1].uid : 0);
	imap_seqset_normalize(&set);
	do_expunge(s, cmd, &set);
	imap_seqset_free(&set);
}

const struct imap_cmd_def imap_cmds_mailbox[] = {
	{"SELECT", cmd_select, IMAP_CMD_AUTH},
	{"EXAMINE", cmd_examine, IMAP_CMD_AUTH},
	{"CREATE", cmd_create, IMAP_CMD_AUTH},
	{"DELETE", cmd_delete, IMAP_CMD_AUTH},
	{"RENAME", cmd_rename, IMAP_CMD_AUTH},
	{"SUBSCRIBE", cmd_subscribe, IMAP_CMD_AUTH},
	{"UNSUBSCRIBE", cmd_unsubscribe, IMAP_CMD_AUTH},
	{"LIST", cmd_list, IMAP_CMD_AUTH},
	{"LSUB", cmd_lsub, IMAP_CMD_AUTH},
	{"STATUS", cmd_status, IMAP_CMD_AUTH},
	{"APPEND", cmd_append, IMAP_CMD_AUTH},
	{"GETQUOTAROOT", cmd_getquotaroot, IMAP_CMD_AUTH},
	{"GETQUOTA", cmd_getquota, IMAP_CMD_AUTH},
	{"SETQUOTA", cmd_setquota, IMAP_CMD_AUTH},
	{"CLOSE", cmd_close, IMAP_CMD_SELECTED},
	{"UNSELECT", cmd_unselect, IMAP_CMD_SELECTED},
	{"EXPUNGE", cmd_expunge, IMAP_CMD_SELECTED},
	{"UID EXPUNGE", cmd_uid_expunge, IMAP_CMD_SELECTED},
	{NULL, NULL, 0},
};
