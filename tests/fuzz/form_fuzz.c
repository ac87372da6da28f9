/*
 * Fuzzes the form decoder with arbitrary bytes as a webhook body, then
 * turns what it decodes into a record as convo-webhook does and
 * normalises that as convo-ingest does. Invariants: a decoded form is
 * an object of strings, encoding it again and decoding that gives the
 * same object, and a record made from it is a message or a status.
 */
#include <jv.h>

#include "buf.h"
#include "form.h"
#include "record.h"
#include "fuzz.h"

#define RECEIVED_AT "2026-11-20T15:00:00.000001Z"

/* Append S of LEN bytes percent-encoded, with '+' for a space. */
static void
add_encoded(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;
	size_t i;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("*-._", c) != NULL) {
			buf_addc(b, (char)c);
		} else if (c == ' ') {
			buf_addc(b, '+');
		} else {
			buf_addc(b, '%');
			buf_addc(b, hex[c >> 4]);
			buf_addc(b, hex[c & 15]);
		}
	}
}

/* Check that FORM (borrowed) is an object of strings that re-encodes. */
static void
check_round_trip(jv form)
{
	struct buf body = { 0 };
	jv again;
	int first = 1;

	FUZZ_ASSERT(jv_get_kind(form) == JV_KIND_OBJECT);
	jv_object_foreach(form, key, value) {
		FUZZ_ASSERT(jv_get_kind(value) == JV_KIND_STRING);
		if (!first)
			buf_addc(&body, '&');
		first = 0;
		add_encoded(&body, jv_string_value(key),
		    jv_string_length_bytes(jv_copy(key)));
		buf_addc(&body, '=');
		add_encoded(&body, jv_string_value(value),
		    jv_string_length_bytes(jv_copy(value)));
		jv_free(key);
		jv_free(value);
	}
	again = form_decode(body.data ? body.data : "", body.len);
	FUZZ_ASSERT(jv_is_valid(again));
	FUZZ_ASSERT(jv_equal(jv_copy(form), again));
	buf_free(&body);
}

/* Return 1 when string field NAME of REC (borrowed) equals VALUE. */
static int
field_is(jv rec, const char *name, const char *value)
{
	jv v = jv_object_get(jv_copy(rec), jv_string(name));
	int same = jv_get_kind(v) == JV_KIND_STRING &&
	    strcmp(jv_string_value(v), value) == 0;

	jv_free(v);
	return same;
}

/* Check REC (consumed), a record made from a form, and normalise it. */
static void
check_record(jv rec)
{
	jv normal;

	if (!jv_is_valid(rec)) {
		jv msg = jv_invalid_get_msg(rec);

		FUZZ_ASSERT(jv_get_kind(msg) == JV_KIND_STRING);
		jv_free(msg);
		return;
	}
	FUZZ_ASSERT(jv_get_kind(rec) == JV_KIND_OBJECT);
	FUZZ_ASSERT(field_is(rec, "type", "message") ||
	    field_is(rec, "type", "status"));
	FUZZ_ASSERT(field_is(rec, "provider", "twilio"));
	normal = record_normalize(jv_copy(rec), "US");
	fuzz_check_alive(rec);
	if (jv_is_valid(normal)) {
		fuzz_check_alive(normal);
		jv type = jv_object_get(jv_copy(rec), jv_string("type"));

		FUZZ_ASSERT(field_is(normal, "type", jv_string_value(type)));
		jv_free(type);
	}
	jv_free(normal);
	jv_free(rec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	jv form, rec;

	(void)form_looks_like(text, size);
	form = form_decode(text, size);
	if (!jv_is_valid(form)) {
		jv msg = jv_invalid_get_msg(form);

		FUZZ_ASSERT(jv_get_kind(msg) == JV_KIND_STRING);
		jv_free(msg);
		return 0;
	}
	check_round_trip(form);
	rec = twilio_form_to_record(jv_copy(form), RECEIVED_AT);
	fuzz_check_alive(form);
	jv_free(form);
	check_record(rec);
	return 0;
}
