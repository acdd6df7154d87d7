/* password.c - argon2id hashing through libargon2 (OWASP's minimum
 * parameters: 19 MiB, 2 passes, 1 lane). */
#include "auth/password.h"

#include <argon2.h>
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

int password_verify(const char *password, size_t len, const char *encoded)
{
	if (strncmp(encoded, "$argon2id$", 10) == 0)
		return argon2id_verify(encoded, password, len) == ARGON2_OK;
	return 0;
}
