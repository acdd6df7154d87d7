/* imap_cmd_search.c - SEARCH, SORT, THREAD and their UID forms (RFC 9051
 * 6.4.4, RFC 4731 ESEARCH, RFC 5182 SEARCHRES, RFC 5256 SORT/THREAD, RFC
 * 5957 DISPLAYFROM/DISPLAYTO, RFC 7162 MODSEQ): the program is evaluated on
 * each message of the selected mailbox in levels of cost (the index in
 * memory, then the header digest from the structure cache, then the message
 * file), and the matches are answered, sorted or threaded.
 *
 * A program of flag, UID, sequence, size, date and MODSEQ keys never
 * touches the store. Header digests computed here are written to the cache
 * in one short transaction at the end, so SORT and THREAD read them from
 * the cache the next time. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "imap/imap_private.h"
#include "imap/imap_search.h"
#include "imap/imap_search_eval.h"
#include "imap/imap_sort.h"
#include "imap/imap_thread.h"

/* ----- message files ----- */

struct msg_map {
	int fd;
	const char *data;
	size_t len;
	bool tried, ok;
};

static bool msg_map(struct imap_session *s, const struct imap_msg *m, struct msg_map *mm,
		    unsigned *opened)
{
	if (mm->tried)
		return mm->ok;
	mm->tried = true;
	(*opened)++;
	struct store_message sm = {.uid = m->uid, .file = m->file};
	uint64_t size;
	if (store_message_open(s->env->store, s->view->mb.id, &sm, &mm->fd, &size) < 0) {
		log_error("imap", s->id, "search uid %u: %s", m->uid,
			  store_conn_error(s->env->store));
		mm->fd = -1;
		return false;
	}
	mm->len = (size_t)size;
	if (mm->len == 0) {
		mm->data = "";
		mm->ok = true;
		return true;
	}
	void *p = mmap(NULL, mm->len, PROT_READ, MAP_PRIVATE, mm->fd, 0);
	if (p == MAP_FAILED) {
		log_error("imap", s->id, "search uid %u: cannot map the message", m->uid);
		return false;
	}
	mm->data = p;
	mm->ok = true;
	return true;
}

static void msg_unmap(struct msg_map *mm)
{
	if (mm->ok && mm->len > 0)
		munmap((void *)mm->data, mm->len);
	if (mm->fd >= 0)
		close(mm->fd);
	memset(mm, 0, sizeof(*mm));
	mm->fd = -1;
}

/* ----- the run of one command ----- */

struct cache_put {
	char *file;
	char *value;
	size_t len;
};

struct run {
	struct imap_session *s;
	const struct imap_command *cmd;
	bool uid;
	struct imap_search_program *prog;
	unsigned need;			  /* IMAP_SEARCH_NEED_* */
	bool keep_headers;		  /* SORT / THREAD read the digest of every match */
	uint32_t *idx;			  /* matching messages (0-based), ascending */
	struct imap_search_headers *hdrs; /* per match, when keep_headers: keys only */
	size_t n;
	struct cache_put *puts;
	size_t nputs, capputs;
	bool failed;			/* some message could not be read */
	unsigned from_cache, from_file; /* digests */
	unsigned opened;		/* message files opened */
};

static void cache_add(struct run *r, const char *file, const struct imap_search_headers *h)
{
	struct buf blob;
	buf_init(&blob, 0);
	if (imap_search_headers_encode(h, &blob) < 0) {
		buf_free(&blob);
		return;
	}
	if (r->nputs == r->capputs) {
		r->capputs = r->capputs == 0 ? 64 : r->capputs * 2;
		r->puts = xrealloc(r->puts, r->capputs * sizeof(*r->puts));
	}
	r->puts[r->nputs].file = xstrdup(file);
	r->puts[r->nputs].value = blob.data; /* taken over */
	r->puts[r->nputs].len = blob.len;
	r->nputs++;
}

