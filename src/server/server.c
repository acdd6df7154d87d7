/* server.c - process orchestration for `postane serve`: listeners, loop
 * threads, signals, graceful shutdown. Protocol logic lives elsewhere. */
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/auth.h"
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/util.h"
#include "imap/imap_server.h"
#include "pop3/pop3_server.h"
#include "queue/queue.h"
#include "smtp/smtp_server.h"
#include "store/store.h"
#include "tls/tls.h"

#define MAX_LISTENERS 64
#define DRAIN_GRACE_MS 30000

struct listener {
	struct watcher w;
	enum listener_kind kind;
	struct worker *worker;
	char name[96];
};

struct worker {
	int index;
	pthread_t thread;
	struct loop *loop;
	struct store_conn *store;
	struct smtp_env smtp;
	struct imap_env imap;
	struct pop3_env pop3;
	struct listener listeners[MAX_LISTENERS];
	unsigned nlisteners;
	bool draining;
	uint64_t last_accept_error;
	uint64_t last_refusal_log;
	unsigned refusals_unlogged;
};

static atomic_uint connections;

/* ----- open connections per client address ----- */

/* [server] max_connections_per_ip, counted over every protocol and every
 * loop thread in one table under one mutex (taken once per accept and once
 * per session end: cheap next to the accept itself). A client over the limit
 * is refused in accept_cb() before any session exists. Sessions report their
 * end through their env's `released` hook, called before their socket is
 * closed, so the descriptor names the connection unambiguously: no other
 * accept can have been given the same number yet. */
#define IPLIMIT_BUCKETS 1024

struct ip_count {
	struct ip_count *next;
	uint8_t addr[16]; /* IPv6, or IPv4 as ::ffff:a.b.c.d */
	unsigned count;
};

static struct {
	pthread_mutex_t lock;
	unsigned limit;                 /* 0: no limit, nothing counted */
	uint64_t seed;                  /* hash seed: addresses are chosen by clients */
	struct ip_count *buckets[IPLIMIT_BUCKETS];
	struct ip_count **by_fd;        /* [fd]: the address that descriptor counts for */
	size_t nfd;
} iplimit = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The 16-byte key of an accepted peer; false for a non-IP socket. */
static bool iplimit_key(const struct sockaddr_storage *ss, uint8_t key[16])
{
	if (ss->ss_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		return true;
	}
	if (ss->ss_family == AF_INET) {
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		return true;
	}
	return false;
}

static size_t iplimit_bucket(const uint8_t key[16])
{
	uint64_t h = iplimit.seed ^ 0xcbf29ce484222325ull; /* FNV-1a, seeded */
	for (int i = 0; i < 16; i++) {
		h ^= key[i];
		h *= 0x100000001b3ull;
	}
	return (size_t)(h ^ (h >> 32)) % IPLIMIT_BUCKETS;
}

static void iplimit_init(unsigned limit)
{
	iplimit.limit = limit;
	random_bytes(&iplimit.seed, sizeof(iplimit.seed));
}

/* Count connection `fd` from `ss`. Returns false (nothing counted) when that
 * address already has `limit` connections open. */
static bool iplimit_acquire(int fd, const struct sockaddr_storage *ss)
{
	uint8_t key[16];
	if (iplimit.limit == 0 || fd < 0 || !iplimit_key(ss, key))
		return true;
	pthread_mutex_lock(&iplimit.lock);
	struct ip_count **head = &iplimit.buckets[iplimit_bucket(key)];
	struct ip_count *e = *head;
	while (e != NULL && memcmp(e->addr, key, 16) != 0)
		e = e->next;
	if (e != NULL && e->count >= iplimit.limit) {
		pthread_mutex_unlock(&iplimit.lock);
		return false;
	}
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		memcpy(e->addr, key, 16);
		e->next = *head;
		*head = e;
	}
	e->count++;
	if ((size_t)fd >= iplimit.nfd) {
		size_t n = iplimit.nfd > 0 ? iplimit.nfd : 256;
		while (n <= (size_t)fd)
			n *= 2;
		iplimit.by_fd = xrealloc(iplimit.by_fd, n * sizeof(*iplimit.by_fd));
		memset(iplimit.by_fd + iplimit.nfd, 0, (n - iplimit.nfd) * sizeof(*iplimit.by_fd));
		iplimit.nfd = n;
	}
	iplimit.by_fd[fd] = e;
	pthread_mutex_unlock(&iplimit.lock);
	return true;
}

