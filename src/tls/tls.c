/* tls.c - OpenSSL server and client contexts and the TLS conn transport.
 * Protocol code never calls OpenSSL: it sees a conn whose bytes are
 * decrypted. */
#include "tls/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/conn.h"
#include "core/util.h"

struct tls_name_ctx {
	char *name;
	SSL_CTX *ctx;
};

struct tls_server {
	SSL_CTX *ctx; /* default certificate */
	struct tls_name_ctx *names;
	size_t nnames;
};

/* Mozilla's "intermediate" TLS 1.2 suites: ECDHE/DHE with AEAD only. TLS
 * 1.3 suites are OpenSSL's defaults (all AEAD). */
#define TLS12_CIPHERS                                                                              \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                               \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"

static const char *ssl_error(const char *what)
{
	static _Thread_local char buf[400];
	unsigned long e = ERR_get_error();
	char detail[256] = "";
	if (e != 0)
		ERR_error_string_n(e, detail, sizeof(detail));
	ERR_clear_error();
	snprintf(buf, sizeof(buf), "%s%s%s", what, detail[0] ? ": " : "", detail);
	return buf;
}

static SSL_CTX *make_ctx(const char *cert_path, const char *key_path, const char **error_r)
{
	static _Thread_local char err[600];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		*error_r = ssl_error("cannot create TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Idle connections (IMAP IDLE) should not keep 2 x 17 KB of buffers. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		*error_r = ssl_error("cannot set cipher list");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_dh_auto(ctx, 1);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		snprintf(err, sizeof(err), "%s", ssl_error(cert_path));
		*error_r = err;
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, sizeof(err), "%s", ssl_error(key_path));
		*error_r = err;
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static bool name_matches(const char *pattern, const char *host)
{
	if (strncmp(pattern, "*.", 2) == 0) {
		const char *dot = strchr(host, '.');
		return dot != NULL && dot != host && strcasecmp(dot + 1, pattern + 2) == 0;
	}
	return strcasecmp(pattern, host) == 0;
}

/* SNI: move the connection to the context of the name it asked for;
 * unknown names keep the default certificate. */
static int servername_cb(SSL *ssl, int *alert, void *arg)
{
	(void)alert;
	struct tls_server *srv = arg;
	const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (host == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	for (size_t i = 0; i < srv->nnames; i++) {
		if (name_matches(srv->names[i].name, host)) {
			SSL_set_SSL_CTX(ssl, srv->names[i].ctx);
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_NOACK;
}

int tls_server_new(const char *cert_path, const char *key_path, struct tls_server **server_r,
		   const char **error_r)
{
	*server_r = NULL;
	SSL_CTX *ctx = make_ctx(cert_path, key_path, error_r);
	if (ctx == NULL)
		return -1;
	struct tls_server *srv = xcalloc(1, sizeof(*srv));
	srv->ctx = ctx;
	SSL_CTX_set_tlsext_servername_callback(ctx, servername_cb);
	SSL_CTX_set_tlsext_servername_arg(ctx, srv);
	*server_r = srv;
	return 0;
}

int tls_server_add_name(struct tls_server *srv, const char *name, const char *cert_path,
			const char *key_path, const char **error_r)
{
	SSL_CTX *ctx = make_ctx(cert_path, key_path, error_r);
	if (ctx == NULL)
		return -1;
	srv->names = xrealloc(srv->names, (srv->nnames + 1) * sizeof(*srv->names));
	srv->names[srv->nnames].name = xstrdup(name);
	srv->names[srv->nnames].ctx = ctx;
	srv->nnames++;
	return 0;
}

void tls_server_free(struct tls_server **server)
{
	if (*server == NULL)
		return;
	for (size_t i = 0; i < (*server)->nnames; i++) {
		SSL_CTX_free((*server)->names[i].ctx);
		free((*server)->names[i].name);
	}
	free((*server)->names);
	SSL_CTX_free((*server)->ctx);
	free(*server);
	*server = NULL;
}

/* Map an SSL_read/SSL_write result to the read(2)/write(2) convention. */
static ssize_t tls_result(struct conn *c, SSL *ssl, int n, bool reading)
{
	if (n > 0)
		return n;
	int e = SSL_get_error(ssl, n);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		if (!reading)
			c->want_read = true;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		if (reading)
			c->want_write = true;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (errno == 0 || n == 0) {
			/* EOF without close_notify: treat as end of stream. */
			return 0;
		}
		return -1;
	default:
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

static ssize_t tls_read(struct conn *c, void *data, size_t len)
{
	SSL *ssl = c->transport_ctx;
	ERR_clear_error();
	errno = 0;
	int n = SSL_read(ssl, data, len > INT32_MAX ? INT32_MAX : (int)len);
	return tls_result(c, ssl, n, true);
}

static ssize_t tls_write(struct conn *c, const void *data, size_t len)
{
	SSL *ssl = c->transport_ctx;
	ERR_clear_error();
	errno = 0;
	int n = SSL_write(ssl, data, len > INT32_MAX ? INT32_MAX : (int)len);
	return tls_result(c, ssl, n, false);
}

static void tls_close(struct conn *c)
{
	SSL *ssl = c->transport_ctx;
	if (ssl == NULL)
		return;
	/* Best effort close_notify; never block on it. */
	if (SSL_is_init_finished(ssl))
		SSL_shutdown(ssl);
	SSL_free(ssl);
	c->transport_ctx = NULL;
}

static const struct conn_transport tls_transport = {
	.name = "tls",
	.buffers_input = true,
	.read = tls_read,
	.write = tls_write,
	.close = tls_close,
};

int tls_conn_start(struct conn *c, struct tls_server *server)
{
	SSL *ssl = SSL_new(server->ctx);
	if (ssl == NULL || SSL_set_fd(ssl, c->fd) != 1) {
		SSL_free(ssl);
		ERR_clear_error();
		return -1;
	}
	SSL_set_accept_state(ssl);
	/* Plaintext that arrived after the STARTTLS command was pipelined by
	 * someone before encryption: it must never be executed. */
	buf_reset(&c->in);
	c->transport->close(c);
	c->transport = &tls_transport;
	c->transport_ctx = ssl;
	c->tls = true;
	return 0;
}

bool tls_conn_established(const struct conn *c)
{
	return c->transport == &tls_transport && SSL_is_init_finished(c->transport_ctx);
}

const char *tls_conn_describe(const struct conn *c, char *out, size_t outlen)
{
	if (c->transport != &tls_transport) {
		snprintf(out, outlen, "%s", "");
		return out;
	}
	SSL *ssl = c->transport_ctx;
	snprintf(out, outlen, "%s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
	return out;
}

/* ----- client side ----- */

struct tls_client {
	SSL_CTX *ctx;
};

int tls_client_new(const char *ca_file, struct tls_client **client_r, const char **error_r)
{
	static _Thread_local char err[600];
	*client_r = NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		*error_r = ssl_error("cannot create TLS client context");
		return -1;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* OpenSSL's default TLS 1.2 suites, not the server's AEAD-only list:
	 * remote MTAs are what they are, and opportunistic TLS with an older
	 * suite still beats plaintext. */
	int ok = ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
				 : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		snprintf(err, sizeof(err), "%s",
			 ssl_error(ca_file != NULL ? ca_file : "cannot load the system trust store"));
		*error_r = err;
		SSL_CTX_free(ctx);
		return -1;
	}
	struct tls_client *cl = xcalloc(1, sizeof(*cl));
	cl->ctx = ctx;
	*client_r = cl;
	return 0;
}

void tls_client_free(struct tls_client **client)
{
	if (*client == NULL)
		return;
	SSL_CTX_free((*client)->ctx);
	free(*client);
	*client = NULL;
}

static bool is_ip_address(const char *host)
{
	unsigned char addr[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

int tls_conn_start_client(struct conn *c, struct tls_client *client, const char *host,
			  bool verify)
{
	SSL *ssl = SSL_new(client->ctx);
	if (ssl == NULL || SSL_set_fd(ssl, c->fd) != 1) {
		SSL_free(ssl);
		ERR_clear_error();
		return -1;
	}
	SSL_set_connect_state(ssl);
	if (host != NULL && host[0] != '\0') {
		int ok;
		if (is_ip_address(host)) {
			ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
		} else {
			SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			ok = SSL_set_tlsext_host_name(ssl, host) == 1 && SSL_set1_host(ssl, host) == 1;
		}
		if (ok != 1) {
			SSL_free(ssl);
			ERR_clear_error();
			return -1;
		}
	}
	/* Without `verify` OpenSSL still checks the chain and the name and
	 * keeps the result for tls_conn_peer_verified(). */
	SSL_set_verify(ssl, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	/* Whatever the server sent after its STARTTLS reply came before
	 * encryption and must not be read as part of the TLS session. */
	buf_reset(&c->in);
	c->transport->close(c);
	c->transport = &tls_transport;
	c->transport_ctx = ssl;
	c->tls = true;
	return 0;
}

int tls_conn_handshake(struct conn *c, const char **error_r)
{
	static _Thread_local char err[600];
	*error_r = NULL;
	if (c->transport != &tls_transport) {
		*error_r = "not a TLS connection";
		return -1;
	}
	SSL *ssl = c->transport_ctx;
	c->want_read = false;
	c->want_write = false;
	ERR_clear_error();
	errno = 0;
	int r = SSL_do_handshake(ssl);
	if (r == 1)
		return 1;
	int e = SSL_get_error(ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		c->want_read = true;
		return 0;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		c->want_write = true;
		return 0;
	}
	/* X509_V_OK until a certificate was checked (and failed). */
	long vr = SSL_get_verify_result(ssl);
	if (vr != X509_V_OK) {
		ERR_clear_error();
		snprintf(err, sizeof(err), "certificate verification failed: %s",
			 X509_verify_cert_error_string(vr));
	} else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		snprintf(err, sizeof(err), "TLS handshake failed: %s",
			 errno != 0 ? strerror(errno) : "connection closed by peer");
	} else {
		snprintf(err, sizeof(err), "%s", ssl_error("TLS handshake failed"));
	}
	ERR_clear_error();
	c->error = true;
	*error_r = err;
	return -1;
}

bool tls_conn_peer_verified(const struct conn *c, const char **error_r)
{
	if (c->transport != &tls_transport) {
		*error_r = "not a TLS connection";
		return false;
	}
	SSL *ssl = c->transport_ctx;
	if (!SSL_is_init_finished(ssl)) {
		*error_r = "TLS handshake not complete";
		return false;
	}
	if (SSL_get0_peer_certificate(ssl) == NULL) {
		*error_r = "no peer certificate";
		return false;
	}
	long vr = SSL_get_verify_result(ssl);
	if (vr != X509_V_OK) {
		*error_r = X509_verify_cert_error_string(vr);
		return false;
	}
	*error_r = NULL;
	return true;
}
