/* imap_cmd_fetch.c - FETCH and UID FETCH (RFC 9051 6.4.5, RFC 3516 BINARY,
 * RFC 7162 CHANGEDSINCE/VANISHED): message data from the index, the
 * message file (mapped read-only) and the parsed-structure cache. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "imap/imap_bodystructure.h"
#include "imap/imap_date.h"
#include "imap/imap_envelope.h"
#include "imap/imap_fetch.h"
#include "imap/imap_fetch_body.h"
#include "imap/imap_private.h"
#include "imap/imap_quote.h"
#include "mime/mime_parser.h"

/* The content of one message, opened and parsed only when an item needs it. */
struct fetch_msg {
	struct imap_session *s;
	const struct imap_msg *m;
	int fd;
	const char *data;
	size_t len;
	struct mime_tree *tree;
	bool failed;
	bool gone; /* expunged by someone else: its file is no longer there */
};

static bool fetch_map(struct fetch_msg *fm)
{
	if (fm->data != NULL || fm->failed)
		return !fm->failed;
	struct store_message sm = {.uid = fm->m->uid, .file = fm->m->file};
	uint64_t size;
	if (store_message_open(fm->s->env->store, fm->s->view->mb.id, &sm, &fm->fd, &size) < 0) {
		/* Expunged by another session since our last sync: not an
		 * error of ours (RFC 5530 EXPUNGEISSUED). */
		fm->gone = true;
		fm->failed = true;
		return false;
	}
	fm->len = (size_t)size;
	if (fm->len == 0) {
		fm->data = "";
		return true;
	}
	void *p = mmap(NULL, fm->len, PROT_READ, MAP_PRIVATE, fm->fd, 0);
	if (p == MAP_FAILED) {
		fm->failed = true;
		return false;
	}
	fm->data = p;
	return true;
}

static const struct mime_tree *fetch_tree(struct fetch_msg *fm)
{
	if (fm->tree == NULL && fetch_map(fm))
		fm->tree = mime_parse(fm->data, fm->len, NULL);
	return fm->tree;
}

static void fetch_release(struct fetch_msg *fm)
{
	mime_tree_free(&fm->tree);
	if (fm->data != NULL && fm->len > 0)
		munmap((void *)fm->data, fm->len);
	if (fm->fd >= 0 && fm->data != NULL)
		close(fm->fd);
	else if (fm->fd >= 0)
		close(fm->fd);
	fm->fd = -1;
	fm->data = NULL;
}

/* Cache writes are collected and stored in one short transaction at the
 * end, so a long FETCH never holds the index's write lock. */
struct cache_entry {
	char *file, *field, *value;
	size_t len;
};

struct cache_batch {
	struct cache_entry *v;
	size_t n, cap;
};

static void cache_add(struct cache_batch *cb, const char *file, const char *field, const char *v,
		      size_t len)
{
	if (cb->n == cb->cap) {
		cb->cap = cb->cap == 0 ? 64 : cb->cap * 2;
		cb->v = xrealloc(cb->v, cb->cap * sizeof(*cb->v));
	}
	cb->v[cb->n].file = xstrdup(file);
	cb->v[cb->n].field = xstrdup(field);
	cb->v[cb->n].value = xstrndup(v, len);
	cb->v[cb->n].len = len;
	cb->n++;
}

static void cache_entries_free(struct cache_batch *cb)
{
	for (size_t i = 0; i < cb->n; i++) {
		free(cb->v[i].file);
		free(cb->v[i].field);
		free(cb->v[i].value);
	}
	free(cb->v);
	memset(cb, 0, sizeof(*cb));
}

static void cache_flush(struct imap_session *s, struct cache_batch *cb)
{
	if (cb->n == 0)
		return;
	if (store_changes_begin(s->env->store) == 0) {
		for (size_t i = 0; i < cb->n; i++)
			store_cache_put(s->env->store, cb->v[i].file, cb->v[i].field, cb->v[i].value,
					cb->v[i].len);
		store_changes_end(s->env->store, false, 0);
	}
	cache_entries_free(cb);
}

