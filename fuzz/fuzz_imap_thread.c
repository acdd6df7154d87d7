/* fuzz_imap_thread.c - libFuzzer target for THREAD and base subjects
 * (imap_thread.h). The input is a mailbox: one message per line, fields
 * separated by tabs: Message-ID, References, In-Reply-To, Subject, date.
 * Checked: base subjects never grow and are stable when extracted again;
 * msg-ids lie inside their value; both algorithms list every message
 * exactly once in balanced, non-empty groups. */
#undef NDEBUG /* the assertions are what a fuzz target checks */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "imap/imap_thread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSGS 2000

struct field {
	const char *p;
	size_t len;
};

static void check_output(const char *s, size_t len, size_t n)
{
	unsigned char *seen = calloc(n + 1, 1);
	long depth = 0;
	size_t count = 0;
	for (size_t i = 0; i < len;) {
		char c = s[i];
		if (c == '(') {
			assert(i + 1 < len && s[i + 1] != ')'); /* no empty group */
			depth++;
			i++;
		} else if (c == ')') {
			depth--;
			assert(depth >= 0);
			i++;
		} else if (c == ' ') {
			assert(i > 0 && s[i - 1] != ' ' && s[i - 1] != '(');
			i++;
		} else {
			assert(c >= '1' && c <= '9');
			size_t v = 0;
			while (i < len && s[i] >= '0' && s[i] <= '9')
				v = v * 10 + (size_t)(s[i++] - '0');
			assert(v >= 1 && v <= n && !seen[v]);
			seen[v] = 1;
			count++;
		}
	}
	assert(depth == 0);
	assert(count == n);
	free(seen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct imap_thread_msg *msgs = calloc(MAX_MSGS, sizeof(*msgs));
	struct buf *subj = calloc(MAX_MSGS, sizeof(*subj));
	size_t n = 0;
	for (size_t pos = 0; pos < size && n < MAX_MSGS;) {
		const char *nl = memchr(s + pos, '\n', size - pos);
		size_t end = nl != NULL ? (size_t)(nl - s) : size;
		struct field f[5];
		memset(f, 0, sizeof(f));
		size_t k = 0, a = pos;
		for (size_t i = pos; i <= end && k < 5; i++) {
			if (i == end || s[i] == '\t') {
				f[k].p = s + a;
				f[k].len = i - a;
				k++;
				a = i + 1;
			}
		}
		struct imap_thread_msg *m = &msgs[n];
		m->id = (uint32_t)n + 1;
		/* an empty field is an absent header */
		if (f[0].len > 0) {
			m->message_id = f[0].p;
			m->message_id_len = f[0].len;
		}
		if (f[1].len > 0) {
			m->references = f[1].p;
			m->references_len = f[1].len;
		}
		if (f[2].len > 0) {
			m->in_reply_to = f[2].p;
			m->in_reply_to_len = f[2].len;
		}
		buf_init(&subj[n], 0);
		const char *sp = f[3].p != NULL ? f[3].p : "";
		m->subject_is_reply = imap_base_subject(sp, f[3].len, &subj[n]);
		assert(subj[n].len <= f[3].len);
		struct buf again;
		buf_init(&again, 0);
		imap_base_subject(subj[n].data != NULL ? subj[n].data : "", subj[n].len, &again);
		assert(again.len == subj[n].len &&
		       (again.len == 0 || memcmp(again.data, subj[n].data, again.len) == 0));
		buf_free(&again);
		m->base_subject = subj[n].data != NULL ? subj[n].data : "";
		m->base_subject_len = subj[n].len;
		int64_t date = 0;
		for (size_t i = 0; i < f[4].len && i < 12; i++)
			date = date * 31 + (unsigned char)f[4].p[i];
		m->date = date % 100;
		for (int j = 0; j < 3; j++) {
			size_t ipos = 0;
			const char *id;
			size_t idlen;
			while (imap_thread_next_msgid(f[j].p != NULL ? f[j].p : "", f[j].len, &ipos,
						      &id, &idlen)) {
				assert(idlen > 0 && id > f[j].p && id + idlen < f[j].p + f[j].len);
				assert(memchr(id, '<', idlen) == NULL &&
				       memchr(id, '>', idlen) == NULL);
				assert(ipos <= f[j].len);
			}
		}
		n++;
		pos = end + 1;
	}
	struct buf out;
	buf_init(&out, 0);
	assert(imap_thread(IMAP_THREAD_REFERENCES, msgs, n, &out) == 0);
	check_output(out.data != NULL ? out.data : "", out.len, n);
	buf_reset(&out);
	assert(imap_thread(IMAP_THREAD_ORDEREDSUBJECT, msgs, n, &out) == 0);
	check_output(out.data != NULL ? out.data : "", out.len, n);
	buf_free(&out);
	for (size_t i = 0; i < n; i++)
		buf_free(&subj[i]);
	free(subj);
	free(msgs);
	return 0;
}
