/*
 * convo-read: print threads oldest to newest as NDJSON message records,
 * or as a chat on a terminal, and mark them read once they were written
 * out completely.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <jv.h>
#include <libpq-fe.h>

#include "buf.h"
#include "cli.h"
#include "convo.h"
#include "db.h"
#include "json.h"
#include "linereader.h"
#include "phone.h"
#include "record.h"
#include "views.h"

struct reader {
	PGconn *conn;
	const char *account;
	char account_id[32];
	char country[8];
	const char *before;	/* message id cursor, or NULL */
	/*
	 * The --before message's sent_at and provider id, and the start of
	 * the month before its own, from which the page before it is read
	 * first.
	 */
	char cursor_at[48];
	char *cursor_pmid;
	char cursor_since[40];
	long long limit;
	int mark_read;
	int status;
	int output_closed;
	int json;		/* --json: records even on a terminal */
	int people;		/* print the chat view, not records */
	struct view_tty tty;
};

/* A thread: one customer on one channel, and its conversation if any. */
struct thread {
	char profile_id[32];
	char phone[PHONE_MAX];
	char channel[40];
	char conversation_id[32];	/* "" when the customer has none */
	char *name;			/* NULL when the profile has none */
	/*
	 * The start of the UTC month before the conversation's last message
	 * and the end of the month after it, or "" when unknown. The
	 * thread's newest messages are in the partitions of those months.
	 */
	char since[40];
	char until[40];
	/*
	 * The columns of THREAD_CONSENT, "" for NULL. Every consent change
	 * of the thread is stated before the later of the two.
	 */
	char consent_last[48];
	char consent_ahead[48];
};

/* Times passed to queries, in UTC to the microsecond. */
#define QUERY_TIME(expr) \
	"to_char(" expr ", 'YYYY-MM-DD HH24:MI:SS.US\"+00\"')"

/*
 * The start of the UTC month MONTHS after that of c.last_at, as a
 * timestamptz literal.
 */
#define THREAD_MONTH(months) \
	"to_char(date_trunc('month', c.last_at AT TIME ZONE 'UTC') " \
	"+ interval '" months " month', 'YYYY-MM-DD \"00:00:00+00\"')"
#define THREAD_MONTHS THREAD_MONTH("-1") ", " THREAD_MONTH("2")

/*
 * Two columns, each NULL when there is no such time. The first is just
 * after the effective time of the consent in force of the thread's
 * customer on CHANNEL. The second is just after the latest stated time
 * of one of its consent changes that was recorded before that time.
 */
#define THREAD_CONSENT(channel) \
	QUERY_TIME("(SELECT s.changed_at AT TIME ZONE 'UTC' " \
	"+ interval '1 microsecond' FROM convo.consent s " \
	"WHERE s.account_id = p.account_id AND s.profile_id = p.profile_id " \
	"AND s.channel = " channel ")") ", " \
	QUERY_TIME("(SELECT a.at AT TIME ZONE 'UTC' " \
	"+ interval '1 microsecond' FROM convo.consent_ahead a " \
	"WHERE a.account_id = p.account_id AND a.profile_id = p.profile_id " \
	"AND a.channel = " channel ")")

/* The customer's name as conversation records carry it, or NULL. */
#define THREAD_NAME \
	"nullif(concat_ws(' ', p.first_name, p.last_name), '')"

static void
usage(void)
{
	fprintf(stderr, "usage: convo-read [-qv] [--no-mark-read] [--json] "
	    "[--limit N] [--before CURSOR]\n"
	    "                  [--account NAME] [--db CONNINFO] "
	    "[ID | PHONE ...]\n");
	exit(EX_USAGE);
}

