#include <string.h>

#include <openssl/evp.h>

#include "idempotency.h"

#define WINDOW	"INTERVAL 1 DAY"

static const char sql_find[] =
    "SELECT request_hash, result, "
    "created_at <= UTC_TIMESTAMP(3) - " WINDOW " FROM idempotency_keys "
    "WHERE account_id = ? AND idem_key = ?";
static const char sql_expire[] =
    "DELETE FROM idempotency_keys WHERE account_id = ? AND idem_key = ? "
    "AND created_at <= UTC_TIMESTAMP(3) - " WINDOW;
static const char sql_claim[] =
    "INSERT INTO idempotency_keys (account_id, idem_key, request_hash, "
    "result, created_at) VALUES (?, ?, ?, '', UTC_TIMESTAMP(3))";
/* Oldest first, a batch a statement: short locks beside live requests. */
static const char sql_purge[] =
    "DELETE FROM idempotency_keys "
    "WHERE created_at <= UTC_TIMESTAMP(3) - " WINDOW " "
    "ORDER BY created_at LIMIT 1000";
#define PURGE_BATCH	1000
#define PURGE_BATCHES	100	/* a call's most; the next call goes on */
static const char sql_store[] =
    "UPDATE idempotency_keys SET result = ? "
    "WHERE account_id = ? AND idem_key = ?";

void
idem_hash(struct idem_key *k, const char *const *parts, const char *body,
    size_t body_len)
{
	EVP_MD_CTX	*md;

	memset(k->hash, 0, sizeof(k->hash));
	if ((md = EVP_MD_CTX_new()) == NULL)
		return;
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	/* Each part with its NUL: "a" "bc" differs from "ab" "c". */
	for (; *parts != NULL; parts++)
		EVP_DigestUpdate(md, *parts, strlen(*parts) + 1);
	EVP_DigestUpdate(md, body, body_len);
	EVP_DigestFinal_ex(md, k->hash, NULL);
	EVP_MD_CTX_free(md);
}

enum idem_found
idem_find(struct db *db, const struct idem_key *k, json_t **answer,
    bool *expired)
{
	struct db_param	 p[] = { DB_I64(k->account), DB_STR(k->key) };
	struct db_row	 row;
	struct db_res	*res;
	enum idem_found	 r;
	int		 rc;

	*answer = NULL;
	*expired = false;
	if ((rc = db_one(db, sql_find, p, 2, &row, &res)) != 1)
		return rc == 0 ? IDEM_NEW : IDEM_ERROR;
	if (row.v[2] != NULL && strcmp(row.v[2], "1") == 0) {
		*expired = true;
		r = IDEM_NEW;
	} else if (row.len[0] != sizeof(k->hash) ||
	    memcmp(row.v[0], k->hash, sizeof(k->hash)) != 0)
		r = IDEM_REUSED;
	else if ((*answer = json_loadb(row.v[1], row.len[1], 0, NULL)) == NULL)
		r = IDEM_ERROR;
	else
		r = IDEM_REPLAY;
	db_res_free(res);
	return r;
}

enum db_err
idem_claim(struct db *db, const struct idem_key *k, bool expired)
{
	struct db_param	 p[] = { DB_I64(k->account), DB_STR(k->key),
	    DB_STRN((const char *)k->hash, sizeof(k->hash)) };
	enum db_err	 e;

	/* Only then: a DELETE of nothing would lock the gap, and deadlock. */
	if (expired && (e = db_exec(db, sql_expire, p, 2, NULL)) != DBE_OK)
		return e;
	return db_exec(db, sql_claim, p, 3, NULL);
}

enum db_err
idem_store(struct db *db, const struct idem_key *k, const char *answer,
    size_t len)
{
	struct db_param	 p[] = { DB_STRN(answer, len), DB_I64(k->account),
	    DB_STR(k->key) };

	return db_exec(db, sql_store, p, 3, NULL);
}

int
idem_purge_expired(struct db *db)
{
	return db_purge(db, sql_purge, PURGE_BATCH, PURGE_BATCHES);
}
