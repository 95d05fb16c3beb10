/*
 * tenantctl: administration from the shell.  Reads the same configuration
 * as tenantd and talks to the same database.
 */
#include "autoconf.h"
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account_store.h"
#include "codec_json.h"
#include "connections.h"
#include "db.h"
#include "jwt.h"
#include "key_store.h"
#include "keycache.h"
#include "perm.h"
#include "rfc3339.h"
#include "secretbox.h"
#include "tenant_migrations.h"
#include "tenant_model.h"
#include "tenant_list.h"
#include "tenant_store.h"
#include "tenants.h"
#include "tenants_deleted.h"

struct cmd {
	const char	*name;
	const char	*sub;		/* NULL when the command has none */
	int		(*fn)(struct db *, const struct config *, int, char **);
	const char	*usage;
};

/*
 * A statement of tenantctl may take long: a migration builds indexes
 * over every tenant (minutes at 1,000,000), a seed batch waits its turn.
 */
#define TENANTCTL_RW_TIMEOUT	3600

static int	 cmd_migrate(struct db *, const struct config *, int, char **);
static int	 cmd_account_create(struct db *, const struct config *, int, char **);
static int	 cmd_key_create(struct db *, const struct config *, int, char **);
static int	 cmd_key_list(struct db *, const struct config *, int, char **);
static int	 cmd_key_revoke(struct db *, const struct config *, int, char **);
static int	 cmd_token_dev(struct db *, const struct config *, int, char **);
static int	 cmd_seed(struct db *, const struct config *, int, char **);
static int	 cmd_secrets_rotate(struct db *, const struct config *, int,
		    char **);
static int	 cmd_connection_import(struct db *, const struct config *, int,
		    char **);
static int	 cmd_prov_list(struct db *, const struct config *, int, char **);
static int	 cmd_prov_show(struct db *, const struct config *, int, char **);
static int	 cmd_prov_retry(struct db *, const struct config *, int,
		    char **);
static int	 cmd_migrate_tenants(struct db *, const struct config *, int,
		    char **);
static int	 cmd_purge_deleted(struct db *, const struct config *, int,
		    char **);

static const struct cmd cmds[] = {
	/* Before plain migrate, which would take --tenants as its option. */
	{ "migrate", "--tenants", cmd_migrate_tenants, "migrate --tenants "
	    "[--only SLUG]  (provision.sql_dir, in each tenant database)" },
	{ "migrate", NULL, cmd_migrate, "migrate [--dir SQLDIR]  (default "
	    SQLDIR ")" },
	{ "account", "create", cmd_account_create, "account create NAME" },
	{ "key", "create", cmd_key_create, "key create --account NAME "
	    "--kind global|account|tenant [--tenant SLUG] --permissions "
	    "View,Create,...|all [--label TEXT] [--expires RFC3339] "
	    "[--tag tk_live_|tc_live_]" },
	{ "key", "list", cmd_key_list, "key list [--account NAME]" },
	{ "key", "revoke", cmd_key_revoke, "key revoke ID" },
	{ "token", "dev", cmd_token_dev, "token dev --account NAME "
	    "--permissions LIST [--issuer NAME] [--ttl SECONDS]" },
	{ "seed", NULL, cmd_seed, "seed --tenants N [--account NAME] "
	    "[--prefix tenant-] [--start 1]" },
	{ "secrets", "rotate", cmd_secrets_rotate, "secrets rotate" },
	{ "connection", "import", cmd_connection_import, "connection import "
	    "--account NAME FILE.json" },
	{ "provisioning", "list", cmd_prov_list, "provisioning list "
	    "[--status Pending|InProgress|Completed|Failed]" },
	{ "provisioning", "show", cmd_prov_show, "provisioning show "
	    "ID|SLUG|CORRELATION-ID" },
	{ "provisioning", "retry", cmd_prov_retry, "provisioning retry ID|SLUG" },
	{ "purge", "deleted", cmd_purge_deleted, "purge deleted" },
};

#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static const struct principal cli = { .via = VIA_NONE };

static void
usage(void)
{
	size_t	 i;

	fprintf(stderr, "usage: tenantctl [--config FILE] COMMAND\n"
	    "  (default $TENANTD_CONFIG, then " CONFIG_PATH " if present)\n");
	for (i = 0; i < NCMDS; i++)
		fprintf(stderr, "  tenantctl %s\n", cmds[i].usage);
}

