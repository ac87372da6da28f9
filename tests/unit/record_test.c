/*
 * Table-driven tests of input record validation and normal form, and of
 * RFC 3339 time checks.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "buf.h"
#include "record.h"
#include "timeutil.h"
#include "unit.h"

struct rejected_case {
	const char *input;
	const char *error;	/* expected start of the message */
};

static const struct rejected_case rejected[] = {
	{ "[]", "a record must be a JSON object" },
	{ "{}", "missing field \"type\"" },
	{ "{\"type\":\"note\"}", "unknown record type \"note\"" },
	{ "{\"type\":\"message\",\"direction\":\"in\",\"from\":\"+12015550100\","
	  "\"to\":\"+12025550100\",\"provider_message_id\":\"SM1\","
	  "\"sent_at\":\"2026-10-03T14:02:11Z\",\"body\":\"x\"}",
	  "invalid direction \"in\"" },
	{ "{\"type\":\"message\",\"direction\":\"inbound\",\"from\":\"555\","
	  "\"to\":\"+12025550100\",\"provider_message_id\":\"SM1\","
	  "\"sent_at\":\"2026-10-03T14:02:11Z\",\"body\":\"x\"}",
	  "invalid phone number \"555\" in field \"from\"" },
	{ "{\"type\":\"message\",\"direction\":\"inbound\","
	  "\"from\":\"+12015550100\",\"to\":\"+12025550100\","
	  "\"provider_message_id\":\"SM1\",\"sent_at\":\"yesterday\","
	  "\"body\":\"x\"}",
	  "invalid time \"yesterday\" in field \"sent_at\"" },
	{ "{\"type\":\"message\",\"direction\":\"inbound\","
	  "\"from\":\"+12015550100\",\"to\":\"+12025550100\","
	  "\"provider_message_id\":\"SM1\","
	  "\"sent_at\":\"2026-10-03T14:02:11Z\"}",
	  "missing field \"body\"" },
	{ "{\"type\":\"message\",\"direction\":\"inbound\","
	  "\"from\":\"+12015550100\",\"to\":\"+12025550100\","
	  "\"provider_message_id\":\"SM1\",\"body\":\"a\\u0000b\","
	  "\"sent_at\":\"2026-10-03T14:02:11Z\"}",
	  "NUL byte in field \"body\"" },
	{ "{\"type\":\"message\",\"direction\":\"outbound\","
	  "\"from\":\"+12025550100\",\"to\":\"+12015550100\","
	  "\"provider_message_id\":\"SM1\",\"body\":\"x\","
	  "\"origin\":\"newsletter\",\"sent_at\":\"2026-10-03T14:02:11Z\"}",
	  "invalid origin \"newsletter\"" },
	{ "{\"type\":\"message\",\"direction\":\"outbound\","
	  "\"from\":\"+12025550100\",\"to\":\"+12015550100\","
	  "\"provider_message_id\":\"SM1\",\"body\":\"x\","
	  "\"status\":\"lost\",\"sent_at\":\"2026-10-03T14:02:11Z\"}",
	  "unknown status \"lost\"" },
	{ "{\"type\":\"status\",\"provider_message_id\":\"SM1\","
	  "\"status\":\"lost\",\"at\":\"2026-10-03T14:02:11Z\"}",
	  "unknown status \"lost\"" },
	{ "{\"type\":\"status\",\"provider_message_id\":\"SM"
	  "000000000000000000000000000000000000000000000"
	  "000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000\","
	  "\"status\":\"delivered\",\"at\":\"2026-10-03T14:02:11Z\"}",
	  "provider_message_id \"SM000" },
	{ "{\"type\":\"status\",\"provider_message_id\":\"SM1\","
	  "\"status\":\"sent\",\"at\":\"2026-10-03T14:02:11Z\","
	  "\"error_code\":1.5}",
	  "invalid error_code" },
	{ "{\"type\":\"consent\",\"phone\":\"+12015550100\","
	  "\"status\":\"maybe\",\"at\":\"2026-10-03T14:02:11Z\"}",
	  "invalid consent status \"maybe\"" },
	{ "{\"type\":\"profile\",\"phone\":\"+12015550100\","
	  "\"first_name\":7}",
	  "field \"first_name\" must be a string" },
	{ "{\"type\":\"profile\",\"phone\":\"+12015550100\","
	  "\"properties\":{\"k\":\"\\u0000\"}}",
	  "NUL character in field \"properties\"" },
	{ "{\"type\":\"message\",\"direction\":\"inbound\","
	  "\"from\":\"+12015550100\",\"to\":\"+12025550100\","
	  "\"provider_message_id\":\"SM1\",\"sent_at\":\"2026-10-03T14:02:11Z\","
	  "\"media\":[1]}",
	  "media item 1 must be a URL" },
	{ "{\"type\":\"message\",\"direction\":\"inbound\","
	  "\"from\":\"+12015550100\",\"to\":\"+12025550100\","
	  "\"provider_message_id\":\"SM1\",\"sent_at\":\"2026-10-03T14:02:11Z\","
	  "\"media\":[{\"url\":\"https://m.example.com/1.png\","
	  "\"content_type\":\"image/png\\u0000\"}]}",
	  "media item 1: invalid content type \"image/png\"" },
	{ "{\"type\":\"consent\",\"phone\":\"\",\"status\":\"subscribed\","
	  "\"at\":\"2026-10-03T14:02:11Z\"}",
	  "empty field \"phone\"" },
	{ "{\"type\":\"message\",\"direction\":\"inbound\","
	  "\"from\":\"sms:+12015550100\",\"to\":\"+12025550100\","
	  "\"channel\":\"whatsapp\",\"provider_message_id\":\"SM1\","
	  "\"body\":\"x\",\"sent_at\":\"2026-10-03T14:02:11Z\"}",
	  "channel \"whatsapp\" does not match address \"sms:+12015550100\"" },
	{ "{\"type\":\"consent\",\"phone\":\"whatsapp:+12015550100\","
	  "\"channel\":\"sms\",\"status\":\"subscribed\","
	  "\"at\":\"2026-10-03T14:02:11Z\"}",
	  "channel \"sms\" does not match phone \"whatsapp:+12015550100\"" },
	{ "{\"type\":\"consent\",\"phone\":\"+12015550100\",\"channel\":5,"
	  "\"status\":\"subscribed\",\"at\":\"2026-10-03T14:02:11Z\"}",
	  "field \"channel\" must be a string" },
	{ "{\"type\":\"consent\",\"phone\":\"+12015550100\","
	  "\"method\":\"web\\u0000\",\"status\":\"subscribed\","
	  "\"at\":\"2026-10-03T14:02:11Z\"}",
	  "NUL byte in field \"method\"" },
	{ "{\"type\":\"message\",\"direction\":\"outbound\","
	  "\"from\":\"+12025550100\",\"to\":\"+12015550100\","
	  "\"provider_message_id\":\"SM1\",\"body\":\"x\","
	  "\"status\":\"lost\",\"sent_at\":\"2026-10-03T14:02:11Z\"}",
	  "unknown status \"lost\"" },
};

