#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "form.h"
#include "unit.h"

/* An input of known length, so that cases may contain NUL bytes. */
#define IN(s) s, sizeof(s) - 1

#define AT "2026-03-01T12:00:00Z"
#define SID "SM0123456789abcdef0123456789abcdef"
#define SID2 "SMfedcba9876543210fedcba9876543210"
#define ACCOUNT "AC00000000000000000000000000000042"
#define BRAND "%2B15005550006"
#define CUSTOMER "%2B15005550101"

/* Parameters of a real inbound webhook that the record leaves out. */
#define GEO "ToCountry=US&ToState=CA&ToCity=&ToZip=&FromCountry=US" \
	"&FromState=CA&FromCity=SAN+JOSE&FromZip=95101&ApiVersion=2010-04-01"

/* Record fields that every inbound case from CUSTOMER to BRAND has. */
#define MSG_HEAD "{\"type\":\"message\",\"direction\":\"inbound\"," \
	"\"from\":\"+15005550101\",\"to\":\"+15005550006\","
#define MSG_TAIL "\"provider\":\"twilio\",\"provider_message_id\":\"" SID \
	"\",\"sent_at\":\"" AT "\""

/*
 * WANT is JSON, or "error: " and the message of the invalid jv that is
 * expected.
 */
struct form_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	const char	*want;
};

static const struct form_case decode_cases[] = {
	{ "two pairs", IN("a=1&b=2"), "{\"a\":\"1\",\"b\":\"2\"}" },
	{ "empty pair inside", IN("a=1&&b=2"), "{\"a\":\"1\",\"b\":\"2\"}" },
	{ "empty pairs at ends", IN("&a=1&"), "{\"a\":\"1\"}" },
	{ "pair without equals", IN("flag&a=1"),
	    "{\"flag\":\"\",\"a\":\"1\"}" },
	{ "empty value", IN("a="), "{\"a\":\"\"}" },
	{ "empty key", IN("=1"), "{\"\":\"1\"}" },
	{ "repeated key keeps last", IN("a=1&a=2"), "{\"a\":\"2\"}" },
	{ "plus is space", IN("Body=Hello+world"),
	    "{\"Body\":\"Hello world\"}" },
	{ "plus in key", IN("My+Key=1"), "{\"My Key\":\"1\"}" },
	{ "upper case escape", IN("To=%2B15005550006"),
	    "{\"To\":\"+15005550006\"}" },
	{ "lower case escape", IN("To=%2b15005550006"),
	    "{\"To\":\"+15005550006\"}" },
	{ "escaped key", IN("%41=1"), "{\"A\":\"1\"}" },
	{ "escaped percent", IN("a=100%25"), "{\"a\":\"100%\"}" },
	{ "equals in value", IN("a=b=c&d=x%3Dy"),
	    "{\"a\":\"b=c\",\"d\":\"x=y\"}" },
	{ "escaped UTF-8", IN("Body=%C3%A9t%C3%A9"),
	    "{\"Body\":\"\xc3\xa9t\xc3\xa9\"}" },
	{ "escaped emoji", IN("Body=%F0%9F%98%80"),
	    "{\"Body\":\"\xf0\x9f\x98\x80\"}" },
	{ "raw UTF-8", IN("Body=\xc3\xa9t\xc3\xa9"),
	    "{\"Body\":\"\xc3\xa9t\xc3\xa9\"}" },
	{ "trailing LF", IN("a=1&b=2\n"), "{\"a\":\"1\",\"b\":\"2\"}" },
	{ "trailing CRLF", IN("a=1\r\n"), "{\"a\":\"1\"}" },
	{ "escaped LF kept", IN("a=1%0A"), "{\"a\":\"1\\n\"}" },
	{ "empty body", IN(""), "{}" },
	{ "line end only", IN("\n"), "{}" },
	{ "NUL in value kept", IN("a=x%00y"), "{\"a\":\"x\\u0000y\"}" },
	{ "non-hex escape", IN("Body=%G1"),
	    "error: invalid percent escape at byte 1 of the value of "
	    "parameter \"Body\"" },
	{ "short escape at end", IN("a=1&Body=%4"),
	    "error: invalid percent escape at byte 1 of the value of "
	    "parameter \"Body\"" },
	{ "percent at end", IN("Body=50%"),
	    "error: invalid percent escape at byte 3 of the value of "
	    "parameter \"Body\"" },
	{ "escape cut by plus", IN("Body=ok%2+"),
	    "error: invalid percent escape at byte 3 of the value of "
	    "parameter \"Body\"" },
	{ "bad escape in key", IN("B%ZZ=1"),
	    "error: invalid percent escape in parameter \"B%ZZ\"" },
	{ "invalid UTF-8 byte", IN("Body=%FF"),
	    "error: invalid UTF-8 in parameter \"Body\"" },
	{ "raw invalid byte", IN("Body=\xff"),
	    "error: invalid UTF-8 in parameter \"Body\"" },
	{ "truncated UTF-8", IN("Body=saints%E2%80"),
	    "error: invalid UTF-8 in parameter \"Body\"" },
	{ "overlong UTF-8", IN("Body=%C0%AF"),
	    "error: invalid UTF-8 in parameter \"Body\"" },
	{ "surrogate in UTF-8", IN("Body=%ED%A0%80"),
	    "error: invalid UTF-8 in parameter \"Body\"" },
	{ "invalid UTF-8 in key", IN("%FF=1"),
	    "error: invalid UTF-8 in parameter name \"%FF\"" },
	{ "NUL in key", IN("a%00b=1"),
	    "error: NUL byte in parameter name \"a%00b\"" },
	{ "long key in message",
	    IN("0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789=%"),
	    "error: invalid percent escape at byte 1 of the value of "
	    "parameter \""
	    "0123456789012345678901234567890123456789"
	    "012345678901234567890123...\"" },
	{ "long key cut on character",
	    IN("0123456789012345678901234567890123456789"
	    "01234567890123456789012\xc3\xa9xyz=%"),
	    "error: invalid percent escape at byte 1 of the value of "
	    "parameter \""
	    "0123456789012345678901234567890123456789"
	    "01234567890123456789012...\"" },
};

