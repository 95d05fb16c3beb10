/*
 * The canonical API, /api/v1, shaped after seed 001 (fullstackhero) and
 * holding the union of every seed's tenant fields.  Errors are RFC 9457
 * problem details.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../problem.h"
#include "../query.h"
#include "../surfaces.h"
#include "../tenant_store.h"
#include "../tenants.h"

#define PAGE_SIZE_DEFAULT	10
#define PAGE_SIZE_MAX		100

static void	 h_list(struct ctx *);
static void	 h_get(struct ctx *);
static void	 h_create(struct ctx *);
static void	 h_job_by_tenant(struct ctx *);
static void	 h_job_by_correlation(struct ctx *);

static const struct route routes[] = {
	{ HTTP_GET, "/api/v1/tenants", PERM_VIEW, h_list, ROUTE_NO_TENANT_KEY },
	{ HTTP_POST, "/api/v1/tenants", PERM_CREATE, h_create,
	    ROUTE_BODY | ROUTE_NO_TENANT_KEY },
	{ HTTP_GET, "/api/v1/tenants/{id}", PERM_VIEW, h_get,
	    ROUTE_NO_TENANT_KEY },
	{ HTTP_GET, "/api/v1/tenants/{id}/provisioning", PERM_VIEW,
	    h_job_by_tenant, ROUTE_NO_TENANT_KEY },
	{ HTTP_GET, "/api/v1/provisioning/{correlationId}", PERM_VIEW,
	    h_job_by_correlation, ROUTE_NO_TENANT_KEY },
};

/* Canonical field names, in representation order. */
static const struct field_map fields[] = {
	{ "id", TC_SLUG },
	{ "tenantId", TC_GUID },
	{ "name", TC_NAME },
	{ "displayName", TC_DISPLAY_NAME },
	{ "description", TC_DESCRIPTION },
	{ "adminEmail", TC_ADMIN_EMAIL },
	{ "isActive", TC_IS_ACTIVE },
	{ "validUpto", TC_VALID_UPTO },
	{ "connectionString", TC_CONNECTION_STRING },
	{ "issuer", TC_ISSUER },
	{ "countryCode", TC_COUNTRY_CODE },
	{ "city", TC_CITY },
	{ "address", TC_ADDRESS },
	{ "postCode", TC_POST_CODE },
	{ "groupId", TC_GROUP_ID },
	{ "groupName", TC_GROUP_NAME },
	{ "isAcademic", TC_IS_ACADEMIC },
	{ "preRelease", TC_PRE_RELEASE },
	{ "maxUserCount", TC_MAX_USER_COUNT },
	{ "maxAnalystCount", TC_MAX_ANALYST_COUNT },
	{ "userCount", TC_USER_COUNT },
	{ "analystCount", TC_ANALYST_COUNT },
	{ "caseCount", TC_CASE_COUNT },
	{ "provisioningStatus", TC_PROVISIONING_STATUS },
	{ "msTenantId", TC_MS_TENANT_ID },
	{ "tenantDomain", TC_TENANT_DOMAIN },
	{ "defaultDomain", TC_DEFAULT_DOMAIN },
	{ "domainCount", TC_DOMAIN_COUNT },
	{ "mailboxCount", TC_MAILBOX_COUNT },
	{ "discoveryCompleted", TC_DISCOVERY_COMPLETED },
	{ "exchangeBootstrapStatus", TC_EXCHANGE_BOOTSTRAP_STATUS },
	{ "smtpAuthOrgEnabled", TC_SMTP_AUTH_ORG_ENABLED },
	{ "consentedAt", TC_CONSENTED_AT },
	{ "lastSyncAt", TC_LAST_SYNC_AT },
	{ "connectedBy", TC_CONNECTED_BY },
	{ "createdAt", TC_CREATED_AT },
	{ "updatedAt", TC_UPDATED_AT },
};

#define NFIELDS	(sizeof(fields) / sizeof(fields[0]))

/* Fields a create must carry (seed 001). */
static const enum tcol create_required[] = { TC_SLUG, TC_NAME, TC_ADMIN_EMAIL };

