/*
 * gen-events: write N synthetic SMS event records for the benchmarks of
 * bench/run, spread over several accounts, one NDJSON file per account.
 * It can also write the message rows of those records as a CSV file for
 * COPY and as a SQL script of one INSERT per row, so that convo-ingest and
 * plain PostgreSQL loads are compared on the same messages.
 *
 * Of every 100 records, on average, 2 repeat an earlier message line
 * exactly, as a redelivered webhook does. 5 are keyword messages (STOP,
 * START, HELP and their variants) and 5 are delivery receipts of earlier
 * outbound messages. The rest are ordinary messages, 60% inbound and 40%
 * outbound. Each account's records start at 2026-01-01 and are 1 to 30
 * seconds apart, or 1 to 2g - 1 seconds with -g g. Output is the same
 * for the same options and seed.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#define ACCOUNTS_MAX	100
#define RING_SIZE	256	/* recent lines kept for duplicates */
#define LINE_MAX_BYTES	4096
#define START_EPOCH	1767225600	/* 2026-01-01T00:00:00Z */

/* Share of each kind of record, per 100 records. */
#define PCT_DUPLICATE	2
#define PCT_KEYWORD	5
#define PCT_STATUS	5

struct account {
	FILE	*out;
	long long sent_at;		/* seconds since the epoch */
	long long messages;		/* message records written */
	char	 brand[32];		/* the brand's phone number */
	char	 ring[RING_SIZE][LINE_MAX_BYTES];	/* recent message lines */
	int	 ring_len;
	char	 outbound[RING_SIZE][40];	/* recent outbound ids */
	int	 outbound_len;
};

struct options {
	long long records;
	int	 accounts;
	long long customers;
	long long first_account_id;
	uint64_t seed;
	const char *dir;
	const char *prefix;
	const char *csv_path;
	const char *sql_path;
	const char *sql_table;
	long long gap;			/* mean seconds between messages */
};

/* Keyword texts as customers type them, with their normal form and action. */
static const struct {
	const char *text, *word, *action;
} keywords[] = {
	{ "STOP", "stop", "opt_out" },
	{ "Stop", "stop", "opt_out" },
	{ "stop.", "stop", "opt_out" },
	{ "UNSUBSCRIBE", "unsubscribe", "opt_out" },
	{ "STOP ALL", "stop all", "opt_out" },
	{ "START", "start", "opt_in" },
	{ "Start", "start", "opt_in" },
	{ "HELP", "help", "help" },
	{ "help?", "help", "help" },
	{ "INFO", "info", "help" },
};

/*
 * Message bodies from one word to four segments. Some contain characters
 * outside GSM-7 (accents are inside it, the emoji and curly quotes are
 * not), and some contain quotes, apostrophes and commas, which the CSV,
 * SQL and JSON writers must escape.
 */
static const char *const short_bodies[] = {
	"ok", "Thanks!", "yes please", "Where is my order?", "👍",
	"Can I change my delivery address?", "Is the store open today?",
	"Got it, thank you", "What time do you close?", "No",
	"Did my refund go through?", "Perfect 😊",
};
static const char *const medium_bodies[] = {
	"Hi, I ordered the winter boots last week and the tracking page still "
	    "says \"label created\". Can you check?",
	"I'd like to return the blue jacket, it's a size too small. How do I "
	    "get a return label?",
	"Your package is out for delivery today between 2 and 6 pm. Reply "
	    "with any questions.",
	"Thanks for your order! We'll text you when it ships. Order total: "
	    "$84.20.",
	"Café au lait or espresso? Both are 20% off until Sunday, just show "
	    "this text.",
	"Can you hold the order until I'm back on Monday? I won’t be home "
	    "this weekend.",
};
static const char *const long_bodies[] = {
	"Hello, I placed an order on the 3rd (two pairs of boots and a scarf) "
	    "and only the scarf arrived. The box looked fine, so I don't think "
	    "anything fell out. Could you check whether the boots shipped "
	    "separately, and if not, send them or refund me? Thanks a lot.",
	"Reminder: your appointment at the Main St store is tomorrow at 10:30. "
	    "Please bring your receipt and the item you want to exchange. If "
	    "you need to move it, reply with a day and time that suits you and "
	    "we will confirm within the hour.",
	"Hi! The jacket I got is great but the zip sticks halfway 🙁 I tried "
	    "the trick from your website with the pencil and it didn't help. "
	    "Is this covered by the warranty? I still have the box and the tags "
	    "are on. I can drop it at a store if that's easier.",
	"We're sorry, the item you ordered (Trail Runner, size 42, colour "
	    "slate) is out of stock at the warehouse. We can ship a similar "
	    "model today at the same price, hold your order until the restock "
	    "on the 20th, or refund you in full. Reply 1, 2 or 3 to choose, and "
	    "we will take care of the rest right away.",
};

