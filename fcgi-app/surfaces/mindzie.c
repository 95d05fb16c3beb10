/*
 * Seed 003: mindzieStudio's system-level tenant API under /api/tenant.
 * Global API keys only (ROUTE_GLOBAL_KEY, enforced in app.c); a tenant is
 * named by its GUID, in the path or in the body; errors are ASP.NET Core
 * ProblemDetails and ValidationProblemDetails, since mindzieStudio is an
 * ASP.NET Core application.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../paging.h"
#include "../query.h"
#include "../surfaces.h"
#include "../tenant_list.h"
#include "../tenant_store.h"
#include "../tenants.h"

#define PAGE_SIZE_DEFAULT	100
#define PAGE_SIZE_MAX		1000
#define PAGE_MAX		1000000000L
#define CONFIRM_MAX		1024	/* 200 characters of up to 4 bytes */

static void	 h_list(struct ctx *);
static void	 h_get(struct ctx *);
static void	 h_create(struct ctx *);
static void	 h_update(struct ctx *);
static void	 h_delete(struct ctx *);

static const struct route routes[] = {
	{ HTTP_GET, "/api/tenant", PERM_VIEW, h_list, ROUTE_GLOBAL_KEY },
	{ HTTP_POST, "/api/tenant", PERM_CREATE, h_create,
	    ROUTE_BODY | ROUTE_GLOBAL_KEY },
	{ HTTP_PUT, "/api/tenant", PERM_UPDATE, h_update,
	    ROUTE_BODY | ROUTE_GLOBAL_KEY },
	{ HTTP_DELETE, "/api/tenant", PERM_DELETE, h_delete,
	    ROUTE_BODY_OPTIONAL | ROUTE_GLOBAL_KEY },
	{ HTTP_GET, "/api/tenant/{tenantId}", PERM_VIEW, h_get,
	    ROUTE_GLOBAL_KEY },
};

/* The seed's tenant object, in its order. */
static const struct field_map fields[] = {
	{ "tenantId", TC_GUID },
	{ "name", TC_NAME },
	/* A string in the seed: tenants made elsewhere may have none. */
	{ "displayName", TC_DISPLAY_NAME, DERIVE_OR_NAME },
	{ "description", TC_DESCRIPTION },
	{ "caseCount", TC_CASE_COUNT },
	{ "maxUserCount", TC_MAX_USER_COUNT },
	{ "maxAnalystCount", TC_MAX_ANALYST_COUNT },
	{ "userCount", TC_USER_COUNT },
	{ "analystCount", TC_ANALYST_COUNT },
	{ "isDisabled", TC_IS_ACTIVE, DERIVE_NEGATED },
	{ "isAcademic", TC_IS_ACADEMIC },
	{ "preRelease", TC_PRE_RELEASE },
	{ "dateCreated", TC_CREATED_AT },
};

#define NFIELDS	(sizeof(fields) / sizeof(fields[0]))

/*
 * Text fields this surface requires on create and refuses to blank on
 * update: DELETE's triple verification compares both.
 */
static const enum tcol required[] = { TC_NAME, TC_DISPLAY_NAME };

/* ASP.NET Core's ProblemDetails type for a status (its defaults). */
static const struct {
	int		 status;
	const char	*type;
} problem_types[] = {
	{ 400, "https://tools.ietf.org/html/rfc9110#section-15.5.1" },
	{ 401, "https://tools.ietf.org/html/rfc9110#section-15.5.2" },
	{ 403, "https://tools.ietf.org/html/rfc9110#section-15.5.4" },
	{ 404, "https://tools.ietf.org/html/rfc9110#section-15.5.5" },
	{ 405, "https://tools.ietf.org/html/rfc9110#section-15.5.6" },
	{ 406, "https://tools.ietf.org/html/rfc9110#section-15.5.7" },
	{ 409, "https://tools.ietf.org/html/rfc9110#section-15.5.10" },
	{ 412, "https://tools.ietf.org/html/rfc9110#section-15.5.13" },
	{ 413, "https://tools.ietf.org/html/rfc9110#section-15.5.14" },
	{ 415, "https://tools.ietf.org/html/rfc9110#section-15.5.16" },
	{ 422, "https://tools.ietf.org/html/rfc9110#section-15.5.21" },
	{ 429, "https://tools.ietf.org/html/rfc6585#section-4" },
	{ 500, "https://tools.ietf.org/html/rfc9110#section-15.6.1" },
	{ 503, "https://tools.ietf.org/html/rfc9110#section-15.6.4" },
};

/*
 * The surface's error envelope: ProblemDetails {type, title, status,
 * detail, code, traceId}, or with field errors ValidationProblemDetails
 * (its title, and errors: field -> messages, before the extensions).  code
 * (tenantd's, e.g. license_limit_reached) and traceId (the request id) are
 * extension members, which ASP.NET clients read or ignore.
 */
