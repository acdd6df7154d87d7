/* imap_cmd_message.c - IMAP commands on messages of the selected mailbox
 * that change state: STORE, COPY, MOVE and their UID forms (RFC 9051
 * 6.4.6-6.4.8, RFC 6851 MOVE, RFC 4315 UIDPLUS, RFC 7162 UNCHANGEDSINCE). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/util.h"
#include "imap/imap_fetch.h"
#include "imap/imap_private.h"
#include "imap/imap_quote.h"

/* ----- STORE ----- */

/* The keywords of a request, space-separated. */
static void keywords_join(const struct imap_flags *f, struct buf *out)
{
	buf_reset(out);
	for (unsigned i = 0; i < f->keyword_count; i++) {
		if (out->len > 0)
			buf_append(out, " ", 1);
		buf_append_str(out, f->keywords[i]);
	}
}

static void do_store(struct imap_session *s, const struct imap_command *cmd, bool uid)
{
	struct imap_store_request req;
	const char *why;
	if (imap_store_parse(cmd->args, IMAP_SEQSET_ALLOW_SEARCHRES, &req, &why) < 0) {
		imap_store_request_free(&req);
		imap_tagged(s, cmd, "BAD", "%s", why);
		return;
	}
	struct imap_view *v = s->view;
	if (v->readonly) {
		imap_store_request_free(&req);
		imap_tagged(s, cmd, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (req.unchangedsince_given)
		imap_enable_condstore(s);
	struct imap_seqset *set = &req.set;
	if (set->searchres) {
		set = &v->searchres;
		uid = true;
	}
	uint32_t *idx;
	size_t n = imap_view_match(s, set, uid, &idx);
	struct imap_seqset modified;
	imap_seqset_init(&modified);
	struct buf kw, newkw, line;
	buf_init(&kw, 64 * 1024);
	buf_init(&newkw, 64 * 1024);
	buf_init(&line, 0);
	keywords_join(&req.flags, &kw);
	enum store_flags_mode mode = req.mode == IMAP_STORE_REPLACE ? STORE_FLAGS_SET
				     : req.mode == IMAP_STORE_ADD   ? STORE_FLAGS_ADD
								    : STORE_FLAGS_REMOVE;
	if (kw.len > 0)
		imap_view_note_keywords(s, kw.data);
	bool failed = store_changes_begin(s->env->store) < 0;
	for (size_t i = 0; i < n && !failed; i++) {
		struct imap_msg *m = &v->msgs[idx[i]];
		uint64_t modseq = 0;
		uint32_t flags = 0;
		/* Applied to the index's current flags, not this session's
		 * copy, which another session may have changed meanwhile. */
		int r = store_flags_update(s->env->store, v->mb.id, m->uid, mode, req.flags.system,
					   kw.data != NULL ? kw.data : "",
					   req.unchangedsince_given ? req.unchangedsince : STORE_ALWAYS, &flags,
					   &newkw, &modseq);
		if (r < 0) {
			failed = true;
			break;
		}
		if (r == 0) {
			/* UNCHANGEDSINCE failed (or the message is gone). */
			if (modseq != 0)
				imap_seqset_add(&modified, uid ? m->uid : idx[i] + 1,
						uid ? m->uid : idx[i] + 1);
			continue;
		}
		if (newkw.len > 0)
			imap_view_note_keywords(s, newkw.data);
		imap_view_set_flags(v, idx[i], flags, newkw.data, modseq);
		if (req.silent && !(req.unchangedsince_given && s->condstore))
			continue;
		buf_reset(&line);
		buf_printf(&line, "* %u FETCH (", idx[i] + 1);
		if (uid || s->qresync)
			buf_printf(&line, "UID %u ", m->uid);
		if (!req.silent) {
			buf_append_str(&line, "FLAGS ");
			imap_append_flags(&line, m->flags, m->keywords, m->recent);
		}
		if (s->condstore)
			buf_printf(&line, "%sMODSEQ (%llu)", req.silent ? "" : " ",
				   (unsigned long long)m->modseq);
		buf_append_str(&line, ")\r\n");
		buf_append(imap_out(s), line.data, line.len);
	}
	if (store_changes_end(s->env->store, false, v->mb.id) < 0)
		failed = true;
	if (failed) {
		imap_tagged(s, cmd, "NO", "[SERVERBUG] Cannot store flags");
	} else if (modified.count > 0) {
		imap_seqset_normalize(&modified);
		buf_reset(&line);
		imap_seqset_format(&modified, &line);
		imap_tagged(s, cmd, "OK", "[MODIFIED %s] Conditional store failed", line.data);
	} else {
		imap_tagged(s, cmd, "OK", "Store completed");
	}
	free(idx);
	buf_free(&kw);
	buf_free(&newkw);
	buf_free(&line);
	imap_seqset_free(&modified);
	imap_store_request_free(&req);
}

static void cmd_store(struct imap_session *s, const struct imap_command *cmd)
{
	do_store(s, cmd, false);
}

static void cmd_uid_store(struct imap_session *s, const struct imap_command *cmd)
{
	do_store(s, cmd, true);
}

/* ----- COPY / MOVE ----- */

static void do_copy(struct imap_session *s, const struct imap_command *cmd, bool uid, bool move)
{
	const char *a, *why;
	size_t len;
	char name[STORE_MAILBOX_NAME_MAX];
	struct imap_seqset set;
	imap_seqset_init(&set);
	if (cmd->arg_count != 2 || !imap_arg_get_atom(&cmd->args[0], &a, &len) ||
	    imap_seqset_parse(a, len, IMAP_SEQSET_ALLOW_SEARCHRES, &set, &why) < 0) {
		imap_seqset_free(&set);
		imap_tagged(s, cmd, "BAD", "Syntax: %s sequence-set mailbox", cmd->name);
		return;
	}
	struct imap_view *v = s->view;
	if (move && v->readonly) {
		imap_seqset_free(&set);
		imap_tagged(s, cmd, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (imap_mailbox_arg(s, &cmd->args[1], name, sizeof(name), &why) < 0) {
		imap_seqset_free(&set);
		imap_tagged(s, cmd, "NO", "Invalid mailbox name: %s", why);
		return;
	}
	struct store_mailbox dst;
	if (store_mailbox_find(s->env->store, s->user.id, name, &dst) <= 0) {
		imap_seqset_free(&set);
		imap_tagged(s, cmd, "NO", "[TRYCREATE] Mailbox does not exist");
		return;
	}
	const struct imap_seqset *use = set.searchres ? &v->searchres : &set;
	bool use_uid = set.searchres ? true : uid;
	uint32_t *idx;
	size_t n = imap_view_match(s, use, use_uid, &idx);
	imap_seqset_free(&set);
	if (n == 0) {
		free(idx);
		/* RFC 9051: no matching messages is not an error for UID. */
		imap_tagged(s, cmd, uid ? "OK" : "NO", "%s", uid ? "No messages" : "No messages");
		return;
	}
	uint32_t *uids = xmalloc(n * sizeof(uint32_t));
	uint32_t *new_uids = xmalloc(n * sizeof(uint32_t));
	uint64_t bytes = 0;
	for (size_t i = 0; i < n; i++) {
		uids[i] = v->msgs[idx[i]].uid;
		bytes += v->msgs[idx[i]].size;
	}
	free(idx);
	uint64_t quota = 0, used = 0;
	if (!move && store_account_quota(s->env->store, s->user.id, &quota, &used) == 1 &&
	    quota > 0 && used + bytes > quota) {
		free(uids);
		free(new_uids);
		imap_tagged(s, cmd, "NO", "[OVERQUOTA] Quota exceeded");
		return;
	}
	bool same = dst.id == v->mb.id;
	if (store_copy(s->env->store, v->mb.id, uids, n, dst.id, move && !same, new_uids) < 0) {
		log_error("imap", s->id, "%s: %s", cmd->name, store_conn_error(s->env->store));
		imap_tagged(s, cmd, "NO", "[SERVERBUG] %s failed", cmd->name);
		free(uids);
		free(new_uids);
		return;
	}
	struct imap_seqset from, to;
	imap_seqset_init(&from);
	imap_seqset_init(&to);
	for (size_t i = 0; i < n; i++) {
		if (new_uids[i] == 0)
			continue;
		imap_seqset_add(&from, uids[i], uids[i]);
		imap_seqset_add(&to, new_uids[i], new_uids[i]);
	}
	/* COPYUID lists source and destination UIDs pairwise in order; both
	 * are ascending here, so the compact forms correspond. */
	imap_seqset_normalize(&from);
	imap_seqset_normalize(&to);
	struct buf fb, tb;
	buf_init(&fb, 0);
	buf_init(&tb, 0);
	imap_seqset_format(&from, &fb);
	imap_seqset_format(&to, &tb);
	if (move) {
		/* RFC 6851: the COPYUID goes in an untagged OK before the
		 * expunges; then the messages leave this mailbox. */
		if (from.count > 0)
			imap_untagged(s, "OK [COPYUID %u %s %s] Moved", dst.uidvalidity, fb.data,
				      tb.data);
		if (same) {
			/* MOVE into the same mailbox: copy made, originals go. */
			store_expunge(s->env->store, v->mb.id, uids, n);
		}
		imap_view_expunged(s, uids, n);
		imap_tagged(s, cmd, "OK", "Move completed");
	} else if (from.count > 0) {
		imap_tagged(s, cmd, "OK", "[COPYUID %u %s %s] Copy completed", dst.uidvalidity,
			    fb.data, tb.data);
	} else {
		imap_tagged(s, cmd, "OK", "Copy completed");
	}
	buf_free(&fb);
	buf_free(&tb);
	imap_seqset_free(&from);
	imap_seqset_free(&to);
	free(uids);
	free(new_uids);
}

static void cmd_copy(struct imap_session *s, const struct imap_command *cmd)
{
	do_copy(s, cmd, false, false);
}

static void cmd_uid_copy(struct imap_session *s, const struct imap_command *cmd)
{
	do_copy(s, cmd, true, false);
}

static void cmd_move(struct imap_session *s, const struct imap_command *cmd)
{
	do_copy(s, cmd, false, true);
}

static void cmd_uid_move(struct imap_session *s, const struct imap_command *cmd)
{
	do_copy(s, cmd, true, true);
}

const struct imap_cmd_def imap_cmds_message[] = {
	{"STORE", cmd_store, IMAP_CMD_SELECTED | IMAP_CMD_NO_EXPUNGE},
	{"UID STORE", cmd_uid_store, IMAP_CMD_SELECTED},
	{"COPY", cmd_copy, IMAP_CMD_SELECTED},
	{"UID COPY", cmd_uid_copy, IMAP_CMD_SELECTED},
	{"MOVE", cmd_move, IMAP_CMD_SELECTED},
	{"UID MOVE", cmd_uid_move, IMAP_CMD_SELECTED},
	{"FETCH", imap_cmd_fetch, IMAP_CMD_SELECTED | IMAP_CMD_NO_EXPUNGE},
	{"UID FETCH", imap_cmd_uid_fetch, IMAP_CMD_SELECTED},
	{"SEARCH", imap_cmd_search, IMAP_CMD_SELECTED | IMAP_CMD_NO_EXPUNGE},
	{"UID SEARCH", imap_cmd_uid_search, IMAP_CMD_SELECTED},
	{"SORT", imap_cmd_sort, IMAP_CMD_SELECTED | IMAP_CMD_NO_EXPUNGE},
	{"UID SORT", imap_cmd_uid_sort, IMAP_CMD_SELECTED},
	{"THREAD", imap_cmd_thread, IMAP_CMD_SELECTED | IMAP_CMD_NO_EXPUNGE},
	{"UID THREAD", imap_cmd_uid_thread, IMAP_CMD_SELECTED},
	{NULL, NULL, 0},
};
