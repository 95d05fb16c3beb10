#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "buf.h"
#include "codec_xml.h"

#define DECL		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define XSI		"http://www.w3.org/2001/XMLSchema-instance"
#define XSI_DECL	" xmlns:xsi=\"" XSI "\""
#define DOCTYPE_MSG	"XML documents with a DOCTYPE are not accepted"

static json_t *
load(const char *text)
{
	json_error_t	 jerr;
	json_t		*t;

	t = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (t == NULL)
		fail_msg("bad test JSON: %s: %s", jerr.text, text);
	return t;
}

/* Parses s with plain libxml2, which must accept it. */
static xmlDocPtr
reparse(const char *s, size_t len)
{
	xmlDocPtr	 doc;

	doc = xmlReadMemory(s, (int)len, NULL, NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL)
		fail_msg("not well-formed: %s", s);
	return doc;
}

/* Encodes json as <root>; the output must be well-formed and equal want. */
static void
check_encode(const char *json, const char *root, const char *item,
    const char *want)
{
	struct buf	 b = { 0 };
	json_t		*t = load(json);

	assert_int_equal(codec_xml_encode(t, root, item, &b), 0);
	assert_string_equal(b.data, want);
	assert_int_equal(strlen(b.data), b.len);
	xmlFreeDoc(reparse(b.data, b.len));
	json_decref(t);
	buf_free(&b);
}

/* The document for an object body under <root>. */
static char *
doc_for(const char *root, const char *inner)
{
	char	*s;

	if (asprintf(&s, DECL "<%s" XSI_DECL ">%s</%s>", root, inner,
	    root) == -1)
		fail_msg("asprintf");
	return s;
}

static void
check_encode_obj(const char *json, const char *root, const char *item,
    const char *inner)
{
	char	*want = doc_for(root, inner);

	check_encode(json, root, item, want);
	free(want);
}

static json_t *
decode_ok(const char *xml)
{
	char	 err[256];
	json_t	*t;

	if ((t = codec_xml_decode(xml, strlen(xml), err, sizeof(err))) == NULL)
		fail_msg("decode failed: %s: %s", err, xml);
	assert_true(json_is_object(t));
	return t;
}

static void
check_decode(const char *xml, const char *json)
{
	json_t	*got = decode_ok(xml), *want = load(json);
	char	*s;

	if (!json_equal(got, want)) {
		s = json_dumps(got, JSON_COMPACT);
		fail_msg("decoded %s, want %s", s, json);
	}
	json_decref(got);
	json_decref(want);
}

/* Decoding must fail with an error starting with want. */
static void
check_refused_len(const char *xml, size_t len, const char *want)
{
	char	 err[256];
	json_t	*t;

	memset(err, 'x', sizeof(err));
	t = codec_xml_decode(xml, len, err, sizeof(err));
	if (t != NULL) {
		json_decref(t);
		fail_msg("accepted: %.*s", (int)len, xml);
	}
	assert_non_null(memchr(err, '\0', sizeof(err)));
	assert_true(err[0] != '\0');
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error \"%s\", want \"%s...\"", err, want);
}

static void
check_refused(const char *xml, const char *want)
{
	check_refused_len(xml, strlen(xml), want);
}

static void
test_encode_scalars(void **state)
{
	(void)state;
	check_encode_obj("{\"name\":\"acme\",\"count\":3,\"neg\":-42,"
	    "\"ratio\":0.5,\"active\":true,\"deleted\":false,"
	    "\"connectionString\":null,\"issuer\":\"\"}", "tenant", NULL,
	    "<name>acme</name><count>3</count><neg>-42</neg>"
	    "<ratio>0.5</ratio><active>true</active><deleted>false</deleted>"
	    "<connectionString xsi:nil=\"true\"/><issuer></issuer>");
	check_encode_obj("{\"max\":9223372036854775807,"
	    "\"min\":-9223372036854775808,\"tenth\":0.1,\"big\":1e300}",
	    "n", NULL,
	    "<max>9223372036854775807</max><min>-9223372036854775808</min>"
	    "<tenth>0.10000000000000001</tenth><big>1.0000000000000001e+300</big>");
}

