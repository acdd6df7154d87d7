/* imap_view.c - the selected mailbox as one session sees it: messages by
 * sequence number, and the synchronisation that turns what others changed
 * in the store (new mail, flags, expunges) into untagged responses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/util.h"
#include "imap/imap_private.h"

static void msg_free(struct imap_msg *m)
{
	free(m->keywords);
	free(m->file);
}

static void view_push(struct imap_view *v, const struct store_message *sm, bool recent)
{
	if (v->count == v->cap) {
		v->cap = v->cap == 0 ? 64 : v->cap * 2;
		v->msgs = xrealloc(v->msgs, v->cap * sizeof(*v->msgs));
	}
	struct imap_msg *m = &v->msgs[v->count++];
	m->uid = sm->uid;
	m->flags = sm->flags;
	m->keywords = sm->keywords[0] != '\0' ? xstrdup(sm->keywords) : NULL;
	m->modseq = sm->modseq;
	m->size = sm->size;
	m->internaldate = sm->internaldate;
	m->file = xstrdup(sm->file);
	m->recent = recent;
	if (sm->uid >= v->uidnext)
		v->uidnext = sm->uid + 1;
}

struct open_ctx {
	struct imap_view *v;
	uint32_t seen_uid, upto; /* UIDs in (seen, upto] are \Recent for this session */
	bool rev1;
};

/* Remember keywords of the mailbox (for FLAGS); true if kw was new. */
static bool view_add_keywords(struct imap_view *v, const char *list)
{
	bool added = false;
	for (const char *p = list != NULL ? list : ""; *p != '\0';) {
		size_t n = strcspn(p, " ");
		bool have = false;
		for (size_t i = 0; i < v->nkeywords && !have; i++)
			have = strlen(v->keywords[i]) == n && strncasecmp(v->keywords[i], p, n) == 0;
		if (!have && n > 0 && v->nkeywords < 1000) {
			v->keywords = xrealloc(v->keywords, (v->nkeywords + 1) * sizeof(char *));
			v->keywords[v->nkeywords++] = xstrndup(p, n);
			added = true;
		}
		p += n;
		while (*p == ' ')
			p++;
	}
	return added;
}

static void open_cb(void *ctx, const struct store_message *sm)
{
	struct open_ctx *oc = ctx;
	view_push(oc->v, sm, oc->rev1 && sm->uid > oc->seen_uid && sm->uid <= oc->upto);
	view_add_keywords(oc->v, sm->keywords);
	if (sm->modseq > oc->v->modseq)
		oc->v->modseq = sm->modseq;
}

void imap_view_send_flags(struct imap_session *s)
{
	struct imap_view *v = s->view;
	struct buf b;
	buf_init(&b, 0);
	buf_append_str(&b, "\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (size_t i = 0; i < v->nkeywords; i++)
		buf_printf(&b, " %s", v->keywords[i]);
	imap_untagged(s, "FLAGS (%s)", b.data);
	if (v->readonly)
		imap_untagged(s, "OK [PERMANENTFLAGS ()] Read-only mailbox");
	else
		imap_untagged(s, "OK [PERMANENTFLAGS (%s \\*)] Flags permitted", b.data);
	buf_free(&b);
}

void imap_view_note_keywords(struct imap_session *s, const char *keywords)
{
	if (s->view != NULL && view_add_keywords(s->view, keywords))
		imap_view_send_flags(s);
}

void imap_enable_condstore(struct imap_session *s)
{
	if (s->condstore)
		return;
	s->condstore = true;
	if (s->view != NULL)
		imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)s->view->modseq);
}

