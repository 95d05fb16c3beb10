/*
 * Microsoft 365 tenants connected to an account by admin consent (seeds
 * 000 and 004, and /api/v1/connections).  A connection owns a tenant row
 * (the M365 tenant record: names, domains, mailboxes, discovery and
 * Exchange state) and its child tables.  Consent happens outside tenantd;
 * a consent service imports the result, idempotently per (account,
 * Microsoft tenant).  Exactly one active connection of an account is
 * primary whenever it has any.  Nothing here knows about HTTP.
 */
#ifndef CONNECTIONS_H
#define CONNECTIONS_H

#include <stdbool.h>

#include <jansson.h>

#include "auth.h"
#include "db.h"
#include "tenant_model.h"
#include "tenants.h"

#define CONN_ID_LEN	25		/* "conn_" and 20 base62 characters */

/*
 * Columns of a connection row: the tenant columns (enum tcol) first, then
 * these.
 */
enum ccol {
	CC_ID = TC__MAX,
	CC_MS_TENANT_ID,
	CC_LABEL,
	CC_STATUS,
	CC_CONNECTED_AT,
	CC_IS_PRIMARY,			/* "1" or "0" */
	CC__END
};

/* What a lookup names. */
enum cby {
	CBY_ID,				/* the connection id */
	CBY_MS_TENANT_ID,		/* the Microsoft tenant GUID */
	CBY__MAX
};

/* Listing orders. */
enum corder {
	CORDER_CONNECTED,		/* oldest connection first */
	CORDER_CONSENTED,		/* newest consent first (seed 000) */
	CORDER__MAX
};

/* The record sets below a connected tenant that an import replaces. */
enum cchild {
	CCHILD_DOMAINS,
	CCHILD_MAILBOXES,
	CCHILD__MAX
};

/* An import, checked: tenant columns plus what belongs to the connection. */
struct conn_input {
	struct tenant_input t;
	const char	*label;		/* NULL: the tenant name on a new one */
	bool		 status_set;
	const char	*status;	/* NULL = SQL NULL */
	bool		 child_set[CCHILD__MAX]; /* false: keep the set */
	json_t		*child[CCHILD__MAX];	/* strings; NULL = empty */
};

/* What an import or change touched. */
struct conn_ref {
	char		 id[CONN_ID_LEN + 1];
	char		 ms_tenant_id[37];
	char		 name[801];	/* the tenant's display name */
	bool		 created;
};

/* One surface's field name for a column of a connection row. */
struct conn_field {
	const char	*name;
	int		 col;		/* enum tcol or enum ccol */
	enum ftype	 type;		/* for enum ccol columns */
};

/*
 * Checks an import body (camelCase names; see docs/openapi.yaml,
 * ConnectionImport); every problem goes into errors.  Strings in in point
 * into body.
 */
void		 connections_input(json_t *body, bool from_xml,
		    struct conn_input *, json_t *errors);

/*
 * Creates or updates the principal's account's connection to in's
 * Microsoft tenant, with its tenant row, domains and mailboxes, in one
 * transaction with its audit event.  A disconnected one is reconnected.
 * The first active connection of an account becomes its primary.
 */
enum tres	 connections_import(struct db *, const struct principal *,
		    const struct conn_input *, const char *request_id,
		    struct conn_ref *);

/* Active connections the scope may see: 1 found, 0 not, -1 error. */
int		 connections_get(struct db *, long long scope, enum cby,
		    const char *key, struct db_row *, struct db_res **);
enum db_err	 connections_list(struct db *, long long scope, enum corder,
		    struct db_res **);
/*
 * The same list as an array of objects named by fields; NULL with the
 * reason (TR_UNAVAILABLE, TR_ERROR) in *r when it cannot be read.
 */
json_t		*connections_list_json(struct db *, long long scope,
		    enum corder, const struct conn_field *, size_t,
		    enum tres *r);

/* Makes the connection id its account's primary and current tenant. */
enum tres	 connections_activate(struct db *, const struct principal *,
		    const char *id, const char *request_id, struct conn_ref *);
/*
 * Disconnects id: it is no longer served, and its data is purged after
 * retention_days (0: now).  The last active connection of an account
 * cannot be removed (TR_CONFLICT).
 */
enum tres	 connections_disconnect(struct db *, const struct principal *,
		    const char *id, long retention_days,
		    const char *request_id, struct conn_ref *);
/*
 * Deletes the connected tenant ms_tenant_id at once, with every record
 * below it (seed 000's DELETE).
 */
enum tres	 connections_purge_tenant(struct db *, const struct principal *,
		    const char *ms_tenant_id, const char *request_id,
		    struct conn_ref *);
/* Purges disconnected tenants whose retention ended: how many, or -1. */
int		 connections_purge_due(struct db *);

/* A connection row as a JSON object with a surface's names, in order. */
json_t		*connections_row_json(const struct conn_field *, size_t,
		    const struct db_row *);

#endif
