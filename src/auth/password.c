/* password.c - argon2id hashing through libargon2 (OWASP's minimum
 * parameters: 19 MiB, 2 passes, 1 lane). */
#include "auth/password.h"

#include <argon2.h>
#include <crypt.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"

#define T_COST 2
#define M_COST_KIB 19456
#define PARALLELISM 1
#define SALT_LEN 16
#define HASH_LEN 32

int password_hash(const char *password, size_t len, char *out, size_t outlen)
{
	unsigned char salt[SALT_LEN];
	random_bytes(salt, sizeof(salt));
	int rc = argon2id_hash_encoded(T_COST, M_COST_KIB, PARALLELISM, password, len, salt,
				       sizeof(salt), HASH_LEN, out, outlen);
	explicit_bzero(salt, sizeof(salt));
	return rc == ARGON2_OK ? 0 : -1;
}

/* Strip a Dovecot-style "{SCHEME}" prefix; returns the hash part and the
 * scheme name (upper case) or "". */
static const char *strip_scheme(const char *encoded, char *scheme, size_t slen)
{
	scheme[0] = '\0';
	if (encoded[0] != '{')
		return encoded;
	const char *end = strchr(encoded, '}');
	if (end == NULL || (size_t)(end - encoded - 1) >= slen)
		return encoded;
	memcpy(scheme, encoded + 1, (size_t)(end - encoded - 1));
	scheme[end - encoded - 1] = '\0';
	for (char *p = scheme; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 32);
	return end + 1;
}

static int crypt_scheme_ok(const char *scheme, const char *hash)
{
	if (strncmp(hash, "$6$", 3) == 0)
		return scheme[0] == '\0' || strcmp(scheme, "SHA512-CRYPT") == 0 ||
		       strcmp(scheme, "CRYPT") == 0;
	if (strncmp(hash, "$5$", 3) == 0)
		return scheme[0] == '\0' || strcmp(scheme, "SHA256-CRYPT") == 0 ||
		       strcmp(scheme, "CRYPT") == 0;
	if (strncmp(hash, "$2y$", 4) == 0 || strncmp(hash, "$2b$", 4) == 0 ||
	    strncmp(hash, "$2a$", 4) == 0)
		return scheme[0] == '\0' || strcmp(scheme, "BLF-CRYPT") == 0 ||
		       strcmp(scheme, "CRYPT") == 0;
	return 0;
}

int password_scheme_known(const char *encoded)
{
	char scheme[32];
	const char *hash = strip_scheme(encoded, scheme, sizeof(scheme));
	if (strncmp(hash, "$argon2id$", 10) == 0)
		return scheme[0] == '\0' || strcmp(scheme, "ARGON2ID") == 0;
	return crypt_scheme_ok(scheme, hash);
}

int password_verify(const char *password, size_t len, const char *encoded)
{
	char scheme[32];
	const char *hash = strip_scheme(encoded, scheme, sizeof(scheme));
	if (strlen(password) != len)
		return 0; /* NUL inside: never a valid password */
	if (strncmp(hash, "$argon2id$", 10) == 0)
		return (scheme[0] == '\0' || strcmp(scheme, "ARGON2ID") == 0) &&
		       argon2id_verify(hash, password, len) == ARGON2_OK;
	if (!crypt_scheme_ok(scheme, hash))
		return 0;
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	const char *out = crypt_r(password, hash, &cd);
	int ok = 0;
	if (out != NULL && out[0] != '*') {
		size_t a = strlen(out), b = strlen(hash);
		/* Constant-time comparison of equal-length strings. */
		unsigned char diff = (unsigned char)(a != b);
		for (size_t i = 0; i < a && i < b; i++)
			diff |= (unsigned char)(out[i] ^ hash[i]);
		ok = diff == 0;
	}
	explicit_bzero(&cd, sizeof(cd));
	return ok;
}

int password_needs_rehash(const char *encoded)
{
	char expect[64];
	snprintf(expect, sizeof(expect), "$argon2id$v=19$m=%d,t=%d,p=%d$", M_COST_KIB, T_COST,
		 PARALLELISM);
	return strncmp(encoded, expect, strlen(expect)) != 0;
}
