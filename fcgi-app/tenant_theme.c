#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "tenant_store.h"
#include "tenant_theme.h"

enum theme_kind {
	TK_COLOR,	/* #RRGGBB */
	TK_URL,		/* https, at most 2048 characters, or null */
};

static const struct {
	const char	*name;		/* in JSON and XML */
	enum theme_kind	 kind;
	const char	*dflt;
} fields[TH__MAX] = {
	[TH_PRIMARY] = { "primaryColor", TK_COLOR, "#2563EB" },
	[TH_SECONDARY] = { "secondaryColor", TK_COLOR, "#64748B" },
	[TH_BACKGROUND] = { "backgroundColor", TK_COLOR, "#FFFFFF" },
	[TH_TEXT] = { "textColor", TK_COLOR, "#0F172A" },
	[TH_LOGO_URL] = { "logoUrl", TK_URL, NULL },
	[TH_FAVICON_URL] = { "faviconUrl", TK_URL, NULL },
};

#define URL_MAX		2048

static const char sql_get[] =
    "SELECT primary_color, secondary_color, background_color, text_color, "
    "logo_url, favicon_url FROM tenant_themes WHERE tenant_pk = ?";
static const char sql_put[] =
    "INSERT INTO tenant_themes (tenant_pk, primary_color, secondary_color, "
    "background_color, text_color, logo_url, favicon_url) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE "
    "primary_color = VALUES(primary_color), "
    "secondary_color = VALUES(secondary_color), "
    "background_color = VALUES(background_color), "
    "text_color = VALUES(text_color), logo_url = VALUES(logo_url), "
    "favicon_url = VALUES(favicon_url), updated_at = UTC_TIMESTAMP(3)";
static const char sql_reset[] = "DELETE FROM tenant_themes WHERE tenant_pk = ?";

static const char *
check(enum theme_kind k, const char *s, size_t n)
{
	size_t	 i;

	if (k == TK_COLOR) {
		if (n != 7 || s[0] != '#')
			return "must be a colour as #RRGGBB";
		for (i = 1; i < 7; i++)
			if (!isxdigit((unsigned char)s[i]))
				return "must be a colour as #RRGGBB";
		return NULL;
	}
	/* A logo is fetched by browsers on the tenant's pages: https only. */
	if (n > URL_MAX || strncmp(s, "https://", 8) != 0 || n == 8 ||
	    s[8] == '/')
		return "must be an https URL of at most 2048 characters";
	for (i = 0; i < n; i++)
		if (isspace((unsigned char)s[i]) || iscntrl((unsigned char)s[i]) ||
		    s[i] == '"' || s[i] == '<' || s[i] == '>')
			return "must be an https URL of at most 2048 characters";
	return NULL;
}

void
theme_from_json(json_t *body, struct theme *t, json_t *errors)
{
	const char	*key, *msg;
	json_t		*v;
	size_t		 i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < TH__MAX; i++)
		t->v[i] = fields[i].dflt;
	json_object_foreach(body, key, v) {
		for (i = 0; i < TH__MAX; i++)
			if (strcmp(fields[i].name, key) == 0)
				break;
		if (i == TH__MAX) {
			field_error(errors, key, "is not a known field");
			continue;
		}
		if (json_is_null(v) && fields[i].kind == TK_URL) {
			t->v[i] = NULL;
			continue;
		}
		if (!json_is_string(v) || strlen(json_string_value(v)) !=
		    json_string_length(v))
			msg = "must be a string";
		else
			msg = check(fields[i].kind, json_string_value(v),
			    json_string_length(v));
		if (msg != NULL)
			field_error(errors, key, msg);
		else
			t->v[i] = json_string_value(v);
	}
}

json_t *
theme_json(const struct theme *t)
{
	json_t	*o = json_object();
	size_t	 i;

	for (i = 0; i < TH__MAX; i++)
		json_object_set_new_nocheck(o, fields[i].name, t->v[i] != NULL ?
		    json_string(t->v[i]) : json_null());
	json_object_set_new_nocheck(o, "isDefault", json_boolean(t->is_default));
	return o;
}

