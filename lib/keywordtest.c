#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "keyword.h"
#include "keywordtest.h"
#include "match.h"
#include "record.h"

/* Maximum keys of one object that keyword_test_line() takes. */
#define KEYS_MAX 64

/* Maximum digits of an integer that jq 1.6 prints as it was written. */
#define INTEGER_DIGITS_MAX 15

/* The match of a text against a keyword set. */
struct text_match {
	char *normal;		/* NULL for a text that is not compared */
	struct keyword_match match;
	char reason[80];	/* storage of match.reason when not static */
};

static void
match_text(struct text_match *t, const struct keyword_set *set,
    const char *text, size_t len)
{
	memset(t, 0, sizeof(*t));
	if (len <= KEYWORD_TEXT_MAX) {
		/* keyword_normalize() rejects valid UTF-8 only when out of
		 * memory. */
		t->normal = keyword_normalize(text, len);
		if (t->normal == NULL)
			errx(EX_SOFTWARE, "out of memory");
		keyword_match(set, t->normal, &t->match);
	} else {
		snprintf(t->reason, sizeof(t->reason), "longer than %d bytes, "
		    "so never compared with keywords", KEYWORD_TEXT_MAX);
		t->match.reason = t->reason;
	}
}

jv
keyword_test_fields(jv object, const struct keyword_set *set,
    const char *text, size_t len)
{
	struct text_match t;
	const struct keyword *k;

	match_text(&t, set, text, len);
	k = t.match.keyword;
	object = jv_object_set(object, jv_string("normal"),
	    t.normal != NULL ? jv_string(t.normal) : jv_null());
	object = jv_object_set(object, jv_string("keyword"),
	    k != NULL ? jv_string(k->word) : jv_null());
	object = jv_object_set(object, jv_string("action"), k != NULL ?
	    jv_string(keyword_action_name(k->action)) : jv_null());
	object = jv_object_set(object, jv_string("inside"),
	    jv_bool(t.match.inside));
	object = jv_object_set(object, jv_string("only_unsubscribed"),
	    jv_bool(k != NULL && k->only_unsubscribed));
	object = jv_object_set(object, jv_string("possible_opt_out"),
	    jv_bool(t.match.possible_opt_out));
	object = jv_object_set(object, jv_string("reason"),
	    jv_string(t.match.reason));
	free(t.normal);
	return object;
}

void
keyword_test_free(struct keyword_test_scratch *scratch)
{
	buf_free(&scratch->body);
}

/*
 * Append the NUL-terminated valid UTF-8 string S as a JSON string, the
 * way jq 1.6 prints one: '"' and '\' escaped, the controls and DEL as
 * \b, \t, \n, \f, \r or \u00XX, everything else as it is.
 */
static void
append_json_string(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;
	char esc[7];
	unsigned char c;

	buf_addc(b, '"');
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		buf_add(b, run, (size_t)(s - run));
		run = s + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': buf_add(b, "\\\"", 2); break;
		case '\\': buf_add(b, "\\\\", 2); break;
		case '\b': buf_add(b, "\\b", 2); break;
		case '\t': buf_add(b, "\\t", 2); break;
		case '\n': buf_add(b, "\\n", 2); break;
		case '\f': buf_add(b, "\\f", 2); break;
		case '\r': buf_add(b, "\\r", 2); break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			buf_add(b, esc, 6);
		}
	}
	buf_add(b, run, (size_t)(s - run));
	buf_addc(b, '"');
}

static void
append_bool(struct buf *b, const char *key, int value)
{
	buf_adds(b, key);
	buf_adds(b, value ? "true" : "false");
}

/* Append the keyword_test object of TEXT as keyword_test_fields() has it. */
static void
append_fields(struct buf *b, const struct keyword_set *set,
    const char *text, size_t len)
{
	struct text_match t;
	const struct keyword *k;

	match_text(&t, set, text, len);
	k = t.match.keyword;
	buf_adds(b, "{\"normal\":");
	if (t.normal != NULL)
		append_json_string(b, t.normal);
	else
		buf_adds(b, "null");
	buf_adds(b, ",\"keyword\":");
	if (k != NULL)
		append_json_string(b, k->word);
	else
		buf_adds(b, "null");
	buf_adds(b, ",\"action\":");
	if (k != NULL)
		append_json_string(b, keyword_action_name(k->action));
	else
		buf_adds(b, "null");
	append_bool(b, ",\"inside\":", t.match.inside);
	append_bool(b, ",\"only_unsubscribed\":",
	    k != NULL && k->only_unsubscribed);
	append_bool(b, ",\"possible_opt_out\":", t.match.possible_opt_out);
	buf_adds(b, ",\"reason\":");
	append_json_string(b, t.match.reason);
	buf_addc(b, '}');
	free(t.normal);
}

/*
 * A scan of one input line for keyword_test_line(). Each scan_ function
 * moves P past what it accepts and returns 0, or returns -1 for anything
 * that it does not take, valid JSON or not.
 */
struct scan {
	const char *p, *end;
	int non_ascii;		/* a string has a byte of 0x80 or more */
};

/* The bytes between the quotes of a JSON string, as written. */
struct span {
	const char *start;
	size_t len;
	int escaped;		/* contains a backslash escape */
};

static int
scan_string(struct scan *s, struct span *str)
{
	const unsigned char *p = (const unsigned char *)s->p + 1;
	const unsigned char *end = (const unsigned char *)s->end;

	str->start = (const char *)p;
	str->escaped = 0;
	for (; p < end; p++) {
		if (*p == '"') {
			str->len = (size_t)((const char *)p - str->start);
			s->p = (const char *)p + 1;
			return 0;
		}
		if (*p == '\\') {
			/* jq prints \/ and \uXXXX differently, so only the
			 * escapes that it writes itself pass. */
			if (p + 1 == end || strchr("\"\\bfnrt", p[1]) == NULL ||
			    p[1] == '\0')
				return -1;
			str->escaped = 1;
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			return -1;
		} else if (*p >= 0x80) {
			s->non_ascii = 1;
		}
	}
	return -1;
}

