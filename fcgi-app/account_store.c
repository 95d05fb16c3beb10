#include <stdlib.h>
#include <string.h>

#include "account_store.h"

static const char sql_find[] =
    "SELECT id FROM accounts WHERE name = ?";
static const char sql_insert[] =
    "INSERT IGNORE INTO accounts (name) VALUES (?)";

long long
account_find(struct db *db, const char *name)
{
	struct db_param	 p[] = { DB_STR(name) };
	struct db_row	 row;
	struct db_res	*res;
	int		 rc;
	long long	 id;

	rc = db_one(db, sql_find, p, 1, &row, &res);
	id = rc == 1 ? strtoll(row.v[0], NULL, 10) : rc;
	db_res_free(res);
	return id;
}

long long
account_ensure(struct db *db, const char *name)
{
	struct db_param	 p[] = { DB_STR(name) };
	long long	 id;

	if ((id = account_find(db, name)) != 0)
		return id;
	/* Two workers may race here; IGNORE lets the loser read the winner's row. */
	if (db_exec(db, sql_insert, p, 1, NULL) != DBE_OK)
		return -1;
	id = account_find(db, name);
	return id > 0 ? id : -1;
}
