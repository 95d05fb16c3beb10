/*
 * Seed 002: a Laravel-style tenant API at /tenants.  Lists are Laravel's
 * simplePaginate pages ({data, links, meta}, no total), a tenant's id is
 * its 11-character short id, and errors are Laravel's {message} with, for
 * 422, {errors: {field: [...]}} in its validation wording.  Input goes
 * through what Laravel's default middleware does before validation:
 * strings are trimmed (TrimStrings) and "" becomes null
 * (ConvertEmptyStringsToNull); members the seed does not name are ignored.
 * XML roots are laravel*, apart from the canonical count's shape, count.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../buf.h"
#include "../paging.h"
#include "../query.h"
#include "../surfaces.h"
#include "../tenant_list.h"
#include "../tenant_store.h"
#include "../tenants.h"

#define PER_PAGE_DEFAULT	10
#define PER_PAGE_MAX		100	/* larger values are capped to it */
#define PAGE_MAX		1000000000L
#define NAME_MIN		5	/* characters */
#define FILTER_CHARS		200	/* like the name it is compared with */
#define FILTER_MAX		1024	/* FILTER_CHARS of up to 4 bytes, and more */

static void	 h_list(struct ctx *);
static void	 h_count(struct ctx *);
static void	 h_create(struct ctx *);
static void	 h_update(struct ctx *);
static void	 h_activate(struct ctx *);
static void	 h_deactivate(struct ctx *);
static void	 h_switch(struct ctx *);
static void	 laravel_error(struct ctx *, int, const char *, const char *,
		    json_t *);

/*
 * Mutations read a body when there is one: Laravel validates a missing
 * body as empty input (422 "is required"), not as a malformed request.
 */
static const struct route routes[] = {
	{ HTTP_GET, "/tenants", PERM_VIEW, h_list, ROUTE_NO_TENANT_KEY },
	{ HTTP_GET, "/tenants/count", PERM_VIEW, h_count, ROUTE_NO_TENANT_KEY },
	{ HTTP_POST, "/tenants", PERM_CREATE, h_create,
	    ROUTE_BODY_OPTIONAL | ROUTE_NO_TENANT_KEY },
	{ HTTP_PUT, "/tenants/{id}", PERM_UPDATE, h_update,
	    ROUTE_BODY_OPTIONAL | ROUTE_NO_TENANT_KEY },
	{ HTTP_PUT, "/tenants/{id}/deactivate", PERM_UPDATE, h_deactivate,
	    ROUTE_BODY_OPTIONAL | ROUTE_NO_TENANT_KEY },
	{ HTTP_PUT, "/tenants/{id}/activate", PERM_UPDATE, h_activate,
	    ROUTE_BODY_OPTIONAL | ROUTE_NO_TENANT_KEY },
	{ HTTP_PUT, "/tenants/{id}/switch", PERM_VIEW, h_switch,
	    ROUTE_NO_TENANT_KEY },
};

/*
 * A list item, in the seed's order.  The create and update answers show
 * the same fields without the last two (NDATA).
 */
static const struct field_map item_fields[] = {
	{ "id", TC_SHORT_ID },
	{ "name", TC_NAME },
	{ "address", TC_ADDRESS },
	{ "city", TC_CITY },
	{ "country_code", TC_COUNTRY_CODE },
	{ "country_name", TC_COUNTRY_CODE, DERIVE_COUNTRY_NAME },
	{ "description", TC_DESCRIPTION },
	{ "is_trashed", TC_IS_ACTIVE, DERIVE_NEGATED },
	{ "group_id", TC_GROUP_ID },
	{ "group_name", TC_GROUP_NAME },
};

#define NITEM	(sizeof(item_fields) / sizeof(item_fields[0]))
#define NDATA	(NITEM - 2)

/* What the seed shows for a tenant in no group, instead of null. */
static const struct {
	const char	*name;
	const char	*value;
} no_group[] = {
	{ "group_id", "0" },
	{ "group_name", "" },
};

