/* test_config.c - unit tests for the configuration loader (core/config.c):
 * defaults, a file that sets every key, and errors that name the file and
 * line for unknown keys, bad values and broken syntax. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"

static char tmpdir[] = "/tmp/postane-config-XXXXXX";
static char cfgpath[600];

static int setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(cfgpath, sizeof(cfgpath), "%s/postane.conf", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(cfgpath);
	return rmdir(tmpdir);
}

static void write_config(const char *text)
{
	FILE *f = fopen(cfgpath, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Load `text`; expect failure with an error containing every string in
 * the NULL-terminated list. */
static void expect_error(const char *text, ...)
{
	struct config cfg;
	const char *err = NULL;
	write_config(text);
	int r = config_load(cfgpath, &cfg, &err);
	if (r != -1)
		fail_msg("accepted:\n%s", text);
	assert_non_null(err);
	va_list ap;
	va_start(ap, text);
	const char *want;
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (strstr(err, want) == NULL)
			fail_msg("error \"%s\" does not mention \"%s\"", err, want);
	}
	va_end(ap);
	config_free(&cfg);
}

static void expect_ok(const char *text, struct config *cfg)
{
	const char *err = NULL;
	write_config(text);
	if (config_load(cfgpath, cfg, &err) != 0)
		fail_msg("refused: %s\n%s", err, text);
}

static void test_defaults(void **state)
{
	(void)state;
	struct config cfg;
	config_defaults(&cfg);
	assert_string_equal(cfg.hostname, "localhost");
	assert_string_equal(cfg.data_dir, "/var/lib/postane");
	assert_string_equal(cfg.listen, "127.0.0.1");
	assert_int_equal(cfg.ports[LISTENER_SMTP], 25);
	assert_int_equal(cfg.ports[LISTENER_SUBMISSION], 587);
	assert_int_equal(cfg.ports[LISTENER_SUBMISSIONS], 465);
	assert_int_equal(cfg.ports[LISTENER_IMAP], 143);
	assert_int_equal(cfg.ports[LISTENER_IMAPS], 993);
	assert_int_equal(cfg.ports[LISTENER_POP3], 110);
	assert_int_equal(cfg.ports[LISTENER_POP3S], 995);
	assert_int_equal(cfg.ports[LISTENER_HTTP], 80);
	assert_int_equal(cfg.threads, 0);
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_int_equal(cfg.max_message_size, 50u * 1024 * 1024);
	assert_int_equal(cfg.max_recipients, 1000);
	assert_int_equal(cfg.max_errors, 20);
	assert_int_equal(cfg.max_line_length, 2048);
	assert_int_equal(cfg.max_connections, 20000);
	assert_int_equal(cfg.timeout_command, 300);
	assert_int_equal(cfg.timeout_data, 180);
	assert_string_equal(cfg.recipient_delimiter, "+");
	assert_string_equal(cfg.store_backend, "maildir");
	assert_string_equal(cfg.sync_method, "auto");
	assert_string_equal(cfg.tls_cert, "");
	assert_string_equal(cfg.tls_key, "");
	assert_null(cfg.path);
	config_free(&cfg);
	assert_null(cfg.hostname);
	config_free(&cfg); /* again, on the cleared struct */
}

static void test_listener_tables(void **state)
{
	(void)state;
	assert_string_equal(listener_name(LISTENER_SMTP), "smtp");
	assert_string_equal(listener_name(LISTENER_SUBMISSIONS), "submissions");
	assert_string_equal(listener_name(LISTENER_POP3S), "pop3s");
	assert_string_equal(listener_name(LISTENER_HTTP), "http");
	assert_int_equal(listener_standard_port(LISTENER_SUBMISSION), 587);
	assert_int_equal(listener_standard_port(LISTENER_IMAPS), 993);
}

