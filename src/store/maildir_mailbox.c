/* maildir_mailbox.c - the embedded backend's mailboxes and messages for
 * IMAP and POP3: folders (Maildir++ directories plus index rows), message
 * lists, flags with CONDSTORE MODSEQs, expunge, copy/move, and the parsed
 * structure cache.
 *
 * Durability: flag changes are committed without a sync of their own (a
 * power loss may lose the last ones, as with Dovecot's index); expunge,
 * copy and move are durable before they return, in an order that can only
 * leave a message in two places after a crash, never in none: new links are
 * made durable before the index commit, old files are unlinked after it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "store/maildir_private.h"

#define MC(x) ((struct maildir_conn *)(void *)(x))
#define MS(x) ((struct maildir_store *)(void *)(x))

/* ----- names, directories ----- */

void maildir_mailbox_dir(const char *name, char *out, size_t outlen)
{
	size_t o = 0;
	if (strcmp(name, "INBOX") == 0) {
		out[0] = '\0';
		return;
	}
	if (o + 1 < outlen)
		out[o++] = '.';
	for (const char *p = name; *p != '\0' && o + 4 < outlen; p++) {
		if (*p == '/') {
			out[o++] = '.';
		} else if (*p == '.' || *p == '%') {
			o += (size_t)snprintf(out + o, outlen - o, "%%%02X", (unsigned char)*p);
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

int maildir_make_dir(const char *path, bool folder)
{
	char sub[PATH_MAX];
	static const char *const parts[] = {"cur", "new", "tmp"};
	if (mkdir_p(path, 0700) < 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", path, parts[i]);
		if (mkdir(sub, 0700) < 0 && errno != EEXIST)
			return -1;
	}
	if (folder) {
		/* Maildir++ marks folders with an empty "maildirfolder" file. */
		snprintf(sub, sizeof(sub), "%s/maildirfolder", path);
		int fd = open(sub, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		close(fd);
	}
	return 0;
}

int maildir_mailbox_insert(struct maildir_conn *c, int64_t account_id, const char *name,
			   const char *special_use, const char *account_path, bool subscribe)
{
	char dir[PATH_MAX / 2], path[PATH_MAX];
	maildir_mailbox_dir(name, dir, sizeof(dir));
	sqlite3_stmt *st = maildir_prepare(c, "INSERT INTO mailboxes(account_id, name, uidvalidity,"
					      " special_use, dir) VALUES(?1, ?2, ?3, ?4, ?5)");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
	/* UIDVALIDITY: seconds since the epoch, made larger than any value
	 * given before (kept in meta, so that a mailbox deleted and created
	 * again within a second still gets a new one). */
	int64_t uv = (int64_t)(time(NULL) & 0xffffffff);
	sqlite3_stmt *mx = maildir_prepare(c, "SELECT CAST(value AS INTEGER) FROM meta"
					      " WHERE key = 'last_uidvalidity'");
	if (mx != NULL) {
		if (sqlite3_step(mx) == SQLITE_ROW && sqlite3_column_int64(mx, 0) >= uv)
			uv = (sqlite3_column_int64(mx, 0) + 1) & 0xffffffff;
		sqlite3_finalize(mx);
	}
	if (uv == 0)
		uv = 1;
	char meta[128];
	snprintf(meta, sizeof(meta),
		 "INSERT OR REPLACE INTO meta(key, value) VALUES('last_uidvalidity', '%lld')",
		 (long long)uv);
	if (maildir_db_exec(c->db, meta) < 0) {
		sqlite3_finalize(st);
		return maildir_db_error(c);
	}
	sqlite3_bind_int64(st, 3, uv);
	if (special_use != NULL && special_use[0] != '\0')
		sqlite3_bind_text(st, 4, special_use, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, dir, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return maildir_set_error(c, "exists");
	if (rc != SQLITE_DONE)
		return maildir_db_error(c);
	st = subscribe ? maildir_prepare(c, "INSERT OR IGNORE INTO subscriptions(account_id, name)"
					    " VALUES(?1, ?2)")
		       : NULL;
	if (subscribe && st == NULL)
		return -1;
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, account_id);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return maildir_db_error(c);
	}
	snprintf(path, sizeof(path), "%s%s%s", account_path, dir[0] != '\0' ? "/" : "", dir);
	if (maildir_make_dir(path, dir[0] != '\0') < 0)
		return maildir_set_error(c, "%s: %s", path, strerror(errno));
	return 0;
}

int maildir_mailbox_path(sqlite3 *db, const struct maildir_store *s, int64_t mailbox_id,
			 char *out, size_t outlen)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db,
			       "SELECT m.dir, a.localpart, d.name FROM mailboxes m"
			       " JOIN accounts a ON a.id = m.account_id"
			       " JOIN domains d ON d.id = a.domain_id WHERE m.id = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	int rc = sqlite3_step(st);
	int ret = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
	if (ret == 1) {
		char root[PATH_MAX];
		const char *dir = (const char *)sqlite3_column_text(st, 0);
		maildir_account_path(s, (const char *)sqlite3_column_text(st, 1),
				     (const char *)sqlite3_column_text(st, 2), root, sizeof(root));
		snprintf(out, outlen, "%s%s%s", root, dir[0] != '\0' ? "/" : "", dir);
	}
	sqlite3_finalize(st);
	return ret;
}

static int account_root(struct maildir_conn *c, int64_t account_id, char *out, size_t outlen)
{
	sqlite3_stmt *st = maildir_prepare(c, "SELECT a.localpart, d.name FROM accounts a"
					      " JOIN domains d ON d.id = a.domain_id WHERE a.id = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, account_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		maildir_account_path(c->store, (const char *)sqlite3_column_text(st, 0),
				     (const char *)sqlite3_column_text(st, 1), out, outlen);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? maildir_set_error(c, "no such account") : maildir_db_error(c);
	return 0;
}

/* ----- change notification ----- */

void maildir_set_change_hook(struct store *store, store_change_cb *cb, void *ctx)
{
	struct maildir_store *s = MS(store);
	s->change_cb = cb;
	s->change_ctx = ctx;
}

void maildir_notify_change(struct maildir_store *s, int64_t mailbox_id)
{
	if (s->change_cb != NULL)
		s->change_cb(s->change_ctx, mailbox_id);
}

/* ----- mailbox list and lookup ----- */

static void fill_mailbox(sqlite3_stmt *st, struct store_mailbox *mb)
{
	memset(mb, 0, sizeof(*mb));
	mb->id = sqlite3_column_int64(st, 0);
	snprintf(mb->name, sizeof(mb->name), "%s", (const char *)sqlite3_column_text(st, 1));
	mb->uidvalidity = (uint32_t)sqlite3_column_int64(st, 2);
	mb->uidnext = (uint32_t)sqlite3_column_int64(st, 3);
	mb->highestmodseq = (uint64_t)sqlite3_column_int64(st, 4);
	if (sqlite3_column_type(st, 5) != SQLITE_NULL)
		snprintf(mb->special_use, sizeof(mb->special_use), "%s",
			 (const char *)sqlite3_column_text(st, 5));
	mb->subscribed = sqlite3_column_int(st, 6) != 0;
	mb->recent_uid = (uint32_t)sqlite3_column_int64(st, 7);
}

#define MAILBOX_COLUMNS                                                                            \
	"m.id, m.name, m.uidvalidity, m.uidnext, m.highestmodseq, m.special_use,"                  \
	" EXISTS(SELECT 1 FROM subscriptions s WHERE s.account_id = m.account_id"                  \
	" AND s.name = m.name), m.recent_uid"

int maildir_mailbox_list(struct store_conn *conn, int64_t account_id, store_mailbox_cb *cb,
			 void *ctx)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = maildir_prepare(c, "SELECT " MAILBOX_COLUMNS " FROM mailboxes m"
					      " WHERE m.account_id = ?1 ORDER BY m.name");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, account_id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_mailbox mb;
		fill_mailbox(st, &mb);
		cb(ctx, &mb);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : maildir_db_error(c);
}

int maildir_mailbox_find(struct store_conn *conn, int64_t account_id, const char *name,
			 struct store_mailbox *mb_r)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = maildir_prepare(c, "SELECT " MAILBOX_COLUMNS " FROM mailboxes m"
					      " WHERE m.account_id = ?1 AND m.name = ?2");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		fill_mailbox(st, mb_r);
		ret = 1;
	} else if (rc != SQLITE_DONE) {
		ret = maildir_db_error(c);
	}
	sqlite3_finalize(st);
	return ret;
}

