#include <err.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
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

/* Set once a failed write to standard output is reported. */
static int write_reported;

/* Report a failed write to standard output, the first time only. */
static int
write_failed(void)
{
	if (errno != EPIPE && !write_reported)
		warn("cannot write to standard output");
	write_reported = 1;
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
	r = jv_object_set(r, jv_string("effective_at"),
	    text(res, row, "effective_at"));
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
	static struct buf line;

	buf_reset(&line);
	json_append(&line, record);
	buf_addc(&line, '\n');
	if (fwrite(line.data, 1, line.len, stdout) != line.len)
		return write_failed();
	return 0;
}

int
view_print_json(const char *line, size_t len)
{
	if (fwrite(line, 1, len, stdout) != len)
		return write_failed();
	return 0;
}

int
view_flush(void)
{
	if (fflush(stdout) != 0)
		return write_failed();
	/* An error of an earlier write leaves no errno to report. */
	if (ferror(stdout)) {
		if (!write_reported)
			warnx("cannot write to standard output");
		write_reported = 1;
		return -1;
	}
	return 0;
}

/*
 * The views for people. A line is built in a buffer with its width in
 * columns. Padding waits until text follows, so that no line ends in
 * spaces. A line with a limit, the terminal's width, cuts the text that
 * would go past it and drops the text that starts past it.
 */
struct line {
	struct buf b;
	size_t width;
	size_t pending;		/* spaces owed before the next text */
	size_t limit;		/* maximum width, 0 for none */
	int color;
};

#define NAME_MIN	10	/* columns the name keeps on narrow screens */
#define TEXT_MIN	10	/* columns a message keeps on narrow screens */
#define CLOCK_WIDTH	6	/* "09:30 " */

/* Return the columns left for text after the padding, or SIZE_MAX. */
static size_t
line_room(const struct line *l)
{
	if (l->limit == 0)
		return SIZE_MAX;
	if (l->width + l->pending >= l->limit)
		return 0;
	return l->limit - l->width - l->pending;
}

static void
line_flush_padding(struct line *l)
{
	for (; l->pending > 0; l->pending--) {
		buf_addc(&l->b, ' ');
		l->width++;
	}
}

/*
 * Add the N bytes at S, escaped and cut to COLUMNS columns and to the
 * room left. Nothing is added, not even padding, when no room is left.
 */
static void
line_add_text(struct line *l, const char *s, size_t n, size_t columns)
{
	size_t room = line_room(l);

	if (room == 0)
		return;
	line_flush_padding(l);
	l->width += tty_cut(&l->b, s, n, columns < room ? columns : room);
}

/* Add the program's own text S. */
static void
line_add(struct line *l, const char *s)
{
	line_add_text(l, s, strlen(s), SIZE_MAX);
}

/* Add untrusted text S, escaped and cut to COLUMNS columns. */
static void
line_add_untrusted(struct line *l, const char *s, size_t columns)
{
	line_add_text(l, s, strlen(s), columns);
}

/* Pad the line with spaces up to column COLUMN. */
static void
line_pad(struct line *l, size_t column)
{
	if (column > l->width + l->pending)
		l->pending = column - l->width;
}

/*
 * Start the SGR color SGR. The padding before it comes first, so that
 * it is not colored, unless no text can follow it on the line.
 */
static void
line_color(struct line *l, const char *sgr)
{
	if (!l->color)
		return;
	if (line_room(l) > 0)
		line_flush_padding(l);
	buf_adds(&l->b, sgr);
}

static void
line_reset(struct line *l)
{
	if (l->color)
		buf_adds(&l->b, TTY_RESET);
}

/* Write the line and start an empty one. Returns 0 or -1. */
static int
line_print(struct line *l)
{
	int rc = 0;

	if ((l->b.len > 0 && fputs(l->b.data, stdout) == EOF) ||
	    putchar('\n') == EOF)
		rc = write_failed();
	buf_reset(&l->b);
	l->width = 0;
	l->pending = 0;
	return rc;
}

