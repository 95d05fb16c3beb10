/*
 * The canonical API, /api/v1, shaped after seed 001 (fullstackhero) and
 * holding the union of every seed's tenant fields.  Errors are RFC 9457
 * problem details.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../paging.h"
#include "../problem.h"
#include "../query.h"
#include "../rfc3339.h"
#include "../surfaces.h"
#include "../tenant_list.h"
#include "../tenant_store.h"
#include "../tenants.h"

#define PAGE_SIZE_DEFAULT	10
#define PAGE_SIZE_MAX		100
#define FILTER_MAX		1024	/* 200 characters of up to 4 bytes, and more */

static void	 h_list(struct ctx *);
static void	 h_count(struct ctx *);
static void	 h_get(struct ctx *);
static void	 h_create(struct ctx *);
static void	 h_put(struct ctx *);
static void	 h_patch(struct ctx *);
static void	 h_delete(struct ctx *);
static void	 h_activate(struct ctx *);
static void	 h_deactivate(struct ctx *);
static void	 h_upgrade(struct ctx *);
static void	 h_switch(struct ctx *);
static void	 h_job_by_tenant(struct ctx *);
static void	 h_job_by_correlation(struct ctx *);
static void	 h_job_retry(struct ctx *);

static const struct route routes[] = {
	{ HTTP_GET, "/api/v1/tenants", PERM_VIEW, h_list, ROUTE_NO_TENANT_KEY },
	{ HTTP_GET, "/api/v1/tenants/count", PERM_VIEW, h_count,
	    ROUTE_NO_TENANT_KEY },
	{ HTTP_POST, "/api/v1/tenants", PERM_CREATE, h_create,
	    ROUTE_BODY | ROUTE_NO_TENANT_KEY },
	/* View to send one; each operation needs its own permission too. */
	{ HTTP_POST, "/api/v1/tenants/bulk", PERM_VIEW, api_v1_bulk,
	    ROUTE_BODY | ROUTE_NO_TENANT_KEY | ROUTE_TXN },
	{ HTTP_GET, "/api/v1/tenants/{id}", PERM_VIEW, h_get,
	    ROUTE_NO_TENANT_KEY },
	{ HTTP_PUT, "/api/v1/tenants/{id}", PERM_UPDATE, h_put,
	    ROUTE_BODY | ROUTE_NO_TENANT_KEY },
	{ HTTP_PATCH, "/api/v1/tenants/{id}", PERM_UPDATE, h_patch,
	    ROUTE_BODY | ROUTE_NO_TENANT_KEY },
	{ HTTP_DELETE, "/api/v1/tenants/{id}", PERM_DELETE, h_delete,
	    ROUTE_BODY_OPTIONAL | ROUTE_NO_TENANT_KEY },
	{ HTTP_POST, "/api/v1/tenants/{id}/activate", PERM_UPDATE, h_activate,
	    ROUTE_BODY_OPTIONAL | ROUTE_NO_TENANT_KEY },
	{ HTTP_POST, "/api/v1/tenants/{id}/deactivate", PERM_UPDATE,
	    h_deactivate, ROUTE_BODY_OPTIONAL | ROUTE_NO_TENANT_KEY },
	{ HTTP_POST, "/api/v1/tenants/{id}/upgrade", PERM_UPGRADE, h_upgrade,
	    ROUTE_BODY | ROUTE_NO_TENANT_KEY },
	{ HTTP_POST, "/api/v1/tenants/{id}/switch", PERM_VIEW, h_switch,
	    ROUTE_NO_TENANT_KEY },
	{ HTTP_GET, "/api/v1/tenants/{id}/provisioning", PERM_VIEW,
	    h_job_by_tenant, ROUTE_NO_TENANT_KEY },
	{ HTTP_GET, "/api/v1/provisioning/{correlationId}", PERM_VIEW,
	    h_job_by_correlation, ROUTE_NO_TENANT_KEY },
	{ HTTP_POST, "/api/v1/tenants/{id}/provisioning/retry", PERM_UPDATE,
	    h_job_retry, ROUTE_BODY_OPTIONAL | ROUTE_NO_TENANT_KEY },
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
	{ "expiryState", TC_VALID_UPTO, DERIVE_EXPIRY_STATE },
	{ "connectionString", TC_CONNECTION_STRING },
	{ "issuer", TC_ISSUER },
	{ "countryCode", TC_COUNTRY_CODE },
	{ "countryName", TC_COUNTRY_CODE, DERIVE_COUNTRY_NAME },
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

static const char *
field_name(enum tcol col)
{
	size_t	 i;

	for (i = 0; i < NFIELDS; i++)
		if (fields[i].col == col)
			return fields[i].name;
	return tcols[col].sql;
}

/* How the list's Link references are made: filters and sort carried over. */
static const char *const kept_params[] = { "name", "q", "isActive", "sort" };
static const struct paging_names paging = {
	.page = "pageNumber", .size = "pageSize", .kept = kept_params,
	.nkept = sizeof(kept_params) / sizeof(kept_params[0]),
};

/* Sortable fields, by their canonical names. */
static const struct {
	const char	*name;
	enum tsort	 sort;
} sorts[] = {
	{ "id", TSORT_SLUG },
	{ "name", TSORT_NAME },
	{ "createdAt", TSORT_CREATED },
	{ "validUpto", TSORT_VALID_UPTO },
	{ "consentedAt", TSORT_CONSENTED },
};

/* "name", "name desc", "name asc" or "-name". */
static int
parse_sort(const char *s, struct tenant_query *q)
{
	size_t	 i, n;

	q->desc = false;
	if (*s == '-') {
		q->desc = true;
		s++;
	}
	n = strcspn(s, " ");
	if (s[n] != '\0') {
		if (strcasecmp(s + n + 1, "desc") == 0)
			q->desc = true;
		else if (strcasecmp(s + n + 1, "asc") != 0)
			return -1;
	}
	for (i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++)
		if (strlen(sorts[i].name) == n && strncmp(s, sorts[i].name, n) == 0) {
			q->sort = sorts[i].sort;
			return 0;
		}
	return -1;
}

/*
 * Filters shared by the list and the count; the strings live in bufs.
 * Problems land in errors.
 */
/*
 * A text filter of at most 200 characters (UTF-8), like the name it is
 * compared with: 1 with the value in buf, 0 when absent, -1 on error.
 */
static int
text_filter(struct ctx *c, const char *name, char *buf, size_t len,
    json_t *errors)
{
	size_t	 i, chars = 0;
	int	 rc;

	if ((rc = query_get(c->req->query, name, buf, len)) == 0)
		return 0;
	for (i = 0; rc == 1 && buf[i] != '\0'; i++)
		if (((unsigned char)buf[i] & 0xC0) != 0x80)
			chars++;
	if (rc == -1 && strlen(c->req->query) < len)
		field_error(errors, name, "is not correctly percent-encoded");
	else if (rc == -1 || chars > 200)
		field_error(errors, name, "must be at most 200 characters");
	else
		return 1;
	return -1;
}

static void
read_filters(struct ctx *c, struct tenant_query *q, char bufs[3][FILTER_MAX],
    json_t *errors)
{
	int	 rc;

	memset(q, 0, sizeof(*q));
	q->scope = tenants_scope(&c->who);
	q->is_active = -1;
	if (text_filter(c, "name", bufs[0], FILTER_MAX, errors) == 1)
		q->name = bufs[0];
	if (text_filter(c, "q", bufs[1], FILTER_MAX, errors) == 1 &&
	    *bufs[1] != '\0')
		q->q = bufs[1];
	if ((rc = query_get(c->req->query, "isActive", bufs[2], FILTER_MAX)) == 1) {
		if (strcmp(bufs[2], "true") == 0)
			q->is_active = 1;
		else if (strcmp(bufs[2], "false") == 0)
			q->is_active = 0;
		else
			rc = -1;
	}
	if (rc == -1)
		field_error(errors, "isActive", "must be true or false");
}

static void
h_count(struct ctx *c)
{
	struct tenant_query	 q;
	char			 bufs[3][FILTER_MAX];
	json_t			*errors = json_object();
	long long		 n;
	enum db_err		 e;

	read_filters(c, &q, bufs, errors);
	if (json_object_size(errors) > 0) {
		ctx_error(c, 422, "validation_failed", "the query parameters "
		    "are invalid", errors);
		return;
	}
	json_decref(errors);
	if ((e = tenant_list_count(c->db, &q, &n)) != DBE_OK) {
		surface_db_failure(c, tenants_result(e));
		return;
	}
	response_set(c->resp, 200, json_pack("{s:I}", "count", (json_int_t)n),
	    "count", NULL);
}

static void
h_list(struct ctx *c)
{
	struct tenant_query	 q;
	json_t			*errors = json_object(), *data, *body;
	char			 bufs[3][FILTER_MAX], sort[64];
	long			 page, size, pages;
	long long		 total;
	int			 rc;

	read_filters(c, &q, bufs, errors);
	paging_int(c, "pageNumber", 1, 1000000000, 1, &page, errors);
	paging_int(c, "pageSize", 1, PAGE_SIZE_MAX, PAGE_SIZE_DEFAULT, &size,
	    errors);
	rc = query_get(c->req->query, "sort", sort, sizeof(sort));
	if (rc == -1 || (rc == 1 && parse_sort(sort, &q) == -1))
		field_error(errors, "sort", "must be one of id, name, createdAt, "
		    "validUpto, consentedAt, optionally followed by asc or desc");
	if (json_object_size(errors) > 0) {
		ctx_error(c, 422, "validation_failed", "the query parameters "
		    "are invalid", errors);
		return;
	}
	json_decref(errors);
	if ((data = paging_tenants(c, &q, size, (page - 1) * size, fields,
	    NFIELDS, &total)) == NULL)
		return;
	pages = total == 0 ? 1 : (long)((total + size - 1) / size);
	body = json_pack("{s:o, s:i, s:i, s:I, s:i, s:b, s:b}", "data", data,
	    "pageNumber", (int)page, "pageSize", (int)size,
	    "totalCount", (json_int_t)total, "totalPages", (int)pages,
	    "hasPrevious", page > 1, "hasNext", page < pages);
	paging_links(c, &paging, page, size, pages);
	response_set(c->resp, 200, body, "tenants", "tenant");
}

static void
not_found(struct ctx *c)
{
	ctx_error(c, 404, "tenant_not_found", "no tenant with this id", NULL);
}

/*
 * Answers with the tenant id as it is now, and its ETag; with
 * conditional set, a matching If-None-Match gets 304.
 */
static void
reply_tenant(struct ctx *c, const char *id, int status, bool conditional)
{
	struct db_res	*res = NULL;
	struct db_row	 row;
	int		 rc;

	rc = tenant_store_get(c->db, tenants_scope(&c->who), TKEY_ID, id, &row,
	    &res);
	if (rc == -1)
		surface_db_failure(c, tenants_result(db_classify(db_errno(c->db))));
	else if (rc == 0)
		not_found(c);
	else {
		response_header(c->resp, "ETag", "\"%s\"", row.v[TC_VERSION]);
		if (conditional && c->req->if_none_match != NULL &&
		    etag_matches(c->req->if_none_match, row.v[TC_VERSION]))
			response_set(c->resp, 304, NULL, NULL, NULL);
		else
			response_set(c->resp, status, tenant_row_json(fields,
			    NFIELDS, &row), "tenant", NULL);
	}
	db_res_free(res);
}

static void
h_get(struct ctx *c)
{
	reply_tenant(c, route_param(&c->match, "id"), 200, true);
}

/* Runs a change on the {id} tenant and answers with the tenant after it. */
static void
change_and_reply(struct ctx *c, struct tenant_change *ch)
{
	struct tenant_ref	 ref;
	enum tres		 r;

	r = tenants_change(c->db, &c->who, route_param(&c->match, "id"),
	    c->req->if_match, c->req->request_id, ch, &ref);
	if (surface_change_failed(c, r, &ref,
	    "no tenant with this id") == 0)
		reply_tenant(c, ref.slug, 200, false);
}

static void
h_update(struct ctx *c, enum tenant_op op)
{
	struct tenant_input	 in;
	struct tenant_change	 ch = { .op = op, .in = &in };
	json_t			*errors = json_object();
	size_t			 i;

	tenant_input_from_json(fields, NFIELDS, c->input, c->in_fmt == FMT_XML,
	    &in, errors);
	for (i = 0; op == OP_REPLACE && i < sizeof(create_required) /
	    sizeof(create_required[0]); i++)
		if (create_required[i] != TC_SLUG && !in.set[create_required[i]] &&
		    json_object_get(errors, field_name(create_required[i])) == NULL)
			field_error(errors, field_name(create_required[i]),
			    "is required");
	if (json_object_size(errors) > 0) {
		ctx_error(c, 422, "validation_failed", "one or more fields are "
		    "invalid", errors);
		return;
	}
	json_decref(errors);
	change_and_reply(c, &ch);
}

static void
h_put(struct ctx *c)
{
	h_update(c, OP_REPLACE);
}

static void
h_patch(struct ctx *c)
{
	h_update(c, OP_PATCH);
}

/*
 * A parameter from the query or, failing that, from the body: DELETE
 * confirmations may come either way.
 */
static const char *
query_or_body(struct ctx *c, const char *name, char *buf, size_t len)
{
	json_t	*v;

	if (query_get(c->req->query, name, buf, len) == 1)
		return buf;
	if (c->input != NULL && (v = json_object_get(c->input, name)) != NULL)
		return json_string_value(v);
	return NULL;
}

static void
h_delete(struct ctx *c)
{
	struct tenant_change	 ch = { .op = OP_DELETE };
	struct tenant_ref	 ref;
	char			 n[FILTER_MAX], d[FILTER_MAX];
	enum tres		 r;

	ch.confirm_name = query_or_body(c, "confirmName", n, sizeof(n));
	ch.confirm_display_name = query_or_body(c, "confirmDisplayName", d,
	    sizeof(d));
	r = tenants_change(c->db, &c->who, route_param(&c->match, "id"),
	    c->req->if_match, c->req->request_id, &ch, &ref);
	if (surface_change_failed(c, r, &ref,
	    "no tenant with this id") != 0)
		return;
	response_set(c->resp, 200, json_pack("{s:s, s:s, s:s, s:b, s:{s:I, s:I, "
	    "s:I, s:I}}", "id", ref.slug, "tenantId", ref.guid, "name", ref.name,
	    "deleted", 1, "removed", "provisioningJobs",
	    (json_int_t)ref.removed_jobs, "apiKeys", (json_int_t)ref.removed_keys,
	    "users", (json_int_t)ref.removed_users, "locations",
	    (json_int_t)ref.removed_locations), "deletion", NULL);
}

/* userStatus: 0 Passive, 1 Active, 2 Banned; absent leaves users alone. */
static int
user_status(struct ctx *c, int *out)
{
	json_t		*v = c->input ? json_object_get(c->input, "userStatus") : NULL;
	const char	*s;

	*out = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v))
		*out = (int)json_integer_value(v);
	else if (c->in_fmt == FMT_XML && (s = json_string_value(v)) != NULL &&
	    s[0] >= '0' && s[0] <= '2' && s[1] == '\0')
		*out = s[0] - '0';
	if (*out < 0 || *out > 2 || !(json_is_integer(v) || c->in_fmt == FMT_XML)) {
		ctx_error(c, 422, "validation_failed", "one or more fields are "
		    "invalid", json_pack("{s:[s]}", "userStatus", "must be 0 "
		    "(Passive), 1 (Active) or 2 (Banned)"));
		return -1;
	}
	return 0;
}

