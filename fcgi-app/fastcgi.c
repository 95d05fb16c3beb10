#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fastcgi.h"

/* From the FastCGI 1.0 specification. */
enum {
	FCGI_BEGIN_REQUEST = 1,
	FCGI_ABORT_REQUEST = 2,
	FCGI_END_REQUEST = 3,
	FCGI_PARAMS = 4,
	FCGI_STDIN = 5,
	FCGI_STDOUT = 6,
	FCGI_GET_VALUES = 9,
	FCGI_GET_VALUES_RESULT = 10,
	FCGI_UNKNOWN_TYPE = 11,
};
#define FCGI_VERSION_1		1
#define FCGI_HEADER_LEN		8
#define FCGI_RESPONDER		1
#define FCGI_KEEP_CONN		1
#define FCGI_REQUEST_COMPLETE	0
#define FCGI_CANT_MPX_CONN	1
#define FCGI_UNKNOWN_ROLE	3
#define FCGI_CONTENT_MAX	65535
/* Buffers above this are given back after a request instead of kept. */
#define FCGI_KEEP_CAP		(64 * 1024)
#define DECIMAL_(n)		#n
#define DECIMAL(n)		DECIMAL_(n)
/* STDOUT records written per writev(2). */
#define FCGI_IOV_BATCH		32

void
fcgi_conn_init(struct fcgi_conn *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
}

void
fcgi_conn_free(struct fcgi_conn *c)
{
	buf_free(&c->in);
	buf_free(&c->params);
	buf_free(&c->body);
	buf_free(&c->out);
}

static void
trim(struct buf *b)
{
	if (b->cap > FCGI_KEEP_CAP)
		buf_free(b);
	else
		buf_reset(b);
}

static void
end_of_request(struct fcgi_conn *c)
{
	c->id = 0;
	c->keep = false;
	c->params_done = c->stdin_done = c->params_over = false;
	c->stdin_len = 0;
	trim(&c->params);
	trim(&c->body);
}

static void
header(unsigned char *h, int type, unsigned int id, size_t len)
{
	h[0] = FCGI_VERSION_1;
	h[1] = (unsigned char)type;
	h[2] = (unsigned char)(id >> 8);
	h[3] = (unsigned char)id;
	h[4] = (unsigned char)(len >> 8);
	h[5] = (unsigned char)len;
	h[6] = 0;	/* padding */
	h[7] = 0;
}

/* An empty STDOUT record and END_REQUEST: 24 bytes at r. */
static void
ending(unsigned char *r, unsigned int id, int protocol_status)
{
	header(r, FCGI_STDOUT, id, 0);
	header(r + 8, FCGI_END_REQUEST, id, 8);
	memset(r + 16, 0, 8);	/* appStatus 0 */
	r[20] = (unsigned char)protocol_status;
}

static int
put_end(struct buf *replies, unsigned int id, int protocol_status)
{
	unsigned char	 r[24];

	ending(r, id, protocol_status);
	return buf_append(replies, r + 8, 16);
}

/* A name-value pair length: one byte, or four with the top bit set. */
static int
nv_len(const unsigned char **p, const unsigned char *end, size_t *len)
{
	const unsigned char *q = *p;

	if (q >= end)
		return -1;
	if ((q[0] & 0x80) == 0) {
		*len = q[0];
		*p = q + 1;
		return 0;
	}
	if (end - q < 4)
		return -1;
	*len = ((size_t)(q[0] & 0x7f) << 24) | ((size_t)q[1] << 16) |
	    ((size_t)q[2] << 8) | q[3];
	*p = q + 4;
	return 0;
}

/* Reads the next pair; 1 with one, 0 at the end, -1 when malformed. */
static int
nv_next(const unsigned char **p, const unsigned char *end,
    const unsigned char **name, size_t *nlen, const unsigned char **value,
    size_t *vlen)
{
	if (*p == end)
		return 0;
	if (nv_len(p, end, nlen) == -1 || nv_len(p, end, vlen) == -1 ||
	    *nlen > (size_t)(end - *p) || *vlen > (size_t)(end - *p) - *nlen)
		return -1;
	*name = *p;
	*value = *p + *nlen;
	*p += *nlen + *vlen;
	return 1;
}

static int
put_pair(struct buf *b, const char *name, const char *value)
{
	size_t		 nl = strlen(name), vl = strlen(value);
	unsigned char	 lens[2] = { (unsigned char)nl, (unsigned char)vl };

	return buf_append(b, lens, 2) == -1 || buf_append(b, name, nl) == -1 ||
	    buf_append(b, value, vl) == -1 ? -1 : 0;
}

