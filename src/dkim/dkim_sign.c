/* dkim_sign.c - the DKIM keyring (key files loaded with OpenSSL), the
 * signer (relaxed/relaxed, one body hash and one header hash input shared
 * by every key of a domain) and key generation with its DNS record. */
#include "dkim/dkim_sign.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/base64.h"
#include "core/buf.h"
#include "core/util.h"
#include "dkim/dkim_canon.h"

#define FOLD_WIDTH 78
#define MAX_HEADER_FIELDS 10000
#define MAX_LIST_NAMES 16
#define RSA_MIN_BITS 1024
#define RSA_KEYGEN_BITS 2048

enum dkim_alg {
	DKIM_ALG_ED25519, /* sorts first: signing order */
	DKIM_ALG_RSA,
};

static const char *const alg_names[] = {"ed25519", "rsa"};

struct dkim_key {
	char *domain;
	char *selector;
	char *path;
	enum dkim_alg alg;
	unsigned bits;
	EVP_PKEY *pkey;
};

struct dkim_keyring {
	struct dkim_key *v;
	size_t n;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The latest OpenSSL error as text (the queue is cleared). */
static const char *ssl_reason(char *tmp, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	if (e == 0)
		snprintf(tmp, len, "unknown OpenSSL error");
	else
		ERR_error_string_n(e, tmp, len);
	ERR_clear_error();
	return tmp;
}

/* ----- names ----- */

static bool label_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

/* Dot-separated LDH labels (underscore allowed for domains only where
 * asked: not here). */
static bool dns_name_valid(const char *s)
{
	size_t len = strlen(s), label = 0;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!label_char(c) || (label == 0 && c == '-') || ++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

bool dkim_selector_valid(const char *selector)
{
	return dns_name_valid(selector);
}

static bool domain_valid(const char *domain)
{
	return dns_name_valid(domain) && strchr(domain, '.') != NULL;
}

static int alg_from_name(const char *name, enum dkim_alg *alg_r)
{
	for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++) {
		if (strcmp(name, alg_names[i]) == 0) {
			*alg_r = (enum dkim_alg)i;
			return 0;
		}
	}
	return -1;
}

void dkim_keyring_dir(const char *dkim_dir, const char *data_dir, char *out, size_t outlen)
{
	if (dkim_dir != NULL && dkim_dir[0] != '\0')
		snprintf(out, outlen, "%s", dkim_dir);
	else
		snprintf(out, outlen, "%s/dkim", data_dir);
}

/* ----- loading ----- */

/* Never ask for a passphrase (a terminal prompt from a server would hang). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static EVP_PKEY *read_key_file(const char *path, char *err, size_t errlen)
{
	/* O_NONBLOCK: a FIFO in the key directory must not hang the loader. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	FILE *f = NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (f = fdopen(fd, "r")) == NULL) {
		set_err(err, errlen, "%s: not a readable regular file", path);
		close(fd);
		return NULL;
	}
	if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
		set_err(err, errlen, "%s: private key is accessible to others (chmod 600 it)",
			path);
		fclose(f);
		return NULL;
	}
	EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (pkey == NULL) {
		char tmp[256];
		set_err(err, errlen, "%s: not an unencrypted PEM private key (%s)", path,
			ssl_reason(tmp, sizeof(tmp)));
	}
	return pkey;
}

/* Check that a loaded key fits its file name; fills alg-specific fields. */
static int check_key(struct dkim_key *key, char *err, size_t errlen)
{
	if (key->alg == DKIM_ALG_RSA) {
		if (!EVP_PKEY_is_a(key->pkey, "RSA")) {
			set_err(err, errlen, "%s: not an RSA key", key->path);
			return -1;
		}
		int bits = EVP_PKEY_get_bits(key->pkey);
		if (bits < RSA_MIN_BITS) {
			set_err(err, errlen,
				"%s: RSA key of %d bits; at least %d are needed (RFC 8301)",
				key->path, bits, RSA_MIN_BITS);
			return -1;
		}
		key->bits = (unsigned)bits;
	} else {
		if (!EVP_PKEY_is_a(key->pkey, "ED25519")) {
			set_err(err, errlen, "%s: not an Ed25519 key", key->path);
			return -1;
		}
		key->bits = 256;
	}
	return 0;
}

static void key_clear(struct dkim_key *key)
{
	free(key->domain);
	free(key->selector);
	free(key->path);
	EVP_PKEY_free(key->pkey);
	memset(key, 0, sizeof(*key));
}

/* "SELECTOR.rsa.key" / "SELECTOR.ed25519.key": 1 with the parts, 0 when the
 * name is something else. */
static int parse_key_name(const char *name, char *selector, size_t sellen, enum dkim_alg *alg_r)
{
	static const char suffix[] = ".key";
	size_t len = strlen(name);
	if (len <= sizeof(suffix) - 1 || strcmp(name + len - (sizeof(suffix) - 1), suffix) != 0)
		return 0;
	len -= sizeof(suffix) - 1;
	for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++) {
		size_t alen = strlen(alg_names[i]);
		if (len > alen + 1 && name[len - alen - 1] == '.' &&
		    memcmp(name + len - alen, alg_names[i], alen) == 0) {
			size_t slen = len - alen - 1;
			if (slen >= sellen)
				return 0;
			memcpy(selector, name, slen);
			selector[slen] = '\0';
			*alg_r = (enum dkim_alg)i;
			return 1;
		}
	}
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	const struct dkim_key *x = a, *y = b;
	int c = strcmp(x->domain, y->domain);
	if (c != 0)
		return c;
	if (x->alg != y->alg)
		return x->alg < y->alg ? -1 : 1;
	return strcmp(x->selector, y->selector);
}

