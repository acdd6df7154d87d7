/* maildir_check.c - integrity check of the embedded backend (`postane
 * check`): the index against the files of every mailbox, the outbound queue
 * against DATA/queue, the spool; with repair, the same fixes recovery makes.
 * Also the start-up recovery entry point, which completes maildir_recover()
 * with the folders other than INBOX and with the files of committed
 * expunges and moves that a crash left behind.
 *
 * Nothing here deletes a message that the index refers to: a file without
 * a row is indexed (or, when its size differs from its S=, set aside in
 * DATA/spool/quarantine); a row without a file is dropped (recorded as
 * expunged, so IMAP clients learn of it). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "store/maildir_private.h"

#define MS(x) ((struct maildir_store *)(void *)(x))

/* What one pass looks at and does. */
enum {
	PASS_REPAIR = 0x01,  /* fix what can be fixed */
	PASS_LIVE = 0x02,    /* a server runs: spool files are busy, not leftovers */
	PASS_RECOVER = 0x04, /* start-up: folders other than INBOX only, no queue */
};

struct finding {
	char *text;
	bool repaired;
};

struct check {
	struct maildir_store *s;
	sqlite3 *db;
	unsigned mode;
	struct finding *v;
	size_t n, cap;
	struct store_check_stats st;
	bool db_failed;
	char db_error[256]; /* the first database error */
};

static void db_fail(struct check *k)
{
	if (!k->db_failed)
		snprintf(k->db_error, sizeof(k->db_error), "%s", sqlite3_errmsg(k->db));
	k->db_failed = true;
}

static void finding(struct check *k, bool repaired, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void finding(struct check *k, bool repaired, const char *fmt, ...)
{
	char text[PATH_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (k->n == k->cap) {
		k->cap = k->cap == 0 ? 16 : k->cap * 2;
		k->v = xrealloc(k->v, k->cap * sizeof(*k->v));
	}
	k->v[k->n++] = (struct finding){.text = xstrdup(text), .repaired = repaired};
	if (k->mode & PASS_RECOVER)
		log_warn("store", NULL, "recovery: %s", text);
}

static void findings_free(struct check *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i].text);
	free(k->v);
	k->v = NULL;
	k->n = k->cap = 0;
}

static sqlite3_stmt *prep(struct check *k, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(k->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_fail(k);
		return NULL;
	}
	return st;
}

static bool step_ok(struct check *k, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		db_fail(k);
	return rc == SQLITE_DONE;
}

/* Move a file into DATA/spool/quarantine (never delete mail, never
 * replace a file already set aside: link, then unlink). */
static bool quarantine(struct maildir_store *s, const char *path, const char *name)
{
	char qdir[PATH_MAX], qpath[PATH_MAX];
	snprintf(qdir, sizeof(qdir), "%s/spool/quarantine", s->data_dir);
	if (mkdir_p(qdir, 0700) < 0)
		return false;
	for (int i = 0; i < 100; i++) {
		if (i == 0)
			snprintf(qpath, sizeof(qpath), "%s/%s", qdir, name);
		else
			snprintf(qpath, sizeof(qpath), "%s/%s.%d", qdir, name, i);
		if (link(path, qpath) == 0)
			return unlink(path) == 0;
		if (errno != EEXIST)
			return false;
	}
	return false;
}

/* The size a Maildir name promises (",S=N"), or -1 when it has none. */
static long long name_size(const char *name)
{
	const char *sz = strstr(name, ",S=");
	return sz != NULL ? strtoll(sz + 3, NULL, 10) : -1;
}

/* ----- one mailbox ----- */

struct mfile {
	char *base;   /* name without the ":2,FLAGS" info */
	char *name;   /* as in the directory */
	bool cur;
	bool matched;
};

struct mrow {
	int64_t id;
	int64_t uid;
	char *file;
	int64_t size;
	bool in_new;
};

