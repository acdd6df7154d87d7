/* fuzz_imap_parser.c - libFuzzer target for the IMAP command parser: the
 * input (after one configuration byte) is a client's byte stream, fed once
 * whole and once in pseudo-random splits; both transcripts must be equal.
 * Each completed command also goes through the interpreter its name calls
 * for (FETCH, STORE, SEARCH/SORT/THREAD, sequence sets, mailbox names,
 * dates), whose outputs are checked by round trips.
 *
 * Configuration byte: bit 0 LITERAL+, bit 1 LITERAL-, bit 2 small limits,
 * bit 3 reject synchronising literals above 64 bytes, bits 4-7 split seed. */
#undef NDEBUG /* the assertions are what a fuzz target checks */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "imap/imap_date.h"
#include "imap/imap_fetch.h"
#include "imap/imap_parser.h"
#include "imap/imap_search.h"
#include "imap/imap_seqset.h"
#include "imap/imap_utf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void render_args(struct buf *out, const struct imap_arg *args, unsigned depth)
{
	for (const struct imap_arg *a = args; a->type != IMAP_ARG_EOL; a++) {
		buf_printf(out, " %d:%zu:", (int)a->type, a->len);
		if (a->type == IMAP_ARG_LIST) {
			assert(a->list[a->len].type == IMAP_ARG_EOL);
			assert(depth < 1000);
			render_args(out, a->list, depth + 1);
			buf_append(out, ")", 1);
		} else {
			assert(a->str[a->len] == '\0');
			if (a->type != IMAP_ARG_LITERAL || !a->literal8)
				assert(memchr(a->str, '\0', a->len) == NULL);
			if (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL)
				assert(a->len > 0);
			buf_append(out, a->str, a->len);
		}
	}
}

/* FETCH: every item's response name parses back to the same name. */
static void check_fetch(const struct imap_command *cmd, bool uid)
{
	struct imap_fetch_request req;
	const char *why = NULL;
	if (imap_fetch_parse(cmd->args, uid, IMAP_SEQSET_ALLOW_SEARCHRES, &req, &why) < 0) {
		assert(why != NULL);
		imap_fetch_request_free(&req);
		return;
	}
	assert(req.item_count > 0);
	for (unsigned i = 0; i < req.item_count; i++) {
		const struct imap_fetch_item *it = &req.items[i];
		struct buf name, again;
		buf_init(&name, 0);
		buf_init(&again, 0);
		assert(imap_fetch_item_name(it, &name) == 0);
		if (it->partial) {
			/* the response has only the origin: drop it */
			char *lt = strrchr(name.data, '<');
			assert(lt != NULL);
			name.len = (size_t)(lt - name.data);
			name.data[name.len] = '\0';
		}
		struct imap_fetch_item back;
		assert(imap_fetch_item_parse(name.data, name.len, &back, &why) == 0);
		assert(back.att == it->att);
		assert(back.section.part_count == it->section.part_count);
		assert(back.section.text == it->section.text);
		assert(back.section.field_count == it->section.field_count);
		for (unsigned f = 0; f < it->section.field_count; f++)
			assert(back.section.fields[f].len == it->section.fields[f].len &&
			       memcmp(back.section.fields[f].name, it->section.fields[f].name,
				      it->section.fields[f].len) == 0);
		assert(imap_fetch_item_name(&back, &again) == 0);
		assert(again.len == name.len && memcmp(again.data, name.data, name.len) == 0);
		imap_fetch_item_free(&back);
		buf_free(&name);
		buf_free(&again);
	}
	imap_fetch_request_free(&req);
}

static void check_store(const struct imap_command *cmd)
{
	struct imap_store_request req;
	const char *why = NULL;
	if (imap_store_parse(cmd->args, 0, &req, &why) == 0) {
		for (unsigned i = 0; i < req.flags.keyword_count; i++)
			assert(imap_keyword_valid(req.flags.keywords[i],
						  strlen(req.flags.keywords[i])));
	} else {
		assert(why != NULL);
	}
	imap_store_request_free(&req);
}

