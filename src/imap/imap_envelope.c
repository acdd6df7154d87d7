/* imap_envelope.c - ENVELOPE rendering: one header pass collecting the ten
 * fields, then address lists parsed only for the fields present. */
#include "imap/imap_envelope.h"

#include <stdbool.h>
#include <string.h>

#include "core/buf.h"
#include "imap/imap_quote.h"
#include "mime/mime_address.h"
#include "mime/mime_header.h"

enum {
	ENV_DATE,
	ENV_SUBJECT,
	ENV_FROM,
	ENV_SENDER,
	ENV_REPLY_TO,
	ENV_TO,
	ENV_CC,
	ENV_BCC,
	ENV_IN_REPLY_TO,
	ENV_MESSAGE_ID,
	ENV_COUNT
};

static const char *const env_names[ENV_COUNT] = {
    "date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to", "message-id",
};

static int field_index(const struct mime_header_field *f)
{
	if (!f->has_colon || f->name_len < 2 || f->name_len > 11)
		return -1;
	for (int i = 0; i < ENV_COUNT; i++) {
		if (mime_ascii_ieq(f->name, f->name_len, env_names[i]))
			return i;
	}
	return -1;
}

struct env_ctx {
	struct buf *out;
	unsigned flags;
	struct buf tmp;
	int err;
};

static void put(struct env_ctx *c, const char *s)
{
	if (buf_append_str(c->out, s) < 0)
		c->err = -1;
}

static void put_nstring(struct env_ctx *c, const char *p, size_t len)
{
	if (imap_append_nstring(c->out, p, len, c->flags) < 0)
		c->err = -1;
}

/* A string field: the unfolded value or NIL. */
static void put_value(struct env_ctx *c, const struct mime_header_field *f)
{
	if (f == NULL) {
		put(c, "NIL");
		return;
	}
	buf_reset(&c->tmp);
	if (mime_header_unfold(f->value, f->value_len, &c->tmp) < 0) {
		c->err = -1;
		return;
	}
	put_nstring(c, c->tmp.data != NULL ? c->tmp.data : "", c->tmp.len);
}

static void parse_addresses(struct env_ctx *c, const struct mime_header_field *f,
			    struct mime_address_list *l)
{
	l->n = 0;
	if (f == NULL)
		return;
	buf_reset(&c->tmp);
	if (mime_header_unfold(f->value, f->value_len, &c->tmp) < 0) {
		c->err = -1;
		return;
	}
	mime_address_parse(l, c->tmp.data != NULL ? c->tmp.data : "", c->tmp.len,
			   IMAP_ENVELOPE_MAX_ADDRESSES);
}

static void put_addresses(struct env_ctx *c, const struct mime_address_list *l)
{
	if (l->n == 0) {
		put(c, "NIL");
		return;
	}
	put(c, "(");
	for (size_t i = 0; i < l->n; i++) {
		const struct mime_address *a = &l->v[i];
		put(c, "(");
		put_nstring(c, a->name, a->name_len);
		put(c, " ");
		put_nstring(c, a->route, a->route_len);
		put(c, " ");
		put_nstring(c, a->mailbox, a->mailbox_len);
		put(c, " ");
		put_nstring(c, a->domain, a->domain_len);
		put(c, ")");
	}
	put(c, ")");
}

int imap_envelope_write(struct buf *out, const char *hdr, size_t len, unsigned flags)
{
	struct mime_header_field fields[ENV_COUNT];
	bool have[ENV_COUNT] = {false};
	unsigned found = 0;
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, hdr, len, NULL);
	while (found < ENV_COUNT && mime_header_iter_next(&it, &f) > 0) {
		int i = field_index(&f);
		if (i >= 0 && !have[i]) {
			fields[i] = f;
			have[i] = true;
			found++;
		}
	}
#define FIELD(i) (have[i] ? &fields[i] : NULL)
	struct env_ctx c = {.out = out, .flags = flags};
	buf_init(&c.tmp, 0);
	struct mime_address_list from, other;
	mime_address_list_init(&from);
	mime_address_list_init(&other);

	put(&c, "(");
	put_value(&c, FIELD(ENV_DATE));
	put(&c, " ");
	put_value(&c, FIELD(ENV_SUBJECT));
	put(&c, " ");
	parse_addresses(&c, FIELD(ENV_FROM), &from);
	put_addresses(&c, &from);
	for (int i = ENV_SENDER; i <= ENV_BCC; i++) {
		put(&c, " ");
		parse_addresses(&c, FIELD(i), &other);
		if (other.n == 0 && (i == ENV_SENDER || i == ENV_REPLY_TO))
			put_addresses(&c, &from);
		else
			put_addresses(&c, &other);
	}
	put(&c, " ");
	put_value(&c, FIELD(ENV_IN_REPLY_TO));
	put(&c, " ");
	put_value(&c, FIELD(ENV_MESSAGE_ID));
	put(&c, ")");
#undef FIELD
	mime_address_list_free(&from);
	mime_address_list_free(&other);
	buf_free(&c.tmp);
	return c.err;
}