static int cmp_mfile(const void *a, const void *b)
{
	const struct mfile *x = a, *y = b;
	int c = strcmp(x->base, y->base);
	return c != 0 ? c : (int)x->cur - (int)y->cur;
}

static void list_sub(const char *mbox, bool cur, struct mfile **v, size_t *n, size_t *cap)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/%s", mbox, cur ? "cur" : "new");
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (*n == *cap) {
			*cap = *cap == 0 ? 64 : *cap * 2;
			*v = xrealloc(*v, *cap * sizeof(**v));
		}
		(*v)[(*n)++] = (struct mfile){
			.base = cur ? xstrndup(de->d_name, strcspn(de->d_name, ":"))
				    : xstrdup(de->d_name),
			.name = xstrdup(de->d_name),
			.cur = cur,
		};
	}
	closedir(d);
}

/* Maildir info flags ("2,FRS") to STORE_FLAG_*. */
static uint32_t info_flags(const char *name)
{
	const char *info = strstr(name, ":2,");
	uint32_t f = 0;
	for (const char *p = info != NULL ? info + 3 : ""; *p != '\0'; p++) {
		switch (*p) {
		case 'S': f |= STORE_FLAG_SEEN; break;
		case 'R': f |= STORE_FLAG_ANSWERED; break;
		case 'F': f |= STORE_FLAG_FLAGGED; break;
		case 'T': f |= STORE_FLAG_DELETED; break;
		case 'D': f |= STORE_FLAG_DRAFT; break;
		default: break;
		}
	}
	return f;
}

struct mailbox_ref {
	int64_t id;
	char *name;
	char *path;
	int64_t uidnext;
	int64_t highestmodseq;
	char *owner; /* local@domain */
};