struct field_case {
	const char *input;
	const char *field;
	const char *value;	/* the field's value dumped as JSON */
};

static const struct field_case fields[] = {
	{ "{\"type\":\"message\",\"direction\":\"inbound\","
	  "\"from\":\"(201) 555-0100\",\"to\":\"+12025550100\","
	  "\"provider_message_id\":\"SM1\",\"body\":\" STOP! \","
	  "\"sent_at\":\"2026-10-03T14:02:11Z\"}", "phone", "\"+12015550100\"" },
	{ "{\"type\":\"message\",\"direction\":\"inbound\","
	  "\"from\":\"+12015550100\",\"to\":\"+12025550100\","
	  "\"provider_message_id\":\"SM1\",\"body\":\" STOP! \","
	  "\"sent_at\":\"2026-10-03T14:02:11Z\"}", "normal", "\"stop\"" },
	{ "{\"type\":\"message\",\"direction\":\"outbound\","
	  "\"from\":\"+12025550100\",\"to\":\"+12015550100\","
	  "\"provider_message_id\":\"SM1\",\"body\":\"Sale\","
	  "\"sent_at\":\"2026-10-03T14:02:11Z\"}", "origin", "\"api\"" },
	{ "{\"type\":\"message\",\"direction\":\"inbound\","
	  "\"from\":\"whatsapp:+12015550100\","
	  "\"to\":\"whatsapp:+12025550100\",\"provider_message_id\":\"SM1\","
	  "\"body\":\"hi\",\"sent_at\":\"2026-10-03T14:02:11Z\"}",
	  "channel", "\"whatsapp\"" },
	{ "{\"type\":\"message\",\"direction\":\"inbound\","
	  "\"from\":\"+12015550100\",\"to\":\"12345\","
	  "\"provider_message_id\":\"MM1\",\"sent_at\":\"2026-10-03T14:02:11Z\","
	  "\"media\":[\"https://m.example.com/1.jpg\"]}",
	  "media", "[{\"url\":\"https://m.example.com/1.jpg\","
	  "\"content_type\":null}]" },
	{ "{\"type\":\"message\",\"direction\":\"inbound\","
	  "\"from\":\"+12015550100\",\"to\":\"12345\","
	  "\"provider_message_id\":\"MM1\",\"sent_at\":\"2026-10-03T14:02:11Z\","
	  "\"media\":[\"https://m.example.com/1.jpg\"]}", "body", "\"\"" },
	{ "{\"type\":\"message\",\"direction\":\"inbound\","
	  "\"from\":\"+12015550100\",\"to\":\"+12025550100\","
	  "\"provider_message_id\":\"SM1\",\"body\":\"x\",\"ticket\":42,"
	  "\"sent_at\":\"2026-10-03T14:02:11Z\"}", "extra", "{\"ticket\":42}" },
	{ "{\"type\":\"status\",\"provider_message_id\":\"SM1\","
	  "\"status\":\"failed\",\"at\":\"2026-10-03T14:02:11Z\","
	  "\"error_code\":21610}", "error_code", "\"21610\"" },
	{ "{\"type\":\"consent\",\"phone\":\"+12015550100\","
	  "\"status\":\"subscribed\",\"at\":\"2026-10-03T14:02:11Z\"}",
	  "method", "\"import\"" },
	{ "{\"type\":\"profile\",\"phone\":\"+12015550100\","
	  "\"first_name\":\"Ada\",\"nickname\":\"A\"}",
	  "fields", "{\"first_name\":\"Ada\"}" },
};

