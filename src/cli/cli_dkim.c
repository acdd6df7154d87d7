/* cli_dkim.c - `postane dkim keygen|list` (DKIM signing keys) and `postane
 * dns records DOMAIN` (every DNS record a mail domain needs, ready to paste
 * into a zone file). Private keys are only touched through dkim_sign.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/util.h"
#include "dkim/dkim_sign.h"
#include "smtp/smtp_addr.h"
#include "store/store.h"

static const char dkim_help[] =
	"usage: postane [-c FILE] dkim keygen DOMAIN [--selector S] [--algorithm rsa|ed25519]\n"
	"       postane [-c FILE] dkim list [DOMAIN]\n"
	"\n"
	"Outgoing mail from DOMAIN is signed with every key of DOMAIN\n"
	"(c=relaxed/relaxed; ed25519-sha256 and rsa-sha256 when both exist).\n"
	"Keys are PEM files DIR/DOMAIN/SELECTOR.rsa.key and SELECTOR.ed25519.key,\n"
	"where DIR is [dkim] dir (default DATA/dkim).\n"
	"\n"
	"`keygen` makes a new key (RSA 2048 bits by default, or Ed25519, RFC 8463)\n"
	"and prints the TXT record to publish, as a zone-file line. It never\n"
	"replaces an existing key. The selector defaults to [dkim] selector for RSA\n"
	"and to that selector plus \"-ed25519\" for Ed25519: one selector names one\n"
	"DNS record, so two keys cannot share it. Publish the record before the\n"
	"server signs with the key (it loads keys when it starts). Many receivers\n"
	"do not check Ed25519 signatures yet: keep an RSA key beside it.\n"
	"\n"
	"  --selector S       the selector (the S in S._domainkey.DOMAIN)\n"
	"  --algorithm ALG    rsa (default) or ed25519\n"
	"\n"
	"`list` shows each key: domain, selector, algorithm, bits, file.\n"
	"`postane dns records DOMAIN` prints the records of all keys of DOMAIN.\n";

static const char dns_help[] =
	"usage: postane [-c FILE] dns records DOMAIN\n"
	"\n"
	"Print the DNS records DOMAIN needs for mail, as zone-file lines: MX\n"
	"(pointing at [server] hostname), A/AAAA of the host name (from the public\n"
	"addresses in [listen] address, or a line to fill in), SPF, the DKIM keys\n"
	"of the domain, DMARC, and the reverse DNS (PTR) the server's address\n"
	"should have. Lines starting with ';' are comments.\n";

static bool want_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

static void key_dir(const struct config *cfg, char *out, size_t outlen)
{
	dkim_keyring_dir(cfg->dkim_dir, cfg->data_dir, out, outlen);
}

/* An administrator's domain: lowercase A-label with at least one dot. */
static int parse_domain(const char *cmd, const char *in, char *out, size_t outlen)
{
	if (smtp_domain_normalize(in, out, outlen) < 0 || out[0] == '[' ||
	    strchr(out, '.') == NULL) {
		cli_error("%s: %s: not a valid domain name", cmd, in);
		return -1;
	}
	return 0;
}

/* A TXT record value as zone-file strings of at most 255 bytes each:
 * ("part1" "part2"). */
static void print_txt_strings(const char *value)
{
	size_t len = strlen(value), pos = 0;
	fputc('(', stdout);
	do {
		size_t n = len - pos < 255 ? len - pos : 255;
		fputs(pos == 0 ? "\"" : " \"", stdout);
		for (size_t i = pos; i < pos + n; i++) {
			if (value[i] == '"' || value[i] == '\\')
				fputc('\\', stdout);
			fputc(value[i], stdout);
		}
		fputc('"', stdout);
		pos += n;
	} while (pos < len);
	fputs(")\n", stdout);
}

static void print_dkim_record(const char *selector, const char *domain, const char *value)
{
	printf("%s._domainkey.%s. IN TXT ", selector, domain);
	print_txt_strings(value);
}

/* ----- dkim keygen ----- */

