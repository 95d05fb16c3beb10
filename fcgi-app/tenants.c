#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <uuid/uuid.h>

#include "audit.h"
#include "keycache.h"
#include "tenant_list.h"
#include "tenant_store.h"
#include "tenants.h"

static const char sql_job_insert[] =
    "INSERT INTO provisioning_jobs (correlation_id, tenant_pk, status) "
    "VALUES (?, ?, ?)";

#define JOB_COLUMNS "SELECT j.correlation_id, t.guid, j.status, j.step, " \
	"j.error, j.created_at, j.updated_at, t.slug, j.id, j.attempts, " \
	"j.started_at, j.completed_at FROM provisioning_jobs j " \
	"JOIN tenants t ON t.pk = j.tenant_pk "

static const char sql_job_by_cid[] = JOB_COLUMNS
    "WHERE j.correlation_id = ? AND (? = 0 OR t.account_id = ?)";
static const char sql_job_by_slug[] = JOB_COLUMNS
    "WHERE t.slug = ? AND (? = 0 OR t.account_id = ?) "
    "ORDER BY j.id DESC LIMIT 1";
static const char sql_job_by_guid[] = JOB_COLUMNS
    "WHERE t.guid = ? AND (? = 0 OR t.account_id = ?) "
    "ORDER BY j.id DESC LIMIT 1";
/* The same rows, locked for a retry. */
static const char sql_job_lock_slug[] = JOB_COLUMNS
    "WHERE t.slug = ? AND (? = 0 OR t.account_id = ?) "
    "ORDER BY j.id DESC LIMIT 1 FOR UPDATE";
static const char sql_job_lock_guid[] = JOB_COLUMNS
    "WHERE t.guid = ? AND (? = 0 OR t.account_id = ?) "
    "ORDER BY j.id DESC LIMIT 1 FOR UPDATE";
static const char sql_job_list[] = JOB_COLUMNS
    "WHERE (? IS NULL OR j.status = ?) ORDER BY j.id DESC LIMIT ?";
static const char sql_job_steps[] =
    "SELECT step, status, attempts, started_at, completed_at, error "
    "FROM provisioning_steps WHERE job_id = ?";
/*
 * A retry starts a fresh round of attempts (the provisioner's backoff and
 * limit count from it); each step's own attempts keep counting, so the
 * step record is the history.  Completed steps are not run again.
 */
static const char sql_job_restart[] =
    "UPDATE provisioning_jobs SET status = 'Pending', attempts = 0, "
    "error = NULL, completed_at = NULL, next_attempt_at = UTC_TIMESTAMP(3), "
    "updated_at = UTC_TIMESTAMP(3) WHERE id = ?";
static const char sql_job_tenant_pending[] =
    "UPDATE tenants t JOIN provisioning_jobs j ON j.tenant_pk = t.pk "
    "SET t.provisioning_status = 'Pending' WHERE j.id = ?";

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

enum db_err
tenants_job_steps(struct db *db, const char *job_id, struct db_res **res)
{
	struct db_param	 p[] = { DB_I64(strtoll(job_id, NULL, 10)) };

	return db_exec(db, sql_job_steps, p, 1, res);
}

enum db_err
tenants_job_list(struct db *db, const char *status, long long limit,
    struct db_res **res)
{
	struct db_param	 p[] = { DB_STR(status), DB_STR(status),
	    DB_I64(limit) };

	return db_exec(db, sql_job_list, p, 3, res);
}

struct retry_txn {
	const struct principal	*who;
	const char		*id, *request_id;
	char			*status;	/* out: the job's status */
	size_t			 status_len;
	enum tres		 result;
};

