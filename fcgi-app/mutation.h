/*
 * The step of the pipeline that runs a route's handler.  A mutation that
 * sends an Idempotency-Key or ?dryRun=true, or a route that asks for it
 * (ROUTE_TXN), runs in one request transaction (db_begin): the key's
 * record commits with the change it answers, and a dry run rolls back
 * everything.  Any other request runs its handler as it is.
 */
#ifndef MUTATION_H
#define MUTATION_H

#include "ctx.h"

void	 mutation_run(struct ctx *);

#endif
