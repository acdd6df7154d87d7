/* tls_selfsigned.h - generate a self-signed certificate so that a fresh
 * installation can offer TLS before the administrator provides a real one. */
#ifndef POSTANE_TLS_SELFSIGNED_H
#define POSTANE_TLS_SELFSIGNED_H

/* Write an RSA-2048 key (mode 0600) and a certificate for `hostname`
 * (CN and subjectAltName DNS), valid for 10 years. Returns 0 or -1 with a
 * reason in *error_r. */
int tls_make_self_signed(const char *hostname, const char *cert_path, const char *key_path,
			 const char **error_r);

#endif
