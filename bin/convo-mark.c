/*
 * convo-mark: operator actions on conversations (block, snooze, close,
 * reopen, read marks, assignment and possible opt-outs), each recorded in
 * convo.conversation_events, then the updated conversation records as
 * NDJSON.
 */
#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include <jv.h>
#include <libpq-fe.h>

#include "cli.h"
#include "convo.h"
#include "db.h"
#include "json.h"
#include "linereader.h"
#include "phone.h"
#include "record.h"
#include "timeutil.h"
#include "views.h"

/* Groups of actions: two actions of one group conflict. */
enum group { G_BLOCK, G_STATUS, G_READ, G_ASSIGN, G_FLAG, G_COUNT };

/* Form of the time that --snooze or --snooze-until gave. */
enum snooze_kind { SNOOZE_AT, SNOOZE_FOR, SNOOZE_LOCAL };

struct actions {
	const char *given[G_COUNT];	/* the option that set each group */
	int block;			/* 1 block, 0 unblock */
	const char *status;		/* "open", "closed" or "snoozed" */
	enum snooze_kind snooze;
	const char *snooze_text;	/* the argument as given */
	char snooze_at[TIME_MAX];	/* SNOOZE_AT: the time in UTC */
	char snooze_seconds[24];	/* SNOOZE_FOR: the seconds */
	const char *snooze_day;		/* SNOOZE_LOCAL: see parse_clock() */
	char snooze_clock[24];		/* SNOOZE_LOCAL: "HH:MM" */
	int read;			/* 1 read, 0 unread */
	const char *assignee;		/* NULL to unassign */
	int confirm;			/* 1 confirm the opt-out, 0 dismiss */
};

struct marker {
	PGconn *conn;
	const char *account;
	char account_id[32];
	char country[8];
	const char *operator;
	const char *now;	/* $CONVO_NOW in UTC, or NULL for the clock */
	struct actions a;
	int status;
	int output_closed;
	/*
	 * The flagged message ("m_N", or "" for none) of the conversation
	 * record being read, which --dismiss-flag settles, when check_flag.
	 */
	int check_flag;
	char seen_flag[40];
};

/* Options without a short form. */
enum {
	OPT_BLOCK = 256, OPT_UNBLOCK, OPT_SNOOZE, OPT_SNOOZE_UNTIL, OPT_CLOSE,
	OPT_REOPEN, OPT_READ, OPT_UNREAD, OPT_ASSIGN, OPT_UNASSIGN,
	OPT_DISMISS_FLAG, OPT_CONFIRM_OPT_OUT
};

static void
usage(void)
{
	fprintf(stderr, "usage: convo-mark [-qv] [--operator NAME] "
	    "[--account NAME] [--db CONNINFO] ACTION ...\n"
	    "                  [ID | PHONE ...]\n"
	    "actions: --block | --unblock, --snooze DURATION | "
	    "--snooze-until TIME |\n"
	    "         --close | --reopen, --read | --unread, --assign NAME | "
	    "--unassign,\n"
	    "         --dismiss-flag | --confirm-opt-out\n");
	exit(EX_USAGE);
}

