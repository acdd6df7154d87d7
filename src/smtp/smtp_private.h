/* smtp_private.h - the SMTP session shared by the modules of the SMTP
 * server (smtp_server.c: state machine and mail transaction; smtp_auth.c:
 * STARTTLS, AUTH and the submission policy). Not for use outside src/smtp. */
#ifndef POSTANE_SMTP_PRIVATE_H
#define POSTANE_SMTP_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/sasl.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/conn.h"
#include "core/loop.h"
#include "smtp/smtp_addr.h"
#include "smtp/smtp_data.h"
#include "smtp/smtp_parser.h"
#include "smtp/smtp_server.h"
#include "store/resolve.h"
#include "store/store.h"

struct auth_request;

#define CHUNK 65536                   /* bytes decoded per step */
#define OUT_HIGH_WATER (256 * 1024)   /* stop reading while this much is unsent */
#define IN_MAX (1024 * 1024)          /* input buffer hard maximum */
#define JUNK_COMMAND_LIMIT 100        /* NOOP/RSET/VRFY/HELP... per session */

enum smtp_state {
	SMTP_S_GREETING, /* banner sent, waiting for HELO/EHLO */
	SMTP_S_READY,    /* no transaction */
	SMTP_S_MAIL,     /* MAIL accepted, no recipient yet */
	SMTP_S_RCPT,     /* at least one recipient accepted */
	SMTP_S_DATA,     /* receiving DATA content */
	SMTP_S_BDAT,     /* inside a BDAT transaction */
	SMTP_S_QUIT,     /* closing */
};

struct smtp_txn {
	struct smtp_addr from;
	bool smtputf8;
	bool body_8bit;
	uint64_t declared_size;       /* MAIL ... SIZE=n, 0 if not given */
	struct resolve_result rcpt;   /* resolved local accounts */
	char first_rcpt[SMTP_PATH_MAX * 2];
	unsigned nrcpt;               /* accepted RCPT commands */
	struct buf rcpt_log;          /* "<a>,<b>" of accepted recipients, for the log */
	struct store_msg *msg;
	struct smtp_data_decoder dec;
	uint64_t size;                /* decoded content bytes */
	bool too_big;
	char qid[16];
	/* BDAT */
	uint64_t bdat_remaining;      /* bytes of the current chunk still to read */
	bool bdat_active;             /* reading chunk bytes now */
	bool bdat_last;
	bool bdat_discard;            /* read and drop the chunk, then reply */
	const char *bdat_reply;       /* reply after a discarded chunk */
	/* Submission */
	char **remote;                /* recipients for the outbound queue */
	size_t nremote;
	char **remote_notify;         /* DSN NOTIFY per remote recipient, or NULL */
	char **remote_orcpt;          /* DSN ORCPT per remote recipient, or NULL */
	int dsn_ret;                  /* 0 none, 1 FULL, 2 HDRS */
	char *envid;                  /* DSN ENVID (decoded), or NULL */
	bool hold_headers;            /* buffer the header section (submission) */
	struct buf headers;           /* ... until its end is seen */
	const char *reject;           /* reply decided while content streamed in */
	/* Received: fields in the header section (mail loops, RFC 5321 6.3) */
	bool hdr_done;                /* past the header section */
	bool mid_line;                /* not at the start of a header line */
	unsigned hdr_match;           /* bytes of "received:" matched on this line */
	unsigned hops;
};

struct smtp_session {
	struct smtp_env *env;
	struct smtp_session *prev, *next;
	struct conn conn;
	struct watcher w;
	char id[12];
	enum smtp_state state;
	uint64_t deadline;
	unsigned errors;
	unsigned junk;
	bool esmtp;
	char helo[256];
	bool skip_line;
	bool closing;        /* close once output is flushed */
	bool commit_pending; /* waiting for the store */
	bool dead;           /* connection gone; free when pending work returns */
	bool freed;
	enum listener_kind kind; /* SMTP, SUBMISSION or SUBMISSIONS */
	/* TLS */
	bool starttls_pending;   /* "220 Ready" queued: switch once it is sent */
	bool tls_logged;
	/* AUTH */
	bool authenticated;
	struct store_user user;  /* the authenticated account (no password) */
	bool auth_active;        /* reading SASL responses */
	bool auth_pending;       /* waiting for verification or a throttle delay */
	struct sasl_server sasl;
	struct auth_request *areq;
	uint64_t reply_at;       /* send delayed_reply at this time */
	const char *delayed_reply;
	struct smtp_txn txn;
	char *line;          /* command line buffer: max_line_length + 1 */
	/* Filled by the committer thread before it posts commit_done. */
	struct {
		int result;
		bool disk_full;
		char error[160];
	} commit;
};

extern const char *const smtp_state_names[];

void smtp_set_state(struct smtp_session *s, enum smtp_state st);
void smtp_reply(struct smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A 4xx/5xx reply that counts towards max_errors (421 and close when hit). */
void smtp_error_reply(struct smtp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void smtp_set_deadline(struct smtp_session *s);
/* Run buffered commands/content as far as the session's state allows. */
void smtp_process(struct smtp_session *s);
/* Flush output, then watch the socket for what the session waits for. */
void smtp_update_watch(struct smtp_session *s);
/* Close now, or once pending asynchronous work has come back. */
void smtp_session_release(struct smtp_session *s);

/* smtp_auth.c */
bool smtp_is_submission(const struct smtp_session *s);
bool smtp_tls_offered(const struct smtp_session *s);
bool smtp_auth_offered(const struct smtp_session *s);
void smtp_cmd_starttls(struct smtp_session *s);
/* After the 220 has been flushed: switch the connection to TLS. */
void smtp_starttls_switch(struct smtp_session *s);
void smtp_cmd_auth(struct smtp_session *s, const struct smtp_cmd *cmd);
/* A line typed while an AUTH exchange is in progress. */
void smtp_auth_line(struct smtp_session *s, const char *line, size_t len);
/* Once a second: send a throttled failure reply when its time has come. */
void smtp_auth_tick(struct smtp_session *s, uint64_t now);
/* May the authenticated user use this address (MAIL FROM, From:)? */
bool smtp_sender_allowed(struct smtp_session *s, const char *local, const char *domain);

#endif
