#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenant_archive.h"

/*
 * The tables that hold a tenant's rows, parents first (a restore inserts
 * in this order), each with the WHERE clause that names them by the
 * tenant's pk.  A table a later migration adds with rows of a tenant
 * belongs here, or a restore comes back without them.
 */
static const struct {
	const char	*table;
	const char	*rows;
} parts[] = {
	{ "tenants", "pk = ?" },
	{ "tenant_metadata", "tenant_id = ?" },
	{ "tenant_users", "tenant_pk = ?" },
	{ "tenant_locations", "tenant_pk = ?" },
	{ "api_keys", "tenant_pk = ?" },
	{ "provisioning_jobs", "tenant_pk = ?" },
	{ "provisioning_steps", "job_id IN (SELECT id FROM provisioning_jobs "
	    "WHERE tenant_pk = ?)" },
	{ "connections", "tenant_pk = ?" },
	{ "m365_domains", "tenant_pk = ?" },
	{ "m365_mailboxes", "tenant_pk = ?" },
	{ "m365_sync_logs", "tenant_pk = ?" },
	{ "m365_enforcement_events", "tenant_pk = ?" },
	{ "tenant_themes", "tenant_pk = ?" },
};

#define NPARTS		(sizeof(parts) / sizeof(parts[0]))
#define SQL_MAX		8192

/*
 * Statements made from the live schema's columns once per process, so a
 * column a migration adds is archived and restored with no change here.
 * Only identifiers from information_schema go into them; values are bound.
 */
static struct {
	bool	 ready;
	bool	 present[NPARTS];
	char	 put[NPARTS * SQL_MAX / 2];
	char	 restore[NPARTS][SQL_MAX];
} stmts;

static const char sql_columns[] =
    "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE FROM information_schema.COLUMNS "
    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? "
    "AND EXTRA NOT LIKE '%GENERATED%' ORDER BY ORDINAL_POSITION";

#define ARCHIVE_COLUMNS "SELECT pk, account_id, slug, guid, name, display_name, " \
	"deleted_at, purge_after, deleted_by FROM tenants_deleted "

static const char sql_find_slug[] = ARCHIVE_COLUMNS
    "WHERE slug = ? AND (? = 0 OR account_id = ?)";
static const char sql_find_guid[] = ARCHIVE_COLUMNS
    "WHERE guid = ? AND (? = 0 OR account_id = ?)";
static const char sql_lock_slug[] = ARCHIVE_COLUMNS
    "WHERE slug = ? AND (? = 0 OR account_id = ?) FOR UPDATE";
static const char sql_lock_guid[] = ARCHIVE_COLUMNS
    "WHERE guid = ? AND (? = 0 OR account_id = ?) FOR UPDATE";
static const char sql_due[] = ARCHIVE_COLUMNS
    "WHERE purge_after <= UTC_TIMESTAMP(3) ORDER BY purge_after LIMIT 1 "
    "FOR UPDATE";
static const char sql_list[] = ARCHIVE_COLUMNS
    "WHERE account_id = ? ORDER BY pk DESC LIMIT ? OFFSET ?";
static const char sql_list_all[] = ARCHIVE_COLUMNS
    "ORDER BY pk DESC LIMIT ? OFFSET ?";
static const char sql_count[] =
    "SELECT COUNT(*) FROM tenants_deleted WHERE account_id = ?";
static const char sql_count_all[] = "SELECT COUNT(*) FROM tenants_deleted";
static const char sql_purge[] = "DELETE FROM tenants_deleted WHERE pk = ?";
/*
 * A locking read sees what committed last, so a delete that archived
 * the slug while this create waited for its row lock is seen.  A lookup
 * by each unique key, 1 for the slug and 2 for the name: one "slug = ?
 * OR name = ?" is a scan of the whole table while it is small, which as
 * a locking read locked every archived row.
 */
static const char sql_holds[] =
    "(SELECT 1 FROM tenants_deleted WHERE slug = ? LOCK IN SHARE MODE) "
    "UNION ALL (SELECT 2 FROM tenants_deleted WHERE name = ? "
    "LOCK IN SHARE MODE) ORDER BY 1 LIMIT 1";