/* Index a file that has no row (as recovery does for INBOX). */
static bool index_file(struct check *k, const struct mailbox_ref *mb, const struct mfile *f,
		       const char *path, const struct stat *st)
{
	sqlite3_stmt *up = prep(k, "UPDATE mailboxes SET uidnext = uidnext + 1,"
				   " highestmodseq = highestmodseq + 1 WHERE id = ?1"
				   " RETURNING uidnext - 1, highestmodseq");
	sqlite3_stmt *ins = prep(k, "INSERT INTO messages(mailbox_id, uid, filename, size,"
				    " internaldate, modseq, flags, in_new)"
				    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
	bool ok = false;
	if (up != NULL && ins != NULL) {
		sqlite3_bind_int64(up, 1, mb->id);
		if (sqlite3_step(up) == SQLITE_ROW) {
			int64_t uid = sqlite3_column_int64(up, 0), modseq = sqlite3_column_int64(up, 1);
			sqlite3_bind_int64(ins, 1, mb->id);
			sqlite3_bind_int64(ins, 2, uid);
			sqlite3_bind_text(ins, 3, f->base, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(ins, 4, (sqlite3_int64)st->st_size);
			sqlite3_bind_int64(ins, 5, (sqlite3_int64)st->st_mtime);
			sqlite3_bind_int64(ins, 6, modseq);
			sqlite3_bind_int(ins, 7, (int)(f->cur ? info_flags(f->name) : 0));
			sqlite3_bind_int(ins, 8, f->cur ? 0 : 1);
			ok = step_ok(k, up) && step_ok(k, ins);
		} else {
			db_fail(k);
		}
	}
	sqlite3_finalize(up);
	sqlite3_finalize(ins);
	(void)path;
	return ok;
}

/* Drop a row whose file is gone, recording it as expunged. */
static bool drop_row(struct check *k, const struct mailbox_ref *mb, const struct mrow *r)
{
	sqlite3_stmt *up = prep(k, "UPDATE mailboxes SET highestmodseq = highestmodseq + 1"
				   " WHERE id = ?1 RETURNING highestmodseq");
	sqlite3_stmt *del = prep(k, "DELETE FROM messages WHERE id = ?1");
	sqlite3_stmt *rec = prep(k, "INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq)"
				    " VALUES(?1, ?2, ?3)");
	bool ok = false;
	if (up != NULL && del != NULL && rec != NULL) {
		sqlite3_bind_int64(up, 1, mb->id);
		if (sqlite3_step(up) == SQLITE_ROW) {
			int64_t modseq = sqlite3_column_int64(up, 0);
			sqlite3_bind_int64(del, 1, r->id);
			sqlite3_bind_int64(rec, 1, mb->id);
			sqlite3_bind_int64(rec, 2, r->uid);
			sqlite3_bind_int64(rec, 3, modseq);
			ok = step_ok(k, up) && step_ok(k, del) && step_ok(k, rec);
		} else {
			db_fail(k);
		}
	}
	sqlite3_finalize(up);
	sqlite3_finalize(del);
	sqlite3_finalize(rec);
	return ok;
}

static void check_files(struct check *k, const struct mailbox_ref *mb)
{
	bool repair = (k->mode & PASS_REPAIR) != 0;
	bool recover = (k->mode & PASS_RECOVER) != 0;
	struct mrow *rows = NULL;
	size_t nrows = 0, rcap = 0;
	sqlite3_stmt *q = prep(k, "SELECT id, uid, filename, size, in_new FROM messages"
				  " WHERE mailbox_id = ?1 ORDER BY filename");
	if (q == NULL)
		return;
	sqlite3_bind_int64(q, 1, mb->id);
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (nrows == rcap) {
			rcap = rcap == 0 ? 64 : rcap * 2;
			rows = xrealloc(rows, rcap * sizeof(*rows));
		}
		rows[nrows++] = (struct mrow){
			.id = sqlite3_column_int64(q, 0),
			.uid = sqlite3_column_int64(q, 1),
			.file = xstrdup((const char *)sqlite3_column_text(q, 2)),
			.size = sqlite3_column_int64(q, 3),
			.in_new = sqlite3_column_int(q, 4) != 0,
		};
	}
	if (rc != SQLITE_DONE)
		db_fail(k);
	sqlite3_finalize(q);
	k->st.messages += nrows;

	struct mfile *files = NULL;
	size_t nfiles = 0, fcap = 0;
	char dir[PATH_MAX];
	for (int sub = 0; sub < 2; sub++) {
		snprintf(dir, sizeof(dir), "%s/%s", mb->path, sub ? "cur" : "new");
		struct stat st;
		if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			bool fixed = repair && maildir_make_dir(mb->path, strcmp(mb->name, "INBOX") != 0) == 0;
			finding(k, fixed, "mailbox %s of %s: directory %s is missing", mb->name, mb->owner,
				dir);
		}
	}
	list_sub(mb->path, false, &files, &nfiles, &fcap);
	list_sub(mb->path, true, &files, &nfiles, &fcap);
	if (nfiles > 1)
		qsort(files, nfiles, sizeof(*files), cmp_mfile);
	k->st.files += nfiles;
	for (size_t i = 1; i < nfiles; i++)
		if (strcmp(files[i - 1].base, files[i].base) == 0 && !recover)
			finding(k, false, "mailbox %s of %s: %s is in both new/ and cur/", mb->name,
				mb->owner, files[i].base);

	/* Rows against files (both sorted by name). */
	char path[PATH_MAX];
	size_t fi = 0;
	for (size_t ri = 0; ri < nrows; ri++) {
		struct mrow *r = &rows[ri];
		while (fi < nfiles && strcmp(files[fi].base, r->file) < 0)
			fi++;
		struct mfile *f = NULL;
		for (size_t j = fi; j < nfiles && strcmp(files[j].base, r->file) == 0; j++) {
			files[j].matched = true;
			if (f == NULL)
				f = &files[j];
		}
		if (f == NULL) {
			if (recover && !r->in_new)
				continue;
			bool fixed = repair && drop_row(k, mb, r);
			finding(k, fixed, "mailbox %s of %s: UID %lld: file %s is missing%s", mb->name,
				mb->owner, (long long)r->uid, r->file,
				fixed ? " (row dropped)" : "");
			continue;
		}
		if (recover)
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", mb->path, f->cur ? "cur" : "new", f->name);
		struct stat st;
		if (stat(path, &st) == 0 && (int64_t)st.st_size != r->size)
			finding(k, false, "mailbox %s of %s: UID %lld: %s has %lld bytes, the index says %lld",
				mb->name, mb->owner, (long long)r->uid, path, (long long)st.st_size,
				(long long)r->size);
	}
	/* Files the index does not know. */
	for (size_t i = 0; i < nfiles; i++) {
		struct mfile *f = &files[i];
		if (f->matched)
			continue;
		if (i > 0 && strcmp(files[i - 1].base, f->base) == 0)
			continue; /* the same message in new/ and cur/: once */
		snprintf(path, sizeof(path), "%s/%s/%s", mb->path, f->cur ? "cur" : "new", f->name);
		struct stat st;
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		long long want = name_size(f->base);
		bool wrong_size = want >= 0 && want != (long long)st.st_size;
		bool fixed = false;
		if (repair)
			fixed = wrong_size ? quarantine(k->s, path, f->name)
					   : index_file(k, mb, f, path, &st);
		finding(k, fixed, "mailbox %s of %s: %s has no index row%s%s", mb->name, mb->owner,
			path, wrong_size ? " and the wrong size" : "",
			!fixed ? ""
			: wrong_size ? " (moved to spool/quarantine)"
				     : " (indexed)");
	}
	for (size_t i = 0; i < nrows; i++)
		free(rows[i].file);
	free(rows);
	for (size_t i = 0; i < nfiles; i++) {
		free(files[i].base);
		free(files[i].name);
	}
	free(files);
}

