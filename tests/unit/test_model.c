/*
 * Unit tests for the domain side that needs no database: field
 * validation and conversion, derived fields, connection-string masking,
 * configuration parsing, ETag matching and the shared rate limiter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "countries.h"
#include "ratelimit.h"
#include "tenant_model.h"
#include "tenants.h"

static const struct field_map map[] = {
	{ "id", TC_SLUG },
	{ "tenantId", TC_GUID },
	{ "name", TC_NAME },
	{ "adminEmail", TC_ADMIN_EMAIL },
	{ "isActive", TC_IS_ACTIVE },
	{ "validUpto", TC_VALID_UPTO },
	{ "issuer", TC_ISSUER },
	{ "countryCode", TC_COUNTRY_CODE },
	{ "countryName", TC_COUNTRY_CODE, DERIVE_COUNTRY_NAME },
	{ "maxUserCount", TC_MAX_USER_COUNT },
	{ "connectionString", TC_CONNECTION_STRING },
	{ "expiryState", TC_VALID_UPTO, DERIVE_EXPIRY_STATE },
};
#define NMAP	(sizeof(map) / sizeof(map[0]))

static json_t *
convert(const char *body, bool xml, struct tenant_input *in)
{
	json_t	*j = json_loads(body, 0, NULL), *errors = json_object();

	assert_non_null(j);
	tenant_input_from_json(map, NMAP, j, xml, in, errors);
	json_decref(j);
	return errors;
}

static void
assert_error(json_t *errors, const char *field)
{
	if (json_object_get(errors, field) == NULL)
		fail_msg("no error for %s", field);
}

static void
test_valid_input(void **state)
{
	struct tenant_input	 in;
	json_t			*j, *errors;

	(void)state;
	j = json_loads("{\"id\":\"acme-1\",\"name\":\"Acme\",\"adminEmail\":"
	    "\"a@acme.example\",\"isActive\":false,\"validUpto\":"
	    "\"2026-12-31T23:59:59+01:00\",\"issuer\":\"https://acme.example\","
	    "\"countryCode\":\"DE\",\"maxUserCount\":25,\"connectionString\":null}",
	    0, NULL);
	errors = json_object();
	tenant_input_from_json(map, NMAP, j, false, &in, errors);
	assert_int_equal(json_object_size(errors), 0);
	assert_string_equal(in.v[TC_SLUG], "acme-1");
	assert_string_equal(in.v[TC_IS_ACTIVE], "0");
	assert_string_equal(in.v[TC_VALID_UPTO], "2026-12-31 22:59:59");
	assert_string_equal(in.v[TC_MAX_USER_COUNT], "25");
	assert_true(in.set[TC_CONNECTION_STRING]);
	assert_null(in.v[TC_CONNECTION_STRING]);
	assert_false(in.set[TC_NAME + 1]);
	json_decref(errors);
	json_decref(j);
}

static void
test_every_error_reported(void **state)
{
	struct tenant_input	 in;
	json_t			*errors;

	(void)state;
	errors = convert("{\"id\":\"Bad Slug\",\"name\":5,\"adminEmail\":\"nope\","
	    "\"isActive\":\"yes\",\"validUpto\":\"2026-02-30T00:00:00Z\","
	    "\"issuer\":\"ftp://x\",\"countryCode\":\"XX\",\"maxUserCount\":-1,"
	    "\"tenantId\":\"x\",\"countryName\":\"y\",\"bogus\":1}", false, &in);
	assert_error(errors, "id");
	assert_error(errors, "name");
	assert_error(errors, "adminEmail");
	assert_error(errors, "isActive");
	assert_error(errors, "validUpto");
	assert_error(errors, "issuer");
	assert_error(errors, "countryCode");
	assert_error(errors, "maxUserCount");
	assert_error(errors, "tenantId");	/* read-only */
	assert_error(errors, "countryName");	/* derived */
	assert_error(errors, "bogus");
	assert_int_equal(json_object_size(errors), 11);
	json_decref(errors);
}

