/*
 * XML codec.  Responses are written byte by byte straight into the
 * caller's buffer; request bodies go through libxml2 with everything that
 * could reach outside the document (DTDs, entities, the network) shut off
 * before a single byte is parsed.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libxml/SAX2.h>
#include <libxml/entities.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "codec_xml.h"

#define XSI_NS		"http://www.w3.org/2001/XMLSchema-instance"
#define XML_DECL	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define XSI_DECL	" xmlns:xsi=\"" XSI_NS "\""
#define XSI_NIL		" xsi:nil=\"true\"/>"
#define UFFFD		"\xef\xbf\xbd"

#define DOCTYPE_MSG	"XML documents with a DOCTYPE are not accepted"

/*
 * libxml2 is told about no DTD, entities or external resources; these are
 * the options that keep it that way.  NOBLANKS is left out on purpose: its
 * heuristic drops whitespace-only text that is the whole value of a leaf.
 */
#define DEC_OPTIONS	(XML_PARSE_NONET | XML_PARSE_NOERROR | \
			    XML_PARSE_NOWARNING)

/*
 * An element name as written.  Singulars ("entr" + "y" for "entries") are
 * a prefix of the key plus a suffix, so no name is ever copied.  A key
 * that is not an XML name is written as <entry key="...">.
 */
struct xname {
	const char	*s;
	size_t		 len;
	const char	*suffix;
	int		 entry;
};

struct enc {
	struct buf	*out;
	struct xname	 item;		/* elements of an array under "data" */
	const struct xname *root;	/* the document element */
};

struct dec {
	char		*err;
	size_t		 errlen;
	int		 depth;
	int		 doctype;
	int		 toodeep;
	int		 perrset;
	int		 pline;
	char		 perr[200];	/* libxml2's first complaint */
};

static const struct xname xname_value = { "value", 5, "", 0 };
static const struct xname xname_item = { "item", 4, "", 0 };
static const struct xname xname_message = { "message", 7, "", 0 };

static int
xml_name_ok(const char *s, size_t len)
{
	size_t	 i;
	char	 c;

	if (len == 0)
		return 0;
	c = s[0];
	if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'))
		return 0;
	for (i = 1; i < len; i++) {
		c = s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')
			continue;
		return 0;
	}
	/* Names starting with "xml" are reserved by the XML spec. */
	if (len >= 3 && strncasecmp(s, "xml", 3) == 0)
		return 0;
	return 1;
}

/*
 * The singular of an array's name, as a prefix length and suffix:
 * "entries" -> "entr" + "y", "tenants" -> "tenant" + "".  Returns -1 when
 * there is none ("address", "s", "data").
 */
static int
xml_singular(const char *s, size_t len, size_t *plen, const char **suffix)
{
	if (len >= 3 && memcmp(s + len - 3, "ies", 3) == 0) {
		*plen = len - 3;
		*suffix = "y";
		return 0;
	}
	if (len >= 2 && s[len - 1] == 's' && s[len - 2] != 's') {
		*plen = len - 1;
		*suffix = "";
		return 0;
	}
	return -1;
}

static void
enc_key(struct xname *n, const char *key, size_t len)
{
	n->s = key;
	n->len = len;
	n->suffix = "";
	n->entry = !xml_name_ok(key, len);
}

/* Names the elements of an array held under key. */
static void
enc_item_name(const struct enc *e, const struct xname *key,
    struct xname *item)
{
	if (key->entry) {
		*item = xname_value;
		return;
	}
	if (key->len == 4 && memcmp(key->s, "data", 4) == 0) {
		*item = e->item;
		return;
	}
	if (xml_singular(key->s, key->len, &item->len, &item->suffix) == -1) {
		*item = xname_value;
		return;
	}
	/* A prefix of a valid name is valid; only "s" leaves nothing. */
	if (item->len == 0 && *item->suffix == '\0') {
		*item = xname_value;
		return;
	}
	item->s = key->s;
	item->entry = 0;
}

