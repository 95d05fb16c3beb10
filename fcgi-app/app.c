#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "audit.h"
#include "codec_json.h"
#include "codec_xml.h"
#include "db.h"
#include "mutation.h"
#include "problem.h"
#include "query.h"
#include "surfaces.h"
#include "tenants.h"

static const struct surface *const surfaces[] = {
	&surface_system,
	/* Before /api/v1/tenants/{id}: "migrations" is not a tenant id. */
	&surface_api_v1_migrations,
	/* Before /api/v1, whose /tenants/{id} would take it. */
	&surface_api_v1_export,
	&surface_api_v1,
	&surface_api_v1_keys,
	&surface_api_v1_audit,
	&surface_api_v1_events,
	&surface_api_v1_webhooks,
	&surface_api_v1_connections,
	&surface_tenantcore,
	/* Before any /tenants surface: /tenants/me/... is not a tenant id. */
	&surface_aether365,
	&surface_mindzie,
	&surface_laravel,
};

#define NSURFACES	(sizeof(surfaces) / sizeof(surfaces[0]))

/*
 * Where each surface is served, from the configuration: a compatibility
 * surface may collide with a host's own routes, so it can be switched
 * off or mounted under a path of its own.  Zeroed means served as built.
 */
static struct {
	bool		 off;
	char		 mount[128];	/* "" or "/path", no trailing slash */
	size_t		 len;
} where[NSURFACES];

static const struct surface *
surface_named(const char *name, size_t *idx)
{
	size_t	 i;

	for (i = 0; i < NSURFACES; i++)
		if (strcmp(surfaces[i]->name, name) == 0) {
			*idx = i;
			return surfaces[i];
		}
	return NULL;
}

/* "/a/b": segments of unreserved characters, no "." or ".." segment. */
static int
mount_valid(const char *p)
{
	size_t	 n;

	if (*p != '/')
		return 0;
	while (*p == '/') {
		n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~");
		if (n == 0 || (n == 1 && p[1] == '.') ||
		    (n == 2 && p[1] == '.' && p[2] == '.'))
			return 0;
		p += n + 1;
	}
	return *p == '\0';
}

int
app_configure(const struct config *cfg, char *err, size_t errlen)
{
	const struct config_surface	*cs;
	const struct surface		*s;
	size_t				 i, idx;

	memset(where, 0, sizeof(where));
	for (i = 0; i < cfg->nsurfaces; i++) {
		cs = &cfg->surfaces[i];
		if ((s = surface_named(cs->name, &idx)) == NULL ||
		    !s->optional) {
			snprintf(err, errlen, "surface.%s: %s", cs->name,
			    s == NULL ? "no such surface" : "this surface cannot "
			    "be switched off or moved");
			return -1;
		}
		if (*cs->prefix != '\0' && !mount_valid(cs->prefix)) {
			snprintf(err, errlen, "surface.%s.prefix: expected a "
			    "path like /legacy (no trailing slash)", cs->name);
			return -1;
		}
		where[idx].off = !cs->enabled;
		memcpy(where[idx].mount, cs->prefix, sizeof(where[idx].mount));
		where[idx].len = strlen(cs->prefix);
	}
	return 0;
}

/* mount_prefix without trailing slashes: its length. */
static size_t
mount_prefix_len(const struct config *cfg)
{
	size_t	 n = strlen(cfg->mount_prefix);

	while (n > 0 && cfg->mount_prefix[n - 1] == '/')
		n--;
	return n;
}

int
ctx_request_path(const struct ctx *c, struct buf *b)
{
	if (buf_append(b, c->cfg->mount_prefix,
	    mount_prefix_len(c->cfg)) == -1)
		return -1;
	return url_encode(b, c->req->path, true);
}

int
ctx_location(struct ctx *c, const char *fmt, ...)
{
	struct buf	 path = { 0 };
	va_list		 ap;
	size_t		 i;
	int		 rc;

	va_start(ap, fmt);
	rc = buf_vprintf(&path, fmt, ap);
	va_end(ap);
	for (i = 0; rc == 0 && i < NSURFACES; i++)
		if (surfaces[i] == c->surface)
			rc = response_header(c->resp, "Location", "%.*s%s%s",
			    (int)mount_prefix_len(c->cfg), c->cfg->mount_prefix,
			    where[i].mount, path.data);
	buf_free(&path);
	return rc;
}