/* ----- create, delete, rename, subscribe ----- */

static int exec_or_error(struct maildir_conn *c, const char *sql)
{
	return maildir_db_exec(c->db, sql) == 0 ? 0 : maildir_db_error(c);
}

int maildir_mailbox_create(struct store_conn *conn, int64_t account_id, const char *name,
			   const char *special_use)
{
	struct maildir_conn *c = MC(conn);
	char root[PATH_MAX];
	if (exec_or_error(c, "BEGIN IMMEDIATE") < 0)
		return -1;
	int ret = account_root(c, account_id, root, sizeof(root));
	if (ret == 0)
		ret = maildir_mailbox_insert(c, account_id, name, special_use, root, false);
	if (ret == 0 && exec_or_error(c, "COMMIT") < 0)
		ret = -1;
	if (ret < 0)
		maildir_db_exec(c->db, "ROLLBACK");
	return ret;
}

static int remove_tree(const char *path)
{
	DIR *d = opendir(path);
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	struct dirent *de;
	int ret = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char sub[PATH_MAX];
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		struct stat st;
		if (lstat(sub, &st) < 0)
			continue;
		/* Only cur/ new/ tmp/ are ours to descend into; a folder's own
		 * subfolders are siblings in Maildir++, never children. */
		if (S_ISDIR(st.st_mode))
			ret |= remove_tree(sub);
		else if (unlink(sub) < 0)
			ret = -1;
	}
	closedir(d);
	if (rmdir(path) < 0)
		ret = -1;
	return ret;
}

int maildir_mailbox_delete(struct store_conn *conn, int64_t account_id, const char *name)
{
	struct maildir_conn *c = MC(conn);
	if (strcmp(name, "INBOX") == 0)
		return maildir_set_error(c, "cannot delete INBOX");
	struct store_mailbox mb;
	int f = maildir_mailbox_find(conn, account_id, name, &mb);
	if (f <= 0)
		return f < 0 ? -1 : maildir_set_error(c, "no such mailbox");
	/* A mailbox with children keeps the hierarchy: refuse (HASCHILDREN). */
	sqlite3_stmt *st = maildir_prepare(c, "SELECT 1 FROM mailboxes WHERE account_id = ?1"
					      " AND substr(name, 1, length(?2) + 1) = ?2 || '/'");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return maildir_set_error(c, "has children");
	char path[PATH_MAX];
	if (maildir_mailbox_path(c->db, c->store, mb.id, path, sizeof(path)) <= 0)
		return maildir_db_error(c);
	/* The index first (durably): a crash then leaves files nobody lists,
	 * never rows without files. */
	if (exec_or_error(c, "PRAGMA synchronous=FULL") < 0 || exec_or_error(c, "BEGIN IMMEDIATE") < 0)
		return -1;
	st = maildir_prepare(c, "DELETE FROM mailboxes WHERE id = ?1");
	rc = SQLITE_ERROR;
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, mb.id);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
	}
	/* RFC 9051 6.3.5: DELETE does not unsubscribe; the subscription stays
	 * (LSUB shows it \Noselect, LIST (SUBSCRIBED) \NonExistent). */
	if (rc != SQLITE_DONE || exec_or_error(c, "COMMIT") < 0) {
		int ret = maildir_db_error(c);
		maildir_db_exec(c->db, "ROLLBACK");
		return ret;
	}
	if (remove_tree(path) < 0)
		log_warn("store", NULL, "mailbox %s deleted, but %s could not be removed completely",
			 name, path);
	return 0;
}

