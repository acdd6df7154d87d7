/* test_dkim_sign.c - unit tests for the DKIM keyring and signer
 * (dkim_sign.c), checked by an independent verifier written here with
 * OpenSSL over the canonicalisation functions.
 *
 * The verifier is first proven on known answers: the RFC 8463 A.3
 * signatures (embedded) and, when the conformance data is present, real
 * signed messages (mail-auth, dkimpy, Mail::DKIM corpus). Then it checks our
 * signatures: keys made by dkim_keygen() in a temporary directory, the RFC
 * 8463 keys themselves, folding, oversigning, tampering.
 *
 * DKIM_EXPORT_DIR=DIR: test_export writes signed messages (NAME.eml) and
 * their DNS records (dns.txt: "NAME TXT-VALUE" lines) to DIR, for
 * tests/e2e/test_dkim_sign.py to verify with dkimpy and OpenDKIM. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "auth/base64.h"
#include "core/buf.h"
#include "dkim/dkim_canon.h"
#include "dkim/dkim_sign.h"
#include "dkim_fixture.h"

/* ----- RFC 8463 Appendix A ----- */

static const char rfc_msg[] =
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n"
	"Hi.\r\n"
	"\r\n"
	"We lost the game.  Are you hungry yet?\r\n"
	"\r\n"
	"Joe.\r\n";

/* A.3: the two signatures as published. */
static const char rfc_sigs[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	" subject : date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
	" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
	" date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
	" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
	" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n";

/* A.2: the DNS records. */
static const char rfc_dns[] =
	"brisbane._domainkey.football.example.com v=DKIM1; k=ed25519; "
	"p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
	"test._domainkey.football.example.com v=DKIM1; k=rsa; "
	"p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/"
	"J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
	"Ip3G+2kryOTIKT+l/K4w3QIDAQAB\n";

/* A.1: the private keys (the Ed25519 seed is RFC 8032 7.1 TEST 1). */
static const char rfc_ed25519_seed[] = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
static const char rfc_rsa_pem[] =
	"-----BEGIN RSA PRIVATE KEY-----\n"
	"MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi\n"
	"Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM\n"
	"KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB\n"
	"AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm\n"
	"6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe\n"
	"zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy\n"
	"6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc\n"
	"uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy\n"
	"WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd\n"
	"WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a\n"
	"licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst\n"
	"o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe\n"
	"uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL\n"
	"-----END RSA PRIVATE KEY-----\n";

/* ----- the independent verifier ----- */

enum { V_PASS = 1, V_FAIL = 0, V_ERROR = -1 };

static EVP_PKEY *record_key(const char *record, bool *ed25519_r, char *why, size_t whylen)
{
	struct buf k, p;
	buf_init(&k, 0);
	buf_init(&p, 0);
	size_t rlen = strlen(record);
	EVP_PKEY *pkey = NULL;
	*ed25519_r = tag_value(record, rlen, "k", &k) && strcmp(k.data, "ed25519") == 0;
	if (!tag_value(record, rlen, "p", &p) || p.len == 0) {
		snprintf(why, whylen, "no p= in key record");
		goto out;
	}
	unsigned char der[4096];
	long n = base64_decode(p.data, p.len, der);
	if (n < 0) {
		snprintf(why, whylen, "bad base64 in p=");
		goto out;
	}
	if (*ed25519_r) {
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, (size_t)n);
	} else {
		const unsigned char *q = der;
		pkey = d2i_PUBKEY(NULL, &q, n);
		if (pkey == NULL) { /* PKCS#1 RSAPublicKey */
			q = der;
			pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, n);
		}
	}
	if (pkey == NULL)
		snprintf(why, whylen, "unusable public key");
out:
	buf_free(&k);
	buf_free(&p);
	return pkey;
}