static void
help(void)
{
	printf("usage: convo-mark [options] ACTION ... [ID | PHONE ...]\n"
	    "Change conversations as an operator, record each change with "
	    "who made it,\n"
	    "and print the updated conversation records. Without arguments, "
	    "reads\n"
	    "records with a conversation id or phone from standard input, "
	    "such as\n"
	    "the output of convo-list.\n\n"
	    "Actions:\n"
	    "      --block               on every channel of the customer: "
	    "count no new\n"
	    "                            message as unread, reopen nothing, "
	    "send nothing\n"
	    "      --unblock             end the customer's block on every "
	    "channel\n"
	    "      --snooze DURATION     snooze for 30m, 3h, 2d, ... (s, m, h, "
	    "d or w)\n"
	    "      --snooze-until TIME   snooze until an RFC 3339 time, or "
	    "\"HH:MM\",\n"
	    "                            \"today HH:MM\" or \"tomorrow HH:MM\" "
	    "in the customer's\n"
	    "                            time zone\n"
	    "      --close               close\n"
	    "      --reopen              open again\n"
	    "      --read                mark read, as convo-read does\n"
	    "      --unread              mark the latest inbound message "
	    "unread\n"
	    "      --assign NAME         assign to the operator NAME\n"
	    "      --unassign            remove the assignee\n"
	    "      --dismiss-flag        clear the possible opt-out flag\n"
	    "      --confirm-opt-out     unsubscribe the customer and clear "
	    "the flag\n\n"
	    "Options:\n"
	    "  -o, --operator NAME       who makes the change (default the "
	    "login name)\n"
	    "  -a, --account NAME        account (default $CONVO_ACCOUNT or "
	    "\"default\")\n"
	    "  -d, --db CONNINFO         PostgreSQL connection\n"
	    "  -q, --quiet               print no messages but warnings and "
	    "errors\n"
	    "  -v, --verbose             print the time each step takes\n"
	    "  -h, --help                show this help\n"
	    "  -V, --version             show the versions of convo and its "
	    "libraries\n\n"
	    "See convo-mark(1) and convo(5).\n");
	exit(0);
}

static PGresult *
query(struct marker *m, const char *sql, int n, const char **params)
{
	PGresult *res = PQexecParams(m->conn, sql, n, NULL, params, NULL,
	    NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK)
		exit(db_report(m->conn, res, "cannot change the conversation"));
	return res;
}

