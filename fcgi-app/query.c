#include <string.h>

#include "query.h"

static int
hexval(char c)
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
			    (hi = hexval(src[i + 1])) < 0 ||
			    (lo = hexval(src[i + 2])) < 0)
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