static void cache_flush(struct run *r)
{
	struct store_conn *c = r->s->env->store;
	if (r->nputs > 0 && store_changes_begin(c) == 0) {
		for (size_t i = 0; i < r->nputs; i++)
			store_cache_put(c, r->puts[i].file, IMAP_SEARCH_HEADERS_CACHE_FIELD,
					r->puts[i].value != NULL ? r->puts[i].value : "",
					r->puts[i].len);
		store_changes_end(c, false, 0);
	}
	for (size_t i = 0; i < r->nputs; i++) {
		free(r->puts[i].file);
		free(r->puts[i].value);
	}
	free(r->puts);
	r->puts = NULL;
	r->nputs = r->capputs = 0;
}

/* The digest of a message: from the cache, else from its file (and then
 * queued for the cache). */
static bool load_headers(struct run *r, const struct imap_msg *m, struct msg_map *mm,
			 struct imap_search_headers *h)
{
	struct buf blob;
	buf_init(&blob, 0);
	int g = store_cache_get(r->s->env->store, m->file, IMAP_SEARCH_HEADERS_CACHE_FIELD, &blob);
	if (g == 1 && imap_search_headers_decode(h, blob.data, blob.len) == 0) {
		buf_free(&blob);
		r->from_cache++;
		return true;
	}
	buf_free(&blob);
	if (!msg_map(r->s, m, mm, &r->opened))
		return false;
	imap_search_headers_build(h, mm->data, mm->len);
	cache_add(r, m->file, h);
	r->from_file++;
	return true;
}

/* Minutes east of UTC of the server's zone at t. */
static int local_zone(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (localtime_r(&tt, &tm) == NULL || tm.tm_gmtoff <= -24 * 3600 ||
	    tm.tm_gmtoff >= 24 * 3600)
		return 0;
	return (int)(tm.tm_gmtoff / 60);
}

static void add_match(struct run *r, uint32_t i, struct imap_search_headers *h)
{
	/* at most one per message: the view's count bounds the arrays */
	r->idx[r->n] = i;
	if (r->keep_headers) {
		imap_search_headers_init(&r->hdrs[r->n]);
		imap_search_headers_keys(&r->hdrs[r->n], h);
	}
	imap_search_headers_free(h);
	r->n++;
}

/* Evaluate the program on every message of the view. */
static void evaluate(struct run *r)
{
	struct imap_session *s = r->s;
	struct imap_view *v = s->view;
	r->idx = xmalloc((v->count + 1) * sizeof(uint32_t));
	if (r->keep_headers)
		r->hdrs = xcalloc(v->count + 1, sizeof(*r->hdrs));
	bool reads = (r->need & (IMAP_SEARCH_NEED_HEADERS | IMAP_SEARCH_NEED_MESSAGE)) != 0 ||
		     r->keep_headers;
	bool snap = reads && store_read_begin(s->env->store) == 0;
	for (uint32_t i = 0; i < v->count; i++) {
		const struct imap_msg *vm = &v->msgs[i];
		struct imap_search_message m = {
		    .seq = i + 1,
		    .uid = vm->uid,
		    .flags = vm->flags,
		    .keywords = vm->keywords,
		    .modseq = vm->modseq,
		    .size = vm->size,
		    .internaldate = vm->internaldate,
		    .recent = vm->recent,
		};
		if (r->need & IMAP_SEARCH_NEED_ZONE)
			m.zone = local_zone(vm->internaldate);
		struct msg_map mm = {.fd = -1};
		struct imap_search_headers h;
		bool have_h = false;
		imap_search_headers_init(&h);
		enum imap_search_match res = imap_search_eval(r->prog, &m, IMAP_SEARCH_LEVEL_INDEX);
		if (res == IMAP_MATCH_MAYBE && (r->need & IMAP_SEARCH_NEED_HEADERS) &&
		    load_headers(r, vm, &mm, &h)) {
			have_h = true;
			m.headers = &h;
			res = imap_search_eval(r->prog, &m, IMAP_SEARCH_LEVEL_HEADERS);
		}
		if (res == IMAP_MATCH_MAYBE && msg_map(s, vm, &mm, &r->opened)) {
			m.data = mm.data;
			m.len = mm.len;
			res = imap_search_eval(r->prog, &m, IMAP_SEARCH_LEVEL_MESSAGE);
		}
		if (res == IMAP_MATCH_MAYBE) {
			r->failed = true; /* the message could not be read */
			res = IMAP_MATCH_NO;
		}
		if (res == IMAP_MATCH_YES && r->keep_headers && !have_h) {
			have_h = load_headers(r, vm, &mm, &h);
			if (!have_h)
				r->failed = true;
		}
		if (res == IMAP_MATCH_YES)
			add_match(r, i, &h);
		else
			imap_search_headers_free(&h);
		imap_search_message_release(&m);
		msg_unmap(&mm);
	}
	if (snap)
		store_read_end(s->env->store);
	cache_flush(r);
}

