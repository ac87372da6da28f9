#include <stdio.h>
#include <string.h>

#include "json.h"

/*
 * Append string S of N bytes as a JSON string. Bytes from 0x80 up are
 * copied: jv strings hold valid UTF-8, and libjq writes characters
 * outside ASCII as they are. ASCII control characters and DEL are
 * escaped as libjq escapes them.
 */
static void
append_string(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + n, *run;
	char escape[8];

	buf_addc(b, '"');
	while (p < end) {
		for (run = p; p < end && *p >= 0x20 && *p != '"' &&
		    *p != '\\' && *p != 0x7f; p++)
			continue;
		buf_add(b, (const char *)run, p - run);
		if (p == end)
			break;
		switch (*p) {
		case '"': buf_adds(b, "\\\""); break;
		case '\\': buf_adds(b, "\\\\"); break;
		case '\b': buf_adds(b, "\\b"); break;
		case '\t': buf_adds(b, "\\t"); break;
		case '\r': buf_adds(b, "\\r"); break;
		case '\n': buf_adds(b, "\\n"); break;
		case '\f': buf_adds(b, "\\f"); break;
		default:
			snprintf(escape, sizeof(escape), "\\u%04x", *p);
			buf_adds(b, escape);
			break;
		}
		p++;
	}
	buf_addc(b, '"');
}

static void
append_jv_string(struct buf *b, jv s)
{
	append_string(b, jv_string_value(s),
	    (size_t)jv_string_length_bytes(jv_copy(s)));
}

void
json_append(struct buf *b, jv v)
{
	jv text;
	int i, first = 1;

	switch (jv_get_kind(v)) {
	case JV_KIND_NULL:
		buf_adds(b, "null");
		break;
	case JV_KIND_FALSE:
		buf_adds(b, "false");
		break;
	case JV_KIND_TRUE:
		buf_adds(b, "true");
		break;
	case JV_KIND_STRING:
		append_jv_string(b, v);
		break;
	case JV_KIND_ARRAY:
		buf_addc(b, '[');
		jv_array_foreach(v, j, item) {
			if (j > 0)
				buf_addc(b, ',');
			json_append(b, item);
		}
		buf_addc(b, ']');
		break;
	case JV_KIND_OBJECT:
		/* libjq writes the keys in the order they were added. */
		buf_addc(b, '{');
		for (i = jv_object_iter(v); jv_object_iter_valid(v, i);
		    i = jv_object_iter_next(v, i)) {
			jv key = jv_object_iter_key(v, i);

			if (!first)
				buf_addc(b, ',');
			first = 0;
			append_jv_string(b, key);
			jv_free(key);
			buf_addc(b, ':');
			json_append(b, jv_object_iter_value(v, i));
		}
		buf_addc(b, '}');
		break;
	default:
		/* Numbers, rare in records, keep libjq's own formatting. */
		text = jv_dump_string(jv_copy(v), 0);
		buf_add(b, jv_string_value(text),
		    (size_t)jv_string_length_bytes(jv_copy(text)));
		jv_free(text);
		break;
	}
	jv_free(v);
}

int
json_parse_error_length(const char *msg)
{
	const char *suffix = strstr(msg, " (while parsing '");

	return suffix != NULL ? (int)(suffix - msg) : (int)strlen(msg);
}

/*
 * Build the message of libjq's parse error REASON, of which the first LEN
 * bytes count. libjq 1.6 ends most reasons with " at line 1, column N",
 * counting lines within the text it parsed. The callers name the input
 * line themselves, so the message drops libjq's line 1 and puts the
 * column first, as in "invalid JSON at column N: REASON".
 */
static jv
parse_error_message(const char *reason, size_t len)
{
	static const char position[] = " at line 1, column ";
	const char *end = reason + len, *found = NULL, *p, *digits;
	size_t ndigits;

	for (p = reason; (p = memmem(p, end - p, position,
	    sizeof(position) - 1)) != NULL; p++)
		found = p;
	if (found == NULL)
		return jv_string_fmt("invalid JSON: %.*s", (int)len, reason);
	digits = found + sizeof(position) - 1;
	for (ndigits = 0; digits + ndigits < end && digits[ndigits] >= '0' &&
	    digits[ndigits] <= '9'; ndigits++)
		continue;
	if (ndigits == 0 || digits + ndigits != end)
		return jv_string_fmt("invalid JSON: %.*s", (int)len, reason);
	return jv_string_fmt("invalid JSON at column %.*s: %.*s", (int)ndigits,
	    digits, (int)(found - reason), reason);
}

jv
json_parse_line(const char *line, size_t len)
{
	size_t invalid_at;
	jv rec, msg;
	const char *reason;

	if ((invalid_at = utf8_invalid_offset(line, len)) < len)
		return jv_invalid_with_msg(jv_string_fmt("invalid UTF-8 at "
		    "column %zu", invalid_at + 1));
	/*
	 * NOTE: libjq 1.6 leaks about 20 bytes on a line such as
	 * ["a" "b"], where a string follows a value without a comma.
	 */
	rec = jv_parse_sized(line, (int)len);
	if (jv_is_valid(rec))
		return rec;
	msg = jv_invalid_get_msg(rec);
	reason = jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) :
	    "parse error";
	rec = jv_invalid_with_msg(parse_error_message(reason,
	    (size_t)json_parse_error_length(reason)));
	jv_free(msg);
	return rec;
}
