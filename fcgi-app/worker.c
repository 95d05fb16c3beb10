#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "app.h"
#include "codec_xml.h"
#include "ctx.h"
#include "fastcgi.h"
#include "json_arena.h"
#include "logfile.h"
#include "metrics.h"
#include "worker.h"

/*
 * Connection slots (docs/operations.md, "Connection slots").  A worker
 * holds CONNS_MAX connections; when a new one arrives at a full worker,
 * the longest idle (else the slowest to send its request) is closed for
 * it, so a crowd of idle or trickling connections can never lock nginx
 * out.  An idle kept-alive connection is closed after fastcgi.idle_timeout
 * (120 s; nginx's own keepalive_timeout, 60 s, ends its side first); a
 * request must arrive whole within fastcgi.request_timeout (30 s) of its
 * first byte, however it trickles; a peer that takes no answer bytes for
 * fastcgi.write_timeout (30 s) is closed.
 */
#define CONNS_MAX		FCGI_CONNS_MAX
#define READ_CHUNK		(64 * 1024)

struct worker {
	const struct config	*cfg;
	struct db		*db;
	struct ratelimit	*rl;
	struct buf		 body;
	struct buf		 headers;
	struct buf		 scratch;
	struct buf		 out;
	struct buf		 env;
	struct buf		 replies;	/* records fastcgi.c answers itself */
	struct fcgi_conn	*conns[CONNS_MAX];
	size_t			 nconns;
	size_t			 next;		/* where the next scan starts */
	long long		 swept;		/* when sweep() last ran (s) */
	char			 rbuf[READ_CHUNK];
};

/* Answers for requests that never reach the application. */
#define FIXED(status, code, title, detail) \
	"Status: " #status " " title "\r\n" \
	"Content-Type: application/problem+json\r\n\r\n" \
	"{\"type\":\"urn:tenantd:problem:" code "\",\"title\":\"" title \
	"\",\"status\":" #status ",\"detail\":\"" detail "\",\"code\":\"" \
	code "\"}"
static const char internal_error[] = FIXED(500, "internal",
    "Internal Server Error", "the response could not be encoded");
static const char headers_too_large[] = FIXED(431, "headers_too_large",
    "Request Header Fields Too Large",
    "the request's headers exceed 64 KiB");
static const char bad_params[] = FIXED(400, "bad_request", "Bad Request",
    "the FastCGI parameters are malformed");

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long long
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

/* Where a response goes: write(arg, bytes, len, end of the response). */
struct sink {
	int	(*write)(void *, const char *, size_t, bool);
	void	*arg;
};

/*
 * One request from envp and in; its response goes to the sink at once,
 * or, for a streamed body, its headers do and the stream to make the body
 * with is handed to the caller in *stream.  Returns what the sink
 * returned.
 */
static int
serve(struct worker *w, char **envp, const struct body_source *in,
    const struct sink *out, struct response_stream *stream)
{
	struct request	 req;
	struct response	 resp;
	struct ctx	 c;
	double		 t0 = now_ms(), ms;
	int		 early, rc;
	bool		 streamed;

	json_arena_begin();
	early = request_read(&req, envp, in, w->cfg, &w->body);
	response_init(&resp, &w->headers);
	memset(&c, 0, sizeof(c));
	c.cfg = w->cfg;
	c.req = &req;
	c.resp = &resp;
	c.db = w->db;
	c.rl = w->rl;
	app_handle(&c, early);
	streamed = resp.stream.next != NULL && req.method != HTTP_HEAD;
	if (response_serialize(&resp, c.out_fmt, req.request_id,
	    req.method == HTTP_HEAD, &w->scratch, &w->out) == -1) {
		resp.status = 500;
		rc = out->write(out->arg, internal_error,
		    sizeof(internal_error) - 1, true);
	} else if ((rc = out->write(out->arg, w->out.data, w->out.len,
	    !streamed)) == 0 && streamed) {
		*stream = resp.stream;
		memset(&resp.stream, 0, sizeof(resp.stream));
	}
	ms = now_ms() - t0;
	metrics_request(app_route_id(&c), resp.status, ms);
	if (w->cfg->log_requests)
		accesslog_write(&c, ms, w->out.len);
	json_decref(c.input);
	response_clear(&resp);
	json_arena_end();
	return rc;
}

static struct db *
worker_db(const struct config *cfg)
{
	struct db_params p = {
		.host = cfg->db_host, .port = (unsigned)cfg->db_port,
		.socket = cfg->db_socket, .user = cfg->db_user,
		.password = cfg->db_password, .name = cfg->db_name,
		.connect_timeout = (unsigned)cfg->db_connect_timeout,
		.rw_timeout = (unsigned)cfg->db_read_timeout,
	};
	struct db	*db;

	if ((db = db_new(&p)) != NULL && db_connect(db) == -1)
		/* not fatal: every request tries again */
		fprintf(stderr, "tenantd[%d]: database: %s\n", (int)getpid(),
		    db_error(db));
	return db;
}

