/* cli_init.c - `postane init`: write a working configuration, create the
 * data directory and the schema, a self-signed certificate, and the first
 * domain. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/util.h"
#include "smtp/smtp_addr.h"
#include "store/store.h"
#include "tls/tls_selfsigned.h"

static const char init_help[] =
	"usage: postane init DIR --domain DOMAIN [--hostname FQDN] [--listen ADDR]\n"
	"                        [--port-base N] [--force]\n"
	"\n"
	"Create DIR/postane.conf and the data directory DIR/data (SQLite index and\n"
	"Maildir++ mailboxes), generate a self-signed TLS certificate in DIR/tls/,\n"
	"and add DOMAIN as the first local domain.\n"
	"\n"
	"  --domain DOMAIN   the first domain to receive mail for (required)\n"
	"  --hostname FQDN   this server's name in banners and Received headers\n"
	"                    (default: mail.DOMAIN)\n"
	"  --listen ADDR     address(es) to listen on, comma-separated\n"
	"                    (default: 127.0.0.1)\n"
	"  --port-base N     listen on N + the standard port of each service:\n"
	"                    N+25 SMTP, N+587 submission, N+465 submissions,\n"
	"                    N+143 IMAP, N+993 IMAPS, N+110 POP3, N+995 POP3S,\n"
	"                    N+80 HTTP (default 0: the standard ports)\n"
	"  --force           overwrite an existing DIR/postane.conf\n"
	"\n"
	"Then add an account: postane -c DIR/postane.conf user add USER@DOMAIN\n";

static int absolute_path(const char *in, char *out, size_t outlen)
{
	if (in[0] == '/') {
		snprintf(out, outlen, "%s", in);
	} else {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return -1;
		snprintf(out, outlen, "%s/%s", cwd, in);
	}
	/* Drop trailing slashes (but keep "/"). */
	size_t n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	return 0;
}

