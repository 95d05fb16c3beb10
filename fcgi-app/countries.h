/*
 * ISO 3166-1 alpha-2 country codes and names.  The table (countries.c) is
 * generated at build time by gen_countries from Debian's iso-codes data,
 * so no list is typed by hand.
 */
#ifndef COUNTRIES_H
#define COUNTRIES_H

#include <stddef.h>

struct country {
	char		 code[3];
	const char	*name;
};

extern const struct country	 countries[];
extern const size_t		 ncountries;

/* The name for an upper-case alpha-2 code, or NULL when there is none. */
const char	*country_name(const char *code);

#endif
