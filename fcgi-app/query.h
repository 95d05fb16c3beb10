/* URL decoding and query-string parameters. */
#ifndef QUERY_H
#define QUERY_H

#include <stdbool.h>
#include <stddef.h>

/* The value of one hexadecimal digit, either case; -1 for any other byte. */
int	 hex_value(char);

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

/*
 * An integer parameter in [lo, hi]: decimal digits only (no sign, space
 * or '+'), as clients send them.  1 with *out set, 0 when absent, -1 when
 * present but not such an integer.
 */
int	 query_get_int(const char *qs, const char *name, long long lo,
	    long long hi, long long *out);

/*
 * A boolean parameter: exactly "true" or "false".  1 with *out set, 0
 * when absent, -1 when present but neither.
 */
int	 query_get_bool(const char *qs, const char *name, bool *out);

/*
 * Appends s percent-encoded for a query string or a path segment: every
 * byte but RFC 3986's unreserved characters (and '/' when keep_slash) is
 * escaped, so what a client sent can never end a URI or a header.
 */
struct buf;
int	 url_encode(struct buf *, const char *s, bool keep_slash);

#endif
