/*
 * One HTTP request as tenantd sees it, read from the FastCGI parameters
 * and body.  Strings point into the FastCGI environment or into buffers
 * the worker owns; nothing here outlives the request.
 */
#ifndef REQUEST_H
#define REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"

#define REQUEST_PATH_MAX	1024

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_PATCH,
	HTTP_DELETE,
	HTTP_OPTIONS,
	HTTP__MAX		/* an unknown method */
};

struct request {
	enum http_method method;
	const char	*method_name;
	char		 path[REQUEST_PATH_MAX]; /* decoded, prefix removed */
	const char	*query;			/* raw, "" when none */
	const char	*accept;
	const char	*content_type;
	const char	*content_length;
	const char	*authorization;
	const char	*api_key;
	const char	*if_match;
	const char	*if_none_match;
	const char	*idempotency_key;
	const char	*request_id_in;
	const char	*remote_addr;
	const char	*user_agent;
	const char	*request_uri;
	const char	*scheme;
	const char	*host;
	const char	*server_port;
	char		 request_id[65];
	const char	*body;			/* NUL-terminated */
	size_t		 body_len;
	const char	*refused;		/* why request_read refused it */
};

/*
 * Where the body comes from: a FastCGI stream, or stdin in CGI mode.
 * Returns the bytes read, 0 at the end, -1 on error.
 */
struct body_source {
	int		(*read)(void *arg, char *buf, int len);
	void		*arg;
	/*
	 * The stream ends by itself (FastCGI), so bytes past CONTENT_LENGTH
	 * can be seen; a CGI stdin may be the client's socket and is never
	 * read past CONTENT_LENGTH.
	 */
	bool		 ends;
};

/*
 * Fills r from the parameters and reads the body into body (at most
 * limit bytes).  Returns 0, or the HTTP status to answer with, and why in
 * r->refused: 400 for a path that cannot be decoded or a body that is not
 * CONTENT_LENGTH bytes, 413 for a body over the limit, 414 for a path
 * over REQUEST_PATH_MAX.
 */
int		 request_read(struct request *r, char **envp,
		    const struct body_source *, const struct config *,
		    struct buf *body);
const char	*http_method_name(enum http_method);
/* Request ids come from a per-process generator: call after fork. */
void		 request_reseed(void);

#endif
