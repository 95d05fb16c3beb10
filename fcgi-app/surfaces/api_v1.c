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
#include "../tenant_history.h"
#include "../tenant_list.h"
#include "../tenant_store.h"
#include "../tenant_theme.h"
#include "../tenants.h"
#include "../tenants_deleted.h"

#define PAGE_SIZE_DEFAULT	10
#define PAGE_SIZE_MAX		100
#define FILTER_MAX		API_V1_FILTER_MAX

static void	 h_list(struct ctx *);
static void	 h_count(struct ctx *);
static void	 h_get(struct ctx *);
static void	 h_by_external_id(struct ctx *);
static void	 h_deleted_list(struct ctx *);
static json_t	*nullable_json(const char *);
static void	 h_restore(struct ctx *);
static void	 h_history(struct ctx *);
static void	 h_status(struct ctx *);
static void	 h_my_status(struct ctx *);
static void	 h_theme_get(struct ctx *);
static void	 h_theme_put(struct ctx *);
static void	 h_theme_reset(struct ctx *);
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
	/* Before /tenants/{id}: the first route that matches answers. */
	{ HTTP_GET, "/api/v1/tenants/deleted", PERM_VIEW, h_deleted_list,
	    ROUTE_NO_TENANT_KEY },
	/* View to send one; each operation needs its own permission too. */
	{ HTTP_POST, "/api/v1/tenants/bulk", PERM_VIEW, api_v1_bulk,
	    ROUTE_BODY | ROUTE_NO_TENANT_KEY | ROUTE_TXN },
	{ HTTP_GET, "/api/v1/tenants/{id}", PERM_VIEW, h_get,
	    ROUTE_NO_TENANT_KEY },
	/* Before /tenants/{id}/...: the first route that matches answers. */
	{ HTTP_GET, "/api/v1/tenants/by-external-id/{externalId}", PERM_VIEW,
	    h_by_external_id, ROUTE_NO_TENANT_KEY },
	/* The one route a tenant-scoped key may call: its own tenant's. */
	{ HTTP_GET, "/api/v1/tenants/me/status", PERM_VIEW, h_my_status, 0 },
	{ HTTP_GET, "/api/v1/tenants/{id}/status", PERM_VIEW, h_status,
	    ROUTE_NO_TENANT_KEY },
	{ HTTP_PUT, "/api/v1/tenants/{id}", PERM_UPDATE, h_put,
	    ROUTE_BODY | ROUTE_NO_TENANT_KEY },
	{ HTTP_PATCH, "/api/v1/tenants/{id}", PERM_UPDATE, h_patch,
	    ROUTE_BODY | ROUTE_NO_TENANT_KEY },
	{ HTTP_DELETE, "/api/v1/tenants/{id}", PERM_DELETE, h_delete,
	    ROUTE_BODY_OPTIONAL | ROUTE_NO_TENANT_KEY },
	/* Undoes a delete, and so is the delete's to grant. */
	{ HTTP_POST, "/api/v1/tenants/{id}/restore", PERM_DELETE, h_restore,
	    ROUTE_BODY_OPTIONAL | ROUTE_NO_TENANT_KEY },
	{ HTTP_GET, "/api/v1/tenants/{id}/history", PERM_VIEW, h_history,
	    ROUTE_NO_TENANT_KEY },
	{ HTTP_GET, "/api/v1/tenants/{id}/theme", PERM_VIEW_THEME, h_theme_get,
	    ROUTE_NO_TENANT_KEY },
	{ HTTP_PUT, "/api/v1/tenants/{id}/theme", PERM_UPDATE_THEME,
	    h_theme_put, ROUTE_BODY | ROUTE_NO_TENANT_KEY },
	{ HTTP_POST, "/api/v1/tenants/{id}/theme/reset", PERM_UPDATE_THEME,
	    h_theme_reset, ROUTE_BODY_OPTIONAL | ROUTE_NO_TENANT_KEY },
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
	{ "externalId", TC_EXTERNAL_ID },
	{ "plan", TC_PLAN },
	{ "metadata", TC_METADATA },
};

#define NFIELDS	(sizeof(fields) / sizeof(fields[0]))

/* For the export (api_v1_export.c): the same fields, the same filters. */
const struct field_map *const api_v1_tenant_fields = fields;
const size_t api_v1_tenant_nfields = NFIELDS;

