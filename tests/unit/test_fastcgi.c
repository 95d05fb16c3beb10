/*
 * Unit tests for the FastCGI record layer: requests whole and in pieces,
 * management records, refused and aborted requests, limits, malformed
 * input, and the framing of responses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fastcgi.h"

enum { BEGIN = 1, ABORT = 2, END = 3, PARAMS = 4, STDIN = 5, STDOUT = 6,
    GET_VALUES = 9, GET_VALUES_RESULT = 10, UNKNOWN_TYPE = 11 };

static void
rec(struct buf *b, int type, unsigned id, const void *p, size_t n,
    unsigned pad)
{
	unsigned char	 h[8] = { 1, (unsigned char)type,
	    (unsigned char)(id >> 8), (unsigned char)id,
	    (unsigned char)(n >> 8), (unsigned char)n, (unsigned char)pad, 0 };
	static const char zeros[256];

	assert_int_equal(buf_append(b, h, 8), 0);
	assert_int_equal(buf_append(b, p, n), 0);
	assert_int_equal(buf_append(b, zeros, pad), 0);
}

static void
begin(struct buf *b, unsigned id, unsigned role, int keep)
{
	unsigned char	 body[8] = { (unsigned char)(role >> 8),
	    (unsigned char)role, (unsigned char)keep };

	rec(b, BEGIN, id, body, 8, 0);
}

/* A name-value pair; a length of 128 or more takes four bytes. */
static void
pair(struct buf *b, const char *name, const char *value)
{
	size_t		 lens[2] = { strlen(name), strlen(value) };
	unsigned char	 l[4];
	int		 i;

	for (i = 0; i < 2; i++) {
		if (lens[i] < 128) {
			l[0] = (unsigned char)lens[i];
			buf_append(b, l, 1);
		} else {
			l[0] = (unsigned char)(0x80 | (lens[i] >> 24));
			l[1] = (unsigned char)(lens[i] >> 16);
			l[2] = (unsigned char)(lens[i] >> 8);
			l[3] = (unsigned char)lens[i];
			buf_append(b, l, 4);
		}
	}
	buf_append(b, name, lens[0]);
	buf_append(b, value, lens[1]);
}

/* A whole GET request with the given id, keep flag and body. */
static void
request(struct buf *b, unsigned id, int keep, const char *uri,
    const char *body)
{
	struct buf	 pv = { NULL, 0, 0 };

	begin(b, id, 1, keep);
	pair(&pv, "REQUEST_METHOD", body ? "POST" : "GET");
	pair(&pv, "REQUEST_URI", uri);
	rec(b, PARAMS, id, pv.data, pv.len, 3);
	rec(b, PARAMS, id, NULL, 0, 0);
	if (body != NULL)
		rec(b, STDIN, id, body, strlen(body), 0);
	rec(b, STDIN, id, NULL, 0, 0);
	buf_free(&pv);
}

