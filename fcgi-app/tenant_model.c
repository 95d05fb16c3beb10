#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "countries.h"
#include "rfc3339.h"
#include "secretbox.h"
#include "tenant_model.h"

static const char	*check_slug(const char *, size_t);
static const char	*check_email(const char *, size_t);
static const char	*check_url(const char *, size_t);
static const char	*check_country(const char *, size_t);
static const char	*check_guid(const char *, size_t);
static const char	*check_bootstrap(const char *, size_t);
static const char	*check_connstr(const char *, size_t);
static const char	*check_external_id(const char *, size_t);
static const char	*check_plan(const char *, size_t);

#define COL(s, t, m, w, n, c) { .sql = s, .type = t, .max = m, \
	.writable = w, .nullable = n, .check = c, .dflt = NULL }
#define COLD(s, t, m, w, n, c, d) { .sql = s, .type = t, .max = m, \
	.writable = w, .nullable = n, .check = c, .dflt = d }

const struct tcol_def tcols[TC__MAX] = {
	[TC_PK] = COL("pk", FT_INT, 20, false, false, NULL),
	[TC_SLUG] = COL("slug", FT_STR, 63, true, false, check_slug),
	[TC_GUID] = COL("guid", FT_STR, 36, false, false, NULL),
	[TC_SHORT_ID] = COL("short_id", FT_STR, 11, false, false, NULL),
	[TC_ACCOUNT_ID] = COL("account_id", FT_INT, 20, false, false, NULL),
	[TC_NAME] = COL("name", FT_STR, 200, true, false, NULL),
	[TC_DISPLAY_NAME] = COL("display_name", FT_STR, 200, true, true, NULL),
	[TC_DESCRIPTION] = COL("description", FT_STR, 2000, true, true, NULL),
	[TC_ADMIN_EMAIL] = COL("admin_email", FT_STR, 254, true, true, check_email),
	[TC_IS_ACTIVE] = COLD("is_active", FT_BOOL, 1, true, false, NULL, "1"),
	[TC_VALID_UPTO] = COL("valid_upto", FT_TIME, 40, true, true, NULL),
	[TC_CONNECTION_STRING] = COL("connection_string", FT_STR, 1000, true, true, check_connstr),
	[TC_ISSUER] = COL("issuer", FT_STR, 500, true, true, check_url),
	[TC_COUNTRY_CODE] = COL("country_code", FT_STR, 2, true, true, check_country),
	[TC_CITY] = COL("city", FT_STR, 100, true, true, NULL),
	[TC_ADDRESS] = COL("address", FT_STR, 300, true, true, NULL),
	[TC_POST_CODE] = COL("post_code", FT_STR, 20, true, true, NULL),
	[TC_GROUP_ID] = COL("group_id", FT_STR, 64, true, true, NULL),
	[TC_GROUP_NAME] = COL("group_name", FT_STR, 200, true, true, NULL),
	[TC_IS_ACADEMIC] = COLD("is_academic", FT_BOOL, 1, true, false, NULL, "0"),
	[TC_PRE_RELEASE] = COLD("pre_release", FT_BOOL, 1, true, false, NULL, "0"),
	[TC_MAX_USER_COUNT] = COL("max_user_count", FT_INT, 10, true, true, NULL),
	[TC_MAX_ANALYST_COUNT] = COL("max_analyst_count", FT_INT, 10, true, true, NULL),
	[TC_USER_COUNT] = COL("user_count", FT_INT, 10, false, false, NULL),
	[TC_ANALYST_COUNT] = COL("analyst_count", FT_INT, 10, false, false, NULL),
	[TC_CASE_COUNT] = COL("case_count", FT_INT, 10, false, false, NULL),
	[TC_PROVISIONING_STATUS] = COL("provisioning_status", FT_STR, 16, false, false, NULL),
	[TC_MS_TENANT_ID] = COL("ms_tenant_id", FT_STR, 36, true, true, check_guid),
	[TC_TENANT_DOMAIN] = COL("tenant_domain", FT_STR, 253, true, true, NULL),
	[TC_DEFAULT_DOMAIN] = COL("default_domain", FT_STR, 253, true, true, NULL),
	[TC_DOMAIN_COUNT] = COLD("domain_count", FT_INT, 10, true, false, NULL, "0"),
	[TC_MAILBOX_COUNT] = COLD("mailbox_count", FT_INT, 10, true, false, NULL, "0"),
	[TC_DISCOVERY_COMPLETED] = COLD("discovery_completed", FT_BOOL, 1, true, false, NULL, "0"),
	[TC_EXCHANGE_BOOTSTRAP_STATUS] = COL("exchange_bootstrap_status", FT_STR, 16, true, true, check_bootstrap),
	[TC_SMTP_AUTH_ORG_ENABLED] = COL("smtp_auth_org_enabled", FT_BOOL, 1, true, true, NULL),
	[TC_CONSENTED_AT] = COL("consented_at", FT_TIME, 40, true, true, NULL),
	[TC_LAST_SYNC_AT] = COL("last_sync_at", FT_TIME, 40, true, true, NULL),
	[TC_CONNECTED_BY] = COL("connected_by", FT_STR, 254, true, true, NULL),
	[TC_VERSION] = COL("version", FT_INT, 10, false, false, NULL),
	[TC_CREATED_AT] = COL("created_at", FT_TIME, 40, false, false, NULL),
	[TC_UPDATED_AT] = COL("updated_at", FT_TIME, 40, false, false, NULL),
	[TC_EXTERNAL_ID] = COL("external_id", FT_STR, 255, true, true, check_external_id),
	[TC_PLAN] = COL("plan", FT_STR, 64, true, true, check_plan),
	[TC_METADATA] = COL("metadata", FT_MAP, METADATA_KEYS_MAX, true, true, NULL),
};

