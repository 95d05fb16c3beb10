/*
 * Seed 004, Aether365: the caller's Microsoft 365 tenant connections.
 * Every answer is {"success": true, "data": ...}; errors are
 * {"success": false, "error": {"code": "UPPER_CASE", "message": ...}}.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "../connections.h"
#include "../surfaces.h"

static void	 h_list(struct ctx *);
static void	 h_activate(struct ctx *);
static void	 h_delete(struct ctx *);

static const struct route routes[] = {
	{ HTTP_GET, "/tenants/me/connections", PERM_VIEW, h_list,
	    ROUTE_NO_TENANT_KEY },
	{ HTTP_POST, "/tenants/me/connections/{connectionId}/activate",
	    PERM_VIEW, h_activate, ROUTE_NO_TENANT_KEY },
	{ HTTP_DELETE, "/tenants/me/connections/{connectionId}", PERM_DELETE,
	    h_delete, ROUTE_NO_TENANT_KEY },
};

static const struct conn_field fields[] = {
	{ "id", CC_ID, FT_STR },
	{ "msTenantId", CC_MS_TENANT_ID, FT_STR },
	{ "label", CC_LABEL, FT_STR },
	{ "connectedAt", CC_CONNECTED_AT, FT_TIME },
	{ "isPrimary", CC_IS_PRIMARY, FT_BOOL },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Codes by status, for errors found before a handler runs. */
static const struct {
	int		 status;
	const char	*code;
} codes[] = {
	{ 400, "BAD_REQUEST" },
	{ 401, "UNAUTHORIZED" },
	{ 403, "FORBIDDEN" },
	{ 404, "NOT_FOUND" },
	{ 405, "METHOD_NOT_ALLOWED" },
	{ 406, "NOT_ACCEPTABLE" },
	{ 409, "CONFLICT" },
	{ 413, "PAYLOAD_TOO_LARGE" },
	{ 415, "UNSUPPORTED_MEDIA_TYPE" },
	{ 422, "VALIDATION_ERROR" },
	{ 429, "RATE_LIMITED" },
	{ 503, "SERVICE_UNAVAILABLE" },
};

static int
upper_code(const char *s)
{
	for (; *s != '\0'; s++)
		if (islower((unsigned char)*s))
			return 0;
	return 1;
}

/* A code in upper case is the seed's own; others are mapped by status. */
static void
ae_error(struct ctx *c, int status, const char *code, const char *detail,
    json_t *errors)
{
	size_t	 i;

	json_decref(errors);	/* no route here takes input to refuse */
	if (!upper_code(code)) {
		code = "INTERNAL_ERROR";
		for (i = 0; i < NELEM(codes); i++)
			if (codes[i].status == status)
				code = codes[i].code;
	}
	response_set(c->resp, status, json_pack("{s:b, s:{s:s, s:s}}",
	    "success", 0, "error", "code", code, "message",
	    detail ? detail : http_reason(status)), "aether365Error", NULL);
}

static void
not_found(struct ctx *c)
{
	ctx_error(c, 404, "CONNECTION_NOT_FOUND", "No connection with this ID "
	    "exists for this tenant", NULL);
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
	response_set(c->resp, 200, json_pack("{s:b, s:o}", "success", 1,
	    "data", list), "aether365Connections", "connection");
}

static void
h_activate(struct ctx *c)
{
	struct conn_ref	 ref;
	struct db_res	*res = NULL;
	struct db_row	 row;
	enum tres	 r;
	int		 rc;

	r = connections_activate(c->db, &c->who,
	    route_param(&c->match, "connectionId"), c->req->request_id, &ref);
	if (r == TR_NOT_FOUND) {
		not_found(c);
		return;
	}
	if (r != TR_OK) {
		surface_db_failure(c, r);
		return;
	}
	rc = connections_get(c->db, tenants_scope(&c->who), CBY_ID, ref.id,
	    &row, &res);
	if (rc == 1)
		response_set(c->resp, 200, json_pack("{s:b, s:o}", "success", 1,
		    "data", connections_row_json(fields, NELEM(fields), &row)),
		    "aether365Connection", NULL);
	else if (rc == 0)
		not_found(c);	/* removed right after */
	else
		surface_db_failure(c, TR_ERROR);
	db_res_free(res);
}

static void
h_delete(struct ctx *c)
{
	struct conn_ref	 ref;
	enum tres	 r;

	r = connections_disconnect(c->db, &c->who,
	    route_param(&c->match, "connectionId"),
	    c->cfg->connections_retention_days, c->req->request_id, &ref);
	if (r == TR_NOT_FOUND)
		not_found(c);
	else if (r == TR_CONFLICT)
		ctx_error(c, 409, "CANNOT_REMOVE_LAST_CONNECTION", "Cannot "
		    "remove the only remaining connection", NULL);
	else if (r != TR_OK)
		surface_db_failure(c, r);
	else
		response_set(c->resp, 200, json_pack("{s:b, s:n}", "success", 1,
		    "data"), "aether365Result", NULL);
}

const struct surface surface_aether365 = {
	.name = "aether365",
	.prefix = "/tenants/me",
	.optional = true,
	.routes = routes,
	.nroutes = NELEM(routes),
	.error = ae_error,
};
