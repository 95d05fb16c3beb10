/*
 * The log of the changes behind each account's list generation
 * (sql/0022), and the page-mark rebase that reads it: a worker's marks of
 * an older generation are shifted by the rows that entered or left before
 * them, rather than read again (page_marks.h).
 */
#ifndef LIST_CHANGES_H
#define LIST_CHANGES_H

#include "db.h"
#include "page_marks.h"
#include "tenant_model.h"

/*
 * The per-shard generations of an account ("shard:gen,..."), as a column
 * of a statement whose snapshot they are; one parameter, the account.
 */
#define LIST_CHANGES_PARTS "(SELECT GROUP_CONCAT(c.shard, ':', c.gen) " \
	"FROM tenant_counts c WHERE c.account_id = ?)"

/* How a change touched the row: it came, is going, or changed in place. */
enum lc_kind {
	LC_CAME,	/* after its insert */
	LC_CREATED,	/* the same, unless a deleted tenant holds its names */
	LC_GOING,	/* before its delete */
	LC_MOVED,	/* after its update; old: the row's columns before */
	LC__MAX
};

/*
 * Logs the change of row pk of account under the shard whose generation
 * it just bumped, in the same transaction; v is the row's columns before
 * the change for LC_MOVED and as inserted for LC_CREATED.  LC_CREATED
 * logs nothing and is DBE_DUP when a deleted tenant (tenants_deleted)
 * holds the row's slug or name: a create's check for that, read after
 * its insert, without a statement of its own.
 */
enum db_err	 list_changes_log(struct db *, long long account, long long shard,
		    long long pk, enum lc_kind, const char *const v[TC__MAX]);
/* Deletes the changes too old to move marks by; how many, -1 on error. */
int		 list_changes_purge(struct db *);
/* parts from a LIST_CHANGES_PARTS column (NULL: no counters, all 0). */
void		 list_changes_parts(const char *, long long parts[PM_PARTS]);
/*
 * Moves pm, a listing of account in the order of key (TC_PK: by primary
 * key) over rows of activity (0 all, 1 inactive, 2 active), to the
 * generation now, from the log; seen is the listing's total and
 * generation as two columns with one parameter each, the account.  0 when
 * its marks are of the new generation, -1 when not (none to move, a log
 * that is not whole, an error: the listing then has no marks).
 */
int		 list_changes_rebase(struct db *, struct page_marks *,
		    long long account, enum tcol key, int activity,
		    const char *seen);

#endif
