#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "secretbox.h"
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

/*
 * Every write of a connection string goes through here: a value in the
 * clear is sealed with the active key, the tenant's slug bound to it; a
 * sealed one (the row's own, unchanged) is written back as it is.
 * *v is pointed at out when it was sealed.
 */
static int
seal_conn(const char **v, const char *slug, char *out, size_t outlen)
{
	if (*v == NULL || secretbox_is_sealed(*v, strlen(*v)))
		return 0;
	/*
	 * Without a key the validator refuses every new string, so this is
	 * a row's own value from before sealing, written back unchanged.
	 */
	if (!secretbox_ready())
		return 0;
	if (secretbox_seal(*v, strlen(*v), slug, out, outlen) == -1)
		return -1;
	*v = out;
	return 0;
}

enum db_err
tenant_store_update(struct db *db, long long pk, const char *const v[TC__MAX])
{
	struct db_param	 p[TC__MAX + 1];
	char		 sealed[SECRETBOX_SEALED_LEN(CONNSTR_MAX)];
	const char	*conn = v[TC_CONNECTION_STRING];
	size_t		 i, n = 0;

	if (seal_conn(&conn, v[TC_SLUG], sealed, sizeof(sealed)) == -1)
		return DBE_OTHER;
	for (i = 0; i < TC__MAX; i++)
		if (tcols[i].writable)
			p[n++] = DB_STR(i == TC_CONNECTION_STRING ? conn : v[i]);
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

enum db_err
tenant_store_insert(struct db *db, long long account,
    const struct tenant_input *in, const char *guid, const char *short_id,
    const char *status, long long *pk)
{
	struct db_param	 p[TC__MAX + 4];
	char		 sealed[SECRETBOX_SEALED_LEN(CONNSTR_MAX)];
	const char	*conn = in->set[TC_CONNECTION_STRING] ?
	    in->v[TC_CONNECTION_STRING] : NULL;
	size_t		 i, n = 0;
	enum db_err	 e;

	if (seal_conn(&conn, in->v[TC_SLUG], sealed, sizeof(sealed)) == -1)
		return DBE_OTHER;
	p[n++] = DB_I64(account);
	p[n++] = DB_STR(guid);
	p[n++] = DB_STR(short_id);
	p[n++] = DB_STR(status);
	for (i = 0; i < TC__MAX; i++)
		if (tcols[i].writable && i == TC_CONNECTION_STRING)
			p[n++] = DB_STR(conn);
		else if (tcols[i].writable)
			p[n++] = DB_STR(in->set[i] ? in->v[i] : tcols[i].dflt);
	if ((e = db_exec(db, sql(TS_INSERT), p, n, NULL)) == DBE_OK)
		*pk = (long long)db_insert_id(db);
	return e;
}
