/* Everything a handler may read, and the response it fills. */
#ifndef CTX_H
#define CTX_H

#include <stdbool.h>

#include <jansson.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "negotiate.h"
#include "ratelimit.h"
#include "request.h"
#include "response.h"
#include "router.h"

struct surface;

/* The rate-limit headers a surface's clients expect. */
enum rl_headers {
	RLH_IETF,	/* RateLimit-Limit, -Remaining, -Reset (seconds) */
	RLH_LARAVEL,	/* X-RateLimit-Limit, -Remaining; on 429 -Reset (epoch) */
	RLH__MAX
};

struct ctx {
	const struct config	*cfg;
	const struct request	*req;
	struct response		*resp;
	struct db		*db;
	struct ratelimit	*rl;		/* shared by the node's workers */
	struct principal	 who;
	struct route_match	 match;
	const struct surface	*surface;
	json_t			*input;		/* decoded body, or NULL */
	const char		*allow;		/* a 405's methods, for its message */
	enum fmt		 in_fmt;
	enum fmt		 out_fmt;
	bool			 dry_run;	/* ?dryRun=true: nothing is kept */
	bool			 rollback;	/* the handler undoes its request */
};

/*
 * A compatibility surface: its routes and its error envelope.  Errors
 * found before a handler runs (401, 403, 404, 415, ...) are answered in
 * the envelope of the surface whose prefix the path falls under.
 */
struct surface {
	const char	*name;
	const char	*prefix;
	bool		 optional;	/* may be switched off or moved */
	const struct route *routes;
	size_t		 nroutes;
	void		(*error)(struct ctx *, int status, const char *code,
			    const char *detail, json_t *errors);
	enum rl_headers	 rl_headers;
};

/* The canonical error envelope, an RFC 9457 problem (surface.error). */
void	 ctx_problem(struct ctx *, int status, const char *code,
	    const char *detail, json_t *errors);

/*
 * Appends the path this request came in on as its client sees it (under
 * mount_prefix), percent-encoded: for links back to the same resource.
 */
int	 ctx_request_path(const struct ctx *, struct buf *);
/*
 * Sets Location to path, a path of the current surface, under
 * mount_prefix and the surface's own mount (surface.NAME.prefix).
 */
int	 ctx_location(struct ctx *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* 409 license_limit_reached in the current surface's envelope (TR_LIMIT). */
void	 license_limited(struct ctx *);
/* 409 provisioning_incomplete: an activation before provisioning is done. */
void	 provisioning_incomplete(struct ctx *);

/* Answers with the current surface's error envelope. */
void	 ctx_error(struct ctx *, int status, const char *code,
	    const char *detail, json_t *errors);

#endif