/* The sessions' `released` hook: connection `fd` is about to close. */
static void iplimit_release(int fd)
{
	if (iplimit.limit == 0 || fd < 0)
		return;
	pthread_mutex_lock(&iplimit.lock);
	struct ip_count *e = (size_t)fd < iplimit.nfd ? iplimit.by_fd[fd] : NULL;
	if (e != NULL) {
		iplimit.by_fd[fd] = NULL;
		if (--e->count == 0) {
			struct ip_count **pp = &iplimit.buckets[iplimit_bucket(e->addr)];
			while (*pp != e)
				pp = &(*pp)->next;
			*pp = e->next;
			free(e);
		}
	}
	pthread_mutex_unlock(&iplimit.lock);
}

/* After every session has ended (and released its count). */
static void iplimit_free(void)
{
	for (size_t i = 0; i < IPLIMIT_BUCKETS; i++) {
		while (iplimit.buckets[i] != NULL) {
			struct ip_count *e = iplimit.buckets[i];
			iplimit.buckets[i] = e->next;
			free(e);
		}
	}
	free(iplimit.by_fd);
	iplimit.by_fd = NULL;
	iplimit.nfd = 0;
}

/* Turn away a client over the per-address limit: one line in the
 * protocol's words (the socket buffer is empty, so it fits), then close.
 * On the implicit-TLS ports nothing is said: a refused client is not worth
 * a TLS handshake. Logged at most once a second per loop. */
