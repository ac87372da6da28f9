/*
 * Output records built from query rows: conversation and message
 * records as convo(5) defines them.
 */
#ifndef CONVO_VIEWS_H
#define CONVO_VIEWS_H

#include <jv.h>
#include <libpq-fe.h>

#include "tty.h"

/*
 * A snoozed conversation whose time has passed counts as open, so no
 * job has to wake it.
 */
#define VIEW_EFFECTIVE_STATUS \
	"(CASE WHEN c.status = 'snoozed' AND c.snoozed_until <= now() " \
	"THEN 'open' ELSE c.status END)"

/*
 * The time X as RFC 3339 in UTC, with microseconds only when there are
 * any: the body of the SQL function convo.rfc3339(), spelled out.
 * PostgreSQL 15 does not inline that function, because it is declared
 * IMMUTABLE and calls the STABLE to_char(). Each call then runs the SQL
 * function executor: 2.7 us per call against 0.6 us for the expression,
 * measured over 100,000 rows.
 */
#define VIEW_RFC3339(x) \
	"(CASE WHEN date_part('microseconds', " x ")::bigint % 1000000 = 0 " \
	"THEN to_char(" x " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') " \
	"ELSE to_char(" x " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') END)"

/* Columns view_conversation() reads; c is conversations, p profiles. */
#define VIEW_CONVERSATION_COLUMNS \
	"SELECT c.conversation_id, c.channel, " \
	VIEW_EFFECTIVE_STATUS " AS status, " \
	VIEW_RFC3339("c.snoozed_until") " AS snoozed_until, c.blocked, " \
	"c.assignee, c.unread_count, c.brand_address, c.last_body, " \
	"c.last_direction, " VIEW_RFC3339("c.last_at") " AS last_at, " \
	"c.last_provider_message_id, " \
	VIEW_RFC3339("c.last_read_at") " AS last_read_at, " \
	VIEW_RFC3339("c.created_at") " AS created_at, " \
	VIEW_RFC3339("c.updated_at") " AS updated_at, " \
	"c.flagged_message_id, " \
	VIEW_RFC3339("c.flagged_at") " AS flagged_at, " \
	"p.profile_id, p.phone, p.first_name, p.last_name, p.email, " \
	"p.photo_url, p.timezone, p.external_id, " \
	"coalesce(s.status, 'never_subscribed') AS consent, " \
	VIEW_RFC3339("c.last_at") " || '~' || c.conversation_id AS cursor "

/* Joins to c of the profile and consent that VIEW_CONVERSATION_COLUMNS reads. */
#define VIEW_CONVERSATION_JOINS \
	" JOIN convo.profiles p ON p.account_id = c.account_id " \
	"AND p.profile_id = c.profile_id " \
	"LEFT JOIN convo.consent s ON s.account_id = c.account_id " \
	"AND s.profile_id = c.profile_id AND s.channel = c.channel"

/*
 * The same joins for a page of conversations: one index probe each for
 * the page's rows. Left to itself, the planner reads every profile of a
 * small account to hash them for a page of 50.
 */
#define VIEW_CONVERSATION_PAGE_JOINS \
	" CROSS JOIN LATERAL (SELECT p.* FROM convo.profiles p " \
	"WHERE p.account_id = c.account_id " \
	"AND p.profile_id = c.profile_id OFFSET 0) p " \
	"LEFT JOIN LATERAL (SELECT s.* FROM convo.consent s " \
	"WHERE s.account_id = c.account_id " \
	"AND s.profile_id = c.profile_id AND s.channel = c.channel " \
	"OFFSET 0) s ON true"

#define VIEW_CONVERSATION_SELECT \
	VIEW_CONVERSATION_COLUMNS "FROM convo.conversations c" \
	VIEW_CONVERSATION_JOINS

/* Columns view_message() reads; m is messages. */
#define VIEW_MESSAGE_COLUMNS \
	"m.message_id, m.channel, m.direction, m.origin, m.origin_id, " \
	"m.from_address, m.to_address, m.body, m.media::text AS media, " \
	"m.provider, m.provider_message_id, " \
	VIEW_RFC3339("m.sent_at") " AS sent_at, " \
	VIEW_RFC3339("m.recorded_at") " AS recorded_at, m.status, " \
	VIEW_RFC3339("m.status_at") " AS status_at, m.error_code, " \
	"m.keyword, m.keyword_action, m.extra::text AS extra"

