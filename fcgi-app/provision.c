#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "connstr.h"
#include "connections.h"
#include "logfile.h"
#include "provision.h"
#include "secretbox.h"
#include "tenant_model.h"
#include "tenant_store.h"
#include "tenants_deleted.h"

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

/*
 * What a caller sees of a failed step: a category and a fixed sentence.
 * The driver's message, paths and host names go to tenantd's log only,
 * so the job cannot serve as a password oracle or a port scanner.
 */
enum fail {
	FAIL_NOT_ALLOWED,
	FAIL_UNREACHABLE,
	FAIL_ACCESS_DENIED,
	FAIL_MIGRATION,
	FAIL_TIMEOUT,
	FAIL_INTERNAL,
};

static const struct {
	const char	*code, *sentence;
	int		 final;		/* retrying cannot help */
} fails[] = {
	[FAIL_NOT_ALLOWED] = { "not_allowed", "The connection string is not "
	    "allowed by this server's provisioning policy.", 1 },
	[FAIL_UNREACHABLE] = { "unreachable", "The tenant database server "
	    "could not be reached.", 0 },
	[FAIL_ACCESS_DENIED] = { "access_denied", "The tenant database server "
	    "refused the provisioning account.", 0 },
	[FAIL_MIGRATION] = { "migration_failed", "The tenant database schema "
	    "could not be applied.", 0 },
	[FAIL_TIMEOUT] = { "timeout", "The tenant database server did not "
	    "answer in time.", 0 },
	[FAIL_INTERNAL] = { "internal", "Provisioning failed inside tenantd; "
	    "the server log has the details.", 0 },
};

struct job {
	long long	 id;
	long long	 tenant_pk;
	int		 attempts;
	char		 conn[CONNSTR_MAX + 1];	/* clear; "" = shared database */
	char		 slug[64];
	char		 admin_email[255];
	char		 error[512];	/* "code: sentence", for the job */
	char		 log[1024];	/* the details, for tenantd's log */
	int		 final;
	int		 unreadable;	/* sealed with a key we do not have */
	unsigned	 done;		/* bit per enum step already completed */
};

/* Records a failure: its category on the job, the details in the log. */
static int
job_fail(struct job *j, enum fail f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
job_fail(struct job *j, enum fail f, const char *fmt, ...)
{
	va_list	 ap;

	snprintf(j->error, sizeof(j->error), "%s: %s", fails[f].code,
	    fails[f].sentence);
	j->final = fails[f].final;
	va_start(ap, fmt);
	vsnprintf(j->log, sizeof(j->log), fmt, ap);
	va_end(ap);
	return -1;
}

static int	 db_lost(struct db *);
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
    "t.admin_email, t.slug FROM provisioning_jobs j "
    "JOIN tenants t ON t.pk = j.tenant_pk "
    "WHERE j.status IN ('Pending', 'InProgress') "
    "AND j.next_attempt_at <= UTC_TIMESTAMP(3) "
    "ORDER BY j.next_attempt_at, j.id LIMIT 1 FOR UPDATE SKIP LOCKED";
static const char sql_lease[] =
    "UPDATE provisioning_jobs SET status = 'InProgress', "
    "attempts = attempts + 1, next_attempt_at = UTC_TIMESTAMP(3) + "
    "INTERVAL ? SECOND, started_at = COALESCE(started_at, "
    "UTC_TIMESTAMP(3)), updated_at = UTC_TIMESTAMP(3) WHERE id = ?";
/* Steps a job has completed are not run again (a retry, a resume). */
static const char sql_steps_done[] =
    "SELECT step FROM provisioning_steps WHERE job_id = ? "
    "AND status = 'Completed'";
static const char sql_step_start[] =
    "INSERT INTO provisioning_steps (job_id, step, status, attempts, "
    "started_at) VALUES (?, ?, 'InProgress', 1, UTC_TIMESTAMP(3)) "
    "ON DUPLICATE KEY UPDATE status = 'InProgress', attempts = attempts + 1, "
    "started_at = UTC_TIMESTAMP(3), completed_at = NULL, error = NULL";
static const char sql_step_end[] =
    "UPDATE provisioning_steps SET status = ?, error = ?, completed_at = "
    "IF(? = 'Completed', UTC_TIMESTAMP(3), NULL) WHERE job_id = ? AND step = ?";
static const char sql_tenant_status[] =
    "UPDATE tenants SET provisioning_status = ? WHERE pk = ?";
static const char sql_step[] =
    "UPDATE provisioning_jobs SET step = ?, updated_at = UTC_TIMESTAMP(3) "
    "WHERE id = ?";
static const char sql_done[] =
    "UPDATE provisioning_jobs SET status = 'Completed', step = NULL, "
    "error = NULL, completed_at = UTC_TIMESTAMP(3), "
    "updated_at = UTC_TIMESTAMP(3) WHERE id = ?";
static const char sql_retry[] =
    "UPDATE provisioning_jobs SET status = ?, error = ?, "
    "next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND, "
    "updated_at = UTC_TIMESTAMP(3) WHERE id = ?";
static const char sql_seed_admin[] =
    "INSERT IGNORE INTO tenant_users (tenant_pk, email, role) "
    "VALUES (?, ?, 'admin')";
/*
 * isActive stays as the client set it (a tenant created disabled stays
 * disabled), and the version is left alone: provisioning status is the
 * server's bookkeeping, and bumping the ETag under a client that just
 * read the tenant would fail its next If-Match for no change of its own.
 */
static const char sql_activate[] =
    "UPDATE tenants SET provisioning_status = 'Completed' WHERE pk = ?";

static enum db_err	 steps_done(struct db *, struct job *);

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
	copy_col(c->job->admin_email, sizeof(c->job->admin_email), row.v[4]);
	copy_col(c->job->slug, sizeof(c->job->slug), row.v[5]);
	/* A string that does not open fails the validate step. */
	if (row.v[3] != NULL && tenant_conn_open(row.v[3], row.len[3],
	    c->job->slug, c->job->conn, sizeof(c->job->conn)) == -1)
		c->job->unreadable = 1;
	db_res_free(res);
	c->found = 1;
	{
		struct db_param p[] = { DB_I64(PROVISION_LEASE_S),
		    DB_I64(c->job->id) };
		struct db_param t[] = { DB_STR("InProgress"),
		    DB_I64(c->job->tenant_pk) };
		enum db_err	e;

		if ((e = db_exec(db, sql_lease, p, 2, NULL)) != DBE_OK ||
		    (e = db_exec(db, sql_tenant_status, t, 2, NULL)) != DBE_OK)
			return e;
		return steps_done(db, c->job);
	}
}

