#include <string.h>

#include "buf.h"
#include "query.h"

int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long
url_decode(const char *src, size_t len, char *dst, size_t dstlen,
    bool plus_space)
{
	size_t	 i, o = 0;
	int	 hi, lo;
	char	 c;

	for (i = 0; i < len; i++) {
		c = src[i];
		if (c == '%') {
			if (i + 2 >= len ||
			    (hi = hex_value(src[i + 1])) < 0 ||
			    (lo = hex_value(src[i + 2])) < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			if (c == '\0')
				return -1;
			i += 2;
		} else if (c == '+' && plus_space)
			c = ' ';
		else if (c == '\0')
			return -1;
		if (o + 1 >= dstlen)
			return -1;
		dst[o++] = c;
	}
	if (dstlen == 0)
		return -1;
	dst[o] = '\0';
	return (long)o;
}

int
query_get(const char *qs, const char *name, char *out, size_t outlen)
{
	size_t		 nlen = strlen(name), klen;
	const char	*p = qs, *amp, *eq;

	if (qs == NULL)
		return 0;
	while (*p != '\0') {
		amp = strchr(p, '&');
		if (amp == NULL)
			amp = p + strlen(p);
		eq = memchr(p, '=', (size_t)(amp - p));
		klen = (size_t)((eq ? eq : amp) - p);
		if (klen == nlen && strncmp(p, name, nlen) == 0) {
			if (eq == NULL)
				eq = amp - 1;	/* "name" alone: empty value */
			return url_decode(eq + 1, (size_t)(amp - eq - 1), out,
			    outlen, true) < 0 ? -1 : 1;
		}
		p = *amp ? amp + 1 : amp;
	}
	return 0;
}

int
query_get_int(const char *qs, const char *name, long long lo, long long hi,
    long long *out)
{
	char		 v[24];
	long long	 n = 0;
	size_t		 i;
	int		 rc;

	if ((rc = query_get(qs, name, v, sizeof(v))) != 1)
		return rc;
	/* 18 digits cannot overflow a long long. */
	if (v[0] == '\0' || strlen(v) > 18)
		return -1;
	for (i = 0; v[i] != '\0'; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	if (n < lo || n > hi)
		return -1;
	*out = n;
	return 1;
}

int
query_get_bool(const char *qs, const char *name, bool *out)
{
	char	 v[8];
	int	 rc;

	if ((rc = query_get(qs, name, v, sizeof(v))) != 1)
		return rc;
	if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
		return -1;
	*out = v[0] == 't';
	return 1;
}

int
url_encode(struct buf *b, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char	 c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~' || (c == '/' && keep_slash)) {
			if (buf_putc(b, (char)c) == -1)
				return -1;
		} else if (buf_putc(b, '%') == -1 ||
		    buf_putc(b, hex[c >> 4]) == -1 ||
		    buf_putc(b, hex[c & 15]) == -1)
			return -1;
	}
	return 0;
}
