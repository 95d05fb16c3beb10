/*
 * Requests per principal and route per minute, counted in one table of
 * shared memory that every worker of a node sees.  The master creates it
 * before forking, so it needs no file and vanishes with the processes.
 */
#ifndef RATELIMIT_H
#define RATELIMIT_H

#include <stdint.h>
#include <time.h>

struct ratelimit;

struct ratelimit_verdict {
	int		 allowed;
	long		 limit;
	long		 remaining;
	long		 reset;		/* seconds until the window ends */
};

struct ratelimit *ratelimit_new(void);
void		 ratelimit_free(struct ratelimit *);
/*
 * Counts one request of principal on route against limit (per minute).
 * principal and route identify the pair; any strings will do.
 */
void		 ratelimit_hit(struct ratelimit *, const char *principal,
		    const char *route, long limit, time_t now,
		    struct ratelimit_verdict *);
/* The verdict ratelimit_hit would give, without counting anything. */
void		 ratelimit_peek(struct ratelimit *, const char *principal,
		    const char *route, long limit, time_t now,
		    struct ratelimit_verdict *);

#endif