static long	 grace_seconds = 7 * 86400;

void
tenant_model_set_grace(long s)
{
	grace_seconds = s;
}

long
tenant_model_grace(void)
{
	return grace_seconds;
}

int
tenant_in_grace(long long valid_upto, char *out, size_t len)
{
	time_t		 now = time(NULL), end = (time_t)(valid_upto + grace_seconds);
	struct tm	 tm;

	if (valid_upto <= 0 || now <= (time_t)valid_upto || now > end)
		return -1;
	gmtime_r(&end, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return 0;
}

static struct {
	char			 hosts[512], ports[256], pattern[65], own_db[64];
	struct conn_policy	 p;
} policy = {
	"localhost,127.0.0.1,::1", "3306", "tenant_%", "tenantd",
	{ policy.hosts, policy.ports, policy.pattern, policy.own_db },
};

void
tenant_model_set_conn_policy(const struct conn_policy *p)
{
	snprintf(policy.hosts, sizeof(policy.hosts), "%s", p->hosts);
	snprintf(policy.ports, sizeof(policy.ports), "%s", p->ports);
	snprintf(policy.pattern, sizeof(policy.pattern), "%s", p->name_pattern);
	snprintf(policy.own_db, sizeof(policy.own_db), "%s",
	    p->own_db ? p->own_db : "");
}

const struct conn_policy *
tenant_model_conn_policy(void)
{
	return &policy.p;
}

static json_t *
grace_ends(const char *valid_upto)
{
	struct tm	 tm;
	time_t		 end;
	char		 out[32];

	memset(&tm, 0, sizeof(tm));
	if (valid_upto == NULL ||
	    strptime(valid_upto, "%Y-%m-%d %H:%M:%S", &tm) == NULL)
		return json_null();
	end = timegm(&tm) + grace_seconds;
	gmtime_r(&end, &tm);
	strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(out);
}

static json_t *
expiry_state(const char *valid_upto)
{
	struct tm	 tm;
	time_t		 until, now = time(NULL);

	memset(&tm, 0, sizeof(tm));
	if (valid_upto == NULL ||
	    strptime(valid_upto, "%Y-%m-%d %H:%M:%S", &tm) == NULL)
		return json_string("Active");
	until = timegm(&tm);
	if (now <= until)
		return json_string("Active");
	return json_string(now <= until + grace_seconds ? "InGrace" : "Expired");
}

/* Words that are routes under /tenants/ and so can never be slugs. */
static const char *const reserved_slugs[] = { "me", "count",
    "migrations", "by-external-id", "deleted", "export", "bulk" };

static const char *
check_slug(const char *s, size_t n)
{
	size_t	 i;

	if (n < 2 || n > 63 || !(islower((unsigned char)s[0]) ||
	    isdigit((unsigned char)s[0])))
		goto bad;
	for (i = 1; i < n; i++)
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && s[i] != '-')
			goto bad;
	for (i = 0; i < sizeof(reserved_slugs) / sizeof(reserved_slugs[0]); i++)
		if (strcmp(s, reserved_slugs[i]) == 0)
			return "is a reserved word";
	return NULL;
bad:
	return "must be 2 to 63 lowercase letters, digits or hyphens, "
	    "starting with a letter or digit";
}