static void
test_slug_rules(void **state)
{
	struct tenant_input	 in;
	json_t			*e;
	char			 body[256];
	size_t			 i;
	static const char *const bad[] = { "me", "count", "a", "-ab", "ab_c",
	    "ABC", "a b", "" };
	static const char *const good[] = { "ab", "0a", "a-b-c", "tenant-42" };

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "{\"id\":\"%s\"}", bad[i]);
		e = convert(body, false, &in);
		assert_error(e, "id");
		json_decref(e);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(body, sizeof(body), "{\"id\":\"%s\"}", good[i]);
		e = convert(body, false, &in);
		assert_int_equal(json_object_size(e), 0);
		json_decref(e);
	}
}

static void
test_xml_scalars(void **state)
{
	struct tenant_input	 in;
	json_t			*e;

	(void)state;
	e = convert("{\"isActive\":\"true\",\"maxUserCount\":\"7\"}", true, &in);
	assert_int_equal(json_object_size(e), 0);
	assert_string_equal(in.v[TC_IS_ACTIVE], "1");
	assert_string_equal(in.v[TC_MAX_USER_COUNT], "7");
	json_decref(e);
	/* The same strings from JSON are type errors. */
	e = convert("{\"isActive\":\"true\",\"maxUserCount\":\"7\"}", false, &in);
	assert_int_equal(json_object_size(e), 2);
	json_decref(e);
	e = convert("{\"maxUserCount\":\"7x\"}", true, &in);
	assert_error(e, "maxUserCount");
	json_decref(e);
}

static void
test_length_in_characters(void **state)
{
	struct tenant_input	 in;
	json_t			*e;
	char			 body[1024];
	size_t			 n;

	(void)state;
	/* 200 two-byte characters fit name (200 characters, 400 bytes). */
	n = (size_t)snprintf(body, sizeof(body), "{\"name\":\"");
	while (n < 9 + 400) {
		memcpy(body + n, "\xc3\xa9", 2);
		n += 2;
	}
	snprintf(body + n, sizeof(body) - n, "\"}");
	e = convert(body, false, &in);
	assert_int_equal(json_object_size(e), 0);
	json_decref(e);
	snprintf(body + n, sizeof(body) - n, "x\"}");
	e = convert(body, false, &in);
	assert_error(e, "name");
	json_decref(e);
}

static json_t *
render(const char *cols[TC__MAX])
{
	struct db_row	 row;
	size_t		 i;

	memset(&row, 0, sizeof(row));
	row.n = TC__MAX;
	for (i = 0; i < TC__MAX; i++) {
		row.v[i] = cols[i];
		row.len[i] = cols[i] ? strlen(cols[i]) : 0;
	}
	return tenant_row_json(map, NMAP, &row);
}

/* A required text field that is empty or white space is missing (issue 11). */
static void
test_blank_required(void **state)
{
	struct tenant_input	 in;
	json_t			*errors;
	json_t			*msgs;

	(void)state;
	errors = convert("{\"id\": \"ab\", \"name\": \"\"}", false, &in);
	msgs = json_object_get(errors, "name");
	assert_non_null(msgs);
	assert_string_equal(json_string_value(json_array_get(msgs, 0)),
	    "is required");
	json_decref(errors);
	errors = convert("{\"id\": \"ab\", \"name\": \" \\t \"}", false, &in);
	assert_error(errors, "name");
	json_decref(errors);
	errors = convert("{\"id\": \"ab\", \"name\": \" A \"}", false, &in);
	assert_int_equal(json_object_size(errors), 0);
	json_decref(errors);
}

