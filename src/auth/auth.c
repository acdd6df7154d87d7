/* auth.c - credential verification on worker threads, constant-time for
 * unknown users, transparent re-hashing of migrated hashes, and per-IP and
 * per-account failure throttling. */
#include "auth/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/password.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "core/workers.h"
#include "smtp/smtp_addr.h"

#define THROTTLE_SLOTS 4096

struct throttle_entry {
	char key[SASL_FIELD_MAX];
	unsigned failures;
	time_t last_failure;
	time_t locked_until;
};

struct throttle {
	struct throttle_entry slots[THROTTLE_SLOTS];
};

struct auth_service {
	struct store *store;
	struct workers *workers;
	pthread_key_t conn_key;
	char dummy_hash[PASSWORD_HASH_MAX];
	pthread_mutex_t lock;
	struct throttle ips, users;
	unsigned max_failures_ip, max_failures_user, lockout_seconds, delay_max;
	unsigned window_seconds;
};

static void close_conn(void *p)
{
	struct store_conn *c = p;
	store_conn_close(&c);
}

struct auth_service *auth_service_new(const struct config *cfg, struct store *store,
				      unsigned threads)
{
	struct auth_service *svc = xcalloc(1, sizeof(*svc));
	svc->store = store;
	pthread_mutex_init(&svc->lock, NULL);
	pthread_key_create(&svc->conn_key, close_conn);
	svc->max_failures_ip = cfg->auth_max_failures_ip;
	svc->max_failures_user = cfg->auth_max_failures_user;
	svc->lockout_seconds = cfg->auth_lockout_seconds;
	svc->delay_max = cfg->auth_failure_delay_max;
	svc->window_seconds = 900;
	/* A real hash with the real parameters, so that verifying an unknown
	 * user costs what verifying a known one costs. */
	char pw[33];
	random_id(pw, sizeof(pw), 32);
	if (password_hash(pw, strlen(pw), svc->dummy_hash, sizeof(svc->dummy_hash)) < 0)
		die("cannot compute the dummy password hash");
	svc->workers = workers_new(threads);
	return svc;
}

void auth_service_free(struct auth_service **svcp)
{
	struct auth_service *svc = *svcp;
	if (svc == NULL)
		return;
	workers_free(&svc->workers);
	pthread_key_delete(svc->conn_key);
	pthread_mutex_destroy(&svc->lock);
	free(svc);
	*svcp = NULL;
}

/* ----- throttling (callers hold svc->lock) ----- */

