/*
 * The request pipeline: negotiation, routing, authentication, the
 * permission check and body decoding, then the handler.
 */
#ifndef APP_H
#define APP_H

#include <stdio.h>

#include "ctx.h"

/*
 * Fills c->resp for the request in c.  early is a status request_read
 * already decided on (400, 413), or 0.
 */
void	 app_handle(struct ctx *c, int early);

/*
 * Applies the surface.NAME.* settings (switched off, mounted elsewhere);
 * -1 with err for a surface that does not exist or cannot be moved.
 */
int	 app_configure(const struct config *, char *err, size_t errlen);

/*
 * Routes as numbers for the metrics: 0 when c matched none, else 1 up to
 * app_route_count() - 1; app_route_label names one as --routes does.
 */
size_t	 app_route_id(const struct ctx *c);
size_t	 app_route_count(void);
void	 app_route_label(size_t id, const char **method, char *path,
	    size_t len);

/* Prints every route served, "METHOD PATH PERMISSION" a line (--routes). */
void	 app_print_routes(FILE *);
/* Prints an nginx location for the paths served (--nginx-location). */
void	 app_print_locations(FILE *, const char *mount_prefix,
	    const char *include);

#endif
