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

/* Prints every route, "METHOD PATTERN PERMISSION" a line (tenantd --routes). */
void	 app_print_routes(FILE *);

#endif