/* UIDs and MODSEQs of one mailbox against its counters. */
static void check_counters(struct check *k, const struct mailbox_ref *mb)
{
	bool repair = (k->mode & PASS_REPAIR) != 0;
	sqlite3_stmt *q = prep(k, "SELECT uid, count(*) FROM messages WHERE mailbox_id = ?1"
				  " GROUP BY uid HAVING count(*) > 1");
	if (q == NULL)
		return;
	sqlite3_bind_int64(q, 1, mb->id);
	while (sqlite3_step(q) == SQLITE_ROW)
		finding(k, false, "mailbox %s of %s: UID %lld is used by %d messages", mb->name,
			mb->owner, (long long)sqlite3_column_int64(q, 0), sqlite3_column_int(q, 1));
	sqlite3_finalize(q);

	q = prep(k, "SELECT m.uid FROM messages m JOIN expunged e ON e.mailbox_id = m.mailbox_id"
		    " AND e.uid = m.uid WHERE m.mailbox_id = ?1 ORDER BY m.uid");
	if (q == NULL)
		return;
	sqlite3_bind_int64(q, 1, mb->id);
	while (sqlite3_step(q) == SQLITE_ROW)
		finding(k, false, "mailbox %s of %s: UID %lld was expunged but is present", mb->name,
			mb->owner, (long long)sqlite3_column_int64(q, 0));
	sqlite3_finalize(q);

	q = prep(k, "SELECT max(uid), max(modseq) FROM (SELECT uid, modseq FROM messages"
		    " WHERE mailbox_id = ?1 UNION ALL SELECT uid, modseq FROM expunged"
		    " WHERE mailbox_id = ?1)");
	if (q == NULL)
		return;
	sqlite3_bind_int64(q, 1, mb->id);
	int64_t max_uid = 0, max_modseq = 0;
	if (sqlite3_step(q) == SQLITE_ROW) {
		max_uid = sqlite3_column_int64(q, 0);
		max_modseq = sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	if (max_uid >= mb->uidnext) {
		bool fixed = false;
		if (repair) {
			sqlite3_stmt *u = prep(k, "UPDATE mailboxes SET uidnext = ?2 WHERE id = ?1");
			if (u != NULL) {
				sqlite3_bind_int64(u, 1, mb->id);
				sqlite3_bind_int64(u, 2, max_uid + 1);
				fixed = step_ok(k, u);
				sqlite3_finalize(u);
			}
		}
		finding(k, fixed, "mailbox %s of %s: UID %lld is not below UIDNEXT %lld%s", mb->name,
			mb->owner, (long long)max_uid, (long long)mb->uidnext,
			fixed ? " (UIDNEXT raised)" : "");
	}
	if (max_modseq > mb->highestmodseq) {
		bool fixed = false;
		if (repair) {
			sqlite3_stmt *u = prep(k, "UPDATE mailboxes SET highestmodseq = ?2 WHERE id = ?1");
			if (u != NULL) {
				sqlite3_bind_int64(u, 1, mb->id);
				sqlite3_bind_int64(u, 2, max_modseq);
				fixed = step_ok(k, u);
				sqlite3_finalize(u);
			}
		}
		finding(k, fixed, "mailbox %s of %s: MODSEQ %lld is above HIGHESTMODSEQ %lld%s",
			mb->name, mb->owner, (long long)max_modseq, (long long)mb->highestmodseq,
			fixed ? " (raised)" : "");
	}
}

static void check_mailboxes(struct check *k)
{
	struct mailbox_ref *v = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *q = prep(k, "SELECT m.id, m.name, m.dir, a.localpart, d.name, m.uidnext,"
				  " m.highestmodseq FROM mailboxes m"
				  " JOIN accounts a ON a.id = m.account_id"
				  " JOIN domains d ON d.id = a.domain_id ORDER BY m.id");
	if (q == NULL)
		return;
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 1);
		if ((k->mode & PASS_RECOVER) && strcmp(name, "INBOX") == 0)
			continue;
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			v = xrealloc(v, cap * sizeof(*v));
		}
		char root[PATH_MAX], path[PATH_MAX], owner[400];
		const char *dir = (const char *)sqlite3_column_text(q, 2);
		const char *local = (const char *)sqlite3_column_text(q, 3);
		const char *domain = (const char *)sqlite3_column_text(q, 4);
		maildir_account_path(k->s, local, domain, root, sizeof(root));
		snprintf(path, sizeof(path), "%s%s%s", root, dir[0] != '\0' ? "/" : "", dir);
		snprintf(owner, sizeof(owner), "%s@%s", local, domain);
		v[n++] = (struct mailbox_ref){
			.id = sqlite3_column_int64(q, 0),
			.name = xstrdup(name),
			.path = xstrdup(path),
			.uidnext = sqlite3_column_int64(q, 5),
			.highestmodseq = sqlite3_column_int64(q, 6),
			.owner = xstrdup(owner),
		};
	}
	sqlite3_finalize(q);
	k->st.mailboxes = (unsigned)n;
	for (size_t i = 0; i < n; i++) {
		/* Counters first: a repair indexes files with UIDNEXT. */
		if (!(k->mode & PASS_RECOVER))
			check_counters(k, &v[i]);
		check_files(k, &v[i]);
		free(v[i].name);
		free(v[i].path);
		free(v[i].owner);
	}
	free(v);
}

