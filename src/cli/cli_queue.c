/* cli_queue.c - `postane queue`: look at and act on the outbound queue. It
 * works on the store directly, also while the server runs: the scheduler
 * sees a flush, hold or release at its next scan (within a second). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/config.h"
#include "store/store.h"

static const char queue_help[] =
	"usage: postane [-c FILE] queue COMMAND [ID]\n"
	"\n"
	"The outbound queue: messages for other domains waiting for delivery.\n"
	"ID is the queue id shown by `queue list` and in the log (qid=...).\n"
	"\n"
	"  list            one line per message: id, age, size, sender, pending\n"
	"                  recipients, held\n"
	"  show ID         every recipient of ID with its state, attempts, next\n"
	"                  attempt and last error\n"
	"  flush [ID]      try ID (or every message) again now\n"
	"  delete ID       remove ID from the queue without delivering or bouncing\n"
	"  hold ID         keep ID in the queue but do not deliver it\n"
	"  release ID      deliver a held ID again\n";

static const char *const state_names[] = {"pending", "delivered", "bounced"};

static void fmt_age(int64_t seconds, char *out, size_t len)
{
	if (seconds < 120)
		snprintf(out, len, "%llds", (long long)seconds);
	else if (seconds < 7200)
		snprintf(out, len, "%lldm", (long long)(seconds / 60));
	else if (seconds < 172800)
		snprintf(out, len, "%lldh", (long long)(seconds / 3600));
	else
		snprintf(out, len, "%lldd", (long long)(seconds / 86400));
}

static void fmt_time(int64_t t, char *out, size_t len)
{
	if (t <= 0) {
		snprintf(out, len, "-");
		return;
	}
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct list_ctx {
	unsigned entries;
	bool detail;
};

static void print_entry(void *ctx, const struct store_queue_entry *e,
			const struct store_queue_rcpt *r, size_t n)
{
	struct list_ctx *lc = ctx;
	lc->entries++;
	unsigned pending = 0;
	for (size_t i = 0; i < n; i++)
		pending += r[i].state == STORE_QRCPT_PENDING;
	char age[32];
	fmt_age(time(NULL) - e->created, age, sizeof(age));
	if (!lc->detail) {
		printf("%s\t%s\t%llu\t<%s>\t%u/%zu pending%s\n", e->qid, age,
		       (unsigned long long)e->size, e->sender, pending, n, e->held ? "\theld" : "");
		return;
	}
	char created[32];
	fmt_time(e->created, created, sizeof(created));
	printf("id: %s\nqueued: %s (%s ago)\nsize: %llu\nsender: <%s>\n", e->qid, created, age,
	       (unsigned long long)e->size, e->sender);
	if (e->auth_user != NULL)
		printf("submitted by: %s\n", e->auth_user);
	if (e->envid != NULL)
		printf("envid: %s\n", e->envid);
	printf("held: %s\nfile: %s\n", e->held ? "yes" : "no", e->path);
	for (size_t i = 0; i < n; i++) {
		char next[32], last[32];
		fmt_time(r[i].next_attempt, next, sizeof(next));
		fmt_time(r[i].last_attempt, last, sizeof(last));
		unsigned st = r[i].state <= STORE_QRCPT_BOUNCED ? r[i].state : 0;
		printf("recipient: <%s> %s attempts=%u", r[i].address, state_names[st], r[i].attempts);
		if (r[i].state == STORE_QRCPT_PENDING)
			printf(" next=%s", next);
		if (r[i].last_attempt > 0)
			printf(" last=%s", last);
		if (r[i].remote_mta != NULL)
			printf(" relay=%s", r[i].remote_mta);
		if (r[i].last_error != NULL)
			printf("\n  %s%s%s", r[i].status != NULL ? r[i].status : "",
			       r[i].status != NULL ? " " : "", r[i].last_error);
		printf("\n");
	}
}

int cli_queue(const struct config *cfg, int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(queue_help, stdout);
		return 0;
	}
	if (argc < 2) {
		fputs(queue_help, stderr);
		return 2;
	}
	const char *sub = argv[1];
	bool needs_id = strcmp(sub, "show") == 0 || strcmp(sub, "delete") == 0 ||
			strcmp(sub, "hold") == 0 || strcmp(sub, "release") == 0;
	bool optional_id = strcmp(sub, "flush") == 0;
	if (!needs_id && !optional_id && strcmp(sub, "list") != 0)
		return cli_error("queue: unknown subcommand \"%s\" (list, show, flush, delete, "
				 "hold, release)",
				 sub);
	if (needs_id && argc < 3)
		return cli_error("queue %s: ID is required", sub);
	int max_args = needs_id || optional_id ? 3 : 2;
	if (argc > max_args)
		return cli_error("queue %s: unexpected argument \"%s\"", sub, argv[max_args]);

	struct store *store;
	struct store_conn *sc;
	if (cli_open_store(cfg, &store, &sc) != 0)
		return 1;
	int ret = 0;
	int64_t id = 0;
	if (argc == 3) {
		id = store_queue_find(sc, argv[2]);
		if (id < 0)
			ret = cli_error("queue %s: %s", sub, store_conn_error(sc));
		else if (id == 0)
			ret = cli_error("queue %s: %s: no such message in the queue", sub, argv[2]);
	}
	if (ret == 0) {
		struct list_ctx lc = {.detail = strcmp(sub, "show") == 0};
		int r = 0;
		if (strcmp(sub, "list") == 0 || lc.detail) {
			r = store_queue_list(sc, id, print_entry, &lc);
			if (r == 0 && lc.entries == 0 && !lc.detail)
				printf("queue is empty\n");
		} else if (strcmp(sub, "flush") == 0) {
			r = store_queue_flush(sc, id, time(NULL));
			if (r >= 0)
				printf("%d recipient(s) due now\n", r);
		} else if (strcmp(sub, "delete") == 0) {
			r = store_queue_remove(sc, id);
			if (r >= 0)
				printf("%s deleted\n", argv[2]);
		} else {
			bool hold = strcmp(sub, "hold") == 0;
			r = store_queue_set_held(sc, id, hold);
			if (r >= 0)
				printf("%s %s\n", argv[2], hold ? "held" : "released");
		}
		if (r < 0)
			ret = cli_error("queue %s: %s", sub, store_conn_error(sc));
	}
	cli_close_store(&store, &sc);
	return ret;
}