/* The path within surface i, or NULL when the path is not under it. */
static const char *
within(size_t i, const char *path)
{
	size_t	 n = where[i].len;

	if (where[i].off)
		return NULL;
	if (n == 0)
		return path;
	if (strncmp(path, where[i].mount, n) != 0 ||
	    (path[n] != '/' && path[n] != '\0'))
		return NULL;
	return path[n] == '\0' ? "/" : path + n;
}

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

void
surface_db_failure(struct ctx *c, enum tres r)
{
	/* The driver's words go to the log only: they may name tables or values. */
	if (c->db != NULL && db_errno(c->db) != 0)
		fprintf(stderr, "tenantd[%d]: request %s: database error %u: %s\n",
		    (int)getpid(), c->req->request_id, db_errno(c->db),
		    db_error(c->db));
	if (r == TR_UNAVAILABLE) {
		response_header(c->resp, "Retry-After", "2");
		ctx_error(c, 503, "unavailable", "the database is unavailable; "
		    "try again shortly", NULL);
	} else
		ctx_error(c, 500, "internal", "the request could not be "
		    "completed", NULL);
}

int
surface_change_failed(struct ctx *c, enum tres r, const struct tenant_ref *ref,
    const char *not_found)
{
	json_t	*errors;
	size_t	 i;
	char	 msg[64];

	switch (r) {
	case TR_OK:
		return 0;
	case TR_NOT_FOUND:
		ctx_error(c, 404, "tenant_not_found", not_found, NULL);
		break;
	case TR_PRECONDITION:
		ctx_error(c, 412, "precondition_failed", "If-Match does not name "
		    "the tenant's current version (see its ETag)", NULL);
		break;
	case TR_INVALID:
		errors = json_object();
		for (i = 0; i < ref->nbad; i++)
			field_error(errors, ref->bad[i].field, ref->bad[i].msg);
		ctx_error(c, 422, "validation_failed", "one or more fields are "
		    "invalid", errors);
		break;
	case TR_CONFLICT:
		snprintf(msg, sizeof(msg), "another tenant already has this %s",
		    ref->conflict != NULL ? ref->conflict : "name");
		ctx_error(c, 409, "tenant_exists", msg, NULL);
		break;
	case TR_UNPROVISIONED:
		provisioning_incomplete(c);
		break;
	case TR_INACTIVE:
		ctx_error(c, 409, "tenant_inactive", "the tenant is deactivated: "
		    "activate it before switching to it", NULL);
		break;
	default:
		surface_db_failure(c, r);
		break;
	}
	return -1;
}

void
provisioning_incomplete(struct ctx *c)
{
	ctx_error(c, 409, "provisioning_incomplete", "the tenant cannot be "
	    "activated before its provisioning has completed (see its "
	    "provisioning job)", NULL);
}

void
license_limited(struct ctx *c)
{
	char	 msg[96];

	snprintf(msg, sizeof(msg), "the license allows at most %lld tenants",
	    tenants_license_limit());
	ctx_error(c, 409, "license_limit_reached", msg, NULL);
}

/* The surface whose prefix is the longest match of path. */
static const struct surface *
surface_for_path(const char *path)
{
	const struct surface	*best = &surface_api_v1;
	const char		*p;
	size_t			 i, n, bestlen = 0;

	for (i = 0; i < NSURFACES; i++) {
		if ((p = within(i, path)) == NULL)
			continue;
		n = strlen(surfaces[i]->prefix);
		if (n + where[i].len > bestlen &&
		    strncmp(p, surfaces[i]->prefix, n) == 0 &&
		    (p[n] == '/' || p[n] == '\0')) {
			best = surfaces[i];
			bestlen = n + where[i].len;
		}
	}
	return best;
}

