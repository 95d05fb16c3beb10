/*
 * XML request bodies and the XML writer.  The input is a body: what
 * codec_xml_decode accepts is written by codec_xml_encode and decoded
 * again, and must come back equal; a refusal always says why.  jansson
 * allocates from the worker's arena, as in tenantd.
 */
#include <string.h>

#include "buf.h"
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	 out = { NULL, 0, 0 };
	char		 err[256];
	json_t		*v, *back;

	json_arena_begin();
	err[0] = '\0';
	v = codec_xml_decode((const char *)data, size, err, sizeof(err));
	if (v == NULL) {
		FUZZ_CHECK(err[0] != '\0');
		goto done;
	}
	FUZZ_CHECK(json_is_object(v));
	FUZZ_CHECK(codec_xml_encode(v, "tenant", "item", &out) == 0);
	back = codec_xml_decode(out.data, out.len, err, sizeof(err));
	if (back == NULL || !json_equal(v, back)) {
		fprintf(stderr, "XML round trip differs (%s):\n%.*s\n",
		    back == NULL ? err : "unequal", (int)out.len, out.data);
		abort();
	}
	json_decref(back);
	json_decref(v);
done:
	json_arena_end();
	buf_free(&out);
	return 0;
}
