#include <stdio.h>
#include <string.h>

#include "router.h"

/* Length of the path segment starting at s. */
static size_t
seglen(const char *s)
{
	return strcspn(s, "/");
}

static int
pattern_match(const char *pat, const char *path, struct route_match *m)
{
	size_t	 pl, sl;

	m->nparams = 0;
	while (*pat == '/' && *path == '/') {
		pat++;
		path++;
		pl = seglen(pat);
		sl = seglen(path);
		if (pl > 2 && pat[0] == '{' && pat[pl - 1] == '}') {
			if (sl == 0 || sl >= ROUTE_PARAM_LEN ||
			    m->nparams == ROUTE_PARAMS_MAX)
				return 0;
			snprintf(m->params[m->nparams].name,
			    sizeof(m->params[0].name), "%.*s", (int)(pl - 2),
			    pat + 1);
			memcpy(m->params[m->nparams].value, path, sl);
			m->params[m->nparams].value[sl] = '\0';
			m->nparams++;
		} else if (pl != sl || strncmp(pat, path, pl) != 0)
			return 0;
		pat += pl;
		path += sl;
	}
	/* One trailing slash on the request is tolerated. */
	if (*path == '/' && path[1] == '\0')
		path++;
	return *pat == '\0' && *path == '\0';
}

static void
allow_add(char *allow, size_t len, enum http_method m)
{
	const char	*name = http_method_name(m);

	/* No room (allowlen 0, allow may be NULL): the caller wants no list. */
	if (len == 0 || strstr(allow, name) != NULL)
		return;
	if (*allow != '\0')
		strncat(allow, ", ", len - strlen(allow) - 1);
	strncat(allow, name, len - strlen(allow) - 1);
	if (m == HTTP_GET)
		allow_add(allow, len, HTTP_HEAD);
}

int
router_match(const struct route *routes, size_t n, enum http_method method,
    const char *path, struct route_match *m, char *allow, size_t allowlen)
{
	struct route_match	 tmp;
	enum http_method	 want = method == HTTP_HEAD ? HTTP_GET : method;
	size_t			 i;
	int			 seen = 0;

	if (allowlen > 0)
		*allow = '\0';
	for (i = 0; i < n; i++) {
		if (!pattern_match(routes[i].pattern, path, &tmp))
			continue;
		seen = 1;
		allow_add(allow, allowlen, routes[i].method);
		if (routes[i].method == want) {
			*m = tmp;
			m->route = &routes[i];
			return 0;
		}
	}
	return seen ? 405 : 404;
}

const char *
route_param(const struct route_match *m, const char *name)
{
	size_t	 i;

	for (i = 0; i < m->nparams; i++)
		if (strcmp(m->params[i].name, name) == 0)
			return m->params[i].value;
	return NULL;
}
