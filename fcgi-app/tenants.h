/*
 * Tenant operations: the domain core every surface calls.  Nothing here
 * knows about HTTP; results are codes the surfaces map to their own
 * envelopes.
 */
#ifndef TENANTS_H
#define TENANTS_H

#include <stdbool.h>

#include <jansson.h>

#include "auth.h"
#include "db.h"
#include "tenant_model.h"
#include "tenant_store.h"

enum tres {
	TR_OK,
	TR_NOT_FOUND,
	TR_CONFLICT,
	TR_INVALID,
	TR_PRECONDITION,	/* If-Match names another version */
	TR_UNAVAILABLE,		/* database unreachable or overloaded */
	TR_LIMIT,		/* create refused: license.max_tenants reached */
	TR_UNPROVISIONED,	/* activation refused: provisioning not done */
	TR_INACTIVE,		/* switch refused: the tenant is deactivated */
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

enum tenant_op {
	OP_PATCH,	/* set the given fields */
	OP_REPLACE,	/* set the given fields, reset the others */
	OP_ACTIVATE,
	OP_DEACTIVATE,
	OP_UPGRADE,	/* move valid_upto forward */
	OP_DELETE,	/* with every child record */
	OP_SWITCH,	/* make it the caller's current tenant */
	OP_SOFT_DELETE,	/* into the archive, restorable (tenants_deleted.h) */
	OP_PURGE,	/* OP_DELETE, audited as a purge */
	OP__MAX
};

struct tenant_change {
	enum tenant_op	 op;
	enum tkey	 by;		/* what the id names; TKEY_ID by default */
	const struct tenant_input *in;	/* OP_PATCH, OP_REPLACE */
	int		 user_status;	/* OP_(DE)ACTIVATE; -1 = leave users */
	const char	*valid_upto;	/* OP_UPGRADE, SQL DATETIME */
	const char	*now;		/* OP_UPGRADE, SQL DATETIME */
	const char	*confirm_name;	/* OP_DELETE, OP_SOFT_DELETE, OP_PURGE */
	const char	*confirm_display_name;
	const char	*reason;	/* why, for the history; may be NULL */
	bool		 force;		/* may activate before provisioning is done */
};

/* The longest reason a change may carry, in characters. */
#define TENANT_REASON_MAX	500


#define TENANT_REF_BAD	4

/* What a change touched, and why it was refused (TR_INVALID). */
struct tenant_ref {
	char		 slug[64];
	char		 guid[37];
	char		 name[801];	/* 200 characters of up to 4 bytes */
	long long	 pk;
	struct {
		const char	*field;
		const char	*msg;
	}		 bad[TENANT_REF_BAD];
	size_t		 nbad;
	const char	*conflict;	/* TR_CONFLICT: which field, or NULL */
	long long	 removed_jobs, removed_keys, removed_users,
			 removed_locations;
};

/* The account a principal may see tenants of; 0 = all (global keys). */
long long	 tenants_scope(const struct principal *);
enum tres	 tenants_result(enum db_err);

/* Columns of a provisioning job row. */
enum jobcol {
	JC_CORRELATION_ID, JC_GUID, JC_STATUS, JC_STEP, JC_ERROR, JC_CREATED,
	JC_UPDATED, JC_SLUG, JC_ID, JC_ATTEMPTS, JC_STARTED, JC_COMPLETED,
	JC__MAX
};
/* Columns of a provisioning step row. */
enum stepcol {
	SC_STEP, SC_STATUS, SC_ATTEMPTS, SC_STARTED, SC_COMPLETED, SC_ERROR,
	SC__MAX
};

/*
 * The newest provisioning job of a tenant (by slug or GUID), or the job
 * with a correlation id: 1 found, 0 not, -1 error.  Columns: enum jobcol.
 */
int		 tenants_job_by_tenant(struct db *, long long scope,
		    const char *id, struct db_row *, struct db_res **);
int		 tenants_job_by_correlation(struct db *, long long scope,
		    const char *cid, struct db_row *, struct db_res **);
/* The step records of a job (JC_ID); none for jobs older than them. */
enum db_err	 tenants_job_steps(struct db *, const char *job_id,
		    struct db_res **);
/* Every account's jobs, newest first, with a status or any (NULL). */
enum db_err	 tenants_job_list(struct db *, const char *status,
		    long long limit, struct db_res **);
/*
 * Restarts the newest job of a tenant (slug or GUID) if it has Failed,
 * audited in the same transaction.  TR_CONFLICT: it has not; status
 * holds its status then.
 */
enum tres	 tenants_job_retry(struct db *, const struct principal *,
		    const char *id, const char *request_id, char *status,
		    size_t status_len);

/*
 * Creates a tenant, its provisioning job and audit event in one
 * transaction.
 */
enum tres	 tenants_create(struct db *, const struct principal *,
		    const struct tenant_input *, const char *request_id,
		    struct tenant_created *);

/* What else a create does in its transaction (seed 002). */
enum tenant_create_flags {
	TCREATE_SWITCH = 1 << 0,	/* becomes the caller's current tenant */
	TCREATE_LOCATION = 1 << 1,	/* gets its default location now */
};

/* tenants_create, with flags. */
enum tres	 tenants_create_with(struct db *, const struct principal *,
		    const struct tenant_input *, unsigned int flags,
		    const char *request_id, struct tenant_created *);

/*
 * As tenants_create_with, for surfaces whose clients send no slug (seeds
 * 002, 003): the slug is derived from the name, with a random suffix when
 * another tenant holds it already.  in->set[TC_SLUG] is ignored.
 */
enum tres	 tenants_create_derived(struct db *, const struct principal *,
		    const struct tenant_input *, unsigned int flags,
		    const char *request_id, struct tenant_created *);

/*
 * The most tenants the platform may hold (license.max_tenants); 0, the
 * default, is no limit.  Creates beyond it are TR_LIMIT on every surface.
 */
void		 tenants_set_license_limit(long long);
long long	 tenants_license_limit(void);
/*
 * Whether an inactive tenant whose provisioning job has not Completed may
 * be activated by any change (provision.allow_activate_unprovisioned);
 * refused by default with TR_UNPROVISIONED on every surface, unless the
 * change has force set.  Such an activation is audited with "forced".
 */
void		 tenants_set_activate_unprovisioned(bool);
/* In a create's transaction: *full when no tenant may be added now. */
enum db_err	 tenants_license_room(struct db *, bool *full);

/*
 * Applies a change to the tenant id (slug or GUID) the principal may see,
 * with its audit event, in one transaction.  if_match (an If-Match header
 * value, or NULL) must name the current version.
 */
enum tres	 tenants_change(struct db *, const struct principal *,
		    const char *id, const char *if_match, const char *request_id,
		    const struct tenant_change *, struct tenant_ref *);
/* 1 when an If-Match / If-None-Match value names version. */
int		 etag_matches(const char *header, const char *version);

#endif
