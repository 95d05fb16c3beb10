/*
 * What the probes of tenant_list found lately, per worker: whether a word
 * or a metadata pair is common within a scope.  A common word's probe
 * reads 10,000 index entries (17-50 ms at 1,000,000 tenants under load),
 * and the answer moves only as tenants come and go by the thousand, so it
 * is kept for PROBE_CACHE_SECONDS.  A stale answer picks the other plan,
 * whose results are as right (a bounded scan says when it stopped).
 */
#ifndef PROBE_CACHE_H
#define PROBE_CACHE_H

#include <stdbool.h>

#define PROBE_CACHE_SECONDS	60

/* 1 common, 0 not, -1 not known; b is NULL for a word. */
int	 probe_cache_get(long long scope, const char *a, const char *b);
void	 probe_cache_put(long long scope, const char *a, const char *b,
	    bool common);

#endif
