#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "logfile.h"
#include "provision.h"

#define PROVISION_POLL_US	500000
#define PROVISION_LEASE_S	300	/* a claimed job comes back after this */
#define PROVISION_ATTEMPTS	5

enum step {
	STEP_VALIDATE,
	STEP_DATABASE,
	STEP_SEED,
	STEP_ACTIVATE,
	STEP__MAX
};

struct job {
	long long	 id;
	long long	 tenant_pk;
	int		 attempts;
	char		 conn[1001];	/* "" = the shared database */
	char		 admin_email[255];
	char		 error[512];
};

static int	 step_validate(struct db *, const struct config *, struct job *);
static int	 step_database(struct db *, const struct config *, struct job *);
static int	 step_seed(struct db *, const struct config *, struct job *);
static int	 step_activate(struct db *, const struct config *, struct job *);

static const struct {
	const char	*name;
	int		(*run)(struct db *, const struct config *, struct job *);
} steps[STEP__MAX] = {
	[STEP_VALIDATE] = { "validate", step_validate },
	[STEP_DATABASE] = { "database", step_database },
	[STEP_SEED] = { "seed", step_seed },
	[STEP_ACTIVATE] = { "activate", step_activate },
};

/*
 * A lease rather than a long transaction: DDL in the database step would
 * commit any transaction anyway.  A node that dies mid-job lets the lease
 * run out and another node takes the job over.
 */
static const char sql_claim[] =
    "SELECT j.id, j.tenant_pk, j.attempts, t.connection_string, "
    "t.admin_email FROM provisioning_jobs j "
    "JOIN tenants t ON t.pk = j.tenant_pk "
    "WHERE j.status IN ('Pending', 'InProgress') "
    "AND j.next_attempt_at <= UTC_TIMESTAMP(3) "
    "ORDER BY j.next_attempt_at, j.id LIMIT 1 FOR UPDATE SKIP LOCKED";
static const char sql_lease[] =
    "UPDATE provisioning_jobs SET status = 'InProgress', "
    "attempts = attempts + 1, next_attempt_at = UTC_TIMESTAMP(3) + "
    "INTERVAL ? SECOND, updated_at = UTC_TIMESTAMP(3) WHERE id = ?";
static const char sql_tenant_status[] =
    "UPDATE tenants SET provisioning_status = ? WHERE pk = ?";
static const char sql_step[] =
    "UPDATE provisioning_jobs SET step = ?, updated_at = UTC_TIMESTAMP(3) "
    "WHERE id = ?";
static const char sql_done[] =
    "UPDATE provisioning_jobs SET status = 'Completed', step = NULL, "
    "error = NULL, updated_at = UTC_TIMESTAMP(3) WHERE id = ?";
static const char sql_retry[] =
    "UPDATE provisioning_jobs SET status = ?, error = ?, "
    "next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND, "
    "updated_at = UTC_TIMESTAMP(3) WHERE id = ?";
static const char sql_seed_admin[] =
    "INSERT IGNORE INTO tenant_users (tenant_pk, email, role) "
    "VALUES (?, ?, 'admin')";
static const char sql_seed_location[] =
    "INSERT INTO tenant_locations (tenant_pk, name, is_default) "
    "SELECT ?, 'Default', 1 FROM DUAL WHERE NOT EXISTS "
    "(SELECT 1 FROM tenant_locations WHERE tenant_pk = ? AND is_default = 1)";
/*
 * isActive stays as the client set it (a tenant created disabled stays
 * disabled), and the version is left alone: provisioning status is the
 * server's bookkeeping, and bumping the ETag under a client that just
 * read the tenant would fail its next If-Match for no change of its own.
 */
static const char sql_activate[] =
    "UPDATE tenants SET provisioning_status = 'Completed' WHERE pk = ?";

struct claim {
	struct job	*job;
	int		 found;
};

static void
copy_col(char *dst, size_t len, const char *v)
{
	snprintf(dst, len, "%s", v ? v : "");
}

static enum db_err
claim_fn(struct db *db, void *arg)
{
	struct claim	*c = arg;
	struct db_row	 row;
	struct db_res	*res;
	int		 rc;

	c->found = 0;
	if ((rc = db_one(db, sql_claim, NULL, 0, &row, &res)) != 1)
		return rc == 0 ? DBE_OK : db_classify(db_errno(db));
	c->job->id = strtoll(row.v[0], NULL, 10);
	c->job->tenant_pk = strtoll(row.v[1], NULL, 10);
	c->job->attempts = atoi(row.v[2]) + 1;
	copy_col(c->job->conn, sizeof(c->job->conn), row.v[3]);
	copy_col(c->job->admin_email, sizeof(c->job->admin_email), row.v[4]);
	db_res_free(res);
	c->found = 1;
	{
		struct db_param p[] = { DB_I64(PROVISION_LEASE_S),
		    DB_I64(c->job->id) };
		struct db_param t[] = { DB_STR("InProgress"),
		    DB_I64(c->job->tenant_pk) };
		enum db_err	e;

		if ((e = db_exec(db, sql_lease, p, 2, NULL)) != DBE_OK)
			return e;
		return db_exec(db, sql_tenant_status, t, 2, NULL);
	}
}