static void
test_encode_nested(void **state)
{
	(void)state;
	check_encode_obj("{\"owner\":{\"email\":\"a@b.c\",\"address\":"
	    "{\"city\":\"Oslo\",\"zip\":null}},\"eo\":{},\"ea\":[]}",
	    "tenant", NULL,
	    "<owner><email>a@b.c</email><address><city>Oslo</city>"
	    "<zip xsi:nil=\"true\"/></address></owner><eo></eo><ea></ea>");
}

static void
test_encode_arrays(void **state)
{
	(void)state;
	check_encode_obj("{\"data\":[{\"id\":\"a\"},{\"id\":\"b\"}],"
	    "\"total\":2}", "tenants", "tenant",
	    "<data><tenant><id>a</id></tenant><tenant><id>b</id></tenant>"
	    "</data><total>2</total>");
	check_encode_obj("{\"data\":[1,null]}", "list", NULL,
	    "<data><item>1</item><item xsi:nil=\"true\"/></data>");
	/* An item name that is no XML name falls back to "item". */
	check_encode_obj("{\"data\":[1]}", "list", "bad name",
	    "<data><item>1</item></data>");
	check_encode_obj("{\"tenants\":[{\"id\":\"a\"}],"
	    "\"entries\":[\"x\",\"y\"],\"steps\":[1],\"ies\":[1],"
	    "\"address\":[\"a\"],\"s\":[\"z\"],\"misc\":[true]}",
	    "r", NULL,
	    "<tenants><tenant><id>a</id></tenant></tenants>"
	    "<entries><entry>x</entry><entry>y</entry></entries>"
	    "<steps><step>1</step></steps><ies><y>1</y></ies>"
	    "<address><value>a</value></address><s><value>z</value></s>"
	    "<misc><value>true</value></misc>");
	check_encode_obj("{\"errors\":{\"Name\":[\"required\",\"too long\"],"
	    "\"emails\":[\"bad\"]}}", "problem", NULL,
	    "<errors><Name><message>required</message><message>too long"
	    "</message></Name><emails><message>bad</message></emails></errors>");
	check_encode_obj("{\"grid\":[[1,2],[],[[3]]]}", "r", NULL,
	    "<grid><value><value>1</value><value>2</value></value>"
	    "<value></value><value><value><value>3</value></value></value>"
	    "</grid>");
}

static void
test_encode_escaping(void **state)
{
	struct buf	 b = { 0 };
	json_t		*t;
	xmlDocPtr	 doc;
	xmlChar		*text;
	/* NUL, \x01, \x1f, tab, LF, CR, U+FFFE, U+FFFF, DEL, e-acute */
	static const char raw[] = "<a&b>\"c'd]]>\0\x01\x1f\t\n\r"
	    "\xef\xbf\xbe\xef\xbf\xbf\x7f\xc3\xa9";
	static const char want[] = DECL "<s" XSI_DECL ">"
	    "&lt;a&amp;b&gt;\"c'd]]&gt;"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\t\n&#13;"
	    "\xef\xbf\xbd\xef\xbf\xbd\x7f\xc3\xa9</s>";
	static const char reread[] = "<a&b>\"c'd]]>"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\t\n\r"
	    "\xef\xbf\xbd\xef\xbf\xbd\x7f\xc3\xa9";

	(void)state;
	t = json_stringn(raw, sizeof(raw) - 1);
	assert_non_null(t);
	assert_int_equal(codec_xml_encode(t, "s", NULL, &b), 0);
	assert_string_equal(b.data, want);
	doc = reparse(b.data, b.len);
	text = xmlNodeGetContent(xmlDocGetRootElement(doc));
	assert_string_equal((const char *)text, reread);
	xmlFree(text);
	xmlFreeDoc(doc);
	json_decref(t);
	buf_free(&b);
}

