/* sasl.h - server side of the SASL mechanisms PLAIN (RFC 4616) and LOGIN,
 * shared by SMTP AUTH, IMAP AUTHENTICATE and POP3 AUTH.
 *
 * Pure: it decodes what the client sends and produces the challenges; it
 * never looks up or verifies anything. Protocol code moves the base64 text
 * and, on SASL_DONE, verifies authcid/password (auth.h). The credentials
 * live in the struct; sasl_wipe() erases them. */
#ifndef POSTANE_SASL_H
#define POSTANE_SASL_H

#include <stddef.h>

#define SASL_FIELD_MAX 256

enum sasl_mech { SASL_MECH_PLAIN, SASL_MECH_LOGIN };

enum sasl_status {
	SASL_CONTINUE,  /* send the challenge, wait for a response line */
	SASL_DONE,      /* authcid and password are ready to verify */
	SASL_FAIL,      /* malformed exchange: *error_r says why */
	SASL_CANCELLED, /* the client sent "*" */
};

struct sasl_server {
	enum sasl_mech mech;
	int step;
	char authzid[SASL_FIELD_MAX];
	char authcid[SASL_FIELD_MAX];
	char password[SASL_FIELD_MAX];
};

/* *error_r of a SASL_FAIL when the client asked to act as someone else
 * (protocols answer "authorization failed", not "syntax error"). */
extern const char sasl_error_authzid[];

/* The mechanisms to advertise, space-separated ("PLAIN LOGIN"). */
const char *sasl_mechanisms(void);
/* Begin an exchange for `mech` (case-insensitive). Returns 0 or -1 when the
 * mechanism is not supported. */
int sasl_start(struct sasl_server *s, const char *mech);
/* Feed the client's next response: base64 text without CRLF, or NULL when
 * the client gave no initial response. In an initial response, "=" means an
 * empty one (RFC 4954). On SASL_CONTINUE the base64 challenge is written to
 * `challenge` (NUL-terminated, may be empty). */
enum sasl_status sasl_step(struct sasl_server *s, const char *response, char *challenge,
			   size_t challenge_len, const char **error_r);
void sasl_wipe(struct sasl_server *s);

#endif
