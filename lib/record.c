#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "convo.h"
#include "keyword.h"
#include "match.h"
#include "phone.h"
#include "record.h"
#include "timeutil.h"

static const char *const statuses[] = {
	"accepted", "scheduled", "queued", "sending", "sent", "delivered",
	"undelivered", "failed", "canceled", "partially_delivered", "read",
	"receiving", "received", NULL,
};

/* Digits of an outbox row id: a positive PostgreSQL bigint. */
#define OUTBOX_ID_DIGITS_MAX 18

/* Limits of a receipt's error code, a number or a string (convo(5)). */
#define ERROR_CODE_MAX 1000000000
#define ERROR_CODE_BYTES_MAX 16

static const char *const origins[] = {
	"conversation", "campaign", "flow", "keyword_reply", "api", NULL,
};

static const char *const consent_statuses[] = {
	"subscribed", "unsubscribed", "never_subscribed", NULL,
};

static const char *const message_fields[] = {
	"type", "direction", "channel", "from", "to", "body", "media",
	"provider", "provider_message_id", "sent_at", "origin", "origin_id",
	"status", NULL,
};

static const char *const profile_fields_list[] = {
	"external_id", "first_name", "last_name", "email", "photo_url",
	"timezone", "properties", NULL,
};

static int
in_list(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

int
record_status_known(const char *s)
{
	return in_list(s, statuses);
}

static jv
fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return jv_invalid_with_msg(jv_string(msg));
}