static void run_free(struct run *r)
{
	if (r->hdrs != NULL)
		for (size_t i = 0; i < r->n; i++)
			imap_search_headers_free(&r->hdrs[i]);
	free(r->hdrs);
	free(r->idx);
	imap_search_program_free(&r->prog);
}

/* ----- responses ----- */

static uint32_t id_of(const struct run *r, uint32_t index)
{
	return r->uid ? r->s->view->msgs[index].uid : index + 1;
}

static uint64_t modseq_of(const struct run *r, const uint32_t *order, size_t n)
{
	uint64_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (r->s->view->msgs[order[i]].modseq > m)
			m = r->s->view->msgs[order[i]].modseq;
	return m;
}

/* RFC 5182: the saved result is UIDs, whichever command made it. */
static void save_result(struct run *r, const uint32_t *order, size_t n)
{
	struct imap_view *v = r->s->view;
	imap_seqset_free(&v->searchres);
	imap_seqset_init(&v->searchres);
	for (size_t i = 0; i < n; i++)
		imap_seqset_add(&v->searchres, v->msgs[order[i]].uid, v->msgs[order[i]].uid);
	imap_seqset_normalize(&v->searchres);
	v->have_searchres = true;
}

/* A list of ids: a sequence set when ascending, else in the given order
 * with only ascending runs compressed (RFC 5267 ESORT ALL). */
static void append_ids(struct buf *out, const uint32_t *ids, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && ids[j + 1] == ids[j] + 1)
			j++;
		if (i > 0)
			buf_append(out, ",", 1);
		if (j > i)
			buf_printf(out, "%u:%u", (unsigned)ids[i], (unsigned)ids[j]);
		else
			buf_printf(out, "%u", (unsigned)ids[i]);
		i = j + 1;
	}
}

/* RFC 9394 PARTIAL: the results in positions first..last (1-based),
 * counted from the end for negative ranges. */
static void append_partial(struct run *r, struct buf *out, const uint32_t *ids, size_t n)
{
	const struct imap_search_program *p = r->prog;
	if (p->partial_from_end)
		buf_printf(out, " PARTIAL (-%u:-%u ", (unsigned)p->partial_first,
			   (unsigned)p->partial_last);
	else
		buf_printf(out, " PARTIAL (%u:%u ", (unsigned)p->partial_first,
			   (unsigned)p->partial_last);
	size_t lo, hi; /* 0-based, exclusive hi */
	if (p->partial_from_end) {
		lo = p->partial_last >= n ? 0 : n - p->partial_last;
		hi = p->partial_first > n ? 0 : n - p->partial_first + 1;
	} else {
		lo = p->partial_first - 1 < n ? p->partial_first - 1 : n;
		hi = p->partial_last < n ? p->partial_last : n;
	}
	if (lo >= hi)
		buf_append_str(out, "NIL");
	else
		append_ids(out, ids + lo, hi - lo);
	buf_append(out, ")", 1);
}

/* The ESEARCH response (and SAVE) for the matches in order[0..n) (for
 * SEARCH ascending, for SORT in sorted order). */
