#include "autoconf.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "connstr.h"
#include "connections.h"
#include "idempotency.h"
#include "list_changes.h"
#include "logfile.h"
#include "metrics.h"
#include "provision.h"
#include "secretbox.h"
#include "tenant_db.h"
#include "tenant_migrations.h"
#include "tenant_model.h"
#include "tenant_store.h"
#include "tenants_deleted.h"

#define PROVISION_POLL_US	500000
#define PROVISION_LEASE_S	300	/* a claimed job comes back after this */
#define PROVISION_ATTEMPTS	5
#define PROVISION_RUNNERS_MAX	64	/* provision.concurrency at most */

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
	char		 conn[CONNSTR_MAX + 1];	/* clear; "" = shared database */
	char		 slug[64];
	char		 admin_email[255];
	char		 error[512];	/* "code: sentence", for the job */
	char		 log[1024];	/* the details, for tenantd's log */
	int		 final;
	int		 unreadable;	/* sealed with a key we do not have */
	unsigned	 done;		/* bit per enum step already completed */
};

/*
 * Records a failure: its category on the job (what a caller sees), the
 * details in the log.
 */
static int
job_fail(struct job *j, enum tdb_fail f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
job_fail(struct job *j, enum tdb_fail f, const char *fmt, ...)
{
	va_list	 ap;

	snprintf(j->error, sizeof(j->error), "%s: %s", tenant_db_fail_code(f),
	    tenant_db_fail_sentence(f));
	j->final = tenant_db_fail_final(f);
	va_start(ap, fmt);
	vsnprintf(j->log, sizeof(j->log), fmt, ap);
	va_end(ap);
	return -1;
}

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
 * run out and another node takes the job over.  An account with
 * provision.per_account jobs under a live lease gets no more, so its
 * stuck jobs cannot hold every runner while other accounts' jobs wait.
 */
static const char sql_claim[] =
    "SELECT j.id, j.tenant_pk, j.attempts, t.connection_string, "
    "t.admin_email, t.slug FROM provisioning_jobs j "
    "JOIN tenants t ON t.pk = j.tenant_pk "
    "WHERE j.status IN ('Pending', 'InProgress') "
    "AND j.next_attempt_at <= UTC_TIMESTAMP(3) "
    "AND (SELECT COUNT(*) FROM provisioning_jobs r "
    "JOIN tenants rt ON rt.pk = r.tenant_pk "
    "WHERE rt.account_id = t.account_id AND r.status = 'InProgress' "
    "AND r.next_attempt_at > UTC_TIMESTAMP(3)) < ? "
    "ORDER BY j.next_attempt_at, j.id LIMIT 1 FOR UPDATE SKIP LOCKED";
/*
 * Claims are serialised across runners and nodes: two claims at once
 * would each count the other's job as not yet leased and pass the cap
 * together.  A claim takes milliseconds; the lock is the server's, so it
 * holds across provisioners, and goes with a lost connection.
 */
static const char sql_claim_lock[] =
    "SELECT GET_LOCK('tenantd_provision_claim', 2)";
static const char sql_claim_unlock[] =
    "SELECT RELEASE_LOCK('tenantd_provision_claim')";
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
/*
 * The tenant's status with the job's: a job resumed after its last step
 * had completed (a provisioner killed just before this) runs no step, and
 * its claim set the tenant InProgress again.
 */
static const char sql_done[] =
    "UPDATE provisioning_jobs j JOIN tenants t ON t.pk = j.tenant_pk "
    "SET j.status = 'Completed', j.step = NULL, j.error = NULL, "
    "j.completed_at = UTC_TIMESTAMP(3), j.updated_at = UTC_TIMESTAMP(3), "
    "t.provisioning_status = 'Completed' WHERE j.id = ?";
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
	long long	 per_account;
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
	struct db_param	 cap[] = { DB_I64(c->per_account) };
	struct db_row	 row;
	struct db_res	*res;
	int		 rc;

	c->found = 0;
	if ((rc = db_one(db, sql_claim, cap, 1, &row, &res)) != 1)
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

/* Where the job's connection string points, if the policy allows it. */
static int
conn_checked(struct job *j, struct connstr *c, char dbname[65])
{
	const char	*why;

	if (j->unreadable)
		return job_fail(j, TDB_NOT_ALLOWED, "connection string does "
		    "not open with any configured secrets key");
	if ((why = tenant_db_target(j->conn, j->slug, c, dbname)) != NULL)
		return job_fail(j, TDB_NOT_ALLOWED, "connection string: %s",
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

#ifdef TEST_HOOKS
/*
 * ./configure --enable-test-hooks only: a step of a tenant whose slug
 * names a file $TENANTD_TEST_PAUSE_DIR/SLUG.STEP waits there, after part
 * of its work, while the file exists, so a test can kill the provisioner
 * inside a step.
 */
static void
test_pause(const struct job *j, const char *step)
{
	const char	*dir = getenv("TENANTD_TEST_PAUSE_DIR");
	char		 path[4096];

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s.%s", dir, j->slug, step);
	while (access(path, F_OK) == 0)
		usleep(100000);
}

/*
 * And every step waits $TENANTD_TEST_STEP_DELAY_MS first, as if its
 * database server were far away: the e2e tests show with it that a
 * second provisioner adds throughput, and that every activation waits
 * for provisioning, where a machine's load would blur both.
 */
static void
test_delay(void)
{
	const char	*ms = getenv("TENANTD_TEST_STEP_DELAY_MS");
	long		 n = ms != NULL ? strtol(ms, NULL, 10) : 0;

	if (n > 0 && n <= 60000)
		usleep((useconds_t)n * 1000);
}
#else
#define test_pause(j, step)	do { } while (0)
#define test_delay()		do { } while (0)
#endif

static struct db *
prov_connect(const struct config *cfg, const struct connstr *c,
    const char *name, struct job *j)
{
	struct db	*tdb;
	enum tdb_fail	 f;
	char		 log[512];

	if ((tdb = tenant_db_connect(cfg, c, name, &f, log, sizeof(log))) ==
	    NULL)
		job_fail(j, f, "%s", log);
	return tdb;
}

/* Was the connection lost or timed out (rather than refused)? */
static int
db_lost(struct db *tdb)
{
	unsigned int	 e = db_errno(tdb);

	return e == 2013 || e == 2006;	/* CR_SERVER_LOST, CR_SERVER_GONE */
}

/* Every tenant migration the database has not recorded yet. */
static int
migrate(struct db *tdb, const struct config *cfg, struct job *j)
{
	struct tmig_set	 set;
	char		 err[512];
	int		 n;

	if (tmig_load(cfg->provision_sql_dir, &set, err, sizeof(err)) == -1 ||
	    tmig_apply(tdb, cfg->provision_sql_dir, &set, &n, err,
	    sizeof(err)) == -1)
		return job_fail(j, db_lost(tdb) ? TDB_TIMEOUT : TDB_MIGRATION,
		    "%s", err);
	return 0;
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
	 * A database the account holds privileges on is "created" even when
	 * it exists and the account has no global CREATE, as on shared
	 * hosting, where the host makes databases.
	 *
	 * DDL takes no bound identifiers.  dbname passed connstr_check_db:
	 * 1 to 64 of [A-Za-z0-9_], so inside backticks it is one identifier
	 * and nothing else, and it is neither a system schema nor tenantd's.
	 */
	snprintf(create, sizeof(create), "CREATE DATABASE IF NOT EXISTS `%s` "
	    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", dbname);
	if (db_run_script(tdb, create, strlen(create)) == -1) {
		job_fail(j, db_lost(tdb) ? TDB_TIMEOUT :
		    tenant_db_failure(tdb) == TDB_ACCESS_DENIED ?
		    TDB_CREATE_DENIED : TDB_MIGRATION, "create database %s: "
		    "%s", dbname, db_error(tdb));
		goto done;
	}
	db_free(tdb);
	if ((tdb = prov_connect(cfg, &c, dbname, j)) == NULL)
		goto done;
	rc = migrate(tdb, cfg, j);
	test_pause(j, "database");
done:
	db_free(tdb);
	OPENSSL_cleanse(&c, sizeof(c));
	return rc;
}

/* Idempotent: a seed 002 create made the location already. */
static enum db_err
seed_txn(struct db *db, void *arg)
{
	const struct job	*j = arg;
	struct db_param		 a[] = { DB_I64(j->tenant_pk),
	    DB_STR(j->admin_email) };
	enum db_err		 e;

	if ((j->admin_email[0] == '\0' ||
	    (e = db_exec(db, sql_seed_admin, a, 2, NULL)) == DBE_OK) &&
	    (e = tenant_store_default_location(db, j->tenant_pk)) == DBE_OK)
		return DBE_OK;
	/*
	 * MariaDB reports some deadlocks of INSERT ... SELECT over the
	 * AUTO-INC lock as 1467 (ER_AUTOINC_READ_FAILED), not as 1213.
	 */
	return db_errno(db) == 1467 ? DBE_RETRY : e;
}

/*
 * One transaction, so runners seeding neighbouring tenants at once have
 * their deadlocks (the location's INSERT ... SELECT NOT EXISTS takes gap
 * and AUTO-INC locks) retried.
 */
static int
step_seed(struct db *db, const struct config *cfg, struct job *j)
{
	(void)cfg;
	if (db_txn(db, seed_txn, j) != DBE_OK)
		return job_fail(j, TDB_INTERNAL, "seed: %s", db_error(db));
	test_pause(j, "seed");
	return 0;
}

static int
step_activate(struct db *db, const struct config *cfg, struct job *j)
{
	struct db_param	 p[] = { DB_I64(j->tenant_pk) };

	(void)cfg;
	if (db_exec(db, sql_activate, p, 1, NULL) != DBE_OK)
		return job_fail(j, TDB_INTERNAL, "activate: %s", db_error(db));
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

	metrics_count(MC_PROVISION_FAILED);
	step_end(db, j, i, failed ? "Failed" : "Pending", j->error);
	(void)db_exec(db, sql_retry, p, 4, NULL);
	(void)db_exec(db, sql_tenant_status, t, 2, NULL);
	fprintf(stderr, "tenantd: provisioning job %lld attempt %d: %s (%s)\n",
	    j->id, j->attempts, j->error, j->log);
}

/* 1 claimed a job, 0 none due (or the claim lock is busy), -1 error. */
static int
claim(struct db *db, struct claim *c)
{
	struct db_res	*res;
	struct db_row	 row;
	enum db_err	 e;
	int		 locked;

	if (db_one(db, sql_claim_lock, NULL, 0, &row, &res) != 1)
		return -1;
	locked = row.v[0] != NULL && strcmp(row.v[0], "1") == 0;
	db_res_free(res);
	if (!locked)
		return 0;
	e = db_txn(db, claim_fn, c);
	if (db_exec(db, sql_claim_unlock, NULL, 0, &res) == DBE_OK)
		db_res_free(res);
	if (e != DBE_OK)
		return -1;
	return c->found;
}

int
provision_once(struct db *db, const struct config *cfg)
{
	struct job	 j;
	struct claim	 c = { &j, cfg->provision_per_account, 0 };
	size_t		 i;

	memset(&j, 0, sizeof(j));
	switch (claim(db, &c)) {
	case -1:
		return -1;
	case 0:
		return 0;
	}
	for (i = 0; i < STEP__MAX; i++) {
		struct db_param p[] = { DB_STR(steps[i].name), DB_I64(j.id) };
		struct db_param s[] = { DB_I64(j.id), DB_STR(steps[i].name) };

		if (j.done & (1u << i))
			continue;
		(void)db_exec(db, sql_step, p, 2, NULL);
		(void)db_exec(db, sql_step_start, s, 2, NULL);
		test_delay();
		if (steps[i].run(db, cfg, &j) == -1) {
			if (j.error[0] == '\0')
				job_fail(&j, TDB_INTERNAL, "%s failed",
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
		else
			metrics_count(MC_PROVISION_DONE);
	}
	OPENSSL_cleanse(j.conn, sizeof(j.conn));
	return 1;
}

static struct db *
own_db(const struct config *cfg)
{
	return db_new(&(struct db_params){ .host = cfg->db_host,
	    .port = (unsigned)cfg->db_port, .socket = cfg->db_socket,
	    .user = cfg->db_user, .password = cfg->db_password,
	    .name = cfg->db_name,
	    .connect_timeout = (unsigned)cfg->db_connect_timeout });
}

/* A runner of the pool: one job at a time, on a connection of its own. */
struct runner {
	pthread_t		 tid;
	struct db		*db;
	const struct config	*cfg;
	volatile sig_atomic_t	*stop;
	int			 running;
};

static void *
runner_main(void *arg)
{
	struct runner	*r = arg;

	while (!*r->stop)
		if (provision_once(r->db, r->cfg) != 1)
			usleep(PROVISION_POLL_US);
	return NULL;
}

/*
 * provision.concurrency runners, so a job that waits on an unresponsive
 * tenant database server holds one runner, not the queue.  Signals stay
 * with this thread, which purges, reopens the log, and at a stop waits
 * for each runner to finish its job.
 */
int
provision_run(const struct config *cfg, volatile sig_atomic_t *stop)
{
	struct runner	 pool[PROVISION_RUNNERS_MAX];
	sigset_t	 all, old;
	struct db	*db;
	time_t		 next_purge = 0;
	long		 i, n = cfg->provision_concurrency;

	if ((db = own_db(cfg)) == NULL)
		return 1;
	/* The client library sets itself up in a first connect, not in threads. */
	(void)db_connect(db);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	memset(pool, 0, sizeof(pool));
	for (i = 0; i < n && i < PROVISION_RUNNERS_MAX; i++) {
		pool[i] = (struct runner){ .db = own_db(cfg), .cfg = cfg,
		    .stop = stop };
		if (pool[i].db != NULL && pthread_create(&pool[i].tid, NULL,
		    runner_main, &pool[i]) == 0)
			pool[i].running = 1;
		else
			fprintf(stderr, "tenantd: provisioning runner %ld could "
			    "not start\n", i);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	while (!*stop) {
		if (logfile_reopen_due())
			logfile_reopen();
		/*
		 * Disconnected and deleted tenants past their retention,
		 * Idempotency-Key records past their day, logged list changes
		 * past their ten minutes.
		 */
		if (time(NULL) >= next_purge) {
			(void)connections_purge_due(db);
			(void)tenants_purge_expired(db);
			(void)idem_purge_expired(db);
			(void)list_changes_purge(db);
			next_purge = time(NULL) + cfg->connections_purge_interval;
		}
		usleep(PROVISION_POLL_US);
	}
	for (i = 0; i < PROVISION_RUNNERS_MAX; i++) {
		if (pool[i].running)
			pthread_join(pool[i].tid, NULL);
		db_free(pool[i].db);
	}
	db_free(db);
	return 0;
}

const char *const provision_job_states[JOB__MAX] = {
	[JOB_PENDING] = "Pending",
	[JOB_IN_PROGRESS] = "InProgress",
	[JOB_FAILED] = "Failed",
};

/* Served by the (status, next_attempt_at) index: no Completed row read. */
static const char sql_job_counts[] =
    "SELECT status, COUNT(*) FROM provisioning_jobs "
    "WHERE status IN ('Pending', 'InProgress', 'Failed') GROUP BY status";

int
provision_job_counts(struct db *db, long long n[JOB__MAX])
{
	struct db_res	*res;
	struct db_row	 row;
	size_t		 i;
	int		 rc;

	memset(n, 0, JOB__MAX * sizeof(n[0]));
	if (db_exec(db, sql_job_counts, NULL, 0, &res) != DBE_OK)
		return -1;
	while ((rc = db_next(res, &row)) == 1)
		for (i = 0; i < JOB__MAX; i++)
			if (row.v[0] != NULL &&
			    strcmp(row.v[0], provision_job_states[i]) == 0)
				n[i] = strtoll(row.v[1], NULL, 10);
	db_res_free(res);
	return rc;
}
