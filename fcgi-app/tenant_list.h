/*
 * Pages and counts of the tenants a caller may see.  scope is an account,
 * or 0 for every account (global keys).
 *
 * Unfiltered counts come from tenant_counts (sharded per account, account
 * 0 holding all), never from a scan.  Its gen column is the list
 * generation: every commit that adds, removes or reorders a tenant of an
 * account bumps it, in the statement that moves the count, so reading
 * both in the statement that reads a page says which state of the listing
 * the page is of (see page_marks.h).
 */
#ifndef TENANT_LIST_H
#define TENANT_LIST_H

#include <stdbool.h>

#include "db.h"
#include "tenant_model.h"

enum tsort {
	TSORT_CREATED,		/* creation order (the primary key) */
	TSORT_NAME,
	TSORT_SLUG,
	TSORT_VALID_UPTO,
	TSORT_CONSENTED,
	TSORT__MAX
};

#define TQ_META_MAX	4	/* metadata filters in one query */

/* A filtered, sorted view of the tenants a caller may see. */
struct tenant_query {
	long long	 scope;
	const char	*name;		/* exact name, or NULL */
	const char	*q;		/* substring of name or description */
	const char	*description;	/* substring of the description */
	int		 is_active;	/* 0, 1, or -1 for either */
	/* ?metadata.KEY=VALUE: tenants with every one of these pairs */
	const char	*meta_key[TQ_META_MAX], *meta_value[TQ_META_MAX];
	size_t		 nmeta;
	enum tsort	 sort;
	bool		 desc;
};

/*
 * Rows offset .. offset + limit - 1 in *res (NULL when there are none),
 * each with the tenant columns first, and the total they are part of.
 * Unfiltered, a page and its total are one statement, and a page far
 * from both ends is read from a page mark; filtered pages are an OFFSET
 * from the nearer end after a count.
 */
enum db_err	 tenant_list_page(struct db *, const struct tenant_query *,
		    long long limit, long long offset, struct db_res **res,
		    long long *total);
/*
 * Up to limit rows of q with primary keys above after, in primary key
 * order whatever q's sort (an export's keyset walk: each batch is one
 * range read of the primary key, however far in).
 */
enum db_err	 tenant_list_after(struct db *, const struct tenant_query *,
		    long long after, long long limit, struct db_res **res);
enum db_err	 tenant_list_count(struct db *, const struct tenant_query *,
		    long long *count);
/*
 * Moves the counts of account (and of all) by delta and bumps their list
 * generation; delta 0 for a tenant whose sort keys changed.  Inside the
 * transaction of that change.
 */
enum db_err	 tenant_list_changed(struct db *, long long account,
		    long long delta);
/*
 * The number of tenants on the platform, locking the counts of all until
 * the transaction ends, so concurrent creates that check a limit against
 * it take turns.
 */
enum db_err	 tenant_list_total_locked(struct db *, long long *total);
/* Whether a row going from old to v may move in some sort order. */
bool		 tenant_list_moves(const char *const old[TC__MAX],
		    const char *const v[TC__MAX]);

#endif
