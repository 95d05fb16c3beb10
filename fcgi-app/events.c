#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "tenant_model.h"

/*
 * Audit actions and the event types they are published as.  An action not
 * listed here (one added later) is published under its own name.
 */
static const struct evtype {
	const char	*action;
	const char	*type;
} evtypes[] = {
	{ "tenant.create", "tenant.created" },
	{ "tenant.update", "tenant.updated" },
	{ "tenant.replace", "tenant.updated" },
	{ "tenant.activate", "tenant.activated" },
	{ "tenant.deactivate", "tenant.deactivated" },
	{ "tenant.upgrade", "tenant.upgraded" },
	{ "tenant.delete", "tenant.deleted" },
	{ "tenant.restore", "tenant.restored" },
	{ "tenant.purge", "tenant.purged" },
	{ "tenant.theme.update", "tenant.theme_updated" },
	{ "tenant.theme.reset", "tenant.theme_reset" },
	{ "tenant.switch", "tenant.switched" },
	{ "tenant.provisioning.retry", "tenant.provisioning_retried" },
	{ "key.create", "api_key.created" },
	{ "key.revoke", "api_key.revoked" },
	{ "connection.import", "connection.imported" },
	{ "connection.activate", "connection.activated" },
	{ "connection.disconnect", "connection.disconnected" },
	{ "connection.delete", "connection.deleted" },
	{ "connection.purge", "connection.purged" },
	{ "webhook.create", "webhook.created" },
	{ "webhook.update", "webhook.updated" },
	{ "webhook.delete", "webhook.deleted" },
};

#define EVENT_COLUMNS "SELECT id, account_id, at, principal, action, " \
	"target_type, target_id, tenant_guid, request_id, detail " \
	"FROM audit_events "
#define EVENT_FILTER "AND outcome = 'ok' AND target_type <> 'route' "

/* ix_audit_account serves the scoped walk, the primary key the other. */
static const char sql_scoped[] = EVENT_COLUMNS
    "WHERE account_id = ? AND id > ? " EVENT_FILTER "ORDER BY id LIMIT ?";
static const char sql_all[] = EVENT_COLUMNS
    "WHERE id > ? AND account_id IS NOT NULL " EVENT_FILTER
    "AND at <= NOW(3) - INTERVAL 2 SECOND ORDER BY id LIMIT ?";
static const char sql_one[] = EVENT_COLUMNS
    "WHERE account_id = ? AND id = ? " EVENT_FILTER;

enum db_err
events_list(struct db *db, long long account, long long after,
    long long limit, struct db_res **res)
{
	struct db_param	 p[3];
	size_t		 n = 0;

	if (account)
		p[n++] = DB_I64(account);
	p[n++] = DB_I64(after);
	p[n++] = DB_I64(limit);
	return db_exec(db, account ? sql_scoped : sql_all, p, n, res);
}

int
events_get(struct db *db, long long account, long long id,
    struct db_row *row, struct db_res **res)
{
	struct db_param	 p[] = { DB_I64(account), DB_I64(id) };

	return db_one(db, sql_one, p, 2, row, res);
}

const char *
events_type(const char *action)
{
	size_t	 i;

	for (i = 0; i < sizeof(evtypes) / sizeof(evtypes[0]); i++)
		if (strcmp(evtypes[i].action, action) == 0)
			return evtypes[i].type;
	return action;
}

int
events_type_known(const char *type)
{
	size_t	 i;

	for (i = 0; i < sizeof(evtypes) / sizeof(evtypes[0]); i++)
		if (strcmp(evtypes[i].type, type) == 0)
			return 1;
	return 0;
}

json_t *
events_json(const struct db_row *r)
{
	json_t	*data = NULL;
	int	 tenant = strcmp(r->v[EC_TARGET_TYPE], "tenant") == 0;

	/* detail is JSON text written by tenantd itself. */
	if (r->v[EC_DETAIL] != NULL)
		data = json_loads(r->v[EC_DETAIL], 0, NULL);
	return json_pack("{s:s, s:s, s:o, s:s?, s:s?, s:s, s:s?, s:s, s:s?, "
	    "s:o}",
	    "id", r->v[EC_ID],
	    "type", events_type(r->v[EC_ACTION]),
	    "occurredAt", tenant_col_json_time(r->v[EC_AT]),
	    "tenantId", tenant ? r->v[EC_TENANT_GUID] : NULL,
	    "tenantSlug", tenant ? r->v[EC_TARGET_ID] : NULL,
	    "subjectType", r->v[EC_TARGET_TYPE],
	    "subjectId", r->v[EC_TARGET_ID],
	    "actor", r->v[EC_PRINCIPAL],
	    "requestId", r->v[EC_REQUEST_ID],
	    "data", data ? data : json_null());
}
