/* cli_check.c - `postane check [--repair]`: the store's integrity check.
 * Read-only it works while the server runs; --repair needs the server
 * stopped, which it learns from the lock `postane serve` holds on
 * DATA/postane.lock (and holds that lock itself while it repairs). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "store/store.h"

static const char check_help[] =
	"usage: postane [-c FILE] check [--repair]\n"
	"\n"
	"Check the store: every message in the index has its file in the right\n"
	"mailbox folder and every file in a folder's new/ and cur/ is in the\n"
	"index; UIDs are unique and below UIDNEXT; MODSEQs are not above\n"
	"HIGHESTMODSEQ; the outbound queue's entries and files match; nothing is\n"
	"left in the spool. Prints one line per problem, then a summary line.\n"
	"Exit status 0 when the store is clean, 1 when problems remain.\n"
	"\n"
	"Without --repair it only reads, and works while the server runs (it\n"
	"then looks twice and reports what is wrong both times, so that mail in\n"
	"flight is not taken for damage).\n"
	"\n"
	"  --repair   fix what start-up recovery would fix: index mail files the\n"
	"             index lacks, set incomplete ones and queue files without an\n"
	"             entry aside in DATA/spool/quarantine, drop index rows whose\n"
	"             file is gone, raise UIDNEXT/HIGHESTMODSEQ, remove spool\n"
	"             leftovers. Refused while the server runs.\n";

static void print_problem(void *ctx, const char *problem, bool repaired)
{
	(void)ctx;
	printf("%s: %s\n", repaired ? "repaired" : "problem", problem);
}

/* 1: a server holds the data directory, 0: none (with --repair the lock is
 * then ours until exit, in *fd_r), -1: cannot tell. */
static int server_running(const struct config *cfg, bool keep, int *fd_r)
{
	char path[4096];
	*fd_r = -1;
	snprintf(path, sizeof(path), "%s/postane.lock", cfg->data_dir);
	int fd = open(path, (keep ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		/* Not ours to open (root made it before dropping privileges):
		 * assume a server runs, which keeps a plain check safe. */
		return errno == EACCES && !keep ? 1 : -1;
	}
	if (flock(fd, (keep ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		return e == EWOULDBLOCK ? 1 : -1;
	}
	if (keep)
		*fd_r = fd;
	else
		close(fd);
	return 0;
}

int cli_check(const struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{"repair", no_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool repair = false;
	int c;
	while ((c = getopt_long(argc, argv, "+rh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			repair = true;
			break;
		case 'h':
			fputs(check_help, stdout);
			return 0;
		default:
			fputs(check_help, stderr);
			return 2;
		}
	}
	if (optind < argc)
		return cli_error("check: unexpected argument \"%s\"", argv[optind]);

	int lock_fd;
	int running = server_running(cfg, repair, &lock_fd);
	if (running < 0)
		return cli_error("check: %s/postane.lock: %s", cfg->data_dir, strerror(errno));
	if (running == 1 && repair)
		return cli_error("check: the server is running on %s; stop it before --repair"
				 " (a check without --repair works while it runs)",
				 cfg->data_dir);

	struct store *store;
	struct store_conn *conn;
	if (cli_open_store(cfg, &store, &conn) != 0) {
		if (lock_fd >= 0)
			close(lock_fd);
		return 1;
	}
	unsigned flags = (repair ? STORE_CHECK_REPAIR : 0) | (running == 1 ? STORE_CHECK_LIVE : 0);
	struct store_check_stats st;
	const char *error;
	int r = store_check(store, flags, print_problem, NULL, &st, &error);
	cli_close_store(&store, &conn);
	if (lock_fd >= 0)
		close(lock_fd);
	if (r < 0)
		return cli_error("check: %s", error);
	unsigned left = st.problems - st.repaired;
	printf("check: %u mailbox(es), %llu message(s), %llu file(s), %u queue entr%s%s: ",
	       st.mailboxes, (unsigned long long)st.messages, (unsigned long long)st.files,
	       st.queue_entries, st.queue_entries == 1 ? "y" : "ies",
	       running == 1 ? " (server running)" : "");
	if (st.problems == 0)
		printf("no problems\n");
	else if (st.repaired > 0)
		printf("%u problem(s), %u repaired, %u left\n", st.problems, st.repaired, left);
	else
		printf("%u problem(s)\n", st.problems);
	return left == 0 ? 0 : 1;
}
