/*
 * /api/v1/webhooks: subscriptions to the change feed, delivered as signed
 * POSTs by the webhook deliverer (webhook_deliver.c), and what became of
 * each delivery.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "../buf.h"
#include "../events.h"
#include "../paging.h"
#include "../query.h"
#include "../surfaces.h"
#include "../tenant_model.h"
#include "../webhook_store.h"
#include "../webhook_url.h"

#define DELIVERIES_LIMIT_DEFAULT	50
#define DELIVERIES_LIMIT_MAX		200
#define EVENTS_TEXT_MAX			1024
#define DESCRIPTION_MAX			500

static void	 h_list(struct ctx *);
static void	 h_create(struct ctx *);
static void	 h_get(struct ctx *);
static void	 h_update(struct ctx *);
static void	 h_delete(struct ctx *);
static void	 h_deliveries(struct ctx *);

static const struct route routes[] = {
	{ HTTP_GET, "/api/v1/webhooks", PERM_MANAGE_WEBHOOKS, h_list,
	    ROUTE_NO_TENANT_KEY },
	{ HTTP_POST, "/api/v1/webhooks", PERM_MANAGE_WEBHOOKS, h_create,
	    ROUTE_BODY | ROUTE_NO_TENANT_KEY },
	{ HTTP_GET, "/api/v1/webhooks/{id}/deliveries", PERM_MANAGE_WEBHOOKS,
	    h_deliveries, ROUTE_NO_TENANT_KEY },
	{ HTTP_GET, "/api/v1/webhooks/{id}", PERM_MANAGE_WEBHOOKS, h_get,
	    ROUTE_NO_TENANT_KEY },
	{ HTTP_PATCH, "/api/v1/webhooks/{id}", PERM_MANAGE_WEBHOOKS, h_update,
	    ROUTE_BODY | ROUTE_NO_TENANT_KEY },
	{ HTTP_DELETE, "/api/v1/webhooks/{id}", PERM_MANAGE_WEBHOOKS, h_delete,
	    ROUTE_NO_TENANT_KEY },
};

static void
unavailable(struct ctx *c)
{
	surface_db_failure(c, tenants_result(db_classify(db_errno(c->db))));
}

static void
not_found(struct ctx *c)
{
	ctx_error(c, 404, "webhook_not_found", "no webhook with this id",
	    NULL);
}

static json_t *
events_array(const char *list)
{
	json_t	*a = json_array();
	size_t	 l;

	while (*list != '\0') {
		l = strcspn(list, ",");
		json_array_append_new(a, json_stringn(list, l));
		list += l + (list[l] == ',');
	}
	return a;
}

static json_t *
webhook_json(const struct db_row *r)
{
	return json_pack("{s:s, s:s, s:o, s:s?, s:b, s:o, s:o}",
	    "id", r->v[WC_GUID],
	    "url", r->v[WC_URL],
	    "events", events_array(r->v[WC_EVENTS]),
	    "description", r->v[WC_DESCRIPTION],
	    "isActive", strcmp(r->v[WC_ACTIVE], "1") == 0,
	    "createdAt", tenant_col_json_time(r->v[WC_CREATED]),
	    "updatedAt", tenant_col_json_time(r->v[WC_UPDATED]));
}

/* "events": an array of event types, joined into b ("" for all). */
static void
read_events(json_t *v, struct buf *b, json_t *errors)
{
	json_t	*it;
	size_t	 i;

	/* XML sends one item as a lone string. */
	if (json_is_string(v))
		v = json_pack("[O]", v);
	else
		json_incref(v);
	if (!json_is_array(v)) {
		field_error(errors, "events", "must be an array of event types");
		goto done;
	}
	json_array_foreach(v, i, it) {
		if (!json_is_string(it) ||
		    !events_type_known(json_string_value(it))) {
			field_error(errors, "events", "names an unknown event "
			    "type");
			goto done;
		}
		if ((i > 0 && buf_putc(b, ',') == -1) ||
		    buf_puts(b, json_string_value(it)) == -1)
			goto done;
	}
	if (b->len > EVENTS_TEXT_MAX)
		field_error(errors, "events", "lists too many event types");
done:
	json_decref(v);
}

/* A boolean, or its XML spelling. */
static int
read_bool(json_t *v)
{
	const char	*s = json_string_value(v);

	if (json_is_boolean(v))
		return json_is_true(v);
	if (s != NULL && strcmp(s, "true") == 0)
		return 1;
	if (s != NULL && strcmp(s, "false") == 0)
		return 0;
	return -1;
}

