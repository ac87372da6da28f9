/*
 * Form bodies and the Twilio messaging webhooks that use them. Decoding
 * follows the WHATWG application/x-www-form-urlencoded parser but is
 * strict, so a malformed escape or invalid UTF-8 rejects the body where
 * WHATWG keeps the '%' or substitutes U+FFFD.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>
#include <utf8proc.h>

#include "form.h"

/* Maximum bytes of a parameter name that an error message shows. */
#define SHOWN_NAME_MAX 64

/* Twilio's 2010-04-01 API allows up to ten MediaUrl values per message. */
#define TWILIO_MEDIA_MAX 10

/* The SMS concatenation header (3GPP TS 23.040) counts parts in a byte. */
#define SMS_SEGMENTS_MAX 255

static int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode the N bytes at S into OUT, which has room for N bytes. Returns
 * the decoded length, or -1 - I when the '%' at offset I is not followed
 * by two hex digits.
 */
static int
percent_decode(const char *s, int n, char *out)
{
	int i, len, hi, lo;

	len = 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '+') {
			out[len++] = ' ';
			continue;
		}
		if (s[i] != '%') {
			out[len++] = s[i];
			continue;
		}
		if (n - i < 3)
			return -1 - i;
		hi = hex_value((unsigned char)s[i + 1]);
		lo = hex_value((unsigned char)s[i + 2]);
		if (hi < 0 || lo < 0)
			return -1 - i;
		out[len++] = (char)(hi << 4 | lo);
		i += 2;
	}
	return len;
}

/* utf8proc rejects overlong forms, surrogates and values past U+10FFFF. */
static int
utf8_valid(const char *s, int n)
{
	utf8proc_int32_t cp;
	utf8proc_ssize_t step;
	int i;

	for (i = 0; i < n; i += step) {
		step = utf8proc_iterate((const utf8proc_uint8_t *)s + i, n - i,
		    &cp);
		if (step <= 0)
			return 0;
	}
	return 1;
}

/*
 * Return an invalid jv whose message is FMT with the name of N bytes at
 * NAME in place of its one "%.*s%s". Long names are cut on a character
 * boundary, because a 100 KB name would drown the message.
 */
static jv
name_error(const char *fmt, const char *name, int n)
{
	const char *more;

	more = "";
	if (n > SHOWN_NAME_MAX) {
		n = SHOWN_NAME_MAX;
		while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
			n--;
		more = "...";
	}
	return jv_invalid_with_msg(jv_string_fmt(fmt, n, name, more));
}

/*
 * Decode the pair of N bytes at PAIR into OBJ (consumed), using BUF of
 * at least N bytes. Returns the object, or an invalid jv.
 */
static jv
decode_pair(jv obj, const char *pair, int n, char *buf)
{
	const char *eq;
	char *key, *value, fmt[96];
	int rawkey, keylen, valuelen;

	eq = memchr(pair, '=', n);
	rawkey = eq != NULL ? (int)(eq - pair) : n;
	key = buf;
	keylen = percent_decode(pair, rawkey, key);
	if (keylen < 0) {
		jv_free(obj);
		return name_error("invalid percent escape in parameter "
		    "\"%.*s%s\"", pair, rawkey);
	}
	if (!utf8_valid(key, keylen)) {
		jv_free(obj);
		return name_error("invalid UTF-8 in parameter name \"%.*s%s\"",
		    pair, rawkey);
	}
	if (memchr(key, '\0', keylen) != NULL) {
		jv_free(obj);
		return name_error("NUL byte in parameter name \"%.*s%s\"",
		    pair, rawkey);
	}

	value = key + keylen;
	valuelen = 0;
	if (eq != NULL)
		valuelen = percent_decode(eq + 1, n - rawkey - 1, value);
	if (valuelen < 0) {
		jv_free(obj);
		snprintf(fmt, sizeof(fmt), "invalid percent escape at byte %d "
		    "of the value of parameter \"%%.*s%%s\"", -valuelen);
		return name_error(fmt, key, keylen);
	}
	if (!utf8_valid(value, valuelen)) {
		jv_free(obj);
		return name_error("invalid UTF-8 in parameter \"%.*s%s\"",
		    key, keylen);
	}
	return jv_object_set(obj, jv_string_sized(key, keylen),
	    jv_string_sized(value, valuelen));
}