/* Move every message of INBOX into a new mailbox (RFC 9051 6.3.6). */
static int rename_inbox(struct maildir_conn *c, int64_t account_id, const char *to,
			const char *root)
{
	struct store_mailbox inbox, target;
	if (maildir_mailbox_find((struct store_conn *)(void *)c, account_id, "INBOX", &inbox) <= 0)
		return maildir_set_error(c, "no such mailbox");
	if (maildir_mailbox_insert(c, account_id, to, NULL, root, false) < 0 ||
	    maildir_mailbox_find((struct store_conn *)(void *)c, account_id, to, &target) <= 0)
		return -1;
	char from_path[PATH_MAX], to_path[PATH_MAX];
	if (maildir_mailbox_path(c->db, c->store, inbox.id, from_path, sizeof(from_path)) <= 0 ||
	    maildir_mailbox_path(c->db, c->store, target.id, to_path, sizeof(to_path)) <= 0)
		return maildir_db_error(c);
	/* Same UIDs in a new mailbox (new UIDVALIDITY): just re-home rows. */
	sqlite3_stmt *q = maildir_prepare(c, "SELECT filename, in_new FROM messages"
					     " WHERE mailbox_id = ?1");
	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, inbox.id);
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *f = (const char *)sqlite3_column_text(q, 0);
		bool in_new = sqlite3_column_int(q, 1) != 0;
		char a[PATH_MAX], b[PATH_MAX];
		snprintf(a, sizeof(a), "%s/%s/%s%s", from_path, in_new ? "new" : "cur", f,
			 in_new ? "" : ":2,");
		snprintf(b, sizeof(b), "%s/%s/%s%s", to_path, in_new ? "new" : "cur", f,
			 in_new ? "" : ":2,");
		if (link(a, b) < 0 && errno != EEXIST)
			log_warn("store", NULL, "rename INBOX: cannot link %s: %s", a, strerror(errno));
		/* The INBOX link goes once the index says the message moved. */
		c->unlink_after = xrealloc(c->unlink_after, (c->nunlink_after + 1) * sizeof(char *));
		c->unlink_after[c->nunlink_after++] = xstrdup(a);
	}
	sqlite3_finalize(q);
	snprintf(from_path, sizeof(from_path), "%s/new", to_path);
	if (fsync_dir(from_path) < 0)
		return maildir_set_error(c, "%s: %s", from_path, strerror(errno));
	/* For sessions that have INBOX selected the messages are expunged:
	 * record them with a new MODSEQ of INBOX (EXPUNGE/VANISHED). */
	char sql[768];
	snprintf(sql, sizeof(sql),
		 "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = %lld;"
		 "INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq)"
		 " SELECT %lld, uid, (SELECT highestmodseq FROM mailboxes WHERE id = %lld)"
		 " FROM messages WHERE mailbox_id = %lld;"
		 "UPDATE messages SET mailbox_id = %lld WHERE mailbox_id = %lld;"
		 "UPDATE mailboxes SET uidnext = %u, highestmodseq = %llu WHERE id = %lld",
		 (long long)inbox.id, (long long)inbox.id, (long long)inbox.id, (long long)inbox.id,
		 (long long)target.id, (long long)inbox.id, inbox.uidnext,
		 (unsigned long long)inbox.highestmodseq + 1, (long long)target.id);
	if (exec_or_error(c, sql) < 0)
		return -1;
	c->pending_notify = inbox.id;
	return 0;
}