static void
read_body(struct ctx *c, struct webhook_input *in, struct buf *events,
    bool create, json_t *errors)
{
	static const char *const known[] = { "url", "events", "description",
	    "isActive" };
	struct webhook_target t;
	const char	*key, *why;
	json_t		*v;
	size_t		 i;

	memset(in, 0, sizeof(*in));
	in->is_active = -1;
	json_object_foreach(c->input, key, v) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0]))
			field_error(errors, key, "is not a known field");
	}
	if ((v = json_object_get(c->input, "url")) != NULL || create) {
		if ((in->url = json_string_value(v)) == NULL)
			field_error(errors, "url", "is required: an https URL");
		else if ((why = webhook_url_check(in->url, c->cfg, &t)) != NULL)
			field_error(errors, "url", why);
	}
	if ((v = json_object_get(c->input, "events")) != NULL) {
		read_events(v, events, errors);
		in->events = events->data != NULL ? events->data : "";
	}
	if ((v = json_object_get(c->input, "description")) != NULL) {
		in->set_description = true;
		in->description = json_string_value(v);
		if (!json_is_null(v) && (in->description == NULL ||
		    json_string_length(v) > DESCRIPTION_MAX))
			field_error(errors, "description", "must be a string of "
			    "at most 500 characters, or null");
	}
	if ((v = json_object_get(c->input, "isActive")) != NULL &&
	    (in->is_active = read_bool(v)) == -1)
		field_error(errors, "isActive", "must be true or false");
}

/* Subscription guid of the caller's account: 1, or 0 answered. */
static int
load(struct ctx *c, const char *guid, struct db_row *row,
    struct db_res **res)
{
	int	 rc;

	*res = NULL;
	rc = webhook_get(c->db, c->who.account_id, guid, row, res);
	if (rc == 1)
		return 1;
	db_res_free(*res);
	*res = NULL;
	if (rc == -1)
		unavailable(c);
	else
		not_found(c);
	return 0;
}

static void
answer_one(struct ctx *c, const char *guid, int status, const char *secret)
{
	struct db_res	*res;
	struct db_row	 row;
	json_t		*out;

	if (!load(c, guid, &row, &res))
		return;
	out = webhook_json(&row);
	db_res_free(res);
	if (secret != NULL)
		json_object_set_new(out, "secret", json_string(secret));
	response_set(c->resp, status, out, "webhook", NULL);
}

static void
h_list(struct ctx *c)
{
	struct db_res	*res;
	struct db_row	 row;
	json_t		*data;

	if (webhook_list(c->db, c->who.account_id, &res) != DBE_OK) {
		unavailable(c);
		return;
	}
	data = json_array();
	while (db_next(res, &row) == 1)
		json_array_append_new(data, webhook_json(&row));
	db_res_free(res);
	response_set(c->resp, 200, json_pack("{s:o}", "data", data),
	    "webhooks", "webhook");
}

static void
h_create(struct ctx *c)
{
	struct webhook_input in;
	struct buf	 events = { 0 };
	json_t		*errors = json_object();
	char		 guid[37], secret[WEBHOOK_SECRET_LEN + 1];
	int		 rc;

	read_body(c, &in, &events, true, errors);
	if (json_object_size(errors) > 0) {
		ctx_error(c, 422, "validation_failed", "one or more fields are "
		    "invalid", errors);
		goto done;
	}
	json_decref(errors);
	if ((rc = webhook_create(c->db, &c->who, &in, c->req->request_id, guid,
	    secret)) == -2)
		ctx_error(c, 503, "unavailable", "no secrets key is configured "
		    "to seal webhook secrets with", NULL);
	else if (rc == -1)
		unavailable(c);
	else {
		ctx_location(c, "/api/v1/webhooks/%s", guid);
		answer_one(c, guid, 201, secret);
		OPENSSL_cleanse(secret, sizeof(secret));
	}
done:
	buf_free(&events);
}

static void
h_get(struct ctx *c)
{
	answer_one(c, route_param(&c->match, "id"), 200, NULL);
}

static void
h_update(struct ctx *c)
{
	struct webhook_input in;
	struct buf	 events = { 0 };
	json_t		*errors = json_object();
	int		 rc;

	read_body(c, &in, &events, false, errors);
	if (json_object_size(errors) > 0) {
		ctx_error(c, 422, "validation_failed", "one or more fields are "
		    "invalid", errors);
		goto done;
	}
	json_decref(errors);
	rc = webhook_update(c->db, &c->who, route_param(&c->match, "id"), &in,
	    c->req->request_id);
	if (rc == 1)
		answer_one(c, route_param(&c->match, "id"), 200, NULL);
	else if (rc == 0)
		not_found(c);
	else
		unavailable(c);
done:
	buf_free(&events);
}

