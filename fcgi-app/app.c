#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "audit.h"
#include "codec_json.h"
#include "codec_xml.h"
#include "problem.h"
#include "surfaces.h"

static const struct surface *const surfaces[] = {
	&surface_system,
	&surface_api_v1,
	&surface_api_v1_keys,
	&surface_api_v1_audit,
	&surface_api_v1_connections,
	&surface_tenantcore,
	/* Before any /tenants surface: /tenants/me/... is not a tenant id. */
	&surface_aether365,
};

#define NSURFACES	(sizeof(surfaces) / sizeof(surfaces[0]))

void
ctx_problem(struct ctx *c, int status, const char *code, const char *detail,
    json_t *errors)
{
	problem_set(c->resp, status, code, detail, errors);
}

void
ctx_error(struct ctx *c, int status, const char *code, const char *detail,
    json_t *errors)
{
	c->surface->error(c, status, code, detail, errors);
}

/* The surface whose prefix is the longest match of path. */
static const struct surface *
surface_for_path(const char *path)
{
	const struct surface	*best = &surface_api_v1;
	size_t			 i, n, bestlen = 0;

	for (i = 0; i < NSURFACES; i++) {
		n = strlen(surfaces[i]->prefix);
		if (n > bestlen && strncmp(path, surfaces[i]->prefix, n) == 0 &&
		    (path[n] == '/' || path[n] == '\0')) {
			best = surfaces[i];
			bestlen = n;
		}
	}
	return best;
}

/* 0 with c->match and c->surface set, or the status to answer. */
static int
route(struct ctx *c, char *allow, size_t allowlen)
{
	char	 a[128];
	size_t	 i;
	int	 rc, status = 404;

	*allow = '\0';
	for (i = 0; i < NSURFACES; i++) {
		rc = router_match(surfaces[i]->routes, surfaces[i]->nroutes,
		    c->req->method, c->req->path, &c->match, a, sizeof(a));
		if (rc == 0) {
			c->surface = surfaces[i];
			return 0;
		}
		if (rc == 405 && status == 404) {
			status = 405;
			c->surface = surfaces[i];
			snprintf(allow, allowlen, "%s", a);
		}
	}
	return status;
}

static void	 audit_denied(struct ctx *, const char *);

static int
authenticate(struct ctx *c)
{
	const struct route	*r = c->match.route;
	const char		*why;
	char			 msg[160];

	switch (auth_resolve(c->db, c->cfg, c->req, &c->who, &why)) {
	case AUTH_OK:
		break;
	case AUTH_NONE:
		response_header(c->resp, "WWW-Authenticate",
		    "Bearer realm=\"tenantd\"");
		ctx_error(c, 401, "unauthenticated", "a credential is required: "
		    "Authorization: Bearer <API key or JWT>, or X-API-Key", NULL);
		return -1;
	case AUTH_INVALID:
		response_header(c->resp, "WWW-Authenticate",
		    "Bearer realm=\"tenantd\", error=\"invalid_token\"");
		ctx_error(c, 401, "invalid_credential", why, NULL);
		return -1;
	case AUTH_UNAVAILABLE:
		response_header(c->resp, "Retry-After", "5");
		ctx_error(c, 503, "unavailable", why, NULL);
		return -1;
	}
	if (c->who.kind == KEY_TENANT && (r->flags & ROUTE_NO_TENANT_KEY)) {
		response_header(c->resp, "WWW-Authenticate",
		    "Bearer realm=\"tenantd\", error=\"invalid_token\"");
		ctx_error(c, 401, "tenant_key_refused", "tenant-scoped API keys "
		    "cannot manage tenants", NULL);
		return -1;
	}
	if (r->perm != PERM_NONE && !(c->who.perms & PERM_BIT(r->perm))) {
		snprintf(msg, sizeof(msg), "this operation requires the "
		    "permission %s", perm_claim(r->perm));
		if (r->method != HTTP_GET)
			audit_denied(c, perm_claim(r->perm));
		ctx_error(c, 403, "forbidden", msg, NULL);
		return -1;
	}
	return 0;
}

/* A refused mutation is recorded; a failure to record it is not fatal. */
static void
audit_denied(struct ctx *c, const char *perm)
{
	char	 action[64], detail[160];

	snprintf(action, sizeof(action), "%s %s", c->req->method_name,
	    c->match.route->pattern);
	snprintf(detail, sizeof(detail), "{\"missing\":\"%s\"}", perm);
	(void)audit_write(c->db, &c->who, &(struct audit_event){
	    .action = action, .target_type = "route",
	    .target_id = c->req->path, .outcome = "denied",
	    .request_id = c->req->request_id, .detail = detail });
}

