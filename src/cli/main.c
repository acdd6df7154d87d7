/* main.c - entry point of the `postane` command: global options, the
 * configuration file, and dispatch to the subcommands. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"
#include "server/server.h"
#include "smtp/smtp_addr.h"
#include "store/store.h"

#define POSTANE_VERSION "0.1.0"
#define DEFAULT_CONFIG "/etc/postane/postane.conf"

static const char usage_text[] =
	"usage: postane [-c FILE] COMMAND [ARGS...]\n"
	"\n"
	"postane is an all-in-one mail server: SMTP, storage, and (as it grows)\n"
	"IMAP, POP3, submission and outbound delivery in one program.\n"
	"\n"
	"Global options:\n"
	"  -c, --config FILE  configuration file (default: $POSTANE_CONFIG, else\n"
	"                     " DEFAULT_CONFIG ")\n"
	"  -h, --help         show this help\n"
	"  -V, --version      show the version\n"
	"\n"
	"Commands:\n"
	"  init DIR --domain DOMAIN [--hostname FQDN] [--listen ADDR] [--port-base N]\n"
	"                     create DIR/postane.conf, the data directory DIR/data,\n"
	"                     a self-signed certificate and the first domain\n"
	"  serve              run the server in the foreground (logs to stderr)\n"
	"  domain add|del|list            manage the domains mail is accepted for\n"
	"  user add|del|list|passwd       manage accounts (passwords on stdin)\n"
	"  alias add|del|list             manage aliases and catch-alls\n"
	"  queue list|show|flush|delete|hold|release   the outbound queue\n"
	"  dkim keygen|list               DKIM signing keys and their DNS records\n"
	"  dns records DOMAIN             the DNS records a mail domain needs\n"
	"  check [--repair]               check (and repair) the store's integrity\n"
	"\n"
	"Run `postane COMMAND --help` for the options of one command.\n";

static const char serve_help[] =
	"usage: postane [-c FILE] serve\n"
	"\n"
	"Run the server in the foreground. It recovers the store after a crash,\n"
	"binds the listeners from the [listen] section, and logs one line per event\n"
	"to standard error. SIGTERM or SIGINT: stop accepting, finish transactions\n"
	"in flight (up to 30 s), exit. A systemd unit is in contrib/systemd/.\n";

int cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("postane: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

int cli_parse_address(const char *in, bool allow_catchall, char *local, size_t local_len,
		      char *domain, size_t domain_len, const char **why_r)
{
	if (allow_catchall && in[0] == '@') {
		if (smtp_domain_normalize(in + 1, domain, domain_len) < 0) {
			*why_r = "invalid domain";
			return -1;
		}
		local[0] = '\0';
		return 0;
	}
	struct smtp_addr a;
	if (smtp_addr_parse(in, strlen(in), SMTP_ADDR_NO_BRACKETS | SMTP_ADDR_ALLOW_UTF8, &a,
			    why_r) != SMTP_ADDR_OK)
		return -1;
	if (a.literal) {
		*why_r = "address literals cannot be used here";
		return -1;
	}
	if (strlen(a.local) >= local_len || strlen(a.domain) >= domain_len) {
		*why_r = "address too long";
		return -1;
	}
	for (char *p = a.local; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	strcpy(local, a.local);
	strcpy(domain, a.domain);
	return 0;
}

int cli_open_store(const struct config *cfg, struct store **store_r, struct store_conn **conn_r)
{
	const char *error;
	*conn_r = NULL;
	if (store_open(cfg, false, store_r, &error) < 0) {
		store_close(store_r);
		return cli_error("%s", error);
	}
	*conn_r = store_conn_open(*store_r, &error);
	if (*conn_r == NULL) {
		store_close(store_r);
		return cli_error("%s", error);
	}
	return 0;
}

void cli_close_store(struct store **store, struct store_conn **conn)
{
	store_conn_close(conn);
	store_close(store);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *config_path = getenv("POSTANE_CONFIG");
	if (config_path == NULL || config_path[0] == '\0')
		config_path = DEFAULT_CONFIG;
	int c;
	/* "+" stops at the first non-option: the command's own options follow. */
	while ((c = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("postane %s\n", POSTANE_VERSION);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	const char *cmd = argv[optind];
	int cargc = argc - optind;
	char **cargv = argv + optind;
	optind = 0; /* GNU getopt: 0 fully re-initialises for the subcommand */

	if (strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0) {
		printf("postane %s\n", POSTANE_VERSION);
		return 0;
	}
	if (strcmp(cmd, "init") == 0)
		return cli_init(cargc, cargv);

	bool want_help = cargc > 1 && (strcmp(cargv[1], "--help") == 0 || strcmp(cargv[1], "-h") == 0);
	if (strcmp(cmd, "serve") == 0 && want_help) {
		fputs(serve_help, stdout);
		return 0;
	}
	/* Commands that work on a loaded configuration. */
	static const struct {
		const char *name;
		int (*fn)(const struct config *cfg, int argc, char **argv);
	} admin[] = {
		{"domain", cli_domain},
		{"user", cli_user},
		{"alias", cli_alias},
		{"queue", cli_queue},
		{"dkim", cli_dkim},
		{"dns", cli_dns},
		{"check", cli_check},
	};
	int (*admin_fn)(const struct config *, int, char **) = NULL;
	for (size_t i = 0; i < sizeof(admin) / sizeof(admin[0]); i++)
		if (strcmp(cmd, admin[i].name) == 0)
			admin_fn = admin[i].fn;
	if (strcmp(cmd, "serve") != 0 && admin_fn == NULL)
		return cli_error("unknown command \"%s\" (see `postane --help`)", cmd);

	struct config cfg;
	const char *error;
	/* Admin commands print their own help without needing a config. */
	if (want_help) {
		config_defaults(&cfg);
		int ret = admin_fn(&cfg, cargc, cargv);
		config_free(&cfg);
		return ret;
	}
	if (config_load(config_path, &cfg, &error) < 0) {
		config_free(&cfg);
		return cli_error("%s", error);
	}
	int ret;
	if (strcmp(cmd, "serve") == 0) {
		if (cargc > 1) {
			config_free(&cfg);
			return cli_error("serve: unexpected argument \"%s\"", cargv[1]);
		}
		ret = server_run(&cfg);
	} else {
		ret = admin_fn(&cfg, cargc, cargv);
	}
	config_free(&cfg);
	return ret;
}