static void esearch(struct run *r, const uint32_t *order, size_t n)
{
	struct imap_session *s = r->s;
	const struct imap_search_program *p = r->prog;
	unsigned o = p->return_given ? p->return_opts : IMAP_SEARCH_RETURN_ALL;
	bool minmax_only = (o & (IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_MAX)) != 0 &&
			   (o & (IMAP_SEARCH_RETURN_ALL | IMAP_SEARCH_RETURN_COUNT |
				 IMAP_SEARCH_RETURN_PARTIAL)) == 0;
	/* MIN and MAX: for SEARCH the lowest and highest, for SORT the
	 * first and last in sorted order (RFC 5267). */
	uint32_t sel[2];
	size_t nsel = 0;
	size_t min_at = 0, max_at = n > 0 ? n - 1 : 0;
	if (n > 0 && p->command == IMAP_SEARCH_CMD_SEARCH) {
		for (size_t i = 0; i < n; i++) {
			if (order[i] < order[min_at])
				min_at = i;
			if (order[i] > order[max_at])
				max_at = i;
		}
	}
	if (n > 0 && (o & IMAP_SEARCH_RETURN_MIN))
		sel[nsel++] = order[min_at];
	/* sel[0] is read only when nsel == 1, that is after it was set. */
	/* cppcheck-suppress uninitvar */
	if (n > 0 && (o & IMAP_SEARCH_RETURN_MAX) && !(nsel == 1 && sel[0] == order[max_at]))
		sel[nsel++] = order[max_at];
	if (o & IMAP_SEARCH_RETURN_SAVE) {
		if (minmax_only)
			save_result(r, sel, nsel);
		else
			save_result(r, order, n);
	}
	if ((o & ~(unsigned)IMAP_SEARCH_RETURN_SAVE) == 0)
		return; /* RFC 5182 2.1: SAVE alone gives no ESEARCH response */
	uint32_t *ids = xmalloc((n + 1) * sizeof(uint32_t));
	for (size_t i = 0; i < n; i++)
		ids[i] = id_of(r, order[i]);
	struct buf line;
	buf_init(&line, 0);
	buf_printf(&line, "* ESEARCH (TAG \"%s\")%s", r->cmd->tag, r->uid ? " UID" : "");
	if (n > 0 && (o & IMAP_SEARCH_RETURN_MIN))
		buf_printf(&line, " MIN %u", (unsigned)id_of(r, order[min_at]));
	if (n > 0 && (o & IMAP_SEARCH_RETURN_MAX))
		buf_printf(&line, " MAX %u", (unsigned)id_of(r, order[max_at]));
	if (o & IMAP_SEARCH_RETURN_COUNT)
		buf_printf(&line, " COUNT %zu", n);
	if (n > 0 && (o & IMAP_SEARCH_RETURN_ALL)) {
		buf_append_str(&line, " ALL ");
		if (p->command == IMAP_SEARCH_CMD_SEARCH) {
			struct imap_seqset set;
			imap_seqset_init(&set);
			for (size_t i = 0; i < n; i++)
				imap_seqset_add(&set, ids[i], ids[i]);
			imap_seqset_normalize(&set);
			imap_seqset_format(&set, &line);
			imap_seqset_free(&set);
		} else {
			append_ids(&line, ids, n);
		}
	}
	if (o & IMAP_SEARCH_RETURN_PARTIAL)
		append_partial(r, &line, ids, n);
	if (p->uses_modseq && n > 0) {
		uint64_t ms = minmax_only ? modseq_of(r, sel, nsel) : modseq_of(r, order, n);
		buf_printf(&line, " MODSEQ %llu", (unsigned long long)ms);
	}
	buf_append(&line, "\r\n", 2);
	if (buf_append(imap_out(s), line.data, line.len) < 0)
		s->conn.error = true;
	buf_free(&line);
	free(ids);
}