int cli_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{"domain", required_argument, NULL, 'd'},  {"hostname", required_argument, NULL, 'H'},
		{"listen", required_argument, NULL, 'l'},  {"port-base", required_argument, NULL, 'p'},
		{"force", no_argument, NULL, 'f'},         {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *domain_arg = NULL, *hostname_arg = NULL, *listen = "127.0.0.1";
	uint64_t port_base = 0;
	bool force = false;
	int c;
	while ((c = getopt_long(argc, argv, "d:H:l:p:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			domain_arg = optarg;
			break;
		case 'H':
			hostname_arg = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'p':
			if (parse_u64(optarg, strlen(optarg), &port_base) < 0 || port_base > 64000)
				return cli_error("init: --port-base must be a number from 0 to 64000");
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			fputs(init_help, stdout);
			return 0;
		default:
			fputs(init_help, stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(init_help, stderr);
		return 2;
	}
	if (domain_arg == NULL)
		return cli_error("init: --domain is required");
	char domain[256], hostname[256];
	if (smtp_domain_normalize(domain_arg, domain, sizeof(domain)) < 0 || strchr(domain, '.') == NULL)
		return cli_error("init: \"%s\" is not a valid domain name", domain_arg);
	if (hostname_arg != NULL) {
		if (smtp_domain_normalize(hostname_arg, hostname, sizeof(hostname)) < 0)
			return cli_error("init: \"%s\" is not a valid host name", hostname_arg);
	} else if (snprintf(hostname, sizeof(hostname), "mail.%s", domain) >= (int)sizeof(hostname)) {
		return cli_error("init: domain name too long for a host name");
	}
	for (const char *p = listen; *p != '\0'; p++)
		if (*p == '\n' || *p == '=' || *p == '[' || *p == ';' || *p == '#')
			return cli_error("init: invalid --listen value");

	char dir[PATH_MAX - 64], conf[PATH_MAX], data[PATH_MAX], tls[PATH_MAX], cert[PATH_MAX],
		key[PATH_MAX];
	if (absolute_path(argv[optind], dir, sizeof(dir)) < 0)
		return cli_error("init: %s: %s", argv[optind], strerror(errno));
	snprintf(conf, sizeof(conf), "%s/postane.conf", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(tls, sizeof(tls), "%s/tls", dir);
	snprintf(cert, sizeof(cert), "%s/cert.pem", tls);
	snprintf(key, sizeof(key), "%s/key.pem", tls);
	if (!force && access(conf, F_OK) == 0)
		return cli_error("init: %s already exists (use --force to overwrite)", conf);
	if (mkdir_p(dir, 0755) < 0 || mkdir_p(data, 0700) < 0 || mkdir_p(tls, 0700) < 0)
		return cli_error("init: %s: %s", dir, strerror(errno));

	const char *error;
	if (access(cert, F_OK) < 0 || access(key, F_OK) < 0) {
		if (tls_make_self_signed(hostname, cert, key, &error) < 0)
			return cli_error("init: %s", error);
	}

	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b,
		   "# postane configuration, written by `postane init`.\n"
		   "# Reference: docs/CONFIGURATION.md\n\n"
		   "[server]\n"
		   "hostname = %s\n"
		   "data_dir = %s\n"
		   "# event loops; 0 = one per CPU\n"
		   "threads = 0\n"
		   "log_level = info\n\n"
		   "[listen]\n"
		   "# comma-separated addresses; each service below listens on all of them\n"
		   "address = %s\n",
		   hostname, data, listen);
	for (int k = 0; k < LISTENER_COUNT; k++)
		buf_printf(&b, "%s = %llu\n", listener_name((enum listener_kind)k),
			   (unsigned long long)(port_base + listener_standard_port((enum listener_kind)k)));
	buf_printf(&b,
		   "\n[smtp]\n"
		   "max_message_size = 52428800\n"
		   "max_recipients = 1000\n"
		   "max_errors = 20\n"
		   "max_line_length = 2048\n"
		   "timeout_command = 300\n"
		   "timeout_data = 180\n"
		   "# bytes/s a client must keep up while sending message content\n"
		   "min_data_rate = 500\n"
		   "recipient_delimiter = +\n\n"
		   "[store]\n"
		   "backend = maildir\n"
		   "# how each batch of messages is made durable before the 250 reply:\n"
		   "# auto (cheapest per batch), syncfs (one file-system sync per batch),\n"
		   "# fsync (fdatasync per file, fsync per directory)\n"
		   "sync_method = auto\n\n"
		   "[tls]\n"
		   "cert = %s\n"
		   "key = %s\n",
		   cert, key);
	if (write_file_durable(conf, b.data, b.len, 0640) < 0) {
		buf_free(&b);
		return cli_error("init: %s: %s", conf, strerror(errno));
	}
	buf_free(&b);

	struct config cfg;
	if (config_load(conf, &cfg, &error) < 0) {
		config_free(&cfg);
		return cli_error("init: %s", error);
	}
	struct store *store = NULL;
	if (store_open(&cfg, true, &store, &error) < 0) {
		store_close(&store);
		config_free(&cfg);
		return cli_error("init: %s", error);
	}
	struct store_conn *sc = store_conn_open(store, &error);
	int ret = 0;
	if (sc == NULL) {
		ret = cli_error("init: %s", error);
	} else if (store_domain_add(sc, domain) < 0 &&
		   strcmp(store_conn_error(sc), "domain already exists") != 0) {
		ret = cli_error("init: domain %s: %s", domain, store_conn_error(sc));
	}
	store_conn_close(&sc);
	store_close(&store);
	if (ret == 0) {
		printf("postane: wrote %s\n", conf);
		printf("postane: data directory %s, domain %s, hostname %s\n", data, domain, hostname);
		printf("postane: SMTP on %s port %u\n", listen, cfg.ports[LISTENER_SMTP]);
		printf("next: postane -c %s user add USER@%s   (password on stdin)\n", conf, domain);
		printf("      postane -c %s serve\n", conf);
	}
	config_free(&cfg);
	return ret;
}
