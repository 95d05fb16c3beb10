/* RFC 9457 problem details, the canonical API's error envelope. */
#ifndef PROBLEM_H
#define PROBLEM_H

#include <jansson.h>

#include "response.h"

/*
 * Sets r to a problem: type "urn:tenantd:problem:CODE", title from the
 * status, detail, code and, when errors is not NULL, errors (stolen):
 * an object of field name -> array of messages.
 */
void	 problem_set(struct response *r, int status, const char *code,
	    const char *detail, json_t *errors);

#endif