static uint64_t rng_state;

/* xorshift64*: fast, and the same sequence on every platform. */
static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* Return a number from 0 to N - 1. */
static uint64_t
rng_below(uint64_t n)
{
	return rng_next() % n;
}

static void
usage(void)
{
	fprintf(stderr, "usage: gen-events [-n records] [-a accounts] "
	    "[-c customers] [-s seed]\n"
	    "                  [-g mean-gap-seconds] "
	    "[-p prefix] [-i first-account-id]\n"
	    "                  [-C csv-file]\n"
	    "                  [-S sql-file -T table] -o dir\n");
	exit(EX_USAGE);
}

static long long
parse_count(const char *s, const char *what, long long min, long long max)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || n < min || n > max)
		errx(EX_USAGE, "invalid %s \"%s\": expected an integer from "
		    "%lld to %lld", what, s, min, max);
	return n;
}

/* Write the phone number of customer INDEX (from 0) of the whole run. */
static void
customer_phone(long long index, char *phone, size_t size)
{
	/* +1 212 200-0000 and up: a valid North American number. */
	snprintf(phone, size, "+1212%07lld", 2000000 + index);
}

static void
format_time(long long epoch, char *out, size_t size)
{
	time_t t = (time_t)epoch;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Append S to the JSON string being built in OUT, escaped, with quotes. */
static char *
json_string(char *out, const char *s)
{
	*out++ = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			*out++ = '\\';
			*out++ = (char)c;
		} else if (c < 0x20) {
			out += sprintf(out, "\\u%04x", c);
		} else {
			*out++ = (char)c;
		}
	}
	*out++ = '"';
	*out = '\0';
	return out;
}

/* Write S as a CSV field, quoted, with quotes doubled. */
static void
csv_field(FILE *f, const char *s)
{
	putc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			putc('"', f);
		putc(*s, f);
	}
	putc('"', f);
}

/* Write S as a SQL string literal, or NULL. */
static void
sql_literal(FILE *f, const char *s)
{
	if (s == NULL) {
		fputs("NULL", f);
		return;
	}
	putc('\'', f);
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			putc('\'', f);
		putc(*s, f);
	}
	putc('\'', f);
}

/* One message as convo-ingest would store it, for the CSV and SQL files. */
struct message_row {
	long long account_id;
	const char *provider_message_id;
	long long profile_id;
	const char *direction;
	const char *origin;
	const char *from, *to;
	const char *body;
	const char *sent_at;
	const char *status;		/* initial status, or NULL */
	const char *keyword, *keyword_action;
};

#define ROW_COLUMNS "account_id, provider, provider_message_id, " \
	"profile_id, channel, direction, origin, from_address, to_address, " \
	"body, sent_at, initial_status, status, status_at, keyword, " \
	"keyword_action"

static void
write_csv_row(FILE *f, const struct message_row *r)
{
	fprintf(f, "%lld,twilio,%s,%lld,sms,%s,", r->account_id,
	    r->provider_message_id, r->profile_id, r->direction);
	if (r->origin != NULL)
		fputs(r->origin, f);
	fprintf(f, ",%s,%s,", r->from, r->to);
	csv_field(f, r->body);
	fprintf(f, ",%s,", r->sent_at);
	if (r->status != NULL)
		fprintf(f, "%s,%s,%s,", r->status, r->status, r->sent_at);
	else
		fputs(",,,", f);
	if (r->keyword != NULL)
		fprintf(f, "%s,%s", r->keyword, r->keyword_action);
	else
		putc(',', f);
	putc('\n', f);
}

