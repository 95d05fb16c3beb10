/*
 * Every tenant of a list query as NDJSON or CSV, made in batches by a
 * keyset walk of the primary key: each batch is one range read however
 * far in, and only one batch is held at a time, so an export of any size
 * runs in the memory of one batch.  The producer behind a streamed
 * response (response_stream).
 */
#ifndef TENANT_EXPORT_H
#define TENANT_EXPORT_H

#include <stddef.h>

#include "buf.h"
#include "db.h"
#include "tenant_list.h"
#include "tenant_model.h"

#define TENANT_EXPORT_BATCH	1000

enum export_fmt {
	EXPORT_NDJSON,	/* one JSON object a line */
	EXPORT_CSV,	/* RFC 4180, a header row of the field names */
	EXPORT__MAX
};

/* The media type of a format, for Content-Type. */
const char	*tenant_export_media(enum export_fmt);
/*
 * An export of q's tenants (q's strings are copied) with the fields of
 * map; NULL when out of memory.
 */
struct tenant_export *tenant_export_new(const struct tenant_query *q,
		    enum export_fmt, const struct field_map *, size_t);
/*
 * Reads the first batch now, so that a database failure is still an
 * error answer rather than a cut-off body: 0, or -1.
 */
int		 tenant_export_prime(struct tenant_export *, struct db *);
/* response_stream.next and .free. */
int		 tenant_export_next(void *, struct db *, struct buf *out);
void		 tenant_export_free(void *);

#endif
