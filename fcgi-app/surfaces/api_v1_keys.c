/*
 * /api/v1/api-keys: an account's API keys.  The secret appears once, in
 * the answer to the create; afterwards only its prefix is shown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../key_store.h"
#include "../problem.h"
#include "../rfc3339.h"
#include "../surfaces.h"
#include "../tenant_model.h"
#include "../tenant_store.h"
#include "../tenants.h"

static void	 h_list(struct ctx *);
static void	 h_get(struct ctx *);
static void	 h_create(struct ctx *);
static void	 h_revoke(struct ctx *);

static const struct route routes[] = {
	{ HTTP_GET, "/api/v1/api-keys", PERM_MANAGE_KEYS, h_list,
	    ROUTE_NO_TENANT_KEY },
	{ HTTP_POST, "/api/v1/api-keys", PERM_MANAGE_KEYS, h_create,
	    ROUTE_BODY | ROUTE_NO_TENANT_KEY | ROUTE_SECRET },
	{ HTTP_GET, "/api/v1/api-keys/{id}", PERM_MANAGE_KEYS, h_get,
	    ROUTE_NO_TENANT_KEY },
	{ HTTP_DELETE, "/api/v1/api-keys/{id}", PERM_MANAGE_KEYS, h_revoke,
	    ROUTE_NO_TENANT_KEY },
};

static json_t *
perms_json(uint32_t perms)
{
	json_t	*a = json_array();
	int	 p;

	for (p = PERM_NONE + 1; p < PERM__MAX; p++)
		if (perms & PERM_BIT(p))
			json_array_append_new(a, json_string(perm_claim(p)));
	return a;
}

static json_t *
key_json(const struct db_row *r)
{
	return json_pack("{s:I, s:s, s:s, s:s?, s:s, s:o, s:s?, s:o, s:o, s:o, "
	    "s:o, s:b}",
	    "id", (json_int_t)strtoll(r->v[KR_ID], NULL, 10),
	    "prefix", r->v[KR_PREFIX],
	    "kind", r->v[KR_KIND],
	    "tenant", r->v[KR_TENANT],
	    "account", r->v[KR_ACCOUNT],
	    "permissions", perms_json((uint32_t)strtoul(r->v[KR_PERMS], NULL, 10)),
	    "label", r->v[KR_LABEL],
	    "expiresAt", tenant_col_json_time(r->v[KR_EXPIRES]),
	    "revokedAt", tenant_col_json_time(r->v[KR_REVOKED]),
	    "lastUsedAt", tenant_col_json_time(r->v[KR_LAST_USED]),
	    "createdAt", tenant_col_json_time(r->v[KR_CREATED]),
	    "active", r->v[KR_REVOKED] == NULL);
}

static void
unavailable(struct ctx *c)
{
	response_header(c->resp, "Retry-After", "2");
	ctx_error(c, 503, "unavailable", "the database is unavailable; try "
	    "again shortly", NULL);
}

static void
h_list(struct ctx *c)
{
	struct db_res	*res;
	struct db_row	 row;
	json_t		*data;

	if (key_store_list(c->db, tenants_scope(&c->who), &res) != DBE_OK) {
		unavailable(c);
		return;
	}
	data = json_array();
	while (db_next(res, &row) == 1)
		json_array_append_new(data, key_json(&row));
	db_res_free(res);
	response_set(c->resp, 200, json_pack("{s:o}", "data", data),
	    "apiKeys", "apiKey");
}

/* The id path parameter as a positive integer, or 0. */
static long long
key_id(struct ctx *c)
{
	const char	*s = route_param(&c->match, "id");
	char		*end;
	long long	 id = strtoll(s, &end, 10);

	return *s != '\0' && *end == '\0' && id > 0 ? id : 0;
}

static void
h_get(struct ctx *c)
{
	struct db_res	*res = NULL;
	struct db_row	 row;
	long long	 id = key_id(c);
	int		 rc = 0;

	if (id > 0)
		rc = key_store_get(c->db, tenants_scope(&c->who), id, &row, &res);
	if (rc == -1)
		unavailable(c);
	else if (rc == 0)
		ctx_error(c, 404, "key_not_found", "no API key with this id", NULL);
	else
		response_set(c->resp, 200, key_json(&row), "apiKey", NULL);
	db_res_free(res);
}

static void
h_revoke(struct ctx *c)
{
	long long	 id = key_id(c);
	int		 rc = 0;

	if (id > 0)
		rc = key_store_revoke(c->db, &c->who, tenants_scope(&c->who), id,
		    c->req->request_id);
	if (rc == -1)
		unavailable(c);
	else if (rc == 0)
		ctx_error(c, 404, "key_not_found", "no active API key with this "
		    "id", NULL);
	else
		response_set(c->resp, 204, NULL, NULL, NULL);
}

/* Reads "permissions": an array of claim names (any accepted spelling). */
static void
read_perms(json_t *v, uint32_t *out, json_t *errors)
{
	json_t		*it;
	size_t		 i;
	enum perm	 p;

	*out = 0;
	if (json_is_string(v)) {
		if (perm_parse_list(json_string_value(v), out) == -1)
			field_error(errors, "permissions", "names an unknown "
			    "permission");
		return;
	}
	if (!json_is_array(v) || json_array_size(v) == 0) {
		field_error(errors, "permissions", "must be a non-empty array of "
		    "permission names");
		return;
	}
	json_array_foreach(v, i, it) {
		if (!json_is_string(it) || (p = perm_parse(json_string_value(it),
		    json_string_length(it))) == PERM_NONE) {
			field_error(errors, "permissions", "names an unknown "
			    "permission");
			return;
		}
		*out |= PERM_BIT(p);
	}
}

