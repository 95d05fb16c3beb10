/*
 * A per-worker cache of resolved API keys, so a request with a known key
 * costs no database round trip.  Entries live auth.cache_ttl seconds (and
 * never past the key's own expiry).  A revocation bumps an epoch in shared
 * memory, and every worker drops its cache on its next request.  The
 * memory is a named POSIX object per daemon, named after the database it
 * uses, so tenantctl and other daemons on the same host with the same
 * database settings reach it too (where their user may open it); on
 * another host, as another user, or through other db.* settings for the
 * same database, a revocation is seen within the TTL.
 */
#ifndef KEYCACHE_H
#define KEYCACHE_H

#include <time.h>

#include "apikey.h"
#include "auth.h"
#include "config.h"

struct keycache_shared;

/*
 * The daemon's master, before forking: creates and maps its shared epoch,
 * named after the configuration's database and its pid.  If that fails,
 * an anonymous one the workers share, after a warning; NULL only when no
 * memory can be mapped at all.
 */
struct keycache_shared *keycache_shared_open(const struct config *);
/* The master, when it stops: removes its object. */
void		 keycache_shared_close(void);
/* Turns the cache on in this process (ttl 0 leaves it off). */
void		 keycache_attach(struct keycache_shared *, long ttl);
/*
 * Drops every worker's cached keys (after a revocation), and those of
 * other daemons on this host with the same database settings.
 */
void		 keycache_invalidate(void);
/*
 * The same from outside the daemon (tenantctl): bumps the epoch of every
 * daemon on this host with the same database settings that this user may
 * reach (root: all).  Returns how many it reached.
 */
int		 keycache_bump_all(const struct config *);


int		 keycache_get(const unsigned char hash[APIKEY_HASH_LEN],
		    time_t now, struct principal *);
/* expires is the key's own expiry (epoch seconds) or 0. */
void		 keycache_put(const unsigned char hash[APIKEY_HASH_LEN],
		    const struct principal *, time_t expires, time_t now);

#endif
