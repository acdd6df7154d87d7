/* test_smtp_client.c - the outbound SMTP client (smtp_client.c) against a
 * scripted fake server on 127.0.0.1: a thread that accepts one connection,
 * checks each command line against the script and answers with canned
 * replies (plain or over TLS, with a self-signed certificate). Every read
 * on either side is bounded by a timeout, so that a wrong turn fails the
 * test instead of hanging it.
 *
 * Script steps:
 *   "S:text"  send text + CRLF (text may hold more lines joined by CRLF)
 *   "R:text"  send text as it is
 *   "C:line"  the client's next line must be `line` ("prefix*" matches a prefix)
 *   "D"       read message content up to and including CRLF.CRLF, keep it
 *   "D!"      read until the client closes; there must be no end of data
 *   "T"       TLS handshake as the server; "T!": the handshake must fail (last step)
 *   "P:ms"    pause
 *   "X"       close the connection (last step)
 *   "E"       the client must close without sending anything more (last step) */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/util.h"
#include "smtp/smtp_client.h"
#include "tls/tls.h"
#include "tls/tls_selfsigned.h"

#define MAX_MSGS 4
#define IO_TIMEOUT_S 5
#define TEST_TIMEOUT_MS 15000

/* ----- shared TLS material ----- */

static char tmpdir[] = "/tmp/postane-smtp-client-XXXXXX";
static char cert_path[256], key_path[256];
static SSL_CTX *server_ctx;
static struct tls_client *tls_untrusting; /* system trust store: the test cert fails */
static struct tls_client *tls_trusting;	  /* trusts the test certificate */

static int group_setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", tmpdir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", tmpdir);
	const char *err;
	if (tls_make_self_signed("mx.test", cert_path, key_path, &err) < 0) {
		fprintf(stderr, "self-signed: %s\n", err);
		return -1;
	}
	server_ctx = SSL_CTX_new(TLS_server_method());
	if (server_ctx == NULL || SSL_CTX_use_certificate_chain_file(server_ctx, cert_path) != 1 ||
	    SSL_CTX_use_PrivateKey_file(server_ctx, key_path, SSL_FILETYPE_PEM) != 1)
		return -1;
	if (tls_client_new(NULL, &tls_untrusting, &err) < 0 ||
	    tls_client_new(cert_path, &tls_trusting, &err) < 0) {
		fprintf(stderr, "tls client: %s\n", err);
		return -1;
	}
	log_set_level(getenv("TEST_DEBUG") != NULL ? LOG_DEBUG : LOG_ERROR);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	tls_client_free(&tls_untrusting);
	tls_client_free(&tls_trusting);
	SSL_CTX_free(server_ctx);
	unlink(cert_path);
	unlink(key_path);
	rmdir(tmpdir);
	return 0;
}

/* ----- the fake server ----- */

struct scenario;

struct fake {
	int lfd, fd;
	unsigned port;
	const char *const *script;
	SSL *ssl;
	char in[256 * 1024];
	size_t inlen;
	char *data[MAX_MSGS];
	size_t dlen[MAX_MSGS];
	int ndata;
	char err[512];
	pthread_t th;
	struct scenario *sc;
};

struct scenario {
	struct loop *loop;
	struct fake srv;
	bool has_srv;
	struct smtp_client_opts opts;
	struct sockaddr_in addr;
	const char *host;
	struct smtp_client *c;
	struct smtp_client_msg *msgs[MAX_MSGS];
	size_t nmsg, next;
	/* outcomes */
	int ready_calls;
	bool ready_ok;
	struct smtp_client_status ready_st;
	int done_calls;
	enum smtp_client_result res[MAX_MSGS];
	bool usable_after[MAX_MSGS];
	char tls_info[256];
	struct smtp_ehlo ehlo;
	bool client_done;
	atomic_bool server_done;
	bool timed_out;
	uint64_t deadline;
	bool send_on_tick; /* send the first message from the tick, not at once */
	/* Abort rather than QUIT at the end: without a fake server nothing
	 * would keep the loop running until QUIT completes. */
	bool abort_at_end;
	struct smtp_client *ready_client;
};

static void fake_fail(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fake_fail(struct fake *f, const char *fmt, ...)
{
	if (f->err[0] != '\0')
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->err, sizeof(f->err), fmt, ap);
	va_end(ap);
}

