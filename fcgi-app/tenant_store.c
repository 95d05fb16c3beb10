#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysqld_error.h>

#include "tenant_store.h"

enum tsql {
	TS_GET_SLUG,
	TS_GET_SLUG_SCOPED,
	TS_GET_GUID,
	TS_GET_GUID_SCOPED,
	TS_INSERT,
	TS_LOCK_SLUG,
	TS_LOCK_SLUG_SCOPED,
	TS_LOCK_GUID,
	TS_LOCK_GUID_SCOPED,
	TS_UPDATE,
	TS__MAX
};

/* printf templates; %s is the SELECT list from tenant_select_list(). */
static const char *const templates[TS__MAX] = {
	[TS_GET_SLUG] = "SELECT %s FROM tenants t WHERE t.slug = ?",
	[TS_GET_SLUG_SCOPED] = "SELECT %s FROM tenants t "
	    "WHERE t.slug = ? AND t.account_id = ?",
	[TS_GET_GUID] = "SELECT %s FROM tenants t WHERE t.guid = ?",
	[TS_GET_GUID_SCOPED] = "SELECT %s FROM tenants t "
	    "WHERE t.guid = ? AND t.account_id = ?",
	[TS_INSERT] = NULL,	/* built from the column table */
	[TS_LOCK_SLUG] = "SELECT %s FROM tenants t WHERE t.slug = ? FOR UPDATE",
	[TS_LOCK_SLUG_SCOPED] = "SELECT %s FROM tenants t "
	    "WHERE t.slug = ? AND t.account_id = ? FOR UPDATE",
	[TS_LOCK_GUID] = "SELECT %s FROM tenants t WHERE t.guid = ? FOR UPDATE",
	[TS_LOCK_GUID_SCOPED] = "SELECT %s FROM tenants t "
	    "WHERE t.guid = ? AND t.account_id = ? FOR UPDATE",
	[TS_UPDATE] = NULL,	/* built from the column table */
};

static const char sql_delete[] = "DELETE FROM tenants WHERE pk = ?";
static const char sql_children[] =
    "SELECT (SELECT COUNT(*) FROM provisioning_jobs WHERE tenant_pk = ?), "
    "(SELECT COUNT(*) FROM api_keys WHERE tenant_pk = ?), "
    "(SELECT COUNT(*) FROM tenant_users WHERE tenant_pk = ?), "
    "(SELECT COUNT(*) FROM tenant_locations WHERE tenant_pk = ?)";
static const char sql_user_status[] =
    "UPDATE tenant_users SET status = ? WHERE tenant_pk = ? AND is_support = 0";

static char	 sqls[TS__MAX][2048];

static void
build_insert(char *out, size_t len)
{
	size_t	 i, n = 0;

	snprintf(out, len, "INSERT INTO tenants (account_id, guid, short_id, "
	    "provisioning_status");
	for (i = 0; i < TC__MAX; i++)
		if (tcols[i].writable) {
			strncat(out, ", ", len - strlen(out) - 1);
			strncat(out, tcols[i].sql, len - strlen(out) - 1);
			n++;
		}
	strncat(out, ") VALUES (?, ?, ?, ?", len - strlen(out) - 1);
	while (n-- > 0)
		strncat(out, ", ?", len - strlen(out) - 1);
	strncat(out, ")", len - strlen(out) - 1);
}

static void
build_update(char *out, size_t len)
{
	size_t	 i;

	snprintf(out, len, "UPDATE tenants SET version = version + 1, "
	    "updated_at = UTC_TIMESTAMP(3)");
	for (i = 0; i < TC__MAX; i++)
		if (tcols[i].writable) {
			strncat(out, ", ", len - strlen(out) - 1);
			strncat(out, tcols[i].sql, len - strlen(out) - 1);
			strncat(out, " = ?", len - strlen(out) - 1);
		}
	strncat(out, " WHERE pk = ?", len - strlen(out) - 1);
}

static const char *
sql(enum tsql which)
{
	if (sqls[which][0] != '\0')
		return sqls[which];
	if (which == TS_INSERT)
		build_insert(sqls[which], sizeof(sqls[which]));
	else if (which == TS_UPDATE)
		build_update(sqls[which], sizeof(sqls[which]));
	else
		snprintf(sqls[which], sizeof(sqls[which]), templates[which],
		    tenant_select_list());
	return sqls[which];
}

static int
guid_shaped(const char *s)
{
	return strlen(s) == 36 && s[8] == '-' && s[13] == '-' &&
	    s[18] == '-' && s[23] == '-';
}

static int
get_by(struct db *db, enum tsql q, long long scope, const char *id,
    struct db_row *row, struct db_res **res)
{
	struct db_param	 p[] = { DB_STR(id), DB_I64(scope) };

	return db_one(db, sql(scope ? q + 1 : q), p, scope ? 2 : 1, row, res);
}

/* By slug first; a GUID-shaped id that is no slug is tried as a GUID. */
static int
find(struct db *db, enum tsql by_slug, enum tsql by_guid, long long scope,
    const char *id, struct db_row *row, struct db_res **res)
{
	int	 rc;

	rc = get_by(db, by_slug, scope, id, row, res);
	if (rc != 0 || !guid_shaped(id))
		return rc;
	return get_by(db, by_guid, scope, id, row, res);
}