static int load_domain_dir(struct dkim_keyring *k, size_t *cap, const char *dir,
			   const char *domain, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, domain);
	DIR *d = opendir(path);
	if (d == NULL) {
		if (errno == ENOTDIR)
			return 0; /* a file beside the domain directories */
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char selector[256];
		enum dkim_alg alg;
		if (e->d_name[0] == '.' ||
		    parse_key_name(e->d_name, selector, sizeof(selector), &alg) == 0)
			continue;
		ascii_lower(selector);
		if (!dkim_selector_valid(selector))
			continue;
		struct dkim_key key = {0};
		char file[4096 + 256];
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		key.path = xstrdup(file);
		key.domain = xstrdup(domain);
		ascii_lower(key.domain);
		key.selector = xstrdup(selector);
		key.alg = alg;
		key.pkey = read_key_file(file, err, errlen);
		if (key.pkey == NULL || check_key(&key, err, errlen) < 0) {
			key_clear(&key);
			rc = -1;
			break;
		}
		if (k->n == *cap) {
			*cap = *cap == 0 ? 8 : *cap * 2;
			k->v = xrealloc(k->v, *cap * sizeof(*k->v));
		}
		k->v[k->n++] = key;
	}
	closedir(d);
	return rc;
}

struct dkim_keyring *dkim_keyring_load(const char *dir, char *err, size_t errlen)
{
	struct dkim_keyring *k = xcalloc(1, sizeof(*k));
	DIR *d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT)
			return k;
		set_err(err, errlen, "%s: %s", dir, strerror(errno));
		free(k);
		return NULL;
	}
	size_t cap = 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !domain_valid(e->d_name))
			continue;
		if (load_domain_dir(k, &cap, dir, e->d_name, err, errlen) < 0) {
			rc = -1;
			break;
		}
	}
	closedir(d);
	if (rc < 0) {
		dkim_keyring_free(&k);
		return NULL;
	}
	if (k->n > 1)
		qsort(k->v, k->n, sizeof(*k->v), key_cmp);
	/* SELECTOR._domainkey.DOMAIN publishes one key: two algorithms under
	 * one selector would leave one signature unverifiable. */
	for (size_t i = 0; i < k->n; i++) {
		for (size_t j = i + 1; j < k->n && strcmp(k->v[i].domain, k->v[j].domain) == 0;
		     j++) {
			if (strcmp(k->v[i].selector, k->v[j].selector) == 0) {
				set_err(err, errlen,
					"%s and %s: one selector cannot have two keys (its DNS"
					" name holds one); rename one of them",
					k->v[i].path, k->v[j].path);
				dkim_keyring_free(&k);
				return NULL;
			}
		}
	}
	return k;
}

