/* cli_admin.c - `postane domain|user|alias ...`: account administration
 * through the storage interface. Passwords come from standard input only. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/password.h"
#include "cli/cli.h"
#include "core/config.h"
#include "core/util.h"
#include "smtp/smtp_addr.h"
#include "store/store.h"

static const char domain_help[] =
	"usage: postane [-c FILE] domain add DOMAIN\n"
	"       postane [-c FILE] domain del DOMAIN [--force]\n"
	"       postane [-c FILE] domain list\n"
	"\n"
	"Domains are the domains this server receives mail for. `del` refuses a\n"
	"domain that still has accounts unless --force is given (their mail is then\n"
	"moved to DATA/deleted/).\n";

static const char user_help[] =
	"usage: postane [-c FILE] user add ADDRESS [--quota BYTES] [--send-as MODE]\n"
	"       postane [-c FILE] user set ADDRESS [--quota BYTES] [--send-as MODE]\n"
	"       postane [-c FILE] user passwd ADDRESS\n"
	"       postane [-c FILE] user del ADDRESS\n"
	"       postane [-c FILE] user list [DOMAIN]\n"
	"       postane [-c FILE] user import FILE [--domain DOMAIN] [--update]\n"
	"\n"
	"The password is read from standard input (one line; when standard input is\n"
	"a terminal you are asked twice, without echo). It is never taken from the\n"
	"command line. It is stored as an argon2id hash. A new account gets INBOX\n"
	"and the folders Sent, Drafts, Junk, Trash and Archive; the domain's\n"
	"postmaster@ address is pointed at the first account added to it.\n"
	"`del` moves the account's mail to DATA/deleted/DOMAIN/ instead of erasing it.\n"
	"\n"
	"  --quota BYTES    storage limit of the account (0: none), for IMAP QUOTA\n"
	"                   and APPEND\n"
	"  --send-as MODE   which senders the account may use when it submits mail:\n"
	"                   own (its address and address+tag), aliases (also every\n"
	"                   alias that delivers to it; the default), any\n"
	"\n"
	"`import` reads a Dovecot passwd-file (user:{SCHEME}hash:...) and creates the\n"
	"accounts with their existing hashes ({SHA512-CRYPT}, {SHA256-CRYPT},\n"
	"{BLF-CRYPT}, {ARGON2ID}); each is re-hashed to argon2id at its next\n"
	"successful login. Users without a domain get --domain. --update replaces\n"
	"the password of accounts that exist already (otherwise they are skipped).\n"
	"\n"
	"Local parts may use letters, digits, '.', '-' and '_' (and UTF-8 letters).\n";

static const char alias_help[] =
	"usage: postane [-c FILE] alias add ALIAS TARGET [TARGET...]\n"
	"       postane [-c FILE] alias del ALIAS [TARGET]\n"
	"       postane [-c FILE] alias list [DOMAIN]\n"
	"\n"
	"ALIAS is local@domain, or @domain for a catch-all that receives mail for\n"
	"every unknown address of the domain. Mail to an alias goes to each TARGET\n"
	"(an account or another alias of a local domain; forwarding to other domains\n"
	"comes with outbound delivery). An alias that lists itself as a target also\n"
	"keeps a copy in the account of the same name.\n";

static bool want_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

/* ----- domain ----- */

static void print_domain(void *ctx, const struct store_domain_info *d)
{
	(void)ctx;
	printf("%s\t%u account(s)\t%u alias(es)\n", d->name, d->users, d->aliases);
}

