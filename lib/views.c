#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "views.h"

/* Value of column NAME: a string, or null for SQL NULL. */
static jv
text(const PGresult *res, int row, const char *name)
{
	int col = PQfnumber(res, name);

	if (col < 0 || PQgetisnull(res, row, col))
		return jv_null();
	return jv_string(PQgetvalue(res, row, col));
}

static jv
prefixed(const PGresult *res, int row, const char *name,
    const char *prefix)
{
	int col = PQfnumber(res, name);

	if (col < 0 || PQgetisnull(res, row, col))
		return jv_null();
	return jv_string_fmt("%s%s", prefix, PQgetvalue(res, row, col));
}

static jv
number(const PGresult *res, int row, const char *name)
{
	int col = PQfnumber(res, name);

	if (col < 0 || PQgetisnull(res, row, col))
		return jv_null();
	return jv_number(atof(PQgetvalue(res, row, col)));
}

static jv
boolean(const PGresult *res, int row, const char *name)
{
	int col = PQfnumber(res, name);

	if (col < 0 || PQgetisnull(res, row, col))
		return jv_null();
	return jv_bool(PQgetvalue(res, row, col)[0] == 't');
}

/* A JSON column, parsed; null when NULL or unparsable. */
static jv
json(const PGresult *res, int row, const char *name)
{
	int col = PQfnumber(res, name);
	jv v;

	if (col < 0 || PQgetisnull(res, row, col))
		return jv_null();
	v = jv_parse(PQgetvalue(res, row, col));
	if (!jv_is_valid(v)) {
		jv_free(v);
		return jv_null();
	}
	return v;
}

/* "Ada Reyes", "Ada" or null. */
static jv
full_name(const PGresult *res, int row)
{
	jv first = text(res, row, "first_name");
	jv last = text(res, row, "last_name");
	jv name;

	if (jv_get_kind(first) == JV_KIND_NULL) {
		jv_free(first);
		return last;
	}
	if (jv_get_kind(last) == JV_KIND_NULL) {
		jv_free(last);
		return first;
	}
	name = jv_string_fmt("%s %s", jv_string_value(first),
	    jv_string_value(last));
	jv_free(first);
	jv_free(last);
	return name;
}

static jv
profile(const PGresult *res, int row)
{
	jv p = jv_object();

	p = jv_object_set(p, jv_string("id"),
	    prefixed(res, row, "profile_id", "p_"));
	p = jv_object_set(p, jv_string("phone"), text(res, row, "phone"));
	p = jv_object_set(p, jv_string("name"), full_name(res, row));
	p = jv_object_set(p, jv_string("first_name"),
	    text(res, row, "first_name"));
	p = jv_object_set(p, jv_string("last_name"),
	    text(res, row, "last_name"));
	p = jv_object_set(p, jv_string("email"), text(res, row, "email"));
	p = jv_object_set(p, jv_string("photo_url"),
	    text(res, row, "photo_url"));
	p = jv_object_set(p, jv_string("timezone"),
	    text(res, row, "timezone"));
	p = jv_object_set(p, jv_string("external_id"),
	    text(res, row, "external_id"));
	return jv_object_set(p, jv_string("consent"),
	    text(res, row, "consent"));
}

/* The message flagged as a possible opt-out, as {message_id, at}, or null. */
static jv
possible_opt_out(const PGresult *res, int row)
{
	jv id = prefixed(res, row, "flagged_message_id", "m_");
	jv flag;

	if (jv_get_kind(id) == JV_KIND_NULL)
		return id;
	flag = jv_object_set(jv_object(), jv_string("message_id"), id);
	return jv_object_set(flag, jv_string("at"),
	    text(res, row, "flagged_at"));
}

jv
view_conversation(const PGresult *res, int row, const char *account)
{
	jv r = jv_object(), last = jv_object();

	r = jv_object_set(r, jv_string("type"), jv_string("conversation"));
	r = jv_object_set(r, jv_string("id"),
	    prefixed(res, row, "conversation_id", "c_"));
	r = jv_object_set(r, jv_string("account"), jv_string(account));
	r = jv_object_set(r, jv_string("channel"), text(res, row, "channel"));
	r = jv_object_set(r, jv_string("profile"), profile(res, row));
	r = jv_object_set(r, jv_string("status"), text(res, row, "status"));
	r = jv_object_set(r, jv_string("snoozed_until"),
	    text(res, row, "snoozed_until"));
	r = jv_object_set(r, jv_string("unread_count"),
	    number(res, row, "unread_count"));
	r = jv_object_set(r, jv_string("blocked"),
	    boolean(res, row, "blocked"));
	r = jv_object_set(r, jv_string("assignee"),
	    text(res, row, "assignee"));
	r = jv_object_set(r, jv_string("brand_address"),
	    text(res, row, "brand_address"));
	last = jv_object_set(last, jv_string("body"),
	    text(res, row, "last_body"));
	last = jv_object_set(last, jv_string("direction"),
	    text(res, row, "last_direction"));
	last = jv_object_set(last, jv_string("at"),
	    text(res, row, "last_at"));
	last = jv_object_set(last, jv_string("provider_message_id"),
	    text(res, row, "last_provider_message_id"));
	r = jv_object_set(r, jv_string("last_message"), last);
	r = jv_object_set(r, jv_string("possible_opt_out"),
	    possible_opt_out(res, row));
	r = jv_object_set(r, jv_string("last_read_at"),
	    text(res, row, "last_read_at"));
	r = jv_object_set(r, jv_string("created_at"),
	    text(res, row, "created_at"));
	r = jv_object_set(r, jv_string("updated_at"),
	    text(res, row, "updated_at"));
	return jv_object_set(r, jv_string("cursor"),
	    text(res, row, "cursor"));
}