static void
check_rejected(const struct rejected_case *c)
{
	jv out = record_normalize(jv_parse(c->input), "US");
	jv msg;
	const char *text = NULL;

	if (!jv_is_valid(out)) {
		msg = jv_invalid_get_msg(out);
		if (jv_get_kind(msg) == JV_KIND_STRING)
			text = strdup(jv_string_value(msg));
		jv_free(msg);
	} else {
		jv_free(out);
	}
	unit_check(text != NULL &&
	    strncmp(text, c->error, strlen(c->error)) == 0, c->error);
	if (text == NULL || strncmp(text, c->error, strlen(c->error)) != 0)
		printf("#   got \"%s\"\n", text ? text : "(accepted)");
	free((char *)text);
}

static void
check_field(const struct field_case *c)
{
	jv out = record_normalize(jv_parse(c->input), "US");
	char name[64];
	jv value, dump;

	snprintf(name, sizeof(name), "normal form field %s", c->field);
	if (!jv_is_valid(out)) {
		jv_free(out);
		unit_check(0, name);
		return;
	}
	value = jv_object_get(out, jv_string(c->field));
	dump = jv_dump_string(value, JV_PRINT_INVALID);
	unit_check_str(jv_string_value(dump), c->value, name);
	jv_free(dump);
}

/*
 * Normalise INPUT while the caller keeps a copy of the record. Returns
 * 1 when the copy is still equal to the input.
 */
static int
normalize_keeping(const char *input)
{
	jv rec = jv_parse(input), kept = jv_copy(rec);

	jv_free(record_normalize(rec, "US"));
	return jv_equal(kept, jv_parse(input));
}

/*
 * Normalise INPUT repeatedly. The caller's copy of the record must stay
 * whole, because a rejected record once lost a string it still
 * contained, and the heap must not grow, because a rejected one once
 * kept its half-built normal form.
 */
static void
check_memory(const char *input, const char *label)
{
	struct mallinfo2 before, after;
	int i, whole = 1;
	char name[96];

	/*
	 * mallinfo2() counts the chunks that glibc caches for reuse as in
	 * use, so the first runs fill those caches and are not measured.
	 */
	for (i = 0; i < 100; i++)
		whole &= normalize_keeping(input);
	before = mallinfo2();
	for (i = 0; i < 100; i++)
		whole &= normalize_keeping(input);
	after = mallinfo2();
	snprintf(name, sizeof(name), "input kept whole: %s", label);
	unit_check(whole, name);
	snprintf(name, sizeof(name), "memory freed: %s", label);
	unit_check(after.uordblks <= before.uordblks + 256, name);
	if (after.uordblks > before.uordblks + 256)
		printf("#   heap grew by %zu bytes in 100 runs\n",
		    after.uordblks - before.uordblks);
}