/*
 * The same parse and policy as the request's validator, again at job
 * time: the configuration may have changed since, and a row may predate
 * the policy.  A string that fails is never connected to.
 */
static int
conn_checked(struct job *j, struct connstr *c, char dbname[65])
{
	const char	*why;

	if (j->unreadable)
		return job_fail(j, FAIL_NOT_ALLOWED, "connection string does "
		    "not open with any configured secrets key");
	if ((why = connstr_parse(j->conn, strlen(j->conn), c)) != NULL ||
	    (why = connstr_check(c, tenant_model_conn_policy())) != NULL)
		return job_fail(j, FAIL_NOT_ALLOWED, "connection string: %s",
		    why);
	if (connstr_db_name(c, j->slug, dbname) == -1)
		return job_fail(j, FAIL_NOT_ALLOWED, "no database name can be "
		    "derived from slug %s", j->slug);
	if ((why = connstr_check_db(dbname, tenant_model_conn_policy())) != NULL)
		return job_fail(j, FAIL_NOT_ALLOWED, "database %s: %s", dbname,
		    why);
	return 0;
}

static enum db_err
steps_done(struct db *db, struct job *j)
{
	struct db_param	 p[] = { DB_I64(j->id) };
	struct db_res	*res;
	struct db_row	 row;
	enum db_err	 e;
	size_t		 i;

	if ((e = db_exec(db, sql_steps_done, p, 1, &res)) != DBE_OK)
		return e;
	while (db_next(res, &row) == 1)
		for (i = 0; i < STEP__MAX; i++)
			if (row.v[0] != NULL && strcmp(row.v[0], steps[i].name) == 0)
				j->done |= 1u << i;
	db_res_free(res);
	return DBE_OK;
}

static int
step_validate(struct db *db, const struct config *cfg, struct job *j)
{
	struct connstr	 c;
	char		 dbname[65];
	int		 rc;

	(void)db;
	(void)cfg;
	if (j->conn[0] == '\0' && !j->unreadable)
		return 0;
	rc = conn_checked(j, &c, dbname);
	OPENSSL_cleanse(&c, sizeof(c));
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Applies sql/tenant/NNNN_*.sql, each written to be re-run safely. */
static int
apply_tenant_sql(struct db *tdb, const char *dir, struct job *j)
{
	struct dirent	*de;
	DIR		*d;
	char		*files[64], path[4096], *sql = NULL;
	size_t		 n = 0, i, len;
	FILE		*f;
	int		 rc = 0;

	if ((d = opendir(dir)) == NULL)
		return job_fail(j, FAIL_MIGRATION, "provision.sql_dir %s: %s",
		    dir, strerror(errno));
	while ((de = readdir(d)) != NULL && n < 64)
		if (isdigit((unsigned char)de->d_name[0]) &&
		    strstr(de->d_name, ".sql") != NULL &&
		    (files[n] = strdup(de->d_name)) != NULL)
			n++;
	closedir(d);
	qsort(files, n, sizeof(files[0]), name_cmp);
	if (n == 0)
		rc = job_fail(j, FAIL_MIGRATION, "provision.sql_dir %s: no "
		    "NNNN_*.sql files", dir);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (rc == 0 && (f = fopen(path, "rb")) == NULL)
			rc = job_fail(j, FAIL_MIGRATION, "%s: %s", path,
			    strerror(errno));
		else if (rc == 0) {
			sql = malloc(1 << 20);
			len = sql ? fread(sql, 1, (1 << 20) - 1, f) : 0;
			fclose(f);
			if (sql == NULL || db_run_script(tdb, sql, len) == -1)
				rc = job_fail(j, db_lost(tdb) ? FAIL_TIMEOUT :
				    FAIL_MIGRATION, "%s: %s", path,
				    sql ? db_error(tdb) : "out of memory");
			free(sql);
		}
		free(files[i]);
	}
	return rc;
}

