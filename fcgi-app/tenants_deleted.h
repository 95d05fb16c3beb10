/*
 * Deleted tenants: a DELETE moves a tenant into the archive
 * (OP_SOFT_DELETE of tenants_change, tenant_archive.h); from there it is
 * restored, purged on request, or purged once its retention ends.  Every
 * change is audited in its transaction.
 */
#ifndef TENANTS_DELETED_H
#define TENANTS_DELETED_H

#include "auth.h"
#include "db.h"
#include "tenant_archive.h"
#include "tenants.h"

/* retention.deleted_days: how long a deleted tenant is kept; 0 = not. */
void		 tenants_set_deleted_days(long);
long		 tenants_deleted_days(void);

/*
 * Brings the deleted tenant id (slug or GUID) back with its child rows,
 * as it was.  TR_CONFLICT (ref->conflict) when one of its keys has been
 * taken since; TR_LIMIT at the license limit.
 */
enum tres	 tenants_restore(struct db *, const struct principal *,
		    const char *id, const char *reason, const char *request_id,
		    struct tenant_ref *);
/* Removes a deleted tenant for good, with the delete's confirmations. */
enum tres	 tenants_purge_deleted(struct db *, const struct principal *,
		    const char *id, const char *confirm_name,
		    const char *confirm_display_name, const char *reason,
		    const char *request_id, struct tenant_ref *);
/* A deleted tenant of scope: 1 found, 0 not, -1 error (enum acol). */
int		 tenants_deleted_get(struct db *, long long scope,
		    const char *id, struct db_row *, struct db_res **);
/* Purges deleted tenants past their retention: how many, or -1. */
int		 tenants_purge_expired(struct db *);

#endif