/* The fields a create or update reads, in the order errors are listed. */
static const struct field_map input_fields[] = {
	{ "name", TC_NAME },
	{ "country_code", TC_COUNTRY_CODE },
	{ "city", TC_CITY },
	{ "address", TC_ADDRESS },
	{ "post_code", TC_POST_CODE },
	{ "description", TC_DESCRIPTION },
};

#define NINPUT	(sizeof(input_fields) / sizeof(input_fields[0]))

/*
 * Laravel's validation messages for the model's, the first match by
 * column (TC__MAX: any) and message: ":attribute" is the field with
 * spaces for underscores, ":n" the column's maximum length.  Anything
 * else is Laravel's generic "format is invalid".  Every invalid country
 * code gets the seed's sentence, whatever is wrong with it.
 */
#define RULE_COUNTRY	"The :attribute field is invalid. It must be ISO " \
	"3166-1 alpha-2 country code."

static const struct {
	enum tcol	 col;
	const char	*model;
	const char	*rule;
} rules[] = {
	{ TC__MAX, "is required", "The :attribute field is required." },
	{ TC__MAX, "must not be null", "The :attribute field is required." },
	{ TC__MAX, "must be a string", "The :attribute must be a string." },
	{ TC_COUNTRY_CODE, "is too long", RULE_COUNTRY },
	{ TC__MAX, "is too long", "The :attribute may not be greater than :n "
	    "characters." },
	{ TC__MAX, "must be an ISO 3166-1 alpha-2 country code", RULE_COUNTRY },
};

#define RULE_REQUIRED	"The :attribute field is required."
#define RULE_MIN	"The :attribute must be at least :n characters."
#define RULE_UNIQUE	"The :attribute has already been taken."
#define RULE_INTEGER	"The :attribute must be an integer."
#define RULE_IN		"The selected :attribute is invalid."
#define RULE_MAX_CHARS	"The :attribute may not be greater than :n characters."
#define RULE_INVALID	"The :attribute format is invalid."
#define RULE_WORD	"The :attribute must hold a word of at least :n " \
	"characters."

/*
 * Laravel's messages for the errors tenantd finds, the first match by
 * status and code (NULL: any).  404 for a path and 405 name the request
 * (see error_message).
 */
static const struct {
	int		 status;
	const char	*code;
	const char	*message;
} messages[] = {
	{ 400, "malformed_body", "The request body is not well-formed JSON "
	    "or XML." },
	{ 400, NULL, "Bad Request." },
	{ 401, NULL, "Unauthenticated." },
	{ 403, NULL, "This action is unauthorized." },
	{ 404, "tenant_not_found", "No query results for model [Tenant]." },
	{ 406, NULL, "Not Acceptable. This resource is available as "
	    "application/json or application/xml." },
	{ 409, "license_limit_reached", "The tenant limit of this license "
	    "has been reached." },
	{ 409, "provisioning_incomplete", "The tenant cannot be activated "
	    "before its provisioning has completed." },
	{ 409, "tenant_inactive", "The tenant is deactivated: activate it "
	    "before switching to it." },
	{ 413, NULL, "The request body is too large." },
	{ 415, NULL, "Unsupported Media Type. Send the body as "
	    "application/json or application/xml." },
	{ 422, NULL, "The given data was invalid." },
	{ 429, NULL, "Too Many Attempts." },
	{ 500, NULL, "Server Error." },
	{ 503, NULL, "Service Unavailable." },
};

/* Writes tmpl with :attribute and :n replaced. */
static void
rule_message(const char *tmpl, const char *field, long n, char *out,
    size_t len)
{
	size_t	 o = 0, i;
	int	 w;

	for (; *tmpl != '\0' && o + 1 < len; tmpl++) {
		if (strncmp(tmpl, ":attribute", 10) == 0) {
			for (i = 0; field[i] != '\0' && o + 1 < len; i++)
				out[o++] = field[i] == '_' ? ' ' : field[i];
			tmpl += 9;
		} else if (strncmp(tmpl, ":n", 2) == 0) {
			w = snprintf(out + o, len - o, "%ld", n);
			o += w > 0 && (size_t)w < len - o ? (size_t)w : 0;
			tmpl += 1;
		} else
			out[o++] = *tmpl;
	}
	out[o] = '\0';
}