int imap_view_open(struct imap_session *s, const struct store_mailbox *mb, bool readonly,
		   uint32_t *first_recent_r)
{
	imap_view_close(s);
	struct imap_view *v = xcalloc(1, sizeof(*v));
	v->mb = *mb;
	v->readonly = readonly;
	v->uidnext = 1;
	imap_seqset_init(&v->searchres);
	uint32_t seen = mb->recent_uid, upto = UINT32_MAX;
	/* IMAP4rev1 \Recent: the first session to SELECT gets the new ones
	 * (EXAMINE shows them without taking them). */
	if (!s->rev2 && !readonly &&
	    store_mailbox_claim_recent(s->env->store, mb->id, &seen, &upto) < 0)
		seen = UINT32_MAX;
	struct open_ctx oc = {.v = v, .seen_uid = seen, .upto = upto, .rev1 = !s->rev2};
	if (store_messages(s->env->store, mb->id, 0, open_cb, &oc) < 0) {
		log_error("imap", s->id, "cannot list %s: %s", mb->name,
			  store_conn_error(s->env->store));
		for (uint32_t i = 0; i < v->count; i++)
			msg_free(&v->msgs[i]);
		free(v->msgs);
		free(v);
		return -1;
	}
	/* Messages committed before the list was read are all in it; the
	 * MODSEQ baseline is the mailbox's as read at SELECT. */
	if (mb->highestmodseq > v->modseq)
		v->modseq = mb->highestmodseq;
	v->expunge_modseq = v->modseq;
	if (mb->uidnext > v->uidnext)
		v->uidnext = mb->uidnext;
	*first_recent_r = 0;
	for (uint32_t i = 0; i < v->count; i++) {
		if (v->msgs[i].recent) {
			*first_recent_r = i + 1;
			break;
		}
	}
	s->view = v;
	return 0;
}

void imap_view_close(struct imap_session *s)
{
	struct imap_view *v = s->view;
	if (v == NULL)
		return;
	for (uint32_t i = 0; i < v->count; i++)
		msg_free(&v->msgs[i]);
	free(v->msgs);
	imap_seqset_free(&v->searchres);
	for (size_t i = 0; i < v->nkeywords; i++)
		free(v->keywords[i]);
	free(v->keywords);
	free(v);
	s->view = NULL;
}

