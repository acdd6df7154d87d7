/* tls.h - TLS for server connections with OpenSSL 3.
 *
 * A tls_server is an SSL_CTX made from a certificate chain and key: TLS 1.2
 * and 1.3 only, forward-secret AEAD cipher suites, no compression, no
 * renegotiation. tls_conn_start() switches a conn to TLS in place (for
 * STARTTLS and for implicit-TLS listeners); the handshake then runs inside
 * the conn's normal reads and writes, non-blocking. */
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

#endif