/* Was the connection lost or timed out (rather than refused)? */
static int
db_lost(struct db *tdb)
{
	unsigned int	 e = db_errno(tdb);

	return e == 2013 || e == 2006;	/* CR_SERVER_LOST, CR_SERVER_GONE */
}

static enum fail
connect_failure(struct db *tdb)
{
	switch (db_errno(tdb)) {
	case 1044:	/* ER_DBACCESS_DENIED_ERROR */
	case 1045:	/* ER_ACCESS_DENIED_ERROR */
	case 1142:	/* ER_TABLEACCESS_DENIED_ERROR */
	case 1227:	/* ER_SPECIFIC_ACCESS_DENIED_ERROR */
	case 1698:	/* ER_ACCESS_DENIED_NO_PASSWORD_ERROR */
		return FAIL_ACCESS_DENIED;
	case 2013:	/* CR_SERVER_LOST: handshake or read timed out */
	case 2006:
		return FAIL_TIMEOUT;
	case 2002:	/* CR_CONNECTION_ERROR */
	case 2003:	/* CR_CONN_HOST_ERROR */
		/* The client reports a connect timeout as errno 110 here. */
		return strstr(db_error(tdb), "(110)") != NULL ? FAIL_TIMEOUT :
		    FAIL_UNREACHABLE;
	default:	/* 2005 (unknown host) and the rest */
		return FAIL_UNREACHABLE;
	}
}

/*
 * Connects with tenantd's provisioning account, never with the user or
 * password in the connection string: those are the tenant
 * application's, kept for it alone.  name NULL connects to no database.
 */
static struct db *
prov_connect(const struct config *cfg, const struct connstr *c,
    const char *name, struct job *j)
{
	struct db	*tdb;
	const char	*user = cfg->db_user, *pw = cfg->db_password;

	if (cfg->provision_db_user[0] != '\0') {
		user = cfg->provision_db_user;
		pw = cfg->provision_db_password;
	}
	/*
	 * "localhost" means a unix socket to MySQL clients; when tenantd's
	 * own database is on one, a tenant database on the same host is
	 * reached through the same socket.
	 */
	tdb = db_new(&(struct db_params){ .host = c->host, .port = c->port,
	    .socket = strcasecmp(c->host, "localhost") == 0 ?
	    cfg->db_socket : NULL,
	    .user = user, .password = pw, .name = name,
	    .connect_timeout = (unsigned)cfg->provision_connect_timeout,
	    .rw_timeout = (unsigned)cfg->provision_read_timeout });
	if (tdb == NULL) {
		job_fail(j, FAIL_INTERNAL, "out of memory");
		return NULL;
	}
	if (db_connect(tdb) == -1) {
		job_fail(j, connect_failure(tdb), "tenant database "
		    "%s:%u: %s", c->host, c->port, db_error(tdb));
		db_free(tdb);
		return NULL;
	}
	return tdb;
}

