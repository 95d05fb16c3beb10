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
/*
 * Answers a refused tenant change in the current surface's envelope: 404
 * (with not_found as its detail), 412, 422 with every field's reason, 409
 * for a name taken or an activation before provisioning is done, a
 * database failure otherwise.  0 for TR_OK, when
 * there is nothing to say, else -1.
 */
int	 surface_change_failed(struct ctx *, enum tres,
	    const struct tenant_ref *, const char *not_found);

struct field_map;
struct tenant_query;

/* 200 characters of up to 4 bytes, and more. */
#define API_V1_FILTER_MAX	1024
/* The list's filters (name, q, isActive) of /api/v1/tenants into q. */
void	 api_v1_read_filters(struct ctx *, struct tenant_query *q,
	    char bufs[3][API_V1_FILTER_MAX], json_t *errors);
/* /api/v1's tenant fields, in order. */
extern const struct field_map *const api_v1_tenant_fields;
extern const size_t api_v1_tenant_nfields;

extern const struct surface surface_api_v1_export;

/* POST /api/v1/tenants/bulk (surfaces/api_v1_bulk.c), in api_v1's table. */
void	 api_v1_bulk(struct ctx *);

extern const struct surface surface_system;
extern const struct surface surface_api_v1;
extern const struct surface surface_api_v1_keys;
extern const struct surface surface_api_v1_audit;
extern const struct surface surface_api_v1_migrations;
extern const struct surface surface_api_v1_events;
extern const struct surface surface_api_v1_webhooks;
extern const struct surface surface_mindzie;
extern const struct surface surface_laravel;
extern const struct surface surface_api_v1_connections;
extern const struct surface surface_tenantcore;
extern const struct surface surface_aether365;

#endif
