/*
 * Pages and counts of the tenants a caller may see.  scope is an account,
 * or 0 for every account (global keys).
 *
 * Counts unfiltered or by isActive come from tenant_counts (sharded per
 * account, account 0 holding all; n and active, sql/0010), never from a
 * scan.  Its gen column is the list
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
/*
 * A list filtered by text, name or metadata is its first this many
 * matches in its order: its count stops there (README: "Text search and
 * filters"), so neither a page nor a count reads more matches than this.
 */
#define TENANT_LIST_MATCHES_MAX	1000

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
 * A read that no name, rare word or rare metadata pair drives tries the
 * rows of the listing one by one in its order: it tries at most this
 * many (list.scan_budget) and answers the matches among them.
 */
void		 tenant_list_setup(long scan_budget);
/*
 * Rows offset .. offset + limit - 1 in *res (NULL when there are none),
 * each with the tenant columns first, and the total they are part of.
 * Unfiltered or filtered by isActive alone, a page and its total are one
 * statement, and a page far from both ends is read from a page mark (a
 * listing per isActive value); with a text, name or metadata filter,
 * the total is at most TENANT_LIST_MATCHES_MAX and a page is an OFFSET
 * within those matches, after their count.  *incomplete says the total
 * may be short of the listing's: it stopped at TENANT_LIST_MATCHES_MAX,
 * or the read stopped at the scan budget (README: "Text search and
 * filters").  The count's rows are those of a page in creation order.
 */
enum db_err	 tenant_list_page(struct db *, const struct tenant_query *,
		    long long limit, long long offset, struct db_res **res,
		    long long *total, bool *incomplete);
/*
 * Up to limit rows of q with primary keys above after, in primary key
 * order whatever q's sort (an export's keyset walk: each batch is one
 * range read of the primary key, however far in).
 */
enum db_err	 tenant_list_after(struct db *, const struct tenant_query *,
		    long long after, long long limit, struct db_res **res);
enum db_err	 tenant_list_count(struct db *, const struct tenant_query *,
		    long long *count, bool *incomplete);
/*
 * A text filter without a word of 3 characters (q=42) is matched by
 * reading every tenant of the scope: such a query is refused (1) when the
 * scope holds more than TENANT_LIST_SCAN_MAX of the tenants it asks for,
 * else 0; -1 on a database error.
 */
#define TENANT_LIST_SCAN_MAX	10000
int		 tenant_list_scan_refused(struct db *,
		    const struct tenant_query *);
/*
 * Moves the counts of account (and of all) by delta tenants, active of
 * them active, and bumps their list generation.  Inside the transaction
 * of that change.
 */
enum db_err	 tenant_list_changed(struct db *, long long account,
		    long long delta, long long active);
/*
 * The same for one new tenant, pk, of the given input; also indexes its
 * words for text search (tenant_words, sql/0011).
 */
enum db_err	 tenant_list_added(struct db *, long long account,
		    long long pk, const struct tenant_input *);
/*
 * The same for a tenant just created, which checks that no deleted tenant
 * holds its slug or name: DBE_DUP, and nothing counted, when one does
 * (tenant_archive_holds then says which).
 */
enum db_err	 tenant_list_created(struct db *, long long account,
		    long long pk, const struct tenant_input *);
/*
 * The same for tenant pk put back into tenants as it was (a restore of a
 * deleted tenant): its row says whether it is active and what its words are.
 */
enum db_err	 tenant_list_restored(struct db *, long long account,
		    long long pk);
/* The same for added active tenants of account from first_pk on. */
enum db_err	 tenant_list_seeded(struct db *, long long account,
		    long long first_pk, long long added);
/* The same for the tenant pk about to be deleted, as its row says. */
enum db_err	 tenant_list_removing(struct db *, long long account,
		    long long pk);
/*
 * The same for tenant pk whose row goes from old to v: a generation bump
 * (and a move of the active count) only if it may move in some listing,
 * its words indexed again if its name or description changed.
 */
enum db_err	 tenant_list_updated(struct db *, long long account,
		    long long pk, const char *const old[TC__MAX],
		    const char *const v[TC__MAX]);
/*
 * The number of tenants on the platform, locking the counts of all until
 * the transaction ends, so concurrent creates that check a limit against
 * it take turns.
 */
enum db_err	 tenant_list_total_locked(struct db *, long long *total);

#endif