static int fake_write(struct fake *f, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w =
		    f->ssl != NULL ? SSL_write(f->ssl, p, (int)n) : send(f->fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read more input; 0 at EOF, -1 on error or timeout. */
static ssize_t fake_fill(struct fake *f)
{
	if (f->inlen == sizeof(f->in))
		return -1;
	ssize_t n = f->ssl != NULL
			? SSL_read(f->ssl, f->in + f->inlen, (int)(sizeof(f->in) - f->inlen))
			: read(f->fd, f->in + f->inlen, sizeof(f->in) - f->inlen);
	if (n > 0)
		f->inlen += (size_t)n;
	if (n < 0 ||
	    (f->ssl != NULL && n == 0 && SSL_get_error(f->ssl, (int)n) != SSL_ERROR_ZERO_RETURN &&
	     SSL_get_error(f->ssl, (int)n) != SSL_ERROR_SYSCALL))
		return -1;
	return n;
}

static void fake_consume(struct fake *f, size_t n)
{
	memmove(f->in, f->in + n, f->inlen - n);
	f->inlen -= n;
}

/* The next CRLF-terminated line (without CRLF) into out; -1 at EOF. */
static int fake_line(struct fake *f, char *out, size_t cap)
{
	for (;;) {
		char *e = memmem(f->in, f->inlen, "\r\n", 2);
		if (e != NULL) {
			size_t n = (size_t)(e - f->in);
			if (n >= cap)
				n = cap - 1;
			memcpy(out, f->in, n);
			out[n] = '\0';
			fake_consume(f, (size_t)(e - f->in) + 2);
			return 0;
		}
		if (fake_fill(f) <= 0)
			return -1;
	}
}

static bool line_matches(const char *pattern, const char *line)
{
	size_t n = strlen(pattern);
	if (n > 0 && pattern[n - 1] == '*')
		return strncmp(pattern, line, n - 1) == 0;
	return strcmp(pattern, line) == 0;
}

/* Message content up to its end marker. */
static void fake_data(struct fake *f, bool expect_eof)
{
	size_t end = 0;
	for (;;) {
		if (f->inlen >= 3 && memcmp(f->in, ".\r\n", 3) == 0) {
			end = 3;
			break;
		}
		char *p = memmem(f->in, f->inlen, "\r\n.\r\n", 5);
		if (p != NULL) {
			end = (size_t)(p - f->in) + 5;
			break;
		}
		ssize_t n = fake_fill(f);
		if (n <= 0) {
			if (!expect_eof)
				fake_fail(f, "content ended without CRLF.CRLF (%zu bytes)",
					  f->inlen);
			end = f->inlen;
			break;
		}
	}
	if (expect_eof && end != f->inlen)
		fake_fail(f, "content was terminated although the client should give up");
	if (f->ndata < MAX_MSGS) {
		f->data[f->ndata] = malloc(end + 1);
		memcpy(f->data[f->ndata], f->in, end);
		f->data[f->ndata][end] = '\0';
		f->dlen[f->ndata++] = end;
	}
	fake_consume(f, end);
}

static void check_stop(void *arg);

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	struct pollfd pfd = {.fd = f->lfd, .events = POLLIN};
	if (poll(&pfd, 1, IO_TIMEOUT_S * 1000) != 1) {
		fake_fail(f, "no connection");
		goto out;
	}
	f->fd = accept(f->lfd, NULL, NULL);
	if (f->fd < 0) {
		fake_fail(f, "accept: %s", strerror(errno));
		goto out;
	}
	struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
	setsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(f->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	char line[4096];
	for (size_t i = 0; f->script[i] != NULL && f->err[0] == '\0'; i++) {
		const char *st = f->script[i];
		if (strncmp(st, "S:", 2) == 0) {
			/* One write: a reply and what follows it arrive together. */
			size_t n = strlen(st + 2);
			char *out = malloc(n + 2);
			memcpy(out, st + 2, n);
			memcpy(out + n, "\r\n", 2);
			if (fake_write(f, out, n + 2) < 0)
				fake_fail(f, "step %zu: write failed", i);
			free(out);
		} else if (strncmp(st, "R:", 2) == 0) {
			if (fake_write(f, st + 2, strlen(st + 2)) < 0)
				fake_fail(f, "step %zu: write failed", i);
		} else if (strncmp(st, "C:", 2) == 0) {
			if (fake_line(f, line, sizeof(line)) < 0)
				fake_fail(f, "step %zu: wanted \"%s\", got EOF or timeout", i,
					  st + 2);
			else if (!line_matches(st + 2, line))
				fake_fail(f, "step %zu: wanted \"%s\", got \"%s\"", i, st + 2,
					  line);
		} else if (strcmp(st, "D") == 0 || strcmp(st, "D!") == 0) {
			fake_data(f, st[1] == '!');
		} else if (strcmp(st, "T") == 0 || strcmp(st, "T!") == 0) {
			if (f->inlen > 0)
				fake_fail(f, "step %zu: client sent %zu bytes before the handshake",
					  i, f->inlen);
			f->ssl = SSL_new(server_ctx);
			SSL_set_fd(f->ssl, f->fd);
			int r = SSL_accept(f->ssl);
			ERR_clear_error();
			if (st[1] == '!') {
				if (r == 1)
					fake_fail(f, "step %zu: handshake succeeded", i);
				SSL_free(f->ssl);
				f->ssl = NULL;
				break;
			}
			if (r != 1)
				fake_fail(f, "step %zu: handshake failed", i);
		} else if (strncmp(st, "P:", 2) == 0) {
			usleep((useconds_t)atoi(st + 2) * 1000u);
		} else if (strcmp(st, "X") == 0) {
			break;
		} else if (strcmp(st, "E") == 0) {
			ssize_t n = f->inlen > 0 ? 1 : fake_fill(f);
			if (n != 0)
				fake_fail(f, "step %zu: wanted the client to close, got %s", i,
					  n > 0 ? "more data" : "timeout or error");
		} else {
			fake_fail(f, "bad script step \"%s\"", st);
		}
	}
out:
	if (f->ssl != NULL) {
		SSL_free(f->ssl);
		f->ssl = NULL;
	}
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	atomic_store(&f->sc->server_done, true);
	loop_post(f->sc->loop, check_stop, f->sc);
	return NULL;
}

/* ----- the client side ----- */

static void check_stop(void *arg)
{
	struct scenario *sc = arg;
	if (sc->client_done && atomic_load(&sc->server_done))
		loop_stop(sc->loop);
}

static void done_cb(void *ctx, struct smtp_client *c, struct smtp_client_msg *m,
		    enum smtp_client_result result);

static void tick(void *arg)
{
	struct scenario *sc = arg;
	if (now_ms() > sc->deadline) {
		sc->timed_out = true;
		loop_stop(sc->loop);
		return;
	}
	if (sc->send_on_tick && sc->ready_client != NULL) {
		struct smtp_client *c = sc->ready_client;
		sc->ready_client = NULL;
		smtp_client_send(c, sc->msgs[sc->next++], done_cb, sc);
	}
}

static void finish_client(struct scenario *sc, struct smtp_client *c, bool polite)
{
	if (polite && !sc->abort_at_end)
		smtp_client_quit(c);
	else
		smtp_client_abort(c);
	sc->c = NULL;
	sc->client_done = true;
	check_stop(sc);
}

static void done_cb(void *ctx, struct smtp_client *c, struct smtp_client_msg *m,
		    enum smtp_client_result result);

static void ready_cb(void *ctx, struct smtp_client *c, bool ok, const struct smtp_client_status *st)
{
	struct scenario *sc = ctx;
	sc->ready_calls++;
	sc->ready_ok = ok;
	sc->ready_st = *st;
	sc->ehlo = *smtp_client_ehlo(c);
	if (smtp_client_tls_info(c) != NULL)
		snprintf(sc->tls_info, sizeof(sc->tls_info), "%s", smtp_client_tls_info(c));
	if (ok && sc->nmsg > 0 && sc->send_on_tick) {
		sc->ready_client = c;
		return;
	}
	if (ok && sc->nmsg > 0) {
		smtp_client_send(c, sc->msgs[sc->next++], done_cb, sc);
		return;
	}
	finish_client(sc, c, ok);
}

static void done_cb(void *ctx, struct smtp_client *c, struct smtp_client_msg *m,
		    enum smtp_client_result result)
{
	struct scenario *sc = ctx;
	assert_ptr_equal(m, sc->msgs[sc->done_calls]);
	sc->res[sc->done_calls] = result;
	bool usable = smtp_client_usable(c);
	sc->usable_after[sc->done_calls] = usable;
	sc->done_calls++;
	if (usable && sc->next < sc->nmsg) {
		smtp_client_send(c, sc->msgs[sc->next++], done_cb, sc);
		return;
	}
	finish_client(sc, c, usable);
}

static void scenario_init(struct scenario *sc, const char *const *script)
{
	memset(sc, 0, sizeof(*sc));
	sc->loop = loop_new();
	atomic_init(&sc->server_done, script == NULL);
	sc->host = "mx.test";
	sc->opts.helo_name = "client.test";
	sc->opts.timeout = 5;
	sc->opts.connect_timeout = 5;
	sc->addr.sin_family = AF_INET;
	sc->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sc->srv.fd = -1;
	sc->srv.lfd = -1;
	sc->srv.sc = sc;
	if (script == NULL)
		return;
	sc->has_srv = true;
	sc->srv.script = script;
	sc->srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(sc->srv.lfd >= 0);
	assert_int_equal(bind(sc->srv.lfd, (struct sockaddr *)&sc->addr, sizeof(sc->addr)), 0);
	assert_int_equal(listen(sc->srv.lfd, 4), 0);
	socklen_t len = sizeof(sc->addr);
	assert_int_equal(getsockname(sc->srv.lfd, (struct sockaddr *)&sc->addr, &len), 0);
}

/* Connect, run everything, and check that both sides did what they should
 * have (the server's script; one ready callback, one done per message). */
static void scenario_run(struct scenario *sc)
{
	sc->deadline = now_ms() + TEST_TIMEOUT_MS;
	loop_on_tick(sc->loop, tick, sc);
	if (sc->has_srv)
		assert_int_equal(pthread_create(&sc->srv.th, NULL, fake_run, &sc->srv), 0);
	uint64_t start = now_ms();
	sc->c = smtp_client_connect(sc->loop, (struct sockaddr *)&sc->addr, sizeof(sc->addr),
				    sc->host, &sc->opts, ready_cb, sc);
	assert_non_null(sc->c);
	/* Never a callback from inside smtp_client_connect(). */
	assert_int_equal(sc->ready_calls, 0);
	loop_run(sc->loop);
	uint64_t took = now_ms() - start;
	if (sc->c != NULL)
		smtp_client_abort(sc->c);
	if (sc->has_srv) {
		pthread_join(sc->srv.th, NULL);
		close(sc->srv.lfd);
	}
	loop_free(&sc->loop);
	assert_false(sc->timed_out);
	if (sc->srv.err[0] != '\0')
		fail_msg("fake server: %s", sc->srv.err);
	/* Nothing may wait for a timeout (5 s) unless the test is about one. */
	if (took > 4000)
		fail_msg("scenario took %llu ms", (unsigned long long)took);
	assert_int_equal(sc->ready_calls, 1);
	if (sc->ready_ok)
		assert_int_equal(sc->done_calls, (int)sc->nmsg);
	else
		assert_int_equal(sc->done_calls, 0);
}

static void scenario_free(struct scenario *sc)
{
	for (int i = 0; i < sc->srv.ndata; i++)
		free(sc->srv.data[i]);
}

/* ----- messages ----- */

struct testmsg {
	struct smtp_client_msg m;
	struct smtp_client_rcpt r[4];
};

static int content_fd(const char *content, size_t len)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/msg-XXXXXX", tmpdir);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write_full(fd, content, len), 0);
	return fd;
}

static void msg_init(struct testmsg *t, const char *sender, const char *content)
{
	memset(t, 0, sizeof(*t));
	t->m.sender = sender;
	t->m.rcpts = t->r;
	t->m.fd = content_fd(content, strlen(content));
	t->m.size = strlen(content);
}

static void msg_rcpt(struct testmsg *t, const char *address)
{
	t->r[t->m.nrcpt++].address = address;
}

static void msg_free(struct testmsg *t)
{
	close(t->m.fd);
}

static void expect_status(const struct smtp_client_status *st, int code, const char *enhanced,
			  bool remote, const char *stage, const char *text_part)
{
	if (st->code != code || strcmp(st->enhanced, enhanced) != 0 || st->remote != remote ||
	    (stage != NULL && (st->stage == NULL || strcmp(st->stage, stage) != 0)) ||
	    (text_part != NULL && strstr(st->text, text_part) == NULL))
		fail_msg("status %d %s remote=%d stage=%s text=\"%s\"; want %d %s remote=%d "
			 "stage=%s text with \"%s\"",
			 st->code, st->enhanced, st->remote, st->stage != NULL ? st->stage : "-",
			 st->text, code, enhanced, remote, stage != NULL ? stage : "-",
			 text_part != NULL ? text_part : "");
}

#define GREETING "S:220 mx.test ESMTP fake"
#define EHLO_PLAIN "S:250-mx.test\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SIZE 1000000"
#define EHLO_PIPE                                                                                  \
	"S:250-mx.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"           \
	"250 SIZE 1000000"
#define CONTENT "Subject: hi\r\n\r\nHello.\r\n"

/* ----- tests ----- */

static void test_plain_delivery_one_refused(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    EHLO_PLAIN,
	    "C:MAIL FROM:<sender@client.test> SIZE=23",
	    "S:250 2.1.0 Ok",
	    "C:RCPT TO:<a@mx.test>",
	    "S:250 2.1.5 Ok",
	    "C:RCPT TO:<b@mx.test>",
	    "S:550-5.1.1 <b@mx.test>: Recipient address rejected:\r\n550 5.1.1 User unknown",
	    "C:DATA",
	    "S:354 End data with <CR><LF>.<CR><LF>",
	    "D",
	    "S:250 2.0.0 Ok: queued as ABC",
	    "C:QUIT",
	    "S:221 2.0.0 Bye",
	    "E",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	struct testmsg t;
	msg_init(&t, "sender@client.test", CONTENT);
	msg_rcpt(&t, "a@mx.test");
	msg_rcpt(&t, "b@mx.test");
	sc.msgs[sc.nmsg++] = &t.m;
	scenario_run(&sc);
	assert_true(sc.ready_ok);
	expect_status(&sc.ready_st, 250, "", true, "EHLO", "mx.test");
	assert_true(sc.ehlo.eightbitmime && sc.ehlo.size && !sc.ehlo.pipelining);
	assert_int_equal(sc.res[0], SMTP_CLIENT_OK);
	assert_true(sc.usable_after[0]);
	expect_status(&t.m.status, 250, "2.0.0", true, "end of data", "Ok: queued as ABC");
	expect_status(&t.r[0].status, 250, "2.0.0", true, "end of data", "queued as ABC");
	expect_status(&t.r[1].status, 550, "5.1.1", true, "RCPT TO",
		      "<b@mx.test>: Recipient address rejected: User unknown");
	assert_int_equal(sc.srv.ndata, 1);
	assert_string_equal(sc.srv.data[0], CONTENT ".\r\n");
	assert_null(sc.tls_info[0] ? sc.tls_info : NULL);
	char s[600];
	smtp_client_status_str(&t.r[1].status, s, sizeof(s));
	assert_string_equal(s, "550 5.1.1 <b@mx.test>: Recipient address rejected: User unknown "
			       "(in reply to RCPT TO)");
	msg_free(&t);
	scenario_free(&sc);
}

/* With PIPELINING the whole envelope and DATA go out before any reply: the
 * fake server reads all four commands first and would time out otherwise. */
static void test_pipelining(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    EHLO_PIPE,
	    "C:MAIL FROM:<> SIZE=23",
	    "C:RCPT TO:<a@mx.test>",
	    "C:RCPT TO:<b@mx.test>",
	    "C:RCPT TO:<c@mx.test>",
	    "C:DATA",
	    "S:250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n450 4.2.0 <b@mx.test>: greylisted\r\n"
	    "250 2.1.5 Ok\r\n354 go ahead",
	    "D",
	    "S:250 2.0.0 Ok: queued",
	    "C:QUIT",
	    "S:221 Bye",
	    "E",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	struct testmsg t;
	msg_init(&t, "", CONTENT);
	msg_rcpt(&t, "a@mx.test");
	msg_rcpt(&t, "b@mx.test");
	msg_rcpt(&t, "c@mx.test");
	sc.msgs[sc.nmsg++] = &t.m;
	scenario_run(&sc);
	assert_true(sc.ready_ok);
	assert_true(sc.ehlo.pipelining);
	assert_int_equal(sc.res[0], SMTP_CLIENT_OK);
	expect_status(&t.r[0].status, 250, "2.0.0", true, "end of data", NULL);
	expect_status(&t.r[1].status, 450, "4.2.0", true, "RCPT TO", "greylisted");
	expect_status(&t.r[2].status, 250, "2.0.0", true, "end of data", NULL);
	assert_string_equal(sc.srv.data[0], CONTENT ".\r\n");
	msg_free(&t);
	scenario_free(&sc);
}

static void test_greeting_421(void **state)
{
	(void)state;
	static const char *const script[] = {
	    "S:421-4.3.2 mx.test too busy\r\n421 4.3.2 try again later",
	    "E",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	scenario_run(&sc);
	assert_false(sc.ready_ok);
	expect_status(&sc.ready_st, 421, "4.3.2", true, "greeting",
		      "mx.test too busy try again later");
	assert_false(sc.ready_st.tls);
	scenario_free(&sc);
}

static void test_greeting_554_and_helo_fallback(void **state)
{
	(void)state;
	static const char *const refused[] = {"S:554 5.7.1 no mail from you", "E", NULL};
	struct scenario sc;
	scenario_init(&sc, refused);
	scenario_run(&sc);
	assert_false(sc.ready_ok);
	expect_status(&sc.ready_st, 554, "5.7.1", true, "greeting", "no mail from you");
	scenario_free(&sc);

	/* An old server without EHLO: HELO, and no extensions at all. */
	static const char *const old[] = {
	    "S:220 old.test SMTP",
	    "C:EHLO client.test",
	    "S:502 command not implemented",
	    "C:HELO client.test",
	    "S:250 old.test",
	    "C:MAIL FROM:<s@client.test>",
	    "S:250 ok",
	    "C:RCPT TO:<a@old.test>",
	    "S:250 ok",
	    "C:DATA",
	    "S:354 go",
	    "D",
	    "S:250 ok",
	    "C:QUIT",
	    "S:221 bye",
	    "E",
	    NULL,
	};
	scenario_init(&sc, old);
	struct testmsg t;
	msg_init(&t, "s@client.test", CONTENT);
	msg_rcpt(&t, "a@old.test");
	sc.msgs[sc.nmsg++] = &t.m;
	scenario_run(&sc);
	assert_true(sc.ready_ok);
	expect_status(&sc.ready_st, 250, "", true, "HELO", "old.test");
	assert_int_equal(sc.res[0], SMTP_CLIENT_OK);
	expect_status(&t.r[0].status, 250, "", true, "end of data", "ok");
	msg_free(&t);
	scenario_free(&sc);
}

static void test_rcpt_450(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    EHLO_PLAIN,
	    "C:MAIL FROM:<s@client.test> SIZE=23",
	    "S:250 2.1.0 Ok",
	    "C:RCPT TO:<a@mx.test>",
	    "S:450 4.2.0 <a@mx.test>: Recipient address rejected: Greylisted",
	    "C:RCPT TO:<b@mx.test>",
	    "S:250 2.1.5 Ok",
	    "C:DATA",
	    "S:354 go",
	    "D",
	    "S:250 2.0.0 Ok",
	    "C:QUIT",
	    "S:221 Bye",
	    "E",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	struct testmsg t;
	msg_init(&t, "s@client.test", CONTENT);
	msg_rcpt(&t, "a@mx.test");
	msg_rcpt(&t, "b@mx.test");
	sc.msgs[sc.nmsg++] = &t.m;
	scenario_run(&sc);
	assert_int_equal(sc.res[0], SMTP_CLIENT_OK);
	expect_status(&t.r[0].status, 450, "4.2.0", true, "RCPT TO", "Greylisted");
	expect_status(&t.r[1].status, 250, "2.0.0", true, "end of data", "Ok");
	msg_free(&t);
	scenario_free(&sc);
}

static void test_552_at_end_of_data(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    EHLO_PIPE,
	    "C:MAIL FROM:<s@client.test> SIZE=23",
	    "C:RCPT TO:<a@mx.test>",
	    "C:RCPT TO:<b@mx.test>",
	    "C:DATA",
	    "S:250 Ok\r\n250 Ok\r\n250 Ok\r\n354 go",
	    "D",
	    "S:552 5.3.4 Message size exceeds fixed limit",
	    "C:QUIT",
	    "S:221 Bye",
	    "E",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	struct testmsg t;
	msg_init(&t, "s@client.test", CONTENT);
	msg_rcpt(&t, "a@mx.test");
	msg_rcpt(&t, "b@mx.test");
	sc.msgs[sc.nmsg++] = &t.m;
	scenario_run(&sc);
	/* The transaction ran to its end; both recipients got the 552. */
	assert_int_equal(sc.res[0], SMTP_CLIENT_OK);
	assert_true(sc.usable_after[0]);
	expect_status(&t.m.status, 552, "5.3.4", true, "end of data", "exceeds fixed limit");
	expect_status(&t.r[0].status, 552, "5.3.4", true, "end of data", NULL);
	expect_status(&t.r[1].status, 552, "5.3.4", true, "end of data", NULL);
	msg_free(&t);
	scenario_free(&sc);
}

/* Lines starting with "." get another "."; a message not ending in CRLF
 * gets one before the end marker; the prefix goes first, stuffed too; a
 * smuggled "<CRLF>.<CRLF>" inside the content stays content. */
static void test_dot_stuffing(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    EHLO_PIPE,
	    "C:MAIL FROM:<s@client.test> SIZE=*",
	    "C:RCPT TO:<a@mx.test>",
	    "C:DATA",
	    "S:250 Ok\r\n250 Ok\r\n354 go",
	    "D",
	    "S:250 2.0.0 Ok",
	    "C:MAIL FROM:<s@client.test> SIZE=0",
	    "C:RCPT TO:<a@mx.test>",
	    "C:DATA",
	    "S:250 Ok\r\n250 Ok\r\n354 go",
	    "D",
	    "S:250 2.0.0 Ok",
	    "C:QUIT",
	    "S:221 Bye",
	    "E",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	struct testmsg t, empty;
	msg_init(&t, "s@client.test",
		 ".leading\r\n..two\r\nmid.dle\r\n.\r\nMAIL FROM:<evil@x>\r\n\r\n.\r\n.end");
	t.m.prefix = ".DKIM-Signature: v=1\r\n";
	t.m.prefix_len = strlen(t.m.prefix);
	msg_rcpt(&t, "a@mx.test");
	msg_init(&empty, "s@client.test", "");
	msg_rcpt(&empty, "a@mx.test");
	sc.msgs[sc.nmsg++] = &t.m;
	sc.msgs[sc.nmsg++] = &empty.m;
	scenario_run(&sc);
	assert_int_equal(sc.res[0], SMTP_CLIENT_OK);
	assert_int_equal(sc.res[1], SMTP_CLIENT_OK);
	assert_int_equal(sc.srv.ndata, 2);
	assert_string_equal(sc.srv.data[0], "..DKIM-Signature: v=1\r\n"
					    "..leading\r\n...two\r\nmid.dle\r\n..\r\n"
					    "MAIL FROM:<evil@x>\r\n\r\n..\r\n..end\r\n.\r\n");
	assert_string_equal(sc.srv.data[1], ".\r\n");
	msg_free(&t);
	msg_free(&empty);
	scenario_free(&sc);
}

/* SIZE: a message larger than the server's limit is refused locally, with
 * nothing sent; the connection stays usable. */
static void test_size_refusal(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING, "C:EHLO client.test", "S:250-mx.test\r\n250-PIPELINING\r\n250 SIZE 20",
	    "C:QUIT", "S:221 Bye",	    "E",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	struct testmsg t;
	msg_init(&t, "s@client.test", CONTENT);
	msg_rcpt(&t, "a@mx.test");
	msg_rcpt(&t, "b@mx.test");
	sc.msgs[sc.nmsg++] = &t.m;
	scenario_run(&sc);
	assert_int_equal(sc.ehlo.size_max, 20);
	assert_int_equal(sc.res[0], SMTP_CLIENT_PERMFAIL);
	assert_true(sc.usable_after[0]);
	expect_status(&t.m.status, 552, "5.3.4", false, "local", "exceeds size limit 20");
	expect_status(&t.r[0].status, 552, "5.3.4", false, "local", NULL);
	expect_status(&t.r[1].status, 552, "5.3.4", false, "local", NULL);
	msg_free(&t);
	scenario_free(&sc);
}

/* Three messages on one connection: the first has every recipient refused
 * (its transaction stays open, so RSET comes before the second); the third
 * follows a complete transaction and needs no RSET. */
static void test_connection_reuse(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    EHLO_PLAIN,
	    "C:MAIL FROM:<one@client.test> SIZE=23",
	    "S:250 2.1.0 Ok",
	    "C:RCPT TO:<x@mx.test>",
	    "S:550 5.1.1 no such user",
	    "C:RSET",
	    "S:250 2.0.0 Ok",
	    "C:MAIL FROM:<two@client.test> SIZE=23",
	    "S:250 2.1.0 Ok",
	    "C:RCPT TO:<a@mx.test>",
	    "S:250 2.1.5 Ok",
	    "C:DATA",
	    "S:354 go",
	    "D",
	    "S:250 2.0.0 Ok: queued as 2",
	    "C:MAIL FROM:<three@client.test> SIZE=23",
	    "S:250 2.1.0 Ok",
	    "C:RCPT TO:<b@mx.test>",
	    "S:250 2.1.5 Ok",
	    "C:DATA",
	    "S:354 go",
	    "D",
	    "S:250 2.0.0 Ok: queued as 3",
	    "C:QUIT",
	    "S:221 Bye",
	    "E",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	struct testmsg m1, m2, m3;
	msg_init(&m1, "one@client.test", CONTENT);
	msg_rcpt(&m1, "x@mx.test");
	msg_init(&m2, "two@client.test", CONTENT);
	msg_rcpt(&m2, "a@mx.test");
	msg_init(&m3, "three@client.test", CONTENT);
	msg_rcpt(&m3, "b@mx.test");
	sc.msgs[sc.nmsg++] = &m1.m;
	sc.msgs[sc.nmsg++] = &m2.m;
	sc.msgs[sc.nmsg++] = &m3.m;
	scenario_run(&sc);
	assert_int_equal(sc.res[0], SMTP_CLIENT_OK);
	expect_status(&m1.r[0].status, 550, "5.1.1", true, "RCPT TO", "no such user");
	assert_int_equal(sc.res[1], SMTP_CLIENT_OK);
	expect_status(&m2.r[0].status, 250, "2.0.0", true, "end of data", "queued as 2");
	assert_int_equal(sc.res[2], SMTP_CLIENT_OK);
	expect_status(&m3.r[0].status, 250, "2.0.0", true, "end of data", "queued as 3");
	assert_int_equal(sc.srv.ndata, 2);
	msg_free(&m1);
	msg_free(&m2);
	msg_free(&m3);
	scenario_free(&sc);
}

/* Pipelined: MAIL refused, so the RCPTs and DATA fail too; everyone gets
 * the MAIL reply. Then a server that accepts DATA although it refused every
 * recipient: the client ends the data at once with ".". */
static void test_pipelined_refusals(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    EHLO_PIPE,
	    "C:MAIL FROM:<s@client.test> SIZE=23",
	    "C:RCPT TO:<a@mx.test>",
	    "C:RCPT TO:<b@mx.test>",
	    "C:DATA",
	    "S:550 5.7.1 sender blocked\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n"
	    "503 5.5.1 need MAIL",
	    "C:MAIL FROM:<s@client.test> SIZE=23",
	    "C:RCPT TO:<a@mx.test>",
	    "C:DATA",
	    "S:250 Ok\r\n550 5.1.1 unknown\r\n354 go",
	    "C:.",
	    "S:554 5.5.1 no valid recipients",
	    "C:MAIL FROM:<s@client.test> SIZE=23",
	    "C:RCPT TO:<a@mx.test>",
	    "C:DATA",
	    "S:250 Ok\r\n451 4.3.0 try later\r\n554 5.5.1 no valid recipients",
	    "C:RSET",
	    "C:MAIL FROM:<s@client.test> SIZE=23",
	    "C:RCPT TO:<a@mx.test>",
	    "C:DATA",
	    "S:250 Ok\r\n250 Ok\r\n250 Ok\r\n354 go",
	    "D",
	    "S:250 2.0.0 Ok",
	    "C:QUIT",
	    "S:221 Bye",
	    "E",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	struct testmsg m1, m2, m3, m4;
	msg_init(&m1, "s@client.test", CONTENT);
	msg_rcpt(&m1, "a@mx.test");
	msg_rcpt(&m1, "b@mx.test");
	msg_init(&m2, "s@client.test", CONTENT);
	msg_rcpt(&m2, "a@mx.test");
	msg_init(&m3, "s@client.test", CONTENT);
	msg_rcpt(&m3, "a@mx.test");
	msg_init(&m4, "s@client.test", CONTENT);
	msg_rcpt(&m4, "a@mx.test");
	sc.msgs[sc.nmsg++] = &m1.m;
	sc.msgs[sc.nmsg++] = &m2.m;
	sc.msgs[sc.nmsg++] = &m3.m;
	sc.msgs[sc.nmsg++] = &m4.m;
	scenario_run(&sc);
	assert_int_equal(sc.res[0], SMTP_CLIENT_PERMFAIL);
	expect_status(&m1.m.status, 550, "5.7.1", true, "MAIL FROM", "sender blocked");
	expect_status(&m1.r[0].status, 550, "5.7.1", true, "MAIL FROM", NULL);
	expect_status(&m1.r[1].status, 550, "5.7.1", true, "MAIL FROM", NULL);
	assert_int_equal(sc.res[1], SMTP_CLIENT_OK);
	expect_status(&m2.r[0].status, 550, "5.1.1", true, "RCPT TO", "unknown");
	/* Third: the RCPT got 451, DATA was refused; the transaction was
	 * left open, so the fourth starts with a pipelined RSET. */
	assert_int_equal(sc.res[2], SMTP_CLIENT_OK);
	expect_status(&m3.r[0].status, 451, "4.3.0", true, "RCPT TO", "try later");
	assert_int_equal(sc.res[3], SMTP_CLIENT_OK);
	expect_status(&m4.r[0].status, 250, "2.0.0", true, "end of data", NULL);
	assert_int_equal(sc.srv.ndata, 1);
	msg_free(&m1);
	msg_free(&m2);
	msg_free(&m3);
	msg_free(&m4);
	scenario_free(&sc);
}

static void test_peer_closes_mid_transaction(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    EHLO_PLAIN,
	    "C:MAIL FROM:<s@client.test> SIZE=23",
	    "S:250 2.1.0 Ok",
	    "C:RCPT TO:<a@mx.test>",
	    "S:250 2.1.5 Ok",
	    "C:RCPT TO:<b@mx.test>",
	    "S:550 5.1.1 unknown",
	    "C:DATA",
	    "X",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	struct testmsg t;
	msg_init(&t, "s@client.test", CONTENT);
	msg_rcpt(&t, "a@mx.test");
	msg_rcpt(&t, "b@mx.test");
	sc.msgs[sc.nmsg++] = &t.m;
	scenario_run(&sc);
	assert_int_equal(sc.done_calls, 1);
	assert_int_equal(sc.res[0], SMTP_CLIENT_TEMPFAIL);
	assert_false(sc.usable_after[0]);
	expect_status(&t.m.status, 421, "4.4.2", false, "DATA", "lost connection with mx.test[");
	expect_status(&t.r[0].status, 421, "4.4.2", false, "DATA", NULL);
	/* The refusal that came before stays that recipient's answer. */
	expect_status(&t.r[1].status, 550, "5.1.1", true, "RCPT TO", NULL);
	msg_free(&t);
	scenario_free(&sc);
}

static void test_421_mid_transaction(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    EHLO_PIPE,
	    "C:MAIL FROM:<s@client.test> SIZE=23",
	    "C:RCPT TO:<a@mx.test>",
	    "C:DATA",
	    "S:250 Ok\r\n421 4.7.0 mx.test Error: too many errors",
	    "E",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	struct testmsg t;
	msg_init(&t, "s@client.test", CONTENT);
	msg_rcpt(&t, "a@mx.test");
	sc.msgs[sc.nmsg++] = &t.m;
	scenario_run(&sc);
	assert_int_equal(sc.res[0], SMTP_CLIENT_TEMPFAIL);
	assert_false(sc.usable_after[0]);
	expect_status(&t.m.status, 421, "4.7.0", true, "RCPT TO", "too many errors");
	expect_status(&t.r[0].status, 421, "4.7.0", true, "RCPT TO", NULL);
	msg_free(&t);
	scenario_free(&sc);
}

static void test_malformed_reply(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING, "C:EHLO client.test", "S:250-mx.test\r\n251 mixed", "E", NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	scenario_run(&sc);
	assert_false(sc.ready_ok);
	expect_status(&sc.ready_st, 421, "4.5.0", false, "EHLO",
		      "different codes in one multi-line reply");
	scenario_free(&sc);
}

/* 8-bit and SMTPUTF8 content to a server that cannot take it fails for
 * good, locally; non-ASCII recipients alone are refused one by one. */
static void test_8bit_and_smtputf8_refusals(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    "S:250-mx.test\r\n250 PIPELINING",
	    "C:MAIL FROM:<s@client.test>",
	    "C:RCPT TO:<ascii@mx.test>",
	    "C:DATA",
	    "S:250 Ok\r\n250 Ok\r\n354 go",
	    "D",
	    "S:250 Ok",
	    "C:QUIT",
	    "S:221 Bye",
	    "E",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	struct testmsg m1, m2, m3;
	msg_init(&m1, "s@client.test", "Subject: caf\xc3\xa9\r\n\r\n");
	m1.m.body_8bit = true;
	msg_rcpt(&m1, "a@mx.test");
	msg_init(&m2, "s@client.test", CONTENT);
	m2.m.smtputf8 = true;
	msg_rcpt(&m2, "a@mx.test");
	msg_init(&m3, "s@client.test", CONTENT);
	msg_rcpt(&m3, "j\xc3\xb6rg@mx.test");
	msg_rcpt(&m3, "ascii@mx.test");
	msg_rcpt(&m3, "bad\r\nRCPT TO:<injected@x>");
	sc.msgs[sc.nmsg++] = &m1.m;
	sc.msgs[sc.nmsg++] = &m2.m;
	sc.msgs[sc.nmsg++] = &m3.m;
	scenario_run(&sc);
	assert_int_equal(sc.res[0], SMTP_CLIENT_PERMFAIL);
	expect_status(&m1.r[0].status, 554, "5.6.3", false, "local", "8BITMIME");
	assert_int_equal(sc.res[1], SMTP_CLIENT_PERMFAIL);
	expect_status(&m2.r[0].status, 554, "5.6.7", false, "local", "SMTPUTF8");
	assert_int_equal(sc.res[2], SMTP_CLIENT_OK);
	expect_status(&m3.r[0].status, 553, "5.6.7", false, "local", "SMTPUTF8");
	expect_status(&m3.r[1].status, 250, "", true, "end of data", "Ok");
	expect_status(&m3.r[2].status, 553, "5.1.3", false, "local", "invalid recipient");
	msg_free(&m1);
	msg_free(&m2);
	msg_free(&m3);
	scenario_free(&sc);
}

/* ESMTP parameters when the server offers them: BODY=8BITMIME, SMTPUTF8,
 * and DSN's RET/ENVID/NOTIFY/ORCPT with xtext. Without DSN, no DSN
 * parameters. */
static void test_esmtp_parameters(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    "S:250-mx.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n250 SIZE",
	    "C:MAIL FROM:<s@client.test> SIZE=21 BODY=8BITMIME SMTPUTF8 RET=HDRS "
	    "ENVID=Q+2B1+3Dx",
	    "S:250 Ok",
	    "C:RCPT TO:<j\xc3\xb6rg@mx.test> NOTIFY=SUCCESS,FAILURE "
	    "ORCPT=rfc822;j+C3+B6rg+2Bx@mx.test",
	    "S:250 Ok",
	    "C:RCPT TO:<b@mx.test> NOTIFY=NEVER ORCPT=rfc822;b@mx.test",
	    "S:250 Ok",
	    "C:DATA",
	    "S:354 go",
	    "D",
	    "S:250 Ok",
	    "C:QUIT",
	    "S:221 Bye",
	    "E",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	struct testmsg t;
	msg_init(&t, "s@client.test", "Subject: caf\xc3\xa9\r\n\r\nx\r\n");
	t.m.body_8bit = true;
	t.m.smtputf8 = true;
	t.m.ret = "HDRS";
	t.m.envid = "Q+1=x";
	msg_rcpt(&t, "j\xc3\xb6rg@mx.test");
	t.r[0].notify = "SUCCESS,FAILURE";
	t.r[0].orcpt = "rfc822;j\xc3\xb6rg+x@mx.test";
	msg_rcpt(&t, "b@mx.test");
	t.r[1].notify = "NEVER";
	t.r[1].orcpt = "b@mx.test";
	sc.msgs[sc.nmsg++] = &t.m;
	scenario_run(&sc);
	assert_int_equal(sc.res[0], SMTP_CLIENT_OK);
	expect_status(&t.r[0].status, 250, "", true, "end of data", NULL);
	expect_status(&t.r[1].status, 250, "", true, "end of data", NULL);
	msg_free(&t);
	scenario_free(&sc);

	char x[16];
	assert_int_equal(smtp_xtext_encode("a+b=c d", x, sizeof(x)), 13);
	assert_string_equal(x, "a+2Bb+3Dc+20d");
	/* Cut to fit, never inside an escape. */
	assert_int_equal(smtp_xtext_encode("abc+", x, 6), 6);
	assert_string_equal(x, "abc");
}

static void test_connect_refused(void **state)
{
	(void)state;
	struct scenario sc;
	scenario_init(&sc, NULL);
	/* A port nobody listens on: bind one, note it, close it. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sc.addr, sizeof(sc.addr)), 0);
	socklen_t len = sizeof(sc.addr);
	getsockname(s, (struct sockaddr *)&sc.addr, &len);
	close(s);
	scenario_run(&sc);
	assert_false(sc.ready_ok);
	expect_status(&sc.ready_st, 421, "4.4.1", false, "connect", "Connection refused");
	assert_true(strstr(sc.ready_st.text, "connect to mx.test[127.0.0.1]:") != NULL);
	scenario_free(&sc);
}

static void test_misconfigured(void **state)
{
	(void)state;
	struct scenario sc;
	scenario_init(&sc, NULL);
	sc.addr.sin_port = htons(9); /* never connected to */
	sc.opts.tls_required = true; /* without a TLS context */
	scenario_run(&sc);
	assert_false(sc.ready_ok);
	expect_status(&sc.ready_st, 451, "4.3.5", false, "connect", "misconfigured");
	scenario_free(&sc);

	scenario_init(&sc, NULL);
	sc.addr.sin_port = htons(9);
	sc.opts.helo_name = "bad\r\nRSET";
	scenario_run(&sc);
	assert_false(sc.ready_ok);
	expect_status(&sc.ready_st, 451, "4.3.5", false, "connect", "bad HELO name");
	scenario_free(&sc);
}

static void test_timeout(void **state)
{
	(void)state;
	static const char *const script[] = {"P:2500", "E", NULL};
	struct scenario sc;
	scenario_init(&sc, script);
	sc.opts.timeout = 1;
	uint64_t start = now_ms();
	scenario_run(&sc);
	uint64_t took = now_ms() - start;
	assert_false(sc.ready_ok);
	expect_status(&sc.ready_st, 421, "4.4.2", false, "greeting",
		      "timed out while receiving the initial server greeting");
	assert_true(took >= 900);
	scenario_free(&sc);
}

/* A message far larger than the socket buffers: streamed in pieces,
 * dot-stuffed across piece boundaries, and arriving intact. */
static void test_large_message(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    EHLO_PIPE,
	    "C:MAIL FROM:<s@client.test> SIZE=*",
	    "C:RCPT TO:<a@mx.test>",
	    "C:DATA",
	    "S:250 Ok\r\n250 Ok\r\n354 go",
	    "P:300", /* let the client fill its buffers */
	    "D",
	    "S:250 Ok",
	    "C:QUIT",
	    "S:221 Bye",
	    "E",
	    NULL,
	};
	size_t len = 200 * 1024;
	char *content = malloc(len + 1);
	uint32_t rng = 12345;
	size_t o = 0;
	while (o < len) {
		rng = rng * 1103515245u + 12345u;
		size_t linelen = (rng >> 16) % 120;
		if (o + linelen + 2 > len)
			linelen = len - o - 2;
		for (size_t i = 0; i < linelen; i++) {
			rng = rng * 1103515245u + 12345u;
			content[o + i] =
			    (rng >> 16) % 5 == 0 ? '.' : (char)('a' + (rng >> 16) % 26);
		}
		o += linelen;
		content[o++] = '\r';
		content[o++] = '\n';
	}
	content[len] = '\0';
	/* The fake server's buffer holds 256 KB: stay below with stuffing. */
	struct scenario sc;
	scenario_init(&sc, script);
	struct testmsg t;
	msg_init(&t, "s@client.test", content);
	msg_rcpt(&t, "a@mx.test");
	sc.msgs[sc.nmsg++] = &t.m;
	scenario_run(&sc);
	assert_int_equal(sc.res[0], SMTP_CLIENT_OK);
	assert_int_equal(sc.srv.ndata, 1);
	/* Undo the stuffing and compare. */
	const char *d = sc.srv.data[0];
	size_t dl = sc.srv.dlen[0];
	assert_true(dl >= 3 && memcmp(d + dl - 3, ".\r\n", 3) == 0);
	char *back = malloc(dl);
	size_t b = 0;
	bool bol = true;
	for (size_t i = 0; i < dl - 3; i++) {
		if (bol && d[i] == '.') {
			assert_int_equal(d[i + 1], '.');
			i++;
		}
		back[b++] = d[i];
		bol = d[i] == '\n';
	}
	assert_int_equal(b, len);
	assert_memory_equal(back, content, len);
	free(back);
	free(content);
	msg_free(&t);
	scenario_free(&sc);
}

/* A message file shorter than announced: the transaction is abandoned
 * without the end marker, so a truncated message is never delivered. */
static void test_short_file(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    EHLO_PIPE,
	    "C:MAIL FROM:<s@client.test> SIZE=1000",
	    "C:RCPT TO:<a@mx.test>",
	    "C:DATA",
	    "S:250 Ok\r\n250 Ok\r\n354 go",
	    "D!",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	struct testmsg t;
	msg_init(&t, "s@client.test", CONTENT);
	t.m.size = 1000;
	msg_rcpt(&t, "a@mx.test");
	sc.msgs[sc.nmsg++] = &t.m;
	scenario_run(&sc);
	assert_int_equal(sc.res[0], SMTP_CLIENT_TEMPFAIL);
	assert_false(sc.usable_after[0]);
	expect_status(&t.m.status, 451, "4.3.0", false, "message body", "shorter than expected");
	expect_status(&t.r[0].status, 451, "4.3.0", false, "message body", NULL);
	/* Whatever part went out, the end marker did not ("D!" checks). */
	assert_int_equal(sc.srv.ndata, 1);
	msg_free(&t);
	scenario_free(&sc);
}

/* STARTTLS with the test's self-signed certificate, verification not
 * required: TLS is used, the certificate reported as unverified, and the
 * EHLO after TLS counts (its AUTH), not the one before. */
static void test_starttls_unverified(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    "S:250-mx.test\r\n250-STARTTLS\r\n250 PIPELINING",
	    "C:STARTTLS",
	    "S:220 2.0.0 Ready to start TLS",
	    "T",
	    "C:EHLO client.test",
	    "S:250-mx.test\r\n250-PIPELINING\r\n250 8BITMIME",
	    "C:MAIL FROM:<s@client.test>",
	    "C:RCPT TO:<a@mx.test>",
	    "C:DATA",
	    "S:250 Ok\r\n250 Ok\r\n354 go",
	    "D",
	    "S:250 2.0.0 Ok",
	    "C:QUIT",
	    "S:221 Bye",
	    "E",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	sc.opts.tls = tls_untrusting;
	struct testmsg t;
	msg_init(&t, "s@client.test", CONTENT);
	msg_rcpt(&t, "a@mx.test");
	sc.msgs[sc.nmsg++] = &t.m;
	scenario_run(&sc);
	assert_true(sc.ready_ok);
	assert_false(sc.ehlo.starttls);
	assert_true(sc.ehlo.eightbitmime);
	assert_int_equal(sc.res[0], SMTP_CLIENT_OK);
	expect_status(&t.r[0].status, 250, "2.0.0", true, "end of data", NULL);
	if (strstr(sc.tls_info, "TLSv1.") == NULL || strstr(sc.tls_info, " unverified (") == NULL)
		fail_msg("tls_info \"%s\"", sc.tls_info);
	msg_free(&t);
	scenario_free(&sc);
}

/* TLS required with verification: the self-signed certificate fails the
 * handshake, and the failure says so. */
static void test_starttls_verify_fails(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    "S:250-mx.test\r\n250 STARTTLS",
	    "C:STARTTLS",
	    "S:220 2.0.0 Ready to start TLS",
	    "T!",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	sc.opts.tls = tls_untrusting;
	sc.opts.tls_required = true;
	sc.opts.tls_verify = true;
	scenario_run(&sc);
	assert_false(sc.ready_ok);
	assert_true(sc.ready_st.tls);
	expect_status(&sc.ready_st, 421, "4.7.5", false, "TLS", "certificate verification failed");
	scenario_free(&sc);
}

/* The same certificate, trusted: verified, for the right name only. */
static void test_starttls_verified(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    "S:250-mx.test\r\n250 STARTTLS",
	    "C:STARTTLS",
	    "S:220 2.0.0 Ready to start TLS",
	    "T",
	    "C:EHLO client.test",
	    "S:250 mx.test",
	    "C:QUIT",
	    "S:221 Bye",
	    "E",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	sc.opts.tls = tls_trusting;
	sc.opts.tls_required = true;
	sc.opts.tls_verify = true;
	scenario_run(&sc);
	assert_true(sc.ready_ok);
	if (strstr(sc.tls_info, " verified") == NULL || strstr(sc.tls_info, "unverified") != NULL)
		fail_msg("tls_info \"%s\"", sc.tls_info);
	scenario_free(&sc);

	/* Another name: the trusted certificate does not match it. */
	static const char *const wrong_name[] = {
	    GREETING,
	    "C:EHLO client.test",
	    "S:250-mx.test\r\n250 STARTTLS",
	    "C:STARTTLS",
	    "S:220 2.0.0 Ready to start TLS",
	    "T!",
	    NULL,
	};
	scenario_init(&sc, wrong_name);
	sc.host = "other.test";
	sc.opts.tls = tls_trusting;
	sc.opts.tls_required = true;
	sc.opts.tls_verify = true;
	scenario_run(&sc);
	assert_false(sc.ready_ok);
	expect_status(&sc.ready_st, 421, "4.7.5", false, "TLS", "hostname mismatch");
	scenario_free(&sc);
}

/* TLS required: a server without STARTTLS, or refusing it, is not used. */
static void test_tls_required_not_offered(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING, "C:EHLO client.test", EHLO_PIPE, "E", NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	sc.opts.tls = tls_untrusting;
	sc.opts.tls_required = true;
	scenario_run(&sc);
	assert_false(sc.ready_ok);
	assert_true(sc.ready_st.tls);
	expect_status(&sc.ready_st, 421, "4.7.4", false, "EHLO", "TLS is required");
	scenario_free(&sc);

	static const char *const refused[] = {
	    GREETING,
	    "C:EHLO client.test",
	    "S:250-mx.test\r\n250 STARTTLS",
	    "C:STARTTLS",
	    "S:454 4.7.0 TLS not available due to local problem",
	    "E",
	    NULL,
	};
	scenario_init(&sc, refused);
	sc.opts.tls = tls_untrusting;
	sc.opts.tls_required = true;
	scenario_run(&sc);
	assert_false(sc.ready_ok);
	assert_true(sc.ready_st.tls);
	expect_status(&sc.ready_st, 454, "4.7.0", true, "STARTTLS", "TLS not available");
	scenario_free(&sc);

	/* Not required: a refusal means going on in plaintext. */
	static const char *const optional[] = {
	    GREETING,
	    "C:EHLO client.test",
	    "S:250-mx.test\r\n250 STARTTLS",
	    "C:STARTTLS",
	    "S:454 4.7.0 TLS not available due to local problem",
	    "C:QUIT",
	    "S:221 Bye",
	    "E",
	    NULL,
	};
	scenario_init(&sc, optional);
	sc.opts.tls = tls_untrusting;
	scenario_run(&sc);
	assert_true(sc.ready_ok);
	assert_int_equal(sc.tls_info[0], '\0');
	scenario_free(&sc);
}

/* The server must not get ahead of the handshake: bytes it sends right
 * after its 220 to STARTTLS are dropped, never read as replies. */
static void test_starttls_injection(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    "S:250-mx.test\r\n250 STARTTLS",
	    "C:STARTTLS",
	    "S:220 2.0.0 Ready to start TLS\r\n250-injected\r\n250 AUTH PLAIN",
	    "T",
	    "C:EHLO client.test",
	    "S:250-mx.test\r\n250 SIZE 1000",
	    "C:QUIT",
	    "S:221 Bye",
	    "E",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	sc.opts.tls = tls_untrusting;
	scenario_run(&sc);
	assert_true(sc.ready_ok);
	assert_false(sc.ehlo.auth);
	assert_int_equal(sc.ehlo.size_max, 1000);
	scenario_free(&sc);
}

static void test_auth(void **state)
{
	(void)state;
	/* PLAIN with an initial response, under STARTTLS. */
	static const char *const plain[] = {
	    GREETING,
	    "C:EHLO client.test",
	    "S:250-mx.test\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS",
	    "C:STARTTLS",
	    "S:220 go",
	    "T",
	    "C:EHLO client.test",
	    "S:250-mx.test\r\n250 AUTH LOGIN PLAIN",
	    "C:AUTH PLAIN AGpvZUBleGFtcGxlLm9yZwBzM2NyZXQ=",
	    "S:235 2.7.0 Authentication successful",
	    "C:QUIT",
	    "S:221 Bye",
	    "E",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, plain);
	sc.opts.tls = tls_untrusting;
	sc.opts.auth_user = "joe@example.org";
	sc.opts.auth_pass = "s3cret";
	scenario_run(&sc);
	assert_true(sc.ready_ok);
	scenario_free(&sc);

	/* LOGIN when only that is offered; implicit TLS. */
	static const char *const login[] = {
	    "T",
	    GREETING,
	    "C:EHLO client.test",
	    "S:250-mx.test\r\n250 AUTH=LOGIN",
	    "C:AUTH LOGIN",
	    "S:334 VXNlcm5hbWU6",
	    "C:am9lQGV4YW1wbGUub3Jn",
	    "S:334 UGFzc3dvcmQ6",
	    "C:czNjcmV0",
	    "S:535 5.7.8 Authentication credentials invalid",
	    "E",
	    NULL,
	};
	scenario_init(&sc, login);
	sc.opts.tls = tls_untrusting;
	sc.opts.implicit_tls = true;
	sc.opts.auth_user = "joe@example.org";
	sc.opts.auth_pass = "s3cret";
	scenario_run(&sc);
	assert_false(sc.ready_ok);
	expect_status(&sc.ready_st, 535, "5.7.8", true, "AUTH", "credentials invalid");
	assert_true(strstr(sc.tls_info, "TLSv1.") != NULL);
	scenario_free(&sc);

	/* Never in plaintext. */
	static const char *const clear[] = {
	    GREETING, "C:EHLO client.test", "S:250-mx.test\r\n250 AUTH PLAIN", "E", NULL,
	};
	scenario_init(&sc, clear);
	sc.opts.auth_user = "joe@example.org";
	sc.opts.auth_pass = "s3cret";
	scenario_run(&sc);
	assert_false(sc.ready_ok);
	expect_status(&sc.ready_st, 421, "4.7.0", false, "AUTH", "without TLS");
	scenario_free(&sc);
}

/* An idle connection that the server closes: no callback, and the next
 * message fails at once with a temporary status. */
/* A reply in the middle of the content (here right behind the 354): the
 * server gave up on the message. It is the recipients' answer, and the
 * connection, out of step now, is closed without the end marker. */
static void test_reply_during_content(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,
	    "C:EHLO client.test",
	    EHLO_PIPE,
	    "C:MAIL FROM:<s@client.test> SIZE=23",
	    "C:RCPT TO:<a@mx.test>",
	    "C:DATA",
	    "S:250 Ok\r\n250 Ok\r\n354 go\r\n554 5.7.1 changed my mind",
	    "D!",
	    NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	struct testmsg t;
	msg_init(&t, "s@client.test", CONTENT);
	msg_rcpt(&t, "a@mx.test");
	sc.msgs[sc.nmsg++] = &t.m;
	scenario_run(&sc);
	assert_int_equal(sc.res[0], SMTP_CLIENT_OK);
	assert_false(sc.usable_after[0]);
	expect_status(&t.r[0].status, 554, "5.7.1", true, "end of data", "changed my mind");
	msg_free(&t);
	scenario_free(&sc);
}

static void test_idle_close_then_send(void **state)
{
	(void)state;
	static const char *const script[] = {
	    GREETING,	"C:EHLO client.test",
	    EHLO_PLAIN, "S:421 4.4.2 mx.test Error: timeout exceeded",
	    "X",	NULL,
	};
	struct scenario sc;
	scenario_init(&sc, script);
	struct testmsg t;
	msg_init(&t, "s@client.test", CONTENT);
	msg_rcpt(&t, "a@mx.test");
	sc.msgs[sc.nmsg++] = &t.m;
	sc.send_on_tick = true; /* about a second later: the server is gone by then */
	scenario_run(&sc);
	assert_int_equal(sc.res[0], SMTP_CLIENT_TEMPFAIL);
	expect_status(&t.m.status, 421, "4.4.2", true, "idle", "timeout exceeded");
	expect_status(&t.r[0].status, 421, "4.4.2", true, "idle", NULL);
	assert_false(sc.usable_after[0]);
	msg_free(&t);
	scenario_free(&sc);
}

/* ----- interoperability: a real SMTP server (Python's aiosmtpd) ----- */

/* aiosmtpd with STARTTLS (the test certificate), AUTH for joe/s3cret,
 * SMTPUTF8, PIPELINING added to its EHLO reply; refuses refused@...;
 * stores each message as OUT/msgN: sender, recipients, MAIL parameters,
 * authenticated, tls, then the content. Prints its port; ends with stdin. */
static const char aiosmtpd_sink[] =
    "import asyncio, os, socket, ssl, sys\n"
    "from aiosmtpd.controller import Controller\n"
    "from aiosmtpd.smtp import AuthResult, LoginPassword\n"
    "out, cert, key = sys.argv[1], sys.argv[2], sys.argv[3]\n"
    "class H:\n"
    "    async def handle_EHLO(self, server, session, envelope, hostname, responses):\n"
    "        session.host_name = hostname\n"
    "        return responses[:1] + [\"250-PIPELINING\"] + responses[1:]\n"
    "    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):\n"
    "        if address.startswith(\"refused@\"):\n"
    "            return \"550 5.1.1 <%s>: no such user\" % address\n"
    "        envelope.rcpt_tos.append(address)\n"
    "        envelope.rcpt_options.append(rcpt_options)\n"
    "        return \"250 2.1.5 OK\"\n"
    "    async def handle_DATA(self, server, session, envelope):\n"
    "        n = len(os.listdir(out))\n"
    "        tmp = os.path.join(out, \"tmp\")\n"
    "        with open(tmp, \"wb\") as f:\n"
    "            f.write((\"%s\\n%s\\n%s\\n%s\\n%s\\n\" % (envelope.mail_from, "
    "\",\".join(envelope.rcpt_tos),\n"
    "                     \" \".join(envelope.mail_options), session.authenticated,\n"
    "                     \"tls\" if session.ssl else \"plain\")).encode())\n"
    "            f.write(envelope.original_content)\n"
    "        os.rename(tmp, os.path.join(out, \"msg%d\" % n))\n"
    "        return \"250 2.0.0 OK stored\"\n"
    "def auth(server, session, envelope, mechanism, data):\n"
    "    ok = isinstance(data, LoginPassword) and data.login == b\"joe\" and data.password == "
    "b\"s3cret\"\n"
    "    return AuthResult(success=ok)\n"
    "ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)\n"
    "ctx.load_cert_chain(cert, key)\n"
    "s = socket.socket(); s.bind((\"127.0.0.1\", 0)); port = s.getsockname()[1]; s.close()\n"
    "c = Controller(H(), hostname=\"127.0.0.1\", port=port, tls_context=ctx, "
    "enable_SMTPUTF8=True,\n"
    "               authenticator=auth, auth_require_tls=True, server_hostname=\"mx.test\")\n"
    "c.start()\n"
    "print(port, flush=True)\n"
    "sys.stdin.read()\n"
    "c.stop()\n";

struct sink {
	pid_t pid;
	int in_fd;
	unsigned port;
	char dir[300];
};

static bool sink_start(struct sink *k)
{
	snprintf(k->dir, sizeof(k->dir), "%s/sink", tmpdir);
	if (mkdir(k->dir, 0700) < 0)
		return false;
	int in[2], out[2];
	if (pipe(in) < 0 || pipe(out) < 0)
		return false;
	k->pid = fork();
	if (k->pid < 0)
		return false;
	if (k->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0 && getenv("TEST_DEBUG") == NULL)
			dup2(null, 2);
		close(in[1]);
		close(out[0]);
		execl("/usr/bin/python3", "python3", "-c", aiosmtpd_sink, k->dir, cert_path,
		      key_path, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	k->in_fd = in[1];
	char line[32] = "";
	size_t n = 0;
	struct pollfd pfd = {.fd = out[0], .events = POLLIN};
	while (n + 1 < sizeof(line) && poll(&pfd, 1, 10000) == 1) {
		ssize_t r = read(out[0], line + n, sizeof(line) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		line[n] = '\0';
		if (strchr(line, '\n') != NULL)
			break;
	}
	close(out[0]);
	k->port = (unsigned)atoi(line);
	return k->port > 0;
}

static void sink_stop(struct sink *k)
{
	if (k->in_fd >= 0)
		close(k->in_fd);
	k->in_fd = -1;
	if (k->pid > 0)
		waitpid(k->pid, NULL, 0);
	k->pid = 0;
}

static char *read_file(const char *path, size_t *len_r)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	struct stat st;
	fstat(fd, &st);
	char *p = malloc((size_t)st.st_size + 1);
	ssize_t n = read(fd, p, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(p);
		return NULL;
	}
	p[n] = '\0';
	*len_r = (size_t)n;
	return p;
}

/* Check one stored message: the five envelope lines, then the content. */
static void expect_stored(const char *dir, int n, const char *head, const char *content,
			  size_t content_len)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/msg%d", dir, n);
	size_t len;
	char *got = read_file(path, &len);
	if (got == NULL)
		fail_msg("%s was not stored", path);
	size_t hl = strlen(head);
	if (len != hl + content_len || memcmp(got, head, hl) != 0 ||
	    memcmp(got + hl, content, content_len) != 0)
		fail_msg("%s: %zu bytes, want %zu; starts \"%.*s\"", path, len, hl + content_len,
			 (int)(len < 300 ? len : 300), got);
	free(got);
	unlink(path);
}

static void test_aiosmtpd_interop(void **state)
{
	(void)state;
	struct sink k = {.in_fd = -1};
	if (access("/usr/bin/python3", X_OK) != 0 || !sink_start(&k)) {
		sink_stop(&k);
		rmdir(k.dir);
		skip();
	}
	struct scenario sc;
	scenario_init(&sc, NULL);
	sc.addr.sin_port = htons((uint16_t)k.port);
	sc.opts.tls = tls_trusting;
	sc.opts.tls_required = true;
	sc.opts.tls_verify = true;
	sc.opts.auth_user = "joe";
	sc.opts.auth_pass = "s3cret";
	sc.abort_at_end = true;

	/* 8-bit, SMTPUTF8, lines with dots, a prefix, and large enough to
	 * need several writes under TLS. */
	size_t len = 300 * 1024, o = 0;
	char *content = malloc(len + 64);
	o += (size_t)snprintf(content, len, "Subject: caf\xc3\xa9\r\n\r\n.\r\n..\r\n");
	while (o + 80 < len) {
		o += (size_t)snprintf(content + o, len - o, "%s%zu line of text \xe2\x82\xac\r\n",
				      (o / 80) % 3 == 0 ? "." : "", o);
	}
	o += (size_t)snprintf(content + o, 64, ".\r\nend\r\n");
	struct testmsg m1, m2;
	msg_init(&m1, "s@client.test", content);
	m1.m.prefix = "DKIM-Signature: v=1; a=rsa-sha256; d=client.test\r\n";
	m1.m.prefix_len = strlen(m1.m.prefix);
	m1.m.body_8bit = true;
	m1.m.smtputf8 = true;
	msg_rcpt(&m1, "a@mx.test");
	msg_rcpt(&m1, "refused@mx.test");
	msg_rcpt(&m1, "j\xc3\xb6rg@mx.test");
	msg_init(&m2, "", CONTENT);
	msg_rcpt(&m2, "b@mx.test");
	sc.msgs[sc.nmsg++] = &m1.m;
	sc.msgs[sc.nmsg++] = &m2.m;
	scenario_run(&sc);
	sink_stop(&k);
	assert_true(sc.ready_ok);
	assert_true(sc.ehlo.pipelining && sc.ehlo.smtputf8 && sc.ehlo.auth);
	if (strstr(sc.tls_info, " verified") == NULL)
		fail_msg("tls_info \"%s\"", sc.tls_info);
	assert_int_equal(sc.res[0], SMTP_CLIENT_OK);
	expect_status(&m1.r[0].status, 250, "2.0.0", true, "end of data", "OK stored");
	expect_status(&m1.r[1].status, 550, "5.1.1", true, "RCPT TO", "no such user");
	expect_status(&m1.r[2].status, 250, "2.0.0", true, "end of data", NULL);
	assert_int_equal(sc.res[1], SMTP_CLIENT_OK);
	expect_status(&m2.r[0].status, 250, "2.0.0", true, "end of data", NULL);

	char head[400];
	snprintf(head, sizeof(head),
		 "s@client.test\na@mx.test,j\xc3\xb6rg@mx.test\nSIZE=%zu BODY=8BITMIME SMTPUTF8\n"
		 "True\ntls\n",
		 m1.m.prefix_len + o);
	char *full = malloc(m1.m.prefix_len + o);
	memcpy(full, m1.m.prefix, m1.m.prefix_len);
	memcpy(full + m1.m.prefix_len, content, o);
	expect_stored(k.dir, 0, head, full, m1.m.prefix_len + o);
	expect_stored(k.dir, 1, "<>\nb@mx.test\nSIZE=23\nTrue\ntls\n", CONTENT, strlen(CONTENT));
	rmdir(k.dir);
	free(full);
	free(content);
	msg_free(&m1);
	msg_free(&m2);
	scenario_free(&sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_delivery_one_refused),
	    cmocka_unit_test(test_pipelining),
	    cmocka_unit_test(test_greeting_421),
	    cmocka_unit_test(test_greeting_554_and_helo_fallback),
	    cmocka_unit_test(test_rcpt_450),
	    cmocka_unit_test(test_552_at_end_of_data),
	    cmocka_unit_test(test_dot_stuffing),
	    cmocka_unit_test(test_size_refusal),
	    cmocka_unit_test(test_connection_reuse),
	    cmocka_unit_test(test_pipelined_refusals),
	    cmocka_unit_test(test_peer_closes_mid_transaction),
	    cmocka_unit_test(test_421_mid_transaction),
	    cmocka_unit_test(test_malformed_reply),
	    cmocka_unit_test(test_8bit_and_smtputf8_refusals),
	    cmocka_unit_test(test_esmtp_parameters),
	    cmocka_unit_test(test_connect_refused),
	    cmocka_unit_test(test_misconfigured),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_large_message),
	    cmocka_unit_test(test_short_file),
	    cmocka_unit_test(test_starttls_unverified),
	    cmocka_unit_test(test_starttls_verify_fails),
	    cmocka_unit_test(test_starttls_verified),
	    cmocka_unit_test(test_tls_required_not_offered),
	    cmocka_unit_test(test_starttls_injection),
	    cmocka_unit_test(test_auth),
	    cmocka_unit_test(test_reply_during_content),
	    cmocka_unit_test(test_idle_close_then_send),
	    cmocka_unit_test(test_aiosmtpd_interop),
	};
	return cmocka_run_group_tests_name("smtp_client", tests, group_setup, group_teardown);
}