static int
step_database(struct db *db, const struct config *cfg, struct job *j)
{
	struct connstr	 c;
	struct db	*tdb = NULL;
	char		 dbname[65], create[160];
	int		 rc = -1;

	(void)db;
	if (j->conn[0] == '\0')
		return 0;	/* shared database: rows are isolated by tenant */
	if (conn_checked(j, &c, dbname) == -1)
		goto done;
	if ((tdb = prov_connect(cfg, &c, NULL, j)) == NULL)
		goto done;
	/*
	 * DDL takes no bound identifiers.  dbname passed connstr_check_db:
	 * 1 to 64 of [A-Za-z0-9_], so inside backticks it is one identifier
	 * and nothing else, and it is neither a system schema nor tenantd's.
	 */
	snprintf(create, sizeof(create), "CREATE DATABASE IF NOT EXISTS `%s` "
	    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", dbname);
	if (db_run_script(tdb, create, strlen(create)) == -1) {
		job_fail(j, db_lost(tdb) ? FAIL_TIMEOUT :
		    connect_failure(tdb) == FAIL_ACCESS_DENIED ?
		    FAIL_ACCESS_DENIED : FAIL_MIGRATION, "create database %s: "
		    "%s", dbname, db_error(tdb));
		goto done;
	}
	db_free(tdb);
	if ((tdb = prov_connect(cfg, &c, dbname, j)) == NULL)
		goto done;
	rc = apply_tenant_sql(tdb, cfg->provision_sql_dir, j);
done:
	db_free(tdb);
	OPENSSL_cleanse(&c, sizeof(c));
	return rc;
}

static int
step_seed(struct db *db, const struct config *cfg, struct job *j)
{
	struct db_param	 a[] = { DB_I64(j->tenant_pk), DB_STR(j->admin_email) };

	(void)cfg;
	/* Idempotent: a seed 002 create made the location already. */
	if ((j->admin_email[0] != '\0' &&
	    db_exec(db, sql_seed_admin, a, 2, NULL) != DBE_OK) ||
	    tenant_store_default_location(db, j->tenant_pk) != DBE_OK)
		return job_fail(j, FAIL_INTERNAL, "seed: %s", db_error(db));
	return 0;
}

static int
step_activate(struct db *db, const struct config *cfg, struct job *j)
{
	struct db_param	 p[] = { DB_I64(j->tenant_pk) };

	(void)cfg;
	if (db_exec(db, sql_activate, p, 1, NULL) != DBE_OK)
		return job_fail(j, FAIL_INTERNAL, "activate: %s", db_error(db));
	return 0;
}

/* The step's record: its last attempt's status and error. */
static void
step_end(struct db *db, const struct job *j, enum step i, const char *status,
    const char *error)
{
	struct db_param	 p[] = { DB_STR(status), DB_STR(error), DB_STR(status),
	    DB_I64(j->id), DB_STR(steps[i].name) };

	(void)db_exec(db, sql_step_end, p, 5, NULL);
}

/*
 * Backoff doubles from 2 s; after the last attempt, or at once for a
 * failure retrying cannot mend, the job has Failed.  A step's record has
 * the job's status for its failed attempt: Pending while it will be
 * tried again.
 */
static void
record_failure(struct db *db, struct job *j, enum step i)
{
	int		 failed = j->final || j->attempts >= PROVISION_ATTEMPTS;
	long long	 delay = 1LL << (j->attempts < 12 ? j->attempts : 12);
	struct db_param	 p[] = { DB_STR(failed ? "Failed" : "Pending"),
	    DB_STR(j->error), DB_I64(delay), DB_I64(j->id) };
	struct db_param	 t[] = { DB_STR(failed ? "Failed" : "Pending"),
	    DB_I64(j->tenant_pk) };

	step_end(db, j, i, failed ? "Failed" : "Pending", j->error);
	(void)db_exec(db, sql_retry, p, 4, NULL);
	(void)db_exec(db, sql_tenant_status, t, 2, NULL);
	fprintf(stderr, "tenantd: provisioning job %lld attempt %d: %s (%s)\n",
	    j->id, j->attempts, j->error, j->log);
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
		struct db_param s[] = { DB_I64(j.id), DB_STR(steps[i].name) };

		if (j.done & (1u << i))
			continue;
		(void)db_exec(db, sql_step, p, 2, NULL);
		(void)db_exec(db, sql_step_start, s, 2, NULL);
		if (steps[i].run(db, cfg, &j) == -1) {
			if (j.error[0] == '\0')
				job_fail(&j, FAIL_INTERNAL, "%s failed",
				    steps[i].name);
			record_failure(db, &j, i);
			break;
		}
		step_end(db, &j, i, "Completed", NULL);
	}
	if (i == STEP__MAX) {
		struct db_param d[] = { DB_I64(j.id) };

		if (db_exec(db, sql_done, d, 1, NULL) != DBE_OK)
			fprintf(stderr, "tenantd: provisioning job %lld: %s\n",
			    j.id, db_error(db));
	}
	OPENSSL_cleanse(j.conn, sizeof(j.conn));
	return 1;
}

int
provision_run(const struct config *cfg, volatile sig_atomic_t *stop)
{
	struct db	*db;
	time_t		 next_purge = 0;
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
		/* Disconnected and deleted tenants past their retention. */
		if (time(NULL) >= next_purge) {
			(void)connections_purge_due(db);
			(void)tenants_purge_expired(db);
			next_purge = time(NULL) + cfg->connections_purge_interval;
		}
		if (rc != 1)
			usleep(PROVISION_POLL_US);
	}
	db_free(db);
	return 0;
}