void dkim_keyring_free(struct dkim_keyring **k)
{
	if (k == NULL || *k == NULL)
		return;
	for (size_t i = 0; i < (*k)->n; i++)
		key_clear(&(*k)->v[i]);
	free((*k)->v);
	free(*k);
	*k = NULL;
}

bool dkim_keyring_has(const struct dkim_keyring *k, const char *domain)
{
	if (k == NULL)
		return false;
	for (size_t i = 0; i < k->n; i++)
		if (ascii_ieq(k->v[i].domain, domain))
			return true;
	return false;
}

size_t dkim_keyring_foreach(const struct dkim_keyring *k, const char *domain, dkim_key_cb *cb,
			    void *ctx)
{
	size_t n = 0;
	if (k == NULL)
		return 0;
	for (size_t i = 0; i < k->n; i++) {
		const struct dkim_key *key = &k->v[i];
		if (domain != NULL && !ascii_ieq(key->domain, domain))
			continue;
		struct dkim_key_info info = {
			.domain = key->domain,
			.selector = key->selector,
			.algorithm = alg_names[key->alg],
			.bits = key->bits,
			.path = key->path,
		};
		if (cb != NULL)
			cb(ctx, &info);
		n++;
	}
	return n;
}

/* ----- public records ----- */

static int append_base64(struct buf *out, const unsigned char *data, size_t len)
{
	char *tmp = xmalloc(base64_encoded_len(len) + 1);
	base64_encode(data, len, tmp);
	int rc = buf_append_str(out, tmp);
	free(tmp);
	return rc;
}

static int public_record(EVP_PKEY *pkey, enum dkim_alg alg, struct buf *out, char *err,
			 size_t errlen)
{
	char tmp[256];
	if (alg == DKIM_ALG_ED25519) {
		unsigned char raw[32];
		size_t rawlen = sizeof(raw);
		if (EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) != 1 || rawlen != sizeof(raw)) {
			set_err(err, errlen, "cannot get the Ed25519 public key: %s",
				ssl_reason(tmp, sizeof(tmp)));
			return -1;
		}
		if (buf_append_str(out, "v=DKIM1; k=ed25519; p=") < 0 ||
		    append_base64(out, raw, rawlen) < 0)
			goto full;
		return 0;
	}
	unsigned char *der = NULL;
	int derlen = i2d_PUBKEY(pkey, &der);
	if (derlen <= 0) {
		set_err(err, errlen, "cannot encode the RSA public key: %s",
			ssl_reason(tmp, sizeof(tmp)));
		return -1;
	}
	int rc = buf_append_str(out, "v=DKIM1; k=rsa; p=") < 0 ||
				 append_base64(out, der, (size_t)derlen) < 0
			 ? -1
			 : 0;
	OPENSSL_free(der);
	if (rc == 0)
		return 0;
full:
	set_err(err, errlen, "record buffer full");
	return -1;
}

int dkim_public_record(const struct dkim_keyring *k, const char *domain, const char *selector,
		       const char *algorithm, struct buf *txt_out, char *err, size_t errlen)
{
	enum dkim_alg alg;
	if (alg_from_name(algorithm, &alg) < 0) {
		set_err(err, errlen, "unknown algorithm \"%s\" (rsa, ed25519)", algorithm);
		return -1;
	}
	for (size_t i = 0; k != NULL && i < k->n; i++) {
		const struct dkim_key *key = &k->v[i];
		if (key->alg == alg && ascii_ieq(key->domain, domain) &&
		    ascii_ieq(key->selector, selector))
			return public_record(key->pkey, alg, txt_out, err, errlen);
	}
	set_err(err, errlen, "no %s key with selector %s for %s", algorithm, selector, domain);
	return -1;
}

