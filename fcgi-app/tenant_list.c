#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysqld_error.h>

#include "list_changes.h"
#include "metrics.h"
#include "page_marks.h"
#include "probe_cache.h"
#include "tenant_list.h"

/*
 * Statements one unfiltered page may take (a count, a mark, the page,
 * and again after a change in the account) before it is read the way
 * that needs no plan.
 */
#define PLAN_STEPS	8

/* A LIKE pattern for 200 characters of up to 4 bytes, each escaped. */
#define LIKE_MAX	(2 * 800 + 3)
/*
 * Words as tenant_words holds them (sql/0011): 3 to 84 characters.  A
 * filter looks up at most TERMS of its words there.
 */
#define TERM_CHARS_MIN	3
#define TERM_CHARS_MAX	84
#define TERMS		4
/* A word's prefix pattern: 84 characters of up to 4 bytes, escaped, "%". */
#define TERM_MAX	(2 * 4 * TERM_CHARS_MAX + 2)
/*
 * A word prefix held by WORD_COMMON or more rows of tenant_words is
 * common: reading its rows (and sorting them) would cost more than
 * reading the listing in its order and trying each row, which finds a
 * page of a common word after a few of its rows.  A probe counts at most
 * this many, so it costs a few milliseconds at any size.
 */
#define WORD_COMMON	10000

/* A sort key of up to 200 characters of up to 4 bytes (a name, a slug). */
#define KEY_MAX		(4 * 200 + 1)

static long long	 scan_budget = 1000;

/*
 * The filters of a query as bound values: a LIKE pattern for each text
 * filter (q, description) and the word prefixes that narrow the rows it
 * is tried on; and how the rows are read.
 */
struct text {
	char	 like[2][LIKE_MAX];
	char	 terms[2][TERMS][TERM_MAX];
	char	 spaced[2][TERMS][TERM_MAX + 2];	/* "% " and the term */
	size_t	 nterms[2];
	bool	 match;		/* some filter has terms */
	/*
	 * No name, rare word or rare metadata pair to read the rows from:
	 * the listing is read in its order and each row tried.
	 */
	bool	 scan;
	/* ... only its rows before bound, scan_budget of them (scan_bound) */
	bool		 bounded;
	struct pm_read	 bound;
	char		 bound_key[KEY_MAX];
};

/*
 * A word: a run of ASCII letters, digits, "_" and non-ASCII characters
 * (the bytes the class excludes are ASCII's others).  The statement takes
 * the words of 3 or more characters off tenants' names and descriptions
 * one by one, as sql/0011 does for existing rows; tenantctl seed uses it.
 * One tenant's words are split here instead (word_next): the statement's
 * recursion goes through a temporary table on disk for long texts, which
 * halved the create rate.
 */
#define WORD_CLASS "[^\\\\x00-\\\\x2F\\\\x3A-\\\\x40\\\\x5B-\\\\x5E" \
	"\\\\x60\\\\x7B-\\\\x7F]{3,}"
#define SQL_WORDS(where) \
    "INSERT IGNORE INTO tenant_words (account_id, word, tenant_pk) " \
    "SELECT acc, word, pk FROM (WITH RECURSIVE w (pk, acc, rest, word) AS (" \
    "SELECT pk, account_id, CAST(CONCAT(name, ' ', " \
    "COALESCE(description, '')) AS CHAR(2300)), CAST('' AS CHAR(84)) " \
    "FROM tenants WHERE " where " UNION ALL " \
    "SELECT pk, acc, REGEXP_REPLACE(rest, '(?s)^.*?" WORD_CLASS "', ''), " \
    "LEFT(REGEXP_SUBSTR(rest, '" WORD_CLASS "'), 84) FROM w " \
    "WHERE rest REGEXP '" WORD_CLASS "') " \
    "SELECT acc, word, pk FROM w WHERE word <> '') x"

static const char sql_words_from[] = SQL_WORDS("account_id = ? AND pk >= ?");
/*
 * Up to WORDS_ROWS words a statement, one statement for each number of
 * them: padding a statement with repeats of its last word cost InnoDB a
 * duplicate-key probe and a foreign-key check for every repeat.
 */
#define WORDS_ROWS	8
#define WORDS_ADD	"INSERT IGNORE INTO tenant_words (account_id, word, " \
			"tenant_pk) VALUES (?, ?, ?)"
#define WORDS_ROW	", (?, ?, ?)"
static const char *const sql_words_add[WORDS_ROWS + 1] = {
	[1] = WORDS_ADD,
	[2] = WORDS_ADD WORDS_ROW,
	[3] = WORDS_ADD WORDS_ROW WORDS_ROW,
	[4] = WORDS_ADD WORDS_ROW WORDS_ROW WORDS_ROW,
	[5] = WORDS_ADD WORDS_ROW WORDS_ROW WORDS_ROW WORDS_ROW,
	[6] = WORDS_ADD WORDS_ROW WORDS_ROW WORDS_ROW WORDS_ROW WORDS_ROW,
	[7] = WORDS_ADD WORDS_ROW WORDS_ROW WORDS_ROW WORDS_ROW WORDS_ROW
	    WORDS_ROW,
	[8] = WORDS_ADD WORDS_ROW WORDS_ROW WORDS_ROW WORDS_ROW WORDS_ROW
	    WORDS_ROW WORDS_ROW,
};
static const char sql_words_drop[] =
    "DELETE FROM tenant_words WHERE tenant_pk = ?";

static const struct {
	const char	*col;		/* NULL: the primary key alone */
	enum tcol	 key;		/* the column col reads */
	const char	*index;		/* whose order it is, all accounts */
	const char	*global_active_index; /* ... of one isActive (0012) */
	const char	*scoped_index;	/* the same within one account */
	const char	*active_index;	/* ... and one isActive value (0010) */
} sorts[TSORT__MAX] = {
	[TSORT_CREATED] = { NULL, TC_PK, "PRIMARY", "ix_tenants_active",
	    "ix_tenants_account", "ix_tenants_account_active" },
	[TSORT_NAME] = { "t.name", TC_NAME, "ux_tenants_name",
	    "ix_tenants_active_name", "ix_tenants_account_name",
	    "ix_tenants_account_active_name" },
	[TSORT_SLUG] = { "t.slug", TC_SLUG, "ux_tenants_slug",
	    "ix_tenants_active_slug", "ix_tenants_account_slug",
	    "ix_tenants_account_active_slug" },
	[TSORT_VALID_UPTO] = { "t.valid_upto", TC_VALID_UPTO,
	    "ix_tenants_valid_upto", "ix_tenants_active_valid_upto",
	    "ix_tenants_account_valid_upto",
	    "ix_tenants_account_active_valid_upto" },
	[TSORT_CONSENTED] = { "t.consented_at", TC_CONSENTED_AT,
	    "ix_tenants_consented", "ix_tenants_active_consented",
	    "ix_tenants_account_consented",
	    "ix_tenants_account_active_consented" },
};

/*
 * The total of a listing by its isActive filter (-1 none, 0, 1), from
 * the sums of n and active over the scope's rows of tenant_counts.
 */