static void
test_encode_keys(void **state)
{
	struct buf	 b = { 0 };
	json_t		*t, *back;
	xmlDocPtr	 doc;
	char		 err[256];
	const char	*json = "{\"1abc\":\"one\",\"a b\":\"two\","
	    "\"xmlThing\":\"three\",\"XmLx\":\"3b\",\"\":\"four\","
	    "\"k\\\"<&>\\t\\n\\r'\":\"five\",\"caf\\u00e9\":\"six\","
	    "\"my list\":[\"p\",\"q\"],\"ok_key.v-1\":\"seven\","
	    "\"_u\":\"eight\"}";

	(void)state;
	check_encode_obj("{\"a b\":1,\"k\\\"<&>\\t\\n\\r\":null}", "r", NULL,
	    "<entry key=\"a b\">1</entry>"
	    "<entry key=\"k&quot;&lt;&amp;>&#9;&#10;&#13;\" xsi:nil=\"true\"/>");
	check_encode_obj("{\"my items\":[1]}", "r", NULL,
	    "<entry key=\"my items\"><value>1</value></entry>");

	/* Every odd key must come back unchanged. */
	t = load(json);
	assert_int_equal(codec_xml_encode(t, "r", NULL, &b), 0);
	doc = reparse(b.data, b.len);
	xmlFreeDoc(doc);
	back = codec_xml_decode(b.data, b.len, err, sizeof(err));
	if (back == NULL)
		fail_msg("%s", err);
	assert_true(json_equal(t, back));
	json_decref(back);
	json_decref(t);
	buf_free(&b);
}

static void
test_encode_root_forms(void **state)
{
	(void)state;
	check_encode("[1,\"a\"]", "tenants", "tenant",
	    DECL "<tenants" XSI_DECL "><tenant>1</tenant><tenant>a</tenant>"
	    "</tenants>");
	check_encode("[[1]]", "list", NULL,
	    DECL "<list" XSI_DECL "><item><value>1</value></item></list>");
	check_encode("\"x<y\"", "message", NULL,
	    DECL "<message" XSI_DECL ">x&lt;y</message>");
	check_encode("12", "count", NULL,
	    DECL "<count" XSI_DECL ">12</count>");
	check_encode("null", "nothing", NULL,
	    DECL "<nothing" XSI_DECL " xsi:nil=\"true\"/>");
	check_encode("{}", "empty", NULL,
	    DECL "<empty" XSI_DECL "></empty>");
	check_encode("{\"a\":1}", "bad root", NULL,
	    DECL "<entry key=\"bad root\"" XSI_DECL "><a>1</a></entry>");
	check_encode("{\"a\":1}", NULL, NULL,
	    DECL "<root" XSI_DECL "><a>1</a></root>");
}

static void
test_encode_appends(void **state)
{
	struct buf	 b = { 0 };
	json_t		*t = load("{\"a\":1}");

	(void)state;
	assert_int_equal(buf_puts(&b, "HEAD"), 0);
	assert_int_equal(codec_xml_encode(t, "r", NULL, &b), 0);
	assert_string_equal(b.data,
	    "HEAD" DECL "<r" XSI_DECL "><a>1</a></r>");
	buf_reset(&b);
	assert_int_equal(codec_xml_encode(t, "r", NULL, &b), 0);
	assert_string_equal(b.data, DECL "<r" XSI_DECL "><a>1</a></r>");
	json_decref(t);
	buf_free(&b);
}

static void
test_decode_simple(void **state)
{
	(void)state;
	check_decode("<tenant><id>acme</id><name> Acme  Corp </name>"
	    "<empty/><empty2></empty2><n>42</n></tenant>",
	    "{\"id\":\"acme\",\"name\":\" Acme  Corp \",\"empty\":\"\","
	    "\"empty2\":\"\",\"n\":\"42\"}");
	check_decode(DECL "<tenant>\n  <id>acme</id>\n  <owner>\n"
	    "    <email>a@b.c</email>\n  </owner>\n</tenant>\n",
	    "{\"id\":\"acme\",\"owner\":{\"email\":\"a@b.c\"}}");
	check_decode("<r/>", "{}");
	check_decode("<r>\n  </r>", "{}");
	check_decode("<r><!-- c --><?pi x?><a>1</a></r>", "{\"a\":\"1\"}");
	/* Namespaced elements map by local name. */
	check_decode("<t:r xmlns:t=\"urn:x\"><t:a>1</t:a></t:r>",
	    "{\"a\":\"1\"}");
}

static void
test_decode_text(void **state)
{
	(void)state;
	check_decode("<r><a>   </a><b>\t\n</b></r>",
	    "{\"a\":\"   \",\"b\":\"\\t\\n\"}");
	check_decode("<r><a><![CDATA[<x>&]]></a></r>",
	    "{\"a\":\"<x>&\"}");
	check_decode("<r><a>  <![CDATA[ y ]]>  </a></r>",
	    "{\"a\":\"   y   \"}");
	check_decode("<r><a>x<!-- c -->y</a></r>", "{\"a\":\"xy\"}");
	check_decode("<r><a>&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#13;"
	    "&#xe9;</a></r>", "{\"a\":\"<>&'\\\"AB\\r\\u00e9\"}");
	check_decode("<r><a>1\r\n2</a></r>", "{\"a\":\"1\\n2\"}");
}