static void
help(void)
{
	printf("usage: convo-read [options] [ID | PHONE ...]\n"
	    "Print threads oldest to newest as NDJSON message records, or "
	    "as a chat\n"
	    "when standard output is a terminal, and mark them read. "
	    "Without\n"
	    "arguments, reads records with a conversation id or phone from "
	    "standard\n"
	    "input, such as the output of convo-list.\n\n"
	    "  -n, --limit N         newest N messages per thread (default "
	    "50, 0 for all)\n"
	    "  -b, --before CURSOR   older messages, before the message that "
	    "carried CURSOR\n"
	    "  -N, --no-mark-read    leave the unread counts as they are\n"
	    "  -j, --json            print NDJSON records on a terminal too\n"
	    "  -a, --account NAME    account (default $CONVO_ACCOUNT or "
	    "\"default\")\n"
	    "  -d, --db CONNINFO     PostgreSQL connection\n"
	    "  -q, --quiet           print no messages but warnings and "
	    "errors\n"
	    "  -v, --verbose         print the time each step takes\n"
	    "  -h, --help            show this help\n"
	    "  -V, --version         show the versions of convo and its "
	    "libraries\n\n"
	    "See convo-read(1) and convo(5).\n");
	exit(0);
}

static PGresult *
query(struct reader *r, const char *sql, int n, const char **params)
{
	PGresult *res = PQexecParams(r->conn, sql, n, NULL, params, NULL,
	    NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK)
		exit(db_report(r->conn, res, "cannot read the thread"));
	return res;
}

/*
 * Fill the months of T and the ends of its consent changes from columns
 * COL to COL + 3 of RES.
 */
static void
thread_months(struct thread *t, const PGresult *res, int col)
{
	snprintf(t->since, sizeof(t->since), "%s", PQgetvalue(res, 0, col));
	snprintf(t->until, sizeof(t->until), "%s",
	    PQgetvalue(res, 0, col + 1));
	snprintf(t->consent_last, sizeof(t->consent_last), "%s",
	    PQgetvalue(res, 0, col + 2));
	snprintf(t->consent_ahead, sizeof(t->consent_ahead), "%s",
	    PQgetvalue(res, 0, col + 3));
}

static void
thread_name(struct thread *t, const PGresult *res, int col)
{
	if (!PQgetisnull(res, 0, col))
		t->name = xstrdup(PQgetvalue(res, 0, col));
}

/* Find the thread of a conversation id "c_N". Returns 0 when found. */
static int
thread_by_id(struct reader *r, const char *id, struct thread *t)
{
	const char *params[2] = { r->account_id, id + 2 };
	PGresult *res;
	int found;

	if (strlen(id) < 3 || strlen(id) > 20 ||
	    strspn(id + 2, "0123456789") != strlen(id + 2))
		return -1;
	res = query(r, "SELECT c.profile_id, c.channel, c.conversation_id, "
	    "p.phone, " THREAD_NAME ", " THREAD_MONTHS ", "
	    THREAD_CONSENT("c.channel") " "
	    "FROM convo.conversations c "
	    "JOIN convo.profiles p "
	    "ON p.account_id = c.account_id AND p.profile_id = c.profile_id "
	    "WHERE c.account_id = $1 AND c.conversation_id = $2", 2, params);
	if ((found = PQntuples(res) == 1)) {
		snprintf(t->profile_id, sizeof(t->profile_id), "%s",
		    PQgetvalue(res, 0, 0));
		snprintf(t->channel, sizeof(t->channel), "%s",
		    PQgetvalue(res, 0, 1));
		snprintf(t->conversation_id, sizeof(t->conversation_id),
		    "c_%s", PQgetvalue(res, 0, 2));
		snprintf(t->phone, sizeof(t->phone), "%s",
		    PQgetvalue(res, 0, 3));
		thread_name(t, res, 4);
		thread_months(t, res, 5);
	}
	PQclear(res);
	return found ? 0 : -1;
}

