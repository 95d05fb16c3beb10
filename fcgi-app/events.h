/*
 * The change feed: audit rows that record a change (outcome "ok", not a
 * refused route), read in id order.  The audit id is the event's id and
 * its cursor, so the feed is as durable as the changes themselves.
 */
#ifndef EVENTS_H
#define EVENTS_H

#include <jansson.h>

#include "db.h"

#define EVENTS_LIMIT_MAX	500

/* Columns of events_list rows. */
enum evcol {
	EC_ID, EC_ACCOUNT, EC_AT, EC_PRINCIPAL, EC_ACTION, EC_TARGET_TYPE,
	EC_TARGET_ID, EC_TENANT_GUID, EC_REQUEST_ID, EC_DETAIL, EC__MAX
};

/*
 * Events after the id after, oldest first, at most limit: of account, or
 * of every account when account is 0 (the webhook deliverer).  Ids are
 * taken when a change is written but seen when it commits, so an id may
 * appear after a higher one; the deliverer, which moves a cursor past
 * what it read once and for all, reads only events 2 s old (a change's
 * audit row is the last statement before its commit).
 */
enum db_err	 events_list(struct db *, long long account, long long after,
		    long long limit, struct db_res **);
/* One event of account by id: 1 found, 0 none, -1 error. */
int		 events_get(struct db *, long long account, long long id,
		    struct db_row *, struct db_res **);
/* The public type of an audit action ("tenant.create" -> "tenant.created"). */
const char	*events_type(const char *action);
/* Whether type is one an audit action is published as. */
int		 events_type_known(const char *type);
/* An event as the feed and webhook payloads show it. */
json_t		*events_json(const struct db_row *);

#endif
