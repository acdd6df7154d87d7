/* conn_deflate.c - a compressing conn transport (zlib raw deflate) layered
 * over the connection's previous transport. */
#include "core/conn_deflate.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/conn.h"
#include "core/util.h"

#define RBUF 16384

struct deflate_ctx {
	const struct conn_transport *inner;
	void *inner_ctx;
	z_stream in, out;
	unsigned char rbuf[RBUF];
	unsigned char *wbuf; /* compressed bytes not yet written */
	size_t wlen, wpos, wcap;
	bool in_eof;
};

/* Call the inner transport with its own context in place. */
static ssize_t inner_read(struct conn *c, struct deflate_ctx *d, void *buf, size_t len)
{
	void *mine = c->transport_ctx;
	c->transport_ctx = d->inner_ctx;
	ssize_t n = d->inner->read(c, buf, len);
	c->transport_ctx = mine;
	return n;
}

static ssize_t inner_write(struct conn *c, struct deflate_ctx *d, const void *buf, size_t len)
{
	void *mine = c->transport_ctx;
	c->transport_ctx = d->inner_ctx;
	ssize_t n = d->inner->write(c, buf, len);
	c->transport_ctx = mine;
	return n;
}

static ssize_t deflate_read(struct conn *c, void *data, size_t len)
{
	struct deflate_ctx *d = c->transport_ctx;
	for (;;) {
		if (d->in.avail_in > 0 || d->in_eof) {
			d->in.next_out = data;
			d->in.avail_out = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
			int rc = inflate(&d->in, Z_SYNC_FLUSH);
			size_t produced = len - d->in.avail_out;
			if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) {
				errno = EPROTO;
				return -1;
			}
			if (produced > 0)
				return (ssize_t)produced;
			if (d->in_eof)
				return 0;
		}
		ssize_t n = inner_read(c, d, d->rbuf, sizeof(d->rbuf));
		if (n == 0) {
			d->in_eof = true;
			if (d->in.avail_in == 0)
				return 0;
			continue;
		}
		if (n < 0)
			return -1;
		d->in.next_in = d->rbuf;
		d->in.avail_in = (uInt)n;
	}
}

/* Write held compressed bytes. 1 done, 0 would block, -1 error. */
static int deflate_flush(struct conn *c)
{
	struct deflate_ctx *d = c->transport_ctx;
	while (d->wpos < d->wlen) {
		ssize_t n = inner_write(c, d, d->wbuf + d->wpos, d->wlen - d->wpos);
		if (n > 0) {
			d->wpos += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return 0;
		} else {
			return -1;
		}
	}
	d->wlen = d->wpos = 0;
	return 1;
}

static ssize_t deflate_write(struct conn *c, const void *data, size_t len)
{
	struct deflate_ctx *d = c->transport_ctx;
	int fl = deflate_flush(c);
	if (fl < 0)
		return -1;
	if (fl == 0) {
		errno = EAGAIN;
		return -1;
	}
	if (len > 65536)
		len = 65536;
	size_t need = deflateBound(&d->out, (uLong)len) + 64;
	if (d->wcap < need) {
		d->wcap = need;
		d->wbuf = xrealloc(d->wbuf, d->wcap);
	}
	d->out.next_in = (unsigned char *)(uintptr_t)data;
	d->out.avail_in = (uInt)len;
	d->out.next_out = d->wbuf;
	d->out.avail_out = (uInt)d->wcap;
	if (deflate(&d->out, Z_SYNC_FLUSH) != Z_OK || d->out.avail_in != 0) {
		errno = EPROTO;
		return -1;
	}
	d->wlen = d->wcap - d->out.avail_out;
	d->wpos = 0;
	if (deflate_flush(c) < 0)
		return -1;
	return (ssize_t)len;
}

static void deflate_close(struct conn *c)
{
	struct deflate_ctx *d = c->transport_ctx;
	if (d == NULL)
		return;
	inflateEnd(&d->in);
	deflateEnd(&d->out);
	c->transport = d->inner;
	c->transport_ctx = d->inner_ctx;
	free(d->wbuf);
	free(d);
	c->transport->close(c);
}

static const struct conn_transport deflate_transport = {
	.name = "deflate",
	.buffers_input = true,
	.read = deflate_read,
	.write = deflate_write,
	.flush = deflate_flush,
	.close = deflate_close,
};

int conn_deflate_start(struct conn *c)
{
	struct deflate_ctx *d = xcalloc(1, sizeof(*d));
	if (inflateInit2(&d->in, -15) != Z_OK) {
		free(d);
		return -1;
	}
	if (deflateInit2(&d->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK) {
		inflateEnd(&d->in);
		free(d);
		return -1;
	}
	d->inner = c->transport;
	d->inner_ctx = c->transport_ctx;
	c->transport = &deflate_transport;
	c->transport_ctx = d;
	return 0;
}

bool conn_deflate_active(const struct conn *c)
{
	return c->transport == &deflate_transport;
}