/* ----- key generation ----- */

/* Write data to a new file `path` that must not exist yet: a temporary file
 * in the same directory, fsync, link() (which never replaces), directory
 * fsync. */
static int write_new_file(const char *dirpath, const char *path, const void *data, size_t len,
			  char *err, size_t errlen)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s/.keygen.XXXXXX", dirpath);
	int fd = mkstemp(tmp); /* mode 0600 */
	if (fd < 0) {
		set_err(err, errlen, "%s: %s", dirpath, strerror(errno));
		return -1;
	}
	int rc = 0;
	if (fchmod(fd, 0600) < 0 || write_full(fd, data, len) < 0 || fsync(fd) < 0) {
		set_err(err, errlen, "%s: %s", tmp, strerror(errno));
		rc = -1;
	}
	if (close(fd) < 0 && rc == 0) {
		set_err(err, errlen, "%s: %s", tmp, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && link(tmp, path) < 0) {
		if (errno == EEXIST)
			set_err(err, errlen, "%s exists already; not replacing it", path);
		else
			set_err(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	unlink(tmp);
	if (rc == 0 && fsync_dir(dirpath) < 0) {
		set_err(err, errlen, "%s: %s", dirpath, strerror(errno));
		rc = -1;
	}
	return rc;
}

static EVP_PKEY *generate_key(enum dkim_alg alg)
{
	if (alg == DKIM_ALG_RSA)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)RSA_KEYGEN_BITS);
	return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
}

int dkim_keygen(const char *dir, const char *domain, const char *selector, const char *algorithm,
		struct buf *txt_record_out, char *err, size_t errlen)
{
	enum dkim_alg alg;
	if (alg_from_name(algorithm, &alg) < 0) {
		set_err(err, errlen, "unknown algorithm \"%s\" (rsa, ed25519)", algorithm);
		return -1;
	}
	if (!domain_valid(domain)) {
		set_err(err, errlen, "%s: not a valid domain name", domain);
		return -1;
	}
	if (!dkim_selector_valid(selector)) {
		set_err(err, errlen, "%s: not a valid selector (letters, digits, '-', '.')",
			selector);
		return -1;
	}
	char dom[256], sel[256], domdir[4096], path[4096 + 512];
	snprintf(dom, sizeof(dom), "%s", domain);
	snprintf(sel, sizeof(sel), "%s", selector);
	ascii_lower(dom);
	ascii_lower(sel);
	snprintf(domdir, sizeof(domdir), "%s/%s", dir, dom);
	snprintf(path, sizeof(path), "%s/%s.%s.key", domdir, sel, alg_names[alg]);
	struct stat st;
	if (stat(path, &st) == 0) {
		set_err(err, errlen, "%s exists already; not replacing it", path);
		return -1;
	}
	char other[4096 + 512];
	snprintf(other, sizeof(other), "%s/%s.%s.key", domdir, sel,
		 alg_names[alg == DKIM_ALG_RSA ? DKIM_ALG_ED25519 : DKIM_ALG_RSA]);
	if (stat(other, &st) == 0) {
		set_err(err, errlen,
			"selector %s of %s has a key already (%s), and its DNS name can hold"
			" only one: choose another selector",
			sel, dom, other);
		return -1;
	}
	if (mkdir_p(dir, 0700) < 0 || (mkdir(domdir, 0700) < 0 && errno != EEXIST)) {
		set_err(err, errlen, "%s: %s", domdir, strerror(errno));
		return -1;
	}
	char tmp[256];
	EVP_PKEY *pkey = generate_key(alg);
	if (pkey == NULL) {
		set_err(err, errlen, "key generation failed: %s", ssl_reason(tmp, sizeof(tmp)));
		return -1;
	}
	int rc = -1;
	BIO *mem = BIO_new(BIO_s_secmem());
	if (mem == NULL)
		mem = BIO_new(BIO_s_mem());
	if (mem == NULL ||
	    PEM_write_bio_PrivateKey(mem, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		set_err(err, errlen, "cannot encode the key: %s", ssl_reason(tmp, sizeof(tmp)));
		goto out;
	}
	char *pem;
	long pemlen = BIO_get_mem_data(mem, &pem);
	if (pemlen <= 0) {
		set_err(err, errlen, "cannot encode the key");
		goto out;
	}
	size_t mark = txt_record_out->len;
	if (public_record(pkey, alg, txt_record_out, err, errlen) < 0)
		goto out;
	if (write_new_file(domdir, path, pem, (size_t)pemlen, err, errlen) < 0) {
		txt_record_out->len = mark;
		if (txt_record_out->data != NULL)
			txt_record_out->data[mark] = '\0';
		goto out;
	}
	rc = 0;
out:
	BIO_free(mem); /* a secure-heap BIO wipes its memory */
	EVP_PKEY_free(pkey);
	return rc;
}

/* ----- signing ----- */

/* A header field being written, folded at FOLD_WIDTH columns. */
struct fold {
	struct buf *out;
	size_t col;
	int rc;
};

static void fold_raw(struct fold *f, const char *s, size_t len)
{
	if (f->rc == 0 && buf_append(f->out, s, len) < 0)
		f->rc = -1;
}

/* Append `s`, after a space if `space`, or on a new line when it would
 * pass the width. */
static void fold_piece(struct fold *f, const char *s, size_t len, bool space)
{
	size_t need = len + (space ? 1 : 0);
	if (f->col + need > FOLD_WIDTH && f->col > 1) {
		fold_raw(f, "\r\n ", 3);
		f->col = 1;
	} else if (space) {
		fold_raw(f, " ", 1);
		f->col++;
	}
	fold_raw(f, s, len);
	f->col += len;
}

/* Append a tag value that may be broken anywhere (base64, RFC 6376 FWS
 * inside base64string), filling each line. */
static void fold_stream(struct fold *f, const char *s, size_t len)
{
	while (len > 0) {
		if (f->col >= FOLD_WIDTH) {
			fold_raw(f, "\r\n ", 3);
			f->col = 1;
		}
		size_t n = FOLD_WIDTH - f->col;
		if (n > len)
			n = len;
		fold_raw(f, s, n);
		f->col += n;
		s += n;
		len -= n;
	}
}

static bool ftext_name(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 33 || c > 126 || c == ':')
			return false;
	}
	return len > 0;
}