struct looks_case {
	const char	*name;
	const char	*in;
	int		 want;
};

static const struct looks_case looks_cases[] = {
	{ "form body", "MessageSid=" SID "&MessageStatus=sent", 1 },
	{ "leading spaces", "  a=1", 1 },
	{ "space after form", "a=1 \n", 1 },
	{ "JSON object", "{\"a\":\"b=c\"}", 0 },
	{ "indented JSON", " \t{\"a\":1}", 0 },
	{ "JSON array", "[1,2]", 0 },
	{ "empty line", "", 0 },
	{ "blank line", "   \n", 0 },
	{ "no equals", "hello", 0 },
	{ "equals after space", "hello world=1", 0 },
};

static const struct form_case twilio_cases[] = {
	{ "inbound SMS",
	    IN(GEO "&SmsMessageSid=" SID "&NumMedia=0&SmsSid=" SID
	    "&SmsStatus=received&Body=Stop&To=" BRAND "&NumSegments=1"
	    "&MessageSid=" SID "&AccountSid=" ACCOUNT "&From=" CUSTOMER),
	    MSG_HEAD "\"body\":\"Stop\"," MSG_TAIL ",\"num_segments\":1,"
	    "\"provider_account\":\"" ACCOUNT "\"}" },
	{ "unknown keys left out",
	    IN("MessageSid=" SID "&SmsStatus=received&Body=Yes&ButtonText=OK"
	    "&MessagingServiceSid=MG00000000000000000000000000000042"
	    "&To=" BRAND "&From=" CUSTOMER "&Foo=bar&MediaUrl0=x.jpg"),
	    MSG_HEAD "\"body\":\"Yes\"," MSG_TAIL "}" },
	{ "MMS without Body",
	    IN("MessageSid=" SID "&SmsStatus=received&NumMedia=2"
	    "&To=" BRAND "&From=" CUSTOMER
	    "&MediaUrl0=https%3A%2F%2Fmedia.example.com%2F0.jpg"
	    "&MediaContentType0=image%2Fjpeg"
	    "&MediaUrl1=https%3A%2F%2Fmedia.example.com%2F1.png"
	    "&MediaContentType1=image%2Fpng"),
	    MSG_HEAD "\"body\":\"\"," MSG_TAIL ",\"media\":["
	    "{\"url\":\"https://media.example.com/0.jpg\","
	    "\"content_type\":\"image/jpeg\"},"
	    "{\"url\":\"https://media.example.com/1.png\","
	    "\"content_type\":\"image/png\"}]}" },
	{ "MMS without content type",
	    IN("MessageSid=" SID "&Body=Look&NumMedia=1&To=" BRAND
	    "&From=" CUSTOMER "&MediaUrl0=cat.jpg"),
	    MSG_HEAD "\"body\":\"Look\"," MSG_TAIL ",\"media\":["
	    "{\"url\":\"cat.jpg\",\"content_type\":null}]}" },
	{ "NumMedia above MediaUrl count",
	    IN("MessageSid=" SID "&Body=&NumMedia=2&To=" BRAND
	    "&From=" CUSTOMER "&MediaUrl0=cat.jpg"),
	    "error: missing parameter \"MediaUrl1\" although NumMedia is 2" },
	{ "empty MediaUrl",
	    IN("MessageSid=" SID "&NumMedia=1&To=" BRAND
	    "&From=" CUSTOMER "&MediaUrl0="),
	    "error: missing parameter \"MediaUrl0\" although NumMedia is 1" },
	{ "NumMedia above 10",
	    IN("MessageSid=" SID "&NumMedia=11&To=" BRAND "&From=" CUSTOMER),
	    "error: invalid parameter \"NumMedia\": \"11\" is not a number "
	    "from 0 to 10" },
	{ "NumMedia not a number",
	    IN("MessageSid=" SID "&NumMedia=two&To=" BRAND "&From=" CUSTOMER),
	    "error: invalid parameter \"NumMedia\": \"two\" is not a number "
	    "from 0 to 10" },
	{ "NumMedia negative",
	    IN("MessageSid=" SID "&NumMedia=-1&To=" BRAND "&From=" CUSTOMER),
	    "error: invalid parameter \"NumMedia\": \"-1\" is not a number "
	    "from 0 to 10" },
	{ "NumMedia empty",
	    IN("MessageSid=" SID "&NumMedia=&To=" BRAND "&From=" CUSTOMER),
	    "error: invalid parameter \"NumMedia\": \"\" is not a number "
	    "from 0 to 10" },
	{ "NumSegments not a number",
	    IN("MessageSid=" SID "&Body=Hi&NumSegments=1.5&To=" BRAND
	    "&From=" CUSTOMER),
	    "error: invalid parameter \"NumSegments\": \"1.5\" is not a number "
	    "from 0 to 255" },
	{ "WhatsApp addresses",
	    IN("MessageSid=" SID "&SmsStatus=received&Body=Hi"
	    "&To=whatsapp:" BRAND "&From=whatsapp:" CUSTOMER),
	    "{\"type\":\"message\",\"direction\":\"inbound\","
	    "\"from\":\"whatsapp:+15005550101\","
	    "\"to\":\"whatsapp:+15005550006\",\"body\":\"Hi\"," MSG_TAIL "}" },
	{ "short code recipient",
	    IN("MessageSid=" SID "&Body=JOIN&To=55501&From=" CUSTOMER),
	    "{\"type\":\"message\",\"direction\":\"inbound\","
	    "\"from\":\"+15005550101\","
	    "\"to\":\"55501\",\"body\":\"JOIN\"," MSG_TAIL "}" },
	{ "opt-out type",
	    IN("MessageSid=" SID "&Body=STOP&OptOutType=STOP&To=" BRAND
	    "&From=" CUSTOMER),
	    MSG_HEAD "\"body\":\"STOP\"," MSG_TAIL
	    ",\"opt_out_type\":\"STOP\"}" },
	{ "escaped body text",
	    IN("MessageSid=" SID "&Body=caf%C3%A9+%2B+tea%21&To=" BRAND
	    "&From=" CUSTOMER),
	    MSG_HEAD "\"body\":\"caf\xc3\xa9 + tea!\"," MSG_TAIL "}" },
	{ "SmsMessageSid fallback",
	    IN("SmsMessageSid=" SID "&SmsSid=" SID2 "&SmsStatus=received"
	    "&Body=Hi&To=" BRAND "&From=" CUSTOMER),
	    MSG_HEAD "\"body\":\"Hi\"," MSG_TAIL "}" },
	{ "SmsSid fallback",
	    IN("SmsSid=" SID "&SmsStatus=received&Body=Hi&To=" BRAND
	    "&From=" CUSTOMER),
	    MSG_HEAD "\"body\":\"Hi\"," MSG_TAIL "}" },
	{ "MessageSid wins",
	    IN("SmsSid=" SID2 "&MessageSid=" SID "&Body=Hi&To=" BRAND
	    "&From=" CUSTOMER),
	    MSG_HEAD "\"body\":\"Hi\"," MSG_TAIL "}" },
	{ "missing MessageSid",
	    IN("SmsStatus=received&Body=Hi&To=" BRAND "&From=" CUSTOMER),
	    "error: missing parameter \"MessageSid\"" },
	{ "empty MessageSid",
	    IN("MessageSid=&MessageStatus=sent"),
	    "error: missing parameter \"MessageSid\"" },
	{ "missing From",
	    IN("MessageSid=" SID "&SmsStatus=received&Body=Hi&To=" BRAND),
	    "error: missing parameter \"From\"" },
	{ "missing To",
	    IN("MessageSid=" SID "&Body=Hi&From=" CUSTOMER),
	    "error: missing parameter \"To\"" },
	{ "neither message nor status",
	    IN("MessageSid=" SID "&To=" BRAND "&From=" CUSTOMER),
	    "error: missing parameter \"Body\" or \"MessageStatus\"" },
	{ "invalid UTF-8 in Body",
	    IN("MessageSid=" SID "&Body=saints%E2%80&To=" BRAND
	    "&From=" CUSTOMER),
	    "error: invalid UTF-8 in parameter \"Body\"" },
	{ "malformed escape in To",
	    IN("MessageSid=" SID "&Body=Hi&To=%2G15005550006"),
	    "error: invalid percent escape at byte 1 of the value of "
	    "parameter \"To\"" },
	{ "MessageStatus received with Body",
	    IN("MessageSid=" SID "&MessageStatus=received&Body=Hi"
	    "&To=" BRAND "&From=" CUSTOMER),
	    MSG_HEAD "\"body\":\"Hi\"," MSG_TAIL "}" },
	{ "MessageStatus receiving with Body",
	    IN("MessageSid=" SID "&MessageStatus=receiving&Body=Hi"
	    "&To=" BRAND "&From=" CUSTOMER),
	    MSG_HEAD "\"body\":\"Hi\"," MSG_TAIL "}" },
	{ "MessageStatus received alone",
	    IN("MessageSid=" SID "&MessageStatus=received"),
	    "{\"type\":\"status\",\"provider\":\"twilio\","
	    "\"provider_message_id\":\"" SID "\",\"status\":\"received\","
	    "\"error_code\":null,\"at\":\"" AT "\"}" },
	{ "status delivered",
	    IN("MessageSid=" SID "&MessageStatus=delivered"),
	    "{\"type\":\"status\",\"provider\":\"twilio\","
	    "\"provider_message_id\":\"" SID "\",\"status\":\"delivered\","
	    "\"error_code\":null,\"at\":\"" AT "\"}" },
	{ "status failed 21610",
	    IN("ErrorCode=21610&MessageSid=" SID "&MessageStatus=failed"
	    "&To=" CUSTOMER),
	    "{\"type\":\"status\",\"provider\":\"twilio\","
	    "\"provider_message_id\":\"" SID "\",\"status\":\"failed\","
	    "\"error_code\":\"21610\",\"to\":\"+15005550101\","
	    "\"at\":\"" AT "\"}" },
	{ "status empty ErrorCode",
	    IN("MessageSid=" SID "&MessageStatus=sent&ErrorCode="),
	    "{\"type\":\"status\",\"provider\":\"twilio\","
	    "\"provider_message_id\":\"" SID "\",\"status\":\"sent\","
	    "\"error_code\":null,\"at\":\"" AT "\"}" },
	{ "status with extra keys",
	    IN("SmsSid=" SID "&SmsStatus=sent&MessageStatus=sent&To=55501"
	    "&MessagingServiceSid=MG00000000000000000000000000000042"
	    "&MessageSid=" SID "&AccountSid=" ACCOUNT "&From=" BRAND
	    "&ApiVersion=2010-04-01&Body=ignored"),
	    "{\"type\":\"status\",\"provider\":\"twilio\","
	    "\"provider_message_id\":\"" SID "\",\"status\":\"sent\","
	    "\"error_code\":null,\"to\":\"55501\","
	    "\"from\":\"+15005550006\",\"at\":\"" AT "\"}" },
	{ "status read on WhatsApp",
	    IN("MessageSid=" SID "&MessageStatus=read&To=whatsapp:" CUSTOMER),
	    "{\"type\":\"status\",\"provider\":\"twilio\","
	    "\"provider_message_id\":\"" SID "\",\"status\":\"read\","
	    "\"error_code\":null,\"to\":\"whatsapp:+15005550101\","
	    "\"at\":\"" AT "\"}" },
	{ "SmsStatus only status",
	    IN("SmsSid=" SID "&SmsStatus=undelivered&ErrorCode=30003"),
	    "{\"type\":\"status\",\"provider\":\"twilio\","
	    "\"provider_message_id\":\"" SID "\",\"status\":\"undelivered\","
	    "\"error_code\":\"30003\",\"at\":\"" AT "\"}" },
	{ "unknown status passes",
	    IN("MessageSid=" SID "&MessageStatus=huh"),
	    "{\"type\":\"status\",\"provider\":\"twilio\","
	    "\"provider_message_id\":\"" SID "\",\"status\":\"huh\","
	    "\"error_code\":null,\"at\":\"" AT "\"}" },
};