/* A negated boolean is written and shown inverted (isDisabled, is_trashed). */
static void
test_negated_bool(void **state)
{
	static const struct field_map nmap[] = {
		{ "isDisabled", TC_IS_ACTIVE, DERIVE_NEGATED },
	};
	struct tenant_input	 in;
	struct db_row		 row = { 0 };
	json_t			*j, *errors = json_object(), *out;

	(void)state;
	j = json_loads("{\"isDisabled\": true}", 0, NULL);
	tenant_input_from_json(nmap, 1, j, false, &in, errors);
	assert_int_equal(json_object_size(errors), 0);
	assert_true(in.set[TC_IS_ACTIVE]);
	assert_string_equal(in.v[TC_IS_ACTIVE], "0");
	json_decref(j);
	j = json_loads("{\"isDisabled\": \"false\"}", 0, NULL);
	tenant_input_from_json(nmap, 1, j, true, &in, errors);
	assert_string_equal(in.v[TC_IS_ACTIVE], "1");
	json_decref(j);
	json_decref(errors);
	row.v[TC_IS_ACTIVE] = "1";
	row.len[TC_IS_ACTIVE] = 1;
	out = tenant_row_json(nmap, 1, &row);
	assert_true(json_is_false(json_object_get(out, "isDisabled")));
	json_decref(out);
	row.v[TC_IS_ACTIVE] = "0";
	out = tenant_row_json(nmap, 1, &row);
	assert_true(json_is_true(json_object_get(out, "isDisabled")));
	json_decref(out);
}

/* A missing display name shows the name; a given one is written as is. */
static void
test_or_name(void **state)
{
	static const struct field_map dmap[] = {
		{ "displayName", TC_DISPLAY_NAME, DERIVE_OR_NAME },
	};
	struct tenant_input	 in;
	struct db_row		 row = { 0 };
	json_t			*j, *errors = json_object(), *out;

	(void)state;
	j = json_loads("{\"displayName\": \"Shown\"}", 0, NULL);
	tenant_input_from_json(dmap, 1, j, false, &in, errors);
	assert_int_equal(json_object_size(errors), 0);
	assert_string_equal(in.v[TC_DISPLAY_NAME], "Shown");
	json_decref(j);
	json_decref(errors);
	row.v[TC_NAME] = "Acme";
	row.len[TC_NAME] = 4;
	out = tenant_row_json(dmap, 1, &row);
	assert_string_equal(json_string_value(json_object_get(out,
	    "displayName")), "Acme");
	json_decref(out);
	row.v[TC_DISPLAY_NAME] = "Acme Corp";
	row.len[TC_DISPLAY_NAME] = 9;
	out = tenant_row_json(dmap, 1, &row);
	assert_string_equal(json_string_value(json_object_get(out,
	    "displayName")), "Acme Corp");
	json_decref(out);
}

/* Slugs derived from names (seed 003) are valid slugs of at most 63. */
static void
test_slug_from_name(void **state)
{
	static const struct {
		const char	*name, *suffix, *slug;
	} cases[] = {
		{ "Acme Corp", NULL, "acme-corp" },
		{ "  Acme -- Corp!  ", NULL, "acme-corp" },
		{ "ACME_2026", "x1y2z3", "acme-2026-x1y2z3" },
		{ "Zoë Café", NULL, "zo-caf" },
		{ "日本", NULL, "tenant" },
		{ "A", NULL, "tenant" },
		{ "me", NULL, "tenant" },
		{ "", "abc123", "tenant-abc123" },
	};
	char	 out[64], long_name[300];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tenant_slug_from_name(cases[i].name, cases[i].suffix, out);
		assert_string_equal(out, cases[i].slug);
	}
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	long_name[61] = ' ';
	tenant_slug_from_name(long_name, NULL, out);
	assert_int_equal(strlen(out), 63);
	assert_int_equal(out[61], '-');
	tenant_slug_from_name(long_name, "abcdef", out);
	assert_int_equal(strlen(out), 63);
	assert_string_equal(out + 56, "-abcdef");
	assert_int_not_equal(out[55], '-');
}