/*
 * What to write instead of the byte at p, or NULL to copy it.  Characters
 * XML 1.0 cannot carry at all (C0 controls other than tab, newline and
 * carriage return; U+FFFE; U+FFFF) become U+FFFD so the document always
 * parses.  \r is a reference because parsers fold a literal one into \n;
 * in attributes \t and \n are too, as attribute normalisation would turn
 * them into spaces.
 */
static const char *
enc_replacement(const unsigned char *p, const unsigned char *end, int attr,
    size_t *skip)
{
	*skip = 1;
	switch (*p) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return attr ? NULL : "&gt;";
	case '"':
		return attr ? "&quot;" : NULL;
	case '\t':
		return attr ? "&#9;" : NULL;
	case '\n':
		return attr ? "&#10;" : NULL;
	case '\r':
		return "&#13;";
	case 0xef:
		if (end - p >= 3 && p[1] == 0xbf &&
		    (p[2] == 0xbe || p[2] == 0xbf)) {
			*skip = 3;
			return UFFFD;
		}
		return NULL;
	}
	return *p < 0x20 ? UFFFD : NULL;
}

/* Copies s in runs, breaking only where a byte needs replacing. */
static int
enc_escape(struct buf *out, const char *s, size_t len, int attr)
{
	const unsigned char	*p, *end, *run;
	const char		*rep;
	size_t			 skip;

	p = run = (const unsigned char *)s;
	end = p + len;
	for (; p < end; p += skip) {
		if ((rep = enc_replacement(p, end, attr, &skip)) == NULL)
			continue;
		if (buf_append(out, run, (size_t)(p - run)) == -1 ||
		    buf_puts(out, rep) == -1)
			return -1;
		run = p + skip;
	}
	return buf_append(out, run, (size_t)(end - run));
}

static int
enc_name(struct buf *out, const struct xname *n)
{
	if (n->entry)
		return buf_puts(out, "entry");
	if (buf_append(out, n->s, n->len) == -1)
		return -1;
	return buf_puts(out, n->suffix);
}

/* Writes <name attrs>, or <name attrs xsi:nil="true"/> when nil. */
static int
enc_open(struct buf *out, const struct xname *n, const char *attrs, int nil)
{
	if (buf_putc(out, '<') == -1 || enc_name(out, n) == -1)
		return -1;
	if (n->entry) {
		if (buf_puts(out, " key=\"") == -1 ||
		    enc_escape(out, n->s, n->len, 1) == -1 ||
		    buf_putc(out, '"') == -1)
			return -1;
	}
	if (buf_puts(out, attrs) == -1)
		return -1;
	return buf_puts(out, nil ? XSI_NIL : ">");
}

static int
enc_close(struct buf *out, const struct xname *n)
{
	if (buf_puts(out, "</") == -1 || enc_name(out, n) == -1)
		return -1;
	return buf_putc(out, '>');
}

static int
enc_scalar(struct buf *out, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return enc_escape(out, json_string_value(v),
		    json_string_length(v), 0);
	case JSON_INTEGER:
		return buf_put_i64(out, json_integer_value(v));
	case JSON_REAL:
		return buf_printf(out, "%.17g", json_real_value(v));
	case JSON_TRUE:
		return buf_puts(out, "true");
	case JSON_FALSE:
		return buf_puts(out, "false");
	default:
		return 0;
	}
}

static int	enc_element(const struct enc *, const struct xname *,
		    const json_t *, const struct xname *, const char *);

/*
 * Whether the decoder would read element n, holding the one child
 * element c, as an array (dec_is_array): c is named "item", "value" or
 * "message", or the singular of n's name.  An object of one such member
 * writes it as <entry key="...">, so it reads back as an object.
 */
