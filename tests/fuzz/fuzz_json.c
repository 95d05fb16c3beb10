/*
 * JSON request bodies and the JSON and XML writers.  The input is a body:
 * what codec_json_decode accepts is written back by codec_json_encode
 * and must be read by jansson's strict parser as an equal value; it is
 * also written as XML, which libxml2 must find well-formed.  Any valid
 * UTF-8 input is also written as one JSON string and read back.
 * jansson allocates from the worker's arena, as in tenantd.
 */
#include <string.h>

#include <libxml/parser.h>

#include "buf.h"
#include "codec_json.h"
#include "codec_xml.h"
#include "fuzz.h"
#include "json_arena.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	json_arena_install();
	codec_xml_init();
	return 0;
}

static void
check_json_roundtrip(const json_t *v, struct buf *out)
{
	json_error_t	 e;
	json_t		*back;

	buf_reset(out);
	FUZZ_CHECK(codec_json_encode(v, out) == 0);
	back = json_loadb(out->data, out->len, JSON_REJECT_DUPLICATES, &e);
	if (back == NULL)
		fprintf(stderr, "jansson refused tenantd's JSON: %s\n", e.text);
	FUZZ_CHECK(back != NULL);
	FUZZ_CHECK(json_equal(v, back));
	json_decref(back);
}

static void
check_xml_wellformed(const json_t *v, struct buf *out)
{
	xmlDocPtr	 doc;

	buf_reset(out);
	FUZZ_CHECK(codec_xml_encode(v, "tenant", "item", out) == 0);
	doc = xmlReadMemory(out->data, (int)out->len, NULL, NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
	    XML_PARSE_HUGE);
	if (doc == NULL)
		fprintf(stderr, "libxml2 refused tenantd's XML:\n%s\n",
		    out->data);
	FUZZ_CHECK(doc != NULL);
	xmlFreeDoc(doc);
}

/* A string of any valid UTF-8 (NUL included) survives the writer. */
static void
check_string(const uint8_t *data, size_t size, struct buf *out)
{
	json_error_t	 e;
	json_t		*back;

	/* jansson takes only valid UTF-8. */
	if ((back = json_stringn((const char *)data, size)) == NULL)
		return;
	json_decref(back);
	buf_reset(out);
	FUZZ_CHECK(codec_json_string(out, (const char *)data, size) == 0);
	back = json_loadb(out->data, out->len, JSON_DECODE_ANY |
	    JSON_ALLOW_NUL, &e);
	FUZZ_CHECK(back != NULL && json_is_string(back));
	FUZZ_CHECK(json_string_length(back) == size &&
	    memcmp(json_string_value(back), data, size) == 0);
	json_decref(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	 out = { NULL, 0, 0 };
	char		 err[256];
	json_t		*v;

	json_arena_begin();
	err[0] = '\0';
	v = codec_json_decode((const char *)data, size, err, sizeof(err));
	if (v == NULL)
		FUZZ_CHECK(err[0] != '\0');
	else {
		FUZZ_CHECK(json_is_object(v));
		check_json_roundtrip(v, &out);
		check_xml_wellformed(v, &out);
		json_decref(v);
	}
	check_string(data, size, &out);
	json_arena_end();
	buf_free(&out);
	return 0;
}
