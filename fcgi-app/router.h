/*
 * Route tables and the one function that walks them.  A pattern is a
 * path with {name} segments; the first entry whose pattern and method
 * match wins, so literal routes (/tenants/me/...) are listed before
 * their {param} siblings.
 */
#ifndef ROUTER_H
#define ROUTER_H

#include <stddef.h>

#include "perm.h"
#include "request.h"

#define ROUTE_PARAMS_MAX	4
#define ROUTE_PARAM_LEN		256

struct ctx;

enum route_flags {
	ROUTE_BODY = 1 << 0,		/* reads a request body */
	ROUTE_PUBLIC = 1 << 1,		/* no credential needed */
	ROUTE_GLOBAL_KEY = 1 << 2,	/* only global keys (seed 003) */
	ROUTE_NO_TENANT_KEY = 1 << 3,	/* tenant-scoped keys get 401 */
	ROUTE_BODY_OPTIONAL = 1 << 4,	/* reads a body when one is sent */
	ROUTE_LOOPBACK = 1 << 5,	/* no credential from a loopback peer */
	ROUTE_OWN_MEDIA = 1 << 6,	/* judges Accept itself: answers in media
					   types of its own (/metrics, an export) */
	ROUTE_TXN = 1 << 7,		/* always in one request transaction */
	ROUTE_SECRET = 1 << 8,		/* the body's "key" is shown only once */
};

struct route {
	enum http_method method;
	const char	*pattern;
	enum perm	 perm;
	void		(*handler)(struct ctx *);
	unsigned int	 flags;
};

struct route_match {
	const struct route *route;
	size_t		 nparams;
	struct {
		char	 name[32];
		char	 value[ROUTE_PARAM_LEN];
	} params[ROUTE_PARAMS_MAX];
};

/*
 * Returns 0 with m filled, 404 when no pattern matches the path, 405 when
 * patterns match but not the method (allow then lists the methods).
 * HEAD matches GET routes.
 */
int		 router_match(const struct route *, size_t, enum http_method,
		    const char *path, struct route_match *m, char *allow,
		    size_t allowlen);
const char	*route_param(const struct route_match *, const char *name);

#endif
