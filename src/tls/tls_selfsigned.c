/* tls_selfsigned.c - self-signed certificate generation with OpenSSL 3. */
#include "tls/tls_selfsigned.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	int ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

int tls_make_self_signed(const char *hostname, const char *cert_path, const char *key_path,
			 const char **error_r)
{
	int ret = -1;
	X509 *cert = NULL;
	FILE *f = NULL;
	EVP_PKEY *key = EVP_RSA_gen(2048);
	if (key == NULL) {
		*error_r = "key generation failed";
		goto out;
	}
	cert = X509_new();
	if (cert == NULL)
		goto fail;
	X509_set_version(cert, 2);
	unsigned char serial[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, serial, sizeof(serial)) != (ssize_t)sizeof(serial)) {
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	close(fd);
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL) {
		BN_free(bn);
		goto fail;
	}
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3650L * 24 * 3600);
	X509_set_pubkey(cert, key);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)hostname, -1,
				   -1, 0);
	X509_set_issuer_name(cert, name);
	char san[300];
	snprintf(san, sizeof(san), "DNS:%s", hostname);
	if (add_ext(cert, NID_subject_alt_name, san) < 0 ||
	    add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(cert, NID_ext_key_usage, "serverAuth") < 0)
		goto fail;
	if (X509_sign(cert, key, EVP_sha256()) == 0)
		goto fail;

	int kfd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (kfd < 0 || (f = fdopen(kfd, "w")) == NULL) {
		if (kfd >= 0)
			close(kfd);
		*error_r = "cannot write the key file";
		goto out;
	}
	if (!PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) || fclose(f) != 0) {
		f = NULL;
		*error_r = "cannot write the key file";
		goto out;
	}
	f = fopen(cert_path, "w");
	if (f == NULL || !PEM_write_X509(f, cert) || fclose(f) != 0) {
		f = NULL;
		*error_r = "cannot write the certificate file";
		goto out;
	}
	f = NULL;
	ret = 0;
	goto out;
fail:
	*error_r = "certificate generation failed";
out:
	if (f != NULL)
		fclose(f);
	X509_free(cert);
	EVP_PKEY_free(key);
	return ret;
}
