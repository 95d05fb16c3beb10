/*
 * Who is calling: a principal resolved from an API key or a JWT bearer
 * token, with the permissions it holds.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stdint.h>

#include "config.h"
#include "db.h"
#include "request.h"

enum key_kind {
	KEY_GLOBAL,	/* platform-wide: every account's tenants */
	KEY_ACCOUNT,	/* its own account's tenants */
	KEY_TENANT,	/* one tenant; refused by tenant management */
	KEY__MAX
};

enum principal_via {
	VIA_NONE,
	VIA_KEY,
	VIA_JWT,
};

struct principal {
	enum principal_via via;
	enum key_kind	 kind;
	long long	 account_id;
	char		 account[129];
	uint32_t	 perms;
	long long	 key_id;	/* VIA_KEY */
	long long	 tenant_pk;	/* KEY_TENANT scope */
	long long	 tenant_valid_upto; /* its validUpto (Unix time), 0 none */
};

enum auth_result {
	AUTH_OK,
	AUTH_NONE,	/* no credential presented */
	AUTH_INVALID,	/* presented but not valid: 401 */
	AUTH_UNAVAILABLE, /* database unreachable: 503 */
};

enum auth_result auth_resolve(struct db *, const struct config *,
		    const struct request *, struct principal *,
		    const char **why);

const char	*key_kind_name(enum key_kind);
int		 key_kind_parse(const char *, enum key_kind *);

#endif
