/* Accounts: the API users that own tenants. */
#ifndef ACCOUNT_STORE_H
#define ACCOUNT_STORE_H

#include "db.h"

/* Finds the account named name, creating it if needed: its id, or -1. */
long long	 account_ensure(struct db *, const char *name);
/* Its id, 0 when there is none, -1 on error. */
long long	 account_find(struct db *, const char *name);

#endif
