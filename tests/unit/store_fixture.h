/* store_fixture.h - a throw-away "maildir" store for unit tests: a temporary
 * data directory, a hand-built struct config, the store and one connection.
 *
 * Include after <cmocka.h>. fixture_open() asserts on any failure;
 * fixture_close() stops the store and removes the directory. */
#ifndef POSTANE_TEST_STORE_FIXTURE_H
#define POSTANE_TEST_STORE_FIXTURE_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/util.h"
#include "store/store.h"

struct store_fixture {
	char dir[64]; /* the data directory */
	struct config cfg;
	struct store *store;
	struct store_conn *conn;
};

static inline void fixture_open(struct store_fixture *f, const char *sync_method)
{
	const char *err = NULL;
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/postane-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	config_defaults(&f->cfg);
	free(f->cfg.data_dir);
	f->cfg.data_dir = xstrdup(f->dir);
	free(f->cfg.hostname);
	f->cfg.hostname = xstrdup("mx.example.org");
	free(f->cfg.sync_method);
	f->cfg.sync_method = xstrdup(sync_method != NULL ? sync_method : "auto");
	if (store_open(&f->cfg, true, &f->store, &err) < 0)
		fail_msg("store_open: %s", err);
	f->conn = store_conn_open(f->store, &err);
	if (f->conn == NULL)
		fail_msg("store_conn_open: %s", err);
}

/* Close and open the store again over the same directory (a restart). */
static inline void fixture_reopen(struct store_fixture *f)
{
	const char *err = NULL;
	store_conn_close(&f->conn);
	store_close(&f->store);
	if (store_open(&f->cfg, false, &f->store, &err) < 0)
		fail_msg("store_open: %s", err);
	f->conn = store_conn_open(f->store, &err);
	if (f->conn == NULL)
		fail_msg("store_conn_open: %s", err);
}

static inline int fixture_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void fixture_close(struct store_fixture *f)
{
	store_conn_close(&f->conn);
	store_close(&f->store);
	config_free(&f->cfg);
	if (f->dir[0] != '\0')
		nftw(f->dir, fixture_rm, 16, FTW_DEPTH | FTW_PHYS);
	f->dir[0] = '\0';
}

/* Add an account and return its id. */
static inline int64_t fixture_user(struct store_fixture *f, const char *local, const char *domain)
{
	struct store_user u;
	if (store_user_add(f->conn, local, domain, "{PLAIN}secret", 0) < 0)
		fail_msg("user_add %s@%s: %s", local, domain, store_conn_error(f->conn));
	assert_int_equal(store_user_lookup(f->conn, local, domain, &u), 1);
	assert_true(u.id > 0);
	return u.id;
}

static inline void fixture_domain(struct store_fixture *f, const char *domain)
{
	if (store_domain_add(f->conn, domain) < 0)
		fail_msg("domain_add %s: %s", domain, store_conn_error(f->conn));
}

static inline void fixture_alias(struct store_fixture *f, const char *local, const char *domain,
				 const char *target)
{
	if (store_alias_add(f->conn, local, domain, target) < 0)
		fail_msg("alias_add %s@%s -> %s: %s", local, domain, target,
			 store_conn_error(f->conn));
}

#endif