/* Find the thread of a phone ("whatsapp:" selects that channel). */
static int
thread_by_phone(struct reader *r, const char *text, struct thread *t)
{
	const char *number, *why, *params[3];
	char phone[PHONE_MAX];
	PGresult *res;
	int found;

	snprintf(t->channel, sizeof(t->channel), "%s",
	    phone_channel(text, &number));
	if (phone_normalize(number, r->country, phone, sizeof(phone), &why))
		return -2;
	snprintf(t->phone, sizeof(t->phone), "%s", phone);
	params[0] = r->account_id;
	params[1] = phone;
	params[2] = t->channel;
	res = query(r, "SELECT p.profile_id, c.conversation_id, "
	    THREAD_NAME ", " THREAD_MONTHS ", " THREAD_CONSENT("$3")
	    " FROM convo.profiles p "
	    "LEFT JOIN convo.conversations c ON c.account_id = p.account_id "
	    "AND c.profile_id = p.profile_id AND c.channel = $3 "
	    "WHERE p.account_id = $1 AND p.phone = $2", 3, params);
	if ((found = PQntuples(res) == 1)) {
		snprintf(t->profile_id, sizeof(t->profile_id), "%s",
		    PQgetvalue(res, 0, 0));
		t->conversation_id[0] = '\0';
		if (!PQgetisnull(res, 0, 1))
			snprintf(t->conversation_id,
			    sizeof(t->conversation_id), "c_%s",
			    PQgetvalue(res, 0, 1));
		thread_name(t, res, 2);
		thread_months(t, res, 3);
	}
	PQclear(res);
	return found ? 0 : -1;
}

/*
 * Return the row of the first message to show: 1 when the query found
 * one message more than --limit, which only marks older messages.
 */
static int
first_shown(const struct reader *r, const PGresult *res)
{
	return r->limit > 0 && PQntuples(res) > r->limit ? 1 : 0;
}

/*
 * Append to SQL the condition BEFORE $N AFTER, where $N is the next
 * parameter of PARAMS, which becomes VALUE.
 */
static void
add_condition(struct buf *sql, const char **params, int *n,
    const char *value, const char *before, const char *after)
{
	char number[16];

	params[(*n)++] = value;
	snprintf(number, sizeof(number), "$%d", *n);
	buf_adds(sql, before);
	buf_adds(sql, number);
	buf_adds(sql, after);
}

/*
 * Fetch the thread's newest messages (before the cursor) in time order.
 * With BOUNDED, only those sent in the months of T->since to T->until,
 * or from R->cursor_since with a cursor. With READ_MARK, each row also
 * has the latest recording time of the thread's messages that can be
 * unread, sent before T->until when BOUNDED, which becomes the
 * conversation's read mark. Only those count as unread, and their
 * partial index finds it in one probe.
 */
static PGresult *
fetch_messages(struct reader *r, const struct thread *t, int bounded,
    int read_mark)
{
	char limit[32];
	const char *params[9] = { r->account_id, t->profile_id, t->channel,
	    limit };
	struct buf sql = { 0 };
	PGresult *res;
	int n = 4;

	/* One message more than shown tells whether older ones exist. */
	snprintf(limit, sizeof(limit), "%lld", r->limit > 0 ? r->limit + 1 :
	    (long long)1 << 62);
	buf_adds(&sql, "SELECT * FROM (SELECT " VIEW_MESSAGE_COLUMNS ", "
	    "(extract(epoch FROM m.sent_at) * 1000000)::bigint AS sent_us, "
	    QUERY_TIME("m.sent_at AT TIME ZONE 'UTC'") " AS sent_exact");
	if (read_mark)
		buf_adds(&sql, ", (SELECT max(x.recorded_at) "
		    "FROM convo.messages x "
		    "WHERE x.account_id = $1 AND x.profile_id = $2 "
		    "AND x.channel = $3 AND x.direction = 'inbound' "
		    "AND x.keyword_action IS NULL");
	/* A message sent later came after the page: it stays unread. */
	if (read_mark && bounded)
		add_condition(&sql, params, &n, t->until, " AND x.sent_at < ",
		    "::timestamptz");
	if (read_mark)
		buf_adds(&sql, ") AS read_mark");
	buf_adds(&sql, " FROM convo.messages m "
	    "WHERE m.account_id = $1 AND m.profile_id = $2 AND m.channel = $3 ");
	/*
	 * Each bound is a constant in a condition of its own on sent_at,
	 * so the plan leaves out the partitions of other months. Neither
	 * the row comparison nor a subquery would.
	 */
	if (r->before != NULL) {
		add_condition(&sql, params, &n, r->cursor_at,
		    "AND m.sent_at <= ", "::timestamptz ");
		add_condition(&sql, params, &n, r->cursor_at,
		    "AND (m.sent_at, m.provider_message_id) < (",
		    "::timestamptz, ");
		add_condition(&sql, params, &n, r->cursor_pmid, "", ") ");
	}
	if (bounded)
		add_condition(&sql, params, &n, r->before != NULL ?
		    r->cursor_since : t->since, "AND m.sent_at >= ",
		    "::timestamptz ");
	if (bounded && r->before == NULL)
		add_condition(&sql, params, &n, t->until, "AND m.sent_at < ",
		    "::timestamptz ");
	buf_adds(&sql, "ORDER BY m.sent_at DESC, m.provider_message_id DESC "
	    "LIMIT $4) t ORDER BY t.sent_us, t.provider_message_id");
	res = query(r, sql.data, n, params);
	buf_free(&sql);
	return res;
}

