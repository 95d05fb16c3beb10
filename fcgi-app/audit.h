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
};

enum db_err	 audit_write(struct db *, const struct principal *,
		    const struct audit_event *);

#endif