#define N_ANY		"SUM(c.n)"
#define N_INACTIVE	"SUM(c.n - c.active)"
#define N_ACTIVE	"SUM(c.active)"
#define ACTIVITY(q)	((q)->is_active < 0 ? 0 : (q)->is_active ? 2 : 1)

static const char *const sql_counts[3] = {
#define COUNTS(n) "SELECT COALESCE(" n ", 0), COALESCE(SUM(c.gen), 0) " \
	"FROM tenant_counts c WHERE c.account_id = ?"
	COUNTS(N_ANY), COUNTS(N_INACTIVE), COUNTS(N_ACTIVE)
#undef COUNTS
};
static const char sql_total_locked[] =
    "SELECT COALESCE(SUM(n), 0) FROM tenant_counts WHERE account_id = 0 "
    "FOR UPDATE";
/*
 * The account's row and the all-accounts row (account 0) in one
 * statement: a create is seven round trips, and this was two of them.
 * The account row's new gen is left in LAST_INSERT_ID() for the change
 * log (list_changes.c), which then need not read it.
 */
static const char sql_changed[] =
    "INSERT INTO tenant_counts (account_id, shard, n, active, gen) "
    "VALUES (?, ?, ?, ?, LAST_INSERT_ID(1)), (0, ?, ?, ?, 1) "
    "ON DUPLICATE KEY UPDATE n = n + VALUES(n), "
    "active = active + VALUES(active), "
    "gen = IF(account_id = 0, gen + 1, LAST_INSERT_ID(gen + 1))";
/* The same for a row about to go, its activity read in the statement. */
static const char sql_removing[] =
    "INSERT INTO tenant_counts (account_id, shard, n, active, gen) "
    "SELECT * FROM (SELECT ? AS d_account, ? AS d_shard, -1 AS d_n, "
    "-t.is_active AS d_active, 1 AS d_gen "
    "FROM tenants t WHERE t.pk = ? UNION ALL "
    "SELECT 0, ?, -1, -t.is_active, 1 FROM tenants t WHERE t.pk = ?) d "
    "ON DUPLICATE KEY UPDATE n = n + VALUES(n), "
    "active = active + VALUES(active), gen = gen + 1";

/* The same two as columns of a statement that reads rows, in its snapshot. */
static const char *const seen_columns[3] = {
#define SEEN(n) "(SELECT COALESCE(" n ", 0) FROM tenant_counts c " \
	"WHERE c.account_id = ?), " \
	"(SELECT COALESCE(SUM(c.gen), 0) FROM tenant_counts c " \
	"WHERE c.account_id = ?)"
	SEEN(N_ANY), SEEN(N_INACTIVE), SEEN(N_ACTIVE)
#undef SEEN
};

/* A scope's total and list generation, as one statement saw them. */
struct seen {
	long long	 total;
	long long	 gen;
};

enum rkind {
	RK_PAGE,	/* the page's rows */
	RK_PAGE_SEEN,	/* the same, each followed by the seen columns */
	RK_MARK,	/* one row's sort key and primary key, and the seen ones */
};

/* 1 for a tenant whose is_active column is v, else 0. */
static long long
active(const char *v)
{
	return v != NULL && strcmp(v, "0") != 0;
}

static enum db_err
failed(struct db *db)
{
	enum db_err	 e = db_classify(db_errno(db));

	return e == DBE_OK ? DBE_OTHER : e;
}

static int
seen_from(const struct db_row *row, size_t at, struct seen *s)
{
	if (row->n < at + 2 || row->v[at] == NULL || row->v[at + 1] == NULL)
		return -1;
	s->total = strtoll(row->v[at], NULL, 10);
	s->gen = strtoll(row->v[at + 1], NULL, 10);
	return 0;
}

static enum db_err
read_counts(struct db *db, const struct tenant_query *q, struct seen *s)
{
	struct db_param	 p[] = { DB_I64(q->scope) };
	struct db_row	 row;
	struct db_res	*res;
	int		 rc;

	rc = db_one(db, sql_counts[ACTIVITY(q)], p, 1, &row, &res);
	if (rc == 1 && seen_from(&row, 0, s) == -1)
		rc = -1;
	db_res_free(res);
	return rc == 1 ? DBE_OK : failed(db);
}

/* LIKE pattern for a substring: %, _ and the escape itself are literal. */
static void
like_pattern(const char *q, char *out, size_t len)
{
	size_t	 o = 0;

	out[o++] = '%';
	for (; *q != '\0' && o + 3 < len; q++) {
		if (*q == '%' || *q == '_' || *q == '\\')
			out[o++] = '\\';
		out[o++] = *q;
	}
	out[o++] = '%';
	out[o] = '\0';
}

static void
append(char *sql, size_t len, const char *s)
{
	strncat(sql, s, len - strlen(sql) - 1);
}

static bool
word_byte(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z') || c == '_' || c >= 0x80;
}

/*
 * The words of f that tenant_words holds (TERM_CHARS_MIN to TERM_CHARS_MAX
 * characters), the first TERMS of them, as LIKE patterns of their prefix.
 */
static size_t
search_terms(const char *f, char terms[TERMS][TERM_MAX])
{
	const char	*w;
	size_t		 n = 0, o, chars;

	while (*f != '\0' && n < TERMS) {
		if (!word_byte((unsigned char)*f)) {
			f++;
			continue;
		}
		for (w = f, chars = 0; word_byte((unsigned char)*f); f++)
			if (((unsigned char)*f & 0xC0) != 0x80)
				chars++;
		if (chars < TERM_CHARS_MIN || chars > TERM_CHARS_MAX)
			continue;
		for (o = 0; w < f; w++) {
			if (*w == '_')
				terms[n][o++] = '\\';
			terms[n][o++] = *w;
		}
		terms[n][o++] = '%';
		terms[n++][o] = '\0';
	}
	return n;
}

/* The probes of a word and a metadata pair, over all accounts [0] or one [1]. */
static const char *const sql_term_common[2] = {
	"SELECT COUNT(*) FROM (SELECT 1 FROM tenant_words w "
	    "WHERE w.word LIKE ? LIMIT ?) x",
	"SELECT COUNT(*) FROM (SELECT 1 FROM tenant_words w "
	    "WHERE w.account_id = ? AND w.word LIKE ? LIMIT ?) x",
};
static const char *const sql_pair_common[2] = {
	"SELECT COUNT(*) FROM (SELECT 1 FROM tenant_metadata m "
	    "WHERE m.k = ? AND m.v = ? LIMIT ?) x",
	"SELECT COUNT(*) FROM (SELECT 1 FROM tenant_metadata m "
	    "WHERE m.account_id = ? AND m.k = ? AND m.v = ? LIMIT ?) x",
};

/*
 * Whether the probe finds WORD_COMMON or more rows of the word or pair
 * (one or two values) within q's scope: 1, 0, -1.
 */