static void
rule_error(json_t *errors, const char *field, const char *tmpl, long n)
{
	char	 msg[256];

	rule_message(tmpl, field, n, msg, sizeof(msg));
	field_error(errors, field, msg);
}

static const char *
error_message(struct ctx *c, int status, const char *code, char *buf,
    size_t len)
{
	size_t	 i;

	if (status == 404 && strcmp(code, "not_found") == 0) {
		snprintf(buf, len, "The route %s could not be found.",
		    c->req->path + 1);
		return buf;
	}
	if (status == 405) {
		snprintf(buf, len, "The %s method is not supported for this "
		    "route. Supported methods: %s.", c->req->method_name,
		    c->allow ? c->allow : "");
		return buf;
	}
	for (i = 0; i < sizeof(messages) / sizeof(messages[0]); i++)
		if (messages[i].status == status && (messages[i].code == NULL ||
		    strcmp(messages[i].code, code) == 0))
			return messages[i].message;
	return http_reason(status);
}

/* The surface's error envelope: {message} and, for 422, errors. */
static void
laravel_error(struct ctx *c, int status, const char *code, const char *detail,
    json_t *errors)
{
	char	 buf[REQUEST_PATH_MAX + 64];
	json_t	*body, *msg;

	(void)detail;
	/* A decoded path need not be UTF-8: then the status says it all. */
	if ((msg = json_string(error_message(c, status, code, buf,
	    sizeof(buf)))) == NULL)
		msg = json_string(http_reason(status));
	body = json_pack("{s:o}", "message", msg);
	if (body != NULL && errors != NULL && status == 422)
		json_object_set_new(body, "errors", errors);
	else
		json_decref(errors);
	response_set(c->resp, status, body, "laravelError", NULL);
}

static void
not_found(struct ctx *c)
{
	ctx_error(c, 404, "tenant_not_found", NULL, NULL);
}

static void
invalid(struct ctx *c, json_t *errors)
{
	ctx_error(c, 422, "validation_failed", NULL, errors);
}

/* TrimStrings: the bounds of s without surrounding white space. */
static const char *
trimmed(const char *s, size_t *len)
{
	static const char ws[] = " \t\n\r\v";

	while (*len > 0 && *s != '\0' && strchr(ws, *s) != NULL) {
		s++;
		(*len)--;
	}
	while (*len > 0 && s[*len - 1] != '\0' && strchr(ws, s[*len - 1]) != NULL)
		(*len)--;
	return s;
}

/*
 * The seed's fields of a body as Laravel validates them: strings
 * trimmed, empty ones null, other members dropped.
 */
static json_t *
laravel_input(json_t *body)
{
	json_t		*in = json_object(), *v;
	const char	*s;
	size_t		 i, n;

	for (i = 0; i < NINPUT && in != NULL; i++) {
		if ((v = json_object_get(body, input_fields[i].name)) == NULL)
			continue;
		if (json_is_string(v)) {
			n = json_string_length(v);
			s = trimmed(json_string_value(v), &n);
			v = n == 0 ? json_null() : json_stringn(s, n);
		} else
			json_incref(v);
		json_object_set_new(in, input_fields[i].name, v);
	}
	return in;
}

