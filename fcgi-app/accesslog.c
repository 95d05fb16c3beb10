#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "accesslog.h"

/*
 * jansson escapes the client-supplied strings; the line goes out in one
 * write(2), which the kernel keeps whole against the other workers'
 * lines (stdio would split it).
 */
void
accesslog_write(const struct ctx *c, double ms, size_t bytes)
{
	char		 ts[32], *line;
	size_t		 n;
	struct timespec	 now;
	struct tm	 tm;
	json_t		*j;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	j = json_pack("{s:s+, s:s, s:s, s:s, s:i, s:f, s:I, s:s?, s:s?}",
	    "ts", ts, "Z",
	    "requestId", c->req->request_id,
	    "method", c->req->method_name,
	    "path", c->req->path,
	    "status", c->resp->status,
	    "ms", ms,
	    "bytes", (json_int_t)bytes,
	    "account", c->who.account[0] ? c->who.account : NULL,
	    "remote", c->req->remote_addr);
	if (j == NULL)
		return;
	if ((line = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6))) != NULL) {
		n = strlen(line);
		line[n] = '\n';	/* over the NUL: the line is written by length */
		(void)!write(STDERR_FILENO, line, n + 1);
		free(line);
	}
	json_decref(j);
}
