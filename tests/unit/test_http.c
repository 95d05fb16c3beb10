/*
 * Unit tests for the request-side helpers: negotiation, routing, query
 * strings, date-times, API key shapes, permission names, JSON limits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "apikey.h"
#include "codec_json.h"
#include "negotiate.h"
#include "perm.h"
#include "query.h"
#include "rfc3339.h"
#include "router.h"

static void
accept_pick(const char *accept, int want)
{
	enum fmt	 f;
	int		 rc = negotiate_accept(accept, &f);

	if (want == -1)
		assert_int_equal(rc, -1);
	else {
		assert_int_equal(rc, 0);
		assert_int_equal(f, want);
	}
}

static void
test_accept(void **state)
{
	(void)state;
	accept_pick(NULL, FMT_JSON);
	accept_pick("", FMT_JSON);
	accept_pick("*/*", FMT_JSON);
	accept_pick("application/json", FMT_JSON);
	accept_pick("application/xml", FMT_XML);
	accept_pick("text/xml", FMT_XML);
	accept_pick("application/problem+xml", FMT_XML);
	accept_pick("application/vnd.tenantd+json", FMT_JSON);
	accept_pick("text/*", FMT_XML);
	accept_pick("application/xml, application/json", FMT_XML);
	accept_pick("application/json;q=0.5, application/xml;q=0.9", FMT_XML);
	accept_pick("application/xml;q=0, */*", FMT_JSON);
	accept_pick("application/json;q=0, */*;q=0.1", FMT_XML);
	accept_pick("image/png", -1);
	accept_pick("application/json;q=0", -1);
	accept_pick("text/html, image/*", -1);
	accept_pick("APPLICATION/XML", FMT_XML);
	accept_pick(",,;;q=,", -1);
}

static void
test_content_type(void **state)
{
	enum fmt	 f;

	(void)state;
	assert_int_equal(negotiate_content_type("application/json", &f), 0);
	assert_int_equal(f, FMT_JSON);
	assert_int_equal(negotiate_content_type("application/json; charset=UTF-8", &f), 0);
	assert_int_equal(negotiate_content_type("text/xml;charset=utf-8", &f), 0);
	assert_int_equal(f, FMT_XML);
	assert_int_equal(negotiate_content_type("application/json; charset=latin1", &f), -1);
	assert_int_equal(negotiate_content_type("text/plain", &f), -1);
	assert_int_equal(negotiate_content_type("", &f), -1);
	assert_int_equal(negotiate_content_type(NULL, &f), -1);
}

static void h_dummy(struct ctx *c) { (void)c; }

static const struct route routes[] = {
	{ HTTP_GET, "/tenants/me/connections", PERM_VIEW, h_dummy, 0 },
	{ HTTP_GET, "/tenants", PERM_VIEW, h_dummy, 0 },
	{ HTTP_POST, "/tenants", PERM_CREATE, h_dummy, 0 },
	{ HTTP_GET, "/tenants/{id}", PERM_VIEW, h_dummy, 0 },
	{ HTTP_DELETE, "/tenants/{id}", PERM_DELETE, h_dummy, 0 },
	{ HTTP_POST, "/tenants/{id}/activate", PERM_UPDATE, h_dummy, 0 },
};

static void
test_router(void **state)
{
	struct route_match	 m;
	char			 allow[64];
	size_t			 n = sizeof(routes) / sizeof(routes[0]);

	(void)state;
	assert_int_equal(router_match(routes, n, HTTP_GET, "/tenants", &m,
	    allow, sizeof(allow)), 0);
	assert_ptr_equal(m.route, &routes[1]);
	assert_int_equal(router_match(routes, n, HTTP_GET, "/tenants/", &m,
	    allow, sizeof(allow)), 0);
	assert_int_equal(router_match(routes, n, HTTP_GET,
	    "/tenants/me/connections", &m, allow, sizeof(allow)), 0);
	assert_ptr_equal(m.route, &routes[0]);
	assert_int_equal(router_match(routes, n, HTTP_GET, "/tenants/acme", &m,
	    allow, sizeof(allow)), 0);
	assert_string_equal(route_param(&m, "id"), "acme");
	assert_null(route_param(&m, "nope"));
	assert_int_equal(router_match(routes, n, HTTP_HEAD, "/tenants/acme", &m,
	    allow, sizeof(allow)), 0);
	assert_int_equal(router_match(routes, n, HTTP_PUT, "/tenants", &m,
	    allow, sizeof(allow)), 405);
	assert_string_equal(allow, "GET, HEAD, POST");
	assert_int_equal(router_match(routes, n, HTTP__MAX, "/tenants/x", &m,
	    allow, sizeof(allow)), 405);
	assert_string_equal(allow, "GET, HEAD, DELETE");
	assert_int_equal(router_match(routes, n, HTTP_GET, "/nope", &m,
	    allow, sizeof(allow)), 404);
	assert_int_equal(router_match(routes, n, HTTP_GET, "/tenants//x", &m,
	    allow, sizeof(allow)), 404);
	assert_int_equal(router_match(routes, n, HTTP_GET, "/tenants/a/b", &m,
	    allow, sizeof(allow)), 404);
	assert_int_equal(router_match(routes, n, HTTP_GET, "", &m,
	    allow, sizeof(allow)), 404);
}

