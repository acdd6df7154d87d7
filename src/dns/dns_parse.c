/* dns_parse.c - DNS response parsing: header, question, answer records of
 * the asked type through a bounded CNAME chain. Names are decompressed into
 * fixed 255-octet buffers; compression pointers may only point backwards, so
 * decompression always ends, and every read is checked against the length. */
#include "dns/dns_parse.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/util.h"

#define HEADER_LEN 12
#define WIRE_NAME_MAX 255
#define POINTER_HOPS_MAX 64

#define FLAG_QR 0x8000u
#define FLAG_AA 0x0400u
#define FLAG_TC 0x0200u

/* Name reading results: a name that runs off the end of the message is told
 * apart from other damage, because a truncated (TC) answer may end that way. */
enum name_result { NAME_OK = 0, NAME_BAD = -1, NAME_SHORT = -2 };

/* One answer record that may matter: where its owner name and data are. */
struct rr_ref {
	size_t name_off;
	unsigned type;
	size_t rdata_off;
	size_t rdlen;
};

static unsigned get16(const uint8_t *p)
{
	return ((unsigned)p[0] << 8) | p[1];
}

/* Decompress the name at *off into wire (uncompressed labels, ending with the
 * zero octet; *wlen_r counts it). *off moves past the name as it sits in the
 * message (the pointer, when there is one). */
static enum name_result read_name(const uint8_t *msg, size_t len, size_t *off,
				  uint8_t wire[WIRE_NAME_MAX], size_t *wlen_r, const char **why)
{
	size_t pos = *off;
	size_t segment = pos; /* where the labels being read right now start */
	size_t w = 0;
	unsigned hops = 0;
	bool jumped = false;
	for (;;) {
		if (pos >= len) {
			*why = "name runs past the end of the message";
			return NAME_SHORT;
		}
		unsigned c = msg[pos];
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= len) {
				*why = "name runs past the end of the message";
				return NAME_SHORT;
			}
			size_t target = ((size_t)(c & 0x3f) << 8) | msg[pos + 1];
			/* Strictly before everything read so far: each jump goes
			 * further back, so decompression cannot loop. */
			if (target >= segment || ++hops > POINTER_HOPS_MAX) {
				*why = "bad compression pointer";
				return NAME_BAD;
			}
			if (!jumped)
				*off = pos + 2;
			jumped = true;
			pos = segment = target;
			continue;
		}
		if ((c & 0xc0) != 0) {
			*why = "unsupported label type";
			return NAME_BAD;
		}
		if (c == 0) {
			if (w + 1 > WIRE_NAME_MAX) {
				*why = "name too long";
				return NAME_BAD;
			}
			wire[w++] = 0;
			if (!jumped)
				*off = pos + 1;
			*wlen_r = w;
			return NAME_OK;
		}
		if (pos + 1 + c > len) {
			*why = "name runs past the end of the message";
			return NAME_SHORT;
		}
		/* The label, its length octet and at least the final zero octet. */
		if (w + 1 + c + 1 > WIRE_NAME_MAX) {
			*why = "name too long";
			return NAME_BAD;
		}
		memcpy(wire + w, msg + pos, 1 + c);
		w += 1 + c;
		pos += 1 + c;
	}
}

static bool wire_name_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen)
		return false;
	/* Length octets are below 64 and so never change under case folding. */
	for (size_t i = 0; i < alen; i++) {
		unsigned x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return false;
	}
	return true;
}

/* Render a wire name (from read_name) as text; out holds DNS_NAME_TEXT_MAX. */
static void name_to_text(const uint8_t *wire, char *out)
{
	size_t o = 0, i = 0;
	if (wire[0] == 0) {
		out[0] = '.';
		out[1] = '\0';
		return;
	}
	while (wire[i] != 0) {
		size_t n = wire[i++];
		if (o > 0)
			out[o++] = '.';
		for (size_t k = 0; k < n; k++, i++) {
			unsigned c = wire[i];
			if (c == '.' || c == '\\') {
				out[o++] = '\\';
				out[o++] = (char)c;
			} else if (c <= 32 || c >= 127) {
				out[o++] = '\\';
				out[o++] = (char)('0' + c / 100);
				out[o++] = (char)('0' + c / 10 % 10);
				out[o++] = (char)('0' + c % 10);
			} else {
				out[o++] = (char)c;
			}
		}
	}
	out[o] = '\0';
}

static int parse_mx(const uint8_t *msg, size_t len, const struct rr_ref *rr, struct dns_mx *mx,
		    const char **why)
{
	uint8_t wire[WIRE_NAME_MAX];
	size_t wlen, off = rr->rdata_off + 2;
	if (rr->rdlen < 3 || read_name(msg, len, &off, wire, &wlen, why) != NAME_OK ||
	    off != rr->rdata_off + rr->rdlen) {
		*why = "malformed MX record";
		return -1;
	}
	mx->pref = get16(msg + rr->rdata_off);
	name_to_text(wire, mx->host);
	return 0;
}

