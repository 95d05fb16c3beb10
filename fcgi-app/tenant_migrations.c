#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "tenant_migrations.h"
#include "tenant_model.h"

#define TMIG_FILE_MAX	(1 << 20)

static const char sql_table[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version VARCHAR(64) NOT NULL PRIMARY KEY, "
    "applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";
static const char sql_versions[] = "SELECT version FROM schema_migrations";
static const char sql_record[] =
    "INSERT IGNORE INTO schema_migrations (version) VALUES (?)";
static const char sql_lock[] = "SELECT GET_LOCK('tenantd_migrate', 60)";
static const char sql_unlock[] = "SELECT RELEASE_LOCK('tenantd_migrate')";
static const char sql_tenants[] =
    "SELECT pk, slug, guid, connection_string FROM tenants "
    "WHERE connection_string IS NOT NULL AND (? = 0 OR account_id = ?) "
    "AND pk > ? AND (? IS NULL OR slug = ?) ORDER BY pk LIMIT ?";

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int
tmig_load(const char *dir, struct tmig_set *set, char *err, size_t errlen)
{
	struct dirent	*de;
	DIR		*d;
	size_t		 len;

	set->n = 0;
	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "provision.sql_dir %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL && set->n < TMIG_MAX) {
		len = strlen(de->d_name);
		if (len > 9 && len - 4 < TMIG_NAME && de->d_name[4] == '_' &&
		    strspn(de->d_name, "0123456789") == 4 &&
		    strcmp(de->d_name + len - 4, ".sql") == 0)
			snprintf(set->name[set->n++], TMIG_NAME, "%.*s",
			    (int)(len - 4), de->d_name);
	}
	closedir(d);
	qsort(set->name, set->n, TMIG_NAME, name_cmp);
	if (set->n == 0) {
		snprintf(err, errlen, "provision.sql_dir %s: no NNNN_*.sql "
		    "files", dir);
		return -1;
	}
	return 0;
}

int
tmig_applied(struct db *tdb, const struct tmig_set *set,
    bool applied[TMIG_MAX], char last[TMIG_NAME])
{
	struct db_res	*res;
	struct db_row	 row;
	size_t		 i;

	memset(applied, 0, TMIG_MAX * sizeof(applied[0]));
	last[0] = '\0';
	if (db_exec(tdb, sql_versions, NULL, 0, &res) != DBE_OK)
		/* A database from before the table has applied nothing. */
		return db_errno(tdb) == 1146 ? 0 : -1;
	while (db_next(res, &row) == 1) {
		for (i = 0; i < set->n; i++)
			if (strcmp(row.v[0], set->name[i]) == 0)
				applied[i] = true;
		if (strcmp(row.v[0], last) > 0)
			snprintf(last, TMIG_NAME, "%s", row.v[0]);
	}
	db_res_free(res);
	return 0;
}

static int
run_file(struct db *tdb, const char *dir, const char *name, char *err,
    size_t errlen)
{
	char	 path[4096], *sql;
	size_t	 len;
	FILE	*f;
	int	 rc;

	snprintf(path, sizeof(path), "%s/%s.sql", dir, name);
	if ((f = fopen(path, "rb")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((sql = malloc(TMIG_FILE_MAX)) == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	len = fread(sql, 1, TMIG_FILE_MAX - 1, f);
	fclose(f);
	if ((rc = db_run_script(tdb, sql, len)) == -1)
		snprintf(err, errlen, "%s: %s", path, db_error(tdb));
	free(sql);
	return rc;
}

static int
apply_locked(struct db *tdb, const char *dir, const struct tmig_set *set,
    int *napplied, char *err, size_t errlen)
{
	bool		 applied[TMIG_MAX];
	char		 last[TMIG_NAME];
	size_t		 i;

	if (tmig_applied(tdb, set, applied, last) == -1) {
		snprintf(err, errlen, "schema_migrations: %s", db_error(tdb));
		return -1;
	}
	for (i = 0; i < set->n; i++) {
		struct db_param p[] = { DB_STR(set->name[i]) };

		if (applied[i])
			continue;
		if (run_file(tdb, dir, set->name[i], err, errlen) == -1)
			return -1;
		if (db_exec(tdb, sql_record, p, 1, NULL) != DBE_OK) {
			snprintf(err, errlen, "recording %s: %s", set->name[i],
			    db_error(tdb));
			return -1;
		}
		(*napplied)++;
	}
	return 0;
}

int
tmig_apply(struct db *tdb, const char *dir, const struct tmig_set *set,
    int *napplied, char *err, size_t errlen)
{
	struct db_res	*res;
	struct db_row	 row;
	int		 rc;

	*napplied = 0;
	if (db_exec(tdb, sql_table, NULL, 0, NULL) != DBE_OK ||
	    db_one(tdb, sql_lock, NULL, 0, &row, &res) != 1) {
		snprintf(err, errlen, "schema_migrations: %s", db_error(tdb));
		return -1;
	}
	rc = row.v[0] != NULL && strcmp(row.v[0], "1") == 0 ? 0 : -1;
	db_res_free(res);
	if (rc == -1) {
		snprintf(err, errlen, "another migration of this database "
		    "holds its lock");
		return -1;
	}
	rc = apply_locked(tdb, dir, set, napplied, err, errlen);
	if (db_exec(tdb, sql_unlock, NULL, 0, &res) == DBE_OK)
		db_res_free(res);
	return rc;
}

/* Opens one tenant's database, or says why it cannot. */
static void
reach(const struct config *cfg, const struct db_row *row,
    struct tmig_tenant *t)
{
	struct connstr	 c;
	char		 conn[CONNSTR_MAX + 1];
	const char	*why;

	t->tdb = NULL;
	t->database[0] = '\0';
	if (tenant_conn_open(row->v[3], row->len[3], t->slug, conn,
	    sizeof(conn)) == -1) {
		t->fail = TDB_NOT_ALLOWED;
		snprintf(t->log, sizeof(t->log), "connection string does not "
		    "open with any configured secrets key");
		return;
	}
	if ((why = tenant_db_target(conn, t->slug, &c, t->database)) != NULL) {
		t->fail = TDB_NOT_ALLOWED;
		snprintf(t->log, sizeof(t->log), "connection string: %s", why);
	} else
		t->tdb = tenant_db_connect(cfg, &c, t->database, &t->fail,
		    t->log, sizeof(t->log));
	OPENSSL_cleanse(&c, sizeof(c));
	OPENSSL_cleanse(conn, sizeof(conn));
}

enum db_err
tmig_each(struct db *db, const struct config *cfg, long long scope,
    const char *only, long long after, long long limit,
    int (*fn)(struct tmig_tenant *, void *), void *arg)
{
	struct db_param	 p[] = { DB_I64(scope), DB_I64(scope), DB_I64(after),
	    DB_STR(only), DB_STR(only), DB_I64(limit) };
	struct db_res	*res;
	struct db_row	 row;
	struct tmig_tenant t;
	enum db_err	 e;
	int		 rc = 0;

	if ((e = db_exec(db, sql_tenants, p, 6, &res)) != DBE_OK)
		return e;
	while (rc == 0 && db_next(res, &row) == 1) {
		memset(&t, 0, sizeof(t));
		t.pk = strtoll(row.v[0], NULL, 10);
		t.slug = row.v[1];
		t.guid = row.v[2];
		reach(cfg, &row, &t);
		rc = fn(&t, arg);
		db_free(t.tdb);
	}
	db_res_free(res);
	return DBE_OK;
}