struct key_body {
	struct key_new	 k;
	char		 expires[24];
	const char	*tenant;
	const char	*tenant_field;	/* the member it came in */
};

/*
 * The tenant of a tenant key: "tenant", as a key shows it, or "tenantId",
 * its name in earlier releases (slug or GUID either way).
 */
static void
read_tenant(json_t *in, struct key_body *b, json_t *errors)
{
	const char	*t = json_string_value(json_object_get(in, "tenant"));
	const char	*old = json_string_value(json_object_get(in, "tenantId"));
	const char	*name = t != NULL || old == NULL ? "tenant" : "tenantId";

	if ((json_object_get(in, "tenant") != NULL && t == NULL) ||
	    (json_object_get(in, "tenantId") != NULL && old == NULL))
		field_error(errors, name, "must be a tenant's id (slug or GUID)");
	else if (t != NULL && old != NULL && strcmp(t, old) != 0)
		field_error(errors, "tenant", "and tenantId name different "
		    "tenants; send tenant only");
	b->tenant = t != NULL ? t : old;
	b->tenant_field = name;
	if (b->k.kind == KEY_TENANT && b->tenant == NULL)
		field_error(errors, "tenant", "is required for a tenant key");
	if (b->k.kind != KEY_TENANT && b->tenant != NULL)
		field_error(errors, name, "applies only to tenant keys");
}

static void
read_body(struct ctx *c, struct key_body *b, json_t *errors)
{
	static const char *const known[] = { "kind", "permissions", "label",
	    "expiresAt", "tenant", "tenantId" };
	const char	*key, *s;
	json_t		*v;
	size_t		 i;

	json_object_foreach(c->input, key, v) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0]))
			field_error(errors, key, "is not a known field");
	}
	s = json_string_value(json_object_get(c->input, "kind"));
	b->k.kind = KEY_ACCOUNT;
	if (s != NULL && key_kind_parse(s, &b->k.kind) == -1)
		field_error(errors, "kind", "must be global, account or tenant");
	read_perms(json_object_get(c->input, "permissions"), &b->k.perms, errors);
	if ((v = json_object_get(c->input, "label")) != NULL &&
	    !json_is_null(v) && (!json_is_string(v) ||
	    json_string_length(v) > 200))
		field_error(errors, "label", "must be a string of at most 200 "
		    "characters");
	b->k.label = json_string_value(v);
	if ((s = json_string_value(json_object_get(c->input, "expiresAt")))) {
		if (rfc3339_to_sql(s, b->expires, sizeof(b->expires)) == -1)
			field_error(errors, "expiresAt", "must be an RFC 3339 "
			    "date-time");
		else
			b->k.expires_at = b->expires;
	}
	read_tenant(c->input, b, errors);
}

/*
 * A caller can hand out no more than it holds: no permission it lacks,
 * and a global key only from a global key.
 */
static int
check_escalation(struct ctx *c, const struct key_body *b)
{
	if ((b->k.perms & ~c->who.perms) != 0) {
		ctx_error(c, 403, "forbidden", "a key cannot carry permissions "
		    "its creator does not hold", NULL);
		return -1;
	}
	if (b->k.kind == KEY_GLOBAL && c->who.kind != KEY_GLOBAL) {
		ctx_error(c, 403, "forbidden", "only a global key can create a "
		    "global key", NULL);
		return -1;
	}
	return 0;
}

static void
h_create(struct ctx *c)
{
	struct key_body	 b;
	struct db_res	*res = NULL;
	struct db_row	 row;
	json_t		*errors = json_object(), *out;
	char		 key[APIKEY_LEN + 1];
	long long	 id;
	int		 rc;

	memset(&b, 0, sizeof(b));
	read_body(c, &b, errors);
	if (json_object_size(errors) > 0) {
		ctx_error(c, 422, "validation_failed", "one or more fields are "
		    "invalid", errors);
		return;
	}
	json_decref(errors);
	if (check_escalation(c, &b) == -1)
		return;
	b.k.account_id = c->who.account_id;
	if (b.k.kind == KEY_TENANT) {
		rc = tenant_store_get(c->db, tenants_scope(&c->who), TKEY_ID, b.tenant,
		    &row, &res);
		if (rc != 1) {
			db_res_free(res);
			if (rc == -1)
				unavailable(c);
			else
				ctx_error(c, 422, "validation_failed", "one or "
				    "more fields are invalid", json_pack(
				    "{s:[s]}", b.tenant_field, "names no tenant of "
				    "this account"));
			return;
		}
		b.k.tenant_pk = strtoll(row.v[TC_PK], NULL, 10);
		db_res_free(res);
	}
	if (key_store_create(c->db, &c->who, &b.k, c->req->request_id, key,
	    &id) != DBE_OK) {
		unavailable(c);
		return;
	}
	if (key_store_get(c->db, 0, id, &row, &res) != 1) {
		unavailable(c);
		return;
	}
	out = key_json(&row);
	db_res_free(res);
	json_object_set_new(out, "key", json_string(key));
	ctx_location(c, "/api/v1/api-keys/%lld", id);
	response_set(c->resp, 201, out, "apiKey", NULL);
}

const struct surface surface_api_v1_keys = {
	.name = "api_v1_keys",
	.prefix = "/api/v1/api-keys",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.error = ctx_problem,
};