static struct worker *
worker_new(const struct config *cfg, struct ratelimit *rl)
{
	struct worker	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->cfg = cfg;
	w->rl = rl;
	codec_xml_init();
	request_reseed();
	if ((w->db = worker_db(cfg)) == NULL) {
		free(w);
		return NULL;
	}
	return w;
}

static void
stream_free(struct fcgi_conn *c)
{
	if (c->stream == NULL)
		return;
	response_stream_free(c->stream);
	free(c->stream);
	c->stream = NULL;
}

static void
conn_close(struct worker *w, size_t i)
{
	stream_free(w->conns[i]);
	close(w->conns[i]->fd);
	fcgi_conn_free(w->conns[i]);
	free(w->conns[i]);
	w->conns[i] = w->conns[--w->nconns];
	w->conns[w->nconns] = NULL;
}

static void
worker_free(struct worker *w)
{
	while (w->nconns > 0)
		conn_close(w, 0);
	accesslog_flush();
	db_free(w->db);
	buf_free(&w->body);
	buf_free(&w->headers);
	buf_free(&w->scratch);
	buf_free(&w->out);
	buf_free(&w->env);
	buf_free(&w->replies);
	free(w);
}

/* The request body, from the STDIN stream fastcgi.c collected. */
struct stdin_reader {
	const struct buf	*b;
	size_t			 off;
};

static int
stdin_read(void *arg, char *p, int len)
{
	struct stdin_reader	*r = arg;
	size_t			 n = r->b->len - r->off;

	if (n > (size_t)len)
		n = (size_t)len;
	if (n > 0)
		memcpy(p, r->b->data + r->off, n);
	r->off += n;
	return (int)n;
}

static int
conn_out(void *arg, const char *p, size_t n, bool end)
{
	return end ? fcgi_reply(arg, p, n) : fcgi_stdout(arg, p, n);
}

/* Whether c's answer is still being written or made. */
static bool
answering(const struct fcgi_conn *c)
{
	return fcgi_pending(c) || c->stream != NULL;
}

/*
 * The next part of c's streamed answer, made only once the last part is
 * written (so a slow reader holds one part, and the worker serves its
 * other connections meanwhile); after the last, the request's end.
 */
static int
stream_part(struct worker *w, struct fcgi_conn *c)
{
	struct response_stream	*s = c->stream;
	int			 rc;

	json_arena_begin();
	buf_reset(&w->scratch);
	rc = s->next(s->state, w->db, &w->scratch);
	json_arena_end();
	if (rc == -1 || (w->scratch.len > 0 &&
	    fcgi_stdout(c, w->scratch.data, w->scratch.len) == -1))
		return -1;
	if (rc == 1)
		return 0;
	stream_free(c);
	return fcgi_end(c);
}

/* Serves c's complete request; -1 when the connection is to be closed. */
static int
conn_serve(struct worker *w, struct fcgi_conn *c)
{
	char			*envp[FCGI_ENV_MAX + 1];
	struct stdin_reader	 r = { &c->body, 0 };
	struct body_source	 in = { stdin_read, &r, true };
	struct sink		 out = { conn_out, c };
	struct response_stream	 st = { 0 };
	bool			 keep = c->keep;
	int			 rc;

	if (c->params_over || (rc = fcgi_env(c, &w->env, envp)) == -2)
		rc = fcgi_reply(c, headers_too_large,
		    sizeof(headers_too_large) - 1);
	else if (rc == -1)
		rc = fcgi_reply(c, bad_params, sizeof(bad_params) - 1);
	else
		rc = serve(w, envp, &in, &out, &st);
	if (rc == 0 && st.next != NULL) {
		if ((c->stream = malloc(sizeof(st))) == NULL) {
			response_stream_free(&st);
			return -1;
		}
		memcpy(c->stream, &st, sizeof(st));
	}
	if (rc == -1)
		return -1;
	if (!keep && answering(c))
		c->close_after = true;	/* once the answer is out */
	return keep || answering(c) ? 0 : -1;
}

/*
 * Reads what c has sent and serves what is complete; -1 to close it.
 * Once the peer has hung up nobody can take the answer (nginx closes the
 * connection when its client goes away), so its requests are dropped
 * unserved: after a burst of slow requests whose clients left, a worker
 * would otherwise spend seconds on each.
 */
