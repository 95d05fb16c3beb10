#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "accesslog.h"
#include "codec_json.h"

/* A JSON string, or null for NULL. */
static void
put_str(struct buf *b, const char *name, const char *v)
{
	buf_printf(b, ",\"%s\":", name);
	if (v == NULL)
		buf_puts(b, "null");
	else
		codec_json_string(b, v, strlen(v));
}

/*
 * Formatted by hand into a buffer the process keeps, since it runs for
 * every request; client-supplied strings are escaped as JSON.  The line
 * goes out in one write(2), which the kernel keeps whole against the
 * other workers' lines (stdio would split it).
 */
void
accesslog_write(const struct ctx *c, double ms, size_t bytes)
{
	static struct buf	 line;
	char			 ts[32];
	struct timespec		 now;
	struct tm		 tm;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_reset(&line);
	buf_printf(&line, "{\"ts\":\"%s\"", ts);
	put_str(&line, "requestId", c->req->request_id);
	put_str(&line, "method", c->req->method_name);
	put_str(&line, "path", c->req->path);
	buf_printf(&line, ",\"status\":%d,\"ms\":%.3f,\"bytes\":%lu",
	    c->resp->status, ms, (unsigned long)bytes);
	put_str(&line, "account", c->who.account[0] ? c->who.account : NULL);
	put_str(&line, "remote", c->req->remote_addr);
	if (buf_puts(&line, "}\n") == -1)
		return;
	(void)!write(STDERR_FILENO, line.data, line.len);
}