/*
 * Return the string at KEY of REC, or at KEY and then SUBKEY, or NULL.
 * The string belongs to REC, which keeps it alive after the reference
 * taken here is dropped.
 */
static const char *
string_at(jv rec, const char *key, const char *subkey)
{
	jv v = jv_object_get(jv_copy(rec), jv_string(key));
	const char *s = NULL;

	if (subkey != NULL && jv_get_kind(v) == JV_KIND_OBJECT) {
		v = jv_object_get(v, jv_string(subkey));
	} else if (subkey != NULL) {
		jv_free(v);
		v = jv_null();
	}
	if (jv_get_kind(v) == JV_KIND_STRING)
		s = jv_string_value(v);
	jv_free(v);
	return s;
}

static double
number_at(jv rec, const char *key)
{
	jv v = jv_object_get(jv_copy(rec), jv_string(key));
	double n = jv_get_kind(v) == JV_KIND_NUMBER ? jv_number_value(v) : 0;

	jv_free(v);
	return n;
}

/* Return 1 when KEY of REC is true, or any value but null and false. */
static int
present_at(jv rec, const char *key)
{
	jv v = jv_object_get(jv_copy(rec), jv_string(key));
	jv_kind kind = jv_get_kind(v);

	jv_free(v);
	return kind != JV_KIND_NULL && kind != JV_KIND_FALSE &&
	    kind != JV_KIND_INVALID;
}

static int
string_is(const char *s, const char *value)
{
	return s != NULL && strcmp(s, value) == 0;
}

/*
 * Append keyword S in upper case, as keywords are written, such as
 * "STOP". Records carry their normal form, which is case-folded.
 */
static void
add_keyword(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		buf_addc(b, *s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s);
}

/* Format the local time of the RFC 3339 time S with FORMAT, or "". */
static void
format_time(char out[TTY_TIME_MAX], const char *s,
    void (*format)(char [TTY_TIME_MAX], time_t))
{
	time_t t;

	out[0] = '\0';
	if (s != NULL && tty_parse_time(s, &t) == 0)
		format(out, t);
}

void
view_tty_init(struct view_tty *t)
{
	memset(t, 0, sizeof(*t));
	t->columns = tty_columns(STDOUT_FILENO);
	t->color = tty_color(STDOUT_FILENO);
}

/* Columns of the narrowest name that the table shows beside an id. */
#define NAME_BESIDE_ID 6

/* Return the id of conversation record REC (borrowed), or "". */
static const char *
conversation_id(jv rec)
{
	const char *id = string_at(rec, "id", NULL);

	return id != NULL ? id : "";
}

/* Widths of the table columns that are aligned. */
struct table {
	size_t id;
	size_t name;
	size_t when;
	size_t flags;
};

static void
add_flag(struct line *l, int *count, const char *sgr, const char *word)
{
	if ((*count)++ > 0)
		line_add(l, " ");
	line_color(l, sgr);
	line_add_untrusted(l, word, 20);
	line_reset(l);
}

/* Add the words that mark conversation REC: channel, status and flags. */
static void
add_flags(struct line *l, jv rec)
{
	const char *channel = string_at(rec, "channel", NULL);
	const char *status = string_at(rec, "status", NULL);
	int count = 0;

	if (channel != NULL && !string_is(channel, "sms"))
		add_flag(l, &count, TTY_DIM, channel);
	if (status != NULL && !string_is(status, "open"))
		add_flag(l, &count, TTY_DIM, status);
	if (present_at(rec, "blocked"))
		add_flag(l, &count, TTY_RED, "blocked");
	if (present_at(rec, "possible_opt_out"))
		add_flag(l, &count, TTY_YELLOW, "flagged");
}

static size_t
flags_width(jv rec)
{
	struct line l = { 0 };
	size_t width;

	add_flags(&l, rec);
	width = l.width;
	buf_free(&l.b);
	return width;
}

static const char *
display_name(jv rec)
{
	const char *name = string_at(rec, "profile", "name");

	if (name == NULL)
		name = string_at(rec, "profile", "phone");
	return name != NULL ? name : "";
}

/* Return the width of untrusted text S once escaped. */
static size_t
escaped_width(const char *s)
{
	return tty_width(s, strlen(s));
}