/* Find conversation "c_N" and copy N to ID. Returns 0 when found. */
static int
find_by_id(struct marker *m, const char *arg, char id[32])
{
	const char *params[2] = { m->account_id, arg + 2 };
	PGresult *res;
	int found;

	if (strlen(arg) < 3 || strlen(arg) > 20 ||
	    strspn(arg + 2, "0123456789") != strlen(arg + 2))
		return -1;
	res = query(m, "SELECT conversation_id FROM convo.conversations "
	    "WHERE account_id = $1 AND conversation_id = $2", 2, params);
	if ((found = PQntuples(res) == 1))
		snprintf(id, 32, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return found ? 0 : -1;
}

/*
 * Find the conversation of the customer at phone ARG ("whatsapp:"
 * selects that channel). Returns 0 when found, -2 for an invalid phone.
 */
static int
find_by_phone(struct marker *m, const char *arg, char id[32])
{
	const char *number, *why, *params[3];
	char phone[PHONE_MAX];
	PGresult *res;
	int found;

	params[2] = phone_channel(arg, &number);
	if (phone_normalize(number, m->country, phone, sizeof(phone), &why))
		return -2;
	params[0] = m->account_id;
	params[1] = phone;
	res = query(m, "SELECT c.conversation_id FROM convo.conversations c "
	    "JOIN convo.profiles p ON p.account_id = c.account_id "
	    "AND p.profile_id = c.profile_id "
	    "WHERE c.account_id = $1 AND p.phone = $2 AND c.channel = $3",
	    3, params);
	if ((found = PQntuples(res) == 1))
		snprintf(id, 32, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return found ? 0 : -1;
}

/*
 * Lock conversation ID for this transaction. Sets *ZONE_VALID when the
 * customer's time zone is known: the profile's, when PostgreSQL accepts
 * it, or that of a North American area code, as for convo-send
 * --quiet-hours. Copies the profile's value to STORED, "" when none.
 * Returns -1 when the conversation is gone.
 */
static int
lock_conversation(struct marker *m, const char *id, int *zone_valid,
    char stored[128])
{
	const char *params[2] = { m->account_id, id };
	PGresult *res;
	int found;

	res = query(m, "SELECT (convo.customer_zone(p.timezone, p.phone)).zone "
	    "IS NOT NULL, coalesce(p.timezone, '') FROM convo.conversations c "
	    "JOIN convo.profiles p ON p.account_id = c.account_id "
	    "AND p.profile_id = c.profile_id "
	    "WHERE c.account_id = $1 AND c.conversation_id = $2 "
	    "FOR UPDATE OF c", 2, params);
	if ((found = PQntuples(res) == 1)) {
		*zone_valid = PQgetvalue(res, 0, 0)[0] == 't';
		snprintf(stored, 128, "%s", PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return found ? 0 : -1;
}

/*
 * Lock every conversation of the customer of conversation ID, which a
 * block changes, in the order of channel. convo-ingest and convo-send
 * lock a customer's conversations in that order too, so none of them
 * waits for another while holding a row that the other waits for.
 */
static void
lock_customer(struct marker *m, const char *id)
{
	const char *params[2] = { m->account_id, id };

	PQclear(query(m, "SELECT 1 FROM convo.conversations o "
	    "WHERE o.account_id = $1 AND o.profile_id = (SELECT c.profile_id "
	    "FROM convo.conversations c WHERE c.account_id = $1 "
	    "AND c.conversation_id = $2) "
	    "ORDER BY o.profile_id, o.channel FOR UPDATE", 2, params));
}

/* Warn that a local snooze time is read in UTC, and why. */
static void
note_utc(const struct marker *m, const char *where, const char *stored)
{
	if (*stored == '\0')
		warnx("%sthe customer's time zone is not known, so \"%s\" is "
		    "read in UTC", where, m->a.snooze_text);
	else
		warnx("%sthe customer's time zone \"%s\" is invalid, so \"%s\" "
		    "is read in UTC", where, stored, m->a.snooze_text);
}

/*
 * Compute the snooze time of the locked conversation ID into UTC, with
 * local times in the customer's time zone. Returns -1 after a message
 * when that time is not in the future.
 */
static int
snooze_until(struct marker *m, const char *id, const char *where,
    char until[TIME_MAX])
{
	static const char *kinds[] = { "at", "for", "local" };
	const struct actions *a = &m->a;
	int local = a->snooze == SNOOZE_LOCAL;
	const char *params[8] = { m->account_id, id, kinds[a->snooze],
	    a->snooze == SNOOZE_AT ? a->snooze_at : NULL,
	    a->snooze == SNOOZE_FOR ? a->snooze_seconds : NULL,
	    local ? a->snooze_day : NULL, local ? a->snooze_clock : NULL,
	    m->now };
	PGresult *res;
	int future, near;

	res = query(m, "SELECT convo.rfc3339(t.until), t.until > t.now, "
	    "t.until <= t.now + interval '36525 days' "
	    "FROM (SELECT n.now, CASE $3::text "
	    "WHEN 'at' THEN $4::timestamptz "
	    "WHEN 'for' THEN n.now + $5::bigint * interval '1 second' "
	    "ELSE convo.local_time(n.now, "
	    "(convo.customer_zone(p.timezone, p.phone)).zone, "
	    "$6, $7::time) END AS until "
	    "FROM (SELECT coalesce($8::timestamptz, now()) AS now) n, "
	    "convo.conversations c JOIN convo.profiles p "
	    "ON p.account_id = c.account_id AND p.profile_id = c.profile_id "
	    "WHERE c.account_id = $1 AND c.conversation_id = $2) t", 8,
	    params);
	snprintf(until, TIME_MAX, "%s", PQgetvalue(res, 0, 0));
	future = PQgetvalue(res, 0, 1)[0] == 't';
	near = PQgetvalue(res, 0, 2)[0] == 't';
	PQclear(res);
	if (!future)
		warnx("%ssnooze time %s has passed; the conversation is "
		    "unchanged", where, until);
	else if (!near)
		warnx("%ssnooze time %s is more than 100 years away; the "
		    "conversation is unchanged", where, until);
	return future && near ? 0 : -1;
}

/*
 * Run SQL, a call of one action function, for conversation ID with the
 * parameters $1 account, $2 conversation, $3 operator and $4 time, and
 * $5 VALUE when SQL has that parameter.
 */
static void
act(struct marker *m, const char *id, const char *sql, int has_value,
    const char *value)
{
	const char *params[5] = { m->account_id, id, m->operator, m->now,
	    value };

	PQclear(query(m, sql, has_value ? 5 : 4, params));
}

/* Apply the actions to the locked conversation ID, in a fixed order. */
static void
apply_actions(struct marker *m, const char *id, const char *until)
{
	const struct actions *a = &m->a;
	const char *params[6] = { m->account_id, id, a->status, until,
	    m->operator, m->now };

	if (a->given[G_BLOCK])
		act(m, id, "SELECT convo.conversation_block($1, $2, $5, $3, "
		    "$4)", 1, a->block ? "true" : "false");
	if (a->given[G_STATUS])
		PQclear(query(m, "SELECT convo.conversation_set_status($1, "
		    "$2, $3, $4, $5, $6)", 6, params));
	if (a->given[G_READ] && a->read)
		act(m, id, "SELECT convo.conversation_read($1, $2, $3, $4)",
		    0, NULL);
	else if (a->given[G_READ])
		act(m, id, "SELECT convo.conversation_unread($1, $2, $3, $4)",
		    0, NULL);
	if (a->given[G_ASSIGN])
		act(m, id, "SELECT convo.conversation_assign($1, $2, $5, $3, "
		    "$4)", 1, a->assignee);
	if (a->given[G_FLAG] && a->confirm)
		act(m, id, "SELECT convo.conversation_confirm_opt_out($1, $2, "
		    "$3, $4)", 0, NULL);
	else if (a->given[G_FLAG])
		act(m, id, "SELECT convo.conversation_dismiss_flag($1, $2, $3, "
		    "$4)", 0, NULL);
}

/* Print the record of conversation ID. */
static void
print_conversation(struct marker *m, const char *id)
{
	const char *params[2] = { m->account_id, id };
	PGresult *res;

	res = query(m, VIEW_CONVERSATION_SELECT
	    " WHERE c.account_id = $1 AND c.conversation_id = $2", 2, params);
	/* A failed write stops the run before the next change. */
	if (PQntuples(res) == 1 &&
	    (view_print(view_conversation(res, 0, m->account)) != 0 ||
	    view_flush() != 0))
		m->output_closed = 1;
	PQclear(res);
}

/*
 * Return the ids of the customer's conversations other than ID, which a
 * block or unblock of ID changes too, oldest first.
 */
static PGresult *
other_conversations(struct marker *m, const char *id)
{
	const char *params[2] = { m->account_id, id };

	return query(m, "SELECT o.conversation_id FROM convo.conversations c "
	    "JOIN convo.conversations o ON o.account_id = c.account_id "
	    "AND o.profile_id = c.profile_id "
	    "AND o.conversation_id <> c.conversation_id "
	    "WHERE c.account_id = $1 AND c.conversation_id = $2 "
	    "ORDER BY o.conversation_id", 2, params);
}

/*
 * Return 1 when the locked conversation ID is flagged with another
 * message than the conversation record showed, after a message: the
 * operator has not read the text that --dismiss-flag would settle.
 */
static int
flag_moved(struct marker *m, const char *id, const char *where)
{
	const char *params[2] = { m->account_id, id };
	PGresult *res;
	int moved;

	if (!m->check_flag || !m->a.given[G_FLAG] || m->a.confirm)
		return 0;
	res = query(m, "SELECT coalesce('m_' || flagged_message_id, '') "
	    "FROM convo.conversations WHERE account_id = $1 "
	    "AND conversation_id = $2", 2, params);
	moved = PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), m->seen_flag) != 0;
	if (moved)
		warnx("%sthe possible opt-out is now %s%s, not %s as in the "
		    "record; read the thread and settle it again", where,
		    *PQgetvalue(res, 0, 0) ? "message " : "",
		    *PQgetvalue(res, 0, 0) ? PQgetvalue(res, 0, 0) : "none",
		    *m->seen_flag ? m->seen_flag : "none");
	PQclear(res);
	return moved;
}

/*
 * Change conversation ID in one transaction. Sets *OTHER_IDS to the other
 * conversations that it changed, or NULL. Returns 0, -1 when it
 * vanished, -3 after a message when its snooze time has passed, or -4
 * after a message when the flag to dismiss has moved. On failure nothing
 * is changed.
 */
static int
change(struct marker *m, const char *id, const char *where,
    PGresult **other_ids)
{
	char stored[128], until[TIME_MAX] = "";
	const char *account[1] = { m->account_id };
	int zone_valid, snooze;

	*other_ids = NULL;
	PQclear(query(m, "BEGIN", 0, NULL));
	/*
	 * Confirming an opt-out recomputes consent and the summary as
	 * convo-ingest does, and a block changes what convo-ingest reads
	 * for all the customer's channels, so both wait for the account's
	 * batches first. Like them, they take the account lock before any
	 * row lock.
	 */
	if ((m->a.given[G_FLAG] && m->a.confirm) || m->a.given[G_BLOCK])
		PQclear(query(m, "SELECT convo.lock_account($1)", 1, account));
	if (m->a.given[G_BLOCK])
		lock_customer(m, id);
	if (lock_conversation(m, id, &zone_valid, stored) != 0) {
		PQclear(query(m, "ROLLBACK", 0, NULL));
		return -1;
	}
	if (flag_moved(m, id, where)) {
		PQclear(query(m, "ROLLBACK", 0, NULL));
		return -4;
	}
	snooze = m->a.status != NULL && strcmp(m->a.status, "snoozed") == 0;
	if (snooze && m->a.snooze == SNOOZE_LOCAL && !zone_valid)
		note_utc(m, where, stored);
	if (snooze && snooze_until(m, id, where, until) != 0) {
		PQclear(query(m, "ROLLBACK", 0, NULL));
		return -3;
	}
	apply_actions(m, id, *until ? until : NULL);
	if (m->a.given[G_BLOCK])
		*other_ids = other_conversations(m, id);
	PQclear(query(m, "COMMIT", 0, NULL));
	return 0;
}

/* Change the conversation named by ARG, an id "c_N" or a phone number. */
static void
mark_one(struct marker *m, const char *arg, long long line)
{
	char where[48] = "", target[96], id[32];
	PGresult *other_ids = NULL;
	int i, rc;

	if (line > 0)
		snprintf(where, sizeof(where), "line %lld: ", line);
	if (strncmp(arg, "c_", 2) == 0)
		rc = find_by_id(m, arg, id);
	else
		rc = find_by_phone(m, arg, id);
	if (rc == 0) {
		/* Messages about a found conversation start with its id. */
		snprintf(target, sizeof(target), "%sc_%s: ", where, id);
		rc = change(m, id, target, &other_ids);
	}
	if (rc == -2)
		warnx("%sinvalid phone number or conversation id \"%s\"",
		    where, arg);
	else if (rc == -1)
		warnx("%sconversation \"%s\" not found; list conversations "
		    "with convo-list", where, arg);
	if (rc != 0) {
		m->status = exit_merge(m->status, EX_DATAERR);
		return;
	}
	print_conversation(m, id);
	for (i = 0; other_ids != NULL && i < PQntuples(other_ids); i++)
		print_conversation(m, PQgetvalue(other_ids, i, 0));
	PQclear(other_ids);
}


/*
 * Keep the flagged message of REC in M when REC is a conversation record,
 * which shows the operator the flag that --dismiss-flag settles.
 */
static void
seen_flag(struct marker *m, jv rec)
{
	jv type = jv_object_get(jv_copy(rec), jv_string("type"));
	jv flag = jv_object_get(jv_copy(rec), jv_string("possible_opt_out"));
	jv msg = jv_get_kind(flag) == JV_KIND_OBJECT ?
	    jv_object_get(jv_copy(flag), jv_string("message_id")) : jv_null();

	m->check_flag = jv_get_kind(type) == JV_KIND_STRING &&
	    strcmp(jv_string_value(type), "conversation") == 0 &&
	    jv_object_has(jv_copy(rec), jv_string("possible_opt_out"));
	snprintf(m->seen_flag, sizeof(m->seen_flag), "%s",
	    jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) : "");
	jv_free(msg);
	jv_free(flag);
	jv_free(type);
}

static void
read_stdin(struct marker *m)
{
	struct record_last_target last = { "" };
	struct linereader lr;
	const char *line;
	size_t len;
	int too_long;
	jv rec, target, error;

	linereader_init(&lr, STDIN_FILENO, CONVO_LINE_MAX);
	while (!m->output_closed &&
	    linereader_next(&lr, &line, &len, &too_long) == 1) {
		if (!too_long && linereader_blank(line, len))
			continue;
		rec = too_long ? jv_invalid_with_msg(jv_string_fmt("longer "
		    "than the limit of %d bytes", CONVO_LINE_MAX)) :
		    json_parse_line(line, len);
		target = jv_get_kind(rec) == JV_KIND_OBJECT ?
		    record_target(rec) : jv_invalid();
		if (!record_is_conversation(rec) &&
		    record_target_repeats(&last, target)) {
			/* The records of a thread change it once. */
		} else if (jv_is_valid(target)) {
			seen_flag(m, rec);
			mark_one(m, jv_string_value(target), lr.lineno);
		} else if (jv_get_kind(rec) == JV_KIND_OBJECT &&
		    jv_object_has(jv_copy(rec), jv_string("type"))) {
			/* Typed records that name no conversation pass by. */
		} else {
			error = record_target_error(rec);
			warnx("line %lld: %s", lr.lineno,
			    jv_string_value(error));
			jv_free(error);
			m->status = exit_merge(m->status, EX_DATAERR);
		}
		jv_free(target);
		jv_free(rec);
	}
	linereader_free(&lr);
}

/*
 * Read a duration such as "30m" into SECONDS. Returns NULL, or what is
 * wrong with ARG.
 */
static const char *
parse_duration(const char *arg, char seconds[24])
{
	static const char *form = "expected a whole number and a unit, such "
	    "as 30m, 3h or 2d";
	long long n, unit;
	char *end;

	errno = 0;
	n = strtoll(arg, &end, 10);
	if (end == arg || !isdigit((unsigned char)*arg))
		return form;
	switch (*end) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	case 'w': unit = 7 * 86400; break;
	default: return form;
	}
	if (end[1] != '\0')
		return form;
	if (n == 0)
		return "a snooze must last more than 0";
	/* 100 years of 365.25 days. */
	if (errno != 0 || n > 3155760000LL / unit)
		return "a snooze lasts at most 100 years";
	snprintf(seconds, 24, "%lld", n * unit);
	return NULL;
}

