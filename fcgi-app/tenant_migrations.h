/*
 * Migrations of tenants' own databases: provision.sql_dir's NNNN_*.sql,
 * applied in order, each recorded in the tenant database's own
 * schema_migrations once it has run.  A file may run again after a crash
 * between its statements and its record, so each must be safe to re-run.
 */
#ifndef TENANT_MIGRATIONS_H
#define TENANT_MIGRATIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "db.h"
#include "tenant_db.h"

#define TMIG_MAX	64
#define TMIG_NAME	64

/* The migrations there are: file names without ".sql", in order. */
struct tmig_set {
	size_t	 n;
	char	 name[TMIG_MAX][TMIG_NAME];
};

/* Reads dir; -1 with the reason in err when it cannot be read or is empty. */
int		 tmig_load(const char *dir, struct tmig_set *, char *err,
		    size_t errlen);
/*
 * Which of set tdb has applied (applied[i]), and the newest version it
 * has recorded ("" for none): 0, or -1 on a database error.
 */
int		 tmig_applied(struct db *tdb, const struct tmig_set *,
		    bool applied[TMIG_MAX], char last[TMIG_NAME]);
/*
 * Applies the pending migrations of set one at a time, each recorded when
 * it has run, under a lock in the tenant database so two runs never
 * interleave.  *napplied counts them; -1 with the details in err.
 */
int		 tmig_apply(struct db *tdb, const char *dir,
		    const struct tmig_set *, int *napplied, char *err,
		    size_t errlen);

/* A tenant with its own database, as tmig_each hands it on. */
struct tmig_tenant {
	long long	 pk;
	const char	*slug, *guid;
	char		 database[65];
	struct db	*tdb;		/* NULL when it could not be reached */
	enum tdb_fail	 fail;		/* then why */
	char		 log[512];	/* and the details, for the log */
};

/*
 * Calls fn for each tenant with its own database the scope may see
 * (0 = all), with pk > after, at most limit of them, in pk order; only
 * the one with slug only when only is not NULL.  fn returns -1 to stop.
 */
enum db_err	 tmig_each(struct db *, const struct config *, long long scope,
		    const char *only, long long after, long long limit,
		    int (*fn)(struct tmig_tenant *, void *), void *arg);

#endif