static enum db_err
retry_fn(struct db *db, void *arg)
{
	struct retry_txn	*t = arg;
	struct db_res		*res = NULL;
	struct db_row		 row;
	struct db_param		 p[1];
	char			 detail[80], slug[64];
	long long		 scope = tenants_scope(t->who);
	enum db_err		 e;
	int			 rc;

	t->result = TR_NOT_FOUND;
	if ((rc = job_query(db, sql_job_lock_slug, scope, t->id, &row,
	    &res)) == 0) {
		db_res_free(res);
		res = NULL;
		rc = job_query(db, sql_job_lock_guid, scope, t->id, &row, &res);
	}
	if (rc != 1) {
		db_res_free(res);
		if (rc == 0)
			return DBE_OTHER;
		t->result = TR_ERROR;
		return db_classify(db_errno(db));
	}
	t->result = TR_ERROR;
	snprintf(t->status, t->status_len, "%s", row.v[JC_STATUS]);
	snprintf(slug, sizeof(slug), "%s", row.v[JC_SLUG]);
	snprintf(detail, sizeof(detail), "{\"correlationId\":\"%s\"}",
	    row.v[JC_CORRELATION_ID]);
	p[0] = DB_I64(strtoll(row.v[JC_ID], NULL, 10));
	db_res_free(res);
	if (strcmp(t->status, "Failed") != 0) {
		t->result = TR_CONFLICT;
		return DBE_OTHER;
	}
	if ((e = db_exec(db, sql_job_restart, p, 1, NULL)) != DBE_OK ||
	    (e = db_exec(db, sql_job_tenant_pending, p, 1, NULL)) != DBE_OK ||
	    (e = audit_write(db, t->who, &(struct audit_event){
	    .action = "tenant.provisioning.retry", .target_type = "tenant",
	    .target_id = slug, .request_id = t->request_id,
	    .detail = detail })) != DBE_OK)
		return e;
	t->result = TR_OK;
	return DBE_OK;
}

