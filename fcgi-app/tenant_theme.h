/*
 * A tenant's theme (fullstackhero's per-tenant branding): four colours
 * and two https URLs, each a column of tenant_themes.  A tenant without a
 * row has the default theme.  Changes are audited in their transaction.
 */
#ifndef TENANT_THEME_H
#define TENANT_THEME_H

#include <stdbool.h>

#include <jansson.h>

#include "auth.h"
#include "db.h"
#include "tenants.h"

enum theme_field {
	TH_PRIMARY,
	TH_SECONDARY,
	TH_BACKGROUND,
	TH_TEXT,
	TH_LOGO_URL,
	TH_FAVICON_URL,
	TH__MAX
};

struct theme {
	const char	*v[TH__MAX];	/* NULL = none (URLs only) */
	bool		 is_default;
};

/*
 * A PUT body: every field optional (an absent one takes its default),
 * unknown or invalid ones added to errors (field -> messages).  Strings
 * in t point into body.
 */
void		 theme_from_json(json_t *body, struct theme *t, json_t *errors);
json_t		*theme_json(const struct theme *);

/*
 * The theme of tenant id (slug or GUID) the principal may see, into t
 * (its strings live in *res, or are the defaults'): TR_OK, TR_NOT_FOUND.
 */
enum tres	 tenant_theme_get(struct db *, const struct principal *,
		    const char *id, struct theme *, struct db_res **);
/* Replaces the theme (t), or resets it (t NULL), with its audit event. */
enum tres	 tenant_theme_set(struct db *, const struct principal *,
		    const char *id, const struct theme *, const char *request_id);

#endif