static void refuse_client(struct worker *wk, const struct listener *l, int fd,
			  const struct sockaddr_storage *ss)
{
	const char *line = NULL;
	switch (l->kind) {
	case LISTENER_SMTP:
	case LISTENER_SUBMISSION:
		line = "421 4.7.0 Too many connections from your address\r\n";
		break;
	case LISTENER_IMAP:
		line = "* BYE Too many connections from your address\r\n";
		break;
	case LISTENER_POP3:
		line = "-ERR [SYS/TEMP] Too many connections\r\n";
		break;
	default:
		break;
	}
	if (line != NULL && send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* The client is gone already; nothing to tell it. */
	}
	close(fd);
	wk->refusals_unlogged++;
	uint64_t now = loop_now(wk->loop);
	if (now - wk->last_refusal_log >= 1000) {
		char ip[INET6_ADDRSTRLEN] = "?";
		const void *a = ss->ss_family == AF_INET6
					? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
					: (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
		inet_ntop(ss->ss_family, a, ip, sizeof(ip));
		log_warn("server", NULL,
			 "refused %u client(s) over max_connections_per_ip %u, last on %s from %s",
			 wk->refusals_unlogged, iplimit.limit, l->name, ip);
		wk->last_refusal_log = now;
		wk->refusals_unlogged = 0;
	}
}

static int bind_one(const char *addr, unsigned port, char *name, size_t namelen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_PASSIVE};
	struct addrinfo *res = NULL;
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%u", port);
	int rc = getaddrinfo(addr, portstr, &hints, &res);
	if (rc != 0) {
		log_error("server", NULL, "listen address %s: %s", addr, gai_strerror(rc));
		return -1;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		log_error("server", NULL, "socket: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* listen() comes later (start_listening): clients are refused until
	 * crash recovery has finished, not queued in front of it. */
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
		log_error("server", NULL, "cannot listen on %s port %u: %s", addr, port,
			  strerror(errno));
		close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	snprintf(name, namelen, "%s%s%s:%u", strchr(addr, ':') ? "[" : "", addr,
		 strchr(addr, ':') ? "]" : "", port);
	return fd;
}

static void accept_cb(struct watcher *w, uint32_t events)
{
	(void)events;
	struct listener *l = w->ctx;
	struct worker *wk = l->worker;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage peer;
		socklen_t peerlen = sizeof(peer);
		int fd = accept4(w->fd, (struct sockaddr *)&peer, &peerlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			uint64_t now = loop_now(wk->loop);
			if (now - wk->last_accept_error > 1000) {
				log_error("server", NULL, "accept on %s: %s", l->name, strerror(errno));
				wk->last_accept_error = now;
			}
			return;
		}
		if (!iplimit_acquire(fd, &peer)) {
			refuse_client(wk, l, fd, &peer);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		switch (l->kind) {
		case LISTENER_SMTP:
		case LISTENER_SUBMISSION:
		case LISTENER_SUBMISSIONS:
			smtp_session_accept(&wk->smtp, fd, l->kind);
			break;
		case LISTENER_IMAP:
		case LISTENER_IMAPS:
			imap_session_accept(&wk->imap, fd, l->kind);
			break;
		case LISTENER_POP3:
		case LISTENER_POP3S:
			pop3_session_accept(&wk->pop3, fd, l->kind);
			break;
		default:
			iplimit_release(fd);
			close(fd);
			break;
		}
	}
}

static int worker_listen(struct worker *wk, const struct config *cfg, bool have_tls)
{
	/* Protocols implemented so far; the others are configured but idle. */
	static const enum listener_kind served[] = {LISTENER_SMTP, LISTENER_SUBMISSION,
						    LISTENER_SUBMISSIONS, LISTENER_IMAP,
						    LISTENER_IMAPS, LISTENER_POP3, LISTENER_POP3S};
	char *addrs = xstrdup(cfg->listen);
	int ret = 0;
	char *save = NULL;
	for (char *a = strtok_r(addrs, ", ", &save); a != NULL; a = strtok_r(NULL, ", ", &save)) {
		for (size_t k = 0; k < sizeof(served) / sizeof(served[0]); k++) {
			unsigned port = cfg->ports[served[k]];
			bool needs_tls = served[k] == LISTENER_SUBMISSIONS || served[k] == LISTENER_IMAPS ||
					 served[k] == LISTENER_POP3S;
			if (port == 0 || (needs_tls && !have_tls))
				continue;
			if (wk->nlisteners == MAX_LISTENERS) {
				log_error("server", NULL, "too many listeners");
				ret = -1;
				break;
			}
			struct listener *l = &wk->listeners[wk->nlisteners];
			int fd = bind_one(a, port, l->name, sizeof(l->name));
			if (fd < 0) {
				ret = -1;
				continue;
			}
			l->kind = served[k];
			l->worker = wk;
			if (loop_watch(wk->loop, &l->w, fd, LOOP_READ, accept_cb, l) < 0) {
				close(fd);
				ret = -1;
				continue;
			}
			wk->nlisteners++;
			if (wk->index == 0)
				log_info("server", NULL, "listening for %s on %s",
					 listener_name(served[k]), l->name);
		}
	}
	free(addrs);
	return ret;
}

static int start_listening(struct worker *workers, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		for (unsigned k = 0; k < workers[i].nlisteners; k++) {
			struct listener *l = &workers[i].listeners[k];
			if (listen(l->w.fd, 1024) < 0) {
				log_error("server", NULL, "cannot listen on %s: %s", l->name,
					  strerror(errno));
				return -1;
			}
		}
	}
	return 0;
}

static void worker_close_listeners(struct worker *wk)
{
	for (unsigned i = 0; i < wk->nlisteners; i++) {
		loop_unwatch(wk->loop, &wk->listeners[i].w);
		close(wk->listeners[i].w.fd);
	}
	wk->nlisteners = 0;
}

/* Posted to every worker when a stop signal arrives. */
static void worker_begin_drain(void *arg)
{
	struct worker *wk = arg;
	if (wk->draining)
		return;
	wk->draining = true;
	worker_close_listeners(wk);
	smtp_env_drain(&wk->smtp, DRAIN_GRACE_MS);
	imap_env_drain(&wk->imap, DRAIN_GRACE_MS);
	pop3_env_drain(&wk->pop3, DRAIN_GRACE_MS);
}

/* After many connections closed, give their memory back to the system:
 * glibc keeps freed heap memory in its arenas otherwise (an idle server
 * would stay at its peak). Checked every 10 s on loop 0. */
static void trim_memory(void *arg)
{
	static unsigned ticks, peak;
	(void)arg;
	unsigned now = atomic_load(&connections);
	if (now > peak)
		peak = now;
	if (++ticks % 10 != 0)
		return;
	if (peak >= now + 100) {
		malloc_trim(0);
		peak = now;
	}
}

static void worker_check_drained(void *arg)
{
	struct worker *wk = arg;
	if (wk->draining && smtp_env_sessions(&wk->smtp) == 0 && imap_env_sessions(&wk->imap) == 0 &&
	    pop3_env_sessions(&wk->pop3) == 0)
		loop_stop(wk->loop);
}

/* Change notifications from the store (any thread) reach every loop. */
struct change_note {
	struct worker *wk;
	int64_t mailbox_id;
};

static void change_on_loop(void *arg)
{
	struct change_note *n = arg;
	imap_env_mailbox_changed(&n->wk->imap, n->mailbox_id);
	free(n);
}

struct change_hub {
	struct worker *workers;
	unsigned n;
	atomic_bool ready;
};

static void change_hook(void *ctx, int64_t mailbox_id)
{
	struct change_hub *hub = ctx;
	if (!atomic_load(&hub->ready))
		return;
	for (unsigned i = 0; i < hub->n; i++) {
		struct change_note *note = xmalloc(sizeof(*note));
		note->wk = &hub->workers[i];
		note->mailbox_id = mailbox_id;
		loop_post(hub->workers[i].loop, change_on_loop, note);
	}
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	loop_run(wk->loop);
	return NULL;
}

struct signal_ctx {
	struct watcher w;
	struct worker *workers;
	unsigned nworkers;
	const struct config *cfg;
	/* Certificates replaced by SIGHUP stay allocated until exit:
	 * connections may still be using them. */
	struct tls_server **retired;
	size_t nretired;
	struct tls_server *current;
};

static int load_tls(const struct config *cfg, struct tls_server **tls_r, const char **error_r);

struct tls_swap {
	struct worker *wk;
	struct tls_server *tls;
};

static void tls_swap_on_loop(void *arg)
{
	struct tls_swap *sw = arg;
	sw->wk->smtp.tls = sw->tls;
	sw->wk->imap.tls = sw->tls;
	sw->wk->pop3.tls = sw->tls;
	free(sw);
}

/* SIGHUP: read the certificate files again (a renewed certificate takes
 * effect for new connections; open ones keep theirs). The rest of the
 * configuration needs a restart. */
static void reload_tls(struct signal_ctx *sc)
{
	const char *error = "";
	struct tls_server *fresh = NULL;
	if (sc->current == NULL) {
		log_info("server", NULL, "SIGHUP: no TLS configured; nothing to reload");
		return;
	}
	if (load_tls(sc->cfg, &fresh, &error) < 0 || fresh == NULL) {
		log_error("server", NULL, "SIGHUP: certificates not reloaded: %s",
			  fresh == NULL ? "no certificate" : error);
		return;
	}
	sc->retired = xrealloc(sc->retired, (sc->nretired + 1) * sizeof(*sc->retired));
	sc->retired[sc->nretired++] = sc->current;
	sc->current = fresh;
	for (unsigned i = 0; i < sc->nworkers; i++) {
		struct tls_swap *sw = xmalloc(sizeof(*sw));
		sw->wk = &sc->workers[i];
		sw->tls = fresh;
		loop_post(sc->workers[i].loop, tls_swap_on_loop, sw);
	}
	log_info("server", NULL, "SIGHUP: TLS certificates reloaded");
}

static void signal_cb(struct watcher *w, uint32_t events)
{
	(void)events;
	struct signal_ctx *sc = w->ctx;
	struct signalfd_siginfo si;
	while (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload_tls(sc);
			continue;
		}
		log_info("server", NULL, "%s: finishing transactions in flight, then exiting",
			 si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
		for (unsigned i = 0; i < sc->nworkers; i++)
			loop_post(sc->workers[i].loop, worker_begin_drain, &sc->workers[i]);
	}
}

/* One server per data directory: a second instance would run recovery on
 * the first one's messages in flight. The lock lives as long as the process. */
static int lock_data_dir(const struct config *cfg)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/postane.lock", cfg->data_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "postane: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		fprintf(stderr, "postane: %s is in use by another postane serve%s%s%s\n",
			cfg->data_dir, pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
		close(fd);
		return -1;
	}
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) < 0)
		log_warn("server", NULL, "cannot write %s: %s", path, strerror(errno));
	return fd;
}