static void
test_decode_nil(void **state)
{
	(void)state;
	check_decode("<r xmlns:xsi=\"" XSI "\"><x xsi:nil=\"true\"/>"
	    "<y xsi:nil=\"1\"></y><z xmlns:i=\"" XSI "\" i:nil=\"true\"/>"
	    "<w nil=\"true\"/><v xsi:nil=\"false\">f</v>"
	    "<u xmlns:o=\"urn:other\" o:nil=\"true\"/></r>",
	    "{\"x\":null,\"y\":null,\"z\":null,\"w\":\"\",\"v\":\"f\","
	    "\"u\":\"\"}");
}

static void
test_decode_arrays(void **state)
{
	(void)state;
	check_decode("<r><tenants><tenant><id>a</id></tenant></tenants>"
	    "<entries><entry>a</entry></entries>"
	    "<tags><t>a</t><t>b</t></tags><list><item>1</item></list>"
	    "<one><value>v</value></one><obj><k>v</k></obj>"
	    "<nil xmlns:xsi=\"" XSI "\"><v>1</v><v xsi:nil=\"true\"/></nil>"
	    "<grid><value><value>1</value><value>2</value></value></grid>"
	    "</r>",
	    "{\"tenants\":[{\"id\":\"a\"}],\"entries\":[\"a\"],"
	    "\"tags\":[\"a\",\"b\"],\"list\":[\"1\"],\"one\":[\"v\"],"
	    "\"obj\":{\"k\":\"v\"},\"nil\":[\"1\",null],"
	    "\"grid\":[[\"1\",\"2\"]]}");
	/*
	 * One item under "data" cannot be told from an object with one
	 * member; the decoder reads it as the object.
	 */
	check_decode("<r><data><tenant><id>1</id></tenant></data></r>",
	    "{\"data\":{\"tenant\":{\"id\":\"1\"}}}");
}

static void
test_decode_entry(void **state)
{
	(void)state;
	check_decode("<r><entry key=\"a b\">1</entry>"
	    "<entry key=\"1x\"><value>q</value></entry>"
	    "<entry key=\"&lt;&#9;&quot;\">2</entry>"
	    "<entry>plain</entry></r>",
	    "{\"a b\":\"1\",\"1x\":[\"q\"],\"<\\t\\\"\":\"2\","
	    "\"entry\":\"plain\"}");
	/* Keyed entries are members, never array items. */
	check_refused("<r><m><entry key=\"a\">1</entry>"
	    "<entry key=\"a\">2</entry></m></r>", "duplicate element <a>");
}

static void
test_roundtrip(void **state)
{
	struct buf	 b = { 0 };
	json_t		*t, *back;
	char		 err[256];
	size_t		 i;
	static const struct {
		const char	*json, *root, *item;
	} cases[] = {
		{ "{\"id\":\"acme\",\"name\":\"Acme & <Co> \\\"q\\\"\","
		    "\"connectionString\":null,\"adminEmail\":\"admin@acme.io\","
		    "\"isActive\":\"true\",\"validUpto\":\"2030-01-01T00:00:00Z\","
		    "\"issuer\":\"\",\"ctrl\":\" a\\tb\\nc\\rd \","
		    "\"tags\":[\"x\"],\"entries\":[\"a\",\"b\"],"
		    "\"settings\":{\"theme\":\"dark\",\"weird key\":\"v\","
		    "\"nested\":{\"deep\":\"  spaced  \"}},"
		    "\"errors\":{\"Name\":[\"required\"]},"
		    "\"unicode\":\"\\u00e9\\u4e2d\\ud83d\\ude00\"}",
		    "tenant", NULL },
		{ "{\"data\":[{\"id\":\"a\",\"name\":null},{\"id\":\"b\","
		    "\"name\":\"B\"}],\"total\":\"2\"}", "tenants", "tenant" },
		{ "{}", "empty", NULL },
	};

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = load(cases[i].json);
		buf_reset(&b);
		assert_int_equal(codec_xml_encode(t, cases[i].root,
		    cases[i].item, &b), 0);
		back = codec_xml_decode(b.data, b.len, err, sizeof(err));
		if (back == NULL)
			fail_msg("%s: %s", err, b.data);
		if (!json_equal(t, back))
			fail_msg("round trip changed %s", cases[i].json);
		json_decref(back);
		json_decref(t);
	}
	buf_free(&b);
}