static void
test_query(void **state)
{
	char	 v[16];

	(void)state;
	assert_int_equal(query_get("a=1&pageSize=20&b", "pageSize", v, sizeof(v)), 1);
	assert_string_equal(v, "20");
	assert_int_equal(query_get("a=1&b", "b", v, sizeof(v)), 1);
	assert_string_equal(v, "");
	assert_int_equal(query_get("q=a+b%20c", "q", v, sizeof(v)), 1);
	assert_string_equal(v, "a b c");
	assert_int_equal(query_get("ab=1", "a", v, sizeof(v)), 0);
	assert_int_equal(query_get("", "a", v, sizeof(v)), 0);
	assert_int_equal(query_get("a=%zz", "a", v, sizeof(v)), -1);
	assert_int_equal(query_get("a=%00", "a", v, sizeof(v)), -1);
	assert_int_equal(query_get("a=%4", "a", v, sizeof(v)), -1);
	assert_int_equal(query_get("a=0123456789abcdefXYZ", "a", v, sizeof(v)), -1);
	assert_int_equal(url_decode("/a%2Fb", 6, v, sizeof(v), false), 4);
	assert_string_equal(v, "/a/b");
	assert_int_equal(url_decode("a+b", 3, v, sizeof(v), false), 3);
	assert_string_equal(v, "a+b");
}

/* Integers are digits only: " 5", "+5", "5 ", 19 digits are refused (issue 14). */
static void
test_query_int(void **state)
{
	long long	 n = 7;

	(void)state;
	assert_int_equal(query_get_int("a=12", "a", 1, 100, &n), 1);
	assert_int_equal(n, 12);
	assert_int_equal(query_get_int("b=12", "a", 1, 100, &n), 0);
	assert_int_equal(n, 12);
	assert_int_equal(query_get_int("a=%205", "a", 1, 100, &n), -1);
	assert_int_equal(query_get_int("a=+5", "a", 1, 100, &n), -1);
	assert_int_equal(query_get_int("a=5%20", "a", 1, 100, &n), -1);
	assert_int_equal(query_get_int("a=-1", "a", -5, 100, &n), -1);
	assert_int_equal(query_get_int("a=", "a", 0, 100, &n), -1);
	assert_int_equal(query_get_int("a=0", "a", 1, 100, &n), -1);
	assert_int_equal(query_get_int("a=101", "a", 1, 100, &n), -1);
	assert_int_equal(query_get_int("a=1234567890123456789", "a", 0,
	    999999999999999999LL, &n), -1);
	assert_int_equal(query_get_int("a=999999999999999999", "a", 0,
	    999999999999999999LL, &n), 1);
	assert_int_equal(n, 999999999999999999LL);
}

/* Booleans are exactly true or false; *out moves only on a 1. */
static void
test_query_bool(void **state)
{
	bool	 b = false;

	(void)state;
	assert_int_equal(query_get_bool("force=true", "force", &b), 1);
	assert_true(b);
	assert_int_equal(query_get_bool("a=1&force=false", "force", &b), 1);
	assert_false(b);
	assert_int_equal(query_get_bool("a=true", "force", &b), 0);
	assert_false(b);
	assert_int_equal(query_get_bool("force=yes", "force", &b), -1);
	assert_int_equal(query_get_bool("force=TRUE", "force", &b), -1);
	assert_int_equal(query_get_bool("force=", "force", &b), -1);
	assert_int_equal(query_get_bool("force=truetrue", "force", &b), -1);
	assert_false(b);
}