enum tres
tenants_job_retry(struct db *db, const struct principal *who, const char *id,
    const char *request_id, char *status, size_t status_len)
{
	struct retry_txn	 t = { who, id, request_id, status, status_len,
	    TR_ERROR };
	enum db_err		 e;

	status[0] = '\0';
	e = db_txn(db, retry_fn, &t);
	if (e == DBE_OK || e == DBE_OTHER)
		return t.result;
	return tenants_result(e);
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

static const char sql_switch[] =
    "UPDATE accounts SET current_tenant_pk = ? WHERE id = ?";

static const char sql_idem_find[] =
    "SELECT request_hash, result FROM idempotency_keys "
    "WHERE account_id = ? AND idem_key = ? "
    "AND created_at > UTC_TIMESTAMP(3) - INTERVAL 1 DAY";
static const char sql_idem_expire[] =
    "DELETE FROM idempotency_keys WHERE account_id = ? AND idem_key = ? "
    "AND created_at <= UTC_TIMESTAMP(3) - INTERVAL 1 DAY";
static const char sql_idem_insert[] =
    "INSERT INTO idempotency_keys (account_id, idem_key, request_hash, "
    "result) VALUES (?, ?, ?, ?)";

struct create_txn {
	const struct principal		*who;
	const struct tenant_input	*in;
	const struct idempotency	*idem;
	const char			*request_id;
	struct tenant_created		*out;
	bool				 idem_taken;
	bool				 limited;	/* license limit reached */
	unsigned int			 flags;
};

static long long	 license_max_tenants;	/* 0 = no limit */

void
tenants_set_license_limit(long long n)
{
	license_max_tenants = n;
}

long long
tenants_license_limit(void)
{
	return license_max_tenants;
}

/*
 * Whether the platform is at its license limit, inside the transaction of
 * a create: the count rows stay locked until it ends, so concurrent
 * creates take turns and cannot overshoot.
 */
enum db_err
tenants_license_room(struct db *db, bool *full)
{
	long long	 total;
	enum db_err	 e;

	*full = false;
	if (license_max_tenants <= 0)
		return DBE_OK;
	if ((e = tenant_list_total_locked(db, &total)) != DBE_OK)
		return e;
	*full = total >= license_max_tenants;
	return DBE_OK;
}

/*
 * The stored answer for an Idempotency-Key: TR_OK with out filled (a
 * replay), TR_KEY_REUSED for another body, TR_NOT_FOUND when the key is
 * new, or an error.
 */
static enum tres
idem_lookup(struct db *db, long long account, const struct idempotency *idem,
    struct tenant_created *out)
{
	struct db_param	 p[] = { DB_I64(account), DB_STR(idem->key) };
	struct db_row	 row;
	struct db_res	*res;
	json_t		*j;
	enum tres	 r = TR_OK;
	int		 rc;

	if ((rc = db_one(db, sql_idem_find, p, 2, &row, &res)) != 1)
		return rc == 0 ? TR_NOT_FOUND : tenants_result(
		    db_classify(db_errno(db)));
	if (row.len[0] != 32 || memcmp(row.v[0], idem->hash, 32) != 0)
		r = TR_KEY_REUSED;
	else if ((j = json_loads(row.v[1], 0, NULL)) == NULL)
		r = TR_ERROR;
	else {
		snprintf(out->slug, sizeof(out->slug), "%s",
		    json_string_value(json_object_get(j, "id")));
		snprintf(out->guid, sizeof(out->guid), "%s",
		    json_string_value(json_object_get(j, "tenantId")));
		snprintf(out->correlation_id, sizeof(out->correlation_id), "%s",
		    json_string_value(json_object_get(j, "correlationId")));
		out->status = "Pending";
		out->replayed = true;
		json_decref(j);
	}
	db_res_free(res);
	return r;
}

/* Claims the key inside the create's transaction. */
static enum db_err
idem_claim(struct db *db, struct create_txn *t)
{
	const struct tenant_created	*o = t->out;
	struct db_param			 p[4];
	char				 result[256];
	enum db_err			 e;

	p[0] = DB_I64(t->who->account_id);
	p[1] = DB_STR(t->idem->key);
	if ((e = db_exec(db, sql_idem_expire, p, 2, NULL)) != DBE_OK)
		return e;
	snprintf(result, sizeof(result), "{\"id\":\"%s\",\"tenantId\":\"%s\","
	    "\"correlationId\":\"%s\"}", o->slug, o->guid, o->correlation_id);
	p[2] = DB_STRN((const char *)t->idem->hash, 32);
	p[3] = DB_STRN(result, strlen(result));
	e = db_exec(db, sql_idem_insert, p, 4, NULL);
	if (e == DBE_DUP)
		t->idem_taken = true;
	return e;
}

static enum db_err
create_fn(struct db *db, void *arg)
{
	struct create_txn	*t = arg;
	struct tenant_created	*o = t->out;
	long long		 pk;
	enum db_err		 e;
	char			 detail[160];

	if ((e = tenants_license_room(db, &t->limited)) != DBE_OK)
		return e;
	if (t->limited)
		return DBE_OTHER;
	if (t->idem != NULL && (e = idem_claim(db, t)) != DBE_OK)
		return e;
	e = tenant_store_insert(db, t->who->account_id, t->in, o->guid,
	    o->short_id, o->status, &pk);
	if (e == DBE_DUP)
		o->conflict = strstr(db_error(db), "ux_tenants_name") ?
		    "name" : "id";
	if (e != DBE_OK)
		return e;
	if ((e = tenant_list_added(db, t->who->account_id, pk, t->in)) != DBE_OK)
		return e;
	{
		struct db_param p[] = { DB_STR(o->correlation_id), DB_I64(pk),
		    DB_STR(o->status) };

		if ((e = db_exec(db, sql_job_insert, p, 3, NULL)) != DBE_OK)
			return e;
	}
	if ((t->flags & TCREATE_LOCATION) &&
	    (e = tenant_store_default_location(db, pk)) != DBE_OK)
		return e;
	if (t->flags & TCREATE_SWITCH) {
		struct db_param p[] = { DB_I64(pk), DB_I64(t->who->account_id) };

		if ((e = db_exec(db, sql_switch, p, 2, NULL)) != DBE_OK)
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
    const struct tenant_input *in, const struct idempotency *idem,
    const char *request_id, struct tenant_created *out)
{
	return tenants_create_with(db, who, in, idem, 0, request_id, out);
}

enum tres
tenants_create_with(struct db *db, const struct principal *who,
    const struct tenant_input *in, const struct idempotency *idem,
    unsigned int flags, const char *request_id, struct tenant_created *out)
{
	struct create_txn	 t = { who, in, idem, request_id, out, false,
	    false, flags };
	enum db_err		 e;
	enum tres		 r;

	memset(out, 0, sizeof(*out));
	if (idem != NULL &&
	    (r = idem_lookup(db, who->account_id, idem, out)) != TR_NOT_FOUND)
		return r;
	snprintf(out->slug, sizeof(out->slug), "%s", in->v[TC_SLUG]);
	uuid_new(out->guid);
	uuid_new(out->correlation_id);
	out->status = "Pending";
	if (short_id_new(out->short_id) == -1)
		return TR_ERROR;
	e = db_txn(db, create_fn, &t);
	if (t.limited)
		return TR_LIMIT;
	/*
	 * A concurrent request with the same key won the claim; once it has
	 * committed, its answer is ours.
	 */
	if (e == DBE_DUP && t.idem_taken) {
		memset(out, 0, sizeof(*out));
		r = idem_lookup(db, who->account_id, idem, out);
		return r == TR_NOT_FOUND ? TR_CONFLICT : r;
	}
	return tenants_result(e);
}

/* 6 base36 characters: 2 billion suffixes for one name. */
static int
slug_suffix_new(char out[7])
{
	static const char b36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	unsigned char	 r[6];
	size_t		 i;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	for (i = 0; i < sizeof(r); i++)
		out[i] = b36[r[i] % 36];
	out[6] = '\0';
	return 0;
}

#define DERIVED_SLUG_TRIES	4

enum tres
tenants_create_derived(struct db *db, const struct principal *who,
    const struct tenant_input *in, unsigned int flags, const char *request_id,
    struct tenant_created *out)
{
	struct tenant_input	 withslug = *in;
	char			 slug[64], suffix[7];
	enum tres		 r = TR_ERROR;
	int			 i;

	/* Only the slug is ours: the other values still point into in. */
	withslug.set[TC_SLUG] = true;
	withslug.v[TC_SLUG] = slug;
	for (i = 0; i < DERIVED_SLUG_TRIES; i++) {
		if (i > 0 && slug_suffix_new(suffix) == -1)
			return TR_ERROR;
		tenant_slug_from_name(in->v[TC_NAME], i > 0 ? suffix : NULL,
		    slug);
		r = tenants_create_with(db, who, &withslug, NULL, flags,
		    request_id, out);
		if (r != TR_CONFLICT || out->conflict == NULL ||
		    strcmp(out->conflict, "id") != 0)
			break;
	}
	return r;
}

static const char *const op_actions[OP__MAX] = {
	[OP_PATCH] = "tenant.update",
	[OP_REPLACE] = "tenant.replace",
	[OP_ACTIVATE] = "tenant.activate",
	[OP_DEACTIVATE] = "tenant.deactivate",
	[OP_UPGRADE] = "tenant.upgrade",
	[OP_DELETE] = "tenant.delete",
	[OP_SWITCH] = "tenant.switch",
};

int
etag_matches(const char *h, const char *version)
{
	size_t	 vlen = strlen(version), n;

	while (h != NULL && *h != '\0') {
		while (*h == ' ' || *h == ',')
			h++;
		if (*h == '*')
			return 1;
		if (strncmp(h, "W/", 2) == 0)
			h += 2;
		n = strcspn(h, ",");
		while (n > 0 && h[n - 1] == ' ')
			n--;
		if (n == vlen + 2 && h[0] == '"' && h[n - 1] == '"' &&
		    strncmp(h + 1, version, vlen) == 0)
			return 1;
		h += strcspn(h, ",");
	}
	return 0;
}

struct change_txn {
	const struct principal		*who;
	const char			*id, *if_match, *request_id;
	const struct tenant_change	*ch;
	struct tenant_ref		*ref;
	enum tres			 result;
};

/* Records one more reason a change is refused (up to TENANT_REF_BAD). */
static enum tres
invalid(struct tenant_ref *ref, const char *field, const char *msg)
{
	if (ref->nbad < TENANT_REF_BAD) {
		ref->bad[ref->nbad].field = field;
		ref->bad[ref->nbad].msg = msg;
		ref->nbad++;
	}
	return TR_INVALID;
}

/*
 * Writes v over row; a change that may move the tenant in a sorted list
 * bumps its account's list generation in the same transaction.
 */
static enum db_err
update_row(struct db *db, const struct db_row *row,
    const char *const v[TC__MAX], struct change_txn *t)
{
	enum db_err	 e;

	if ((e = tenant_store_update(db, t->ref->pk, v)) != DBE_OK)
		return e;
	return tenant_list_updated(db, strtoll(row->v[TC_ACCOUNT_ID], NULL, 10),
	    t->ref->pk, row->v, v);
}

/* New column values: the given ones over the current row (or defaults). */
static enum db_err
apply_fields(struct db *db, const struct db_row *row,
    const struct tenant_change *ch, struct change_txn *t)
{
	const struct tenant_input	*in = ch->in;
	const char			*v[TC__MAX];
	size_t				 i;

	if (in->set[TC_SLUG] && strcmp(in->v[TC_SLUG], row->v[TC_SLUG]) != 0) {
		t->result = invalid(t->ref, "id", "cannot be changed");
		return DBE_OTHER;
	}
	for (i = 0; i < TC__MAX; i++) {
		if (in->set[i])
			v[i] = in->v[i];
		else if (ch->op == OP_REPLACE && i != TC_SLUG)
			v[i] = tcols[i].dflt;
		else
			v[i] = row->v[i];
	}
	return update_row(db, row, v, t);
}

static enum db_err
apply_one(struct db *db, const struct db_row *row, const char *col_value,
    enum tcol col, struct change_txn *t)
{
	const char	*v[TC__MAX];
	size_t		 i;

	for (i = 0; i < TC__MAX; i++)
		v[i] = row->v[i];
	v[col] = col_value;
	return update_row(db, row, v, t);
}

static enum db_err
apply_delete(struct db *db, const struct db_row *row, struct change_txn *t)
{
	const struct tenant_change	*ch = t->ch;
	struct tenant_ref		*ref = t->ref;
	const char			*display = row->v[TC_DISPLAY_NAME] ?
	    row->v[TC_DISPLAY_NAME] : row->v[TC_NAME];
	enum db_err			 e;

	if (ch->confirm_name == NULL || strcmp(ch->confirm_name,
	    row->v[TC_NAME]) != 0)
		t->result = invalid(ref, "confirmName", "must equal the tenant's "
		    "name");
	if (ch->confirm_display_name == NULL ||
	    strcmp(ch->confirm_display_name, display) != 0)
		t->result = invalid(ref, "confirmDisplayName", "must equal the "
		    "tenant's display name (its name when it has none)");
	if (t->result == TR_INVALID)
		return DBE_OTHER;
	if ((e = tenant_store_children(db, ref->pk, &ref->removed_jobs,
	    &ref->removed_keys, &ref->removed_users,
	    &ref->removed_locations)) != DBE_OK ||
	    (e = tenant_list_removing(db, strtoll(row->v[TC_ACCOUNT_ID], NULL,
	    10), ref->pk)) != DBE_OK)
		return e;
	return tenant_store_delete(db, ref->pk);
}

static enum db_err
apply_change(struct db *db, const struct db_row *row, struct change_txn *t)
{
	const struct tenant_change	*ch = t->ch;
	enum db_err			 e;

	switch (ch->op) {
	case OP_PATCH:
	case OP_REPLACE:
		return apply_fields(db, row, ch, t);
	case OP_ACTIVATE:
	case OP_DEACTIVATE:
		e = apply_one(db, row, ch->op == OP_ACTIVATE ? "1" : "0",
		    TC_IS_ACTIVE, t);
		if (e == DBE_OK && ch->user_status >= 0)
			e = tenant_store_user_status(db, t->ref->pk,
			    ch->user_status);
		return e;
	case OP_UPGRADE:
		/* DATETIME strings of one format order as the times do. */
		if (strcmp(ch->valid_upto, ch->now) <= 0) {
			t->result = invalid(t->ref, "extendedExpiryDate", "must "
			    "be in the future");
			return DBE_OTHER;
		}
		if (row->v[TC_VALID_UPTO] != NULL &&
		    strcmp(ch->valid_upto, row->v[TC_VALID_UPTO]) <= 0) {
			t->result = invalid(t->ref, "extendedExpiryDate", "must "
			    "be later than the current validUpto");
			return DBE_OTHER;
		}
		return apply_one(db, row, ch->valid_upto, TC_VALID_UPTO, t);
	case OP_DELETE:
		return apply_delete(db, row, t);
	case OP_SWITCH: {
		struct db_param p[] = { DB_I64(t->ref->pk),
		    DB_I64(t->who->account_id) };

		return db_exec(db, sql_switch, p, 2, NULL);
	}
	default:
		return DBE_OTHER;
	}
}

static enum db_err
change_fn(struct db *db, void *arg)
{
	struct change_txn	*t = arg;
	struct tenant_ref	*ref = t->ref;
	struct db_res		*res;
	struct db_row		 row;
	enum db_err		 e;
	int			 rc;

	t->result = TR_ERROR;
	rc = tenant_store_lock(db, tenants_scope(t->who), t->ch->by, t->id, &row,
	    &res);
	if (rc == -1)
		return db_classify(db_errno(db));
	if (rc == 0) {
		t->result = TR_NOT_FOUND;
		return DBE_OTHER;
	}
	ref->pk = strtoll(row.v[TC_PK], NULL, 10);
	snprintf(ref->slug, sizeof(ref->slug), "%s", row.v[TC_SLUG]);
	snprintf(ref->guid, sizeof(ref->guid), "%s", row.v[TC_GUID]);
	snprintf(ref->name, sizeof(ref->name), "%s", row.v[TC_NAME]);
	if (t->if_match != NULL && !etag_matches(t->if_match, row.v[TC_VERSION])) {
		t->result = TR_PRECONDITION;
		return DBE_OTHER;
	}
	if ((e = apply_change(db, &row, t)) != DBE_OK)
		return e;
	e = audit_write(db, t->who, &(struct audit_event){
	    .action = op_actions[t->ch->op], .target_type = "tenant",
	    .target_id = ref->slug, .request_id = t->request_id });
	if (e == DBE_OK)
		t->result = TR_OK;
	return e;
}

/* Whether a change may disable a tenant, whose tenant keys then stop. */
static bool
disables(const struct tenant_change *ch)
{
	return ch->op == OP_DEACTIVATE || ((ch->op == OP_PATCH ||
	    ch->op == OP_REPLACE) && ch->in->set[TC_IS_ACTIVE]);
}

enum tres
tenants_change(struct db *db, const struct principal *who, const char *id,
    const char *if_match, const char *request_id,
    const struct tenant_change *ch, struct tenant_ref *ref)
{
	struct change_txn	 t = { who, id, if_match, request_id, ch, ref,
	    TR_ERROR };
	enum db_err		 e;

	memset(ref, 0, sizeof(*ref));
	e = db_txn(db, change_fn, &t);
	if (e == DBE_OK && (ref->removed_keys > 0 || disables(ch)))
		keycache_invalidate();	/* its tenant keys went or stop */
	if (e == DBE_OK)
		return TR_OK;
	if (t.result != TR_ERROR && t.result != TR_OK)
		return t.result;
	return tenants_result(e);
}
