/*
 * The step of the pipeline that runs a route's handler.  A mutation that
 * sends an Idempotency-Key or ?dryRun=true, or a route that asks for it
 * (ROUTE_TXN), runs in one request transaction (db_begin): the key's
 * record commits with the change it answers, and a dry run rolls back
 * everything.  Any other request runs its handler as it is.
 */
#ifndef MUTATION_H
#define MUTATION_H

#include <stdbool.h>

#include "ctx.h"
#include "idempotency.h"

void		 mutation_run(struct ctx *);

/*
 * For answers kept under keys of their own (a bulk request's items):
 * whether an answer with this status is kept, keeping c's answer under k
 * in the current transaction, and answering c with a kept one (taken).
 */
bool		 mutation_storable(int status);
enum db_err	 mutation_store(struct ctx *, const struct idem_key *);
void		 mutation_replay(struct ctx *, json_t *answer);

#endif