/*
 * The effective time of consent change x: its stated time, or when it was
 * recorded if that is earlier. The consent in force is the change with
 * the latest effective time.
 */
#define VIEW_CONSENT_EFFECTIVE_AT "least(x.at, x.recorded_at)"

/*
 * Columns view_consent_change() reads; x is consent_changes. at_us is
 * the effective time in microseconds, which orders changes among
 * messages.
 */
#define VIEW_CONSENT_COLUMNS \
	"x.channel, x.status, x.method, " VIEW_RFC3339("x.at") " AS at, " \
	VIEW_RFC3339(VIEW_CONSENT_EFFECTIVE_AT) " AS effective_at, " \
	"(extract(epoch FROM " VIEW_CONSENT_EFFECTIVE_AT ") * 1000000)::bigint " \
	"AS at_us, x.message_id, x.keyword, x.provider_message_id, " \
	"x.error_code"

/* Build the conversation record of row ROW; the caller owns it. */
jv view_conversation(const PGresult *res, int row, const char *account);

/*
 * Build the message record of row ROW in conversation CONVERSATION_ID
 * (NULL when the customer has none); the caller owns it.
 */
jv view_message(const PGresult *res, int row, const char *account,
    const char *conversation_id);

/*
 * Build the consent_change record of row ROW for the customer PHONE,
 * in conversation CONVERSATION_ID (NULL when none); the caller owns it.
 */
jv view_consent_change(const PGresult *res, int row, const char *account,
    const char *phone, const char *conversation_id);

/*
 * Write RECORD (consumed) as one line to standard output. Returns 0, or
 * -1 after printing why the write failed. A reader that went away
 * (EPIPE), as `| head` does, is not reported because it is no error.
 */
int view_print(jv record);

/*
 * Write the LEN bytes at LINE, a record already printed as JSON and its
 * newline, to standard output. Returns 0 or -1 as view_print() does.
 */
int view_print_json(const char *line, size_t len);

/* Flush standard output like view_print() writes. Returns 0 or -1. */
int view_flush(void);

/*
 * Layout of the views for people, which convo-list and convo-read print
 * in place of records when standard output is a terminal. Every string
 * taken from a record goes through tty_escape(), so only the views' own
 * SGR sequences reach the terminal.
 */
struct view_tty {
	size_t columns;			/* width of the terminal */
	int color;			/* 1 to write SGR colors */
	time_t now;			/* "now" of the table's times */
	char day[TTY_TIME_MAX];		/* date of the last chat line */
	int threads;			/* thread headers printed so far */
};

/* Set up T for standard output, with NOW at 0 for the caller to set. */
void view_tty_init(struct view_tty *t);

/*
 * Print CONVERSATIONS (consumed), an array of conversation records, as
 * aligned rows: unread marker, name or phone, time of the last message,
 * flags and the last message cut to the terminal width. A last message
 * without text shows a label of its media, such as "[photo]", when its
 * record has last_message.media. Returns 0 or -1 like view_print().
 */
int view_print_table(jv conversations, const struct view_tty *t);

/*
 * Print a conversation_counts record (consumed) on one line, or on more
 * when the terminal is too narrow for one.
 */
int view_print_counts(jv counts, const struct view_tty *t);

/*
 * Print the header of a thread: the customer's NAME (NULL when unknown),
 * PHONE, CHANNEL and CONVERSATION_ID (NULL when none), with each item
 * that does not fit on a line of its own, then NOTE (NULL for none),
 * wrapped at the terminal width. Returns 0 or -1.
 */
int view_print_thread(struct view_tty *t, const char *name,
    const char *phone, const char *channel, const char *conversation_id,
    const char *note);

/*
 * Print a message or consent_change record (consumed) as chat lines no
 * wider than the terminal, after a day separator when its local date
 * differs from the previous record's. Text and URLs are wrapped, and
 * only a prefix wider than the terminal is cut. Returns 0 or -1.
 */
int view_print_chat(struct view_tty *t, jv record);

#endif