/* JSON webhook bodies: IN is JSON text, WANT as in decode_cases. */
static const struct form_case json_cases[] = {
	{ "strings kept", IN("{\"MessageSid\":\"" SID "\",\"Body\":\"Hi\"}"),
	    "{\"MessageSid\":\"" SID "\",\"Body\":\"Hi\"}" },
	{ "numbers as text", IN("{\"NumMedia\":0,\"ErrorCode\":30003,"
	    "\"Price\":-0.0075}"),
	    "{\"NumMedia\":\"0\",\"ErrorCode\":\"30003\","
	    "\"Price\":\"-0.0075\"}" },
	{ "booleans as text", IN("{\"a\":true,\"b\":false}"),
	    "{\"a\":\"true\",\"b\":\"false\"}" },
	{ "null left out", IN("{\"ErrorCode\":null,\"a\":\"1\"}"),
	    "{\"a\":\"1\"}" },
	{ "nested values as JSON text",
	    IN("{\"AddOns\":{\"status\":\"successful\",\"code\":null},"
	    "\"List\":[1,\"x\"]}"),
	    "{\"AddOns\":\"{\\\"code\\\":null,\\\"status\\\":"
	    "\\\"successful\\\"}\",\"List\":\"[1,\\\"x\\\"]\"}" },
	{ "empty string kept", IN("{\"Body\":\"\"}"), "{\"Body\":\"\"}" },
	{ "empty object", IN("{}"), "{}" },
	{ "NUL in value kept", IN("{\"a\":\"x\\u0000y\"}"),
	    "{\"a\":\"x\\u0000y\"}" },
	{ "NUL in name", IN("{\"a\\u0000b\":\"1\"}"),
	    "error: NUL byte in parameter name \"a\"" },
	{ "array body", IN("[{\"MessageSid\":\"" SID "\"}]"),
	    "error: expected a JSON object of webhook parameters, not array" },
	{ "string body", IN("\"MessageSid\""),
	    "error: expected a JSON object of webhook parameters, not string" },
	{ "null body", IN("null"),
	    "error: expected a JSON object of webhook parameters, not null" },
};