static void
h_delete(struct ctx *c)
{
	int	 rc;

	rc = webhook_delete(c->db, &c->who, route_param(&c->match, "id"),
	    c->req->request_id);
	if (rc == 1)
		response_set(c->resp, 204, NULL, NULL, NULL);
	else if (rc == 0)
		not_found(c);
	else
		unavailable(c);
}

static json_t *
delivery_json(const struct db_row *r)
{
	int	 pending = strcmp(r->v[DC_STATUS], "pending") == 0;

	return json_pack("{s:s, s:s, s:s?, s:s, s:I, s:o, s:o, s:s?, s:o, "
	    "s:o, s:[]}",
	    "id", r->v[DC_ID],
	    "eventId", r->v[DC_EVENT],
	    "eventType", r->v[DC_ACTION] ? events_type(r->v[DC_ACTION]) : NULL,
	    "status", r->v[DC_STATUS],
	    "attemptCount", (json_int_t)strtoll(r->v[DC_ATTEMPTS], NULL, 10),
	    "nextAttemptAt", pending ? tenant_col_json_time(r->v[DC_NEXT]) :
	    json_null(),
	    "lastStatusCode", r->v[DC_LAST_STATUS] ? json_integer(
	    strtoll(r->v[DC_LAST_STATUS], NULL, 10)) : json_null(),
	    "lastError", r->v[DC_LAST_ERROR],
	    "createdAt", tenant_col_json_time(r->v[DC_CREATED]),
	    "completedAt", tenant_col_json_time(r->v[DC_COMPLETED]),
	    "attempts");
}

static json_t *
attempt_json(const struct db_row *r)
{
	return json_pack("{s:o, s:o, s:s?, s:I, s:s?}",
	    "at", tenant_col_json_time(r->v[AT_AT]),
	    "statusCode", r->v[AT_STATUS] ? json_integer(
	    strtoll(r->v[AT_STATUS], NULL, 10)) : json_null(),
	    "error", r->v[AT_ERROR],
	    "durationMs", (json_int_t)strtoll(r->v[AT_DURATION], NULL, 10),
	    "response", r->v[AT_RESPONSE]);
}

/* Hangs each attempt under its delivery (data is newest first). */
static int
add_attempts(struct ctx *c, long long pk, json_t *data)
{
	struct db_res	*res;
	struct db_row	 row;
	json_t		*d;
	size_t		 i, n = json_array_size(data);

	if (n == 0)
		return 0;
	if (webhook_attempts(c->db, pk, strtoll(json_string_value(
	    json_object_get(json_array_get(data, n - 1), "id")), NULL, 10),
	    strtoll(json_string_value(json_object_get(json_array_get(data, 0),
	    "id")), NULL, 10), &res) != DBE_OK)
		return -1;
	while (db_next(res, &row) == 1)
		json_array_foreach(data, i, d)
			if (strcmp(json_string_value(json_object_get(d, "id")),
			    row.v[AT_DELIVERY]) == 0) {
				json_array_append_new(json_object_get(d,
				    "attempts"), attempt_json(&row));
				break;
			}
	db_res_free(res);
	return 0;
}

static void
h_deliveries(struct ctx *c)
{
	struct db_res	*res;
	struct db_row	 row;
	json_t		*errors = json_object(), *data, *body;
	long long	 cursor = 0, limit = DELIVERIES_LIMIT_DEFAULT, pk;

	if (query_get_int(c->req->query, "cursor", 1, 999999999999999999LL,
	    &cursor) == -1)
		field_error(errors, "cursor", "must be the nextCursor of an "
		    "earlier page");
	if (query_get_int(c->req->query, "limit", 1, DELIVERIES_LIMIT_MAX,
	    &limit) == -1)
		field_error(errors, "limit", "must be an integer from 1 to 200");
	if (paging_refused(c, errors))
		return;
	if (!load(c, route_param(&c->match, "id"), &row, &res))
		return;
	pk = strtoll(row.v[WC_PK], NULL, 10);
	db_res_free(res);
	if (webhook_deliveries(c->db, pk, cursor, limit, &res) != DBE_OK) {
		unavailable(c);
		return;
	}
	data = json_array();
	while (db_next(res, &row) == 1)
		json_array_append_new(data, delivery_json(&row));
	db_res_free(res);
	if (add_attempts(c, pk, data) == -1) {
		json_decref(data);
		unavailable(c);
		return;
	}
	body = json_pack("{s:o}", "data", data);
	json_object_set_new(body, "nextCursor",
	    json_array_size(data) == (size_t)limit ? json_string(
	    json_string_value(json_object_get(json_array_get(data, limit - 1),
	    "id"))) : json_null());
	response_set(c->resp, 200, body, "deliveries", "delivery");
}

const struct surface surface_api_v1_webhooks = {
	.name = "api_v1_webhooks",
	.prefix = "/api/v1/webhooks",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.error = ctx_problem,
};