struct target_case {
	const char *input;
	const char *target;	/* NULL when the record names no thread */
};

static const struct target_case targets[] = {
	{ "{\"conversation_id\":\"c_12\",\"phone\":\"+12015550100\"}",
	  "c_12" },
	{ "{\"type\":\"conversation\",\"id\":\"c_7\"}", "c_7" },
	{ "{\"profile\":{\"phone\":\"+12015550101\"}}", "+12015550101" },
	{ "{\"direction\":\"inbound\",\"from\":\"+12015550102\","
	  "\"to\":\"+12025550100\"}", "+12015550102" },
	{ "{\"direction\":\"outbound\",\"from\":\"+12025550100\","
	  "\"to\":\"+12015550103\"}", "+12015550103" },
	{ "{\"type\":\"status\"}", NULL },
	{ "[\"+12015550100\"]", NULL },
	{ "\"+12015550100\"", NULL },
	{ "null", NULL },
	{ "7", NULL },
};

static void
check_target(const struct target_case *c)
{
	jv rec = jv_parse(c->input), target = record_target(rec);
	char name[96];

	snprintf(name, sizeof(name), "thread of %s", c->input);
	unit_check_str(jv_is_valid(target) ? jv_string_value(target) : NULL,
	    c->target, name);
	jv_free(target);
	jv_free(rec);
}

static void
check_utc(const char *in, const char *want)
{
	char out[TIME_MAX] = "";
	char name[96];

	snprintf(name, sizeof(name), "time %s in UTC", in);
	time_to_utc(in, out);
	unit_check_str(out, want, name);
}

static void
check_times(void)
{
	unit_check(time_is_rfc3339("2026-10-03T14:02:11Z"), "time with Z");
	unit_check(time_is_rfc3339("2026-10-03t14:02:11.123456z"),
	    "time with fraction and lower case");
	unit_check(time_is_rfc3339("2026-10-03T14:02:11+05:30"),
	    "time with offset");
	unit_check(time_is_rfc3339("2024-02-29T00:00:00Z"), "leap day");
	unit_check(!time_is_rfc3339("2026-02-29T00:00:00Z"),
	    "no leap day in 2026");
	unit_check(!time_is_rfc3339("2026-10-03 14:02:11Z"),
	    "space instead of T");
	unit_check(!time_is_rfc3339("2026-10-03T14:02:11"), "missing offset");
	unit_check(!time_is_rfc3339("2026-13-03T14:02:11Z"), "month 13");
	unit_check(!time_is_rfc3339("2026-10-03T24:00:00Z"), "hour 24");
	unit_check(!time_is_rfc3339("2026-10-03T14:02:11.Z"),
	    "empty fraction");
	check_utc("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z");
	check_utc("2026-10-03T23:30:00-20:00", "2026-10-04T19:30:00Z");
	check_utc("2026-10-03T14:02:11.5+01:00", "2026-10-03T13:02:11.500000Z");
}

/* Control characters that settings and names must not contain. */
static const struct {
	const char *text;
	long offset;
} controls[] = {
	{ "Acme", -1 },
	{ "Café ☕ 北京", -1 },
	{ "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", -1 },	/* Hebrew, right to left */
	{ "A\tB", 1 },
	{ "AB\x7f", 2 },
	{ "A\xc2\x85", 1 },			/* U+0085, a C1 control */
	{ "A\xc2\xa0" "B", -1 },			/* U+00A0, no control */
	{ "ab\xe2\x80\xae", 2 },		/* U+202E */
	{ "ab\xe2\x80\xa9", -1 },		/* U+2029, no control here */
	{ "\xe2\x81\xa6x", 0 },		/* U+2066 */
	{ "x\xe2\x81\xaa", -1 },		/* U+206A, not an isolate */
};

static void
check_controls(void)
{
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(controls) / sizeof(controls[0]); i++) {
		snprintf(name, sizeof(name), "control offset of text %zu", i);
		unit_check(utf8_control_offset(controls[i].text) ==
		    controls[i].offset, name);
	}
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++)
		check_rejected(&rejected[i]);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		check_field(&fields[i]);
	for (i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++)
		check_memory(rejected[i].input, rejected[i].error);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		check_memory(fields[i].input, fields[i].field);
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
		check_target(&targets[i]);
	check_times();
	check_controls();
	return unit_done();
}