static void
write_sql_row(FILE *f, const char *table, const struct message_row *r)
{
	fprintf(f, "INSERT INTO %s (" ROW_COLUMNS ") VALUES (%lld, 'twilio', "
	    "'%s', %lld, 'sms', '%s', ", table, r->account_id,
	    r->provider_message_id, r->profile_id, r->direction);
	sql_literal(f, r->origin);
	fprintf(f, ", '%s', '%s', ", r->from, r->to);
	sql_literal(f, r->body);
	fprintf(f, ", '%s', ", r->sent_at);
	sql_literal(f, r->status);
	fputs(", ", f);
	sql_literal(f, r->status);
	fputs(", ", f);
	sql_literal(f, r->status != NULL ? r->sent_at : NULL);
	fputs(", ", f);
	sql_literal(f, r->keyword);
	fputs(", ", f);
	sql_literal(f, r->keyword_action);
	fputs(");\n", f);
}

static const char *
pick_body(void)
{
	uint64_t roll = rng_below(100);

	if (roll < 45)
		return short_bodies[rng_below(sizeof(short_bodies) /
		    sizeof(short_bodies[0]))];
	if (roll < 85)
		return medium_bodies[rng_below(sizeof(medium_bodies) /
		    sizeof(medium_bodies[0]))];
	return long_bodies[rng_below(sizeof(long_bodies) /
	    sizeof(long_bodies[0]))];
}

/* Write a delivery receipt for a recent outbound message of A. */
static void
write_status(struct account *a)
{
	static const char *const statuses[] = {
		"sent", "delivered", "delivered", "delivered", "undelivered"
	};
	const char *id = a->outbound[rng_below(a->outbound_len)];
	const char *status = statuses[rng_below(5)];
	char at[32];

	format_time(a->sent_at, at, sizeof(at));
	fprintf(a->out, "{\"type\":\"status\",\"provider\":\"twilio\","
	    "\"provider_message_id\":\"%s\",\"status\":\"%s\","
	    "\"error_code\":%s,\"at\":\"%s\"}\n", id, status,
	    strcmp(status, "undelivered") == 0 ? "\"30003\"" : "null", at);
}