static void
test_doctype_internal(void **state)
{
	(void)state;
	check_refused("<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE lolz [\n"
	    " <!ENTITY lol \"lol\">\n"
	    " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	    " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
	    " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
	    " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
	    " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
	    " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
	    " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
	    " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
	    " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
	    "]>\n<lolz><a>&lol9;</a></lolz>", DOCTYPE_MSG);
	check_refused("<!DOCTYPE r><r><a>1</a></r>", DOCTYPE_MSG);
	check_refused("<!DOCTYPE r [<!ELEMENT r ANY>]><r><a>1</a></r>",
	    DOCTYPE_MSG);
	check_refused("<!DOCTYPE r [<!ATTLIST a xsi:nil CDATA \"true\">]>"
	    "<r><a>1</a></r>", DOCTYPE_MSG);
	check_refused("<!-- hi --><!DOCTYPE r [<!ENTITY % p \"x\"> %p;]>"
	    "<r><a>1</a></r>", DOCTYPE_MSG);
}

static void
check_no_passwd(const char *xml)
{
	char	 err[4096], line[256];
	FILE	*fp;
	json_t	*t;

	t = codec_xml_decode(xml, strlen(xml), err, sizeof(err));
	assert_null(t);
	assert_string_equal(err, DOCTYPE_MSG);
	assert_null(strstr(err, "root:"));
	if ((fp = fopen("/etc/passwd", "r")) == NULL)
		return;
	if (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		assert_null(strstr(err, line));
	}
	fclose(fp);
}

static void
test_doctype_external(void **state)
{
	(void)state;
	check_no_passwd("<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
	    "<r><a>&xxe;</a></r>");
	check_no_passwd("<!DOCTYPE r SYSTEM \"file:///etc/passwd\">"
	    "<r><a>x</a></r>");
	check_no_passwd("<!DOCTYPE r PUBLIC \"-//X//Y\" "
	    "\"http://127.0.0.1:1/x.dtd\"><r><a>x</a></r>");
	check_no_passwd("<!DOCTYPE r [<!ENTITY % p SYSTEM "
	    "\"file:///etc/passwd\"> %p;]><r><a>x</a></r>");
	check_no_passwd("<!DOCTYPE r [<!ENTITY x SYSTEM "
	    "\"file:///etc/passwd\">]><r><entry key=\"&x;\">1</entry></r>");
}

static void
test_undefined_entity(void **state)
{
	(void)state;
	check_refused("<r><a>&foo;</a></r>", "malformed XML: ");
	check_refused("<r><entry key=\"&foo;\">1</entry></r>",
	    "malformed XML: ");
	check_refused("<r><a>&#0;</a></r>", "malformed XML: ");
	check_refused("<r><a>&#xFFFE;</a></r>", "malformed XML: ");
}

static char *
nested(int depth)
{
	struct buf	 b = { 0 };
	int		 i;

	for (i = 0; i < depth; i++)
		if (buf_printf(&b, "<e%d>", i) == -1)
			fail();
	buf_puts(&b, "x");
	for (i = depth - 1; i >= 0; i--)
		if (buf_printf(&b, "</e%d>", i) == -1)
			fail();
	return b.data;
}

static void
test_depth(void **state)
{
	char	*s;
	json_t	*t, *v;
	int	 depth, i;
	static const int ok[] = { 2, 31, CODEC_XML_MAX_DEPTH };
	static const int bad[] = { CODEC_XML_MAX_DEPTH + 1, 1000, 100000 };
	char	 key[16];

	(void)state;
	for (i = 0; i < (int)(sizeof(ok) / sizeof(ok[0])); i++) {
		s = nested(ok[i]);
		t = decode_ok(s);
		v = t;
		for (depth = 1; depth < ok[i]; depth++) {
			snprintf(key, sizeof(key), "e%d", depth);
			v = json_object_get(v, key);
			assert_non_null(v);
		}
		assert_string_equal(json_string_value(v), "x");
		json_decref(t);
		free(s);
	}
	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		s = nested(bad[i]);
		check_refused(s, "XML nested deeper than 32 elements");
		free(s);
	}
}