static const char *
env_get(char **envp, const char *name)
{
	size_t	 n = strlen(name);

	for (; *envp != NULL; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

static void
test_whole_request(void **state)
{
	struct fcgi_conn c;
	struct buf	 replies = { NULL, 0, 0 }, env = { NULL, 0, 0 };
	char		*envp[FCGI_ENV_MAX + 1];

	(void)state;
	fcgi_conn_init(&c, -1);
	request(&c.in, 7, 1, "/api/v1/tenants?x=1", "{\"a\":1}");
	assert_int_equal(fcgi_parse(&c, 1024, &replies), FCGI_READY);
	assert_int_equal(replies.len, 0);
	assert_int_equal(c.id, 7);
	assert_true(c.keep);
	assert_int_equal(c.in.len, 0);
	assert_int_equal(c.body.len, 7);
	assert_memory_equal(c.body.data, "{\"a\":1}", 7);
	assert_int_equal(fcgi_env(&c, &env, envp), 0);
	assert_string_equal(env_get(envp, "REQUEST_METHOD"), "POST");
	assert_string_equal(env_get(envp, "REQUEST_URI"), "/api/v1/tenants?x=1");
	assert_null(envp[2]);
	fcgi_conn_free(&c);
	buf_free(&replies);
	buf_free(&env);
}

/* Fed a byte at a time, the request completes with the last byte only. */
static void
test_request_in_pieces(void **state)
{
	struct fcgi_conn c;
	struct buf	 all = { NULL, 0, 0 }, replies = { NULL, 0, 0 };
	size_t		 i;

	(void)state;
	fcgi_conn_init(&c, -1);
	request(&all, 1, 0, "/healthz", "body");
	for (i = 0; i < all.len; i++) {
		buf_append(&c.in, all.data + i, 1);
		assert_int_equal(fcgi_parse(&c, 1024, &replies),
		    i + 1 == all.len ? FCGI_READY : FCGI_MORE);
	}
	assert_false(c.keep);
	assert_int_equal(c.body.len, 4);
	assert_int_equal(replies.len, 0);
	fcgi_conn_free(&c);
	buf_free(&all);
	buf_free(&replies);
}

/* A second request already sent waits in c->in until the first is done. */
static void
test_pipelined_requests(void **state)
{
	struct fcgi_conn c;
	struct buf	 replies = { NULL, 0, 0 }, env = { NULL, 0, 0 };
	char		*envp[FCGI_ENV_MAX + 1];
	int		 sv[2];
	char		 sink[4096];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcgi_conn_init(&c, sv[0]);
	request(&c.in, 1, 1, "/first", NULL);
	request(&c.in, 2, 1, "/second", NULL);
	assert_int_equal(fcgi_parse(&c, 1024, &replies), FCGI_READY);
	assert_true(c.in.len > 0);
	assert_int_equal(fcgi_env(&c, &env, envp), 0);
	assert_string_equal(env_get(envp, "REQUEST_URI"), "/first");
	assert_int_equal(fcgi_reply(&c, "Status: 204\r\n\r\n", 15), 0);
	assert_true(read(sv[1], sink, sizeof(sink)) > 0);
	assert_int_equal(c.id, 0);
	assert_int_equal(fcgi_parse(&c, 1024, &replies), FCGI_READY);
	assert_int_equal(c.id, 2);
	assert_int_equal(fcgi_env(&c, &env, envp), 0);
	assert_string_equal(env_get(envp, "REQUEST_URI"), "/second");
	fcgi_conn_free(&c);
	buf_free(&replies);
	buf_free(&env);
	close(sv[0]);
	close(sv[1]);
}

/* Past the keep limit STDIN is counted, not kept: the caller answers 413. */
static void
test_body_over_limit(void **state)
{
	struct fcgi_conn c;
	struct buf	 replies = { NULL, 0, 0 };

	(void)state;
	fcgi_conn_init(&c, -1);
	request(&c.in, 1, 1, "/", "0123456789abcdef");
	assert_int_equal(fcgi_parse(&c, 11, &replies), FCGI_READY);
	assert_int_equal(c.body.len, 11);
	assert_int_equal(c.stdin_len, 16);
	fcgi_conn_free(&c);
	buf_free(&replies);
}

static void
test_params_over_limit(void **state)
{
	struct fcgi_conn c;
	struct buf	 replies = { NULL, 0, 0 }, pv = { NULL, 0, 0 };
	char		*big;
	size_t		 sent = 0;

	(void)state;
	fcgi_conn_init(&c, -1);
	big = malloc(60000);
	memset(big, 'a', 59999);
	big[59999] = '\0';
	pair(&pv, "HTTP_X_BIG", big);
	begin(&c.in, 3, 1, 1);
	while (sent <= FCGI_PARAMS_MAX) {
		rec(&c.in, PARAMS, 3, pv.data, 60000, 0);
		sent += 60000;
	}
	rec(&c.in, PARAMS, 3, NULL, 0, 0);
	rec(&c.in, STDIN, 3, NULL, 0, 0);
	assert_int_equal(fcgi_parse(&c, 1024, &replies), FCGI_READY);
	assert_true(c.params_over);
	assert_true(c.params.len <= FCGI_PARAMS_MAX);
	free(big);
	buf_free(&pv);
	fcgi_conn_free(&c);
	buf_free(&replies);
}

static void
test_get_values(void **state)
{
	struct fcgi_conn c;
	struct buf	 replies = { NULL, 0, 0 }, q = { NULL, 0, 0 };
	const unsigned char *r;

	(void)state;
	fcgi_conn_init(&c, -1);
	pair(&q, "FCGI_MPXS_CONNS", "");
	pair(&q, "FCGI_NO_SUCH_VAR", "");
	rec(&c.in, GET_VALUES, 0, q.data, q.len, 0);
	assert_int_equal(fcgi_parse(&c, 1024, &replies), FCGI_MORE);
	r = (const unsigned char *)replies.data;
	assert_int_equal(r[1], GET_VALUES_RESULT);
	assert_int_equal(r[5], 2 + 15 + 1);	/* only the known one */
	assert_memory_equal(r + 8, "\x0f\x01" "FCGI_MPXS_CONNS" "0", 18);
	fcgi_conn_free(&c);
	buf_free(&replies);
	buf_free(&q);
}

static void
test_unknown_management_type(void **state)
{
	struct fcgi_conn c;
	struct buf	 replies = { NULL, 0, 0 };

	(void)state;
	fcgi_conn_init(&c, -1);
	rec(&c.in, 42, 0, "x", 1, 0);
	assert_int_equal(fcgi_parse(&c, 1024, &replies), FCGI_MORE);
	assert_int_equal(replies.len, 16);
	assert_int_equal((unsigned char)replies.data[1], UNKNOWN_TYPE);
	assert_int_equal((unsigned char)replies.data[8], 42);
	fcgi_conn_free(&c);
	buf_free(&replies);
}

/* END_REQUEST's protocolStatus of the reply at r. */
static int
end_status(const char *r, unsigned id)
{
	const unsigned char *u = (const unsigned char *)r;

	assert_int_equal(u[1], END);
	assert_int_equal(u[2] << 8 | u[3], id);
	return u[12];
}

static void
test_unknown_role(void **state)
{
	struct fcgi_conn c;
	struct buf	 replies = { NULL, 0, 0 };

	(void)state;
	fcgi_conn_init(&c, -1);
	begin(&c.in, 5, 2 /* AUTHORIZER */, 0);
	assert_int_equal(fcgi_parse(&c, 1024, &replies), FCGI_CLOSE);
	assert_int_equal(end_status(replies.data, 5), 3 /* UNKNOWN_ROLE */);
	fcgi_conn_free(&c);
	buf_free(&replies);
}

static void
test_second_request_refused(void **state)
{
	struct fcgi_conn c;
	struct buf	 replies = { NULL, 0, 0 };

	(void)state;
	fcgi_conn_init(&c, -1);
	begin(&c.in, 1, 1, 1);
	begin(&c.in, 2, 1, 1);
	assert_int_equal(fcgi_parse(&c, 1024, &replies), FCGI_MORE);
	assert_int_equal(end_status(replies.data, 2), 1 /* CANT_MPX_CONN */);
	assert_int_equal(c.id, 1);
	fcgi_conn_free(&c);
	buf_free(&replies);
}

static void
test_abort(void **state)
{
	struct fcgi_conn c;
	struct buf	 replies = { NULL, 0, 0 };

	(void)state;
	fcgi_conn_init(&c, -1);
	begin(&c.in, 9, 1, 1);
	rec(&c.in, STDIN, 9, "partial", 7, 0);
	rec(&c.in, ABORT, 9, NULL, 0, 0);
	assert_int_equal(fcgi_parse(&c, 1024, &replies), FCGI_MORE);
	assert_int_equal(end_status(replies.data, 9), 0);
	assert_int_equal(c.id, 0);
	assert_int_equal(c.body.len, 0);
	/* Without keep-alive the connection ends with the request. */
	buf_reset(&replies);
	begin(&c.in, 10, 1, 0);
	rec(&c.in, ABORT, 10, NULL, 0, 0);
	assert_int_equal(fcgi_parse(&c, 1024, &replies), FCGI_CLOSE);
	fcgi_conn_free(&c);
	buf_free(&replies);
}

static void
test_malformed(void **state)
{
	struct fcgi_conn c;
	struct buf	 replies = { NULL, 0, 0 }, env = { NULL, 0, 0 };
	char		*envp[FCGI_ENV_MAX + 1];
	static const unsigned char bad_version[8] = { 2, 1, 0, 1, 0, 8, 0, 0 };
	static const unsigned char short_begin[4] = { 0, 1, 0, 0 };

	(void)state;
	fcgi_conn_init(&c, -1);
	buf_append(&c.in, bad_version, 8);
	assert_int_equal(fcgi_parse(&c, 1024, &replies), FCGI_CLOSE);
	fcgi_conn_free(&c);

	fcgi_conn_init(&c, -1);
	rec(&c.in, BEGIN, 1, short_begin, 4, 0);
	assert_int_equal(fcgi_parse(&c, 1024, &replies), FCGI_CLOSE);
	fcgi_conn_free(&c);

	/* A pair whose value runs past the end of the stream. */
	fcgi_conn_init(&c, -1);
	begin(&c.in, 1, 1, 1);
	rec(&c.in, PARAMS, 1, "\x04\x7fNAMEvalue", 11, 0);
	rec(&c.in, PARAMS, 1, NULL, 0, 0);
	rec(&c.in, STDIN, 1, NULL, 0, 0);
	assert_int_equal(fcgi_parse(&c, 1024, &replies), FCGI_READY);
	assert_int_equal(fcgi_env(&c, &env, envp), -1);
	fcgi_conn_free(&c);
	buf_free(&replies);
	buf_free(&env);
}

/* Four-byte lengths, and records for other request ids ignored. */
static void
test_long_params_and_stray_records(void **state)
{
	struct fcgi_conn c;
	struct buf	 replies = { NULL, 0, 0 }, env = { NULL, 0, 0 };
	struct buf	 pv = { NULL, 0, 0 };
	char		*envp[FCGI_ENV_MAX + 1], value[300];

	(void)state;
	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	fcgi_conn_init(&c, -1);
	pair(&pv, "HTTP_LONG", value);
	begin(&c.in, 4, 1, 1);
	rec(&c.in, PARAMS, 99, "\x01\x01XY", 4, 0);
	rec(&c.in, PARAMS, 4, pv.data, pv.len, 0);
	rec(&c.in, PARAMS, 4, NULL, 0, 0);
	rec(&c.in, STDIN, 99, "stray", 5, 0);
	rec(&c.in, STDIN, 4, NULL, 0, 0);
	assert_int_equal(fcgi_parse(&c, 1024, &replies), FCGI_READY);
	assert_int_equal(fcgi_env(&c, &env, envp), 0);
	assert_string_equal(env_get(envp, "HTTP_LONG"), value);
	assert_null(env_get(envp, "X"));
	assert_int_equal(c.body.len, 0);
	fcgi_conn_free(&c);
	buf_free(&replies);
	buf_free(&env);
	buf_free(&pv);
}

/* Parameters past FCGI_ENV_MAX are refused, never dropped (issue 13). */
static void
test_too_many_params(void **state)
{
	struct fcgi_conn c;
	struct buf	 replies = { NULL, 0, 0 }, env = { NULL, 0, 0 };
	struct buf	 pv = { NULL, 0, 0 };
	char		*envp[FCGI_ENV_MAX + 1], name[32];
	int		 i, rc;

	(void)state;
	for (i = 0; i <= FCGI_ENV_MAX; i++) {
		snprintf(name, sizeof(name), "HTTP_X_%d", i);
		pair(&pv, name, "v");
	}
	fcgi_conn_init(&c, -1);
	begin(&c.in, 1, 1, 1);
	rec(&c.in, PARAMS, 1, pv.data, pv.len, 0);
	rec(&c.in, PARAMS, 1, NULL, 0, 0);
	rec(&c.in, STDIN, 1, NULL, 0, 0);
	assert_int_equal(fcgi_parse(&c, 1024, &replies), FCGI_READY);
	rc = fcgi_env(&c, &env, envp);
	assert_int_equal(rc, -2);
	fcgi_conn_free(&c);
	buf_free(&replies);
	buf_free(&env);
	buf_free(&pv);
}

/* A response over 64 KiB goes out as several STDOUT records, then the end. */
static void
test_reply_framing(void **state)
{
	struct fcgi_conn c;
	struct buf	 got = { NULL, 0, 0 }, body = { NULL, 0, 0 };
	const unsigned char *u;
	size_t		 off = 0, clen, i;
	char		 chunk[65536];
	ssize_t		 n;
	pid_t		 pid;
	int		 sv[2], records = 0, status;

	(void)state;
	for (i = 0; i < 150000; i++)
		buf_putc(&body, (char)('a' + i % 26));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcgi_conn_init(&c, sv[0]);
	c.id = 513;
	if ((pid = fork()) == 0) {
		close(sv[1]);
		_exit(fcgi_reply(&c, body.data, body.len) == 0 ? 0 : 1);
	}
	close(sv[0]);
	while ((n = read(sv[1], chunk, sizeof(chunk))) > 0)
		buf_append(&got, chunk, (size_t)n);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	u = (const unsigned char *)got.data;
	for (;;) {
		assert_true(off + 8 <= got.len);
		assert_int_equal(u[off + 2] << 8 | u[off + 3], 513);
		clen = (size_t)u[off + 4] << 8 | u[off + 5];
		if (u[off + 1] == END)
			break;
		assert_int_equal(u[off + 1], STDOUT);
		if (clen > 0) {
			assert_memory_equal(got.data + off + 8,
			    body.data + (size_t)records * 65535, clen);
			records++;
		}
		off += 8 + clen + u[off + 6];
	}
	assert_int_equal(records, 3);
	assert_int_equal(off + 16, got.len);
	fcgi_conn_free(&c);
	buf_free(&got);
	buf_free(&body);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_request),
		cmocka_unit_test(test_request_in_pieces),
		cmocka_unit_test(test_pipelined_requests),
		cmocka_unit_test(test_body_over_limit),
		cmocka_unit_test(test_params_over_limit),
		cmocka_unit_test(test_get_values),
		cmocka_unit_test(test_unknown_management_type),
		cmocka_unit_test(test_unknown_role),
		cmocka_unit_test(test_second_request_refused),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_long_params_and_stray_records),
		cmocka_unit_test(test_too_many_params),
		cmocka_unit_test(test_reply_framing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
