/*
 * convo-list: print an account's conversations newest first, as NDJSON
 * conversation records with keyset paging, or as a table on a terminal.
 */
#include <err.h>
#include <getopt.h>
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
#include "phone.h"
#include "timeutil.h"
#include "views.h"

struct query {
	struct buf sql;
	const char *params[16];
	char *owned[16];
	int n;
};

/* Values of the long options that have no short form. */
enum {
	OPT_SINCE = 256,
	OPT_ASSIGNED,
	OPT_UNASSIGNED,
	OPT_BLOCKED,
	OPT_COUNTS,
};

struct options {
	const char *db;
	const char *account;
	const char *status;
	const char *before;
	const char *search;
	const char *since;
	const char *assigned;
	const char *country;
	long long limit;
	int unread;
	int flagged;
	int unassigned;
	int blocked;
	int counts;
	int json;
	int status_given;
	int table;		/* print the table for people, not records */
};

/*
 * Media of the last message when it has no text, as JSON text, for the
 * table. The lookup by the key of the message, whose sent_at is the
 * conversation's last_at, probes one partition's index. It finds nothing
 * once the month of the message is archived.
 */
#define LAST_MEDIA_COLUMN \
	", CASE WHEN coalesce(c.last_body, '') = '' THEN " \
	"(SELECT m.media::text FROM convo.messages m " \
	"WHERE m.account_id = c.account_id " \
	"AND m.message_id = c.last_message_id AND m.sent_at = c.last_at) " \
	"END AS last_media "

static void
usage(void)
{
	fprintf(stderr, "usage: convo-list [-qv] [--unread] [--flagged] "
	    "[--blocked] [--status STATUS]\n"
	    "                  [--assigned NAME | --unassigned] "
	    "[--search TEXT] [--since TIME]\n"
	    "                  [--counts] [--json] [--limit N] "
	    "[--before CURSOR]\n"
	    "                  [--account NAME] [--db CONNINFO]\n");
	exit(EX_USAGE);
}

static void
help(void)
{
	printf("usage: convo-list [options]\n"
	    "Print conversations newest first as NDJSON conversation "
	    "records, or as a\n"
	    "table when standard output is a terminal.\n\n"
	    "  -u, --unread          only conversations with unread "
	    "messages\n"
	    "  -F, --flagged         only conversations with a possible "
	    "opt-out to review\n"
	    "      --blocked         only blocked conversations\n"
	    "      --assigned NAME   only conversations assigned to NAME\n"
	    "      --unassigned      only conversations assigned to nobody\n"
	    "  -s, --status STATUS   open, snoozed, closed or all (default "
	    "open, or all\n"
	    "                        with --counts)\n"
	    "  -n, --limit N         at most N records (default 50, 0 for "
	    "all)\n"
	    "  -b, --before CURSOR   the page after the record that carried "
	    "CURSOR\n"
	    "  -S, --search TEXT     name, phone or last message contains "
	    "TEXT\n"
	    "                        (case-insensitive)\n"
	    "      --since TIME      last message at or after TIME (RFC 3339 "
	    "or a\n"
	    "                        duration such as 2h, 30m, 7d)\n"
	    "      --counts          print one record that counts the "
	    "conversations\n"
	    "                        by status, unread, flagged and blocked\n"
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
	    "See convo-list(1) and convo(5).\n");
	exit(0);
}

/* Add a parameter and return its placeholder number. */
static int
param(struct query *q, const char *value)
{
	q->owned[q->n] = value ? xstrdup(value) : NULL;
	q->params[q->n] = q->owned[q->n];
	return ++q->n;
}

static void
where(struct query *q, const char *fmt, int n)
{
	char clause[256];

	snprintf(clause, sizeof(clause), fmt, n, n);
	buf_adds(&q->sql, clause);
}

/* Return 1 when TEXT looks like (part of) a phone number. */
static int
phone_like(const char *text)
{
	return strspn(text, "+0123456789 ()-.") == strlen(text) &&
	    strpbrk(text, "0123456789") != NULL;
}

/*
 * A LIKE pattern that matches TEXT anywhere, lower-cased by the server.
 * With DIGITS_ONLY, the pattern keeps only the digits of TEXT, so that
 * "(201) 555-01" finds +12015550123.
 */
