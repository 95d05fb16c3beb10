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
/* Columns of key_store_list and key_store_get rows. */
enum keyrow {
	KR_ID, KR_PREFIX, KR_KIND, KR_PERMS, KR_LABEL, KR_EXPIRES, KR_REVOKED,
	KR_LAST_USED, KR_CREATED, KR_ACCOUNT, KR_TENANT, KR__MAX
};

/* Keys of account (0 = all), oldest first. */
enum db_err	 key_store_list(struct db *, long long account,
		    struct db_res **);
/* One key of account (0 = any): 1 found, 0 not, -1 error. */
int		 key_store_get(struct db *, long long account, long long id,
		    struct db_row *, struct db_res **);

#endif
