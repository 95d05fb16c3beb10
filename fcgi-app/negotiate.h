/* Content negotiation: which format to answer in, which one a body is in. */
#ifndef NEGOTIATE_H
#define NEGOTIATE_H

enum fmt {
	FMT_JSON,
	FMT_XML,
	FMT__MAX
};

/*
 * Picks the response format for an Accept header (NULL or empty = JSON).
 * Returns -1 when neither format is acceptable (406).
 */
int	 negotiate_accept(const char *accept, enum fmt *);
/* Format of a request body by Content-Type; -1 when unsupported (415). */
int	 negotiate_content_type(const char *ctype, enum fmt *);

#endif
