#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "codec_json.h"
#include "idempotency.h"
#include "mutation.h"
#include "query.h"
#include "surfaces.h"

/* Runs of a request that a deadlock or a key's holder sent back. */
#define ATTEMPTS	4

/* The XML names of a replayed answer; a worker serves one at a time. */
static char	 replay_root[64], replay_item[64];

enum step {
	STEP_DONE,
	STEP_AGAIN,	/* nothing was kept: run the request again */
};

static bool
mutating(enum http_method m)
{
	return m == HTTP_POST || m == HTTP_PUT || m == HTTP_PATCH ||
	    m == HTTP_DELETE;
}

/* ?dryRun=true or false; -1 answered. */
static int
dry_run(struct ctx *c)
{
	char	 v[8];
	int	 rc;

	c->dry_run = false;
	if ((rc = query_get(c->req->query, "dryRun", v, sizeof(v))) == 0)
		return 0;
	if (rc == 1 && (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)) {
		c->dry_run = v[0] == 't';
		return 0;
	}
	ctx_error(c, 422, "validation_failed", "one or more fields are invalid",
	    json_pack("{s:[s]}", "dryRun", "must be true or false"));
	return -1;
}

/*
 * The request's key, hashed with the method, path, query and body so a
 * reuse with another request is told apart.  0 without a key, 1 with
 * one, -1 answered.
 */
static int
idem_key_of(struct ctx *c, struct idem_key *k)
{
	const char	*parts[] = { c->req->method_name, c->req->path,
	    c->req->query, NULL };
	const char	*key = c->req->idempotency_key;

	if (key == NULL || *key == '\0')
		return 0;
	if (strlen(key) > IDEM_KEY_MAX) {
		ctx_error(c, 422, "validation_failed", "the Idempotency-Key "
		    "header is invalid", json_pack("{s:[s]}", "Idempotency-Key",
		    "must be at most 255 characters"));
		return -1;
	}
	k->account = c->who.account_id;
	k->key = key;
	idem_hash(k, parts, c->req->body, c->req->body_len);
	return 1;
}

/*
 * Answers that are kept for a replay: whatever the request's content
 * decided.  A 409 or a 429 depends on the state of the moment (a name
 * taken, a limit reached, a budget spent) and a 5xx on the database's,
 * so those are not kept and the key may be sent again.
 */
bool
mutation_storable(int status)
{
	return status < 500 && status != 409 && status != 429;
}

/* The value of header name in the response's header lines, or NULL. */
static const char *
header_value(const struct buf *h, const char *name, size_t *len)
{
	const char	*p = h->data, *end;
	size_t		 n = strlen(name);

	while (p != NULL && p < h->data + h->len) {
		end = strstr(p, "\r\n");
		if (strncasecmp(p, name, n) == 0 && p[n] == ':' &&
		    p[n + 1] == ' ') {
			*len = (end ? (size_t)(end - p) : strlen(p)) - n - 2;
			return p + n + 2;
		}
		p = end ? end + 2 : NULL;
	}
	return NULL;
}

enum db_err
mutation_store(struct ctx *c, const struct idem_key *k)
{
	static const char *const kept[] = { "Location", "ETag" };
	const struct response	*r = c->resp;
	struct buf		 b = { 0 };
	json_t			*a, *h, *body;
	const char		*v;
	size_t			 i, len;
	enum db_err		 e = DBE_OTHER;

	h = json_object();
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if ((v = header_value(r->headers, kept[i], &len)) != NULL)
			json_object_set_new(h, kept[i], json_stringn(v, len));
	/* A secret shown once is not kept: its replay goes without it. */
	body = json_deep_copy(r->body);
	if (c->match.route->flags & ROUTE_SECRET)
		json_object_del(body, "key");
	a = json_pack("{s:i, s:o?, s:s?, s:s?, s:b, s:o}", "status", r->status,
	    "body", body, "root", r->root, "item", r->item, "problem",
	    r->problem, "headers", h);
	if (a != NULL && codec_json_encode(a, &b) == 0)
		e = idem_store(c->db, k, b.data, b.len);
	json_decref(a);
	buf_free(&b);
	return e;
}

