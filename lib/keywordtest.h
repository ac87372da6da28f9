/*
 * The keyword_test object of convo-keywords test: how an inbound text
 * matches an account's keywords, added to input records that have a
 * "body". No database.
 */
#ifndef CONVO_KEYWORDTEST_H
#define CONVO_KEYWORDTEST_H

#include <stddef.h>
#include <jv.h>

#include "buf.h"

struct keyword_set;

/*
 * Return OBJECT (consumed) with the fields that describe how TEXT of LEN
 * bytes, valid UTF-8, matches SET: normal, keyword, action, inside,
 * only_unsubscribed, possible_opt_out and reason, in that order. Like
 * convo-ingest, a text longer than KEYWORD_TEXT_MAX bytes is not
 * compared, and its normal form is null.
 */
jv keyword_test_fields(jv object, const struct keyword_set *set,
    const char *text, size_t len);

/*
 * Scratch space of keyword_test_line(), reused from line to line. Zero
 * it before the first call, and free it with keyword_test_free().
 */
struct keyword_test_scratch {
	struct buf body;	/* the body with its escapes decoded */
};

void keyword_test_free(struct keyword_test_scratch *scratch);

/*
 * Append to OUT the output line, without its newline, for the input
 * line LINE of LEN bytes, when the line needs no full parse. That is a
 * JSON object without white space and without a top-level
 * "keyword_test" key. Its strings use only the escapes \" \\ \b \f \n
 * \r \t, its numbers are integers of at most 15 digits, no object has a
 * key twice, and it nests at most KEYWORD_TEST_DEPTH_MAX deep.
 *
 * jq 1.6 prints such an object with the same bytes, so the output is
 * LINE with the keyword_test object of a string "body" added last.
 * Returns 1 then. Returns 0 with OUT unchanged for any other line, which
 * the caller parses with libjq and prints with jv_dump_string().
 */
int keyword_test_line(struct buf *out, struct keyword_test_scratch *scratch,
    const struct keyword_set *set, const char *line, size_t len);

/* Maximum nesting depth of the objects keyword_test_line() takes. */
#define KEYWORD_TEST_DEPTH_MAX 16

#endif
