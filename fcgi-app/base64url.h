/*
 * Base64url without padding (RFC 4648 section 5), as JOSE uses it.  The
 * decoder is strict: it refuses padding, whitespace, characters outside
 * the url-safe alphabet, lengths no encoder produces and non-zero unused
 * trailing bits, so every byte string has exactly one accepted encoding.
 */
#ifndef BASE64URL_H
#define BASE64URL_H

#include <stddef.h>

/* Characters needed to encode len bytes, not counting a NUL. */
size_t	 base64url_enclen(size_t len);
/* Most bytes len characters can decode to. */
size_t	 base64url_declen(size_t len);

/*
 * Writes base64url_enclen(len) characters and a terminating NUL to dst.
 * Returns the number of characters written, NUL excluded.
 */
size_t	 base64url_encode(char *dst, const void *src, size_t len);

/*
 * Decodes len characters of src into dst, which has room for dstsize
 * bytes.  Returns 0 and the decoded length in *outlen, or -1 if src is not
 * canonical base64url or dst is too small.
 */
int	 base64url_decode(void *dst, size_t dstsize, const char *src,
	    size_t len, size_t *outlen);

#endif
