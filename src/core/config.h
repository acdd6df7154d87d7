/* config.h - the server configuration, read from an INI file with inih.
 *
 * config_load() fills every field with its default first, then applies the
 * file; unknown sections or keys and malformed values are errors naming the
 * file and line. Strings are owned by the struct; config_free() releases
 * them. */
#ifndef POSTANE_CONFIG_H
#define POSTANE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/log.h"

enum listener_kind {
	LISTENER_SMTP,
	LISTENER_SUBMISSION,
	LISTENER_SUBMISSIONS,
	LISTENER_IMAP,
	LISTENER_IMAPS,
	LISTENER_POP3,
	LISTENER_POP3S,
	LISTENER_HTTP,
	LISTENER_COUNT
};

/* Standard port of each listener kind (25, 587, 465, 143, 993, 110, 995, 80). */
unsigned listener_standard_port(enum listener_kind kind);
/* Key name in the [listen] section ("smtp", "submission", ...). */
const char *listener_name(enum listener_kind kind);

struct config {
	char *path;      /* the file this came from */
	char *hostname;  /* our FQDN: banner, EHLO, Received */
	char *data_dir;  /* absolute; holds postane.db, mail/, spool/ */
	char *listen;    /* comma-separated addresses */
	unsigned ports[LISTENER_COUNT]; /* 0 = listener disabled */
	unsigned threads;               /* event loops; 0 = one per CPU */
	char *run_as;                   /* drop root to this user after binding ("" = no) */
	enum log_level log_level;

	/* [smtp] */
	uint64_t max_message_size;  /* bytes of message content */
	unsigned max_recipients;    /* per transaction */
	unsigned max_errors;        /* protocol errors before 421 */
	unsigned max_line_length;   /* command line, bytes incl. CRLF */
	unsigned max_connections;   /* per process */
	unsigned max_connections_per_ip; /* [server], all protocols; 0 = unlimited */
	unsigned timeout_command;   /* seconds waiting for a command */
	unsigned timeout_data;      /* seconds waiting for each data block */
	unsigned min_data_rate;     /* bytes/s that keep extending the data deadline */
	char *recipient_delimiter;  /* "+" by default; "" disables */

	/* [auth] */
	unsigned auth_max_failures_ip;   /* failures in 15 min before an IP is locked out */
	unsigned auth_max_failures_user; /* same per account */
	unsigned auth_lockout_seconds;
	unsigned auth_failure_delay_max; /* seconds; delays double per failure up to this */
	bool auth_plaintext_loopback;    /* allow AUTH without TLS from 127.0.0.0/8, ::1 */

	/* [store] */
	char *store_backend;        /* "maildir" (Maildir + SQLite) */
	char *sync_method;          /* "auto", "syncfs" or "fsync" */

	/* [delivery] outbound mail (the queue) */
	char *dns_servers;          /* "" = /etc/resolv.conf; else "ADDR[:PORT],..." */
	unsigned delivery_port;     /* TCP port of remote MX hosts (25; tests change it) */
	char *retry_schedule;       /* seconds between attempts, e.g. "300,900,1800,3600"; the last repeats */
	unsigned max_queue_lifetime; /* seconds before a pending recipient is bounced */
	unsigned delay_warning;     /* seconds before a delay DSN; 0 = never */
	unsigned concurrency;       /* parallel deliveries in all */
	unsigned concurrency_per_domain;
	unsigned connect_timeout;   /* seconds */
	unsigned client_timeout;    /* seconds per reply (RFC 5321 4.5.3.2 minimums are longer) */
	bool tls_required;          /* refuse to deliver without a verified STARTTLS */
	char *smarthost;            /* "" = deliver by MX; else "HOST[:PORT]" */
	char *smarthost_tls;        /* "starttls" (587) or "implicit" (465) */
	char *smarthost_auth_file;  /* file with "user:password" (mode 0600) */

	/* [dkim] */
	char *dkim_dir;             /* keys: DIR/DOMAIN/SELECTOR.{rsa,ed25519}.key; "" = DATA/dkim */
	char *dkim_selector;        /* default selector for `dkim keygen` */

	/* [tls] */
	char *tls_cert;
	char *tls_key;
	/* [tls NAME] sections: a certificate for clients asking for NAME
	 * (SNI); "*.example.org" matches one level of subdomain. */
	struct config_tls_name {
		char *name;
		char *cert;
		char *key;
	} *tls_names;
	size_t tls_name_count;
};

/* Defaults only (used by `init` and tests). */
void config_defaults(struct config *cfg);
/* Returns 0, or -1 with a message in *error_r (static or owned by cfg). */
int config_load(const char *path, struct config *cfg, const char **error_r);
void config_free(struct config *cfg);

#endif
