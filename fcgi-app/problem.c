#include <stdio.h>

#include "problem.h"

void
problem_set(struct response *r, int status, const char *code,
    const char *detail, json_t *errors)
{
	char	 type[128];
	json_t	*p;

	snprintf(type, sizeof(type), "urn:tenantd:problem:%s", code);
	p = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type,
	    "title", http_reason(status), "status", status,
	    "detail", detail ? detail : http_reason(status), "code", code);
	if (p != NULL && errors != NULL)
		json_object_set_new(p, "errors", errors);
	else
		json_decref(errors);
	response_set(r, status, p, "problem", NULL);
	r->problem = true;
}