static char *
search_pattern(const char *text, int digits_only)
{
	struct buf b = { 0 };
	const char *p;
	int phone = digits_only;

	buf_addc(&b, '%');
	for (p = text; *p != '\0'; p++) {
		if (phone && (*p < '0' || *p > '9'))
			continue;
		if (*p == '%' || *p == '_' || *p == '\\')
			buf_addc(&b, '\\');
		buf_addc(&b, *p);
	}
	buf_addc(&b, '%');
	return b.data;
}

/* Split a cursor "TIME~ID" into its parts. Returns 0 when well formed. */
static int
parse_cursor(const char *cursor, char *at, size_t atsz, char *id,
    size_t idsz)
{
	const char *tilde = strrchr(cursor, '~');
	char when[TIME_MAX];
	size_t n;

	if (tilde == NULL || (n = tilde - cursor) >= atsz ||
	    strlen(tilde + 1) >= idsz || strlen(tilde + 1) > 18 ||
	    tilde[1] == '\0' ||
	    strspn(tilde + 1, "0123456789") != strlen(tilde + 1))
		return -1;
	memcpy(at, cursor, n);
	at[n] = '\0';
	snprintf(id, idsz, "%s", tilde + 1);
	snprintf(when, sizeof(when), "%s", at);
	return time_to_utc(when, at);
}

/*
 * TODO: a search that matches one row in 500 of 1,000,000 takes 15 ms.
 * Every match is read before the newest 50 are kept (docs/benchmarks.md,
 * "Search: no plan under 5 ms found").
 */
static void
add_search(struct query *q, const char *search, const char *country)
{
	char *pattern, e164[PHONE_MAX];
	const char *why;

	pattern = search_pattern(search, 0);
	where(q, " AND (c.search_text LIKE lower($%d)", param(q, pattern));
	free(pattern);
	if (phone_like(search)) {
		pattern = search_pattern(search, 1);
		where(q, " OR c.search_text LIKE $%d", param(q, pattern));
		free(pattern);
		/*
		 * A whole national number, such as "020 7946 0018" in GB,
		 * has a trunk prefix that its E.164 form lacks.
		 */
		if (phone_normalize(search, country, e164, sizeof(e164),
		    &why) == 0) {
			pattern = search_pattern(e164, 0);
			where(q, " OR c.search_text LIKE $%d", param(q,
			    pattern));
			free(pattern);
		}
	}
	buf_adds(&q->sql, ")");
}

/* Add the conditions of the filters in O, which all must match. */
static void
add_filters(struct query *q, const struct options *o)
{
	char since[TIME_MAX];

	if (o->unread)
		buf_adds(&q->sql, " AND c.unread_count > 0");
	if (o->flagged)
		buf_adds(&q->sql, " AND c.flagged_message_id IS NOT NULL");
	if (o->blocked)
		buf_adds(&q->sql, " AND c.blocked");
	if (o->unassigned)
		buf_adds(&q->sql, " AND c.assignee IS NULL");
	if (o->assigned != NULL)
		where(q, " AND c.assignee = $%d", param(q, o->assigned));
	/*
	 * Spelled out rather than through VIEW_EFFECTIVE_STATUS, so that the
	 * planner estimates the share of open conversations from the column
	 * statistics and walks the recency index for a first page.
	 */
	if (strcmp(o->status, "open") == 0)
		buf_adds(&q->sql, " AND (c.status = 'open' OR (c.status = "
		    "'snoozed' AND c.snoozed_until <= now()))");
	else if (strcmp(o->status, "snoozed") == 0)
		buf_adds(&q->sql, " AND c.status = 'snoozed' AND "
		    "c.snoozed_until > now()");
	else if (strcmp(o->status, "closed") == 0)
		buf_adds(&q->sql, " AND c.status = 'closed'");
	if (o->search != NULL)
		add_search(q, o->search, o->country);
	if (o->since != NULL) {
		if (time_since(o->since, since) != 0)
			errx(EX_USAGE, "invalid time \"%s\": expected RFC 3339 "
			    "or a duration such as 2h", o->since);
		where(q, " AND c.last_at >= $%d", param(q, since));
	}
}