static int format_program(const struct imap_search_program *prog, struct buf *out)
{
	assert(imap_search_program_format(prog, out) == 0);
	return 0;
}

/* SEARCH / SORT / THREAD: the rendered program, searched again, renders the
 * same (when it is plain IMAP syntax: no \xNN escapes). */
static void check_search(const struct imap_command *cmd, enum imap_search_command kind)
{
	struct imap_search_options opts = {0, true};
	struct imap_search_program *prog = NULL;
	const char *why = NULL;
	enum imap_search_status st = imap_search_parse(cmd->args, kind, &opts, &prog, &why);
	if (st != IMAP_SEARCH_OK) {
		assert(prog == NULL && why != NULL);
		return;
	}
	struct buf text;
	buf_init(&text, 0);
	format_program(prog, &text);
	imap_search_program_free(&prog);
	if (text.len == 0 || strstr(text.data, "\\x") != NULL) {
		buf_free(&text);
		return;
	}
	struct buf line;
	buf_init(&line, 0);
	buf_printf(&line, "x SEARCH %s\r\n", text.data);
	struct imap_parser *p = imap_parser_new(NULL, IMAP_PARSER_LITERAL_PLUS);
	size_t used;
	enum imap_parse_result r = imap_parser_feed(p, line.data, line.len, &used);
	assert(r == IMAP_PARSE_COMPLETE && used == line.len);
	st = imap_search_parse(imap_parser_command(p)->args, IMAP_SEARCH_CMD_SEARCH, &opts, &prog,
			       &why);
	assert(st == IMAP_SEARCH_OK);
	struct buf again;
	buf_init(&again, 0);
	format_program(prog, &again);
	assert(again.len == text.len && memcmp(again.data, text.data, text.len) == 0);
	imap_search_program_free(&prog);
	imap_parser_free(&p);
	buf_free(&again);
	buf_free(&line);
	buf_free(&text);
}

/* A sequence set: iteration over some mailboxes agrees with contains(). */
static void check_seqset(const struct imap_arg *arg)
{
	const char *s;
	size_t len;
	if (!imap_arg_get_atom(arg, &s, &len))
		return;
	struct imap_seqset set;
	const char *why;
	if (imap_seqset_parse(s, len, IMAP_SEQSET_ALLOW_SEARCHRES, &set, &why) < 0) {
		imap_seqset_free(&set);
		return;
	}
	static const uint32_t uids[] = {1, 2, 5, 9, 100, 4096, 70000, 4294967294u, 4294967295u};
	const size_t nuids = sizeof(uids) / sizeof(uids[0]);
	imap_seqset_resolve(&set, set.count % 2 ? 9 : 4294967295u);
	if (!set.searchres) {
		assert(set.resolved);
		for (size_t i = 1; i < set.count; i++)
			assert(set.ranges[i].lo > set.ranges[i - 1].hi + 1ull);
		struct imap_seqset_iter it;
		uint32_t n, prev = 0;
		size_t idx, hits = 0;
		imap_seqset_iter_init(&it, &set, uids, nuids);
		while (imap_seqset_iter_next(&it, &n, &idx)) {
			assert(uids[idx] == n && n > prev && imap_seqset_contains(&set, n));
			prev = n;
			hits++;
		}
		size_t expect = 0;
		for (size_t i = 0; i < nuids; i++)
			expect += imap_seqset_contains(&set, uids[i]);
		assert(hits == expect);
		imap_seqset_iter_init(&it, &set, NULL, 20);
		hits = 0;
		while (imap_seqset_iter_next(&it, &n, &idx)) {
			assert(n == idx + 1 && n <= 20 && imap_seqset_contains(&set, n));
			hits++;
		}
		assert(hits <= imap_seqset_count(&set));
		struct buf text;
		buf_init(&text, 0);
		imap_seqset_format(&set, &text);
		if (set.count > 0) {
			struct imap_seqset back;
			assert(imap_seqset_parse(text.data, text.len, 0, &back, &why) == 0);
			assert(back.count == set.count &&
			       memcmp(back.ranges, set.ranges, set.count * sizeof(*set.ranges)) ==
				   0);
			imap_seqset_free(&back);
		}
		buf_free(&text);
	}
	imap_seqset_free(&set);
}