static void
last_when(char out[TTY_TIME_MAX], jv rec, const struct view_tty *t)
{
	const char *at = string_at(rec, "last_message", "at");
	time_t then;

	out[0] = '\0';
	if (at != NULL && tty_parse_time(at, &then) == 0)
		tty_when(out, then, t->now);
}

static size_t
max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

static void
table_widths(jv rows, const struct view_tty *t, struct table *w)
{
	char when[TTY_TIME_MAX];
	int i, n = jv_array_length(jv_copy(rows));
	size_t used;
	jv rec;

	for (i = 0; i < n; i++) {
		rec = jv_array_get(jv_copy(rows), i);
		w->id = max_size(w->id, escaped_width(conversation_id(rec)));
		w->name = max_size(w->name, escaped_width(display_name(rec)));
		last_when(when, rec, t);
		w->when = max_size(w->when, strlen(when));
		w->flags = max_size(w->flags, flags_width(rec));
		jv_free(rec);
	}
	if (w->name > max_size(NAME_MIN, t->columns / 4))
		w->name = max_size(NAME_MIN, t->columns / 4);
	/* The id goes only when not even a short name fits beside it. */
	if (w->id + NAME_BESIDE_ID + w->when + 6 > t->columns)
		w->id = 0;
	used = (w->id > 0 ? w->id + 2 : 0) + w->when + 4;
	/* Too narrow for NAME_MIN and the time, the name takes what is left. */
	if (w->name + used > t->columns && t->columns > used + 1)
		w->name = t->columns - used;
}

/* Singular and plural nouns of a kind of media item. */
struct media_kind {
	const char *type_prefix;	/* of content_type; NULL matches all */
	const char *singular;
	const char *plural;
};

static const struct media_kind media_kinds[] = {
	{ "image/", "photo", "photos" },
	{ "video/", "video", "videos" },
	{ "audio/", "audio file", "audio files" },
	{ NULL, "attachment", "attachments" },
};

/* The last kind, attachments, also labels items of different kinds. */
#define MEDIA_KINDS (sizeof(media_kinds) / sizeof(media_kinds[0]))

/*
 * Return the kind of media ITEM, a URL string or an object with a url
 * and a content_type. Items without a content_type are attachments.
 */
static const struct media_kind *
media_kind_of(jv item)
{
	const char *type = NULL;
	const struct media_kind *k;

	if (jv_get_kind(item) == JV_KIND_OBJECT)
		type = string_at(item, "content_type", NULL);
	for (k = media_kinds; k->type_prefix != NULL; k++)
		if (type != NULL && strncasecmp(type, k->type_prefix,
		    strlen(k->type_prefix)) == 0)
			break;
	return k;
}

/*
 * Write a label of MEDIA (consumed), an array of media items, to B:
 * "[photo]" for one image, "[3 photos]" for three, and "[2 attachments]"
 * for items of different kinds. Writes nothing for an empty array or
 * another value.
 */
static void
add_media_label(struct buf *b, jv media)
{
	const struct media_kind *kind = NULL, *k;
	char label[64];
	int i, n;
	jv item;

	n = jv_get_kind(media) == JV_KIND_ARRAY ?
	    jv_array_length(jv_copy(media)) : 0;
	for (i = 0; i < n; i++) {
		item = jv_array_get(jv_copy(media), i);
		k = media_kind_of(item);
		jv_free(item);
		if (kind != NULL && kind != k)
			k = &media_kinds[MEDIA_KINDS - 1];
		kind = k;
	}
	jv_free(media);
	if (n == 1)
		snprintf(label, sizeof(label), "[%s]", kind->singular);
	else if (n > 1)
		snprintf(label, sizeof(label), "[%d %s]", n, kind->plural);
	else
		return;
	buf_adds(b, label);
}

/*
 * Add the last message of REC, cut to end at column COLUMNS. A message
 * without text shows the label of the media in last_message.media, which
 * convo-list adds to the records of its table.
 */
