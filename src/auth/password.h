/* password.h - password hashing for account credentials.
 *
 * New hashes are argon2id in the PHC string format ("$argon2id$v=19$..."),
 * made with libargon2. Verification is constant-time in the hash
 * comparison. Plaintext passwords passed in are never stored or logged;
 * callers wipe their copies with explicit_bzero(). */
#ifndef POSTANE_PASSWORD_H
#define POSTANE_PASSWORD_H

#include <stddef.h>

#define PASSWORD_HASH_MAX 256

/* Hash `password` into out (PASSWORD_HASH_MAX bytes). Returns 0 or -1. */
int password_hash(const char *password, size_t len, char *out, size_t outlen);
/* Returns 1 on match, 0 on mismatch or unknown scheme. Understands our
 * argon2id hashes and, for migration from Dovecot passwd-files, the schemes
 * {ARGON2ID}, {SHA512-CRYPT} ($6$), {SHA256-CRYPT} ($5$), {BLF-CRYPT}
 * ($2y$/$2b$), with or without the {SCHEME} prefix. */
int password_verify(const char *password, size_t len, const char *encoded);
/* True when `encoded` is not an argon2id hash with today's parameters: it
 * should be replaced after the next successful login. */
int password_needs_rehash(const char *encoded);
/* True for a hash string password_verify() understands (for imports). */
int password_scheme_known(const char *encoded);

#endif