static int dkim_keygen_cmd(const struct config *cfg, int argc, char **argv)
{
	const char *domain_arg = NULL, *selector = NULL, *algorithm = "rsa";
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--selector") == 0 && i + 1 < argc)
			selector = argv[++i];
		else if (strcmp(argv[i], "--algorithm") == 0 && i + 1 < argc)
			algorithm = argv[++i];
		else if (domain_arg == NULL && argv[i][0] != '-')
			domain_arg = argv[i];
		else
			return cli_error("dkim keygen: unexpected argument \"%s\"", argv[i]);
	}
	if (domain_arg == NULL)
		return cli_error("dkim keygen: DOMAIN is required");
	if (strcmp(algorithm, "rsa") != 0 && strcmp(algorithm, "ed25519") != 0)
		return cli_error("dkim keygen: --algorithm must be rsa or ed25519");
	char domain[256];
	if (parse_domain("dkim keygen", domain_arg, domain, sizeof(domain)) < 0)
		return 1;
	char sel[256];
	if (selector != NULL)
		snprintf(sel, sizeof(sel), "%s", selector);
	else if (strcmp(algorithm, "ed25519") == 0)
		snprintf(sel, sizeof(sel), "%s-ed25519", cfg->dkim_selector);
	else
		snprintf(sel, sizeof(sel), "%s", cfg->dkim_selector);
	ascii_lower(sel);
	if (!dkim_selector_valid(sel))
		return cli_error("dkim keygen: selector \"%s\" is not valid (letters, digits, '-',"
				 " '.')",
				 sel);
	char dir[4096], err[512];
	key_dir(cfg, dir, sizeof(dir));
	struct buf rec;
	buf_init(&rec, 0);
	if (dkim_keygen(dir, domain, sel, algorithm, &rec, err, sizeof(err)) < 0) {
		buf_free(&rec);
		return cli_error("dkim keygen: %s", err);
	}
	/* Run as root for a server that drops to [server] user: that user must
	 * be able to read the key. */
	if (geteuid() == 0 && cfg->run_as[0] != '\0') {
		struct passwd *pw = getpwnam(cfg->run_as);
		char path[4096];
		if (pw == NULL)
			return cli_error("dkim keygen: [server] user %s: no such user", cfg->run_as);
		const char *paths[3] = {dir, NULL, NULL};
		char ddir[4096];
		snprintf(ddir, sizeof(ddir), "%s/%s", dir, domain);
		snprintf(path, sizeof(path), "%s/%s.%s.key", ddir, sel, algorithm);
		paths[1] = ddir;
		paths[2] = path;
		for (int i = 0; i < 3; i++)
			if (chown(paths[i], pw->pw_uid, pw->pw_gid) < 0)
				return cli_error("dkim keygen: chown %s: %s", paths[i], strerror(errno));
	}
	printf("; postane: new %s key for %s, selector %s: %s/%s/%s.%s.key\n",
	       strcmp(algorithm, "rsa") == 0 ? "RSA 2048-bit" : "Ed25519", domain, sel, dir, domain,
	       sel, algorithm);
	printf("; Publish this TXT record in the zone of %s\n"
	       "; (check it with: dig +short TXT %s._domainkey.%s):\n",
	       domain, sel, domain);
	print_dkim_record(sel, domain, rec.data);
	buf_free(&rec);
	return 0;
}

/* ----- dkim list ----- */

static void print_key(void *ctx, const struct dkim_key_info *key)
{
	(void)ctx;
	printf("%s\t%s\t%s\t%u\t%s\n", key->domain, key->selector, key->algorithm, key->bits,
	       key->path);
}

static int dkim_list_cmd(const struct config *cfg, int argc, char **argv)
{
	char domain[256] = "";
	if (argc > 3)
		return cli_error("dkim list: unexpected argument \"%s\"", argv[3]);
	if (argc == 3 && parse_domain("dkim list", argv[2], domain, sizeof(domain)) < 0)
		return 1;
	char dir[4096], err[512];
	key_dir(cfg, dir, sizeof(dir));
	struct dkim_keyring *k = dkim_keyring_load(dir, err, sizeof(err));
	if (k == NULL)
		return cli_error("dkim list: %s", err);
	dkim_keyring_foreach(k, domain[0] != '\0' ? domain : NULL, print_key, NULL);
	dkim_keyring_free(&k);
	return 0;
}

int cli_dkim(const struct config *cfg, int argc, char **argv)
{
	if (want_help(argc, argv)) {
		fputs(dkim_help, stdout);
		return 0;
	}
	if (argc < 2) {
		fputs(dkim_help, stderr);
		return 2;
	}
	if (strcmp(argv[1], "keygen") == 0)
		return dkim_keygen_cmd(cfg, argc, argv);
	if (strcmp(argv[1], "list") == 0)
		return dkim_list_cmd(cfg, argc, argv);
	return cli_error("dkim: unknown subcommand \"%s\" (keygen, list)", argv[1]);
}

/* ----- dns records ----- */

/* Not reachable from the internet: private, loopback, link-local, shared,
 * documentation, benchmarking, multicast and reserved ranges. */