static int
enc_reads_as_array(const struct xname *n, const struct xname *c)
{
	const char	*suffix;
	size_t		 plen, slen;

	if (c->entry)
		return 0;
	if ((c->len == 4 && memcmp(c->s, "item", 4) == 0) ||
	    (c->len == 5 && memcmp(c->s, "value", 5) == 0) ||
	    (c->len == 7 && memcmp(c->s, "message", 7) == 0))
		return 1;
	/*
	 * The decoder takes the singular of an entry's key or of the name
	 * as written; a name written with suffix "y" has none.
	 */
	if ((!n->entry && *n->suffix != '\0') ||
	    xml_singular(n->s, n->len, &plen, &suffix) == -1)
		return 0;
	slen = strlen(suffix);
	return c->len == plen + slen && memcmp(c->s, n->s, plen) == 0 &&
	    memcmp(c->s + plen, suffix, slen) == 0;
}

/*
 * The members of obj.  Under "errors" (a problem's field -> messages
 * map) each array holds messages whatever the field is called, so its
 * items are <message>, not a singular made from a field name.
 */
static int
enc_members(const struct enc *e, const struct xname *parent,
    const json_t *obj, int errors)
{
	const char	*key;
	size_t		 len;
	json_t		*v;
	struct xname	 n, item;

	/* jansson's iterators take a non-const object but do not modify it. */
	json_object_keylen_foreach((json_t *)obj, key, len, v) {
		enc_key(&n, key, len);
		/* The document element is never read as an array. */
		if (parent != e->root && json_object_size(obj) == 1 &&
		    enc_reads_as_array(parent, &n))
			n.entry = 1;
		if (errors)
			item = xname_message;
		else
			enc_item_name(e, &n, &item);
		if (enc_element(e, &n, v, &item, "") == -1)
			return -1;
	}
	return 0;
}

static int
enc_items(const struct enc *e, const json_t *arr, const struct xname *item)
{
	size_t	 i;
	json_t	*v;

	/* An array in an array has no key to take a singular from. */
	json_array_foreach(arr, i, v) {
		if (enc_element(e, item, v, &xname_value, "") == -1)
			return -1;
	}
	return 0;
}

/*
 * Writes v as element n.  item names the elements if v is an array; attrs
 * is extra attribute text for the open tag (the root's xmlns:xsi).
 */
static int
enc_element(const struct enc *e, const struct xname *n, const json_t *v,
    const struct xname *item, const char *attrs)
{
	int	 rc;

	if (v == NULL || json_is_null(v))
		return enc_open(e->out, n, attrs, 1);
	if (enc_open(e->out, n, attrs, 0) == -1)
		return -1;
	if (json_is_object(v))
		rc = enc_members(e, n, v, !n->entry && n->len == 6 &&
		    memcmp(n->s, "errors", 6) == 0);
	else if (json_is_array(v))
		rc = enc_items(e, v, item);
	else
		rc = enc_scalar(e->out, v);
	if (rc == -1)
		return -1;
	return enc_close(e->out, n);
}

int
codec_xml_encode(const json_t *tree, const char *root, const char *item,
    struct buf *out)
{
	struct enc	 e;
	struct xname	 n;
	size_t		 start;

	start = out->len;
	e.out = out;
	if (item != NULL && xml_name_ok(item, strlen(item))) {
		e.item.s = item;
		e.item.len = strlen(item);
		e.item.suffix = "";
		e.item.entry = 0;
	} else
		e.item = xname_item;
	if (root == NULL)
		root = "root";
	enc_key(&n, root, strlen(root));
	e.root = &n;

	if (buf_puts(out, XML_DECL) == -1 ||
	    enc_element(&e, &n, tree, &e.item, XSI_DECL) == -1) {
		/* Hand back the buffer as it was, not half a document. */
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
		return -1;
	}
	return 0;
}

