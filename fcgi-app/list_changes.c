#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "list_changes.h"
#include "metrics.h"

/*
 * A rebase reads at most this many changes: beyond, reading the listing
 * again costs about as much (a pass is about 1 µs a row at 1,000,000).
 */
#define REBASE_MAX	50000

/* The row as it is now, or none. */
#define ROW	"t.is_active, t.name, t.slug, t.valid_upto, t.consented_at"
#define NONE	"NULL, NULL, NULL, NULL, NULL"
#define INTO "INSERT INTO tenant_list_changes (account_id, shard, gen, " \
	"tenant_pk, was_active, old_name, old_slug, old_valid_upto, " \
	"old_consented_at, is_active, new_name, new_slug, new_valid_upto, " \
	"new_consented_at, changed_at) "
#define LOG(was, is) INTO "SELECT c.account_id, c.shard, c.gen, t.pk, " \
	was ", " is ", UTC_TIMESTAMP() FROM tenant_counts c " \
	"JOIN tenants t ON t.pk = ? WHERE c.account_id = ? AND c.shard = ?"

/*
 * A create's row is as the worker inserted it, and its generation is the
 * one the bump before set (LAST_INSERT_ID, tenant_list.c): no read of
 * tenants or tenant_counts.  The check that no deleted tenant holds its
 * slug or name rides along as two unique-key lookups, current reads (an
 * INSERT ... SELECT locks what it reads under REPEATABLE READ; under READ
 * COMMITTED each statement sees the latest commit): a delete that held
 * the slug or name until the insert could take it has committed by now.
 */
static const char sql_created[] = INTO "SELECT ?, ?, LAST_INSERT_ID(), ?, "
    NONE ", ?, ?, ?, ?, ?, UTC_TIMESTAMP() FROM DUAL WHERE NOT EXISTS "
    "(SELECT 1 FROM tenants_deleted d WHERE d.slug = ?) AND NOT EXISTS "
    "(SELECT 1 FROM tenants_deleted d WHERE d.name = ?)";

static const char *const sql_log[LC__MAX] = {
	[LC_CAME] = LOG(NONE, ROW),
	[LC_CREATED] = sql_created,
	[LC_GOING] = LOG(ROW, NONE),
	[LC_MOVED] = LOG("?, ?, ?, ?, ?", ROW),
};

/*
 * Marks older than this are not moved but read again: by then a busy
 * account has changed more than a rebase reads, and a quiet one's marks
 * were long used.  Oldest first, a batch a statement (short locks beside
 * live writes), up to PURGE_BATCHES a call: 100,000 rows each purge
 * interval (10 s by default) is ten times the create rate.
 */
static const char sql_purge[] =
    "DELETE FROM tenant_list_changes WHERE changed_at < UTC_TIMESTAMP() - "
    "INTERVAL 10 MINUTE ORDER BY changed_at LIMIT 1000";
#define PURGE_BATCH	1000
#define PURGE_BATCHES	100

/* The columns LC_MOVED takes from before and LC_CREATED after, in order. */
static const enum tcol row_cols[] = {
	TC_IS_ACTIVE, TC_NAME, TC_SLUG, TC_VALID_UPTO, TC_CONSENTED_AT,
};
#define ROW_COLS	(sizeof(row_cols) / sizeof(row_cols[0]))

enum db_err
list_changes_log(struct db *db, long long account, long long shard,
    long long pk, enum lc_kind kind, const char *const v[TC__MAX])
{
	struct db_param	 p[ROW_COLS + 5];
	size_t		 i, n = 0;
	enum db_err	 e;

	if (kind == LC_CREATED) {
		p[n++] = DB_I64(account);
		p[n++] = DB_I64(shard);
		p[n++] = DB_I64(pk);
		for (i = 0; i < ROW_COLS; i++)
			p[n++] = DB_STR(v[row_cols[i]]);
		p[n++] = DB_STR(v[TC_SLUG]);
		p[n++] = DB_STR(v[TC_NAME]);
		if ((e = db_exec(db, sql_log[kind], p, n, NULL)) != DBE_OK)
			return e;
		return db_affected(db) == 0 ? DBE_DUP : DBE_OK;
	}
	if (kind == LC_MOVED)
		for (i = 0; i < ROW_COLS; i++)
			p[n++] = DB_STR(v[row_cols[i]]);
	p[n++] = DB_I64(pk);
	p[n++] = DB_I64(account);
	p[n++] = DB_I64(shard);
	return db_exec(db, sql_log[kind], p, n, NULL);
}

int
list_changes_purge(struct db *db)
{
	return db_purge(db, sql_purge, PURGE_BATCH, PURGE_BATCHES);
}

void
list_changes_parts(const char *s, long long parts[PM_PARTS])
{
	char		*end;
	long		 shard;
	long long	 gen;

	memset(parts, 0, PM_PARTS * sizeof(parts[0]));
	while (s != NULL && *s != '\0') {
		shard = strtol(s, &end, 10);
		if (*end != ':')
			return;
		gen = strtoll(end + 1, &end, 10);
		if (shard >= 0 && shard < PM_PARTS)
			parts[shard] = gen;
		s = *end == ',' ? end + 1 : NULL;
	}
}

