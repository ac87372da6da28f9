/*
 * Table-driven tests of input record validation and normal form, and of
 * RFC 3339 time checks.
 */
#include <stdlib.h>
#include <string.h>

#include <jv.h>

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

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++)
		check_rejected(&rejected[i]);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		check_field(&fields[i]);
	check_times();
	return unit_done();
}
