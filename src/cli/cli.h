/* cli.h - shared pieces of the `postane` command: option access, address
 * normalisation for administrators, error printing. */
#ifndef POSTANE_CLI_H
#define POSTANE_CLI_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct store;
struct store_conn;

/* Print "postane: ..." to stderr; returns 1 (the exit status for errors). */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Split an administrator-given address into lowercase local part and
 * A-label domain. `allow_catchall` admits "@domain" (local becomes "").
 * Returns 0 or -1 with a reason. */
int cli_parse_address(const char *in, bool allow_catchall, char *local, size_t local_len,
		      char *domain, size_t domain_len, const char **why_r);

/* Open the store for an admin command (config already loaded). */
int cli_open_store(const struct config *cfg, struct store **store_r, struct store_conn **conn_r);
void cli_close_store(struct store **store, struct store_conn **conn);

int cli_init(int argc, char **argv);
int cli_domain(const struct config *cfg, int argc, char **argv);
int cli_user(const struct config *cfg, int argc, char **argv);
int cli_alias(const struct config *cfg, int argc, char **argv);
int cli_dkim(const struct config *cfg, int argc, char **argv);
int cli_dns(const struct config *cfg, int argc, char **argv);
int cli_queue(const struct config *cfg, int argc, char **argv);
int cli_check(const struct config *cfg, int argc, char **argv);

#endif