int cli_domain(const struct config *cfg, int argc, char **argv)
{
	if (want_help(argc, argv)) {
		fputs(domain_help, stdout);
		return 0;
	}
	if (argc < 2) {
		fputs(domain_help, stderr);
		return 2;
	}
	const char *sub = argv[1];
	bool force = false;
	const char *name_arg = NULL;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = true;
		else if (name_arg == NULL)
			name_arg = argv[i];
		else
			return cli_error("domain: unexpected argument \"%s\"", argv[i]);
	}
	bool is_list = strcmp(sub, "list") == 0;
	if (!is_list && strcmp(sub, "add") != 0 && strcmp(sub, "del") != 0)
		return cli_error("domain: unknown subcommand \"%s\" (add, del, list)", sub);
	if (!is_list && name_arg == NULL)
		return cli_error("domain %s: DOMAIN is required", sub);
	char domain[256] = "";
	if (name_arg != NULL) {
		char local[8];
		const char *why;
		char at[300];
		snprintf(at, sizeof(at), "@%s", name_arg);
		if (cli_parse_address(at, true, local, sizeof(local), domain, sizeof(domain), &why) < 0 ||
		    strchr(domain, '.') == NULL)
			return cli_error("domain %s: not a valid domain name", name_arg);
	}
	struct store *store;
	struct store_conn *sc;
	if (cli_open_store(cfg, &store, &sc) != 0)
		return 1;
	int ret = 0;
	if (is_list) {
		if (store_domain_list(sc, print_domain, NULL) < 0)
			ret = cli_error("domain list: %s", store_conn_error(sc));
	} else if (strcmp(sub, "add") == 0) {
		if (store_domain_add(sc, domain) < 0)
			ret = cli_error("domain %s: %s", domain, store_conn_error(sc));
		else
			printf("postane: domain %s added\n", domain);
	} else {
		if (store_domain_del(sc, domain, force) < 0)
			ret = cli_error("domain %s: %s", domain, store_conn_error(sc));
		else
			printf("postane: domain %s deleted\n", domain);
	}
	cli_close_store(&store, &sc);
	return ret;
}

/* ----- user ----- */

static bool valid_account_local(const char *local, char delimiter)
{
	if (local[0] == '\0' || local[0] == '.' || strstr(local, "..") != NULL ||
	    local[strlen(local) - 1] == '.')
		return false;
	for (const unsigned char *p = (const unsigned char *)local; *p != '\0'; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
			  *p == '-' || *p == '_' || *p >= 0x80;
		if (!ok || (delimiter != 0 && *p == (unsigned char)delimiter))
			return false;
	}
	return true;
}

/* Read one password line from stdin; prompts without echo on a terminal. */
static int read_password(char *out, size_t outlen)
{
	bool tty = isatty(STDIN_FILENO);
	struct termios old, noecho;
	char again[512];
	for (int round = 0; round < (tty ? 2 : 1); round++) {
		char *dst = round == 0 ? out : again;
		size_t dlen = round == 0 ? outlen : sizeof(again);
		if (tty) {
			fprintf(stderr, round == 0 ? "Password: " : "Repeat password: ");
			tcgetattr(STDIN_FILENO, &old);
			noecho = old;
			noecho.c_lflag &= ~(tcflag_t)ECHO;
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
		}
		char *r = fgets(dst, (int)dlen, stdin);
		if (tty) {
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
			fputc('\n', stderr);
		}
		if (r == NULL)
			return cli_error("no password given on standard input");
		size_t n = strlen(dst);
		if (n == dlen - 1 && dst[n - 1] != '\n')
			return cli_error("password too long");
		while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == '\r'))
			dst[--n] = '\0';
		if (n == 0)
			return cli_error("empty password");
	}
	if (tty && strcmp(out, again) != 0) {
		explicit_bzero(again, sizeof(again));
		return cli_error("passwords do not match");
	}
	explicit_bzero(again, sizeof(again));
	return 0;
}

static int hash_from_stdin(char *hash, size_t hashlen)
{
	char pw[512];
	if (read_password(pw, sizeof(pw)) != 0)
		return 1;
	int rc = password_hash(pw, strlen(pw), hash, hashlen);
	explicit_bzero(pw, sizeof(pw));
	if (rc < 0)
		return cli_error("password hashing failed");
	return 0;
}

static void print_user(void *ctx, const struct store_user *u)
{
	(void)ctx;
	if (u->quota_bytes > 0)
		printf("%s@%s\tquota %llu\n", u->local, u->domain, (unsigned long long)u->quota_bytes);
	else
		printf("%s@%s\n", u->local, u->domain);
}

struct target_list {
	char **v;
	size_t n;
};