static void
add_last_body(struct line *l, jv rec, size_t columns)
{
	const char *body = string_at(rec, "last_message", "body");
	const char *direction = string_at(rec, "last_message", "direction");
	jv last = jv_object_get(jv_copy(rec), jv_string("last_message"));
	struct buf label = { 0 };

	if ((body == NULL || *body == '\0') &&
	    jv_get_kind(last) == JV_KIND_OBJECT)
		add_media_label(&label, jv_object_get(jv_copy(last),
		    jv_string("media")));
	jv_free(last);
	if (((body == NULL || *body == '\0') && label.len == 0) ||
	    l->width + l->pending + 3 > columns) {
		buf_free(&label);
		return;
	}
	line_flush_padding(l);
	if (string_is(direction, "outbound")) {
		line_color(l, TTY_CYAN);
		line_add(l, "→ ");
		line_reset(l);
	}
	if (label.len > 0) {
		line_color(l, TTY_DIM);
		line_add_untrusted(l, label.data, columns - l->width);
		line_reset(l);
	} else {
		line_add_untrusted(l, body, columns - l->width);
	}
	buf_free(&label);
}

static int
table_row(jv rec, const struct view_tty *t, const struct table *w)
{
	struct line l = { .color = t->color, .limit = t->columns };
	char when[TTY_TIME_MAX];
	int unread = number_at(rec, "unread_count") > 0;
	size_t column = 2;
	int rc;

	if (unread) {
		line_color(&l, TTY_BOLD TTY_CYAN);
		line_add(&l, "*");
		line_reset(&l);
	}
	/* The id that convo-read and convo-mark take, when there is room. */
	if (w->id > 0) {
		line_pad(&l, column);
		line_color(&l, TTY_DIM);
		line_add_untrusted(&l, conversation_id(rec), w->id);
		line_reset(&l);
		column += w->id + 2;
	}
	line_pad(&l, column);
	if (unread)
		line_color(&l, TTY_BOLD);
	line_add_untrusted(&l, display_name(rec), w->name);
	if (unread)
		line_reset(&l);
	column += w->name + 2;
	last_when(when, rec, t);
	line_pad(&l, column + w->when - strlen(when));
	line_color(&l, TTY_DIM);
	line_add(&l, when);
	line_reset(&l);
	column += w->when + 2;
	if (w->flags > 0) {
		line_pad(&l, column);
		add_flags(&l, rec);
		column += w->flags + 2;
	}
	line_pad(&l, column);
	add_last_body(&l, rec, t->columns);
	rc = line_print(&l);
	buf_free(&l.b);
	return rc;
}

int
view_print_table(jv rows, const struct view_tty *t)
{
	struct table w = { 0 };
	int i, n = jv_array_length(jv_copy(rows)), rc = 0;
	jv rec;

	table_widths(rows, t, &w);
	for (i = 0; i < n && rc == 0; i++) {
		rec = jv_array_get(jv_copy(rows), i);
		rc = table_row(rec, t, &w);
		jv_free(rec);
	}
	jv_free(rows);
	return rc;
}

int
view_print_counts(jv counts, const struct view_tty *t)
{
	static const char *const keys[] = {
		"open", "snoozed", "closed", "unread", "flagged", "blocked"
	};
	struct line l = { .color = t->color, .limit = t->columns };
	char number[32];
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]) && rc == 0; i++) {
		snprintf(number, sizeof(number), "%.0f",
		    number_at(counts, keys[i]));
		/* A count that does not fit goes to the next line, whole. */
		if (i > 0 && l.width + 2 + strlen(number) + 1 +
		    strlen(keys[i]) > t->columns)
			rc = line_print(&l);
		else if (i > 0)
			line_pad(&l, l.width + 2);
		line_color(&l, TTY_BOLD);
		line_add(&l, number);
		line_reset(&l);
		line_pad(&l, l.width + 1);
		line_add(&l, keys[i]);
	}
	if (rc == 0)
		rc = line_print(&l);
	buf_free(&l.b);
	jv_free(counts);
	return rc;
}

static size_t
outbound_indent(const struct view_tty *t)
{
	return t->columns >= 40 ? 8 : 2;
}