static int
conn_process(struct worker *w, struct fcgi_conn *c, bool hung_up)
{
	enum fcgi_state	 st;

	/* Pipelined requests wait while an answer waits for its reader. */
	while (!answering(c)) {
		buf_reset(&w->replies);
		st = fcgi_parse(c, (size_t)w->cfg->body_limit + 1, &w->replies);
		if (w->replies.len > 0 &&
		    fcgi_send(c, w->replies.data, w->replies.len) == -1)
			return -1;
		if (st != FCGI_READY)
			return st == FCGI_CLOSE ? -1 : 0;
		if (hung_up || conn_serve(w, c) == -1)
			return -1;
		c->begun = c->in.len > 0 ? now_s() : 0;
		if (c->in.len == 0)
			return 0;
	}
	return 0;
}

static int
conn_input(struct worker *w, struct fcgi_conn *c, bool hung_up)
{
	ssize_t		 n;
	bool		 was_idle = c->id == 0 && c->in.len == 0;

	if ((n = read(c->fd, w->rbuf, sizeof(w->rbuf))) == 0)
		return -1;
	if (n == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (buf_append(&c->in, w->rbuf, (size_t)n) == -1)
		return -1;
	c->last = now_s();
	if (was_idle)
		c->begun = c->last;	/* a new request starts arriving */
	return conn_process(w, c, hung_up);
}

/* The peer can take more of a waiting answer; -1 to close it. */
static int
conn_output(struct worker *w, struct fcgi_conn *c)
{
	int	 rc;

	/* 1: the socket took some and is full again; wait to be woken. */
	if ((rc = fcgi_flush(c)) != 0)
		return rc == 1 ? 0 : -1;
	c->last = now_s();
	if (c->stream != NULL) {
		if (stream_part(w, c) == -1)
			return -1;
		if (answering(c))
			return 0;
	}
	if (c->close_after)
		return -1;
	return c->in.len > 0 ? conn_process(w, c, false) : 0;
}

/*
 * One connection per wake-up: every worker waits on the listening socket,
 * and taking a whole burst would pin it to one worker while another idles.
 */
/*
 * The connection to give up for a new one: the longest idle, else the one
 * whose request has been arriving longest, else the stalest reader.
 */
static size_t
evictee(const struct worker *w)
{
	const struct fcgi_conn	*c;
	size_t			 i, best = 0;
	long long		 key, bestkey = 0;
	int			 rank, bestrank = 3;

	for (i = 0; i < w->nconns; i++) {
		c = w->conns[i];
		if (answering(c))
			rank = 2, key = c->last;
		else if (c->id == 0 && c->in.len == 0)
			rank = 0, key = c->last;
		else
			rank = 1, key = c->begun;
		if (rank < bestrank || (rank == bestrank && key < bestkey)) {
			best = i;
			bestrank = rank;
			bestkey = key;
		}
	}
	return best;
}

static void
accept_conn(struct worker *w, int lfd)
{
	struct fcgi_conn	*c;
	int			 fd;

	/* Another worker may have taken it: lfd is non-blocking. */
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return;
	if (w->nconns == CONNS_MAX)
		conn_close(w, evictee(w));
	if ((c = malloc(sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	fcgi_conn_init(c, fd);
	c->last = now_s();
	w->conns[w->nconns++] = c;
}

/*
 * Closes kept-alive connections idle too long, requests not whole in time
 * after their first byte, readers that took nothing for too long, and
 * every idle connection once stopping.
 */
static void
sweep(struct worker *w, bool stopping)
{
	struct fcgi_conn *c;
	long long	 now = now_s();
	size_t		 i = 0;
	bool		 gone;

	w->swept = now;
	while (i < w->nconns) {
		c = w->conns[i];
		if (answering(c))
			gone = now - c->last > w->cfg->fcgi_write_timeout;
		else if (c->id == 0 && c->in.len == 0)
			gone = stopping || now - c->last >
			    w->cfg->fcgi_idle_timeout;
		else
			gone = now - c->begun > w->cfg->fcgi_request_timeout;
		if (gone)
			conn_close(w, i);
		else
			i++;
	}
}

/*
 * Waits for a connection or a request, with SIGTERM let in only here; a
 * worker holding connections wakes each second to sweep them.  Log lines
 * are written when the worker has nothing else to do, or in batches of a
 * few kilobytes under load.
 */
static int
wait_ready(struct pollfd *pfd, nfds_t n, bool tick)
{
	static const struct timespec zero = { 0, 0 }, second = { 1, 0 };
	sigset_t	 none;
	int		 rc;

	sigemptyset(&none);
	if (accesslog_pending()) {
		if ((rc = ppoll(pfd, n, &zero, &none)) != 0)
			return rc;
		accesslog_flush();
	}
	return ppoll(pfd, n, tick ? &second : NULL, &none);
}

/* The first npolled connections were polled from pfd[first] on. */
static void
serve_ready(struct worker *w, const struct pollfd *pfd, size_t first,
    size_t npolled)
{
	struct fcgi_conn	*ready[CONNS_MAX];
	bool			 hup[CONNS_MAX];
	size_t			 i, j, n = 0;

	/*
	 * Collected first, since closing a connection reorders w->conns;
	 * the scan starts one further each time, so no connection is
	 * always served last.
	 */
	for (i = 0; i < npolled; i++) {
		j = (w->next + i) % npolled;
		if (pfd[first + j].revents == 0)
			continue;
		hup[n] = (pfd[first + j].revents & (POLLHUP | POLLERR)) != 0;
		ready[n++] = w->conns[j];
	}
	w->next++;
	for (i = 0; i < n; i++) {
		if (!answering(ready[i]) ? conn_input(w, ready[i], hup[i]) == 0 :
		    !hup[i] && conn_output(w, ready[i]) == 0)
			continue;
		for (j = 0; j < w->nconns; j++)
			if (w->conns[j] == ready[i]) {
				conn_close(w, j);
				break;
			}
	}
}

static void
worker_loop(struct worker *w, int lfd, volatile sig_atomic_t *stop)
{
	struct pollfd	 pfd[CONNS_MAX + 1];
	size_t		 i, first, npolled;
	bool		 listening;
	int		 rc;

	for (;;) {
		if (*stop)
			sweep(w, true);
		if (*stop && w->nconns == 0)
			break;
		listening = !*stop;
		first = 0;
		if (listening)
			pfd[first++] = (struct pollfd){ lfd, POLLIN, 0 };
		npolled = w->nconns;
		for (i = 0; i < npolled; i++)
			pfd[first + i] = (struct pollfd){ w->conns[i]->fd,
			    answering(w->conns[i]) ? POLLOUT : POLLIN, 0 };
		if ((rc = wait_ready(pfd, first + npolled, npolled > 0)) == -1 &&
		    errno != EINTR)
			break;
		if (logfile_reopen_due()) {
			accesslog_flush();	/* what came before, to the old file */
			logfile_reopen();
		}
		if (rc > 0) {
			serve_ready(w, pfd, first, npolled);
			if (listening && pfd[0].revents != 0)
				accept_conn(w, lfd);
		}
		if (now_s() != w->swept)
			sweep(w, false);
	}
}

int
worker_run(const struct config *cfg, struct ratelimit *rl,
    struct keycache_shared *keys, int lfd, volatile sig_atomic_t *stop)
{
	struct worker	*w;
	sigset_t	 term;
	int		 fl;

	/*
	 * SIGTERM, SIGINT and SIGHUP are held except while waiting, so a stop
	 * never cuts a request short and costs no system call per request.
	 */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	sigaddset(&term, SIGHUP);
	sigprocmask(SIG_BLOCK, &term, NULL);
	if ((fl = fcntl(lfd, F_GETFL)) == -1 ||
	    fcntl(lfd, F_SETFL, fl | O_NONBLOCK) == -1)
		return 1;
	keycache_attach(keys, cfg->auth_cache_ttl);
	if ((w = worker_new(cfg, rl)) == NULL)
		return 1;
	worker_loop(w, lfd, stop);
	worker_free(w);
	return 0;
}

static int
cgi_stdin(void *arg, char *buf, int len)
{
	(void)arg;
	return (int)fread(buf, 1, (size_t)len, stdin);
}

static int
cgi_out(void *arg, const char *p, size_t n, bool end)
{
	(void)arg;
	(void)end;
	if (fwrite(p, 1, n, stdout) != n || fflush(stdout) != 0)
		return -1;
	return 0;
}

int
worker_cgi(const struct config *cfg)
{
	extern char		**environ;
	struct body_source	 in = { cgi_stdin, NULL, false };
	struct sink		 out = { cgi_out, NULL };
	struct response_stream	 st = { 0 };
	struct worker		*w;
	int			 rc = 1;

	if ((w = worker_new(cfg, NULL)) == NULL)
		return 1;
	/* A streamed body: one part after another, as stdout takes them. */
	if (serve(w, environ, &in, &out, &st) == 0)
		while (st.next != NULL && rc == 1) {
			json_arena_begin();
			buf_reset(&w->scratch);
			rc = st.next(st.state, w->db, &w->scratch);
			json_arena_end();
			if (rc != -1 && cgi_out(NULL, w->scratch.data,
			    w->scratch.len, rc == 0) == -1)
				rc = -1;
		}
	response_stream_free(&st);
	worker_free(w);
	return 0;
}
