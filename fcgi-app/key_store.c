#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "key_store.h"
#include "keycache.h"

static const char sql_insert[] =
    "INSERT INTO api_keys (account_id, prefix, hash, kind, tenant_pk, "
    "permissions, label, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
static const char sql_revoke[] =
    "UPDATE api_keys SET revoked_at = UTC_TIMESTAMP(3) "
    "WHERE id = ? AND revoked_at IS NULL";
static const char sql_revoke_scoped[] =
    "UPDATE api_keys SET revoked_at = UTC_TIMESTAMP(3) "
    "WHERE id = ? AND account_id = ? AND revoked_at IS NULL";
#define KEY_COLUMNS "SELECT k.id, k.prefix, k.kind, k.permissions, " \
	"k.label, k.expires_at, k.revoked_at, k.last_used_at, k.created_at, " \
	"a.name, t.slug FROM api_keys k JOIN accounts a ON a.id = k.account_id " \
	"LEFT JOIN tenants t ON t.pk = k.tenant_pk "

static const char sql_list[] = KEY_COLUMNS "ORDER BY k.id";
static const char sql_list_scoped[] = KEY_COLUMNS
    "WHERE k.account_id = ? ORDER BY k.id";
static const char sql_get[] = KEY_COLUMNS
    "WHERE k.id = ? AND (? = 0 OR k.account_id = ?)";

struct create_txn {
	const struct principal	*actor;
	const struct key_new	*k;
	const char		*request_id;
	char			*key;
	long long		 id;
};

static enum db_err
create_fn(struct db *db, void *arg)
{
	struct create_txn	*t = arg;
	unsigned char		 hash[APIKEY_HASH_LEN];
	char			 target[24];
	struct db_param		 p[8];
	enum db_err		 e;

	apikey_hash(t->key, hash);
	p[0] = DB_I64(t->k->account_id);
	p[1] = DB_STRN(t->key, APIKEY_PREFIX_LEN);
	p[2] = DB_STRN((const char *)hash, APIKEY_HASH_LEN);
	p[3] = DB_STR(key_kind_name(t->k->kind));
	p[4] = t->k->kind == KEY_TENANT ? DB_I64(t->k->tenant_pk) : DB_NULLP;
	p[5] = DB_I64(t->k->perms);
	p[6] = DB_STR(t->k->label);
	p[7] = DB_STR(t->k->expires_at);
	if ((e = db_exec(db, sql_insert, p, 8, NULL)) != DBE_OK)
		return e;
	t->id = (long long)db_insert_id(db);
	snprintf(target, sizeof(target), "%lld", t->id);
	return audit_write(db, t->actor, &(struct audit_event){
	    .action = "key.create", .target_type = "api_key",
	    .target_id = target, .request_id = t->request_id });
}

enum db_err
key_store_create(struct db *db, const struct principal *actor,
    const struct key_new *k, const char *request_id, char key[APIKEY_LEN + 1],
    long long *id)
{
	struct create_txn	 t = { actor, k, request_id, key, 0 };
	enum db_err		 e;

	if (apikey_generate(key) == -1)
		return DBE_OTHER;
	e = db_txn(db, create_fn, &t);
	*id = t.id;
	if (e != DBE_OK)
		OPENSSL_cleanse(key, APIKEY_LEN + 1);
	return e;
}

struct revoke_txn {
	const struct principal	*actor;
	long long		 account, id;
	const char		*request_id;
	int			 found;	/* -1 until the UPDATE ran */
};

static enum db_err
revoke_fn(struct db *db, void *arg)
{
	struct revoke_txn	*t = arg;
	struct db_param		 p[] = { DB_I64(t->id), DB_I64(t->account) };
	char			 target[24];
	enum db_err		 e;

	e = db_exec(db, t->account ? sql_revoke_scoped : sql_revoke, p,
	    t->account ? 2 : 1, NULL);
	if (e != DBE_OK)
		return e;
	if ((t->found = db_affected(db) > 0) == 0)
		return DBE_OTHER;	/* nothing to record: roll back */
	snprintf(target, sizeof(target), "%lld", t->id);
	return audit_write(db, t->actor, &(struct audit_event){
	    .action = "key.revoke", .target_type = "api_key",
	    .target_id = target, .request_id = t->request_id });
}

int
key_store_revoke(struct db *db, const struct principal *actor,
    long long account, long long id, const char *request_id)
{
	struct revoke_txn	 t = { actor, account, id, request_id, -1 };
	enum db_err		 e;

	e = db_txn(db, revoke_fn, &t);
	if (e == DBE_OK) {
		db_on_commit(db, keycache_invalidate);
		return 1;
	}
	return t.found == 0 ? 0 : -1;
}

enum db_err
key_store_list(struct db *db, long long account, struct db_res **res)
{
	struct db_param	 p[] = { DB_I64(account) };

	if (account)
		return db_exec(db, sql_list_scoped, p, 1, res);
	return db_exec(db, sql_list, NULL, 0, res);
}

int
key_store_get(struct db *db, long long account, long long id,
    struct db_row *row, struct db_res **res)
{
	struct db_param	 p[] = { DB_I64(id), DB_I64(account), DB_I64(account) };

	return db_one(db, sql_get, p, 3, row, res);
}
