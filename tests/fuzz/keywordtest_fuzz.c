/*
 * Fuzzes the keyword_test filter line of convo-keywords test with
 * arbitrary bytes as an input line. Invariant: when keyword_test_line()
 * takes a line, libjq parses it as an object, and the output equals what
 * adding the keyword_test object with libjq and jv_dump_string() gives.
 */
#include <jv.h>

#include "buf.h"
#include "keywordtest.h"
#include "match.h"
#include "fuzz.h"

static struct keyword_set keywords;

/* Load a few keywords of each action once, before the first input. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	keyword_set_add(&keywords, "stop", KEYWORD_OPT_OUT, 0);
	keyword_set_add(&keywords, "start", KEYWORD_OPT_IN, 0);
	keyword_set_add(&keywords, "yes", KEYWORD_OPT_IN, 1);
	keyword_set_add(&keywords, "help", KEYWORD_HELP, 0);
	(void)argc;
	(void)argv;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyword_test_scratch scratch = { 0 };
	struct buf out = { 0 };
	const char *line = (const char *)data;
	jv rec, body, text;

	if (size > 65536 || !keyword_test_line(&out, &scratch, &keywords,
	    line, size)) {
		keyword_test_free(&scratch);
		return 0;
	}
	buf_addc(&out, '\0');
	FUZZ_ASSERT(memchr(line, '\0', size) == NULL);
	FUZZ_ASSERT(utf8_valid(line, size));
	rec = jv_parse_sized(line, (int)size);
	FUZZ_ASSERT(jv_get_kind(rec) == JV_KIND_OBJECT);
	body = jv_object_get(jv_copy(rec), jv_string("body"));
	if (jv_get_kind(body) == JV_KIND_STRING)
		rec = jv_object_set(rec, jv_string("keyword_test"),
		    keyword_test_fields(jv_object(), &keywords,
		    jv_string_value(body),
		    jv_string_length_bytes(jv_copy(body))));
	jv_free(body);
	text = jv_dump_string(rec, 0);
	FUZZ_ASSERT(strcmp(out.data, jv_string_value(text)) == 0);
	jv_free(text);
	buf_free(&out);
	keyword_test_free(&scratch);
	return 0;
}
