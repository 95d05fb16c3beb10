/*
 * Permission claims.  Each route declares one; a principal carries a
 * bitmask of the ones it holds.
 */
#ifndef PERM_H
#define PERM_H

#include <stddef.h>
#include <stdint.h>

enum perm {
	PERM_NONE = 0,		/* public route: no credential needed */
	PERM_VIEW,
	PERM_CREATE,
	PERM_UPDATE,
	PERM_DELETE,
	PERM_UPGRADE,
	PERM_MANAGE_KEYS,
	PERM_METRICS,
	PERM_MANAGE_WEBHOOKS,
	PERM_VIEW_THEME,
	PERM_UPDATE_THEME,
	PERM__MAX
};

#define PERM_BIT(p)	(1u << (p))
#define PERM_ALL	(((1u << PERM__MAX) - 1) & ~1u)

/* Canonical claim, e.g. "Permissions.Multitenancy.View". */
const char	*perm_claim(enum perm);
/* Short name, e.g. "View". */
const char	*perm_short(enum perm);
/*
 * Parses any accepted spelling of a claim ("Permissions.Multitenancy.View",
 * "Multitenancy.View", "View", "Permissions.Tenants.View", ...).
 * Returns PERM_NONE for an unknown claim.
 */
enum perm	 perm_parse(const char *, size_t);
/* Comma-separated list of any accepted spellings; -1 on an unknown one. */
int		 perm_parse_list(const char *, uint32_t *);

#endif