/* ENVELOPE / BODY / BODYSTRUCTURE: from the cache, else computed. */
static bool fetch_structure(struct fetch_msg *fm, enum imap_fetch_att att, struct buf *out,
			    struct cache_batch *cb)
{
	struct imap_session *s = fm->s;
	char field[32];
	snprintf(field, sizeof(field), "%s%s",
		 att == IMAP_FETCH_ENVELOPE ? "envelope" : att == IMAP_FETCH_BODY ? "body" : "bodystructure",
		 s->utf8 ? ".utf8" : "");
	size_t before = out->len;
	int r = store_cache_get(s->env->store, fm->m->file, field, out);
	if (r == 1)
		return true;
	out->len = before;
	int ok;
	if (att == IMAP_FETCH_ENVELOPE) {
		if (!fetch_map(fm))
			return false;
		ok = imap_envelope_write(out, fm->data, fm->len, imap_quote_flags(s));
	} else {
		const struct mime_tree *t = fetch_tree(fm);
		if (t == NULL)
			return false;
		ok = imap_bodystructure_write(out, t, att == IMAP_FETCH_BODYSTRUCTURE,
					      imap_quote_flags(s));
	}
	if (ok < 0)
		return false;
	cache_add(cb, fm->m->file, field, out->data + before, out->len - before);
	return true;
}

/* Append a literal, or literal8 for BINARY data. */
static void append_literal(struct buf *out, const char *data, size_t len, bool binary)
{
	buf_printf(out, "%s{%zu}\r\n", binary ? "~" : "", len);
	buf_append(out, data, len);
}

/* Apply <offset.count> to data[0..len). */
static void partial_range(const struct imap_fetch_item *it, size_t len, size_t *off, size_t *n)
{
	*off = 0;
	*n = len;
	if (!it->partial)
		return;
	*off = it->partial_offset < len ? (size_t)it->partial_offset : len;
	*n = len - *off;
	if (it->partial_count < *n)
		*n = (size_t)it->partial_count;
}

/* One body item. Returns false on a fatal error (tagged NO/BAD written). */
static bool fetch_body_item(struct fetch_msg *fm, const struct imap_fetch_item *it, struct buf *out,
			    const char **bad_r)
{
	bool binary = it->att == IMAP_FETCH_BINARY || it->att == IMAP_FETCH_BINARY_SIZE;
	const char *raw = it->section.raw != NULL ? it->section.raw : "";
	size_t rawlen = it->section.raw != NULL ? it->section.raw_len : 0;
	/* The whole message needs no parsing. */
	if (!binary && rawlen == 0) {
		if (!fetch_map(fm))
			return false;
		size_t off, n;
		partial_range(it, fm->len, &off, &n);
		append_literal(out, fm->data + off, n, false);
		return true;
	}
	const struct mime_tree *t = fetch_tree(fm);
	if (t == NULL)
		return false;
	if (it->att == IMAP_FETCH_BINARY_SIZE) {
		size_t size = 0;
		enum imap_fetch_body_result r = imap_fetch_body(t, raw, rawlen, true, NULL, &size);
		if (r == IMAP_FETCH_BODY_BAD) {
			*bad_r = "Invalid section";
			return false;
		}
		if (r == IMAP_FETCH_BODY_UNKNOWN_CTE) {
			*bad_r = "UNKNOWN-CTE";
			return false;
		}
		if (r == IMAP_FETCH_BODY_FULL) {
			*bad_r = "SERVERBUG";
			return false;
		}
		buf_printf(out, "%zu", size);
		return true;
	}
	struct buf data;
	buf_init(&data, 0);
	enum imap_fetch_body_result r = imap_fetch_body(t, raw, rawlen, binary, &data, NULL);
	bool ok = true;
	if (r == IMAP_FETCH_BODY_BAD) {
		*bad_r = "Invalid section";
		ok = false;
	} else if (r == IMAP_FETCH_BODY_UNKNOWN_CTE) {
		*bad_r = "UNKNOWN-CTE";
		ok = false;
	} else if (r == IMAP_FETCH_BODY_FULL) {
		*bad_r = "SERVERBUG";
		ok = false;
	} else if (r == IMAP_FETCH_BODY_NIL && !binary) {
		/* A part that does not exist is empty (Dovecot sends "" too). */
		buf_append_str(out, "\"\"");
	} else {
		size_t off, n;
		partial_range(it, data.len, &off, &n);
		append_literal(out, data.data != NULL ? data.data + off : "", n, binary);
	}
	buf_free(&data);
	return ok;
}

