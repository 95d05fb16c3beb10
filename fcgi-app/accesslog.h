/* One JSON line per request on stderr. */
#ifndef ACCESSLOG_H
#define ACCESSLOG_H

#include "ctx.h"

void	 accesslog_write(const struct ctx *, double elapsed_ms, size_t bytes);

#endif
