/* test_sasl.c - unit tests for the SASL PLAIN (RFC 4616) and LOGIN server
 * exchanges (sasl.c): the RFC 4616 examples, initial response or not, "="
 * for an empty initial response (RFC 4954), cancel with "*", strict
 * base64, field rules (NULs, lengths, UTF-8, empty fields), no proxy
 * authorisation, challenges and their buffer, and wiping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/base64.h"
#include "auth/sasl.h"

#define LOGIN_USER_PROMPT "VXNlcm5hbWU6" /* "Username:" */
#define LOGIN_PASS_PROMPT "UGFzc3dvcmQ6" /* "Password:" */

/* base64 of `len` bytes, in a static rotating buffer. */
static const char *b64n(const void *data, size_t len)
{
	static char bufs[4][2048];
	static int k;
	char *out = bufs[k++ & 3];
	assert_true(base64_encoded_len(len) < sizeof(bufs[0]));
	base64_encode(data, len, out);
	return out;
}

/* base64 of a string literal that may contain NULs. */
#define B64(lit) b64n(lit, sizeof(lit) - 1)

struct step {
	enum sasl_status st;
	char challenge[64];
	const char *error;
};

/* One sasl_step with a heap copy of the response (exact size) so that ASan
 * sees any overread; checks the error_r convention. */
static struct step step(struct sasl_server *s, const char *response)
{
	struct step r;
	char *copy = NULL;
	if (response != NULL) {
		size_t n = strlen(response) + 1;
		copy = malloc(n);
		assert_non_null(copy);
		memcpy(copy, response, n);
	}
	memset(r.challenge, 'X', sizeof(r.challenge));
	r.error = "not set";
	r.st = sasl_step(s, copy, r.challenge, sizeof(r.challenge), &r.error);
	free(copy);
	if (r.st == SASL_FAIL) {
		if (r.error == NULL || r.error[0] == '\0')
			fail_msg("SASL_FAIL without a reason");
	} else if (r.error != NULL) {
		fail_msg("error text \"%s\" set with status %d", r.error, r.st);
	}
	if (r.st == SASL_CONTINUE)
		assert_non_null(memchr(r.challenge, '\0', sizeof(r.challenge)));
	return r;
}

static void start(struct sasl_server *s, const char *mech)
{
	assert_int_equal(sasl_start(s, mech), 0);
}

static void assert_done(struct step r, const struct sasl_server *s, const char *authzid,
			const char *authcid, const char *password)
{
	if (r.st != SASL_DONE)
		fail_msg("expected SASL_DONE, got %d (%s)", r.st, r.error ? r.error : "");
	assert_string_equal(s->authzid, authzid);
	assert_string_equal(s->authcid, authcid);
	assert_string_equal(s->password, password);
}

static void assert_fail(struct step r, const char *why)
{
	if (r.st != SASL_FAIL)
		fail_msg("expected SASL_FAIL (%s), got %d", why, r.st);
	if (why != NULL)
		assert_string_equal(r.error, why);
}

/* ----- mechanisms ----- */

