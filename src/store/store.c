/* store.c - dispatch from the storage interface to the configured backend.
 * Protocol code calls these functions only; it never sees a backend. */
#include "store/store.h"

#include <string.h>

#include "core/config.h"

static const struct store_backend *const backends[] = {&store_backend_maildir};

#define B(obj) (((const struct store_base *)(const void *)(obj))->backend)

int store_open(const struct config *cfg, bool create, struct store **store_r, const char **error_r)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, cfg->store_backend) == 0)
			return backends[i]->open(cfg, create, store_r, error_r);
	*error_r = "unknown store backend";
	return -1;
}

void store_close(struct store **store)
{
	if (*store == NULL)
		return;
	B(*store)->close(*store);
	*store = NULL;
}

int store_recover(struct store *store, const char **error_r)
{
	return B(store)->recover(store, error_r);
}

int store_check(struct store *store, unsigned flags, store_check_cb *cb, void *ctx,
		struct store_check_stats *stats_r, const char **error_r)
{
	return B(store)->check(store, flags, cb, ctx, stats_r, error_r);
}

int store_start(struct store *store, const char **error_r)
{
	return B(store)->start(store, error_r);
}

struct store_conn *store_conn_open(struct store *store, const char **error_r)
{
	return B(store)->conn_open(store, error_r);
}

void store_conn_close(struct store_conn **c)
{
	if (*c == NULL)
		return;
	B(*c)->conn_close(*c);
	*c = NULL;
}

const char *store_conn_error(struct store_conn *c)
{
	return B(c)->conn_error(c);
}

int store_domain_add(struct store_conn *c, const char *domain)
{
	return B(c)->domain_add(c, domain);
}

int store_domain_del(struct store_conn *c, const char *domain, bool force)
{
	return B(c)->domain_del(c, domain, force);
}

int store_domain_list(struct store_conn *c, store_domain_cb *cb, void *ctx)
{
	return B(c)->domain_list(c, cb, ctx);
}

int store_domain_exists(struct store_conn *c, const char *domain)
{
	return B(c)->domain_exists(c, domain);
}

int store_domain_primary(struct store_conn *c, char *out, size_t outlen)
{
	return B(c)->domain_primary(c, out, outlen);
}

int store_user_add(struct store_conn *c, const char *local, const char *domain,
		   const char *password_hash, uint64_t quota_bytes)
{
	return B(c)->user_add(c, local, domain, password_hash, quota_bytes);
}

int store_user_del(struct store_conn *c, const char *local, const char *domain)
{
	return B(c)->user_del(c, local, domain);
}

int store_user_list(struct store_conn *c, const char *domain, store_user_cb *cb, void *ctx)
{
	return B(c)->user_list(c, domain, cb, ctx);
}

int store_user_set_password(struct store_conn *c, const char *local, const char *domain,
			    const char *password_hash)
{
	return B(c)->user_set_password(c, local, domain, password_hash);
}

int store_user_lookup(struct store_conn *c, const char *local, const char *domain,
		      struct store_user *user_r)
{
	return B(c)->user_lookup(c, local, domain, user_r);
}

int store_user_update(struct store_conn *c, const char *local, const char *domain,
		      const struct store_user_change *change)
{
	return B(c)->user_update(c, local, domain, change);
}

int store_account_quota(struct store_conn *c, int64_t account_id, uint64_t *quota_r,
			uint64_t *used_r)
{
	return B(c)->account_quota(c, account_id, quota_r, used_r);
}

int store_alias_add(struct store_conn *c, const char *local, const char *domain,
		    const char *target)
{
	return B(c)->alias_add(c, local, domain, target);
}

int store_alias_del(struct store_conn *c, const char *local, const char *domain,
		    const char *target)
{
	return B(c)->alias_del(c, local, domain, target);
}

int store_alias_list(struct store_conn *c, const char *domain, store_alias_cb *cb, void *ctx)
{
	return B(c)->alias_list(c, domain, cb, ctx);
}