/* Parses --name VALUE pairs from argv into vals, by the names in opts. */
static int
opts_parse(int argc, char **argv, const char *const *names, const char **vals,
    size_t n)
{
	int	 i;
	size_t	 k;

	for (i = 0; i < argc; i++) {
		for (k = 0; k < n; k++)
			if (strncmp(argv[i], "--", 2) == 0 &&
			    strcmp(argv[i] + 2, names[k]) == 0)
				break;
		if (k == n || i + 1 >= argc) {
			fprintf(stderr, "tenantctl: unexpected %s\n", argv[i]);
			return -1;
		}
		vals[k] = argv[++i];
	}
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE	*f;
	char	*p = NULL;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) != NULL) {
		*len = fread(p, 1, (size_t)n, f);
		p[*len] = '\0';
	}
	fclose(f);
	return p;
}

static const char sql_mig_table[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(200) NOT NULL, "
    "applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) "
    "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
static const char sql_mig_lock[] = "SELECT GET_LOCK('tenantd.migrate', 60)";
static const char sql_mig_unlock[] = "SELECT RELEASE_LOCK('tenantd.migrate')";
static const char sql_mig_has[] =
    "SELECT 1 FROM schema_migrations WHERE version = ?";
static const char sql_mig_done[] =
    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)";