static size_t
utf8_chars(const char *s, size_t len)
{
	size_t	 i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/* The model's messages for one field, in Laravel's wording. */
static void
translate(json_t *errors, const struct field_map *f, json_t *msgs)
{
	const char	*m;
	json_t		*v;
	size_t		 i, j;

	json_array_foreach(msgs, i, v) {
		m = json_string_value(v);
		for (j = 0; j < sizeof(rules) / sizeof(rules[0]); j++)
			if ((rules[j].col == TC__MAX || rules[j].col == f->col) &&
			    strcmp(rules[j].model, m) == 0)
				break;
		rule_error(errors, f->name, j < sizeof(rules) / sizeof(rules[0]) ?
		    rules[j].rule : RULE_INVALID, (long)tcols[f->col].max);
	}
}

/*
 * Validates a create or update body into in.  Returns the trimmed input
 * (in points into it; the caller releases it), or NULL after answering
 * 422.  name is required and at least NAME_MIN characters.
 */
static json_t *
read_input(struct ctx *c, struct tenant_input *in)
{
	json_t			*body, *model, *errors, *msgs;
	const struct field_map	*f;
	size_t			 i;

	body = laravel_input(c->input);
	model = json_object();
	errors = json_object();
	tenant_input_from_json(input_fields, NINPUT, body, c->in_fmt == FMT_XML,
	    in, model);
	for (i = 0; i < NINPUT; i++) {
		f = &input_fields[i];
		if ((msgs = json_object_get(model, f->name)) != NULL)
			translate(errors, f, msgs);
		else if (f->col == TC_NAME && !in->set[TC_NAME])
			rule_error(errors, f->name, RULE_REQUIRED, 0);
		else if (f->col == TC_NAME && utf8_chars(in->v[TC_NAME],
		    strlen(in->v[TC_NAME])) < NAME_MIN)
			rule_error(errors, f->name, RULE_MIN, NAME_MIN);
	}
	json_decref(model);
	if (json_object_size(errors) > 0) {
		json_decref(body);
		invalid(c, errors);
		return NULL;
	}
	json_decref(errors);
	return body;
}

static void
name_taken(struct ctx *c)
{
	json_t	*errors = json_object();

	rule_error(errors, "name", RULE_UNIQUE, 0);
	invalid(c, errors);
}

/* A row as a list item (n = NITEM) or as the data of an answer (NDATA). */
static json_t *
item_json(const struct db_row *row, size_t n)
{
	json_t	*o = tenant_row_json(item_fields, n, row);
	size_t	 i;

	for (i = 0; o != NULL && i < sizeof(no_group) / sizeof(no_group[0]); i++)
		if (json_is_null(json_object_get(o, no_group[i].name)))
			json_object_set_new(o, no_group[i].name,
			    json_string(no_group[i].value));
	return o;
}

/* Answers {data} with the tenant short_id as it is now. */
static void
reply_data(struct ctx *c, const char *short_id)
{
	struct db_res	*res = NULL;
	struct db_row	 row;
	int		 rc;

	rc = tenant_store_get(c->db, tenants_scope(&c->who), TKEY_SHORT_ID,
	    short_id, &row, &res);
	if (rc == -1)
		surface_db_failure(c, tenants_result(db_classify(db_errno(c->db))));
	else if (rc == 0)
		not_found(c);
	else
		response_set(c->resp, 200, json_pack("{s:o}", "data",
		    item_json(&row, NDATA)), "laravelTenant", NULL);
	db_res_free(res);
}

/*
 * Creates the tenant; it becomes the caller's current tenant and gets its
 * default location in the same transaction, as the seed says.  Its slug
 * is made from the name.
 */
static void
h_create(struct ctx *c)
{
	struct tenant_input	 in;
	struct tenant_created	 out;
	json_t			*body;
	enum tres		 r;

	if ((body = read_input(c, &in)) == NULL)
		return;
	r = tenants_create_derived(c->db, &c->who, &in,
	    TCREATE_SWITCH | TCREATE_LOCATION, c->req->request_id, &out);
	if (r == TR_CONFLICT && out.conflict != NULL &&
	    strcmp(out.conflict, "name") == 0)
		name_taken(c);
	else if (r == TR_LIMIT)
		license_limited(c);
	else if (r != TR_OK)
		surface_db_failure(c, r);
	else
		reply_data(c, out.short_id);
	json_decref(body);
}

/* Maps a refused change to its answer; 0 when there is nothing to say. */
static int
change_failed(struct ctx *c, enum tres r)
{
	switch (r) {
	case TR_OK:
		return 0;
	case TR_NOT_FOUND:
		not_found(c);
		break;
	case TR_CONFLICT:
		name_taken(c);
		break;
	case TR_UNPROVISIONED:
		provisioning_incomplete(c);
		break;
	case TR_INACTIVE:
		ctx_error(c, 409, "tenant_inactive", NULL, NULL);
		break;
	default:
		surface_db_failure(c, r);
		break;
	}
	return -1;
}

static enum tres
change(struct ctx *c, struct tenant_change *ch)
{
	struct tenant_ref	 ref;

	ch->by = TKEY_SHORT_ID;
	return tenants_change(c->db, &c->who, route_param(&c->match, "id"), NULL,
	    c->req->request_id, ch, &ref);
}

/* Sets the fields given (Laravel's update() of the validated input). */
static void
h_update(struct ctx *c)
{
	struct tenant_input	 in;
	struct tenant_change	 ch = { .op = OP_PATCH, .in = &in };
	json_t			*body;

	if ((body = read_input(c, &in)) == NULL)
		return;
	if (change_failed(c, change(c, &ch)) == 0)
		reply_data(c, route_param(&c->match, "id"));
	json_decref(body);
}

/*
 * user_status: nullable|integer|in:0,1,2 (0 Passive, 1 Active, 2 Banned);
 * null or absent leaves the users alone.  Laravel's integer rule takes
 * integral strings too, which is also how XML carries it.
 */
static int
user_status(struct ctx *c, int *out)
{
	json_t		*v = json_object_get(c->input, "user_status"), *errors;
	const char	*s;
	char		 digits[24], *end;
	size_t		 n;
	long long	 i = -1;

	*out = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v))
		i = json_integer_value(v);
	else if (json_is_string(v)) {
		n = json_string_length(v);
		s = trimmed(json_string_value(v), &n);
		if (n == 0)
			return 0;
		if (n >= sizeof(digits))
			goto not_integer;
		memcpy(digits, s, n);
		digits[n] = '\0';
		i = strtoll(digits, &end, 10);
		if (*end != '\0' || strlen(digits) != n)
			goto not_integer;
	} else
		goto not_integer;
	if (i < 0 || i > 2) {
		errors = json_object();
		rule_error(errors, "user_status", RULE_IN, 0);
		invalid(c, errors);
		return -1;
	}
	*out = (int)i;
	return 0;