int store_alias_targets(struct store_conn *c, const char *local, const char *domain,
			store_target_cb *cb, void *ctx)
{
	return B(c)->alias_targets(c, local, domain, cb, ctx);
}

int store_msg_begin(struct store_conn *c, struct store_msg **msg_r)
{
	return B(c)->msg_begin(c, msg_r);
}

int store_msg_write(struct store_msg *msg, const void *data, size_t len)
{
	return B(msg)->msg_write(msg, data, len);
}

uint64_t store_msg_size(const struct store_msg *msg)
{
	return B(msg)->msg_size(msg);
}

const char *store_msg_error(const struct store_msg *msg, bool *disk_full_r)
{
	return B(msg)->msg_error(msg, disk_full_r);
}

void store_msg_abort(struct store_msg **msg)
{
	if (*msg == NULL)
		return;
	B(*msg)->msg_abort(*msg);
	*msg = NULL;
}

void store_msg_commit_env(struct store_msg *msg, const struct store_envelope *env,
			  store_commit_cb *cb, void *ctx)
{
	B(msg)->msg_commit(msg, env, cb, ctx);
}

void store_msg_commit(struct store_msg *msg, const int64_t *account_ids, size_t n,
		      store_commit_cb *cb, void *ctx)
{
	struct store_envelope env = {.sender = "", .accounts = account_ids, .naccounts = n};
	B(msg)->msg_commit(msg, &env, cb, ctx);
}

void store_set_change_hook(struct store *store, store_change_cb *cb, void *ctx)
{
	B(store)->set_change_hook(store, cb, ctx);
}

int store_mailbox_list(struct store_conn *c, int64_t account_id, store_mailbox_cb *cb, void *ctx)
{
	return B(c)->mailbox_list(c, account_id, cb, ctx);
}

int store_mailbox_find(struct store_conn *c, int64_t account_id, const char *name,
		       struct store_mailbox *mb_r)
{
	return B(c)->mailbox_find(c, account_id, name, mb_r);
}

int store_mailbox_create(struct store_conn *c, int64_t account_id, const char *name,
			 const char *special_use)
{
	return B(c)->mailbox_create(c, account_id, name, special_use);
}

int store_mailbox_delete(struct store_conn *c, int64_t account_id, const char *name)
{
	return B(c)->mailbox_delete(c, account_id, name);
}

int store_mailbox_rename(struct store_conn *c, int64_t account_id, const char *from,
			 const char *to)
{
	return B(c)->mailbox_rename(c, account_id, from, to);
}

int store_mailbox_subscribe(struct store_conn *c, int64_t account_id, const char *name,
			    bool subscribe)
{
	return B(c)->mailbox_subscribe(c, account_id, name, subscribe);
}

int store_subscriptions(struct store_conn *c, int64_t account_id, store_target_cb *cb, void *ctx)
{
	return B(c)->subscriptions(c, account_id, cb, ctx);
}

int store_mailbox_status(struct store_conn *c, int64_t mailbox_id,
			 struct store_mailbox_status *st_r)
{
	return B(c)->mailbox_status(c, mailbox_id, st_r);
}

int store_mailbox_claim_recent(struct store_conn *c, int64_t mailbox_id, uint32_t *seen_uid_r,
			       uint32_t *upto_r)
{
	return B(c)->mailbox_claim_recent(c, mailbox_id, seen_uid_r, upto_r);
}

int store_messages(struct store_conn *c, int64_t mailbox_id, uint64_t changed_since,
		   store_message_cb *cb, void *ctx)
{
	return B(c)->messages(c, mailbox_id, changed_since, cb, ctx);
}

int store_expunged(struct store_conn *c, int64_t mailbox_id, uint64_t since, store_uid_cb *cb,
		   void *ctx)
{
	return B(c)->expunged(c, mailbox_id, since, cb, ctx);
}

