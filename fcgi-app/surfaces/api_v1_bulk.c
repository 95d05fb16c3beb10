/*
 * POST /api/v1/tenants/bulk: up to BULK_MAX tenant operations in one
 * request, each answered as its own request to /api/v1 would be.  An
 * operation is routed through api_v1's own table to its own handler, so
 * validation, permissions and answers are exactly those of the single
 * routes; this file only reads the list and gathers the answers.
 *
 * The route runs in one request transaction (ROUTE_TXN); each operation
 * is a savepoint in it, so a failed one leaves the others.  ?atomic=true
 * keeps nothing when any operation fails.
 */
#include <stdio.h>
#include <string.h>

#include "../codec_json.h"
#include "../mutation.h"
#include "../problem.h"
#include "../query.h"
#include "../surfaces.h"

#define BULK_MAX	1000

enum bulk_op {
	BOP_CREATE,
	BOP_UPDATE,
	BOP_ACTIVATE,
	BOP_DEACTIVATE,
	BOP_DELETE,
	BOP__MAX
};

/* Each operation as the single request it stands for. */
static const struct {
	const char		*name;
	enum http_method	 method;
	const char		*suffix;	/* after /api/v1/tenants/{id} */
	bool			 with_id;
} ops[BOP__MAX] = {
	[BOP_CREATE] = { "create", HTTP_POST, NULL, false },
	[BOP_UPDATE] = { "update", HTTP_PATCH, "", true },
	[BOP_ACTIVATE] = { "activate", HTTP_POST, "/activate", true },
	[BOP_DEACTIVATE] = { "deactivate", HTTP_POST, "/deactivate", true },
	[BOP_DELETE] = { "delete", HTTP_DELETE, "", true },
};

/* One operation while it runs. */
struct item {
	size_t		 index;
	const char	*op_name;	/* as sent */
	enum bulk_op	 op;
	const char	*id;
	const char	*if_match;
	json_t		*body;
	struct idem_key	 key;
	bool		 keyed;
	bool		 expired;	/* an old record of the key is in the way */
	bool		 replayed;	/* answered from its key's record */
	struct ctx	 sub;		/* the single request */
	struct request	 req;
	struct response	 resp;
};

static struct buf	 item_headers;	/* one operation's, reused */

static int
op_parse(const char *s, enum bulk_op *op)
{
	size_t	 i;

	for (i = 0; s != NULL && i < BOP__MAX; i++)
		if (strcmp(s, ops[i].name) == 0) {
			*op = (enum bulk_op)i;
			return 0;
		}
	return -1;
}

static void
item_problem(struct item *it, int status, const char *code,
    const char *detail, json_t *errors)
{
	problem_set(&it->resp, status, code, detail, errors);
}

/* The operation's members; -1 with the item's 422 set. */
static int
item_read(struct item *it, json_t *v)
{
	json_t		*errors = json_object(), *k;
	const char	*key = NULL;

	if (!json_is_object(v)) {
		item_problem(it, 422, "validation_failed", "each operation is "
		    "an object", NULL);
		json_decref(errors);
		return -1;
	}
	it->op_name = json_string_value(json_object_get(v, "op"));
	it->id = json_string_value(json_object_get(v, "id"));
	if (op_parse(it->op_name, &it->op) == -1)
		field_error(errors, "op", "must be create, update, activate, "
		    "deactivate or delete");
	else if (it->id == NULL && ops[it->op].with_id)
		field_error(errors, "id", "is required (the tenant's id)");
	it->if_match = json_string_value(json_object_get(v, "ifMatch"));
	it->body = json_object_get(v, "body");
	/* XML has no null: an empty <body/> is no body. */
	if (json_is_null(it->body) || (json_is_string(it->body) &&
	    *json_string_value(it->body) == '\0'))
		it->body = NULL;
	if (it->body != NULL && !json_is_object(it->body))
		field_error(errors, "body", "must be an object");
	if ((k = json_object_get(v, "idempotencyKey")) != NULL &&
	    ((key = json_string_value(k)) == NULL || *key == '\0' ||
	    strlen(key) > IDEM_KEY_MAX))
		field_error(errors, "idempotencyKey", "must be a string of 1 "
		    "to 255 characters");
	if (json_object_size(errors) > 0) {
		item_problem(it, 422, "validation_failed", "one or more fields "
		    "are invalid", errors);
		return -1;
	}
	json_decref(errors);
	it->keyed = key != NULL;
	it->key.key = key;
	return 0;
}