/* Print a day separator when the local date of AT is a new one. */
static int
chat_day(struct view_tty *t, const char *at)
{
	struct line l = { .color = t->color, .limit = t->columns };
	char day[TTY_TIME_MAX], text[TTY_TIME_MAX + 16];
	size_t width;
	int rc;

	format_time(day, at, tty_day);
	if (day[0] == '\0' || strcmp(day, t->day) == 0)
		return 0;
	snprintf(t->day, sizeof(t->day), "%s", day);
	snprintf(text, sizeof(text), "── %s ──", day);
	width = tty_width(text, strlen(text));
	/* On a narrow terminal the date goes without its rules. */
	if (width > t->columns) {
		snprintf(text, sizeof(text), "%s", day);
		width = tty_width(text, strlen(text));
	}
	if (t->columns > width)
		line_pad(&l, (t->columns - width) / 2);
	line_color(&l, TTY_DIM);
	line_add(&l, text);
	line_reset(&l);
	rc = line_print(&l);
	buf_free(&l.b);
	return rc;
}

/*
 * Return the column that continuation lines start at in place of INDENT,
 * so that they keep TEXT_MIN columns, or all, on a terminal of COLUMNS.
 */
static size_t
wrap_indent(size_t indent, size_t columns)
{
	if (indent + TEXT_MIN <= columns)
		return indent;
	return columns > TEXT_MIN ? columns - TEXT_MIN : 0;
}

/*
 * Add the N bytes of untrusted TEXT, escaped, from the current column in
 * the color SGR (NULL for none), wrapped at the terminal width, with
 * continuation lines at column INDENT. Text that does not fit in the
 * room after a prefix such as the time starts on the next line when
 * less than TEXT_MIN columns are left. The last line stays in L for more
 * text.
 */
static int
chat_wrap(struct line *l, const char *text, size_t n, size_t indent,
    const char *sgr, const struct view_tty *t)
{
	size_t start = 0, len, next, room;
	int rc = 0;

	indent = wrap_indent(indent, t->columns);
	while (start < n && rc == 0) {
		room = line_room(l);
		if (room < TEXT_MIN && l->width + l->pending > indent &&
		    tty_width(text + start, n - start) > room) {
			rc = line_print(l);
			line_pad(l, indent);
			continue;
		}
		len = tty_wrap(text + start, n - start, room, &next);
		if (sgr != NULL)
			line_color(l, sgr);
		line_add_text(l, text + start, len, SIZE_MAX);
		if (sgr != NULL)
			line_reset(l);
		start += next;
		if (start < n) {
			rc = line_print(l);
			line_pad(l, indent);
		}
	}
	return rc;
}

/*
 * Write the delivery details of outbound message REC to META, such as
 * "campaign · undelivered · error 30003". Returns 1 when they report a
 * failure.
 */
static int
outbound_meta(struct buf *meta, jv rec)
{
	const char *origin = string_at(rec, "origin", NULL);
	const char *status = string_at(rec, "status", NULL);
	jv code = jv_object_get(jv_copy(rec), jv_string("error_code"));
	char number[32];
	int failed = string_is(status, "failed") ||
	    string_is(status, "undelivered");

	if (origin != NULL && !string_is(origin, "conversation"))
		buf_adds(meta, origin);
	if (status != NULL) {
		buf_adds(meta, meta->len > 0 ? " · " : "");
		buf_adds(meta, status);
	}
	if (jv_get_kind(code) == JV_KIND_NUMBER)
		snprintf(number, sizeof(number), "%.0f", jv_number_value(code));
	else if (jv_get_kind(code) == JV_KIND_STRING)
		snprintf(number, sizeof(number), "%s", jv_string_value(code));
	else
		number[0] = '\0';
	if (number[0] != '\0') {
		buf_adds(meta, meta->len > 0 ? " · error " : "error ");
		buf_adds(meta, number);
		failed = 1;
	}
	jv_free(code);
	return failed;
}

/*
 * Add the delivery details of outbound REC: after the text on its last
 * line when they fit, else on a line of their own at column INDENT.
 */