int maildir_mailbox_rename(struct store_conn *conn, int64_t account_id, const char *from,
			   const char *to)
{
	struct maildir_conn *c = MC(conn);
	char root[PATH_MAX];
	if (strcmp(to, "INBOX") == 0)
		return maildir_set_error(c, "exists");
	if (exec_or_error(c, "PRAGMA synchronous=FULL") < 0 || exec_or_error(c, "BEGIN IMMEDIATE") < 0)
		return -1;
	int ret = account_root(c, account_id, root, sizeof(root));
	struct store_mailbox mb;
	if (ret == 0 && maildir_mailbox_find(conn, account_id, to, &mb) != 0)
		ret = maildir_set_error(c, "exists");
	if (ret == 0 && strcmp(from, "INBOX") == 0) {
		c->pending_notify = 0;
		ret = rename_inbox(c, account_id, to, root);
		if (ret == 0 && exec_or_error(c, "COMMIT") < 0)
			ret = -1;
		if (ret < 0)
			maildir_db_exec(c->db, "ROLLBACK");
		else if (c->pending_notify != 0)
			maildir_notify_change(c->store, c->pending_notify);
		c->pending_notify = 0;
		for (size_t i = 0; i < c->nunlink_after; i++) {
			if (ret == 0)
				unlink(c->unlink_after[i]);
			free(c->unlink_after[i]);
		}
		free(c->unlink_after);
		c->unlink_after = NULL;
		c->nunlink_after = 0;
		return ret;
	}
	if (ret == 0 && maildir_mailbox_find(conn, account_id, from, &mb) <= 0)
		ret = maildir_set_error(c, "no such mailbox");
	/* The mailbox and its children: rename rows and directories. */
	struct {
		int64_t id;
		char *old_dir, *new_dir, *new_name;
	} *list = NULL;
	size_t n = 0;
	if (ret == 0) {
		sqlite3_stmt *st = maildir_prepare(
			c, "SELECT id, name, dir FROM mailboxes WHERE account_id = ?1 AND"
			   " (name = ?2 OR substr(name, 1, length(?2) + 1) = ?2 || '/')");
		if (st == NULL)
			ret = -1;
		else {
			sqlite3_bind_int64(st, 1, account_id);
			sqlite3_bind_text(st, 2, from, -1, SQLITE_TRANSIENT);
			while (sqlite3_step(st) == SQLITE_ROW) {
				list = xrealloc(list, (n + 1) * sizeof(*list));
				const char *name = (const char *)sqlite3_column_text(st, 1);
				char newname[STORE_MAILBOX_NAME_MAX * 2], newdir[PATH_MAX / 2];
				snprintf(newname, sizeof(newname), "%s%s", to, name + strlen(from));
				maildir_mailbox_dir(newname, newdir, sizeof(newdir));
				list[n].id = sqlite3_column_int64(st, 0);
				list[n].old_dir = xstrdup((const char *)sqlite3_column_text(st, 2));
				list[n].new_dir = xstrdup(newdir);
				list[n].new_name = xstrdup(newname);
				n++;
			}
			sqlite3_finalize(st);
		}
	}
	for (size_t i = 0; ret == 0 && i < n; i++) {
		sqlite3_stmt *st = maildir_prepare(c, "UPDATE mailboxes SET name = ?2, dir = ?3"
						      " WHERE id = ?1");
		if (st == NULL) {
			ret = -1;
			break;
		}
		sqlite3_bind_int64(st, 1, list[i].id);
		sqlite3_bind_text(st, 2, list[i].new_name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, list[i].new_dir, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE)
			ret = sqlite3_errcode(c->db) == SQLITE_CONSTRAINT ? maildir_set_error(c, "exists")
									  : maildir_db_error(c);
		sqlite3_finalize(st);
	}
	size_t renamed = 0;
	for (size_t i = 0; ret == 0 && i < n; i++, renamed++) {
		char a[PATH_MAX], b[PATH_MAX];
		snprintf(a, sizeof(a), "%s/%s", root, list[i].old_dir);
		snprintf(b, sizeof(b), "%s/%s", root, list[i].new_dir);
		if (rename(a, b) < 0 && errno != ENOENT)
			ret = maildir_set_error(c, "rename %s: %s", a, strerror(errno));
	}
	if (ret == 0) {
		/* Subscriptions follow the mailbox and its children. */
		sqlite3_stmt *st = maildir_prepare(
			c, "UPDATE OR REPLACE subscriptions SET name = ?3 || substr(name, length(?2) + 1)"
			   " WHERE account_id = ?1 AND (name = ?2 OR"
			   " substr(name, 1, length(?2) + 1) = ?2 || '/')");
		if (st == NULL) {
			ret = -1;
		} else {
			sqlite3_bind_int64(st, 1, account_id);
			sqlite3_bind_text(st, 2, from, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 3, to, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(st) != SQLITE_DONE)
				ret = maildir_db_error(c);
			sqlite3_finalize(st);
		}
	}
	if (ret == 0 && exec_or_error(c, "COMMIT") < 0)
		ret = -1;
	if (ret < 0) {
		maildir_db_exec(c->db, "ROLLBACK");
		for (size_t i = 0; i < renamed; i++) {
			char a[PATH_MAX], b[PATH_MAX];
			snprintf(a, sizeof(a), "%s/%s", root, list[i].old_dir);
			snprintf(b, sizeof(b), "%s/%s", root, list[i].new_dir);
			rename(b, a);
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(list[i].old_dir);
		free(list[i].new_dir);
		free(list[i].new_name);
	}
	free(list);
	return ret;
}

int maildir_mailbox_subscribe(struct store_conn *conn, int64_t account_id, const char *name,
			      bool subscribe)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = maildir_prepare(
		c, subscribe ? "INSERT OR IGNORE INTO subscriptions(account_id, name) VALUES(?1, ?2)"
			     : "DELETE FROM subscriptions WHERE account_id = ?1 AND name = ?2");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : maildir_db_error(c);
}

int maildir_subscriptions(struct store_conn *conn, int64_t account_id, store_target_cb *cb,
			  void *ctx)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = maildir_prepare(c, "SELECT name FROM subscriptions WHERE account_id = ?1"
					      " ORDER BY name");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, account_id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cb(ctx, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : maildir_db_error(c);
}

/* ----- status, recent ----- */

int maildir_mailbox_status(struct store_conn *conn, int64_t mailbox_id,
			   struct store_mailbox_status *st_r)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = maildir_prepare(c, "SELECT count(*), sum((flags & 1) = 0),"
					      " sum((flags & 8) != 0), total(size),"
					      " sum(uid > (SELECT recent_uid FROM mailboxes WHERE id = ?1))"
					      " FROM messages WHERE mailbox_id = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		st_r->messages = (uint32_t)sqlite3_column_int64(st, 0);
		st_r->unseen = (uint32_t)sqlite3_column_int64(st, 1);
		st_r->deleted = (uint32_t)sqlite3_column_int64(st, 2);
		st_r->size = (uint64_t)sqlite3_column_double(st, 3);
		st_r->recent = (uint32_t)sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : maildir_db_error(c);
}

int maildir_mailbox_claim_recent(struct store_conn *conn, int64_t mailbox_id, uint32_t *seen_uid_r,
				 uint32_t *upto_r)
{
	struct maildir_conn *c = MC(conn);
	/* \Recent is advisory: no sync of its own. */
	if (exec_or_error(c, "PRAGMA synchronous=NORMAL") < 0 || exec_or_error(c, "BEGIN IMMEDIATE") < 0)
		return -1;
	sqlite3_stmt *st = maildir_prepare(c, "SELECT recent_uid, uidnext FROM mailboxes"
					      " WHERE id = ?1");
	int ret = -1;
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, mailbox_id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			*seen_uid_r = (uint32_t)sqlite3_column_int64(st, 0);
			int64_t last = sqlite3_column_int64(st, 1) - 1;
			*upto_r = (uint32_t)last;
			sqlite3_finalize(st);
			char sql[128];
			snprintf(sql, sizeof(sql), "UPDATE mailboxes SET recent_uid = %lld WHERE id = %lld",
				 (long long)last, (long long)mailbox_id);
			ret = exec_or_error(c, sql);
		} else {
			sqlite3_finalize(st);
			ret = maildir_set_error(c, "no such mailbox");
		}
	}
	if (ret == 0 && exec_or_error(c, "COMMIT") < 0)
		ret = -1;
	if (ret < 0)
		maildir_db_exec(c->db, "ROLLBACK");
	maildir_db_exec(c->db, "PRAGMA synchronous=FULL");
	return ret;
}