static void
h_activation(struct ctx *c, enum tenant_op op)
{
	struct tenant_change	 ch = { .op = op };

	if (user_status(c, &ch.user_status) == 0)
		change_and_reply(c, &ch);
}

static void
h_activate(struct ctx *c)
{
	h_activation(c, OP_ACTIVATE);
}

static void
h_deactivate(struct ctx *c)
{
	h_activation(c, OP_DEACTIVATE);
}

static void
h_upgrade(struct ctx *c)
{
	struct tenant_change	 ch = { .op = OP_UPGRADE };
	const char		*s;
	char			 when[24], now[24];
	time_t			 t = time(NULL);
	struct tm		 tm;

	s = json_string_value(json_object_get(c->input, "extendedExpiryDate"));
	if (s == NULL || rfc3339_to_sql(s, when, sizeof(when)) == -1) {
		ctx_error(c, 422, "validation_failed", "one or more fields are "
		    "invalid", json_pack("{s:[s]}", "extendedExpiryDate",
		    "must be an RFC 3339 date-time"));
		return;
	}
	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%d %H:%M:%S", &tm);
	ch.valid_upto = when;
	ch.now = now;
	change_and_reply(c, &ch);
}

static void
h_switch(struct ctx *c)
{
	struct tenant_change	 ch = { .op = OP_SWITCH };
	struct tenant_ref	 ref;
	enum tres		 r;

	r = tenants_change(c->db, &c->who, route_param(&c->match, "id"), NULL,
	    c->req->request_id, &ch, &ref);
	if (surface_change_failed(c, r, &ref,
	    "no tenant with this id") == 0)
		response_set(c->resp, 200, json_pack("{s:s, s:s, s:b}", "id",
		    ref.slug, "tenantId", ref.guid, "current", 1), "switch", NULL);
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
	if (r == TR_LIMIT) {
		license_limited(c);
		return;
	}
	if (r != TR_OK) {
		surface_db_failure(c, r);
		return;
	}
	ctx_location(c, "/api/v1/provisioning/%s", out.correlation_id);
	response_set(c->resp, 202, json_pack("{s:s, s:s, s:s, s:s}",
	    "id", out.slug, "tenantId", out.guid,
	    "provisioningCorrelationId", out.correlation_id,
	    "status", out.status), "provisioning", NULL);
}