/* The h= names for this message, lowercase, in order. */
struct hnames {
	char *v[64 + MAX_LIST_NAMES * 4];
	size_t n;
};

static void hnames_add(struct hnames *h, const char *name, size_t len)
{
	if (h->n < sizeof(h->v) / sizeof(h->v[0])) {
		char *s = xstrndup(name, len);
		ascii_lower(s);
		h->v[h->n++] = s;
	}
}

static void hnames_free(struct hnames *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i]);
	h->n = 0;
}

static void choose_headers(const struct dkim_headers *hs, struct hnames *out)
{
	static const char *const names[] = {
		"from",	    "to",	    "cc",	  "subject",
		"date",	    "message-id",   "reply-to",	  "mime-version",
		"content-type", "content-transfer-encoding", "in-reply-to", "references",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t count = dkim_headers_count(hs, names[i], strlen(names[i]));
		/* More copies than that are not a message worth signing well. */
		for (size_t c = 0; c < count && c < 4; c++)
			hnames_add(out, names[i], strlen(names[i]));
	}
	/* List-* (RFC 2369, 2919, 8058), each distinct name once per field. */
	size_t distinct = 0;
	for (size_t i = 0; i < hs->n && distinct < MAX_LIST_NAMES; i++) {
		const struct dkim_hfield *f = &hs->v[i];
		if (f->name_len <= 5 || f->name_len > 64 || !ascii_nieq(f->name, "list-", 5) ||
		    !ftext_name(f->name, f->name_len))
			continue;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = hs->v[j].name_len == f->name_len &&
			       ascii_nieq(hs->v[j].name, f->name, f->name_len);
		if (seen)
			continue;
		distinct++;
		size_t count = dkim_headers_count(hs, f->name, f->name_len);
		for (size_t c = 0; c < count && c < 4; c++)
			hnames_add(out, f->name, f->name_len);
	}
	hnames_add(out, "from", 4); /* oversigning: no From: may be added */
}