static int parse_txt(const uint8_t *msg, const struct rr_ref *rr, struct dns_txt *txt,
		     const char **why)
{
	/* The concatenation is never longer than the record data. */
	txt->data = xmalloc(rr->rdlen + 1);
	txt->len = 0;
	size_t p = rr->rdata_off, end = rr->rdata_off + rr->rdlen;
	while (p < end) {
		size_t n = msg[p];
		if (n > end - p - 1) {
			free(txt->data);
			txt->data = NULL;
			*why = "malformed TXT record";
			return -1;
		}
		memcpy(txt->data + txt->len, msg + p + 1, n);
		txt->len += n;
		p += 1 + n;
	}
	txt->data[txt->len] = '\0';
	return 0;
}

/* Make room for element n of arr (each `size` octets), growing by doubling;
 * the caller keeps n below DNS_ANSWER_MAX. */
static void *grow(void *arr, size_t n, size_t size)
{
	if (n == 0 || (n & (n - 1)) == 0) /* 0, 1, 2, 4, ...: full */
		return xrealloc(arr, (n == 0 ? 1 : n * 2) * size);
	return arr;
}

/* Append one record of the asked type to the answer. */
static int collect(const uint8_t *msg, size_t len, const struct rr_ref *rr, struct dns_answer *a,
		   const char **why)
{
	switch (rr->type) {
	case DNS_TYPE_MX:
		if (a->nmx >= DNS_ANSWER_MAX)
			return 0;
		a->mx = grow(a->mx, a->nmx, sizeof(*a->mx));
		if (parse_mx(msg, len, rr, &a->mx[a->nmx], why) < 0)
			return -1;
		a->nmx++;
		return 0;
	case DNS_TYPE_A:
	case DNS_TYPE_AAAA: {
		size_t want = rr->type == DNS_TYPE_A ? 4 : 16;
		if (rr->rdlen != want) {
			*why =
			    rr->type == DNS_TYPE_A ? "malformed A record" : "malformed AAAA record";
			return -1;
		}
		if (a->naddr >= DNS_ANSWER_MAX)
			return 0;
		a->addr = grow(a->addr, a->naddr, sizeof(*a->addr));
		struct dns_addr *d = &a->addr[a->naddr++];
		memset(d, 0, sizeof(*d));
		d->family = rr->type == DNS_TYPE_A ? AF_INET : AF_INET6;
		memcpy(d->addr, msg + rr->rdata_off, want);
		return 0;
	}
	case DNS_TYPE_TXT:
		if (a->ntxt >= DNS_ANSWER_MAX)
			return 0;
		a->txt = grow(a->txt, a->ntxt, sizeof(*a->txt));
		if (parse_txt(msg, rr, &a->txt[a->ntxt], why) < 0)
			return -1;
		a->ntxt++;
		return 0;
	default:
		return 0; /* other types: the caller only learns the chain */
	}
}

/* Does the owner of rr equal the wire name `cur`? */
static bool owner_is(const uint8_t *msg, size_t len, const struct rr_ref *rr, const uint8_t *cur,
		     size_t curlen)
{
	uint8_t wire[WIRE_NAME_MAX];
	size_t wlen, off = rr->name_off;
	const char *why;
	/* Owner names were read once already; this cannot fail now. */
	if (read_name(msg, len, &off, wire, &wlen, &why) != NAME_OK)
		return false;
	return wire_name_eq(wire, wlen, cur, curlen);
}

/* Follow the CNAME chain from the question name and collect the records. */
static int follow_chain(const uint8_t *msg, size_t len, const struct rr_ref *rrs, size_t nrr,
			uint8_t *cur, size_t curlen, struct dns_answer *a, const char **why)
{
	for (;;) {
		bool found = false;
		for (size_t i = 0; i < nrr; i++) {
			if (rrs[i].type != a->qtype || !owner_is(msg, len, &rrs[i], cur, curlen))
				continue;
			if (collect(msg, len, &rrs[i], a, why) < 0)
				return -1;
			found = true;
		}
		if (found || a->qtype == DNS_TYPE_CNAME)
			break;
		const struct rr_ref *alias = NULL;
		for (size_t i = 0; i < nrr && alias == NULL; i++) {
			if (rrs[i].type == DNS_TYPE_CNAME &&
			    owner_is(msg, len, &rrs[i], cur, curlen))
				alias = &rrs[i];
		}
		if (alias == NULL)
			break;
		if (a->ncname >= DNS_CNAME_MAX) {
			*why = "CNAME chain too long";
			return -1;
		}
		size_t off = alias->rdata_off;
		if (read_name(msg, len, &off, cur, &curlen, why) != NAME_OK ||
		    off != alias->rdata_off + alias->rdlen) {
			*why = "malformed CNAME record";
			return -1;
		}
		a->ncname++;
	}
	name_to_text(cur, a->name);
	return 0;
}