/* Verify the idx-th DKIM-Signature field (from the top) of msg. */
static int verify_sig(const char *msg, size_t len, size_t idx, const struct fake_dns *dns,
		      char *why, size_t whylen)
{
	struct dkim_headers h;
	assert_int_equal(dkim_headers_parse(&h, msg, len, 0), 0);
	int rc = V_ERROR;
	const struct dkim_hfield *sig = NULL;
	for (size_t i = 0, seen = 0; i < h.n; i++) {
		if (h.v[i].name_len == 14 && strncasecmp(h.v[i].name, "DKIM-Signature", 14) == 0 &&
		    seen++ == idx) {
			sig = &h.v[i];
			break;
		}
	}
	struct buf a, c, d, s, hl, bh, b, l, input, body;
	buf_init(&a, 0);
	buf_init(&c, 0);
	buf_init(&d, 0);
	buf_init(&s, 0);
	buf_init(&hl, 0);
	buf_init(&bh, 0);
	buf_init(&b, 0);
	buf_init(&l, 0);
	buf_init(&input, 0);
	buf_init(&body, 0);
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *ctx = NULL;
	if (sig == NULL) {
		snprintf(why, whylen, "no signature %zu", idx);
		goto out;
	}
	const char *list = msg + sig->start + 15;
	size_t llen = sig->raw_len - 15;
	if (!tag_value(list, llen, "a", &a) || !tag_value(list, llen, "d", &d) ||
	    !tag_value(list, llen, "s", &s) || !tag_value(list, llen, "h", &hl) ||
	    !tag_value(list, llen, "bh", &bh) || !tag_value(list, llen, "b", &b)) {
		snprintf(why, whylen, "a required tag is missing");
		goto out;
	}
	enum dkim_canon hc = DKIM_CANON_SIMPLE, bc = DKIM_CANON_SIMPLE;
	if (tag_value(list, llen, "c", &c) && dkim_canon_parse(c.data, c.len, &hc, &bc) < 0) {
		snprintf(why, whylen, "unknown c=");
		goto out;
	}
	bool is_ed = strcmp(a.data, "ed25519-sha256") == 0;
	const EVP_MD *md = strcmp(a.data, "rsa-sha1") == 0 ? EVP_sha1() : EVP_sha256();
	if (!is_ed && strcmp(a.data, "rsa-sha256") != 0 && strcmp(a.data, "rsa-sha1") != 0) {
		snprintf(why, whylen, "unknown a=");
		goto out;
	}
	char name[600];
	snprintf(name, sizeof(name), "%s._domainkey.%s", s.data, d.data);
	const char *record = fake_dns_get(dns, name);
	if (record == NULL) {
		snprintf(why, whylen, "no key record %s", name);
		goto out;
	}
	bool key_ed;
	pkey = record_key(record, &key_ed, why, whylen);
	if (pkey == NULL)
		goto out;
	if (key_ed != is_ed) {
		snprintf(why, whylen, "key type does not match a=");
		goto out;
	}
	/* Body hash. */
	assert_int_equal(dkim_canon_body(bc, msg + h.body_start, len - h.body_start, &body), 0);
	size_t blen = body.len;
	if (tag_value(list, llen, "l", &l)) {
		unsigned long long lim = strtoull(l.data, NULL, 10);
		if (lim < blen)
			blen = (size_t)lim;
	}
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	char got[128];
	assert_int_equal(EVP_Digest(body.data != NULL ? body.data : "", blen, digest, &dlen, md, NULL),
			 1);
	base64_encode(digest, dlen, got);
	if (strcmp(got, bh.data) != 0) {
		snprintf(why, whylen, "body hash mismatch");
		rc = V_FAIL;
		goto out;
	}
	/* Header hash input and the signature. */
	assert_int_equal(dkim_canon_signed_headers(&h, hc, hl.data, hl.len, &input), 0);
	assert_int_equal(dkim_canon_sig_header(hc, msg + sig->start, sig->raw_len, &input), 0);
	unsigned char sigbytes[1024];
	long siglen = base64_decode(b.data, b.len, sigbytes);
	if (siglen <= 0) {
		snprintf(why, whylen, "bad base64 in b=");
		goto out;
	}
	const unsigned char *data = (const unsigned char *)input.data;
	size_t datalen = input.len;
	if (is_ed) {
		assert_int_equal(EVP_Digest(data, datalen, digest, &dlen, EVP_sha256(), NULL), 1);
		data = digest;
		datalen = dlen;
		md = NULL;
	}
	ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey), 1);
	if (EVP_DigestVerify(ctx, sigbytes, (size_t)siglen, data, datalen) == 1) {
		rc = V_PASS;
	} else {
		snprintf(why, whylen, "signature mismatch");
		rc = V_FAIL;
	}
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	buf_free(&a);
	buf_free(&c);
	buf_free(&d);
	buf_free(&s);
	buf_free(&hl);
	buf_free(&bh);
	buf_free(&b);
	buf_free(&l);
	buf_free(&input);
	buf_free(&body);
	dkim_headers_free(&h);
	return rc;
}

static void expect_verify(const char *msg, size_t len, size_t idx, const struct fake_dns *dns,
			  int want, const char *what)
{
	char why[256] = "";
	int got = verify_sig(msg, len, idx, dns, why, sizeof(why));
	if (got != want)
		fail_msg("%s: signature %zu: got %d, want %d (%s)", what, idx, got, want, why);
}

/* ----- helpers ----- */

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void make_tmpdir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/postane-dkim-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void write_pem(const char *path, EVP_PKEY *pkey)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0600), 0);
}

/* Keyring dir with the RFC 8463 keys: DIR/football.example.com/{brisbane.ed25519,test.rsa}.key */
static void write_rfc_keys(const char *dir)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/football.example.com", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	unsigned char seed[64];
	assert_int_equal(base64_decode(rfc_ed25519_seed, strlen(rfc_ed25519_seed), seed), 32);
	EVP_PKEY *ed = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	assert_non_null(ed);
	snprintf(path, sizeof(path), "%s/football.example.com/brisbane.ed25519.key", dir);
	write_pem(path, ed);
	EVP_PKEY_free(ed);
	snprintf(path, sizeof(path), "%s/football.example.com/test.rsa.key", dir);
	write_file(path, rfc_rsa_pem, strlen(rfc_rsa_pem), 0600);
}

struct key_list {
	char names[8][300];
	char records[8][1024];
	size_t n;
	const struct dkim_keyring *k;
};

static void collect_key(void *ctx, const struct dkim_key_info *key)
{
	struct key_list *l = ctx;
	assert_true(l->n < 8);
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s/%s/%s/%u", key->domain, key->selector,
		 key->algorithm, key->bits);
	struct buf rec;
	buf_init(&rec, 0);
	char err[256];
	assert_int_equal(dkim_public_record(l->k, key->domain, key->selector, key->algorithm, &rec,
					    err, sizeof(err)),
			 0);
	snprintf(l->records[l->n], sizeof(l->records[0]), "%s", rec.data);
	buf_free(&rec);
	l->n++;
}

