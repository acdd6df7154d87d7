/* tls.h - TLS for server and client connections with OpenSSL 3.
 *
 * A tls_server is an SSL_CTX made from a certificate chain and key: TLS 1.2
 * and 1.3 only, forward-secret AEAD cipher suites, no compression, no
 * renegotiation. tls_conn_start() switches a conn to TLS in place (for
 * STARTTLS and for implicit-TLS listeners); the handshake then runs inside
 * the conn's normal reads and writes, non-blocking.
 *
 * A tls_client is the outbound side (the SMTP client): TLS 1.2 and 1.3,
 * trust anchors from a CA file or the system store. The client drives its
 * handshake explicitly with tls_conn_handshake() so that it can look at
 * the peer's certificate before it sends anything. */
#ifndef POSTANE_TLS_H
#define POSTANE_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct conn;
struct tls_server;

/* Returns 0, or -1 with a reason in *error_r (static storage). */
int tls_server_new(const char *cert_path, const char *key_path, struct tls_server **server_r,
		   const char **error_r);
/* Add a certificate for clients that ask for `name` by SNI ("*.example.org"
 * matches one level below example.org). Returns 0 or -1 with *error_r. */
int tls_server_add_name(struct tls_server *server, const char *name, const char *cert_path,
			const char *key_path, const char **error_r);
/* Accepts NULL; sets *server to NULL. Connections already using it keep
 * working (OpenSSL reference-counts the context). */
void tls_server_free(struct tls_server **server);

/* Switch `c` to TLS as the server side. Any bytes already buffered in
 * c->in are discarded first: they arrived before the handshake and must not
 * be trusted (the STARTTLS injection class). Returns 0 or -1. */
int tls_conn_start(struct conn *c, struct tls_server *server);
/* True once the handshake has completed on `c`. */
bool tls_conn_established(const struct conn *c);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" for the log, or "" without TLS. */
const char *tls_conn_describe(const struct conn *c, char *out, size_t outlen);

/* ----- client side ----- */

struct tls_client;

/* A client context trusting the certificates in `ca_file` (PEM), or the
 * system's trust store when ca_file is NULL. Returns 0, or -1 with a reason
 * in *error_r (static storage). */
int tls_client_new(const char *ca_file, struct tls_client **client_r, const char **error_r);
/* Accepts NULL; sets *client to NULL. Connections using it keep working. */
void tls_client_free(struct tls_client **client);

/* Switch `c` to TLS as the client side, for server name `host` (sent as
 * SNI unless it is an IP address, and the name the certificate is checked
 * against). Bytes already buffered in c->in are discarded: a server must
 * not send anything between its STARTTLS reply and the handshake. With
 * `verify`, a certificate that does not verify (chain or name) fails the
 * handshake; without, the handshake goes on and tls_conn_peer_verified()
 * tells the outcome afterwards. Returns 0 or -1. */
int tls_conn_start_client(struct conn *c, struct tls_client *client, const char *host,
			  bool verify);
/* Advance the handshake on a conn started with tls_conn_start_client().
 * Returns 1 when it is complete, 0 when it must wait (c->want_read or
 * c->want_write tells for what), -1 when it failed, with a reason in
 * *error_r (thread-local storage, valid until the next call). */
int tls_conn_handshake(struct conn *c, const char **error_r);
/* After the handshake: true when the peer's certificate chain verified
 * against the trust anchors and matched the host name; otherwise false
 * with a static reason in *error_r ("self-signed certificate",
 * "hostname mismatch", "no peer certificate", "not a TLS connection"). */
bool tls_conn_peer_verified(const struct conn *c, const char **error_r);

#endif