/*
 * Read "HH:MM", "today HH:MM" or "tomorrow HH:MM" into DAY ("next",
 * "today" or "tomorrow") and CLOCK. Returns 0 or -1.
 */
static int
parse_clock(const char *arg, const char **day, char clock[24])
{
	static const char *days[] = { "today", "tomorrow" };
	const char *p = arg;
	size_t i, n;
	int hour, minute;

	*day = "next";
	for (i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
		n = strlen(days[i]);
		if (strncasecmp(p, days[i], n) == 0 && p[n] == ' ') {
			*day = days[i];
			for (p += n; *p == ' '; p++)
				continue;
			break;
		}
	}
	if (!isdigit((unsigned char)p[0]))
		return -1;
	n = isdigit((unsigned char)p[1]) ? 2 : 1;
	if (p[n] != ':' || !isdigit((unsigned char)p[n + 1]) ||
	    !isdigit((unsigned char)p[n + 2]) || p[n + 3] != '\0')
		return -1;
	hour = atoi(p);
	minute = atoi(p + n + 1);
	if (hour > 23 || minute > 59)
		return -1;
	snprintf(clock, 24, "%02d:%02d", hour, minute);
	return 0;
}

static void
parse_snooze_until(struct actions *a, const char *arg)
{
	a->snooze_text = arg;
	if (time_to_utc(arg, a->snooze_at) == 0)
		a->snooze = SNOOZE_AT;
	else if (parse_clock(arg, &a->snooze_day, a->snooze_clock) == 0)
		a->snooze = SNOOZE_LOCAL;
	else
		errx(EX_USAGE, "invalid time \"%s\": expected RFC 3339, "
		    "\"HH:MM\", \"today HH:MM\" or \"tomorrow HH:MM\"", arg);
}