static void
mindzie_problem(struct ctx *c, int status, const char *code,
    const char *detail, json_t *errors)
{
	const char	*type = problem_types[0].type;
	json_t		*p;
	size_t		 i;

	for (i = 0; i < sizeof(problem_types) / sizeof(problem_types[0]); i++)
		if (problem_types[i].status == status)
			type = problem_types[i].type;
	p = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title",
	    errors != NULL ? "One or more validation errors occurred." :
	    http_reason(status), "status", status, "detail",
	    detail != NULL ? detail : http_reason(status));
	if (p != NULL && errors != NULL)
		json_object_set_new(p, "errors", errors);
	else
		json_decref(errors);
	if (p != NULL) {
		json_object_set_new(p, "code", json_string(code));
		json_object_set_new(p, "traceId",
		    json_string(c->req->request_id));
	}
	response_set(c->resp, status, p, "mindzieProblem", NULL);
	c->resp->problem = true;
}

static void
invalid(struct ctx *c, const char *detail, json_t *errors)
{
	ctx_error(c, 422, "validation_failed", detail, errors);
}

static void
not_found(struct ctx *c)
{
	ctx_error(c, 404, "tenant_not_found", "no tenant with this tenantId",
	    NULL);
}

static const char *
field_name(enum tcol col)
{
	size_t	 i;

	for (i = 0; i < NFIELDS; i++)
		if (fields[i].col == col)
			return fields[i].name;
	return tcols[col].sql;
}

static bool
blank(const char *s)
{
	return s == NULL || s[strspn(s, " \t\r\n\f\v")] == '\0';
}

/*
 * The tenant fields of the body.  Read-only fields (tenantId, the counts,
 * dateCreated) are ignored, as ASP.NET Core's model binding ignores
 * properties it cannot set, so a tenant read with GET can be sent back
 * changed.  create: every required field must be there.
 */
static void
read_input(struct ctx *c, bool create, struct tenant_input *in,
    json_t *errors)
{
	const char	*name;
	size_t		 i;

	for (i = 0; i < NFIELDS; i++)
		if (!tcols[fields[i].col].writable)
			json_object_del(c->input, fields[i].name);
	tenant_input_from_json(fields, NFIELDS, c->input, c->in_fmt == FMT_XML,
	    in, errors);
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		name = field_name(required[i]);
		if (json_object_get(errors, name) != NULL)
			continue;
		if (in->set[required[i]] ? blank(in->v[required[i]]) : create)
			field_error(errors, name, "is required");
	}
}

/* The tenant with this GUID, as it is now, with its ETag. */
static void
reply_tenant(struct ctx *c, const char *guid, int status)
{
	struct db_res	*res = NULL;
	struct db_row	 row;
	int		 rc;

	rc = tenant_store_get(c->db, tenants_scope(&c->who), TKEY_GUID, guid,
	    &row, &res);
	if (rc == -1)
		surface_db_failure(c, tenants_result(db_classify(db_errno(c->db))));
	else if (rc == 0)
		not_found(c);
	else {
		response_header(c->resp, "ETag", "\"%s\"", row.v[TC_VERSION]);
		response_set(c->resp, status, tenant_row_json(fields, NFIELDS,
		    &row), "mindzieTenant", NULL);
	}
	db_res_free(res);
}

/* Its list's Link references carry nothing over but the page. */
static const struct paging_names paging = { .page = "page", .size = "pageSize" };

/*
 * Every tenant on the platform, oldest first, as the plain array the seed
 * shows.  A platform may hold millions, so the array is one page: page
 * (1) and pageSize (100, at most 1000); X-Total-Count and Link tell a
 * client that there is more.  An unfiltered page is one statement.
 */
static void
h_list(struct ctx *c)
{
	struct tenant_query	 q = { .is_active = -1 };
	json_t			*errors = json_object(), *data;
	long			 page, size, pages;
	long long		 total;

	paging_int(c, "page", 1, PAGE_MAX, 1, &page, errors);
	paging_int(c, "pageSize", 1, PAGE_SIZE_MAX, PAGE_SIZE_DEFAULT, &size,
	    errors);
	if (json_object_size(errors) > 0) {
		invalid(c, "the query parameters are invalid", errors);
		return;
	}
	json_decref(errors);
	q.scope = tenants_scope(&c->who);
	q.sort = TSORT_CREATED;
	if ((data = paging_tenants(c, &q, size, (long long)(page - 1) * size,
	    fields, NFIELDS, &total, NULL)) == NULL)
		return;
	pages = total == 0 ? 1 : (long)((total + size - 1) / size);
	response_header(c->resp, "X-Total-Count", "%lld", total);
	paging_links(c, &paging, page, size, pages);
	response_set(c->resp, 200, data, "mindzieTenants", "tenant");
}

static void
h_get(struct ctx *c)
{
	reply_tenant(c, route_param(&c->match, "tenantId"), 200);
}

