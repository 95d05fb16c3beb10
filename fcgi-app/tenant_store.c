#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "secretbox.h"
#include "tenant_store.h"

enum tsql {
	TS_INSERT,
	TS_UPDATE,
	TS__MAX
};

/* The column each kind of identifier is looked up in. */
static const char *const key_cols[TKEY__MAX] = {
	[TKEY_SLUG] = "slug",
	[TKEY_GUID] = "guid",
	[TKEY_SHORT_ID] = "short_id",
	[TKEY_MS_TENANT_ID] = "ms_tenant_id",
	[TKEY_EXTERNAL_ID] = "external_id",
	[TKEY_PK] = "pk",
};

static const char sql_delete[] = "DELETE FROM tenants WHERE pk = ?";
static const char sql_children[] =
    "SELECT (SELECT COUNT(*) FROM provisioning_jobs WHERE tenant_pk = ?), "
    "(SELECT COUNT(*) FROM api_keys WHERE tenant_pk = ?), "
    "(SELECT COUNT(*) FROM tenant_users WHERE tenant_pk = ?), "
    "(SELECT COUNT(*) FROM tenant_locations WHERE tenant_pk = ?)";
static const char sql_default_location[] =
    "INSERT INTO tenant_locations (tenant_pk, name, is_default) "
    "SELECT ?, 'Default', 1 FROM DUAL WHERE NOT EXISTS "
    "(SELECT 1 FROM tenant_locations WHERE tenant_pk = ? AND is_default = 1)";
static const char sql_metadata_clear[] =
    "DELETE FROM tenant_metadata WHERE tenant_id = ?";
static const char sql_metadata_row[] = "INSERT INTO tenant_metadata "
    "(tenant_id, account_id, k, v) VALUES (?, ?, ?, ?)";
static const char sql_user_status[] =
    "UPDATE tenant_users SET status = ? WHERE tenant_pk = ? AND is_support = 0";

static char	 sqls[TS__MAX][2048];
/* Lookups by key kind, unscoped or scoped, plain or FOR UPDATE. */
static char	 lookups[TKEY__MAX][2][2][1536];

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
	else
		build_update(sqls[which], sizeof(sqls[which]));
	return sqls[which];
}

/*
 * Built once per process from the static tables; only identifiers from
 * them go into the text, values are bound.  An identifier that is not
 * unique (a Microsoft 365 tenant connected by two accounts) answers its
 * oldest row.
 */
static const char *
lookup_sql(enum tkey by, int scoped, int lock)
{
	char	*s = lookups[by][scoped][lock];

	if (*s == '\0')
		snprintf(s, sizeof(lookups[0][0][0]), "SELECT %s FROM tenants t "
		    "WHERE t.%s = ?%s ORDER BY t.pk LIMIT 1%s",
		    tenant_select_list(), key_cols[by],
		    scoped ? " AND t.account_id = ?" : "",
		    lock ? " FOR UPDATE" : "");
	return s;
}

static int
guid_shaped(const char *s)
{
	return strlen(s) == 36 && s[8] == '-' && s[13] == '-' &&
	    s[18] == '-' && s[23] == '-';
}

static int
get_by(struct db *db, enum tkey by, long long scope, int lock, const char *id,
    struct db_row *row, struct db_res **res)
{
	struct db_param	 p[] = { DB_STR(id), DB_I64(scope) };

	return db_one(db, lookup_sql(by, scope != 0, lock), p, scope ? 2 : 1,
	    row, res);
}

/* TKEY_ID: by slug first; a GUID-shaped id that is no slug, as a GUID. */
static int
find(struct db *db, enum tkey by, long long scope, int lock, const char *id,
    struct db_row *row, struct db_res **res)
{
	int	 rc;

	if (by != TKEY_ID)
		return get_by(db, by, scope, lock, id, row, res);
	rc = get_by(db, TKEY_SLUG, scope, lock, id, row, res);
	if (rc != 0 || !guid_shaped(id))
		return rc;
	return get_by(db, TKEY_GUID, scope, lock, id, row, res);
}

int
tenant_store_get(struct db *db, long long scope, enum tkey by, const char *id,
    struct db_row *row, struct db_res **res)
{
	return find(db, by, scope, 0, id, row, res);
}

int
tenant_store_current(struct db *db, long long account, struct db_row *row,
    struct db_res **res)
{
	static char	 sql[1536];
	struct db_param	 p[] = { DB_I64(account) };

	if (*sql == '\0')
		snprintf(sql, sizeof(sql), "SELECT %s FROM accounts a JOIN "
		    "tenants t ON t.pk = a.current_tenant_pk WHERE a.id = ?",
		    tenant_select_list());
	return db_one(db, sql, p, 1, row, res);
}

int
tenant_store_lock(struct db *db, long long scope, enum tkey by, const char *id,
    struct db_row *row, struct db_res **res)
{
	return find(db, by, scope, 1, id, row, res);
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
tenant_store_default_location(struct db *db, long long pk)
{
	struct db_param	 p[] = { DB_I64(pk), DB_I64(pk) };

	return db_exec(db, sql_default_location, p, 2, NULL);
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
			p[n++] = DB_STR(tenant_input_value(in, i));
	if ((e = db_exec(db, sql(TS_INSERT), p, n, NULL)) == DBE_OK)
		*pk = (long long)db_insert_id(db);
	return e;
}

/* Rows per INSERT: the most parameters a statement binds (db.h). */
#define METADATA_ROWS	(DB_PARAMS_MAX / 4)

/*
 * Up to METADATA_ROWS keys go in one statement: a create with a few keys
 * is one round trip more, not one per key.  The text is ours
 * (tenant_metadata_merge), so it parses and keeps to the limits.
 */
enum db_err
tenant_store_metadata(struct db *db, long long pk, long long account,
    const char *text)
{
	struct db_param	 p[4 * METADATA_ROWS];
	char		 sql[sizeof(sql_metadata_row) + 16 * METADATA_ROWS];
	json_t		*m = NULL, *v;
	const char	*k;
	size_t		 n = 0, left;
	enum db_err	 e;

	p[0] = DB_I64(pk);
	if ((e = db_exec(db, sql_metadata_clear, p, 1, NULL)) != DBE_OK ||
	    text == NULL)
		return e;
	if ((m = json_loads(text, 0, NULL)) == NULL)
		return DBE_OTHER;
	left = json_object_size(m);
	snprintf(sql, sizeof(sql), "%s", sql_metadata_row);
	json_object_foreach(m, k, v) {
		if (n > 0 && n % 4 == 0)
			strncat(sql, ", (?, ?, ?, ?)", sizeof(sql) - strlen(sql) - 1);
		p[n++] = DB_I64(pk);
		p[n++] = DB_I64(account);
		p[n++] = DB_STR(k);
		p[n++] = DB_STR(json_string_value(v));
		left--;
		if (n == 4 * METADATA_ROWS || left == 0) {
			if ((e = db_exec(db, sql, p, n, NULL)) != DBE_OK)
				break;
			n = 0;
			snprintf(sql, sizeof(sql), "%s", sql_metadata_row);
		}
	}
	json_decref(m);
	return e;
}
