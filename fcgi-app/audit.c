#include <stdio.h>
#include <string.h>

#include "audit.h"

static const char sql_insert[] =
    "INSERT INTO audit_events (account_id, principal, action, target_type, "
    "target_id, outcome, request_id, detail, tenant_guid) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";

void
audit_principal(const struct principal *who, char *out, size_t len)
{
	if (who->via == VIA_KEY)
		snprintf(out, len, "key:%lld", who->key_id);
	else if (who->via == VIA_JWT)
		snprintf(out, len, "jwt:%s", who->account);
	else
		snprintf(out, len, "cli");
}

enum db_err
audit_write(struct db *db, const struct principal *who,
    const struct audit_event *ev)
{
	char		 principal[160];
	struct db_param	 p[9];

	audit_principal(who, principal, sizeof(principal));
	p[0] = who->account_id ? DB_I64(who->account_id) : DB_NULLP;
	p[1] = DB_STRN(principal, strlen(principal));
	p[2] = DB_STR(ev->action);
	p[3] = DB_STR(ev->target_type);
	p[4] = DB_STR(ev->target_id);
	p[5] = DB_STR(ev->outcome ? ev->outcome : "ok");
	p[6] = DB_STR(ev->request_id);
	p[7] = DB_STR(ev->detail);
	p[8] = DB_STR(ev->tenant_guid);
	return db_exec(db, sql_insert, p, 9, NULL);
}

#define AUDIT_COLUMNS "SELECT id, at, principal, action, target_type, " \
	"target_id, outcome, request_id, detail FROM audit_events "

/* The id cursor walks the primary key (or ix_audit_account) backwards. */
static const char sql_list[] = AUDIT_COLUMNS
    "WHERE id < ? ORDER BY id DESC LIMIT ?";
static const char sql_list_scoped[] = AUDIT_COLUMNS
    "WHERE account_id = ? AND id < ? ORDER BY id DESC LIMIT ?";

enum db_err
audit_list(struct db *db, long long account, long long before,
    long long limit, struct db_res **res)
{
	struct db_param	 p[3];
	size_t		 n = 0;

	if (before <= 0)
		before = 9223372036854775807LL;
	if (account)
		p[n++] = DB_I64(account);
	p[n++] = DB_I64(before);
	p[n++] = DB_I64(limit);
	return db_exec(db, account ? sql_list_scoped : sql_list, p, n, res);
}
