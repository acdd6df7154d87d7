/* test_mime_corpus.c - the message corpus in tests/data/mime: for every
 * NAME.eml, the parsed tree (part count, types, flags, offsets, lines), the
 * BODYSTRUCTURE, BODY and ENVELOPE strings must equal NAME.expected; every
 * part must be reachable through its IMAP section number; and the tree
 * must satisfy the structural invariants.
 *
 * MIME_CORPUS_UPDATE=1 rewrites the .expected files instead of comparing
 * (review the diff before committing it). The corpus directory is found
 * from $MIME_CORPUS_DIR, the working directory, or the test binary's path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "imap/imap_bodystructure.h"
#include "imap/imap_envelope.h"
#include "imap/imap_section.h"
#include "mime/mime_parser.h"

static char corpus_dir[4096];

static char *read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	struct buf b;
	buf_init(&b, 0);
	char tmp[8192];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	*len_r = b.len;
	if (b.data == NULL) {
		/* An empty file: an exact-size (1-byte) allocation. */
		b.data = malloc(1);
		b.data[0] = '\0';
	}
	return b.data;
}

/* Printable rendering of arbitrary bytes. */
static void esc(struct buf *out, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\\')
			buf_append_str(out, "\\\\");
		else if (c == '\r')
			buf_append_str(out, "\\r");
		else if (c == '\n')
			buf_append_str(out, "\\n");
		else if (c == '\t')
			buf_append_str(out, "\\t");
		else if (c < 0x20 || c >= 0x7f)
			buf_printf(out, "\\x%02x", c);
		else
			buf_append(out, p + i, 1);
	}
}

/* The IMAP part number of a part ("" for the root). An embedded message
 * shares its message/rfc822 part's number. */
static void part_path(const struct mime_part *p, char *out, size_t outlen)
{
	unsigned nums[128];
	unsigned n = 0;
	for (; p != NULL && p->parent != NULL; p = p->parent) {
		if ((p->parent->flags & MIME_PART_MULTIPART) != 0 && n < 128)
			nums[n++] = p->number;
	}
	size_t k = 0;
	out[0] = '\0';
	for (unsigned i = n; i-- > 0;)
		k += (size_t)snprintf(out + k, outlen - k, i + 1 < n ? ".%u" : "%u", nums[i]);
}

static void flags_str(unsigned f, struct buf *out)
{
	static const char *names[] = {"MULTIPART", "MESSAGE",  "TEXT",	"IS_MIME",
				      "OVERFLOW",  "NO_BLANK", "DIGEST"};
	bool first = true;
	for (unsigned i = 0; i < 7; i++) {
		if ((f & (1u << i)) != 0) {
			buf_printf(out, "%s%s", first ? "" : ",", names[i]);
			first = false;
		}
	}
	if (first)
		buf_append_str(out, "-");
}

static const char *cte_name(enum mime_cte e)
{
	switch (e) {
	case MIME_CTE_7BIT:
		return "7bit";
	case MIME_CTE_8BIT:
		return "8bit";
	case MIME_CTE_BINARY:
		return "binary";
	case MIME_CTE_BASE64:
		return "base64";
	case MIME_CTE_QP:
		return "qp";
	case MIME_CTE_UNKNOWN:
		return "unknown";
	}
	return "?";
}

/* Resolve BODY[path] and BODY[path.MIME] and check they are the part's. */
static void check_section(const struct mime_tree *t, const struct mime_part *p, const char *path)
{
	if (p->parent == NULL || (p->parent->flags & MIME_PART_MULTIPART) == 0)
		return;
	char spec[600];
	struct imap_section sec;
	struct imap_section_result res;
	const char *err;
	assert_int_equal(imap_section_parse(path, strlen(path), false, &sec, &err), 0);
	if (imap_section_resolve(t, &sec, &res) != 1)
		fail_msg("section %s not found", path);
	assert_ptr_equal(res.part, p);
	assert_int_equal(res.start, p->body_start);
	assert_int_equal(res.end, p->body_end);
	imap_section_free(&sec);
	snprintf(spec, sizeof(spec), "%s.MIME", path);
	assert_int_equal(imap_section_parse(spec, strlen(spec), false, &sec, &err), 0);
	assert_int_equal(imap_section_resolve(t, &sec, &res), 1);
	assert_int_equal(res.start, p->hdr_start);
	assert_int_equal(res.end, p->hdr_end);
	imap_section_free(&sec);
	size_t size;
	assert_int_equal(imap_section_parse(path, strlen(path), true, &sec, &err), 0);
	assert_int_equal(imap_section_resolve(t, &sec, &res), 1);
	enum imap_binary_status st = imap_section_binary(&res, t, NULL, &size);
	assert_true(st == IMAP_BINARY_OK || st == IMAP_BINARY_UNKNOWN_CTE);
	imap_section_free(&sec);
}

