/*
 * Tenant rows in the database.  scope is the account whose tenants a
 * caller may touch, or 0 for every account (global keys): another
 * account's tenant is simply not found.
 */
#ifndef TENANT_STORE_H
#define TENANT_STORE_H

#include <stdbool.h>

#include "db.h"
#include "tenant_model.h"

/* By slug, or by GUID when id has that shape: 1 found, 0 not, -1 error. */
int		 tenant_store_get(struct db *, long long scope, const char *id,
		    struct db_row *, struct db_res **);
/* As tenant_store_get, locking the row until the transaction ends. */
int		 tenant_store_lock(struct db *, long long scope, const char *id,
		    struct db_row *, struct db_res **);
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

enum tsort {
	TSORT_CREATED,		/* creation order (the primary key) */
	TSORT_NAME,
	TSORT_SLUG,
	TSORT_VALID_UPTO,
	TSORT_CONSENTED,
	TSORT__MAX
};

/* A filtered, sorted view of the tenants a caller may see. */
struct tenant_query {
	long long	 scope;
	const char	*name;		/* exact name, or NULL */
	const char	*q;		/* substring of name or description */
	int		 is_active;	/* 0, 1, or -1 for either */
	enum tsort	 sort;
	bool		 desc;
};

/*
 * One page.  total (from tenant_store_count) lets pages past the middle
 * be read from the far end of the index, so the last page costs what the
 * first does.
 */
enum db_err	 tenant_store_list(struct db *, const struct tenant_query *,
		    long long total, long long limit, long long offset,
		    struct db_res **);
/* Unfiltered counts come from tenant_counts, never from a scan. */
enum db_err	 tenant_store_count(struct db *, const struct tenant_query *,
		    long long *count);
/*
 * Moves the counts of account (and of all) by delta and bumps their list
 * generation (gen in tenant_counts): delta 0 for a tenant whose sort keys
 * changed.  Inside the transaction of that change.
 */
enum db_err	 tenant_store_count_add(struct db *, long long account,
		    long long delta);
/* Whether a row going from old to v may move in some sort order. */
bool		 tenant_store_moves(const char *const old[TC__MAX],
		    const char *const v[TC__MAX]);
enum db_err	 tenant_store_insert(struct db *, long long account,
		    const struct tenant_input *, const char *guid,
		    const char *short_id, const char *status, long long *pk);

#endif