static void test_every_key(void **state)
{
	(void)state;
	struct config cfg;
	expect_ok("; every setting, none at its default\n"
		  "[server]\n"
		  "hostname = mx.example.org\n"
		  "data_dir = /srv/postane\n"
		  "threads = 4\n"
		  "log_level = debug\n"
		  "max_connections = 500\n"
		  "\n"
		  "[listen]\n"
		  "address = 0.0.0.0,::\n"
		  "smtp = 2525\n"
		  "submission = 5870\n"
		  "submissions = 4650\n"
		  "imap = 1430\n"
		  "imaps = 9930\n"
		  "pop3 = 0\n"
		  "pop3s = 9950\n"
		  "http = 8080\n"
		  "\n"
		  "[smtp]\n"
		  "max_message_size = 10485760\n"
		  "max_recipients = 50\n"
		  "max_errors = 5\n"
		  "max_line_length = 4096\n"
		  "timeout_command = 60\n"
		  "timeout_data = 120\n"
		  "recipient_delimiter = -\n"
		  "\n"
		  "[store]\n"
		  "backend = maildir\n"
		  "sync_method = fsync\n"
		  "\n"
		  "# TLS\n"
		  "[tls]\n"
		  "cert = /etc/postane/cert.pem\n"
		  "key = /etc/postane/key.pem\n",
		  &cfg);
	assert_string_equal(cfg.path, cfgpath);
	assert_string_equal(cfg.hostname, "mx.example.org");
	assert_string_equal(cfg.data_dir, "/srv/postane");
	assert_int_equal(cfg.threads, 4);
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(cfg.max_connections, 500);
	assert_string_equal(cfg.listen, "0.0.0.0,::");
	assert_int_equal(cfg.ports[LISTENER_SMTP], 2525);
	assert_int_equal(cfg.ports[LISTENER_SUBMISSION], 5870);
	assert_int_equal(cfg.ports[LISTENER_SUBMISSIONS], 4650);
	assert_int_equal(cfg.ports[LISTENER_IMAP], 1430);
	assert_int_equal(cfg.ports[LISTENER_IMAPS], 9930);
	assert_int_equal(cfg.ports[LISTENER_POP3], 0);
	assert_int_equal(cfg.ports[LISTENER_POP3S], 9950);
	assert_int_equal(cfg.ports[LISTENER_HTTP], 8080);
	assert_int_equal(cfg.max_message_size, 10485760);
	assert_int_equal(cfg.max_recipients, 50);
	assert_int_equal(cfg.max_errors, 5);
	assert_int_equal(cfg.max_line_length, 4096);
	assert_int_equal(cfg.timeout_command, 60);
	assert_int_equal(cfg.timeout_data, 120);
	assert_string_equal(cfg.recipient_delimiter, "-");
	assert_string_equal(cfg.store_backend, "maildir");
	assert_string_equal(cfg.sync_method, "fsync");
	assert_string_equal(cfg.tls_cert, "/etc/postane/cert.pem");
	assert_string_equal(cfg.tls_key, "/etc/postane/key.pem");
	config_free(&cfg);
}

static void test_unset_keys_keep_defaults(void **state)
{
	(void)state;
	struct config cfg;
	expect_ok("[server]\nhostname = mx.example.org\n", &cfg);
	assert_string_equal(cfg.hostname, "mx.example.org");
	assert_string_equal(cfg.data_dir, "/var/lib/postane");
	assert_int_equal(cfg.ports[LISTENER_SMTP], 25);
	assert_int_equal(cfg.max_recipients, 1000);
	assert_string_equal(cfg.sync_method, "auto");
	config_free(&cfg);

	/* An empty file is all defaults. */
	expect_ok("", &cfg);
	assert_string_equal(cfg.hostname, "localhost");
	assert_string_equal(cfg.recipient_delimiter, "+");
	config_free(&cfg);

	/* An empty delimiter turns plus-addressing off; a later key wins. */
	expect_ok("[smtp]\nrecipient_delimiter =\nmax_errors = 3\nmax_errors = 7\n", &cfg);
	assert_string_equal(cfg.recipient_delimiter, "");
	assert_int_equal(cfg.max_errors, 7);
	config_free(&cfg);
}