jv
form_decode(const char *text, size_t len)
{
	const char *p, *end, *amp;
	char *buf;
	jv obj;

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (len > INT_MAX)
		return jv_invalid_with_msg(jv_string_fmt(
		    "form body too long: %zu bytes, maximum %d", len,
		    INT_MAX));
	if ((buf = malloc(len + 1)) == NULL)
		return jv_invalid_with_msg(jv_string("out of memory"));

	obj = jv_object();
	p = text;
	end = text + len;
	while (p < end && jv_is_valid(obj)) {
		amp = memchr(p, '&', end - p);
		if (amp == NULL)
			amp = end;
		if (amp > p)
			obj = decode_pair(obj, p, (int)(amp - p), buf);
		p = amp == end ? end : amp + 1;
	}
	free(buf);
	return obj;
}

/* Return the JSON value V (consumed) as the text a form carries. */
static jv
json_param_text(jv v)
{
	switch (jv_get_kind(v)) {
	case JV_KIND_STRING:
		return v;
	case JV_KIND_NUMBER:
	case JV_KIND_TRUE:
	case JV_KIND_FALSE:
		return jv_dump_string(v, 0);
	default:
		/* Twilio's forms carry nested data, such as AddOns, as JSON. */
		return jv_dump_string(v, JV_PRINT_SORTED);
	}
}

jv
form_from_json(jv json)
{
	jv form;
	const char *name;
	int len;

	if (jv_get_kind(json) != JV_KIND_OBJECT) {
		form = jv_invalid_with_msg(jv_string_fmt("expected a JSON "
		    "object of webhook parameters, not %s",
		    jv_kind_name(jv_get_kind(json))));
		jv_free(json);
		return form;
	}
	form = jv_object();
	jv_object_foreach(json, key, value) {
		name = jv_string_value(key);
		len = jv_string_length_bytes(jv_copy(key));
		if (jv_is_valid(form) && memchr(name, '\0', len) != NULL) {
			jv_free(form);
			form = name_error("NUL byte in parameter name "
			    "\"%.*s%s\"", name, len);
		}
		if (!jv_is_valid(form) || jv_get_kind(value) == JV_KIND_NULL) {
			jv_free(key);
			jv_free(value);
			continue;
		}
		form = jv_object_set(form, key, json_param_text(value));
	}
	jv_free(json);
	return form;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f';
}

/* A form body has no raw spaces, because '+' or %20 encodes them. */
int
form_looks_like(const char *text, size_t len)
{
	size_t i;

	for (i = 0; i < len && is_space(text[i]); i++)
		continue;
	if (i == len || text[i] == '{')
		return 0;
	for (; i < len && !is_space(text[i]); i++)
		if (text[i] == '=')
			return 1;
	return 0;
}

/*
 * Return the value of parameter NAME in FORM (borrowed), or an invalid
 * jv when it is absent, empty or not a string.
 */
static jv
param(jv form, const char *name)
{
	jv value;

	value = jv_object_get(jv_copy(form), jv_string(name));
	if (jv_get_kind(value) != JV_KIND_STRING ||
	    jv_string_length_bytes(jv_copy(value)) == 0) {
		jv_free(value);
		return jv_invalid();
	}
	return value;
}

static int
has_param(jv form, const char *name)
{
	jv value;
	int present;

	value = jv_object_get(jv_copy(form), jv_string(name));
	present = jv_get_kind(value) == JV_KIND_STRING;
	jv_free(value);
	return present;
}

static jv
missing(const char *name)
{
	return jv_invalid_with_msg(jv_string_fmt(
	    "missing parameter \"%s\"", name));
}

/*
 * The setters below consume RECORD, set KEY in it and return it. An
 * invalid RECORD passes through unchanged, so a chain of them reports
 * the first error.
 */