static bool ipv4_public(const unsigned char a[4])
{
	unsigned x = (unsigned)a[0] << 24 | (unsigned)a[1] << 16 | (unsigned)a[2] << 8 | a[3];
	static const struct {
		unsigned net, bits;
	} nonpublic[] = {
		{0x00000000, 8},  {0x0a000000, 8},  {0x64400000, 10}, {0x7f000000, 8},
		{0xa9fe0000, 16}, {0xac100000, 12}, {0xc0000000, 24}, {0xc0000200, 24},
		{0xc0a80000, 16}, {0xc6120000, 15}, {0xc6336400, 24}, {0xcb007100, 24},
		{0xe0000000, 3},
	};
	for (size_t i = 0; i < sizeof(nonpublic) / sizeof(nonpublic[0]); i++) {
		unsigned mask = 0xffffffffu << (32 - nonpublic[i].bits);
		if ((x & mask) == nonpublic[i].net)
			return false;
	}
	return true;
}

/* Global unicast (2000::/3) except documentation (2001:db8::/32). */
static bool ipv6_public(const unsigned char a[16])
{
	if ((a[0] & 0xe0) != 0x20)
		return false;
	return !(a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8);
}

struct listen_addrs {
	char v4[8][INET_ADDRSTRLEN];
	char v4_ptr[8][64];
	size_t n4;
	char v6[8][INET6_ADDRSTRLEN];
	char v6_ptr[8][80];
	size_t n6;
};

static void public_addresses(const char *listen, struct listen_addrs *out)
{
	memset(out, 0, sizeof(*out));
	char *copy = xstrdup(listen), *save = NULL;
	for (char *a = strtok_r(copy, ", ", &save); a != NULL; a = strtok_r(NULL, ", ", &save)) {
		size_t len = strlen(a);
		if (len > 2 && a[0] == '[' && a[len - 1] == ']') {
			a[len - 1] = '\0';
			a++;
		}
		unsigned char v4[4], v6[16];
		if (inet_pton(AF_INET, a, v4) == 1) {
			if (!ipv4_public(v4) || out->n4 == 8)
				continue;
			inet_ntop(AF_INET, v4, out->v4[out->n4], INET_ADDRSTRLEN);
			snprintf(out->v4_ptr[out->n4], sizeof(out->v4_ptr[0]),
				 "%u.%u.%u.%u.in-addr.arpa.", v4[3], v4[2], v4[1], v4[0]);
			out->n4++;
		} else if (inet_pton(AF_INET6, a, v6) == 1) {
			if (!ipv6_public(v6) || out->n6 == 8)
				continue;
			inet_ntop(AF_INET6, v6, out->v6[out->n6], INET6_ADDRSTRLEN);
			char *p = out->v6_ptr[out->n6];
			static const char hex[] = "0123456789abcdef";
			for (int i = 15; i >= 0; i--) {
				*p++ = hex[v6[i] & 0x0f];
				*p++ = '.';
				*p++ = hex[v6[i] >> 4];
				*p++ = '.';
			}
			strcpy(p, "ip6.arpa.");
			out->n6++;
		}
	}
	free(copy);
}

struct dns_keys {
	const struct dkim_keyring *k;
	size_t printed;
};

static void print_key_record(void *ctx, const struct dkim_key_info *key)
{
	struct dns_keys *d = ctx;
	struct buf rec;
	char err[512];
	buf_init(&rec, 0);
	if (dkim_public_record(d->k, key->domain, key->selector, key->algorithm, &rec, err,
			       sizeof(err)) < 0) {
		cli_error("dns records: %s", err);
	} else {
		printf("; %s key %s (%s)\n", key->algorithm, key->selector, key->path);
		print_dkim_record(key->selector, key->domain, rec.data);
		d->printed++;
	}
	buf_free(&rec);
}

static void print_dkim_section(const struct config *cfg, const char *domain)
{
	char dir[4096], err[512];
	key_dir(cfg, dir, sizeof(dir));
	printf("\n; DKIM: the public keys outgoing mail is signed with.\n");
	struct dkim_keyring *k = dkim_keyring_load(dir, err, sizeof(err));
	if (k == NULL) {
		cli_error("warning: DKIM keys: %s", err);
		printf("; (the DKIM keys could not be read: %s)\n", err);
		return;
	}
	struct dns_keys d = {.k = k, .printed = 0};
	dkim_keyring_foreach(k, domain, print_key_record, &d);
	if (d.printed == 0)
		printf("; No DKIM key for %s yet. Make one (and print its record) with:\n"
		       ";   postane dkim keygen %s\n"
		       ";   postane dkim keygen %s --algorithm ed25519\n",
		       domain, domain, domain);
	dkim_keyring_free(&k);
}

