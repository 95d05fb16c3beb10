/*
 * /api/v1/tenants/migrations: every tenant with its own database, what
 * of provision.sql_dir it has applied and what is pending, read from the
 * tenant database itself (its schema_migrations); paged by a tenant
 * cursor, since each item costs a connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../paging.h"
#include "../problem.h"
#include "../surfaces.h"
#include "../tenant_migrations.h"
#include "../tenants.h"

#define MIG_LIMIT_DEFAULT	10
#define MIG_LIMIT_MAX		50

static void	 h_list(struct ctx *);

static const struct route routes[] = {
	{ HTTP_GET, "/api/v1/tenants/migrations", PERM_VIEW, h_list,
	    ROUTE_NO_TENANT_KEY },
};

struct listing {
	const struct tmig_set	*set;
	json_t			*data;
	long long		 last;
};

static json_t *
nullable(const char *s)
{
	return s != NULL && *s != '\0' ? json_string(s) : json_null();
}

static int
item(struct tmig_tenant *t, void *arg)
{
	struct listing	*l = arg;
	bool		 applied[TMIG_MAX];
	char		 last[TMIG_NAME] = "", error[256] = "";
	json_t		*pending = json_array();
	size_t		 i;

	l->last = t->pk;
	if (t->tdb != NULL && tmig_applied(t->tdb, l->set, applied, last) == -1) {
		t->fail = tenant_db_failure(t->tdb);
		snprintf(t->log, sizeof(t->log), "schema_migrations: %s",
		    db_error(t->tdb));
	}
	if (t->log[0] != '\0') {
		fprintf(stderr, "tenantd: tenant migrations of %s: %s\n",
		    t->slug, t->log);
		snprintf(error, sizeof(error), "%s: %s",
		    tenant_db_fail_code(t->fail),
		    tenant_db_fail_sentence(t->fail));
	} else
		for (i = 0; i < l->set->n; i++)
			if (!applied[i])
				json_array_append_new(pending,
				    json_string(l->set->name[i]));
	json_array_append_new(l->data, json_pack("{s:s, s:s, s:o, s:o, s:o, "
	    "s:o}", "id", t->slug, "tenantId", t->guid,
	    "database", nullable(t->database), "lastApplied", nullable(last),
	    "pendingMigrations", pending, "error", nullable(error)));
	return 0;
}

static void
h_list(struct ctx *c)
{
	struct tmig_set	 set;
	struct listing	 l = { &set, NULL, 0 };
	json_t		*errors = json_object(), *body;
	long		 cursor, limit;
	char		 err[512];

	paging_int(c, "cursor", 0, 999999999999999999L, 0, &cursor, errors);
	paging_int(c, "limit", 1, MIG_LIMIT_MAX, MIG_LIMIT_DEFAULT, &limit,
	    errors);
	if (paging_refused(c, errors))
		return;
	if (tmig_load(c->cfg->provision_sql_dir, &set, err, sizeof(err)) == -1) {
		fprintf(stderr, "tenantd: %s\n", err);
		surface_db_failure(c, TR_ERROR);
		return;
	}
	l.data = json_array();
	if (tmig_each(c->db, c->cfg, tenants_scope(&c->who), NULL, cursor,
	    limit, item, &l) != DBE_OK) {
		json_decref(l.data);
		surface_db_failure(c, TR_UNAVAILABLE);
		return;
	}
	body = json_pack("{s:o}", "data", l.data);
	if (json_array_size(l.data) == (size_t)limit) {
		json_object_set_new(body, "nextCursor", json_integer(l.last));
		paging_cursor_link(c, l.last, limit);
	} else
		json_object_set_new(body, "nextCursor", json_null());
	response_set(c->resp, 200, body, "tenantMigrations", "tenant");
}

const struct surface surface_api_v1_migrations = {
	.name = "api_v1_migrations",
	.prefix = "/api/v1/tenants/migrations",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.error = ctx_problem,
};
