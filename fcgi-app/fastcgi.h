/*
 * tenantd's FastCGI record layer, responder role only.
 *
 * A worker keeps many connections open at once and takes the next
 * request from whichever connection has a complete one, so nginx can keep
 * connections alive (fastcgi_keep_conn) without one idle connection
 * holding up the others.  libfcgi serves one connection at a time and
 * blocks on it between requests, which is why tenantd has its own.
 *
 * Bytes arrive in conn->in; fcgi_parse() consumes whole records from it,
 * collecting one request's PARAMS and STDIN streams, and answers
 * management records and refused requests by appending records to a
 * reply buffer the caller writes out.
 */
#ifndef FASTCGI_H
#define FASTCGI_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Connections one worker holds (FCGI_MAX_CONNS). */
#define FCGI_CONNS_MAX		256
/* Larger parameter sets are answered 431 without being kept. */
#define FCGI_PARAMS_MAX		(64 * 1024)
/* Parameters handed to the application (nginx sends about 30); more is 431. */
#define FCGI_ENV_MAX		512

enum fcgi_state {
	FCGI_MORE,	/* no complete request yet */
	FCGI_READY,	/* a request is complete: serve it, then fcgi_reply */
	FCGI_CLOSE,	/* write the replies, then close the connection */
};

struct fcgi_conn {
	int		 fd;
	unsigned int	 id;		/* the open request, 0 when none */
	bool		 keep;		/* FCGI_KEEP_CONN of that request */
	bool		 params_done;
	bool		 stdin_done;
	bool		 params_over;	/* passed FCGI_PARAMS_MAX */
	size_t		 stdin_len;	/* all STDIN bytes, kept or not */
	struct buf	 in;		/* received, not yet parsed */
	struct buf	 params;	/* the PARAMS stream */
	struct buf	 body;		/* STDIN, at most the keep limit */
	struct buf	 out;		/* answer bytes the peer has not taken */
	size_t		 out_off;	/* how much of out is written */
	bool		 close_after;	/* close once out is written */
	long long	 last;		/* when it last made progress (s) */
	long long	 begun;		/* when the request arriving began, or 0 */
	void		*stream;	/* the worker's answer still being made */
};

void		 fcgi_conn_init(struct fcgi_conn *, int fd);
void		 fcgi_conn_free(struct fcgi_conn *);

/*
 * Parses the records in c->in.  STDIN past body_keep bytes is counted but
 * not kept.  Stops at the end of a complete request, leaving later bytes
 * in c->in.
 */
enum fcgi_state	 fcgi_parse(struct fcgi_conn *c, size_t body_keep,
		    struct buf *replies);

/*
 * The request's parameters as "NAME=value" strings in env, pointed to by
 * envp (NULL-terminated).  -1 when the stream is malformed, -2 when it
 * holds more than FCGI_ENV_MAX parameters: none is dropped silently (a
 * dropped Authorization would turn into a 401).
 */
int		 fcgi_env(const struct fcgi_conn *, struct buf *env,
		    char *envp[FCGI_ENV_MAX + 1]);

/*
 * Sends the whole response and ends the request, leaving the connection
 * ready for the next one.  A worker never waits on one peer: what a
 * non-blocking socket does not take now is queued in c->out (see
 * fcgi_flush).  -1 when the peer is gone, or when more than FCGI_OUT_MAX
 * bytes would wait for it; the caller then closes the connection.
 */
#define FCGI_OUT_MAX		(4 * 1024 * 1024)
int		 fcgi_reply(struct fcgi_conn *, const char *p, size_t n);

/*
 * A response in parts (a streamed body): fcgi_stdout sends some of it as
 * fcgi_reply does, without ending the request; fcgi_end ends it.  The
 * caller produces the next part only once fcgi_pending is false, so at
 * most one part waits.
 */
int		 fcgi_stdout(struct fcgi_conn *, const char *p, size_t n);
int		 fcgi_end(struct fcgi_conn *);

/* Sends records fcgi_parse put in a reply buffer, as fcgi_reply does. */
int		 fcgi_send(struct fcgi_conn *, const char *p, size_t n);

/* Whether answer bytes wait for the peer to read them. */
bool		 fcgi_pending(const struct fcgi_conn *);
/* Writes what waits: 0 all written, 1 some still waits, -1 peer gone. */
int		 fcgi_flush(struct fcgi_conn *);

#endif