static void
dec_err(struct dec *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
dec_err(struct dec *d, const char *fmt, ...)
{
	va_list	 ap;

	if (d->err == NULL || d->errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(d->err, d->errlen, fmt, ap);
	va_end(ap);
}

static struct dec *
dec_of(void *ctx)
{
	return ((xmlParserCtxtPtr)ctx)->_private;
}

/*
 * Any DOCTYPE is refused, not just dangerous ones: the parser is stopped
 * as soon as the declaration's name and external ID are read, before an
 * internal subset (entity declarations) or an external one is looked at.
 * The externalSubset and entityDecl hooks are a second line should that
 * order ever change.
 */
static void
dec_sax_doctype(void *ctx, const xmlChar *name, const xmlChar *pubid,
    const xmlChar *sysid)
{
	(void)name;
	(void)pubid;
	(void)sysid;
	dec_of(ctx)->doctype = 1;
	xmlStopParser(ctx);
}

static void
dec_sax_entitydecl(void *ctx, const xmlChar *name, int type,
    const xmlChar *pubid, const xmlChar *sysid, xmlChar *content)
{
	(void)name;
	(void)type;
	(void)pubid;
	(void)sysid;
	(void)content;
	dec_of(ctx)->doctype = 1;
	xmlStopParser(ctx);
}

/* Only &lt; &gt; &amp; &apos; &quot; exist; the rest are errors. */
static xmlEntityPtr
dec_sax_getentity(void *ctx, const xmlChar *name)
{
	(void)ctx;
	return xmlGetPredefinedEntity(name);
}

static xmlParserInputPtr
dec_sax_resolve(void *ctx, const xmlChar *pubid, const xmlChar *sysid)
{
	(void)ctx;
	(void)pubid;
	(void)sysid;
	return NULL;
}

/* Counting depth here stops a deep document before its tree is built. */
static void
dec_sax_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
    const xmlChar *uri, int nns, const xmlChar **ns, int nattrs,
    int ndefaulted, const xmlChar **attrs)
{
	struct dec	*d = dec_of(ctx);

	if (++d->depth > CODEC_XML_MAX_DEPTH) {
		d->toodeep = 1;
		xmlStopParser(ctx);
		return;
	}
	xmlSAX2StartElementNs(ctx, localname, prefix, uri, nns, ns, nattrs,
	    ndefaulted, attrs);
}

static void
dec_sax_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
    const xmlChar *uri)
{
	dec_of(ctx)->depth--;
	xmlSAX2EndElementNs(ctx, localname, prefix, uri);
}

/*
 * Keeps the first error (later ones are usually fallout from it) and
 * keeps it off stderr.
 */
static void
dec_sax_error(void *ctx, xmlErrorPtr e)
{
	struct dec	*d = dec_of(ctx);
	char		*p;
	size_t		 n;

	if (d->perrset || e == NULL || e->level < XML_ERR_ERROR ||
	    e->message == NULL)
		return;
	snprintf(d->perr, sizeof(d->perr), "%s", e->message);
	n = strlen(d->perr);
	while (n > 0 && (d->perr[n - 1] == '\n' || d->perr[n - 1] == ' '))
		d->perr[--n] = '\0';
	/* Some messages run over two lines; err is a single line. */
	for (p = d->perr; (p = strchr(p, '\n')) != NULL; p++)
		*p = ' ';
	d->pline = e->line;
	d->perrset = 1;
}

/*
 * ctxt->sax is the context's own copy, so these overrides touch no other
 * parse.  xmlCtxtUseOptions() also overrides the process-wide defaults
 * for entity substitution and DTD loading; ignorableWhitespace is reset
 * by hand in case someone called xmlKeepBlanksDefault(0).
 */
static void
dec_lockdown(xmlParserCtxtPtr ctxt, struct dec *d)
{
	xmlSAXHandlerPtr	 sax = ctxt->sax;

	xmlCtxtUseOptions(ctxt, DEC_OPTIONS);
	ctxt->_private = d;
	sax->ignorableWhitespace = sax->characters;
	sax->internalSubset = dec_sax_doctype;
	sax->externalSubset = dec_sax_doctype;
	sax->entityDecl = dec_sax_entitydecl;
	sax->getEntity = dec_sax_getentity;
	sax->getParameterEntity = dec_sax_getentity;
	sax->resolveEntity = dec_sax_resolve;
	sax->startElementNs = dec_sax_start;
	sax->endElementNs = dec_sax_end;
	sax->serror = dec_sax_error;
}