/* JSON webhooks that become records as their forms do. */
static const struct form_case json_twilio_cases[] = {
	{ "JSON inbound SMS",
	    IN("{\"MessageSid\":\"" SID "\",\"SmsStatus\":\"received\","
	    "\"Body\":\"Stop\",\"To\":\"+15005550006\","
	    "\"From\":\"+15005550101\",\"NumMedia\":0,\"NumSegments\":1,"
	    "\"AccountSid\":\"" ACCOUNT "\",\"ToCity\":null}"),
	    MSG_HEAD "\"body\":\"Stop\"," MSG_TAIL ",\"num_segments\":1,"
	    "\"provider_account\":\"" ACCOUNT "\"}" },
	{ "JSON MMS",
	    IN("{\"MessageSid\":\"" SID "\",\"NumMedia\":\"1\","
	    "\"To\":\"+15005550006\",\"From\":\"+15005550101\","
	    "\"MediaUrl0\":\"https://media.example.com/0.jpg\","
	    "\"MediaContentType0\":\"image/jpeg\"}"),
	    MSG_HEAD "\"body\":\"\"," MSG_TAIL ",\"media\":["
	    "{\"url\":\"https://media.example.com/0.jpg\","
	    "\"content_type\":\"image/jpeg\"}]}" },
	{ "JSON status failed",
	    IN("{\"MessageSid\":\"" SID "\",\"MessageStatus\":\"failed\","
	    "\"ErrorCode\":21610,\"To\":\"+15005550101\"}"),
	    "{\"type\":\"status\",\"provider\":\"twilio\","
	    "\"provider_message_id\":\"" SID "\",\"status\":\"failed\","
	    "\"error_code\":\"21610\",\"to\":\"+15005550101\","
	    "\"at\":\"" AT "\"}" },
	{ "JSON NumMedia fraction",
	    IN("{\"MessageSid\":\"" SID "\",\"NumMedia\":1.5,"
	    "\"To\":\"+15005550006\",\"From\":\"+15005550101\"}"),
	    "error: invalid parameter \"NumMedia\": \"1.5\" is not a number "
	    "from 0 to 10" },
	{ "JSON without MessageSid",
	    IN("{\"CallSid\":\"CA1234567890ABCDE\","
	    "\"Caller\":\"+12349013030\"}"),
	    "error: missing parameter \"MessageSid\"" },
	{ "JSON null MessageSid",
	    IN("{\"MessageSid\":null,\"MessageStatus\":\"sent\"}"),
	    "error: missing parameter \"MessageSid\"" },
};