/* The single request of an operation, routed in api_v1's table. */
static int
item_route(struct ctx *c, struct item *it)
{
	char	 allow[64], msg[96];
	int	 rc;

	it->req = *c->req;
	it->req.method = ops[it->op].method;
	it->req.method_name = http_method_name(it->req.method);
	it->req.query = "";
	it->req.if_match = it->if_match;
	it->req.idempotency_key = NULL;
	if (ops[it->op].with_id)
		rc = snprintf(it->req.path, sizeof(it->req.path),
		    "/api/v1/tenants/%s%s", it->id, ops[it->op].suffix);
	else
		rc = snprintf(it->req.path, sizeof(it->req.path),
		    "/api/v1/tenants");
	it->sub = *c;
	it->sub.req = &it->req;
	it->sub.resp = &it->resp;
	it->sub.input = it->body;
	it->sub.surface = &surface_api_v1;
	if (rc < 0 || (size_t)rc >= sizeof(it->req.path) ||
	    (ops[it->op].with_id && strchr(it->id, '/') != NULL) ||
	    router_match(surface_api_v1.routes, surface_api_v1.nroutes,
	    it->req.method, it->req.path, &it->sub.match, allow,
	    sizeof(allow)) != 0) {
		item_problem(it, 404, "tenant_not_found", "no tenant with this "
		    "id", NULL);
		return -1;
	}
	if (!(c->who.perms & PERM_BIT(it->sub.match.route->perm))) {
		snprintf(msg, sizeof(msg), "this operation requires the "
		    "permission %s", perm_claim(it->sub.match.route->perm));
		item_problem(it, 403, "forbidden", msg, NULL);
		return -1;
	}
	return 0;
}

/* An operation's key: what it is, on which tenant, with which body. */
static void
item_key(struct ctx *c, struct item *it)
{
	struct buf	 b = { 0 };
	const char	*parts[] = { "bulk", ops[it->op].name,
	    it->id ? it->id : "", it->if_match ? it->if_match : "", NULL };

	it->key.account = c->who.account_id;
	if (it->body != NULL)
		(void)codec_json_encode(it->body, &b);
	idem_hash(&it->key, parts, b.data ? b.data : "", b.len);
	buf_free(&b);
}

/*
 * The operation with its key, in a savepoint of its own: its claim of
 * the key goes with an answer that is not kept.
 */
static enum db_err
keyed_fn(struct db *db, void *arg)
{
	struct item	*it = arg;
	enum db_err	 e;

	if ((e = idem_claim(db, &it->key, it->expired)) != DBE_OK)
		return e;
	it->sub.match.route->handler(&it->sub);
	if (it->resp.status >= 500 || !mutation_storable(it->resp.status))
		return DBE_OTHER;
	return mutation_store(&it->sub, &it->key);
}

static void
item_run(struct ctx *c, struct item *it)
{
	json_t		*a;
	enum db_err	 e;

	if (!it->keyed) {
		it->sub.match.route->handler(&it->sub);
		return;
	}
	item_key(c, it);
	switch (idem_find(c->db, &it->key, &a, &it->expired)) {
	case IDEM_REPLAY:
		mutation_replay(&it->sub, a);
		it->replayed = true;
		return;
	case IDEM_REUSED:
		item_problem(it, 422, "idempotency_key_reused", "this "
		    "idempotencyKey was used with another operation", NULL);
		return;
	case IDEM_ERROR:
		item_problem(it, 503, "unavailable", "the database is "
		    "unavailable; try again shortly", NULL);
		return;
	case IDEM_NEW:
		break;
	}
	/* DUP: a holder of the key committed after this request began. */
	e = db_txn(c->db, keyed_fn, it);
	if (e == DBE_DUP)
		item_problem(it, 409, "idempotency_in_progress", "another "
		    "request with this idempotencyKey is being answered", NULL);
	else if (e != DBE_OK && it->resp.status < 300)
		item_problem(it, 503, "unavailable", "the database is "
		    "unavailable; try again shortly", NULL);
}