static struct throttle_entry *throttle_find(struct throttle *t, const char *key, bool create,
					    time_t now)
{
	/* FNV-1a, linear probing over 8 slots; a full neighbourhood reuses
	 * its stalest entry (an attacker cycling keys only evicts old ones). */
	uint32_t h = 2166136261u;
	for (const char *p = key; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	struct throttle_entry *stalest = NULL;
	for (unsigned i = 0; i < 8; i++) {
		struct throttle_entry *e = &t->slots[(h + i) % THROTTLE_SLOTS];
		if (strcmp(e->key, key) == 0)
			return e;
		if (stalest == NULL || e->last_failure < stalest->last_failure)
			stalest = e;
	}
	if (!create)
		return NULL;
	if (stalest->key[0] != '\0' && stalest->locked_until > now)
		return NULL; /* never evict an active lockout */
	memset(stalest, 0, sizeof(*stalest));
	snprintf(stalest->key, sizeof(stalest->key), "%s", key);
	return stalest;
}

static bool throttle_locked(struct throttle *t, const char *key, time_t now)
{
	struct throttle_entry *e = throttle_find(t, key, false, now);
	return e != NULL && e->locked_until > now;
}

/* Count a failure; returns the failure count in the window. */
static unsigned throttle_fail(struct auth_service *svc, struct throttle *t, const char *key,
			      unsigned max, time_t now, bool *locked_now)
{
	struct throttle_entry *e = throttle_find(t, key, true, now);
	if (e == NULL)
		return max;
	if (now - e->last_failure > (time_t)svc->window_seconds)
		e->failures = 0;
	e->failures++;
	e->last_failure = now;
	if (max > 0 && e->failures >= max && e->locked_until <= now) {
		e->locked_until = now + svc->lockout_seconds;
		*locked_now = true;
	}
	return e->failures;
}

static void throttle_clear(struct throttle *t, const char *key, time_t now)
{
	struct throttle_entry *e = throttle_find(t, key, false, now);
	if (e != NULL && e->locked_until <= now)
		e->failures = 0;
}

/* ----- verification ----- */

static struct store_conn *thread_conn(struct auth_service *svc)
{
	struct store_conn *c = pthread_getspecific(svc->conn_key);
	if (c == NULL) {
		const char *err;
		c = store_conn_open(svc->store, &err);
		if (c == NULL) {
			log_error("auth", NULL, "cannot open the store: %s", err);
			return NULL;
		}
		pthread_setspecific(svc->conn_key, c);
	}
	return c;
}

/* username -> lowercase local part and A-label domain; -1 if malformed. */
static int split_username(const char *username, char *local, size_t llen, char *domain,
			  size_t dlen)
{
	struct smtp_addr a;
	const char *why;
	if (smtp_addr_parse(username, strlen(username), SMTP_ADDR_NO_BRACKETS | SMTP_ADDR_ALLOW_UTF8,
			    &a, &why) != SMTP_ADDR_OK ||
	    a.literal || strlen(a.local) >= llen || strlen(a.domain) >= dlen)
		return -1;
	ascii_lower(a.local);
	snprintf(local, llen, "%s", a.local);
	snprintf(domain, dlen, "%s", a.domain);
	return 0;
}

static void verify_work(void *arg)
{
	struct auth_request *req = arg;
	struct auth_service *svc = req->svc;
	time_t now = time(NULL);
	char local[130], domain[256], key[400];
	bool valid_name = split_username(req->username, local, sizeof(local), domain,
					 sizeof(domain)) == 0;
	if (valid_name)
		snprintf(key, sizeof(key), "%s@%s", local, domain);
	else
		snprintf(key, sizeof(key), "%s", req->username);

	pthread_mutex_lock(&svc->lock);
	bool locked = throttle_locked(&svc->ips, req->ip, now) ||
		      throttle_locked(&svc->users, key, now);
	pthread_mutex_unlock(&svc->lock);
	if (locked) {
		req->result = AUTH_LOCKED;
		log_info("auth", NULL, "refused (locked out) ip=%s user=%s protocol=%s", req->ip,
			 log_escaped(0, key, strlen(key)), req->protocol);
		return;
	}

	struct store_conn *c = thread_conn(svc);
	int found = 0;
	memset(&req->user, 0, sizeof(req->user));
	if (c == NULL) {
		found = -1;
	} else if (valid_name) {
		found = store_user_lookup(c, local, domain, &req->user);
	}
	if (found < 0) {
		req->result = AUTH_TEMPFAIL;
		return;
	}
	const char *hash = found > 0 ? req->user.password : svc->dummy_hash;
	size_t plen = strlen(req->password);
	bool ok = password_verify(req->password, plen, hash) == 1 && found > 0;

	if (ok && password_needs_rehash(req->user.password)) {
		char fresh[PASSWORD_HASH_MAX];
		if (password_hash(req->password, plen, fresh, sizeof(fresh)) == 0 &&
		    store_user_set_password(c, local, domain, fresh) == 0)
			log_info("auth", NULL, "user=%s: password re-hashed to argon2id", key);
		explicit_bzero(fresh, sizeof(fresh));
	}
	explicit_bzero(req->user.password, sizeof(req->user.password));

	pthread_mutex_lock(&svc->lock);
	if (ok) {
		throttle_clear(&svc->ips, req->ip, now);
		throttle_clear(&svc->users, key, now);
		pthread_mutex_unlock(&svc->lock);
		req->result = AUTH_OK;
		return;
	}
	bool ip_locked = false, user_locked = false;
	unsigned nip = throttle_fail(svc, &svc->ips, req->ip, svc->max_failures_ip, now, &ip_locked);
	unsigned nuser = throttle_fail(svc, &svc->users, key, svc->max_failures_user, now,
				       &user_locked);
	pthread_mutex_unlock(&svc->lock);
	unsigned n = nip > nuser ? nip : nuser;
	unsigned shift = n > 1 ? n - 1 : 0;
	unsigned delay = shift >= 16 ? svc->delay_max : (1u << shift);
	if (delay > svc->delay_max)
		delay = svc->delay_max;
	req->delay_ms = delay * 1000u;
	req->result = AUTH_FAILED;
	log_info("auth", NULL, "failed login ip=%s user=%s protocol=%s failures=%u", req->ip,
		 log_escaped(0, key, strlen(key)), req->protocol, n);
	if (ip_locked || user_locked)
		log_warn("auth", NULL, "lockout ip=%s user=%s failures=%u seconds=%u", req->ip,
			 log_escaped(0, key, strlen(key)), n, svc->lockout_seconds);
}

static void verify_done(void *arg)
{
	struct auth_request *req = arg;
	explicit_bzero(req->password, sizeof(req->password));
	req->cb(req, req->ctx);
}

void auth_verify(struct auth_service *svc, struct auth_request *req, struct loop *loop,
		 auth_done_cb *cb, void *ctx)
{
	req->svc = svc;
	req->cb = cb;
	req->ctx = ctx;
	req->delay_ms = 0;
	workers_run(svc->workers, verify_work, verify_done, loop, req);
}
