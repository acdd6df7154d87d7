/* conn.c - buffered connection over a plain socket transport; the TLS
 * transport will provide the same table. */
#include "core/conn.h"

#include "core/loop.h"

static int conn_flush_buffer(struct conn *c);

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static ssize_t plain_read(struct conn *c, void *data, size_t len)
{
	return read(c->fd, data, len);
}

static ssize_t plain_write(struct conn *c, const void *data, size_t len)
{
	return send(c->fd, data, len, MSG_NOSIGNAL);
}

static void plain_close(struct conn *c)
{
	(void)c;
}

static const struct conn_transport plain_transport = {
	.name = "plain",
	.buffers_input = false,
	.read = plain_read,
	.write = plain_write,
	.close = plain_close,
};

static void sockaddr_to_str(const struct sockaddr_storage *ss, char *ip, size_t iplen,
			    unsigned *port)
{
	ip[0] = '\0';
	*port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &sin->sin_addr, ip, (socklen_t)iplen);
		*port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, (socklen_t)iplen);
		*port = ntohs(sin6->sin6_port);
		/* Report IPv4-mapped addresses as plain IPv4. */
		if (strncmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.') != NULL)
			memmove(ip, ip + 7, strlen(ip + 7) + 1);
	}
}

void conn_init(struct conn *c, int fd, size_t in_max, size_t out_max)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->transport = &plain_transport;
	buf_init(&c->in, in_max);
	buf_init(&c->out, out_max);
	socklen_t len = sizeof(c->peer);
	if (getpeername(fd, (struct sockaddr *)&c->peer, &len) == 0)
		sockaddr_to_str(&c->peer, c->peer_ip, sizeof(c->peer_ip), &c->peer_port);
	struct sockaddr_storage local;
	len = sizeof(local);
	if (getsockname(fd, (struct sockaddr *)&local, &len) == 0)
		sockaddr_to_str(&local, c->local_ip, sizeof(c->local_ip), &c->local_port);
}

void conn_close(struct conn *c)
{
	if (c->transport != NULL)
		c->transport->close(c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
	buf_free(&c->out);
}

size_t conn_fill(struct conn *c, size_t limit)
{
	size_t added = 0;
	while (!c->eof && !c->error && c->in.len < limit) {
		size_t want = limit - c->in.len;
		if (want > 65536)
			want = 65536;
		char *p = buf_reserve(&c->in, want);
		if (p == NULL)
			break;
		c->want_write = false;
		ssize_t n = c->transport->read(c, p, want);
		if (n > 0) {
			buf_commit(&c->in, (size_t)n);
			added += (size_t)n;
			/* A short read from a socket means it is drained; a
			 * buffering transport must be asked until EAGAIN. */
			if ((size_t)n < want && !c->transport->buffers_input)
				break;
		} else if (n == 0) {
			c->eof = true;
		} else if (errno == EINTR) {
			continue;
		} else {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->error = true;
			break;
		}
	}
	return added;
}

int conn_flush(struct conn *c)
{
	int ret = conn_flush_buffer(c);
	if (ret == 1 && c->transport->flush != NULL) {
		c->want_read = false;
		ret = c->transport->flush(c);
		if (ret < 0)
			c->error = true;
	}
	c->held = ret == 0 && c->out.len == 0;
	return ret;
}

static int conn_flush_buffer(struct conn *c)
{
	while (c->out.len > 0) {
		c->want_read = false;
		ssize_t n = c->transport->write(c, c->out.data, c->out.len);
		if (n > 0) {
			buf_consume(&c->out, (size_t)n);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return 0;
		} else {
			c->error = true;
			return -1;
		}
	}
	return 1;
}

void conn_trim(struct conn *c)
{
	if (c->in.len == 0 && c->in.cap > 0)
		buf_free(&c->in);
	if (c->out.len == 0 && c->out.cap > 0)
		buf_free(&c->out);
}

bool conn_has_pending_output(const struct conn *c)
{
	return c->out.len > 0 || c->want_write || c->held;
}

unsigned conn_wanted_events(const struct conn *c, bool want_input)
{
	unsigned ev = 0;
	if (want_input || c->want_read)
		ev |= LOOP_READ;
	if (c->out.len > 0 || c->want_write || c->held)
		ev |= LOOP_WRITE;
	return ev;
}

int conn_write(struct conn *c, const void *data, size_t len)
{
	return buf_append(&c->out, data, len);
}

int conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int ret = buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
	return ret;
}
