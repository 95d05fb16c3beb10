#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "keycache.h"
#include "tenant_list.h"
#include "tenants_deleted.h"

#define PURGE_BATCH	100

static long	 deleted_days = 30;

void
tenants_set_deleted_days(long days)
{
	deleted_days = days;
}

long
tenants_deleted_days(void)
{
	return deleted_days;
}

struct deleted_txn {
	const struct principal	*who;
	const char		*id, *request_id;
	const char		*confirm_name, *confirm_display_name;
	const char		*reason;
	struct tenant_ref	*ref;
	enum tres		 result;
	bool			 limited;
	long long		 account;	/* the locked tenant's */
};

/* Locks the archived tenant t->id into ref: DBE_OTHER when there is none. */
static enum db_err
lock_deleted(struct db *db, struct deleted_txn *t, char *display,
    size_t displen)
{
	struct db_res	*res = NULL;
	struct db_row	 row;
	int		 rc;

	t->result = TR_NOT_FOUND;
	rc = tenant_archive_find(db, tenants_scope(t->who), t->id, 1, &row,
	    &res);
	if (rc != 1) {
		db_res_free(res);
		if (rc == 0)
			return DBE_OTHER;
		t->result = TR_ERROR;
		return db_classify(db_errno(db));
	}
	t->result = TR_ERROR;
	t->ref->pk = strtoll(row.v[AR_PK], NULL, 10);
	t->account = strtoll(row.v[AR_ACCOUNT_ID], NULL, 10);
	snprintf(t->ref->slug, sizeof(t->ref->slug), "%s", row.v[AR_SLUG]);
	snprintf(t->ref->guid, sizeof(t->ref->guid), "%s", row.v[AR_GUID]);
	snprintf(t->ref->name, sizeof(t->ref->name), "%s", row.v[AR_NAME]);
	if (display != NULL)
		snprintf(display, displen, "%s", row.v[AR_DISPLAY_NAME] != NULL ?
		    row.v[AR_DISPLAY_NAME] : row.v[AR_NAME]);
	db_res_free(res);
	return DBE_OK;
}

/* With the reason given, if any, for the tenant's history. */
static enum db_err
audit(struct db *db, const struct deleted_txn *t, const char *action)
{
	json_t		*j = NULL;
	char		 detail[4000];
	size_t		 n = 0;

	if (t->reason != NULL && (j = json_pack("{s:s}", "reason",
	    t->reason)) != NULL)
		n = json_dumpb(j, detail, sizeof(detail) - 1, JSON_COMPACT);
	json_decref(j);
	if (n < sizeof(detail))
		detail[n] = '\0';
	return audit_write(db, t->who, &(struct audit_event){ .action = action,
	    .target_type = "tenant", .target_id = t->ref->slug,
	    .request_id = t->request_id, .tenant_guid = t->ref->guid,
	    .detail = n > 0 && n < sizeof(detail) ? detail : NULL });
}

static enum db_err
restore_fn(struct db *db, void *arg)
{
	struct deleted_txn	*t = arg;
	enum db_err		 e;

	if ((e = lock_deleted(db, t, NULL, 0)) != DBE_OK)
		return e;
	if ((e = tenants_license_room(db, &t->limited)) != DBE_OK)
		return e;
	if (t->limited) {
		t->result = TR_LIMIT;
		return DBE_OTHER;
	}
	e = tenant_archive_restore(db, t->ref->pk);
	if (e == DBE_DUP) {
		t->ref->conflict = strstr(db_error(db),
		    "ux_tenants_external_id") ? "externalId" : "id";
		t->result = TR_CONFLICT;
		return DBE_OTHER;
	}
	if (e != DBE_OK)
		return e;
	if ((e = tenant_list_restored(db, t->account, t->ref->pk)) != DBE_OK ||
	    (e = audit(db, t, "tenant.restore")) != DBE_OK)
		return e;
	t->result = TR_OK;
	return DBE_OK;
}

static enum tres
run(struct db *db, enum db_err (*fn)(struct db *, void *),
    struct deleted_txn *t)
{
	enum db_err	 e;

	memset(t->ref, 0, sizeof(*t->ref));
	e = db_txn(db, fn, t);
	if (e == DBE_OK)
		return TR_OK;
	if (t->result != TR_ERROR && t->result != TR_OK)
		return t->result;
	return tenants_result(e);
}