static void
test_render(void **state)
{
	const char	*cols[TC__MAX] = { NULL };
	json_t		*j;

	(void)state;
	cols[TC_SLUG] = "acme";
	cols[TC_IS_ACTIVE] = "1";
	cols[TC_COUNTRY_CODE] = "US";
	cols[TC_MAX_USER_COUNT] = "12";
	cols[TC_VALID_UPTO] = "2001-01-01 00:00:00";
	cols[TC_CONNECTION_STRING] = "Server=db;User Id=app;Password=s3cret;"
	    "Database=x";
	j = render(cols);
	assert_string_equal(json_string_value(json_object_get(j, "id")), "acme");
	assert_true(json_is_true(json_object_get(j, "isActive")));
	assert_string_equal(json_string_value(json_object_get(j, "countryName")),
	    "United States");
	assert_int_equal(json_integer_value(json_object_get(j, "maxUserCount")), 12);
	assert_string_equal(json_string_value(json_object_get(j, "validUpto")),
	    "2001-01-01T00:00:00Z");
	assert_string_equal(json_string_value(json_object_get(j,
	    "connectionString")), "Server=db;User Id=***;Password=***;Database=x");
	assert_string_equal(json_string_value(json_object_get(j, "expiryState")),
	    "Expired");
	assert_true(json_is_null(json_object_get(j, "tenantId")));
	json_decref(j);
	cols[TC_CONNECTION_STRING] = "mysql://app:s3cret@db:3306/x";
	cols[TC_VALID_UPTO] = NULL;
	j = render(cols);
	assert_string_equal(json_string_value(json_object_get(j,
	    "connectionString")), "mysql://***:***@db:3306/x");
	assert_string_equal(json_string_value(json_object_get(j, "expiryState")),
	    "Active");
	json_decref(j);
}

static void
test_expiry_grace(void **state)
{
	const char	*cols[TC__MAX] = { NULL };
	char		 when[32];
	time_t		 t = time(NULL) - 3 * 86400;
	struct tm	 tm;
	json_t		*j;

	(void)state;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	cols[TC_VALID_UPTO] = when;
	tenant_model_set_grace(7 * 86400);
	j = render(cols);
	assert_string_equal(json_string_value(json_object_get(j, "expiryState")),
	    "InGrace");
	json_decref(j);
	tenant_model_set_grace(86400);
	j = render(cols);
	assert_string_equal(json_string_value(json_object_get(j, "expiryState")),
	    "Expired");
	json_decref(j);
	tenant_model_set_grace(7 * 86400);
}

static void
test_countries(void **state)
{
	(void)state;
	assert_int_equal(ncountries, 249);
	assert_string_equal(country_name("US"), "United States");
	assert_string_equal(country_name("DE"), "Germany");
	assert_null(country_name("XX"));
	assert_null(country_name("us"));
	assert_null(country_name(""));
}

static void
test_etag(void **state)
{
	(void)state;
	assert_true(etag_matches("\"3\"", "3"));
	assert_true(etag_matches("W/\"3\"", "3"));
	assert_true(etag_matches("\"1\", \"3\"", "3"));
	assert_true(etag_matches("*", "3"));
	assert_false(etag_matches("\"33\"", "3"));
	assert_false(etag_matches("3", "3"));
	assert_false(etag_matches("\"", "3"));
	assert_false(etag_matches("", "3"));
}