/* What url_encode writes can never end a URI reference or a header. */
static void
test_url_encode(void **state)
{
	struct buf	 b = { NULL, 0, 0 };

	(void)state;
	assert_int_equal(url_encode(&b, "a b>;rel=\"x\",<\r\n/é~", false), 0);
	assert_string_equal(b.data,
	    "a%20b%3E%3Brel%3D%22x%22%2C%3C%0D%0A%2F%C3%A9~");
	buf_reset(&b);
	assert_int_equal(url_encode(&b, "/api/v1/x y", true), 0);
	assert_string_equal(b.data, "/api/v1/x%20y");
	buf_free(&b);
}

static void
test_rfc3339(void **state)
{
	char	 out[40];

	(void)state;
	assert_int_equal(rfc3339_to_sql("2026-12-31T23:59:59Z", out, sizeof(out)), 0);
	assert_string_equal(out, "2026-12-31 23:59:59");
	assert_int_equal(rfc3339_to_sql("2026-12-31T23:59:59.999+02:00", out, sizeof(out)), 0);
	assert_string_equal(out, "2026-12-31 21:59:59");
	assert_int_equal(rfc3339_to_sql("2026-01-01T00:30:00-01:00", out, sizeof(out)), 0);
	assert_string_equal(out, "2026-01-01 01:30:00");
	assert_int_equal(rfc3339_to_sql("2024-02-29T00:00:00Z", out, sizeof(out)), 0);
	assert_int_equal(rfc3339_to_sql("2025-02-29T00:00:00Z", out, sizeof(out)), -1);
	assert_int_equal(rfc3339_to_sql("2026-13-01T00:00:00Z", out, sizeof(out)), -1);
	assert_int_equal(rfc3339_to_sql("2026-12-31", out, sizeof(out)), -1);
	assert_int_equal(rfc3339_to_sql("2026-12-31T23:59:59", out, sizeof(out)), -1);
	assert_int_equal(rfc3339_to_sql("2026-12-31T23:59:59Zjunk", out, sizeof(out)), -1);
	assert_int_equal(rfc3339_to_sql("garbage", out, sizeof(out)), -1);
	assert_int_equal(rfc3339_from_sql("2026-12-31 23:59:59", out, sizeof(out)), 0);
	assert_string_equal(out, "2026-12-31T23:59:59Z");
	assert_int_equal(rfc3339_from_sql("2026-12-31 23:59:59.123", out, sizeof(out)), 0);
	assert_string_equal(out, "2026-12-31T23:59:59.123Z");
}

static void
test_apikey(void **state)
{
	char		 a[APIKEY_LEN + 1], b[APIKEY_LEN + 1];
	unsigned char	 ha[APIKEY_HASH_LEN], hb[APIKEY_HASH_LEN];

	(void)state;
	assert_int_equal(apikey_generate(a), 0);
	assert_int_equal(apikey_generate(b), 0);
	assert_int_equal(strlen(a), APIKEY_LEN);
	assert_true(apikey_wellformed(a));
	assert_string_not_equal(a, b);
	apikey_hash(a, ha);
	apikey_hash(b, hb);
	assert_memory_not_equal(ha, hb, APIKEY_HASH_LEN);
	a[APIKEY_LEN - 1] = '-';
	assert_false(apikey_wellformed(a));
	assert_false(apikey_wellformed("tk_live_short"));
	assert_false(apikey_wellformed(""));
	assert_false(apikey_wellformed("tc_live_0123456789012345678901234567890123456789012"));
}

/* TenantCore's tc_live_ tag names the same key; no other tag does. */
static void
test_apikey_tags(void **state)
{
	char	 k[APIKEY_LEN + 1], alias[APIKEY_LEN + 1], out[APIKEY_LEN + 1];

	(void)state;
	assert_int_equal(apikey_generate(k), 0);
	assert_int_equal(apikey_canonical(k, out), 0);
	assert_string_equal(out, k);
	memcpy(alias, k, sizeof(alias));
	memcpy(alias, "tc_live_", APIKEY_TAG_LEN);
	assert_true(apikey_tagged(alias));
	assert_int_equal(apikey_canonical(alias, out), 0);
	assert_string_equal(out, k);
	memcpy(alias, "tx_live_", APIKEY_TAG_LEN);
	assert_false(apikey_tagged(alias));
	assert_int_equal(apikey_canonical(alias, out), -1);
	assert_int_equal(apikey_canonical("tc_live_short", out), -1);
	memcpy(alias, "tc_live_", APIKEY_TAG_LEN);
	alias[APIKEY_LEN - 1] = '!';
	assert_int_equal(apikey_canonical(alias, out), -1);
}