static int
common(struct db *db, const struct tenant_query *q,
    const char *const sql[2], const char *v1, const char *v2)
{
	struct db_param	 p[4];
	struct db_row	 row;
	struct db_res	*res;
	size_t		 n = 0;
	int		 rc;

	if ((rc = probe_cache_get(q->scope, v1, v2)) != -1)
		return rc;
	if (q->scope)
		p[n++] = DB_I64(q->scope);
	p[n++] = DB_STR(v1);
	if (v2 != NULL)
		p[n++] = DB_STR(v2);
	p[n++] = DB_I64(WORD_COMMON);
	rc = db_one(db, sql[q->scope != 0], p, n, &row, &res);
	if (rc == 1) {
		rc = strtoll(row.v[0], NULL, 10) >= WORD_COMMON;
		probe_cache_put(q->scope, v1, v2, rc == 1);
	} else
		rc = -1;
	db_res_free(res);
	return rc;
}

/*
 * q's filters.  A row matches a text filter when the column holds it as
 * a substring (LIKE) and, for each word of it tenant_words holds, a word
 * starting with that one (README: "Text search and filters").  When one
 * of those words, or one metadata pair, is rare, only the rows its index
 * names are tried; when all are common (or there are none, and no name),
 * the rows are read in the listing's order and each is tried (t->scan).
 */
static enum db_err
text_prepare(struct db *db, const struct tenant_query *q, struct text *t)
{
	const char	*f[2] = { q->q, q->description };
	size_t		 i, j;
	int		 rc;

	t->match = t->scan = t->bounded = false;
	for (i = 0; i < 2; i++) {
		t->nterms[i] = 0;
		if (f[i] == NULL)
			continue;
		like_pattern(f[i], t->like[i], sizeof(t->like[i]));
		t->nterms[i] = search_terms(f[i], t->terms[i]);
		t->match |= t->nterms[i] > 0;
		for (j = 0; j < t->nterms[i]; j++)
			snprintf(t->spaced[i][j], sizeof(t->spaced[i][j]),
			    "%% %s", t->terms[i][j]);
	}
	if (q->name != NULL)
		return DBE_OK;
	for (i = 0; i < 2; i++)
		for (j = 0; j < t->nterms[i]; j++)
			if ((rc = common(db, q, sql_term_common,
			    t->terms[i][j], NULL)) != 1)
				return rc == 0 ? DBE_OK : failed(db);
	for (i = 0; i < q->nmeta && i < TQ_META_MAX; i++)
		if ((rc = common(db, q, sql_pair_common, q->meta_key[i],
		    q->meta_value[i])) != 1)
			return rc == 0 ? DBE_OK : failed(db);
	t->scan = true;
	return DBE_OK;
}

/*
 * Terms a row-by-row test tries on the row's own text first: five values
 * each, which a statement's DB_PARAMS_MAX holds for this many.
 */
#define QUICK_TERMS	4

/*
 * The rows holding a word that starts with each of the terms of filter i:
 * a semi-join read from tenant_words, or for common words a test of each
 * row (a scalar subquery, which no optimiser turns into a semi-join).
 * The term at the start of the name or description, or after a space, is
 * such a word: that is tried first, on the row already read, so most
 * holders of a common word never run the subquery (15 us a row).
 */
static size_t
words_clause(const struct tenant_query *q, const struct text *t, size_t i,
    char *sql, size_t len, struct db_param *p)
{
	size_t	 j, n = 0;
	bool	 quick = t->nterms[0] + t->nterms[1] <= QUICK_TERMS;

	for (j = 0; j < t->nterms[i]; j++) {
		if (t->scan && quick) {
			append(sql, len, " AND (t.name LIKE ? OR t.name LIKE ? "
			    "OR t.description LIKE ? OR t.description LIKE ? "
			    "OR 0 < (SELECT COUNT(*) FROM tenant_words w WHERE "
			    "w.tenant_pk = t.pk AND w.word LIKE ?))");
			p[n++] = DB_STR(t->terms[i][j]);
			p[n++] = DB_STR(t->spaced[i][j]);
			p[n++] = DB_STR(t->terms[i][j]);
			p[n++] = DB_STR(t->spaced[i][j]);
		} else if (t->scan)
			append(sql, len, " AND 0 < (SELECT COUNT(*) FROM "
			    "tenant_words w WHERE w.tenant_pk = t.pk AND "
			    "w.word LIKE ?)");
		else if (q->scope) {
			append(sql, len, " AND t.pk IN (SELECT w.tenant_pk "
			    "FROM tenant_words w WHERE w.account_id = ? AND "
			    "w.word LIKE ?)");
			p[n++] = DB_I64(q->scope);
		} else
			append(sql, len, " AND t.pk IN (SELECT w.tenant_pk "
			    "FROM tenant_words w WHERE w.word LIKE ?)");
		p[n++] = DB_STR(t->terms[i][j]);
	}
	return n;
}

/*
 * A semi-join the optimiser can drive from tenant_metadata's (account,
 * key, value) or (key, value) index: the rows of a pair are read from
 * the index, not found by probing every tenant of the account.
 */
static size_t
where_metadata(const struct tenant_query *q, const struct text *t,
    char *sql, size_t len, struct db_param *p)
{
	size_t	 i, n = 0;

	for (i = 0; i < q->nmeta && i < TQ_META_MAX; i++) {
		/* Common pairs: each row tried by its primary key, as words. */
		if (t->scan) {
			append(sql, len, " AND 0 < (SELECT COUNT(*) FROM "
			    "tenant_metadata m WHERE m.tenant_id = t.pk AND "
			    "m.k = ? AND m.v = ?)");
			p[n++] = DB_STR(q->meta_key[i]);
			p[n++] = DB_STR(q->meta_value[i]);
			continue;
		}
		append(sql, len, " AND t.pk IN (SELECT m.tenant_id FROM "
		    "tenant_metadata m WHERE ");
		if (q->scope) {
			append(sql, len, "m.account_id = ? AND ");
			p[n++] = DB_I64(q->scope);
		}
		append(sql, len, "m.k = ? AND m.v = ?)");
		p[n++] = DB_STR(q->meta_key[i]);
		p[n++] = DB_STR(q->meta_value[i]);
	}
	return n;
}

static size_t	 seek(const struct tenant_query *, const struct pm_read *,
		    char *, size_t, struct db_param *);

/*
 * Appends the WHERE clause for q to sql and its values to p.  Column
 * names come from this file only; every value is a bound parameter.  The
 * cheap LIKE of a text filter goes before its word test, which a row it
 * rejects then never runs.
 */
static size_t
where_clause(const struct tenant_query *q, char *sql, size_t len,
    struct db_param *p, const struct text *t)
{
	size_t	 n = 0;

	append(sql, len, " WHERE 1 = 1");
	if (q->scope) {
		append(sql, len, " AND t.account_id = ?");
		p[n++] = DB_I64(q->scope);
	}
	if (q->name != NULL) {
		append(sql, len, " AND t.name = ?");
		p[n++] = DB_STR(q->name);
	}
	if (q->is_active >= 0) {
		append(sql, len, " AND t.is_active = ?");
		p[n++] = DB_I64(q->is_active);
	}
	if (t->bounded)
		n += seek(q, &t->bound, sql, len, p + n);
	if (q->q != NULL) {
		append(sql, len, " AND (t.name LIKE ? OR t.description LIKE ?)");
		p[n++] = DB_STR(t->like[0]);
		p[n++] = DB_STR(t->like[0]);
		n += words_clause(q, t, 0, sql, len, p + n);
	}
	if (q->description != NULL) {
		append(sql, len, " AND t.description LIKE ?");
		p[n++] = DB_STR(t->like[1]);
		n += words_clause(q, t, 1, sql, len, p + n);
	}
	n += where_metadata(q, t, sql, len, p + n);
	return n;
}

