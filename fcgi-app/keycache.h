/*
 * A per-worker cache of resolved API keys, so a request with a known key
 * costs no database round trip.  Entries live auth.cache_ttl seconds (and
 * never past the key's own expiry).  A revocation bumps an epoch in shared
 * memory, and every worker drops its cache on its next request.  The
 * memory is a named POSIX object derived from the database the daemon
 * uses, so tenantctl on the same host, reading the same configuration,
 * reaches it too; on another host a revocation is seen within the TTL.
 */
#ifndef KEYCACHE_H
#define KEYCACHE_H

#include <time.h>

#include "apikey.h"
#include "auth.h"
#include "config.h"

struct keycache_shared;

/*
 * Maps the shared epoch named after the configuration's database.
 * create: the daemon's master, before forking; otherwise (tenantctl) NULL
 * when no daemon made it.
 */
struct keycache_shared *keycache_shared_open(const struct config *,
		    int create);
/* Turns the cache on in this process (ttl 0 leaves it off). */
void		 keycache_attach(struct keycache_shared *, long ttl);
/* Drops every worker's cached keys (after a revocation). */
void		 keycache_invalidate(void);
/* The same from outside the daemon (tenantctl). */
void		 keycache_bump(struct keycache_shared *);


int		 keycache_get(const unsigned char hash[APIKEY_HASH_LEN],
		    time_t now, struct principal *);
/* expires is the key's own expiry (epoch seconds) or 0. */
void		 keycache_put(const unsigned char hash[APIKEY_HASH_LEN],
		    const struct principal *, time_t expires, time_t now);

#endif