static void collect_target(void *ctx, const char *target)
{
	struct target_list *t = ctx;
	t->v = xrealloc(t->v, (t->n + 1) * sizeof(char *));
	t->v[t->n++] = xstrdup(target);
}

static void free_targets(struct target_list *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

static void first_user_cb(void *ctx, const struct store_user *u)
{
	char *out = ctx;
	if (out[0] == '\0')
		snprintf(out, 400, "%s@%s", u->local, u->domain);
}

struct dangling {
	const char *target;
	unsigned count;
};

static void dangling_cb(void *ctx, const struct store_alias_info *a)
{
	struct dangling *d = ctx;
	if (strcmp(a->target, d->target) == 0 && strcmp(a->local, "postmaster") != 0) {
		printf("postane: note: alias %s@%s still lists %s\n", a->local, a->domain, a->target);
		d->count++;
	}
}

/* After deleting local@domain: keep postmaster@domain working (RFC 5321
 * 4.5.1) by pointing it at another account, and name the aliases that still
 * list the deleted address. */
static void after_user_del(struct store_conn *sc, const char *local, const char *domain)
{
	char deleted[400], first[400] = "";
	snprintf(deleted, sizeof(deleted), "%s@%s", local, domain);
	struct target_list t = {0};
	if (store_alias_targets(sc, "postmaster", domain, collect_target, &t) > 0) {
		bool listed = false;
		for (size_t i = 0; i < t.n; i++)
			if (strcmp(t.v[i], deleted) == 0)
				listed = true;
		if (listed) {
			store_alias_del(sc, "postmaster", domain, deleted);
			if (t.n == 1) {
				store_user_list(sc, domain, first_user_cb, first);
				if (first[0] != '\0' &&
				    store_alias_add(sc, "postmaster", domain, first) == 0)
					printf("postane: postmaster@%s now delivers to %s\n", domain,
					       first);
				else
					printf("postane: warning: postmaster@%s has no destination left;"
					       " add an account or `alias add postmaster@%s ...`\n",
					       domain, domain);
			}
		}
	}
	free_targets(&t);
	struct dangling d = {.target = deleted};
	store_alias_list(sc, NULL, dangling_cb, &d);
}

static void count_target(void *ctx, const char *target)
{
	(void)target;
	(*(unsigned *)ctx)++;
}

static int parse_send_as(const char *v, int *out)
{
	if (strcmp(v, "own") == 0)
		*out = STORE_SEND_AS_OWN;
	else if (strcmp(v, "aliases") == 0)
		*out = STORE_SEND_AS_ALIASES;
	else if (strcmp(v, "any") == 0)
		*out = STORE_SEND_AS_ANY;
	else
		return -1;
	return 0;
}

/* After user add: RFC 5321 4.5.1, every domain needs a working postmaster. */
static void ensure_postmaster(struct store_conn *sc, const char *local, const char *domain)
{
	unsigned targets = 0;
	struct store_user u;
	int has_account = store_user_lookup(sc, "postmaster", domain, &u);
	explicit_bzero(u.password, sizeof(u.password));
	int has_alias = store_alias_targets(sc, "postmaster", domain, count_target, &targets);
	if (has_account == 0 && has_alias == 0) {
		char target[400];
		snprintf(target, sizeof(target), "%s@%s", local, domain);
		if (store_alias_add(sc, "postmaster", domain, target) == 0)
			printf("postane: postmaster@%s now delivers to %s\n", domain, target);
	}
}

/* One line of a Dovecot passwd-file: user:password:uid:gid:gecos:home:shell:extra */
static int import_line(struct store_conn *sc, char *line, const char *default_domain, bool update,
		       unsigned lineno, unsigned *added, unsigned *updated, unsigned *skipped)
{
	line[strcspn(line, "\r\n")] = '\0';
	if (line[0] == '\0' || line[0] == '#')
		return 0;
	char *colon = strchr(line, ':');
	if (colon == NULL)
		return cli_error("user import: line %u: no password field", lineno);
	*colon = '\0';
	char *pw = colon + 1;
	pw[strcspn(pw, ":")] = '\0';
	char addr[400], local[130], domain[256];
	const char *why;
	if (strchr(line, '@') == NULL) {
		if (default_domain == NULL)
			return cli_error("user import: line %u: %s has no domain (use --domain)",
					 lineno, line);
		snprintf(addr, sizeof(addr), "%s@%s", line, default_domain);
	} else {
		snprintf(addr, sizeof(addr), "%s", line);
	}
	if (cli_parse_address(addr, false, local, sizeof(local), domain, sizeof(domain), &why) < 0)
		return cli_error("user import: line %u: %s: %s", lineno, addr, why);
	if (!password_scheme_known(pw))
		return cli_error("user import: line %u: %s: unsupported password scheme", lineno, addr);
	struct store_user u;
	int exists = store_user_lookup(sc, local, domain, &u);
	explicit_bzero(u.password, sizeof(u.password));
	if (exists < 0)
		return cli_error("user import: %s", store_conn_error(sc));
	if (exists > 0) {
		if (!update) {
			(*skipped)++;
			return 0;
		}
		if (store_user_set_password(sc, local, domain, pw) < 0)
			return cli_error("user import: %s@%s: %s", local, domain, store_conn_error(sc));
		(*updated)++;
		return 0;
	}
	if (store_user_add(sc, local, domain, pw, 0) < 0)
		return cli_error("user import: %s@%s: %s", local, domain, store_conn_error(sc));
	ensure_postmaster(sc, local, domain);
	(*added)++;
	return 0;
}

static int user_import(const struct config *cfg, const char *path, const char *domain_arg,
		       bool update)
{
	char domain[256];
	const char *dom = NULL;
	if (domain_arg != NULL) {
		if (smtp_domain_normalize(domain_arg, domain, sizeof(domain)) < 0)
			return cli_error("user import: %s: not a valid domain name", domain_arg);
		dom = domain;
	}
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (f == NULL)
		return cli_error("user import: %s: %s", path, strerror(errno));
	struct store *store;
	struct store_conn *sc;
	if (cli_open_store(cfg, &store, &sc) != 0) {
		if (f != stdin)
			fclose(f);
		return 1;
	}
	char line[2048];
	unsigned lineno = 0, added = 0, updated = 0, skipped = 0;
	int ret = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (import_line(sc, line, dom, update, lineno, &added, &updated, &skipped) != 0)
			ret = 1;
		explicit_bzero(line, sizeof(line));
	}
	if (f != stdin)
		fclose(f);
	printf("postane: imported %u account(s), updated %u, skipped %u existing\n", added, updated,
	       skipped);
	cli_close_store(&store, &sc);
	return ret;
}

