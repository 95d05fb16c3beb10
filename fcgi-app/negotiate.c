#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "negotiate.h"

/* How well a media range names a format: higher is more specific. */
enum spec {
	SPEC_NONE = -1,
	SPEC_ANY,	/* star/star */
	SPEC_TYPE,	/* application/star */
	SPEC_FULL,	/* application/json, x/y+xml, ... */
};

struct pick {
	int	 spec;
	int	 q;	/* thousandths */
	int	 pos;
};

static int
media_is(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

static int
has_suffix(const char *s, size_t len, const char *suf)
{
	size_t	 n = strlen(suf);

	return len > n && strncasecmp(s + len - n, suf, n) == 0;
}

/* Which format the media type s names, or -1. */
static int
media_fmt(const char *s, size_t len)
{
	if (media_is(s, len, "application/json") || has_suffix(s, len, "+json"))
		return FMT_JSON;
	if (media_is(s, len, "application/xml") || media_is(s, len, "text/xml") ||
	    has_suffix(s, len, "+xml"))
		return FMT_XML;
	return -1;
}

static int
range_spec(const char *s, size_t len, enum fmt f)
{
	if (media_is(s, len, "*/*"))
		return SPEC_ANY;
	if (media_is(s, len, "application/*"))
		return SPEC_TYPE;
	if (media_is(s, len, "text/*"))
		return f == FMT_XML ? SPEC_TYPE : SPEC_NONE;
	return media_fmt(s, len) == (int)f ? SPEC_FULL : SPEC_NONE;
}

/* Parses "q=0.5" style weights into thousandths; bad values count as 0. */
static int
parse_q(const char *p, const char *end)
{
	int	 q = 0, scale = 1000;

	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p >= end || (*p != '0' && *p != '1'))
		return 0;
	q = (*p++ - '0') * 1000;
	if (p < end && *p == '.')
		for (p++; p < end && isdigit((unsigned char)*p) && scale > 1; p++) {
			scale /= 10;
			q += (*p - '0') * scale;
		}
	return q > 1000 ? 1000 : q;
}

static int
range_q(const char *params, const char *end)
{
	const char	*p = params;

	while (p < end) {
		while (p < end && (*p == ';' || isspace((unsigned char)*p)))
			p++;
		if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
			return parse_q(p + 2, end);
		while (p < end && *p != ';')
			p++;
	}
	return 1000;
}

static void
consider(struct pick *picks, const char *range, const char *end, int pos)
{
	const char	*type = range, *tend;
	int		 f, spec, q;

	while (type < end && isspace((unsigned char)*type))
		type++;
	tend = type;
	while (tend < end && *tend != ';' && !isspace((unsigned char)*tend))
		tend++;
	q = range_q(tend, end);
	for (f = 0; f < FMT__MAX; f++) {
		spec = range_spec(type, (size_t)(tend - type), (enum fmt)f);
		if (spec == SPEC_NONE || spec < picks[f].spec)
			continue;
		if (spec == picks[f].spec && q <= picks[f].q)
			continue;
		picks[f].spec = spec;
		picks[f].q = q;
		picks[f].pos = pos;
	}
}

int
negotiate_accept(const char *accept, enum fmt *out)
{
	struct pick	 picks[FMT__MAX];
	const char	*p = accept, *comma;
	int		 f, best = -1, pos = 0;

	*out = FMT_JSON;
	if (accept == NULL || *accept == '\0')
		return 0;
	for (f = 0; f < FMT__MAX; f++)
		picks[f] = (struct pick){ SPEC_NONE, 0, 0 };
	while (*p != '\0') {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		consider(picks, p, comma, pos++);
		p = *comma ? comma + 1 : comma;
	}
	for (f = 0; f < FMT__MAX; f++) {
		if (picks[f].spec == SPEC_NONE || picks[f].q == 0)
			continue;
		if (best == -1 || picks[f].q > picks[best].q ||
		    (picks[f].q == picks[best].q && picks[f].pos < picks[best].pos))
			best = f;
	}
	if (best == -1)
		return -1;
	*out = (enum fmt)best;
	return 0;
}

int
negotiate_content_type(const char *ctype, enum fmt *out)
{
	const char	*end, *cs;
	int		 f;

	if (ctype == NULL)
		return -1;
	while (isspace((unsigned char)*ctype))
		ctype++;
	end = ctype + strcspn(ctype, "; \t");
	if ((f = media_fmt(ctype, (size_t)(end - ctype))) == -1)
		return -1;
	/* Bodies are read as UTF-8; another declared charset is refused. */
	if ((cs = strcasestr(end, "charset=")) != NULL) {
		cs += 8;
		if (*cs == '"')
			cs++;
		if (strncasecmp(cs, "utf-8", 5) != 0 &&
		    strncasecmp(cs, "utf8", 4) != 0)
			return -1;
	}
	*out = (enum fmt)f;
	return 0;
}