/* ----- message lists ----- */

int maildir_messages(struct store_conn *conn, int64_t mailbox_id, uint64_t changed_since,
		     store_message_cb *cb, void *ctx)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = maildir_prepare(c, "SELECT uid, flags, coalesce(keywords, ''), modseq,"
					      " size, internaldate, filename, in_new FROM messages"
					      " WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)changed_since);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_message m = {
			.uid = (uint32_t)sqlite3_column_int64(st, 0),
			.flags = (uint32_t)sqlite3_column_int(st, 1),
			.keywords = (const char *)sqlite3_column_text(st, 2),
			.modseq = (uint64_t)sqlite3_column_int64(st, 3),
			.size = (uint64_t)sqlite3_column_int64(st, 4),
			.internaldate = sqlite3_column_int64(st, 5),
			.file = (const char *)sqlite3_column_text(st, 6),
		};
		cb(ctx, &m);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : maildir_db_error(c);
}

int maildir_expunged(struct store_conn *conn, int64_t mailbox_id, uint64_t since, store_uid_cb *cb,
		     void *ctx)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = maildir_prepare(c, "SELECT uid FROM expunged WHERE mailbox_id = ?1"
					      " AND modseq > ?2 ORDER BY uid");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)since);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cb(ctx, (uint32_t)sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : maildir_db_error(c);
}

/* ----- flags ----- */

int maildir_changes_begin(struct store_conn *conn)
{
	struct maildir_conn *c = MC(conn);
	/* Flag changes need no sync of their own; the next durable commit
	 * (of any connection) carries them to disk. */
	if (exec_or_error(c, "PRAGMA synchronous=NORMAL") < 0 || exec_or_error(c, "BEGIN IMMEDIATE") < 0)
		return -1;
	c->in_changes = true;
	c->txn_modseq = 0;
	return 0;
}

int maildir_read_begin(struct store_conn *conn)
{
	return exec_or_error(MC(conn), "BEGIN DEFERRED");
}

int maildir_read_end(struct store_conn *conn)
{
	return exec_or_error(MC(conn), "COMMIT");
}

int maildir_changes_end(struct store_conn *conn, bool durable, int64_t mailbox_id)
{
	struct maildir_conn *c = MC(conn);
	int ret = 0;
	if (durable && exec_or_error(c, "PRAGMA synchronous=FULL") < 0)
		ret = -1;
	if (ret == 0 && exec_or_error(c, "COMMIT") < 0)
		ret = -1;
	if (ret < 0)
		maildir_db_exec(c->db, "ROLLBACK");
	maildir_db_exec(c->db, "PRAGMA synchronous=FULL");
	c->in_changes = false;
	if (ret == 0 && c->txn_modseq != 0 && mailbox_id != 0)
		maildir_notify_change(c->store, mailbox_id);
	c->txn_modseq = 0;
	return ret;
}

/* One MODSEQ for all changes of a transaction (RFC 7162 allows it). */
static int64_t txn_modseq(struct maildir_conn *c, int64_t mailbox_id)
{
	if (c->txn_modseq != 0)
		return (int64_t)c->txn_modseq;
	sqlite3_stmt *st = maildir_prepare(c, "UPDATE mailboxes SET highestmodseq = highestmodseq + 1"
					      " WHERE id = ?1 RETURNING highestmodseq");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	int64_t m = -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		m = sqlite3_column_int64(st, 0);
	while (sqlite3_step(st) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	if (m > 0)
		c->txn_modseq = (uint64_t)m;
	return m;
}

/* Does the space-separated list `list` contain `kw` (ASCII case-insensitive)? */
static bool kw_has(const char *list, const char *kw, size_t klen)
{
	for (const char *p = list; *p != '\0';) {
		size_t n = strcspn(p, " ");
		if (n == klen && strncasecmp(p, kw, n) == 0)
			return true;
		p += n;
		while (*p == ' ')
			p++;
	}
	return false;
}

static void kw_append(struct buf *out, const char *kw, size_t klen)
{
	if (out->len > 0)
		buf_append(out, " ", 1);
	buf_append(out, kw, klen);
}

/* cur (op) arg -> out */
static void kw_apply(const char *cur, enum store_flags_mode mode, const char *arg, struct buf *out)
{
	buf_reset(out);
	const char *src = mode == STORE_FLAGS_SET ? "" : cur;
	for (const char *p = src; *p != '\0';) {
		size_t n = strcspn(p, " ");
		bool drop = mode == STORE_FLAGS_REMOVE && kw_has(arg, p, n);
		if (!drop && n > 0 && !kw_has(out->data != NULL ? out->data : "", p, n))
			kw_append(out, p, n);
		p += n;
		while (*p == ' ')
			p++;
	}
	if (mode == STORE_FLAGS_REMOVE)
		return;
	for (const char *p = arg; *p != '\0';) {
		size_t n = strcspn(p, " ");
		if (n > 0 && !kw_has(out->data != NULL ? out->data : "", p, n))
			kw_append(out, p, n);
		p += n;
		while (*p == ' ')
			p++;
	}
}

int maildir_flags_update(struct store_conn *conn, int64_t mailbox_id, uint32_t uid,
			 enum store_flags_mode mode, uint32_t flags, const char *keywords,
			 uint64_t unchangedsince, uint32_t *flags_r, struct buf *keywords_r,
			 uint64_t *modseq_r)
{
	struct maildir_conn *c = MC(conn);
	*modseq_r = 0;
	sqlite3_stmt *st = maildir_prepare(c, "SELECT flags, coalesce(keywords, ''), modseq"
					      " FROM messages WHERE mailbox_id = ?1 AND uid = ?2");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? 0 : maildir_db_error(c);
	}
	uint32_t old_flags = (uint32_t)sqlite3_column_int(st, 0);
	char *old_kw = xstrdup((const char *)sqlite3_column_text(st, 1));
	uint64_t old_modseq = (uint64_t)sqlite3_column_int64(st, 2);
	sqlite3_finalize(st);
	if (unchangedsince != STORE_ALWAYS && old_modseq > unchangedsince) {
		free(old_kw);
		*modseq_r = old_modseq;
		return 0;
	}
	uint32_t nf = mode == STORE_FLAGS_SET ? flags
		      : mode == STORE_FLAGS_ADD ? old_flags | flags
						: old_flags & ~flags;
	kw_apply(old_kw, mode, keywords != NULL ? keywords : "", keywords_r);
	const char *nk = keywords_r->data != NULL ? keywords_r->data : "";
	*flags_r = nf;
	bool same = nf == old_flags && strcmp(nk, old_kw) == 0;
	free(old_kw);
	if (same) {
		*modseq_r = old_modseq;
		return 1; /* nothing to change: no new MODSEQ */
	}
	int64_t m = txn_modseq(c, mailbox_id);
	if (m < 0)
		return maildir_db_error(c);
	st = maildir_prepare(c, "UPDATE messages SET flags = ?3, keywords = ?4, modseq = ?5"
				" WHERE mailbox_id = ?1 AND uid = ?2");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_int(st, 3, (int)nf);
	if (nk[0] != '\0')
		sqlite3_bind_text(st, 4, nk, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, m);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return maildir_db_error(c);
	*modseq_r = (uint64_t)m;
	return 1;
}

