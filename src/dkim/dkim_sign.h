/* dkim_sign.h - DKIM signing keys and signatures: RFC 6376 with rsa-sha256
 * (RFC 8301: 2048-bit keys made, 1024 the least accepted) and
 * ed25519-sha256 (RFC 8463), always c=relaxed/relaxed.
 *
 * Keys are files DIR/DOMAIN/SELECTOR.rsa.key and
 * DIR/DOMAIN/SELECTOR.ed25519.key: unencrypted PEM private keys that only
 * their owner (and group) may read. The keyring loads them all once;
 * afterwards it is read-only, so dkim_keyring_sign() may run on several
 * threads at once. Private keys never leave this module: callers see
 * domains, selectors and public records only (a later key-holding
 * process can take the keyring's place behind the same calls).
 *
 * Errors come back as a message in the caller's err[errlen]. */
#ifndef POSTANE_DKIM_SIGN_H
#define POSTANE_DKIM_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct buf;
struct dkim_keyring;

/* Load every DIR/DOMAIN/SELECTOR.{rsa,ed25519}.key. A missing DIR gives an
 * empty keyring. Returns NULL (with err) when a key file cannot be used:
 * unreadable, not a PEM private key, of the wrong type for its name, an
 * RSA key under 1024 bits, readable by others, or two keys (rsa and
 * ed25519) sharing a selector, which DNS cannot publish. Other files are
 * ignored. */
struct dkim_keyring *dkim_keyring_load(const char *dir, char *err, size_t errlen);
/* Accepts NULL and *k == NULL; sets *k to NULL. */
void dkim_keyring_free(struct dkim_keyring **k);

/* True when the keyring (may be NULL) holds a key for `domain` (compared
 * ignoring ASCII case; no parent-domain matching). */
bool dkim_keyring_has(const struct dkim_keyring *k, const char *domain);

/* Sign the message msg[len] (header, empty line, body; CRLF line ends)
 * with every key of `domain`: appends to `out` one complete
 * "DKIM-Signature: ...\r\n" field, folded at 78 columns, per key
 * (ed25519 first, then rsa), each with d=DOMAIN (the key's), s=SELECTOR,
 * t=now, c=relaxed/relaxed, bh= and b=. The fields go on top of the
 * message as they are; each one covers the message without the others.
 * Signed header fields: From, To, Cc, Subject, Date, Message-ID, Reply-To,
 * MIME-Version, Content-Type, Content-Transfer-Encoding, In-Reply-To,
 * References and List-*, each as often as present, plus one more From so
 * that an added From: breaks the signature.
 * Returns the number of signatures appended (0 when the domain has no
 * key), or -1 with err (no From: field, a header too large, out full,
 * a crypto failure); on -1 `out` is left as it was. */
int dkim_keyring_sign(const struct dkim_keyring *k, const char *domain, const char *msg, size_t len,
		      time_t now, struct buf *out, char *err, size_t errlen);

/* One key, as callers may see it. Strings stay valid while the keyring
 * lives. */
struct dkim_key_info {
	const char *domain;    /* lowercase */
	const char *selector;  /* lowercase */
	const char *algorithm; /* "rsa" or "ed25519" */
	unsigned bits;	       /* RSA modulus size; 256 for ed25519 */
	const char *path;      /* the key file */
};
typedef void dkim_key_cb(void *ctx, const struct dkim_key_info *key);
/* Call cb for each key (of `domain` only, unless NULL), by domain, then in
 * signing order. Returns the number of keys visited. */
size_t dkim_keyring_foreach(const struct dkim_keyring *k, const char *domain, dkim_key_cb *cb,
			    void *ctx);

/* Append the TXT record value that publishes one key of the keyring at
 * SELECTOR._domainkey.DOMAIN: "v=DKIM1; k=rsa; p=BASE64" (p= is the DER
 * SubjectPublicKeyInfo) or "v=DKIM1; k=ed25519; p=BASE64" (p= is the raw
 * 32-byte key, RFC 8463 4.2). Returns 0, or -1 with err (no such key). */
int dkim_public_record(const struct dkim_keyring *k, const char *domain, const char *selector,
		       const char *algorithm, struct buf *txt_out, char *err, size_t errlen);

/* Make a new key: RSA 2048 ("rsa") or Ed25519 ("ed25519"), written to
 * DIR/DOMAIN/SELECTOR.ALGORITHM.key (mode 0600; DIR and DIR/DOMAIN made
 * with mode 0700 when missing) durably, never replacing an existing file
 * and refusing a selector that has a key of the other algorithm (one DNS
 * name, one key). DOMAIN and SELECTOR must be valid DNS names (stored
 * lowercase). Appends
 * the key's TXT record value (as dkim_public_record()) to txt_record_out.
 * Returns 0 or -1 with err. */
int dkim_keygen(const char *dir, const char *domain, const char *selector, const char *algorithm,
		struct buf *txt_record_out, char *err, size_t errlen);

/* True for a usable selector: dot-separated labels of letters, digits and
 * '-' (not at a label's ends), at most 63 bytes each, 253 in all. */
bool dkim_selector_valid(const char *selector);

/* The key directory: `dkim_dir` from [dkim] dir, or DATA_DIR/dkim when it
 * is empty. */
void dkim_keyring_dir(const char *dkim_dir, const char *data_dir, char *out, size_t outlen);

#endif