/*
 * Accept an integer that jq prints as written: no leading zeros, no
 * "-0", and few enough digits that a double stores it exactly.
 */
static int
scan_integer(struct scan *s)
{
	const char *p = s->p, *digits;

	if (p < s->end && *p == '-')
		p++;
	digits = p;
	if (p == s->end || *p < '1' || *p > '9') {
		/* A lone 0 is the only integer that starts with 0. */
		if (p == s->p && p < s->end && *p == '0') {
			s->p = p + 1;
			return 0;
		}
		return -1;
	}
	while (p < s->end && *p >= '0' && *p <= '9')
		p++;
	if (p - digits > INTEGER_DIGITS_MAX)
		return -1;
	s->p = p;
	return 0;
}

static int
scan_literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

/* Top-level fields that keyword_test_line() looks for. */
struct top_fields {
	struct span body;
	int has_body;		/* "body" is a string */
};

static int scan_object(struct scan *, int, struct top_fields *);
static int scan_value(struct scan *, int);

static int
scan_array(struct scan *s, int depth)
{
	s->p++;
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return 0;
	}
	for (;;) {
		if (scan_value(s, depth) != 0 || s->p == s->end)
			return -1;
		if (*s->p == ']') {
			s->p++;
			return 0;
		}
		if (*s->p != ',')
			return -1;
		s->p++;
	}
}

/* Scan the value at P, inside DEPTH objects and arrays. */
static int
scan_value(struct scan *s, int depth)
{
	struct span str;

	if (s->p == s->end)
		return -1;
	switch (*s->p) {
	case '"':
		return scan_string(s, &str);
	case '{':
		if (depth >= KEYWORD_TEST_DEPTH_MAX)
			return -1;
		return scan_object(s, depth + 1, NULL);
	case '[':
		if (depth >= KEYWORD_TEST_DEPTH_MAX)
			return -1;
		return scan_array(s, depth + 1);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	default:
		return scan_integer(s);
	}
}

static int
span_is(const struct span *str, const char *text)
{
	return str->len == strlen(text) &&
	    memcmp(str->start, text, str->len) == 0;
}

/*
 * Scan the object at P, which starts with '{'. Reject a key that it has
 * twice, because jq keeps the first one's place with the last one's value.
 * The strings that scan_string() passes have a single spelling each, so
 * equal keys have equal bytes. TOP, for the top-level object, receives
 * the body and rejects a "keyword_test" key, which the output replaces.
 */
static int
scan_object(struct scan *s, int depth, struct top_fields *top)
{
	struct span keys[KEYS_MAX], *key;
	size_t n = 0, i;

	s->p++;
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		if (n == KEYS_MAX || s->p == s->end || *s->p != '"')
			return -1;
		key = &keys[n];
		if (scan_string(s, key) != 0)
			return -1;
		for (i = 0; i < n; i++)
			if (keys[i].len == key->len &&
			    memcmp(keys[i].start, key->start, key->len) == 0)
				return -1;
		n++;
		if (s->p == s->end || *s->p != ':')
			return -1;
		s->p++;
		if (top != NULL && span_is(key, "keyword_test"))
			return -1;
		if (top != NULL && span_is(key, "body") && s->p < s->end &&
		    *s->p == '"') {
			if (scan_string(s, &top->body) != 0)
				return -1;
			top->has_body = 1;
		} else if (scan_value(s, depth) != 0) {
			return -1;
		}
		if (s->p == s->end)
			return -1;
		if (*s->p == '}') {
			s->p++;
			return 0;
		}
		if (*s->p != ',')
			return -1;
		s->p++;
	}
}

/* Decode the escapes of STR, which scan_string() accepted, into OUT. */
static void
decode_string(struct buf *out, const struct span *str)
{
	const char *p = str->start, *end = str->start + str->len, *esc;

	buf_reset(out);
	while ((esc = memchr(p, '\\', (size_t)(end - p))) != NULL) {
		buf_add(out, p, (size_t)(esc - p));
		switch (esc[1]) {
		case 'b': buf_addc(out, '\b'); break;
		case 'f': buf_addc(out, '\f'); break;
		case 'n': buf_addc(out, '\n'); break;
		case 'r': buf_addc(out, '\r'); break;
		case 't': buf_addc(out, '\t'); break;
		default: buf_addc(out, esc[1]); break;
		}
		p = esc + 2;
	}
	buf_add(out, p, (size_t)(end - p));
}

int
keyword_test_line(struct buf *out, struct keyword_test_scratch *scratch,
    const struct keyword_set *set, const char *line, size_t len)
{
	struct scan s = { line, line + len, 0 };
	struct top_fields top = { { NULL, 0, 0 }, 0 };
	const char *text;
	size_t text_len;

	if (len < 2 || line[0] != '{' || scan_object(&s, 1, &top) != 0 ||
	    s.p != s.end)
		return 0;
	if (s.non_ascii && !utf8_valid(line, len))
		return 0;
	if (!top.has_body) {
		buf_add(out, line, len);
		return 1;
	}
	text = top.body.start;
	text_len = top.body.len;
	if (top.body.escaped) {
		decode_string(&scratch->body, &top.body);
		text = scratch->body.data;
		text_len = scratch->body.len;
	}
	buf_add(out, line, len - 1);
	buf_adds(out, ",\"keyword_test\":");
	append_fields(out, set, text, text_len);
	buf_addc(out, '}');
	return 1;
}