static void
test_perm(void **state)
{
	uint32_t	 m;

	(void)state;
	assert_int_equal(perm_parse("Permissions.Multitenancy.View", 29), PERM_VIEW);
	assert_int_equal(perm_parse("Multitenancy.Create", 19), PERM_CREATE);
	assert_int_equal(perm_parse("Permissions.Tenants.UpgradeSubscription", 39), PERM_UPGRADE);
	assert_int_equal(perm_parse("Permissions.Multitenancy.Viewer", 31), PERM_NONE);
	assert_int_equal(perm_parse_list("View, Create,Delete", &m), 0);
	assert_int_equal(m, PERM_BIT(PERM_VIEW) | PERM_BIT(PERM_CREATE) | PERM_BIT(PERM_DELETE));
	assert_int_equal(perm_parse_list("all", &m), 0);
	assert_int_equal(m, PERM_ALL);
	assert_false(m & PERM_BIT(PERM_NONE));
	assert_int_equal(perm_parse_list("View,Bogus", &m), -1);
}

static void
test_json_limits(void **state)
{
	char	 err[128], deep[200];
	json_t	*j;
	int	 i;

	(void)state;
	j = codec_json_decode("{\"a\":1}", 7, err, sizeof(err));
	assert_non_null(j);
	json_decref(j);
	assert_null(codec_json_decode("{\"a\":1,\"a\":2}", 13, err, sizeof(err)));
	assert_null(codec_json_decode("[1]", 3, err, sizeof(err)));
	assert_null(codec_json_decode("{\"a\":", 5, err, sizeof(err)));
	assert_null(codec_json_decode("{\"a\":\"\\u0000\"}", 14, err, sizeof(err)));
	for (i = 0; i < 40; i++)
		deep[i] = '[';
	deep[0] = '{';
	memcpy(deep + 1, "\"a\":", 4);
	for (i = 5; i < 40; i++)
		deep[i] = '[';
	for (i = 40; i < 75; i++)
		deep[i] = ']';
	deep[75] = '}';
	assert_null(codec_json_decode(deep, 76, err, sizeof(err)));
	assert_non_null(strstr(err, "deeper"));
	/* Brackets inside strings do not count towards the depth. */
	j = codec_json_decode("{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}",
	    46, err, sizeof(err));
	assert_non_null(j);
	json_decref(j);
}

static void
test_json_encode(void **state)
{
	struct buf	 b = { 0 };
	json_t		*j, *back;

	(void)state;
	j = json_pack("{s:s, s:i, s:I, s:b, s:n, s:f, s:f, s:[s, {}], s:{}}",
	    "s", "a\"b\\c\n\t\x01\xc3\xa9/", "i", -42, "big",
	    (json_int_t)9007199254740993LL, "t", 1, "z", "r", 1.5, "whole", 2.0,
	    "arr", "x", "o");
	assert_int_equal(codec_json_encode(j, &b), 0);
	assert_string_equal(b.data, "{\"s\":\"a\\\"b\\\\c\\n\\t\\u0001\xc3\xa9/\","
	    "\"i\":-42,\"big\":9007199254740993,\"t\":true,\"z\":null,"
	    "\"r\":1.5,\"whole\":2.0,\"arr\":[\"x\",{}],\"o\":{}}");
	/* What jansson reads back is what was encoded. */
	back = json_loadb(b.data, b.len, 0, NULL);
	assert_non_null(back);
	assert_true(json_equal(j, back));
	json_decref(back);
	json_decref(j);
	buf_reset(&b);
	j = json_integer(-9223372036854775807LL - 1);
	assert_int_equal(codec_json_encode(j, &b), 0);
	assert_string_equal(b.data, "-9223372036854775808");
	json_decref(j);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_router),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_query_int),
		cmocka_unit_test(test_query_bool),
		cmocka_unit_test(test_url_encode),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_apikey),
		cmocka_unit_test(test_apikey_tags),
		cmocka_unit_test(test_perm),
		cmocka_unit_test(test_json_limits),
		cmocka_unit_test(test_json_encode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