/* The steps a provisioning job runs, in order (see provision.c). */
static const char *const job_steps[] = {
	"validate", "database", "seed", "activate",
};

static const char *const job_errors[] = { "not_allowed", "unreachable",
    "access_denied", "migration_failed", "timeout", "internal" };

static json_t *
count_json(const char *v)
{
	return json_integer(v != NULL ? strtoll(v, NULL, 10) : 0);
}

static json_t *
nullable_json(const char *v)
{
	return v != NULL ? json_string(v) : json_null();
}

/*
 * A step from its record, or Pending when it has not run yet.  Jobs
 * from before step records (0009) have none at all (recs NULL): theirs
 * is derived from the job's current step, as before: steps before it
 * are done, it has the job's status, the rest wait.
 */
static json_t *
step_json(const struct db_row *j, struct db_res *recs, size_t i, int *reached)
{
	const char	*status = j->v[JC_STATUS], *step = j->v[JC_STEP];
	const char	*st = "Pending";
	struct db_row	 r;

	if (recs != NULL) {
		db_rewind(recs);
		while (db_next(recs, &r) == 1)
			if (strcmp(r.v[SC_STEP], job_steps[i]) == 0)
				return json_pack("{s:s, s:s, s:s, s:o, s:o, "
				    "s:o, s:o}", "name", job_steps[i],
				    "step", job_steps[i], "status",
				    r.v[SC_STATUS], "attempts",
				    count_json(r.v[SC_ATTEMPTS]), "startedAt",
				    tenant_col_json_time(r.v[SC_STARTED]),
				    "completedAt",
				    tenant_col_json_time(r.v[SC_COMPLETED]),
				    "error", nullable_json(r.v[SC_ERROR]));
	} else if (strcmp(status, "Completed") == 0)
		st = "Completed";
	else if (step != NULL && strcmp(step, job_steps[i]) == 0) {
		*reached = 1;
		st = status;
	} else if (step != NULL && !*reached)
		st = "Completed";
	return json_pack("{s:s, s:s, s:s, s:i, s:n, s:n, s:n}", "name",
	    job_steps[i], "step", job_steps[i], "status", st, "attempts", 0,
	    "startedAt", "completedAt", "error");
}