uint32_t imap_view_seq_of_uid(const struct imap_view *v, uint32_t uid)
{
	uint32_t lo = 0, hi = v->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (v->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->count && v->msgs[lo].uid == uid ? lo + 1 : 0;
}

size_t imap_view_match(struct imap_session *s, const struct imap_seqset *set, bool uid,
		       uint32_t **out)
{
	struct imap_view *v = s->view;
	uint32_t *r = xmalloc((v->count == 0 ? 1 : v->count) * sizeof(uint32_t));
	size_t n = 0;
	struct imap_seqset resolved;
	imap_seqset_init(&resolved);
	for (size_t i = 0; i < set->count; i++)
		imap_seqset_add(&resolved, set->ranges[i].lo, set->ranges[i].hi);
	uint32_t star = uid ? (v->count > 0 ? v->msgs[v->count - 1].uid : 0) : v->count;
	imap_seqset_resolve(&resolved, star);
	imap_seqset_normalize(&resolved);
	if (uid) {
		for (uint32_t i = 0; i < v->count; i++)
			if (imap_seqset_contains(&resolved, v->msgs[i].uid))
				r[n++] = i;
	} else {
		for (size_t k = 0; k < resolved.count; k++) {
			uint32_t lo = resolved.ranges[k].lo, hi = resolved.ranges[k].hi;
			for (uint64_t q = lo; q <= hi && q <= v->count; q++)
				if (q >= 1)
					r[n++] = (uint32_t)q - 1;
		}
	}
	imap_seqset_free(&resolved);
	*out = r;
	return n;
}

void imap_view_set_flags(struct imap_view *v, uint32_t index, uint32_t flags,
			 const char *keywords, uint64_t modseq)
{
	struct imap_msg *m = &v->msgs[index];
	m->flags = flags;
	free(m->keywords);
	m->keywords = keywords != NULL && keywords[0] != '\0' ? xstrdup(keywords) : NULL;
	if (modseq > 0)
		m->modseq = modseq;
	/* v->modseq stays: it means "every change up to here is known", and
	 * another session may have changed something below this one's modseq
	 * that the next sync has yet to report. */
}

/* Remove message index i; the caller reports it. */
static void view_remove(struct imap_view *v, uint32_t i)
{
	msg_free(&v->msgs[i]);
	memmove(&v->msgs[i], &v->msgs[i + 1], (v->count - i - 1) * sizeof(*v->msgs));
	v->count--;
}

static void report_expunges(struct imap_session *s, const uint32_t *uids, size_t n)
{
	struct imap_view *v = s->view;
	if (n == 0)
		return;
	if (s->qresync) {
		struct imap_seqset set;
		imap_seqset_init(&set);
		for (size_t i = 0; i < n; i++) {
			uint32_t seq = imap_view_seq_of_uid(v, uids[i]);
			if (seq == 0)
				continue;
			imap_seqset_add(&set, uids[i], uids[i]);
			view_remove(v, seq - 1);
		}
		if (set.count > 0) {
			imap_seqset_normalize(&set);
			struct buf b;
			buf_init(&b, 0);
			imap_seqset_format(&set, &b);
			imap_untagged(s, "VANISHED %s", b.data);
			buf_free(&b);
		}
		imap_seqset_free(&set);
		return;
	}
	/* Highest sequence first, so the numbers sent stay valid. */
	uint32_t *seqs = xmalloc(n * sizeof(uint32_t));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t seq = imap_view_seq_of_uid(v, uids[i]);
		if (seq != 0)
			seqs[k++] = seq;
	}
	for (size_t i = 1; i < k; i++) {
		uint32_t x = seqs[i];
		size_t j = i;
		for (; j > 0 && seqs[j - 1] < x; j--)
			seqs[j] = seqs[j - 1];
		seqs[j] = x;
	}
	for (size_t i = 0; i < k; i++) {
		if (i > 0 && seqs[i] == seqs[i - 1])
			continue;
		view_remove(v, seqs[i] - 1);
		imap_untagged(s, "%u EXPUNGE", seqs[i]);
	}
	free(seqs);
}

void imap_view_expunged(struct imap_session *s, const uint32_t *uids, size_t n)
{
	report_expunges(s, uids, n);
}

struct sync_ctx {
	struct imap_session *s;
	uint32_t recent_seen, recent_upto;
	uint32_t *exp;
	size_t nexp, capexp;
	uint32_t old_count;
	uint64_t max_modseq;
	struct buf *out;
};

static void sync_expunged_cb(void *ctx, uint32_t uid)
{
	struct sync_ctx *sc = ctx;
	if (imap_view_seq_of_uid(sc->s->view, uid) == 0)
		return;
	if (sc->nexp == sc->capexp) {
		sc->capexp = sc->capexp == 0 ? 16 : sc->capexp * 2;
		sc->exp = xrealloc(sc->exp, sc->capexp * sizeof(uint32_t));
	}
	sc->exp[sc->nexp++] = uid;
}