/* "Server=h;Port=3306;Database=d;User Id=u;Password=p" -> its parts. */
struct conn_parts {
	char	 host[256], db[65], user[81], password[129];
	unsigned port;
};

static int
conn_value(const char *cs, const char *const *keys, char *out, size_t len)
{
	const char	*p = cs, *eq, *end;
	size_t		 i, klen;

	while (*p != '\0') {
		while (*p == ';' || *p == ' ')
			p++;
		eq = strchr(p, '=');
		end = p + strcspn(p, ";");
		if (eq == NULL || eq > end)
			break;
		klen = (size_t)(eq - p);
		for (i = 0; keys[i] != NULL; i++)
			if (strlen(keys[i]) == klen &&
			    strncasecmp(p, keys[i], klen) == 0) {
				snprintf(out, len, "%.*s", (int)(end - eq - 1),
				    eq + 1);
				return 0;
			}
		p = end;
	}
	return -1;
}

static int
conn_parse(const char *cs, struct conn_parts *c)
{
	static const char *const host[] = { "Server", "Host", "Data Source", NULL };
	static const char *const db[] = { "Database", "Initial Catalog", NULL };
	static const char *const user[] = { "User Id", "User", "Uid",
	    "Username", NULL };
	static const char *const pw[] = { "Password", "Pwd", NULL };
	static const char *const port[] = { "Port", NULL };
	char	 p[16] = "3306";

	memset(c, 0, sizeof(*c));
	if (conn_value(cs, host, c->host, sizeof(c->host)) == -1 ||
	    conn_value(cs, db, c->db, sizeof(c->db)) == -1 ||
	    conn_value(cs, user, c->user, sizeof(c->user)) == -1)
		return -1;
	conn_value(cs, pw, c->password, sizeof(c->password));
	conn_value(cs, port, p, sizeof(p));
	c->port = (unsigned)strtoul(p, NULL, 10);
	return 0;
}

