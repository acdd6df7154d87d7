/* server.h - `postane serve`: bind the listeners, start one event loop per
 * thread, recover the store, run until SIGTERM/SIGINT, drain, exit.
 *
 * Each loop thread has its own SO_REUSEPORT listening sockets (the kernel
 * spreads connections over them), its own store connection and its own
 * sessions; the store's committer thread is shared. */
#ifndef POSTANE_SERVER_H
#define POSTANE_SERVER_H

struct config;

/* Returns the process exit status. */
int server_run(const struct config *cfg);

#endif