/*
 * Appends the rows beyond r's mark in the order (col, pk), NULL first,
 * as a range the sort's index answers.  With <=> NULL rather than IS
 * NULL: MariaDB sorts the rows of an IS NULL range again, not these.
 */
static size_t
seek(const struct tenant_query *q, const struct pm_read *r, char *sql,
    size_t len, struct db_param *p)
{
	const char	*c = sorts[q->sort].col, *op = r->forward ? ">" : "<";
	bool		 nulls = tcols[sorts[q->sort].key].nullable;
	size_t		 n = strlen(sql);

	if (r->anchor != PM_MARK)
		return 0;
	if (c == NULL) {
		snprintf(sql + n, len - n, " AND t.pk %s ?", op);
		p[0] = DB_I64(r->mark.pk);
		return 1;
	}
	if (r->mark.key == NULL) {
		if (r->forward)
			snprintf(sql + n, len - n, " AND ((%s <=> NULL AND "
			    "t.pk > ?) OR %s IS NOT NULL)", c, c);
		else
			snprintf(sql + n, len - n, " AND %s <=> NULL AND "
			    "t.pk < ?", c);
		p[0] = DB_I64(r->mark.pk);
		return 1;
	}
	snprintf(sql + n, len - n, " AND (%s %s ? OR (%s = ? AND t.pk %s ?)%s%s%s)",
	    c, op, c, op, nulls && !r->forward ? " OR " : "",
	    nulls && !r->forward ? c : "",
	    nulls && !r->forward ? " <=> NULL" : "");
	p[0] = DB_STRN(r->mark.key, r->mark.len);
	p[1] = DB_STRN(r->mark.key, r->mark.len);
	p[2] = DB_I64(r->mark.pk);
	return 3;
}

static void
order_by(const struct tenant_query *q, bool desc, char *sql, size_t len)
{
	const char	*dir = desc ? " DESC" : " ASC";
	size_t		 n = strlen(sql);

	if (sorts[q->sort].col != NULL)
		snprintf(sql + n, len - n, " ORDER BY %s%s, t.pk%s",
		    sorts[q->sort].col, dir, dir);
	else
		snprintf(sql + n, len - n, " ORDER BY t.pk%s", dir);
}

/* The index in q's order, within its scope and isActive value. */
static const char *
index_of(const struct tenant_query *q)
{
	if (!q->scope)
		return q->is_active < 0 ? sorts[q->sort].index :
		    sorts[q->sort].global_active_index;
	return q->is_active < 0 ? sorts[q->sort].scoped_index :
	    sorts[q->sort].active_index;
}

/*
 * The index in q's order, for a read that tries the rows in that order
 * (no name, metadata or rare word to read them from instead): the
 * optimiser tends to pick any (account_id, ...) index and sort, or to
 * intersect two of them.
 */
static void
force_index(const struct tenant_query *q, const struct text *t, char *sql,
    size_t len)
{
	if (!t->scan)
		return;
	append(sql, len, " FORCE INDEX (");
	append(sql, len, index_of(q));
	append(sql, len, ")");
}

/*
 * Whether q's marks keep weights to place logged changes by: an order by
 * a collation, in one account (page_marks.h; the listings of all accounts
 * are not moved).
 */
static bool
weighed(const struct tenant_query *q)
{
	return q->scope != 0 && sorts[q->sort].col != NULL &&
	    tcols[sorts[q->sort].key].type == FT_STR;
}

/*
 * The RK_MARK columns after the seen ones: the key's weights (the first
 * PM_WEIGHT_MAX bytes and one weight more, which tells a cut) and the
 * snapshot's per-shard generations (one parameter, the account).
 */
static void
mark_columns(const struct tenant_query *q, char *out, size_t len)
{
	if (weighed(q))
		snprintf(out, len, "LEFT(WEIGHT_STRING(%s), %d), %s",
		    sorts[q->sort].col, PM_WEIGHT_MAX + 2, LIST_CHANGES_PARTS);
	else
		snprintf(out, len, "NULL, %s", q->scope ? LIST_CHANGES_PARTS :
		    "NULL");
}

/*
 * A page this near where its read starts is read directly: the deferred
 * join's derived table costs MariaDB more than the few rows it saves
 * reading whole (the first page is most of all list requests).
 */
#define DIRECT_SKIP_MAX	50

/*
 * The statement for read r.  A page is a deferred join: its primary keys
 * come from an index-only scan, and only those rows are read whole.  The
 * optimiser tends to pick any (account_id, ...) index and sort; the index
 * in the page's order is the one that scans least (an exact name filter
 * has a better one of its own).
 */
static size_t
build_read(const struct tenant_query *q, const struct pm_read *r,
    enum rkind kind, bool hint, char *sql, size_t len, struct db_param *p,
    const struct text *t)
{
	const char	*seen = seen_columns[ACTIVITY(q)];
	char		 more[256];
	size_t		 n = 0;
	bool		 direct = kind != RK_MARK &&
			    r->skip <= DIRECT_SKIP_MAX && r->forward != q->desc;

	if (direct)
		snprintf(sql, len, "SELECT %s%s%s FROM tenants t",
		    tenant_select_list(), kind == RK_PAGE_SEEN ? ", " : "",
		    kind == RK_PAGE_SEEN ? seen : "");
	else if (kind == RK_MARK) {
		mark_columns(q, more, sizeof(more));
		snprintf(sql, len, "SELECT %s, t.pk, %s, %s FROM tenants t",
		    sorts[q->sort].col != NULL ? sorts[q->sort].col : "t.pk",
		    seen, more);
	}
	else
		snprintf(sql, len, "SELECT %s%s%s FROM tenants t JOIN "
		    "(SELECT t.pk FROM tenants t", tenant_select_list(),
		    kind == RK_PAGE_SEEN ? ", " : "",
		    kind == RK_PAGE_SEEN ? seen : "");
	if (kind != RK_PAGE) {
		p[n++] = DB_I64(q->scope);
		p[n++] = DB_I64(q->scope);
	}
	if (kind == RK_MARK && q->scope)
		p[n++] = DB_I64(q->scope);
	if (hint)
		force_index(q, t, sql, len);
	n += where_clause(q, sql, len, p + n, t);
	n += seek(q, r, sql, len, p + n);
	order_by(q, !r->forward, sql, len);
	append(sql, len, " LIMIT ? OFFSET ?");
	p[n++] = DB_I64(r->count);
	p[n++] = DB_I64(r->skip);
	if (kind != RK_MARK && !direct) {
		append(sql, len, ") k ON k.pk = t.pk");
		order_by(q, q->desc, sql, len);
	}
	return n;
}

static enum db_err
run_text(struct db *db, const struct tenant_query *q, const struct pm_read *r,
    enum rkind kind, const struct text *t, bool stream, struct db_res **res)
{
	struct db_param	 p[40 + 3 * TQ_META_MAX];
	char		 sql[6144];
	size_t		 n;
	enum db_err	 e;

