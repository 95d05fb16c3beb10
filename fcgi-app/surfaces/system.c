/* Liveness and readiness probes: public, outside any API surface. */
#include "../problem.h"
#include "../surfaces.h"

static void	 h_healthz(struct ctx *);
static void	 h_readyz(struct ctx *);

static const struct route routes[] = {
	{ HTTP_GET, "/healthz", PERM_NONE, h_healthz, ROUTE_PUBLIC },
	{ HTTP_GET, "/readyz", PERM_NONE, h_readyz, ROUTE_PUBLIC },
};

static void
h_healthz(struct ctx *c)
{
	response_set(c->resp, 200, json_pack("{s:s}", "status", "ok"),
	    "health", NULL);
}

static void
h_readyz(struct ctx *c)
{
	if (db_ping(c->db) == -1) {
		response_header(c->resp, "Retry-After", "5");
		response_set(c->resp, 503, json_pack("{s:s, s:s}", "status",
		    "unavailable", "database", "unreachable"), "health", NULL);
		return;
	}
	response_set(c->resp, 200, json_pack("{s:s, s:s}", "status", "ok",
	    "database", "ok"), "health", NULL);
}

const struct surface surface_system = {
	.name = "system",
	.prefix = "/healthz",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.error = ctx_problem,
};