static int
chat_meta(struct line *l, jv rec, size_t indent, int has_text,
    const struct view_tty *t)
{
	struct buf meta = { 0 };
	int failed = outbound_meta(&meta, rec), rc = 0;

	if (meta.len == 0)
		return 0;
	if (has_text && l->width + 2 + tty_width(meta.data, meta.len) <=
	    t->columns) {
		line_pad(l, l->width + 2);
	} else if (has_text) {
		rc = line_print(l);
		line_pad(l, wrap_indent(indent, t->columns));
	}
	if (rc == 0)
		rc = chat_wrap(l, meta.data, meta.len, indent,
		    failed ? TTY_RED : TTY_DIM, t);
	buf_free(&meta);
	return rc;
}

/*
 * Add each media URL of REC on a line of its own at column INDENT, the
 * first on the current line when INLINE is 1.
 */
static int
chat_media(struct line *l, jv rec, size_t indent, int inline_first,
    const struct view_tty *t)
{
	jv media = jv_object_get(jv_copy(rec), jv_string("media")), item;
	const char *url;
	int i, n, rc = 0;

	n = jv_get_kind(media) == JV_KIND_ARRAY ?
	    jv_array_length(jv_copy(media)) : 0;
	for (i = 0; i < n && rc == 0; i++) {
		item = jv_array_get(jv_copy(media), i);
		url = jv_get_kind(item) == JV_KIND_STRING ?
		    jv_string_value(item) : jv_get_kind(item) ==
		    JV_KIND_OBJECT ? string_at(item, "url", NULL) : NULL;
		if (url != NULL && (i > 0 || !inline_first)) {
			rc = line_print(l);
			line_pad(l, wrap_indent(indent, t->columns));
		}
		/* A URL is wrapped, not cut, so that all of it shows. */
		if (url != NULL && rc == 0)
			rc = chat_wrap(l, url, strlen(url), indent,
			    TTY_UNDERLINE, t);
		jv_free(item);
	}
	jv_free(media);
	return rc;
}

/* Add the arrow and indent of an outbound message, then the time. */
static void
chat_prefix(struct line *l, jv rec, const struct view_tty *t)
{
	char clock[TTY_TIME_MAX];

	if (string_is(string_at(rec, "direction", NULL), "outbound")) {
		line_pad(l, outbound_indent(t));
		line_color(l, TTY_CYAN);
		line_add(l, "→");
		line_reset(l);
		line_pad(l, l->width + 1);
	}
	format_time(clock, string_at(rec, "sent_at", NULL), tty_clock);
	line_color(l, TTY_DIM);
	line_add(l, clock[0] != '\0' ? clock : "--:--");
	line_reset(l);
	line_pad(l, l->width + 1);
}

static int
chat_message(struct view_tty *t, jv rec)
{
	struct line l = { .color = t->color, .limit = t->columns };
	struct buf text = { 0 };
	const char *body = string_at(rec, "body", NULL);
	const char *word = string_at(rec, "keyword", "word");
	size_t indent;
	int rc;

	chat_prefix(&l, rec, t);
	indent = l.width + l.pending;
	if (word != NULL) {
		buf_adds(&text, "[keyword ");
		add_keyword(&text, word);
		buf_adds(&text, "]");
		line_color(&l, TTY_YELLOW);
		line_add_untrusted(&l, text.data, 40);
		line_reset(&l);
		line_pad(&l, l.width + 1);
		buf_reset(&text);
	}
	if (body != NULL)
		buf_adds(&text, body);
	rc = chat_wrap(&l, text.data, text.len, indent, NULL, t);
	if (rc == 0 && string_is(string_at(rec, "direction", NULL),
	    "outbound"))
		rc = chat_meta(&l, rec, indent, text.len > 0, t);
	if (rc == 0)
		rc = chat_media(&l, rec, indent, l.width <= indent, t);
	if (rc == 0)
		rc = line_print(&l);
	buf_free(&text);
	buf_free(&l.b);
	return rc;
}

/*
 * Return the time at which consent change REC took effect: effective_at,
 * or at in records that have no effective_at.
 */
