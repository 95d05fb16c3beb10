#include <stdlib.h>
#include <string.h>

#include "tenant_history.h"

/*
 * Audit events of the tenant (ix_audit_target) that changed its state:
 * a PATCH or PUT only when its detail says so (tenants.c change_detail),
 * and the provisioning jobs that completed or failed.
 */
#define HISTORY_ROWS \
	"SELECT e.at, e.action, e.principal, e.detail, e.id AS seq " \
	"FROM audit_events e WHERE e.target_type = 'tenant' " \
	"AND e.target_id = ? AND e.at >= ? " \
	"AND (e.action IN ('tenant.create', 'tenant.activate', " \
	"'tenant.deactivate', 'tenant.upgrade', 'tenant.delete', " \
	"'tenant.restore', 'tenant.purge') OR (e.action IN " \
	"('tenant.update', 'tenant.replace') AND e.detail IS NOT NULL)) " \
	"UNION ALL SELECT COALESCE(j.completed_at, j.updated_at), " \
	"CONCAT('provisioning.', LOWER(j.status)), 'provisioner', " \
	"JSON_OBJECT('correlationId', j.correlation_id, 'error', j.error), 0 " \
	"FROM provisioning_jobs j WHERE j.tenant_pk = ? " \
	"AND j.status IN ('Completed', 'Failed')"

static const char sql_page[] = "SELECT at, action, principal, detail FROM ("
    HISTORY_ROWS ") h ORDER BY at DESC, seq DESC LIMIT ? OFFSET ?";
static const char sql_count[] = "SELECT COUNT(*) FROM (" HISTORY_ROWS ") h";

enum db_err
tenant_history_page(struct db *db, const char *slug, long long pk,
    const char *since, long long limit, long long offset, struct db_res **res,
    long long *total)
{
	struct db_param	 p[] = { DB_STR(slug), DB_STR(since), DB_I64(pk),
	    DB_I64(limit), DB_I64(offset) };
	struct db_res	*cres = NULL;
	struct db_row	 row;
	enum db_err	 e;
	int		 rc;

	*res = NULL;
	rc = db_one(db, sql_count, p, 3, &row, &cres);
	if (rc == 1)
		*total = strtoll(row.v[0], NULL, 10);
	db_res_free(cres);
	if (rc != 1)
		return (e = db_classify(db_errno(db))) == DBE_OK ? DBE_OTHER : e;
	return db_exec(db, sql_page, p, 5, res);
}