/* Is host on the comma-separated allow-list? */
static int
host_allowed(const char *list, const char *host)
{
	const char	*p = list;
	size_t		 n, hl = strlen(host);

	while (*p != '\0') {
		while (*p == ',' || *p == ' ')
			p++;
		n = strcspn(p, ", ");
		if (n == hl && strncasecmp(p, host, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

static int
step_validate(struct db *db, const struct config *cfg, struct job *j)
{
	struct conn_parts	 c;

	(void)db;
	if (j->conn[0] == '\0')
		return 0;
	if (conn_parse(j->conn, &c) == -1) {
		snprintf(j->error, sizeof(j->error), "connectionString needs "
		    "Server, Database and User Id");
		return -1;
	}
	if (!host_allowed(cfg->provision_db_hosts, c.host)) {
		snprintf(j->error, sizeof(j->error), "database host %s is not "
		    "in provision.db_hosts", c.host);
		return -1;
	}
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Applies sql/tenant/NNNN_*.sql, each written to be re-run safely. */
static int
apply_tenant_sql(struct db *tdb, const char *dir, char *err, size_t errlen)
{
	struct dirent	*de;
	DIR		*d;
	char		*files[64], path[4096], *sql = NULL;
	size_t		 n = 0, i, len;
	FILE		*f;
	int		 rc = 0;

	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "%s: cannot open", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL && n < 64)
		if (isdigit((unsigned char)de->d_name[0]) &&
		    strstr(de->d_name, ".sql") != NULL)
			files[n++] = strdup(de->d_name);
	closedir(d);
	qsort(files, n, sizeof(files[0]), name_cmp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (rc == 0 && (f = fopen(path, "rb")) != NULL) {
			sql = malloc(1 << 20);
			len = sql ? fread(sql, 1, (1 << 20) - 1, f) : 0;
			fclose(f);
			if (sql == NULL || db_run_script(tdb, sql, len) == -1) {
				snprintf(err, errlen, "%s: %s", files[i],
				    db_error(tdb));
				rc = -1;
			}
			free(sql);
		}
		free(files[i]);
	}
	return rc;
}

static int
step_database(struct db *db, const struct config *cfg, struct job *j)
{
	struct conn_parts	 c;
	struct db		*tdb;
	int			 rc;

	(void)db;
	if (j->conn[0] == '\0')
		return 0;	/* shared database: rows are isolated by tenant */
	if (conn_parse(j->conn, &c) == -1)
		return -1;
	/*
	 * "localhost" means a unix socket to MySQL clients; when tenantd's
	 * own database is on one, a tenant database on the same host is
	 * reached through the same socket.
	 */
	tdb = db_new(&(struct db_params){ .host = c.host, .port = c.port,
	    .socket = strcasecmp(c.host, "localhost") == 0 ?
	    cfg->db_socket : NULL,
	    .user = c.user, .password = c.password, .name = c.db,
	    .connect_timeout = 5 });
	if (tdb == NULL || db_connect(tdb) == -1) {
		snprintf(j->error, sizeof(j->error), "tenant database: %s",
		    tdb ? db_error(tdb) : "out of memory");
		db_free(tdb);
		return -1;
	}
	rc = apply_tenant_sql(tdb, cfg->provision_sql_dir, j->error,
	    sizeof(j->error));
	db_free(tdb);
	return rc;
}

static int
step_seed(struct db *db, const struct config *cfg, struct job *j)
{
	struct db_param	 a[] = { DB_I64(j->tenant_pk), DB_STR(j->admin_email) };
	struct db_param	 l[] = { DB_I64(j->tenant_pk), DB_I64(j->tenant_pk) };

	(void)cfg;
	if ((j->admin_email[0] != '\0' &&
	    db_exec(db, sql_seed_admin, a, 2, NULL) != DBE_OK) ||
	    db_exec(db, sql_seed_location, l, 2, NULL) != DBE_OK) {
		snprintf(j->error, sizeof(j->error), "seed: %s", db_error(db));
		return -1;
	}
	return 0;
}

static int
step_activate(struct db *db, const struct config *cfg, struct job *j)
{
	struct db_param	 p[] = { DB_I64(j->tenant_pk) };
	struct db_param	 d[] = { DB_I64(j->id) };

	(void)cfg;
	if (db_exec(db, sql_activate, p, 1, NULL) != DBE_OK ||
	    db_exec(db, sql_done, d, 1, NULL) != DBE_OK) {
		snprintf(j->error, sizeof(j->error), "activate: %s",
		    db_error(db));
		return -1;
	}
	return 0;
}

/* Backoff doubles from 2 s; after the last attempt the job has Failed. */
static void
record_failure(struct db *db, struct job *j)
{
	int		 failed = j->attempts >= PROVISION_ATTEMPTS;
	long long	 delay = 1LL << (j->attempts < 12 ? j->attempts : 12);
	struct db_param	 p[] = { DB_STR(failed ? "Failed" : "Pending"),
	    DB_STR(j->error), DB_I64(delay), DB_I64(j->id) };
	struct db_param	 t[] = { DB_STR(failed ? "Failed" : "Pending"),
	    DB_I64(j->tenant_pk) };

	(void)db_exec(db, sql_retry, p, 4, NULL);
	(void)db_exec(db, sql_tenant_status, t, 2, NULL);
	fprintf(stderr, "tenantd: provisioning job %lld attempt %d: %s\n",
	    j->id, j->attempts, j->error);
}

int
provision_once(struct db *db, const struct config *cfg)
{
	struct job	 j;
	struct claim	 c = { &j, 0 };
	size_t		 i;

	memset(&j, 0, sizeof(j));
	if (db_txn(db, claim_fn, &c) != DBE_OK)
		return -1;
	if (!c.found)
		return 0;
	for (i = 0; i < STEP__MAX; i++) {
		struct db_param p[] = { DB_STR(steps[i].name), DB_I64(j.id) };

		(void)db_exec(db, sql_step, p, 2, NULL);
		if (steps[i].run(db, cfg, &j) == -1) {
			if (j.error[0] == '\0')
				snprintf(j.error, sizeof(j.error), "%s failed",
				    steps[i].name);
			record_failure(db, &j);
			return 1;
		}
	}
	return 1;
}

int
provision_run(const struct config *cfg, volatile sig_atomic_t *stop)
{
	struct db	*db;
	int		 rc;

	db = db_new(&(struct db_params){ .host = cfg->db_host,
	    .port = (unsigned)cfg->db_port, .socket = cfg->db_socket,
	    .user = cfg->db_user, .password = cfg->db_password,
	    .name = cfg->db_name,
	    .connect_timeout = (unsigned)cfg->db_connect_timeout });
	if (db == NULL)
		return 1;
	while (!*stop) {
		if (logfile_reopen_due())
			logfile_reopen();
		rc = provision_once(db, cfg);
		if (rc != 1)
			usleep(PROVISION_POLL_US);
	}
	db_free(db);
	return 0;
}
