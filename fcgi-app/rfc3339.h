/* Date-times: RFC 3339 outside, MySQL DATETIME (UTC) inside. */
#ifndef RFC3339_H
#define RFC3339_H

#include <stddef.h>

/* "2026-12-31T23:59:59+02:00" -> "2026-12-31 21:59:59"; -1 if invalid. */
int	 rfc3339_to_sql(const char *, char *out, size_t outlen);
/* "2026-12-31 21:59:59[.123]" -> "2026-12-31T21:59:59[.123]Z". */
int	 rfc3339_from_sql(const char *, char *out, size_t outlen);

#endif