int dns_parse_answer(const uint8_t *msg, size_t len, struct dns_answer *answer_r,
		     const char **error_r)
{
	struct dns_answer *a = answer_r;
	memset(a, 0, sizeof(*a));
	*error_r = NULL;
	if (len < HEADER_LEN) {
		*error_r = "message shorter than a header";
		return -1;
	}
	unsigned flags = get16(msg + 2);
	unsigned qdcount = get16(msg + 4), ancount = get16(msg + 6);
	if ((flags & FLAG_QR) == 0) {
		*error_r = "not a response";
		return -1;
	}
	a->id = get16(msg);
	a->rcode = flags & 0x0f;
	a->truncated = (flags & FLAG_TC) != 0;
	a->authoritative = (flags & FLAG_AA) != 0;
	if (qdcount == 0) {
		*error_r = "no question section";
		return -1;
	}

	size_t off = HEADER_LEN;
	uint8_t qwire[WIRE_NAME_MAX], wire[WIRE_NAME_MAX];
	size_t qwlen = 0, wlen;
	for (unsigned i = 0; i < qdcount; i++) {
		/* qwire and wire are output buffers: read_name() fills them. */
		/* cppcheck-suppress legacyUninitvar */
		if (read_name(msg, len, &off, i == 0 ? qwire : wire, i == 0 ? &qwlen : &wlen,
			      error_r) != NAME_OK)
			return -1;
		if (len - off < 4) {
			*error_r = "question runs past the end of the message";
			return -1;
		}
		if (i == 0)
			a->qtype = get16(msg + off);
		off += 4;
	}
	name_to_text(qwire, a->qname);

	/* Each record takes at least 11 octets, which bounds the array. */
	size_t cap = ancount < (len - off) / 11 + 1 ? ancount : (len - off) / 11 + 1;
	struct rr_ref *rrs = cap > 0 ? xcalloc(cap, sizeof(*rrs)) : NULL;
	size_t nrr = 0;
	for (unsigned i = 0; i < ancount; i++) {
		size_t name_off = off;
		enum name_result nr = read_name(msg, len, &off, wire, &wlen, error_r);
		if (nr == NAME_OK && len - off < 10) {
			nr = NAME_SHORT;
			*error_r = "record runs past the end of the message";
		}
		size_t rdlen = nr == NAME_OK ? get16(msg + off + 8) : 0;
		if (nr == NAME_OK && rdlen > len - off - 10) {
			nr = NAME_SHORT;
			*error_r = "record data runs past the end of the message";
		}
		if (nr == NAME_SHORT && a->truncated) {
			*error_r = NULL;
			break; /* keep what arrived before the cut */
		}
		if (nr != NAME_OK) {
			free(rrs);
			return -1;
		}
		unsigned type = get16(msg + off), klass = get16(msg + off + 2);
		if (klass == DNS_CLASS_IN && (type == a->qtype || type == DNS_TYPE_CNAME) &&
		    nrr < cap) {
			rrs[nrr].name_off = name_off;
			rrs[nrr].type = type;
			rrs[nrr].rdata_off = off + 10;
			rrs[nrr].rdlen = rdlen;
			nrr++;
		}
		off += 10 + rdlen;
	}

	int rc = follow_chain(msg, len, rrs, nrr, qwire, qwlen, a, error_r);
	free(rrs);
	if (rc < 0) {
		dns_answer_free(a);
		return -1;
	}
	a->null_mx = a->nmx == 1 && a->mx[0].pref == 0 && strcmp(a->mx[0].host, ".") == 0;
	*error_r = NULL;
	return 0;
}

void dns_answer_free(struct dns_answer *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->ntxt; i++)
		free(a->txt[i].data);
	free(a->txt);
	free(a->mx);
	free(a->addr);
	a->txt = NULL;
	a->mx = NULL;
	a->addr = NULL;
	a->ntxt = a->nmx = a->naddr = 0;
}

const char *dns_rcode_text(unsigned rcode)
{
	switch (rcode) {
	case DNS_RCODE_NOERROR:
		return "no error";
	case DNS_RCODE_FORMERR:
		return "format error";
	case DNS_RCODE_SERVFAIL:
		return "server failure";
	case DNS_RCODE_NXDOMAIN:
		return "no such domain";
	case DNS_RCODE_NOTIMP:
		return "not implemented";
	case DNS_RCODE_REFUSED:
		return "query refused";
	default:
		return "unexpected response code";
	}
}