int cli_user(const struct config *cfg, int argc, char **argv)
{
	if (want_help(argc, argv)) {
		fputs(user_help, stdout);
		return 0;
	}
	if (argc < 2) {
		fputs(user_help, stderr);
		return 2;
	}
	const char *sub = argv[1];
	const char *addr_arg = NULL, *domain_opt = NULL;
	int64_t quota = -1;
	int send_as = -1;
	bool update = false;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--quota") == 0 && i + 1 < argc) {
			uint64_t q;
			if (parse_u64(argv[i + 1], strlen(argv[i + 1]), &q) < 0 || q > INT64_MAX)
				return cli_error("user: --quota must be a number of bytes");
			quota = (int64_t)q;
			i++;
		} else if (strcmp(argv[i], "--send-as") == 0 && i + 1 < argc) {
			if (parse_send_as(argv[i + 1], &send_as) < 0)
				return cli_error("user: --send-as must be own, aliases or any");
			i++;
		} else if (strcmp(argv[i], "--domain") == 0 && i + 1 < argc) {
			domain_opt = argv[++i];
		} else if (strcmp(argv[i], "--update") == 0) {
			update = true;
		} else if (addr_arg == NULL && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) {
			addr_arg = argv[i];
		} else {
			return cli_error("user: unexpected argument \"%s\"", argv[i]);
		}
	}
	bool is_list = strcmp(sub, "list") == 0;
	if (strcmp(sub, "import") == 0) {
		if (addr_arg == NULL)
			return cli_error("user import: FILE is required");
		return user_import(cfg, addr_arg, domain_opt, update);
	}
	if (!is_list && strcmp(sub, "add") != 0 && strcmp(sub, "del") != 0 &&
	    strcmp(sub, "passwd") != 0 && strcmp(sub, "set") != 0)
		return cli_error("user: unknown subcommand \"%s\" (add, set, del, list, passwd, import)",
				 sub);
	char local[130] = "", domain[256] = "";
	const char *why;
	if (is_list) {
		if (addr_arg != NULL) {
			char at[300];
			snprintf(at, sizeof(at), "@%s", addr_arg);
			if (cli_parse_address(at, true, local, sizeof(local), domain, sizeof(domain),
					      &why) < 0)
				return cli_error("user list: %s: not a valid domain name", addr_arg);
		}
	} else {
		if (addr_arg == NULL)
			return cli_error("user %s: ADDRESS is required", sub);
		if (cli_parse_address(addr_arg, false, local, sizeof(local), domain, sizeof(domain),
				      &why) < 0)
			return cli_error("user %s: %s", addr_arg, why);
	}
	char delim = cfg->recipient_delimiter[0];
	if (strcmp(sub, "add") == 0 && !valid_account_local(local, delim))
		return cli_error("user %s: local part may only use letters, digits, '.', '-', '_'"
				 " (not '%c', not leading, trailing or doubled dots)",
				 addr_arg, delim != 0 ? delim : '.');
	if (strcmp(sub, "set") == 0 && quota < 0 && send_as < 0)
		return cli_error("user set: nothing to change (--quota, --send-as)");

	char hash[PASSWORD_HASH_MAX];
	if (strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0) {
		if (hash_from_stdin(hash, sizeof(hash)) != 0)
			return 1;
	}
	struct store *store;
	struct store_conn *sc;
	if (cli_open_store(cfg, &store, &sc) != 0)
		return 1;
	int ret = 0;
	if (is_list) {
		if (store_user_list(sc, domain[0] != '\0' ? domain : NULL, print_user, NULL) < 0)
			ret = cli_error("user list: %s", store_conn_error(sc));
	} else if (strcmp(sub, "add") == 0) {
		if (store_user_add(sc, local, domain, hash, quota > 0 ? (uint64_t)quota : 0) < 0) {
			ret = cli_error("user %s@%s: %s", local, domain, store_conn_error(sc));
		} else {
			printf("postane: user %s@%s added\n", local, domain);
			if (send_as >= 0) {
				struct store_user_change ch = {.quota_bytes = -1, .send_as = send_as};
				store_user_update(sc, local, domain, &ch);
			}
			ensure_postmaster(sc, local, domain);
		}
	} else if (strcmp(sub, "set") == 0) {
		struct store_user_change ch = {.quota_bytes = quota, .send_as = send_as};
		if (store_user_update(sc, local, domain, &ch) < 0)
			ret = cli_error("user %s@%s: %s", local, domain, store_conn_error(sc));
		else
			printf("postane: user %s@%s updated\n", local, domain);
	} else if (strcmp(sub, "passwd") == 0) {
		if (store_user_set_password(sc, local, domain, hash) < 0)
			ret = cli_error("user %s@%s: %s", local, domain, store_conn_error(sc));
		else
			printf("postane: password of %s@%s changed\n", local, domain);
	} else {
		if (store_user_del(sc, local, domain) < 0) {
			ret = cli_error("user %s@%s: %s", local, domain, store_conn_error(sc));
		} else {
			printf("postane: user %s@%s deleted\n", local, domain);
			after_user_del(sc, local, domain);
		}
	}
	explicit_bzero(hash, sizeof(hash));
	cli_close_store(&store, &sc);
	return ret;
}

