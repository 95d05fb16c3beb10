#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_json.h"
#include "tenant_export.h"

#define FILTER_COPY	1024

struct tenant_export {
	struct tenant_query	 q;
	char			 name[FILTER_COPY];
	char			 text[FILTER_COPY];
	char			 description[FILTER_COPY];
	const struct field_map	*fields;
	size_t			 nfields;
	enum export_fmt		 fmt;
	long long		 after;		/* the last primary key made */
	bool			 header_done;
	bool			 done;		/* the last batch is made */
	struct buf		 primed;	/* the first batch, once read */
};

static const char *const media[EXPORT__MAX] = {
	[EXPORT_NDJSON] = "application/x-ndjson; charset=utf-8",
	[EXPORT_CSV] = "text/csv; charset=utf-8; header=present",
};

const char *
tenant_export_media(enum export_fmt f)
{
	return media[f];
}

static const char *
copy(const char *s, char *to)
{
	if (s == NULL)
		return NULL;
	snprintf(to, FILTER_COPY, "%s", s);
	return to;
}

struct tenant_export *
tenant_export_new(const struct tenant_query *q, enum export_fmt fmt,
    const struct field_map *fields, size_t nfields)
{
	struct tenant_export	*e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->q = *q;
	e->q.name = copy(q->name, e->name);
	e->q.q = copy(q->q, e->text);
	e->q.description = copy(q->description, e->description);
	e->fields = fields;
	e->nfields = nfields;
	e->fmt = fmt;
	return e;
}

void
tenant_export_free(void *arg)
{
	struct tenant_export	*e = arg;

	buf_free(&e->primed);
	free(e);
}

/*
 * RFC 4180: quoted when it holds a quote, comma or line break.  A text
 * that a spreadsheet would take for a formula (OWASP "CSV injection":
 * =, +, -, @, tab, CR first) is written quoted after a ', which makes
 * Excel, LibreOffice and Sheets show it as text; NDJSON has it as it is.
 */
static int
csv_field(struct buf *out, const char *s, size_t n)
{
	size_t	 i;
	bool	 formula = n > 0 && s[0] != '\0' &&
			    strchr("=+-@\t\r", s[0]) != NULL;

	if (!formula && strcspn(s, "\",\r\n") == n)
		return buf_append(out, s, n);
	if (buf_putc(out, '"') == -1 ||
	    (formula && buf_putc(out, '\'') == -1))
		return -1;
	for (i = 0; i < n; i++)
		if ((s[i] == '"' && buf_putc(out, '"') == -1) ||
		    buf_putc(out, s[i]) == -1)
			return -1;
	return buf_putc(out, '"');
}

static int
csv_header(const struct tenant_export *e, struct buf *out)
{
	size_t	 i;

	for (i = 0; i < e->nfields; i++)
		if ((i > 0 && buf_putc(out, ',') == -1) ||
		    buf_puts(out, e->fields[i].name) == -1)
			return -1;
	return buf_puts(out, "\r\n");
}

/* A tenant as a CSV record: its JSON values, null as an empty field. */
static int
csv_row(const struct tenant_export *e, const json_t *t, struct buf *out)
{
	const json_t	*v;
	size_t		 i;
	int		 rc = 0;

	for (i = 0; i < e->nfields && rc == 0; i++) {
		v = json_object_get(t, e->fields[i].name);
		if (i > 0)
			rc = buf_putc(out, ',');
		if (rc == -1 || v == NULL || json_is_null(v))
			continue;
		if (json_is_string(v))
			rc = csv_field(out, json_string_value(v),
			    json_string_length(v));
		else if (json_is_boolean(v))
			rc = buf_puts(out, json_is_true(v) ? "true" : "false");
		else if (json_is_integer(v))
			rc = buf_put_i64(out, json_integer_value(v));
		else
			rc = codec_json_encode(v, out);
	}
	return rc == -1 ? -1 : buf_puts(out, "\r\n");
}

/* One batch into out: 1 more may follow, 0 it was the last, -1 error. */
static int
batch(struct tenant_export *e, struct db *db, struct buf *out)
{
	struct db_res	*res;
	struct db_row	 row;
	json_t		*t;
	long long	 n = 0;
	int		 rc = 0;

	if (e->fmt == EXPORT_CSV && !e->header_done) {
		if (csv_header(e, out) == -1)
			return -1;
		e->header_done = true;
	}
	if (tenant_list_after(db, &e->q, e->after, TENANT_EXPORT_BATCH,
	    &res) != DBE_OK)
		return -1;
	while (rc == 0 && db_next(res, &row) == 1) {
		e->after = strtoll(row.v[TC_PK], NULL, 10);
		n++;
		if ((t = tenant_row_json(e->fields, e->nfields, &row)) == NULL)
			rc = -1;
		else if (e->fmt == EXPORT_CSV)
			rc = csv_row(e, t, out);
		else if ((rc = codec_json_encode(t, out)) == 0)
			rc = buf_putc(out, '\n');
		json_decref(t);
	}
	db_res_free(res);
	if (rc == -1)
		return -1;
	e->done = n < TENANT_EXPORT_BATCH;
	return e->done ? 0 : 1;
}

int
tenant_export_prime(struct tenant_export *e, struct db *db)
{
	return batch(e, db, &e->primed) == -1 ? -1 : 0;
}

int
tenant_export_next(void *arg, struct db *db, struct buf *out)
{
	struct tenant_export	*e = arg;

	if (e->primed.data != NULL) {
		if (buf_append(out, e->primed.data, e->primed.len) == -1)
			return -1;
		buf_free(&e->primed);
		return e->done ? 0 : 1;
	}
	if (e->done)
		return 0;
	return batch(e, db, out);
}
