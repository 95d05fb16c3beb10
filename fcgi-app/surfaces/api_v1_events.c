/* /api/v1/events: the change feed, oldest first, from a cursor. */
#include <stdio.h>
#include <stdlib.h>

#include "../events.h"
#include "../paging.h"
#include "../query.h"
#include "../surfaces.h"
#include "../tenant_model.h"

#define EVENTS_LIMIT_DEFAULT	100

static void	 h_list(struct ctx *);

static const struct route routes[] = {
	{ HTTP_GET, "/api/v1/events", PERM_VIEW, h_list, ROUTE_NO_TENANT_KEY },
};

/*
 * The cursor is the id of the last event seen (0: from the start).  The
 * answer's next is the cursor to ask with next time, also when nothing
 * was new, so a poller only ever keeps the last next.
 */
static void
h_list(struct ctx *c)
{
	json_t		*errors = json_object(), *data;
	long long	 after = 0, limit = EVENTS_LIMIT_DEFAULT;
	char		 next[24];
	struct db_res	*res;
	struct db_row	 row;

	if (query_get_int(c->req->query, "after", 0, 999999999999999999LL,
	    &after) == -1)
		field_error(errors, "after", "must be a cursor (the next of an "
		    "earlier answer), or 0");
	if (query_get_int(c->req->query, "limit", 1, EVENTS_LIMIT_MAX,
	    &limit) == -1)
		field_error(errors, "limit", "must be an integer from 1 to "
		    "500");
	if (paging_refused(c, errors))
		return;
	if (events_list(c->db, c->who.account_id, after, limit, &res) !=
	    DBE_OK) {
		surface_db_failure(c, tenants_result(db_classify(
		    db_errno(c->db))));
		return;
	}
	data = json_array();
	snprintf(next, sizeof(next), "%lld", after);
	while (db_next(res, &row) == 1) {
		json_array_append_new(data, events_json(&row));
		snprintf(next, sizeof(next), "%s", row.v[EC_ID]);
	}
	db_res_free(res);
	response_set(c->resp, 200, json_pack("{s:o, s:s}", "data", data,
	    "next", next), "events", "event");
}

const struct surface surface_api_v1_events = {
	.name = "api_v1_events",
	.prefix = "/api/v1/events",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.error = ctx_problem,
};