static const char *
consent_time(jv rec)
{
	const char *effective = string_at(rec, "effective_at", NULL);

	return effective != NULL ? effective : string_at(rec, "at", NULL);
}

/* Print consent change REC as "09:45 — unsubscribed (keyword STOP) —". */
static int
chat_consent(struct view_tty *t, jv rec)
{
	struct line l = { .color = t->color, .limit = t->columns };
	struct buf note = { 0 };
	const char *status = string_at(rec, "status", NULL);
	const char *method = string_at(rec, "method", NULL);
	const char *word = string_at(rec, "keyword", NULL);
	char clock[TTY_TIME_MAX];
	int rc;

	format_time(clock, consent_time(rec), tty_clock);
	line_color(&l, TTY_DIM);
	line_add(&l, clock[0] != '\0' ? clock : "--:--");
	line_reset(&l);
	line_pad(&l, CLOCK_WIDTH);
	buf_adds(&note, "— ");
	buf_adds(&note, status != NULL ? status : "consent change");
	if (method != NULL) {
		buf_adds(&note, " (");
		buf_adds(&note, method);
		if (word != NULL) {
			buf_adds(&note, " ");
			add_keyword(&note, word);
		}
		buf_adds(&note, ")");
	}
	buf_adds(&note, " —");
	rc = chat_wrap(&l, note.data, note.len, CLOCK_WIDTH,
	    string_is(status, "unsubscribed") ? TTY_YELLOW : TTY_GREEN, t);
	if (rc == 0)
		rc = line_print(&l);
	buf_free(&note);
	buf_free(&l.b);
	return rc;
}

int
view_print_chat(struct view_tty *t, jv record)
{
	int consent = string_is(string_at(record, "type", NULL),
	    "consent_change");
	int rc;

	rc = chat_day(t, consent ? consent_time(record) :
	    string_at(record, "sent_at", NULL));
	if (rc == 0)
		rc = consent ? chat_consent(t, record) :
		    chat_message(t, record);
	jv_free(record);
	return rc;
}

/*
 * Add untrusted ITEM, cut to COLUMNS columns, in the color SGR (NULL for
 * none), two columns after the text of L. An item that does not fit
 * whole in what is left of the line starts the next one.
 */
static int
line_add_item(struct line *l, const char *item, size_t columns,
    const char *sgr)
{
	size_t width = escaped_width(item);
	int rc = 0;

	if (width > columns)
		width = columns;
	if (l->width > 0 && l->limit > 0 && l->width + 2 + width > l->limit)
		rc = line_print(l);
	else if (l->width > 0)
		line_pad(l, l->width + 2);
	if (sgr != NULL)
		line_color(l, sgr);
	line_add_untrusted(l, item, columns);
	if (sgr != NULL)
		line_reset(l);
	return rc;
}

int
view_print_thread(struct view_tty *t, const char *name, const char *phone,
    const char *channel, const char *conversation_id, const char *note)
{
	struct line l = { .color = t->color, .limit = t->columns };
	int rc = 0;

	if (t->threads++ > 0)
		rc = line_print(&l);
	t->day[0] = '\0';
	if (rc == 0)
		rc = line_add_item(&l, name != NULL ? name : phone,
		    max_size(NAME_MIN, t->columns / 2), TTY_BOLD);
	if (rc == 0 && name != NULL)
		rc = line_add_item(&l, phone, SIZE_MAX, NULL);
	if (rc == 0 && channel != NULL && strcmp(channel, "sms") != 0)
		rc = line_add_item(&l, channel, 20, TTY_DIM);
	if (rc == 0 && conversation_id != NULL)
		rc = line_add_item(&l, conversation_id, SIZE_MAX, TTY_DIM);
	if (rc == 0)
		rc = line_print(&l);
	/* The note may be a command to copy, so it is wrapped, not cut. */
	if (rc == 0 && note != NULL) {
		rc = chat_wrap(&l, note, strlen(note), 0, TTY_DIM, t);
		if (rc == 0)
			rc = line_print(&l);
	}
	buf_free(&l.b);
	return rc;
}
