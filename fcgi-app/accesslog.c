#include <limits.h>
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
 * Lines wait in a buffer the process keeps and go out in one write(2)
 * of whole lines, which the kernel keeps whole against the other
 * workers' writes (stdio would split them): when the worker has nothing
 * else to do, or when a write would pass PIPE_BUF.
 */
static struct buf	 pending;

bool
accesslog_pending(void)
{
	return pending.len > 0;
}

void
accesslog_flush(void)
{
	if (pending.len > 0)
		(void)!write(STDERR_FILENO, pending.data, pending.len);
	buf_reset(&pending);
}

/*
 * Formatted by hand, since it runs for every request; client-supplied
 * strings are escaped as JSON.
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
	if (pending.len + line.len > PIPE_BUF)
		accesslog_flush();
	if (buf_append(&pending, line.data, line.len) == -1)
		accesslog_flush();
}
