/*
 * GET /api/v1/tenants/export: every tenant the caller may see, with the
 * list's filters, streamed as NDJSON or CSV by Accept (tenant_export.c).
 * Served before /api/v1's routes, where "export" would be a tenant id.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../paging.h"
#include "../surfaces.h"
#include "../tenant_export.h"
#include "../tenant_model.h"

static void	 h_export(struct ctx *);

static const struct route routes[] = {
	{ HTTP_GET, "/api/v1/tenants/export", PERM_VIEW, h_export,
	    ROUTE_NO_TENANT_KEY | ROUTE_OWN_MEDIA },
};

/* Media ranges and the format each one picks, most specific first. */
static const struct {
	const char	*range;
	enum export_fmt	 fmt;
} ranges[] = {
	{ "application/x-ndjson", EXPORT_NDJSON },
	{ "application/ndjson", EXPORT_NDJSON },
	{ "application/jsonl", EXPORT_NDJSON },
	{ "text/csv", EXPORT_CSV },
	{ "application/*", EXPORT_NDJSON },
	{ "text/*", EXPORT_CSV },
	{ "*/*", EXPORT_NDJSON },
};

/* Whether the parameters from p (a ';') to end say q=0 (RFC 9110 12.4.2). */
static int
refused(const char *p, const char *end)
{
	while (p != NULL && p < end) {
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p >= 2 && (*p == 'q' || *p == 'Q') && p[1] == '=')
			return strtod(p + 2, NULL) <= 0.0;
		p = memchr(p, ';', (size_t)(end - p));
	}
	return 0;
}

/*
 * The format of the first range in Accept that names one, skipping
 * ranges refused with q=0; NDJSON without Accept; -1 for none (406).
 */
static int
pick(const char *accept, enum export_fmt *out)
{
	const char	*p = accept, *end, *semi;
	size_t		 len, i;

	*out = EXPORT_NDJSON;
	if (accept == NULL || *accept == '\0')
		return 0;
	for (; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		end = p + strcspn(p, ",");
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		semi = memchr(p, ';', (size_t)(end - p));
		len = (size_t)((semi != NULL ? semi : end) - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (refused(semi, end))
			continue;
		for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
			if (strlen(ranges[i].range) == len &&
			    strncasecmp(p, ranges[i].range, len) == 0) {
				*out = ranges[i].fmt;
				return 0;
			}
	}
	return -1;
}

static void
h_export(struct ctx *c)
{
	struct tenant_query	 q;
	struct tenant_export	*e;
	enum export_fmt		 fmt;
	char			 bufs[3][API_V1_FILTER_MAX];
	json_t			*errors;

	if (pick(c->req->accept, &fmt) == -1) {
		ctx_error(c, 406, "not_acceptable", "the export is available as "
		    "application/x-ndjson or text/csv", NULL);
		return;
	}
	errors = json_object();
	api_v1_read_filters(c, &q, bufs, errors);
	if (paging_refused(c, errors))
		return;
	if ((e = tenant_export_new(&q, fmt, api_v1_tenant_fields,
	    api_v1_tenant_nfields)) == NULL || tenant_export_prime(e,
	    c->db) == -1) {
		if (e != NULL)
			tenant_export_free(e);
		surface_db_failure(c, tenants_result(db_classify(
		    db_errno(c->db))));
		return;
	}
	response_header(c->resp, "Content-Disposition",
	    "attachment; filename=\"tenants.%s\"",
	    fmt == EXPORT_CSV ? "csv" : "ndjson");
	response_stream(c->resp, 200, &(struct response_stream){
	    .next = tenant_export_next, .free = tenant_export_free,
	    .state = e, .media = tenant_export_media(fmt) });
}

const struct surface surface_api_v1_export = {
	.name = "api_v1_export",
	.prefix = "/api/v1/tenants/export",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.error = ctx_problem,
};