enum tres
tenants_restore(struct db *db, const struct principal *who, const char *id,
    const char *reason, const char *request_id, struct tenant_ref *ref)
{
	struct deleted_txn	 t = { .who = who, .id = id, .reason = reason,
	    .request_id = request_id, .ref = ref, .result = TR_ERROR };
	enum tres		 r;

	if ((r = run(db, restore_fn, &t)) == TR_OK)
		keycache_invalidate();	/* its tenant keys are back */
	return r;
}

static enum db_err
purge_fn(struct db *db, void *arg)
{
	struct deleted_txn	*t = arg;
	char			 display[801];
	enum db_err		 e;

	if ((e = lock_deleted(db, t, display, sizeof(display))) != DBE_OK)
		return e;
	t->ref->nbad = 0;
	if (t->confirm_name == NULL || strcmp(t->confirm_name,
	    t->ref->name) != 0) {
		t->ref->bad[t->ref->nbad].field = "confirmName";
		t->ref->bad[t->ref->nbad++].msg = "must equal the tenant's name";
	}
	if (t->confirm_display_name == NULL ||
	    strcmp(t->confirm_display_name, display) != 0) {
		t->ref->bad[t->ref->nbad].field = "confirmDisplayName";
		t->ref->bad[t->ref->nbad++].msg = "must equal the tenant's "
		    "display name (its name when it has none)";
	}
	if (t->ref->nbad > 0) {
		t->result = TR_INVALID;
		return DBE_OTHER;
	}
	if ((e = tenant_archive_purge(db, t->ref->pk)) != DBE_OK ||
	    (e = audit(db, t, "tenant.purge")) != DBE_OK)
		return e;
	t->result = TR_OK;
	return DBE_OK;
}

enum tres
tenants_purge_deleted(struct db *db, const struct principal *who,
    const char *id, const char *confirm_name, const char *confirm_display_name,
    const char *reason, const char *request_id, struct tenant_ref *ref)
{
	struct deleted_txn	 t = { .who = who, .id = id, .reason = reason,
	    .request_id = request_id, .confirm_name = confirm_name,
	    .confirm_display_name = confirm_display_name, .ref = ref,
	    .result = TR_ERROR };

	return run(db, purge_fn, &t);
}

int
tenants_deleted_get(struct db *db, long long scope, const char *id,
    struct db_row *row, struct db_res **res)
{
	return tenant_archive_find(db, scope, id, 0, row, res);
}

/* One tenant past its retention, purged and audited as the system's act. */
static enum db_err
expired_fn(struct db *db, void *arg)
{
	struct deleted_txn	*t = arg;
	struct principal	 system = { .via = VIA_NONE };
	struct db_res		*res = NULL;
	struct db_row		 row;
	enum db_err		 e;
	int			 rc;

	t->result = TR_NOT_FOUND;
	if ((rc = tenant_archive_due(db, &row, &res)) != 1) {
		db_res_free(res);
		return rc == 0 ? DBE_OTHER : db_classify(db_errno(db));
	}
	system.account_id = strtoll(row.v[AR_ACCOUNT_ID], NULL, 10);
	t->ref->pk = strtoll(row.v[AR_PK], NULL, 10);
	snprintf(t->ref->slug, sizeof(t->ref->slug), "%s", row.v[AR_SLUG]);
	snprintf(t->ref->guid, sizeof(t->ref->guid), "%s", row.v[AR_GUID]);
	db_res_free(res);
	if ((e = tenant_archive_purge(db, t->ref->pk)) != DBE_OK ||
	    (e = audit_write(db, &system, &(struct audit_event){
	    .action = "tenant.purge", .target_type = "tenant",
	    .target_id = t->ref->slug, .tenant_guid = t->ref->guid,
	    .detail = "{\"reason\":\"retention\"}" })) != DBE_OK)
		return e;
	t->result = TR_OK;
	return DBE_OK;
}

int
tenants_purge_expired(struct db *db)
{
	struct tenant_ref	 ref;
	struct deleted_txn	 t = { .ref = &ref };
	int			 n;

	for (n = 0; n < PURGE_BATCH; n++)
		if (db_txn(db, expired_fn, &t) != DBE_OK)
			break;
	return t.result == TR_NOT_FOUND || t.result == TR_OK ? n : -1;
}
