/* imap_private.h - the IMAP session shared by the IMAP server's modules:
 * imap_session.c (connection, command loop, responses), imap_view.c (the
 * selected mailbox and its synchronisation) and the imap_cmd_*.c files (one
 * group of commands each). Not for use outside src/imap. */
#ifndef POSTANE_IMAP_PRIVATE_H
#define POSTANE_IMAP_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/sasl.h"
#include "core/buf.h"
#include "core/conn.h"
#include "core/loop.h"
#include "imap/imap_parser.h"
#include "imap/imap_seqset.h"
#include "imap/imap_server.h"
#include "store/store.h"

struct auth_request;
struct fetch_job;

#define IMAP_OUT_HIGH_WATER (256 * 1024) /* stop reading while this much is unsent */
#define IMAP_OUT_LOW_WATER (64 * 1024)   /* ... and go on with a FETCH below this */
#define IMAP_IN_MAX (1024 * 1024)         /* input buffer hard maximum */
#define IMAP_TIMEOUT_PREAUTH 60           /* seconds before login (RFC 9051: >= 30 min after) */
#define IMAP_TIMEOUT_AUTH (30 * 60 + 60)  /* authenticated / IDLE: 30 minutes and a margin */
#define IMAP_LITERAL_MAX_OTHER (1024 * 1024) /* literals outside APPEND */

enum imap_state {
	IMAP_S_NOT_AUTH,
	IMAP_S_AUTH,
	IMAP_S_SELECTED,
	IMAP_S_LOGOUT,
};

/* One message of the selected mailbox; the index is its sequence number - 1. */
struct imap_msg {
	uint32_t uid;
	uint32_t flags;   /* STORE_FLAG_* */
	char *keywords;   /* NULL, or space-separated keywords */
	uint64_t modseq;
	uint64_t size;
	int64_t internaldate;
	char *file;       /* store key of the content */
	bool recent;
};

struct imap_view {
	struct store_mailbox mb;
	bool readonly;        /* EXAMINE */
	struct imap_msg *msgs;
	uint32_t count, cap;
	uint64_t modseq;      /* MODSEQ up to which flags and new mail were reported */
	uint64_t expunge_modseq; /* ... and expunges (may lag: RFC 9051 7.5.1) */
	uint32_t uidnext;     /* first UID not yet in msgs */
	bool changed;         /* a change notification came in */
	struct imap_seqset searchres; /* SEARCHRES "$" (UIDs) */
	bool have_searchres;
	char **keywords;      /* keywords announced in FLAGS */
	size_t nkeywords;
	bool keywords_changed; /* announce FLAGS again */
};

/* A command handler. It writes its own tagged completion (imap_tagged), or
 * sets s->cmd_async and calls imap_command_finished() later. */
struct imap_session;
typedef void imap_cmd_fn(struct imap_session *s, const struct imap_command *cmd);

enum imap_cmd_flags {
	IMAP_CMD_NOT_AUTH = 1 << 0, /* allowed before login */
	IMAP_CMD_AUTH = 1 << 1,     /* allowed when authenticated (and selected) */
	IMAP_CMD_SELECTED = 1 << 2, /* needs a selected mailbox */
	/* May not send EXPUNGE responses (RFC 9051 7.5.1: FETCH, STORE,
	 * SEARCH; the UID variants may). */
	IMAP_CMD_NO_EXPUNGE = 1 << 3,
};

struct imap_cmd_def {
	const char *name;
	imap_cmd_fn *fn;
	unsigned flags;
};

struct imap_session {
	struct imap_env *env;
	struct imap_session *prev, *next;
	struct conn conn;
	struct watcher w;
	char id[12];
	enum imap_state state;
	enum listener_kind kind;
	struct imap_parser *parser;
	uint64_t deadline;
	bool closing, dead, freed;
	bool starttls_pending, tls_logged;
	bool compress_pending;    /* COMPRESS OK queued: switch once sent */

	/* Enabled by the client (RFC 5161 ENABLE) or implied. */
	bool utf8;      /* UTF8=ACCEPT or IMAP4rev2: UTF-8 names and strings */
	bool rev2;      /* IMAP4rev2 semantics */
	bool condstore; /* CONDSTORE active: MODSEQ in FETCH responses */
	bool qresync;   /* QRESYNC enabled: VANISHED instead of EXPUNGE */

	/* Authentication. */
	bool authenticated;
	struct store_user user;
	struct sasl_server sasl;
	bool sasl_active;         /* AUTHENTICATE in progress: lines are responses */
	char auth_tag[64];
	struct auth_request *areq;
	bool login_cmd;           /* LOGIN (not AUTHENTICATE) is being verified */
	uint64_t reply_at;        /* delayed failure reply */
	bool delayed;

	/* The command being run asynchronously (APPEND commit, login). */
	struct imap_command *cmd;
	bool cmd_async;

	/* A FETCH waiting for the client to read (imap_cmd_fetch.c). */
	struct fetch_job *fetch;

	/* IDLE */
	bool idling;
	char idle_tag[64];

	/* SELECTED */
	struct imap_view *view;
	unsigned errors;
};

