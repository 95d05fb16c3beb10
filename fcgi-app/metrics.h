/*
 * Counters for /metrics (Prometheus text format 0.0.4).  The master maps
 * one shared segment before it forks, with a slot per process (each
 * worker, the provisioning process, the master itself); a process adds
 * to its own slot with relaxed atomics, so the request path takes no
 * lock and allocates nothing, and a scrape sums every slot.  A restarted
 * worker takes over its predecessor's slot, so counters never go back.
 * A process with no slot (tenantctl, CGI mode) counts into a private one
 * nobody reads.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>

#include "buf.h"

/* Routes counted one by one; the route id 0 is "no route matched". */
#define METRICS_ROUTES	256

enum metric {
	MC_DB_ERR_DUP,
	MC_DB_ERR_RETRY,
	MC_DB_ERR_LOST,
	MC_DB_ERR_OTHER,
	MC_DB_RECONNECTS,
	MC_DB_RETRY_1205,
	MC_DB_RETRY_1213,
	MC_KEYCACHE_HIT,
	MC_KEYCACHE_MISS,
	MC_WORKER_RESTARTS,
	MC_PROVISION_FAILED,	/* attempts that failed (retried or final) */
	MC_PROVISION_DONE,	/* jobs completed */
	MC_MARK_ONE,		/* page marks read one at a time */
	MC_MARK_PASS,		/* passes over a whole listing for its marks */
	MC_MARK_REBASE,		/* the log read to move marks to a new generation */
	MC_MARK_DROPPED,	/* ... which could not move them */
	MC__MAX
};

struct metrics_shared;

/* The master, before forking: nslots slots. */
struct metrics_shared *metrics_open(size_t nslots);
void		 metrics_close(struct metrics_shared *);
/* This process counts into slot i from now on. */
void		 metrics_attach(struct metrics_shared *, size_t i);

void		 metrics_count(enum metric);
/* One request answered: its route id, status and time taken. */
void		 metrics_request(size_t route, int status, double ms);

/*
 * Appends the exposition of every counter, summed over the slots.
 * label(id, method, path, len) names route id for the route labels.
 */
int		 metrics_write(struct buf *, size_t nroutes,
		    void (*label)(size_t, const char **, char *, size_t));
/* Appends one gauge sample, with its HELP and TYPE when help is set. */
int		 metrics_gauge(struct buf *, const char *name,
		    const char *labels, const char *help, long long value);

#endif
