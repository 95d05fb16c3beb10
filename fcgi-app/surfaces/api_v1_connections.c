/*
 * /api/v1/connections: the canonical view of Microsoft 365 tenant
 * connections, and the import path of the consent service (seeds 000 and
 * 004 serve the same connections).  Errors are RFC 9457 problems.
 */
#include <stdio.h>
#include <string.h>

#include "../connections.h"
#include "../problem.h"
#include "../surfaces.h"

static void	 h_list(struct ctx *);
static void	 h_import(struct ctx *);
static void	 h_get(struct ctx *);
static void	 h_delete(struct ctx *);
static void	 h_activate(struct ctx *);

static const struct route routes[] = {
	{ HTTP_GET, "/api/v1/connections", PERM_VIEW, h_list,
	    ROUTE_NO_TENANT_KEY },
	{ HTTP_POST, "/api/v1/connections", PERM_CREATE, h_import,
	    ROUTE_BODY | ROUTE_NO_TENANT_KEY },
	{ HTTP_GET, "/api/v1/connections/{id}", PERM_VIEW, h_get,
	    ROUTE_NO_TENANT_KEY },
	{ HTTP_DELETE, "/api/v1/connections/{id}", PERM_DELETE, h_delete,
	    ROUTE_NO_TENANT_KEY },
	{ HTTP_POST, "/api/v1/connections/{id}/activate", PERM_VIEW,
	    h_activate, ROUTE_NO_TENANT_KEY },
};

static const struct conn_field fields[] = {
	{ "id", CC_ID, FT_STR },
	{ "msTenantId", CC_MS_TENANT_ID, FT_STR },
	{ "label", CC_LABEL, FT_STR },
	{ "status", CC_STATUS, FT_STR },
	{ "connectedAt", CC_CONNECTED_AT, FT_TIME },
	{ "isPrimary", CC_IS_PRIMARY, FT_BOOL },
	{ "tenant", TC_SLUG },
	{ "tenantName", TC_DISPLAY_NAME },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static void
not_found(struct ctx *c)
{
	ctx_error(c, 404, "connection_not_found", "no connection with this id",
	    NULL);
}

/* Answers with connection id as it is now. */
static void
reply(struct ctx *c, const char *id, int status)
{
	struct db_res	*res = NULL;
	struct db_row	 row;
	int		 rc;

	rc = connections_get(c->db, tenants_scope(&c->who), CBY_ID, id, &row,
	    &res);
	if (rc == -1)
		surface_db_failure(c, tenants_result(db_classify(db_errno(c->db))));
	else if (rc == 0)
		not_found(c);
	else {
		if (status == 201)
			response_header(c->resp, "Location",
			    "/api/v1/connections/%s", id);
		response_set(c->resp, status, connections_row_json(fields,
		    NELEM(fields), &row), "connection", NULL);
	}
	db_res_free(res);
}

static void
h_list(struct ctx *c)
{
	json_t		*list;
	enum tres	 r;

	if ((list = connections_list_json(c->db, tenants_scope(&c->who),
	    CORDER_CONNECTED, fields, NELEM(fields), &r)) == NULL) {
		surface_db_failure(c, r);
		return;
	}
	response_set(c->resp, 200, json_pack("{s:o}", "data", list),
	    "connections", "connection");
}

static void
h_import(struct ctx *c)
{
	struct conn_input	 in;
	struct conn_ref		 ref;
	json_t			*errors = json_object();
	enum tres		 r;

	connections_input(c->input, c->in_fmt == FMT_XML, &in, errors);
	if (json_object_size(errors) > 0) {
		ctx_error(c, 422, "validation_failed", "one or more fields are "
		    "invalid", errors);
		return;
	}
	json_decref(errors);
	r = connections_import(c->db, &c->who, &in, c->req->request_id, &ref);
	if (r == TR_CONFLICT)
		ctx_error(c, 409, "tenant_exists", "a tenant with this "
		    "connection's generated id already exists", NULL);
	else if (r == TR_LIMIT)
		license_limited(c);
	else if (r != TR_OK)
		surface_db_failure(c, r);
	else
		reply(c, ref.id, ref.created ? 201 : 200);
}

static void
h_get(struct ctx *c)
{
	reply(c, route_param(&c->match, "id"), 200);
}

static void
h_delete(struct ctx *c)
{
	struct conn_ref	 ref;
	enum tres	 r;

	r = connections_disconnect(c->db, &c->who, route_param(&c->match, "id"),
	    c->cfg->connections_retention_days, c->req->request_id, &ref);
	if (r == TR_NOT_FOUND)
		not_found(c);
	else if (r == TR_CONFLICT)
		ctx_error(c, 409, "last_connection", "the account's only "
		    "remaining connection cannot be removed", NULL);
	else if (r != TR_OK)
		surface_db_failure(c, r);
	else
		response_set(c->resp, 204, NULL, NULL, NULL);
}

static void
h_activate(struct ctx *c)
{
	struct conn_ref	 ref;
	enum tres	 r;

	r = connections_activate(c->db, &c->who, route_param(&c->match, "id"),
	    c->req->request_id, &ref);
	if (r == TR_NOT_FOUND)
		not_found(c);
	else if (r != TR_OK)
		surface_db_failure(c, r);
	else
		reply(c, ref.id, 200);
}

const struct surface surface_api_v1_connections = {
	.name = "api_v1_connections",
	.prefix = "/api/v1/connections",
	.routes = routes,
	.nroutes = NELEM(routes),
	.error = ctx_problem,
};