/* Mailbox names: a valid modified UTF-7 name encodes back to itself. */
static void check_mailbox(const struct imap_arg *arg)
{
	const char *s;
	size_t len;
	if (!imap_arg_get_astring(arg, &s, &len))
		return;
	struct buf u8, u7;
	const char *why;
	buf_init(&u8, 0);
	buf_init(&u7, 0);
	if (imap_utf7_to_utf8(s, len, &u8, &why) == 0) {
		assert(imap_utf8_to_utf7(u8.data != NULL ? u8.data : "", u8.len, &u7, &why) == 0);
		assert(u7.len == len && memcmp(u7.data != NULL ? u7.data : "", s, len) == 0);
		(void)imap_mailbox_name_check(u8.data != NULL ? u8.data : "", u8.len, NULL, &why);
	}
	(void)imap_mailbox_name_check(s, len, NULL, &why);
	buf_free(&u8);
	buf_free(&u7);
}

/* Dates in any string argument: parse, format, parse again. */
static void check_dates(const struct imap_arg *args)
{
	for (const struct imap_arg *a = args; a->type != IMAP_ARG_EOL; a++) {
		if (a->type == IMAP_ARG_LIST) {
			check_dates(a->list);
			continue;
		}
		if (a->len > 200)
			continue;
		time_t t, t2;
		int tz, tz2;
		int64_t day, day2;
		const char *why;
		char out[IMAP_DATETIME_LEN + 1];
		if (imap_datetime_parse(a->str, a->len, &t, &tz, &why) == 0) {
			assert(imap_datetime_format(t, tz, out, sizeof(out)) == 0);
			assert(imap_datetime_parse(out, strlen(out), &t2, &tz2, &why) == 0);
			assert(t == t2 && tz == tz2);
		}
		if (imap_date_parse(a->str, a->len, &day, &why) == 0) {
			imap_date_format(day, out, sizeof(out));
			assert(imap_date_parse(out, strlen(out), &day2, &why) == 0 && day == day2);
		}
		if (imap_rfc5322_date_parse(a->str, a->len, &t, &tz) == 0)
			assert(imap_datetime_format(t, tz, out, sizeof(out)) == 0);
	}
}

static void interpret(const struct imap_command *cmd)
{
	const char *name = cmd->name;
	bool uid = strncmp(name, "UID ", 4) == 0;
	if (uid)
		name += 4;
	if (strcmp(name, "FETCH") == 0)
		check_fetch(cmd, uid);
	else if (strcmp(name, "STORE") == 0)
		check_store(cmd);
	else if (strcmp(name, "SEARCH") == 0)
		check_search(cmd, IMAP_SEARCH_CMD_SEARCH);
	else if (strcmp(name, "SORT") == 0)
		check_search(cmd, IMAP_SEARCH_CMD_SORT);
	else if (strcmp(name, "THREAD") == 0)
		check_search(cmd, IMAP_SEARCH_CMD_THREAD);
	if (strcmp(name, "COPY") == 0 || strcmp(name, "MOVE") == 0 ||
	    strcmp(name, "EXPUNGE") == 0 || strcmp(name, "FETCH") == 0 ||
	    strcmp(name, "STORE") == 0)
		check_seqset(&cmd->args[0]);
	if ((strcmp(name, "COPY") == 0 || strcmp(name, "MOVE") == 0) && cmd->arg_count >= 2)
		check_mailbox(&cmd->args[1]);
	static const char *const mailbox_cmds[] = {
	    "SELECT",	 "EXAMINE",	"CREATE", "DELETE", "RENAME", "STATUS",
	    "SUBSCRIBE", "UNSUBSCRIBE", "LIST",	  "LSUB",   "APPEND", "GETQUOTAROOT"};
	for (size_t i = 0; i < sizeof(mailbox_cmds) / sizeof(mailbox_cmds[0]); i++) {
		if (strcmp(name, mailbox_cmds[i]) == 0) {
			for (unsigned k = 0; k < cmd->arg_count && k < 2; k++)
				check_mailbox(&cmd->args[k]);
		}
	}
	if (strcmp(name, "APPEND") == 0 || strcmp(name, "SEARCH") == 0)
		check_dates(cmd->args);
	/* flag lists anywhere in APPEND */
	if (strcmp(name, "APPEND") == 0) {
		for (const struct imap_arg *a = cmd->args; a->type != IMAP_ARG_EOL; a++) {
			struct imap_flags f;
			const char *why;
			imap_flags_init(&f);
			(void)imap_flag_list_parse(a, &f, &why);
			imap_flags_free(&f);
		}
	}
}