static json_t *
job_json(const struct db_row *r, struct db_res *recs)
{
	json_t		*steps = json_array();
	const char	*err = r->v[JC_ERROR], *code = NULL;
	struct db_row	 any;
	size_t		 i;
	int		 reached = 0;

	if (recs != NULL && db_next(recs, &any) != 1)
		recs = NULL;

	/* The provisioner writes "category: sentence" (provision.c). */
	for (i = 0; err != NULL && i < sizeof(job_errors) /
	    sizeof(job_errors[0]); i++)
		if (strncmp(err, job_errors[i], strlen(job_errors[i])) == 0 &&
		    err[strlen(job_errors[i])] == ':')
			code = job_errors[i];
	for (i = 0; i < sizeof(job_steps) / sizeof(job_steps[0]); i++)
		json_array_append_new(steps, step_json(r, recs, i, &reached));
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:s?, "
	    "s:s?, s:o, s:o}",
	    "correlationId", r->v[JC_CORRELATION_ID], "id", r->v[JC_SLUG],
	    "tenantId", r->v[JC_GUID], "status", r->v[JC_STATUS],
	    "currentStep", nullable_json(r->v[JC_STEP]),
	    "attempts", count_json(r->v[JC_ATTEMPTS]),
	    "startedAt", tenant_col_json_time(r->v[JC_STARTED]),
	    "completedAt", tenant_col_json_time(r->v[JC_COMPLETED]),
	    "steps", steps, "error", err, "errorCode", code,
	    "createdAt", tenant_col_json_time(r->v[JC_CREATED]),
	    "updatedAt", tenant_col_json_time(r->v[JC_UPDATED]));
}