int
main(int argc, char **argv)
{
	struct options o = {
		.records = 20000, .accounts = 10, .customers = 100000,
		.first_account_id = 1, .seed = 1, .prefix = "bench-",
	};
	struct account *accounts;
	FILE *csv = NULL, *sql = NULL;
	long long i, per_account;
	int ch, k;

	while ((ch = getopt(argc, argv, "a:C:c:g:i:n:o:p:S:s:T:")) != -1) {
		switch (ch) {
		case 'a':
			o.accounts = (int)parse_count(optarg, "account count",
			    1, ACCOUNTS_MAX);
			break;
		case 'C': o.csv_path = optarg; break;
		case 'c':
			o.customers = parse_count(optarg, "customer count", 1,
			    7999999);
			break;
		case 'g':
			o.gap = parse_count(optarg, "gap in seconds", 1,
			    86400);
			break;
		case 'i':
			o.first_account_id = parse_count(optarg, "account id",
			    1, 1000000000);
			break;
		case 'n':
			o.records = parse_count(optarg, "record count", 1,
			    1000000000);
			break;
		case 'o': o.dir = optarg; break;
		case 'p': o.prefix = optarg; break;
		case 'S': o.sql_path = optarg; break;
		case 's':
			o.seed = (uint64_t)parse_count(optarg, "seed", 1,
			    INT64_MAX);
			break;
		case 'T': o.sql_table = optarg; break;
		default:
			usage();
		}
	}
	if (optind != argc || o.dir == NULL ||
	    (o.sql_path != NULL) != (o.sql_table != NULL))
		usage();
	if (o.customers < o.accounts)
		errx(EX_USAGE, "customer count %lld is less than the account "
		    "count %d", o.customers, o.accounts);
	rng_state = o.seed * 0x9E3779B97F4A7C15ULL | 1;
	per_account = o.customers / o.accounts;

	if ((accounts = calloc(o.accounts, sizeof(*accounts))) == NULL)
		err(EX_OSERR, "calloc");
	for (k = 0; k < o.accounts; k++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/events-%s%02d.ndjson", o.dir,
		    o.prefix, k + 1);
		if ((accounts[k].out = fopen(path, "w")) == NULL)
			err(EX_CANTCREAT, "%s", path);
		accounts[k].sent_at = START_EPOCH;
		snprintf(accounts[k].brand, sizeof(accounts[k].brand),
		    "+1202555%04d", 100 + k);
	}
	if (o.csv_path != NULL) {
		if ((csv = fopen(o.csv_path, "w")) == NULL)
			err(EX_CANTCREAT, "%s", o.csv_path);
		/* The header names the columns for COPY ... (HEADER). */
		fputs(ROW_COLUMNS "\n", csv);
	}
	if (o.sql_path != NULL) {
		if ((sql = fopen(o.sql_path, "w")) == NULL)
			err(EX_CANTCREAT, "%s", o.sql_path);
		fputs("BEGIN;\n", sql);
	}

	for (i = 0; i < o.records; i++) {
		struct account *a = &accounts[i % o.accounts];
		long long account_index = i % o.accounts;
		long long customer = account_index * per_account +
		    (long long)rng_below(per_account);
		char line[LINE_MAX_BYTES], id[40], at[32], phone[32], *p;
		struct message_row row;
		uint64_t roll = rng_below(100);
		int inbound, kw = -1;

		a->sent_at += o.gap > 0 ?
		    1 + (long long)rng_below(2 * o.gap - 1) :
		    1 + (long long)rng_below(30);
		if (roll < PCT_DUPLICATE && a->ring_len > 0) {
			fputs(a->ring[rng_below(a->ring_len)], a->out);
			continue;
		}
		if (roll < PCT_DUPLICATE + PCT_STATUS && a->outbound_len > 0) {
			write_status(a);
			continue;
		}
		if (roll < PCT_DUPLICATE + PCT_STATUS + PCT_KEYWORD)
			kw = (int)rng_below(sizeof(keywords) /
			    sizeof(keywords[0]));
		inbound = kw >= 0 || rng_below(100) < 60;

		snprintf(id, sizeof(id), "SM%08llx%024llx",
		    account_index + 1, a->messages++);
		format_time(a->sent_at, at, sizeof(at));
		customer_phone(customer, phone, sizeof(phone));
		row = (struct message_row){
			.account_id = o.first_account_id + account_index,
			.provider_message_id = id,
			.profile_id = customer + 1,
			.direction = inbound ? "inbound" : "outbound",
			.origin = inbound ? NULL :
			    rng_below(4) == 0 ? "campaign" : "conversation",
			.from = inbound ? phone : a->brand,
			.to = inbound ? a->brand : phone,
			.body = kw >= 0 ? keywords[kw].text : pick_body(),
			.sent_at = at,
			.status = inbound ? NULL : "sent",
			.keyword = kw >= 0 ? keywords[kw].word : NULL,
			.keyword_action = kw >= 0 ? keywords[kw].action : NULL,
		};

		p = line + sprintf(line, "{\"type\":\"message\",\"direction\":"
		    "\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"body\":",
		    row.direction, row.from, row.to);
		p = json_string(p, row.body);
		p += sprintf(p, ",\"provider\":\"twilio\","
		    "\"provider_message_id\":\"%s\",\"sent_at\":\"%s\"", id,
		    at);
		if (row.origin != NULL)
			p += sprintf(p, ",\"origin\":\"%s\",\"status\":\"%s\"",
			    row.origin, row.status);
		strcpy(p, "}\n");
		fputs(line, a->out);

		/* Keep the line for duplicates and the id for receipts. */
		strcpy(a->ring[a->ring_len < RING_SIZE ? a->ring_len++ :
		    (int)rng_below(RING_SIZE)], line);
		if (!inbound)
			strcpy(a->outbound[a->outbound_len < RING_SIZE ?
			    a->outbound_len++ : (int)rng_below(RING_SIZE)], id);
		if (csv != NULL)
			write_csv_row(csv, &row);
		if (sql != NULL)
			write_sql_row(sql, o.sql_table, &row);
	}

	for (k = 0; k < o.accounts; k++)
		if (fclose(accounts[k].out) != 0)
			err(EX_IOERR, "cannot write the events of account %d",
			    k + 1);
	if (csv != NULL && fclose(csv) != 0)
		err(EX_IOERR, "%s", o.csv_path);
	if (sql != NULL) {
		fputs("COMMIT;\n", sql);
		if (fclose(sql) != 0)
			err(EX_IOERR, "%s", o.sql_path);
	}
	free(accounts);
	return 0;
}