/* DNS table with every key of the keyring. */
static void keyring_dns(const struct dkim_keyring *k, struct fake_dns *dns)
{
	struct key_list l = {.n = 0, .k = k};
	dkim_keyring_foreach(k, NULL, collect_key, &l);
	for (size_t i = 0; i < l.n; i++) {
		char dom[256], sel[256], name[600];
		assert_int_equal(sscanf(l.names[i], "%255[^/]/%255[^/]/", dom, sel), 2);
		snprintf(name, sizeof(name), "%s._domainkey.%s", sel, dom);
		fake_dns_add(dns, name, strlen(name), l.records[i], strlen(l.records[i]));
	}
}

/* Sign msg for domain; returns the signed message (signatures + msg). */
static int sign_msg(const struct dkim_keyring *k, const char *domain, const char *msg, size_t len,
		    time_t now, struct buf *signed_out)
{
	char err[256] = "";
	buf_reset(signed_out);
	int n = dkim_keyring_sign(k, domain, msg, len, now, signed_out, err, sizeof(err));
	if (n < 0)
		fail_msg("dkim_keyring_sign: %s", err);
	buf_append(signed_out, msg, len);
	return n;
}

/* Every line of the signature fields at most 78 columns, continuation
 * lines start with a blank, CRLF only. */
static void check_folding(const char *sigs, size_t len)
{
	size_t pos = 0;
	while (pos < len) {
		const char *crlf = memmem(sigs + pos, len - pos, "\r\n", 2);
		assert_non_null(crlf);
		size_t line = (size_t)(crlf - (sigs + pos));
		if (line > 78)
			fail_msg("line of %zu columns: %.*s", line, (int)line, sigs + pos);
		assert_null(memchr(sigs + pos, '\n', line));
		bool first = strncmp(sigs + pos, "DKIM-Signature: ", 16) == 0;
		assert_true(first || sigs[pos] == ' ');
		pos += line + 2;
	}
}

/* ----- tests: the verifier on known answers ----- */

static void test_verifier_rfc8463(void **state)
{
	(void)state;
	struct fake_dns dns = {.n = 0};
	fake_dns_parse(&dns, rfc_dns, strlen(rfc_dns));
	struct buf m;
	buf_init(&m, 0);
	buf_append_str(&m, rfc_sigs);
	buf_append_str(&m, rfc_msg);
	expect_verify(m.data, m.len, 0, &dns, V_PASS, "RFC 8463 ed25519");
	expect_verify(m.data, m.len, 1, &dns, V_PASS, "RFC 8463 rsa");
	/* Tampered: header, body; and whitespace the relaxed forms ignore. */
	char *p = strstr(m.data, "dinner");
	p[0] = 'D';
	expect_verify(m.data, m.len, 0, &dns, V_FAIL, "subject changed");
	expect_verify(m.data, m.len, 1, &dns, V_FAIL, "subject changed");
	p[0] = 'd';
	p = strstr(m.data, "hungry");
	p[0] = 'H';
	expect_verify(m.data, m.len, 0, &dns, V_FAIL, "body changed");
	p[0] = 'h';
	buf_reset(&m);
	buf_append_str(&m, rfc_sigs);
	buf_append_str(&m, "From:   Joe SixPack\r\n\t<joe@football.example.com>   \r\n");
	buf_append_str(&m, strstr(rfc_msg, "To:"));
	buf_append_str(&m, "\r\n\r\n");
	expect_verify(m.data, m.len, 0, &dns, V_PASS, "refolded From, extra empty lines");
	expect_verify(m.data, m.len, 1, &dns, V_PASS, "refolded From, extra empty lines");
	/* An added From: above the signed one breaks it (h= lists from twice). */
	buf_reset(&m);
	buf_append_str(&m, rfc_sigs);
	buf_append_str(&m, "From: evil@example.net\r\n");
	buf_append_str(&m, rfc_msg);
	expect_verify(m.data, m.len, 0, &dns, V_FAIL, "added From");
	buf_free(&m);
	fake_dns_free(&dns);
}

static void verify_file_sigs(const char *path, const char *msg, size_t len,
			     const struct fake_dns *dns, const int *want, size_t nwant)
{
	for (size_t i = 0; i < nwant; i++) {
		if (want[i] == 2)
			continue; /* not checked */
		expect_verify(msg, len, i, dns, want[i], path);
	}
}

