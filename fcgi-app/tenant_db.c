#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tenant_db.h"
#include "tenant_model.h"

static const struct {
	const char	*code, *sentence;
	int		 final;
} fails[TDB__MAX] = {
	[TDB_NOT_ALLOWED] = { "not_allowed", "The connection string is not "
	    "allowed by this server's provisioning policy.", 1 },
	[TDB_UNREACHABLE] = { "unreachable", "The tenant database server "
	    "could not be reached.", 0 },
	[TDB_ACCESS_DENIED] = { "access_denied", "The tenant database server "
	    "refused the provisioning account.", 0 },
	/* Shared hosting: one database per user, made by the host. */
	[TDB_CREATE_DENIED] = { "create_denied", "The provisioning account "
	    "may not create the tenant's database: have it created, with all "
	    "privileges on it for that account, then retry.", 1 },
	[TDB_MIGRATION] = { "migration_failed", "The tenant database schema "
	    "could not be applied.", 0 },
	[TDB_TIMEOUT] = { "timeout", "The tenant database server did not "
	    "answer in time.", 0 },
	[TDB_INTERNAL] = { "internal", "Provisioning failed inside tenantd; "
	    "the server log has the details.", 0 },
};

const char *
tenant_db_fail_code(enum tdb_fail f)
{
	return fails[f].code;
}

const char *
tenant_db_fail_sentence(enum tdb_fail f)
{
	return fails[f].sentence;
}

int
tenant_db_fail_final(enum tdb_fail f)
{
	return fails[f].final;
}

/*
 * The same parse and policy as the request's validator, again at use:
 * the configuration may have changed since, and a row may predate the
 * policy.
 */
const char *
tenant_db_target(const char *conn, const char *slug, struct connstr *c,
    char dbname[65])
{
	const char	*why;

	if ((why = connstr_parse(conn, strlen(conn), c)) != NULL ||
	    (why = connstr_check(c, tenant_model_conn_policy())) != NULL)
		return why;
	if (connstr_db_name(c, slug, dbname) == -1)
		return "no database name can be derived from the slug";
	return connstr_check_db(dbname, tenant_model_conn_policy());
}

enum tdb_fail
tenant_db_failure(struct db *tdb)
{
	switch (db_errno(tdb)) {
	case 1044:	/* ER_DBACCESS_DENIED_ERROR */
	case 1045:	/* ER_ACCESS_DENIED_ERROR */
	case 1142:	/* ER_TABLEACCESS_DENIED_ERROR */
	case 1227:	/* ER_SPECIFIC_ACCESS_DENIED_ERROR */
	case 1698:	/* ER_ACCESS_DENIED_NO_PASSWORD_ERROR */
		return TDB_ACCESS_DENIED;
	case 2013:	/* CR_SERVER_LOST: handshake or read timed out */
	case 2006:	/* CR_SERVER_GONE_ERROR */
		return TDB_TIMEOUT;
	case 2002:	/* CR_CONNECTION_ERROR */
	case 2003:	/* CR_CONN_HOST_ERROR */
		/* The client reports a connect timeout as errno 110 here. */
		return strstr(db_error(tdb), "(110)") != NULL ? TDB_TIMEOUT :
		    TDB_UNREACHABLE;
	default:	/* 2005 (unknown host) and the rest */
		return TDB_UNREACHABLE;
	}
}

struct db *
tenant_db_connect(const struct config *cfg, const struct connstr *c,
    const char *dbname, enum tdb_fail *fail, char *err, size_t errlen)
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
	    .user = user, .password = pw, .name = dbname,
	    .connect_timeout = (unsigned)cfg->provision_connect_timeout,
	    .rw_timeout = (unsigned)cfg->provision_read_timeout });
	if (tdb == NULL) {
		*fail = TDB_INTERNAL;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (db_connect(tdb) == -1) {
		*fail = tenant_db_failure(tdb);
		snprintf(err, errlen, "tenant database %s:%u: %s", c->host,
		    c->port, db_error(tdb));
		db_free(tdb);
		return NULL;
	}
	return tdb;
}
