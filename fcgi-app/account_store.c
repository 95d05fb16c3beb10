#include <stdio.h>
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

/*
 * JWT subjects seen by this process and their account ids.  Accounts are
 * never renamed or removed, so an entry never goes stale.
 */
#define ACCOUNT_MEMO	64

static struct {
	char		 name[129];
	long long	 id;
} memo[ACCOUNT_MEMO];

static size_t
memo_slot(const char *name)
{
	size_t	 h = 5381;

	for (; *name != '\0'; name++)
		h = h * 33 + (unsigned char)*name;
	return h % ACCOUNT_MEMO;
}

long long
account_ensure(struct db *db, const char *name)
{
	struct db_param	 p[] = { DB_STR(name) };
	size_t		 slot = memo_slot(name);
	long long	 id;

	if (memo[slot].id > 0 && strcmp(memo[slot].name, name) == 0)
		return memo[slot].id;
	if ((id = account_find(db, name)) == 0) {
		/* Two workers may race here; IGNORE lets the loser read the winner's row. */
		if (db_exec(db, sql_insert, p, 1, NULL) != DBE_OK)
			return -1;
		id = account_find(db, name);
	}
	if (id > 0 && strlen(name) < sizeof(memo[0].name)) {
		snprintf(memo[slot].name, sizeof(memo[0].name), "%s", name);
		memo[slot].id = id;
	}
	return id > 0 ? id : -1;
}