static jv
set_required(jv record, jv form, const char *key, const char *name)
{
	jv value;

	if (!jv_is_valid(record))
		return record;
	value = param(form, name);
	if (!jv_is_valid(value)) {
		jv_free(record);
		return missing(name);
	}
	return jv_object_set(record, jv_string(key), value);
}

static jv
set_optional(jv record, jv form, const char *key, const char *name)
{
	jv value;

	if (!jv_is_valid(record))
		return record;
	value = param(form, name);
	if (!jv_is_valid(value))
		return record;
	return jv_object_set(record, jv_string(key), value);
}

/*
 * Parse the LEN decimal digits at TEXT as a number from 0 to MAX. Returns
 * the number, or -1 when TEXT has anything else or is out of range.
 */
static int
parse_count(const char *text, int len, int max)
{
	int i, n;

	if (len == 0)
		return -1;
	n = 0;
	for (i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		n = n * 10 + (text[i] - '0');
		if (n > max)
			return -1;
	}
	return n;
}

/*
 * Return the number from 0 to MAX in parameter NAME, which FORM has.
 * Returns -1 and stores a message in *ERROR when it is not such a number.
 */
static int
count_param(jv form, const char *name, int max, jv *error)
{
	jv value;
	int n;

	value = jv_object_get(jv_copy(form), jv_string(name));
	n = parse_count(jv_string_value(value),
	    jv_string_length_bytes(jv_copy(value)), max);
	if (n < 0)
		*error = jv_invalid_with_msg(jv_string_fmt(
		    "invalid parameter \"%s\": \"%s\" is not a number "
		    "from 0 to %d", name, jv_string_value(value), max));
	jv_free(value);
	return n;
}

/* Return the media object for MediaUrl{I}, or an invalid jv. */
static jv
media_item(jv form, int i, int count)
{
	char name[32];
	jv url, type;

	snprintf(name, sizeof(name), "MediaUrl%d", i);
	url = param(form, name);
	if (!jv_is_valid(url))
		return jv_invalid_with_msg(jv_string_fmt(
		    "missing parameter \"%s\" although NumMedia is %d", name,
		    count));
	snprintf(name, sizeof(name), "MediaContentType%d", i);
	type = param(form, name);
	if (!jv_is_valid(type))
		type = jv_null();
	return JV_OBJECT(jv_string("url"), url,
	    jv_string("content_type"), type);
}

/*
 * Set "media" to the list that NumMedia announces. A message without
 * media has no "media" key. A missing MediaContentType{N} gives a null
 * "content_type", because the URL alone still locates the file.
 */
static jv
set_media(jv record, jv form)
{
	jv list, item, error;
	int count, i;

	if (!jv_is_valid(record) || !has_param(form, "NumMedia"))
		return record;
	count = count_param(form, "NumMedia", TWILIO_MEDIA_MAX, &error);
	if (count < 0) {
		jv_free(record);
		return error;
	}
	if (count == 0)
		return record;

	list = jv_array();
	for (i = 0; i < count; i++) {
		item = media_item(form, i, count);
		if (!jv_is_valid(item)) {
			jv_free(list);
			jv_free(record);
			return item;
		}
		list = jv_array_append(list, item);
	}
	return jv_object_set(record, jv_string("media"), list);
}

static jv
set_segments(jv record, jv form)
{
	jv error;
	int count;

	if (!jv_is_valid(record) || !has_param(form, "NumSegments"))
		return record;
	count = count_param(form, "NumSegments", SMS_SEGMENTS_MAX, &error);
	if (count < 0) {
		jv_free(record);
		return error;
	}
	return jv_object_set(record, jv_string("num_segments"),
	    jv_number(count));
}

/*
 * Return the "message" record of the inbound message FORM (borrowed)
 * with id SID (consumed), or an invalid jv.
 */
