/* JSON side of content negotiation. */
#ifndef CODEC_JSON_H
#define CODEC_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"

/* No resource nests deeper; jansson's own cap (2048) is far too generous. */
#define CODEC_JSON_MAX_DEPTH	32

int	 codec_json_encode(const json_t *, struct buf *out);
/* Appends s[0..len) as a JSON string literal, quotes included. */
int	 codec_json_string(struct buf *out, const char *s, size_t len);
/*
 * Parses a request body: an object, no duplicate keys, nesting at most
 * CODEC_JSON_MAX_DEPTH.  Returns NULL with a message in err otherwise.
 */
json_t	*codec_json_decode(const char *data, size_t len, char *err,
	    size_t errlen);

#endif