static json_t *
item_result(struct item *it)
{
	json_t		*r, *body = it->resp.body;
	const char	*id = NULL;

	it->resp.body = NULL;
	if (it->resp.status < 300 && body != NULL)
		id = json_string_value(json_object_get(body, "id"));
	if (id == NULL)
		id = it->id;
	/* A create that failed is told by the id it asked for. */
	if (id == NULL && it->body != NULL)
		id = json_string_value(json_object_get(it->body, "id"));
	r = json_pack("{s:I, s:s?, s:i, s:s?}", "index", (json_int_t)it->index,
	    "op", it->op_name, "status", it->resp.status, "id", id);
	if (it->replayed)
		json_object_set_new(r, "replayed", json_true());
	json_object_set_new(r, it->resp.status < 300 ? "body" : "problem",
	    body != NULL ? body : json_null());
	return r;
}

/* ?atomic=true or false; -1 answered. */
static int
atomic_of(struct ctx *c, bool *atomic)
{
	char	 v[8];
	int	 rc;

	*atomic = false;
	if ((rc = query_get(c->req->query, "atomic", v, sizeof(v))) == 0)
		return 0;
	if (rc == 1 && (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)) {
		*atomic = v[0] == 't';
		return 0;
	}
	ctx_error(c, 422, "validation_failed", "one or more fields are invalid",
	    json_pack("{s:[s]}", "atomic", "must be true or false"));
	return -1;
}

static void
answer(struct ctx *c, json_t *results, size_t failed, int conflict,
    bool atomic)
{
	char	 msg[128];
	size_t	 n = json_array_size(results);

	if (atomic && failed > 0) {
		/* Nothing is kept; the answers say what each would have been. */
		c->rollback = true;
		snprintf(msg, sizeof(msg), "%zu of %zu operations failed, so "
		    "none was applied (atomic)", failed, n);
		ctx_error(c, conflict ? 409 : 422, "bulk_failed", msg, NULL);
		json_object_set_new(c->resp->body, "results", results);
		return;
	}
	response_set(c->resp, 207, json_pack("{s:b, s:I, s:I, s:o}", "atomic",
	    atomic, "succeeded", (json_int_t)(n - failed), "failed",
	    (json_int_t)failed, "results", results), "bulkResult", NULL);
}

void
api_v1_bulk(struct ctx *c)
{
	struct item	 it;
	json_t		*list, *results, *v;
	size_t		 i, failed = 0;
	bool		 atomic;
	int		 conflict = 0;

	if (atomic_of(c, &atomic) == -1)
		return;
	list = json_object_get(c->input, "operations");
	if (!json_is_array(list) || json_array_size(list) == 0) {
		ctx_error(c, 422, "validation_failed", "one or more fields are "
		    "invalid", json_pack("{s:[s]}", "operations", "must be a "
		    "list of 1 to 1000 operations"));
		return;
	}
	if (json_array_size(list) > BULK_MAX) {
		ctx_error(c, 413, "too_many_operations", "a bulk request holds "
		    "at most 1000 operations", NULL);
		return;
	}
	results = json_array();
	json_array_foreach(list, i, v) {
		memset(&it, 0, sizeof(it));
		it.index = i;
		response_init(&it.resp, &item_headers);
		if (item_read(&it, v) == 0 && item_route(c, &it) == 0)
			item_run(c, &it);
		if (it.resp.status >= 300)
			failed++;
		conflict |= it.resp.status == 409;
		json_array_append_new(results, item_result(&it));
		response_clear(&it.resp);
		/* A transaction ended by the server: the pipeline runs it again. */
		if (db_aborted(c->db))
			break;
	}
	answer(c, results, failed, conflict, atomic);
}