int
tenant_store_get(struct db *db, long long scope, const char *id,
    struct db_row *row, struct db_res **res)
{
	return find(db, TS_GET_SLUG, TS_GET_GUID, scope, id, row, res);
}

int
tenant_store_lock(struct db *db, long long scope, const char *id,
    struct db_row *row, struct db_res **res)
{
	return find(db, TS_LOCK_SLUG, TS_LOCK_GUID, scope, id, row, res);
}

enum db_err
tenant_store_update(struct db *db, long long pk, const char *const v[TC__MAX])
{
	struct db_param	 p[TC__MAX + 1];
	size_t		 i, n = 0;

	for (i = 0; i < TC__MAX; i++)
		if (tcols[i].writable)
			p[n++] = DB_STR(v[i]);
	p[n++] = DB_I64(pk);
	return db_exec(db, sql(TS_UPDATE), p, n, NULL);
}

enum db_err
tenant_store_delete(struct db *db, long long pk)
{
	struct db_param	 p[] = { DB_I64(pk) };

	return db_exec(db, sql_delete, p, 1, NULL);
}

enum db_err
tenant_store_children(struct db *db, long long pk, long long *jobs,
    long long *keys, long long *users, long long *locations)
{
	struct db_param	 p[] = { DB_I64(pk), DB_I64(pk), DB_I64(pk), DB_I64(pk) };
	struct db_row	 row;
	struct db_res	*res;

	if (db_one(db, sql_children, p, 4, &row, &res) != 1)
		return db_classify(db_errno(db)) == DBE_OK ? DBE_OTHER :
		    db_classify(db_errno(db));
	*jobs = strtoll(row.v[0], NULL, 10);
	*keys = strtoll(row.v[1], NULL, 10);
	*users = strtoll(row.v[2], NULL, 10);
	*locations = strtoll(row.v[3], NULL, 10);
	db_res_free(res);
	return DBE_OK;
}

enum db_err
tenant_store_user_status(struct db *db, long long pk, int status)
{
	struct db_param	 p[] = { DB_I64(status), DB_I64(pk) };

	return db_exec(db, sql_user_status, p, 2, NULL);
}

static const struct {
	const char	*col;		/* NULL: the primary key alone */
	enum tcol	 key;		/* the column col reads */
	const char	*index;		/* whose order it is, all accounts */
	const char	*scoped_index;	/* the same within one account */
} sorts[TSORT__MAX] = {
	[TSORT_CREATED] = { NULL, TC_PK, "PRIMARY", "ix_tenants_account" },
	[TSORT_NAME] = { "t.name", TC_NAME, "ux_tenants_name",
	    "ix_tenants_account_name" },
	[TSORT_SLUG] = { "t.slug", TC_SLUG, "ux_tenants_slug",
	    "ix_tenants_account_slug" },
	[TSORT_VALID_UPTO] = { "t.valid_upto", TC_VALID_UPTO,
	    "ix_tenants_valid_upto", "ix_tenants_account_valid_upto" },
	[TSORT_CONSENTED] = { "t.consented_at", TC_CONSENTED_AT,
	    "ix_tenants_consented", "ix_tenants_account_consented" },
};

static const char sql_count_fast[] =
    "SELECT COALESCE(SUM(n), 0) FROM tenant_counts WHERE account_id = ?";
static const char sql_count_add[] =
    "INSERT INTO tenant_counts (account_id, shard, n, gen) VALUES (?, ?, ?, 1) "
    "ON DUPLICATE KEY UPDATE n = n + ?, gen = gen + 1";

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

/*
 * Appends the WHERE clause for q to sql and its values to p.  Column
 * names come from this file only; every value is a bound parameter.
 */
static size_t
where_clause(const struct tenant_query *q, char *sql, size_t len,
    struct db_param *p, char *like, size_t likelen)
{
	size_t	 n = 0;