static void
build_query(struct query *q, const struct options *o, long long account)
{
	char num[32], at[TIME_MAX], id[32];

	/*
	 * The page comes from the conversations alone, through one of their
	 * indexes; profiles and consent are joined to its rows only.
	 */
	snprintf(num, sizeof(num), "%lld", account);
	buf_adds(&q->sql, VIEW_CONVERSATION_COLUMNS);
	if (o->table)
		buf_adds(&q->sql, LAST_MEDIA_COLUMN);
	buf_adds(&q->sql, "FROM (SELECT c.* "
	    "FROM convo.conversations c WHERE c.account_id = $1");
	param(q, num);
	add_filters(q, o);
	if (o->before != NULL) {
		if (parse_cursor(o->before, at, sizeof(at), id, sizeof(id)))
			errx(EX_USAGE, "invalid cursor \"%s\": use the cursor "
			    "field of a convo-list record", o->before);
		where(q, " AND (c.last_at, c.conversation_id) < ($%d", param(q,
		    at));
		where(q, ", $%d)", param(q, id));
	}
	buf_adds(&q->sql, " ORDER BY c.last_at DESC, c.conversation_id DESC");
	if (o->limit > 0) {
		snprintf(num, sizeof(num), "%lld", o->limit);
		where(q, " LIMIT $%d", param(q, num));
	}
	buf_adds(&q->sql, o->limit > 0 ? ") c" VIEW_CONVERSATION_PAGE_JOINS :
	    ") c" VIEW_CONVERSATION_JOINS);
	buf_adds(&q->sql, " ORDER BY c.last_at DESC, c.conversation_id DESC");
}

/*
 * Build the query of --counts. A snoozed conversation whose time has
 * passed counts as open, as it lists as open.
 */
static void
build_counts(struct query *q, const struct options *o, long long account)
{
	char num[32];

	snprintf(num, sizeof(num), "%lld", account);
	buf_adds(&q->sql, "SELECT "
	    "count(*) FILTER (WHERE " VIEW_EFFECTIVE_STATUS " = 'open') "
	    "AS open, "
	    "count(*) FILTER (WHERE " VIEW_EFFECTIVE_STATUS " = 'snoozed') "
	    "AS snoozed, "
	    "count(*) FILTER (WHERE " VIEW_EFFECTIVE_STATUS " = 'closed') "
	    "AS closed, "
	    "count(*) FILTER (WHERE c.unread_count > 0) AS unread, "
	    "count(*) FILTER (WHERE c.flagged_message_id IS NOT NULL) "
	    "AS flagged, "
	    "count(*) FILTER (WHERE c.blocked) AS blocked "
	    "FROM convo.conversations c WHERE c.account_id = $1");
	param(q, num);
	add_filters(q, o);
}

static void
check_options(struct options *o)
{
	if (o->assigned != NULL && o->unassigned)
		errx(EX_USAGE, "--assigned and --unassigned exclude each "
		    "other: give one of them");
	if (o->counts && o->before != NULL)
		errx(EX_USAGE, "--before pages through conversations and "
		    "does not apply to --counts: remove it");
	/* The counts break down by status, so they cover all by default. */
	if (o->counts && !o->status_given)
		o->status = "all";
}

/* Values of option arguments for the shell completions. */
static const char *
complete_value(int option, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	switch (option) {
	case 'a': return CLI_ACCOUNT;
	case 's': return "open snoozed closed all";
	case OPT_SINCE: return "1h 1d 7d 30d";
	}
	return NULL;
}

static void
parse_options(struct options *o, int argc, char **argv)
{
	static const struct option options[] = {
		{ "account", required_argument, NULL, 'a' },
		{ "assigned", required_argument, NULL, OPT_ASSIGNED },
		{ "before", required_argument, NULL, 'b' },
		{ "blocked", no_argument, NULL, OPT_BLOCKED },
		{ "counts", no_argument, NULL, OPT_COUNTS },
		{ "db", required_argument, NULL, 'd' },
		{ "flagged", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'n' },
		{ "search", required_argument, NULL, 'S' },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "status", required_argument, NULL, 's' },
		{ "unassigned", no_argument, NULL, OPT_UNASSIGNED },
		{ "unread", no_argument, NULL, 'u' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		CLI_COMPLETE_OPTION,
		{ NULL, 0, NULL, 0 },
	};
	static const struct cli_program prog = {
		"a:b:d:Fhjn:qS:s:uvV", options, complete_value,
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
		case 'a': o->account = optarg; break;
		case 'b': o->before = optarg; break;
		case 'd': o->db = cli_conninfo_option(optarg); break;
		case 'F': o->flagged = 1; break;
		case 'h': help(); break;
		case 'j': o->json = 1; break;
		case 'S': o->search = optarg; break;
		case 'u': o->unread = 1; break;
		case OPT_BLOCKED: o->blocked = 1; break;
		case OPT_COUNTS: o->counts = 1; break;
		case OPT_SINCE: o->since = optarg; break;
		case OPT_UNASSIGNED: o->unassigned = 1; break;
		case OPT_ASSIGNED:
			if (*optarg == '\0')
				errx(EX_USAGE, "invalid assignee \"\": "
				    "expected a name, or --unassigned");
			o->assigned = optarg;
			break;
		case 'V': db_print_version(); break;
		case 'n':
			o->limit = cli_number(optarg, 0, 1000000000, &errstr);
			if (errstr != NULL)
				errx(EX_USAGE, "limit \"%s\" is %s: expected a "
				    "number of records, 0 for all", optarg,
				    errstr);
			break;
		case 's':
			if (strcmp(optarg, "open") && strcmp(optarg, "snoozed")
			    && strcmp(optarg, "closed") && strcmp(optarg, "all"))
				errx(EX_USAGE, "unknown status \"%s\": expected "
				    "open, snoozed, closed or all", optarg);
			o->status = optarg;
			o->status_given = 1;
			break;
		default:
			usage();
		}
	}
	cli_reject_operands(optind, argc, argv, usage);
	check_options(o);
}

