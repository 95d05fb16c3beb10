/*
 * A tenant's history of state: the audit events that changed whether it
 * is active, its validUpto or its existence (create, activate, deactivate,
 * upgrade, a PATCH or PUT that moved either, delete, restore, purge) and
 * the ends of its provisioning jobs, newest first.
 */
#ifndef TENANT_HISTORY_H
#define TENANT_HISTORY_H

#include "db.h"

/* Columns of a history row. */
enum hcol {
	HC_AT, HC_ACTION, HC_PRINCIPAL, HC_DETAIL, HC__MAX
};

/*
 * A page of the history of the tenant slug since (a DATETIME: events of
 * an earlier tenant with the same slug are not its own) and of its
 * provisioning jobs (pk; 0 for a deleted tenant, whose jobs are in the
 * archive), with the number of entries.
 */
enum db_err	 tenant_history_page(struct db *, const char *slug,
		    long long pk, const char *since, long long limit,
		    long long offset, struct db_res **, long long *total);

#endif
