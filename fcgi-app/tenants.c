#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "audit.h"
#include "keycache.h"
#include "rfc3339.h"
#include "tenant_archive.h"
#include "tenant_list.h"
#include "tenant_store.h"
#include "tenants.h"
#include "tenants_deleted.h"

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
	case DBE_REFUSED:
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

/*
 * A random (version 4) UUID from OpenSSL's generator: libuuid's
 * uuid_generate_random made five system calls each (getrandom, getpid,
 * getuid, getppid, gettid), two UUIDs a create.
 */
static int
uuid_new(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 u[16];
	size_t		 i;
	char		*p = out;

	if (RAND_bytes(u, sizeof(u)) != 1)
		return -1;
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	for (i = 0; i < sizeof(u); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[u[i] >> 4];
		*p++ = hex[u[i] & 0x0f];
	}
	*p = '\0';
	return 0;
}

static const char sql_switch[] =
    "UPDATE accounts SET current_tenant_pk = ? WHERE id = ?";

struct create_txn {
	const struct principal		*who;
	const struct tenant_input	*in;
	const char			*request_id;
	struct tenant_created		*out;
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
 * The detail of a create's audit event: its provisioning job, and the
 * state it starts in, as every change of state records it (the history).
 */
static void
create_detail(const char *correlation_id, const struct tenant_input *in,
    char *buf, size_t len)
{
	const char	*active = tenant_input_value(in, TC_IS_ACTIVE);
	const char	*until = in->set[TC_VALID_UPTO] ? in->v[TC_VALID_UPTO] :
			    NULL;
	json_t		*j;
	char		 t[40];
	size_t		 n;

	if (until != NULL && rfc3339_from_sql(until, t, sizeof(t)) == -1)
		until = NULL;
	j = json_pack("{s:s, s:b, s:s?}", "correlationId", correlation_id,
	    "isActive", active != NULL && strcmp(active, "0") != 0,
	    "validUpto", until != NULL ? t : NULL);
	n = j != NULL ? json_dumpb(j, buf, len - 1, JSON_COMPACT) : 0;
	json_decref(j);
	if (n == 0 || n >= len)
		snprintf(buf, len, "{\"correlationId\":\"%s\"}",
		    correlation_id);
	else
		buf[n] = '\0';
}

static enum db_err
create_fn(struct db *db, void *arg)
{
	struct create_txn	*t = arg;
	struct tenant_created	*o = t->out;
	long long		 pk;
	enum db_err		 e;
	char			 detail[256];

	if ((e = tenants_license_room(db, &t->limited)) != DBE_OK)
		return e;
	if (t->limited)
		return DBE_OTHER;
	e = tenant_store_insert(db, t->who->account_id, t->in, o->guid,
	    o->short_id, o->status, &pk);
	if (e == DBE_DUP)
		o->conflict = strstr(db_error(db), "ux_tenants_name") ? "name" :
		    strstr(db_error(db), "ux_tenants_external_id") ?
		    "externalId" : "id";
	if (e != DBE_OK)
		return e;
	if (t->in->v[TC_METADATA] != NULL && (e = tenant_store_metadata(db,
	    pk, t->who->account_id, t->in->v[TC_METADATA])) != DBE_OK)
		return e;
	/*
	 * After the insert, which waited for any delete of the same slug.
	 * A holder gone between the two reads (a restore, a purge) makes
	 * the request run again.
	 */
	e = tenant_list_created(db, t->who->account_id, pk, t->in);
	if (e == DBE_DUP && (e = tenant_archive_holds(db, o->slug,
	    t->in->v[TC_NAME], &o->conflict)) == DBE_OK)
		e = o->conflict != NULL ? DBE_DUP : DBE_RETRY;
	if (e != DBE_OK)
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
	create_detail(o->correlation_id, t->in, detail, sizeof(detail));
	return audit_write(db, t->who, &(struct audit_event){
	    .action = "tenant.create", .target_type = "tenant",
	    .target_id = o->slug, .request_id = t->request_id,
	    .detail = detail, .tenant_guid = o->guid });
}

enum tres
tenants_create(struct db *db, const struct principal *who,
    const struct tenant_input *in, const char *request_id,
    struct tenant_created *out)
{
	return tenants_create_with(db, who, in, 0, request_id, out);
}

enum tres
tenants_create_with(struct db *db, const struct principal *who,
    const struct tenant_input *in, unsigned int flags, const char *request_id,
    struct tenant_created *out)
{
	struct create_txn	 t = { who, in, request_id, out, false, flags };
	struct tenant_input	 withmeta;
	char			*meta = NULL;
	enum db_err		 e;