	n = build_read(q, r, kind, true, sql, sizeof(sql), p, t);
	e = (stream ? db_stream : db_exec)(db, sql, p, n, res);
	/* A database whose schema lacks the index still answers, slower. */
	if (e == DBE_OTHER && db_errno(db) == ER_KEY_DOES_NOT_EXISTS) {
		n = build_read(q, r, kind, false, sql, sizeof(sql), p, t);
		e = (stream ? db_stream : db_exec)(db, sql, p, n, res);
	}
	return e;
}

static enum db_err
run_as(struct db *db, const struct tenant_query *q, const struct pm_read *r,
    enum rkind kind, bool stream, struct db_res **res)
{
	struct text	 t;
	enum db_err	 e;

	if ((e = text_prepare(db, q, &t)) != DBE_OK)
		return e;
	return run_text(db, q, r, kind, &t, stream, res);
}

static enum db_err
run(struct db *db, const struct tenant_query *q, const struct pm_read *r,
    enum rkind kind, struct db_res **res)
{
	return run_as(db, q, r, kind, false, res);
}

enum db_err
tenant_list_after(struct db *db, const struct tenant_query *q,
    long long after, long long limit, struct db_res **res)
{
	struct db_param	 p[48 + 3 * TQ_META_MAX];
	struct text	 t;
	char		 sql[6144];
	size_t		 n;
	enum db_err	 e;

	if ((e = text_prepare(db, q, &t)) != DBE_OK)
		return e;
	snprintf(sql, sizeof(sql), "SELECT %s FROM tenants t",
	    tenant_select_list());
	n = where_clause(q, sql, sizeof(sql), p, &t);
	append(sql, sizeof(sql), " AND t.pk > ? ORDER BY t.pk LIMIT ?");
	p[n++] = DB_I64(after);
	p[n++] = DB_I64(limit);
	return db_exec(db, sql, p, n, res);
}

/* The page, and the total and generation of the snapshot it is from. */
static enum db_err
read_page(struct db *db, const struct tenant_query *q,
    const struct pm_read *r, struct db_res **res, struct seen *s)
{
	struct db_row	 row;
	enum db_err	 e;
	int		 rc;

	if ((e = run(db, q, r, RK_PAGE_SEEN, res)) != DBE_OK)
		return e;
	if ((rc = db_next(*res, &row)) == 1 &&
	    seen_from(&row, TC__MAX, s) == 0) {
		db_rewind(*res);
		return DBE_OK;
	}
	db_res_free(*res);
	*res = NULL;
	if (rc != 0)
		return failed(db);
	/* No row to carry them: past the end, or the rows moved away. */
	return read_counts(db, q, s);
}

/* The sort key of an RK_MARK row, with its weights. */
static void
mark_key(const struct tenant_query *q, const struct db_row *row,
    struct pm_key *k)
{
	k->key = sorts[q->sort].col != NULL ? row->v[0] : NULL;
	k->len = k->key != NULL ? row->len[0] : 0;
	k->weight = weighed(q) ? row->v[4] : NULL;
	k->wlen = k->weight != NULL ? row->len[4] : 0;
}

/* Keeps the counters of an RK_MARK row's snapshot with the marks of gen. */
static void
mark_parts(struct page_marks *pm, const struct db_row *row, long long gen)
{
	long long	 parts[PM_PARTS];

	if (row->v[5] == NULL)
		return;
	list_changes_parts(row->v[5], parts);
	page_marks_set_parts(pm, gen, parts);
}

/* Whether pm has marks a rebase could move to gen. */
static bool
stale(const struct page_marks *pm, long long gen)
{
	return page_marks_known(pm) && page_marks_gen(pm) != gen &&
	    page_marks_parts(pm) != NULL;
}

/*
 * Moves pm's marks to the generation now from the changes logged since
 * theirs (list_changes.h): 0 done, -1 not (the marks are gone then).
 */
static int
rebase(struct db *db, const struct tenant_query *q, struct page_marks *pm)
{
	return list_changes_rebase(db, pm, q->scope, sorts[q->sort].col !=
	    NULL ? sorts[q->sort].key : TC_PK, ACTIVITY(q),
	    seen_columns[ACTIVITY(q)]);
}

/* Reads the row of a new mark: 1 found (and handed over), 0 none, -1 error. */
static int
make_mark(struct db *db, const struct tenant_query *q,
    struct page_marks *pm, const struct pm_read *mark, enum db_err *e)
{
	struct db_res	*res;
	struct db_row	 row;
	struct pm_key	 k;
	struct seen	 s;
	int		 rc;

	metrics_count(MC_MARK_ONE);
	if ((*e = run(db, q, mark, RK_MARK, &res)) != DBE_OK)
		return -1;
	if ((rc = db_next(res, &row)) == 1 && seen_from(&row, 2, &s) == 0) {
		/*
		 * The account changed since the marks: move them to now and
		 * plan again (this row's place may come from an old mark).
		 */
		if (stale(pm, s.gen)) {
			db_res_free(res);
			(void)rebase(db, q, pm);
			return 1;
		}
		mark_key(q, &row, &k);
		(void)page_marks_found(pm, mark, s.gen, s.total,
		    strtoll(row.v[1], NULL, 10), &k);
		mark_parts(pm, &row, s.gen);
	}
	db_res_free(res);
	if (rc == -1) {
		*e = failed(db);
		return -1;
	}
	return rc;
}

/*
 * Reads the whole listing in ascending order, row by row from the server
 * (a million rows are not held), keeping its grid rows as marks.  The
 * seen columns of the first row give the snapshot all rows are from.
 */
static enum db_err
make_grid(struct db *db, const struct tenant_query *q, struct page_marks *pm)
{
	struct pm_read	 all;
	struct db_res	*res;
	struct db_row	 row;
	struct pm_key	 k;
	struct seen	 s;
	long long	 pos;
	enum db_err	 e;
	int		 rc;

	memset(&all, 0, sizeof(all));
	all.anchor = PM_START;
	all.forward = true;
	all.count = LLONG_MAX;
	metrics_count(MC_MARK_PASS);
	if ((e = run_as(db, q, &all, RK_MARK, true, &res)) != DBE_OK)
		return e;
	for (pos = 0; (rc = db_next(res, &row)) == 1; pos++) {
		if (pos == 0) {
			if (seen_from(&row, 2, &s) == -1)
				break;
			page_marks_grid_begin(pm, s.gen, s.total);
		}
		mark_key(q, &row, &k);
		if (page_marks_grid_row(pm, pos, strtoll(row.v[1], NULL, 10),
		    &k) == -1)
			break;
		if (pos == 0)
			mark_parts(pm, &row, s.gen);
	}
	db_res_free(res);
	return rc == -1 ? failed(db) : DBE_OK;
}

/* Rows counted from the end the order starts at: needs no total. */
static void
natural(const struct tenant_query *q, long long limit, long long offset,
    struct pm_read *r)
{
	memset(r, 0, sizeof(*r));
	r->anchor = q->desc ? PM_END : PM_START;
	r->forward = !q->desc;
	r->skip = offset;
	r->count = limit;
}

