/*
 * The webhook deliverer: one process per node, beside the workers or
 * alone (tenantd --webhooks).  It fans new events out to the
 * subscriptions that want them (one delivery per subscription and event,
 * webhook_cursor keeping its place), then POSTs due deliveries with
 * libcurl, signed the Standard Webhooks way, retrying failures with
 * exponential backoff until webhooks.max_attempts.  A delivery waits
 * while an earlier one of the same subscription and subject (a tenant)
 * is pending, so each tenant's events arrive in order.  API requests only
 * write the audit row they always wrote: a receiver that is down slows
 * nothing but its own deliveries.
 */
#ifndef WEBHOOK_DELIVER_H
#define WEBHOOK_DELIVER_H

#include <signal.h>

#include "config.h"
#include "db.h"

/* Runs until *stop becomes non-zero. */
int	 webhook_deliver_run(const struct config *, volatile sig_atomic_t *stop);
/* Fans out what is new, then makes at most one delivery attempt: 1 made
 * one, 0 none due, -1 error. */
int	 webhook_deliver_once(struct db *, const struct config *);

#endif
