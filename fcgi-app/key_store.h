/* API keys in the database. */
#ifndef KEY_STORE_H
#define KEY_STORE_H

#include <stdint.h>

#include "apikey.h"
#include "auth.h"
#include "db.h"

struct key_new {
	long long	 account_id;
	enum key_kind	 kind;
	long long	 tenant_pk;	/* KEY_TENANT only */
	uint32_t	 perms;
	const char	*label;		/* may be NULL */
	const char	*expires_at;	/* SQL DATETIME or NULL */
};

/*
 * Creates a key and its audit event in one transaction; the secret (shown
 * once, never stored) lands in key.
 */
enum db_err	 key_store_create(struct db *, const struct principal *actor,
		    const struct key_new *, const char *request_id,
		    char key[APIKEY_LEN + 1], long long *id);
/* Revokes key id of account (0 = any); 1 done, 0 not found, -1 error. */
int		 key_store_revoke(struct db *, const struct principal *actor,
		    long long account, long long id, const char *request_id);
/* Keys of account (0 = all): id, prefix, kind, permissions, label,
 * expires_at, revoked_at, last_used_at, created_at, account name. */
enum db_err	 key_store_list(struct db *, long long account,
		    struct db_res **);

#endif