static bool header_end(struct fetch_msg *fm, size_t *end)
{
	const struct mime_tree *t = fetch_tree(fm);
	if (t == NULL)
		return false;
	*end = t->root->hdr_end;
	return true;
}

struct vanished_ctx {
	struct imap_seqset set;
	const struct imap_seqset *within;
};

static void vanished_cb(void *ctx, uint32_t uid)
{
	struct vanished_ctx *vc = ctx;
	if (imap_seqset_contains(vc->within, uid))
		imap_seqset_add(&vc->set, uid, uid);
}

/* A FETCH in progress. It stops when the client is slow to read (more than
 * IMAP_OUT_HIGH_WATER unsent) and goes on from imap_fetch_resume() once the
 * output has drained: one FETCH of a large mailbox never holds more than
 * about one message's response in memory. The view cannot change under it:
 * the session reads no commands and sends no untagged updates meanwhile. */
struct fetch_job {
	struct imap_fetch_request req;
	uint32_t *idx;
	size_t n, k;
	bool set_seen;
	bool expunge_issued;
	bool suspended;
	const char *bad;
	struct cache_batch cb;
	struct buf line;
	struct buf seen_kw;
};

static void job_free(struct fetch_job *j)
{
	cache_entries_free(&j->cb);
	free(j->idx);
	buf_free(&j->line);
	buf_free(&j->seen_kw);
	imap_fetch_request_free(&j->req);
	free(j);
}

/* One message's response into j->line. Returns false when it is to be left
 * out (expunged meanwhile, or an error recorded in j->bad). */
