/*
 * Seed 000, TenantCore: the Microsoft 365 tenants connected to the
 * caller's account, by their Microsoft tenant GUID.  Tenants are connected
 * by admin consent, never here (see /api/v1/connections).  Errors are
 * {"error": message, "code": code}.
 */
#include <stdio.h>
#include <string.h>

#include "../connections.h"
#include "../surfaces.h"

static void	 h_list(struct ctx *);
static void	 h_get(struct ctx *);
static void	 h_delete(struct ctx *);

static const struct route routes[] = {
	{ HTTP_GET, "/v1/tenants", PERM_VIEW, h_list, ROUTE_NO_TENANT_KEY },
	{ HTTP_GET, "/v1/tenants/{tenant_id}", PERM_VIEW, h_get,
	    ROUTE_NO_TENANT_KEY },
	{ HTTP_DELETE, "/v1/tenants/{tenant_id}", PERM_DELETE, h_delete,
	    ROUTE_NO_TENANT_KEY },
};

#define FIELDS_HEAD \
	{ "id", TC_GUID }, \
	{ "tenant_id", CC_MS_TENANT_ID, FT_STR }, \
	{ "tenant_name", TC_DISPLAY_NAME }, \
	{ "tenant_domain", TC_TENANT_DOMAIN }, \
	{ "default_domain", TC_DEFAULT_DOMAIN }, \
	{ "domain_count", TC_DOMAIN_COUNT }, \
	{ "mailbox_count", TC_MAILBOX_COUNT }, \
	{ "status", CC_STATUS, FT_STR }, \
	{ "discovery_completed", TC_DISCOVERY_COMPLETED }, \
	{ "exchange_bootstrap_status", TC_EXCHANGE_BOOTSTRAP_STATUS }

/* A listed tenant, in the seed's order. */
static const struct conn_field list_fields[] = {
	FIELDS_HEAD,
	{ "consented_at", TC_CONSENTED_AT },
	{ "last_sync_at", TC_LAST_SYNC_AT },
};

/* One tenant: the listed fields and two more. */
static const struct conn_field get_fields[] = {
	FIELDS_HEAD,
	{ "smtp_auth_org_enabled", TC_SMTP_AUTH_ORG_ENABLED },
	{ "consented_at", TC_CONSENTED_AT },
	{ "last_sync_at", TC_LAST_SYNC_AT },
	{ "connected_by", TC_CONNECTED_BY },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* tenantd's codes that TenantCore spells otherwise. */
static const struct {
	const char	*from, *to;
} codes[] = {
	{ "unauthenticated", "unauthorized" },
	{ "invalid_credential", "unauthorized" },
	{ "tenant_key_refused", "unauthorized" },
};

static void
tc_error(struct ctx *c, int status, const char *code, const char *detail,
    json_t *errors)
{
	size_t	 i;

	json_decref(errors);	/* no route here takes input to refuse */
	for (i = 0; i < NELEM(codes); i++)
		if (strcmp(code, codes[i].from) == 0)
			code = codes[i].to;
	response_set(c->resp, status, json_pack("{s:s, s:s}", "error",
	    detail ? detail : http_reason(status), "code", code),
	    "tenantcoreError", NULL);
}

static void
not_found(struct ctx *c)
{
	ctx_error(c, 404, "tenant_not_found", "Tenant does not exist or "
	    "belongs to a different account", NULL);
}

static void
h_list(struct ctx *c)
{
	json_t		*list;
	enum tres	 r;

	if ((list = connections_list_json(c->db, tenants_scope(&c->who),
	    CORDER_CONSENTED, list_fields, NELEM(list_fields), &r)) == NULL) {
		surface_db_failure(c, r);
		return;
	}
	response_set(c->resp, 200, json_pack("{s:o, s:I}", "tenants", list,
	    "count", (json_int_t)json_array_size(list)), "tenantcoreTenants",
	    NULL);
}

static void
h_get(struct ctx *c)
{
	struct db_res	*res = NULL;
	struct db_row	 row;
	int		 rc;

	rc = connections_get(c->db, tenants_scope(&c->who), CBY_MS_TENANT_ID,
	    route_param(&c->match, "tenant_id"), &row, &res);
	if (rc == -1)
		surface_db_failure(c, tenants_result(db_classify(db_errno(c->db))));
	else if (rc == 0)
		not_found(c);
	else
		response_set(c->resp, 200, connections_row_json(get_fields,
		    NELEM(get_fields), &row), "tenantcoreTenant", NULL);
	db_res_free(res);
}

static void
h_delete(struct ctx *c)
{
	struct conn_ref	 ref;
	enum tres	 r;

	r = connections_purge_tenant(c->db, &c->who,
	    route_param(&c->match, "tenant_id"), c->req->request_id, &ref);
	if (r == TR_NOT_FOUND)
		not_found(c);
	else if (r != TR_OK)
		surface_db_failure(c, r);
	else
		response_set(c->resp, 200, json_pack("{s:s, s:s, s:s, s:s}",
		    "status", "deleted", "tenant_id", ref.ms_tenant_id,
		    "tenant_name", ref.name, "message", "Tenant and all "
		    "associated records removed. The Microsoft tenant itself "
		    "was not affected."), "tenantcoreDeletion", NULL);
}

const struct surface surface_tenantcore = {
	.name = "tenantcore",
	.prefix = "/v1/tenants",
	.optional = true,
	.routes = routes,
	.nroutes = NELEM(routes),
	.error = tc_error,
};