static void
names(char *dst, size_t len, json_t *v)
{
	snprintf(dst, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

void
mutation_replay(struct ctx *c, json_t *a)
{
	const char	*name, *v;
	json_t		*h, *body;

	names(replay_root, sizeof(replay_root), json_object_get(a, "root"));
	names(replay_item, sizeof(replay_item), json_object_get(a, "item"));
	json_object_foreach(json_object_get(a, "headers"), name, h)
		if ((v = json_string_value(h)) != NULL)
			response_header(c->resp, name, "%s", v);
	response_header(c->resp, "Idempotent-Replayed", "true");
	/* A 204's body is kept as null: none again. */
	if (json_is_null(body = json_object_get(a, "body")))
		body = NULL;
	response_set(c->resp, (int)json_integer_value(json_object_get(a,
	    "status")), json_incref(body),
	    *replay_root ? replay_root : NULL, *replay_item ? replay_item : NULL);
	c->resp->problem = json_is_true(json_object_get(a, "problem"));
	json_decref(a);
}

/* Back to the response as it was before the handler ran. */
static void
reset(struct ctx *c, size_t hlen)
{
	c->resp->headers->len = hlen;
	if (c->resp->headers->data != NULL)
		c->resp->headers->data[hlen] = '\0';
	response_set(c->resp, 200, NULL, NULL, NULL);
	c->rollback = false;
}

/* Looks the key up: STEP_DONE when that answered the request. */
static enum step
lookup(struct ctx *c, const struct idem_key *k, bool *expired)
{
	json_t	*a;

	switch (idem_find(c->db, k, &a, expired)) {
	case IDEM_NEW:
		return STEP_AGAIN;
	case IDEM_REPLAY:
		mutation_replay(c, a);
		break;
	case IDEM_REUSED:
		ctx_error(c, 422, "idempotency_key_reused", "this "
		    "Idempotency-Key was used with another request", NULL);
		break;
	case IDEM_ERROR:
		surface_db_failure(c, tenants_result(db_classify(
		    db_errno(c->db))));
		break;
	}
	return STEP_DONE;
}

static enum step
attempt(struct ctx *c, const struct idem_key *k)
{
	size_t		 hlen = c->resp->headers->len;
	bool		 keep, expired = false;
	enum db_err	 e;

	if (k != NULL && lookup(c, k, &expired) == STEP_DONE)
		return STEP_DONE;
	if ((e = db_begin(c->db)) != DBE_OK) {
		surface_db_failure(c, tenants_result(e));
		return STEP_DONE;
	}
	/* A holder of the key makes this wait; once it committed, DUP. */
	if (k != NULL && (e = idem_claim(c->db, k, expired)) != DBE_OK) {
		(void)db_end(c->db, false);
		if (e == DBE_DUP || e == DBE_RETRY)
			return STEP_AGAIN;
		surface_db_failure(c, tenants_result(e));
		return STEP_DONE;
	}
	c->match.route->handler(c);
	keep = !c->dry_run && !c->rollback && c->resp->status < 500 &&
	    (k == NULL || mutation_storable(c->resp->status));
	/* An answer that cannot be kept under its key is not given. */
	if (keep && k != NULL && (e = mutation_store(c, k)) != DBE_OK) {
		(void)db_end(c->db, false);
		reset(c, hlen);
		if (e == DBE_RETRY)
			return STEP_AGAIN;
		surface_db_failure(c, tenants_result(e));
		return STEP_DONE;
	}
	e = db_end(c->db, keep);
	if (e == DBE_RETRY) {
		reset(c, hlen);
		return STEP_AGAIN;
	}
	if (e != DBE_OK) {
		reset(c, hlen);
		surface_db_failure(c, tenants_result(e));
	}
	return STEP_DONE;
}

void
mutation_run(struct ctx *c)
{
	struct idem_key	 k, *kp = NULL;
	int		 i, rc;

	if (!mutating(c->req->method)) {
		c->match.route->handler(c);
		return;
	}
	if (dry_run(c) == -1)
		return;
	/* A dry run keeps nothing, not even its key. */
	if (!c->dry_run && (rc = idem_key_of(c, &k)) != 0) {
		if (rc == -1)
			return;
		kp = &k;
	}
	if (!c->dry_run && kp == NULL && !(c->match.route->flags & ROUTE_TXN)) {
		c->match.route->handler(c);
		return;
	}
	if (c->dry_run)
		response_header(c->resp, "Dry-Run", "true");
	for (i = 0; i < ATTEMPTS; i++) {
		if (attempt(c, kp) == STEP_DONE)
			return;
		if (i + 1 < ATTEMPTS)
			db_backoff(i);
	}
	if (kp != NULL) {
		ctx_error(c, 409, "idempotency_in_progress", "another request "
		    "with this Idempotency-Key is being answered; try again "
		    "shortly", NULL);
		return;
	}
	surface_db_failure(c, TR_UNAVAILABLE);
}