	memset(out, 0, sizeof(*out));
	snprintf(out->slug, sizeof(out->slug), "%s", in->v[TC_SLUG]);
	out->status = "Pending";
	if (uuid_new(out->guid) == -1 || uuid_new(out->correlation_id) == -1 ||
	    short_id_new(out->short_id) == -1)
		return TR_ERROR;
	/* The patch over nothing: the keys it sets (the input has checked them). */
	if (in->set[TC_METADATA]) {
		if (tenant_metadata_merge(NULL, in->metadata, &meta) == -1)
			return TR_ERROR;
		withmeta = *in;
		withmeta.v[TC_METADATA] = meta;
		t.in = &withmeta;
	}
	e = db_txn(db, create_fn, &t);
	free(meta);
	if (t.limited)
		return TR_LIMIT;
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
		r = tenants_create_with(db, who, &withslug, flags,
		    request_id, out);
		if (r != TR_CONFLICT || out->conflict == NULL ||
		    strcmp(out->conflict, "id") != 0)
			break;
	}
	return r;
}

static bool	 activate_unprovisioned;

void
tenants_set_activate_unprovisioned(bool allow)
{
	activate_unprovisioned = allow;
}

/* A column's value once a patch or replace has been applied. */
static const char *
after(const struct db_row *row, const struct tenant_change *ch, enum tcol i)
{
	if ((ch->op != OP_PATCH && ch->op != OP_REPLACE) || i == TC_SLUG)
		return row->v[i];
	if (ch->in->set[i])
		return ch->in->v[i];
	return ch->op == OP_REPLACE ? tcols[i].dflt : row->v[i];
}

/*
 * Whether a change turns an inactive tenant active.  A replace resets an
 * omitted isActive to its default, which is active.
 */
static bool
activates(const struct db_row *row, const struct tenant_change *ch)
{
	const char	*v;

	if (strcmp(row->v[TC_IS_ACTIVE], "0") != 0)
		return false;
	if (ch->op == OP_ACTIVATE)
		return true;
	v = after(row, ch, TC_IS_ACTIVE);
	return v != NULL && strcmp(v, "1") == 0;
}

/*
 * Whether a change activates a tenant whose provisioning job has not
 * Completed: refused (TR_UNPROVISIONED) unless the request forces it or
 * the installation allows it (provision.allow_activate_unprovisioned).
 * A tenant is served once active, and its job still has to seed its
 * admin user and location, or make its own database.  Only the explicit
 * activation of an inactive tenant counts: a tenant created active stays
 * as its client asked while it is provisioned, and deactivating is always
 * allowed.
 */
static bool
unprovisioned(const struct db_row *row, const struct tenant_change *ch)
{
	const char	*status = row->v[TC_PROVISIONING_STATUS];

	return activates(row, ch) && status != NULL &&
	    strcmp(status, "Completed") != 0;
}

static const char *const op_actions[OP__MAX] = {
	[OP_PATCH] = "tenant.update",
	[OP_REPLACE] = "tenant.replace",
	[OP_ACTIVATE] = "tenant.activate",
	[OP_DEACTIVATE] = "tenant.deactivate",
	[OP_UPGRADE] = "tenant.upgrade",
	[OP_DELETE] = "tenant.delete",
	[OP_SWITCH] = "tenant.switch",
	[OP_SOFT_DELETE] = "tenant.delete",
	[OP_PURGE] = "tenant.purge",
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

static bool
differ(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
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

	/* A deleted tenant keeps its name for a restore. */
	if (differ(row->v[TC_NAME], v[TC_NAME])) {
		if ((e = tenant_archive_holds(db, NULL, v[TC_NAME],
		    &t->ref->conflict)) != DBE_OK)
			return e;
		if (t->ref->conflict != NULL)
			return DBE_DUP;
	}
	e = tenant_store_update(db, t->ref->pk, v);
	if (e == DBE_DUP && strstr(db_error(db), "ux_tenants_external_id"))
		t->ref->conflict = "externalId";
	if (e != DBE_OK)
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
	char				*meta = NULL;
	size_t				 i;
	enum db_err			 e;

	if (in->set[TC_SLUG] && strcmp(in->v[TC_SLUG], row->v[TC_SLUG]) != 0) {
		t->result = invalid(t->ref, "id", "cannot be changed");
		return DBE_OTHER;
	}
	/* A PATCH merges into the stored metadata, a PUT replaces it. */
	if (in->set[TC_METADATA] && tenant_metadata_merge(ch->op == OP_PATCH ?
	    row->v[TC_METADATA] : NULL, in->metadata, &meta) == -1) {
		t->result = invalid(t->ref, "metadata", "must have at most 50 "
		    "keys");
		return DBE_OTHER;
	}
	for (i = 0; i < TC__MAX; i++) {
		if (i == TC_METADATA && in->set[i])
			v[i] = meta;
		else if (in->set[i])
			v[i] = in->v[i];
		else if (ch->op == OP_REPLACE && i != TC_SLUG)
			v[i] = tcols[i].dflt;
		else
			v[i] = row->v[i];
	}
	e = update_row(db, row, v, t);
	if (e == DBE_OK && differ(row->v[TC_METADATA], v[TC_METADATA]))
		e = tenant_store_metadata(db, t->ref->pk, strtoll(
		    row->v[TC_ACCOUNT_ID], NULL, 10), v[TC_METADATA]);
	free(meta);
	return e;
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
	if (ch->op == OP_SOFT_DELETE) {
		char	 by[160];

		audit_principal(t->who, by, sizeof(by));
		if ((e = tenant_archive_put(db, ref->pk, tenants_deleted_days(),
		    by)) != DBE_OK)
			return e;
	}
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
	case OP_SOFT_DELETE:
	case OP_PURGE:
		return apply_delete(db, row, t);
	case OP_SWITCH: {
		struct db_param p[] = { DB_I64(t->ref->pk),
		    DB_I64(t->who->account_id) };

		/* A deactivated tenant refuses its users: no one moves in. */
		if (row->v[TC_IS_ACTIVE] != NULL &&
		    strcmp(row->v[TC_IS_ACTIVE], "0") == 0) {
			t->result = TR_INACTIVE;
			return DBE_OTHER;
		}
		return db_exec(db, sql_switch, p, 2, NULL);
	}
	default:
		return DBE_OTHER;
	}
}

