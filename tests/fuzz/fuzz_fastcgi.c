/*
 * The FastCGI record layer, as a worker drives it: the input is a byte
 * stream from the web server, handed to fcgi_parse in chunks whose sizes
 * the input picks (so records and their headers are split at every
 * byte), with fcgi_env, request_read and fcgi_reply for each complete
 * request.  Checked: the states the API promises, the replies as whole
 * records, and the answer framed back to exactly what was sent.
 *
 * Input: byte 0 picks the chunk sizes (mode % 4: 0 one byte at a time,
 * 1 all at once, 2 and 3 sizes from a generator seeded by byte 1, up to
 * 1 + 64 * (mode / 4) bytes); byte 1 also sets the body limit (4 bytes
 * a step); the rest is the stream.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fastcgi.h"
#include "fuzz.h"
#include "request.h"

#define HDR		8
#define T_END		3
#define T_STDOUT	6
#define T_GET_VALUES_RESULT 10
#define T_UNKNOWN_TYPE	11

struct chunker {
	unsigned int	 mode;
	uint32_t	 state;
};

struct reader {
	const struct buf *b;
	size_t		 off;
};

static int	 out_fd = -1;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* fcgi_reply writes to a file, read back to check the framing. */
	out_fd = memfd_create("fuzz_fastcgi", 0);
	FUZZ_CHECK(out_fd != -1);
	return 0;
}

static size_t
next_chunk(struct chunker *ch, size_t left)
{
	size_t	 max, n;

	switch (ch->mode % 4) {
	case 0:
		n = 1;
		break;
	case 1:
		n = left;
		break;
	default:
		ch->state ^= ch->state << 13;
		ch->state ^= ch->state >> 17;
		ch->state ^= ch->state << 5;
		max = 1 + 64 * (ch->mode / 4);
		n = 1 + ch->state % max;
		break;
	}
	return n < left ? n : left;
}