/*
 * One statement for most pages: the page with its total and generation.
 * A statement that finds the account changed since the plan makes the
 * request plan again, without new marks the second time.
 */
static enum db_err
list_unfiltered(struct db *db, const struct tenant_query *q,
    long long limit, long long offset, struct db_res **res, long long *total)
{
	struct page_marks	*pm = page_marks_get(q->scope,
				    (int)q->sort + TSORT__MAX * ACTIVITY(q));
	struct pm_read		 page, mark;
	struct seen		 s;
	enum pm_next		 next;
	enum db_err		 e;
	long long		 gen;
	bool			 fresh = false, known;
	int			 steps, changes = 0, rc;

	for (steps = 0; steps < PLAN_STEPS; steps++) {
		gen = page_marks_gen(pm);
		known = page_marks_known(pm);
		next = page_marks_plan(pm, q->desc, offset, limit, fresh, &page,
		    changes == 0 ? &mark : NULL);
		if (next == PM_EMPTY) {
			*total = page_marks_total(pm);
			return DBE_OK;
		}
		if (next == PM_NEED_MARK) {
			if ((rc = make_mark(db, q, pm, &mark, &e)) == -1)
				return e;
			if (rc == 1) {
				fresh = true;
				changes += known && page_marks_gen(pm) != gen;
				continue;
			}
			next = PM_READ;	/* no such row now: the page will tell */
		}
		if (next == PM_NEED_GRID) {
			if ((e = make_grid(db, q, pm)) != DBE_OK)
				return e;
			fresh = true;
			changes += known && page_marks_gen(pm) != gen;
			continue;
		}
		if (next == PM_NEED_COUNT) {
			if ((e = read_counts(db, q, &s)) != DBE_OK)
				return e;
			if (stale(pm, s.gen) && rebase(db, q, pm) == 0) {
				fresh = true;
				continue;
			}
			page_marks_update(pm, s.gen, s.total);
			fresh = true;
			changes += known && s.gen != gen;
			continue;
		}
		if ((e = read_page(db, q, &page, res, &s)) != DBE_OK)
			return e;
		/*
		 * Read from marks the account has changed since: move them and
		 * read again.  (Should the move fail, the marks are gone and
		 * the listing is at a generation this page was not planned in.)
		 */
		if (page.needs_gen && stale(pm, s.gen)) {
			db_res_free(*res);
			*res = NULL;
			fresh = true;
			changes += rebase(db, q, pm) != 0;
			continue;
		}
		if (page_marks_settle(pm, &page, fresh, s.gen, s.total)) {
			*total = s.total;
			return DBE_OK;
		}
		db_res_free(*res);
		*res = NULL;
		fresh = true;
		changes++;
	}
	natural(q, limit, offset, &page);
	if ((e = read_page(db, q, &page, res, &s)) != DBE_OK)
		return e;
	(void)page_marks_settle(pm, &page, true, s.gen, s.total);
	*total = s.total;
	return DBE_OK;
}

void
tenant_list_setup(long budget)
{
	scan_budget = budget;
}

/*
 * A read that tries rows in q's order stops at the row scan_budget rows
 * in (t->bound, the first one it must not try), found by reading that
 * far in the order's index alone; none in a shorter listing.
 */
static enum db_err
scan_bound(struct db *db, const struct tenant_query *q, struct text *t)
{
	const char	*col = sorts[q->sort].col;
	struct db_param	 p[3];
	struct db_row	 row;
	struct db_res	*res;
	char		 sql[512];
	size_t		 n;
	int		 hint, rc;

	for (hint = 1; hint >= 0; hint--) {
		n = 0;
		snprintf(sql, sizeof(sql), "SELECT %s, t.pk FROM tenants t",
		    col != NULL ? col : "t.pk");
		if (hint)
			force_index(q, t, sql, sizeof(sql));
		append(sql, sizeof(sql), " WHERE 1 = 1");
		if (q->scope) {
			append(sql, sizeof(sql), " AND t.account_id = ?");
			p[n++] = DB_I64(q->scope);
		}
		if (q->is_active >= 0) {
			append(sql, sizeof(sql), " AND t.is_active = ?");
			p[n++] = DB_I64(q->is_active);
		}
		order_by(q, q->desc, sql, sizeof(sql));
		append(sql, sizeof(sql), " LIMIT 1 OFFSET ?");
		p[n++] = DB_I64(scan_budget);
		rc = db_one(db, sql, p, n, &row, &res);
		if (rc == 1 && (row.v[1] == NULL || (row.v[0] != NULL &&
		    row.len[0] >= sizeof(t->bound_key))))
			rc = 0;	/* no such key: no bound */
		if (rc == 1) {
			memset(&t->bound, 0, sizeof(t->bound));
			t->bound.anchor = PM_MARK;
			/* Before it in the listing: beyond it read backwards. */
			t->bound.forward = q->desc;
			t->bound.mark.pk = strtoll(row.v[1], NULL, 10);
			if (col != NULL && row.v[0] != NULL) {
				memcpy(t->bound_key, row.v[0], row.len[0]);
				t->bound_key[row.len[0]] = '\0';
				t->bound.mark.key = t->bound_key;
				t->bound.mark.len = row.len[0];
			}
			t->bounded = true;
		}
		db_res_free(res);
		if (rc != -1 || db_errno(db) != ER_KEY_DOES_NOT_EXISTS)
			break;
	}
	return rc == -1 ? failed(db) : DBE_OK;
}

/*
 * q's filters, for a read in q's order that stops at the scan budget
 * when it tries rows one by one.
 */
static enum db_err
prepare(struct db *db, const struct tenant_query *q, struct text *t)
{
	enum db_err	 e;

	if ((e = text_prepare(db, q, t)) != DBE_OK || !t->scan)
		return e;
	return scan_bound(db, q, t);
}

/*
 * The number of matches read up to one past TENANT_LIST_MATCHES_MAX, as
 * answered: the cap at most, incomplete past it or at the scan bound.
 */
static long long
capped(const struct text *t, long long n, bool *incomplete)
{
	*incomplete = t->bounded || n > TENANT_LIST_MATCHES_MAX;
	return n > TENANT_LIST_MATCHES_MAX ? TENANT_LIST_MATCHES_MAX : n;
}

/*
 * The rows of q up to TENANT_LIST_MATCHES_MAX, in q's order within the
 * scan budget: a count that stops there costs what reading that many
 * matches does, whatever the number of all.  Incomplete when it stopped
 * at either.
 */
static enum db_err
count_matches(struct db *db, const struct tenant_query *q,
    const struct text *t, long long *count, bool *incomplete)
{
	struct db_param		 p[48 + 3 * TQ_META_MAX];
	struct db_row		 row;
	struct db_res		*res;
	char			 sql[2048];
	size_t			 n;
	int			 hint, rc;

	for (hint = 1; hint >= 0; hint--) {
		snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM (SELECT 1 "
		    "FROM tenants t");
		if (hint)
			force_index(q, t, sql, sizeof(sql));
		n = where_clause(q, sql, sizeof(sql), p, t);
		append(sql, sizeof(sql), " LIMIT ?) x");
		p[n++] = DB_I64(TENANT_LIST_MATCHES_MAX + 1);
		if ((rc = db_one(db, sql, p, n, &row, &res)) == 1)
			*count = strtoll(row.v[0], NULL, 10);
		db_res_free(res);
		/* A database whose schema lacks the index still answers. */
		if (rc != -1 || db_errno(db) != ER_KEY_DOES_NOT_EXISTS)
			break;
	}
	if (rc != 1)
		return failed(db);
	*count = capped(t, *count, incomplete);
	return DBE_OK;
}

