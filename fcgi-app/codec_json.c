#include <stdio.h>
#include <string.h>

#include "codec_json.h"

/*
 * A writer of its own rather than json_dump_callback: straight into the
 * worker's buffer, runs of plain bytes copied at once.  This path runs
 * for every response.
 */
/* Control characters, the quote and the backslash. */
static const unsigned char needs_escape[256] = {
	[0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1,
	[0x06] = 1, [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1,
	[0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1,
	[0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1,
	[0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1,
	[0x1e] = 1, [0x1f] = 1, ['"'] = 1, ['\\'] = 1,
};

int
codec_json_string(struct buf *out, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, run = 0;
	unsigned char		 c;
	char			 esc[6] = { '\\', 'u', '0', '0', 0, 0 };
	const char		*rep;
	size_t			 replen;

	if (buf_reserve(out, len + 2) == -1 || buf_putc(out, '"') == -1)
		return -1;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (!needs_escape[c])
			continue;
		if (buf_append(out, s + run, i - run) == -1)
			return -1;
		run = i + 1;
		replen = 2;
		switch (c) {
		case '"': rep = "\\\""; break;
		case '\\': rep = "\\\\"; break;
		case '\n': rep = "\\n"; break;
		case '\r': rep = "\\r"; break;
		case '\t': rep = "\\t"; break;
		case '\b': rep = "\\b"; break;
		case '\f': rep = "\\f"; break;
		default:
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			rep = esc;
			replen = 6;
			break;
		}
		if (buf_append(out, rep, replen) == -1)
			return -1;
	}
	if (buf_append(out, s + run, len - run) == -1)
		return -1;
	return buf_putc(out, '"');
}

static int
enc_real(struct buf *out, double d)
{
	size_t	 start = out->len;

	if (buf_printf(out, "%.17g", d) == -1)
		return -1;
	/* Keep it a real when read back, as jansson writes it. */
	if (strpbrk(out->data + start, ".eEn") == NULL)
		return buf_puts(out, ".0");
	return 0;
}

static int
enc_value(const json_t *v, struct buf *out)
{
	const char	*key;
	size_t		 klen, i;
	json_t		*m;
	char		 sep = 0;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (buf_putc(out, '{') == -1)
			return -1;
		json_object_keylen_foreach((json_t *)v, key, klen, m) {
			if ((sep && buf_putc(out, sep) == -1) ||
			    codec_json_string(out, key, klen) == -1 ||
			    buf_putc(out, ':') == -1 || enc_value(m, out) == -1)
				return -1;
			sep = ',';
		}
		return buf_putc(out, '}');
	case JSON_ARRAY:
		if (buf_putc(out, '[') == -1)
			return -1;
		json_array_foreach(v, i, m) {
			if ((i > 0 && buf_putc(out, ',') == -1) ||
			    enc_value(m, out) == -1)
				return -1;
		}
		return buf_putc(out, ']');
	case JSON_STRING:
		return codec_json_string(out, json_string_value(v),
		    json_string_length(v));
	case JSON_INTEGER:
		return buf_put_i64(out, json_integer_value(v));
	case JSON_REAL:
		return enc_real(out, json_real_value(v));
	case JSON_TRUE:
		return buf_puts(out, "true");
	case JSON_FALSE:
		return buf_puts(out, "false");
	case JSON_NULL:
	default:
		return buf_puts(out, "null");
	}
}

int
codec_json_encode(const json_t *tree, struct buf *out)
{
	return enc_value(tree, out);
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