static void
api_v1_error(struct ctx *c, int status, const char *code, const char *detail,
    json_t *errors)
{
	problem_set(c->resp, status, code, detail, errors);
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

static void
db_failure(struct ctx *c, enum tres r)
{
	if (r == TR_UNAVAILABLE) {
		response_header(c->resp, "Retry-After", "2");
		ctx_error(c, 503, "unavailable", "the database is unavailable; "
		    "try again shortly", NULL);
	} else
		ctx_error(c, 500, "internal", "the request could not be "
		    "completed", NULL);
}

/*
 * Reads an integer query parameter in [lo, hi]; records a field error and
 * returns -1 when it is present but not such an integer.
 */
static int
query_int(struct ctx *c, const char *name, long lo, long hi, long dflt,
    long *out, json_t *errors)
{
	char	 v[32], *end, msg[96];
	long	 n;
	int	 rc;

	*out = dflt;
	if ((rc = query_get(c->req->query, name, v, sizeof(v))) == 0)
		return 0;
	n = rc == 1 ? strtol(v, &end, 10) : 0;
	if (rc == -1 || *v == '\0' || *end != '\0' || n < lo || n > hi) {
		snprintf(msg, sizeof(msg), "must be an integer from %ld to %ld",
		    lo, hi);
		field_error(errors, name, msg);
		return -1;
	}
	*out = n;
	return 0;
}

/* Link header: relative references to the same path, RFC 8288. */
static void
link_header(struct ctx *c, long page, long size, long pages)
{
	const char	*uri = c->req->request_uri ? c->req->request_uri : "";
	int		 plen = (int)strcspn(uri, "?#");
	char		 links[1024];
	size_t		 n = 0;

#define LINK(p, rel) n += (size_t)snprintf(links + n, sizeof(links) - n, \
	"%s<%.*s?pageNumber=%ld&pageSize=%ld>; rel=\"%s\"", n ? ", " : "", \
	plen, uri, (long)(p), size, rel)
	LINK(1, "first");
	if (page > 1)
		LINK(page - 1 > pages ? pages : page - 1, "prev");
	if (page < pages)
		LINK(page + 1, "next");
	LINK(pages, "last");
#undef LINK
	response_header(c->resp, "Link", "%s", links);
}

static void
h_list(struct ctx *c)
{
	json_t		*errors = json_object(), *data, *body;
	long		 page, size, pages;
	long long	 total, scope = tenants_scope(&c->who);
	struct db_res	*res;
	struct db_row	 row;
	enum db_err	 e;
	int		 rc;

	query_int(c, "pageNumber", 1, 1000000000, 1, &page, errors);
	query_int(c, "pageSize", 1, PAGE_SIZE_MAX, PAGE_SIZE_DEFAULT, &size,
	    errors);
	if (json_object_size(errors) > 0) {
		ctx_error(c, 422, "validation_failed", "the query parameters "
		    "are invalid", errors);
		return;
	}
	json_decref(errors);
	if ((e = tenant_store_count(c->db, scope, &total)) != DBE_OK ||
	    (e = tenant_store_list(c->db, scope, size, (page - 1) * size,
	    &res)) != DBE_OK) {
		db_failure(c, tenants_result(e));
		return;
	}
	data = json_array();
	while ((rc = db_next(res, &row)) == 1)
		json_array_append_new(data, tenant_row_json(fields, NFIELDS, &row));
	db_res_free(res);
	if (rc == -1) {
		json_decref(data);
		db_failure(c, TR_ERROR);
		return;
	}
	pages = total == 0 ? 1 : (long)((total + size - 1) / size);
	body = json_pack("{s:o, s:i, s:i, s:I, s:i, s:b, s:b}", "data", data,
	    "pageNumber", (int)page, "pageSize", (int)size,
	    "totalCount", (json_int_t)total, "totalPages", (int)pages,
	    "hasPrevious", page > 1, "hasNext", page < pages);
	link_header(c, page, size, pages);
	response_set(c->resp, 200, body, "tenants", "tenant");
}

static void
h_get(struct ctx *c)
{
	const char	*id = route_param(&c->match, "id");
	struct db_res	*res = NULL;
	struct db_row	 row;
	int		 rc;

	rc = tenant_store_get(c->db, tenants_scope(&c->who), id, &row, &res);
	if (rc == -1) {
		db_failure(c, tenants_result(db_classify(db_errno(c->db))));
		return;
	}
	if (rc == 0) {
		ctx_error(c, 404, "tenant_not_found", "no tenant with this id",
		    NULL);
		return;
	}
	response_header(c->resp, "ETag", "\"%s\"", row.v[TC_VERSION]);
	response_set(c->resp, 200, tenant_row_json(fields, NFIELDS, &row),
	    "tenant", NULL);
	db_res_free(res);
}