struct digest_sink {
	EVP_MD_CTX *md;
	int rc;
};

static void digest_emit(void *ctx, const void *data, size_t len)
{
	struct digest_sink *d = ctx;
	if (d->rc == 0 && EVP_DigestUpdate(d->md, data, len) != 1)
		d->rc = -1;
}

/* SHA-256 of the relaxed canonical body. */
static int body_hash(const char *body, size_t len, unsigned char out[32])
{
	struct digest_sink d = {.md = EVP_MD_CTX_new(), .rc = 0};
	if (d.md == NULL || EVP_DigestInit_ex(d.md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(d.md);
		return -1;
	}
	struct dkim_body_canon bc;
	dkim_body_canon_init(&bc, DKIM_CANON_RELAXED, UINT64_MAX, digest_emit, &d);
	dkim_body_canon_update(&bc, body, len);
	dkim_body_canon_final(&bc);
	unsigned int n = 0;
	if (d.rc == 0 && (EVP_DigestFinal_ex(d.md, out, &n) != 1 || n != 32))
		d.rc = -1;
	EVP_MD_CTX_free(d.md);
	return d.rc;
}

/* b= over the header hash input `data` (RFC 6376 3.7): rsa-sha256 signs
 * SHA-256(data) with PKCS#1 v1.5; ed25519-sha256 (RFC 8463 3) signs the
 * 32-byte SHA-256(data) with PureEdDSA. */
static int sign_data(const struct dkim_key *key, const unsigned char *data, size_t len,
		     unsigned char **sig_r, size_t *siglen_r)
{
	unsigned char digest[32];
	unsigned int dlen = 0;
	const EVP_MD *md = NULL;
	if (key->alg == DKIM_ALG_ED25519) {
		if (EVP_Digest(data, len, digest, &dlen, EVP_sha256(), NULL) != 1 || dlen != 32)
			return -1;
		data = digest;
		len = dlen;
	} else {
		md = EVP_sha256();
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = 0;
	unsigned char *sig = NULL;
	int rc = -1;
	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, md, NULL, key->pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &siglen, data, len) != 1)
		goto out;
	sig = xmalloc(siglen);
	if (EVP_DigestSign(ctx, sig, &siglen, data, len) != 1) {
		free(sig);
		sig = NULL;
		goto out;
	}
	*sig_r = sig;
	*siglen_r = siglen;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* Append one DKIM-Signature field for `key`. `headers` is the hash input of
 * the signed fields (each with its CRLF). */
static int sign_one(const struct dkim_key *key, const struct hnames *hn, const char *bh,
		    const struct buf *headers, time_t now, struct buf *out, char *err,
		    size_t errlen)
{
	struct fold f = {.out = out, .col = 0, .rc = 0};
	size_t field_start = out->len;
	char word[512];
	int n;
	fold_raw(&f, "DKIM-Signature:", 15);
	f.col = 15;
	n = snprintf(word, sizeof(word), "v=1;");
	fold_piece(&f, word, (size_t)n, true);
	n = snprintf(word, sizeof(word), "a=%s-sha256;", alg_names[key->alg]);
	fold_piece(&f, word, (size_t)n, true);
	fold_piece(&f, "c=relaxed/relaxed;", 18, true);
	n = snprintf(word, sizeof(word), "d=%s;", key->domain);
	fold_piece(&f, word, (size_t)n, true);
	n = snprintf(word, sizeof(word), "s=%s;", key->selector);
	fold_piece(&f, word, (size_t)n, true);
	n = snprintf(word, sizeof(word), "t=%lld;", (long long)now);
	fold_piece(&f, word, (size_t)n, true);
	for (size_t i = 0; i < hn->n; i++) {
		n = snprintf(word, sizeof(word), "%s%s%s", i == 0 ? "h=" : "", hn->v[i],
			     i + 1 < hn->n ? ":" : ";");
		fold_piece(&f, word, (size_t)n, i == 0);
	}
	n = snprintf(word, sizeof(word), "bh=%s;", bh);
	fold_piece(&f, word, (size_t)n, true);
	fold_piece(&f, "b=", 2, true);
	if (f.rc < 0) {
		set_err(err, errlen, "output buffer full");
		return -1;
	}

	/* Header hash input: the signed fields, then this field with an empty
	 * b= and no final CRLF (RFC 6376 3.7). */
	struct buf input;
	buf_init(&input, 0);
	buf_append(&input, headers->data, headers->len);
	dkim_canon_sig_header(DKIM_CANON_RELAXED, out->data + field_start, out->len - field_start,
			      &input);
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int rc = sign_data(key, (const unsigned char *)input.data, input.len, &sig, &siglen);
	buf_free(&input);
	if (rc < 0) {
		char tmp[256];
		set_err(err, errlen, "%s: signing failed: %s", key->path,
			ssl_reason(tmp, sizeof(tmp)));
		return -1;
	}
	char *b64 = xmalloc(base64_encoded_len(siglen) + 1);
	base64_encode(sig, siglen, b64);
	free(sig);
	fold_stream(&f, b64, strlen(b64));
	free(b64);
	fold_raw(&f, "\r\n", 2);
	if (f.rc < 0) {
		set_err(err, errlen, "output buffer full");
		return -1;
	}
	return 0;
}

int dkim_keyring_sign(const struct dkim_keyring *k, const char *domain, const char *msg, size_t len,
		      time_t now, struct buf *out, char *err, size_t errlen)
{
	if (!dkim_keyring_has(k, domain))
		return 0;
	size_t mark = out->len;
	struct dkim_headers hs;
	struct hnames hn = {.n = 0};
	struct buf headers;
	buf_init(&headers, 0);
	int count = 0;
	if (dkim_headers_parse(&hs, msg, len, MAX_HEADER_FIELDS) < 0) {
		set_err(err, errlen, "more than %d header fields", MAX_HEADER_FIELDS);
		count = -1;
		goto out;
	}
	if (dkim_headers_count(&hs, "from", 4) == 0) {
		set_err(err, errlen, "the message has no From: header field");
		count = -1;
		goto out;
	}
	choose_headers(&hs, &hn);

	unsigned char bh_raw[32];
	char bh[64];
	if (body_hash(msg + hs.body_start, len - hs.body_start, bh_raw) < 0) {
		char tmp[256];
		set_err(err, errlen, "body hash failed: %s", ssl_reason(tmp, sizeof(tmp)));
		count = -1;
		goto out;
	}
	base64_encode(bh_raw, sizeof(bh_raw), bh);

	/* The signed fields are the same for every key. */
	struct buf hlist;
	buf_init(&hlist, 0);
	for (size_t i = 0; i < hn.n; i++)
		buf_printf(&hlist, "%s%s", i > 0 ? ":" : "", hn.v[i]);
	int rc =
		dkim_canon_signed_headers(&hs, DKIM_CANON_RELAXED, hlist.data, hlist.len, &headers);
	buf_free(&hlist);
	if (rc < 0) {
		set_err(err, errlen, "cannot canonicalise the header");
		count = -1;
		goto out;
	}

	for (size_t i = 0; i < k->n; i++) {
		const struct dkim_key *key = &k->v[i];
		if (!ascii_ieq(key->domain, domain))
			continue;
		if (sign_one(key, &hn, bh, &headers, now, out, err, errlen) < 0) {
			count = -1;
			break;
		}
		count++;
	}
out:
	if (count < 0) {
		out->len = mark;
		if (out->data != NULL)
			out->data[mark] = '\0';
	}
	buf_free(&headers);
	hnames_free(&hn);
	dkim_headers_free(&hs);
	return count;
}