/* "* SEARCH 1 2 3" / "* SORT 3 1 2", with "(MODSEQ n)" for a MODSEQ key. */
static void plain_result(struct run *r, const char *name, const uint32_t *order, size_t n)
{
	struct buf line;
	buf_init(&line, 0);
	buf_printf(&line, "* %s", name);
	for (size_t i = 0; i < n; i++)
		buf_printf(&line, " %u", (unsigned)id_of(r, order[i]));
	if (r->prog->uses_modseq && n > 0)
		buf_printf(&line, " (MODSEQ %llu)", (unsigned long long)modseq_of(r, order, n));
	buf_append(&line, "\r\n", 2);
	if (buf_append(imap_out(r->s), line.data, line.len) < 0)
		r->s->conn.error = true;
	buf_free(&line);
}

static int64_t sent_date(const struct imap_search_headers *h, const struct imap_msg *m)
{
	return h != NULL && h->date_valid ? h->date : m->internaldate;
}

static void answer_sort(struct run *r)
{
	struct imap_view *v = r->s->view;
	struct imap_sort_item *items = xcalloc(r->n + 1, sizeof(*items));
	for (size_t i = 0; i < r->n; i++) {
		const struct imap_msg *m = &v->msgs[r->idx[i]];
		const struct imap_search_headers *h = r->keep_headers ? &r->hdrs[i] : NULL;
		struct imap_sort_item *it = &items[i];
		it->id = r->idx[i]; /* the index until sorted */
		it->position = r->idx[i];
		it->arrival = m->internaldate;
		it->date = sent_date(h, m);
		it->size = m->size;
		if (h != NULL) {
			it->subject = h->v[IMAP_HDR_BASE_SUBJECT];
			it->from = h->v[IMAP_HDR_SORT_FROM];
			it->to = h->v[IMAP_HDR_SORT_TO];
			it->cc = h->v[IMAP_HDR_SORT_CC];
			it->displayfrom = h->v[IMAP_HDR_DISPLAY_FROM];
			it->displayto = h->v[IMAP_HDR_DISPLAY_TO];
		}
	}
	imap_sort_items(items, r->n, r->prog->sort, r->prog->sort_count);
	uint32_t *order = xmalloc((r->n + 1) * sizeof(uint32_t));
	for (size_t i = 0; i < r->n; i++)
		order[i] = items[i].id;
	free(items);
	if (r->prog->return_given)
		esearch(r, order, r->n);
	else
		plain_result(r, "SORT", order, r->n);
	free(order);
}

static void answer_thread(struct run *r)
{
	struct imap_view *v = r->s->view;
	struct imap_thread_msg *tm = xcalloc(r->n + 1, sizeof(*tm));
	for (size_t i = 0; i < r->n; i++) {
		const struct imap_search_headers *h = &r->hdrs[i];
		struct imap_thread_msg *t = &tm[i];
		t->id = id_of(r, r->idx[i]);
		t->message_id = h->v[IMAP_HDR_MESSAGE_ID].p;
		t->message_id_len = h->v[IMAP_HDR_MESSAGE_ID].len;
		t->references = h->v[IMAP_HDR_REFERENCES].p;
		t->references_len = h->v[IMAP_HDR_REFERENCES].len;
		t->in_reply_to = h->v[IMAP_HDR_IN_REPLY_TO].p;
		t->in_reply_to_len = h->v[IMAP_HDR_IN_REPLY_TO].len;
		t->base_subject = h->v[IMAP_HDR_BASE_SUBJECT].p;
		t->base_subject_len = h->v[IMAP_HDR_BASE_SUBJECT].len;
		t->subject_is_reply = h->subject_is_reply;
		t->date = sent_date(h, &v->msgs[r->idx[i]]);
	}
	struct buf line;
	buf_init(&line, 0);
	buf_append_str(&line, r->n > 0 ? "* THREAD " : "* THREAD");
	imap_thread(r->prog->thread, tm, r->n, &line);
	buf_append(&line, "\r\n", 2);
	if (buf_append(imap_out(r->s), line.data, line.len) < 0)
		r->s->conn.error = true;
	buf_free(&line);
	free(tm);
}

static const char *const done_text[] = {
    [IMAP_SEARCH_CMD_SEARCH] = "Search completed",
    [IMAP_SEARCH_CMD_SORT] = "Sort completed",
    [IMAP_SEARCH_CMD_THREAD] = "Thread completed",
};