static int
migrate_one(struct db *db, const char *dir, const char *file)
{
	struct db_param	 p[2];
	struct db_row	 row;
	char		 path[4096], *sql;
	long		 version = strtol(file, NULL, 10);
	size_t		 len;
	int		 rc;

	p[0] = DB_I64(version);
	p[1] = DB_STR(file);
	if ((rc = db_one(db, sql_mig_has, p, 1, &row, NULL)) != 0)
		return rc == 1 ? 0 : -1;
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((sql = slurp(path, &len)) == NULL) {
		fprintf(stderr, "tenantctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	rc = db_run_script(db, sql, len);
	free(sql);
	if (rc == -1 || db_exec(db, sql_mig_done, p, 2, NULL) != DBE_OK) {
		fprintf(stderr, "tenantctl: %s: %s\n", file, db_error(db));
		return -1;
	}
	printf("applied %s\n", file);
	return 0;
}

static const char sql_conn_batch[] =
    "SELECT pk, slug, connection_string FROM tenants "
    "WHERE connection_string IS NOT NULL AND pk > ? ORDER BY pk LIMIT 500";
/* Only if nobody changed it meanwhile; the version stays (no client change). */
static const char sql_conn_reseal[] =
    "UPDATE tenants SET connection_string = ? "
    "WHERE pk = ? AND connection_string = ?";

/*
 * Seals connection strings still in the clear, and with all set also
 * those sealed by another key than the active one.  Each row is
 * rewritten only if it still holds what was read.  Returns the number
 * of rows that could not be opened or written, or -1.
 */
static long
reseal_rows(struct db *db, int all, long *done)
{
	struct db_param	 p[3];
	struct db_res	*res;
	struct db_row	 row;
	char		 plain[CONNSTR_MAX + 1], kid[SECRETBOX_KID_MAX + 1];
	char		 sealed[SECRETBOX_SEALED_LEN(CONNSTR_MAX)];
	long long	 last = 0;
	long		 bad = 0;
	int		 rc, any;

	*done = 0;
	do {
		p[0] = DB_I64(last);
		if (db_exec(db, sql_conn_batch, p, 1, &res) != DBE_OK)
			return -1;
		any = 0;
		while ((rc = db_next(res, &row)) == 1) {
			any = 1;
			last = strtoll(row.v[0], NULL, 10);
			if (secretbox_kid(row.v[2], row.len[2], kid) == 0 &&
			    (!all || strcmp(kid, secretbox_active()) == 0))
				continue;
			if (tenant_conn_open(row.v[2], row.len[2], row.v[1],
			    plain, sizeof(plain)) == -1 ||
			    secretbox_seal(plain, strlen(plain), row.v[1],
			    sealed, sizeof(sealed)) == -1) {
				fprintf(stderr, "tenantctl: tenant %s: its "
				    "connection string does not open with the "
				    "configured keys\n", row.v[1]);
				bad++;
				continue;
			}
			p[0] = DB_STRN(sealed, strlen(sealed));
			p[1] = DB_I64(last);
			p[2] = DB_STRN(row.v[2], row.len[2]);
			if (db_exec(db, sql_conn_reseal, p, 3, NULL) != DBE_OK) {
				fprintf(stderr, "tenantctl: tenant %s: %s\n",
				    row.v[1], db_error(db));
				bad++;
			} else if (db_affected(db) == 1)
				(*done)++;
		}
		OPENSSL_cleanse(plain, sizeof(plain));
		db_res_free(res);
		if (rc == -1)
			return -1;
	} while (any);
	return bad;
}

static int
seal_clear_rows(struct db *db)
{
	long	 done, bad;

	if (!secretbox_ready()) {
		fprintf(stderr, "tenantctl: warning: no secrets key is "
		    "configured (secrets.key or secrets.key_file): connection "
		    "strings stay as they are\n");
		return 0;
	}
	if ((bad = reseal_rows(db, 0, &done)) == -1) {
		fprintf(stderr, "tenantctl: sealing connection strings: %s\n",
		    db_error(db));
		return -1;
	}
	if (done > 0)
		printf("sealed %ld connection strings\n", done);
	return bad == 0 ? 0 : -1;
}

/*
 * What the provisioning process does every connections.purge_interval,
 * now: deleted tenants past their retention go for good.
 */
static int
cmd_purge_deleted(struct db *db, const struct config *cfg, int argc,
    char **argv)
{
	long	 total = 0;
	int	 n;

	(void)cfg;
	(void)argv;
	if (argc != 0) {
		usage();
		return 2;
	}
	while ((n = tenants_purge_expired(db)) > 0)
		total += n;
	if (n == -1) {
		fprintf(stderr, "tenantctl: purge deleted: %s\n", db_error(db));
		return 1;
	}
	printf("purged %ld deleted tenants past their retention\n", total);
	return 0;
}

static int
cmd_secrets_rotate(struct db *db, const struct config *cfg, int argc,
    char **argv)
{
	long	 done, bad;

	(void)cfg;
	(void)argv;
	if (argc != 0) {
		usage();
		return 2;
	}
	if (!secretbox_ready()) {
		fprintf(stderr, "tenantctl: no secrets key is configured\n");
		return 1;
	}
	if ((bad = reseal_rows(db, 1, &done)) == -1) {
		fprintf(stderr, "tenantctl: secrets rotate: %s\n",
		    db_error(db));
		return 1;
	}
	printf("re-sealed %ld connection strings with key %s\n", done,
	    secretbox_active());
	return bad == 0 ? 0 : 1;
}

static int
cmd_migrate(struct db *db, const struct config *cfg, int argc, char **argv)
{
	static const char *const names[] = { "dir" };
	const char	*vals[1] = { SQLDIR };
	struct dirent	*de;
	DIR		*d;
	char		*files[512];
	size_t		 n = 0, i;
	int		 rc = 0;

	(void)cfg;
	if (opts_parse(argc, argv, names, vals, 1) == -1)
		return 2;
	if ((d = opendir(vals[0])) == NULL) {
		fprintf(stderr, "tenantctl: %s: %s\n", vals[0], strerror(errno));
		return 1;
	}
	while ((de = readdir(d)) != NULL && n < 512)
		if (strlen(de->d_name) > 9 && de->d_name[4] == '_' &&
		    strspn(de->d_name, "0123456789") == 4 &&
		    strcmp(de->d_name + strlen(de->d_name) - 4, ".sql") == 0)
			files[n++] = strdup(de->d_name);
	closedir(d);
	qsort(files, n, sizeof(files[0]), name_cmp);
	if (db_exec(db, sql_mig_table, NULL, 0, NULL) != DBE_OK ||
	    db_exec(db, sql_mig_lock, NULL, 0, NULL) != DBE_OK) {
		fprintf(stderr, "tenantctl: migrate: %s\n", db_error(db));
		rc = 1;
	}
	for (i = 0; i < n; i++) {
		if (rc == 0 && migrate_one(db, vals[0], files[i]) == -1)
			rc = 1;
		free(files[i]);
	}
	/* Rows from before 0007 are sealed here: SQL has no AES-GCM. */
	if (rc == 0 && seal_clear_rows(db) == -1)
		rc = 1;
	(void)db_exec(db, sql_mig_unlock, NULL, 0, NULL);
	return rc;
}

static int
cmd_account_create(struct db *db, const struct config *cfg, int argc,
    char **argv)
{
	long long	 id;

	(void)cfg;
	if (argc != 1 || *argv[0] == '\0' || strlen(argv[0]) > 128) {
		usage();
		return 2;
	}
	if ((id = account_ensure(db, argv[0])) < 0) {
		fprintf(stderr, "tenantctl: %s\n", db_error(db));
		return 1;
	}
	printf("%lld\n", id);
	return 0;
}

static int
cmd_key_create(struct db *db, const struct config *cfg, int argc, char **argv)
{
	static const char *const names[] = { "account", "kind", "tenant",
	    "permissions", "label", "expires", "tag" };
	const char	*v[7] = { NULL };
	struct key_new	 k = { 0 };
	struct db_row	 row;
	char		 key[APIKEY_LEN + 1], expires[24];
	long long	 id;

	(void)cfg;
	if (opts_parse(argc, argv, names, v, 7) == -1 || !v[0] || !v[1] ||
	    !v[3] || key_kind_parse(v[1], &k.kind) == -1 ||
	    (v[6] && (strlen(v[6]) != APIKEY_TAG_LEN ||
	    !apikey_tagged(v[6]))) ||
	    (k.kind == KEY_TENANT) != (v[2] != NULL)) {
		usage();
		return 2;
	}
	if (perm_parse_list(v[3], &k.perms) == -1) {
		fprintf(stderr, "tenantctl: unknown permission in %s\n", v[3]);
		return 2;
	}
	if (v[5] && rfc3339_to_sql(v[5], expires, sizeof(expires)) == -1) {
		fprintf(stderr, "tenantctl: --expires takes RFC 3339\n");
		return 2;
	}
	k.expires_at = v[5] ? expires : NULL;
	k.label = v[4];
	if ((k.account_id = account_find(db, v[0])) <= 0) {
		fprintf(stderr, "tenantctl: no account %s (tenantctl account "
		    "create %s)\n", v[0], v[0]);
		return 1;
	}
	if (k.kind == KEY_TENANT) {
		if (tenant_store_get(db, k.account_id, TKEY_ID, v[2], &row, NULL) != 1) {
			fprintf(stderr, "tenantctl: account %s has no tenant %s\n",
			    v[0], v[2]);
			return 1;
		}
		k.tenant_pk = strtoll(row.v[TC_PK], NULL, 10);
	}
	if (key_store_create(db, &cli, &k, NULL, key, &id) != DBE_OK) {
		fprintf(stderr, "tenantctl: %s\n", db_error(db));
		return 1;
	}
	/* The same key under another accepted tag, for clients that expect it. */
	if (v[6] != NULL)
		memcpy(key, v[6], APIKEY_TAG_LEN);
	printf("%s\n", key);
	return 0;
}

static int
cmd_key_list(struct db *db, const struct config *cfg, int argc, char **argv)
{
	static const char *const names[] = { "account" };
	const char	*v[1] = { NULL };
	struct db_res	*res;
	struct db_row	 r;
	long long	 account = 0;

	(void)cfg;
	if (opts_parse(argc, argv, names, v, 1) == -1)
		return 2;
	if (v[0] && (account = account_find(db, v[0])) <= 0) {
		fprintf(stderr, "tenantctl: no account %s\n", v[0]);
		return 1;
	}
	if (key_store_list(db, account, &res) != DBE_OK) {
		fprintf(stderr, "tenantctl: %s\n", db_error(db));
		return 1;
	}
	printf("id\tprefix\tkind\taccount\tpermissions\tstate\tlabel\n");
	while (db_next(res, &r) == 1)
		printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.v[0], r.v[1], r.v[2],
		    r.v[9], r.v[3], r.v[6] ? "revoked" : "active",
		    r.v[4] ? r.v[4] : "");
	db_res_free(res);
	return 0;
}

static int
cmd_key_revoke(struct db *db, const struct config *cfg, int argc, char **argv)
{
	int	 rc;

	if (argc != 1) {
		usage();
		return 2;
	}
	if ((rc = key_store_revoke(db, &cli, 0, strtoll(argv[0], NULL, 10),
	    NULL)) == -1) {
		fprintf(stderr, "tenantctl: %s\n", db_error(db));
		return 1;
	}
	if (rc == 0) {
		fprintf(stderr, "tenantctl: no active key %s\n", argv[0]);
		return 1;
	}
	/* Daemons on this host using the same database drop their cached keys. */
	keycache_bump_all(cfg);
	printf("revoked %s\n", argv[0]);
	return 0;
}

static int
cmd_token_dev(struct db *db, const struct config *cfg, int argc, char **argv)
{
	static const char *const names[] = { "account", "permissions",
	    "issuer", "ttl" };
	const char	*v[4] = { NULL, NULL, "dev", "3600" };
	struct buf	 out = { 0 };
	uint32_t	 perms;
	size_t		 i;

	(void)db;
	if (opts_parse(argc, argv, names, v, 4) == -1 || !v[0] || !v[1]) {
		usage();
		return 2;
	}
	if (perm_parse_list(v[1], &perms) == -1) {
		fprintf(stderr, "tenantctl: unknown permission in %s\n", v[1]);
		return 2;
	}
	for (i = 0; i < cfg->nissuers; i++)
		if (strcmp(cfg->issuers[i].name, v[2]) == 0)
			break;
	if (i == cfg->nissuers || jwt_sign_hs256(&cfg->issuers[i], v[0], perms,
	    time(NULL), strtol(v[3], NULL, 10), &out) == -1) {
		fprintf(stderr, "tenantctl: no HS256 issuer jwt.%s configured\n",
		    v[2]);
		return 1;
	}
	printf("%s\n", out.data);
	buf_free(&out);
	return 0;
}

/*
 * Bench data: PREFIX<n> / "Tenant <n>" rows made by the server in batches
 * of SEED_BATCH (MySQL's default recursion depth is 1000).  Rows that
 * exist already are skipped, so a seed can be re-run or extended.  Each
 * batch commits with its count, like any other change of the tenants.
 */
#define SEED_BATCH	1000

static const char sql_seed[] =
    "INSERT IGNORE INTO tenants (account_id, slug, guid, short_id, name, "
    "admin_email, is_active, valid_upto, issuer, description, "
    "provisioning_status) "
    "SELECT ?, CONCAT(?, s.n), UUID(), CONCAT('s', LPAD(s.n, 10, '0')), "
    "CONCAT('Tenant ', s.n), CONCAT('admin@t', s.n, '.example.com'), 1, "
    "'2027-06-30 23:59:59', CONCAT('https://t', s.n, '.example.com'), "
    "CONCAT('Seeded tenant number ', s.n), 'Completed' "
    "FROM (WITH RECURSIVE seq (n) AS (SELECT ? UNION ALL "
    "SELECT n + 1 FROM seq WHERE n < ?) SELECT n FROM seq) s";

struct seed_batch {
	long long	 account;
	const char	*prefix;
	long long	 from, to;
	long long	 added;
	long long	 total;		/* the platform's, before the batch */
	bool		 limited;	/* the batch would pass license.max_tenants */
};

/*
 * With license.max_tenants set, the platform's count row is locked first,
 * as a create locks it, and a batch that would pass the limit is rolled
 * back whole: seeding never overshoots, even beside live creates.
 */
static enum db_err
seed_fn(struct db *db, void *arg)
{
	struct seed_batch	*b = arg;
	struct db_param		 p[] = { DB_I64(b->account), DB_STR(b->prefix),
	    DB_I64(b->from), DB_I64(b->to) };
	long long		 limit = tenants_license_limit();
	enum db_err		 e;

	b->limited = false;
	if (limit > 0 && (e = tenant_list_total_locked(db, &b->total)) != DBE_OK)
		return e;
	if ((e = db_exec(db, sql_seed, p, 4, NULL)) != DBE_OK)
		return e;
	b->added = (long long)db_affected(db);
	if (limit > 0 && b->total + b->added > limit) {
		b->limited = true;
		return DBE_OTHER;
	}
	return b->added > 0 ? tenant_list_seeded(db, b->account,
	    (long long)db_insert_id(db), b->added) : DBE_OK;
}

static int
cmd_seed(struct db *db, const struct config *cfg, int argc, char **argv)
{
	static const char *const names[] = { "tenants", "account", "prefix",
	    "start" };
	const char		*v[4] = { NULL, "bench", "tenant-", "1" };
	long long		 n, start, added = 0;
	struct seed_batch	 b;

	tenants_set_license_limit(cfg->license_max_tenants);
	if (opts_parse(argc, argv, names, v, 4) == -1 || v[0] == NULL ||
	    (n = strtoll(v[0], NULL, 10)) <= 0 ||
	    (start = strtoll(v[3], NULL, 10)) <= 0) {
		usage();
		return 2;
	}
	if ((b.account = account_ensure(db, v[1])) < 0)
		goto fail;
	b.prefix = v[2];
	for (b.from = start; b.from < start + n; b.from += SEED_BATCH) {
		b.to = b.from + SEED_BATCH - 1 < start + n - 1 ?
		    b.from + SEED_BATCH - 1 : start + n - 1;
		if (db_txn(db, seed_fn, &b) != DBE_OK) {
			if (b.limited)
				goto limited;
			goto fail;
		}
		added += b.added;
	}
	printf("seeded %lld tenants (%lld new) for account %s\n", n, added, v[1]);
	return 0;
limited:
	fprintf(stderr, "tenantctl: seed: stopped at license.max_tenants "
	    "(%lld): %lld new tenants seeded, the platform holds %lld; the "
	    "next batch of %lld would pass it\n", tenants_license_limit(),
	    added, b.total, b.added);
	return 1;
fail:
	fprintf(stderr, "tenantctl: seed: %s\n", db_error(db));
	return 1;
}

/*
 * What a consent service sends to POST /api/v1/connections, from a file:
 * the same checks and the same transaction.
 */
static int
cmd_connection_import(struct db *db, const struct config *cfg, int argc,
    char **argv)
{
	static const char *const names[] = { "account" };
	const char		*v[1] = { NULL };
	struct principal	 who = { .via = VIA_NONE };
	struct conn_input	 in;
	struct conn_ref		 ref;
	json_t			*body = NULL, *errors = NULL;
	char			*text = NULL, err[256], *dump;
	size_t			 len;
	int			 rc = 1;

	(void)cfg;
	if (argc < 1 || opts_parse(argc - 1, argv, names, v, 1) == -1 ||
	    v[0] == NULL) {
		usage();
		return 2;
	}
	if ((who.account_id = account_find(db, v[0])) <= 0) {
		fprintf(stderr, "tenantctl: no account %s\n", v[0]);
		return 1;
	}
	if ((text = slurp(argv[argc - 1], &len)) == NULL) {
		fprintf(stderr, "tenantctl: %s: %s\n", argv[argc - 1],
		    strerror(errno));
		return 1;
	}
	if ((body = codec_json_decode(text, len, err, sizeof(err))) == NULL) {
		fprintf(stderr, "tenantctl: %s: %s\n", argv[argc - 1], err);
		goto fail;
	}
	errors = json_object();
	connections_input(body, false, &in, errors);
	if (json_object_size(errors) > 0) {
		dump = json_dumps(errors, JSON_SORT_KEYS);
		fprintf(stderr, "tenantctl: %s: invalid: %s\n", argv[argc - 1],
		    dump ? dump : "");
		free(dump);
		rc = 2;
		goto fail;
	}
	if (connections_import(db, &who, &in, NULL, &ref) != TR_OK) {
		fprintf(stderr, "tenantctl: import: %s\n", db_error(db));
		goto fail;
	}
	printf("%s %s\n", ref.id, ref.created ? "created" : "updated");
	rc = 0;
fail:
	json_decref(errors);
	json_decref(body);
	free(text);
	return rc;
}

#define PROV_LIST_MAX	1000

static const char *
or_dash(const char *v)
{
	return v != NULL ? v : "-";
}

static int
cmd_prov_list(struct db *db, const struct config *cfg, int argc, char **argv)
{
	static const char *const names[] = { "status" };
	static const char *const states[] = { "Pending", "InProgress",
	    "Completed", "Failed" };
	const char	*v[1] = { NULL };
	struct db_res	*res;
	struct db_row	 r;
	size_t		 i;

	(void)cfg;
	if (opts_parse(argc, argv, names, v, 1) == -1)
		return 2;
	for (i = 0; v[0] != NULL && i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(v[0], states[i]) == 0)
			break;
	if (v[0] != NULL && i == sizeof(states) / sizeof(states[0])) {
		fprintf(stderr, "tenantctl: --status: one of Pending, "
		    "InProgress, Completed, Failed\n");
		return 2;
	}
	if (tenants_job_list(db, v[0], PROV_LIST_MAX, &res) != DBE_OK) {
		fprintf(stderr, "tenantctl: %s\n", db_error(db));
		return 1;
	}
	printf("correlationId\ttenant\tstatus\tstep\tattempts\tupdatedAt\t"
	    "error\n");
	while (db_next(res, &r) == 1)
		printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
		    r.v[JC_CORRELATION_ID], r.v[JC_SLUG], r.v[JC_STATUS],
		    or_dash(r.v[JC_STEP]), r.v[JC_ATTEMPTS], r.v[JC_UPDATED],
		    or_dash(r.v[JC_ERROR]));
	db_res_free(res);
	return 0;
}

