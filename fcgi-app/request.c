#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "query.h"
#include "request.h"

static const char *const methods[HTTP__MAX] = {
	[HTTP_GET] = "GET",
	[HTTP_HEAD] = "HEAD",
	[HTTP_POST] = "POST",
	[HTTP_PUT] = "PUT",
	[HTTP_PATCH] = "PATCH",
	[HTTP_DELETE] = "DELETE",
	[HTTP_OPTIONS] = "OPTIONS",
};

/* The FastCGI parameters tenantd reads, and where each lands. */
#define SLOT(n, f)	{ n, sizeof(n) - 1, offsetof(struct request, f) }
static const struct param_slot {
	const char	*name;
	size_t		 len;
	size_t		 off;
} param_slots[] = {
	SLOT("HTTP_ACCEPT", accept),
	SLOT("CONTENT_TYPE", content_type),
	SLOT("CONTENT_LENGTH", content_length),
	SLOT("HTTP_AUTHORIZATION", authorization),
	SLOT("HTTP_X_API_KEY", api_key),
	SLOT("HTTP_IF_MATCH", if_match),
	SLOT("HTTP_IF_NONE_MATCH", if_none_match),
	SLOT("HTTP_IDEMPOTENCY_KEY", idempotency_key),
	SLOT("HTTP_X_REQUEST_ID", request_id_in),
	SLOT("REMOTE_ADDR", remote_addr),
	SLOT("HTTP_USER_AGENT", user_agent),
	SLOT("REQUEST_URI", request_uri),
	SLOT("QUERY_STRING", query),
	SLOT("REQUEST_SCHEME", scheme),
	SLOT("HTTP_HOST", host),
	SLOT("SERVER_PORT", server_port),
	SLOT("REQUEST_METHOD", method_name),
};

const char *
http_method_name(enum http_method m)
{
	return m < HTTP__MAX ? methods[m] : "";
}

static void
read_params(struct request *r, char **envp)
{
	const char	*eq;
	size_t		 i, klen;

	for (; envp != NULL && *envp != NULL; envp++) {
		if ((eq = strchr(*envp, '=')) == NULL)
			continue;
		klen = (size_t)(eq - *envp);
		for (i = 0; i < sizeof(param_slots) / sizeof(param_slots[0]); i++)
			if (param_slots[i].len == klen &&
			    memcmp(param_slots[i].name, *envp, klen) == 0) {
				*(const char **)((char *)r + param_slots[i].off) =
				    eq + 1;
				break;
			}
	}
}

static int
valid_request_id(const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++, n++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return 0;
	return n > 0 && n < 65;
}

static uint64_t	 rng_state;
static bool	 rng_seeded;

void
request_reseed(void)
{
	rng_seeded = false;
}

/* splitmix64: a fast generator, fine for ids that need only be unique. */
static uint64_t
next_random(void)
{
	uint64_t	 z;

	/* Each worker reseeds after fork, so no two share a stream. */
	if (!rng_seeded) {
		rng_seeded = true;
		if (RAND_bytes((unsigned char *)&rng_state,
		    sizeof(rng_state)) != 1)
			rng_state = (uint64_t)time(NULL) ^
			    ((uint64_t)getpid() << 32);
	}
	z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * The client's X-Request-Id when it is well-formed, else a new version 4
 * UUID.  libuuid reseeds random(3) on every call, which showed up at 6 %
 * of a request in callgrind; request ids need uniqueness, not secrecy.
 */
static void
set_request_id(struct request *r)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 u[16];
	uint64_t	 a, b;
	size_t		 i, o = 0;

	if (r->request_id_in != NULL && valid_request_id(r->request_id_in)) {
		strcpy(r->request_id, r->request_id_in);
		return;
	}
	a = next_random();
	b = next_random();
	memcpy(u, &a, 8);
	memcpy(u + 8, &b, 8);
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			r->request_id[o++] = '-';
		r->request_id[o++] = hex[u[i] >> 4];
		r->request_id[o++] = hex[u[i] & 0xf];
	}
	r->request_id[o] = '\0';
}

/*
 * The route is the decoded path of REQUEST_URI, which every server sends
 * raw; SCRIPT_NAME/PATH_INFO are split differently by each server.
 */
static int
set_path(struct request *r, const struct config *cfg)
{
	const char	*uri = r->request_uri ? r->request_uri : "/";
	size_t		 len = strcspn(uri, "?#"), plen;
	char		*p = r->path;

	if (url_decode(uri, len, p, sizeof(r->path), false) < 0)
		return 400;
	plen = strlen(cfg->mount_prefix);
	while (plen > 0 && cfg->mount_prefix[plen - 1] == '/')
		plen--;
	if (plen > 0 && strncmp(p, cfg->mount_prefix, plen) == 0 &&
	    (p[plen] == '/' || p[plen] == '\0')) {
		memmove(p, p + plen, strlen(p + plen) + 1);
		if (*p == '\0')
			strcpy(p, "/");
	}
	if (*p != '/')
		return 400;
	return 0;
}

static void
set_method(struct request *r)
{
	int	 m;

	r->method = HTTP__MAX;
	if (r->method_name == NULL)
		r->method_name = "GET";
	for (m = 0; m < HTTP__MAX; m++)
		if (strcmp(methods[m], r->method_name) == 0)
			r->method = (enum http_method)m;
}

/*
 * Reads to EOF whatever the length header says, since Apache mod_cgid
 * sends none for chunked bodies.  Past the limit the rest is drained so a
 * kept-alive FastCGI connection stays in step.
 */
static int
read_body(struct request *r, const struct body_source *in, size_t limit,
    struct buf *body)
{
	char	 scratch[8192];
	int	 n;

	buf_reset(body);
	if (r->content_length != NULL && *r->content_length != '\0' &&
	    strtoull(r->content_length, NULL, 10) > limit) {
		while (in->read(in->arg, scratch, sizeof(scratch)) > 0)
			;
		return 413;
	}
	for (;;) {
		if (buf_reserve(body, sizeof(scratch)) == -1)
			return 500;
		n = in->read(in->arg, body->data + body->len, sizeof(scratch));
		if (n <= 0)
			break;
		body->len += (size_t)n;
		body->data[body->len] = '\0';
		if (body->len > limit) {
			while (in->read(in->arg, scratch, sizeof(scratch)) > 0)
				;
			return 413;
		}
	}
	if (buf_reserve(body, 0) == -1)
		return 500;
	body->data[body->len] = '\0';
	r->body = body->data;
	r->body_len = body->len;
	return 0;
}

int
request_read(struct request *r, char **envp, const struct body_source *in,
    const struct config *cfg, struct buf *body)
{
	int	 rc;

	memset(r, 0, sizeof(*r));
	read_params(r, envp);
	if (r->query == NULL)
		r->query = "";
	set_method(r);
	set_request_id(r);
	r->body = "";
	rc = read_body(r, in, (size_t)cfg->body_limit, body);
	if (set_path(r, cfg) != 0)
		return 400;
	return rc;
}