/*
 * Return RESULT (consumed) as text: sorted JSON, or "error: " and the
 * message. The caller frees it.
 */
static char *
result_text(jv result)
{
	jv text, msg;
	char *s;

	if (jv_is_valid(result)) {
		text = jv_dump_string(result, JV_PRINT_SORTED);
	} else {
		msg = jv_invalid_get_msg(result);
		if (jv_get_kind(msg) == JV_KIND_STRING)
			text = jv_string_fmt("error: %s", jv_string_value(msg));
		else
			text = jv_string("error without message");
		jv_free(msg);
	}
	s = strdup(jv_string_value(text));
	jv_free(text);
	return s;
}

/* Return WANT with JSON sorted the way result_text() sorts it. */
static char *
want_text(const char *want)
{
	jv parsed;

	if (strncmp(want, "error: ", 7) == 0)
		return strdup(want);
	parsed = jv_parse(want);
	if (!jv_is_valid(parsed)) {
		jv_free(parsed);
		return strdup("(expected value is not JSON)");
	}
	return result_text(parsed);
}

static void
check_result(jv result, const char *want, const char *name)
{
	char *got, *expected;

	got = result_text(result);
	expected = want_text(want);
	unit_check_str(got, expected, name);
	free(got);
	free(expected);
}

static void
test_decode(void)
{
	const struct form_case *c;
	size_t i;

	for (i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		c = &decode_cases[i];
		check_result(form_decode(c->in, c->len), c->want, c->name);
	}
}

