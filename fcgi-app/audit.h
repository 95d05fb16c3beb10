/* Audit events, written in the same transaction as the change they record. */
#ifndef AUDIT_H
#define AUDIT_H

#include "auth.h"
#include "db.h"

struct audit_event {
	const char	*action;	/* "tenant.create", "key.revoke", ... */
	const char	*target_type;	/* "tenant", "api_key" */
	const char	*target_id;
	const char	*outcome;	/* "ok", "denied" */
	const char	*request_id;
	const char	*detail;	/* JSON text or NULL */
	const char	*tenant_guid;	/* the tenant it is about, or NULL */
};

enum db_err	 audit_write(struct db *, const struct principal *,
		    const struct audit_event *);
/* How events name who: "key:ID", "jwt:ACCOUNT" or "cli". */
void		 audit_principal(const struct principal *, char *, size_t);

/* Columns of audit_list rows. */
enum auditcol {
	AC_ID, AC_AT, AC_PRINCIPAL, AC_ACTION, AC_TARGET_TYPE, AC_TARGET_ID,
	AC_OUTCOME, AC_REQUEST_ID, AC_DETAIL, AC__MAX
};

/*
 * Events of account (0 = all), newest first, with ids below before (0 =
 * from the newest), at most limit of them.
 */
enum db_err	 audit_list(struct db *, long long account, long long before,
		    long long limit, struct db_res **);

#endif