/* ----- queue, spool, database ----- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void check_queue(struct check *k)
{
	struct maildir_store *s = k->s;
	bool repair = (k->mode & PASS_REPAIR) != 0;
	char **names = NULL;
	size_t n = 0, cap = 0;
	char path[PATH_MAX];
	sqlite3_stmt *q = prep(k, "SELECT id, qid, filename, size,"
				  " (SELECT count(*) FROM queue_rcpt r WHERE r.queue_id = queue.id)"
				  " FROM queue ORDER BY id");
	if (q == NULL)
		return;
	while (sqlite3_step(q) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(q, 0);
		const char *qid = (const char *)sqlite3_column_text(q, 1);
		const char *file = (const char *)sqlite3_column_text(q, 2);
		int64_t size = sqlite3_column_int64(q, 3);
		int nrcpt = sqlite3_column_int(q, 4);
		k->st.queue_entries++;
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			names = xrealloc(names, cap * sizeof(char *));
		}
		names[n++] = xstrdup(file);
		snprintf(path, sizeof(path), "%s/%s", s->queue_dir, file);
		struct stat st;
		bool present = stat(path, &st) == 0;
		if (!present || nrcpt == 0) {
			bool fixed = false;
			if (repair) {
				sqlite3_stmt *del = prep(k, "DELETE FROM queue WHERE id = ?1");
				if (del != NULL) {
					sqlite3_bind_int64(del, 1, id);
					fixed = step_ok(k, del);
					sqlite3_finalize(del);
				}
				if (fixed && present)
					fixed = quarantine(s, path, file);
			}
			if (!present)
				finding(k, fixed, "queue %s: file %s is missing%s", qid, path,
					fixed ? " (entry dropped)" : "");
			else
				finding(k, fixed, "queue %s: entry has no recipients%s", qid,
					fixed ? " (file moved to spool/quarantine)" : "");
			continue;
		}
		if ((int64_t)st.st_size != size)
			finding(k, false, "queue %s: %s has %lld bytes, the entry says %lld", qid, path,
				(long long)st.st_size, (long long)size);
	}
	sqlite3_finalize(q);
	if (n > 1)
		qsort(names, n, sizeof(char *), cmp_str);

	q = prep(k, "SELECT r.id, r.queue_id, r.address FROM queue_rcpt r"
		    " WHERE NOT EXISTS (SELECT 1 FROM queue WHERE queue.id = r.queue_id)");
	if (q != NULL) {
		while (sqlite3_step(q) == SQLITE_ROW) {
			bool fixed = false;
			if (repair) {
				sqlite3_stmt *del = prep(k, "DELETE FROM queue_rcpt WHERE id = ?1");
				if (del != NULL) {
					sqlite3_bind_int64(del, 1, sqlite3_column_int64(q, 0));
					fixed = step_ok(k, del);
					sqlite3_finalize(del);
				}
			}
			finding(k, fixed, "queue: recipient <%s> belongs to no entry (queue id %lld)%s",
				(const char *)sqlite3_column_text(q, 2),
				(long long)sqlite3_column_int64(q, 1), fixed ? " (dropped)" : "");
		}
		sqlite3_finalize(q);
	}

	DIR *d = opendir(s->queue_dir);
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		const char *key = de->d_name;
		if (n > 0 && bsearch(&key, names, n, sizeof(char *), cmp_str) != NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", s->queue_dir, de->d_name);
		bool fixed = repair && quarantine(s, path, de->d_name);
		finding(k, fixed, "queue: %s has no entry%s", path,
			fixed ? " (moved to spool/quarantine)" : "");
	}
	if (d != NULL)
		closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void check_spool(struct check *k)
{
	DIR *d = opendir(k->s->spool_tmp);
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (k->mode & PASS_LIVE) {
			k->st.spool_busy++;
			continue;
		}
		bool fixed = (k->mode & PASS_REPAIR) && unlinkat(dirfd(d), de->d_name, 0) == 0;
		finding(k, fixed, "spool: %s/%s is an unfinished message%s", k->s->spool_tmp,
			de->d_name, fixed ? " (removed)" : "");
	}
	if (d != NULL)
		closedir(d);
}

static void check_database(struct check *k)
{
	sqlite3_stmt *q = prep(k, "PRAGMA quick_check");
	while (q != NULL && sqlite3_step(q) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(q, 0);
		if (line != NULL && strcmp(line, "ok") != 0)
			finding(k, false, "database: %s", line);
	}
	sqlite3_finalize(q);
	q = prep(k, "PRAGMA foreign_key_check");
	while (q != NULL && sqlite3_step(q) == SQLITE_ROW) {
		const char *table = (const char *)sqlite3_column_text(q, 0);
		/* queue_rcpt has its own finding (and repair) above. */
		if (table != NULL && strcmp(table, "queue_rcpt") != 0)
			finding(k, false, "database: row %lld of %s refers to a missing %s row",
				(long long)sqlite3_column_int64(q, 1), table,
				(const char *)sqlite3_column_text(q, 2));
	}
	sqlite3_finalize(q);
}

