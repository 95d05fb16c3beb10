/*
 * Deleted tenants, kept in tenants_deleted until purged (0016): the row
 * and every child row of a tenant as one JSON snapshot, put back by a
 * restore with the same keys.  Nothing but this module and the domain
 * that calls it reads the archive; every read path of tenants stays as it
 * is, since a deleted tenant is no longer there.
 */
#ifndef TENANT_ARCHIVE_H
#define TENANT_ARCHIVE_H

#include <stdbool.h>

#include "db.h"

/* Columns of an archive row (tenant_archive_find, tenant_archive_list). */
enum acol {
	AR_PK, AR_ACCOUNT_ID, AR_SLUG, AR_GUID, AR_NAME, AR_DISPLAY_NAME,
	AR_DELETED_AT, AR_PURGE_AFTER, AR_DELETED_BY, AR__MAX
};

/*
 * Copies tenant pk and its child rows into the archive, to be purged
 * after days; the caller then deletes the tenant (its children cascade).
 */
enum db_err	 tenant_archive_put(struct db *, long long pk, long days,
		    const char *deleted_by);
/*
 * Puts the rows of archived tenant pk back and removes it from the
 * archive.  DBE_DUP when a key of it is taken meanwhile.
 */
enum db_err	 tenant_archive_restore(struct db *, long long pk);
/*
 * The archived tenant id (slug or GUID) of scope (0 = any account),
 * locked when lock: 1 found, 0 not, -1 error.  Columns: enum acol.
 */
int		 tenant_archive_find(struct db *, long long scope,
		    const char *id, int lock, struct db_row *,
		    struct db_res **);
/*
 * Whether a deleted tenant holds slug or name (either may be NULL):
 * *taken is then "id" or "name", else NULL.
 */
enum db_err	 tenant_archive_holds(struct db *, const char *slug,
		    const char *name, const char **taken);
enum db_err	 tenant_archive_purge(struct db *, long long pk);
/* The oldest archived tenant past its purge_after, locked. */
int		 tenant_archive_due(struct db *, struct db_row *,
		    struct db_res **);
/* A page of scope's archived tenants, newest first, and their number. */
enum db_err	 tenant_archive_list(struct db *, long long scope,
		    long long limit, long long offset, struct db_res **,
		    long long *total);

#endif