/* ----- imap_session.c ----- */
void imap_set_state(struct imap_session *s, enum imap_state st);
/* Append text to the output (no CRLF added). */
void imap_write(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "* text\r\n" */
void imap_untagged(struct imap_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "tag STATUS text\r\n" after the untagged updates the command allows. */
void imap_tagged(struct imap_session *s, const struct imap_command *cmd, const char *status,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
struct buf *imap_out(struct imap_session *s);
/* Flags for imap_quote.h functions (UTF-8 allowed or not). */
unsigned imap_quote_flags(const struct imap_session *s);
/* The CAPABILITY list for the session's current state. */
void imap_capabilities(struct imap_session *s, struct buf *out);
/* An asynchronous command has written its tagged reply: go on. */
void imap_command_finished(struct imap_session *s);
void imap_update_watch(struct imap_session *s);
void imap_session_release(struct imap_session *s);
bool imap_conn_is_tls(const struct imap_session *s);
bool imap_login_allowed(const struct imap_session *s);
/* Raise the parser's limits once the user is authenticated. */
void imap_login_limits(struct imap_session *s);

/* Mailbox names: argument (mUTF-7 or UTF-8, depending on the session) to
 * the canonical UTF-8 name ("INBOX" in any case becomes INBOX). Returns 0
 * or -1 with *error_r. */
int imap_mailbox_arg(struct imap_session *s, const struct imap_arg *arg, char *out,
		     size_t outlen, const char **error_r);
/* Append a mailbox name for the client (quoted/literal, mUTF-7 if needed). */
void imap_append_mailbox(struct imap_session *s, struct buf *out, const char *name);
/* "(\Seen \Answered $Keyword)" */
void imap_append_flags(struct buf *out, uint32_t flags, const char *keywords, bool recent);
/* Parse a flag list (or a single flag): system flags into *flags_r,
 * keywords space-separated into kw (may be NULL to refuse keywords).
 * Returns 0 or -1 with *error_r. */
int imap_parse_flags(const struct imap_arg *arg, uint32_t *flags_r, struct buf *kw,
		     const char **error_r);

/* ----- imap_view.c ----- */
int imap_view_open(struct imap_session *s, const struct store_mailbox *mb, bool readonly,
		   uint32_t *first_recent_r);
void imap_view_close(struct imap_session *s);
/* Report what changed in the selected mailbox since the last sync:
 * EXISTS/RECENT for new mail, FETCH for flag changes, EXPUNGE or VANISHED
 * (only when allow_expunge). */
void imap_view_sync(struct imap_session *s, bool allow_expunge);
/* Sequence number (1-based) of a UID, or 0. */
uint32_t imap_view_seq_of_uid(const struct imap_view *v, uint32_t uid);
/* Indices (0-based) of the messages in a sequence set (uid: UID set).
 * Returns the count; *out is malloc'ed (free it). "*" resolves to the
 * last message / largest UID. */
size_t imap_view_match(struct imap_session *s, const struct imap_seqset *set, bool uid,
		       uint32_t **out);
/* Forget messages the session itself just expunged (send EXPUNGE or
 * VANISHED for them first). */
void imap_view_expunged(struct imap_session *s, const uint32_t *uids, size_t n);
/* Make sure the client has been told (FLAGS, PERMANENTFLAGS) about every
 * keyword in the space-separated list before a FETCH shows it. */
void imap_view_note_keywords(struct imap_session *s, const char *keywords);
/* "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]" for the selected mailbox. */
void imap_view_send_flags(struct imap_session *s);
/* CONDSTORE enabled now (ENABLE, SELECT (CONDSTORE), a MODSEQ fetch...):
 * the selected mailbox's HIGHESTMODSEQ is reported once. */
void imap_enable_condstore(struct imap_session *s);
/* Update one message after this session changed its flags. */
void imap_view_set_flags(struct imap_view *v, uint32_t index, uint32_t flags,
			 const char *keywords, uint64_t modseq);

/* ----- command groups ----- */
extern const struct imap_cmd_def imap_cmds_any[];     /* imap_cmd_any.c */
extern const struct imap_cmd_def imap_cmds_mailbox[]; /* imap_cmd_mailbox.c */
extern const struct imap_cmd_def imap_cmds_message[]; /* imap_cmd_message.c */

/* imap_cmd_fetch.c, imap_cmd_search.c */
imap_cmd_fn imap_cmd_fetch, imap_cmd_uid_fetch;
/* A FETCH that stopped on a full output buffer: go on (when the output is
 * below IMAP_OUT_LOW_WATER), or drop it (connection closing). */
void imap_fetch_resume(struct imap_session *s);
void imap_fetch_cancel(struct imap_session *s);
imap_cmd_fn imap_cmd_search, imap_cmd_uid_search;
imap_cmd_fn imap_cmd_sort, imap_cmd_uid_sort;
imap_cmd_fn imap_cmd_thread, imap_cmd_uid_thread;

/* imap_cmd_any.c: AUTHENTICATE continuation lines, throttled replies. */
void imap_auth_line(struct imap_session *s, const char *line, size_t len);
void imap_auth_tick(struct imap_session *s, uint64_t now);

#endif
