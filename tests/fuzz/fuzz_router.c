/*
 * Routing as a request sees it: a raw path is percent-decoded as
 * set_path does, then matched against every surface's route table and a
 * table of edge patterns (the parameter limits).  Byte 0 picks the
 * method, byte 1 the room for Allow; the rest is the raw path.
 */
#include <string.h>

#include "ctx.h"
#include "fuzz.h"
#include "query.h"
#include "router.h"
#include "surfaces.h"

static const struct route edge_routes[] = {
	{ .method = HTTP_GET, .pattern = "/" },
	{ .method = HTTP_GET, .pattern = "/a/{p1}/{p2}/{p3}/{p4}" },
	{ .method = HTTP_GET, .pattern = "/b/{p1}/{p2}/{p3}/{p4}/{p5}" },
	{ .method = HTTP_POST, .pattern = "/a/{p1}/{p2}/{p3}/{p4}" },
	{ .method = HTTP_DELETE, .pattern = "/c/{x}/{x}" },
	{ .method = HTTP_PUT, .pattern = "/{}/{" },
	{ .method = HTTP_PATCH, .pattern = "/c/{x}/lit" },
	{ .method = HTTP_OPTIONS, .pattern = "/c/{x}/lit" },
};

static void
check_match(const struct route *routes, size_t n, enum http_method method,
    const char *path, size_t allowlen)
{
	struct route_match	 m;
	char			 allow[128];
	enum http_method	 want = method == HTTP_HEAD ? HTTP_GET : method;
	size_t			 i;
	int			 rc;

	memset(allow, 'x', sizeof(allow));
	rc = router_match(routes, n, method, path, &m,
	    allowlen > 0 ? allow : NULL, allowlen);
	FUZZ_CHECK(rc == 0 || rc == 404 || rc == 405);
	if (allowlen > 0)
		FUZZ_CHECK(memchr(allow, '\0', allowlen) != NULL);
	if (rc == 405 && allowlen > 0)
		FUZZ_CHECK(strstr(allow, "x") == NULL);
	if (rc != 0)
		return;
	FUZZ_CHECK(m.route >= routes && m.route < routes + n);
	FUZZ_CHECK(m.route->method == want);
	FUZZ_CHECK(m.nparams <= ROUTE_PARAMS_MAX);
	for (i = 0; i < m.nparams; i++) {
		FUZZ_CHECK(memchr(m.params[i].value, '\0',
		    sizeof(m.params[i].value)) != NULL);
		FUZZ_CHECK(m.params[i].value[0] != '\0');
		FUZZ_CHECK(strchr(m.params[i].value, '/') == NULL);
		FUZZ_CHECK(strstr(path, m.params[i].value) != NULL);
		FUZZ_CHECK(route_param(&m, m.params[i].name) != NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct surface *const surfaces[] = { &surface_system,
	    &surface_api_v1, &surface_api_v1_keys, &surface_api_v1_audit };
	char		 path[REQUEST_PATH_MAX];
	enum http_method method;
	size_t		 allowlen, i;
	long		 n;

	if (size < 2)
		return 0;
	method = (enum http_method)(data[0] % (HTTP__MAX + 1));
	allowlen = data[1] % 129;
	n = url_decode((const char *)data + 2, size - 2, path, sizeof(path),
	    false);
	if (n < 0)
		return 0;
	FUZZ_CHECK((size_t)n < sizeof(path) && strlen(path) == (size_t)n);
	check_match(edge_routes, sizeof(edge_routes) / sizeof(edge_routes[0]),
	    method, path, allowlen);
	for (i = 0; i < sizeof(surfaces) / sizeof(surfaces[0]); i++)
		check_match(surfaces[i]->routes, surfaces[i]->nroutes, method,
		    path, allowlen);
	return 0;
}
