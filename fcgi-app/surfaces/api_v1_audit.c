/* /api/v1/audit: the audit trail, newest first, paged by an id cursor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../audit.h"
#include "../paging.h"
#include "../problem.h"
#include "../query.h"
#include "../surfaces.h"
#include "../tenant_model.h"
#include "../tenants.h"

#define AUDIT_LIMIT_DEFAULT	50
#define AUDIT_LIMIT_MAX		200

static void	 h_list(struct ctx *);

static const struct route routes[] = {
	{ HTTP_GET, "/api/v1/audit", PERM_VIEW, h_list, ROUTE_NO_TENANT_KEY },
};

static json_t *
event_json(const struct db_row *r)
{
	json_t	*detail = NULL;

	/* detail is JSON text written by tenantd itself. */
	if (r->v[AC_DETAIL] != NULL)
		detail = json_loads(r->v[AC_DETAIL], 0, NULL);
	return json_pack("{s:I, s:o, s:s, s:s, s:s, s:s?, s:s, s:s?, s:o}",
	    "id", (json_int_t)strtoll(r->v[AC_ID], NULL, 10),
	    "at", tenant_col_json_time(r->v[AC_AT]),
	    "principal", r->v[AC_PRINCIPAL],
	    "action", r->v[AC_ACTION],
	    "targetType", r->v[AC_TARGET_TYPE],
	    "targetId", r->v[AC_TARGET_ID],
	    "outcome", r->v[AC_OUTCOME],
	    "requestId", r->v[AC_REQUEST_ID],
	    "detail", detail ? detail : json_null());
}

/* A positive integer query parameter in [1, max], or dflt when absent. */
static int
positive(struct ctx *c, const char *name, long long max, long long dflt,
    long long *out, json_t *errors)
{
	char	 msg[80];

	*out = dflt;
	if (query_get_int(c->req->query, name, 1, max, out) == -1) {
		snprintf(msg, sizeof(msg), "must be an integer from 1 to %lld",
		    max);
		field_error(errors, name, msg);
		return -1;
	}
	return 0;
}

static void
h_list(struct ctx *c)
{
	json_t		*errors = json_object(), *data, *body;
	long long	 cursor, limit, last = 0;
	struct db_res	*res;
	struct db_row	 row;
	size_t		 n = 0;

	/* Ids are BIGINT UNSIGNED, but never beyond 18 digits in practice. */
	positive(c, "cursor", 999999999999999999LL, 0, &cursor, errors);
	positive(c, "limit", AUDIT_LIMIT_MAX, AUDIT_LIMIT_DEFAULT, &limit,
	    errors);
	if (paging_refused(c, errors))
		return;
	if (audit_list(c->db, tenants_scope(&c->who), cursor, limit, &res) !=
	    DBE_OK) {
		response_header(c->resp, "Retry-After", "2");
		ctx_error(c, 503, "unavailable", "the database is unavailable",
		    NULL);
		return;
	}
	data = json_array();
	while (db_next(res, &row) == 1) {
		json_array_append_new(data, event_json(&row));
		last = strtoll(row.v[AC_ID], NULL, 10);
		n++;
	}
	db_res_free(res);
	body = json_pack("{s:o}", "data", data);
	if (n == (size_t)limit && last > 1) {
		json_object_set_new(body, "nextCursor", json_integer(last));
		paging_cursor_link(c, last, limit);
	} else
		json_object_set_new(body, "nextCursor", json_null());
	response_set(c->resp, 200, body, "auditEvents", "event");
}

const struct surface surface_api_v1_audit = {
	.name = "api_v1_audit",
	.prefix = "/api/v1/audit",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.error = ctx_problem,
};