static int
dec_parsed(struct dec *d, xmlParserCtxtPtr ctxt, xmlDocPtr doc)
{
	xmlErrorPtr	 e;

	if (d->doctype) {
		dec_err(d, DOCTYPE_MSG);
		return -1;
	}
	if (d->toodeep) {
		dec_err(d, "XML nested deeper than %d elements",
		    CODEC_XML_MAX_DEPTH);
		return -1;
	}
	if (ctxt->wellFormed && doc != NULL &&
	    xmlDocGetRootElement(doc) != NULL)
		return 0;
	if (!d->perrset && (e = xmlCtxtGetLastError(ctxt)) != NULL)
		dec_sax_error(ctxt, e);
	if (d->perrset)
		dec_err(d, "malformed XML: %s (line %d)", d->perr, d->pline);
	else
		dec_err(d, "malformed XML");
	return -1;
}

static int
dec_blank(const xmlChar *s)
{
	if (s == NULL)
		return 1;
	for (; *s != '\0'; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return 0;
	return 1;
}

/*
 * Counts n's child elements and text nodes and refuses content that has
 * no JSON form: entity references and text mixed with elements.
 * Whitespace between elements is indentation, not content.
 */
static int
dec_scan(struct dec *d, xmlNodePtr n, int *nelem, int *ntext, int *blank)
{
	xmlNodePtr	 c;

	*nelem = *ntext = 0;
	*blank = 1;
	for (c = n->children; c != NULL; c = c->next) {
		switch (c->type) {
		case XML_ELEMENT_NODE:
			(*nelem)++;
			break;
		case XML_TEXT_NODE:
		case XML_CDATA_SECTION_NODE:
			(*ntext)++;
			if (!dec_blank(c->content))
				*blank = 0;
			break;
		case XML_ENTITY_REF_NODE:
			dec_err(d, "entity references are not accepted");
			return -1;
		default:
			break;
		}
	}
	if (*nelem > 0 && !*blank) {
		dec_err(d, "mixed content in <%s>", (const char *)n->name);
		return -1;
	}
	return 0;
}

static int
dec_is_nil(xmlNodePtr n)
{
	xmlChar	*v;
	int	 nil;

	if ((v = xmlGetNsProp(n, BAD_CAST "nil", BAD_CAST XSI_NS)) == NULL)
		return 0;
	nil = xmlStrEqual(v, BAD_CAST "true") || xmlStrEqual(v, BAD_CAST "1");
	xmlFree(v);
	return nil;
}

static int
dec_is_entry(xmlNodePtr n)
{
	return xmlStrEqual(n->name, BAD_CAST "entry") &&
	    xmlHasNsProp(n, BAD_CAST "key", NULL) != NULL;
}

/*
 * Children that all share one name are an array if there are several,
 * or if the one child is named like an array item (the singular of the
 * parent, "item", "value" or "message").  Keyed <entry> elements are
 * object members.
 */
static int
dec_is_array(xmlNodePtr n, const char *name)
{
	xmlNodePtr	 c;
	const xmlChar	*first = NULL;
	const char	*suffix;
	size_t		 plen, len;
	int		 count = 0;

	for (c = n->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (dec_is_entry(c))
			return 0;
		if (first == NULL)
			first = c->name;
		else if (!xmlStrEqual(first, c->name))
			return 0;
		count++;
	}
	if (first == NULL)
		return 0;
	if (count >= 2 || xmlStrEqual(first, BAD_CAST "item") ||
	    xmlStrEqual(first, BAD_CAST "value") ||
	    xmlStrEqual(first, BAD_CAST "message"))
		return 1;
	if (xml_singular(name, strlen(name), &plen, &suffix) == -1)
		return 0;
	len = strlen((const char *)first);
	return len == plen + strlen(suffix) &&
	    strncmp((const char *)first, name, plen) == 0 &&
	    strcmp((const char *)first + plen, suffix) == 0;
}

static json_t *
dec_text(struct dec *d, xmlNodePtr n, int ntext)
{
	xmlNodePtr	 c;
	xmlChar		*s;
	json_t		*v;

	if (ntext == 0)
		return json_string("");
	if (ntext == 1) {
		for (c = n->children; c != NULL; c = c->next)
			if (c->type == XML_TEXT_NODE ||
			    c->type == XML_CDATA_SECTION_NODE)
				break;
		return json_string(c->content != NULL ?
		    (const char *)c->content : "");
	}
	/* Text split by CDATA sections or comments. */
	if ((s = xmlNodeGetContent(n)) == NULL) {
		dec_err(d, "out of memory");
		return NULL;
	}
	v = json_string((const char *)s);
	xmlFree(s);
	return v;
}

static json_t	*dec_value(struct dec *, xmlNodePtr, const char *);

static json_t *
dec_array(struct dec *d, xmlNodePtr n)
{
	xmlNodePtr	 c;
	json_t		*arr, *v;

	if ((arr = json_array()) == NULL)
		goto oom;
	for (c = n->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if ((v = dec_value(d, c, (const char *)c->name)) == NULL)
			goto fail;
		if (json_array_append_new(arr, v) == -1)
			goto oom;
	}
	return arr;
oom:
	dec_err(d, "out of memory");
fail:
	json_decref(arr);
	return NULL;
}

static int
dec_member(struct dec *d, json_t *obj, xmlNodePtr c)
{
	xmlChar		*key = NULL;
	const char	*name;
	json_t		*v;
	int		 rc = -1;

	if (dec_is_entry(c) &&
	    (key = xmlGetNoNsProp(c, BAD_CAST "key")) == NULL) {
		dec_err(d, "out of memory");
		return -1;
	}
	name = key != NULL ? (const char *)key : (const char *)c->name;
	if (json_object_get(obj, name) != NULL) {
		dec_err(d, "duplicate element <%s>", name);
		goto fail;
	}
	if ((v = dec_value(d, c, name)) == NULL)
		goto fail;
	if (json_object_set_new(obj, name, v) == -1) {
		dec_err(d, "out of memory");
		goto fail;
	}
	rc = 0;
fail:
	xmlFree(key);
	return rc;
}

static json_t *
dec_object(struct dec *d, xmlNodePtr n)
{
	xmlNodePtr	 c;
	json_t		*obj;

	if ((obj = json_object()) == NULL) {
		dec_err(d, "out of memory");
		return NULL;
	}
	for (c = n->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (dec_member(d, obj, c) == -1) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

/* name is the key n stands for: its own name or its entry key. */
static json_t *
dec_value(struct dec *d, xmlNodePtr n, const char *name)
{
	json_t	*v;
	int	 nelem, ntext, blank;

	if (dec_is_nil(n))
		return json_null();
	if (dec_scan(d, n, &nelem, &ntext, &blank) == -1)
		return NULL;
	if (nelem > 0)
		return dec_is_array(n, name) ? dec_array(d, n) :
		    dec_object(d, n);
	if ((v = dec_text(d, n, ntext)) == NULL)
		dec_err(d, "out of memory");
	return v;
}

static json_t *
dec_root(struct dec *d, xmlNodePtr root)
{
	int	 nelem, ntext, blank;

	if (dec_scan(d, root, &nelem, &ntext, &blank) == -1)
		return NULL;
	if (nelem > 0)
		return dec_object(d, root);
	if (!blank) {
		dec_err(d, "expected an element with child elements");
		return NULL;
	}
	return json_object();
}

/* Where the first occurrence of what starts at or after p, or end. */
static const char *
skip_past(const char *p, const char *end, const char *what)
{
	size_t	 n = strlen(what);

	for (; p + n <= end; p++)
		if (memcmp(p, what, n) == 0)
			return p + n;
	return end;
}

/*
 * One linear pass over the bytes before libxml2 sees them: libxml2
 * checks an element's attributes against each other in quadratic time
 * (145,000 attributes held a worker for 42 s), so an element with more
 * attributes than tenantd reads, or a document of more elements than any
 * resource has, is refused here.  Quotes are honoured; comments, CDATA
 * and processing instructions are skipped; everything else (well-
 * formedness, DOCTYPE) is left to the parser.
 */
static int
dec_prescan(struct dec *d, const char *p, size_t len)
{
	const char	*end = p + len;
	size_t		 elements = 0, attrs;
	int		 depth = 0;
	char		 quote;

	while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
		p++;
		if (end - p >= 3 && memcmp(p, "!--", 3) == 0)
			p = skip_past(p + 3, end, "-->");
		else if (end - p >= 8 && memcmp(p, "![CDATA[", 8) == 0)
			p = skip_past(p + 8, end, "]]>");
		else if (p < end && *p == '?')
			p = skip_past(p + 1, end, "?>");
		else if (p < end && *p == '/') {
			depth--;
			continue;
		} else if (p < end && *p == '!')
			continue;
		else {
			if (++elements > CODEC_XML_MAX_ELEMENTS) {
				dec_err(d, "XML document has more than %d "
				    "elements", CODEC_XML_MAX_ELEMENTS);
				return -1;
			}
			for (attrs = 0, quote = 0; p < end &&
			    (quote || *p != '>'); p++)
				if (quote)
					quote = *p == quote ? 0 : quote;
				else if (*p == '"' || *p == '\'')
					quote = *p;
				else if (*p == '=' && ++attrs >
				    CODEC_XML_MAX_ATTRS) {
					dec_err(d, "an XML element has more "
					    "than %d attributes",
					    CODEC_XML_MAX_ATTRS);
					return -1;
				}
			if (p < end && p[-1] != '/' &&
			    ++depth > CODEC_XML_MAX_DEPTH) {
				dec_err(d, "XML nested deeper than %d elements",
				    CODEC_XML_MAX_DEPTH);
				return -1;
			}
		}
		if (p >= end)
			break;
	}
	return 0;
}

json_t *
codec_xml_decode(const char *data, size_t len, char *err, size_t errlen)
{
	struct dec		 d;
	xmlParserCtxtPtr	 ctxt;
	xmlDocPtr		 doc;
	json_t			*obj = NULL;

	memset(&d, 0, sizeof(d));
	d.err = err;
	d.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	if (data == NULL || len == 0) {
		dec_err(&d, "malformed XML: empty document");
		return NULL;
	}
	if (len > INT_MAX) {
		dec_err(&d, "XML document too large");
		return NULL;
	}
	if (dec_prescan(&d, data, len) == -1)
		return NULL;
	if ((ctxt = xmlCreateMemoryParserCtxt(data, (int)len)) == NULL) {
		dec_err(&d, "out of memory");
		return NULL;
	}
	dec_lockdown(ctxt, &d);
	xmlParseDocument(ctxt);
	doc = ctxt->myDoc;
	ctxt->myDoc = NULL;

	if (dec_parsed(&d, ctxt, doc) == -1)
		goto fail;
	obj = dec_root(&d, xmlDocGetRootElement(doc));
fail:
	if (doc != NULL)
		xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	return obj;
}

static void
xml_quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static void
xml_quiet_structured(void *ctx, xmlErrorPtr e)
{
	(void)ctx;
	(void)e;
}

/*
 * libxml2 keeps its error handlers per thread; call this in each thread
 * that uses libxml2.  Parses silence themselves per context anyway, so
 * this only covers errors raised outside a parse.
 */
void
codec_xml_init(void)
{
	xmlInitParser();
	xmlSetGenericErrorFunc(NULL, xml_quiet);
	xmlSetStructuredErrorFunc(NULL, xml_quiet_structured);
}