/* ----- files ----- */

/* Path of a message file: new/NAME while it is there, else cur/NAME:2,...
 * (a local mail reader may have moved it and added flags). */
static int message_path(struct maildir_conn *c, const char *mbox_path, const char *file,
			char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/new/%s", mbox_path, file);
	if (access(out, F_OK) == 0)
		return 0;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/cur", mbox_path);
	DIR *d = opendir(dir);
	if (d == NULL)
		return maildir_set_error(c, "%s: %s", dir, strerror(errno));
	size_t flen = strlen(file);
	struct dirent *de;
	int ret = maildir_set_error(c, "message file %s is missing", file);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, file, flen) == 0 &&
		    (de->d_name[flen] == ':' || de->d_name[flen] == '\0')) {
			snprintf(out, outlen, "%s/%s", dir, de->d_name);
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

int maildir_message_open(struct store_conn *conn, int64_t mailbox_id, const struct store_message *m,
			 int *fd_r, uint64_t *size_r)
{
	struct maildir_conn *c = MC(conn);
	char path[PATH_MAX];
	int fd = -1;
	/* The mailbox path is remembered between calls (FETCH opens many files
	 * of one mailbox); if it went stale (a rename), look it up once more. */
	for (int attempt = 0; attempt < 2 && fd < 0; attempt++) {
		if (attempt > 0 || c->path_mailbox != mailbox_id) {
			int f = maildir_mailbox_path(c->db, c->store, mailbox_id, c->path_cache,
						     sizeof(c->path_cache));
			if (f <= 0) {
				c->path_mailbox = 0;
				return f < 0 ? maildir_db_error(c)
					     : maildir_set_error(c, "no such mailbox");
			}
			c->path_mailbox = mailbox_id;
			attempt = 1;
		}
		/* new/NAME first, without a separate access(): open says it all. */
		snprintf(path, sizeof(path), "%s/new/%s", c->path_cache, m->file);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT &&
		    message_path(c, c->path_cache, m->file, path, sizeof(path)) == 0)
			fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return maildir_set_error(c, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return maildir_set_error(c, "%s: %s", path, strerror(errno));
	}
	*fd_r = fd;
	*size_r = (uint64_t)st.st_size;
	return 0;
}

struct uid_file {
	uint32_t uid;
	char *file;
	char *path;
	uint32_t flags;
	char *keywords;
	uint64_t size;
	int64_t internaldate;
};

static void free_uid_files(struct uid_file *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].file);
		free(v[i].path);
		free(v[i].keywords);
	}
	free(v);
}

/* Look up the given UIDs of a mailbox (missing ones get file NULL). */
static int load_uids(struct maildir_conn *c, int64_t mailbox_id, const char *mbox,
		     const uint32_t *uids, size_t n, struct uid_file **out)
{
	struct uid_file *v = xcalloc(n == 0 ? 1 : n, sizeof(*v));
	sqlite3_stmt *st = maildir_prepare(c, "SELECT filename, flags, coalesce(keywords, ''), size,"
					      " internaldate FROM messages WHERE mailbox_id = ?1"
					      " AND uid = ?2");
	if (st == NULL) {
		free(v);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		v[i].uid = uids[i];
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, uids[i]);
		if (sqlite3_step(st) != SQLITE_ROW)
			continue;
		v[i].file = xstrdup((const char *)sqlite3_column_text(st, 0));
		v[i].flags = (uint32_t)sqlite3_column_int(st, 1);
		v[i].keywords = xstrdup((const char *)sqlite3_column_text(st, 2));
		v[i].size = (uint64_t)sqlite3_column_int64(st, 3);
		v[i].internaldate = sqlite3_column_int64(st, 4);
		char path[PATH_MAX];
		if (message_path(c, mbox, v[i].file, path, sizeof(path)) == 0)
			v[i].path = xstrdup(path);
	}
	sqlite3_finalize(st);
	*out = v;
	return 0;
}

