/*
 * A per-worker cache of resolved API keys, so a request with a known key
 * costs no database round trip.  Entries live auth.cache_ttl seconds (and
 * never past the key's own expiry).  A revocation through the API bumps
 * an epoch in memory shared by the node's workers, and every worker drops
 * its cache on its next request; a revocation by tenantctl, which shares
 * no memory with the daemon, reaches the workers within the TTL.
 */
#ifndef KEYCACHE_H
#define KEYCACHE_H

#include <time.h>

#include "apikey.h"
#include "auth.h"

struct keycache_shared;

/* Maps the shared epoch; the master calls it before forking. */
struct keycache_shared *keycache_shared_new(void);
/* Turns the cache on in this process (ttl 0 leaves it off). */
void		 keycache_attach(struct keycache_shared *, long ttl);
/* Drops every worker's cached keys (after a revocation). */
void		 keycache_invalidate(void);

int		 keycache_get(const unsigned char hash[APIKEY_HASH_LEN],
		    time_t now, struct principal *);
/* expires is the key's own expiry (epoch seconds) or 0. */
void		 keycache_put(const unsigned char hash[APIKEY_HASH_LEN],
		    const struct principal *, time_t expires, time_t now);

#endif
