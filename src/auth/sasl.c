/* sasl.c - PLAIN and LOGIN exchanges: strict base64, strict field rules,
 * no proxy authorisation. */
#include "auth/sasl.h"

#include <stdbool.h>

#include <string.h>
#include <strings.h>

#include "auth/base64.h"
#include "core/utf8.h"

const char sasl_error_authzid[] = "authorization identity not permitted";

const char *sasl_mechanisms(void)
{
	return "PLAIN LOGIN";
}

int sasl_start(struct sasl_server *s, const char *mech)
{
	memset(s, 0, sizeof(*s));
	if (strcasecmp(mech, "PLAIN") == 0)
		s->mech = SASL_MECH_PLAIN;
	else if (strcasecmp(mech, "LOGIN") == 0)
		s->mech = SASL_MECH_LOGIN;
	else
		return -1;
	return 0;
}

void sasl_wipe(struct sasl_server *s)
{
	explicit_bzero(s, sizeof(*s));
}

static enum sasl_status fail(const char *why, const char **error_r)
{
	*error_r = why;
	return SASL_FAIL;
}

/* Decode a response into buf; returns its length or -1. */
static long decode(const char *response, bool initial, unsigned char *buf, size_t buflen)
{
	size_t len = strlen(response);
	if (initial && strcmp(response, "=") == 0)
		return 0;
	if (len / 4 * 3 > buflen)
		return -1;
	return base64_decode(response, len, buf);
}

static bool valid_field(const unsigned char *p, size_t len)
{
	return len < SASL_FIELD_MAX && memchr(p, '\0', len) == NULL && utf8_valid(p, len);
}

static enum sasl_status plain_response(struct sasl_server *s, const unsigned char *p, size_t len,
				       const char **error_r)
{
	/* message = [authzid] NUL authcid NUL passwd */
	const unsigned char *nul1 = memchr(p, '\0', len);
	if (nul1 == NULL)
		return fail("malformed PLAIN response", error_r);
	const unsigned char *a = nul1 + 1;
	const unsigned char *nul2 = memchr(a, '\0', len - (size_t)(a - p));
	if (nul2 == NULL)
		return fail("malformed PLAIN response", error_r);
	const unsigned char *pw = nul2 + 1;
	size_t zlen = (size_t)(nul1 - p), clen = (size_t)(nul2 - a), plen = len - (size_t)(pw - p);
	if (!valid_field(p, zlen) || !valid_field(a, clen) || !valid_field(pw, plen) || clen == 0 ||
	    plen == 0)
		return fail("malformed PLAIN response", error_r);
	memcpy(s->authzid, p, zlen);
	memcpy(s->authcid, a, clen);
	memcpy(s->password, pw, plen);
	if (zlen > 0 && (zlen != clen || memcmp(p, a, zlen) != 0))
		return fail(sasl_error_authzid, error_r);
	return SASL_DONE;
}

enum sasl_status sasl_step(struct sasl_server *s, const char *response, char *challenge,
			   size_t challenge_len, const char **error_r)
{
	unsigned char buf[3 * SASL_FIELD_MAX + 8];
	*error_r = NULL;
	if (challenge_len > 0)
		challenge[0] = '\0';
	if (response != NULL && strcmp(response, "*") == 0)
		return SASL_CANCELLED;
	bool initial = s->step == 0;
	s->step++;
	if (response == NULL) {
		if (!initial)
			return fail("missing response", error_r);
		if (s->mech == SASL_MECH_LOGIN) {
			static const char prompt[] = "VXNlcm5hbWU6"; /* "Username:" */
			if (challenge_len < sizeof(prompt))
				return fail("internal error", error_r);
			memcpy(challenge, prompt, sizeof(prompt));
		}
		return SASL_CONTINUE; /* PLAIN: empty challenge */
	}
	long n = decode(response, initial, buf, sizeof(buf));
	if (n < 0)
		return fail("invalid base64", error_r);
	if (s->mech == SASL_MECH_PLAIN) {
		/* PLAIN takes exactly one response (initial or after the
		 * empty challenge); once credentials are in, nothing more. */
		if (s->step > 2 || s->authcid[0] != '\0')
			return fail("unexpected response", error_r);
		enum sasl_status st = plain_response(s, buf, (size_t)n, error_r);
		explicit_bzero(buf, sizeof(buf));
		return st;
	}
	/* LOGIN: username (initial response or first answer), then password. */
	bool is_user = s->authcid[0] == '\0' && (initial || s->step == 2);
	if (is_user) {
		if (!valid_field(buf, (size_t)n) || n == 0)
			return fail("malformed username", error_r);
		memcpy(s->authcid, buf, (size_t)n);
		s->authcid[n] = '\0';
		static const char prompt[] = "UGFzc3dvcmQ6"; /* "Password:" */
		if (challenge_len < sizeof(prompt))
			return fail("internal error", error_r);
		memcpy(challenge, prompt, sizeof(prompt));
		return SASL_CONTINUE;
	}
	if (s->authcid[0] == '\0' || s->password[0] != '\0')
		return fail("unexpected response", error_r);
	if (!valid_field(buf, (size_t)n) || n == 0) {
		explicit_bzero(buf, sizeof(buf));
		return fail("malformed password", error_r);
	}
	memcpy(s->password, buf, (size_t)n);
	s->password[n] = '\0';
	explicit_bzero(buf, sizeof(buf));
	return SASL_DONE;
}
