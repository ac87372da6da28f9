/*
 * keyword_test_line() against the libjq path of convo-keywords test:
 * whenever it takes a line, its output must equal, byte for byte, what
 * parsing the line and printing it with jv_dump_string() gives.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "buf.h"
#include "keywordtest.h"
#include "match.h"
#include "unit.h"

/* An input of known length, so that cases may contain NUL bytes. */
#define IN(s) s, sizeof(s) - 1

/*
 * The output line of convo-keywords test for LINE through libjq, as a
 * new string, or NULL for a line that it reports as an error.
 */
static char *
print_with_jq(const struct keyword_set *set, const char *line, size_t len)
{
	jv rec, body, text;
	char *out;

	if (memchr(line, '\0', len) != NULL || !utf8_valid(line, len))
		return NULL;
	rec = jv_parse_sized(line, (int)len);
	if (jv_get_kind(rec) != JV_KIND_OBJECT) {
		jv_free(rec);
		return NULL;
	}
	body = jv_object_get(jv_copy(rec), jv_string("body"));
	if (jv_get_kind(body) == JV_KIND_STRING)
		rec = jv_object_set(rec, jv_string("keyword_test"),
		    keyword_test_fields(jv_object(), set,
		    jv_string_value(body),
		    jv_string_length_bytes(jv_copy(body))));
	jv_free(body);
	text = jv_dump_string(rec, 0);
	out = xstrdup(jv_string_value(text));
	jv_free(text);
	return out;
}

/* Counts of the lines that check_line() saw. */
struct tally {
	int taken;		/* by keyword_test_line() */
	int mismatched;		/* taken with output other than libjq's */
	int taken_invalid;	/* taken although libjq rejects them */
};

/*
 * Run LINE through both paths. Returns 1 when keyword_test_line() took
 * it, and counts a difference from libjq in T.
 */
static int
check_line(const struct keyword_set *set, const char *line, size_t len,
    struct tally *t)
{
	struct keyword_test_scratch scratch = { 0 };
	struct buf out = { 0 };
	char *want = print_with_jq(set, line, len);
	int taken;

	taken = keyword_test_line(&out, &scratch, set, line, len);
	buf_addc(&out, '\0');
	if (taken) {
		t->taken++;
		if (want == NULL) {
			t->taken_invalid++;
			printf("# taken, but libjq rejects: %.*s\n", (int)len,
			    line);
		} else if (strcmp(out.data, want) != 0) {
			t->mismatched++;
			printf("# line:     %.*s\n# got:      %s\n"
			    "# expected: %s\n", (int)len, line, out.data, want);
		}
	}
	free(want);
	buf_free(&out);
	keyword_test_free(&scratch);
	return taken;
}

struct line_case {
	const char	*name;
	const char	*line;
	size_t		 len;
	int		 taken;	/* expected of keyword_test_line() */
};

