#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <uuid/uuid.h>

#include "audit.h"
#include "secretbox.h"
#include "webhook_store.h"

#define WEBHOOK_COLUMNS "SELECT guid, url, events, description, is_active, " \
	"created_at, updated_at, id FROM webhooks "

static const char sql_insert[] =
    "INSERT INTO webhooks (guid, account_id, url, events, description, "
    "secret) VALUES (?, ?, ?, ?, ?, ?)";
static const char sql_update[] =
    "UPDATE webhooks SET url = COALESCE(?, url), "
    "events = COALESCE(?, events), "
    "description = IF(?, ?, description), "
    "is_active = COALESCE(?, is_active), updated_at = NOW(3) "
    "WHERE guid = ? AND account_id = ?";
static const char sql_delete[] =
    "DELETE FROM webhooks WHERE guid = ? AND account_id = ?";
static const char sql_list[] = WEBHOOK_COLUMNS
    "WHERE account_id = ? ORDER BY id";
static const char sql_get[] = WEBHOOK_COLUMNS
    "WHERE guid = ? AND account_id = ?";
static const char sql_deliveries[] =
    "SELECT d.id, d.event_id, a.action, d.status, d.attempts, "
    "d.next_attempt_at, d.last_status, d.last_error, d.created_at, "
    "d.completed_at FROM webhook_deliveries d "
    "LEFT JOIN audit_events a ON a.id = d.event_id "
    "WHERE d.webhook_id = ? AND d.id < ? ORDER BY d.id DESC LIMIT ?";
static const char sql_attempts[] =
    "SELECT delivery_id, at, status_code, error, duration_ms, response "
    "FROM webhook_attempts WHERE webhook_id = ? AND delivery_id BETWEEN ? "
    "AND ? ORDER BY delivery_id, id";

struct change_txn {
	const struct principal	 *who;
	const char		 *guid;
	const struct webhook_input *in;
	const char		 *request_id;
	const char		 *sealed;	/* create only */
	const char		 *action;
	int			  found;
};

static enum db_err
audit(struct db *db, const struct change_txn *t)
{
	return audit_write(db, t->who, &(struct audit_event){
	    .action = t->action, .target_type = "webhook",
	    .target_id = t->guid, .request_id = t->request_id });
}

static enum db_err
create_fn(struct db *db, void *arg)
{
	struct change_txn	*t = arg;
	struct db_param		 p[] = { DB_STR(t->guid),
	    DB_I64(t->who->account_id), DB_STR(t->in->url),
	    DB_STR(t->in->events ? t->in->events : ""),
	    DB_STR(t->in->description), DB_STR(t->sealed) };
	enum db_err		 e;

	if ((e = db_exec(db, sql_insert, p, 6, NULL)) != DBE_OK)
		return e;
	return audit(db, t);
}

int
webhook_create(struct db *db, const struct principal *who,
    const struct webhook_input *in, const char *request_id, char guid[37],
    char secret[WEBHOOK_SECRET_LEN + 1])
{
	unsigned char	 raw[32];
	char		 sealed[SECRETBOX_SEALED_LEN(WEBHOOK_SECRET_LEN)];
	uuid_t		 u;
	struct change_txn t = { who, guid, in, request_id, sealed,
	    "webhook.create", 0 };

	if (!secretbox_ready())
		return -2;
	uuid_generate_random(u);
	uuid_unparse_lower(u, guid);
	/* Standard Webhooks: the key is the base64 after "whsec_". */
	memcpy(secret, "whsec_", 6);
	if (RAND_bytes(raw, sizeof(raw)) != 1 ||
	    EVP_EncodeBlock((unsigned char *)secret + 6, raw, sizeof(raw)) !=
	    44 || secretbox_seal(secret, WEBHOOK_SECRET_LEN, guid, sealed,
	    sizeof(sealed)) == -1) {
		OPENSSL_cleanse(raw, sizeof(raw));
		return -1;
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	if (db_txn(db, create_fn, &t) == DBE_OK)
		return 0;
	OPENSSL_cleanse(secret, WEBHOOK_SECRET_LEN + 1);
	return -1;
}

static enum db_err
update_fn(struct db *db, void *arg)
{
	struct change_txn	*t = arg;
	const struct webhook_input *in = t->in;
	struct db_param		 p[] = { DB_STR(in->url), DB_STR(in->events),
	    DB_I64(in->set_description), DB_STR(in->description),
	    in->is_active == -1 ? DB_NULLP : DB_I64(in->is_active),
	    DB_STR(t->guid), DB_I64(t->who->account_id) };
	enum db_err		 e;

	if ((e = db_exec(db, sql_update, p, 7, NULL)) != DBE_OK)
		return e;
	if ((t->found = db_affected(db) > 0) == 0)
		return DBE_OTHER;	/* nothing to record: roll back */
	return audit(db, t);
}

static enum db_err
delete_fn(struct db *db, void *arg)
{
	struct change_txn	*t = arg;
	struct db_param		 p[] = { DB_STR(t->guid),
	    DB_I64(t->who->account_id) };
	enum db_err		 e;

	if ((e = db_exec(db, sql_delete, p, 2, NULL)) != DBE_OK)
		return e;
	if ((t->found = db_affected(db) > 0) == 0)
		return DBE_OTHER;
	return audit(db, t);
}

static int
change(struct db *db, enum db_err (*fn)(struct db *, void *),
    struct change_txn *t)
{
	t->found = -1;
	if (db_txn(db, fn, t) == DBE_OK)
		return 1;
	return t->found == 0 ? 0 : -1;
}

int
webhook_update(struct db *db, const struct principal *who, const char *guid,
    const struct webhook_input *in, const char *request_id)
{
	struct change_txn t = { who, guid, in, request_id, NULL,
	    "webhook.update", 0 };

	return change(db, update_fn, &t);
}

int
webhook_delete(struct db *db, const struct principal *who, const char *guid,
    const char *request_id)
{
	struct change_txn t = { who, guid, NULL, request_id, NULL,
	    "webhook.delete", 0 };

	return change(db, delete_fn, &t);
}

enum db_err
webhook_list(struct db *db, long long account, struct db_res **res)
{
	struct db_param	 p[] = { DB_I64(account) };

	return db_exec(db, sql_list, p, 1, res);
}

int
webhook_get(struct db *db, long long account, const char *guid,
    struct db_row *row, struct db_res **res)
{
	struct db_param	 p[] = { DB_STR(guid), DB_I64(account) };

	return db_one(db, sql_get, p, 2, row, res);
}

enum db_err
webhook_deliveries(struct db *db, long long pk, long long before,
    long long limit, struct db_res **res)
{
	struct db_param	 p[] = { DB_I64(pk),
	    DB_I64(before > 0 ? before : 9223372036854775807LL),
	    DB_I64(limit) };

	return db_exec(db, sql_deliveries, p, 3, res);
}

enum db_err
webhook_attempts(struct db *db, long long pk, long long first,
    long long last, struct db_res **res)
{
	struct db_param	 p[] = { DB_I64(pk), DB_I64(first), DB_I64(last) };

	return db_exec(db, sql_attempts, p, 3, res);
}