static void test_verifier_conformance(void **state)
{
	(void)state;
	const char *dir = dkim_conformance_dir();
	if (dir == NULL)
		skip();
	char path[4096];
	/* mail-auth: RFC 8463, a PKCS#1 key, four real messages (005 has
	 * expired by x=, which this verifier does not check). */
	for (int i = 1; i <= 6; i++) {
		struct fake_dns dns = {.n = 0};
		struct buf msg;
		buf_init(&msg, 0);
		snprintf(path, sizeof(path), "%s/mail-auth/%03d.txt", dir, i);
		assert_int_equal(load_mail_auth(path, &dns, &msg), 0);
		static const int one[] = {V_PASS}, two[] = {V_PASS, V_PASS};
		verify_file_sigs(path, msg.data, msg.len, &dns, i == 1 ? two : one, i == 1 ? 2 : 1);
		fake_dns_free(&dns);
		buf_free(&msg);
	}
	/* dkimpy: the same message signed simple/simple; Ed25519 test key. */
	struct fake_dns dns = {.n = 0};
	fake_dns_parse(&dns, rfc_dns, strlen(rfc_dns));
	/* Exim's Ed25519 test key (eximtest.dns). */
	static const char ed_rec[] = "sed._domainkey.test.ex v=DKIM1; k=ed25519; "
				     "p=sPs07Vu29FpHT/80UXUcYHFOHifD4o2ZlP2+XUh9g6E=";
	fake_dns_parse(&dns, ed_rec, strlen(ed_rec));
	static const struct {
		const char *name;
		int want[2];
		size_t n;
	} dkimpy[] = {
		{"rfc6376.signed.msg", {V_PASS, V_PASS}, 2},
		{"rfc6376.signed.rsa.msg", {V_PASS}, 1},
		{"ed25519test2.msg", {V_PASS}, 1},
	};
	for (size_t i = 0; i < sizeof(dkimpy) / sizeof(dkimpy[0]); i++) {
		snprintf(path, sizeof(path), "%s/dkimpy-1.1.4/%s", dir, dkimpy[i].name);
		size_t len = 0;
		char *raw = read_whole(path, &len);
		assert_non_null(raw);
		struct buf msg;
		buf_init(&msg, 0);
		to_crlf(raw, len, &msg);
		verify_file_sigs(path, msg.data, msg.len, &dns, dkimpy[i].want, dkimpy[i].n);
		buf_free(&msg);
		free(raw);
	}
	fake_dns_free(&dns);

	/* Mail::DKIM corpus, its FAKE_DNS.dat, results per EXPECTED-RESULTS.txt
	 * for RFC 6376 signatures (2 = not checked here). */
	snprintf(path, sizeof(path), "%s/mail-dkim-corpus/FAKE_DNS.dat", dir);
	size_t dlen = 0;
	char *dnsdata = read_whole(path, &dlen);
	assert_non_null(dnsdata);
	fake_dns_parse(&dns, dnsdata, dlen);
	free(dnsdata);
	static const struct {
		const char *name;
		int want[4];
		size_t n;
	} corpus[] = {
		{"mine_ietf05_1.txt", {V_PASS}, 1},
		{"good_rfc4871_3.txt", {V_PASS}, 1},
		{"good_rfc4871_4.txt", {V_PASS}, 1},
		{"good_qp_1.txt", {V_PASS}, 1},
		{"no_body_1.txt", {V_PASS}, 1},
		{"goodkey_1.txt", {V_PASS}, 1},
		{"goodkey_ed25519.txt", {V_PASS}, 1},
		{"multiple_2.txt", {2, V_PASS, V_FAIL}, 3},
		{"bad_ietf01_1.txt", {V_FAIL}, 1},
		{"bad_ietf01_2.txt", {V_FAIL}, 1},
		{"bad_ietf01_3.txt", {V_FAIL}, 1},
		{"bad_1.txt", {V_FAIL}, 1},
	};
	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		snprintf(path, sizeof(path), "%s/mail-dkim-corpus/corpus/%s", dir, corpus[i].name);
		size_t len = 0;
		char *raw = read_whole(path, &len);
		assert_non_null(raw);
		verify_file_sigs(path, raw, len, &dns, corpus[i].want, corpus[i].n);
		free(raw);
	}
	fake_dns_free(&dns);
}

/* ----- tests: keys ----- */