static int
cmd_prov_show(struct db *db, const struct config *cfg, int argc, char **argv)
{
	struct db_res	*res = NULL, *steps = NULL;
	struct db_row	 r, s;
	int		 rc;

	(void)cfg;
	if (argc != 1) {
		usage();
		return 2;
	}
	if ((rc = tenants_job_by_tenant(db, 0, argv[0], &r, &res)) == 0) {
		db_res_free(res);
		res = NULL;
		rc = tenants_job_by_correlation(db, 0, argv[0], &r, &res);
	}
	if (rc != 1 || tenants_job_steps(db, r.v[JC_ID], &steps) != DBE_OK) {
		if (rc == 0)
			fprintf(stderr, "tenantctl: no provisioning job for "
			    "%s\n", argv[0]);
		else
			fprintf(stderr, "tenantctl: %s\n", db_error(db));
		db_res_free(res);
		return 1;
	}
	printf("tenant\t%s\ntenantId\t%s\ncorrelationId\t%s\nstatus\t%s\n"
	    "currentStep\t%s\nattempts\t%s\nstartedAt\t%s\ncompletedAt\t%s\n"
	    "error\t%s\n\nstep\tstatus\tattempts\tstartedAt\tcompletedAt\t"
	    "error\n", r.v[JC_SLUG], r.v[JC_GUID], r.v[JC_CORRELATION_ID],
	    r.v[JC_STATUS], or_dash(r.v[JC_STEP]), r.v[JC_ATTEMPTS],
	    or_dash(r.v[JC_STARTED]), or_dash(r.v[JC_COMPLETED]),
	    or_dash(r.v[JC_ERROR]));
	while (db_next(steps, &s) == 1)
		printf("%s\t%s\t%s\t%s\t%s\t%s\n", s.v[SC_STEP],
		    s.v[SC_STATUS], s.v[SC_ATTEMPTS], or_dash(s.v[SC_STARTED]),
		    or_dash(s.v[SC_COMPLETED]), or_dash(s.v[SC_ERROR]));
	db_res_free(steps);
	db_res_free(res);
	return 0;
}

