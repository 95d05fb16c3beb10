/* The surfaces tenantd serves, in matching order. */
#ifndef SURFACES_H
#define SURFACES_H

#include "ctx.h"

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