/* Error codes are numbers in Twilio's API; keep other codes as text. */
static jv
error_code(const PGresult *res, int row)
{
	jv code = text(res, row, "error_code");
	const char *s;

	if (jv_get_kind(code) != JV_KIND_STRING)
		return code;
	s = jv_string_value(code);
	if (strlen(s) <= 9 && strspn(s, "0123456789") == strlen(s)) {
		jv n = jv_number(atof(s));

		jv_free(code);
		return n;
	}
	return code;
}

static jv
keyword(const PGresult *res, int row)
{
	jv action = text(res, row, "keyword_action");
	jv k;

	if (jv_get_kind(action) == JV_KIND_NULL)
		return action;
	k = jv_object_set(jv_object(), jv_string("word"),
	    text(res, row, "keyword"));
	return jv_object_set(k, jv_string("action"), action);
}

jv
view_message(const PGresult *res, int row, const char *account,
    const char *conversation_id)
{
	jv r = json(res, row, "extra");
	jv id = prefixed(res, row, "message_id", "m_");

	/* Fields the input carried that convo does not know come first. */
	if (jv_get_kind(r) != JV_KIND_OBJECT) {
		jv_free(r);
		r = jv_object();
	}
	r = jv_object_set(r, jv_string("type"), jv_string("message"));
	r = jv_object_set(r, jv_string("id"), jv_copy(id));
	r = jv_object_set(r, jv_string("account"), jv_string(account));
	r = jv_object_set(r, jv_string("conversation_id"),
	    conversation_id ? jv_string(conversation_id) : jv_null());
	r = jv_object_set(r, jv_string("channel"), text(res, row, "channel"));
	r = jv_object_set(r, jv_string("direction"),
	    text(res, row, "direction"));
	r = jv_object_set(r, jv_string("origin"), text(res, row, "origin"));
	r = jv_object_set(r, jv_string("origin_id"),
	    text(res, row, "origin_id"));
	r = jv_object_set(r, jv_string("from"),
	    text(res, row, "from_address"));
	r = jv_object_set(r, jv_string("to"), text(res, row, "to_address"));
	r = jv_object_set(r, jv_string("body"), text(res, row, "body"));
	r = jv_object_set(r, jv_string("media"), json(res, row, "media"));
	r = jv_object_set(r, jv_string("provider"),
	    text(res, row, "provider"));
	r = jv_object_set(r, jv_string("provider_message_id"),
	    text(res, row, "provider_message_id"));
	r = jv_object_set(r, jv_string("sent_at"), text(res, row, "sent_at"));
	r = jv_object_set(r, jv_string("recorded_at"),
	    text(res, row, "recorded_at"));
	r = jv_object_set(r, jv_string("status"), text(res, row, "status"));
	r = jv_object_set(r, jv_string("status_at"),
	    text(res, row, "status_at"));
	r = jv_object_set(r, jv_string("error_code"), error_code(res, row));
	r = jv_object_set(r, jv_string("keyword"), keyword(res, row));
	return jv_object_set(r, jv_string("cursor"), id);
}

static int
write_failed(void)
{
	if (errno != EPIPE)
		warn("cannot write to standard output");
	return -1;
}

jv
view_consent_change(const PGresult *res, int row, const char *account,
    const char *phone, const char *conversation_id)
{
	jv r = jv_object();

	r = jv_object_set(r, jv_string("type"), jv_string("consent_change"));
	r = jv_object_set(r, jv_string("account"), jv_string(account));
	r = jv_object_set(r, jv_string("conversation_id"),
	    conversation_id ? jv_string(conversation_id) : jv_null());
	r = jv_object_set(r, jv_string("phone"), jv_string(phone));
	r = jv_object_set(r, jv_string("channel"), text(res, row, "channel"));
	r = jv_object_set(r, jv_string("status"), text(res, row, "status"));
	r = jv_object_set(r, jv_string("method"), text(res, row, "method"));
	r = jv_object_set(r, jv_string("at"), text(res, row, "at"));
	r = jv_object_set(r, jv_string("message_id"),
	    prefixed(res, row, "message_id", "m_"));
	r = jv_object_set(r, jv_string("keyword"), text(res, row, "keyword"));
	r = jv_object_set(r, jv_string("provider_message_id"),
	    text(res, row, "provider_message_id"));
	return jv_object_set(r, jv_string("error_code"),
	    error_code(res, row));
}

int
view_print(jv record)
{
	jv text = jv_dump_string(record, 0);
	int rc = 0;

	if (fputs(jv_string_value(text), stdout) == EOF ||
	    putchar('\n') == EOF)
		rc = write_failed();
	jv_free(text);
	return rc;
}

int
view_flush(void)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		return write_failed();
	return 0;
}