static int dns_records_cmd(const struct config *cfg, const char *domain_arg)
{
	char domain[256];
	if (parse_domain("dns records", domain_arg, domain, sizeof(domain)) < 0)
		return 1;
	struct store *store;
	struct store_conn *sc;
	if (cli_open_store(cfg, &store, &sc) != 0)
		return 1;
	int exists = store_domain_exists(sc, domain);
	if (exists < 0)
		cli_error("warning: cannot check the domain: %s", store_conn_error(sc));
	else if (exists == 0)
		cli_error("warning: %s is not a domain of this server (add it with `postane domain"
			  " add %s`)",
			  domain, domain);
	cli_close_store(&store, &sc);

	const char *host = cfg->hostname;
	if (strchr(host, '.') == NULL || ascii_ieq(host, "localhost"))
		cli_error("warning: [server] hostname is \"%s\": MX and PTR need the"
			  " server's public name",
			  host);
	struct listen_addrs la;
	public_addresses(cfg->listen, &la);

	printf("; DNS records for %s, whose mail this server, %s, handles.\n", domain, host);
	if (la.n4 == 0 || la.n6 == 0)
		printf("; Zone-file lines; complete the lines marked FILL IN.\n");
	printf("\n; MX: where mail for %s is delivered.\n", domain);
	printf("%s. IN MX 10 %s.\n", domain, host);

	size_t hlen = strlen(host), dlen = strlen(domain);
	bool in_zone = ascii_ieq(host, domain) || (hlen > dlen && host[hlen - dlen - 1] == '.' &&
						   ascii_ieq(host + hlen - dlen, domain));
	printf("\n; A/AAAA of the mail host%s.\n",
	       in_zone ? "" : " (in the zone that holds it, once for all domains)");
	for (size_t i = 0; i < la.n4; i++)
		printf("%s. IN A %s\n", host, la.v4[i]);
	if (la.n4 == 0)
		printf("; FILL IN: %s. IN A <this server's public IPv4 address>\n"
		       ";   ([listen] address \"%s\" has no public IPv4 address)\n",
		       host, cfg->listen);
	for (size_t i = 0; i < la.n6; i++)
		printf("%s. IN AAAA %s\n", host, la.v6[i]);
	if (la.n6 == 0)
		printf("; FILL IN, if the server has one: %s. IN AAAA <its public IPv6 address>\n",
		       host);

	printf("\n; SPF: only the hosts named by the MX records send mail for %s.\n", domain);
	if (cfg->smarthost != NULL && cfg->smarthost[0] != '\0')
		printf("; Mail leaves through the smarthost %s: add the SPF mechanism its"
		       " provider documents (for example include:...) before -all.\n",
		       cfg->smarthost);
	printf("%s. IN TXT \"v=spf1 mx -all\"\n", domain);

	print_dkim_section(cfg, domain);

	printf("\n; DMARC: start with p=none and read the aggregate reports sent to rua;\n"
	       "; once they show that your mail passes SPF/DKIM, move to p=quarantine,\n"
	       "; then p=reject.\n");
	printf("_dmarc.%s. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@%s\"\n", domain,
	       domain);

	printf("\n; PTR (reverse DNS): set by whoever runs the IP address (your hosting\n"
	       "; provider); the server's address must point back at %s.\n",
	       host);
	for (size_t i = 0; i < la.n4; i++)
		printf("%s IN PTR %s.\n", la.v4_ptr[i], host);
	for (size_t i = 0; i < la.n6; i++)
		printf("%s IN PTR %s.\n", la.v6_ptr[i], host);
	if (la.n4 + la.n6 == 0)
		printf("; FILL IN: <reverse name of the public IP address> IN PTR %s.\n", host);
	return 0;
}

int cli_dns(const struct config *cfg, int argc, char **argv)
{
	if (want_help(argc, argv)) {
		fputs(dns_help, stdout);
		return 0;
	}
	if (argc < 2) {
		fputs(dns_help, stderr);
		return 2;
	}
	if (strcmp(argv[1], "records") != 0)
		return cli_error("dns: unknown subcommand \"%s\" (records)", argv[1]);
	if (argc < 3)
		return cli_error("dns records: DOMAIN is required");
	if (argc > 3)
		return cli_error("dns records: unexpected argument \"%s\"", argv[3]);
	return dns_records_cmd(cfg, argv[2]);
}