static void
test_mixed_content(void **state)
{
	(void)state;
	check_refused("<r><a>text<b>x</b></a></r>", "mixed content in <a>");
	check_refused("<r><a><b>x</b>tail</a></r>", "mixed content in <a>");
	check_refused("<r>hi<a>x</a></r>", "mixed content in <r>");
	check_refused("<r><a><b>x</b><![CDATA[y]]></a></r>",
	    "mixed content in <a>");
	check_refused("<r>just text</r>",
	    "expected an element with child elements");
}

static void
test_duplicate(void **state)
{
	(void)state;
	check_refused("<r><a>1</a><b>2</b><a>3</a></r>",
	    "duplicate element <a>");
	check_refused("<r><o><x>1</x><y/><x/></o></r>",
	    "duplicate element <x>");
	check_refused("<r><x>1</x><entry key=\"x\">2</entry></r>",
	    "duplicate element <x>");
	/* Two of one name at the top are still members of an object. */
	check_refused("<r><a>1</a><a>2</a></r>", "duplicate element <a>");
}

static void
test_malformed(void **state)
{
	static const char nul[] = "<r><a>x\0y</a></r>";
	static const char *docs[] = {
		"<r><a>x</r>",
		"<r><a>x</a>",
		"<r",
		"<",
		"not xml at all",
		"\x01\x02\xff\xfe\xfd garbage",
		"<r><a>\xff\xfe</a></r>",
		"<r><a>x</a></r><r/>",
		"<r><a b=\"1\" b=\"2\">x</a></r>",
		"<?xml version=\"1.0\" encoding=\"no-such-enc\"?><r/>",
		"   ",
		"<r><1a>x</1a></r>",
		"<r><a>]]></a></r>",
	};
	char	 err[256];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		check_refused(docs[i], "malformed XML");
	check_refused_len("", 0, "malformed XML: empty document");
	check_refused_len(NULL, 0, "malformed XML: empty document");
	check_refused_len(nul, sizeof(nul) - 1, "malformed XML");
	check_refused("<r><a>x</r>", "malformed XML: Opening and ending tag "
	    "mismatch: a line 1 and r (line 1)");

	/* The caller may not want the message, or have little room. */
	assert_null(codec_xml_decode("<r", 2, NULL, 0));
	assert_null(codec_xml_decode("<r", 2, err, 0));
	memset(err, 'x', sizeof(err));
	assert_null(codec_xml_decode("<r", 2, err, 5));
	assert_string_equal(err, "malf");
	assert_int_equal(err[5], 'x');
}

static void
test_truncations(void **state)
{
	struct buf	 b = { 0 };
	json_t		*t, *back;
	char		 err[256];
	size_t		 len;

	(void)state;
	t = load("{\"id\":\"acme\",\"name\":\"A&B\",\"tags\":[\"x\",\"y\"],"
	    "\"o\":{\"k\":null,\"weird key\":\"\\u00e9\"}}");
	assert_int_equal(codec_xml_encode(t, "tenant", NULL, &b), 0);
	for (len = 0; len < b.len; len++) {
		back = codec_xml_decode(b.data, len, err, sizeof(err));
		assert_null(back);
		assert_true(err[0] != '\0');
	}
	back = codec_xml_decode(b.data, b.len, err, sizeof(err));
	assert_non_null(back);
	assert_true(json_equal(t, back));
	json_decref(back);
	json_decref(t);
	buf_free(&b);
}

/* ASCII/Latin-1 text as UTF-16 with a byte order mark. */
static size_t
utf16(const char *s, int big, char *out)
{
	size_t	 n = 0;

	out[n++] = big ? '\xfe' : '\xff';
	out[n++] = big ? '\xff' : '\xfe';
	for (; *s != '\0'; s++) {
		out[n++] = big ? '\0' : *s;
		out[n++] = big ? *s : '\0';
	}
	return n;
}