/* Build the conversation_counts record of the one row of RES. */
static jv
counts_record(const PGresult *res, const char *account)
{
	static const char *const keys[] = {
		"open", "snoozed", "closed", "unread", "flagged", "blocked"
	};
	jv r = jv_object();
	size_t i;

	r = jv_object_set(r, jv_string("type"),
	    jv_string("conversation_counts"));
	r = jv_object_set(r, jv_string("account"), jv_string(account));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		r = jv_object_set(r, jv_string(keys[i]), jv_number(atof(
		    PQgetvalue(res, 0, PQfnumber(res, keys[i])))));
	return r;
}

/*
 * Build the conversation record of row ROW for the table. Its
 * last_message also gets the last_media column as media, which records
 * leave out.
 */
static jv
table_conversation(const PGresult *res, int row, const char *account)
{
	jv rec = view_conversation(res, row, account), last, media;
	int col = PQfnumber(res, "last_media");

	if (col < 0 || PQgetisnull(res, row, col))
		return rec;
	media = jv_parse(PQgetvalue(res, row, col));
	if (!jv_is_valid(media)) {
		jv_free(media);
		return rec;
	}
	last = jv_object_get(jv_copy(rec), jv_string("last_message"));
	last = jv_object_set(last, jv_string("media"), media);
	return jv_object_set(rec, jv_string("last_message"), last);
}

/* Print the rows of RES as records, or for people on a terminal. */
static int
print_rows(const PGresult *res, const struct options *o)
{
	struct view_tty tty;
	jv rows;
	int i, n = PQntuples(res);

	if (o->counts && !o->table)
		return view_print(counts_record(res, o->account));
	if (!o->table) {
		for (i = 0; i < n; i++)
			if (view_print(view_conversation(res, i, o->account)))
				return -1;
		return 0;
	}
	view_tty_init(&tty);
	tty.now = tty_now();
	if (o->counts)
		return view_print_counts(counts_record(res, o->account), &tty);
	rows = jv_array();
	for (i = 0; i < n; i++)
		rows = jv_array_append(rows, table_conversation(res, i,
		    o->account));
	return view_print_table(rows, &tty);
}

int
main(int argc, char **argv)
{
	struct options o = { .status = "open", .limit = 50 };
	struct query q = { 0 };
	char country[8];
	PGconn *conn;
	PGresult *res;
	long long account;
	int i, status = 0;

	/* A closed pipe must show up as a failed write, not end the run. */
	signal(SIGPIPE, SIG_IGN);
	parse_options(&o, argc, argv);
	o.table = !o.json && isatty(STDOUT_FILENO);
	o.account = convo_account(o.account);
	conn = db_connect_account(o.db, o.account, &account, country);
	o.country = country;
	if (o.counts)
		build_counts(&q, &o, account);
	else
		build_query(&q, &o, account);
	res = PQexecParams(conn, q.sql.data, q.n, NULL, q.params, NULL, NULL,
	    0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		exit(db_report(conn, res, o.counts ?
		    "cannot count conversations" :
		    "cannot list conversations"));
	cli_phase("query");
	if (print_rows(res, &o) != 0)
		status = EX_IOERR;
	PQclear(res);
	PQfinish(conn);
	for (i = 0; i < q.n; i++)
		free(q.owned[i]);
	buf_free(&q.sql);
	if (status == 0 && view_flush() != 0)
		status = EX_IOERR;
	cli_phase("output");
	return status;
}
