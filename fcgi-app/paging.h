/*
 * Paged lists, as the surfaces share them: integer query parameters, the
 * Link header of a page, and a page of tenants read into a JSON array.
 */
#ifndef PAGING_H
#define PAGING_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "ctx.h"
#include "tenant_list.h"
#include "tenant_model.h"

/*
 * An integer query parameter in [lo, hi] (digits only), dflt when absent;
 * -1 with a field error in errors when it is not such an integer.
 */
int	 paging_int(struct ctx *, const char *name, long lo, long hi,
	    long dflt, long *out, json_t *errors);

/*
 * Answers 422 with the problems of the query parameters and returns true
 * when errors holds any; takes errors either way.
 */
bool	 paging_refused(struct ctx *, json_t *errors);

/*
 * Link rel="next" of a list read by cursor (?cursor=&limit=), under the
 * path the request came in on.
 */
void	 paging_cursor_link(struct ctx *, long long cursor, long long limit);

/* Where a list's pages are numbered, and what else a link carries over. */
struct paging_names {
	const char		*page;		/* "pageNumber", "page" */
	const char		*size;		/* "pageSize" */
	const char *const	*kept;		/* filters, sort */
	size_t			 nkept;
};

/*
 * Link (RFC 8288): first, prev, next and last pages of the path the
 * request came in on, with the kept parameters decoded and encoded again,
 * so nothing a client sent can close a reference or add another.
 */
void	 paging_links(struct ctx *, const struct paging_names *, long page,
	    long size, long pages);

/*
 * The rows offset .. offset + limit - 1 of q through fields, and the total
 * they are part of; NULL once the failure is answered.  *incomplete (when
 * not NULL) says the total may be short (tenant_list_page), as does the
 * response's header (paging_incomplete).
 */
json_t	*paging_tenants(struct ctx *, const struct tenant_query *,
	    long long limit, long long offset, const struct field_map *,
	    size_t, long long *total, bool *incomplete);

/*
 * Incomplete-Results: true on a list or count whose total may be short of
 * all matches (tenant_list_page): every surface says so in a header, as
 * its body stays the seed's.
 */
void	 paging_incomplete(struct ctx *, bool incomplete);

#endif
