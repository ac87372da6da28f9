#include <string.h>

#include "record.h"

/* Return string field NAME of REC (borrowed), or an invalid jv. */
static jv
string_field(jv rec, const char *name)
{
	jv v = jv_object_get(jv_copy(rec), jv_string(name));

	if (jv_get_kind(v) == JV_KIND_STRING)
		return v;
	jv_free(v);
	return jv_invalid();
}

/* Return 1 when field NAME of REC (borrowed) is the string VALUE. */
static int
field_is(jv rec, const char *name, const char *value)
{
	jv v = string_field(rec, name);
	int same = jv_is_valid(v) && strcmp(jv_string_value(v), value) == 0;

	jv_free(v);
	return same;
}

jv
record_target(jv rec)
{
	jv v, profile;

	if (jv_get_kind(rec) != JV_KIND_OBJECT)
		return jv_invalid();
	v = string_field(rec, "conversation_id");

	if (!jv_is_valid(v) && field_is(rec, "type", "conversation"))
		v = string_field(rec, "id");
	if (!jv_is_valid(v)) {
		profile = jv_object_get(jv_copy(rec), jv_string("profile"));
		if (jv_get_kind(profile) == JV_KIND_OBJECT)
			v = string_field(profile, "phone");
		jv_free(profile);
	}
	if (!jv_is_valid(v))
		v = string_field(rec, "phone");
	if (!jv_is_valid(v))
		v = string_field(rec, field_is(rec, "direction", "inbound") ?
		    "from" : "to");
	return v;
}

jv
record_target_error(jv rec)
{
	jv message;

	switch (jv_get_kind(rec)) {
	case JV_KIND_INVALID:
		message = jv_invalid_get_msg(jv_copy(rec));
		if (jv_get_kind(message) == JV_KIND_STRING)
			return message;
		jv_free(message);
		return jv_string("invalid JSON");
	case JV_KIND_OBJECT:
		break;
	default:
		return jv_string_fmt("expected a JSON record, not %s",
		    jv_kind_name(jv_get_kind(rec)));
	}
	if (jv_object_has(jv_copy(rec), jv_string("id")))
		return jv_string("field \"id\" names a conversation only in a "
		    "record of \"type\":\"conversation\"; give "
		    "\"conversation_id\" or \"phone\"");
	return jv_string("expected a JSON record with \"conversation_id\" or "
	    "\"phone\"");
}

int
record_target_repeats(struct record_last_target *last, jv target)
{
	const char *value;
	size_t len;

	if (jv_get_kind(target) != JV_KIND_STRING)
		return 0;
	value = jv_string_value(target);
	len = strlen(value);
	if (len >= sizeof(last->value)) {
		last->value[0] = '\0';
		return 0;
	}
	if (strcmp(last->value, value) == 0)
		return 1;
	memcpy(last->value, value, len + 1);
	return 0;
}

int
record_is_conversation(jv rec)
{
	return jv_get_kind(rec) == JV_KIND_OBJECT &&
	    field_is(rec, "type", "conversation");
}