static void test_log_levels(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		enum log_level level;
	} levels[] = {{"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN},
		      {"error", LOG_ERROR}};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		char text[100];
		struct config cfg;
		snprintf(text, sizeof(text), "[server]\nlog_level = %s\n", levels[i].name);
		expect_ok(text, &cfg);
		assert_int_equal(cfg.log_level, levels[i].level);
		config_free(&cfg);
	}
}

static void test_unknown_keys(void **state)
{
	(void)state;
	expect_error("[server]\nhostname = mx.example.org\nbogus = 1\n", cfgpath, ":3:",
		     "unknown", "bogus", NULL);
	/* Line numbers count comments and blank lines. */
	expect_error("; comment\n\n# another\n[smtp]\n\nmax_errors = 5\nmax_error = 5\n", cfgpath,
		     ":7:", "max_error", NULL);
	/* A known key in the wrong section is unknown there. */
	expect_error("[smtp]\nhostname = mx.example.org\n", cfgpath, ":2:", "[smtp] hostname",
		     NULL);
	/* Unknown section. */
	expect_error("[server]\nthreads = 1\n[imap]\nport = 143\n", cfgpath, ":4:", "[imap] port",
		     NULL);
	/* Keys before any section. */
	expect_error("hostname = mx.example.org\n", cfgpath, ":1:", "hostname", NULL);
	/* The first error is reported, not a later one. */
	expect_error("[server]\nfirst = 1\nsecond = 2\n", cfgpath, ":2:", "first", NULL);
}

static void test_bad_values(void **state)
{
	(void)state;
	static const struct {
		const char *section, *key, *value;
	} bad[] = {
		{"server", "threads", "abc"},
		{"server", "threads", "257"},
		{"server", "threads", "-1"},
		{"server", "threads", ""},
		{"server", "threads", "4 threads"},
		{"server", "log_level", "loud"},
		{"server", "log_level", ""},
		{"server", "max_connections", "0"},
		{"server", "max_connections", "1000001"},
		{"listen", "smtp", "65536"},
		{"listen", "imap", "99999999999999999999999"},
		{"listen", "http", "0x50"},
		{"smtp", "max_message_size", "1023"},
		{"smtp", "max_message_size", "1099511627777"},
		{"smtp", "max_message_size", "18446744073709551616"},
		{"smtp", "max_message_size", "10M"},
		{"smtp", "max_recipients", "0"},
		{"smtp", "max_recipients", "100001"},
		{"smtp", "max_errors", "0"},
		{"smtp", "max_line_length", "511"},
		{"smtp", "max_line_length", "65537"},
		{"smtp", "timeout_command", "0"},
		{"smtp", "timeout_data", "86401"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[300], key[100];
		snprintf(text, sizeof(text), "# bad value\n[%s]\n%s = %s\n", bad[i].section,
			 bad[i].key, bad[i].value);
		snprintf(key, sizeof(key), "[%s] %s", bad[i].section, bad[i].key);
		expect_error(text, cfgpath, ":3:", key, "invalid value", NULL);
	}
}

static void test_value_bounds(void **state)
{
	(void)state;
	struct config cfg;
	expect_ok("[server]\nthreads = 256\nmax_connections = 1\n"
		  "[listen]\nsmtp = 65535\nsubmission = 0\n"
		  "[smtp]\nmax_message_size = 1024\nmax_recipients = 100000\n"
		  "max_line_length = 512\ntimeout_command = 86400\ntimeout_data = 1\n",
		  &cfg);
	assert_int_equal(cfg.threads, 256);
	assert_int_equal(cfg.max_connections, 1);
	assert_int_equal(cfg.ports[LISTENER_SMTP], 65535);
	assert_int_equal(cfg.ports[LISTENER_SUBMISSION], 0);
	assert_int_equal(cfg.max_message_size, 1024);
	assert_int_equal(cfg.max_recipients, 100000);
	assert_int_equal(cfg.max_line_length, 512);
	assert_int_equal(cfg.timeout_command, 86400);
	assert_int_equal(cfg.timeout_data, 1);
	config_free(&cfg);

	expect_ok("[smtp]\nmax_message_size = 1099511627776\nmax_line_length = 65536\n", &cfg);
	assert_true(cfg.max_message_size == 1ull << 40);
	assert_int_equal(cfg.max_line_length, 65536);
	config_free(&cfg);
}

static void test_invalid_combinations(void **state)
{
	(void)state;
	expect_error("[server]\ndata_dir = relative/path\n", cfgpath, "data_dir", "absolute",
		     NULL);
	expect_error("[server]\nhostname =\n", cfgpath, "hostname", NULL);
	expect_error("[store]\nbackend = postgresql\n", cfgpath, "backend", NULL);
	expect_error("[store]\nsync_method = fdatasync\n", cfgpath, "sync_method", NULL);
	expect_error("[store]\nsync_method =\n", cfgpath, "sync_method", NULL);
	expect_error("[smtp]\nrecipient_delimiter = ++\n", cfgpath, "recipient_delimiter", NULL);
}

static void test_sync_methods(void **state)
{
	(void)state;
	static const char *const methods[] = {"auto", "syncfs", "fsync"};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		char text[100];
		struct config cfg;
		snprintf(text, sizeof(text), "[store]\nsync_method = %s\n", methods[i]);
		expect_ok(text, &cfg);
		assert_string_equal(cfg.sync_method, methods[i]);
		config_free(&cfg);
	}
}

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_error("[server]\nhostname = mx.example.org\nthis line has no equals sign\n",
		     cfgpath, ":3:", "syntax error", NULL);
	expect_error("[server]\n\n\n[smtp\n", cfgpath, ":4:", NULL);
}

