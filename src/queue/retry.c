/* retry.c - the retry policy of the outbound queue. */
#include "queue/retry.h"

#include <stdlib.h>
#include <string.h>

int retry_parse(const char *spec, struct retry_policy *p)
{
	p->n = 0;
	const char *s = spec;
	while (*s != '\0') {
		while (*s == ' ' || *s == ',')
			s++;
		if (*s == '\0')
			break;
		if (*s < '0' || *s > '9')
			return -1;
		unsigned long v = 0;
		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (unsigned long)(*s - '0');
			if (v > 86400ul * 7)
				return -1;
			s++;
		}
		if (v == 0 || p->n == RETRY_MAX_STEPS)
			return -1;
		p->delays[p->n++] = (unsigned)v;
		if (*s != '\0' && *s != ',' && *s != ' ')
			return -1;
	}
	return p->n > 0 ? 0 : -1;
}

enum retry_verdict retry_next(const struct retry_policy *p, unsigned attempts, int64_t created,
			      int64_t now, int64_t *next_r)
{
	int64_t expires = created + p->lifetime;
	if (now >= expires)
		return RETRY_EXPIRED;
	size_t step = attempts == 0 ? 0 : attempts - 1;
	if (step >= p->n)
		step = p->n - 1;
	int64_t next = now + (int64_t)p->delays[step];
	*next_r = next < expires ? next : expires;
	return RETRY_LATER;
}

int retry_warn_due(const struct retry_policy *p, int64_t created, int64_t now, int warned)
{
	return !warned && p->delay_warning > 0 && now - created >= p->delay_warning;
}