int store_flags_update(struct store_conn *c, int64_t mailbox_id, uint32_t uid,
		       enum store_flags_mode mode, uint32_t flags, const char *keywords,
		       uint64_t unchangedsince, uint32_t *flags_r, struct buf *keywords_r,
		       uint64_t *modseq_r)
{
	return B(c)->flags_update(c, mailbox_id, uid, mode, flags, keywords, unchangedsince, flags_r,
				  keywords_r, modseq_r);
}

int store_changes_begin(struct store_conn *c)
{
	return B(c)->changes_begin(c);
}

int store_read_begin(struct store_conn *c)
{
	return B(c)->read_begin(c);
}

int store_read_end(struct store_conn *c)
{
	return B(c)->read_end(c);
}

int store_changes_end(struct store_conn *c, bool durable, int64_t mailbox_id)
{
	return B(c)->changes_end(c, durable, mailbox_id);
}

int store_expunge(struct store_conn *c, int64_t mailbox_id, const uint32_t *uids, size_t n)
{
	return B(c)->expunge(c, mailbox_id, uids, n);
}

int store_copy(struct store_conn *c, int64_t src_mailbox, const uint32_t *uids, size_t n,
	       int64_t dst_mailbox, bool move, uint32_t *new_uids_r)
{
	return B(c)->copy(c, src_mailbox, uids, n, dst_mailbox, move, new_uids_r);
}

int store_message_open(struct store_conn *c, int64_t mailbox_id, const struct store_message *m,
		       int *fd_r, uint64_t *size_r)
{
	return B(c)->message_open(c, mailbox_id, m, fd_r, size_r);
}

int store_cache_get(struct store_conn *c, const char *file, const char *field, struct buf *out)
{
	return B(c)->cache_get(c, file, field, out);
}

int store_cache_put(struct store_conn *c, const char *file, const char *field, const void *data,
		    size_t len)
{
	return B(c)->cache_put(c, file, field, data, len);
}

int store_queue_due(struct store_conn *c, int64_t now, unsigned limit, store_queue_cb *cb,
		    void *ctx)
{
	return B(c)->queue_due(c, now, limit, cb, ctx);
}

int store_queue_lease(struct store_conn *c, const int64_t *rcpt_ids, size_t n, int64_t until)
{
	return B(c)->queue_lease(c, rcpt_ids, n, until);
}

int store_queue_release_leases(struct store_conn *c)
{
	return B(c)->queue_release_leases(c);
}

int store_queue_list(struct store_conn *c, int64_t id, store_queue_cb *cb, void *ctx)
{
	return B(c)->queue_list(c, id, cb, ctx);
}

int64_t store_queue_find(struct store_conn *c, const char *qid)
{
	return B(c)->queue_find(c, qid);
}

int store_queue_update(struct store_conn *c, const struct store_qrcpt_update *u, size_t n)
{
	return B(c)->queue_update(c, u, n);
}

int store_queue_settle(struct store_conn *c, const struct store_qrcpt_update *u, size_t n,
		       const int64_t *entries, size_t nentries, store_queue_removed_cb *removed,
		       void *ctx)
{
	return B(c)->queue_settle(c, u, n, entries, nentries, removed, ctx);
}

int store_queue_remove(struct store_conn *c, int64_t id)
{
	return B(c)->queue_remove(c, id);
}

int store_queue_set_held(struct store_conn *c, int64_t id, bool held)
{
	return B(c)->queue_set_held(c, id, held);
}

int store_queue_set_warned(struct store_conn *c, int64_t id)
{
	return B(c)->queue_set_warned(c, id);
}

int store_queue_flush(struct store_conn *c, int64_t id, int64_t now)
{
	return B(c)->queue_flush(c, id, now);
}

int store_queue_next_due(struct store_conn *c, int64_t *when_r)
{
	return B(c)->queue_next_due(c, when_r);
}