not_integer:
	errors = json_object();
	rule_error(errors, "user_status", RULE_INTEGER, 0);
	invalid(c, errors);
	return -1;
}

static void
h_activation(struct ctx *c, enum tenant_op op)
{
	struct tenant_change	 ch = { .op = op };

	if (user_status(c, &ch.user_status) == 0 &&
	    change_failed(c, change(c, &ch)) == 0)
		response_set(c->resp, 200, json_pack("{s:b}", "is_trashed",
		    op == OP_DEACTIVATE), "laravelActivation", NULL);
}

static void
h_activate(struct ctx *c)
{
	h_activation(c, OP_ACTIVATE);
}

static void
h_deactivate(struct ctx *c)
{
	h_activation(c, OP_DEACTIVATE);
}

static void
h_switch(struct ctx *c)
{
	struct tenant_change	 ch = { .op = OP_SWITCH };

	if (change_failed(c, change(c, &ch)) == 0)
		response_set(c->resp, 200, json_pack("{s:b}", "success", 1),
		    "laravelSwitch", NULL);
}

/* The query of a list or count, its strings in its own buffers. */
struct list_params {
	struct tenant_query	 q;
	long			 page;
	long			 per_page;
	bool			 per_page_given;
	char			 name[FILTER_MAX];
	char			 description[FILTER_MAX];
};

/*
 * A text filter, trimmed; empty is no filter.  Returns the value or NULL,
 * recording an error for a value that is too long or badly encoded.
 */
static const char *
text_filter(struct ctx *c, const char *name, char *buf, json_t *errors)
{
	const char	*s;
	size_t		 n;
	int		 rc;

	if ((rc = query_get(c->req->query, name, buf, FILTER_MAX)) == 0)
		return NULL;
	if (rc == -1 && strlen(c->req->query) < FILTER_MAX) {
		rule_error(errors, name, RULE_INVALID, 0);
		return NULL;
	}
	n = rc == 1 ? strlen(buf) : 0;
	s = trimmed(buf, &n);
	if (rc == -1 || utf8_chars(s, n) > FILTER_CHARS) {
		rule_error(errors, name, RULE_MAX_CHARS, FILTER_CHARS);
		return NULL;
	}
	memmove(buf, s, n);
	buf[n] = '\0';
	return n > 0 ? buf : NULL;
}