static const struct line_case cases[] = {
	{ "inbound message", IN("{\"type\":\"message\",\"direction\":"
	    "\"inbound\",\"from\":\"+12015550123\",\"body\":\"STOP\"}"), 1 },
	{ "body first", IN("{\"body\":\"help\",\"to\":\"+1\"}"), 1 },
	{ "no body", IN("{\"type\":\"status\",\"provider_message_id\":"
	    "\"SM1\"}"), 1 },
	{ "empty object", IN("{}"), 1 },
	{ "empty body", IN("{\"body\":\"\"}"), 1 },
	{ "body null", IN("{\"body\":null}"), 1 },
	{ "body number", IN("{\"body\":12}"), 1 },
	{ "body object", IN("{\"body\":{\"text\":\"stop\"}}"), 1 },
	{ "body array", IN("{\"body\":[\"stop\",1,true,false,null]}"), 1 },
	{ "quote and backslash escapes",
	    IN("{\"body\":\"say \\\"stop\\\" \\\\ now\"}"), 1 },
	{ "control escapes", IN("{\"body\":\"stop\\n\\t\\r\\b\\f\"}"), 1 },
	{ "escape in key", IN("{\"a\\\"b\":1,\"body\":\"stop\"}"), 1 },
	{ "slash escape", IN("{\"body\":\"a\\/b\"}"), 0 },
	{ "unicode escape", IN("{\"body\":\"\\u0053TOP\"}"), 0 },
	{ "unicode escape of control", IN("{\"body\":\"a\\u0001b\"}"), 0 },
	{ "surrogate pair escape", IN("{\"body\":\"\\ud83d\\uded1\"}"), 0 },
	{ "lone surrogate escape", IN("{\"body\":\"\\ud83d\"}"), 0 },
	{ "invalid escape", IN("{\"body\":\"\\x\"}"), 0 },
	{ "full width text", IN("{\"body\":\"\xef\xbc\xb3\xef\xbc\xb4"
	    "\xef\xbc\xaf\xef\xbc\xb0\"}"), 1 },
	{ "emoji", IN("{\"body\":\"STOP \xf0\x9f\x9b\x91\"}"), 1 },
	{ "line separator", IN("{\"body\":\"stop\xe2\x80\xa8\"}"), 1 },
	{ "byte order mark in body", IN("{\"body\":\"\xef\xbb\xbfstop\"}"),
	    1 },
	{ "byte order mark first", IN("\xef\xbb\xbf{\"body\":\"stop\"}"),
	    0 },
	{ "pound sign", IN("{\"body\":\"Win \xc2\xa3" "100\"}"), 1 },
	{ "invalid UTF-8", IN("{\"body\":\"\xff\"}"), 0 },
	{ "overlong UTF-8", IN("{\"body\":\"\xc0\xaf\"}"), 0 },
	{ "encoded surrogate", IN("{\"body\":\"\xed\xa0\x80\"}"), 0 },
	{ "raw tab in string", IN("{\"body\":\"a\tb\"}"), 0 },
	{ "raw DEL in string", IN("{\"body\":\"a\x7f" "b\"}"), 0 },
	{ "NUL in string", IN("{\"body\":\"a\0b\"}"), 0 },
	{ "duplicate key", IN("{\"a\":1,\"a\":2}"), 0 },
	{ "duplicate body", IN("{\"body\":\"stop\",\"body\":\"hi\"}"), 0 },
	{ "duplicate nested key", IN("{\"x\":{\"a\":1,\"a\":2}}"), 0 },
	{ "same key at two levels", IN("{\"a\":{\"a\":1},\"body\":\"x\"}"),
	    1 },
	{ "keyword_test present",
	    IN("{\"body\":\"stop\",\"keyword_test\":1}"), 0 },
	{ "nested keyword_test", IN("{\"x\":{\"keyword_test\":1}}"), 1 },
	{ "space after brace", IN("{ \"body\":\"stop\"}"), 0 },
	{ "space after colon", IN("{\"body\": \"stop\"}"), 0 },
	{ "trailing space", IN("{\"body\":\"stop\"} "), 0 },
	{ "carriage return", IN("{\"body\":\"stop\"}\r"), 0 },
	{ "integers", IN("{\"a\":0,\"b\":-1,\"c\":123456789012345}"), 1 },
	{ "sixteen digits", IN("{\"a\":1234567890123456}"), 0 },
	{ "negative zero", IN("{\"a\":-0}"), 0 },
	{ "leading zero", IN("{\"a\":01}"), 0 },
	{ "fraction", IN("{\"a\":1.5}"), 0 },
	{ "exponent", IN("{\"a\":1e5}"), 0 },
	{ "nan literal", IN("{\"a\":nan}"), 0 },
	{ "truncated literal", IN("{\"a\":tru}"), 0 },
	{ "long literal", IN("{\"a\":truex}"), 0 },
	{ "nested arrays", IN("{\"a\":[[[]],{}],\"body\":\"stop\"}"), 1 },
	{ "deep nesting", IN("{\"a\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}"),
	    0 },
	{ "trailing comma", IN("{\"a\":1,}"), 0 },
	{ "missing colon", IN("{\"a\" 1}"), 0 },
	{ "unterminated", IN("{\"body\":\"stop\""), 0 },
	{ "unterminated string", IN("{\"body\":\"stop}"), 0 },
	{ "two objects", IN("{}{}"), 0 },
	{ "array", IN("[1]"), 0 },
	{ "string", IN("\"stop\""), 0 },
	{ "bare word", IN("stop"), 0 },
	{ "long body", IN("{\"body\":\"stop stop stop stop stop stop stop "
	    "stop stop stop stop stop stop stop stop stop stop stop stop stop "
	    "stop stop stop stop stop stop stop stop stop stop stop stop stop "
	    "stop stop stop stop stop stop stop stop stop stop stop stop stop "
	    "stop stop stop stop stop stop stop stop\"}"), 1 },
};