static jv
message_record(jv form, jv sid, const char *received_at)
{
	jv record, body;

	/* The channel comes from the address prefix ("whatsapp:+1..."). */
	record = JV_OBJECT(jv_string("type"), jv_string("message"),
	    jv_string("direction"), jv_string("inbound"));
	record = set_required(record, form, "from", "From");
	record = set_required(record, form, "to", "To");
	if (!jv_is_valid(record)) {
		jv_free(sid);
		return record;
	}

	/* Twilio leaves Body out of some MMS webhooks. */
	body = param(form, "Body");
	if (!jv_is_valid(body))
		body = jv_string("");
	record = jv_object_set(record, jv_string("body"), body);
	record = jv_object_set(record, jv_string("provider"),
	    jv_string("twilio"));
	record = jv_object_set(record, jv_string("provider_message_id"), sid);
	record = jv_object_set(record, jv_string("sent_at"),
	    jv_string(received_at));
	record = set_media(record, form);
	record = set_segments(record, form);
	record = set_optional(record, form, "provider_account", "AccountSid");
	return set_optional(record, form, "opt_out_type", "OptOutType");
}

/*
 * Return the "status" record of the status callback FORM (borrowed)
 * with id SID and status STATUS (both consumed).
 */
static jv
status_record(jv form, jv sid, jv status, const char *received_at)
{
	jv record, error_code;

	error_code = param(form, "ErrorCode");
	if (!jv_is_valid(error_code))
		error_code = jv_null();
	record = JV_OBJECT(jv_string("type"), jv_string("status"),
	    jv_string("provider"), jv_string("twilio"),
	    jv_string("provider_message_id"), sid,
	    jv_string("status"), status,
	    jv_string("error_code"), error_code,
	    jv_string("at"), jv_string(received_at));
	record = set_optional(record, form, "to", "To");
	return set_optional(record, form, "from", "From");
}

/* Return the message id; SmsMessageSid and SmsSid are older names. */
static jv
message_sid(jv form)
{
	static const char *const names[] = {
		"MessageSid", "SmsMessageSid", "SmsSid"
	};
	jv sid;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		sid = param(form, names[i]);
		if (jv_is_valid(sid))
			return sid;
	}
	return jv_invalid();
}

/* Return 1 when STATUS (borrowed) is the status of an inbound message. */
static int
is_inbound_status(jv status)
{
	const char *s;

	if (!jv_is_valid(status))
		return 0;
	s = jv_string_value(status);
	return strcmp(s, "received") == 0 || strcmp(s, "receiving") == 0;
}

/*
 * Return the status of a status callback, or an invalid jv when FORM is
 * an inbound message or neither shape. MessageStatus wins over SmsStatus,
 * its older name. A "received" status is a callback only when the form
 * carries no Body and no NumMedia.
 */
static jv
callback_status(jv form)
{
	jv status;

	status = param(form, "MessageStatus");
	if (!jv_is_valid(status))
		status = param(form, "SmsStatus");
	if (!jv_is_valid(status))
		return status;
	if (is_inbound_status(status) && (has_param(form, "Body") ||
	    has_param(form, "NumMedia") ||
	    !has_param(form, "MessageStatus"))) {
		jv_free(status);
		return jv_invalid();
	}
	return status;
}

static int
is_inbound_message(jv form)
{
	jv status;
	int inbound;

	if (has_param(form, "Body") || has_param(form, "NumMedia"))
		return 1;
	status = param(form, "SmsStatus");
	inbound = is_inbound_status(status);
	jv_free(status);
	return inbound;
}

/* An invalid FORM, as form_decode() returns it, passes through. */
jv
twilio_form_to_record(jv form, const char *received_at)
{
	jv sid, status, record;

	if (!jv_is_valid(form))
		return form;
	if (jv_get_kind(form) != JV_KIND_OBJECT || received_at == NULL) {
		jv_free(form);
		return jv_invalid_with_msg(jv_string("twilio_form_to_record: "
		    "form is not an object or received_at is NULL"));
	}
	sid = message_sid(form);
	if (!jv_is_valid(sid)) {
		jv_free(form);
		return missing("MessageSid");
	}

	status = callback_status(form);
	if (jv_is_valid(status))
		record = status_record(form, sid, status, received_at);
	else if (is_inbound_message(form))
		record = message_record(form, sid, received_at);
	else {
		jv_free(sid);
		record = jv_invalid_with_msg(jv_string(
		    "missing parameter \"Body\" or \"MessageStatus\""));
	}
	jv_free(form);
	return record;
}
