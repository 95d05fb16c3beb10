/*
 * Webhook subscriptions and their deliveries in the database.  Each change
 * of a subscription commits with its audit event.  The signing secret is
 * made here, returned once by webhook_create and stored sealed
 * (secretbox, bound to the subscription's guid).
 */
#ifndef WEBHOOK_STORE_H
#define WEBHOOK_STORE_H

#include <stdbool.h>

#include "auth.h"
#include "db.h"

/* "whsec_" and the base64 of 32 random bytes. */
#define WEBHOOK_SECRET_LEN	(6 + 44)

/* What a create or a change sets; NULL (or -1) leaves a field as it is. */
struct webhook_input {
	const char	*url;
	const char	*events;	/* comma-separated types, "" for all */
	const char	*description;
	bool		 set_description; /* description, even NULL, is set */
	int		 is_active;	/* 0, 1, or -1 */
};

/* Columns of webhook_list and webhook_get rows. */
enum webhookcol {
	WC_GUID, WC_URL, WC_EVENTS, WC_DESCRIPTION, WC_ACTIVE, WC_CREATED,
	WC_UPDATED, WC_PK, WC__MAX
};

/* 0 created, -2 no secrets key is configured to seal with, -1 error. */
int		 webhook_create(struct db *, const struct principal *,
		    const struct webhook_input *, const char *request_id,
		    char guid[37], char secret[WEBHOOK_SECRET_LEN + 1]);
/* 1 changed, 0 no such subscription of the account, -1 error. */
int		 webhook_update(struct db *, const struct principal *,
		    const char *guid, const struct webhook_input *,
		    const char *request_id);
/* 1 deleted (with its deliveries), 0 not found, -1 error. */
int		 webhook_delete(struct db *, const struct principal *,
		    const char *guid, const char *request_id);
/* Subscriptions of account, oldest first. */
enum db_err	 webhook_list(struct db *, long long account, struct db_res **);
/* 1 found, 0 not found, -1 error. */
int		 webhook_get(struct db *, long long account, const char *guid,
		    struct db_row *, struct db_res **);

/* Columns of webhook_deliveries rows. */
enum deliverycol {
	DC_ID, DC_EVENT, DC_ACTION, DC_STATUS, DC_ATTEMPTS, DC_NEXT,
	DC_LAST_STATUS, DC_LAST_ERROR, DC_CREATED, DC_COMPLETED, DC__MAX
};
/* Columns of webhook_attempts rows. */
enum attemptcol {
	AT_DELIVERY, AT_AT, AT_STATUS, AT_ERROR, AT_DURATION, AT_RESPONSE,
	AT__MAX
};

/* Deliveries of subscription pk with ids below before, newest first. */
enum db_err	 webhook_deliveries(struct db *, long long pk, long long before,
		    long long limit, struct db_res **);
/* Attempts of subscription pk's deliveries first..last, oldest first. */
enum db_err	 webhook_attempts(struct db *, long long pk, long long first,
		    long long last, struct db_res **);

#endif