/* One pass over everything; findings in k->v. */
static int run_pass(struct check *k, const char **error_r)
{
	static _Thread_local char err[600];
	bool write = (k->mode & PASS_REPAIR) != 0;
	k->db_failed = false;
	k->db_error[0] = '\0';
	if (write && maildir_db_exec(k->db, "BEGIN IMMEDIATE") < 0) {
		snprintf(err, sizeof(err), "cannot lock the index: %s", sqlite3_errmsg(k->db));
		*error_r = err;
		return -1;
	}
	if (!(k->mode & PASS_RECOVER))
		check_database(k);
	check_mailboxes(k);
	if (!(k->mode & PASS_RECOVER)) {
		check_queue(k);
		check_spool(k);
	}
	if (k->db_failed) {
		snprintf(err, sizeof(err), "index: %s", k->db_error);
		*error_r = err;
		if (write)
			maildir_db_exec(k->db, "ROLLBACK");
		return -1;
	}
	if (write) {
		if (maildir_db_exec(k->db, "COMMIT") < 0) {
			snprintf(err, sizeof(err), "index commit: %s", sqlite3_errmsg(k->db));
			*error_r = err;
			maildir_db_exec(k->db, "ROLLBACK");
			return -1;
		}
		/* The moved and indexed files' directory entries. */
		if (k->s->data_fd >= 0)
			syncfs(k->s->data_fd);
	}
	return 0;
}