/*
 * Counts the request against its principal's budget on this route; the
 * RateLimit-* headers go on every limited response, 429 past the limit.
 */
static int
rate_limit(struct ctx *c)
{
	struct ratelimit_verdict v;
	const struct route	*r = c->match.route;
	char			 who[48], route[160];
	long			 limit;

	if (c->rl == NULL || (limit = config_rate_limit(c->cfg, r->pattern)) <= 0)
		return 0;
	if (c->who.via == VIA_KEY)
		snprintf(who, sizeof(who), "k%lld", c->who.key_id);
	else
		snprintf(who, sizeof(who), "a%lld", c->who.account_id);
	snprintf(route, sizeof(route), "%s %s", http_method_name(r->method),
	    r->pattern);
	ratelimit_hit(c->rl, who, route, limit, time(NULL), &v);
	response_header(c->resp, "RateLimit-Limit", "%ld", v.limit);
	response_header(c->resp, "RateLimit-Remaining", "%ld", v.remaining);
	response_header(c->resp, "RateLimit-Reset", "%ld", v.reset);
	if (v.allowed)
		return 0;
	response_header(c->resp, "Retry-After", "%ld", v.reset);
	ctx_error(c, 429, "rate_limited", "too many requests on this route; "
	    "see Retry-After", NULL);
	return -1;
}

static int
decode_body(struct ctx *c)
{
	char	 err[256];

	if (c->req->body_len == 0) {
		ctx_error(c, 400, "body_required", "this operation needs a "
		    "request body", NULL);
		return -1;
	}
	if (negotiate_content_type(c->req->content_type, &c->in_fmt) == -1) {
		ctx_error(c, 415, "unsupported_media_type", "send the body as "
		    "application/json or application/xml (UTF-8)", NULL);
		return -1;
	}
	if (c->in_fmt == FMT_XML)
		c->input = codec_xml_decode(c->req->body, c->req->body_len,
		    err, sizeof(err));
	else
		c->input = codec_json_decode(c->req->body, c->req->body_len,
		    err, sizeof(err));
	if (c->input == NULL) {
		ctx_error(c, 400, "malformed_body", err, NULL);
		return -1;
	}
	return 0;
}

void
app_handle(struct ctx *c, int early)
{
	char	 allow[128];
	int	 rc;

	c->surface = surface_for_path(c->req->path);
	if (negotiate_accept(c->req->accept, &c->out_fmt) == -1) {
		c->out_fmt = FMT_JSON;
		ctx_error(c, 406, "not_acceptable", "this resource is available "
		    "as application/json or application/xml", NULL);
		return;
	}
	if (early != 0) {
		ctx_error(c, early, early == 413 ? "body_too_large" :
		    "bad_request", early == 413 ? "the request body is over "
		    "the size limit" : "the request path cannot be decoded",
		    NULL);
		return;
	}
	if ((rc = route(c, allow, sizeof(allow))) != 0) {
		if (rc == 405 && c->req->method == HTTP_OPTIONS) {
			response_header(c->resp, "Allow", "%s, OPTIONS", allow);
			response_set(c->resp, 204, NULL, NULL, NULL);
			return;
		}
		if (rc == 405)
			response_header(c->resp, "Allow", "%s", allow);
		ctx_error(c, rc, rc == 405 ? "method_not_allowed" : "not_found",
		    rc == 405 ? "this resource does not support the method" :
		    "no resource at this path", NULL);
		return;
	}
	if (!(c->match.route->flags & ROUTE_PUBLIC) &&
	    (authenticate(c) == -1 || rate_limit(c) == -1))
		return;
	if (((c->match.route->flags & ROUTE_BODY) ||
	    ((c->match.route->flags & ROUTE_BODY_OPTIONAL) &&
	    c->req->body_len > 0)) && decode_body(c) == -1)
		return;
	c->match.route->handler(c);
}

void
app_print_routes(FILE *f)
{
	const struct route	*r;
	size_t			 i, j;

	for (i = 0; i < NSURFACES; i++)
		for (j = 0; j < surfaces[i]->nroutes; j++) {
			r = &surfaces[i]->routes[j];
			fprintf(f, "%s %s %s\n", http_method_name(r->method),
			    r->pattern, r->perm == PERM_NONE ? "-" :
			    perm_claim(r->perm));
		}
}