static unsigned int
be16(const unsigned char *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

/* fcgi_parse's replies are whole management or END_REQUEST records. */
static void
check_replies(const struct buf *r)
{
	const unsigned char *p = (const unsigned char *)r->data;
	size_t		 off = 0, clen;

	while (off < r->len) {
		FUZZ_CHECK(r->len - off >= HDR);
		FUZZ_CHECK(p[off] == 1);
		FUZZ_CHECK(p[off + 1] == T_END ||
		    p[off + 1] == T_GET_VALUES_RESULT ||
		    p[off + 1] == T_UNKNOWN_TYPE);
		clen = be16(p + off + 4);
		FUZZ_CHECK(p[off + 1] != T_END || clen == 8);
		FUZZ_CHECK(p[off + 1] != T_UNKNOWN_TYPE || clen == 8);
		FUZZ_CHECK(p[off + 1] == T_END || be16(p + off + 2) == 0);
		FUZZ_CHECK(r->len - off - HDR >= clen + p[off + 6]);
		off += HDR + clen + p[off + 6];
	}
}

/* Between requests nothing of the last one is left. */
static void
check_idle(const struct fcgi_conn *c)
{
	FUZZ_CHECK(!c->keep && !c->params_done && !c->stdin_done &&
	    !c->params_over);
	FUZZ_CHECK(c->stdin_len == 0 && c->params.len == 0 &&
	    c->body.len == 0);
}

static void
check_state(const struct fcgi_conn *c, enum fcgi_state st, size_t keep)
{
	const unsigned char *h = (const unsigned char *)c->in.data;

	FUZZ_CHECK(st == FCGI_MORE || st == FCGI_READY || st == FCGI_CLOSE);
	FUZZ_CHECK(c->params.len <= FCGI_PARAMS_MAX);
	FUZZ_CHECK(c->body.len <= keep && c->body.len <= c->stdin_len);
	if (c->id == 0)
		check_idle(c);
	if (st == FCGI_READY) {
		FUZZ_CHECK(c->id != 0 && c->params_done && c->stdin_done);
		FUZZ_CHECK(c->body.len ==
		    (c->stdin_len < keep ? c->stdin_len : keep));
	}
	/* MORE means no whole record is left unparsed. */
	if (st == FCGI_MORE && c->in.len >= HDR)
		FUZZ_CHECK(h[0] == 1 &&
		    c->in.len < HDR + be16(h + 4) + h[6]);
}

static int
read_body(void *arg, char *dst, int len)
{
	struct reader	*r = arg;
	size_t		 n = r->b->len - r->off;

	if ((size_t)len < n)
		n = (size_t)len;
	if (n > 0)
		memcpy(dst, r->b->data + r->off, n);
	r->off += n;
	return (int)n;
}

/* The answer's records, read back, hold exactly p[0..n) for request id. */
static void
check_framing(unsigned int id, const char *p, size_t n)
{
	struct stat	 st;
	unsigned char	*f;
	size_t		 off = 0, got = 0, clen;

	FUZZ_CHECK(fstat(out_fd, &st) == 0);
	FUZZ_CHECK((size_t)st.st_size >= 24);
	FUZZ_CHECK((f = malloc((size_t)st.st_size)) != NULL);
	FUZZ_CHECK(pread(out_fd, f, (size_t)st.st_size, 0) == st.st_size);
	for (;;) {
		FUZZ_CHECK((size_t)st.st_size - off >= HDR);
		FUZZ_CHECK(f[off] == 1 && be16(f + off + 2) == id);
		clen = be16(f + off + 4);
		FUZZ_CHECK((size_t)st.st_size - off - HDR >= clen + f[off + 6]);
		if (f[off + 1] != T_STDOUT)
			break;
		FUZZ_CHECK(got + clen <= n);
		FUZZ_CHECK(clen == 0 || memcmp(f + off + HDR, p + got, clen) == 0);
		got += clen;
		off += HDR + clen + f[off + 6];
		/* An empty STDOUT record ends the stream. */
		if (clen == 0)
			break;
	}
	FUZZ_CHECK(got == n);
	FUZZ_CHECK(f[off + 1] == T_END && be16(f + off + 4) == 8);
	FUZZ_CHECK(f[off + HDR + 4] == 0);	/* FCGI_REQUEST_COMPLETE */
	FUZZ_CHECK(off + HDR + 8 == (size_t)st.st_size);
	free(f);
}

/* What a worker does with a complete request; false to close. */
static bool
serve(struct fcgi_conn *c, size_t keep, struct buf *env, struct buf *body,
    struct buf *answer)
{
	char			*envp[FCGI_ENV_MAX + 1];
	struct config		 cfg;
	struct request		 r;
	struct reader		 rd = { &c->body, 0 };
	struct body_source	 src = { read_body, &rd, true };
	unsigned int		 id = c->id;
	bool			 kept = c->keep;
	int			 rc = -2, status = 431;
	size_t			 i;

	buf_reset(answer);
	if (!c->params_over && (rc = fcgi_env(c, env, envp)) != -2) {
		FUZZ_CHECK(rc == 0 || rc == -1);
		status = 400;
	}
	if (!c->params_over && rc == 0) {
		for (i = 0; envp[i] != NULL; i++)
			FUZZ_CHECK(envp[i] >= env->data &&
			    envp[i] < env->data + env->len);
		FUZZ_CHECK(i <= FCGI_ENV_MAX);
		config_defaults(&cfg);
		cfg.body_limit = keep > 0 ? (long)keep - 1 : 0;
		snprintf(cfg.mount_prefix, sizeof(cfg.mount_prefix), "/t");
		status = request_read(&r, envp, &src, &cfg, body);
		FUZZ_CHECK(status == 0 || status == 400 || status == 413 ||
		    status == 414);
		FUZZ_CHECK(strlen(r.path) < REQUEST_PATH_MAX);
		if (status == 0) {
			FUZZ_CHECK(r.path[0] == '/');
			FUZZ_CHECK(r.body_len <= (size_t)cfg.body_limit);
			FUZZ_CHECK(r.body_len <= c->body.len);
			FUZZ_CHECK(r.body_len == 0 ||
			    memcmp(r.body, c->body.data, r.body_len) == 0);
		} else
			FUZZ_CHECK(r.refused != NULL);
	}
	/* Echo the body back: the answer must arrive byte for byte. */
	FUZZ_CHECK(buf_printf(answer, "Status: %d\r\n\r\n",
	    status == 0 ? 200 : status) == 0);
	FUZZ_CHECK(buf_append(answer, c->body.data ? c->body.data : "",
	    c->body.len) == 0);
	FUZZ_CHECK(ftruncate(out_fd, 0) == 0 &&
	    lseek(out_fd, 0, SEEK_SET) == 0);
	FUZZ_CHECK(fcgi_reply(c, answer->data, answer->len) == 0);
	FUZZ_CHECK(!fcgi_pending(c));
	check_framing(id, answer->data, answer->len);
	check_idle(c);
	FUZZ_CHECK(c->id == 0);
	return kept;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fcgi_conn c;
	struct chunker	 ch;
	struct buf	 replies = { NULL, 0, 0 }, env = { NULL, 0, 0 };
	struct buf	 body = { NULL, 0, 0 }, answer = { NULL, 0, 0 };
	enum fcgi_state	 st;
	size_t		 off = 2, n, keep;
	bool		 open = true;

	if (size < 2)
		return 0;
	ch.mode = data[0];
	ch.state = 0x9e3779b9u ^ data[1];
	keep = (size_t)data[1] * 4;
	fcgi_conn_init(&c, out_fd);
	while (open && off < size) {
		n = next_chunk(&ch, size - off);
		FUZZ_CHECK(buf_append(&c.in, data + off, n) == 0);
		off += n;
		for (;;) {
			buf_reset(&replies);
			st = fcgi_parse(&c, keep, &replies);
			check_replies(&replies);
			check_state(&c, st, keep);
			if (st == FCGI_CLOSE)
				open = false;
			if (st != FCGI_READY)
				break;
			if (!serve(&c, keep, &env, &body, &answer)) {
				open = false;
				break;
			}
		}
	}
	fcgi_conn_free(&c);
	buf_free(&replies);
	buf_free(&env);
	buf_free(&body);
	buf_free(&answer);
	return 0;
}