void
tenant_slug_from_name(const char *name, const char *suffix, char out[64])
{
	size_t	 n = 0, max = 63;
	int	 dash = 0;

	if (suffix != NULL)
		max -= strlen(suffix) + 1;
	for (; name != NULL && *name != '\0' && n < max; name++) {
		if ((unsigned char)*name < 0x80 && isalnum((unsigned char)*name)) {
			if (dash && n > 0) {
				if (n + 2 > max)
					break;
				out[n++] = '-';
			}
			out[n++] = (char)tolower((unsigned char)*name);
			dash = 0;
		} else
			dash = 1;
	}
	out[n] = '\0';
	if (check_slug(out, n) != NULL)
		n = (size_t)snprintf(out, 64, "tenant");
	if (suffix != NULL)
		snprintf(out + n, 64 - n, "-%s", suffix);
}

static const char *
check_email(const char *s, size_t n)
{
	const char	*at = memchr(s, '@', n), *dot;
	size_t		 i;

	for (i = 0; i < n; i++)
		if (isspace((unsigned char)s[i]) || iscntrl((unsigned char)s[i]))
			return "must be an email address";
	if (at == NULL || at == s || memchr(at + 1, '@', n - (size_t)(at - s) - 1))
		return "must be an email address";
	dot = strrchr(at, '.');
	if (dot == NULL || dot == at + 1 || dot[1] == '\0')
		return "must be an email address";
	return NULL;
}

static const char *
check_url(const char *s, size_t n)
{
	size_t	 i, host;

	if (strncmp(s, "https://", 8) == 0)
		host = 8;
	else if (strncmp(s, "http://", 7) == 0)
		host = 7;
	else
		return "must be an http or https URL";
	if (n <= host || s[host] == '/')
		return "must be an http or https URL";
	for (i = 0; i < n; i++)
		if (isspace((unsigned char)s[i]) || iscntrl((unsigned char)s[i]))
			return "must be an http or https URL";
	return NULL;
}

static const char *
check_country(const char *s, size_t n)
{
	if (n != 2 || country_name(s) == NULL)
		return "must be an ISO 3166-1 alpha-2 country code";
	return NULL;
}

static const char *
check_guid(const char *s, size_t n)
{
	size_t	 i;

	if (n != 36)
		return "must be a GUID";
	for (i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return "must be a GUID";
		} else if (!isxdigit((unsigned char)s[i]))
			return "must be a GUID";
	}
	return NULL;
}

static const char *
check_bootstrap(const char *s, size_t n)
{
	(void)n;
	if (strcmp(s, "ready") && strcmp(s, "pending") && strcmp(s, "failed"))
		return "must be ready, pending or failed";
	return NULL;
}

/*
 * A client's id travels in a path (/tenants/by-external-id/{externalId}),
 * so it has no '/' and, like any identifier, no control characters.
 */
static const char *
check_external_id(const char *s, size_t n)
{
	size_t	 i;

	if (n == 0)
		return "must not be empty";
	for (i = 0; i < n; i++)
		if (s[i] == '/' || iscntrl((unsigned char)s[i]))
			return "must not contain '/' or control characters";
	return NULL;
}