/*
 * Fetch the messages to show of thread T, as fetch_messages() does.
 * Planning a statement costs a little for each partition that it may
 * read, so the months around its last message, or the cursor's, are
 * tried first, and the whole thread only when their messages do not
 * fill the page.
 */
static PGresult *
fetch_page(struct reader *r, const struct thread *t, int read_mark)
{
	PGresult *res;

	if (r->limit <= 0 || (r->before == NULL && t->since[0] == '\0'))
		return fetch_messages(r, t, 0, read_mark);
	res = fetch_messages(r, t, 1, read_mark);
	if (PQntuples(res) > r->limit)
		return res;
	PQclear(res);
	return fetch_messages(r, t, 0, read_mark);
}

/*
 * Return 1 when standard output is a pipe or socket whose reader has
 * gone, which a successful write into the pipe's buffer does not show.
 */
static int
reader_gone(void)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = 0 };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP));
}

/*
 * Mark the conversation read up to READ_MARK, or NULL to keep its mark:
 * messages recorded later, which this run did not show, stay unread, and
 * no others. The conversation is locked
 * so that a concurrent convo-ingest either committed before the count
 * or records its messages after the mark.
 */
static void
mark_read(struct reader *r, const struct thread *t, const char *read_mark)
{
	const char *params[3] = { r->account_id, t->conversation_id + 2,
	    read_mark };

	PQclear(query(r, "BEGIN", 0, NULL));
	PQclear(query(r, "SELECT 1 FROM convo.conversations "
	    "WHERE account_id = $1 AND conversation_id = $2 FOR UPDATE", 2,
	    params));
	/* A new statement's snapshot includes what the lock holder committed. */
	PQclear(query(r, "UPDATE convo.conversations c SET "
	    "last_read_at = greatest(c.last_read_at, $3::timestamptz), "
	    "unread_count = (SELECT count(*) FROM convo.messages m "
	    "WHERE m.account_id = c.account_id AND m.profile_id = c.profile_id "
	    "AND m.channel = c.channel AND m.direction = 'inbound' "
	    "AND m.keyword_action IS NULL AND m.counts_unread "
	    "AND m.recorded_at > "
	    "greatest(c.last_read_at, $3::timestamptz)) "
	    "WHERE c.account_id = $1 AND c.conversation_id = $2", 3, params));
	PQclear(query(r, "COMMIT", 0, NULL));
}

/* Return S, or NULL when it is empty: an SQL NULL as a parameter. */
static const char *
null_if_empty(const char *s)
{
	return s[0] != '\0' ? s : NULL;
}

/*
 * Fetch the consent changes that belong between the messages of RES: from
 * the first message shown when older ones were left out, up to the
 * --before message when there is one, else all later ones.
 */