/* Record that option NAME sets group G, unless another option did. */
static void
set_group(struct actions *a, enum group g, const char *name)
{
	if (a->given[g] != NULL && strcmp(a->given[g], name) == 0)
		errx(EX_USAGE, "--%s is given twice", name);
	if (a->given[g] != NULL)
		errx(EX_USAGE, "--%s conflicts with --%s", name, a->given[g]);
	a->given[g] = name;
}

/* Apply action option C with argument ARG. Returns 0, or -1 for others. */
static int
parse_action(struct actions *a, int c, const char *name, const char *arg)
{
	const char *problem;

	switch (c) {
	case OPT_BLOCK: case OPT_UNBLOCK:
		set_group(a, G_BLOCK, name);
		a->block = c == OPT_BLOCK;
		break;
	case OPT_SNOOZE:
		set_group(a, G_STATUS, name);
		a->status = "snoozed";
		a->snooze = SNOOZE_FOR;
		a->snooze_text = arg;
		if ((problem = parse_duration(arg, a->snooze_seconds)) != NULL)
			errx(EX_USAGE, "invalid duration \"%s\": %s", arg,
			    problem);
		break;
	case OPT_SNOOZE_UNTIL:
		set_group(a, G_STATUS, name);
		a->status = "snoozed";
		parse_snooze_until(a, arg);
		break;
	case OPT_CLOSE: case OPT_REOPEN:
		set_group(a, G_STATUS, name);
		a->status = c == OPT_CLOSE ? "closed" : "open";
		break;
	case OPT_READ: case OPT_UNREAD:
		set_group(a, G_READ, name);
		a->read = c == OPT_READ;
		break;
	case OPT_ASSIGN: case OPT_UNASSIGN:
		set_group(a, G_ASSIGN, name);
		if (arg != NULL)
			cli_check_name("assignee", arg);
		a->assignee = arg;
		break;
	case OPT_DISMISS_FLAG: case OPT_CONFIRM_OPT_OUT:
		set_group(a, G_FLAG, name);
		a->confirm = c == OPT_CONFIRM_OPT_OUT;
		break;
	default:
		return -1;
	}
	return 0;
}

