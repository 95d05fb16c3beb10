#include <stdint.h>

#include "base64url.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of one alphabet character, or -1 for anything else. */
static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

size_t
base64url_enclen(size_t len)
{
	/* A final group of 1 or 2 bytes takes 2 or 3 characters. */
	return (len / 3) * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);
}

size_t
base64url_declen(size_t len)
{
	return (len / 4) * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
}

size_t
base64url_encode(char *dst, const void *src, size_t len)
{
	const unsigned char	*s = src;
	size_t			 i, n = 0;
	uint32_t		 v;

	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		dst[n++] = b64url_alphabet[(v >> 18) & 63];
		dst[n++] = b64url_alphabet[(v >> 12) & 63];
		dst[n++] = b64url_alphabet[(v >> 6) & 63];
		dst[n++] = b64url_alphabet[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)s[i] << 16;
		dst[n++] = b64url_alphabet[(v >> 18) & 63];
		dst[n++] = b64url_alphabet[(v >> 12) & 63];
	} else if (len - i == 2) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		dst[n++] = b64url_alphabet[(v >> 18) & 63];
		dst[n++] = b64url_alphabet[(v >> 12) & 63];
		dst[n++] = b64url_alphabet[(v >> 6) & 63];
	}
	dst[n] = '\0';
	return n;
}

int
base64url_decode(void *dst, size_t dstsize, const char *src, size_t len,
    size_t *outlen)
{
	unsigned char	*d = dst;
	size_t		 i, n = 0, tail;
	uint32_t	 v = 0;
	int		 c;

	/* One leftover character carries only 6 bits: not a whole byte. */
	if (len % 4 == 1)
		return -1;
	if (base64url_declen(len) > dstsize)
		return -1;

	for (i = 0; i < len; i++) {
		if ((c = b64url_value((unsigned char)src[i])) == -1)
			return -1;
		v = v << 6 | (uint32_t)c;
		if (i % 4 == 3) {
			d[n++] = (v >> 16) & 0xff;
			d[n++] = (v >> 8) & 0xff;
			d[n++] = v & 0xff;
			v = 0;
		}
	}

	/*
	 * The unused low bits of a short final group must be zero, or two
	 * encodings would decode to the same bytes.
	 */
	tail = len % 4;
	if (tail == 2) {
		if ((v & 0xf) != 0)
			return -1;
		d[n++] = (v >> 4) & 0xff;
	} else if (tail == 3) {
		if ((v & 0x3) != 0)
			return -1;
		d[n++] = (v >> 10) & 0xff;
		d[n++] = (v >> 2) & 0xff;
	}
	*outlen = n;
	return 0;
}
