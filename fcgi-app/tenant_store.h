/*
 * Tenant rows in the database.  scope is the account whose tenants a
 * caller may touch, or 0 for every account (global keys): another
 * account's tenant is simply not found.
 */
#ifndef TENANT_STORE_H
#define TENANT_STORE_H

#include "db.h"
#include "tenant_model.h"

/* Which identifier of a tenant a lookup names. */
enum tkey {
	TKEY_ID,		/* the slug, or the GUID when id has that shape */
	TKEY_SLUG,
	TKEY_GUID,
	TKEY_SHORT_ID,		/* seed 002's 11-character opaque id */
	TKEY_MS_TENANT_ID,	/* the Microsoft 365 tenant GUID */
	TKEY_EXTERNAL_ID,	/* the client's own id, unique per account */
	TKEY_PK,		/* the primary key, in decimal */
	TKEY__MAX
};

/* One tenant by the identifier id of kind by: 1 found, 0 not, -1 error. */
int		 tenant_store_get(struct db *, long long scope, enum tkey by,
		    const char *id, struct db_row *, struct db_res **);
/*
 * The tenant account has switched to (accounts.current_tenant_pk): 1
 * found, 0 none, -1 error.
 */
int		 tenant_store_current(struct db *, long long account,
		    struct db_row *, struct db_res **);
/* As tenant_store_get, locking the row until the transaction ends. */
int		 tenant_store_lock(struct db *, long long scope, enum tkey by,
		    const char *id, struct db_row *, struct db_res **);
/*
 * Writes every writable column from v (database strings; NULL = SQL
 * NULL), bumps the version and updated_at.
 */
enum db_err	 tenant_store_update(struct db *, long long pk,
		    const char *const v[TC__MAX]);
enum db_err	 tenant_store_delete(struct db *, long long pk);
/* Counts of the records that go with a tenant, for the delete answer. */
enum db_err	 tenant_store_children(struct db *, long long pk,
		    long long *jobs, long long *keys, long long *users,
		    long long *locations);
/* Sets the status of the tenant's users, except support users. */
enum db_err	 tenant_store_user_status(struct db *, long long pk, int status);
/* Gives the tenant its default location unless it has one. */
enum db_err	 tenant_store_default_location(struct db *, long long pk);
/*
 * Makes the tenant's rows in tenant_metadata those of text (stored
 * metadata, NULL for none), inside the transaction that writes it.
 */
enum db_err	 tenant_store_metadata(struct db *, long long pk,
		    long long account, const char *text);
enum db_err	 tenant_store_insert(struct db *, long long account,
		    const struct tenant_input *, const char *guid,
		    const char *short_id, const char *status, long long *pk);

#endif
