/*
 * Date-times.  The input is a string: what rfc3339_to_sql accepts must
 * be a well-formed DATETIME, rfc3339_from_sql must turn that into a UTC
 * RFC 3339 string that parses to the same DATETIME, and a "Z" input
 * without fraction must come back as itself.  rfc3339_from_sql also gets
 * the raw input, with every output room up to 40 bytes.
 */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "rfc3339.h"

static void
check_sql(const char *s)
{
	static const char shape[] = "dddd-dd-dd dd:dd:dd";
	size_t	 i;
	int	 mo, d, h, mi, sec;

	FUZZ_CHECK(strlen(s) == sizeof(shape) - 1);
	for (i = 0; shape[i] != '\0'; i++)
		FUZZ_CHECK(shape[i] == 'd' ? isdigit((unsigned char)s[i]) :
		    s[i] == shape[i]);
	FUZZ_CHECK(sscanf(s + 5, "%2d-%2d %2d:%2d:%2d", &mo, &d, &h, &mi,
	    &sec) == 5);
	FUZZ_CHECK(s[0] != '0' && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 &&
	    h <= 23 && mi <= 59 && sec <= 59);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s, sql[32], back[32], again[32], small[40];
	size_t	 i, n;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	for (n = 0; n <= sizeof(small); n++)
		if (rfc3339_from_sql(s, small, n) == 0)
			FUZZ_CHECK(strlen(small) < n);

	if (rfc3339_to_sql(s, sql, sizeof(sql)) == 0) {
		check_sql(sql);
		FUZZ_CHECK(rfc3339_from_sql(sql, back, sizeof(back)) == 0);
		FUZZ_CHECK(rfc3339_to_sql(back, again, sizeof(again)) == 0);
		FUZZ_CHECK(strcmp(sql, again) == 0);
		if (strlen(s) == 20 && (s[19] == 'Z' || s[19] == 'z')) {
			for (i = 0; i < 20; i++)
				FUZZ_CHECK(toupper((unsigned char)s[i]) ==
				    back[i] || (i == 10 && s[i] == ' '));
		}
		/* Too little room is refused, never overrun. */
		for (n = 0; n < 20; n++)
			FUZZ_CHECK(rfc3339_to_sql(s, small, n) == -1);
	}
	free(s);
	return 0;
}