	strncat(sql, " WHERE 1 = 1", len - strlen(sql) - 1);
	if (q->scope) {
		strncat(sql, " AND t.account_id = ?", len - strlen(sql) - 1);
		p[n++] = DB_I64(q->scope);
	}
	if (q->name != NULL) {
		strncat(sql, " AND t.name = ?", len - strlen(sql) - 1);
		p[n++] = DB_STR(q->name);
	}
	if (q->q != NULL) {
		like_pattern(q->q, like, likelen);
		strncat(sql, " AND (t.name LIKE ? OR t.description LIKE ?)",
		    len - strlen(sql) - 1);
		p[n++] = DB_STR(like);
		p[n++] = DB_STR(like);
	}
	if (q->is_active >= 0) {
		strncat(sql, " AND t.is_active = ?", len - strlen(sql) - 1);
		p[n++] = DB_I64(q->is_active);
	}
	return n;
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

/*
 * A deferred join: the page's primary keys come from an index-only scan,
 * and only those rows are read whole.  Past the middle the inner scan
 * runs from the other end.
 */
static enum db_err	 list_page(struct db *, const struct tenant_query *,
			    long long, long long, long long, bool,
			    struct db_res **);

enum db_err
tenant_store_list(struct db *db, const struct tenant_query *q, long long total,
    long long limit, long long offset, struct db_res **res)
{
	enum db_err	 e;

	e = list_page(db, q, total, limit, offset, true, res);
	/* A database whose schema lacks the index still answers, slower. */
	if (e == DBE_OTHER && db_errno(db) == ER_KEY_DOES_NOT_EXISTS)
		e = list_page(db, q, total, limit, offset, false, res);
	return e;
}

static enum db_err
list_page(struct db *db, const struct tenant_query *q, long long total,
    long long limit, long long offset, bool hint, struct db_res **res)
{
	struct db_param	 p[8];
	char		 sql[4096], like[512];
	size_t		 n;
	bool		 reverse = offset > 0 && offset + limit / 2 > total / 2;
	long long	 inner_off = offset;

	if (reverse) {
		inner_off = total - offset - limit;
		if (inner_off < 0) {
			limit += inner_off;
			inner_off = 0;
		}
		if (limit <= 0)
			limit = 0;
	}
	/*
	 * The optimiser tends to pick any (account_id, ...) index and sort;
	 * the index in the page's order is the one that scans least.  An
	 * exact name filter has a better index of its own.
	 */
	snprintf(sql, sizeof(sql), "SELECT %s FROM tenants t JOIN "
	    "(SELECT t.pk FROM tenants t", tenant_select_list());
	if (hint && q->name == NULL) {
		strncat(sql, " FORCE INDEX (", sizeof(sql) - strlen(sql) - 1);
		strncat(sql, q->scope ? sorts[q->sort].scoped_index :
		    sorts[q->sort].index, sizeof(sql) - strlen(sql) - 1);
		strncat(sql, ")", sizeof(sql) - strlen(sql) - 1);
	}
	n = where_clause(q, sql, sizeof(sql), p, like, sizeof(like));
	order_by(q, q->desc != reverse, sql, sizeof(sql));
	strncat(sql, " LIMIT ? OFFSET ?) k ON k.pk = t.pk",
	    sizeof(sql) - strlen(sql) - 1);
	order_by(q, q->desc, sql, sizeof(sql));
	p[n++] = DB_I64(limit);
	p[n++] = DB_I64(inner_off);
	return db_exec(db, sql, p, n, res);
}

enum db_err
tenant_store_count(struct db *db, const struct tenant_query *q,
    long long *count)
{
	struct db_param	 p[8];
	struct db_row	 row;
	struct db_res	*res;
	char		 sql[512], like[512];
	size_t		 n;
	int		 rc;

	if (q->name == NULL && q->q == NULL && q->is_active < 0) {
		p[0] = DB_I64(q->scope);
		rc = db_one(db, sql_count_fast, p, 1, &row, &res);
	} else {
		snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM tenants t");
		n = where_clause(q, sql, sizeof(sql), p, like, sizeof(like));
		rc = db_one(db, sql, p, n, &row, &res);
	}
	if (rc == 1)
		*count = strtoll(row.v[0], NULL, 10);
	db_res_free(res);
	if (rc == 1)
		return DBE_OK;
	return db_classify(db_errno(db)) == DBE_OK ? DBE_OTHER :
	    db_classify(db_errno(db));
}

enum db_err
tenant_store_count_add(struct db *db, long long account, long long delta)
{
	struct db_param	 p[4];
	long long	 shard = random() % 8;
	enum db_err	 e;

	p[0] = DB_I64(account);
	p[1] = DB_I64(shard);
	p[2] = DB_I64(delta);
	p[3] = DB_I64(delta);
	if ((e = db_exec(db, sql_count_add, p, 4, NULL)) != DBE_OK)
		return e;
	p[0] = DB_I64(0);
	return db_exec(db, sql_count_add, p, 4, NULL);
}

static bool
differ(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

bool
tenant_store_moves(const char *const old[TC__MAX],
    const char *const v[TC__MAX])
{
	size_t	 i;

	for (i = 0; i < TSORT__MAX; i++)
		if (sorts[i].col != NULL && differ(old[sorts[i].key],
		    v[sorts[i].key]))
			return true;
	return false;
}

enum db_err
tenant_store_insert(struct db *db, long long account,
    const struct tenant_input *in, const char *guid, const char *short_id,
    const char *status, long long *pk)
{
	struct db_param	 p[TC__MAX + 4];
	size_t		 i, n = 0;
	enum db_err	 e;

	p[n++] = DB_I64(account);
	p[n++] = DB_STR(guid);
	p[n++] = DB_STR(short_id);
	p[n++] = DB_STR(status);
	for (i = 0; i < TC__MAX; i++)
		if (tcols[i].writable)
			p[n++] = DB_STR(in->set[i] ? in->v[i] : tcols[i].dflt);
	if ((e = db_exec(db, sql(TS_INSERT), p, n, NULL)) == DBE_OK)
		*pk = (long long)db_insert_id(db);
	return e;
}