static enum db_err
failed(struct db *db)
{
	enum db_err	 e = db_classify(db_errno(db));

	return e == DBE_OK ? DBE_OTHER : e;
}

static void
append(char *sql, size_t len, const char *s)
{
	strncat(sql, s, len - strlen(sql) - 1);
}

/* Binary columns travel as hexadecimal: JSON text holds no raw bytes. */
static bool
binary_type(const char *t)
{
	return strstr(t, "binary") != NULL || strstr(t, "blob") != NULL;
}

/* Numbers and times keep their SQL type in JSON_TABLE; the rest is text. */
static bool
typed(const char *t)
{
	static const char *const kinds[] = { "tinyint", "smallint",
	    "mediumint", "int", "bigint", "decimal", "float", "double",
	    "date", "datetime", "timestamp", "time", "year" };
	size_t	 i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(t, kinds[i]) == 0)
			return true;
	return false;
}

/*
 * One table's part of the snapshot: "table":[{...},...] by a subquery,
 * and the statement that inserts its rows back from the archived text.
 */
static enum db_err
build_part(struct db *db, size_t i, char *snap, size_t snaplen)
{
	struct db_param	 p[] = { DB_STR(parts[i].table) };
	struct db_res	*res = NULL;
	struct db_row	 row;
	char		 cols[SQL_MAX / 2] = "", sel[SQL_MAX / 2] = "",
			 jt[SQL_MAX] = "", *r = stmts.restore[i];
	size_t		 n = 0;
	enum db_err	 e;

	if ((e = db_exec(db, sql_columns, p, 1, &res)) != DBE_OK)
		return e;
	snprintf(snap, snaplen, "'\"%s\":', (SELECT COALESCE(JSON_ARRAYAGG("
	    "JSON_OBJECT(", parts[i].table);
	while (db_next(res, &row) == 1) {
		const char *c = row.v[0], *dt = row.v[1], *ct = row.v[2];
		bool bin = binary_type(dt);

		if (n++ > 0) {
			append(snap, snaplen, ", ");
			append(cols, sizeof(cols), ", ");
			append(sel, sizeof(sel), ", ");
			append(jt, sizeof(jt), ", ");
		}
		snprintf(snap + strlen(snap), snaplen - strlen(snap),
		    bin ? "'%s', HEX(`%s`)" : "'%s', `%s`", c, c);
		snprintf(cols + strlen(cols), sizeof(cols) - strlen(cols),
		    "`%s`", c);
		snprintf(sel + strlen(sel), sizeof(sel) - strlen(sel),
		    bin ? "UNHEX(j.`%s`)" : "j.`%s`", c);
		snprintf(jt + strlen(jt), sizeof(jt) - strlen(jt),
		    "`%s` %s PATH '$.%s'", c, !bin && typed(dt) ? ct :
		    "LONGTEXT", c);
	}
	db_res_free(res);
	stmts.present[i] = n > 0;
	if (n == 0) {
		*snap = '\0';
		return DBE_OK;
	}
	snprintf(snap + strlen(snap), snaplen - strlen(snap),
	    ")), JSON_ARRAY()) FROM `%s` WHERE %s)", parts[i].table,
	    parts[i].rows);
	snprintf(r, SQL_MAX, "INSERT INTO `%s` (%s) SELECT %s FROM "
	    "tenants_deleted d, JSON_TABLE(d.snapshot, '$.%s[*]' COLUMNS (%s)) j "
	    "WHERE d.pk = ?", parts[i].table, cols, sel, parts[i].table, jt);
	return DBE_OK;
}

static enum db_err
build(struct db *db)
{
	char		 snap[SQL_MAX];
	size_t		 i, n = 0;
	enum db_err	 e;

	if (stmts.ready)
		return DBE_OK;
	snprintf(stmts.put, sizeof(stmts.put), "INSERT INTO tenants_deleted "
	    "(pk, account_id, slug, guid, name, display_name, deleted_at, "
	    "purge_after, deleted_by, snapshot) SELECT t.pk, t.account_id, "
	    "t.slug, t.guid, t.name, t.display_name, UTC_TIMESTAMP(3), "
	    "UTC_TIMESTAMP(3) + INTERVAL ? DAY, ?, CONCAT('{'");
	for (i = 0; i < NPARTS; i++) {
		if ((e = build_part(db, i, snap, sizeof(snap))) != DBE_OK)
			return e;
		if (!stmts.present[i])
			continue;
		append(stmts.put, sizeof(stmts.put), n++ > 0 ? ", ',', " : ", ");
		append(stmts.put, sizeof(stmts.put), snap);
	}
	append(stmts.put, sizeof(stmts.put), ", '}') FROM tenants t WHERE t.pk = ?");
	stmts.ready = true;
	return DBE_OK;
}