/* Answers the variables tenantd knows; the others are left out. */
static int
get_values(const unsigned char *p, size_t len, struct buf *replies)
{
	static const char *const known[][2] = {
		{ "FCGI_MAX_CONNS", DECIMAL(FCGI_CONNS_MAX) },
		{ "FCGI_MAX_REQS", DECIMAL(FCGI_CONNS_MAX) },
		{ "FCGI_MPXS_CONNS", "0" },
	};
	const unsigned char *end = p + len, *name, *value;
	struct buf	 body = { NULL, 0, 0 };
	unsigned char	 h[FCGI_HEADER_LEN];
	size_t		 nlen, vlen, i;
	int		 rc;

	while ((rc = nv_next(&p, end, &name, &nlen, &value, &vlen)) == 1)
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strlen(known[i][0]) == nlen &&
			    memcmp(known[i][0], name, nlen) == 0 &&
			    put_pair(&body, known[i][0], known[i][1]) == -1)
				rc = -1;
	header(h, FCGI_GET_VALUES_RESULT, 0, body.len);
	if (buf_append(replies, h, sizeof(h)) == -1 ||
	    buf_append(replies, body.data ? body.data : "", body.len) == -1)
		rc = -1;
	buf_free(&body);
	return rc;
}

static enum fcgi_state
ready(const struct fcgi_conn *c)
{
	return c->params_done && c->stdin_done ? FCGI_READY : FCGI_MORE;
}

static enum fcgi_state
begin(struct fcgi_conn *c, unsigned int id, const unsigned char *p,
    size_t len, struct buf *replies)
{
	unsigned int	 role;
	bool		 keep;

	if (len != 8 || id == 0 || id == c->id)
		return FCGI_CLOSE;
	role = (unsigned int)p[0] << 8 | p[1];
	keep = (p[2] & FCGI_KEEP_CONN) != 0;
	/* One request at a time on a connection, as nginx sends them. */
	if (c->id != 0)
		return put_end(replies, id, FCGI_CANT_MPX_CONN) == -1 ?
		    FCGI_CLOSE : FCGI_MORE;
	if (role != FCGI_RESPONDER)
		return put_end(replies, id, FCGI_UNKNOWN_ROLE) == -1 || !keep ?
		    FCGI_CLOSE : FCGI_MORE;
	c->id = id;
	c->keep = keep;
	return FCGI_MORE;
}

static enum fcgi_state
params(struct fcgi_conn *c, const unsigned char *p, size_t len)
{
	if (c->params_done)
		return FCGI_MORE;
	if (len == 0) {
		c->params_done = true;
		return ready(c);
	}
	if (c->params_over || c->params.len + len > FCGI_PARAMS_MAX) {
		c->params_over = true;
		return FCGI_MORE;
	}
	return buf_append(&c->params, p, len) == -1 ? FCGI_CLOSE : FCGI_MORE;
}

static enum fcgi_state
stdin_record(struct fcgi_conn *c, const unsigned char *p, size_t len,
    size_t keep)
{
	size_t	 room = keep > c->body.len ? keep - c->body.len : 0;

	if (c->stdin_done)
		return FCGI_MORE;
	if (len == 0) {
		c->stdin_done = true;
		return ready(c);
	}
	c->stdin_len += len;
	if (room > 0 && buf_append(&c->body, p, len < room ? len : room) == -1)
		return FCGI_CLOSE;
	return FCGI_MORE;
}

static enum fcgi_state
record(struct fcgi_conn *c, int type, unsigned int id,
    const unsigned char *p, size_t len, size_t keep, struct buf *replies)
{
	unsigned char	 r[16];
	bool		 kept;

	if (type == FCGI_BEGIN_REQUEST)
		return begin(c, id, p, len, replies);
	if (id == 0) {
		/* Management records. */
		if (type == FCGI_GET_VALUES)
			return get_values(p, len, replies) == -1 ?
			    FCGI_CLOSE : FCGI_MORE;
		header(r, FCGI_UNKNOWN_TYPE, 0, 8);
		memset(r + 8, 0, 8);
		r[8] = (unsigned char)type;
		return buf_append(replies, r, sizeof(r)) == -1 ?
		    FCGI_CLOSE : FCGI_MORE;
	}
	/* Records of requests that are not open are ignored, as specified. */
	if (id != c->id)
		return FCGI_MORE;
	switch (type) {
	case FCGI_ABORT_REQUEST:
		kept = c->keep;
		end_of_request(c);
		return put_end(replies, id, FCGI_REQUEST_COMPLETE) == -1 ||
		    !kept ? FCGI_CLOSE : FCGI_MORE;
	case FCGI_PARAMS:
		return params(c, p, len);
	case FCGI_STDIN:
		return stdin_record(c, p, len, keep);
	default:
		return FCGI_MORE;
	}
}

enum fcgi_state
fcgi_parse(struct fcgi_conn *c, size_t body_keep, struct buf *replies)
{
	const unsigned char *h;
	enum fcgi_state	 st = FCGI_MORE;
	size_t		 off = 0, clen, total;

	while (st == FCGI_MORE && c->in.len - off >= FCGI_HEADER_LEN) {
		h = (const unsigned char *)c->in.data + off;
		if (h[0] != FCGI_VERSION_1)
			return FCGI_CLOSE;
		clen = (size_t)h[4] << 8 | h[5];
		total = FCGI_HEADER_LEN + clen + h[6];
		if (c->in.len - off < total)
			break;
		st = record(c, h[1], (unsigned int)h[2] << 8 | h[3],
		    h + FCGI_HEADER_LEN, clen, body_keep, replies);
		off += total;
	}
	if (off > 0) {
		memmove(c->in.data, c->in.data + off, c->in.len - off);
		c->in.len -= off;
		c->in.data[c->in.len] = '\0';
	}
	if (c->in.len == 0)
		trim(&c->in);
	return st;
}

