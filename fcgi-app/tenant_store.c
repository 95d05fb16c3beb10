#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenant_store.h"

enum tsql {
	TS_GET_SLUG,
	TS_GET_SLUG_SCOPED,
	TS_GET_GUID,
	TS_GET_GUID_SCOPED,
	TS_LIST,
	TS_LIST_SCOPED,
	TS_COUNT,
	TS_COUNT_SCOPED,
	TS_INSERT,
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
	[TS_LIST] = "SELECT %s FROM tenants t ORDER BY t.pk LIMIT ? OFFSET ?",
	[TS_LIST_SCOPED] = "SELECT %s FROM tenants t WHERE t.account_id = ? "
	    "ORDER BY t.pk LIMIT ? OFFSET ?",
	[TS_COUNT] = "SELECT COUNT(*) FROM tenants t",
	[TS_COUNT_SCOPED] = "SELECT COUNT(*) FROM tenants t WHERE t.account_id = ?",
	[TS_INSERT] = NULL,	/* built from the column table */
};

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

static const char *
sql(enum tsql which)
{
	if (sqls[which][0] != '\0')
		return sqls[which];
	if (which == TS_INSERT)
		build_insert(sqls[which], sizeof(sqls[which]));
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

int
tenant_store_get(struct db *db, long long scope, const char *id,
    struct db_row *row, struct db_res **res)
{
	int	 rc;

	rc = get_by(db, TS_GET_SLUG, scope, id, row, res);
	if (rc != 0 || !guid_shaped(id))
		return rc;
	return get_by(db, TS_GET_GUID, scope, id, row, res);
}

enum db_err
tenant_store_list(struct db *db, long long scope, long long limit,
    long long offset, struct db_res **res)
{
	struct db_param	 p[] = { DB_I64(scope), DB_I64(limit), DB_I64(offset) };

	if (scope)
		return db_exec(db, sql(TS_LIST_SCOPED), p, 3, res);
	return db_exec(db, sql(TS_LIST), p + 1, 2, res);
}

enum db_err
tenant_store_count(struct db *db, long long scope, long long *count)
{
	struct db_param	 p[] = { DB_I64(scope) };
	struct db_row	 row;
	struct db_res	*res;
	int		 rc;

	rc = db_one(db, sql(scope ? TS_COUNT_SCOPED : TS_COUNT), p,
	    scope ? 1 : 0, &row, &res);
	if (rc == 1)
		*count = strtoll(row.v[0], NULL, 10);
	db_res_free(res);
	return rc == 1 ? DBE_OK : db_classify(db_errno(db));
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
