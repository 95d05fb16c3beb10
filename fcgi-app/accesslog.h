/*
 * One JSON line per request on stderr, written in batches: a worker
 * flushes when it goes idle (worker.c) and before it exits.
 */
#ifndef ACCESSLOG_H
#define ACCESSLOG_H

#include <stdbool.h>

#include "ctx.h"

void	 accesslog_write(const struct ctx *, double elapsed_ms, size_t bytes);
bool	 accesslog_pending(void);
void	 accesslog_flush(void);

#endif