int maildir_expunge(struct store_conn *conn, int64_t mailbox_id, const uint32_t *uids, size_t n)
{
	struct maildir_conn *c = MC(conn);
	char mbox[PATH_MAX];
	if (n == 0)
		return 0;
	int f = maildir_mailbox_path(c->db, c->store, mailbox_id, mbox, sizeof(mbox));
	if (f <= 0)
		return f < 0 ? maildir_db_error(c) : maildir_set_error(c, "no such mailbox");
	struct uid_file *v;
	if (load_uids(c, mailbox_id, mbox, uids, n, &v) < 0)
		return -1;
	int ret = exec_or_error(c, "PRAGMA synchronous=FULL");
	if (ret == 0)
		ret = exec_or_error(c, "BEGIN IMMEDIATE");
	c->txn_modseq = 0;
	int64_t m = ret == 0 ? txn_modseq(c, mailbox_id) : -1;
	if (ret == 0 && m < 0)
		ret = maildir_db_error(c);
	sqlite3_stmt *del = ret == 0 ? maildir_prepare(c, "DELETE FROM messages WHERE"
							  " mailbox_id = ?1 AND uid = ?2")
				     : NULL;
	sqlite3_stmt *rec = ret == 0 ? maildir_prepare(c, "INSERT OR REPLACE INTO expunged(mailbox_id,"
							  " uid, modseq) VALUES(?1, ?2, ?3)")
				     : NULL;
	if (ret == 0 && (del == NULL || rec == NULL))
		ret = -1;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (v[i].file == NULL)
			continue;
		sqlite3_reset(del);
		sqlite3_bind_int64(del, 1, mailbox_id);
		sqlite3_bind_int64(del, 2, v[i].uid);
		sqlite3_reset(rec);
		sqlite3_bind_int64(rec, 1, mailbox_id);
		sqlite3_bind_int64(rec, 2, v[i].uid);
		sqlite3_bind_int64(rec, 3, m);
		if (sqlite3_step(del) != SQLITE_DONE || sqlite3_step(rec) != SQLITE_DONE)
			ret = maildir_db_error(c);
	}
	sqlite3_finalize(del);
	sqlite3_finalize(rec);
	if (ret == 0 && exec_or_error(c, "COMMIT") < 0)
		ret = -1;
	if (ret < 0)
		maildir_db_exec(c->db, "ROLLBACK");
	c->txn_modseq = 0;
	/* Only after the durable commit: the files. */
	for (size_t i = 0; ret == 0 && i < n; i++)
		if (v[i].path != NULL && unlink(v[i].path) < 0 && errno != ENOENT)
			log_warn("store", NULL, "expunge: cannot remove %s: %s", v[i].path,
				 strerror(errno));
	free_uid_files(v, n);
	if (ret == 0)
		maildir_notify_change(c->store, mailbox_id);
	return ret;
}