/* A syntax error followed by more settings. */
static void test_syntax_error_reported_first(void **state)
{
	(void)state;
	/* inih goes on after a syntax error; the first error is reported. */
	expect_error("[server\nhostname = mx.example.org\n", cfgpath, ":1:", NULL);
}

static void test_missing_file(void **state)
{
	(void)state;
	struct config cfg;
	const char *err = NULL;
	char path[700];
	snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmpdir);
	assert_int_equal(config_load(path, &cfg, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file"));
	config_free(&cfg);
}

/* A line longer than inih's line buffer (200 bytes in Debian's build) is an
 * error naming that line, never split into pieces parsed as lines. */
static void test_long_line(void **state)
{
	(void)state;
	char text[1000], cert[400];
	memset(cert, 'c', 300);
	cert[0] = '/';
	cert[300] = '\0';
	snprintf(text, sizeof(text), "[tls]\ncert = %s\nkey = /k.pem\n", cert);
	expect_error(text, cfgpath, ":2:", "longer than", NULL);
	/* A long comment whose tail looks like a setting does not set it. */
	char pad[300];
	memset(pad, 'x', 197);
	pad[197] = '\0';
	snprintf(text, sizeof(text), "[smtp]\n; %smax_recipients = 7\n", pad);
	expect_error(text, cfgpath, ":2:", "longer than", NULL);
	/* Just under the limit is fine. */
	memset(cert, 'c', 180);
	cert[0] = '/';
	cert[180] = '\0';
	snprintf(text, sizeof(text), "[tls]\ncert = %s\n", cert);
	struct config cfg;
	expect_ok(text, &cfg);
	assert_string_equal(cfg.tls_cert, cert);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_listener_tables),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_unset_keys_keep_defaults),
		cmocka_unit_test(test_log_levels),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_value_bounds),
		cmocka_unit_test(test_invalid_combinations),
		cmocka_unit_test(test_sync_methods),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_syntax_error_reported_first),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_long_line),
	};
	return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