static void
test_looks_like(void)
{
	const struct looks_case *c;
	size_t i;
	int got;

	for (i = 0; i < sizeof(looks_cases) / sizeof(looks_cases[0]); i++) {
		c = &looks_cases[i];
		got = form_looks_like(c->in, strlen(c->in));
		unit_check(got == c->want, c->name);
		if (got != c->want)
			printf("#   got %d, expected %d\n", got, c->want);
	}
}

static void
test_twilio(void)
{
	const struct form_case *c;
	size_t i;
	jv form;

	for (i = 0; i < sizeof(twilio_cases) / sizeof(twilio_cases[0]); i++) {
		c = &twilio_cases[i];
		form = form_decode(c->in, c->len);
		check_result(twilio_form_to_record(form, AT), c->want,
		    c->name);
	}
}

/* Parse the JSON text of case C, which is valid JSON in every case. */
static jv
parse_case(const struct form_case *c)
{
	return jv_parse_sized(c->in, (int)c->len);
}

static void
test_json(void)
{
	const struct form_case *c;
	size_t i;

	for (i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		c = &json_cases[i];
		check_result(form_from_json(parse_case(c)), c->want, c->name);
	}
	for (i = 0; i < sizeof(json_twilio_cases) /
	    sizeof(json_twilio_cases[0]); i++) {
		c = &json_twilio_cases[i];
		check_result(twilio_form_to_record(
		    form_from_json(parse_case(c)), AT), c->want, c->name);
	}
}

static void
test_twilio_misuse(void)
{
	check_result(twilio_form_to_record(jv_array(), AT),
	    "error: twilio_form_to_record: form is not an object or "
	    "received_at is NULL", "form not an object");
	check_result(twilio_form_to_record(form_decode(IN("MessageSid=" SID
	    "&MessageStatus=sent")), NULL),
	    "error: twilio_form_to_record: form is not an object or "
	    "received_at is NULL", "NULL received time");
}

/* The looks-like test reads only LEN bytes. */
static void
test_looks_like_length(void)
{
	unit_check(form_looks_like("abc=1", 3) == 0, "length before equals");
}

int
main(void)
{
	test_decode();
	test_looks_like();
	test_looks_like_length();
	test_twilio();
	test_json();
	test_twilio_misuse();
	return unit_done();
}
