/*
 * Regression tests for what the libFuzzer harnesses (tests/fuzz/) found.
 * Each input is also kept in the harness's seed corpus, named in the
 * comment, so every fuzz run replays it first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "codec_xml.h"
#include "fastcgi.h"
#include "router.h"

static void
rec(struct buf *b, int type, unsigned id, const void *p, size_t n)
{
	unsigned char	 h[8] = { 1, (unsigned char)type,
	    (unsigned char)(id >> 8), (unsigned char)id,
	    (unsigned char)(n >> 8), (unsigned char)n, 0, 0 };

	assert_int_equal(buf_append(b, h, 8), 0);
	assert_int_equal(buf_append(b, p, n), 0);
}

/*
 * corpus/router/regress_allow_null: a caller that wants no Allow list
 * passes no room for it (NULL, 0); a path whose patterns match but not
 * the method wrote to it anyway (strstr on NULL).
 */
static void
test_router_allow_no_room(void **state)
{
	static const struct route routes[] = {
		{ .method = HTTP_GET, .pattern = "/a/{x}" },
		{ .method = HTTP_POST, .pattern = "/a/{x}" },
	};
	struct route_match	 m;
	char			 allow[1] = { 'x' };

	(void)state;
	assert_int_equal(router_match(routes, 2, HTTP_DELETE, "/a/1", &m,
	    NULL, 0), 405);
	assert_int_equal(router_match(routes, 2, HTTP_DELETE, "/a/1", &m,
	    allow, sizeof(allow)), 405);
	assert_int_equal(allow[0], '\0');
	assert_int_equal(router_match(routes, 2, HTTP_POST, "/a/1", &m,
	    NULL, 0), 0);
	assert_ptr_equal(m.route, &routes[1]);
}

/*
 * corpus/fastcgi/regress_no_params: a request whose PARAMS stream is
 * empty leaves the parameter buffer unallocated; fcgi_env computed
 * NULL + 0 (undefined behaviour, reported by clang's UBSan).
 */
static void
test_fcgi_env_no_params(void **state)
{
	static const unsigned char begin[8] = { 0, 1, 1 };
	struct fcgi_conn c;
	struct buf	 replies = { NULL, 0, 0 }, env = { NULL, 0, 0 };
	char		*envp[FCGI_ENV_MAX + 1];

	(void)state;
	fcgi_conn_init(&c, -1);
	rec(&c.in, 1, 1, begin, sizeof(begin));
	rec(&c.in, 4, 1, NULL, 0);
	rec(&c.in, 5, 1, NULL, 0);
	assert_int_equal(fcgi_parse(&c, 1024, &replies), FCGI_READY);
	assert_null(c.params.data);
	envp[0] = (char *)"stale";
	assert_int_equal(fcgi_env(&c, &env, envp), 0);
	assert_null(envp[0]);
	fcgi_conn_free(&c);
	buf_free(&replies);
	buf_free(&env);
}

/* Decodes xml, writes it back, decodes that: the two trees are equal. */
static void
xml_round_trip(const char *xml, const char *must_contain)
{
	struct buf	 out = { NULL, 0, 0 };
	char		 err[256];
	json_t		*v, *back;

	v = codec_xml_decode(xml, strlen(xml), err, sizeof(err));
	assert_non_null(v);
	assert_int_equal(codec_xml_encode(v, "tenant", "item", &out), 0);
	assert_non_null(strstr(out.data, must_contain));
	back = codec_xml_decode(out.data, out.len, err, sizeof(err));
	assert_non_null(back);
	assert_true(json_equal(v, back));
	json_decref(back);
	json_decref(v);
	buf_free(&out);
}

/*
 * corpus/xml/regress_single_member: an object whose one member is named
 * like an array item of it ("tenant" in "tenants", or "value", "item",
 * "message") was written as that element and read back as an array.
 * Such a member is written as <entry key="...">.
 */
static void
test_xml_single_member_object(void **state)
{
	(void)state;
	xml_round_trip("<tenant><tenants><entry key=\"tenant\">w</entry>"
	    "</tenants></tenant>", "<tenants><entry key=\"tenant\">w</entry>");
	xml_round_trip("<tenant><a><entry key=\"value\">v</entry></a></tenant>",
	    "<a><entry key=\"value\">v</entry></a>");
	xml_round_trip("<tenant><entries><entry key=\"entry\"><x>1</x><y>2</y>"
	    "</entry></entries></tenant>", "<entry key=\"entry\"><x>1</x>");
	/* Arrays and the document element are written as before. */
	xml_round_trip("<tenant><tenants><tenant>a</tenant></tenants></tenant>",
	    "<tenants><tenant>a</tenant></tenants>");
	xml_round_trip("<tenant><value>v</value></tenant>",
	    "<value>v</value>");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_router_allow_no_room),
		cmocka_unit_test(test_fcgi_env_no_params),
		cmocka_unit_test(test_xml_single_member_object),
	};

	codec_xml_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
