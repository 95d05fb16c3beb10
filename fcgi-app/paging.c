#include <stdio.h>

#include "paging.h"
#include "query.h"
#include "surfaces.h"

#define KEPT_MAX	1024	/* a kept value: 200 characters of up to 4 bytes */

bool
paging_refused(struct ctx *c, json_t *errors)
{
	if (json_object_size(errors) == 0) {
		json_decref(errors);
		return false;
	}
	ctx_error(c, 422, "validation_failed", "the query parameters are "
	    "invalid", errors);
	return true;
}

void
paging_cursor_link(struct ctx *c, long long cursor, long long limit)
{
	struct buf	 path = { 0 };

	if (ctx_request_path(c, &path) == 0)
		response_header(c->resp, "Link", "<%s?cursor=%lld&limit=%lld>; "
		    "rel=\"next\"", path.data, cursor, limit);
	buf_free(&path);
}

int
paging_int(struct ctx *c, const char *name, long lo, long hi, long dflt,
    long *out, json_t *errors)
{
	long long	 n = dflt;
	char		 msg[96];

	*out = dflt;
	if (query_get_int(c->req->query, name, lo, hi, &n) == -1) {
		snprintf(msg, sizeof(msg), "must be an integer from %ld to %ld",
		    lo, hi);
		field_error(errors, name, msg);
		return -1;
	}
	*out = (long)n;
	return 0;
}

/* "path?kept=...&" of every reference. */
static int
link_base(struct ctx *c, const struct paging_names *pn, struct buf *b)
{
	char	 v[KEPT_MAX];
	size_t	 i;

	if (ctx_request_path(c, b) == -1 || buf_putc(b, '?') == -1)
		return -1;
	for (i = 0; i < pn->nkept; i++)
		if (query_get(c->req->query, pn->kept[i], v, sizeof(v)) == 1 &&
		    (buf_printf(b, "%s=", pn->kept[i]) == -1 ||
		    url_encode(b, v, false) == -1 || buf_putc(b, '&') == -1))
			return -1;
	return 0;
}

void
paging_links(struct ctx *c, const struct paging_names *pn, long page,
    long size, long pages)
{
	const struct {
		const char	*rel;
		long		 page;
		int		 on;
	} rels[] = {
		{ "first", 1, 1 },
		{ "prev", page - 1 > pages ? pages : page - 1, page > 1 },
		{ "next", page + 1, page < pages },
		{ "last", pages, 1 },
	};
	struct buf	 base = { 0 }, links = { 0 };
	size_t		 i;

	if (link_base(c, pn, &base) == -1)
		goto done;
	for (i = 0; i < sizeof(rels) / sizeof(rels[0]); i++)
		if (rels[i].on && buf_printf(&links, "%s<%s%s=%ld&%s=%ld>; "
		    "rel=\"%s\"", links.len ? ", " : "", base.data, pn->page,
		    rels[i].page, pn->size, size, rels[i].rel) == -1)
			goto done;
	response_header(c->resp, "Link", "%s", links.data);
done:
	buf_free(&base);
	buf_free(&links);
}

void
paging_incomplete(struct ctx *c, bool incomplete)
{
	if (incomplete)
		response_header(c->resp, "Incomplete-Results", "true");
}

json_t *
paging_tenants(struct ctx *c, const struct tenant_query *q, long long limit,
    long long offset, const struct field_map *fields, size_t nfields,
    long long *total, bool *incomplete)
{
	struct db_res	*res;
	struct db_row	 row;
	json_t		*data;
	enum db_err	 e;
	bool		 short_total;
	int		 rc;

	if ((e = tenant_list_page(c->db, q, limit, offset, &res, total,
	    &short_total)) != DBE_OK) {
		surface_db_failure(c, tenants_result(e));
		return NULL;
	}
	data = json_array();
	while ((rc = db_next(res, &row)) == 1)
		json_array_append_new(data, tenant_row_json(fields, nfields,
		    &row));
	db_res_free(res);
	if (rc == -1) {
		json_decref(data);
		surface_db_failure(c, TR_ERROR);
		return NULL;
	}
	paging_incomplete(c, short_total);
	if (incomplete != NULL)
		*incomplete = short_total;
	return data;
}