static bool fetch_one(struct imap_session *s, struct fetch_job *j, uint32_t index, bool *seen_txn)
{
	struct imap_view *v = s->view;
	struct imap_msg *m = &v->msgs[index];
	const struct imap_fetch_request *req = &j->req;
	bool flags_changed = false;
	if (j->set_seen && !(m->flags & STORE_FLAG_SEEN)) {
		if (!*seen_txn)
			*seen_txn = store_changes_begin(s->env->store) == 0;
		uint64_t modseq = 0;
		uint32_t nf = 0;
		if (*seen_txn && store_flags_update(s->env->store, v->mb.id, m->uid, STORE_FLAGS_ADD,
						    STORE_FLAG_SEEN, "", STORE_ALWAYS, &nf, &j->seen_kw,
						    &modseq) == 1) {
			imap_view_set_flags(v, index, nf, j->seen_kw.data, modseq);
			flags_changed = true;
		}
	}
	struct fetch_msg fm = {.s = s, .m = m, .fd = -1};
	struct buf *line = &j->line;
	buf_reset(line);
	buf_printf(line, "* %u FETCH (", index + 1);
	bool first = true, flags_sent = false, uid_sent = false;
	const char *bad = NULL;
	for (unsigned i = 0; i < req->item_count && bad == NULL; i++) {
		const struct imap_fetch_item *it = &req->items[i];
		if (it->att == IMAP_FETCH_UID && uid_sent)
			continue;
		if (!first)
			buf_append(line, " ", 1);
		first = false;
		switch (it->att) {
		case IMAP_FETCH_FLAGS:
			buf_append_str(line, "FLAGS ");
			imap_append_flags(line, m->flags, m->keywords, m->recent);
			flags_sent = true;
			break;
		case IMAP_FETCH_UID:
			buf_printf(line, "UID %u", m->uid);
			uid_sent = true;
			break;
		case IMAP_FETCH_INTERNALDATE: {
			char date[64];
			imap_datetime_format((time_t)m->internaldate, 0, date, sizeof(date));
			buf_printf(line, "INTERNALDATE \"%s\"", date);
			break;
		}
		case IMAP_FETCH_RFC822_SIZE:
			buf_printf(line, "RFC822.SIZE %llu", (unsigned long long)m->size);
			break;
		case IMAP_FETCH_MODSEQ:
			buf_printf(line, "MODSEQ (%llu)", (unsigned long long)m->modseq);
			break;
		case IMAP_FETCH_ENVELOPE:
		case IMAP_FETCH_BODY:
		case IMAP_FETCH_BODYSTRUCTURE:
			buf_append_str(line, it->att == IMAP_FETCH_ENVELOPE ? "ENVELOPE "
					     : it->att == IMAP_FETCH_BODY ? "BODY "
									  : "BODYSTRUCTURE ");
			if (!fetch_structure(&fm, it->att, line, &j->cb) && !fm.gone)
				bad = "SERVERBUG";
			break;
		case IMAP_FETCH_RFC822:
		case IMAP_FETCH_RFC822_HEADER:
		case IMAP_FETCH_RFC822_TEXT: {
			size_t hend = 0;
			if (!fetch_map(&fm) || (it->att != IMAP_FETCH_RFC822 && !header_end(&fm, &hend))) {
				bad = "SERVERBUG";
				break;
			}
			const char *nm = it->att == IMAP_FETCH_RFC822 ? "RFC822"
					 : it->att == IMAP_FETCH_RFC822_HEADER ? "RFC822.HEADER"
										: "RFC822.TEXT";
			buf_printf(line, "%s ", nm);
			if (it->att == IMAP_FETCH_RFC822)
				append_literal(line, fm.data, fm.len, false);
			else if (it->att == IMAP_FETCH_RFC822_HEADER)
				append_literal(line, fm.data, hend, false);
			else
				append_literal(line, fm.data + hend, fm.len - hend, false);
			break;
		}
		case IMAP_FETCH_BODY_SECTION:
		case IMAP_FETCH_BINARY:
		case IMAP_FETCH_BINARY_SIZE:
			imap_fetch_item_name(it, line);
			buf_append(line, " ", 1);
			if (!fetch_body_item(&fm, it, line, &bad) && bad == NULL)
				bad = "SERVERBUG";
			break;
		}
	}
	if (flags_changed && !flags_sent) {
		buf_append_str(line, first ? "FLAGS " : " FLAGS ");
		imap_append_flags(line, m->flags, m->keywords, m->recent);
	}
	if (s->condstore && flags_changed && !req->changedsince_given) {
		bool has_modseq = false;
		for (unsigned i = 0; i < req->item_count; i++)
			has_modseq |= req->items[i].att == IMAP_FETCH_MODSEQ;
		if (!has_modseq)
			buf_printf(line, " MODSEQ (%llu)", (unsigned long long)m->modseq);
	}
	buf_append_str(line, ")\r\n");
	bool gone = fm.gone;
	fetch_release(&fm);
	if (gone) {
		/* Leave this message out and go on with the others. */
		j->expunge_issued = true;
		return false;
	}
	j->bad = bad;
	return bad == NULL;
}

/* Run the job until it is done or the output is full. Returns true when
 * done (tagged reply written, job freed). */
static bool fetch_run(struct imap_session *s, struct fetch_job *j)
{
	struct imap_view *v = s->view;
	bool seen_txn = false;
	while (j->k < j->n && j->bad == NULL) {
		uint32_t index = j->idx[j->k++];
		if (j->req.changedsince_given && v->msgs[index].modseq <= j->req.changedsince)
			continue;
		if (fetch_one(s, j, index, &seen_txn) &&
		    buf_append(imap_out(s), j->line.data, j->line.len) < 0)
			j->bad = "SERVERBUG";
		if (s->conn.out.len > IMAP_OUT_HIGH_WATER && j->k < j->n && j->bad == NULL)
			break;
	}
	/* Never hold the index's write lock while waiting for the client. */
	if (seen_txn)
		store_changes_end(s->env->store, false, v->mb.id);
	cache_flush(s, &j->cb);
	if (j->k < j->n && j->bad == NULL)
		return false;
	const struct imap_command *cmd = s->cmd;
	const char *bad = j->bad;
	if (bad == NULL && j->expunge_issued)
		imap_tagged(s, cmd, "NO", "[EXPUNGEISSUED] Some messages were expunged meanwhile");
	else if (bad == NULL)
		imap_tagged(s, cmd, "OK", "Fetch completed");
	else if (strcmp(bad, "UNKNOWN-CTE") == 0)
		imap_tagged(s, cmd, "NO", "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding");
	else if (strcmp(bad, "SERVERBUG") == 0)
		imap_tagged(s, cmd, "NO", "[SERVERBUG] Cannot read message");
	else
		imap_tagged(s, cmd, "BAD", "%s", bad);
	job_free(j);
	return true;
}