static uint32_t rng(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

/* Feed the stream; record every event in out. split 0: whole. */
static void run(const uint8_t *data, size_t size, unsigned cfg, unsigned split, bool interp,
		struct buf *out)
{
	struct imap_parser_limits small = {
	    .max_line = 64, .max_literal = 32, .max_literal_other = 16, .max_command = 256,
	    .max_depth = 4, .max_args = 16, .max_skip = 128};
	unsigned flags = cfg & 3;
	struct imap_parser *p = imap_parser_new((cfg & 4) ? &small : NULL, flags);
	uint64_t reject_above = (cfg & 8) ? 64 : UINT64_MAX;
	uint32_t seed = split;
	size_t off = 0, avail = 0;
	for (;;) {
		if (off == avail) {
			if (avail == size)
				break;
			size_t step = split == 0 ? size : 1 + rng(&seed) % 16;
			avail = step > size - avail ? size : avail + step;
		}
		size_t used = 0;
		enum imap_parse_result r = imap_parser_feed(p, data + off, avail - off, &used);
		assert(used <= avail - off);
		off += used;
		if (r == IMAP_PARSE_NEED_MORE) {
			assert(off == avail);
			continue;
		}
		buf_printf(out, "\n%d ", (int)r);
		if (r == IMAP_PARSE_COMPLETE) {
			const struct imap_command *cmd = imap_parser_command(p);
			assert(cmd != NULL);
			buf_printf(out, "%s %s %llu", cmd->tag, cmd->name,
				   (unsigned long long)cmd->size);
			render_args(out, cmd->args, 0);
			if (interp)
				interpret(cmd);
			if (imap_command_is(cmd, "IDLE"))
				imap_parser_expect_line(p, IMAP_LINE_TEXT);
			else if (imap_command_is(cmd, "AUTHENTICATE") && cmd->arg_count == 1)
				imap_parser_expect_line(p, IMAP_LINE_BASE64);
		} else if (r == IMAP_PARSE_LITERAL) {
			uint64_t n = imap_parser_literal_size(p);
			buf_printf(out, "%llu", (unsigned long long)n);
			if (n > reject_above)
				imap_parser_literal_reject(p);
			else
				imap_parser_literal_accept(p);
		} else if (r == IMAP_PARSE_LINE) {
			size_t ll;
			const char *line = imap_parser_line(p, &ll);
			assert(line != NULL && line[ll] == '\0');
			buf_append(out, line, ll);
		} else {
			enum imap_parse_error code;
			bool fatal;
			const char *msg = imap_parser_error(p, &code, &fatal);
			const char *tag = imap_parser_tag(p);
			assert(code != IMAP_PARSE_ERR_NONE && msg != NULL);
			buf_printf(out, "%d %d %s %s", (int)code, fatal, msg, tag ? tag : "*");
			if (fatal)
				break;
		}
	}
	imap_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned cfg = data[0];
	data++;
	size--;
	struct buf whole, split;
	buf_init(&whole, 0);
	buf_init(&split, 0);
	run(data, size, cfg, 0, true, &whole);
	run(data, size, cfg, 1 + (cfg >> 4), false, &split);
	assert(whole.len == split.len);
	assert(whole.len == 0 || memcmp(whole.data, split.data, whole.len) == 0);
	buf_free(&whole);
	buf_free(&split);
	return 0;
}
