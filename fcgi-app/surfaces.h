/* The surfaces tenantd serves, in matching order. */
#ifndef SURFACES_H
#define SURFACES_H

#include "ctx.h"
#include "tenants.h"

/*
 * A failure of the database in the current surface's envelope: 503 with
 * Retry-After when it is unreachable or overloaded, else 500.
 */
void	 surface_db_failure(struct ctx *, enum tres);

extern const struct surface surface_system;
extern const struct surface surface_api_v1;
extern const struct surface surface_api_v1_keys;
extern const struct surface surface_api_v1_audit;
extern const struct surface surface_mindzie;
extern const struct surface surface_laravel;
extern const struct surface surface_api_v1_connections;
extern const struct surface surface_tenantcore;
extern const struct surface surface_aether365;

#endif