/*
 * page is Laravel's paginator's: anything but an integer from 1 is page
 * 1.  per_page is validated (integer, at least 1) and capped to 100.
 */
static void
read_list_params(struct ctx *c, struct list_params *p, json_t *errors)
{
	char		 v[32], *end;
	const char	*s;
	size_t		 n;
	long		 i;

	memset(&p->q, 0, sizeof(p->q));
	p->q.scope = tenants_scope(&c->who);
	p->q.is_active = -1;
	p->q.name = text_filter(c, "name", p->name, errors);
	p->q.description = text_filter(c, "description", p->description,
	    errors);
	/* A shorter text is a scan of every tenant (tenant_list.h). */
	if (tenant_list_scan_refused(c->db, &p->q) == 1)
		rule_error(errors, "description", RULE_WORD, 3);
	p->page = 1;
	if (query_get(c->req->query, "page", v, sizeof(v)) == 1) {
		i = strtol(v, &end, 10);
		if (*v != '\0' && *end == '\0' && i >= 1 && i <= PAGE_MAX)
			p->page = i;
	}
	p->per_page = PER_PAGE_DEFAULT;
	p->per_page_given = false;
	switch (query_get(c->req->query, "per_page", v, sizeof(v))) {
	case 0:
		return;
	case 1:
		n = strlen(v);
		s = trimmed(v, &n);
		if (n == 0)
			return;
		i = strtol(s, &end, 10);
		if ((size_t)(end - s) == n && i >= 1) {
			p->per_page = i > PER_PAGE_MAX ? PER_PAGE_MAX : i;
			p->per_page_given = true;
			return;
		}
		if ((size_t)(end - s) == n) {
			rule_error(errors, "per_page", "The :attribute must be "
			    "at least :n.", 1);
			return;
		}
		break;
	}
	rule_error(errors, "per_page", RULE_INTEGER, 0);
}