/*
 * A page read by the primary keys of its rows: the statement's list holds
 * this many (as many as a statement binds), the last key repeated to fill
 * it, so it is one statement.
 */
#define PAGE_KEYS	DB_PARAMS_MAX

/* SELECT <tenant columns> FROM tenants t WHERE t.pk IN (? x PAGE_KEYS) */
static const char *
sql_by_keys(void)
{
	static char	 sql[4096 + 3 * PAGE_KEYS];
	size_t		 i;

	if (*sql != '\0')
		return sql;
	snprintf(sql, sizeof(sql), "SELECT %s FROM tenants t WHERE t.pk IN (?",
	    tenant_select_list());
	for (i = 1; i < PAGE_KEYS; i++)
		append(sql, sizeof(sql), ", ?");
	append(sql, sizeof(sql), ")");
	return sql;
}

/*
 * The first matches of q in its order, primary keys only, up to one past
 * TENANT_LIST_MATCHES_MAX: their number is the total, and the keys at
 * offset .. offset + limit - 1 (at most PAGE_KEYS) go to keys.  One read
 * of the rows tried, for the total and the page alike.
 */
static enum db_err
match_keys(struct db *db, const struct tenant_query *q, const struct text *t,
    long long limit, long long offset, struct db_param *keys, size_t *nkeys,
    long long *n)
{
	struct db_param	 p[48 + 3 * TQ_META_MAX];
	struct db_res	*res = NULL;
	struct db_row	 row;
	char		 sql[6144];
	size_t		 np;
	int		 hint, rc;
	enum db_err	 e;

	for (hint = 1; hint >= 0; hint--) {
		snprintf(sql, sizeof(sql), "SELECT t.pk FROM tenants t");
		if (hint)
			force_index(q, t, sql, sizeof(sql));
		np = where_clause(q, sql, sizeof(sql), p, t);
		order_by(q, q->desc, sql, sizeof(sql));
		append(sql, sizeof(sql), " LIMIT ?");
		p[np++] = DB_I64(TENANT_LIST_MATCHES_MAX + 1);
		e = db_exec(db, sql, p, np, &res);
		/* A database whose schema lacks the index still answers. */
		if (e != DBE_OTHER || db_errno(db) != ER_KEY_DOES_NOT_EXISTS)
			break;
	}
	if (e != DBE_OK)
		return e;
	*nkeys = 0;
	for (*n = 0; (rc = db_next(res, &row)) == 1; (*n)++)
		if (*n >= offset && *n < offset + limit &&
		    *n < TENANT_LIST_MATCHES_MAX && *nkeys < PAGE_KEYS)
			keys[(*nkeys)++] = DB_I64(strtoll(row.v[0], NULL, 10));
	db_res_free(res);
	return rc == -1 ? failed(db) : DBE_OK;
}

/*
 * The first matches within one scan bound: their keys and number in one
 * read, then the page's rows by their keys.  A page larger than
 * PAGE_KEYS is an OFFSET within the matches after their count.
 */
static enum db_err
list_filtered(struct db *db, const struct tenant_query *q, long long limit,
    long long offset, struct db_res **res, long long *total,
    bool *incomplete)
{
	struct db_param	 keys[PAGE_KEYS];
	struct pm_read	 r;
	struct text	 t;
	char		 sql[6144];
	size_t		 nkeys, i;
	long long	 n;
	enum db_err	 e;

	if ((e = prepare(db, q, &t)) != DBE_OK)
		return e;
	if (limit > PAGE_KEYS) {
		if ((e = count_matches(db, q, &t, total, incomplete)) != DBE_OK)
			return e;
		if (offset >= *total)
			return DBE_OK;
		natural(q, limit < *total - offset ? limit : *total - offset,
		    offset, &r);
		return run_text(db, q, &r, RK_PAGE, &t, false, res);
	}
	if ((e = match_keys(db, q, &t, limit, offset, keys, &nkeys,
	    &n)) != DBE_OK)
		return e;
	*total = capped(&t, n, incomplete);
	if (nkeys == 0)
		return DBE_OK;
	for (i = nkeys; i < PAGE_KEYS; i++)
		keys[i] = keys[nkeys - 1];
	snprintf(sql, sizeof(sql), "%s", sql_by_keys());
	order_by(q, q->desc, sql, sizeof(sql));
	return db_exec(db, sql, keys, PAGE_KEYS, res);
}

/* Filtered by text: isActive alone has counts and page marks of its own. */
static bool
filtered(const struct tenant_query *q)
{
	return q->name != NULL || q->q != NULL || q->description != NULL ||
	    q->nmeta > 0;
}

enum db_err
tenant_list_page(struct db *db, const struct tenant_query *q,
    long long limit, long long offset, struct db_res **res, long long *total,
    bool *incomplete)
{
	*res = NULL;
	*total = 0;
	*incomplete = false;
	if (!filtered(q))
		return list_unfiltered(db, q, limit, offset, res, total);
	return list_filtered(db, q, limit, offset, res, total, incomplete);
}

enum db_err
tenant_list_count(struct db *db, const struct tenant_query *q,
    long long *count, bool *incomplete)
{
	/* In creation order: tried rows are then read in pages, not one by one. */
	struct tenant_query	 created = *q;
	struct db_param		 p[] = { DB_I64(q->scope) };
	struct db_row		 row;
	struct db_res		*res;
	struct text		 t;
	enum db_err		 e;
	int			 rc;

	*incomplete = false;
	if (filtered(q)) {
		created.sort = TSORT_CREATED;
		created.desc = false;
		if ((e = prepare(db, &created, &t)) != DBE_OK)
			return e;
		return count_matches(db, &created, &t, count, incomplete);
	}
	rc = db_one(db, sql_counts[ACTIVITY(q)], p, 1, &row, &res);
	if (rc == 1)
		*count = strtoll(row.v[0], NULL, 10);
	db_res_free(res);
	return rc == 1 ? DBE_OK : failed(db);
}

int
tenant_list_scan_refused(struct db *db, const struct tenant_query *q)
{
	const char	*f[2] = { q->q, q->description };
	char		 terms[TERMS][TERM_MAX];
	struct seen	 s;
	size_t		 i;
	bool		 text = false;

	for (i = 0; i < 2; i++) {
		if (f[i] == NULL)
			continue;
		if (search_terms(f[i], terms) > 0)
			return 0;
		text = true;
	}
	if (!text || q->name != NULL)
		return 0;
	if (read_counts(db, q, &s) != DBE_OK)
		return -1;
	return s.total > TENANT_LIST_SCAN_MAX;
}

static enum db_err
bump(struct db *db, long long account, long long shard, long long delta,
    long long active)
{
	struct db_param	 p[] = { DB_I64(account), DB_I64(shard), DB_I64(delta),
			    DB_I64(active), DB_I64(shard), DB_I64(delta),
			    DB_I64(active) };

	return db_exec(db, sql_changed, p, 7, NULL);
}

