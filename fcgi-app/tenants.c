#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>
#include <uuid/uuid.h>

#include "audit.h"
#include "tenant_store.h"
#include "tenants.h"

static const char sql_job_insert[] =
    "INSERT INTO provisioning_jobs (correlation_id, tenant_pk, status) "
    "VALUES (?, ?, ?)";

#define JOB_COLUMNS "SELECT j.correlation_id, t.slug, j.status, j.step, " \
	"j.error, j.created_at, j.updated_at FROM provisioning_jobs j " \
	"JOIN tenants t ON t.pk = j.tenant_pk "

static const char sql_job_by_cid[] = JOB_COLUMNS
    "WHERE j.correlation_id = ? AND (? = 0 OR t.account_id = ?)";
static const char sql_job_by_slug[] = JOB_COLUMNS
    "WHERE t.slug = ? AND (? = 0 OR t.account_id = ?) "
    "ORDER BY j.id DESC LIMIT 1";
static const char sql_job_by_guid[] = JOB_COLUMNS
    "WHERE t.guid = ? AND (? = 0 OR t.account_id = ?) "
    "ORDER BY j.id DESC LIMIT 1";

static int
job_query(struct db *db, const char *sql, long long scope, const char *key,
    struct db_row *row, struct db_res **res)
{
	struct db_param	 p[] = { DB_STR(key), DB_I64(scope), DB_I64(scope) };

	return db_one(db, sql, p, 3, row, res);
}

int
tenants_job_by_tenant(struct db *db, long long scope, const char *id,
    struct db_row *row, struct db_res **res)
{
	int	 rc;

	if ((rc = job_query(db, sql_job_by_slug, scope, id, row, res)) != 0)
		return rc;
	return job_query(db, sql_job_by_guid, scope, id, row, res);
}

int
tenants_job_by_correlation(struct db *db, long long scope, const char *cid,
    struct db_row *row, struct db_res **res)
{
	return job_query(db, sql_job_by_cid, scope, cid, row, res);
}

long long
tenants_scope(const struct principal *who)
{
	return who->kind == KEY_GLOBAL ? 0 : who->account_id;
}

enum tres
tenants_result(enum db_err e)
{
	switch (e) {
	case DBE_OK:
		return TR_OK;
	case DBE_DUP:
		return TR_CONFLICT;
	case DBE_LOST:
	case DBE_RETRY:
		return TR_UNAVAILABLE;
	default:
		return TR_ERROR;
	}
}

/* Seed 002's opaque ids: 11 base62 characters. */
static int
short_id_new(char out[12])
{
	static const char b62[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned char	 r[11];
	size_t		 i;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	for (i = 0; i < sizeof(r); i++)
		out[i] = b62[r[i] % 62];
	out[11] = '\0';
	return 0;
}

static void
uuid_new(char out[37])
{
	uuid_t	 u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

struct create_txn {
	const struct principal		*who;
	const struct tenant_input	*in;
	const char			*request_id;
	struct tenant_created		*out;
};

static enum db_err
create_fn(struct db *db, void *arg)
{
	struct create_txn	*t = arg;
	struct tenant_created	*o = t->out;
	long long		 pk;
	enum db_err		 e;
	char			 detail[160];

	e = tenant_store_insert(db, t->who->account_id, t->in, o->guid,
	    o->short_id, o->status, &pk);
	if (e == DBE_DUP)
		o->conflict = strstr(db_error(db), "ux_tenants_name") ?
		    "name" : "id";
	if (e != DBE_OK)
		return e;
	{
		struct db_param p[] = { DB_STR(o->correlation_id), DB_I64(pk),
		    DB_STR(o->status) };

		if ((e = db_exec(db, sql_job_insert, p, 3, NULL)) != DBE_OK)
			return e;
	}
	snprintf(detail, sizeof(detail), "{\"correlationId\":\"%s\"}",
	    o->correlation_id);
	return audit_write(db, t->who, &(struct audit_event){
	    .action = "tenant.create", .target_type = "tenant",
	    .target_id = o->slug, .request_id = t->request_id,
	    .detail = detail });
}

enum tres
tenants_create(struct db *db, const struct principal *who,
    const struct tenant_input *in, const char *request_id,
    struct tenant_created *out)
{
	struct create_txn	 t = { who, in, request_id, out };
	enum db_err		 e;

	memset(out, 0, sizeof(*out));
	snprintf(out->slug, sizeof(out->slug), "%s", in->v[TC_SLUG]);
	uuid_new(out->guid);
	uuid_new(out->correlation_id);
	out->status = "Pending";
	if (short_id_new(out->short_id) == -1)
		return TR_ERROR;
	e = db_txn(db, create_fn, &t);
	return tenants_result(e);
}