/* Values and keys that random_line() puts together. */
static const char *const random_values[] = {
	"\"stop\"", "\"STOP\"", "\" Stop \"", "\"opt-out\"", "\"yes\"",
	"\"please stop texting me\"", "\"Stop. Thank you\"", "\"help me\"",
	"\"\"", "\"a\\\"b\"", "\"a\\\\b\"", "\"a\\nb\"", "\"a\\/b\"",
	"\"\\u00e9\"", "\"caf\xc3\xa9\"", "\"Cafe\xcc\x81\"",
	"\"\xef\xbc\xb3\xef\xbc\xb4\xef\xbc\xaf\xef\xbc\xb0\"", "\"\xff\"",
	"0", "-0", "7", "-42", "1.5", "1e3", "01", "123456789012345",
	"1234567890123456", "true", "false", "null", "[]", "{}",
	"[1,\"stop\"]", "{\"a\":1}", "{\"a\":1,\"a\":2}", "[ 1]", "nul",
};

static const char *const random_keys[] = {
	"\"body\"", "\"type\"", "\"a\"", "\"b\"", "\"keyword_test\"",
	"\"\"", "\"a\\\"\"", "\"\xc3\xa9\"", "\"c\"", "\"d\"", "\"e\"",
	"\"f\"", "\"g\"", "\"h\"", "\"i\"", "\"j\"", "\"k\"", "\"l\"",
};

static uint32_t
next_random(uint32_t *state)
{
	/* xorshift32, so that every run checks the same lines. */
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

#define PICK(state, array) \
	(array[next_random(state) % (sizeof(array) / sizeof(array[0]))])

/*
 * Build a random object line of up to 12 fields into B: more than the 8
 * slots that a new libjq object starts with.
 */
static void
random_line(struct buf *b, uint32_t *state)
{
	int i, n = (int)(next_random(state) % 13);

	buf_reset(b);
	buf_addc(b, '{');
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_addc(b, ',');
		buf_adds(b, PICK(state, random_keys));
		buf_addc(b, ':');
		buf_adds(b, PICK(state, random_values));
	}
	buf_addc(b, '}');
}

int
main(void)
{
	struct keyword_set set = { 0 };
	struct tally t = { 0 };
	struct buf line = { 0 };
	uint32_t state = 2463534242u;
	size_t i;
	int taken, random_taken;

	keyword_set_add(&set, "stop", KEYWORD_OPT_OUT, 0);
	keyword_set_add(&set, "opt out", KEYWORD_OPT_OUT, 0);
	keyword_set_add(&set, "start", KEYWORD_OPT_IN, 0);
	keyword_set_add(&set, "yes", KEYWORD_OPT_IN, 1);
	keyword_set_add(&set, "help", KEYWORD_HELP, 0);
	keyword_set_add(&set, "caf\xc3\xa9", KEYWORD_CUSTOM, 0);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		taken = check_line(&set, cases[i].line, cases[i].len, &t);
		unit_check(taken == cases[i].taken, cases[i].name);
		if (taken != cases[i].taken)
			printf("#   taken %d, expected %d\n", taken,
			    cases[i].taken);
	}

	set.contains = 1;
	taken = check_line(&set, IN("{\"body\":\"please stop texting\"}"),
	    &t);
	unit_check(taken, "contains mode");

	random_taken = t.taken;
	for (i = 0; i < 20000; i++) {
		random_line(&line, &state);
		check_line(&set, line.data, line.len, &t);
	}
	random_taken = t.taken - random_taken;
	unit_check(random_taken > 1000, "random lines mostly taken");
	printf("# random lines taken: %d of 20000\n", random_taken);
	unit_check(random_taken < 20000, "random lines partly rejected");
	unit_check(t.mismatched == 0, "taken lines print as libjq does");
	unit_check(t.taken_invalid == 0, "libjq errors never taken");

	buf_free(&line);
	keyword_set_free(&set);
	return unit_done();
}