static void do_search(struct imap_session *s, const struct imap_command *cmd, bool uid,
		      enum imap_search_command command)
{
	struct run r;
	memset(&r, 0, sizeof(r));
	r.s = s;
	r.cmd = cmd;
	r.uid = uid;
	const char *why = "Invalid arguments";
	struct imap_search_options opts = {.max_depth = 0, .allow_searchres = true};
	enum imap_search_status st = imap_search_parse(cmd->args, command, &opts, &r.prog, &why);
	if (st == IMAP_SEARCH_BADCHARSET) {
		imap_tagged(s, cmd, "NO", "[BADCHARSET %s] %s", IMAP_SEARCH_CHARSETS, why);
		return;
	}
	if (st != IMAP_SEARCH_OK) {
		imap_tagged(s, cmd, "BAD", "%s", why);
		return;
	}
	struct imap_view *v = s->view;
	struct imap_search_program *p = r.prog;
	if (p->uses_modseq)
		s->condstore = true; /* RFC 7162 3.1: a CONDSTORE-enabling command */
	struct imap_search_env env = {
	    .count = v->count,
	    .max_uid = v->count > 0 ? v->msgs[v->count - 1].uid : 0,
	    .searchres = v->have_searchres ? &v->searchres : NULL,
	};
	r.need = imap_search_prepare(p, &env);
	r.keep_headers =
	    command == IMAP_SEARCH_CMD_THREAD ||
	    (command == IMAP_SEARCH_CMD_SORT && imap_sort_needs_headers(p->sort, p->sort_count));
	uint64_t t0 = now_ms();
	evaluate(&r);
	log_debug(
	    "imap", s->id,
	    "%s: %zu of %u message(s) match; %u digest(s) cached, %u computed, %u file(s) read "
	    "in %llu ms",
	    cmd->name, r.n, v->count, r.from_cache, r.from_file, r.opened,
	    (unsigned long long)(now_ms() - t0));
	if (r.failed) {
		/* RFC 5182 2.1: a search that fails empties the saved result */
		if (p->return_given && (p->return_opts & IMAP_SEARCH_RETURN_SAVE))
			save_result(&r, NULL, 0);
		run_free(&r);
		imap_tagged(s, cmd, "NO", "[SERVERBUG] Cannot read some messages");
		return;
	}
	switch (command) {
	case IMAP_SEARCH_CMD_SEARCH:
		if (p->return_given || s->rev2)
			esearch(&r, r.idx, r.n);
		else
			plain_result(&r, "SEARCH", r.idx, r.n);
		break;
	case IMAP_SEARCH_CMD_SORT:
		answer_sort(&r);
		break;
	case IMAP_SEARCH_CMD_THREAD:
		answer_thread(&r);
		break;
	}
	run_free(&r);
	imap_tagged(s, cmd, "OK", "%s", done_text[command]);
}

void imap_cmd_search(struct imap_session *s, const struct imap_command *cmd)
{
	do_search(s, cmd, false, IMAP_SEARCH_CMD_SEARCH);
}

void imap_cmd_uid_search(struct imap_session *s, const struct imap_command *cmd)
{
	do_search(s, cmd, true, IMAP_SEARCH_CMD_SEARCH);
}

void imap_cmd_sort(struct imap_session *s, const struct imap_command *cmd)
{
	do_search(s, cmd, false, IMAP_SEARCH_CMD_SORT);
}

void imap_cmd_uid_sort(struct imap_session *s, const struct imap_command *cmd)
{
	do_search(s, cmd, true, IMAP_SEARCH_CMD_SORT);
}

void imap_cmd_thread(struct imap_session *s, const struct imap_command *cmd)
{
	do_search(s, cmd, false, IMAP_SEARCH_CMD_THREAD);
}

void imap_cmd_uid_thread(struct imap_session *s, const struct imap_command *cmd)
{
	do_search(s, cmd, true, IMAP_SEARCH_CMD_THREAD);
}