int maildir_check(struct store *store, unsigned flags, store_check_cb *cb, void *ctx,
		  struct store_check_stats *stats_r, const char **error_r)
{
	struct maildir_store *s = MS(store);
	struct check k = {.s = s};
	if (flags & STORE_CHECK_REPAIR)
		k.mode |= PASS_REPAIR;
	if (flags & STORE_CHECK_LIVE)
		k.mode |= PASS_LIVE;
	if ((flags & STORE_CHECK_REPAIR) && (flags & STORE_CHECK_LIVE)) {
		*error_r = "repair needs the server stopped";
		return -1;
	}
	if (maildir_db_open(s->db_path, false, &k.db, error_r) < 0)
		return -1;
	int ret = run_pass(&k, error_r);
	if (ret == 0 && (k.mode & PASS_LIVE) && k.n > 0) {
		/* Deliveries, expunges and moves in flight look like damage for
		 * a moment: look again and keep only what is still wrong. */
		struct check again = {.s = s, .db = k.db, .mode = k.mode};
		sleep(1);
		ret = run_pass(&again, error_r);
		for (size_t i = 0; ret == 0 && i < k.n; i++) {
			bool still = false;
			for (size_t j = 0; j < again.n && !still; j++)
				still = strcmp(k.v[i].text, again.v[j].text) == 0;
			if (!still) {
				free(k.v[i].text);
				k.v[i].text = NULL;
			}
		}
		k.st = again.st;
		findings_free(&again);
	}
	k.st.problems = 0;
	k.st.repaired = 0;
	for (size_t i = 0; ret == 0 && i < k.n; i++) {
		if (k.v[i].text == NULL)
			continue;
		k.st.problems++;
		k.st.repaired += k.v[i].repaired;
		if (cb != NULL)
			cb(ctx, k.v[i].text, k.v[i].repaired);
	}
	*stats_r = k.st;
	findings_free(&k);
	sqlite3_close(k.db);
	return ret;
}

