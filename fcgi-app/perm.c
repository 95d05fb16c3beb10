#include <string.h>

#include "perm.h"

static const char *const perm_shorts[PERM__MAX] = {
	[PERM_NONE] = "",
	[PERM_VIEW] = "View",
	[PERM_CREATE] = "Create",
	[PERM_UPDATE] = "Update",
	[PERM_DELETE] = "Delete",
	[PERM_UPGRADE] = "UpgradeSubscription",
	[PERM_MANAGE_KEYS] = "ManageKeys",
	[PERM_METRICS] = "Metrics",
	[PERM_MANAGE_WEBHOOKS] = "ManageWebhooks",
	[PERM_VIEW_THEME] = "ViewTheme",
	[PERM_UPDATE_THEME] = "UpdateTheme",
};

static const char *const perm_claims[PERM__MAX] = {
	[PERM_NONE] = "",
	[PERM_VIEW] = "Permissions.Multitenancy.View",
	[PERM_CREATE] = "Permissions.Multitenancy.Create",
	[PERM_UPDATE] = "Permissions.Multitenancy.Update",
	[PERM_DELETE] = "Permissions.Multitenancy.Delete",
	[PERM_UPGRADE] = "Permissions.Multitenancy.UpgradeSubscription",
	[PERM_MANAGE_KEYS] = "Permissions.Multitenancy.ManageKeys",
	[PERM_METRICS] = "Permissions.Multitenancy.Metrics",
	[PERM_MANAGE_WEBHOOKS] = "Permissions.Multitenancy.ManageWebhooks",
	[PERM_VIEW_THEME] = "Permissions.Multitenancy.ViewTheme",
	[PERM_UPDATE_THEME] = "Permissions.Multitenancy.UpdateTheme",
};

/*
 * Prefixes that may stand before the short name.  "Permissions.Tenants."
 * is what fullstackhero itself issues; the others are the seed's form and
 * its short form.
 */
static const char *const perm_prefixes[] = {
	"Permissions.Multitenancy.",
	"Permissions.Tenants.",
	"Multitenancy.",
	"Tenants.",
	"",
};

const char *
perm_claim(enum perm p)
{
	return p < PERM__MAX ? perm_claims[p] : "";
}

const char *
perm_short(enum perm p)
{
	return p < PERM__MAX ? perm_shorts[p] : "";
}

enum perm
perm_parse(const char *s, size_t len)
{
	size_t	 i, plen;
	int	 p;

	for (i = 0; i < sizeof(perm_prefixes) / sizeof(perm_prefixes[0]); i++) {
		plen = strlen(perm_prefixes[i]);
		if (len < plen || strncmp(s, perm_prefixes[i], plen) != 0)
			continue;
		for (p = PERM_NONE + 1; p < PERM__MAX; p++)
			if (len - plen == strlen(perm_shorts[p]) &&
			    strncmp(s + plen, perm_shorts[p], len - plen) == 0)
				return (enum perm)p;
	}
	return PERM_NONE;
}

int
perm_parse_list(const char *s, uint32_t *out)
{
	const char	*end;
	size_t		 len;
	enum perm	 p;

	*out = 0;
	while (*s != '\0') {
		while (*s == ' ' || *s == ',')
			s++;
		if (*s == '\0')
			break;
		end = s + strcspn(s, ", ");
		len = (size_t)(end - s);
		if (len == 3 && strncmp(s, "all", 3) == 0)
			*out |= PERM_ALL;
		else if ((p = perm_parse(s, len)) == PERM_NONE)
			return -1;
		else
			*out |= PERM_BIT(p);
		s = end;
	}
	return 0;
}
