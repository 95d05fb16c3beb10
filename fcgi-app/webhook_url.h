/*
 * Where a webhook may be delivered.  A subscription's URL is checked when
 * it is set (https, or http to webhooks.allow_http_hosts; no credentials,
 * no fragment) and its host again when each delivery resolves it: an
 * address in a loopback, private, link-local or otherwise internal range
 * is refused unless the host is on webhooks.allow_private_hosts, so a
 * subscription cannot reach into the network tenantd runs in (SSRF).
 */
#ifndef WEBHOOK_URL_H
#define WEBHOOK_URL_H

#include <stddef.h>

#include "config.h"

#define WEBHOOK_URL_MAX		2048

struct webhook_target {
	int		 https;
	char		 host[256];	/* without IPv6 brackets */
	unsigned int	 port;
};

/* NULL when url may be subscribed, else why not (for a 422). */
const char	*webhook_url_check(const char *url, const struct config *,
		    struct webhook_target *);
/*
 * Resolves t's host into addr (numeric, for CURLOPT_RESOLVE): 0, or -1
 * with why in err when it does not resolve or reaches a refused address.
 */
int		 webhook_url_resolve(const struct webhook_target *t,
		    const struct config *, char *addr, size_t addrlen,
		    char *err, size_t errlen);

#endif
