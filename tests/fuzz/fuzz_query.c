/*
 * The query-string decoder and the encoder that builds Link and Location
 * values.  Byte 0 picks the parameter name and the output room; the rest
 * is a raw query string.  url_encode then url_decode must give back the
 * bytes exactly, and the encoding holds only unreserved characters and
 * escapes (nothing that could end a URI or a header).
 */
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "query.h"

static const char *const names[] = {
	"page", "pageSize", "cursor", "q", "a", "", "=", "&", "a+b", "%61",
};

static void
check_get(const char *qs, const char *name, size_t outlen)
{
	char		 out[300], v[24];
	long long	 n = -1;
	int		 rc, rg;
	size_t		 i;

	rc = query_get(qs, name, out, outlen);
	FUZZ_CHECK(rc == -1 || rc == 0 || rc == 1);
	if (rc == 1)
		FUZZ_CHECK(strlen(out) < outlen);

	/* An integer is exactly a run of 1 to 18 digits within bounds. */
	rc = query_get_int(qs, name, 5, 1000000, &n);
	rg = query_get(qs, name, v, sizeof(v));
	FUZZ_CHECK(rc == -1 || rc == 0 || rc == 1);
	FUZZ_CHECK((rc == 0) == (rg == 0));
	if (rc == 1) {
		FUZZ_CHECK(rg == 1 && v[0] != '\0' && strlen(v) <= 18);
		for (i = 0; v[i] != '\0'; i++)
			FUZZ_CHECK(v[i] >= '0' && v[i] <= '9');
		FUZZ_CHECK(n >= 5 && n <= 1000000 && n == strtoll(v, NULL, 10));
	} else if (rc == -1 && rg == 1 && v[0] != '\0' &&
	    strspn(v, "0123456789") == strlen(v))
		FUZZ_CHECK(strlen(v) > 18 || strtoll(v, NULL, 10) < 5 ||
		    strtoll(v, NULL, 10) > 1000000);
}

static void
check_encode(const char *s, size_t len, bool keep_slash)
{
	struct buf	 b = { NULL, 0, 0 };
	char		*back;
	size_t		 i;
	long		 n;

	FUZZ_CHECK(url_encode(&b, s, keep_slash) == 0);
	for (i = 0; i < b.len; i++)
		FUZZ_CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-._~%", b.data[i]) !=
		    NULL || (keep_slash && b.data[i] == '/'));
	FUZZ_CHECK((back = malloc(len + 1)) != NULL);
	n = url_decode(b.data ? b.data : "", b.len, back, len + 1, true);
	FUZZ_CHECK(n == (long)len && memcmp(back, s, len) == 0);
	free(back);
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*name;
	char		*qs;
	size_t		 outlen;

	if (size < 1)
		return 0;
	name = names[data[0] % (sizeof(names) / sizeof(names[0]))];
	outlen = 1 + (size_t)data[0] % 299;
	if ((qs = malloc(size)) == NULL)
		return 0;
	memcpy(qs, data + 1, size - 1);
	qs[size - 1] = '\0';
	check_get(qs, name, outlen);
	check_encode(qs, strlen(qs), (data[0] & 1) != 0);
	free(qs);
	return 0;
}