/*
 * {"reason":..., "isActive":..., "validUpto":..., "forced": true} into
 * buf (reason may be NULL, valid_upto is a DATETIME or NULL; forced only
 * when an activation went through before provisioning completed); NULL
 * when it does not fit.
 */
static const char *
state_detail(const char *reason, bool is_active, const char *valid_upto,
    bool forced, char *buf, size_t len)
{
	json_t	*j;
	char	 t[40];
	size_t	 n;

	if (valid_upto != NULL && rfc3339_from_sql(valid_upto, t, sizeof(t)) == -1)
		valid_upto = NULL;
	j = json_pack("{s:s?, s:b, s:s?}", "reason", reason, "isActive",
	    is_active, "validUpto", valid_upto != NULL ? t : NULL);
	if (j != NULL && forced)
		json_object_set_new(j, "forced", json_true());
	n = j != NULL ? json_dumpb(j, buf, len - 1, JSON_COMPACT) : 0;
	json_decref(j);
	if (n == 0 || n >= len)
		return NULL;
	buf[n] = '\0';
	return buf;
}

/*
 * The detail of a change's audit event: its state after the change for
 * every change of state (a PATCH or PUT only when it moved isActive or
 * validUpto), which the tenant's history is read from.
 */
static const char *
change_detail(const struct db_row *row, const struct tenant_change *ch,
    bool forced, char *buf, size_t len)
{
	const char	*active = row->v[TC_IS_ACTIVE], *until = row->v[TC_VALID_UPTO];
	bool		 fields = ch->op == OP_PATCH || ch->op == OP_REPLACE;

	if (ch->op == OP_SWITCH)
		return NULL;
	if (ch->op == OP_ACTIVATE || ch->op == OP_DEACTIVATE)
		active = ch->op == OP_ACTIVATE ? "1" : "0";
	else if (ch->op == OP_UPGRADE)
		until = ch->valid_upto;
	else if (fields) {
		if (ch->in->set[TC_IS_ACTIVE] || ch->op == OP_REPLACE)
			active = tenant_input_value(ch->in, TC_IS_ACTIVE);
		if (ch->in->set[TC_VALID_UPTO] || ch->op == OP_REPLACE)
			until = ch->in->set[TC_VALID_UPTO] ?
			    ch->in->v[TC_VALID_UPTO] : NULL;
		if (!differ(active, row->v[TC_IS_ACTIVE]) &&
		    !differ(until, row->v[TC_VALID_UPTO]))
			return NULL;
	}
	return state_detail(ch->reason, active != NULL &&
	    active[0] == '1', until, forced, buf, len);
}

static enum db_err
change_fn(struct db *db, void *arg)
{
	struct change_txn	*t = arg;
	struct tenant_ref	*ref = t->ref;
	struct db_res		*res;
	struct db_row		 row;
	const char		*detail;
	char			 buf[4000];
	enum db_err		 e;
	bool			 early;
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
	/* Let through, an early activation is a forced one. */
	early = unprovisioned(&row, t->ch);
	if (early && !t->ch->force && !activate_unprovisioned) {
		t->result = TR_UNPROVISIONED;
		return DBE_OTHER;
	}
	detail = change_detail(&row, t->ch, early, buf, sizeof(buf));
	if ((e = apply_change(db, &row, t)) != DBE_OK)
		return e;
	e = audit_write(db, t->who, &(struct audit_event){
	    .action = op_actions[t->ch->op], .target_type = "tenant",
	    .target_id = ref->slug, .request_id = t->request_id,
	    .tenant_guid = ref->guid, .detail = detail });
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
		/* its tenant keys went or stop */
		db_on_commit(db, keycache_invalidate);
	if (e == DBE_OK)
		return TR_OK;
	if (t.result != TR_ERROR && t.result != TR_OK)
		return t.result;
	return tenants_result(e);
}