/* 0 with c->match and c->surface set, or the status to answer. */
static int
route(struct ctx *c, char *allow, size_t allowlen)
{
	const char	*p;
	char		 a[128];
	size_t		 i;
	int		 rc, status = 404;

	*allow = '\0';
	for (i = 0; i < NSURFACES; i++) {
		if ((p = within(i, c->req->path)) == NULL)
			continue;
		rc = router_match(surfaces[i]->routes, surfaces[i]->nroutes,
		    c->req->method, p, &c->match, a, sizeof(a));
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

/*
 * Whether the client is on this host (behind nginx, REMOTE_ADDR is the
 * address nginx took the request from): 127.0.0.0/8 or ::1, also in
 * their IPv4-mapped form.
 */
static bool
peer_loopback(const struct request *req)
{
	const char	*a = req->remote_addr;

	if (a == NULL)
		return false;
	if (strncmp(a, "::ffff:", 7) == 0)
		a += 7;
	return strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0;
}

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
	/* fullstackhero's grace warning, on every surface's answer. */
	if (c->who.kind == KEY_TENANT && tenant_in_grace(
	    c->who.tenant_valid_upto, msg, sizeof(msg)) == 0)
		response_header(c->resp, "X-Subscription-Grace", "%s", msg);
	if (c->who.kind == KEY_TENANT && (r->flags & ROUTE_NO_TENANT_KEY)) {
		response_header(c->resp, "WWW-Authenticate",
		    "Bearer realm=\"tenantd\", error=\"invalid_token\"");
		ctx_error(c, 401, "tenant_key_refused", "tenant-scoped API keys "
		    "cannot manage tenants", NULL);
		return -1;
	}
	/* tenantd's JWTs carry no platform-wide scope: global keys only. */
	if ((r->flags & ROUTE_GLOBAL_KEY) &&
	    !(c->who.via == VIA_KEY && c->who.kind == KEY_GLOBAL)) {
		response_header(c->resp, "WWW-Authenticate",
		    "Bearer realm=\"tenantd\", error=\"invalid_token\"");
		ctx_error(c, 401, "global_key_required", "this API requires a "
		    "global API key; account keys, tenant keys and tokens are "
		    "refused", NULL);
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

/* The name a principal's rate-limit budgets are kept under. */
static void
principal_key(const struct ctx *c, char *who, size_t len)
{
	if (c->who.via == VIA_KEY)
		snprintf(who, len, "k%lld", c->who.key_id);
	else
		snprintf(who, len, "a%lld", c->who.account_id);
}
/* The rate-limit headers of each surface style. */
static const struct rl_name {
	const char	*limit, *remaining, *reset;
	bool		 reset_always;	/* else only on 429 */
	bool		 reset_epoch;	/* the time the window ends, else seconds */
} rl_names[RLH__MAX] = {
	[RLH_IETF] = { "RateLimit-Limit", "RateLimit-Remaining",
	    "RateLimit-Reset", true, false },
	[RLH_LARAVEL] = { "X-RateLimit-Limit", "X-RateLimit-Remaining",
	    "X-RateLimit-Reset", false, true },
};

/*
 * Counts the request against its principal's budget on this route; the
 * surface's rate-limit headers go on every limited response, 429 past the
 * limit.
 */
static int
rate_limit(struct ctx *c)
{
	struct ratelimit_verdict v;
	const struct route	*r = c->match.route;
	char			 who[48], route[160];
	long			 limit;
	time_t			 now = time(NULL);
	const struct rl_name	*h = &rl_names[c->surface->rl_headers];

	if (c->rl == NULL || (limit = config_rate_limit(c->cfg, r->pattern)) <= 0)
		return 0;
	principal_key(c, who, sizeof(who));
	snprintf(route, sizeof(route), "%s %s", http_method_name(r->method),
	    r->pattern);
	ratelimit_hit(c->rl, who, route, limit, now, &v);
	response_header(c->resp, h->limit, "%ld", v.limit);
	response_header(c->resp, h->remaining, "%ld", v.remaining);
	if (h->reset_always || !v.allowed)
		response_header(c->resp, h->reset, "%lld", h->reset_epoch ?
		    (long long)now + v.reset : (long long)v.reset);
	if (v.allowed)
		return 0;
	response_header(c->resp, "Retry-After", "%ld", v.reset);
	ctx_error(c, 429, "rate_limited", "too many requests on this route; "
	    "see Retry-After", NULL);
	return -1;
}

/*
 * A 409 tells its caller that a slug or name is taken, in any account
 * (both are unique platform-wide), so each principal may meet only
 * rate_limit.conflicts_per_minute of them: past that its mutations get
 * 429 until the window ends, and names cannot be enumerated quickly.
 */
#define CONFLICTS	"409 conflicts"

static int
conflict_budget(struct ctx *c)
{
	struct ratelimit_verdict v;
	char			 who[48];

	if (c->rl == NULL || c->cfg->rate_limit_conflicts <= 0 ||
	    c->match.route->method == HTTP_GET)
		return 0;
	principal_key(c, who, sizeof(who));
	ratelimit_peek(c->rl, who, CONFLICTS, c->cfg->rate_limit_conflicts,
	    time(NULL), &v);
	if (v.allowed)
		return 0;
	response_header(c->resp, "Retry-After", "%ld", v.reset);
	ctx_error(c, 429, "rate_limited", "too many conflicting requests; "
	    "see Retry-After", NULL);
	return -1;
}

static void
conflict_count(struct ctx *c)
{
	struct ratelimit_verdict v;
	char			 who[48];

	if (c->rl == NULL || c->cfg->rate_limit_conflicts <= 0 ||
	    c->resp->status != 409)
		return;
	principal_key(c, who, sizeof(who));
	ratelimit_hit(c->rl, who, CONFLICTS, c->cfg->rate_limit_conflicts,
	    time(NULL), &v);
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
	const struct surface *surface;
	char	 allow[128];
	int	 rc = 0, acceptable;

	surface = c->surface = surface_for_path(c->req->path);
	if (!(acceptable = negotiate_accept(c->req->accept, &c->out_fmt) == 0))
		c->out_fmt = FMT_JSON;
	if (early == 0)
		rc = route(c, allow, sizeof(allow));
	/* A route of its own media types judges Accept itself. */
	if (!acceptable && (early != 0 || rc != 0 ||
	    !(c->match.route->flags & ROUTE_OWN_MEDIA))) {
		c->surface = surface;
		ctx_error(c, 406, "not_acceptable", "this resource is available "
		    "as application/json or application/xml", NULL);
		return;
	}
	if (early != 0) {
		ctx_error(c, early, early == 413 ? "body_too_large" :
		    early == 414 ? "uri_too_long" : "bad_request",
		    c->req->refused ? c->req->refused : "the request cannot be "
		    "read", NULL);
		return;
	}
	if (rc != 0) {
		if (rc == 405 && c->req->method == HTTP_OPTIONS) {
			response_header(c->resp, "Allow", "%s, OPTIONS", allow);
			response_set(c->resp, 204, NULL, NULL, NULL);
			return;
		}
		if (rc == 405) {
			response_header(c->resp, "Allow", "%s", allow);
			c->allow = allow;
		}
		ctx_error(c, rc, rc == 405 ? "method_not_allowed" : "not_found",
		    rc == 405 ? "this resource does not support the method" :
		    "no resource at this path", NULL);
		return;
	}
	if (!(c->match.route->flags & ROUTE_PUBLIC) &&
	    !((c->match.route->flags & ROUTE_LOOPBACK) &&
	    peer_loopback(c->req)) &&
	    (authenticate(c) == -1 || rate_limit(c) == -1 ||
	    conflict_budget(c) == -1))
		return;
	if (((c->match.route->flags & ROUTE_BODY) ||
	    ((c->match.route->flags & ROUTE_BODY_OPTIONAL) &&
	    c->req->body_len > 0)) && decode_body(c) == -1)
		return;
	mutation_run(c);
	conflict_count(c);
}

void
app_print_routes(FILE *f)
{
	const struct route	*r;
	size_t			 i, j;

	for (i = 0; i < NSURFACES; i++)
		for (j = 0; !where[i].off && j < surfaces[i]->nroutes; j++) {
			r = &surfaces[i]->routes[j];
			fprintf(f, "%s %s%s %s\n", http_method_name(r->method),
			    where[i].mount, r->pattern, r->perm == PERM_NONE ?
			    "-" : perm_claim(r->perm));
		}
}

/* Route ids: 0 for none, then every route of every surface in order. */
size_t
app_route_id(const struct ctx *c)
{
	const struct route	*r = c->match.route;
	size_t			 i, id = 1;

	for (i = 0; r != NULL && i < NSURFACES; i++) {
		if (r >= surfaces[i]->routes &&
		    r < surfaces[i]->routes + surfaces[i]->nroutes)
			return id + (size_t)(r - surfaces[i]->routes);
		id += surfaces[i]->nroutes;
	}
	return 0;
}

size_t
app_route_count(void)
{
	size_t	 i, n = 1;

	for (i = 0; i < NSURFACES; i++)
		n += surfaces[i]->nroutes;
	return n;
}

void
app_route_label(size_t id, const char **method, char *path, size_t len)
{
	const struct route	*r;
	size_t			 i;

	*method = "";
	snprintf(path, len, "(none)");
	for (i = 0; id > 0 && i < NSURFACES; i++) {
		if (id - 1 < surfaces[i]->nroutes) {
			r = &surfaces[i]->routes[id - 1];
			*method = http_method_name(r->method);
			snprintf(path, len, "%s%s", where[i].mount, r->pattern);
			return;
		}
		id -= surfaces[i]->nroutes;
	}
}

#define LOCATION_PATHS	64

/* Whether p is under q ("/x/y" under "/x"), or q itself at an earlier index. */
static int
path_covered(const char (*paths)[256], size_t n, size_t k)
{
	size_t	 i, len;

	for (i = 0; i < n; i++) {
		len = strlen(paths[i]);
		if (i == k || strncmp(paths[i], paths[k], len) != 0)
			continue;
		if (paths[k][len] == '/' || (paths[k][len] == '\0' && i < k))
			return 1;
	}
	return 0;
}

/*
 * One nginx location matching exactly the paths of the surfaces served
 * (each surface's prefix, and the literal start of any route outside
 * it), so a host's own routes beside them stay the host's.  A path under
 * another one is left out: the shorter matches it already.
 */
void
app_print_locations(FILE *f, const char *mount_prefix, const char *include)
{
	char			 paths[LOCATION_PATHS][256];
	const struct route	*r;
	const char		*param, *s;
	size_t			 i, j, n, np = 0;
	int			 first = 1;

	for (i = 0; i < NSURFACES; i++) {
		if (where[i].off)
			continue;
		n = strlen(surfaces[i]->prefix);
		if (np < LOCATION_PATHS)
			snprintf(paths[np++], sizeof(paths[0]), "%s%s",
			    where[i].mount, surfaces[i]->prefix);
		for (j = 0; j < surfaces[i]->nroutes && np < LOCATION_PATHS;
		    j++) {
			r = &surfaces[i]->routes[j];
			if (strncmp(r->pattern, surfaces[i]->prefix, n) == 0)
				continue;
			param = strstr(r->pattern, "/{");
			snprintf(paths[np++], sizeof(paths[0]), "%s%.*s",
			    where[i].mount, (int)(param ? (size_t)(param -
			    r->pattern) : strlen(r->pattern)), r->pattern);
		}
	}
	fprintf(f, "location ~ ^%s(", mount_prefix);
	for (i = 0; i < np; i++) {
		if (path_covered(paths, np, i))
			continue;
		if (!first)
			fputc('|', f);
		first = 0;
		/* A '.' in a path is literal in the regex. */
		for (s = paths[i]; *s != '\0'; s++)
			fputs(*s == '.' ? "\\." : (char[]){ *s, '\0' }, f);
	}
	fprintf(f, ")(/|$) {\n    include %s;\n}\n", include);
}