static void sync_changed_cb(void *ctx, const struct store_message *sm)
{
	struct sync_ctx *sc = ctx;
	struct imap_session *s = sc->s;
	struct imap_view *v = s->view;
	if (sm->modseq > sc->max_modseq)
		sc->max_modseq = sm->modseq;
	if (sm->keywords[0] != '\0' && view_add_keywords(v, sm->keywords))
		v->keywords_changed = true;
	if (sm->uid >= v->uidnext) {
		/* New mail: \Recent only for the session that claimed it. */
		view_push(v, sm,
			  !s->rev2 && sm->uid > sc->recent_seen && sm->uid <= sc->recent_upto);
		return;
	}
	uint32_t seq = imap_view_seq_of_uid(v, sm->uid);
	if (seq == 0)
		return;
	struct imap_msg *m = &v->msgs[seq - 1];
	const char *kw = sm->keywords[0] != '\0' ? sm->keywords : NULL;
	bool same = m->flags == sm->flags &&
		    ((m->keywords == NULL && kw == NULL) ||
		     (m->keywords != NULL && kw != NULL && strcmp(m->keywords, kw) == 0));
	bool modseq_news = s->condstore && sm->modseq != m->modseq;
	m->modseq = sm->modseq;
	if (same && !modseq_news)
		return;
	imap_view_set_flags(v, seq - 1, sm->flags, kw, sm->modseq);
	struct buf *b = sc->out;
	buf_reset(b);
	buf_printf(b, "* %u FETCH (", seq);
	if (s->qresync)
		buf_printf(b, "UID %u ", m->uid);
	buf_append_str(b, "FLAGS ");
	imap_append_flags(b, m->flags, m->keywords, m->recent);
	if (s->condstore)
		buf_printf(b, " MODSEQ (%llu)", (unsigned long long)m->modseq);
	buf_append_str(b, ")\r\n");
	if (v->keywords_changed) {
		v->keywords_changed = false;
		imap_view_send_flags(s);
	}
	if (buf_append(&s->conn.out, b->data, b->len) < 0)
		s->conn.error = true;
}

void imap_view_sync(struct imap_session *s, bool allow_expunge)
{
	struct imap_view *v = s->view;
	if (v == NULL)
		return;
	struct buf line;
	buf_init(&line, 0);
	struct sync_ctx sc = {.s = s, .old_count = v->count, .max_modseq = v->modseq, .out = &line};
	/* One snapshot: the mailbox's HIGHESTMODSEQ, then everything changed
	 * after what this session knows, up to exactly that point. */
	struct store_conn *c = s->env->store;
	sc.recent_seen = UINT32_MAX;
	sc.recent_upto = 0;
	if (!s->rev2 && !v->readonly) {
		struct store_mailbox cur;
		if (store_mailbox_find(c, s->user.id, v->mb.name, &cur) == 1 && cur.id == v->mb.id &&
		    cur.uidnext > v->uidnext &&
		    store_mailbox_claim_recent(c, v->mb.id, &sc.recent_seen, &sc.recent_upto) < 0)
			sc.recent_seen = UINT32_MAX;
	}
	bool snap = store_read_begin(c) == 0;
	struct store_mailbox now;
	uint64_t high = v->modseq;
	if (store_mailbox_find(c, s->user.id, v->mb.name, &now) == 1 && now.id == v->mb.id)
		high = now.highestmodseq;
	if (allow_expunge && store_expunged(c, v->mb.id, v->expunge_modseq, sync_expunged_cb, &sc) < 0)
		log_error("imap", s->id, "sync %s: %s", v->mb.name, store_conn_error(c));
	uint32_t recent_before = 0;
	for (uint32_t i = 0; i < v->count; i++)
		recent_before += v->msgs[i].recent;
	if (allow_expunge)
		report_expunges(s, sc.exp, sc.nexp);
	uint32_t before = v->count;
	if (store_messages(c, v->mb.id, v->modseq, sync_changed_cb, &sc) < 0)
		log_error("imap", s->id, "sync %s: %s", v->mb.name, store_conn_error(c));
	if (snap)
		store_read_end(c);
	if (v->keywords_changed) {
		v->keywords_changed = false;
		imap_view_send_flags(s);
	}
	if (v->count != before) {
		imap_untagged(s, "%u EXISTS", v->count);
		if (!s->rev2) {
			uint32_t recent = 0;
			for (uint32_t i = 0; i < v->count; i++)
				recent += v->msgs[i].recent;
			if (recent != recent_before || v->count != before)
				imap_untagged(s, "%u RECENT", recent);
		}
	}
	if (high < sc.max_modseq)
		high = sc.max_modseq;
	v->modseq = high;
	if (allow_expunge) {
		v->expunge_modseq = high;
		v->changed = false;
	}
	free(sc.exp);
	buf_free(&line);
}
