/*
 * A tenant's own database: where its connection string points, within
 * this server's provisioning policy (provision.*), reached with tenantd's
 * provisioning account, never with the string's own credentials.  The
 * provisioning process, the tenant migrations and tenantctl share it.
 */
#ifndef TENANT_DB_H
#define TENANT_DB_H

#include <stddef.h>

#include "config.h"
#include "connstr.h"
#include "db.h"

/*
 * Why a tenant database could not be used, as a caller sees it: a
 * category and a fixed sentence.  The driver's message, paths and host
 * names go to tenantd's log only, so no answer can serve as a password
 * oracle or a port scanner.
 */
enum tdb_fail {
	TDB_NOT_ALLOWED,
	TDB_UNREACHABLE,
	TDB_ACCESS_DENIED,
	TDB_CREATE_DENIED,
	TDB_MIGRATION,
	TDB_TIMEOUT,
	TDB_INTERNAL,
	TDB__MAX
};

const char	*tenant_db_fail_code(enum tdb_fail);
const char	*tenant_db_fail_sentence(enum tdb_fail);
/* Whether retrying cannot help (the policy refuses the string). */
int		 tenant_db_fail_final(enum tdb_fail);

/*
 * Checks the connection string (in the clear) against the policy and
 * derives its database name: NULL, or why it is not allowed.  A string
 * that fails is never connected to.
 */
const char	*tenant_db_target(const char *conn, const char *slug,
		    struct connstr *, char dbname[65]);
/*
 * Connects to dbname (NULL: to no database): the handle, or NULL with
 * *fail set and the details in err.
 */
struct db	*tenant_db_connect(const struct config *, const struct connstr *,
		    const char *dbname, enum tdb_fail *fail, char *err,
		    size_t errlen);
/* The category of the last error on a tenant database handle. */
enum tdb_fail	 tenant_db_failure(struct db *);

#endif