static PGresult *
fetch_consent(struct reader *r, const struct thread *t, const PGresult *res)
{
	int col = PQfnumber(res, "sent_exact"), n = 3;
	const char *params[8] = { r->account_id, t->profile_id, t->channel };
	struct buf sql = { 0 };
	PGresult *changes;

	buf_adds(&sql, "SELECT " VIEW_CONSENT_COLUMNS " "
	    "FROM convo.consent_changes x "
	    "WHERE x.account_id = $1 AND x.profile_id = $2 "
	    "AND x.channel = $3 ");
	/*
	 * Each bound is a condition of its own. A change never takes effect
	 * after its stated time, so a lower bound on the effective time also
	 * bounds x.at, which partition pruning can use.
	 */
	if (first_shown(r, res) > 0) {
		add_condition(&sql, params, &n, PQgetvalue(res, 1, col),
		    "AND x.at >= ", "::timestamptz ");
		add_condition(&sql, params, &n, PQgetvalue(res, 1, col),
		    "AND " VIEW_CONSENT_EFFECTIVE_AT " >= ", "::timestamptz ");
	}
	/*
	 * A change that takes effect before the cursor is stated before it
	 * or is dated ahead. Every change is stated before the later of
	 * T->consent_last and T->consent_ahead. greatest() of two constants
	 * is a constant, so the plan reads only the partitions up to it.
	 */
	add_condition(&sql, params, &n, r->before != NULL ? r->cursor_at :
	    null_if_empty(t->consent_last), "AND x.at < greatest(",
	    "::timestamptz, ");
	add_condition(&sql, params, &n, null_if_empty(t->consent_ahead), "",
	    "::timestamptz) ");
	if (r->before != NULL)
		add_condition(&sql, params, &n, r->cursor_at,
		    "AND " VIEW_CONSENT_EFFECTIVE_AT " < ", "::timestamptz ");
	buf_adds(&sql, "ORDER BY " VIEW_CONSENT_EFFECTIVE_AT ", x.change_id");
	changes = query(r, sql.data, n, params);
	buf_free(&sql);
	return changes;
}

/*
 * Print the messages of MESSAGES with the consent changes of CONSENT in
 * time order; a change comes after the message that caused it.
 */
static void
print_merged(struct reader *r, const struct thread *t,
    const PGresult *messages, const PGresult *consent)
{
	int i = first_shown(r, messages), j = 0, n = PQntuples(messages);
	int m = PQntuples(consent);
	int sent = PQfnumber(messages, "sent_us");
	int at = PQfnumber(consent, "at_us");
	const char *conversation = t->conversation_id[0] ?
	    t->conversation_id : NULL;
	jv record;

	while ((i < n || j < m) && !r->output_closed) {
		if (j < m && (i == n || atoll(PQgetvalue(consent, j, at)) <
		    atoll(PQgetvalue(messages, i, sent))))
			record = view_consent_change(consent, j++, r->account,
			    t->phone, conversation);
		else
			record = view_message(messages, i++, r->account,
			    conversation);
		if ((r->people ? view_print_chat(&r->tty, record) :
		    view_print(record)) != 0)
			r->output_closed = 1;
	}
}

/*
 * Print the chat header of thread T, with a note on how to read older
 * messages when MESSAGES leaves some out. Returns 0 or -1.
 */
static int
print_header(struct reader *r, const struct thread *t,
    const PGresult *messages, const PGresult *consent)
{
	const char *conversation = t->conversation_id[0] ?
	    t->conversation_id : NULL;
	char note[256], name[80], account[80] = "";

	/* Name the account unless the command would select it by default. */
	if (strcmp(r->account, convo_account(NULL)) != 0)
		snprintf(account, sizeof(account), "-a %s ", r->account);
	if (conversation != NULL)
		snprintf(name, sizeof(name), "%s", conversation);
	else if (strcmp(t->channel, "sms") == 0)
		snprintf(name, sizeof(name), "%s", t->phone);
	else
		snprintf(name, sizeof(name), "%s:%s", t->channel, t->phone);
	if (first_shown(r, messages) > 0)
		snprintf(note, sizeof(note), "older messages: convo-read "
		    "%s--before m_%s %s", account, PQgetvalue(messages, 1,
		    PQfnumber(messages, "message_id")), name);
	else if (PQntuples(messages) == 0 && PQntuples(consent) == 0 &&
	    r->before != NULL)
		snprintf(note, sizeof(note), "no older messages");
	else if (PQntuples(messages) == 0 && PQntuples(consent) == 0 &&
	    conversation != NULL)
		/* A customer's text started it: archive took its months. */
		snprintf(note, sizeof(note), "no messages left: the months "
		    "that held them are archived");
	else if (PQntuples(messages) == 0 && PQntuples(consent) == 0)
		snprintf(note, sizeof(note), "no messages");
	else
		note[0] = '\0';
	return view_print_thread(&r->tty, t->name, t->phone, t->channel,
	    conversation, note[0] != '\0' ? note : NULL);
}