/* The TLS contexts described by the configuration (default certificate
 * and [tls NAME] certificates for SNI). */
static int load_tls(const struct config *cfg, struct tls_server **tls_r, const char **error_r)
{
	*tls_r = NULL;
	if (cfg->tls_cert[0] == '\0')
		return 0;
	if (tls_server_new(cfg->tls_cert, cfg->tls_key, tls_r, error_r) < 0)
		return -1;
	for (size_t i = 0; i < cfg->tls_name_count; i++) {
		const struct config_tls_name *t = &cfg->tls_names[i];
		if (tls_server_add_name(*tls_r, t->name, t->cert, t->key, error_r) < 0) {
			tls_server_free(tls_r);
			return -1;
		}
	}
	return 0;
}

/* Become `user` (after the listeners are bound). Returns 0 or -1. */
static int drop_privileges(const char *user)
{
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		fprintf(stderr, "postane: [server] user %s: no such user\n", user);
		return -1;
	}
	if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		fprintf(stderr, "postane: cannot become %s: %s\n", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		fprintf(stderr, "postane: could not drop root privileges\n");
		return -1;
	}
	log_info("server", NULL, "running as %s (uid %ld)", user, (long)pw->pw_uid);
	return 0;
}

int server_run(const struct config *cfg)
{
	const char *error;
	log_set_level(cfg->log_level);

	/* Signals are read through a signalfd on worker 0. Block them before
	 * any thread exists (the store's threads included): threads inherit
	 * the mask, and a thread with them unblocked would take the default
	 * action (exit) instead. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	int lock_fd = lock_data_dir(cfg);
	if (lock_fd < 0)
		return 1;

	/* TLS: the key is read while we may still be root. */
	struct tls_server *tls = NULL;
	if (load_tls(cfg, &tls, &error) < 0) {
		fprintf(stderr, "postane: TLS: %s\n", error);
		close(lock_fd);
		return 1;
	}
	if (tls == NULL) {
		log_warn("server", NULL, "no [tls] cert: STARTTLS and port 465 are disabled");
	}

	unsigned n = cfg->threads;
	if (n == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus > 0 ? (unsigned)cpus : 1;
	}
	if (n > 64)
		n = 64;

	/* Bind every listener first (ports below 1024 need root), then drop
	 * root, then open the store as the unprivileged user. */
	struct worker *workers = xcalloc(n, sizeof(*workers));
	atomic_init(&connections, 0);
	iplimit_init(cfg->max_connections_per_ip);
	int status = 0;
	for (unsigned i = 0; i < n && status == 0; i++) {
		struct worker *wk = &workers[i];
		wk->index = (int)i;
		wk->loop = loop_new();
		if (worker_listen(wk, cfg, tls != NULL) < 0)
			status = 1;
	}
	if (status == 0 && cfg->run_as[0] != '\0' && geteuid() == 0 && drop_privileges(cfg->run_as) < 0)
		status = 1;
	else if (status == 0 && cfg->run_as[0] == '\0' && geteuid() == 0)
		log_warn("server", NULL, "running as root: set [server] user to drop privileges");

	struct store *store = NULL;
	struct auth_service *auth = NULL;
	if (status == 0 && store_open(cfg, false, &store, &error) < 0) {
		fprintf(stderr, "postane: %s\n", error);
		status = 1;
	}
	if (status == 0 && (store_recover(store, &error) < 0 || store_start(store, &error) < 0)) {
		fprintf(stderr, "postane: %s\n", error);
		status = 1;
	}
	if (status == 0)
		auth = auth_service_new(cfg, store, 2);
	struct queue_runner *queue = NULL;
	if (status == 0) {
		char qerr[512];
		queue = queue_runner_start(cfg, store, qerr, sizeof(qerr));
		if (queue == NULL) {
			fprintf(stderr, "postane: %s\n", qerr);
			status = 1;
		}
	}
	for (unsigned i = 0; i < n && status == 0; i++) {
		struct worker *wk = &workers[i];
		wk->store = store_conn_open(store, &error);
		if (wk->store == NULL) {
			fprintf(stderr, "postane: %s\n", error);
			status = 1;
			break;
		}
		smtp_env_init(&wk->smtp, cfg, wk->loop, wk->store, &connections);
		wk->smtp.tls = tls;
		wk->smtp.queue = queue;
		wk->smtp.auth = auth;
		wk->smtp.drained = worker_check_drained;
		wk->smtp.drained_ctx = wk;
		wk->smtp.released = iplimit_release;
		imap_env_init(&wk->imap, cfg, wk->loop, wk->store, &connections);
		wk->imap.tls = tls;
		wk->imap.auth = auth;
		wk->imap.drained = worker_check_drained;
		wk->imap.drained_ctx = wk;
		wk->imap.released = iplimit_release;
		pop3_env_init(&wk->pop3, cfg, wk->loop, wk->store, &connections);
		wk->pop3.tls = tls;
		wk->pop3.auth = auth;
		wk->pop3.drained = worker_check_drained;
		wk->pop3.drained_ctx = wk;
		wk->pop3.released = iplimit_release;
		loop_on_tick(wk->loop, worker_check_drained, wk);
	}
	if (status == 0)
		loop_on_tick(workers[0].loop, trim_memory, NULL);
	struct change_hub hub = {.workers = workers, .n = n};
	atomic_init(&hub.ready, status == 0);
	if (store != NULL)
		store_set_change_hook(store, change_hook, &hub);
	struct signal_ctx sc = {.workers = workers, .nworkers = n, .cfg = cfg, .current = tls};
	if (status == 0) {
		int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
		if (sfd < 0 || loop_watch(workers[0].loop, &sc.w, sfd, LOOP_READ, signal_cb, &sc) < 0) {
			fprintf(stderr, "postane: signalfd: %s\n", strerror(errno));
			status = 1;
		}
	}
	if (status == 0 && start_listening(workers, n) < 0)
		status = 1;
	if (status == 0) {
		log_info("server", NULL, "postane ready: hostname %s, data %s, %u thread(s)",
			 cfg->hostname, cfg->data_dir, n);
		for (unsigned i = 1; i < n; i++)
			pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
		worker_main(&workers[0]);
		for (unsigned i = 1; i < n; i++)
			pthread_join(workers[i].thread, NULL);
		atomic_store(&hub.ready, false);
		if (sc.w.cb != NULL || sc.w.fd > 0)
			close(sc.w.fd);
	}
	for (unsigned i = 0; i < n; i++) {
		struct worker *wk = &workers[i];
		if (wk->loop == NULL)
			continue;
		worker_close_listeners(wk);
		smtp_env_close_all(&wk->smtp);
		imap_env_close_all(&wk->imap);
		pop3_env_close_all(&wk->pop3);
		/* Run the deferred frees of the sessions just closed. */
		loop_stop(wk->loop);
		loop_run(wk->loop);
	}
	/* Deliveries in flight are cut off; they are tried again after a restart. */
	queue_runner_stop(&queue);
	/* Auth workers may still post to the loops: stop them first. */
	atomic_store(&hub.ready, false);
	auth_service_free(&auth);
	/* The committer finishes every queued commit before it stops. */
	store_close(&store);
	for (unsigned i = 0; i < n; i++) {
		store_conn_close(&workers[i].store);
		loop_free(&workers[i].loop);
	}
	free(workers);
	iplimit_free();
	for (size_t i = 0; i < sc.nretired; i++)
		tls_server_free(&sc.retired[i]);
	free(sc.retired);
	tls_server_free(&sc.current);
	log_info("server", NULL, "postane stopped");
	close(lock_fd);
	return status;
}
