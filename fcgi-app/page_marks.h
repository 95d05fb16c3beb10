/*
 * Page marks: rows of a sorted listing whose positions a worker knows, so
 * a page far from both ends is read from the nearest of them with a range
 * condition on (sort key, primary key) and a short OFFSET, instead of an
 * OFFSET over every row before it.
 *
 * A listing is one (scope, sort) pair; both directions share it, since a
 * descending page is an ascending one counted from the other end.
 * Positions stay true only while no row of the scope is added, removed or
 * moved, so a listing is tied to the scope's list generation (gen in
 * tenant_counts, sql/0006) and its marks go when that changes.  Every read
 * that relies on them returns the generation it saw, and its result is
 * used only if that is the one the marks are of.
 *
 * Marks sit on a grid (every G-th row; G grows with the listing so that it
 * never holds more than PM_MARKS_MAX) and are made on demand.  The first
 * deep page that has none near it reads one (a single jump to page 40,000
 * costs no more than it did without marks); the next such page in the same
 * generation whose mark is far (more than beyond rows from a known row)
 * reads the whole grid in one pass over the sort's index, since a listing
 * read deep twice is usually read deep often (an admin console paging, a
 * client walking a filter), and thousands of single marks, each a long
 * skip, cost far more than one pass (not on a listing whose generation
 * before served few pages from its marks: no pass then).  Marks that go
 * stale before they serve a page mean the listing changes faster than it
 * is read deep: its long reads then go without new marks for a while
 * (PM_REST of them).  The least recently used listings go when the
 * worker's memory budget is spent.  Nothing here touches the database.
 *
 * A change need not cost the marks: the database logs each change with
 * the row's sort keys before and after (sql/0022), and the generation is
 * the sum of PM_PARTS counters, each counting its own changes in turn, so
 * the changes since a listing's generation are exactly the log's rows
 * past its counters.  Given those, a listing moves to the new generation
 * with every mark shifted by the rows that entered or left before it
 * (page_marks_rebase_*), instead of being read again.  Keys ordered by a
 * collation are compared by its weights (a prefix of them); a change that
 * the prefixes cannot place, or a log that is not whole, drops the marks
 * as before.
 */
#ifndef PAGE_MARKS_H
#define PAGE_MARKS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Per listing: 50-150 kB for one read whole (keys, and weights for names),
 * so a worker's default budget holds a dozen or more; a page then skips at most a 2048th of its listing after
 * its mark (490 index entries at 1,000,000 rows, a fraction of a ms).
 */
#define PM_MARKS_MAX	2048
#define PM_LISTINGS	32	/* per worker: 5 sorts x 3 isActive values, a few scopes */
#define PM_REST		16	/* long reads without marks after vain ones */
#define PM_PASS_SERVED	32	/* pages a generation served, so the next may pass */
#define PM_PASS_SHARE	64	/* no pass for a mark nearer than total / this */
#define PM_PARTS	8	/* counters whose sum is the generation */
#define PM_WEIGHT_MAX	64	/* bytes of collation weights kept per mark */

/*
 * A row's sort key: its bytes, and for an order by a collation its
 * weights (WEIGHT_STRING; more than PM_WEIGHT_MAX bytes are cut there).
 */
struct pm_key {
	const char	*key;		/* NULL: SQL NULL, or a sort by pk */
	size_t		 len;
	const char	*weight;	/* NULL: the key's bytes order it */
	size_t		 wlen;
};

/* One side of a logged change: the row before or after it. */
struct pm_side {
	bool		 in;		/* the row is in the listing */
	long long	 pk;
	struct pm_key	 k;
};

/* A row in ascending order: its position, primary key and sort key. */
struct pm_mark {
	long long	 pos;		/* 0-based */
	long long	 pk;
	const char	*key;		/* NULL: SQL NULL, or a sort by pk */
	size_t		 len;
};

enum pm_anchor {
	PM_START,	/* before the first row */
	PM_END,		/* after the last row */
	PM_MARK,
};

/* One read: skip rows beyond an anchor, then take count of them. */
struct pm_read {
	enum pm_anchor	 anchor;
	struct pm_mark	 mark;		/* PM_MARK: the row to read beyond */
	bool		 forward;	/* ascending, away from PM_START */
	long long	 skip;
	long long	 count;
	/*
	 * Relies on the listing's total or marks: the rows are right only if
	 * the read saw the generation they are of.
	 */
	bool		 needs_gen;
	long long	 pos;		/* PM_NEED_MARK: the position read */
};