static void do_fetch(struct imap_session *s, const struct imap_command *cmd, bool uid)
{
	struct fetch_job *j = xcalloc(1, sizeof(*j));
	const char *why;
	if (imap_fetch_parse(cmd->args, uid, IMAP_SEQSET_ALLOW_SEARCHRES, &j->req, &why) < 0) {
		imap_tagged(s, cmd, "BAD", "%s", why);
		job_free(j);
		return;
	}
	struct imap_fetch_request *req = &j->req;
	struct imap_view *v = s->view;
	bool wants_modseq = req->changedsince_given;
	for (unsigned i = 0; i < req->item_count; i++)
		wants_modseq |= req->items[i].att == IMAP_FETCH_MODSEQ;
	/* RFC 7162 3.1: FETCH of MODSEQ (or CHANGEDSINCE) enables CONDSTORE. */
	if (wants_modseq)
		imap_enable_condstore(s);
	if (req->vanished && !s->qresync) {
		imap_tagged(s, cmd, "BAD", "VANISHED needs QRESYNC enabled");
		job_free(j);
		return;
	}
	struct imap_seqset *set = &req->set;
	bool use_uid = uid;
	if (set->searchres) {
		set = &v->searchres;
		use_uid = true;
	}
	if (req->vanished) {
		struct imap_seqset within;
		imap_seqset_init(&within);
		for (size_t i = 0; i < set->count; i++)
			imap_seqset_add(&within, set->ranges[i].lo, set->ranges[i].hi);
		imap_seqset_resolve(&within, v->uidnext > 1 ? v->uidnext - 1 : 1);
		imap_seqset_normalize(&within);
		struct vanished_ctx vc = {.within = &within};
		imap_seqset_init(&vc.set);
		store_expunged(s->env->store, v->mb.id, req->changedsince, vanished_cb, &vc);
		if (vc.set.count > 0) {
			struct buf b;
			buf_init(&b, 0);
			imap_seqset_normalize(&vc.set);
			imap_seqset_format(&vc.set, &b);
			imap_untagged(s, "VANISHED (EARLIER) %s", b.data);
			buf_free(&b);
		}
		imap_seqset_free(&vc.set);
		imap_seqset_free(&within);
	}
	j->n = imap_view_match(s, set, use_uid, &j->idx);
	j->set_seen = req->sets_seen && !v->readonly;
	buf_init(&j->seen_kw, 64 * 1024);
	buf_init(&j->line, 0);
	if (fetch_run(s, j))
		return;
	/* Go on when the client has read what is queued. */
	s->fetch = j;
	s->cmd_async = true;
}

void imap_fetch_resume(struct imap_session *s)
{
	struct fetch_job *j = s->fetch;
	if (j == NULL || s->conn.out.len > IMAP_OUT_LOW_WATER)
		return;
	s->deadline = loop_now(s->env->loop) + IMAP_TIMEOUT_AUTH * 1000ull;
	if (!fetch_run(s, j))
		return;
	s->fetch = NULL;
	s->cmd_async = false;
	imap_command_free(&s->cmd);
}

void imap_fetch_cancel(struct imap_session *s)
{
	if (s->fetch == NULL)
		return;
	job_free(s->fetch);
	s->fetch = NULL;
	s->cmd_async = false;
}

void imap_cmd_fetch(struct imap_session *s, const struct imap_command *cmd)
{
	do_fetch(s, cmd, false);
}

void imap_cmd_uid_fetch(struct imap_session *s, const struct imap_command *cmd)
{
	do_fetch(s, cmd, true);
}
