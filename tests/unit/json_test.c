/*
 * json_append() against jv_dump_string(v, 0) of libjq: every value of
 * the tables must come out byte for byte the same. The values cover
 * control characters, DEL, quotes, characters outside ASCII, nesting,
 * empty containers and numbers. Invalid UTF-8 is covered too, because
 * libjq replaces it when it builds the string. The messages of
 * json_parse_line() on invalid lines are checked last.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "buf.h"
#include "json.h"
#include "unit.h"

/* JSON texts parsed into the values under test. */
static const char *const texts[] = {
	"null", "true", "false", "0", "-1", "3", "42.5", "1e17", "1e-7",
	"123456789012345678", "0.1", "-0.0", "1.7976931348623157e308",
	"\"\"", "\"plain text\"", "\"quote \\\" and backslash \\\\\"",
	"\"slash / stays\"", "\"tab\\tnewline\\ncr\\rbs\\bff\\f\"",
	"\"nul \\u0000 unit \\u001f del \\u007f\"",
	"\"caf\\u00e9 \\u2603 \\ud83d\\ude00\"", "\"c1 \\u0085 control\"",
	"[]", "{}", "[[], {}, [null]]", "[1, \"two\", [3, {\"four\": 4}]]",
	"{\"type\": \"message\", \"body\": \"Where is my order?\", "
	"\"media\": [], \"n\": 2, \"nested\": {\"a\": null, \"b\": [true]}}",
	"{\"z\": 1, \"a\": 2, \"m\": {\"y\": 1, \"b\": 2}}",
	"{\"key \\\"quoted\\\"\\n\": \"value\"}",
};

/* Raw bytes turned into jv strings, so libjq replaces invalid UTF-8. */
static const char *const raw[] = {
	"invalid \xff byte", "truncated \xe2\x98", "overlong \xc0\xaf",
	"surrogate \xed\xa0\x80", "emoji \xf0\x9f\x98\x80",
	"controls \x01\x02\x1b\x7f",
};

/*
 * Lines that json_parse_line() rejects, with the message expected for
 * each. libjq 1.6 counts lines within the text it parses, so a record of
 * one line is on its line 1, which the message leaves out.
 */
static const struct {
	const char *line;
	const char *message;
} invalid[] = {
	{ "{\"a\" 1}",
	    "invalid JSON at column 7: Expected separator between values" },
	{ "{\"a\":", "invalid JSON at column 5: Unfinished JSON term at EOF" },
	{ "{\"a\":1}}", "invalid JSON at column 8: Unmatched '}'" },
	{ "[1] [2]", "invalid JSON: Unexpected extra JSON values" },
	{ "caf\xc3", "invalid UTF-8 at column 4" },
	{ "{\n\"a\" 1}", "invalid JSON: Expected separator between values "
	    "at line 2, column 6" },
};

static void
check_invalid(const char *line, const char *message)
{
	jv rec = json_parse_line(line, strlen(line));
	jv msg = jv_invalid_get_msg(rec);
	char name[160];

	/* The message names the check, because a line may contain a newline. */
	snprintf(name, sizeof(name), "parse error \"%s\"", message);
	unit_check_str(jv_get_kind(msg) == JV_KIND_STRING ?
	    jv_string_value(msg) : NULL, message, name);
	jv_free(msg);
}

static void
check(jv v, const char *name)
{
	struct buf b = { 0 };
	jv want = jv_dump_string(jv_copy(v), 0);

	json_append(&b, v);
	buf_addc(&b, '\0');
	unit_check_str(b.data, jv_string_value(want), name);
	jv_free(want);
	buf_free(&b);
}

int
main(void)
{
	char name[160];
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		jv v = jv_parse(texts[i]);

		snprintf(name, sizeof(name), "json text %s", texts[i]);
		if (!jv_is_valid(v)) {
			jv_free(v);
			unit_check(0, name);
			continue;
		}
		check(v, name);
	}
	for (i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		snprintf(name, sizeof(name), "raw string %zu", i);
		check(jv_string(raw[i]), name);
		snprintf(name, sizeof(name), "raw string %zu as a key", i);
		check(jv_object_set(jv_object(), jv_string(raw[i]),
		    jv_string(raw[i])), name);
	}
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		check_invalid(invalid[i].line, invalid[i].message);
	return unit_done();
}