static void render(const struct mime_tree *t, struct buf *out)
{
	buf_printf(out, "parts %u%s\n", t->nparts, t->truncated ? " truncated" : "");
	for (unsigned i = 0; i < t->nparts; i++) {
		const struct mime_part *p = &t->parts[i];
		char path[600];
		part_path(p, path, sizeof(path));
		check_section(t, p, path);
		buf_printf(out, "%u [%s] d%u ", i, path[0] != '\0' ? path : "-", p->depth);
		esc(out, p->type.p, p->type.len);
		buf_append_str(out, "/");
		esc(out, p->subtype.p, p->subtype.len);
		buf_append_str(out, " ");
		flags_str(p->flags, out);
		buf_printf(out, " hdr=%zu+%zu body=%zu+%zu lines=%zu enc=%s\n", p->hdr_start,
			   p->hdr_end - p->hdr_start, p->body_start, p->body_end - p->body_start,
			   p->body_lines, cte_name(p->encoding));
	}
	struct buf tmp;
	buf_init(&tmp, 0);
	const char *labels[] = {"BODYSTRUCTURE ", "BODY ", "ENVELOPE "};
	for (int k = 0; k < 3; k++) {
		buf_reset(&tmp);
		if (k < 2)
			assert_int_equal(imap_bodystructure_write(&tmp, t, k == 0, 0), 0);
		else
			assert_int_equal(imap_envelope_write(&tmp, t->data, t->len, 0), 0);
		buf_append_str(out, labels[k]);
		esc(out, tmp.data, tmp.len);
		buf_append_str(out, "\n");
	}
	buf_free(&tmp);
}

static void check_invariants(const struct mime_tree *t)
{
	assert_int_equal(t->root->hdr_start, 0);
	assert_int_equal(t->root->body_end, t->len);
	for (unsigned i = 0; i < t->nparts; i++) {
		const struct mime_part *p = &t->parts[i];
		assert_true(p->hdr_start <= p->hdr_end && p->hdr_end == p->body_start &&
			    p->body_start <= p->body_end && p->body_end <= t->len);
		for (const struct mime_part *c = p->children; c != NULL; c = c->next) {
			assert_true(c->hdr_start >= p->body_start && c->body_end <= p->body_end);
			if (c->next != NULL)
				assert_true(c->body_end <= c->next->hdr_start);
		}
	}
}

static int one_file(const char *name)
{
	char path[8192];
	size_t len, elen;
	snprintf(path, sizeof(path), "%s/%s", corpus_dir, name);
	char *data = read_file(path, &len);
	assert_non_null(data);
	/* Exact-size copy so that ASan sees any read past the message. */
	char *msg = malloc(len == 0 ? 1 : len);
	memcpy(msg, data, len);
	free(data);
	struct mime_tree *t = mime_parse(msg, len, NULL);
	check_invariants(t);
	struct buf got;
	buf_init(&got, 0);
	render(t, &got);
	mime_tree_free(&t);
	free(msg);

	size_t n = strlen(path);
	snprintf(path + n - 4, sizeof(path) - n + 4, ".expected");
	int failed = 0;
	const char *update = getenv("MIME_CORPUS_UPDATE");
	if (update != NULL && strcmp(update, "1") == 0) {
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		fwrite(got.data, 1, got.len, f);
		fclose(f);
	} else {
		char *want = read_file(path, &elen);
		if (want == NULL) {
			print_error("%s: missing %s\n", name, path);
			failed = 1;
		} else if (elen != got.len || memcmp(want, got.data, elen) != 0) {
			print_error("%s: differs from %s; got:\n%s\n", name, path, got.data);
			failed = 1;
		}
		free(want);
	}
	buf_free(&got);
	return failed;
}

/* One test per message; the file name is the initial state. */
static void test_message(void **state)
{
	const char *name = *state;
	if (one_file(name) != 0)
		fail_msg("%s differs from its .expected file", name);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int main(int argc, char **argv)
{
	(void)argc;
	const char *env = getenv("MIME_CORPUS_DIR");
	if (env != NULL) {
		snprintf(corpus_dir, sizeof(corpus_dir), "%s", env);
	} else if (is_dir("tests/data/mime")) {
		snprintf(corpus_dir, sizeof(corpus_dir), "tests/data/mime");
	} else {
		/* build/tests/X or build/asan/tests/X */
		char base[4096];
		snprintf(base, sizeof(base), "%s", argv[0]);
		char *slash = strrchr(base, '/');
		if (slash != NULL)
			*slash = '\0';
		snprintf(corpus_dir, sizeof(corpus_dir), "%s/../../tests/data/mime", base);
		if (!is_dir(corpus_dir))
			snprintf(corpus_dir, sizeof(corpus_dir), "%s/../../../tests/data/mime",
				 base);
	}
	DIR *d = opendir(corpus_dir);
	if (d == NULL) {
		fprintf(stderr, "test_mime_corpus: no corpus directory %s\n", corpus_dir);
		return 1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l <= 4 || strcmp(e->d_name + l - 4, ".eml") != 0)
			continue;
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			names = realloc(names, cap * sizeof(*names));
		}
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	if (n < 30) {
		fprintf(stderr, "test_mime_corpus: only %zu messages in %s\n", n, corpus_dir);
		return 1;
	}
	qsort(names, n, sizeof(*names), name_cmp);
	struct CMUnitTest *tests = calloc(n, sizeof(*tests));
	for (size_t i = 0; i < n; i++) {
		tests[i].name = names[i];
		tests[i].test_func = test_message;
		tests[i].initial_state = names[i];
	}
	int ret = _cmocka_run_group_tests("mime_corpus", tests, n, NULL, NULL);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(tests);
	return ret;
}