static const struct option options[] = {
	{ "account", required_argument, NULL, 'a' },
	{ "assign", required_argument, NULL, OPT_ASSIGN },
	{ "block", no_argument, NULL, OPT_BLOCK },
	{ "close", no_argument, NULL, OPT_CLOSE },
	{ "confirm-opt-out", no_argument, NULL, OPT_CONFIRM_OPT_OUT },
	{ "db", required_argument, NULL, 'd' },
	{ "dismiss-flag", no_argument, NULL, OPT_DISMISS_FLAG },
	{ "help", no_argument, NULL, 'h' },
	{ "operator", required_argument, NULL, 'o' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "read", no_argument, NULL, OPT_READ },
	{ "reopen", no_argument, NULL, OPT_REOPEN },
	{ "snooze", required_argument, NULL, OPT_SNOOZE },
	{ "snooze-until", required_argument, NULL, OPT_SNOOZE_UNTIL },
	{ "unassign", no_argument, NULL, OPT_UNASSIGN },
	{ "unblock", no_argument, NULL, OPT_UNBLOCK },
	{ "unread", no_argument, NULL, OPT_UNREAD },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	CLI_COMPLETE_OPTION,
	{ NULL, 0, NULL, 0 },
};

/* Values of option arguments and operands for the shell completions. */
static const char *
complete_value(int option, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	switch (option) {
	case 'a': return CLI_ACCOUNT;
	case OPT_SNOOZE: return "30m 1h 3h 1d 2d 1w";
	case 0: return CLI_CONVERSATION;
	}
	return NULL;
}