static void test_mechanisms(void **state)
{
	(void)state;
	assert_string_equal(sasl_mechanisms(), "PLAIN LOGIN");
	struct sasl_server s;
	assert_int_equal(sasl_start(&s, "PLAIN"), 0);
	assert_int_equal(s.mech, SASL_MECH_PLAIN);
	assert_int_equal(sasl_start(&s, "plain"), 0);
	assert_int_equal(sasl_start(&s, "Plain"), 0);
	assert_int_equal(sasl_start(&s, "LOGIN"), 0);
	assert_int_equal(s.mech, SASL_MECH_LOGIN);
	assert_int_equal(sasl_start(&s, "login"), 0);
	const char *bad[] = {"",	 "PLAI",      "PLAINX",	       "PLAIN ",
			     " PLAIN",	 "CRAM-MD5",  "SCRAM-SHA-256", "XOAUTH2",
			     "EXTERNAL", "ANONYMOUS", "LOGIN\n",       "DIGEST-MD5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sasl_start(&s, bad[i]) != -1)
			fail_msg("mechanism \"%s\" accepted", bad[i]);
}

static void test_start_resets_state(void **state)
{
	(void)state;
	struct sasl_server s;
	memset(&s, 0x5a, sizeof(s));
	start(&s, "LOGIN");
	assert_int_equal(s.step, 0);
	assert_string_equal(s.authcid, "");
	assert_string_equal(s.password, "");
	assert_string_equal(s.authzid, "");
	/* a finished exchange followed by a new one starts clean */
	start(&s, "PLAIN");
	assert_done(step(&s, B64("\0tim\0tanstaaftanstaaf")), &s, "", "tim", "tanstaaftanstaaf");
	start(&s, "LOGIN");
	assert_string_equal(s.authcid, "");
	assert_string_equal(s.password, "");
}

/* ----- PLAIN ----- */

static void test_plain_rfc4616_examples(void **state)
{
	(void)state;
	struct sasl_server s;
	/* RFC 4616 section 4: "<NUL>tim<NUL>tanstaaftanstaaf" */
	start(&s, "PLAIN");
	struct step r = step(&s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
	assert_done(r, &s, "", "tim", "tanstaaftanstaaf");
	/* the same after an empty challenge (no initial response) */
	start(&s, "PLAIN");
	r = step(&s, NULL);
	assert_int_equal(r.st, SASL_CONTINUE);
	assert_string_equal(r.challenge, "");
	assert_done(step(&s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"), &s, "", "tim", "tanstaaftanstaaf");
	/* "Ursel<NUL>Kurt<NUL>xipj3plmq": authorization identity Ursel for
	 * authentication identity Kurt. postane does no proxy authorisation:
	 * an authzid different from the authcid is refused. */
	start(&s, "PLAIN");
	assert_fail(step(&s, B64("Ursel\0Kurt\0xipj3plmq")),
		    "authorization identity not permitted");
}

static void test_plain_authzid_rules(void **state)
{
	(void)state;
	struct sasl_server s;
	start(&s, "PLAIN");
	assert_done(step(&s, B64("kurt\0kurt\0pw")), &s, "kurt", "kurt", "pw");
	/* exact, case-sensitive comparison */
	start(&s, "PLAIN");
	assert_fail(step(&s, B64("Kurt\0kurt\0pw")), "authorization identity not permitted");
	start(&s, "PLAIN");
	assert_fail(step(&s, B64("kur\0kurt\0pw")), "authorization identity not permitted");
	start(&s, "PLAIN");
	assert_fail(step(&s, B64("kurtz\0kurt\0pw")), "authorization identity not permitted");
	start(&s, "PLAIN");
	assert_fail(step(&s, B64("bob@example.test\0alice@example.test\0pw")),
		    "authorization identity not permitted");
}

static void test_plain_field_rules(void **state)
{
	(void)state;
	struct sasl_server s;
	static const struct {
		const char *msg;
		size_t len;
	} bad[] = {
#define M(lit) {lit, sizeof(lit) - 1}
	    M(""),		/* nothing */
	    M("tim"),		/* no NUL */
	    M("\0tim"),		/* one NUL */
	    M("tim\0tanstaaf"), /* one NUL */
	    M("\0\0pw"),	/* empty authcid */
	    M("\0tim\0"),	/* empty password */
	    M("\0\0"),		/* both empty */
	    M("\0tim\0pw\0"),	/* NUL after the password */
	    M("\0tim\0p\0w"),	/* NUL inside the password */
	    M("\0tim\0\0pw"),	/* password starting with NUL */
	    M("\0\0tim\0pw"),	/* authcid empty, extra field */
	    M("a\0b\0c\0d"),	/* four fields */
#undef M
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		start(&s, "PLAIN");
		struct step r = step(&s, b64n(bad[i].msg, bad[i].len));
		if (r.st != SASL_FAIL)
			fail_msg("PLAIN message %zu accepted", i);
		assert_string_equal(r.error, "malformed PLAIN response");
	}
}

static void test_plain_lengths(void **state)
{
	(void)state;
	struct sasl_server s;
	char msg[3 * SASL_FIELD_MAX + 8];
	char f255[SASL_FIELD_MAX], f256[SASL_FIELD_MAX + 1];
	memset(f255, 'a', SASL_FIELD_MAX - 1);
	f255[SASL_FIELD_MAX - 1] = '\0';
	memset(f256, 'b', SASL_FIELD_MAX);
	f256[SASL_FIELD_MAX] = '\0';

	/* 255-byte fields everywhere (the largest message: 767 bytes) */
	int n = snprintf(msg, sizeof(msg), "%s%c%s%c%s", f255, 0, f255, 0, f255);
	start(&s, "PLAIN");
	assert_done(step(&s, b64n(msg, (size_t)n)), &s, f255, f255, f255);

	/* 256 bytes in any one field is too long */
	const char *fields[3][3] = {{f256, f255, f255}, {"", f256, "pw"}, {"", "user", f256}};
	for (int i = 0; i < 3; i++) {
		n = snprintf(msg, sizeof(msg), "%s%c%s%c%s", fields[i][0], 0, fields[i][1], 0,
			     fields[i][2]);
		start(&s, "PLAIN");
		assert_fail(step(&s, b64n(msg, (size_t)n)), "malformed PLAIN response");
	}

	/* a response longer than any valid message is refused before decoding */
	char big[2048];
	memset(big, 'A', 1100);
	big[1100] = '\0';
	start(&s, "PLAIN");
	assert_fail(step(&s, big), "invalid base64");
	memset(big, 'A', 1040);
	big[1040] = '\0';
	start(&s, "PLAIN");
	assert_fail(step(&s, big), "invalid base64");
}

static void test_plain_utf8(void **state)
{
	(void)state;
	struct sasl_server s;
	start(&s, "PLAIN");
	assert_done(step(&s, B64("\0j\xc3\xbcrgen@b\xc3\xbc"
				 "cher.example\0p\xc3\xa4ss \xe2\x9c\x93 \xf0\x9f\x94\x91")),
		    &s, "",
		    "j\xc3\xbcrgen@b\xc3\xbc"
		    "cher.example",
		    "p\xc3\xa4ss \xe2\x9c\x93 \xf0\x9f\x94\x91");
	static const struct {
		const char *msg;
		size_t len;
	} bad[] = {
#define M(lit) {lit, sizeof(lit) - 1}
	    M("\0tim\0pass\xff"),	  /* invalid byte */
	    M("\0tim\0pass\xc3"),	  /* truncated sequence */
	    M("\0tim\0\xc0\xafpass"),	  /* overlong '/' */
	    M("\0tim\0\xed\xa0\x80pass"), /* UTF-16 surrogate */
	    M("\0tim\0\xf4\x90\x80\x80"), /* above U+10FFFF */
	    M("\0t\xe9m\0pass"),	  /* Latin-1 in the authcid */
	    M("\xff\0tim\0pass"),	  /* invalid authzid */
	    M("\0tim\0\x80"),		  /* lone continuation byte */
#undef M
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		start(&s, "PLAIN");
		struct step r = step(&s, b64n(bad[i].msg, bad[i].len));
		if (r.st != SASL_FAIL)
			fail_msg("invalid UTF-8 message %zu accepted", i);
	}
}

static void test_plain_empty_initial_response(void **state)
{
	(void)state;
	struct sasl_server s;
	/* "=" is an empty initial response; PLAIN cannot be empty. */
	start(&s, "PLAIN");
	assert_fail(step(&s, "="), "malformed PLAIN response");
	/* after the empty challenge, "=" is not base64 */
	start(&s, "PLAIN");
	assert_int_equal(step(&s, NULL).st, SASL_CONTINUE);
	assert_fail(step(&s, "="), "invalid base64");
	/* an empty response line after the challenge: an empty message */
	start(&s, "PLAIN");
	assert_int_equal(step(&s, NULL).st, SASL_CONTINUE);
	assert_fail(step(&s, ""), "malformed PLAIN response");
	/* "==" or "=x" are not the empty marker */
	start(&s, "PLAIN");
	assert_fail(step(&s, "=="), "invalid base64");
}

static void test_plain_bad_base64(void **state)
{
	(void)state;
	struct sasl_server s;
	const char *bad[] = {"AHRpbQB0YW5zdGFhZnRhbnN0YWFm=", /* bad length */
			     "AHRpbQB0YW5zdGFhZnRhbnN0YWF",   /* unpadded */
			     "AHRpbQB0 YW5zdGFhZnRhbnN0YWFm",
			     "AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r",
			     "AHRpbQB0YW5zdGFhZnRhbnN0YWF-",
			     "!!!!",
			     "A===",
			     "Zh==",
			     "*x",
			     " AHRpbQB0YW5zdGFhZnRhbnN0YWFm"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		start(&s, "PLAIN");
		struct step r = step(&s, bad[i]);
		if (r.st != SASL_FAIL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_string_equal(r.error, "invalid base64");
	}
}

static void test_plain_missing_response(void **state)
{
	(void)state;
	struct sasl_server s;
	start(&s, "PLAIN");
	assert_int_equal(step(&s, NULL).st, SASL_CONTINUE);
	/* NULL is only "no initial response"; later it is an error */
	assert_fail(step(&s, NULL), "missing response");
}

static void test_plain_only_one_response(void **state)
{
	(void)state;
	struct sasl_server s;
	/* after the challenge, a failed response ends the exchange: a second
	 * try within the same exchange is refused */
	start(&s, "PLAIN");
	assert_int_equal(step(&s, NULL).st, SASL_CONTINUE);
	assert_fail(step(&s, B64("\0tim")), "malformed PLAIN response");
	assert_fail(step(&s, B64("\0tim\0tanstaaftanstaaf")), "unexpected response");
}

/* Regression (was a bug): sasl.c's comment says "PLAIN takes exactly one response (initial or
 * after the empty challenge); the step counter guards against more", but
 * after a SASL_DONE initial response a second response is accepted again
 * (s->step is 2, the guard is s->step > 2) and replaces the credentials.
 * The SMTP code never calls sasl_step() after SASL_DONE, so this is not
 * reachable there today; it matters for any other caller (IMAP, POP3).
 * Reproduction: sasl_start(PLAIN); sasl_step("AHRpbQB0YW5zdGFhZnRhbnN0YWFm")
 * -> DONE; sasl_step(base64("\0kurt\0other")) -> DONE (expected SASL_FAIL). */
static void test_plain_no_second_response_after_initial(void **state)
{
	(void)state;
	struct sasl_server s;
	start(&s, "PLAIN");
	assert_done(step(&s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"), &s, "", "tim", "tanstaaftanstaaf");
	assert_fail(step(&s, B64("\0kurt\0other")), "unexpected response");
	assert_string_equal(s.authcid, "tim");
}

static void test_cancel(void **state)
{
	(void)state;
	struct sasl_server s;
	/* "*" at every point of both exchanges */
	start(&s, "PLAIN");
	assert_int_equal(step(&s, "*").st, SASL_CANCELLED);
	start(&s, "PLAIN");
	assert_int_equal(step(&s, NULL).st, SASL_CONTINUE);
	assert_int_equal(step(&s, "*").st, SASL_CANCELLED);
	start(&s, "LOGIN");
	assert_int_equal(step(&s, NULL).st, SASL_CONTINUE);
	assert_int_equal(step(&s, "*").st, SASL_CANCELLED);
	start(&s, "LOGIN");
	assert_int_equal(step(&s, NULL).st, SASL_CONTINUE);
	assert_int_equal(step(&s, B64("tim")).st, SASL_CONTINUE);
	assert_int_equal(step(&s, "*").st, SASL_CANCELLED);
	start(&s, "LOGIN");
	assert_int_equal(step(&s, "*").st, SASL_CANCELLED);
	/* only a lone "*" cancels */
	start(&s, "PLAIN");
	assert_fail(step(&s, "**"), "invalid base64");
	start(&s, "PLAIN");
	assert_fail(step(&s, "* "), "invalid base64");
}

/* ----- LOGIN ----- */

static void test_login_exchange(void **state)
{
	(void)state;
	struct sasl_server s;
	start(&s, "LOGIN");
	struct step r = step(&s, NULL);
	assert_int_equal(r.st, SASL_CONTINUE);
	assert_string_equal(r.challenge, LOGIN_USER_PROMPT);
	r = step(&s, B64("tim@example.test"));
	assert_int_equal(r.st, SASL_CONTINUE);
	assert_string_equal(r.challenge, LOGIN_PASS_PROMPT);
	assert_string_equal(s.authcid, "tim@example.test");
	assert_string_equal(s.password, "");
	assert_done(step(&s, B64("tanstaaftanstaaf")), &s, "", "tim@example.test",
		    "tanstaaftanstaaf");
}

static void test_login_initial_response(void **state)
{
	(void)state;
	struct sasl_server s;
	start(&s, "LOGIN");
	struct step r = step(&s, B64("tim"));
	assert_int_equal(r.st, SASL_CONTINUE);
	assert_string_equal(r.challenge, LOGIN_PASS_PROMPT);
	assert_done(step(&s, B64("pw")), &s, "", "tim", "pw");
}

static void test_login_empty_and_equals(void **state)
{
	(void)state;
	struct sasl_server s;
	/* "=" as initial response: an empty username */
	start(&s, "LOGIN");
	assert_fail(step(&s, "="), "malformed username");
	/* an empty line as username or password */
	start(&s, "LOGIN");
	assert_int_equal(step(&s, NULL).st, SASL_CONTINUE);
	assert_fail(step(&s, ""), "malformed username");
	start(&s, "LOGIN");
	assert_int_equal(step(&s, B64("tim")).st, SASL_CONTINUE);
	assert_fail(step(&s, ""), "malformed password");
	/* "=" later is not base64 */
	start(&s, "LOGIN");
	assert_int_equal(step(&s, B64("tim")).st, SASL_CONTINUE);
	assert_fail(step(&s, "="), "invalid base64");
}

static void test_login_field_rules(void **state)
{
	(void)state;
	struct sasl_server s;
	char f255[SASL_FIELD_MAX], f256[SASL_FIELD_MAX + 1];
	memset(f255, 'u', SASL_FIELD_MAX - 1);
	f255[SASL_FIELD_MAX - 1] = '\0';
	memset(f256, 'v', SASL_FIELD_MAX);
	f256[SASL_FIELD_MAX] = '\0';

	start(&s, "LOGIN");
	assert_int_equal(step(&s, b64n(f255, strlen(f255))).st, SASL_CONTINUE);
	assert_done(step(&s, b64n(f255, strlen(f255))), &s, "", f255, f255);

	start(&s, "LOGIN");
	assert_fail(step(&s, b64n(f256, strlen(f256))), "malformed username");
	start(&s, "LOGIN");
	assert_int_equal(step(&s, B64("tim")).st, SASL_CONTINUE);
	assert_fail(step(&s, b64n(f256, strlen(f256))), "malformed password");

	/* NULs are never part of a username or password */
	start(&s, "LOGIN");
	assert_fail(step(&s, B64("ti\0m")), "malformed username");
	start(&s, "LOGIN");
	assert_fail(step(&s, B64("\0tim\0pw")), "malformed username");
	start(&s, "LOGIN");
	assert_int_equal(step(&s, B64("tim")).st, SASL_CONTINUE);
	assert_fail(step(&s, B64("pw\0")), "malformed password");
	assert_string_equal(s.password, "");

	/* UTF-8 */
	start(&s, "LOGIN");
	assert_int_equal(step(&s, B64("j\xc3\xbcrgen")).st, SASL_CONTINUE);
	assert_done(step(&s, B64("\xe2\x9c\x93")), &s, "", "j\xc3\xbcrgen", "\xe2\x9c\x93");
	start(&s, "LOGIN");
	assert_fail(step(&s, B64("j\xfcrgen")), "malformed username");
	start(&s, "LOGIN");
	assert_int_equal(step(&s, B64("tim")).st, SASL_CONTINUE);
	assert_fail(step(&s, B64("\xc0\x80")), "malformed password");

	/* bad base64 at either prompt */
	start(&s, "LOGIN");
	assert_int_equal(step(&s, NULL).st, SASL_CONTINUE);
	assert_fail(step(&s, "dGlt="), "invalid base64");
	start(&s, "LOGIN");
	assert_int_equal(step(&s, B64("tim")).st, SASL_CONTINUE);
	assert_fail(step(&s, "cHc"), "invalid base64");
}

static void test_login_no_extra_responses(void **state)
{
	(void)state;
	struct sasl_server s;
	start(&s, "LOGIN");
	assert_int_equal(step(&s, B64("tim")).st, SASL_CONTINUE);
	assert_done(step(&s, B64("pw")), &s, "", "tim", "pw");
	assert_fail(step(&s, B64("again")), "unexpected response");
	assert_string_equal(s.password, "pw");
	/* NULL after the first step */
	start(&s, "LOGIN");
	assert_int_equal(step(&s, NULL).st, SASL_CONTINUE);
	assert_fail(step(&s, NULL), "missing response");
	start(&s, "LOGIN");
	assert_int_equal(step(&s, B64("tim")).st, SASL_CONTINUE);
	assert_fail(step(&s, NULL), "missing response");
}

static void test_challenge_buffer(void **state)
{
	(void)state;
	struct sasl_server s;
	const char *why = NULL;
	char small[12]; /* "VXNlcm5hbWU6" needs 13 bytes with its NUL */
	start(&s, "LOGIN");
	assert_int_equal(sasl_step(&s, NULL, small, sizeof(small), &why), SASL_FAIL);
	assert_non_null(why);
	char exact[13];
	start(&s, "LOGIN");
	why = "x";
	assert_int_equal(sasl_step(&s, NULL, exact, sizeof(exact), &why), SASL_CONTINUE);
	assert_null(why);
	assert_string_equal(exact, LOGIN_USER_PROMPT);
	assert_int_equal(sasl_step(&s, B64("tim"), exact, sizeof(exact), &why), SASL_CONTINUE);
	assert_string_equal(exact, LOGIN_PASS_PROMPT);
	start(&s, "LOGIN");
	assert_int_equal(sasl_step(&s, B64("tim"), small, sizeof(small), &why), SASL_FAIL);
	/* PLAIN needs no challenge buffer at all */
	start(&s, "PLAIN");
	assert_int_equal(sasl_step(&s, NULL, NULL, 0, &why), SASL_CONTINUE);
	assert_int_equal(sasl_step(&s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm", NULL, 0, &why), SASL_DONE);
	/* the challenge is cleared on DONE and FAIL */
	char ch[16] = "garbage";
	start(&s, "PLAIN");
	assert_int_equal(sasl_step(&s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm", ch, sizeof(ch), &why),
			 SASL_DONE);
	assert_string_equal(ch, "");
}

static void test_wipe(void **state)
{
	(void)state;
	struct sasl_server s;
	start(&s, "PLAIN");
	assert_done(step(&s, B64("tim\0tim\0secret")), &s, "tim", "tim", "secret");
	sasl_wipe(&s);
	static const struct sasl_server zero;
	assert_memory_equal(&s, &zero, sizeof(s));
}

/* Every split of a valid LOGIN username/password and PLAIN message into
 * the exchange still gives the same credentials: a table of exchanges. */
static void test_exchange_table(void **state)
{
	(void)state;
	static const struct {
		const char *mech;
		const char *steps[4]; /* "-" = NULL response; ends at NULL */
		enum sasl_status last;
		const char *authcid, *password;
	} t[] = {
	    {"PLAIN", {"AHRpbQB0YW5zdGFhZnRhbnN0YWFm", NULL}, SASL_DONE, "tim", "tanstaaftanstaaf"},
	    {"PLAIN",
	     {"-", "AHRpbQB0YW5zdGFhZnRhbnN0YWFm", NULL},
	     SASL_DONE,
	     "tim",
	     "tanstaaftanstaaf"},
	    {"plain",
	     {"dGltAHRpbQB0YW5zdGFhZnRhbnN0YWFm", NULL},
	     SASL_DONE,
	     "tim",
	     "tanstaaftanstaaf"},
	    {"LOGIN", {"-", "dGlt", "cHc=", NULL}, SASL_DONE, "tim", "pw"},
	    {"LOGIN", {"dGlt", "cHc=", NULL}, SASL_DONE, "tim", "pw"},
	    {"LOGIN", {"dGlt", "*", NULL}, SASL_CANCELLED, NULL, NULL},
	    {"LOGIN", {"-", "-", NULL}, SASL_FAIL, NULL, NULL},
	    {"PLAIN", {"-", "-", NULL}, SASL_FAIL, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sasl_server s;
		start(&s, t[i].mech);
		struct step r = {0};
		for (size_t k = 0; t[i].steps[k] != NULL; k++) {
			const char *resp = strcmp(t[i].steps[k], "-") == 0 ? NULL : t[i].steps[k];
			r = step(&s, resp);
			if (t[i].steps[k + 1] != NULL && r.st != SASL_CONTINUE)
				fail_msg("exchange %zu stopped at step %zu with %d", i, k, r.st);
		}
		if (r.st != t[i].last)
			fail_msg("exchange %zu ended with %d, expected %d", i, r.st, t[i].last);
		if (t[i].authcid != NULL) {
			assert_string_equal(s.authcid, t[i].authcid);
			assert_string_equal(s.password, t[i].password);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mechanisms),
	    cmocka_unit_test(test_start_resets_state),
	    cmocka_unit_test(test_plain_rfc4616_examples),
	    cmocka_unit_test(test_plain_authzid_rules),
	    cmocka_unit_test(test_plain_field_rules),
	    cmocka_unit_test(test_plain_lengths),
	    cmocka_unit_test(test_plain_utf8),
	    cmocka_unit_test(test_plain_empty_initial_response),
	    cmocka_unit_test(test_plain_bad_base64),
	    cmocka_unit_test(test_plain_missing_response),
	    cmocka_unit_test(test_plain_only_one_response),
	    cmocka_unit_test(test_plain_no_second_response_after_initial),
	    cmocka_unit_test(test_cancel),
	    cmocka_unit_test(test_login_exchange),
	    cmocka_unit_test(test_login_initial_response),
	    cmocka_unit_test(test_login_empty_and_equals),
	    cmocka_unit_test(test_login_field_rules),
	    cmocka_unit_test(test_login_no_extra_responses),
	    cmocka_unit_test(test_challenge_buffer),
	    cmocka_unit_test(test_wipe),
	    cmocka_unit_test(test_exchange_table),
	};
	return cmocka_run_group_tests_name("sasl", tests, NULL, NULL);
}