enum db_err
tenant_archive_put(struct db *db, long long pk, long days,
    const char *deleted_by)
{
	struct db_param	 p[NPARTS + 3];
	size_t		 i, n = 0;
	enum db_err	 e;

	if ((e = build(db)) != DBE_OK)
		return e;
	p[n++] = DB_I64(days);
	p[n++] = DB_STR(deleted_by);
	for (i = 0; i < NPARTS; i++)
		if (stmts.present[i])
			p[n++] = DB_I64(pk);
	p[n++] = DB_I64(pk);
	return db_exec(db, stmts.put, p, n, NULL);
}

enum db_err
tenant_archive_restore(struct db *db, long long pk)
{
	struct db_param	 p[] = { DB_I64(pk) };
	size_t		 i;
	enum db_err	 e;

	if ((e = build(db)) != DBE_OK)
		return e;
	for (i = 0; i < NPARTS; i++)
		if (stmts.present[i] &&
		    (e = db_exec(db, stmts.restore[i], p, 1, NULL)) != DBE_OK)
			return e;
	return db_exec(db, sql_purge, p, 1, NULL);
}

static bool
guid_shaped(const char *s)
{
	return strlen(s) == 36 && s[8] == '-' && s[13] == '-' &&
	    s[18] == '-' && s[23] == '-';
}

int
tenant_archive_find(struct db *db, long long scope, const char *id, int lock,
    struct db_row *row, struct db_res **res)
{
	struct db_param	 p[] = { DB_STR(id), DB_I64(scope), DB_I64(scope) };
	int		 rc;

	rc = db_one(db, lock ? sql_lock_slug : sql_find_slug, p, 3, row, res);
	if (rc != 0 || !guid_shaped(id))
		return rc;
	db_res_free(*res);
	*res = NULL;
	return db_one(db, lock ? sql_lock_guid : sql_find_guid, p, 3, row, res);
}

enum db_err
tenant_archive_holds(struct db *db, const char *slug, const char *name,
    const char **taken)
{
	struct db_param	 p[] = { DB_STR(slug), DB_STR(name) };
	struct db_res	*res = NULL;
	struct db_row	 row;
	int		 rc;

	*taken = NULL;
	rc = db_one(db, sql_holds, p, 2, &row, &res);
	if (rc == 1)
		*taken = strcmp(row.v[0], "1") == 0 ? "id" : "name";
	db_res_free(res);
	return rc >= 0 ? DBE_OK : failed(db);
}

enum db_err
tenant_archive_purge(struct db *db, long long pk)
{
	struct db_param	 p[] = { DB_I64(pk) };

	return db_exec(db, sql_purge, p, 1, NULL);
}

int
tenant_archive_due(struct db *db, struct db_row *row, struct db_res **res)
{
	return db_one(db, sql_due, NULL, 0, row, res);
}

enum db_err
tenant_archive_list(struct db *db, long long scope, long long limit,
    long long offset, struct db_res **res, long long *total)
{
	struct db_param	 p[] = { DB_I64(scope), DB_I64(limit), DB_I64(offset) };
	struct db_res	*cres = NULL;
	struct db_row	 row;
	int		 rc;

	*res = NULL;
	rc = db_one(db, scope ? sql_count : sql_count_all, p, scope ? 1 : 0,
	    &row, &cres);
	if (rc == 1)
		*total = strtoll(row.v[0], NULL, 10);
	db_res_free(cres);
	if (rc != 1)
		return failed(db);
	return db_exec(db, scope ? sql_list : sql_list_all, scope ? p : p + 1,
	    scope ? 3 : 2, res);
}