/* A word a caller can match and put in a URL: [A-Za-z0-9_-], 1 to 64. */
static const char *
check_plan(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			break;
	if (n == 0 || i < n)
		return "must be 1 to 64 letters, digits, '_' or '-'";
	return NULL;
}

bool
tenant_metadata_key_ok(const char *s)
{
	size_t	 i, n = strlen(s);

	if (n == 0 || n > METADATA_KEY_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' &&
		    s[i] != '-')
			return false;
	return true;
}

/*
 * Refused here, at the request, on every surface and for PUT and PATCH
 * alike: the provisioner re-checks at job time, but a caller learns of
 * a string it may not use from the 422, never from a connection attempt.
 * Without a key to seal them, connection strings are not taken at all:
 * they carry credentials that must not rest in the clear.
 */
static const char *
check_connstr(const char *s, size_t n)
{
	struct connstr	 c;
	const char	*why;

	if ((why = connstr_parse(s, n, &c)) != NULL ||
	    (why = connstr_check(&c, &policy.p)) != NULL)
		return why;
	if (!secretbox_ready())
		return "cannot be stored: this server has no secrets key "
		    "configured";
	return NULL;
}

/*
 * Built from the table once per process, so the column order of every
 * tenant SELECT is the enum order by construction.  Only identifiers
 * from the static table go in; values are always bound parameters.
 */
const char *
tenant_input_value(const struct tenant_input *in, enum tcol c)
{
	return in->set[c] ? in->v[c] : tcols[c].dflt;
}

const char *
tenant_select_list(void)
{
	static char	 list[1024];
	size_t		 i;

	if (list[0] != '\0')
		return list;
	for (i = 0; i < TC__MAX; i++) {
		if (i > 0)
			strcat(list, ", ");
		strcat(list, "t.");
		strcat(list, tcols[i].sql);
	}
	return list;
}

void
field_error(json_t *errors, const char *field, const char *msg)
{
	json_t	*a;

	if ((a = json_object_get(errors, field)) == NULL) {
		a = json_array();
		json_object_set_new(errors, field, a);
	}
	json_array_append_new(a, json_string(msg));
}

static int
utf8_chars(const char *s, size_t n)
{
	size_t	 i;
	int	 c = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			c++;
	return c;
}

static const char *
convert_bool(json_t *v, bool from_xml, char *out)
{
	const char	*s;

	if (json_is_boolean(v)) {
		strcpy(out, json_is_true(v) ? "1" : "0");
		return NULL;
	}
	if (from_xml && json_is_string(v)) {
		s = json_string_value(v);
		if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) {
			strcpy(out, "1");
			return NULL;
		}
		if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0) {
			strcpy(out, "0");
			return NULL;
		}
	}
	return "must be a boolean";
}

static const char *
convert_int(json_t *v, bool from_xml, char *out)
{
	long long	 n;
	const char	*s;
	char		*end;

	if (json_is_integer(v))
		n = json_integer_value(v);
	else if (from_xml && json_is_string(v)) {
		s = json_string_value(v);
		n = strtoll(s, &end, 10);
		if (*s == '\0' || *end != '\0')
			return "must be an integer";
	} else
		return "must be an integer";
	if (n < 0 || n > 2147483647LL)
		return "must be an integer from 0 to 2147483647";
	snprintf(out, 24, "%lld", n);
	return NULL;
}

