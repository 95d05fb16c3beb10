#include <stdio.h>
#include <string.h>

#include "codec_json.h"

static int
dump_cb(const char *p, size_t n, void *arg)
{
	return buf_append(arg, p, n);
}

int
codec_json_encode(const json_t *tree, struct buf *out)
{
	return json_dump_callback(tree, dump_cb, out,
	    JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

/* Nesting depth of the bracket structure, outside strings. */
static int
too_deep(const char *p, size_t len)
{
	size_t	 i;
	int	 depth = 0, in_str = 0;

	for (i = 0; i < len; i++) {
		if (in_str) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				in_str = 0;
			continue;
		}
		switch (p[i]) {
		case '"':
			in_str = 1;
			break;
		case '{':
		case '[':
			if (++depth > CODEC_JSON_MAX_DEPTH)
				return 1;
			break;
		case '}':
		case ']':
			depth--;
			break;
		}
	}
	return 0;
}

json_t *
codec_json_decode(const char *data, size_t len, char *err, size_t errlen)
{
	json_error_t	 e;
	json_t		*j;

	if (too_deep(data, len)) {
		snprintf(err, errlen, "JSON nested deeper than %d levels",
		    CODEC_JSON_MAX_DEPTH);
		return NULL;
	}
	j = json_loadb(data, len, JSON_REJECT_DUPLICATES,
	    &e);
	if (j == NULL) {
		snprintf(err, errlen, "malformed JSON: %s (line %d, column %d)",
		    e.text, e.line, e.column);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(err, errlen, "the body must be a JSON object");
		return NULL;
	}
	return j;
}
