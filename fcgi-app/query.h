/* URL decoding and query-string parameters. */
#ifndef QUERY_H
#define QUERY_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Percent-decodes src[0..len) into dst (dstlen bytes, NUL-terminated).
 * plus_space turns '+' into ' ' (query strings).  Returns the decoded
 * length, or -1 on a bad escape, an encoded NUL or overflow.
 */
long	 url_decode(const char *src, size_t len, char *dst, size_t dstlen,
	    bool plus_space);

/*
 * Finds parameter name in the raw query string qs.  Returns 1 and the
 * decoded value in out, 0 when absent, -1 when present but undecodable
 * or longer than outlen - 1.
 */
int	 query_get(const char *qs, const char *name, char *out, size_t outlen);

#endif
