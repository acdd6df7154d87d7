/* conn_deflate.h - RFC 4978 COMPRESS=DEFLATE: a conn transport that
 * compresses everything written and decompresses everything read (raw
 * deflate, a sync flush after each write), on top of whatever transport the
 * connection has (plain or TLS). */
#ifndef POSTANE_CONN_DEFLATE_H
#define POSTANE_CONN_DEFLATE_H

#include <stdbool.h>

struct conn;

/* Start compression in both directions now. Bytes already buffered in
 * c->in were sent before compression started and stay as they are.
 * Returns 0 or -1. */
int conn_deflate_start(struct conn *c);
bool conn_deflate_active(const struct conn *c);

#endif