static void
job_answer(struct ctx *c, int status, const struct db_row *row)
{
	struct db_res	*recs = NULL;
	enum db_err	 e;

	if ((e = tenants_job_steps(c->db, row->v[JC_ID], &recs)) != DBE_OK) {
		surface_db_failure(c, tenants_result(e));
		return;
	}
	response_set(c->resp, status, job_json(row, recs), "provisioning",
	    NULL);
	db_res_free(recs);
}

/* by_tenant: the path names a tenant, and its absence is the tenant's. */
static void
job_reply(struct ctx *c, int rc, struct db_row *row, struct db_res *res,
    bool by_tenant)
{
	if (rc == -1)
		surface_db_failure(c, tenants_result(db_classify(db_errno(c->db))));
	else if (rc == 0 && by_tenant)
		not_found(c);
	else if (rc == 0)
		ctx_error(c, 404, "provisioning_not_found", "no provisioning "
		    "job with this correlation id", NULL);
	else
		job_answer(c, 200, row);
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
	job_reply(c, rc, &row, res, true);
}

static void
h_job_by_correlation(struct ctx *c)
{
	struct db_res	*res = NULL;
	struct db_row	 row;
	int		 rc;

	rc = tenants_job_by_correlation(c->db, tenants_scope(&c->who),
	    route_param(&c->match, "correlationId"), &row, &res);
	job_reply(c, rc, &row, res, false);
}