enum pm_next {
	PM_READ,	/* read page */
	PM_NEED_COUNT,	/* read the total and generation, then plan again */
	PM_NEED_MARK,	/* read mark, hand it to page_marks_found, plan again */
	PM_NEED_GRID,	/* read every row in order (page_marks_grid_*), plan again */
	PM_EMPTY,	/* past the end (of a total read by this request) */
};

struct page_marks;

/*
 * beyond: a page starting at most this many rows from the end its order
 * starts at is read from there, which needs no total; every: the smallest
 * grid step, so the most rows any other page skips after its mark;
 * memory: the worker's budget in bytes (0: no marks, such pages are read
 * from the nearer end).
 */
void		 page_marks_setup(long every, long beyond, size_t memory);
/* The listing of (scope, sort), new and unknown if it was not kept. */
struct page_marks *page_marks_get(long long scope, int sort);
bool		 page_marks_known(const struct page_marks *);
long long	 page_marks_gen(const struct page_marks *);
long long	 page_marks_total(const struct page_marks *);
/* Drops the marks unless gen is the one they are of. */
void		 page_marks_update(struct page_marks *, long long gen,
		    long long total);
/*
 * How to read rows offset .. offset + limit - 1 of the listing in the
 * given direction.  fresh: the listing's total was read by this request,
 * so a long read may rely on it.  page is always the best read without a
 * new mark; mark, unless NULL (no new mark wanted), is filled for
 * PM_NEED_MARK.
 */
enum pm_next	 page_marks_plan(struct page_marks *, bool desc,
		    long long offset, long long limit, bool fresh,
		    struct pm_read *page, struct pm_read *mark);
/*
 * The row a mark read found, in a snapshot of gen and total.  The listing
 * moves to gen; the row is kept when its place is certain there (counted
 * from an end it is, from a mark only in the generation of that mark):
 * 0 kept, -1 not.
 */
int		 page_marks_found(struct page_marks *, const struct pm_read *,
		    long long gen, long long total, long long pk,
		    const struct pm_key *);
/*
 * The gen and total a page read saw; true when its rows are the page.
 * One that relied on marks of another generation is not; one that relied
 * only on a total read earlier by the same request is taken, as pages
 * were before marks (a change between the two statements shifts it).
 */
bool		 page_marks_settle(struct page_marks *, const struct pm_read *,
		    bool fresh, long long gen, long long total);
/*
 * A pass over the whole listing in ascending order, in one snapshot of gen
 * and total: begin with those, then hand each row with its position to
 * grid_row, which keeps those on the grid; -1 when no more can be kept.
 */
void		 page_marks_grid_begin(struct page_marks *, long long gen,
		    long long total);
int		 page_marks_grid_row(struct page_marks *, long long pos,
		    long long pk, const struct pm_key *);
/* Keeps the row at pos (a copy of its key); -1 when over budget. */
int		 page_marks_add(struct page_marks *, long long pos,
		    long long pk, const struct pm_key *);
/*
 * The counters of gen (a statement's snapshot), kept with the marks while
 * they are of gen; NULL when the listing has no marks or no counters.
 */
void		 page_marks_set_parts(struct page_marks *, long long gen,
		    const long long parts[PM_PARTS]);
const long long	*page_marks_parts(const struct page_marks *);
/*
 * Moving the marks to a later generation: begin (-1: nothing to move),
 * then every change logged since, in any order, as the row was and is
 * (-1: it cannot be placed; go on to end anyway), then end with their
 * number and the snapshot they were read in.  True when the marks are of
 * gen now; otherwise the listing is at gen without marks.
 */
int		 page_marks_rebase_begin(struct page_marks *);
int		 page_marks_rebase_row(struct page_marks *,
		    const struct pm_side *was, const struct pm_side *is);
bool		 page_marks_rebase_end(struct page_marks *, long long changes,
		    long long gen, long long total,
		    const long long parts[PM_PARTS]);
/* Bytes the listings hold (for tests). */
size_t		 page_marks_memory(void);
/* Forgets every listing. */
void		 page_marks_clear(void);

#endif
