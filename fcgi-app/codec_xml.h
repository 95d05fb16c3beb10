/*
 * XML side of content negotiation.  Responses are built as one jansson
 * tree; this module writes that tree as XML and reads XML request bodies
 * into the same kind of tree, so handlers never know which format the
 * client spoke.
 */
#ifndef CODEC_XML_H
#define CODEC_XML_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"

#define CODEC_XML_MAX_DEPTH	32
/* Attributes on one element: only xsi:nil and key mean anything. */
#define CODEC_XML_MAX_ATTRS	4
/* Elements in one document (a tenant has about 40). */
#define CODEC_XML_MAX_ELEMENTS	65536

/*
 * Appends an XML document for tree to out.  root names the document
 * element (e.g. "tenant", "tenants", "problem").  item names the elements
 * of an array held under the key "data" (e.g. "tenant").  Returns 0, or -1
 * on allocation failure.
 */
int	 codec_xml_encode(const json_t *tree, const char *root,
	    const char *item, struct buf *out);

/*
 * Parses an XML request body into a new JSON object (the children of the
 * document element).  Leaves are strings; xsi:nil="true" is null.
 * Returns NULL with a message in err on malformed input, a DOCTYPE, or
 * nesting deeper than CODEC_XML_MAX_DEPTH.
 */
json_t	*codec_xml_decode(const char *data, size_t len, char *err,
	    size_t errlen);

/* Resets libxml2's global state once per process. */
void	 codec_xml_init(void);

#endif