static void
test_utf16(void **state)
{
	char	 doc[512], err[256];
	size_t	 len;
	json_t	*t;

	(void)state;
	len = utf16("<?xml version=\"1.0\" encoding=\"UTF-16\"?>"
	    "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
	    "<r><a>&x;</a></r>", 0, doc);
	check_refused_len(doc, len, DOCTYPE_MSG);
	len = utf16("<!DOCTYPE r [<!ENTITY x \"y\">]><r><a>&x;</a></r>", 1,
	    doc);
	check_refused_len(doc, len, DOCTYPE_MSG);

	len = utf16("<r><a>h\xe9</a></r>", 0, doc);
	t = codec_xml_decode(doc, len, err, sizeof(err));
	if (t == NULL)
		fail_msg("%s", err);
	assert_string_equal(json_string_value(json_object_get(t, "a")),
	    "h\xc3\xa9");
	json_decref(t);
}

/* Nothing may reach stderr, however bad the input. */
static void
test_quiet(void **state)
{
	char	 err[256];
	FILE	*tmp;
	int	 saved;
	long	 size;

	(void)state;
	fflush(stderr);
	assert_non_null(tmp = tmpfile());
	assert_true((saved = dup(STDERR_FILENO)) != -1);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) != -1);
	assert_null(codec_xml_decode("<r><a>x</r>", 11, err, sizeof(err)));
	assert_null(codec_xml_decode("<r>&foo;</r>", 12, err, sizeof(err)));
	assert_null(codec_xml_decode("<!DOCTYPE r><r/>", 16, err,
	    sizeof(err)));
	assert_null(codec_xml_decode("<r xmlns:a=\"rel\"><a>x</a>", 25, err,
	    sizeof(err)));
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) != -1);
	close(saved);
	assert_int_equal(fseek(tmp, 0, SEEK_END), 0);
	size = ftell(tmp);
	fclose(tmp);
	assert_int_equal(size, 0);
}

static void
test_init_idempotent(void **state)
{
	json_t	*t;

	(void)state;
	codec_xml_init();
	codec_xml_init();
	t = decode_ok("<r><a>1</a></r>");
	json_decref(t);
}

static int
setup(void **state)
{
	(void)state;
	codec_xml_init();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	xmlCleanupParser();
	return 0;
}

/*
 * Many attributes on one element are refused before libxml2 checks them
 * against each other in quadratic time (issue 14: 145,000 attributes held
 * a worker for 42 s); so are documents of more elements than any resource.
 */
static void
test_prescan_limits(void **state)
{
	struct buf	 b = { NULL, 0, 0 };
	char		 err[256];
	json_t		*j;
	int		 i;
	clock_t		 t0;
	const char	*ok = "<tenant a=\"1\" b='>' c=\"3\"><name>x</name>"
	    "<!-- <x a=1 b=2 c=3 d=4 e=5> --></tenant>";

	(void)state;
	j = codec_xml_decode(ok, strlen(ok), err, sizeof(err));
	assert_non_null(j);
	json_decref(j);
	buf_puts(&b, "<tenant");
	for (i = 0; i < 145000; i++)
		buf_printf(&b, " a%d=\"\"", i);
	buf_puts(&b, "><name>x</name></tenant>");
	t0 = clock();
	assert_null(codec_xml_decode(b.data, b.len, err, sizeof(err)));
	assert_non_null(strstr(err, "attributes"));
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
	buf_reset(&b);
	buf_puts(&b, "<t>");
	for (i = 0; i < CODEC_XML_MAX_ELEMENTS; i++)
		buf_puts(&b, "<a/>");
	buf_puts(&b, "</t>");
	assert_null(codec_xml_decode(b.data, b.len, err, sizeof(err)));
	assert_non_null(strstr(err, "elements"));
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_scalars),
		cmocka_unit_test(test_encode_nested),
		cmocka_unit_test(test_encode_arrays),
		cmocka_unit_test(test_encode_escaping),
		cmocka_unit_test(test_encode_keys),
		cmocka_unit_test(test_encode_root_forms),
		cmocka_unit_test(test_encode_appends),
		cmocka_unit_test(test_decode_simple),
		cmocka_unit_test(test_decode_text),
		cmocka_unit_test(test_decode_nil),
		cmocka_unit_test(test_decode_arrays),
		cmocka_unit_test(test_decode_entry),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_doctype_internal),
		cmocka_unit_test(test_doctype_external),
		cmocka_unit_test(test_undefined_entity),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_mixed_content),
		cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_utf16),
		cmocka_unit_test(test_quiet),
		cmocka_unit_test(test_init_idempotent),
		cmocka_unit_test(test_prescan_limits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
