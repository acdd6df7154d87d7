/* conn.h - a byte-stream connection that protocol code reads and writes
 * without knowing whether TLS is on.
 *
 * A conn owns its socket and two bounded buffers. conn_fill() reads what the
 * socket has into `in`; conn_flush() writes `out` until it is empty or the
 * socket would block. The transport (plain now, TLS later) is a table of
 * function pointers so that STARTTLS swaps it in place. */
#ifndef POSTANE_CONN_H
#define POSTANE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "core/buf.h"

struct conn;

struct conn_transport {
	const char *name;
	/* True when the transport may hold decrypted bytes that the socket no
	 * longer shows as readable (TLS): reads then go on until EAGAIN. */
	bool buffers_input;
	/* Like read(2)/write(2): bytes, 0 at EOF, -1 with errno (EAGAIN). A
	 * transport that needs the other direction to make progress (a TLS
	 * handshake or renegotiation) sets want_write/want_read on the conn. */
	ssize_t (*read)(struct conn *c, void *data, size_t len);
	ssize_t (*write)(struct conn *c, const void *data, size_t len);
	/* Push out bytes the transport still holds (a compressor's output).
	 * 1 done, 0 would block, -1 error. NULL: nothing is ever held. */
	int (*flush)(struct conn *c);
	void (*close)(struct conn *c);
};

struct conn {
	int fd;
	const struct conn_transport *transport;
	void *transport_ctx;
	struct buf in;
	struct buf out;
	bool eof;   /* peer closed its side */
	bool error; /* read or write failed; the connection is dead */
	bool want_write; /* the transport needs the socket writable to read */
	bool want_read;  /* the transport needs the socket readable to write */
	bool tls;        /* TLS is (or is being) negotiated on this connection */
	bool held;       /* the transport still holds output (flush returned 0) */
	struct sockaddr_storage peer;
	char peer_ip[64];    /* numeric address, no port */
	unsigned peer_port;
	char local_ip[64];
	unsigned local_port;
};

/* Transport-independent readiness: the events (LOOP_READ/LOOP_WRITE) the
 * owner must wait for, given whether it wants input and whether output is
 * pending. */
unsigned conn_wanted_events(const struct conn *c, bool want_input);

/* Take ownership of a connected, non-blocking socket. */
void conn_init(struct conn *c, int fd, size_t in_max, size_t out_max);
/* Close the socket and free the buffers. */
void conn_close(struct conn *c);
/* Read until the socket would block, EOF, or `in` holds `limit` bytes.
 * Returns the number of bytes added (0 possible); sets eof/error. */
size_t conn_fill(struct conn *c, size_t limit);
/* Write buffered output. Returns 1 when `out` is empty, 0 when the socket
 * would block, -1 on error. */
int conn_flush(struct conn *c);
/* Give back buffer memory while nothing is buffered: an idle connection
 * (IMAP IDLE) should cost almost nothing. */
void conn_trim(struct conn *c);
bool conn_has_pending_output(const struct conn *c);
/* Queue bytes for output; -1 if the output buffer limit is hit. */
int conn_write(struct conn *c, const void *data, size_t len);
int conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