/* A tenant's subscription state (fullstackhero's TenantStatusDto, and more). */
static const struct field_map status_fields[] = {
	{ "id", TC_SLUG },
	{ "tenantId", TC_GUID },
	{ "name", TC_NAME },
	{ "isActive", TC_IS_ACTIVE },
	{ "validUpto", TC_VALID_UPTO },
	{ "expiryState", TC_VALID_UPTO, DERIVE_EXPIRY_STATE },
	{ "graceEndsAt", TC_VALID_UPTO, DERIVE_GRACE_ENDS },
	{ "plan", TC_PLAN },
	{ "hasConnectionString", TC_CONNECTION_STRING, DERIVE_PRESENT },
};

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
static const struct paging_names plain_paging = {
	.page = "pageNumber", .size = "pageSize",
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

void
api_v1_read_filters(struct ctx *c, struct tenant_query *q,
    char bufs[3][API_V1_FILTER_MAX], json_t *errors)
{
	read_filters(c, q, bufs, errors);
}

/* ?metadata.KEY=VALUE filters: their names (kept in links) and values. */
struct meta_filters {
	char		 name[TQ_META_MAX][sizeof("metadata.") + METADATA_KEY_MAX];
	char		 value[TQ_META_MAX][4 * METADATA_VALUE_MAX + 1];
	const char	*kept[sizeof(kept_params) / sizeof(kept_params[0]) +
			    TQ_META_MAX];
	struct paging_names paging;
};

/*
 * Every parameter named metadata.KEY; keys are unreserved characters,
 * so a name is matched as sent.  A key repeated is one filter.
 */
static void
read_meta_filters(struct ctx *c, struct tenant_query *q,
    struct meta_filters *mf, json_t *errors)
{
	const char	*p = c->req->query;
	size_t		 n, i;
	char		*name;
	int		 rc;

	mf->paging = paging;
	mf->paging.kept = mf->kept;
	for (i = 0; i < paging.nkept; i++)
		mf->kept[i] = paging.kept[i];
	for (; p != NULL && *p != '\0'; p += n + (p[n] == '&')) {
		n = strcspn(p, "&");
		if (strncmp(p, "metadata.", 9) != 0)
			continue;
		if (q->nmeta == TQ_META_MAX) {
			field_error(errors, "metadata", "at most 4 metadata "
			    "filters");
			return;
		}
		name = mf->name[q->nmeta];
		i = strcspn(p, "=&");
		if (i - 9 == 0 || i - 9 > METADATA_KEY_MAX) {
			field_error(errors, "metadata", "filters are "
			    "metadata.KEY=VALUE, KEY 1 to 40 letters, digits, "
			    "'_', '.' or '-'");
			return;
		}
		memcpy(name, p, i);
		name[i] = '\0';
		for (i = 0; i < q->nmeta; i++)
			if (strcmp(q->meta_key[i], name + 9) == 0)
				break;
		if (i < q->nmeta)
			continue;
		rc = query_get(p, name, mf->value[q->nmeta],
		    sizeof(mf->value[0]));
		if (!tenant_metadata_key_ok(name + 9) || rc != 1) {
			field_error(errors, "metadata", "filters are "
			    "metadata.KEY=VALUE, KEY 1 to 40 letters, digits, "
			    "'_', '.' or '-'");
			return;
		}
		q->meta_key[q->nmeta] = name + 9;
		q->meta_value[q->nmeta] = mf->value[q->nmeta];
		mf->kept[mf->paging.nkept++] = name;
		q->nmeta++;
	}
}

/*
 * A q without a word of 3 characters is a scan of the caller's tenants:
 * refused on large accounts (tenant_list_scan_refused).  A database error
 * here is left to the read that follows, which answers it.
 */
static void
scan_refused(struct ctx *c, const struct tenant_query *q, json_t *errors)
{
	if (tenant_list_scan_refused(c->db, q) == 1)
		field_error(errors, "q", "must hold a word of 3 or more "
		    "characters on an account this large (a shorter text is "
		    "matched by reading every tenant)");
}

/* The envelope of a page of a list; sets its Link header. */
static json_t *
page_body(struct ctx *c, const struct paging_names *names, json_t *data,
    long page, long size, long long total)
{
	long	 pages = total == 0 ? 1 : (long)((total + size - 1) / size);

	paging_links(c, names, page, size, pages);
	return json_pack("{s:o, s:i, s:i, s:I, s:i, s:b, s:b}", "data", data,
	    "pageNumber", (int)page, "pageSize", (int)size, "totalCount",
	    (json_int_t)total, "totalPages", (int)pages, "hasPrevious",
	    page > 1, "hasNext", page < pages);
}

/* A page of a list, its envelope and its Link header. */
static void
page_answer(struct ctx *c, const struct paging_names *names, json_t *data,
    long page, long size, long long total, const char *root, const char *item)
{
	response_set(c->resp, 200, page_body(c, names, data, page, size,
	    total), root, item);
}

static void
h_count(struct ctx *c)
{
	struct tenant_query	 q;
	struct meta_filters	 mf;
	char			 bufs[3][FILTER_MAX];
	json_t			*errors = json_object();
	long long		 n;
	enum db_err		 e;
	bool			 incomplete;

	read_filters(c, &q, bufs, errors);
	read_meta_filters(c, &q, &mf, errors);
	scan_refused(c, &q, errors);
	if (paging_refused(c, errors))
		return;
	if ((e = tenant_list_count(c->db, &q, &n, &incomplete)) != DBE_OK) {
		surface_db_failure(c, tenants_result(e));
		return;
	}
	paging_incomplete(c, incomplete);
	response_set(c->resp, 200, json_pack("{s:I, s:b}", "count",
	    (json_int_t)n, "incompleteResults", incomplete), "count", NULL);
}

static void
h_list(struct ctx *c)
{
	struct tenant_query	 q;
	struct meta_filters	 mf;
	json_t			*errors = json_object(), *data, *body;
	char			 bufs[3][FILTER_MAX], sort[64];
	long			 page, size;
	long long		 total;
	bool			 incomplete;
	int			 rc;

	read_filters(c, &q, bufs, errors);
	read_meta_filters(c, &q, &mf, errors);
	paging_int(c, "pageNumber", 1, 1000000000, 1, &page, errors);
	paging_int(c, "pageSize", 1, PAGE_SIZE_MAX, PAGE_SIZE_DEFAULT, &size,
	    errors);
	rc = query_get(c->req->query, "sort", sort, sizeof(sort));
	if (rc == -1 || (rc == 1 && parse_sort(sort, &q) == -1))
		field_error(errors, "sort", "must be one of id, name, createdAt, "
		    "validUpto, consentedAt, optionally followed by asc or desc");
	scan_refused(c, &q, errors);
	if (paging_refused(c, errors))
		return;
	if ((data = paging_tenants(c, &q, size, (page - 1) * size, fields,
	    NFIELDS, &total, &incomplete)) == NULL)
		return;
	/* A total short of all matches says so: incompleteResults. */
	body = page_body(c, &mf.paging, data, page, size, total);
	json_object_set_new(body, "incompleteResults", json_boolean(incomplete));
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
reply_tenant_by(struct ctx *c, enum tkey by, const char *id, int status,
    bool conditional)
{
	struct db_res	*res = NULL;
	struct db_row	 row;
	int		 rc;

	rc = tenant_store_get(c->db, tenants_scope(&c->who), by, id, &row,
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
reply_tenant(struct ctx *c, const char *id, int status, bool conditional)
{
	reply_tenant_by(c, TKEY_ID, id, status, conditional);
}

static void
h_get(struct ctx *c)
{
	reply_tenant(c, route_param(&c->match, "id"), 200, true);
}

/* Another account's external id is simply not found, as its tenant is. */
static void
h_by_external_id(struct ctx *c)
{
	reply_tenant_by(c, TKEY_EXTERNAL_ID, route_param(&c->match,
	    "externalId"), 200, true);
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

/*
 * Why a change is made, for the tenant's history: ?reason=, or "reason"
 * in the body of a route whose body is not a tenant.  -1 after a 422.
 */
static int
read_reason(struct ctx *c, char buf[4 * TENANT_REASON_MAX + 1],
    const char **out)
{
	json_t		*v = NULL;
	const char	*s = NULL;
	size_t		 i, chars = 0;
	int		 rc;

	*out = NULL;
	if ((rc = query_get(c->req->query, "reason", buf,
	    4 * TENANT_REASON_MAX + 1)) == 1)
		s = buf;
	else if (rc == 0 && c->req->method != HTTP_PUT &&
	    c->req->method != HTTP_PATCH && c->input != NULL &&
	    (v = json_object_get(c->input, "reason")) != NULL &&
	    !json_is_null(v) && (s = json_string_value(v)) == NULL)
		rc = -1;
	for (i = 0; s != NULL && s[i] != '\0' && rc != -1; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			chars++;
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			rc = -1;
	}
	if (rc == -1 || chars > TENANT_REASON_MAX) {
		ctx_error(c, 422, "validation_failed", "the reason is invalid",
		    json_pack("{s:[s]}", "reason", "must be a string of at most "
		    "500 characters without control characters"));
		return -1;
	}
	*out = s != NULL && *s != '\0' ? s : NULL;
	return 0;
}

/*
 * ?force=true lets an activation through before the tenant's provisioning
 * has completed (audited as forced); -1 after a 422.
 */
static int
read_force(struct ctx *c, bool *out)
{
	*out = false;
	if (query_get_bool(c->req->query, "force", out) != -1)
		return 0;
	ctx_error(c, 422, "validation_failed", "the query parameters are "
	    "invalid", json_pack("{s:[s]}", "force", "must be true or false"));
	return -1;
}

static void
h_update(struct ctx *c, enum tenant_op op)
{
	struct tenant_input	 in;
	struct tenant_change	 ch = { .op = op, .in = &in };
	json_t			*errors = json_object();
	char			 why[4 * TENANT_REASON_MAX + 1];
	size_t			 i;

	if (read_reason(c, why, &ch.reason) == -1 ||
	    read_force(c, &ch.force) == -1) {
		json_decref(errors);
		return;
	}
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

static json_t *
deletion_json(const struct tenant_ref *ref, bool purged)
{
	char		 after[40];
	time_t		 t = time(NULL) + tenants_deleted_days() * 86400L;
	struct tm	 tm;

	gmtime_r(&t, &tm);
	strftime(after, sizeof(after), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_pack("{s:s, s:s, s:s, s:b, s:b, s:s?, s:{s:I, s:I, s:I, "
	    "s:I}}", "id", ref->slug, "tenantId", ref->guid, "name", ref->name,
	    "deleted", 1, "purged", purged, "purgeAfter", purged ? NULL : after,
	    "removed", "provisioningJobs", (json_int_t)ref->removed_jobs,
	    "apiKeys", (json_int_t)ref->removed_keys, "users",
	    (json_int_t)ref->removed_users, "locations",
	    (json_int_t)ref->removed_locations);
}

/*
 * A DELETE keeps the tenant for retention.deleted_days (restorable);
 * ?purge=true removes it for good, live or already deleted, and so does
 * every DELETE when the retention is 0.
 */
static void
h_delete(struct ctx *c)
{
	struct tenant_change	 ch = { .op = OP_SOFT_DELETE };
	struct tenant_ref	 ref;
	const char		*id = route_param(&c->match, "id");
	char			 n[FILTER_MAX], d[FILTER_MAX],
				 why[4 * TENANT_REASON_MAX + 1];
	bool			 purge = false;
	enum tres		 r;

	if (read_reason(c, why, &ch.reason) == -1)
		return;
	if (query_get_bool(c->req->query, "purge", &purge) == -1) {
		ctx_error(c, 422, "validation_failed", "the query parameters "
		    "are invalid", json_pack("{s:[s]}", "purge", "must be true "
		    "or false"));
		return;
	}
	if (purge)
		ch.op = OP_PURGE;
	else if (tenants_deleted_days() == 0)
		ch.op = OP_DELETE;
	ch.confirm_name = query_or_body(c, "confirmName", n, sizeof(n));
	ch.confirm_display_name = query_or_body(c, "confirmDisplayName", d,
	    sizeof(d));
	r = tenants_change(c->db, &c->who, id, c->req->if_match,
	    c->req->request_id, &ch, &ref);
	if (r == TR_NOT_FOUND && purge)
		r = tenants_purge_deleted(c->db, &c->who, id, ch.confirm_name,
		    ch.confirm_display_name, ch.reason, c->req->request_id,
		    &ref);
	if (surface_change_failed(c, r, &ref,
	    "no tenant with this id") != 0)
		return;
	response_set(c->resp, 200, deletion_json(&ref, ch.op != OP_SOFT_DELETE),
	    "deletion", NULL);
}

static void
h_restore(struct ctx *c)
{
	struct tenant_ref	 ref;
	const char		*reason;
	char			 why[4 * TENANT_REASON_MAX + 1];
	enum tres		 r;

	if (read_reason(c, why, &reason) == -1)
		return;
	r = tenants_restore(c->db, &c->who, route_param(&c->match, "id"),
	    reason, c->req->request_id, &ref);
	if (r == TR_LIMIT)
		license_limited(c);
	else if (surface_change_failed(c, r, &ref,
	    "no deleted tenant with this id") == 0)
		reply_tenant(c, ref.slug, 200, false);
}

/* What an operator needs to find a tenant to restore, newest first. */
static void
h_deleted_list(struct ctx *c)
{
	struct db_res	*res = NULL;
	struct db_row	 row;
	json_t		*errors = json_object(), *data;
	long		 page, size;
	long long	 total = 0;
	enum db_err	 e;

	paging_int(c, "pageNumber", 1, 1000000000, 1, &page, errors);
	paging_int(c, "pageSize", 1, PAGE_SIZE_MAX, PAGE_SIZE_DEFAULT, &size,
	    errors);
	if (paging_refused(c, errors))
		return;
	if ((e = tenant_archive_list(c->db, tenants_scope(&c->who), size,
	    (page - 1) * size, &res, &total)) != DBE_OK) {
		surface_db_failure(c, tenants_result(e));
		return;
	}
	data = json_array();
	while (res != NULL && db_next(res, &row) == 1)
		json_array_append_new(data, json_pack("{s:s, s:s, s:s, s:o, "
		    "s:o, s:o, s:s}", "id", row.v[AR_SLUG], "tenantId",
		    row.v[AR_GUID], "name", row.v[AR_NAME], "displayName",
		    nullable_json(row.v[AR_DISPLAY_NAME]), "deletedAt",
		    tenant_col_json_time(row.v[AR_DELETED_AT]), "purgeAfter",
		    tenant_col_json_time(row.v[AR_PURGE_AFTER]), "deletedBy",
		    row.v[AR_DELETED_BY]));
	db_res_free(res);
	page_answer(c, &plain_paging, data, page, size, total,
	    "deletedTenants", "deletedTenant");
}

static json_t *
history_json(const struct db_row *r)
{
	json_t		*d = NULL, *o;
	const char	*event = r->v[HC_ACTION];

	/* detail is JSON text written by tenantd itself. */
	if (r->v[HC_DETAIL] != NULL)
		d = json_loads(r->v[HC_DETAIL], 0, NULL);
	if (strncmp(event, "tenant.", 7) == 0)
		event += 7;
	o = json_pack("{s:o, s:s, s:s, s:O?, s:O?, s:O?, s:O?}", "at",
	    tenant_col_json_time(r->v[HC_AT]), "event", event, "actor",
	    r->v[HC_PRINCIPAL], "reason", json_object_get(d, "reason"),
	    "isActive", json_object_get(d, "isActive"), "validUpto",
	    json_object_get(d, "validUpto"), "error",
	    json_object_get(d, "error"));
	json_decref(d);
	return o;
}

/*
 * Also of a deleted tenant, whose history says why it went; what its
 * provisioning jobs did is in the archive with them.
 */
static void
h_history(struct ctx *c)
{
	struct db_res	*res = NULL, *hres = NULL;
	struct db_row	 row;
	const char	*id = route_param(&c->match, "id");
	json_t		*errors = json_object(), *data;
	char		 slug[64], since[32];
	long		 page, size;
	long long	 pk = 0, total = 0, scope = tenants_scope(&c->who);
	enum db_err	 e;
	int		 rc;

	paging_int(c, "pageNumber", 1, 1000000000, 1, &page, errors);
	paging_int(c, "pageSize", 1, PAGE_SIZE_MAX, PAGE_SIZE_DEFAULT, &size,
	    errors);
	if (paging_refused(c, errors))
		return;
	snprintf(since, sizeof(since), "1000-01-01 00:00:00");
	if ((rc = tenant_store_get(c->db, scope, TKEY_ID, id, &row, &res)) == 1) {
		pk = strtoll(row.v[TC_PK], NULL, 10);
		snprintf(slug, sizeof(slug), "%s", row.v[TC_SLUG]);
		snprintf(since, sizeof(since), "%s", row.v[TC_CREATED_AT]);
	} else if (rc == 0) {
		db_res_free(res);
		res = NULL;
		if ((rc = tenants_deleted_get(c->db, scope, id, &row, &res)) == 1)
			snprintf(slug, sizeof(slug), "%s", row.v[AR_SLUG]);
	}
	db_res_free(res);
	if (rc != 1) {
		if (rc == 0)
			not_found(c);
		else
			surface_db_failure(c, tenants_result(db_classify(
			    db_errno(c->db))));
		return;
	}
	if ((e = tenant_history_page(c->db, slug, pk, since, size,
	    (page - 1) * size, &hres, &total)) != DBE_OK) {
		surface_db_failure(c, tenants_result(e));
		return;
	}
	data = json_array();
	while (hres != NULL && db_next(hres, &row) == 1)
		json_array_append_new(data, history_json(&row));
	db_res_free(hres);
	page_answer(c, &plain_paging, data, page, size, total, "history",
	    "event");
}

static void
status_reply(struct ctx *c, int rc, const struct db_row *row,
    const char *missing)
{
	if (rc == -1)
		surface_db_failure(c, tenants_result(db_classify(db_errno(c->db))));
	else if (rc == 0)
		ctx_error(c, 404, "tenant_not_found", missing, NULL);
	else
		response_set(c->resp, 200, tenant_row_json(status_fields,
		    sizeof(status_fields) / sizeof(status_fields[0]), row),
		    "tenantStatus", NULL);
}

static void
h_status(struct ctx *c)
{
	struct db_res	*res = NULL;
	struct db_row	 row;
	int		 rc;

	rc = tenant_store_get(c->db, tenants_scope(&c->who), TKEY_ID,
	    route_param(&c->match, "id"), &row, &res);
	status_reply(c, rc, &row, "no tenant with this id");
	db_res_free(res);
}

/*
 * "me": a tenant-scoped key's own tenant; for any other credential the
 * tenant its account has switched to (POST /api/v1/tenants/{id}/switch).
 */
static void
h_my_status(struct ctx *c)
{
	struct db_res	*res = NULL;
	struct db_row	 row;
	char		 pk[24];
	int		 rc;

	if (c->who.kind == KEY_TENANT) {
		snprintf(pk, sizeof(pk), "%lld", c->who.tenant_pk);
		rc = tenant_store_get(c->db, tenants_scope(&c->who), TKEY_PK, pk,
		    &row, &res);
	} else
		rc = tenant_store_current(c->db, c->who.account_id, &row, &res);
	status_reply(c, rc, &row, c->who.kind == KEY_TENANT ? "the key's "
	    "tenant no longer exists" : "the account has no current tenant; "
	    "choose one with POST /api/v1/tenants/{id}/switch");
	db_res_free(res);
}

static void
theme_reply(struct ctx *c, enum tres r)
{
	struct db_res	*res = NULL;
	struct theme	 t;

	if (r == TR_OK)
		r = tenant_theme_get(c->db, &c->who, route_param(&c->match, "id"),
		    &t, &res);
	if (r == TR_NOT_FOUND)
		not_found(c);
	else if (r != TR_OK)
		surface_db_failure(c, r);
	else
		response_set(c->resp, 200, theme_json(&t), "theme", NULL);
	db_res_free(res);
}

static void
h_theme_get(struct ctx *c)
{
	theme_reply(c, TR_OK);
}

/* A whole theme: what the body leaves out takes its default. */
static void
h_theme_put(struct ctx *c)
{
	struct theme	 t;
	json_t		*errors = json_object();

	theme_from_json(c->input, &t, errors);
	if (json_object_size(errors) > 0) {
		ctx_error(c, 422, "validation_failed", "one or more fields are "
		    "invalid", errors);
		return;
	}
	json_decref(errors);
	theme_reply(c, tenant_theme_set(c->db, &c->who, route_param(&c->match,
	    "id"), &t, c->req->request_id));
}

static void
h_theme_reset(struct ctx *c)
{
	theme_reply(c, tenant_theme_set(c->db, &c->who, route_param(&c->match,
	    "id"), NULL, c->req->request_id));
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
	char			 why[4 * TENANT_REASON_MAX + 1];

	if (read_reason(c, why, &ch.reason) == 0 &&
	    read_force(c, &ch.force) == 0 &&
	    user_status(c, &ch.user_status) == 0)
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
	char			 when[24], now[24], why[4 * TENANT_REASON_MAX + 1];
	time_t			 t = time(NULL);
	struct tm		 tm;

	if (read_reason(c, why, &ch.reason) == -1)
		return;
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
    "access_denied", "create_denied", "migration_failed", "timeout",
    "internal" };

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
