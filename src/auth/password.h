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
/* Returns 1 on match, 0 on mismatch or unknown scheme. */
int password_verify(const char *password, size_t len, const char *encoded);

#endif
