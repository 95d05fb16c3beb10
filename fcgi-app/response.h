/*
 * The response a handler builds: a status, extra headers and one jansson
 * tree.  The tree is encoded once, as JSON or XML, by response_serialize;
 * handlers never write bytes themselves.
 */
#ifndef RESPONSE_H
#define RESPONSE_H

#include <stdbool.h>

#include <jansson.h>

#include "buf.h"
#include "negotiate.h"

struct db;

/*
 * A body made part by part while the peer reads (an export): next appends
 * the next part to out and returns 1 while more follows, 0 after the
 * last, -1 on a failure (the connection is then closed, so the client
 * sees a truncated answer, never a complete-looking one).  The worker
 * asks for a part only when the previous one is written, so a body of
 * any size is made in the memory of one part.
 */
struct response_stream {
	int		(*next)(void *state, struct db *, struct buf *out);
	void		(*free)(void *state);
	void		*state;
	const char	*media;		/* its Content-Type */
};

struct response {
	int		 status;
	json_t		*body;		/* owned; NULL = empty body */
	const char	*root;		/* XML document element */
	const char	*item;		/* XML element for items of "data" */
	bool		 problem;	/* body is an RFC 9457 problem */
	const struct buf *text;		/* a text body instead (borrowed) */
	const char	*text_type;	/* its media type */
	struct buf	*headers;	/* "Name: value\r\n" lines */
	struct response_stream stream;	/* next != NULL: a streamed body */
};

void		 response_init(struct response *, struct buf *headers);
void		 response_clear(struct response *);
/* Takes ownership of body. */
void		 response_set(struct response *, int status, json_t *body,
		    const char *root, const char *item);
/*
 * A body that is text rather than a tree (/metrics): text must outlive
 * response_serialize.
 */
void		 response_text(struct response *, int status,
		    const char *media_type, const struct buf *text);
/* Takes ownership of stream->state: a streamed body instead of a tree. */
void		 response_stream(struct response *, int status,
		    const struct response_stream *);
/* Frees what a streamed body still holds (the worker, once it is sent). */
void		 response_stream_free(struct response_stream *);
int		 response_header(struct response *, const char *name,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char	*http_reason(int status);

/*
 * Writes the whole FastCGI response (CGI headers, blank line, body) into
 * out, using scratch for the encoded body.  head omits the body.  Of a
 * streamed body only the headers are written; the parts follow.
 */
int		 response_serialize(const struct response *, enum fmt,
		    const char *request_id, bool head, struct buf *scratch,
		    struct buf *out);

#endif
