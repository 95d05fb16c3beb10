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
 * The path of a request target: origin-form "/a/b?q", or absolute-form
 * "http://host/a/b?q", which Apache passes on for a proxy-style request.
 */
static const char *
target_path(const char *uri)
{
	const char	*p = uri;

	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
	    (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.')
		p++;
	if (p == uri || strncmp(p, "://", 3) != 0)
		return uri;
	p += 3 + strcspn(p + 3, "/?#");
	return *p == '/' ? p : "/";
}

/*
 * The route is the decoded path of REQUEST_URI, which every server sends
 * raw; SCRIPT_NAME/PATH_INFO are split differently by each server.
 */
static int
set_path(struct request *r, const struct config *cfg)
{
	const char	*uri = target_path(r->request_uri ? r->request_uri : "/");
	size_t		 len = strcspn(uri, "?#"), plen;
	char		*p = r->path;

	if (len >= sizeof(r->path)) {
		r->refused = "the request path is longer than 1023 bytes";
		return 414;
	}
	r->refused = "the request path cannot be decoded";
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
	r->refused = NULL;
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
 * CONTENT_LENGTH: 1 with *n, 0 when absent or empty, -1 when it is not a
 * decimal count of bytes ("-1", "+5", " 5", 20 digits).
 */
static int
content_length(const char *s, unsigned long long *n)
{
	size_t	 i;

	*n = 0;
	if (s == NULL || *s == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < '0' || s[i] > '9' || i == 18)
			return -1;
		else
			*n = *n * 10 + (unsigned long long)(s[i] - '0');
	return 1;
}

/*
 * Discards the rest of a body: to the end of a FastCGI stream, or on
 * CGI's stdin (which may be the client's socket and never end) at most
 * the n bytes CONTENT_LENGTH promised.  A CGI program that exits with
 * its body unread makes Apache mod_cgid drop the connection unanswered.
 */
/* The most of an over-long CGI body read before the 413 goes out. */
#define DRAIN_MAX	(64ULL * 1024 * 1024)

static void
drain(const struct body_source *in, unsigned long long n)
{
	char	 scratch[8192];
	int	 got, want;

	/* A CGI body's claimed length is read only so far, then answered. */
	if (n > DRAIN_MAX)
		n = DRAIN_MAX;
	while (in->ends || n > 0) {
		want = !in->ends && n < sizeof(scratch) ? (int)n :
		    (int)sizeof(scratch);
		if ((got = in->read(in->arg, scratch, want)) <= 0)
			break;
		if (!in->ends)
			n -= (unsigned long long)got;
	}
}

/* Reads up to want bytes (or to the end); the count read, -1 on error. */
static long long
read_upto(const struct body_source *in, unsigned long long want,
    struct buf *body)
{
	size_t	 chunk;
	int	 n;

	while (body->len < want) {
		chunk = want - body->len > 8192 ? 8192 : want - body->len;
		if (buf_reserve(body, chunk) == -1)
			return -1;
		if ((n = in->read(in->arg, body->data + body->len,
		    (int)chunk)) <= 0)
			break;
		body->len += (size_t)n;
	}
	return (long long)body->len;
}

/*
 * The body is exactly CONTENT_LENGTH bytes (RFC 3875 4.2; FastCGI's
 * CONTENT_LENGTH means the same): a stream that ends sooner, or runs on
 * past it, is refused rather than guessed at.  Without CONTENT_LENGTH a
 * FastCGI body runs to the end of its stream; a CGI body is read to EOF
 * only for methods that carry one (Apache mod_cgid sends no length for a
 * chunked body), never for a GET, whose stdin may never end.  Past the
 * limit the rest is drained so a kept-alive connection stays in step.
 */
static int
read_body(struct request *r, const struct body_source *in, size_t limit,
    struct buf *body)
{
	unsigned long long	 want;
	char			 extra;
	int			 has;

	buf_reset(body);
	if ((has = content_length(r->content_length, &want)) == -1) {
		drain(in, 0);
		r->refused = "CONTENT_LENGTH is not a count of bytes";
		return 400;
	}
	if (has == 0)
		want = in->ends || r->method == HTTP_POST ||
		    r->method == HTTP_PUT || r->method == HTTP_PATCH ?
		    (unsigned long long)limit + 1 : 0;
	else if (want > limit) {
		drain(in, want);
		r->refused = "the request body is over the size limit";
		return 413;
	}
	if (read_upto(in, want, body) == -1 || buf_reserve(body, 0) == -1)
		return 500;
	body->data[body->len] = '\0';
	if (has == 0 && body->len > limit) {
		drain(in, 0);
		r->refused = "the request body is over the size limit";
		return 413;
	}
	if (has == 1 && (body->len < want ||
	    (in->ends && in->read(in->arg, &extra, 1) > 0))) {
		drain(in, 0);
		r->refused = "the request body is not CONTENT_LENGTH bytes long";
		return 400;
	}
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
	if ((rc = set_path(r, cfg)) != 0) {
		drain(in, 0);
		return rc;
	}
	return read_body(r, in, (size_t)cfg->body_limit, body);
}
