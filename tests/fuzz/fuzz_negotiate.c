/*
 * Content negotiation: the input is an Accept header and, as a second
 * check, a Content-Type.  Both must answer one of the two formats or
 * refuse, and a bare media type must mean the same format in both.
 */
#include <string.h>

#include "fuzz.h"
#include "negotiate.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*s;
	enum fmt	 a = FMT__MAX, t = FMT__MAX;
	int		 ra, rt;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	ra = negotiate_accept(s, &a);
	FUZZ_CHECK(ra == 0 || ra == -1);
	FUZZ_CHECK(a == FMT_JSON || a == FMT_XML);
	if (*s == '\0')
		FUZZ_CHECK(ra == 0 && a == FMT_JSON);

	rt = negotiate_content_type(s, &t);
	FUZZ_CHECK(rt == 0 || rt == -1);
	FUZZ_CHECK(rt == -1 || t == FMT_JSON || t == FMT_XML);

	/* "application/json" and "x+xml" name one format, sent or accepted. */
	if (rt == 0 && strpbrk(s, ",; \t\r\n\v\f*") == NULL)
		FUZZ_CHECK(ra == 0 && a == t);
	free(s);
	return 0;
}