static void
defaults(struct theme *t)
{
	size_t	 i;

	for (i = 0; i < TH__MAX; i++)
		t->v[i] = fields[i].dflt;
	t->is_default = true;
}

/* The tenant's pk, when the principal may see it: 1, 0 not, -1 error. */
static int
tenant_pk(struct db *db, const struct principal *who, const char *id,
    int lock, long long *pk, char slug[64])
{
	struct db_res	*res = NULL;
	struct db_row	 row;
	int		 rc;

	rc = lock ? tenant_store_lock(db, tenants_scope(who), TKEY_ID, id, &row,
	    &res) : tenant_store_get(db, tenants_scope(who), TKEY_ID, id, &row,
	    &res);
	if (rc == 1) {
		*pk = strtoll(row.v[TC_PK], NULL, 10);
		snprintf(slug, 64, "%s", row.v[TC_SLUG]);
	}
	db_res_free(res);
	return rc;
}

enum tres
tenant_theme_get(struct db *db, const struct principal *who, const char *id,
    struct theme *t, struct db_res **res)
{
	struct db_param	 p[1];
	struct db_row	 row;
	long long	 pk;
	char		 slug[64];
	size_t		 i;
	int		 rc;

	*res = NULL;
	defaults(t);
	if ((rc = tenant_pk(db, who, id, 0, &pk, slug)) != 1)
		return rc == 0 ? TR_NOT_FOUND :
		    tenants_result(db_classify(db_errno(db)));
	p[0] = DB_I64(pk);
	if ((rc = db_one(db, sql_get, p, 1, &row, res)) == -1)
		return tenants_result(db_classify(db_errno(db)));
	if (rc == 1) {
		for (i = 0; i < TH__MAX; i++)
			t->v[i] = row.v[i];
		t->is_default = false;
	}
	return TR_OK;
}

struct theme_txn {
	const struct principal	*who;
	const char		*id, *request_id;
	const struct theme	*t;
	enum tres		 result;
};

static enum db_err
set_fn(struct db *db, void *arg)
{
	struct theme_txn	*x = arg;
	struct db_param		 p[1 + TH__MAX];
	long long		 pk;
	char			 slug[64];
	size_t			 i;
	enum db_err		 e;
	int			 rc;

	x->result = TR_NOT_FOUND;
	if ((rc = tenant_pk(db, x->who, x->id, 1, &pk, slug)) != 1) {
		if (rc == 0)
			return DBE_OTHER;
		x->result = TR_ERROR;
		return db_classify(db_errno(db));
	}
	x->result = TR_ERROR;
	p[0] = DB_I64(pk);
	for (i = 0; x->t != NULL && i < TH__MAX; i++)
		p[1 + i] = DB_STR(x->t->v[i]);
	if ((e = db_exec(db, x->t != NULL ? sql_put : sql_reset, p,
	    x->t != NULL ? 1 + TH__MAX : 1, NULL)) != DBE_OK ||
	    (e = audit_write(db, x->who, &(struct audit_event){
	    .action = x->t != NULL ? "tenant.theme.update" : "tenant.theme.reset",
	    .target_type = "tenant", .target_id = slug,
	    .request_id = x->request_id })) != DBE_OK)
		return e;
	x->result = TR_OK;
	return DBE_OK;
}

enum tres
tenant_theme_set(struct db *db, const struct principal *who, const char *id,
    const struct theme *t, const char *request_id)
{
	struct theme_txn	 x = { who, id, request_id, t, TR_ERROR };
	enum db_err		 e;

	e = db_txn(db, set_fn, &x);
	if (e == DBE_OK)
		return TR_OK;
	if (x.result != TR_ERROR && x.result != TR_OK)
		return x.result;
	return tenants_result(e);
}