static const struct cli_program prog = {
	"a:d:ho:qvV", options, complete_value,
};

static void
parse_options(struct marker *m, int argc, char **argv, const char **db)
{
	int c, index;
	size_t i;

	while ((c = getopt_long(argc, argv, prog.shortopts, options, &index))
	    != -1) {
		switch (c) {
		case CLI_OPT_COMPLETE:
			cli_complete(&prog, optarg, argc - optind, argv + optind);
		case 'q': cli_verbosity = CLI_QUIET; break;
		case 'v': cli_verbosity = CLI_VERBOSE; break;
		case 'a': m->account = optarg; break;
		case 'd': *db = cli_conninfo_option(optarg); break;
		case 'h': help(); break;
		case 'V': db_print_version(); break;
		case 'o':
			cli_check_name("operator", optarg);
			m->operator = optarg;
			break;
		default:
			if (c < OPT_BLOCK || parse_action(&m->a, c,
			    options[index].name, optarg) != 0)
				usage();
		}
	}
	for (i = 0; i < G_COUNT && m->a.given[i] == NULL; i++)
		continue;
	if (i == G_COUNT) {
		warnx("no action given");
		usage();
	}
}

/* Read $CONVO_NOW, the time that tests use as now, into NOW. */
static const char *
fixed_now(char now[TIME_MAX])
{
	const char *env = getenv("CONVO_NOW");

	if (env == NULL || *env == '\0')
		return NULL;
	if (time_to_utc(env, now) != 0)
		errx(EX_USAGE, "invalid CONVO_NOW \"%s\": expected an RFC 3339 "
		    "time", env);
	return now;
}

int
main(int argc, char **argv)
{
	struct marker m = { 0 };
	const char *db = NULL;
	char now[TIME_MAX];
	int i;

	/* A closed pipe must show up as a failed write, not end the run. */
	signal(SIGPIPE, SIG_IGN);
	parse_options(&m, argc, argv, &db);
	argc -= optind;
	argv += optind;
	m.account = convo_account(m.account);
	m.now = fixed_now(now);
	m.operator = cli_operator(m.operator);
	if (argc == 0 && isatty(STDIN_FILENO))
		usage();
	m.conn = db_connect(db);
	snprintf(m.account_id, sizeof(m.account_id), "%lld",
	    db_account(m.conn, m.account, m.country));
	if (argc == 0)
		read_stdin(&m);
	/* "-" reads records from standard input in its place. */
	for (i = 0; i < argc && !m.output_closed; i++)
		if (strcmp(argv[i], "-") == 0)
			read_stdin(&m);
		else
			mark_one(&m, argv[i], 0);
	cli_phase("mark");
	PQfinish(m.conn);
	if (m.output_closed || view_flush() != 0 || ferror(stdout))
		m.status = exit_merge(m.status, EX_IOERR);
	return m.status;
}