static void
print_thread(struct reader *r, const struct thread *t)
{
	const char *conversation = t->conversation_id[0] ?
	    t->conversation_id : NULL;
	int marks = r->mark_read && r->before == NULL && conversation != NULL;
	PGresult *res = fetch_page(r, t, marks);
	PGresult *consent = fetch_consent(r, t, res);
	int n = PQntuples(res), col = PQfnumber(res, "read_mark");
	char *read_mark = NULL;

	if (r->people && print_header(r, t, res, consent) != 0)
		r->output_closed = 1;
	print_merged(r, t, res, consent);
	PQclear(consent);
	if (col >= 0 && n > 0 && !PQgetisnull(res, 0, col))
		read_mark = xstrdup(PQgetvalue(res, 0, col));
	PQclear(res);
	if (!r->output_closed && (view_flush() != 0 || reader_gone()))
		r->output_closed = 1;
	/*
	 * Without a read mark, as when the months of the unread messages are
	 * archived, the count is taken again from the messages left.
	 */
	if (!r->output_closed && r->mark_read && r->before == NULL &&
	    conversation != NULL)
		mark_read(r, t, read_mark);
	free(read_mark);
}

/*
 * Find the --before message of R's account and keep its time and provider
 * id, or exit when there is none.
 */
static void
find_cursor(struct reader *r)
{
	const char *params[2] = { r->account_id, r->before + 2 };
	PGresult *res;

	res = query(r, "SELECT " QUERY_TIME("b.sent_at AT TIME ZONE 'UTC'")
	    ", b.provider_message_id, to_char(date_trunc('month', "
	    "b.sent_at AT TIME ZONE 'UTC') - interval '1 month', "
	    "'YYYY-MM-DD \"00:00:00+00\"') FROM convo.message_keys b "
	    "WHERE b.account_id = $1 AND b.message_id = $2", 2, params);
	if (PQntuples(res) != 1)
		errx(EX_DATAERR, "cursor \"%s\" not found: no message of "
		    "account \"%s\" has that id", r->before, r->account);
	snprintf(r->cursor_at, sizeof(r->cursor_at), "%s",
	    PQgetvalue(res, 0, 0));
	r->cursor_pmid = xstrdup(PQgetvalue(res, 0, 1));
	snprintf(r->cursor_since, sizeof(r->cursor_since), "%s",
	    PQgetvalue(res, 0, 2));
	PQclear(res);
}

/* Print the thread named by ARG, an id "c_N" or a phone number. */
static void
read_one(struct reader *r, const char *arg, long long line)
{
	struct thread t = { .name = NULL };
	char where[48] = "";
	int rc;

	if (line > 0)
		snprintf(where, sizeof(where), "line %lld: ", line);
	if (strncmp(arg, "c_", 2) == 0)
		rc = thread_by_id(r, arg, &t);
	else
		rc = thread_by_phone(r, arg, &t);
	if (rc == -2)
		warnx("%sinvalid phone number or conversation id \"%s\"",
		    where, arg);
	else if (rc != 0)
		warnx("%sconversation \"%s\" not found; list conversations "
		    "with convo-list", where, arg);
	if (rc != 0) {
		r->status = exit_merge(r->status, EX_DATAERR);
		free(t.name);
		return;
	}
	print_thread(r, &t);
	free(t.name);
}

