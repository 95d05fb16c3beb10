#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "codec_json.h"
#include "codec_xml.h"
#include "response.h"

static const struct reason {
	int		 status;
	const char	*text;
} reasons[] = {
	{ 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
	{ 204, "No Content" }, { 207, "Multi-Status" },
	{ 304, "Not Modified" },
	{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
	{ 404, "Not Found" }, { 405, "Method Not Allowed" },
	{ 406, "Not Acceptable" }, { 409, "Conflict" },
	{ 412, "Precondition Failed" }, { 413, "Content Too Large" },
	{ 414, "URI Too Long" }, { 431, "Request Header Fields Too Large" },
	{ 415, "Unsupported Media Type" }, { 422, "Unprocessable Content" },
	{ 428, "Precondition Required" }, { 429, "Too Many Requests" },
	{ 500, "Internal Server Error" }, { 503, "Service Unavailable" },
};

/* Media types by [problem][format]. */
static const char *const media[2][FMT__MAX] = {
	{ [FMT_JSON] = "application/json", [FMT_XML] = "application/xml" },
	{ [FMT_JSON] = "application/problem+json",
	  [FMT_XML] = "application/problem+xml" },
};

const char *
http_reason(int status)
{
	size_t	 i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].text;
	return "Unknown";
}

void
response_init(struct response *r, struct buf *headers)
{
	memset(r, 0, sizeof(*r));
	r->status = 200;
	r->headers = headers;
	buf_reset(headers);
}

void
response_clear(struct response *r)
{
	json_decref(r->body);
	r->body = NULL;
	response_stream_free(&r->stream);
}

void
response_stream(struct response *r, int status,
    const struct response_stream *s)
{
	response_set(r, status, NULL, NULL, NULL);
	response_stream_free(&r->stream);
	r->stream = *s;
}

void
response_stream_free(struct response_stream *s)
{
	if (s->free != NULL && s->state != NULL)
		s->free(s->state);
	memset(s, 0, sizeof(*s));
}

void
response_set(struct response *r, int status, json_t *body, const char *root,
    const char *item)
{
	json_decref(r->body);
	r->status = status;
	r->body = body;
	r->root = root;
	r->item = item;
	r->problem = false;
	r->text = NULL;
}

void
response_text(struct response *r, int status, const char *media_type,
    const struct buf *text)
{
	response_set(r, status, NULL, NULL, NULL);
	r->text = text;
	r->text_type = media_type;
}

int
response_header(struct response *r, const char *name, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 start = r->headers->len, i;
	int	 rc;

	if (buf_printf(r->headers, "%s: ", name) == -1)
		goto fail;
	va_start(ap, fmt);
	rc = buf_vprintf(r->headers, fmt, ap);
	va_end(ap);
	if (rc == -1)
		goto fail;
	/* A control character (CR, LF) in a value would start another header. */
	for (i = start; i < r->headers->len; i++)
		if ((unsigned char)r->headers->data[i] < 0x20 &&
		    r->headers->data[i] != '\t')
			goto fail;
	return buf_puts(r->headers, "\r\n");
fail:
	if (r->headers->data != NULL) {
		r->headers->len = start;
		r->headers->data[start] = '\0';
	}
	return -1;
}

int
response_serialize(const struct response *r, enum fmt f,
    const char *request_id, bool head, struct buf *scratch, struct buf *out)
{
	int	 rc = 0;

	buf_reset(scratch);
	buf_reset(out);
	if (r->text != NULL) {
		if (buf_append(scratch, r->text->data, r->text->len) == -1)
			return -1;
	} else if (r->body != NULL) {
		if (f == FMT_XML)
			rc = codec_xml_encode(r->body, r->root ? r->root : "response",
			    r->item, scratch);
		else
			rc = codec_json_encode(r->body, scratch);
		if (rc == -1)
			return -1;
	}
	if (buf_printf(out, "Status: %d %s\r\n", r->status,
	    http_reason(r->status)) == -1)
		return -1;
	if ((r->body != NULL || r->text != NULL) &&
	    buf_printf(out, "Content-Type: %s; charset=utf-8\r\n",
	    r->text != NULL ? r->text_type : media[r->problem][f]) == -1)
		return -1;
	if (r->stream.next != NULL &&
	    buf_printf(out, "Content-Type: %s\r\n", r->stream.media) == -1)
		return -1;
	/* RFC 9110 8.6: no Content-Length on a 204, nor one on a 304. */
	if (r->status != 204 && r->status != 304 && r->stream.next == NULL &&
	    buf_printf(out, "Content-Length: %lu\r\n",
	    (unsigned long)scratch->len) == -1)
		return -1;
	if (buf_printf(out, "Vary: Accept\r\nX-Request-Id: %s\r\n"
	    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
	    request_id) == -1)
		return -1;
	if (buf_append(out, r->headers->data, r->headers->len) == -1 ||
	    buf_puts(out, "\r\n") == -1)
		return -1;
	if (!head && buf_append(out, scratch->data, scratch->len) == -1)
		return -1;
	return 0;
}