int
fcgi_env(const struct fcgi_conn *c, struct buf *env,
    char *envp[FCGI_ENV_MAX + 1])
{
	/* No PARAMS bytes at all leave data NULL, and NULL + 0 is undefined. */
	const unsigned char *p = (const unsigned char *)(c->params.data != NULL ?
	    c->params.data : "");
	const unsigned char *end = p + c->params.len, *name, *value;
	size_t		 offs[FCGI_ENV_MAX], nlen, vlen, n = 0, i;
	int		 rc;

	buf_reset(env);
	while ((rc = nv_next(&p, end, &name, &nlen, &value, &vlen)) == 1) {
		if (n == FCGI_ENV_MAX)
			return -2;
		offs[n++] = env->len;
		if (buf_append(env, name, nlen) == -1 ||
		    buf_putc(env, '=') == -1 ||
		    buf_append(env, value, vlen) == -1 ||
		    buf_putc(env, '\0') == -1)
			return -1;
	}
	for (i = 0; i < n; i++)
		envp[i] = env->data + offs[i];
	envp[n] = NULL;
	return rc;
}

bool
fcgi_pending(const struct fcgi_conn *c)
{
	return c->out_off < c->out.len;
}

/* Queues what iov still holds behind what already waits. */
static int
queue_iov(struct fcgi_conn *c, const struct iovec *iov, int n)
{
	size_t	 total = c->out.len - c->out_off;
	int	 i;

	for (i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (total > FCGI_OUT_MAX)
		return -1;
	for (i = 0; i < n; i++)
		if (buf_append(&c->out, iov[i].iov_base, iov[i].iov_len) == -1)
			return -1;
	return 0;
}

/*
 * Writes as much of iov as the socket takes now and queues the rest; with
 * bytes already waiting, queues all of it so the order holds.
 */
static int
send_iov(struct fcgi_conn *c, struct iovec *iov, int n)
{
	ssize_t	 w;

	while (n > 0 && !fcgi_pending(c)) {
		if ((w = writev(c->fd, iov, n)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -1;
		}
		for (; n > 0 && (size_t)w >= iov->iov_len; iov++, n--)
			w -= (ssize_t)iov->iov_len;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return n > 0 ? queue_iov(c, iov, n) : 0;
}

int
fcgi_send(struct fcgi_conn *c, const char *p, size_t n)
{
	struct iovec	 iov = { (void *)p, n };

	return send_iov(c, &iov, 1);
}

int
fcgi_flush(struct fcgi_conn *c)
{
	ssize_t	 w;

	while (fcgi_pending(c)) {
		w = write(c->fd, c->out.data + c->out_off,
		    c->out.len - c->out_off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return errno == EAGAIN ? 1 : -1;
		c->out_off += (size_t)w;
	}
	c->out_off = 0;
	trim(&c->out);
	return 0;
}

/*
 * STDOUT records for p, and with end the request's end: usually one
 * writev(2) for a whole response.
 */
static int
records(struct fcgi_conn *c, const char *p, size_t n, bool end)
{
	unsigned char	 hdrs[FCGI_IOV_BATCH][FCGI_HEADER_LEN], tail[24];
	struct iovec	 iov[2 * FCGI_IOV_BATCH + 1];
	size_t		 len;
	int		 k, i;

	do {
		for (k = 0, i = 0; i < FCGI_IOV_BATCH && n > 0; i++) {
			len = n > FCGI_CONTENT_MAX ? FCGI_CONTENT_MAX : n;
			header(hdrs[i], FCGI_STDOUT, c->id, len);
			iov[k++] = (struct iovec){ hdrs[i], FCGI_HEADER_LEN };
			iov[k++] = (struct iovec){ (void *)p, len };
			p += len;
			n -= len;
		}
		if (n == 0 && end) {
			ending(tail, c->id, FCGI_REQUEST_COMPLETE);
			iov[k++] = (struct iovec){ tail, sizeof(tail) };
		}
		if (k > 0 && send_iov(c, iov, k) == -1)
			return -1;
	} while (n > 0);
	if (end)
		end_of_request(c);
	return 0;
}

int
fcgi_reply(struct fcgi_conn *c, const char *p, size_t n)
{
	return records(c, p, n, true);
}

int
fcgi_stdout(struct fcgi_conn *c, const char *p, size_t n)
{
	return records(c, p, n, false);
}

int
fcgi_end(struct fcgi_conn *c)
{
	return records(c, NULL, 0, true);
}