/*
 * A Failed job starts again from its failed step; any other state is a
 * conflict, since the provisioner owns the job until it fails.
 */
static void
h_job_retry(struct ctx *c)
{
	struct db_res	*res = NULL;
	struct db_row	 row;
	const char	*id = route_param(&c->match, "id");
	char		 status[17], msg[160];
	enum tres	 r;
	int		 rc;

	r = tenants_job_retry(c->db, &c->who, id, c->req->request_id, status,
	    sizeof(status));
	if (r == TR_NOT_FOUND) {
		not_found(c);
		return;
	}
	if (r == TR_CONFLICT) {
		snprintf(msg, sizeof(msg), "only a Failed provisioning job can "
		    "be retried; this one is %s", status);
		ctx_error(c, 409, "provisioning_not_failed", msg, NULL);
		return;
	}
	if (r != TR_OK) {
		surface_db_failure(c, r);
		return;
	}
	rc = tenants_job_by_tenant(c->db, tenants_scope(&c->who), id, &row,
	    &res);
	if (rc == 1)
		job_answer(c, 202, &row);
	else
		surface_db_failure(c, rc == 0 ? TR_NOT_FOUND : TR_ERROR);
	db_res_free(res);
}

const struct surface surface_api_v1 = {
	.name = "api_v1",
	.prefix = "/api/v1",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.error = ctx_problem,
};
