/* retry.h - the retry policy of the outbound queue (pure functions).
 *
 * A schedule is a list of delays in seconds, "300,600,1200": the first
 * retry comes 300 s after the first attempt, the next 600 s after that, and
 * the last delay repeats until the message expires. */
#ifndef POSTANE_RETRY_H
#define POSTANE_RETRY_H

#include <stddef.h>
#include <stdint.h>

#define RETRY_MAX_STEPS 32

struct retry_policy {
	unsigned delays[RETRY_MAX_STEPS];
	size_t n;
	int64_t lifetime;      /* seconds a message may stay queued */
	int64_t delay_warning; /* seconds before a delay DSN; 0 = never */
};

/* Parse "N,N,..." (seconds, at least one, each 1..86400*7). Returns 0 or -1. */
int retry_parse(const char *spec, struct retry_policy *p);

enum retry_verdict {
	RETRY_LATER,   /* *next_r is when */
	RETRY_EXPIRED, /* bounce: the message is too old */
};

/* After failed attempt number `attempts` (1 = the first) at `now` of a
 * message queued at `created`. The next attempt never falls after the
 * expiry: a message is tried once more at its end of life. */
enum retry_verdict retry_next(const struct retry_policy *p, unsigned attempts, int64_t created,
			      int64_t now, int64_t *next_r);

/* Whether a delay warning is due now (not yet sent, old enough). */
int retry_warn_due(const struct retry_policy *p, int64_t created, int64_t now, int warned);

#endif