static void
test_config(void **state)
{
	struct config	 c;
	char		 err[256];

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_set(&c, "workers", "4", err, sizeof(err)), 0);
	assert_int_equal(c.workers, 4);
	assert_int_equal(config_set(&c, "workers", "x", err, sizeof(err)), -1);
	assert_int_equal(config_set(&c, "workers", "100000", err, sizeof(err)), -1);
	assert_int_equal(config_set(&c, "nope", "1", err, sizeof(err)), -1);
	assert_int_equal(config_set(&c, "socket_mode", "0660", err, sizeof(err)), 0);
	assert_int_equal(c.socket_mode, 0660);
	assert_int_equal(config_set(&c, "rate_limit.route./api/v1/tenants", "5",
	    err, sizeof(err)), 0);
	assert_int_equal(config_rate_limit(&c, "/api/v1/tenants"), 5);
	assert_int_equal(config_rate_limit(&c, "/api/v1/tenants/{id}"), 60);
	assert_int_equal(config_set(&c, "rate_limit.route.nope", "5", err,
	    sizeof(err)), -1);
	/* Page marks: a grid step of at least one row; 0 bytes turns them off. */
	assert_int_equal(c.list_mark_every, 250);
	assert_int_equal(config_set(&c, "list.mark_every", "0", err,
	    sizeof(err)), -1);
	assert_int_equal(config_set(&c, "list.mark_beyond", "0", err,
	    sizeof(err)), 0);
	assert_int_equal(config_set(&c, "list.mark_memory", "0", err,
	    sizeof(err)), 0);
	assert_int_equal(c.list_mark_memory, 0);
	/* The license limit is off by default. */
	assert_int_equal(c.license_max_tenants, 0);
	assert_int_equal(config_set(&c, "license.max_tenants", "500", err,
	    sizeof(err)), 0);
	assert_int_equal(c.license_max_tenants, 500);
	assert_int_equal(config_set(&c, "license.max_tenants", "-1", err,
	    sizeof(err)), -1);
	setenv("TENANTD_RATE_LIMIT_PER_MINUTE", "0", 1);
	setenv("TENANTD_DB_SOCKET", "/tmp/x.sock", 1);
	config_load_env(&c);
	assert_int_equal(c.rate_limit_per_minute, 0);
	assert_string_equal(c.db_socket, "/tmp/x.sock");
	/* An HS256 issuer takes secrets only: a PEM key there is refused. */
	assert_int_equal(config_set(&c, "jwt.a.iss", "https://a", err,
	    sizeof(err)), 0);
	assert_int_equal(config_set(&c, "jwt.a.alg", "HS256", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "jwt.a.key", "/etc/passwd", err,
	    sizeof(err)), 0);
	assert_int_equal(config_finish(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "HS256"));
	assert_int_equal(config_set(&c, "jwt.b.alg", "none", err, sizeof(err)), -1);
	config_free(&c);
}

/* Two processes share one budget through the mapping. */
static void
test_ratelimit_shared(void **state)
{
	struct ratelimit_verdict v;
	struct ratelimit	*rl = ratelimit_new();
	time_t			 now = time(NULL);
	pid_t			 pid;
	int			 i, st, allowed = 0;

	(void)state;
	assert_non_null(rl);
	if ((pid = fork()) == 0) {
		for (i = 0; i < 30; i++)
			ratelimit_hit(rl, "k1", "GET /x", 50, now, &v);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	for (i = 0; i < 30; i++) {
		ratelimit_hit(rl, "k1", "GET /x", 50, now, &v);
		allowed += v.allowed;
	}
	assert_int_equal(allowed, 20);
	assert_int_equal(v.remaining, 0);
	assert_true(v.reset > 0 && v.reset <= 60);
	/* Another route, another principal: their own budgets. */
	ratelimit_hit(rl, "k1", "GET /y", 50, now, &v);
	assert_true(v.allowed);
	ratelimit_hit(rl, "k2", "GET /x", 50, now, &v);
	assert_true(v.allowed);
	/* A new window starts a minute later. */
	ratelimit_hit(rl, "k1", "GET /x", 50, now + 60, &v);
	assert_true(v.allowed);
	assert_int_equal(v.remaining, 49);
	ratelimit_free(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_input),
		cmocka_unit_test(test_every_error_reported),
		cmocka_unit_test(test_slug_rules),
		cmocka_unit_test(test_xml_scalars),
		cmocka_unit_test(test_length_in_characters),
		cmocka_unit_test(test_blank_required),
		cmocka_unit_test(test_negated_bool),
		cmocka_unit_test(test_or_name),
		cmocka_unit_test(test_slug_from_name),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_expiry_grace),
		cmocka_unit_test(test_countries),
		cmocka_unit_test(test_etag),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_ratelimit_shared),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