/* A Host header that is a plain host[:port], nothing to inject. */
static bool
plain_host(const char *h)
{
	size_t	 n = h != NULL ? strlen(h) : 0;

	return n > 0 && n <= 255 && strspn(h, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == n;
}

/*
 * The port a Host header lacks: nginx's stock fastcgi_params pass $host,
 * which has none, so the server's own port is added unless it is the
 * scheme's default.
 */
static const char *
missing_port(const char *host, const char *port, const char *scheme)
{
	const char	*colon = strrchr(host, ':'), *bracket = strrchr(host, ']');

	if ((colon != NULL && (bracket == NULL || colon > bracket)) ||
	    port == NULL || *port == '\0' || strlen(port) > 5 ||
	    strspn(port, "0123456789") != strlen(port) ||
	    strcmp(port, strcmp(scheme, "https") == 0 ? "443" : "80") == 0)
		return NULL;
	return port;
}

/*
 * The list's absolute URL as the client reached it: scheme, host and port
 * as the web server forwards them, and the path it came in on (under
 * mount_prefix and any surface prefix).  Without a usable Host the URL is
 * the absolute path alone.
 */
static int
put_path(struct ctx *c, struct buf *b)
{
	const char	*scheme = c->req->scheme, *port;

	if (scheme == NULL || strcmp(scheme, "https") != 0)
		scheme = "http";
	if (plain_host(c->req->host)) {
		if (buf_printf(b, "%s://%s", scheme, c->req->host) == -1)
			return -1;
		port = missing_port(c->req->host, c->req->server_port, scheme);
		if (port != NULL && buf_printf(b, ":%s", port) == -1)
			return -1;
	}
	return ctx_request_path(c, b);
}

/* The URL of a page: the filters and per_page the request had, and page. */
static json_t *
page_url(struct ctx *c, const struct list_params *p, long page)
{
	struct buf	 b = { 0 };
	json_t		*url = NULL;

	if (put_path(c, &b) == -1 || buf_putc(&b, '?') == -1)
		goto done;
	if (p->q.name != NULL && (buf_puts(&b, "name=") == -1 ||
	    url_encode(&b, p->q.name, false) == -1 || buf_putc(&b, '&') == -1))
		goto done;
	if (p->q.description != NULL && (buf_puts(&b, "description=") == -1 ||
	    url_encode(&b, p->q.description, false) == -1 || buf_putc(&b, '&') == -1))
		goto done;
	if (p->per_page_given &&
	    buf_printf(&b, "per_page=%ld&", p->per_page) == -1)
		goto done;
	if (buf_printf(&b, "page=%ld", page) == -1)
		goto done;
	url = json_stringn(b.data, b.len);
done:
	buf_free(&b);
	return url != NULL ? url : json_null();
}

static json_t *
path_url(struct ctx *c)
{
	struct buf	 b = { 0 };
	json_t		*url;

	url = put_path(c, &b) == 0 ? json_stringn(b.data, b.len) : json_null();
	buf_free(&b);
	return url;
}

/* 1-based position, or null on an empty page (as Laravel shows it). */
static json_t *
position(long long n, long count)
{
	return count > 0 ? json_integer(n) : json_null();
}

/*
 * Laravel's simplePaginate: per_page + 1 rows tell whether there is a
 * next page, so neither links nor meta need a total.
 */
static void
h_list(struct ctx *c)
{
	struct list_params	 p;
	json_t			*errors = json_object(), *data, *body;
	long long		 offset, total;
	long			 count = 0;
	struct db_res		*res;
	struct db_row		 row;
	enum db_err		 e;
	bool			 incomplete;
	int			 rc = 0;

	read_list_params(c, &p, errors);
	if (json_object_size(errors) > 0) {
		invalid(c, errors);
		return;
	}
	json_decref(errors);
	offset = (long long)(p.page - 1) * p.per_page;
	if ((e = tenant_list_page(c->db, &p.q, p.per_page + 1, offset, &res,
	    &total, &incomplete)) != DBE_OK) {
		surface_db_failure(c, tenants_result(e));
		return;
	}
	data = json_array();
	while (res != NULL && (rc = db_next(res, &row)) == 1)
		if (count++ < p.per_page)
			json_array_append_new(data, item_json(&row, NITEM));
	db_res_free(res);
	if (rc == -1) {
		json_decref(data);
		surface_db_failure(c, TR_ERROR);
		return;
	}
	body = json_pack("{s:o, s:{s:o, s:n, s:o, s:o}, s:{s:i, s:o, s:o, "
	    "s:i, s:o}}", "data", data,
	    "links", "first", page_url(c, &p, 1), "last",
	    "prev", p.page > 1 ? page_url(c, &p, p.page - 1) : json_null(),
	    "next", count > p.per_page ? page_url(c, &p, p.page + 1) :
	    json_null(),
	    "meta", "current_page", (int)p.page,
	    "from", position(offset + 1, count),
	    "path", path_url(c),
	    "per_page", (int)p.per_page,
	    "to", position(offset + (count > p.per_page ? p.per_page : count),
	    count));
	paging_incomplete(c, incomplete);
	response_set(c->resp, 200, body, "laravelTenants", "tenant");
}

static void
h_count(struct ctx *c)
{
	struct list_params	 p;
	json_t			*errors = json_object();
	long long		 n;
	enum db_err		 e;
	bool			 incomplete;

	read_list_params(c, &p, errors);
	if (json_object_size(errors) > 0) {
		invalid(c, errors);
		return;
	}
	json_decref(errors);
	if ((e = tenant_list_count(c->db, &p.q, &n, &incomplete)) != DBE_OK) {
		surface_db_failure(c, tenants_result(e));
		return;
	}
	paging_incomplete(c, incomplete);
	response_set(c->resp, 200, json_pack("{s:I}", "count", (json_int_t)n),
	    "count", NULL);
}

const struct surface surface_laravel = {
	.name = "laravel",
	.prefix = "/tenants",
	.optional = true,
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.error = laravel_error,
	.rl_headers = RLH_LARAVEL,
};