static void
read_stdin(struct reader *r)
{
	struct record_last_target last = { "" };
	struct linereader lr;
	const char *line;
	size_t len;
	int too_long;
	jv rec, target, error;

	linereader_init(&lr, STDIN_FILENO, CONVO_LINE_MAX);
	while (!r->output_closed &&
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
			/* The records of a thread print it once. */
		} else if (jv_is_valid(target)) {
			read_one(r, jv_string_value(target), lr.lineno);
		} else if (jv_get_kind(rec) == JV_KIND_OBJECT &&
		    jv_object_has(jv_copy(rec), jv_string("type"))) {
			/* Typed records that name no thread pass by, as
			 * status results in a convo-ingest stream do. */
		} else {
			error = record_target_error(rec);
			warnx("line %lld: %s", lr.lineno,
			    jv_string_value(error));
			jv_free(error);
			r->status = exit_merge(r->status, EX_DATAERR);
		}
		jv_free(target);
		jv_free(rec);
	}
	linereader_free(&lr);
}

/* Values of option arguments and operands for the shell completions. */
static const char *
complete_value(int option, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	switch (option) {
	case 'a': return CLI_ACCOUNT;
	case 0: return CLI_CONVERSATION;
	}
	return NULL;
}

static void
parse_options(struct reader *r, int argc, char **argv, const char **db)
{
	static const struct option options[] = {
		{ "account", required_argument, NULL, 'a' },
		{ "before", required_argument, NULL, 'b' },
		{ "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'n' },
		{ "no-mark-read", no_argument, NULL, 'N' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		CLI_COMPLETE_OPTION,
		{ NULL, 0, NULL, 0 },
	};
	static const struct cli_program prog = {
		"a:b:d:hjn:NqvV", options, complete_value,
	};
	const char *errstr;
	int c;

	while ((c = getopt_long(argc, argv, prog.shortopts, options, NULL))
	    != -1) {
		switch (c) {
		case CLI_OPT_COMPLETE:
			cli_complete(&prog, optarg, argc - optind, argv + optind);
		case 'q': cli_verbosity = CLI_QUIET; break;
		case 'v': cli_verbosity = CLI_VERBOSE; break;
		case 'a': r->account = optarg; break;
		case 'd': *db = cli_conninfo_option(optarg); break;
		case 'h': help(); break;
		case 'j': r->json = 1; break;
		case 'N': r->mark_read = 0; break;
		case 'V': db_print_version(); break;
		case 'b':
			if (strncmp(optarg, "m_", 2) != 0 || optarg[2] == '\0' ||
			    strlen(optarg) > 20 || strspn(optarg + 2,
			    "0123456789") != strlen(optarg + 2))
				errx(EX_USAGE, "invalid cursor \"%s\": use the "
				    "cursor field of a message record", optarg);
			r->before = optarg;
			break;
		case 'n':
			r->limit = cli_number(optarg, 0, 1000000000, &errstr);
			if (errstr != NULL)
				errx(EX_USAGE, "limit \"%s\" is %s: expected a "
				    "number of messages, 0 for all", optarg,
				    errstr);
			break;
		default:
			usage();
		}
	}
}

int
main(int argc, char **argv)
{
	struct reader r = { .limit = 50, .mark_read = 1 };
	const char *db = NULL;
	long long account;
	int i;

	/* A closed pipe must show up as a failed write, not end the run. */
	signal(SIGPIPE, SIG_IGN);
	parse_options(&r, argc, argv, &db);
	argc -= optind;
	argv += optind;
	r.account = convo_account(r.account);
	if (argc == 0 && isatty(STDIN_FILENO))
		usage();
	r.people = !r.json && isatty(STDOUT_FILENO);
	if (r.people)
		view_tty_init(&r.tty);
	r.conn = db_connect_account(db, r.account, &account, r.country);
	snprintf(r.account_id, sizeof(r.account_id), "%lld", account);
	if (r.before != NULL)
		find_cursor(&r);
	if (argc == 0)
		read_stdin(&r);
	/* "-" reads records from standard input in its place. */
	for (i = 0; i < argc && !r.output_closed; i++)
		if (strcmp(argv[i], "-") == 0)
			read_stdin(&r);
		else
			read_one(&r, argv[i], 0);
	cli_phase("read");
	free(r.cursor_pmid);
	PQfinish(r.conn);
	if (r.output_closed || ferror(stdout))
		r.status = exit_merge(r.status, EX_IOERR);
	return r.status;
}