const char *
record_quote(const char *s, char out[80])
{
	size_t i, n = 0;

	for (i = 0; s[i] != '\0' && n < 60; i++)
		out[n++] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
	/* N equals I, so S[N] is the first byte left out. */
	while (n > 0 && s[i] != '\0' && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	if (s[i] != '\0')
		out[n++] = '.', out[n++] = '.', out[n++] = '.';
	out[n] = '\0';
	return out;
}

/* Return 1 when the string S (borrowed) contains a NUL character. */
static int
has_nul(jv s)
{
	return strlen(jv_string_value(s)) !=
	    (size_t)jv_string_length_bytes(jv_copy(s));
}

/*
 * Return 1 when V (borrowed) contains a string with a NUL character
 * anywhere inside, which PostgreSQL's text and jsonb cannot store.
 */
static int
nul_escape_inside(jv v)
{
	jv dump = jv_dump_string(jv_copy(v), 0);
	int found = strstr(jv_string_value(dump), "\\u0000") != NULL;

	jv_free(dump);
	return found;
}

/*
 * Fetch string field NAME of REC (borrowed) into *OUT. Returns 0 when
 * present, 1 when absent or null, -1 when of another type and -2 when
 * the string contains a NUL character.
 */
static int
get_string(jv rec, const char *name, jv *out)
{
	jv v = jv_object_get(jv_copy(rec), jv_string(name));
	jv_kind k = jv_get_kind(v);

	if (k == JV_KIND_STRING && has_nul(v)) {
		jv_free(v);
		return -2;
	}
	if (k == JV_KIND_STRING) {
		*out = v;
		return 0;
	}
	jv_free(v);
	return k == JV_KIND_INVALID || k == JV_KIND_NULL ? 1 : -1;
}

/* Return the error for field NAME, for which get_string() returned RC. */
static jv
string_error(const char *name, int rc)
{
	if (rc == -2)
		return fail("NUL byte in field \"%s\"", name);
	return fail("field \"%s\" must be a string", name);
}

/*
 * Like get_string, but a missing or empty field is an error stored in
 * *ERR. *HOLDER keeps any string found, and the caller frees it on error
 * too.
 */
static const char *
need_string(jv rec, const char *name, jv *holder, jv *err)
{
	switch (get_string(rec, name, holder)) {
	case 0:
		if (jv_string_length_bytes(jv_copy(*holder)) == 0) {
			*err = fail("empty field \"%s\"", name);
			return NULL;
		}
		return jv_string_value(*holder);
	case 1:
		*err = fail("missing field \"%s\"", name);
		return NULL;
	case -2:
		*err = fail("NUL byte in field \"%s\"", name);
		return NULL;
	default:
		*err = fail("field \"%s\" must be a string", name);
		return NULL;
	}
}

static jv
check_time(const char *name, const char *value)
{
	char q[80], out[TIME_MAX];

	if (!time_is_rfc3339(value))
		return fail("invalid time \"%s\" in field \"%s\": expected "
		    "RFC 3339 such as 2026-12-04T15:04:05Z", record_quote(value, q),
		    name);
	if (time_to_utc(value, out) != 0)
		return fail("invalid time \"%s\" in field \"%s\": it is "
		    "outside the years 0001 to 9999 in UTC", record_quote(value, q),
		    name);
	return jv_true();
}

/* The checked RFC 3339 time S in UTC, as a string. */
static jv
utc(const char *s)
{
	char out[TIME_MAX];

	if (time_to_utc(s, out) != 0)
		return jv_string(s);
	return jv_string(out);
}

/* Normalise a customer address into PHONE and its channel. */
static jv
customer_phone(const char *name, const char *value, const char *country,
    char phone[PHONE_MAX], const char **channel)
{
	const char *number, *why;
	char q[80];

	*channel = phone_channel(value, &number);
	if (phone_normalize(number, country, phone, PHONE_MAX, &why) != 0)
		return fail("invalid phone number \"%s\" in field \"%s\": %s; "
		    "expected E.164 such as +12015550123", record_quote(value, q),
		    name, why);
	return jv_true();
}

/* A brand address: a phone number, a short code or a service id. */
static jv
brand_address(const char *name, const char *value, const char *country,
    char out[128])
{
	const char *number, *why;
	char q[80];
	size_t i;

	phone_channel(value, &number);
	if (phone_is_short_code(number) || strncmp(number, "MG", 2) == 0) {
		snprintf(out, 128, "%s", number);
		for (i = 0; out[i] != '\0'; i++)
			if (!((out[i] >= '0' && out[i] <= '9') ||
			    (out[i] >= 'A' && out[i] <= 'Z') ||
			    (out[i] >= 'a' && out[i] <= 'z')))
				break;
		if (out[i] == '\0' && i < 64)
			return jv_true();
	}
	if (phone_normalize(number, country, out, PHONE_MAX, &why) == 0)
		return jv_true();
	return fail("invalid address \"%s\" in field \"%s\": %s; expected "
	    "E.164, a short code or a messaging service id",
	    record_quote(value, q), name, why);
}

static jv
check_word(const char *name, const char *value, size_t max)
{
	size_t i, n = strlen(value);
	char q[80];

	for (i = 0; i < n; i++)
		if (!((value[i] >= 'a' && value[i] <= 'z') ||
		    (value[i] >= '0' && value[i] <= '9') || value[i] == '_' ||
		    value[i] == '-'))
			break;
	if (n == 0 || n > max || i < n)
		return fail("invalid value \"%s\" in field \"%s\": expected "
		    "1 to %zu lower-case letters, digits, '_' or '-'",
		    record_quote(value, q), name, max);
	return jv_true();
}

/* Add "provider", "twilio" unless the record names another. */
static jv
provider_field(jv rec, jv out)
{
	jv v, check;
	int rc = get_string(rec, "provider", &v);

	if (rc < 0) {
		jv_free(out);
		return fail("field \"provider\" must be a string");
	}
	if (rc == 1)
		v = jv_string("twilio");
	check = check_word("provider", jv_string_value(v), 32);
	if (!jv_is_valid(check)) {
		jv_free(v);
		jv_free(out);
		return check;
	}
	return jv_object_set(out, jv_string("provider"), v);
}

/* Convert MEDIA (borrowed) to an array of {url, content_type}. */
static jv
normalize_media(jv media)
{
	jv out = jv_array(), item, url, type;
	int i, n;
	char q[80];

	if (jv_get_kind(media) == JV_KIND_NULL ||
	    jv_get_kind(media) == JV_KIND_INVALID)
		return out;
	if (jv_get_kind(media) != JV_KIND_ARRAY) {
		jv_free(out);
		return fail("field \"media\" must be an array");
	}
	n = jv_array_length(jv_copy(media));
	if (n > MEDIA_MAX) {
		jv_free(out);
		return fail("too many media items (%d): at most %d", n,
		    MEDIA_MAX);
	}
	for (i = 0; i < n; i++) {
		item = jv_array_get(jv_copy(media), i);
		if (jv_get_kind(item) == JV_KIND_STRING) {
			url = item;
			type = jv_null();
		} else if (jv_get_kind(item) == JV_KIND_OBJECT) {
			url = jv_object_get(jv_copy(item), jv_string("url"));
			type = jv_object_get(item, jv_string("content_type"));
		} else {
			jv_free(item);
			jv_free(out);
			return fail("media item %d must be a URL or an object "
			    "with \"url\"", i + 1);
		}
		if (jv_get_kind(url) != JV_KIND_STRING ||
		    jv_string_length_bytes(jv_copy(url)) == 0 ||
		    has_nul(url)) {
			jv_free(url);
			jv_free(type);
			jv_free(out);
			return fail("media item %d has no valid \"url\"", i + 1);
		}
		if (jv_get_kind(type) != JV_KIND_STRING &&
		    jv_get_kind(type) != JV_KIND_NULL) {
			jv_free(type);
			type = jv_null();
		}
		if (jv_get_kind(type) == JV_KIND_STRING && has_nul(type)) {
			jv error = fail("media item %d: invalid content type "
			    "\"%s\"", i + 1, record_quote(jv_string_value(type), q));

			jv_free(type);
			jv_free(url);
			jv_free(out);
			return error;
		}
		item = jv_object();
		item = jv_object_set(item, jv_string("url"), url);
		item = jv_object_set(item, jv_string("content_type"), type);
		out = jv_array_append(out, item);
	}
	return out;
}

/* Unknown fields of message REC (consumed), for convo-read; null when none. */
static jv
unknown_fields(jv rec)
{
	jv extra = jv_object();
	int any = 0;

	jv_object_foreach(rec, key, value) {
		if (in_list(jv_string_value(key), message_fields)) {
			jv_free(key);
			jv_free(value);
			continue;
		}
		extra = jv_object_set(extra, key, value);
		any = 1;
	}
	jv_free(rec);
	if (!any) {
		jv_free(extra);
		return jv_null();
	}
	return extra;
}

/* Fields a message may or may not have: body, media, origin, status. */
static jv
message_optional(jv rec, jv out, const char *direction)
{
	jv v, media;
	int rc;
	char q[80];

	v = jv_object_get(jv_copy(rec), jv_string("media"));
	media = normalize_media(v);
	jv_free(v);
	if (!jv_is_valid(media)) {
		jv_free(out);
		return media;
	}
	rc = get_string(rec, "body", &v);
	if (rc == 1 && jv_array_length(jv_copy(media)) == 0) {
		jv_free(media);
		jv_free(out);
		return fail("missing field \"body\": a message needs a body or "
		    "media");
	}
	if (rc < 0) {
		jv_free(media);
		jv_free(out);
		return fail(rc == -2 ? "NUL byte in field \"body\"" :
		    "field \"body\" must be a string");
	}
	if (rc == 0 && jv_string_length_bytes(jv_copy(v)) > BODY_MAX) {
		jv_free(out);
		jv_free(media);
		out = fail("body of %d bytes is longer than the limit of %d "
		    "bytes", jv_string_length_bytes(jv_copy(v)), BODY_MAX);
		jv_free(v);
		return out;
	}
	out = jv_object_set(out, jv_string("body"), rc == 0 ? v :
	    jv_string(""));
	out = jv_object_set(out, jv_string("media"), media);

	rc = get_string(rec, "origin", &v);
	if (rc < 0) {
		jv_free(out);
		return fail("field \"origin\" must be a string");
	}
	if (rc == 0 && strcmp(direction, "inbound") == 0) {
		jv_free(v);
		jv_free(out);
		return fail("field \"origin\" is for outbound messages only");
	}
	if (rc == 0 && !in_list(jv_string_value(v), origins)) {
		jv_free(out);
		out = fail("invalid origin \"%s\": expected conversation, "
		    "campaign, flow, keyword_reply or api",
		    record_quote(jv_string_value(v), q));
		jv_free(v);
		return out;
	}
	if (rc == 1)
		v = strcmp(direction, "outbound") == 0 ? jv_string("api") :
		    jv_null();
	out = jv_object_set(out, jv_string("origin"), v);

	rc = get_string(rec, "origin_id", &v);
	if (rc < 0) {
		jv_free(out);
		return fail("field \"origin_id\" must be a string");
	}
	out = jv_object_set(out, jv_string("origin_id"), rc == 0 ? v :
	    jv_null());

	rc = get_string(rec, "status", &v);
	if (rc < 0) {
		jv_free(out);
		return fail("field \"status\" must be a string");
	}
	if (rc == 0 && !record_status_known(jv_string_value(v))) {
		jv_free(out);
		out = fail("unknown status \"%s\"",
		    record_quote(jv_string_value(v), q));
		jv_free(v);
		return out;
	}
	return jv_object_set(out, jv_string("status"), rc == 0 ? v :
	    jv_null());
}

/* Keyword normal form of an inbound body, or null. */
static jv
keyword_form(jv out)
{
	jv body = jv_object_get(jv_copy(out), jv_string("body"));
	jv normal = jv_null();
	int n = jv_string_length_bytes(jv_copy(body));
	char *s;

	if (n <= KEYWORD_TEXT_MAX) {
		s = keyword_normalize(jv_string_value(body), n);
		if (s != NULL && *s != '\0')
			normal = jv_string(s);
		free(s);
	}
	jv_free(body);
	return jv_object_set(out, jv_string("normal"), normal);
}

static jv
normalize_message(jv rec, const char *country)
{
	jv h[6], err = jv_null(), out, check;
	const char *dir, *from, *to, *pmid, *sent, *chan = "sms", *prefix;
	char phone[PHONE_MAX], brand[128], q[80];
	int inbound, i, rc;

	for (i = 0; i < 6; i++)
		h[i] = jv_null();
	if ((dir = need_string(rec, "direction", &h[0], &err)) == NULL ||
	    (from = need_string(rec, "from", &h[1], &err)) == NULL ||
	    (to = need_string(rec, "to", &h[2], &err)) == NULL ||
	    (pmid = need_string(rec, "provider_message_id", &h[3], &err))
	    == NULL || (sent = need_string(rec, "sent_at", &h[4], &err))
	    == NULL)
		goto done;
	if (strcmp(dir, "inbound") != 0 && strcmp(dir, "outbound") != 0) {
		err = fail("invalid direction \"%s\": expected inbound or "
		    "outbound", record_quote(dir, q));
		goto done;
	}
	inbound = dir[0] == 'i';
	if (strlen(pmid) > 128) {
		err = fail("provider_message_id \"%s\" is longer than 128 bytes",
		    record_quote(pmid, q));
		goto done;
	}
	check = check_time("sent_at", sent);
	if (!jv_is_valid(check)) {
		err = check;
		goto done;
	}
	check = customer_phone(inbound ? "from" : "to", inbound ? from : to,
	    country, phone, &prefix);
	if (!jv_is_valid(check)) {
		err = check;
		goto done;
	}
	check = brand_address(inbound ? "to" : "from", inbound ? to : from,
	    country, brand);
	if (!jv_is_valid(check)) {
		err = check;
		goto done;
	}
	rc = get_string(rec, "channel", &h[5]);
	if (rc < 0) {
		err = string_error("channel", rc);
		goto done;
	}
	chan = rc == 0 ? jv_string_value(h[5]) : prefix;
	if (rc == 0 && phone_has_prefix(inbound ? from : to) &&
	    strcmp(prefix, chan) != 0) {
		err = fail("channel \"%s\" does not match address \"%s\"",
		    record_quote(chan, q), inbound ? from : to);
		goto done;
	}
	check = check_word("channel", chan, 32);
	if (!jv_is_valid(check)) {
		err = check;
		goto done;
	}
	out = jv_object_set(jv_object(), jv_string("type"),
	    jv_string("message"));
	out = jv_object_set(out, jv_string("provider_message_id"),
	    jv_string(pmid));
	out = jv_object_set(out, jv_string("direction"), jv_string(dir));
	out = jv_object_set(out, jv_string("channel"), jv_string(chan));
	out = jv_object_set(out, jv_string("phone"), jv_string(phone));
	out = jv_object_set(out, jv_string("from_address"),
	    jv_string(inbound ? phone : brand));
	out = jv_object_set(out, jv_string("to_address"),
	    jv_string(inbound ? brand : phone));
	out = jv_object_set(out, jv_string("sent_at"), utc(sent));
	out = provider_field(rec, out);
	if (jv_is_valid(out))
		out = message_optional(rec, out, dir);
	if (jv_is_valid(out) && inbound)
		out = keyword_form(out);
	else if (jv_is_valid(out))
		out = jv_object_set(out, jv_string("normal"), jv_null());
	if (jv_is_valid(out)) {
		jv extra = unknown_fields(jv_copy(rec));

		if (nul_escape_inside(extra)) {
			jv_free(extra);
			jv_free(out);
			out = fail("NUL character in a field of the record");
		} else {
			out = jv_object_set(out, jv_string("extra"), extra);
		}
	}
	err = out;
done:
	for (i = 0; i < 6; i++)
		jv_free(h[i]);
	return err;
}

/*
 * Add "outbox_id", the digits of the record's "o_N" outbox row id, or
 * null when the record names no row. OUT is consumed.
 */
static jv
outbox_field(jv rec, jv out)
{
	jv v, err;
	const char *s, *digits;
	char q[80];
	size_t n;
	int rc = get_string(rec, "outbox_id", &v);

	if (rc == 1)
		return jv_object_set(out, jv_string("outbox_id"), jv_null());
	if (rc < 0) {
		jv_free(out);
		return fail("field \"outbox_id\" must be a string such as "
		    "o_123");
	}
	s = jv_string_value(v);
	digits = strncmp(s, "o_", 2) == 0 ? s + 2 : NULL;
	n = digits != NULL ? strspn(digits, "0123456789") : 0;
	if (digits == NULL || n == 0 || n > OUTBOX_ID_DIGITS_MAX ||
	    digits[0] == '0' || digits[n] != '\0') {
		err = fail("invalid outbox_id \"%s\": expected \"o_\" and a "
		    "row number such as o_123", record_quote(s, q));
		jv_free(v);
		jv_free(out);
		return err;
	}
	out = jv_object_set(out, jv_string("outbox_id"), jv_string(digits));
	jv_free(v);
	return out;
}

/*
 * Return the record's "error_code" as a string, or null when it is
 * absent, null or empty. Reject any other value with its JSON text.
 */
static jv
error_code_field(jv rec)
{
	jv code = jv_object_get(jv_copy(rec), jv_string("error_code")), text;
	jv_kind kind = jv_get_kind(code);
	char q[80], num[32];
	double d;

	if (kind == JV_KIND_NULL || kind == JV_KIND_INVALID) {
		jv_free(code);
		return jv_null();
	}
	if (kind == JV_KIND_NUMBER) {
		d = jv_number_value(code);
		/* The range check comes first: a cast out of range is undefined. */
		if (d >= 0 && d <= ERROR_CODE_MAX && d == (long long)d) {
			jv_free(code);
			snprintf(num, sizeof(num), "%lld", (long long)d);
			return jv_string(num);
		}
	} else if (kind == JV_KIND_STRING) {
		if (jv_string_length_bytes(jv_copy(code)) == 0) {
			jv_free(code);
			return jv_null();
		}
		if (jv_string_length_bytes(jv_copy(code)) <=
		    ERROR_CODE_BYTES_MAX && !has_nul(code))
			return code;
	}
	text = jv_dump_string(code, 0);
	code = fail("invalid error_code %s: expected a non-negative integer "
	    "up to %d or a string of at most %d bytes",
	    record_quote(jv_string_value(text), q), ERROR_CODE_MAX,
	    ERROR_CODE_BYTES_MAX);
	jv_free(text);
	return code;
}

static jv
normalize_status(jv rec, const char *country)
{
	jv h[4], err = jv_null(), out, code, check;
	const char *pmid, *status, *at, *chan = NULL;
	char phone[PHONE_MAX], q[80];
	int i, rc;

	for (i = 0; i < 4; i++)
		h[i] = jv_null();
	if ((pmid = need_string(rec, "provider_message_id", &h[0], &err))
	    == NULL || (status = need_string(rec, "status", &h[1], &err))
	    == NULL || (at = need_string(rec, "at", &h[2], &err)) == NULL)
		goto done;
	/* No message has a longer id, so the receipt would wait forever. */
	if (strlen(pmid) > 128) {
		err = fail("provider_message_id \"%s\" is longer than 128 "
		    "bytes", record_quote(pmid, q));
		goto done;
	}
	if (!record_status_known(status)) {
		err = fail("unknown status \"%s\": expected queued, sending, "
		    "sent, delivered, undelivered, failed, canceled, read or "
		    "another Twilio message status", record_quote(status, q));
		goto done;
	}
	check = check_time("at", at);
	if (!jv_is_valid(check)) {
		err = check;
		goto done;
	}
	code = error_code_field(rec);
	if (!jv_is_valid(code)) {
		err = code;
		goto done;
	}
	out = jv_object_set(jv_object(), jv_string("type"),
	    jv_string("status"));
	out = jv_object_set(out, jv_string("provider_message_id"),
	    jv_string(pmid));
	out = jv_object_set(out, jv_string("status"), jv_string(status));
	out = jv_object_set(out, jv_string("error_code"), code);
	out = jv_object_set(out, jv_string("at"), utc(at));
	rc = get_string(rec, "to", &h[3]);
	if (rc == 0) {
		check = customer_phone("to", jv_string_value(h[3]), country,
		    phone, &chan);
		if (!jv_is_valid(check)) {
			jv_free(out);
			err = check;
			goto done;
		}
	}
	out = jv_object_set(out, jv_string("to_phone"),
	    chan ? jv_string(phone) : jv_null());
	out = jv_object_set(out, jv_string("channel"),
	    chan ? jv_string(chan) : jv_null());
	out = outbox_field(rec, out);
	if (jv_is_valid(out))
		err = provider_field(rec, out);
	else
		err = out;
done:
	for (i = 0; i < 4; i++)
		jv_free(h[i]);
	return err;
}

static jv
normalize_consent(jv rec, const char *country)
{
	jv h[5], err = jv_null(), out, check;
	const char *phone_text, *status, *at, *chan, *method = "import";
	char phone[PHONE_MAX], q[80];
	int i, rc;

	for (i = 0; i < 5; i++)
		h[i] = jv_null();
	if ((phone_text = need_string(rec, "phone", &h[0], &err)) == NULL ||
	    (status = need_string(rec, "status", &h[1], &err)) == NULL ||
	    (at = need_string(rec, "at", &h[2], &err)) == NULL)
		goto done;
	if (!in_list(status, consent_statuses)) {
		err = fail("invalid consent status \"%s\": expected subscribed, "
		    "unsubscribed or never_subscribed", record_quote(status, q));
		goto done;
	}
	check = check_time("at", at);
	if (jv_is_valid(check))
		check = customer_phone("phone", phone_text, country, phone,
		    &chan);
	if (!jv_is_valid(check)) {
		err = check;
		goto done;
	}
	/* CHAN is the channel of the phone's prefix until the field is read. */
	if ((rc = get_string(rec, "channel", &h[3])) == 0 &&
	    phone_has_prefix(phone_text) &&
	    strcmp(chan, jv_string_value(h[3])) != 0) {
		err = fail("channel \"%s\" does not match phone \"%s\"",
		    record_quote(jv_string_value(h[3]), q), phone_text);
		goto done;
	}
	if (rc < 0) {
		err = string_error("channel", rc);
		goto done;
	}
	if (rc == 0)
		chan = jv_string_value(h[3]);
	if ((rc = get_string(rec, "method", &h[4])) < 0) {
		err = string_error("method", rc);
		goto done;
	}
	if (rc == 0)
		method = jv_string_value(h[4]);
	check = check_word("channel", chan, 32);
	if (jv_is_valid(check))
		check = check_word("method", method, 32);
	if (!jv_is_valid(check)) {
		err = check;
		goto done;
	}
	out = jv_object_set(jv_object(), jv_string("type"),
	    jv_string("consent"));
	out = jv_object_set(out, jv_string("phone"), jv_string(phone));
	out = jv_object_set(out, jv_string("channel"), jv_string(chan));
	out = jv_object_set(out, jv_string("status"), jv_string(status));
	out = jv_object_set(out, jv_string("method"), jv_string(method));
	err = jv_object_set(out, jv_string("at"), utc(at));
done:
	for (i = 0; i < 5; i++)
		jv_free(h[i]);
	return err;
}

/* The profile fields present in REC, each a string, an object or null. */
static jv
profile_fields(jv rec)
{
	const char *const *f;
	jv fields = jv_object(), v;
	jv_kind k;

	for (f = profile_fields_list; *f != NULL; f++) {
		v = jv_object_get(jv_copy(rec), jv_string(*f));
		k = jv_get_kind(v);
		if (k == JV_KIND_INVALID) {
			jv_free(v);
			continue;
		}
		if (strcmp(*f, "properties") == 0 ? (k != JV_KIND_OBJECT &&
		    k != JV_KIND_NULL) : (k != JV_KIND_STRING &&
		    k != JV_KIND_NULL)) {
			jv_free(v);
			jv_free(fields);
			return fail(strcmp(*f, "properties") == 0 ?
			    "field \"%s\" must be an object" :
			    "field \"%s\" must be a string", *f);
		}
		if (k == JV_KIND_STRING && has_nul(v)) {
			jv_free(v);
			jv_free(fields);
			return fail("NUL byte in field \"%s\"", *f);
		}
		if (k == JV_KIND_STRING && strcmp(*f, "timezone") == 0 &&
		    timezone_sign_inverted(jv_string_value(v))) {
			char q[80];

			jv_free(fields);
			fields = fail("invalid time zone \"%s\": PostgreSQL "
			    "reads a UTC offset with the POSIX sign, positive "
			    "west of UTC, so convo would take the customer's "
			    "local time the wrong way; give an IANA name such as "
			    "Asia/Karachi or America/Chicago",
			    record_quote(jv_string_value(v), q));
			jv_free(v);
			return fields;
		}
		fields = jv_object_set(fields, jv_string(*f), v);
	}
	return fields;
}

static jv
normalize_profile(jv rec, const char *country)
{
	jv h[2], err = jv_null(), out, check, fields;
	const char *phone_text, *chan;
	char phone[PHONE_MAX];
	int rc;

	h[0] = h[1] = jv_null();
	if ((phone_text = need_string(rec, "phone", &h[0], &err)) == NULL)
		goto done;
	check = customer_phone("phone", phone_text, country, phone, &chan);
	if (!jv_is_valid(check)) {
		err = check;
		goto done;
	}
	rc = get_string(rec, "updated_at", &h[1]);
	if (rc < 0) {
		err = fail("field \"updated_at\" must be a string");
		goto done;
	}
	if (rc == 0) {
		check = check_time("updated_at", jv_string_value(h[1]));
		if (!jv_is_valid(check)) {
			err = check;
			goto done;
		}
	}
	fields = profile_fields(rec);
	if (!jv_is_valid(fields)) {
		err = fields;
		goto done;
	}
	if (nul_escape_inside(fields)) {
		jv_free(fields);
		err = fail("NUL character in field \"properties\"");
		goto done;
	}
	out = jv_object_set(jv_object(), jv_string("type"),
	    jv_string("profile"));
	out = jv_object_set(out, jv_string("phone"), jv_string(phone));
	out = jv_object_set(out, jv_string("fields"), fields);
	err = jv_object_set(out, jv_string("updated_at"),
	    rc == 0 ? utc(jv_string_value(h[1])) : jv_null());
done:
	jv_free(h[0]);
	jv_free(h[1]);
	return err;
}

/* The action Twilio's OptOutType parameter stands for, if any. */
static enum keyword_action
provider_hint(jv rec)
{
	jv extra = jv_object_get(jv_copy(rec), jv_string("extra"));
	jv hint = jv_get_kind(extra) == JV_KIND_OBJECT ?
	    jv_object_get(extra, jv_string("opt_out_type")) : jv_null();
	enum keyword_action action = KEYWORD_NONE;
	const char *s;

	if (jv_get_kind(extra) != JV_KIND_OBJECT)
		jv_free(extra);
	if (jv_get_kind(hint) == JV_KIND_STRING) {
		s = jv_string_value(hint);
		if (strcasecmp(s, "STOP") == 0)
			action = KEYWORD_OPT_OUT;
		else if (strcasecmp(s, "START") == 0)
			action = KEYWORD_OPT_IN;
		else if (strcasecmp(s, "HELP") == 0)
			action = KEYWORD_HELP;
	}
	jv_free(hint);
	return action;
}

int
record_provider_acted(jv rec)
{
	return provider_hint(rec) != KEYWORD_NONE;
}

jv
record_match_keywords(jv rec, const struct keyword_set *set)
{
	jv type = jv_object_get(jv_copy(rec), jv_string("type"));
	jv direction = jv_object_get(jv_copy(rec), jv_string("direction"));
	jv normal = jv_object_get(jv_copy(rec), jv_string("normal"));
	struct keyword_match m = { 0 };
	enum keyword_action action = KEYWORD_NONE;
	int message = strcmp(jv_string_value(type), "message") == 0;
	int inbound = message &&
	    strcmp(jv_string_value(direction), "inbound") == 0;

	if (inbound && jv_get_kind(normal) == JV_KIND_STRING)
		keyword_match(set, jv_string_value(normal), &m);
	jv_free(type);
	jv_free(direction);
	jv_free(normal);
	if (!message)
		return rec;
	if (m.keyword != NULL)
		action = m.keyword->action;
	else if (inbound)
		action = provider_hint(rec);
	rec = jv_object_delete(rec, jv_string("normal"));
	rec = jv_object_set(rec, jv_string("keyword"), m.keyword ?
	    jv_string(m.keyword->word) : jv_null());
	rec = jv_object_set(rec, jv_string("keyword_action"),
	    action != KEYWORD_NONE ? jv_string(keyword_action_name(action)) :
	    jv_null());
	rec = jv_object_set(rec, jv_string("keyword_conditional"),
	    jv_bool(m.keyword != NULL && m.keyword->only_unsubscribed));
	return jv_object_set(rec, jv_string("possible_opt_out"),
	    jv_bool(action == KEYWORD_NONE && m.possible_opt_out));
}

jv
record_normalize(jv rec, const char *country)
{
	jv type, out;
	const char *t;
	char q[80];

	if (jv_get_kind(rec) != JV_KIND_OBJECT) {
		jv_free(rec);
		return fail("a record must be a JSON object");
	}
	if (get_string(rec, "type", &type) != 0) {
		jv_free(rec);
		return fail("missing field \"type\"");
	}
	t = jv_string_value(type);
	if (strcmp(t, "message") == 0)
		out = normalize_message(rec, country);
	else if (strcmp(t, "status") == 0)
		out = normalize_status(rec, country);
	else if (strcmp(t, "consent") == 0)
		out = normalize_consent(rec, country);
	else if (strcmp(t, "profile") == 0)
		out = normalize_profile(rec, country);
	else
		out = fail("unknown record type \"%s\": expected message, "
		    "status, consent or profile", record_quote(t, q));
	jv_free(type);
	jv_free(rec);
	return out;
}