/* ----- alias ----- */

static void print_alias(void *ctx, const struct store_alias_info *a)
{
	(void)ctx;
	printf("%s@%s\t%s\n", a->local, a->domain, a->target);
}

int cli_alias(const struct config *cfg, int argc, char **argv)
{
	if (want_help(argc, argv)) {
		fputs(alias_help, stdout);
		return 0;
	}
	if (argc < 2) {
		fputs(alias_help, stderr);
		return 2;
	}
	const char *sub = argv[1];
	bool is_list = strcmp(sub, "list") == 0;
	if (!is_list && strcmp(sub, "add") != 0 && strcmp(sub, "del") != 0)
		return cli_error("alias: unknown subcommand \"%s\" (add, del, list)", sub);
	char local[130] = "", domain[256] = "";
	const char *why;
	if (is_list) {
		if (argc > 3)
			return cli_error("alias list: unexpected argument \"%s\"", argv[3]);
		if (argc == 3) {
			char at[300];
			snprintf(at, sizeof(at), "@%s", argv[2]);
			if (cli_parse_address(at, true, local, sizeof(local), domain, sizeof(domain),
					      &why) < 0)
				return cli_error("alias list: %s: not a valid domain name", argv[2]);
		}
	} else {
		if (argc < 3)
			return cli_error("alias %s: ALIAS is required", sub);
		if (strcmp(sub, "add") == 0 && argc < 4)
			return cli_error("alias add: at least one TARGET is required");
		if (strcmp(sub, "del") == 0 && argc > 4)
			return cli_error("alias del: unexpected argument \"%s\"", argv[4]);
		if (cli_parse_address(argv[2], true, local, sizeof(local), domain, sizeof(domain),
				      &why) < 0)
			return cli_error("alias %s: %s", argv[2], why);
	}
	struct store *store;
	struct store_conn *sc;
	if (cli_open_store(cfg, &store, &sc) != 0)
		return 1;
	int ret = 0;
	char shown[400];
	snprintf(shown, sizeof(shown), "%s@%s", local, domain);
	if (is_list) {
		if (store_alias_list(sc, domain[0] != '\0' ? domain : NULL, print_alias, NULL) < 0)
			ret = cli_error("alias list: %s", store_conn_error(sc));
	} else if (strcmp(sub, "add") == 0) {
		for (int i = 3; i < argc && ret == 0; i++) {
			/* Several targets may also be given comma-separated. */
			char *list = xstrdup(argv[i]), *save = NULL;
			for (char *t = strtok_r(list, ",", &save); t != NULL && ret == 0;
			     t = strtok_r(NULL, ",", &save)) {
				char tl[130], td[256], target[400];
				if (cli_parse_address(t, false, tl, sizeof(tl), td, sizeof(td), &why) < 0) {
					ret = cli_error("alias %s: target %s: %s", shown, t, why);
					break;
				}
				int local_domain = store_domain_exists(sc, td);
				if (local_domain <= 0) {
					ret = cli_error("alias %s: target %s@%s: %s", shown, tl, td,
							local_domain < 0 ? store_conn_error(sc)
									 : "not a local domain (forwarding to other domains needs outbound delivery)");
					break;
				}
				snprintf(target, sizeof(target), "%s@%s", tl, td);
				if (store_alias_add(sc, local, domain, target) < 0)
					ret = cli_error("alias %s: %s", shown, store_conn_error(sc));
				else
					printf("postane: alias %s -> %s added\n", shown, target);
			}
			free(list);
		}
	} else {
		const char *target = argc == 4 ? argv[3] : NULL;
		char tl[130], td[256], tnorm[400];
		if (target != NULL) {
			if (cli_parse_address(target, false, tl, sizeof(tl), td, sizeof(td), &why) < 0) {
				ret = cli_error("alias %s: target %s: %s", shown, target, why);
				goto out;
			}
			snprintf(tnorm, sizeof(tnorm), "%s@%s", tl, td);
			target = tnorm;
		}
		if (store_alias_del(sc, local, domain, target) < 0)
			ret = cli_error("alias %s: %s", shown, store_conn_error(sc));
		else
			printf("postane: alias %s deleted%s%s\n", shown, target ? " for " : "",
			       target ? target : "");
	}
out:
	cli_close_store(&store, &sc);
	return ret;
}
