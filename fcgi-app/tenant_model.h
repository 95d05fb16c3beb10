/*
 * The tenant record: its columns, their types and their rules.  Every
 * surface maps its own field names onto these columns (a static table
 * per surface), so one validator serves all of them.
 */
#ifndef TENANT_MODEL_H
#define TENANT_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "connstr.h"
#include "db.h"

enum tcol {
	TC_PK,
	TC_SLUG,
	TC_GUID,
	TC_SHORT_ID,
	TC_ACCOUNT_ID,
	TC_NAME,
	TC_DISPLAY_NAME,
	TC_DESCRIPTION,
	TC_ADMIN_EMAIL,
	TC_IS_ACTIVE,
	TC_VALID_UPTO,
	TC_CONNECTION_STRING,
	TC_ISSUER,
	TC_COUNTRY_CODE,
	TC_CITY,
	TC_ADDRESS,
	TC_POST_CODE,
	TC_GROUP_ID,
	TC_GROUP_NAME,
	TC_IS_ACADEMIC,
	TC_PRE_RELEASE,
	TC_MAX_USER_COUNT,
	TC_MAX_ANALYST_COUNT,
	TC_USER_COUNT,
	TC_ANALYST_COUNT,
	TC_CASE_COUNT,
	TC_PROVISIONING_STATUS,
	TC_MS_TENANT_ID,
	TC_TENANT_DOMAIN,
	TC_DEFAULT_DOMAIN,
	TC_DOMAIN_COUNT,
	TC_MAILBOX_COUNT,
	TC_DISCOVERY_COMPLETED,
	TC_EXCHANGE_BOOTSTRAP_STATUS,
	TC_SMTP_AUTH_ORG_ENABLED,
	TC_CONSENTED_AT,
	TC_LAST_SYNC_AT,
	TC_CONNECTED_BY,
	TC_VERSION,
	TC_CREATED_AT,
	TC_UPDATED_AT,
	TC_EXTERNAL_ID,		/* the client's own id, unique per account */
	TC_PLAN,
	TC_METADATA,		/* FT_MAP: see tenant_metadata_merge */
	TC__MAX
};

enum ftype {
	FT_STR,
	FT_BOOL,
	FT_INT,
	FT_TIME,	/* DATETIME in the database, RFC 3339 UTC outside */
	FT_MAP,		/* an object of strings, stored as JSON text */
};

struct tcol_def {
	const char	*sql;		/* column name */
	enum ftype	 type;
	size_t		 max;		/* longest accepted value, in characters */
	bool		 writable;	/* a client may set it */
	bool		 nullable;
	const char	*dflt;		/* bound on insert when not given */
	/* Extra rule; returns NULL or the message for a bad value. */
	const char	*(*check)(const char *, size_t);
};

extern const struct tcol_def tcols[TC__MAX];

/* The SELECT list for all columns in enum order ("slug, guid, ..."). */
const char	*tenant_select_list(void);

/*
 * Client input for a create or update, in database form: strings the
 * columns accept ("1"/"0", "2026-12-31 23:59:59", decimal integers).
 */
struct tenant_input {
	bool		 set[TC__MAX];
	const char	*v[TC__MAX];	/* NULL = SQL NULL */
	char		 store[TC__MAX][24]; /* converted scalars live here */
	/*
	 * TC_METADATA as given (in body): an RFC 7396 merge patch, whose
	 * nulls remove keys; NULL for a null.  v[TC_METADATA] stays NULL
	 * until tenant_metadata_merge makes the text to store.
	 */
	json_t		*metadata;
};

/* Column c of a row inserted from in: as given, else the column's default. */
const char	*tenant_input_value(const struct tenant_input *, enum tcol);

/* Limits of metadata. */
#define METADATA_KEYS_MAX	50
#define METADATA_KEY_MAX	40	/* characters of [A-Za-z0-9_.-] */
#define METADATA_VALUE_MAX	500	/* characters */

/*
 * The stored text of metadata after the patch in->metadata (every key
 * of it checked already) over cur, the stored text (NULL: none; a PUT
 * or a create passes NULL): *out is malloc'd compact JSON with sorted
 * keys, or NULL when no key is left.  -1 when the result would have
 * more than METADATA_KEYS_MAX keys (or on memory exhaustion, *out
 * NULL both ways).
 */
int		 tenant_metadata_merge(const char *cur, json_t *patch,
		    char **out);
/* Whether s is a key metadata may have. */
bool		 tenant_metadata_key_ok(const char *s);

/* Values a surface shows that are derived from a column, not stored. */
enum derive {
	DERIVE_NONE,
	DERIVE_COUNTRY_NAME,	/* ISO 3166-1 name of country_code */
	DERIVE_EXPIRY_STATE,	/* Active, InGrace or Expired by valid_upto */
	DERIVE_NEGATED,		/* a boolean column, shown and set negated */
	DERIVE_OR_NAME,		/* shown as the name when null; set as is */
	DERIVE_GRACE_ENDS,	/* valid_upto + expiry.grace_days, or null */
	DERIVE_PRESENT,		/* whether the column is set (not null) */
};

/* Grace after valid_upto before a tenant counts as Expired (seconds). */
void		 tenant_model_set_grace(long);
long		 tenant_model_grace(void);
/*
 * When the grace of a tenant valid until valid_upto (Unix time; 0 = no
 * end) ends, as RFC 3339 into out; 0 when it is within it now, else -1.
 */
int		 tenant_in_grace(long long valid_upto, char *out, size_t len);

/*
 * What a connectionString may name (hosts, ports, database names); the
 * strings are copied.  Until it is called the defaults of config.c hold.
 */
void		 tenant_model_set_conn_policy(const struct conn_policy *);
const struct conn_policy *tenant_model_conn_policy(void);

/*
 * The connection string of a row in the clear (opened when sealed) into
 * out; -1 when it is NULL or cannot be opened.  slug is the row's.
 */
int		 tenant_conn_open(const char *v, size_t len, const char *slug,
		    char *out, size_t outlen);

/* One surface's field name for a column. */
struct field_map {
	const char	*name;
	enum tcol	 col;
	enum derive	 derive;	/* read-only unless NONE, NEGATED, OR_NAME */
};

/*
 * Converts a decoded body into input through a surface's map, checking
 * every field: unknown names, types, lengths and rules.  Each problem is
 * added to errors (an object: field name -> array of messages).  XML
 * bodies carry every scalar as a string, so from_xml relaxes the type
 * test to "parses as".  Strings in input point into body.
 */
void		 tenant_input_from_json(const struct field_map *, size_t,
		    json_t *body, bool from_xml, struct tenant_input *,
		    json_t *errors);
void		 field_error(json_t *errors, const char *field,
		    const char *msg);

/*
 * A slug made from a name: lowercase ASCII letters and digits, every other
 * run of characters one '-', at most 63 characters with "-suffix" when a
 * suffix is given; "tenant" stands in for a name that gives no valid slug.
 */
void		 tenant_slug_from_name(const char *name, const char *suffix,
		    char out[64]);

/* A DATETIME column value as an RFC 3339 JSON string (NULL -> null). */
json_t		*tenant_col_json_time(const char *);
/* Converts a row column into its JSON value by type. */
json_t		*tenant_col_json(enum tcol, const struct db_row *);
/*
 * A tenant row as a JSON object with a surface's field names, in map
 * order.  Users and passwords in connection strings are masked.
 */
json_t		*tenant_row_json(const struct field_map *, size_t,
		    const struct db_row *);

#endif
