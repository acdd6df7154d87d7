/* resolve.c - alias expansion, plus-addressing and catch-all lookup, written
 * once on top of the storage interface so every backend behaves alike. */
#include "store/resolve.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "store/store.h"

struct targets {
	char **v;
	size_t n, cap;
};

static void targets_cb(void *ctx, const char *target)
{
	struct targets *t = ctx;
	if (t->n >= RESOLVE_MAX_ACCOUNTS)
		return;
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 4 : t->cap * 2;
		t->v = xrealloc(t->v, t->cap * sizeof(char *));
	}
	t->v[t->n++] = xstrdup(target);
}

static void targets_free(struct targets *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
}

static void add_account(struct resolve_result *res, int64_t id)
{
	for (size_t i = 0; i < res->n; i++)
		if (res->accounts[i] == id)
			return;
	if (res->n >= RESOLVE_MAX_ACCOUNTS)
		return;
	if (res->n == res->cap) {
		res->cap = res->cap == 0 ? 4 : res->cap * 2;
		res->accounts = xrealloc(res->accounts, res->cap * sizeof(int64_t));
	}
	res->accounts[res->n++] = id;
}

static enum resolve_status resolve_depth(struct store_conn *c, const char *local,
					 const char *domain, char delimiter,
					 struct resolve_result *res, int depth);

/* Try alias then account for exactly local@domain. Returns LOCAL, NO_USER
 * or ERROR; *matched tells whether an alias or account of that name exists
 * at all (an alias that reaches nobody still stops the fall-back to the
 * base address and the catch-all). */
static enum resolve_status lookup_exact(struct store_conn *c, const char *local,
					const char *domain, char delimiter,
					struct resolve_result *res, int depth, bool *matched)
{
	*matched = false;
	struct targets t = {0};
	int found = store_alias_targets(c, local, domain, targets_cb, &t);
	if (found < 0) {
		targets_free(&t);
		return RESOLVE_ERROR;
	}
	if (found > 0) {
		*matched = true;
		bool reached = false, failed = false;
		for (size_t i = 0; i < t.n && !failed; i++) {
			const char *at = strrchr(t.v[i], '@');
			if (at == NULL)
				continue;
			char *tl = xstrndup(t.v[i], (size_t)(at - t.v[i]));
			const char *td = at + 1;
			enum resolve_status r;
			if (strcmp(tl, local) == 0 && strcmp(td, domain) == 0) {
				/* Self-reference: deliver to the account itself. */
				struct store_user u;
				int f = store_user_lookup(c, tl, td, &u);
				explicit_bzero(u.password, sizeof(u.password));
				r = f < 0 ? RESOLVE_ERROR : f > 0 ? RESOLVE_LOCAL : RESOLVE_NO_USER;
				if (f > 0)
					add_account(res, u.id);
			} else {
				r = resolve_depth(c, tl, td, delimiter, res, depth + 1);
			}
			free(tl);
			if (r == RESOLVE_ERROR)
				failed = true;
			else if (r == RESOLVE_LOCAL)
				reached = true;
			else if (r == RESOLVE_NOT_LOCAL)
				res->remote_targets++;
		}
		targets_free(&t);
		if (failed)
			return RESOLVE_ERROR;
		/* An alias that reaches nobody (every target gone) is unknown. */
		return reached ? RESOLVE_LOCAL : RESOLVE_NO_USER;
	}
	targets_free(&t);
	struct store_user u;
	int f = store_user_lookup(c, local, domain, &u);
	explicit_bzero(u.password, sizeof(u.password));
	if (f < 0)
		return RESOLVE_ERROR;
	if (f == 0)
		return RESOLVE_NO_USER;
	*matched = true;
	add_account(res, u.id);
	return RESOLVE_LOCAL;
}

static enum resolve_status resolve_depth(struct store_conn *c, const char *local_in,
					 const char *domain, char delimiter,
					 struct resolve_result *res, int depth)
{
	if (depth > RESOLVE_MAX_DEPTH)
		return RESOLVE_NO_USER;
	int local_domain = store_domain_exists(c, domain);
	if (local_domain < 0)
		return RESOLVE_ERROR;
	if (local_domain == 0)
		return RESOLVE_NOT_LOCAL;
	char *local = xstrdup(local_in);
	ascii_lower(local);
	bool matched;
	enum resolve_status st = lookup_exact(c, local, domain, delimiter, res, depth, &matched);
	if (st == RESOLVE_NO_USER && !matched && delimiter != 0) {
		char *d = strchr(local, delimiter);
		if (d != NULL && d != local) {
			*d = '\0';
			st = lookup_exact(c, local, domain, delimiter, res, depth, &matched);
		}
	}
	if (st == RESOLVE_NO_USER && !matched) {
		st = lookup_exact(c, "", domain, delimiter, res, depth, &matched);
		if (st == RESOLVE_LOCAL)
			res->via_catchall = true;
	}
	free(local);
	return st;
}

enum resolve_status resolve_recipient(struct store_conn *c, const char *local, const char *domain,
				      char delimiter, struct resolve_result *res)
{
	return resolve_depth(c, local, domain, delimiter, res, 0);
}

void resolve_result_free(struct resolve_result *res)
{
	free(res->accounts);
	memset(res, 0, sizeof(*res));
}