int maildir_copy(struct store_conn *conn, int64_t src_mailbox, const uint32_t *uids, size_t n,
		 int64_t dst_mailbox, bool move, uint32_t *new_uids_r)
{
	struct maildir_conn *c = MC(conn);
	char src[PATH_MAX], dst[PATH_MAX];
	memset(new_uids_r, 0, n * sizeof(uint32_t));
	if (n == 0)
		return 0;
	if (maildir_mailbox_path(c->db, c->store, src_mailbox, src, sizeof(src)) <= 0 ||
	    maildir_mailbox_path(c->db, c->store, dst_mailbox, dst, sizeof(dst)) <= 0)
		return maildir_set_error(c, "no such mailbox");
	struct uid_file *v;
	if (load_uids(c, src_mailbox, src, uids, n, &v) < 0)
		return -1;
	/* 1. New links under fresh names (a copy into the same mailbox must
	 *    not collide), made durable before anything refers to them. */
	char **dst_names = xcalloc(n, sizeof(char *));
	char **dst_paths = xcalloc(n, sizeof(char *));
	int ret = 0;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (v[i].path == NULL)
			continue;
		char name[512], rnd[9], path[PATH_MAX];
		random_id(rnd, sizeof(rnd), 8);
		const char *sz = strstr(v[i].file, ",S=");
		size_t base = sz != NULL ? (size_t)(sz - v[i].file) : strlen(v[i].file);
		snprintf(name, sizeof(name), "%.*s.C%s,S=%llu", (int)base, v[i].file, rnd,
			 (unsigned long long)v[i].size);
		snprintf(path, sizeof(path), "%s/new/%s", dst, name);
		if (link(v[i].path, path) < 0) {
			ret = maildir_set_error(c, "copy %s: %s", v[i].path, strerror(errno));
			break;
		}
		dst_names[i] = xstrdup(name);
		dst_paths[i] = xstrdup(path);
	}
	char newdir[PATH_MAX];
	snprintf(newdir, sizeof(newdir), "%s/new", dst);
	if (ret == 0 && fsync_dir(newdir) < 0)
		ret = maildir_set_error(c, "%s: %s", newdir, strerror(errno));
	/* 2. The index: new rows (and, for MOVE, the old ones gone) at once. */
	if (ret == 0 && (exec_or_error(c, "PRAGMA synchronous=FULL") < 0 ||
			 exec_or_error(c, "BEGIN IMMEDIATE") < 0))
		ret = -1;
	bool in_txn = ret == 0;
	c->txn_modseq = 0;
	int64_t dst_modseq = 0;
	if (ret == 0 && (dst_modseq = txn_modseq(c, dst_mailbox)) < 0)
		ret = maildir_db_error(c);
	int64_t src_modseq = 0;
	if (ret == 0 && move) {
		c->txn_modseq = 0;
		if ((src_modseq = txn_modseq(c, src_mailbox)) < 0)
			ret = maildir_db_error(c);
	}
	sqlite3_stmt *uidq = ret == 0 ? maildir_prepare(c, "UPDATE mailboxes SET uidnext = uidnext + 1"
							   " WHERE id = ?1 RETURNING uidnext - 1")
				      : NULL;
	sqlite3_stmt *ins = ret == 0 ? maildir_prepare(c, "INSERT INTO messages(mailbox_id, uid,"
							  " filename, size, internaldate, flags,"
							  " keywords, modseq) VALUES(?1, ?2, ?3, ?4,"
							  " ?5, ?6, ?7, ?8)")
				     : NULL;
	sqlite3_stmt *del = ret == 0 && move ? maildir_prepare(c, "DELETE FROM messages WHERE"
								  " mailbox_id = ?1 AND uid = ?2")
					     : NULL;
	sqlite3_stmt *rec = ret == 0 && move ? maildir_prepare(c, "INSERT OR REPLACE INTO"
								  " expunged(mailbox_id, uid, modseq)"
								  " VALUES(?1, ?2, ?3)")
					     : NULL;
	if (ret == 0 && (uidq == NULL || ins == NULL || (move && (del == NULL || rec == NULL))))
		ret = -1;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (dst_names[i] == NULL)
			continue;
		sqlite3_reset(uidq);
		sqlite3_bind_int64(uidq, 1, dst_mailbox);
		if (sqlite3_step(uidq) != SQLITE_ROW) {
			ret = maildir_db_error(c);
			break;
		}
		uint32_t nu = (uint32_t)sqlite3_column_int64(uidq, 0);
		while (sqlite3_step(uidq) == SQLITE_ROW)
			;
		sqlite3_reset(ins);
		sqlite3_bind_int64(ins, 1, dst_mailbox);
		sqlite3_bind_int64(ins, 2, nu);
		sqlite3_bind_text(ins, 3, dst_names[i], -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(ins, 4, (sqlite3_int64)v[i].size);
		sqlite3_bind_int64(ins, 5, v[i].internaldate);
		sqlite3_bind_int(ins, 6, (int)v[i].flags);
		if (v[i].keywords[0] != '\0')
			sqlite3_bind_text(ins, 7, v[i].keywords, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(ins, 7);
		sqlite3_bind_int64(ins, 8, dst_modseq);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			ret = maildir_db_error(c);
			break;
		}
		new_uids_r[i] = nu;
		if (move) {
			sqlite3_reset(del);
			sqlite3_bind_int64(del, 1, src_mailbox);
			sqlite3_bind_int64(del, 2, v[i].uid);
			sqlite3_reset(rec);
			sqlite3_bind_int64(rec, 1, src_mailbox);
			sqlite3_bind_int64(rec, 2, v[i].uid);
			sqlite3_bind_int64(rec, 3, src_modseq);
			if (sqlite3_step(del) != SQLITE_DONE || sqlite3_step(rec) != SQLITE_DONE)
				ret = maildir_db_error(c);
		}
	}
	sqlite3_finalize(uidq);
	sqlite3_finalize(ins);
	sqlite3_finalize(del);
	sqlite3_finalize(rec);
	if (ret == 0 && exec_or_error(c, "COMMIT") < 0)
		ret = -1;
	if (ret < 0 && in_txn)
		maildir_db_exec(c->db, "ROLLBACK");
	c->txn_modseq = 0;
	/* 3. Failure: the new links go. Success and MOVE: the old ones go. */
	for (size_t i = 0; i < n; i++) {
		if (ret < 0 && dst_paths[i] != NULL)
			unlink(dst_paths[i]);
		if (ret == 0 && move && dst_paths[i] != NULL && v[i].path != NULL)
			unlink(v[i].path);
		free(dst_names[i]);
		free(dst_paths[i]);
	}
	free(dst_names);
	free(dst_paths);
	free_uid_files(v, n);
	if (ret < 0) {
		memset(new_uids_r, 0, n * sizeof(uint32_t));
		return -1;
	}
	maildir_notify_change(c->store, dst_mailbox);
	if (move)
		maildir_notify_change(c->store, src_mailbox);
	return 0;
}

/* ----- structure cache ----- */

int maildir_cache_get(struct store_conn *conn, const char *file, const char *field, struct buf *out)
{
	struct maildir_conn *c = MC(conn);
	sqlite3_stmt *st = maildir_cached_stmt(c, STMT_CACHE_GET);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, file, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, field, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(st, 0);
		int len = sqlite3_column_bytes(st, 0);
		ret = buf_append(out, p != NULL ? p : "", (size_t)len) == 0 ? 1 : -1;
	} else if (rc != SQLITE_DONE) {
		ret = maildir_db_error(c);
	}
	sqlite3_reset(st);
	return ret;
}

int maildir_cache_put(struct store_conn *conn, const char *file, const char *field,
		      const void *data, size_t len)
{
	struct maildir_conn *c = MC(conn);
	/* A cache entry can always be recomputed: never worth a sync. Callers
	 * that store many wrap them in store_changes_begin()/end(). */
	if (!c->in_changes)
		maildir_db_exec(c->db, "PRAGMA synchronous=NORMAL");
	sqlite3_stmt *st = maildir_cached_stmt(c, STMT_CACHE_PUT);
	int rc = SQLITE_ERROR;
	if (st != NULL) {
		sqlite3_bind_text(st, 1, file, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, field, -1, SQLITE_TRANSIENT);
		sqlite3_bind_blob(st, 3, data, (int)len, SQLITE_TRANSIENT);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
	}
	if (!c->in_changes)
		maildir_db_exec(c->db, "PRAGMA synchronous=FULL");
	if (st == NULL)
		return -1;
	return rc == SQLITE_DONE ? 0 : maildir_db_error(c);
}