/*
 * The changes past parts, with the snapshot's total, generation and
 * parts in every row; one row of NULL changes when there is none (the
 * LEFT JOIN), so the snapshot always comes.  Columns: total, gen, parts,
 * pk, then was_active, key, weights before and is_active, key, weights
 * after (the weights of the first PM_WEIGHT_MAX bytes and one more
 * weight, which tells a cut).
 */
static size_t
build(const char *col, bool weighed, const char *seen, long long account,
    const long long parts[PM_PARTS], char *sql, size_t len, struct db_param *p)
{
	char		 side[2][160];
	const char	*when[2] = { "old", "new" };
	size_t		 i, n = 0, o;

	for (i = 0; i < 2; i++) {
		if (col == NULL)
			snprintf(side[i], sizeof(side[i]), "NULL, NULL");
		else if (weighed)
			snprintf(side[i], sizeof(side[i]), "l.%s_%s, "
			    "LEFT(WEIGHT_STRING(l.%s_%s), %d)", when[i], col,
			    when[i], col, PM_WEIGHT_MAX + 2);
		else
			snprintf(side[i], sizeof(side[i]), "l.%s_%s, NULL",
			    when[i], col);
	}
	o = (size_t)snprintf(sql, len, "SELECT %s, " LIST_CHANGES_PARTS ", "
	    "l.tenant_pk, l.was_active, %s, l.is_active, %s FROM (SELECT 1) "
	    "one LEFT JOIN tenant_list_changes l ON l.account_id = ? AND (",
	    seen, side[0], side[1]);
	p[n++] = DB_I64(account);
	p[n++] = DB_I64(account);
	p[n++] = DB_I64(account);
	p[n++] = DB_I64(account);
	for (i = 0; i < PM_PARTS && o < len; i++) {
		o += (size_t)snprintf(sql + o, len - o, "%s(l.shard = ? AND "
		    "l.gen > ?)", i > 0 ? " OR " : "");
		p[n++] = DB_I64((long long)i);
		p[n++] = DB_I64(parts[i]);
	}
	if (o < len)
		snprintf(sql + o, len - o, ") LIMIT ?");
	p[n++] = DB_I64(REBASE_MAX + 1);
	return n;
}

/* One side of a change: columns at from are its is_active, key, weights. */
static void
side_from(const struct db_row *row, size_t from, bool keyed, bool weighed,
    int activity, long long pk, struct pm_side *s)
{
	const char	*active = row->v[from];

	s->in = active != NULL && (activity == 0 ||
	    (activity == 2) == (strcmp(active, "0") != 0));
	s->pk = pk;
	s->k.key = keyed ? row->v[from + 1] : NULL;
	s->k.len = s->k.key != NULL ? row->len[from + 1] : 0;
	s->k.weight = weighed ? row->v[from + 2] : NULL;
	s->k.wlen = s->k.weight != NULL ? row->len[from + 2] : 0;
}

int
list_changes_rebase(struct db *db, struct page_marks *pm, long long account,
    enum tcol key, int activity, const char *seen)
{
	const long long	*was = page_marks_parts(pm);
	const char	*col = key == TC_PK ? NULL : tcols[key].sql;
	bool		 weighed = col != NULL && tcols[key].type == FT_STR;
	struct db_param	 p[5 + 2 * PM_PARTS];
	struct db_res	*res = NULL;
	struct db_row	 row;
	struct pm_side	 before, after;
	long long	 parts[PM_PARTS], gen = -1, total = -1, changes = 0, pk;
	char		 sql[2048];
	size_t		 n;
	int		 rc;

	if (account == 0 || was == NULL || page_marks_rebase_begin(pm) == -1)
		return -1;
	metrics_count(MC_MARK_REBASE);
	n = build(col, weighed, seen, account, was, sql, sizeof(sql), p);
	rc = db_stream(db, sql, p, n, &res) == DBE_OK ? 1 : -1;
	while (rc == 1 && (rc = db_next(res, &row)) == 1) {
		if (gen == -1) {
			if (row.v[0] == NULL || row.v[1] == NULL)
				break;
			total = strtoll(row.v[0], NULL, 10);
			gen = strtoll(row.v[1], NULL, 10);
			list_changes_parts(row.v[2], parts);
		}
		if (row.v[3] == NULL)
			continue;	/* no change: the LEFT JOIN's row */
		changes++;
		pk = strtoll(row.v[3], NULL, 10);
		side_from(&row, 4, col != NULL, weighed, activity, pk, &before);
		side_from(&row, 7, col != NULL, weighed, activity, pk, &after);
		(void)page_marks_rebase_row(pm, &before, &after);
	}
	db_res_free(res);
	if (rc != 0 || gen == -1)
		changes = -1;	/* an error or no snapshot: the marks go */
	if (gen == -1) {
		gen = page_marks_gen(pm);
		total = page_marks_total(pm);
		memcpy(parts, was, sizeof(parts));
	}
	if (page_marks_rebase_end(pm, changes, gen, total, parts))
		return 0;
	metrics_count(MC_MARK_DROPPED);
	return -1;
}
