/* config.c - INI configuration via inih: a table of known keys, typed
 * setters, and errors that name the file, line and key. */
#include "core/config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static const unsigned standard_ports[LISTENER_COUNT] = {25, 587, 465, 143, 993, 110, 995, 80};
static const char *const listener_names[LISTENER_COUNT] = {
	"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "http"};

unsigned listener_standard_port(enum listener_kind kind)
{
	return standard_ports[kind];
}

const char *listener_name(enum listener_kind kind)
{
	return listener_names[kind];
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->hostname = xstrdup("localhost");
	cfg->data_dir = xstrdup("/var/lib/postane");
	cfg->listen = xstrdup("127.0.0.1");
	for (int i = 0; i < LISTENER_COUNT; i++)
		cfg->ports[i] = standard_ports[i];
	cfg->threads = 0;
	cfg->run_as = xstrdup("");
	cfg->log_level = LOG_INFO;
	cfg->max_message_size = 50u * 1024u * 1024u;
	cfg->max_recipients = 1000;
	cfg->max_errors = 20;
	cfg->max_line_length = 2048;
	cfg->max_connections = 20000;
	cfg->max_connections_per_ip = 50;
	cfg->timeout_command = 300;
	cfg->timeout_data = 180;
	cfg->min_data_rate = 500;
	cfg->recipient_delimiter = xstrdup("+");
	cfg->auth_max_failures_ip = 10;
	cfg->auth_max_failures_user = 20;
	cfg->auth_lockout_seconds = 900;
	cfg->auth_failure_delay_max = 15;
	cfg->auth_plaintext_loopback = false;
	cfg->store_backend = xstrdup("maildir");
	cfg->sync_method = xstrdup("auto");
	cfg->dns_servers = xstrdup("");
	cfg->delivery_port = 25;
	cfg->retry_schedule = xstrdup("300,600,1200,2400,4000");
	cfg->max_queue_lifetime = 5 * 86400;
	cfg->delay_warning = 4 * 3600;
	cfg->concurrency = 100;
	cfg->concurrency_per_domain = 20;
	cfg->connect_timeout = 30;
	cfg->client_timeout = 300;
	cfg->tls_required = false;
	cfg->smarthost = xstrdup("");
	cfg->smarthost_tls = xstrdup("starttls");
	cfg->smarthost_auth_file = xstrdup("");
	cfg->dkim_dir = xstrdup("");
	cfg->dkim_selector = xstrdup("postane");
	cfg->tls_cert = xstrdup("");
	cfg->tls_key = xstrdup("");
}

void config_free(struct config *cfg)
{
	free(cfg->path);
	free(cfg->hostname);
	free(cfg->run_as);
	free(cfg->data_dir);
	free(cfg->listen);
	free(cfg->recipient_delimiter);
	free(cfg->store_backend);
	free(cfg->sync_method);
	free(cfg->dns_servers);
	free(cfg->retry_schedule);
	free(cfg->smarthost);
	free(cfg->smarthost_tls);
	free(cfg->smarthost_auth_file);
	free(cfg->dkim_dir);
	free(cfg->dkim_selector);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	for (size_t i = 0; i < cfg->tls_name_count; i++) {
		free(cfg->tls_names[i].name);
		free(cfg->tls_names[i].cert);
		free(cfg->tls_names[i].key);
	}
	free(cfg->tls_names);
	memset(cfg, 0, sizeof(*cfg));
}

enum key_type { KEY_STRING, KEY_UINT, KEY_U64, KEY_PORT, KEY_LOGLEVEL, KEY_BOOL };

struct key_def {
	const char *section;
	const char *name;
	enum key_type type;
	size_t offset;
	uint64_t min, max;
};

#define OFF(f) offsetof(struct config, f)
static const struct key_def keys[] = {
	{"server", "hostname", KEY_STRING, OFF(hostname), 0, 0},
	{"server", "data_dir", KEY_STRING, OFF(data_dir), 0, 0},
	{"server", "threads", KEY_UINT, OFF(threads), 0, 256},
	{"server", "user", KEY_STRING, OFF(run_as), 0, 0},
	{"server", "log_level", KEY_LOGLEVEL, OFF(log_level), 0, 0},
	{"server", "max_connections", KEY_UINT, OFF(max_connections), 1, 1000000},
	{"server", "max_connections_per_ip", KEY_UINT, OFF(max_connections_per_ip), 0, 1000000},
	{"listen", "address", KEY_STRING, OFF(listen), 0, 0},
	{"listen", "smtp", KEY_PORT, OFF(ports[LISTENER_SMTP]), 0, 65535},
	{"listen", "submission", KEY_PORT, OFF(ports[LISTENER_SUBMISSION]), 0, 65535},
	{"listen", "submissions", KEY_PORT, OFF(ports[LISTENER_SUBMISSIONS]), 0, 65535},
	{"listen", "imap", KEY_PORT, OFF(ports[LISTENER_IMAP]), 0, 65535},
	{"listen", "imaps", KEY_PORT, OFF(ports[LISTENER_IMAPS]), 0, 65535},
	{"listen", "pop3", KEY_PORT, OFF(ports[LISTENER_POP3]), 0, 65535},
	{"listen", "pop3s", KEY_PORT, OFF(ports[LISTENER_POP3S]), 0, 65535},
	{"listen", "http", KEY_PORT, OFF(ports[LISTENER_HTTP]), 0, 65535},
	{"smtp", "max_message_size", KEY_U64, OFF(max_message_size), 1024, 1ull << 40},
	{"smtp", "max_recipients", KEY_UINT, OFF(max_recipients), 1, 100000},
	{"smtp", "max_errors", KEY_UINT, OFF(max_errors), 1, 10000},
	{"smtp", "max_line_length", KEY_UINT, OFF(max_line_length), 512, 65536},
	{"smtp", "timeout_command", KEY_UINT, OFF(timeout_command), 1, 86400},
	{"smtp", "timeout_data", KEY_UINT, OFF(timeout_data), 1, 86400},
	{"smtp", "min_data_rate", KEY_UINT, OFF(min_data_rate), 0, 1u << 30},
	{"smtp", "recipient_delimiter", KEY_STRING, OFF(recipient_delimiter), 0, 0},
	{"auth", "max_failures_ip", KEY_UINT, OFF(auth_max_failures_ip), 0, 1000000},
	{"auth", "max_failures_user", KEY_UINT, OFF(auth_max_failures_user), 0, 1000000},
	{"auth", "lockout_seconds", KEY_UINT, OFF(auth_lockout_seconds), 0, 86400 * 7},
	{"auth", "failure_delay_max", KEY_UINT, OFF(auth_failure_delay_max), 0, 300},
	{"auth", "plaintext_loopback", KEY_BOOL, OFF(auth_plaintext_loopback), 0, 0},
	{"store", "backend", KEY_STRING, OFF(store_backend), 0, 0},
	{"store", "sync_method", KEY_STRING, OFF(sync_method), 0, 0},
	{"delivery", "dns_servers", KEY_STRING, OFF(dns_servers), 0, 0},
	{"delivery", "port", KEY_PORT, OFF(delivery_port), 1, 65535},
	{"delivery", "retry_schedule", KEY_STRING, OFF(retry_schedule), 0, 0},
	{"delivery", "max_queue_lifetime", KEY_UINT, OFF(max_queue_lifetime), 1, 86400 * 60},
	{"delivery", "delay_warning", KEY_UINT, OFF(delay_warning), 0, 86400 * 60},
	{"delivery", "concurrency", KEY_UINT, OFF(concurrency), 1, 10000},
	{"delivery", "concurrency_per_domain", KEY_UINT, OFF(concurrency_per_domain), 1, 10000},
	{"delivery", "connect_timeout", KEY_UINT, OFF(connect_timeout), 1, 3600},
	{"delivery", "timeout", KEY_UINT, OFF(client_timeout), 1, 3600},
	{"delivery", "tls_required", KEY_BOOL, OFF(tls_required), 0, 0},
	{"delivery", "smarthost", KEY_STRING, OFF(smarthost), 0, 0},
	{"delivery", "smarthost_tls", KEY_STRING, OFF(smarthost_tls), 0, 0},
	{"delivery", "smarthost_auth_file", KEY_STRING, OFF(smarthost_auth_file), 0, 0},
	{"dkim", "dir", KEY_STRING, OFF(dkim_dir), 0, 0},
	{"dkim", "selector", KEY_STRING, OFF(dkim_selector), 0, 0},
	{"tls", "cert", KEY_STRING, OFF(tls_cert), 0, 0},
	{"tls", "key", KEY_STRING, OFF(tls_key), 0, 0},
};

struct load_ctx {
	struct config *cfg;
	const char *path;
	FILE *file;
	int lineno; /* counted by config_read_line(): Debian's inih has no line numbers */
	int error_line;
	char error[512];
};

/* inih reader: fgets() that counts lines for error messages and refuses
 * lines inih would split (too long) or misread (NUL bytes). */
static char *config_read_line(char *str, int num, void *stream)
{
	struct load_ctx *ctx = stream;
	if (ctx->error[0] != '\0' || num < 2)
		return NULL;
	int n = 0, c = EOF;
	while (n < num - 1 && (c = getc(ctx->file)) != EOF) {
		if (c == '\0') {
			snprintf(ctx->error, sizeof(ctx->error), "%s:%d: NUL byte", ctx->path,
				 ctx->lineno + 1);
			ctx->error_line = ctx->lineno + 1;
			return NULL;
		}
		str[n++] = (char)c;
		if (c == '\n')
			break;
	}
	if (n == 0)
		return NULL;
	str[n] = '\0';
	ctx->lineno++;
	if (c != '\n' && c != EOF && n == num - 1) {
		int next = getc(ctx->file);
		if (next != EOF) {
			/* inih would read the rest as another line: refuse instead. */
			snprintf(ctx->error, sizeof(ctx->error), "%s:%d: line longer than %d bytes",
				 ctx->path, ctx->lineno, num - 2);
			ctx->error_line = ctx->lineno;
			return NULL;
		}
	}
	return str;
}

static int set_key(struct load_ctx *ctx, const struct key_def *k, const char *value, int lineno)
{
	char *base = (char *)ctx->cfg;
	uint64_t v;
	switch (k->type) {
	case KEY_STRING: {
		char **field = (char **)(base + k->offset);
		free(*field);
		*field = xstrdup(value);
		return 0;
	}
	case KEY_LOGLEVEL:
		if (log_level_parse(value, (enum log_level *)(base + k->offset)) < 0)
			break;
		return 0;
	case KEY_BOOL:
		if (ascii_ieq(value, "yes") || ascii_ieq(value, "true") || strcmp(value, "1") == 0) {
			*(bool *)(base + k->offset) = true;
			return 0;
		}
		if (ascii_ieq(value, "no") || ascii_ieq(value, "false") || strcmp(value, "0") == 0) {
			*(bool *)(base + k->offset) = false;
			return 0;
		}
		break;
	case KEY_UINT:
	case KEY_PORT:
	case KEY_U64:
		if (parse_u64(value, strlen(value), &v) < 0 || v < k->min || v > k->max)
			break;
		if (k->type == KEY_U64)
			*(uint64_t *)(base + k->offset) = v;
		else
			*(unsigned *)(base + k->offset) = (unsigned)v;
		return 0;
	}
	snprintf(ctx->error, sizeof(ctx->error), "%s:%d: [%s] %s: invalid value \"%s\"", ctx->path,
		 lineno, k->section, k->name, value);
	ctx->error_line = lineno;
	return -1;
}

static int config_ini_line(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *ctx = user;
	int lineno = ctx->lineno;
	if (ctx->error[0] != '\0')
		return 0;
	if (name == NULL) /* a section header alone */
		return 1;
	if (strncmp(section, "tls ", 4) == 0 && section[4] != '\0') {
		/* [tls mail.example.org]: a certificate for that name (SNI). */
		struct config *cfg = ctx->cfg;
		const char *host = section + 4;
		struct config_tls_name *t = NULL;
		for (size_t i = 0; i < cfg->tls_name_count; i++)
			if (strcmp(cfg->tls_names[i].name, host) == 0)
				t = &cfg->tls_names[i];
		if (t == NULL) {
			cfg->tls_names = xrealloc(cfg->tls_names,
						  (cfg->tls_name_count + 1) * sizeof(*cfg->tls_names));
			t = &cfg->tls_names[cfg->tls_name_count++];
			t->name = xstrdup(host);
			t->cert = xstrdup("");
			t->key = xstrdup("");
		}
		char **field = strcmp(name, "cert") == 0 ? &t->cert : strcmp(name, "key") == 0 ? &t->key : NULL;
		if (field == NULL) {
			snprintf(ctx->error, sizeof(ctx->error), "%s:%d: unknown setting [%s] %s",
				 ctx->path, lineno, section, name);
			ctx->error_line = lineno;
			return 0;
		}
		free(*field);
		*field = xstrdup(value);
		return 1;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return set_key(ctx, &keys[i], value, lineno) == 0 ? 1 : 0;
	}
	snprintf(ctx->error, sizeof(ctx->error), "%s:%d: unknown setting [%s] %s", ctx->path,
		 lineno, section, name);
	ctx->error_line = lineno;
	return 0;
}

static const char *validate(struct config *cfg)
{
	if (cfg->data_dir[0] != '/')
		return "[server] data_dir must be an absolute path";
	if (cfg->hostname[0] == '\0')
		return "[server] hostname must not be empty";
	if (strcmp(cfg->store_backend, "maildir") != 0)
		return "[store] backend: only \"maildir\" is available";
	if (strcmp(cfg->sync_method, "auto") != 0 && strcmp(cfg->sync_method, "syncfs") != 0 &&
	    strcmp(cfg->sync_method, "fsync") != 0)
		return "[store] sync_method must be \"auto\", \"syncfs\" or \"fsync\"";
	if (strcmp(cfg->smarthost_tls, "starttls") != 0 && strcmp(cfg->smarthost_tls, "implicit") != 0)
		return "[delivery] smarthost_tls must be \"starttls\" or \"implicit\"";
	if (cfg->retry_schedule[0] == '\0' ||
	    strspn(cfg->retry_schedule, "0123456789, ") != strlen(cfg->retry_schedule))
		return "[delivery] retry_schedule must be a comma-separated list of seconds";
	if (strlen(cfg->recipient_delimiter) > 1)
		return "[smtp] recipient_delimiter must be one character or empty";
	for (size_t i = 0; i < cfg->tls_name_count; i++)
		if (cfg->tls_names[i].cert[0] == '\0' || cfg->tls_names[i].key[0] == '\0')
			return "every [tls NAME] section needs cert and key";
	return NULL;
}

int config_load(const char *path, struct config *cfg, const char **error_r)
{
	static _Thread_local char errbuf[600];
	config_defaults(cfg);
	cfg->path = xstrdup(path);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(errbuf, sizeof(errbuf), "%s: %s", path, strerror(errno));
		*error_r = errbuf;
		return -1;
	}
	struct load_ctx ctx = {.cfg = cfg, .path = path, .file = f};
	int ret = ini_parse_stream(config_read_line, &ctx, config_ini_line, &ctx);
	fclose(f);
	/* inih returns the first failing line of any kind; a syntax error
	 * before our first key error is the one to report. */
	if (ctx.error[0] != '\0' && (ret <= 0 || ret >= ctx.error_line)) {
		snprintf(errbuf, sizeof(errbuf), "%s", ctx.error);
		*error_r = errbuf;
		return -1;
	}
	if (ret != 0) {
		snprintf(errbuf, sizeof(errbuf), "%s:%d: syntax error", path, ret);
		*error_r = errbuf;
		return -1;
	}
	const char *err = validate(cfg);
	if (err != NULL) {
		snprintf(errbuf, sizeof(errbuf), "%s: %s", path, err);
		*error_r = errbuf;
		return -1;
	}
	return 0;
}