static void
h_create(struct ctx *c)
{
	struct tenant_input	 in;
	struct tenant_created	 out;
	json_t			*errors = json_object();
	size_t			 i;
	enum tres		 r;
	char			 msg[96];

	tenant_input_from_json(fields, NFIELDS, c->input, c->in_fmt == FMT_XML,
	    &in, errors);
	for (i = 0; i < sizeof(create_required) / sizeof(create_required[0]); i++)
		if (!in.set[create_required[i]] && json_object_get(errors,
		    field_name(create_required[i])) == NULL)
			field_error(errors, field_name(create_required[i]),
			    "is required");
	if (json_object_size(errors) > 0) {
		ctx_error(c, 422, "validation_failed", "one or more fields are "
		    "invalid", errors);
		return;
	}
	json_decref(errors);
	r = tenants_create(c->db, &c->who, &in, c->req->request_id, &out);
	if (r == TR_CONFLICT) {
		snprintf(msg, sizeof(msg), "a tenant with this %s already exists",
		    out.conflict);
		ctx_error(c, 409, "tenant_exists", msg, NULL);
		return;
	}
	if (r != TR_OK) {
		db_failure(c, r);
		return;
	}
	response_header(c->resp, "Location", "/api/v1/provisioning/%s",
	    out.correlation_id);
	response_set(c->resp, 202, json_pack("{s:s, s:s, s:s, s:s}",
	    "id", out.slug, "tenantId", out.guid,
	    "provisioningCorrelationId", out.correlation_id,
	    "status", out.status), "provisioning", NULL);
}

/* The steps a provisioning job runs, in order (see provision.c). */
static const char *const job_steps[] = {
	"validate", "database", "seed", "activate",
};

static json_t *
job_json(const struct db_row *r)
{
	json_t		*steps = json_array();
	const char	*status = r->v[2], *step = r->v[3];
	size_t		 i;
	int		 reached = 0;

	/* Steps before the current one are done; the rest wait. */
	for (i = 0; i < sizeof(job_steps) / sizeof(job_steps[0]); i++) {
		const char *st = "Pending";

		if (strcmp(status, "Completed") == 0)
			st = "Completed";
		else if (step != NULL && strcmp(step, job_steps[i]) == 0) {
			reached = 1;
			st = status;
		} else if (step != NULL && !reached)
			st = "Completed";
		json_array_append_new(steps, json_pack("{s:s, s:s}", "name",
		    job_steps[i], "status", st));
	}
	return json_pack("{s:s, s:s, s:s, s:o, s:s?, s:o, s:o}",
	    "correlationId", r->v[0], "tenantId", r->v[1], "status", status,
	    "steps", steps, "error", r->v[4],
	    "createdAt", tenant_col_json_time(r->v[5]),
	    "updatedAt", tenant_col_json_time(r->v[6]));
}

static void
job_reply(struct ctx *c, int rc, struct db_row *row, struct db_res *res)
{
	if (rc == -1)
		db_failure(c, tenants_result(db_classify(db_errno(c->db))));
	else if (rc == 0)
		ctx_error(c, 404, "provisioning_not_found", "no provisioning "
		    "job here", NULL);
	else
		response_set(c->resp, 200, job_json(row), "provisioning", NULL);
	db_res_free(res);
}

static void
h_job_by_tenant(struct ctx *c)
{
	struct db_res	*res = NULL;
	struct db_row	 row;
	int		 rc;

	rc = tenants_job_by_tenant(c->db, tenants_scope(&c->who),
	    route_param(&c->match, "id"), &row, &res);
	job_reply(c, rc, &row, res);
}

static void
h_job_by_correlation(struct ctx *c)
{
	struct db_res	*res = NULL;
	struct db_row	 row;
	int		 rc;

	rc = tenants_job_by_correlation(c->db, tenants_scope(&c->who),
	    route_param(&c->match, "correlationId"), &row, &res);
	job_reply(c, rc, &row, res);
}

const struct surface surface_api_v1 = {
	.name = "api_v1",
	.prefix = "/api/v1",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.error = api_v1_error,
};