static void
h_create(struct ctx *c)
{
	struct tenant_input	 in;
	struct tenant_created	 out;
	json_t			*errors = json_object();
	enum tres		 r;

	read_input(c, true, &in, errors);
	if (json_object_size(errors) > 0) {
		invalid(c, "one or more fields are invalid", errors);
		return;
	}
	json_decref(errors);
	r = tenants_create_derived(c->db, &c->who, &in, 0, c->req->request_id,
	    &out);
	switch (r) {
	case TR_OK:
		response_header(c->resp, "Location", "/api/tenant/%s", out.guid);
		reply_tenant(c, out.guid, 201);
		break;
	case TR_CONFLICT:
		ctx_error(c, 409, "tenant_exists", "a tenant with this name "
		    "already exists", NULL);
		break;
	case TR_LIMIT:
		license_limited(c);
		break;
	default:
		surface_db_failure(c, r);
		break;
	}
}

/*
 * A string member of the body, or a query parameter when there is no
 * body member of that name: DELETE may carry its triple either way.
 */
static const char *
body_or_query(struct ctx *c, const char *name, char *buf, size_t len)
{
	json_t	*v;

	if (c->input != NULL && (v = json_object_get(c->input, name)) != NULL)
		return json_string_value(v);
	if (query_get(c->req->query, name, buf, len) == 1)
		return buf;
	return NULL;
}

/* Partial update: the fields given change, the others stay. */
static void
h_update(struct ctx *c)
{
	struct tenant_input	 in;
	struct tenant_change	 ch = { .op = OP_PATCH, .by = TKEY_GUID,
	    .in = &in };
	struct tenant_ref	 ref;
	json_t			*errors = json_object();
	char			 id[64];
	const char		*s;
	enum tres		 r;

	s = json_string_value(json_object_get(c->input, "tenantId"));
	if (blank(s))
		field_error(errors, "tenantId", "is required");
	snprintf(id, sizeof(id), "%s", s != NULL ? s : "");
	read_input(c, false, &in, errors);
	if (json_object_size(errors) > 0) {
		invalid(c, "one or more fields are invalid", errors);
		return;
	}
	json_decref(errors);
	r = tenants_change(c->db, &c->who, id, c->req->if_match,
	    c->req->request_id, &ch, &ref);
	if (surface_change_failed(c, r, &ref,
	    "no tenant with this tenantId") == 0)
		reply_tenant(c, ref.guid, 200);
}

/* The domain's confirmation fields, by this surface's names. */
static const struct {
	const char	*domain, *name, *msg;
} confirm_names[] = {
	{ "confirmName", "name", "does not match the tenant's name" },
	{ "confirmDisplayName", "displayName", "does not match the tenant's "
	    "displayName" },
};

/*
 * Triple verification: tenantId, name and displayName must all match the
 * tenant exactly (byte for byte) or nothing is deleted and the errors
 * name the fields that differ.  A tenant without a displayName (made
 * through another surface) shows and is confirmed with its name there.
 */
static void
h_delete(struct ctx *c)
{
	struct tenant_change	 ch = { .op = OP_DELETE, .by = TKEY_GUID };
	struct tenant_ref	 ref;
	json_t			*errors = json_object();
	char			 q[3][CONFIRM_MAX];
	const char		*id;
	size_t			 i, j;
	enum tres		 r;

	id = body_or_query(c, "tenantId", q[0], sizeof(q[0]));
	ch.confirm_name = body_or_query(c, "name", q[1], sizeof(q[1]));
	ch.confirm_display_name = body_or_query(c, "displayName", q[2],
	    sizeof(q[2]));
	if (blank(id))
		field_error(errors, "tenantId", "is required");
	if (blank(ch.confirm_name))
		field_error(errors, "name", "is required");
	if (blank(ch.confirm_display_name))
		field_error(errors, "displayName", "is required");
	if (json_object_size(errors) > 0) {
		invalid(c, "tenantId, name and displayName are all required to "
		    "delete a tenant", errors);
		return;
	}
	r = tenants_change(c->db, &c->who, id, c->req->if_match,
	    c->req->request_id, &ch, &ref);
	if (r == TR_INVALID) {
		for (i = 0; i < ref.nbad; i++) {
			for (j = 0; j < sizeof(confirm_names) /
			    sizeof(confirm_names[0]); j++)
				if (strcmp(ref.bad[i].field,
				    confirm_names[j].domain) == 0)
					break;
			if (j < sizeof(confirm_names) / sizeof(confirm_names[0]))
				field_error(errors, confirm_names[j].name,
				    confirm_names[j].msg);
			else
				field_error(errors, ref.bad[i].field,
				    ref.bad[i].msg);
		}
		invalid(c, "verification failed: the tenant was not deleted",
		    errors);
		return;
	}
	json_decref(errors);
	if (surface_change_failed(c, r, &ref,
	    "no tenant with this tenantId") != 0)
		return;
	response_set(c->resp, 200, json_pack("{s:s, s:s, s:s, s:b}",
	    "tenantId", ref.guid, "name", ref.name, "displayName",
	    ch.confirm_display_name, "deleted", 1), "mindzieDeletion", NULL);
}

const struct surface surface_mindzie = {
	.name = "mindzie",
	.prefix = "/api/tenant",
	.optional = true,
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.error = mindzie_problem,
};