/* ----- start-up recovery ----- */

/* Files of rows deleted or moved away (committed) that are still in their
 * old mailbox: remove them unless a row refers to them again. */
static int remove_gone_files(struct maildir_store *s, sqlite3 *db, unsigned *removed)
{
	sqlite3_stmt *q = NULL, *known = NULL;
	int ret = 0;
	if (sqlite3_prepare_v2(db, "SELECT DISTINCT mailbox_id, filename FROM gone_files", -1, &q,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT 1 FROM messages WHERE mailbox_id = ?1 AND filename = ?2",
			       -1, &known, NULL) != SQLITE_OK) {
		sqlite3_finalize(q);
		return -1;
	}
	while (sqlite3_step(q) == SQLITE_ROW) {
		int64_t mailbox_id = sqlite3_column_int64(q, 0);
		const char *name = (const char *)sqlite3_column_text(q, 1);
		sqlite3_reset(known);
		sqlite3_bind_int64(known, 1, mailbox_id);
		sqlite3_bind_text(known, 2, name, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(known) == SQLITE_ROW)
			continue;
		char mbox[PATH_MAX], path[PATH_MAX];
		if (maildir_mailbox_path(db, s, mailbox_id, mbox, sizeof(mbox)) <= 0)
			continue;
		snprintf(path, sizeof(path), "%s/new/%s", mbox, name);
		if (unlink(path) == 0) {
			log_info("store", NULL, "recovery: removed %s (expunged or moved before the crash)",
				 path);
			(*removed)++;
			continue;
		}
		/* cur/NAME or cur/NAME:2,FLAGS */
		snprintf(path, sizeof(path), "%s/cur", mbox);
		DIR *d = opendir(path);
		struct dirent *de;
		size_t len = strlen(name);
		while (d != NULL && (de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, name, len) == 0 &&
			    (de->d_name[len] == '\0' || de->d_name[len] == ':') &&
			    unlinkat(dirfd(d), de->d_name, 0) == 0) {
				log_info("store", NULL,
					 "recovery: removed %s/%s (expunged or moved before the crash)",
					 path, de->d_name);
				(*removed)++;
			}
		}
		if (d != NULL)
			closedir(d);
	}
	sqlite3_finalize(q);
	sqlite3_finalize(known);
	if (maildir_db_exec(db, "DELETE FROM gone_files") < 0)
		ret = -1;
	return ret;
}

int maildir_recover_all(struct store *store, const char **error_r)
{
	static _Thread_local char err[600];
	struct maildir_store *s = MS(store);
	sqlite3 *db;
	if (maildir_db_open(s->db_path, false, &db, error_r) < 0)
		return -1;
	unsigned removed = 0;
	if (remove_gone_files(s, db, &removed) < 0) {
		snprintf(err, sizeof(err), "recovery: %s", sqlite3_errmsg(db));
		*error_r = err;
		sqlite3_close(db);
		return -1;
	}
	if (removed > 0 && s->data_fd >= 0)
		syncfs(s->data_fd);
	if (maildir_recover(store, error_r) < 0) {
		sqlite3_close(db);
		return -1;
	}
	/* The other folders: APPEND and COPY link their files before the
	 * index commit, like deliveries to INBOX. */
	struct check k = {.s = s, .db = db, .mode = PASS_REPAIR | PASS_RECOVER};
	int ret = run_pass(&k, error_r);
	if (ret == 0 && k.n > 0)
		log_info("store", NULL, "recovery: %zu change(s) in folders other than INBOX", k.n);
	findings_free(&k);
	sqlite3_close(db);
	return ret;
}