static void test_keygen(void **state)
{
	(void)state;
	char dir[64], keydir[128], err[256];
	make_tmpdir(dir, sizeof(dir));
	snprintf(keydir, sizeof(keydir), "%s/dkim", dir);
	struct buf rsa_rec, ed_rec;
	buf_init(&rsa_rec, 0);
	buf_init(&ed_rec, 0);
	assert_int_equal(dkim_keygen(keydir, "Example.ORG", "Sel", "rsa", &rsa_rec, err, sizeof(err)),
			 0);
	assert_int_equal(dkim_keygen(keydir, "example.org", "sel", "ed25519", &ed_rec, err,
				     sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "choose another selector"));
	assert_int_equal(ed_rec.len, 0);
	assert_int_equal(dkim_keygen(keydir, "example.org", "sel-ed", "ed25519", &ed_rec, err,
				     sizeof(err)),
			 0);
	assert_true(strncmp(rsa_rec.data, "v=DKIM1; k=rsa; p=MIIBIjAN", 26) == 0);
	assert_true(strncmp(ed_rec.data, "v=DKIM1; k=ed25519; p=", 22) == 0);
	assert_int_equal(ed_rec.len, 22 + 44);

	/* Modes: directories 0700, keys 0600. */
	char path[256];
	struct stat st;
	assert_int_equal(stat(keydir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/example.org", keydir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/example.org/sel.rsa.key", keydir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/example.org/sel-ed.ed25519.key", keydir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* Never replaces a key; no temporary files left behind. */
	struct buf again;
	buf_init(&again, 0);
	assert_int_equal(dkim_keygen(keydir, "example.org", "sel", "rsa", &again, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "exists"));
	assert_int_equal(again.len, 0);
	snprintf(path, sizeof(path), "%s/example.org", keydir);
	DIR *d = opendir(path);
	assert_non_null(d);
	struct dirent *e;
	size_t files = 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			files++;
		else
			assert_true(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0);
	closedir(d);
	assert_int_equal(files, 2);

	/* Bad arguments. */
	assert_int_equal(dkim_keygen(keydir, "example.org", "sel", "dsa", &again, err, sizeof(err)),
			 -1);
	assert_int_equal(dkim_keygen(keydir, "nodot", "sel", "rsa", &again, err, sizeof(err)), -1);
	assert_int_equal(dkim_keygen(keydir, "../etc", "sel", "rsa", &again, err, sizeof(err)), -1);
	assert_int_equal(dkim_keygen(keydir, "example.org", "a/b", "rsa", &again, err, sizeof(err)),
			 -1);
	assert_int_equal(dkim_keygen(keydir, "example.org", "-x", "rsa", &again, err, sizeof(err)),
			 -1);
	assert_int_equal(dkim_keygen(keydir, "example.org", "", "rsa", &again, err, sizeof(err)), -1);
	assert_false(dkim_selector_valid("a..b"));
	assert_true(dkim_selector_valid("2026-01.mail"));

	/* The keyring sees both, ed25519 first, with the same records. */
	struct dkim_keyring *k = dkim_keyring_load(keydir, err, sizeof(err));
	if (k == NULL)
		fail_msg("load: %s", err);
	assert_true(dkim_keyring_has(k, "example.org"));
	assert_true(dkim_keyring_has(k, "EXAMPLE.org"));
	assert_false(dkim_keyring_has(k, "sub.example.org"));
	assert_false(dkim_keyring_has(NULL, "example.org"));
	struct key_list l = {.n = 0, .k = k};
	assert_int_equal(dkim_keyring_foreach(k, "example.org", collect_key, &l), 2);
	assert_string_equal(l.names[0], "example.org/sel-ed/ed25519/256");
	assert_string_equal(l.names[1], "example.org/sel/rsa/2048");
	assert_string_equal(l.records[0], ed_rec.data);
	assert_string_equal(l.records[1], rsa_rec.data);
	assert_int_equal(dkim_keyring_foreach(k, "other.org", collect_key, &l), 0);
	assert_int_equal(dkim_public_record(k, "example.org", "nosuch", "rsa", &again, err,
					    sizeof(err)),
			 -1);
	dkim_keyring_free(&k);
	assert_null(k);
	dkim_keyring_free(&k);
	dkim_keyring_free(NULL);

	buf_free(&rsa_rec);
	buf_free(&ed_rec);
	buf_free(&again);
	rm_tree(dir);
}

static void test_keyring_load_errors(void **state)
{
	(void)state;
	char dir[64], err[256], path[256];
	make_tmpdir(dir, sizeof(dir));
	/* Missing directory: an empty keyring. */
	snprintf(path, sizeof(path), "%s/none", dir);
	struct dkim_keyring *k = dkim_keyring_load(path, err, sizeof(err));
	assert_non_null(k);
	assert_false(dkim_keyring_has(k, "example.org"));
	assert_int_equal(dkim_keyring_foreach(k, NULL, NULL, NULL), 0);
	struct buf out;
	buf_init(&out, 0);
	assert_int_equal(dkim_keyring_sign(k, "example.org", rfc_msg, sizeof(rfc_msg) - 1, 0, &out,
					   err, sizeof(err)),
			 0);
	assert_int_equal(out.len, 0);
	dkim_keyring_free(&k);

	/* Unrelated files and names are ignored. */
	snprintf(path, sizeof(path), "%s/example.org", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/example.org/sel.txt", dir);
	write_file(path, "x", 1, 0644);
	snprintf(path, sizeof(path), "%s/example.org/sel.dsa.key", dir);
	write_file(path, "x", 1, 0600);
	snprintf(path, sizeof(path), "%s/README", dir);
	write_file(path, "x", 1, 0644);
	snprintf(path, sizeof(path), "%s/not_a_domain", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	k = dkim_keyring_load(dir, err, sizeof(err));
	assert_non_null(k);
	assert_false(dkim_keyring_has(k, "example.org"));
	dkim_keyring_free(&k);

	/* Garbage in a key file. */
	snprintf(path, sizeof(path), "%s/example.org/sel.rsa.key", dir);
	write_file(path, "not a key\n", 10, 0600);
	assert_null(dkim_keyring_load(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "sel.rsa.key"));
	unlink(path);

	/* An Ed25519 key in an .rsa.key file. */
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(ed);
	write_pem(path, ed);
	assert_null(dkim_keyring_load(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "not an RSA key"));
	unlink(path);

	/* An RSA key under 1024 bits. */
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)768);
	assert_non_null(small);
	write_pem(path, small);
	assert_null(dkim_keyring_load(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "768 bits"));
	unlink(path);
	EVP_PKEY_free(small);

	/* A world-readable key. */
	snprintf(path, sizeof(path), "%s/example.org/sel.ed25519.key", dir);
	write_pem(path, ed);
	assert_int_equal(chmod(path, 0644), 0);
	assert_null(dkim_keyring_load(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "others"));
	assert_int_equal(chmod(path, 0640), 0);
	k = dkim_keyring_load(dir, err, sizeof(err));
	assert_non_null(k);
	assert_true(dkim_keyring_has(k, "example.org"));
	dkim_keyring_free(&k);
	EVP_PKEY_free(ed);

	/* Two algorithms under one selector: one of them could not verify. */
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(rsa);
	snprintf(path, sizeof(path), "%s/example.org/sel.rsa.key", dir);
	write_pem(path, rsa);
	EVP_PKEY_free(rsa);
	assert_null(dkim_keyring_load(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "one selector"));
	unlink(path);

	/* A FIFO named like a key does not hang the loader. */
	snprintf(path, sizeof(path), "%s/example.org/fifo.rsa.key", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_null(dkim_keyring_load(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "regular file"));
	unlink(path);

	/* An encrypted key is refused without asking for a passphrase. */
	EVP_PKEY *enc = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	snprintf(path, sizeof(path), "%s/example.org/enc.ed25519.key", dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, enc, EVP_aes_128_cbc(), (unsigned char *)"pw", 2,
					      NULL, NULL),
			 1);
	fclose(f);
	chmod(path, 0600);
	assert_null(dkim_keyring_load(dir, err, sizeof(err)));
	EVP_PKEY_free(enc);

	/* Unreadable directory (not as root, who reads anyway). */
	buf_free(&out);
	rm_tree(dir);
}

/* ----- tests: signing ----- */

static void test_sign_rfc_keys(void **state)
{
	(void)state;
	char dir[64], err[256];
	make_tmpdir(dir, sizeof(dir));
	write_rfc_keys(dir);
	struct dkim_keyring *k = dkim_keyring_load(dir, err, sizeof(err));
	if (k == NULL)
		fail_msg("load: %s", err);
	struct fake_dns dns = {.n = 0};
	fake_dns_parse(&dns, rfc_dns, strlen(rfc_dns));
	/* The records made from the private keys are the published ones. */
	struct buf rec;
	buf_init(&rec, 0);
	assert_int_equal(dkim_public_record(k, "football.example.com", "brisbane", "ed25519", &rec,
					    err, sizeof(err)),
			 0);
	assert_string_equal(rec.data, fake_dns_get(&dns, "brisbane._domainkey.football.example.com"));
	buf_reset(&rec);
	assert_int_equal(dkim_public_record(k, "football.example.com", "test", "rsa", &rec, err,
					    sizeof(err)),
			 0);
	assert_string_equal(rec.data, fake_dns_get(&dns, "test._domainkey.football.example.com"));
	buf_free(&rec);

	struct buf m;
	buf_init(&m, 0);
	assert_int_equal(sign_msg(k, "football.example.com", rfc_msg, sizeof(rfc_msg) - 1,
				  1528637909, &m),
			 2);
	/* Verified against the RFC's own DNS records; the body hash is the RFC's. */
	expect_verify(m.data, m.len, 0, &dns, V_PASS, "our ed25519 signature");
	expect_verify(m.data, m.len, 1, &dns, V_PASS, "our rsa signature");
	assert_non_null(strstr(m.data, "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;"));
	const char *first = strstr(m.data, "a=ed25519-sha256;");
	const char *second = strstr(m.data, "a=rsa-sha256;");
	assert_non_null(first);
	assert_non_null(second);
	assert_true(first < second);
	assert_non_null(strstr(m.data, "d=football.example.com;"));
	assert_non_null(strstr(m.data, "s=brisbane;"));
	assert_non_null(strstr(m.data, "s=test;"));
	assert_non_null(strstr(m.data, "t=1528637909;"));
	assert_non_null(strstr(m.data, "c=relaxed/relaxed;"));
	check_folding(m.data, (size_t)(strstr(m.data, "From: Joe") - m.data));

	/* Ed25519 is deterministic: the same input gives the same signature. */
	struct buf m2;
	buf_init(&m2, 0);
	sign_msg(k, "football.example.com", rfc_msg, sizeof(rfc_msg) - 1, 1528637909, &m2);
	assert_int_equal(m.len, m2.len);
	assert_memory_equal(m.data, m2.data, m.len);
	buf_free(&m2);

	/* The domain is compared without case; d= is the key's. */
	buf_reset(&m);
	assert_int_equal(sign_msg(k, "Football.Example.COM", rfc_msg, sizeof(rfc_msg) - 1, 1, &m),
			 2);
	expect_verify(m.data, m.len, 0, &dns, V_PASS, "upper-case domain");
	buf_free(&m);
	fake_dns_free(&dns);
	dkim_keyring_free(&k);
	rm_tree(dir);
}

/* Messages that exercise the signer; test_export writes those that are
 * valid RFC 5322 messages (OpenDKIM refuses the others before verifying). */
static const struct {
	const char *name;
	const char *msg;
	bool invalid;
} samples[] = {
	{"basic", "From: Alice <alice@example.org>\r\n"
		  "To: bob@example.net\r\n"
		  "Subject: Hello\r\n"
		  "Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
		  "Message-ID: <basic.1@example.org>\r\n"
		  "MIME-Version: 1.0\r\n"
		  "Content-Type: text/plain; charset=utf-8\r\n"
		  "Content-Transfer-Encoding: 8bit\r\n"
		  "\r\n"
		  "Hello Bob,\r\n"
		  "\r\n"
		  "G\xc3\xbc\xc3\xa7l\xc3\xbc bir \xc5\x9fifre.\r\n", false},
	{"folded", "Received: from client (client [192.0.2.1])\r\n"
		   "\tby mail.example.org; Mon, 2 Mar 2026 10:00:00 +0000\r\n"
		   "From:   \"Alice  Example\"\r\n"
		   "\t<alice@example.org>  \r\n"
		   "To: bob@example.net,\r\n"
		   "  carol@example.net\r\n"
		   "Cc:\tdave@example.net\r\n"
		   "Subject: =?utf-8?q?G=C3=BCn_ayd=C4=B1n?=  with   spaces\t\r\n"
		   "Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
		   "Message-ID: <folded.2@example.org>\r\n"
		   "In-Reply-To: <x@example.net>\r\n"
		   "References: <w@example.net>\r\n"
		   " <x@example.net>\r\n"
		   "Reply-To: list@example.org\r\n"
		   "List-Id: Example list <list.example.org>\r\n"
		   "List-Unsubscribe: <mailto:list-leave@example.org>\r\n"
		   "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
		   "X-Mailer: test\r\n"
		   "\r\n"
		   "Line with trailing blanks   \r\n"
		   "\tTabbed   line\t\r\n"
		   "\r\n"
		   "   \r\n"
		   "Last line\r\n"
		   "\r\n"
		   "\r\n"
		   "\r\n", false},
	{"empty-body", "From: alice@example.org\r\n"
		       "To: bob@example.net\r\n"
		       "Subject: nothing\r\n"
		       "Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
		       "\r\n", false},
	{"repeated", "From: alice@example.org\r\n"
		     "To: bob@example.net\r\n"
		     "Subject: two list fields\r\n"
		     "Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
		     "List-Post: <mailto:a@example.org>\r\n"
		     "list-post: <mailto:b@example.org>\r\n"
		     "\r\n"
		     "body\r\n", false},
	{"two-to", "From: alice@example.org\r\n"
		   "To: bob@example.net\r\n"
		   "To: carol@example.net\r\n"
		   "Subject: two To fields\r\n"
		   "\r\n"
		   "body\r\n",
	 true},
	{"long-header", "From: alice@example.org\r\n"
			"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
			"To: a-very-long-recipient-name-number-one@example.net, "
			"a-very-long-recipient-name-number-two@example.net, "
			"a-very-long-recipient-name-number-three@example.net\r\n"
			"Subject: a subject that is rather long and goes on and on beyond the "
			"width of a terminal\r\n"
			"Content-Type: multipart/alternative;\r\n"
			" boundary=\"b1\"\r\n"
			"MIME-Version: 1.0\r\n"
			"\r\n"
			"--b1\r\n"
			"Content-Type: text/plain\r\n"
			"\r\n"
			"part one\r\n"
			"--b1--\r\n", false},
};

static void test_sign_samples(void **state)
{
	(void)state;
	char dir[64], err[256];
	make_tmpdir(dir, sizeof(dir));
	struct buf rec;
	buf_init(&rec, 0);
	assert_int_equal(dkim_keygen(dir, "example.org", "s1", "rsa", &rec, err, sizeof(err)), 0);
	/* One selector, one DNS name, one key. */
	assert_int_equal(dkim_keygen(dir, "example.org", "s1", "ed25519", &rec, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "choose another selector"));
	assert_int_equal(dkim_keygen(dir, "example.org", "s1e", "ed25519", &rec, err, sizeof(err)),
			 0);
	assert_int_equal(dkim_keygen(dir, "other.example", "s2", "ed25519", &rec, err, sizeof(err)),
			 0);
	buf_free(&rec);
	struct dkim_keyring *k = dkim_keyring_load(dir, err, sizeof(err));
	if (k == NULL)
		fail_msg("load: %s", err);
	struct fake_dns dns = {.n = 0};
	keyring_dns(k, &dns);
	assert_int_equal(dns.n, 3);

	struct buf m, t;
	buf_init(&m, 0);
	buf_init(&t, 0);
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		const char *msg = samples[i].msg;
		size_t len = strlen(msg);
		assert_int_equal(sign_msg(k, "example.org", msg, len, 1772445600, &m), 2);
		size_t siglen = (size_t)(strstr(m.data, msg) - m.data);
		check_folding(m.data, siglen);
		expect_verify(m.data, m.len, 0, &dns, V_PASS, samples[i].name);
		expect_verify(m.data, m.len, 1, &dns, V_PASS, samples[i].name);

		/* h= ends with the extra from. */
		struct dkim_headers h;
		assert_int_equal(dkim_headers_parse(&h, m.data, m.len, 0), 0);
		struct buf hl;
		buf_init(&hl, 0);
		assert_true(tag_value(m.data + h.v[0].start + 15, h.v[0].raw_len - 15, "h", &hl));
		size_t from_count = dkim_headers_count(&h, "from", 4);
		size_t listed = 0;
		for (const char *p = hl.data; (p = strstr(p, "from")) != NULL; p += 4)
			if ((p == hl.data || p[-1] == ':') && (p[4] == ':' || p[4] == '\0'))
				listed++;
		assert_int_equal(listed, from_count + 1);
		assert_null(strstr(hl.data, "received"));
		assert_null(strstr(hl.data, "x-mailer"));
		assert_string_equal(hl.data + hl.len - 5, ":from");
		if (strcmp(samples[i].name, "folded") == 0)
			assert_string_equal(hl.data,
					    "from:to:cc:subject:date:message-id:reply-to:"
					    "in-reply-to:references:list-id:list-unsubscribe:"
					    "list-unsubscribe-post:from");
		if (strcmp(samples[i].name, "repeated") == 0)
			assert_string_equal(hl.data,
					    "from:to:subject:date:list-post:list-post:from");
		if (strcmp(samples[i].name, "two-to") == 0)
			assert_string_equal(hl.data, "from:to:to:subject:from");
		buf_free(&hl);
		dkim_headers_free(&h);

		/* An added From: on top breaks both signatures. */
		buf_reset(&t);
		buf_append(&t, m.data, siglen);
		buf_append_str(&t, "From: mallory@example.net\r\n");
		buf_append_str(&t, msg);
		expect_verify(t.data, t.len, 0, &dns, V_FAIL, "added From");
		expect_verify(t.data, t.len, 1, &dns, V_FAIL, "added From");
		/* So does a changed body, but not added trailing empty lines. */
		buf_reset(&t);
		buf_append(&t, m.data, m.len);
		buf_append_str(&t, "\r\n\r\n");
		expect_verify(t.data, t.len, 0, &dns, V_PASS, "trailing empty lines");
		buf_reset(&t);
		buf_append(&t, m.data, m.len);
		buf_append_str(&t, "PS\r\n");
		expect_verify(t.data, t.len, 0, &dns, V_FAIL, "appended text");
		expect_verify(t.data, t.len, 1, &dns, V_FAIL, "appended text");
		/* Unsigned fields may be added. */
		buf_reset(&t);
		buf_append(&t, m.data, siglen);
		buf_append_str(&t, "Received: from somewhere\r\n");
		buf_append_str(&t, msg);
		expect_verify(t.data, t.len, 0, &dns, V_PASS, "added Received");
	}

	/* Another domain's key only signs for that domain. */
	assert_int_equal(sign_msg(k, "other.example", samples[0].msg, strlen(samples[0].msg), 5, &m),
			 1);
	expect_verify(m.data, m.len, 0, &dns, V_PASS, "other.example");
	assert_non_null(strstr(m.data, "d=other.example;"));
	assert_int_equal(sign_msg(k, "nokey.example", samples[0].msg, strlen(samples[0].msg), 5, &m),
			 0);

	/* Errors leave out unchanged. */
	buf_reset(&m);
	buf_append_str(&m, "keep");
	static const char nofrom[] = "To: bob@example.net\r\n\r\nbody\r\n";
	assert_int_equal(dkim_keyring_sign(k, "example.org", nofrom, sizeof(nofrom) - 1, 5, &m, err,
					   sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "From"));
	assert_string_equal(m.data, "keep");
	struct buf small;
	buf_init(&small, 100);
	assert_int_equal(dkim_keyring_sign(k, "example.org", samples[0].msg,
					   strlen(samples[0].msg), 5, &small, err, sizeof(err)),
			 -1);
	assert_int_equal(small.len, 0);
	buf_free(&small);

	/* An over-long List-* name is left out of h= rather than cut. */
	struct buf longname;
	buf_init(&longname, 0);
	buf_append_str(&longname, "From: alice@example.org\r\nList-");
	for (int i = 0; i < 100; i++)
		buf_append_str(&longname, "x");
	buf_append_str(&longname, ": y\r\nList-Id: <l.example.org>\r\n\r\nbody\r\n");
	assert_int_equal(sign_msg(k, "example.org", longname.data, longname.len, 5, &m), 2);
	assert_non_null(strstr(m.data, "h=from:list-id:from;"));
	expect_verify(m.data, m.len, 0, &dns, V_PASS, "long List-* name");
	buf_free(&longname);

	/* A message without a body or an empty line, and with LF line ends. */
	static const char nobody[] = "From: alice@example.org\r\nSubject: x\r\n";
	assert_int_equal(sign_msg(k, "example.org", nobody, sizeof(nobody) - 1, 5, &m), 2);
	expect_verify(m.data, m.len, 1, &dns, V_PASS, "no body");
	static const char lf[] = "From: alice@example.org\nSubject: x\n\nbody\n";
	assert_int_equal(sign_msg(k, "example.org", lf, sizeof(lf) - 1, 5, &m), 2);
	expect_verify(m.data, m.len, 0, &dns, V_PASS, "LF line ends");

	buf_free(&m);
	buf_free(&t);
	fake_dns_free(&dns);
	dkim_keyring_free(&k);
	rm_tree(dir);
}

/* Signed samples and their DNS records for the end-to-end test. */
static void test_export(void **state)
{
	(void)state;
	/* Without DKIM_EXPORT_DIR: into a scratch directory, removed after. */
	const char *out_dir = getenv("DKIM_EXPORT_DIR");
	char scratch[64] = "";
	if (out_dir == NULL || out_dir[0] == '\0') {
		make_tmpdir(scratch, sizeof(scratch));
		out_dir = scratch;
	}
	char dir[64], err[256], path[4096];
	make_tmpdir(dir, sizeof(dir));
	struct buf rec;
	buf_init(&rec, 0);
	assert_int_equal(dkim_keygen(dir, "example.org", "postane", "rsa", &rec, err, sizeof(err)),
			 0);
	assert_int_equal(dkim_keygen(dir, "example.org", "postane-ed25519", "ed25519", &rec, err,
				     sizeof(err)),
			 0);
	buf_free(&rec);
	struct dkim_keyring *k = dkim_keyring_load(dir, err, sizeof(err));
	if (k == NULL)
		fail_msg("load: %s", err);
	struct key_list l = {.n = 0, .k = k};
	dkim_keyring_foreach(k, NULL, collect_key, &l);
	struct buf dnsfile;
	buf_init(&dnsfile, 0);
	for (size_t i = 0; i < l.n; i++) {
		char dom[256], sel[256];
		assert_int_equal(sscanf(l.names[i], "%255[^/]/%255[^/]/", dom, sel), 2);
		buf_printf(&dnsfile, "%s._domainkey.%s %s\n", sel, dom, l.records[i]);
	}
	snprintf(path, sizeof(path), "%s/dns.txt", out_dir);
	write_file(path, dnsfile.data, dnsfile.len, 0644);
	buf_free(&dnsfile);
	struct buf m;
	buf_init(&m, 0);
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		if (samples[i].invalid)
			continue;
		assert_int_equal(sign_msg(k, "example.org", samples[i].msg, strlen(samples[i].msg),
					  time(NULL), &m),
				 2);
		snprintf(path, sizeof(path), "%s/%s.eml", out_dir, samples[i].name);
		write_file(path, m.data, m.len, 0644);
	}
	buf_free(&m);
	dkim_keyring_free(&k);
	rm_tree(dir);
	if (scratch[0] != '\0')
		rm_tree(scratch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verifier_rfc8463),
		cmocka_unit_test(test_verifier_conformance),
		cmocka_unit_test(test_keygen),
		cmocka_unit_test(test_keyring_load_errors),
		cmocka_unit_test(test_sign_rfc_keys),
		cmocka_unit_test(test_sign_samples),
		cmocka_unit_test(test_export),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
