/*
 * Tenant operations: the domain core every surface calls.  Nothing here
 * knows about HTTP; results are codes the surfaces map to their own
 * envelopes.
 */
#ifndef TENANTS_H
#define TENANTS_H

#include <jansson.h>

#include "auth.h"
#include "db.h"
#include "tenant_model.h"

enum tres {
	TR_OK,
	TR_NOT_FOUND,
	TR_CONFLICT,
	TR_INVALID,
	TR_UNAVAILABLE,		/* database unreachable or overloaded */
	TR_ERROR,
};

struct tenant_created {
	char		 slug[64];
	char		 guid[37];
	char		 short_id[12];
	char		 correlation_id[37];
	const char	*status;
	const char	*conflict;	/* TR_CONFLICT: which field */
};

/* The account a principal may see tenants of; 0 = all (global keys). */
long long	 tenants_scope(const struct principal *);
enum tres	 tenants_result(enum db_err);

/*
 * The newest provisioning job of a tenant (by slug or GUID), or the job
 * with a correlation id: 1 found, 0 not, -1 error.  Columns:
 * correlation_id, slug, status, step, error, created_at, updated_at.
 */
int		 tenants_job_by_tenant(struct db *, long long scope,
		    const char *id, struct db_row *, struct db_res **);
int		 tenants_job_by_correlation(struct db *, long long scope,
		    const char *cid, struct db_row *, struct db_res **);

enum tres	 tenants_create(struct db *, const struct principal *,
		    const struct tenant_input *, const char *request_id,
		    struct tenant_created *);

#endif