enum db_err
tenant_list_changed(struct db *db, long long account, long long delta,
    long long active)
{
	return bump(db, account, random() % PM_PARTS, delta, active);
}

/*
 * The same for a change of row pk, logged for page marks with v
 * (list_changes_log).
 */
static enum db_err
changed(struct db *db, long long account, long long pk, long long delta,
    long long active, enum lc_kind kind, const char *const v[TC__MAX])
{
	long long	 shard = random() % PM_PARTS;
	enum db_err	 e;

	if ((e = bump(db, account, shard, delta, active)) != DBE_OK)
		return e;
	return list_changes_log(db, account, shard, pk, kind, v);
}

/*
 * The next word of TERM_CHARS_MIN or more characters in *s, its first
 * TERM_CHARS_MAX as *len bytes, as SQL_WORDS splits text; NULL at the end.
 */
static const char *
word_next(const char **s, size_t *len)
{
	const char	*w, *end;
	size_t		 chars;

	while (**s != '\0') {
		if (!word_byte((unsigned char)**s)) {
			(*s)++;
			continue;
		}
		for (w = *s, end = NULL, chars = 0;
		    word_byte((unsigned char)**s); (*s)++)
			if (((unsigned char)**s & 0xC0) != 0x80 &&
			    ++chars == TERM_CHARS_MAX + 1)
				end = *s;
		if (chars >= TERM_CHARS_MIN) {
			*len = (size_t)((end != NULL ? end : *s) - w);
			return w;
		}
	}
	return NULL;
}

/* Indexes the words of tenant pk's name and description (tenant_words). */
static enum db_err
words_add(struct db *db, long long account, long long pk, const char *name,
    const char *description)
{
	const char	*text[2] = { name != NULL ? name : "",
			    description != NULL ? description : "" }, *s, *w;
	struct db_param	 p[3 * WORDS_ROWS];
	size_t		 i, n = 0, len;
	enum db_err	 e;

	for (i = 0; i < 2; i++)
		for (s = text[i]; (w = word_next(&s, &len)) != NULL; ) {
			p[n++] = DB_I64(account);
			p[n++] = DB_STRN(w, len);
			p[n++] = DB_I64(pk);
			if (n < 3 * WORDS_ROWS)
				continue;
			if ((e = db_exec(db, sql_words_add[WORDS_ROWS], p, n,
			    NULL)) != DBE_OK)
				return e;
			n = 0;
		}
	if (n == 0)
		return DBE_OK;
	return db_exec(db, sql_words_add[n / 3], p, n, NULL);
}

static enum db_err
added(struct db *db, long long account, long long pk,
    const struct tenant_input *in, enum lc_kind kind)
{
	const char	*v[TC__MAX];
	size_t		 i;
	enum db_err	 e;

	/* The row as tenant_store_insert wrote it. */
	for (i = 0; i < TC__MAX; i++)
		v[i] = tenant_input_value(in, i);
	if ((e = words_add(db, account, pk, in->set[TC_NAME] ?
	    in->v[TC_NAME] : NULL, in->set[TC_DESCRIPTION] ?
	    in->v[TC_DESCRIPTION] : NULL)) != DBE_OK)
		return e;
	return changed(db, account, pk, 1, active(v[TC_IS_ACTIVE]), kind, v);
}

enum db_err
tenant_list_added(struct db *db, long long account, long long pk,
    const struct tenant_input *in)
{
	return added(db, account, pk, in, LC_CAME);
}

enum db_err
tenant_list_created(struct db *db, long long account, long long pk,
    const struct tenant_input *in)
{
	return added(db, account, pk, in, LC_CREATED);
}

static const char sql_restored[] =
    "SELECT name, description, is_active FROM tenants WHERE pk = ?";

enum db_err
tenant_list_restored(struct db *db, long long account, long long pk)
{
	struct db_param	 p[] = { DB_I64(pk) };
	struct db_res	*res = NULL;
	struct db_row	 row;
	enum db_err	 e;
	long long	 on;
	int		 rc;

	if ((rc = db_one(db, sql_restored, p, 1, &row, &res)) != 1) {
		db_res_free(res);
		return rc == 0 ? DBE_OTHER : failed(db);
	}
	on = active(row.v[2]);
	e = words_add(db, account, pk, row.v[0], row.v[1]);
	db_res_free(res);
	if (e != DBE_OK)
		return e;
	return changed(db, account, pk, 1, on, LC_CAME, NULL);
}

enum db_err
tenant_list_seeded(struct db *db, long long account, long long first_pk,
    long long added)
{
	struct db_param	 p[] = { DB_I64(account), DB_I64(first_pk) };
	enum db_err	 e;

	if ((e = db_exec(db, sql_words_from, p, 2, NULL)) != DBE_OK)
		return e;
	return tenant_list_changed(db, account, added, added);
}

enum db_err
tenant_list_removing(struct db *db, long long account, long long pk)
{
	long long	 shard = random() % PM_PARTS;
	struct db_param	 p[] = { DB_I64(account), DB_I64(shard), DB_I64(pk),
			    DB_I64(shard), DB_I64(pk) };
	enum db_err	 e;

	if ((e = db_exec(db, sql_removing, p, 5, NULL)) != DBE_OK)
		return e;
	return list_changes_log(db, account, shard, pk, LC_GOING, NULL);
}

enum db_err
tenant_list_total_locked(struct db *db, long long *total)
{
	struct db_res	*res = NULL;
	struct db_row	 row;
	int		 rc;

	rc = db_one(db, sql_total_locked, NULL, 0, &row, &res);
	if (rc == 1 && row.v[0] != NULL)
		*total = strtoll(row.v[0], NULL, 10);
	db_res_free(res);
	return rc == 1 ? DBE_OK : failed(db);
}

static bool
differ(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/* Whether a row going from old to v may move in some sort order. */
static bool
moves(const char *const old[TC__MAX], const char *const v[TC__MAX])
{
	size_t	 i;

	for (i = 0; i < TSORT__MAX; i++)
		if (sorts[i].col != NULL && differ(old[sorts[i].key],
		    v[sorts[i].key]))
			return true;
	return false;
}

enum db_err
tenant_list_updated(struct db *db, long long account, long long pk,
    const char *const old[TC__MAX], const char *const v[TC__MAX])
{
	struct db_param	 p[] = { DB_I64(pk) };
	long long	 d = active(v[TC_IS_ACTIVE]) - active(old[TC_IS_ACTIVE]);
	enum db_err	 e;

	if ((differ(old[TC_NAME], v[TC_NAME]) ||
	    differ(old[TC_DESCRIPTION], v[TC_DESCRIPTION])) &&
	    ((e = db_exec(db, sql_words_drop, p, 1, NULL)) != DBE_OK ||
	    (e = words_add(db, account, pk, v[TC_NAME],
	    v[TC_DESCRIPTION])) != DBE_OK))
		return e;
	if (d == 0 && !moves(old, v))
		return DBE_OK;
	return changed(db, account, pk, 0, d, LC_MOVED, old);
}