/* The same domain call as POST /api/v1/tenants/{id}/provisioning/retry. */
static int
cmd_prov_retry(struct db *db, const struct config *cfg, int argc, char **argv)
{
	char		 status[17];
	enum tres	 r;

	(void)cfg;
	if (argc != 1) {
		usage();
		return 2;
	}
	r = tenants_job_retry(db, &cli, argv[0], NULL, status, sizeof(status));
	if (r == TR_OK) {
		printf("retrying %s\n", argv[0]);
		return 0;
	}
	if (r == TR_NOT_FOUND)
		fprintf(stderr, "tenantctl: no provisioning job for %s\n",
		    argv[0]);
	else if (r == TR_CONFLICT)
		fprintf(stderr, "tenantctl: the provisioning of %s is %s; only "
		    "a Failed job can be retried\n", argv[0], status);
	else
		fprintf(stderr, "tenantctl: %s\n", db_error(db));
	return 1;
}

struct tenant_run {
	const struct config	*cfg;
	const struct tmig_set	*set;
	long long		 last;
	int			 seen, failed;
};

/* One tenant database brought up to date; a failure moves on to the next. */
static int
migrate_tenant(struct tmig_tenant *t, void *arg)
{
	struct tenant_run	*r = arg;
	char			 err[512];
	int			 n = 0;

	r->last = t->pk;
	r->seen++;
	if (t->tdb == NULL) {
		printf("%s\t%s\tfailed\t%s: %s\n", t->slug, t->database,
		    tenant_db_fail_code(t->fail), t->log);
		r->failed++;
		return 0;
	}
	if (tmig_apply(t->tdb, r->cfg->provision_sql_dir, r->set, &n, err,
	    sizeof(err)) == -1) {
		printf("%s\t%s\tfailed after %d\t%s\n", t->slug, t->database,
		    n, err);
		r->failed++;
	} else
		printf("%s\t%s\tapplied %d\n", t->slug, t->database, n);
	fflush(stdout);
	return 0;
}

