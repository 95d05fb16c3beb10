/*
 * A worker process: one database connection, the buffers every request
 * reuses, and the loop that serves requests from its FastCGI connections
 * one at a time (or the one request of CGI mode).
 */
#ifndef WORKER_H
#define WORKER_H

#include <signal.h>

#include "config.h"
#include "keycache.h"
#include "ratelimit.h"

/*
 * Serves FastCGI requests from connections accepted on lfd until *stop is
 * set (by a signal, which is only let in while the worker waits), then
 * finishes the requests it has begun to receive.  Returns the exit status.
 */
int	 worker_run(const struct config *, struct ratelimit *,
	    struct keycache_shared *, int lfd, volatile sig_atomic_t *stop);

/* CGI mode: one request from the environment and stdin to stdout. */
int	 worker_cgi(const struct config *);

#endif