/* Empty or only white space: what a required text field cannot be. */
static bool
blank(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

/*
 * Metadata as a merge patch: every key valid, every value a string of at
 * most METADATA_VALUE_MAX characters or null (remove the key).  More keys
 * than the limit are refused here already; whether the merged result
 * keeps to it is for tenant_metadata_merge.  An empty XML element is an
 * empty object.
 */
static const char *
convert_map(json_t *v, bool from_xml, struct tenant_input *in)
{
	const char	*k;
	json_t		*e;

	if (from_xml && json_is_string(v) && json_string_length(v) == 0) {
		in->metadata = NULL;
		return NULL;
	}
	if (!json_is_object(v))
		return "must be an object of strings";
	if (json_object_size(v) > METADATA_KEYS_MAX)
		return "must have at most 50 keys";
	json_object_foreach(v, k, e) {
		if (!tenant_metadata_key_ok(k))
			return "keys must be 1 to 40 letters, digits, '_', '.' "
			    "or '-'";
		if (json_is_null(e))
			continue;
		if (!json_is_string(e) ||
		    strlen(json_string_value(e)) != json_string_length(e))
			return "values must be strings (or null to remove a key)";
		if (utf8_chars(json_string_value(e), json_string_length(e)) >
		    METADATA_VALUE_MAX)
			return "values must be at most 500 characters";
	}
	in->metadata = v;
	return NULL;
}

/* json_dumps would allocate from a request's arena (json_arena.h). */
static int
dump_to_buf(const char *s, size_t n, void *arg)
{
	return buf_append(arg, s, n);
}

int
tenant_metadata_merge(const char *cur, json_t *patch, char **out)
{
	struct buf	 b = { 0 };
	json_t		*m = NULL, *e;
	const char	*k;
	void		*tmp;
	int		 rc = -1;

	*out = NULL;
	if (patch == NULL)		/* "metadata": null removes them all */
		return 0;
	if (cur != NULL)
		m = json_loads(cur, 0, NULL);
	if (m == NULL && (m = json_object()) == NULL)
		return -1;
	json_object_foreach_safe(patch, tmp, k, e) {
		if (json_is_null(e))
			json_object_del(m, k);
		else
			json_object_set(m, k, e);
	}
	if (json_object_size(m) > METADATA_KEYS_MAX)
		goto done;
	rc = 0;
	if (json_object_size(m) > 0) {
		if (json_dump_callback(m, dump_to_buf, &b, JSON_COMPACT |
		    JSON_SORT_KEYS) == -1) {
			buf_free(&b);
			rc = -1;
		} else
			*out = b.data;
	}
done:
	json_decref(m);
	return rc;
}

static const char *
convert(enum tcol c, json_t *v, bool from_xml, struct tenant_input *in)
{
	const char	*s, *msg;
	size_t		 n;

	if (json_is_null(v)) {
		if (!tcols[c].nullable)
			return "must not be null";
		in->v[c] = NULL;
		return NULL;
	}
	switch (tcols[c].type) {
	case FT_MAP:
		return convert_map(v, from_xml, in);
	case FT_BOOL:
		in->v[c] = in->store[c];
		return convert_bool(v, from_xml, in->store[c]);
	case FT_INT:
		in->v[c] = in->store[c];
		return convert_int(v, from_xml, in->store[c]);
	case FT_TIME:
		if (!json_is_string(v) ||
		    rfc3339_to_sql(json_string_value(v), in->store[c],
		    sizeof(in->store[c])) == -1)
			return "must be an RFC 3339 date-time, e.g. "
			    "2026-12-31T23:59:59Z";
		in->v[c] = in->store[c];
		return NULL;
	case FT_STR:
		break;
	}
	if (!json_is_string(v))
		return "must be a string";
	s = json_string_value(v);
	n = json_string_length(v);
	if (strlen(s) != n)
		return "must not contain NUL characters";
	if (!tcols[c].nullable && blank(s, n))
		return "is required";
	if ((size_t)utf8_chars(s, n) > tcols[c].max)
		return "is too long";
	if (tcols[c].check != NULL && (msg = tcols[c].check(s, n)) != NULL)
		return msg;
	in->v[c] = s;
	return NULL;
}

/*
 * A connection string without a Database gets "tenant_" + slug: when the
 * slug comes with it (create, PUT), that name is checked here too, so it
 * is refused at the request rather than in the job.
 */
static void
check_derived_db(const struct field_map *map, size_t nmap,
    const struct tenant_input *in, json_t *errors)
{
	struct connstr	 c;
	char		 name[65];
	const char	*why = NULL;
	size_t		 i;

	if (!in->set[TC_CONNECTION_STRING] || in->v[TC_CONNECTION_STRING] ==
	    NULL || !in->set[TC_SLUG] ||
	    connstr_parse(in->v[TC_CONNECTION_STRING],
	    strlen(in->v[TC_CONNECTION_STRING]), &c) != NULL ||
	    c.database[0] != '\0')
		return;
	if (connstr_db_name(&c, in->v[TC_SLUG], name) == -1)
		why = "names no Database, and the id is too long to derive one "
		    "from";
	else if (connstr_check_db(name, &policy.p) != NULL)
		why = "names no Database, and the one derived from the id is "
		    "not allowed";
	OPENSSL_cleanse(&c, sizeof(c));
	for (i = 0; why != NULL && i < nmap; i++)
		if (map[i].col == TC_CONNECTION_STRING) {
			field_error(errors, map[i].name, why);
			break;
		}
}

void
tenant_input_from_json(const struct field_map *map, size_t nmap, json_t *body,
    bool from_xml, struct tenant_input *in, json_t *errors)
{
	const char	*key, *msg;
	json_t		*v;
	size_t		 i;

	memset(in, 0, sizeof(*in));
	json_object_foreach(body, key, v) {
		for (i = 0; i < nmap; i++)
			if (strcmp(map[i].name, key) == 0)
				break;
		if (i == nmap || !tcols[map[i].col].writable ||
		    (map[i].derive != DERIVE_NONE &&
		    map[i].derive != DERIVE_NEGATED &&
		    map[i].derive != DERIVE_OR_NAME)) {
			field_error(errors, key, i == nmap ? "is not a known field" :
			    "is read-only");
			continue;
		}
		if ((msg = convert(map[i].col, v, from_xml, in)) != NULL) {
			field_error(errors, key, msg);
			continue;
		}
		if (map[i].derive == DERIVE_NEGATED && in->v[map[i].col] != NULL)
			in->store[map[i].col][0] ^= '0' ^ '1';
		in->set[map[i].col] = true;
	}
	check_derived_db(map, nmap, in, errors);
}

json_t *
tenant_col_json_time(const char *v)
{
	char	 t[40];

	if (v == NULL || rfc3339_from_sql(v, t, sizeof(t)) == -1)
		return json_null();
	return json_string(t);
}

json_t *
tenant_col_json(enum tcol c, const struct db_row *row)
{
	const char	*v = row->v[c];
	json_t		*m;

	if (tcols[c].type == FT_MAP) {
		m = v != NULL ? json_loadb(v, row->len[c], 0, NULL) : NULL;
		return m != NULL ? m : json_object();
	}
	if (v == NULL)
		return json_null();
	switch (tcols[c].type) {
	case FT_BOOL:
		return json_boolean(v[0] == '1');
	case FT_INT:
		return json_integer(strtoll(v, NULL, 10));
	case FT_TIME:
		return tenant_col_json_time(v);
	case FT_MAP:
	case FT_STR:
		break;
	}
	return json_stringn(v, row->len[c]);
}

/*
 * "Server=db;User Id=app;Password=secret;" -> "Server=db;User Id=***;
 * Password=***;".  The user is the tenant application's account name
 * and is masked too: with the host it is half of a login.  ADO.NET-style
 * keys and URL userinfo (mysql://u:secret@host, rows from before the
 * connection-string policy) are masked.
 */
static json_t *
masked_connection_string(const char *s, size_t n)
{
	static const char *const secret_keys[] = { "password", "pwd",
	    "user id", "user", "uid", "username" };
	char		 out[2 * CONNSTR_MAX + 16];
	size_t		 i = 0, o = 0, seg, kl, k;
	const char	*eq, *key, *at, *colon;
	json_t		*j;

	if (n > CONNSTR_MAX)
		n = CONNSTR_MAX;
	/* Segment by segment: "key = value" keeps its key, loses its value. */
	while (i < n) {
		for (seg = 0; i + seg < n && s[i + seg] != ';'; seg++)
			;
		eq = memchr(s + i, '=', seg);
		key = s + i;
		kl = eq ? (size_t)(eq - key) : 0;
		while (kl > 0 && (*key == ' ' || *key == '\t')) {
			key++;
			kl--;
		}
		while (kl > 0 && (key[kl - 1] == ' ' || key[kl - 1] == '\t'))
			kl--;
		for (k = 0; eq != NULL &&
		    k < sizeof(secret_keys) / sizeof(secret_keys[0]); k++)
			if (strlen(secret_keys[k]) == kl &&
			    strncasecmp(secret_keys[k], key, kl) == 0)
				break;
		if (eq != NULL && k < sizeof(secret_keys) / sizeof(secret_keys[0])) {
			memcpy(out + o, s + i, (size_t)(eq - (s + i)) + 1);
			o += (size_t)(eq - (s + i)) + 1;
			memcpy(out + o, "***", 3);
			o += 3;
		} else {
			memcpy(out + o, s + i, seg);
			o += seg;
		}
		i += seg;
		if (i < n)
			out[o++] = s[i++];	/* the ';' */
	}
	out[o] = '\0';
	/* URL form: scheme://user:password@host */
	if ((colon = strstr(out, "://")) != NULL &&
	    (at = strchr(colon + 3, '@')) != NULL) {
		char *user = (char *)colon + 3;

		/* "u:p@" and "u@" become "***:***@" and "***@" */
		colon = memchr(user, ':', (size_t)(at - user));
		memmove(user + (colon ? 7 : 3), at, strlen(at) + 1);
		memcpy(user, colon ? "***:***" : "***", colon ? 7 : 3);
	}
	j = json_string(out);
	OPENSSL_cleanse(out, sizeof(out));
	return j;
}

int
tenant_conn_open(const char *v, size_t len, const char *slug, char *out,
    size_t outlen)
{
	size_t	 n;

	if (v == NULL)
		return -1;
	if (secretbox_is_sealed(v, len))
		return secretbox_open(v, len, slug, out, outlen, &n);
	/* A row from before sealing (tenantctl migrate seals it). */
	if (len >= outlen)
		return -1;
	memcpy(out, v, len);
	out[len] = '\0';
	return 0;
}

/* A value that does not open shows as masked, never as ciphertext. */
static json_t *
connection_json(const struct db_row *row)
{
	char	 plain[CONNSTR_MAX + 1];
	json_t	*j;

	if (tenant_conn_open(row->v[TC_CONNECTION_STRING],
	    row->len[TC_CONNECTION_STRING], row->v[TC_SLUG], plain,
	    sizeof(plain)) == -1)
		return json_string("***");
	j = masked_connection_string(plain, strlen(plain));
	OPENSSL_cleanse(plain, sizeof(plain));
	return j;
}

json_t *
tenant_row_json(const struct field_map *map, size_t n, const struct db_row *row)
{
	json_t	*o, *v;
	size_t	 i;
	enum tcol c;

	if ((o = json_object()) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		c = map[i].col;
		if (map[i].derive == DERIVE_EXPIRY_STATE)
			v = expiry_state(row->v[c]);
		else if (map[i].derive == DERIVE_COUNTRY_NAME)
			v = row->v[c] && country_name(row->v[c]) ?
			    json_string(country_name(row->v[c])) : json_null();
		else if (map[i].derive == DERIVE_NEGATED && row->v[c] != NULL)
			v = json_boolean(row->v[c][0] != '1');
		else if (map[i].derive == DERIVE_OR_NAME && row->v[c] == NULL)
			v = tenant_col_json(TC_NAME, row);
		else if (map[i].derive == DERIVE_GRACE_ENDS)
			v = grace_ends(row->v[c]);
		else if (map[i].derive == DERIVE_PRESENT)
			v = json_boolean(row->v[c] != NULL);
		else if (c == TC_CONNECTION_STRING && row->v[c] != NULL)
			v = connection_json(row);
		else
			v = tenant_col_json(c, row);
		/* Field names come from static tables: no UTF-8 check needed. */
		json_object_set_new_nocheck(o, map[i].name, v);
	}
	return o;
}