/*
 * Applies provision.sql_dir to every tenant database (or one), one
 * tenant at a time; what each has applied is recorded in it, so a run
 * that stops is resumed by running it again.
 */
static int
cmd_migrate_tenants(struct db *db, const struct config *cfg, int argc,
    char **argv)
{
	static const char *const names[] = { "only" };
	const char		*v[1] = { NULL };
	struct tmig_set		 set;
	struct tenant_run	 r = { cfg, &set, 0, 0, 0 };
	char			 err[512];
	int			 before;

	if (opts_parse(argc, argv, names, v, 1) == -1)
		return 2;
	if (tmig_load(cfg->provision_sql_dir, &set, err, sizeof(err)) == -1) {
		fprintf(stderr, "tenantctl: %s\n", err);
		return 1;
	}
	tenant_model_set_conn_policy(&(struct conn_policy){
	    .hosts = cfg->provision_db_hosts, .ports = cfg->provision_db_ports,
	    .name_pattern = cfg->provision_db_name_pattern,
	    .own_db = cfg->db_name });
	do {
		before = r.seen;
		if (tmig_each(db, cfg, 0, v[0], r.last, 100, migrate_tenant,
		    &r) != DBE_OK) {
			fprintf(stderr, "tenantctl: %s\n", db_error(db));
			return 1;
		}
	} while (r.seen - before == 100);
	if (v[0] != NULL && r.seen == 0) {
		fprintf(stderr, "tenantctl: no tenant %s with its own "
		    "database\n", v[0]);
		return 1;
	}
	return r.failed == 0 ? 0 : 1;
}

static const struct cmd *
find_cmd(int argc, char **argv, int *used)
{
	size_t	 i;

	for (i = 0; i < NCMDS; i++) {
		if (argc < 1 || strcmp(argv[0], cmds[i].name) != 0)
			continue;
		if (cmds[i].sub == NULL) {
			*used = 1;
			return &cmds[i];
		}
		if (argc >= 2 && strcmp(argv[1], cmds[i].sub) == 0) {
			*used = 2;
			return &cmds[i];
		}
	}
	return NULL;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char		*cfgpath = config_path();
	const struct cmd	*cmd;
	struct config		 cfg;
	struct db		*db;
	char			 err[512];
	int			 ch, used, rc;

	while ((ch = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1)
		switch (ch) {
		case 'c': cfgpath = optarg; break;
		case 'V': printf("tenantctl %s\n", PACKAGE_VERSION); return 0;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	argc -= optind;
	argv += optind;
	if ((cmd = find_cmd(argc, argv, &used)) == NULL) {
		usage();
		return 2;
	}
	config_defaults(&cfg);
	if (cfgpath != NULL &&
	    config_load_file(&cfg, cfgpath, err, sizeof(err)) == -1) {
		fprintf(stderr, "tenantctl: %s\n", err);
		return 2;
	}
	config_load_env(&cfg);
	if (config_finish(&cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "tenantctl: %s\n", err);
		return 2;
	}
	db = db_new(&(struct db_params){ .host = cfg.db_host,
	    .port = (unsigned)cfg.db_port, .socket = cfg.db_socket,
	    .user = cfg.db_user, .password = cfg.db_password,
	    .name = cfg.db_name,
	    .connect_timeout = (unsigned)cfg.db_connect_timeout,
	    .rw_timeout = TENANTCTL_RW_TIMEOUT });
	if (db == NULL || (cmd->fn != cmd_token_dev && db_connect(db) == -1)) {
		fprintf(stderr, "tenantctl: database: %s\n",
		    db ? db_error(db) : "out of memory");
		db_free(db);
		return 1;
	}
	rc = cmd->fn(db, &cfg, argc - used, argv + used);
	db_free(db);
	config_free(&cfg);
	return rc;
}
