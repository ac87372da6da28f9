/*
 * convo-send: send one-to-one replies through Twilio, only to customers
 * who wrote first and are subscribed, through a stored outbox so that a
 * re-run never sends a message twice.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jq.h>
#include <jv.h>
#include <libpq-fe.h>

#include "buf.h"
#include "convo.h"
#include "db.h"
#include "linereader.h"
#include "phone.h"
#include "record.h"
#include "segments.h"
#include "twilio.h"
#include "views.h"

/* Twilio's limits on one message. */
#define BODY_MAX_CHARACTERS 1600
#define SEND_MEDIA_MAX 10

struct options {
	const char *db;
	const char *account;
	const char *to;
	const char *conversation;
	const char *body;
	const char *body_jq;
	const char *from;
	const char *idempotency_key;
	const char *media[SEND_MEDIA_MAX];
	int nmedia;
	int new_conversation;
	int dry_run;
	int retry_unknown;
	int quiet_start;	/* minutes after midnight, -1 when unset */
	int quiet_end;
	double rate;		/* messages per second per sender, 0 = no limit */
	int max_attempts;
	long window_hours;	/* idempotency window */
	int quiet;
};

/* One message to send, resolved against the database. */
struct job {
	long long line;
	jv input;		/* the input record, borrowed */
	char phone[PHONE_MAX];
	char channel[40];
	char profile_id[32];
	char conversation_id[32];	/* "" when none */
	char brand[128];	/* sender: number, short code or MG id */
	char consent[32];
	char key[80];		/* idempotency key */
	char origin[32];
	int blocked;
	int keyword_reply;	/* a verified keyword reply */
	int local_minutes;	/* customer's local time, -1 when unknown */
	jv body;		/* string */
	jv media;		/* array of strings */
	struct segments seg;
};

struct sender {
	struct options o;
	PGconn *conn;
	char account_id[32];
	char country[8];
	jq_state *jq;
	struct twilio twilio;
	double next_send;	/* monotonic time the sender may send again */
	int status;
	long long sent, duplicate, deferred, rejected, failed, unknown;
	long long queued, skipped;
};

static void
usage(void)
{
	fprintf(stderr, "usage: convo-send [-nqN] [--to PHONE | --conversation "
	    "ID] [--body TEXT | --body-file FILE\n"
	    "                  | --body-jq FILTER] [--media URL] [--from "
	    "SENDER] [--new]\n"
	    "                  [--idempotency-key KEY] [--quiet-hours "
	    "HH:MM-HH:MM] [--rate N]\n"
	    "                  [--max-attempts N] [--retry-unknown] "
	    "[--account NAME] [--db CONNINFO]\n");
	exit(EX_USAGE);
}

static void
help(void)
{
	printf("usage: convo-send [options] [< records]\n"
	    "Send replies through Twilio to customers who wrote first and are "
	    "subscribed.\n"
	    "Without --to or --conversation, reads NDJSON records (send, "
	    "conversation\n"
	    "or untyped records naming a conversation or phone) on standard "
	    "input.\n\n"
	    "  -t, --to PHONE            recipient phone number\n"
	    "  -c, --conversation ID     recipient conversation (c_N)\n"
	    "  -b, --body TEXT           message text\n"
	    "  -B, --body-file FILE      message text from FILE\n"
	    "  -j, --body-jq FILTER      build each body from its input "
	    "record with jq\n"
	    "  -m, --media URL           attach media (https, up to 10)\n"
	    "  -f, --from SENDER         send from this number or messaging "
	    "service\n"
	    "      --new                 start a conversation with a "
	    "subscribed customer\n"
	    "  -k, --idempotency-key KEY the same key within the window is "
	    "sent once\n"
	    "      --quiet-hours RANGE   defer in the customer's local hours, "
	    "e.g. 21:00-08:00\n"
	    "      --rate N              messages per second per sender "
	    "(default 1, 0 = no limit)\n"
	    "      --max-attempts N      tries for throttled or failed "
	    "requests (default 4)\n"
	    "      --retry-unknown       send again messages whose outcome is "
	    "unknown\n"
	    "  -n, --dry-run             check and show requests, send and "
	    "store nothing\n"
	    "  -a, --account NAME        account (default $CONVO_ACCOUNT or "
	    "\"default\")\n"
	    "  -d, --db CONNINFO         PostgreSQL connection\n"
	    "  -q, --quiet               no summary line on standard error\n"
	    "  -h, --help                show this help\n"
	    "  -V, --version             show the version\n\n"
	    "See convo-send(1) and convo(5).\n");
	exit(0);
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
sleep_seconds(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Write a send_result record for JOB with STATUS and optional REASON. */
static void
result(struct sender *s, const struct job *j, const char *status,
    const char *reason, jv extra)
{
	jv r = jv_object_set(jv_object(), jv_string("type"),
	    jv_string("send_result"));

	r = jv_object_set(r, jv_string("status"), jv_string(status));
	if (reason != NULL)
		r = jv_object_set(r, jv_string("reason"), jv_string(reason));
	r = jv_object_set(r, jv_string("to"), j->phone[0] ?
	    jv_string(j->phone) : jv_null());
	r = jv_object_set(r, jv_string("conversation_id"),
	    j->conversation_id[0] ? jv_string(j->conversation_id) : jv_null());
	if (j->seg.encoding != NULL) {
		r = jv_object_set(r, jv_string("encoding"),
		    jv_string(j->seg.encoding));
		r = jv_object_set(r, jv_string("segments"),
		    jv_number(j->seg.segments));
		r = jv_object_set(r, jv_string("units"),
		    jv_number(j->seg.units));
	}
	if (j->line > 0)
		r = jv_object_set(r, jv_string("input_line"),
		    jv_number(j->line));
	if (jv_get_kind(j->input) == JV_KIND_OBJECT) {
		jv id = jv_object_get(jv_copy(j->input), jv_string("id"));

		if (jv_get_kind(id) == JV_KIND_STRING)
			r = jv_object_set(r, jv_string("input_id"), id);
		else
			jv_free(id);
	}
	if (jv_get_kind(extra) == JV_KIND_OBJECT) {
		jv_object_foreach(extra, key, value)
			r = jv_object_set(r, key, value);
	}
	jv_free(extra);
	if (view_print(r) != 0)
		s->status = exit_merge(s->status, EX_IOERR);
}

static void
reject(struct sender *s, const struct job *j, const char *reason,
    const char *message)
{
	s->rejected++;
	s->status = exit_merge(s->status, EX_DATAERR);
	if (j->line > 0)
		warnx("line %lld: not sent: %s", j->line, message);
	else
		warnx("not sent: %s", message);
	result(s, j, "rejected", reason, jv_object_set(jv_object(),
	    jv_string("message"), jv_string(message)));
}

static PGresult *
query(struct sender *s, const char *sql, int n, const char *const *params)
{
	PGresult *res = PQexecParams(s->conn, sql, n, NULL, params, NULL,
	    NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK)
		exit(db_report(s->conn, res, "database statement failed"));
	return res;
}

static void
copy_value(const PGresult *res, int col, char *out, size_t n)
{
	snprintf(out, n, "%s", PQgetisnull(res, 0, col) ? "" :
	    PQgetvalue(res, 0, col));
}

/*
 * Find the customer of J by conversation id CONVERSATION ("c_N") or by
 * phone, with the conversation, consent, block and local time. Returns
 * 0, or -1 when nobody matches.
 */
static int
resolve(struct sender *s, struct job *j, const char *conversation)
{
	char quiet[8];
	const char *params[5] = { s->account_id, j->phone, j->channel,
	    conversation ? conversation + 2 : NULL, quiet };
	PGresult *res;
	int found;

	snprintf(quiet, sizeof(quiet), "%d", s->o.quiet_start >= 0);
	res = query(s, "SELECT p.profile_id, p.phone, "
	    "coalesce(c.channel, $3), c.conversation_id, c.brand_address, "
	    "coalesce(c.blocked, false), coalesce(s.status, 'never_subscribed'), "
	    "CASE WHEN $5::int = 1 AND p.timezone IN "
	    "(SELECT name FROM pg_timezone_names) THEN "
	    "(extract(hour FROM now() AT TIME ZONE p.timezone) * 60 + "
	    "extract(minute FROM now() AT TIME ZONE p.timezone))::int END "
	    "FROM convo.profiles p "
	    "LEFT JOIN convo.conversations c ON c.account_id = p.account_id "
	    "AND c.profile_id = p.profile_id AND (c.channel = $3 "
	    "OR c.conversation_id = $4::bigint) "
	    "LEFT JOIN convo.consent s ON s.account_id = p.account_id "
	    "AND s.profile_id = p.profile_id "
	    "AND s.channel = coalesce(c.channel, $3) "
	    "WHERE p.account_id = $1 AND CASE WHEN $4::bigint IS NULL "
	    "THEN p.phone = $2 ELSE c.conversation_id = $4::bigint END",
	    5, params);
	if ((found = PQntuples(res) == 1)) {
		copy_value(res, 0, j->profile_id, sizeof(j->profile_id));
		copy_value(res, 1, j->phone, sizeof(j->phone));
		copy_value(res, 2, j->channel, sizeof(j->channel));
		if (!PQgetisnull(res, 0, 3))
			snprintf(j->conversation_id, sizeof(j->conversation_id),
			    "c_%s", PQgetvalue(res, 0, 3));
		copy_value(res, 4, j->brand, sizeof(j->brand));
		j->blocked = PQgetvalue(res, 0, 5)[0] == 't';
		copy_value(res, 6, j->consent, sizeof(j->consent));
		j->local_minutes = PQgetisnull(res, 0, 7) ? -1 :
		    atoi(PQgetvalue(res, 0, 7));
	}
	PQclear(res);
	return found ? 0 : -1;
}

/*
 * Return 1 when J is a keyword reply that carrier rules require: a
 * "send" record whose in_reply_to names an opt-out or help keyword
 * message from this customer.
 */
static int
verified_keyword_reply(struct sender *s, const struct job *j)
{
	jv type = jv_object_get(jv_copy(j->input), jv_string("type"));
	jv origin = jv_object_get(jv_copy(j->input), jv_string("origin"));
	jv reply_to = jv_object_get(jv_copy(j->input),
	    jv_string("in_reply_to"));
	const char *params[3] = { s->account_id, j->profile_id, NULL };
	PGresult *res;
	int ok = 0;

	if (jv_get_kind(type) == JV_KIND_STRING &&
	    strcmp(jv_string_value(type), "send") == 0 &&
	    jv_get_kind(origin) == JV_KIND_STRING &&
	    strcmp(jv_string_value(origin), "keyword_reply") == 0 &&
	    jv_get_kind(reply_to) == JV_KIND_STRING) {
		params[2] = jv_string_value(reply_to);
		res = query(s, "SELECT 1 FROM convo.messages "
		    "WHERE account_id = $1 AND profile_id = $2 "
		    "AND provider_message_id = $3 AND direction = 'inbound' "
		    "AND keyword_action IN ('opt_out', 'help', 'opt_in')", 3,
		    params);
		ok = PQntuples(res) > 0;
		PQclear(res);
	}
	jv_free(type);
	jv_free(origin);
	jv_free(reply_to);
	return ok;
}

/* Return 1 when MINUTES after midnight falls in the quiet hours. */
static int
in_quiet_hours(const struct options *o, int minutes)
{
	if (o->quiet_start < 0 || minutes < 0)
		return 0;
	if (o->quiet_start <= o->quiet_end)
		return minutes >= o->quiet_start && minutes < o->quiet_end;
	return minutes >= o->quiet_start || minutes < o->quiet_end;
}

/* Check the body and media of J; returns a reason code or NULL. */
static const char *
check_content(const struct job *j, char *message, size_t n)
{
	const char *body = jv_string_value(j->body);
	int i, count = jv_array_length(jv_copy(j->media));
	int chars = segments_characters(body, strlen(body));

	if (chars < 0 || strlen(body) !=
	    (size_t)jv_string_length_bytes(jv_copy(j->body))) {
		snprintf(message, n, "body is not UTF-8 text without NUL "
		    "characters");
		return "invalid_body";
	}
	if (chars == 0 && count == 0) {
		snprintf(message, n, "empty body and no media");
		return "empty_body";
	}
	if (chars > BODY_MAX_CHARACTERS) {
		snprintf(message, n, "body of %d characters is longer than "
		    "%d", chars, BODY_MAX_CHARACTERS);
		return "body_too_long";
	}
	if (count > SEND_MEDIA_MAX) {
		snprintf(message, n, "%d media URLs: at most %d", count,
		    SEND_MEDIA_MAX);
		return "too_many_media";
	}
	for (i = 0; i < count; i++) {
		jv url = jv_array_get(jv_copy(j->media), i);
		int ok = jv_get_kind(url) == JV_KIND_STRING &&
		    strncmp(jv_string_value(url), "https://", 8) == 0 &&
		    strlen(jv_string_value(url)) > 8 &&
		    strpbrk(jv_string_value(url), " \t\r\n") == NULL;

		if (!ok)
			snprintf(message, n, "media URL %d is not an absolute "
			    "https URL", i + 1);
		jv_free(url);
		if (!ok)
			return "invalid_media_url";
	}
	return NULL;
}

/* Check whether J may be sent; returns a reason code or NULL. */
static const char *
check_recipient(struct sender *s, struct job *j, char *message, size_t n)
{
	if (!j->keyword_reply && j->conversation_id[0] == '\0' &&
	    !s->o.new_conversation) {
		snprintf(message, n, "%s has no conversation: the customer "
		    "has not written (use --new to start one)", j->phone);
		return "no_conversation";
	}
	if (!j->keyword_reply && strcmp(j->consent, "subscribed") != 0) {
		snprintf(message, n, "%s is %s, not subscribed", j->phone,
		    j->consent);
		return "not_subscribed";
	}
	if (j->blocked) {
		snprintf(message, n, "conversation %s is blocked",
		    j->conversation_id);
		return "blocked";
	}
	if (j->brand[0] == '\0') {
		snprintf(message, n, "no sender for %s: the customer never "
		    "wrote to a brand number; use --from or CONVO_FROM",
		    j->phone);
		return "no_sender";
	}
	return NULL;
}
/*
 * Derive the idempotency key of J: the caller's key, made specific to the
 * recipient, or a digest of recipient, channel, body, media and the
 * keyword message a reply answers.
 */
static void
derive_key(struct sender *s, struct job *j)
{
	jv given = jv_object_get(jv_copy(j->input),
	    jv_string("idempotency_key"));
	jv reply_to = jv_object_get(jv_copy(j->input),
	    jv_string("in_reply_to"));
	jv media = jv_dump_string(jv_copy(j->media), 0);
	const char *params[6] = { j->phone, j->channel,
	    jv_string_value(j->body), jv_string_value(media),
	    jv_get_kind(reply_to) == JV_KIND_STRING ?
	    jv_string_value(reply_to) : "", NULL };
	PGresult *res;

	if (jv_get_kind(given) == JV_KIND_STRING)
		params[5] = jv_string_value(given);
	else if (s->o.idempotency_key != NULL)
		params[5] = s->o.idempotency_key;
	res = query(s, "SELECT CASE WHEN $6::text IS NULL THEN 'd:' || "
	    "encode(sha256(convert_to(concat_ws(chr(31), $1::text, $2::text, "
	    "$3::text, $4::text, $5::text), 'UTF8')), 'hex') "
	    "ELSE 'k:' || encode(sha256(convert_to(concat_ws(chr(31), "
	    "$6::text, $1::text, $2::text), 'UTF8')), 'hex') END", 6, params);
	snprintf(j->key, sizeof(j->key), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	jv_free(given);
	jv_free(reply_to);
	jv_free(media);
}

enum claim { CLAIM_NEW, CLAIM_RETRY, CLAIM_DONE, CLAIM_UNKNOWN };

/*
 * Store J in the outbox as queued, or find the row a previous run stored
 * with the same key within the window. Returns what to do with it and
 * its id in OUTBOX; for a finished row, its state, sid and error go into
 * ROW.
 */
static enum claim
claim(struct sender *s, struct job *j, char outbox[32], PGresult **row)
{
	char window[32], segs[16], units[16];
	const char *params[14];
	PGresult *res;
	enum claim c;
	jv media = jv_dump_string(jv_copy(j->media), 0);

	snprintf(window, sizeof(window), "%ld hours", s->o.window_hours);
	snprintf(segs, sizeof(segs), "%d", j->seg.segments);
	snprintf(units, sizeof(units), "%d", j->seg.units);
	params[0] = s->account_id;
	params[1] = j->key;
	params[2] = window;
	PQclear(query(s, "BEGIN", 0, NULL));
	PQclear(query(s, "SELECT pg_advisory_xact_lock("
	    "hashtextextended($2, $1::bigint))", 2, params));
	res = query(s, "SELECT outbox_id, state, provider_message_id, "
	    "error_code, error_message FROM convo.outbox "
	    "WHERE account_id = $1 AND idempotency_key = $2 "
	    "AND created_at > now() - $3::interval "
	    "ORDER BY created_at DESC LIMIT 1", 3, params);
	if (PQntuples(res) == 1) {
		const char *state = PQgetvalue(res, 0, 1);

		snprintf(outbox, 32, "%s", PQgetvalue(res, 0, 0));
		c = strcmp(state, "queued") == 0 ? CLAIM_RETRY :
		    strcmp(state, "sending") == 0 ? CLAIM_UNKNOWN : CLAIM_DONE;
		*row = res;
		PQclear(query(s, "COMMIT", 0, NULL));
		jv_free(media);
		return c;
	}
	PQclear(res);
	params[2] = j->profile_id;
	params[3] = j->channel;
	params[4] = j->conversation_id[0] ? j->conversation_id + 2 : NULL;
	params[5] = j->phone;
	params[6] = strncmp(j->brand, "MG", 2) == 0 ? NULL : j->brand;
	params[7] = strncmp(j->brand, "MG", 2) == 0 ? j->brand : NULL;
	params[8] = jv_string_value(j->body);
	params[9] = jv_string_value(media);
	params[10] = j->origin;
	params[11] = j->seg.encoding;
	params[12] = segs;
	params[13] = units;
	res = query(s, "INSERT INTO convo.outbox (account_id, "
	    "idempotency_key, profile_id, channel, conversation_id, "
	    "to_address, from_address, messaging_service_sid, body, media, "
	    "origin, provider, encoding, segments, units) VALUES ($1, $2, $3, "
	    "$4, $5, $6, $7, $8, $9, $10, $11, 'twilio', $12, $13, $14) "
	    "RETURNING outbox_id", 14, params);
	snprintf(outbox, 32, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	PQclear(query(s, "COMMIT", 0, NULL));
	jv_free(media);
	*row = NULL;
	return CLAIM_NEW;
}

/* Report a row that an earlier run finished or left in doubt. */
static void
report_claimed(struct sender *s, const struct job *j, enum claim c,
    const char *outbox, PGresult *row)
{
	jv extra = jv_object_set(jv_object(), jv_string("outbox_id"),
	    jv_string_fmt("o_%s", outbox));

	if (!PQgetisnull(row, 0, 2))
		extra = jv_object_set(extra, jv_string("provider_message_id"),
		    jv_string(PQgetvalue(row, 0, 2)));
	extra = jv_object_set(extra, jv_string("previous_state"),
	    jv_string(PQgetvalue(row, 0, 1)));
	if (c == CLAIM_UNKNOWN) {
		s->unknown++;
		s->status = exit_merge(s->status, EX_TEMPFAIL);
		result(s, j, "unknown", "outcome_unknown", extra);
		return;
	}
	s->duplicate++;
	result(s, j, "duplicate", NULL, extra);
}

static void
set_state(struct sender *s, const char *outbox, const char *state)
{
	const char *params[3] = { s->account_id, outbox, state };

	PQclear(query(s, "UPDATE convo.outbox SET state = $3, "
	    "attempts = attempts + (CASE WHEN $3 = 'sending' THEN 1 ELSE 0 END), "
	    "updated_at = now() WHERE account_id = $1 AND outbox_id = $2",
	    3, params));
}

/* Wait before attempt ATTEMPT (from 1): Retry-After, else backoff. */
static void
backoff(const struct twilio_response *res, int attempt)
{
	double wait = 0.5 * (1 << (attempt > 6 ? 6 : attempt));

	if (res->retry_after_s >= 0)
		wait = res->retry_after_s;
	wait += wait * 0.25 * ((double)arc4random_uniform(1000) / 1000.0);
	if (wait > 60)
		wait = 60;
	sleep_seconds(wait);
}

/* Space messages per sender by their segment count. */
static void
pace(struct sender *s, const struct job *j)
{
	double now = now_seconds();

	if (s->o.rate <= 0)
		return;
	if (s->next_send > now)
		sleep_seconds(s->next_send - now);
	s->next_send = now_seconds() + j->seg.segments / s->o.rate;
}

static void
request_of(const struct job *j, struct twilio_request *req,
    const char **media)
{
	int i;

	memset(req, 0, sizeof(*req));
	req->to = j->phone;
	if (strncmp(j->brand, "MG", 2) == 0)
		req->service_sid = j->brand;
	else
		req->from = j->brand;
	req->body = jv_string_value(j->body);
	req->nmedia = jv_array_length(jv_copy(j->media));
	for (i = 0; i < req->nmedia; i++) {
		jv url = jv_array_get(jv_copy(j->media), i);

		media[i] = jv_string_value(url);
		jv_free(url);	/* the array still holds the string */
	}
	req->media = media;
	req->status_callback = getenv("CONVO_STATUS_CALLBACK");
}

static void
record_sent(struct sender *s, const struct job *j, const char *outbox,
    const struct twilio_response *res)
{
	const char *params[4] = { s->account_id, outbox, res->sid,
	    res->status[0] ? res->status : "queued" };
	jv extra;

	PQclear(query(s, "SELECT convo.outbox_sent($1, $2, $3, $4)", 4,
	    params));
	s->sent++;
	extra = jv_object_set(jv_object(), jv_string("provider_message_id"),
	    jv_string(res->sid));
	extra = jv_object_set(extra, jv_string("outbox_id"),
	    jv_string_fmt("o_%s", outbox));
	result(s, j, "sent", NULL, extra);
}

static void
record_failed(struct sender *s, const struct job *j, const char *outbox,
    const struct twilio_response *res)
{
	const char *params[4] = { s->account_id, outbox,
	    res->error_code[0] ? res->error_code : NULL, res->error_message };
	jv extra = jv_object();

	PQclear(query(s, "SELECT convo.outbox_failed($1, $2, $3, $4)", 4,
	    params));
	s->failed++;
	s->status = exit_merge(s->status, EX_DATAERR);
	warnx("%s: provider error %s: %s", j->phone,
	    res->error_code[0] ? res->error_code : "-", res->error_message);
	if (res->error_code[0] != '\0')
		extra = jv_object_set(extra, jv_string("error_code"),
		    jv_number(atof(res->error_code)));
	extra = jv_object_set(extra, jv_string("error_message"),
	    jv_string(res->error_message));
	extra = jv_object_set(extra, jv_string("outbox_id"),
	    jv_string_fmt("o_%s", outbox));
	result(s, j, "failed", res->error_code[0] == '2' &&
	    strcmp(res->error_code, "21610") == 0 ? "unsubscribed" :
	    "provider_error", extra);
}

/*
 * Make the requests for the outbox row OUTBOX until one is answered for
 * good or the attempts run out; a row whose requests all went
 * unanswered or were throttled goes back to queued for a later run.
 */
static void
deliver(struct sender *s, const struct job *j, const char *outbox)
{
	struct twilio_request req;
	struct twilio_response res;
	const char *media[SEND_MEDIA_MAX];
	int attempt;

	request_of(j, &req, media);
	for (attempt = 1; attempt <= s->o.max_attempts; attempt++) {
		pace(s, j);
		set_state(s, outbox, "sending");
		twilio_send(&s->twilio, &req, &res);
		if (res.http_status >= 200 && res.http_status < 300 &&
		    res.sid[0] != '\0') {
			record_sent(s, j, outbox, &res);
			return;
		}
		if (!twilio_retryable(&res)) {
			record_failed(s, j, outbox, &res);
			return;
		}
		/* TODO: a timed-out request may have been sent; Twilio has no
		 * idempotency key, so this retry can send it twice. */
		set_state(s, outbox, "queued");
		if (attempt < s->o.max_attempts)
			backoff(&res, attempt);
	}
	s->queued++;
	s->status = exit_merge(s->status, EX_TEMPFAIL);
	warnx("%s: still queued after %d attempts: %s", j->phone,
	    s->o.max_attempts, res.transport_error[0] ?
	    res.transport_error : res.error_message);
	result(s, j, "queued", "provider_unavailable",
	    jv_object_set(jv_object(), jv_string("outbox_id"),
	    jv_string_fmt("o_%s", outbox)));
}

/* Show what would be sent, with nothing sent or stored. */
static void
dry_run(struct sender *s, const struct job *j)
{
	struct twilio_request req;
	const char *media[SEND_MEDIA_MAX];
	struct buf form = { 0 };
	jv extra;

	request_of(j, &req, media);
	twilio_form(&req, &form);
	extra = jv_object_set(jv_object(), jv_string("request"),
	    jv_string(form.data ? form.data : ""));
	extra = jv_object_set(extra, jv_string("from"), jv_string(j->brand));
	result(s, j, "dry_run", NULL, extra);
	buf_free(&form);
}
static jv
string_field(jv rec, const char *name)
{
	jv v = jv_object_get(jv_copy(rec), jv_string(name));

	if (jv_get_kind(v) == JV_KIND_STRING)
		return v;
	jv_free(v);
	return jv_invalid();
}

/* Run the --body-jq filter on REC; returns a string or an invalid jv. */
static jv
body_from_jq(struct sender *s, jv rec)
{
	jv out, next;

	jq_start(s->jq, jv_copy(rec), 0);
	out = jq_next(s->jq);
	if (!jv_is_valid(out))
		return jv_invalid_with_msg(jv_invalid_has_msg(jv_copy(out)) ?
		    jv_invalid_get_msg(out) : jv_string("no output"));
	/* Drain the filter; a second output is an error. */
	next = jq_next(s->jq);
	if (jv_is_valid(next)) {
		jv_free(next);
		while (jv_is_valid(next = jq_next(s->jq)))
			jv_free(next);
		jv_free(next);
		jv_free(out);
		return jv_invalid_with_msg(jv_string("more than one output"));
	}
	jv_free(next);
	if (jv_get_kind(out) != JV_KIND_STRING) {
		jv_free(out);
		return jv_invalid_with_msg(jv_string("output is not a string"));
	}
	return out;
}

/*
 * Fill the body and media of J from its record and the options: a send
 * record keeps its own text, then --body-jq, the record's body, --body.
 */
static const char *
content_of(struct sender *s, struct job *j, char *message, size_t n)
{
	jv type = string_field(j->input, "type");
	jv body = string_field(j->input, "body");
	jv media = jv_object_get(jv_copy(j->input), jv_string("media"));
	int is_send = jv_is_valid(type) &&
	    strcmp(jv_string_value(type), "send") == 0;
	int i;

	jv_free(type);
	if (!(is_send && jv_is_valid(body)) && s->jq != NULL) {
		jv_free(body);
		body = body_from_jq(s, j->input);
		if (!jv_is_valid(body)) {
			jv msg = jv_invalid_get_msg(body);

			snprintf(message, n, "--body-jq failed: %s",
			    jv_get_kind(msg) == JV_KIND_STRING ?
			    jv_string_value(msg) : "error");
			jv_free(msg);
			jv_free(media);
			return "body_jq_error";
		}
	}
	if (!jv_is_valid(body))
		body = jv_string(s->o.body ? s->o.body : "");
	j->body = body;
	if (jv_get_kind(media) != JV_KIND_ARRAY) {
		jv_free(media);
		media = jv_array();
		for (i = 0; i < s->o.nmedia; i++)
			media = jv_array_append(media,
			    jv_string(s->o.media[i]));
	}
	j->media = media;
	return NULL;
}

/*
 * Find the recipient J names: a conversation id, else a phone, from the
 * record or the options. Returns a reason code or NULL.
 */
static const char *
recipient_of(struct sender *s, struct job *j, char *message, size_t n)
{
	jv type = string_field(j->input, "type");
	jv conv = string_field(j->input, "conversation_id");
	jv phone = string_field(j->input, "to");
	jv profile = jv_object_get(jv_copy(j->input), jv_string("profile"));
	jv chan = string_field(j->input, "channel");
	const char *conversation = NULL, *number, *why, *target = NULL;
	int rc;

	if (!jv_is_valid(conv) && jv_is_valid(type) &&
	    strcmp(jv_string_value(type), "conversation") == 0)
		conv = string_field(j->input, "id");
	if (!jv_is_valid(phone) && jv_get_kind(profile) == JV_KIND_OBJECT)
		phone = string_field(profile, "phone");
	conversation = jv_is_valid(conv) ? jv_string_value(conv) :
	    s->o.conversation;
	target = jv_is_valid(phone) ? jv_string_value(phone) : s->o.to;
	snprintf(j->channel, sizeof(j->channel), "%s", jv_is_valid(chan) ?
	    jv_string_value(chan) : "sms");
	rc = 0;
	if (conversation != NULL && (strncmp(conversation, "c_", 2) != 0 ||
	    conversation[2] == '\0' || strlen(conversation) > 20 ||
	    strspn(conversation + 2, "0123456789") != strlen(conversation + 2))) {
		snprintf(message, n, "invalid conversation id \"%s\"",
		    conversation);
		rc = 1;
	} else if (conversation == NULL && target == NULL) {
		snprintf(message, n, "no recipient: give --to, --conversation "
		    "or records with a conversation id or phone");
		rc = 1;
	} else if (conversation == NULL) {
		snprintf(j->channel, sizeof(j->channel), "%s",
		    phone_channel(target, &number));
		if (jv_is_valid(chan))
			snprintf(j->channel, sizeof(j->channel), "%s",
			    jv_string_value(chan));
		if (phone_normalize(number, s->country, j->phone,
		    sizeof(j->phone), &why) != 0) {
			snprintf(message, n, "invalid phone number \"%s\": %s",
			    target, why);
			rc = 2;
		}
	}
	if (rc == 0 && resolve(s, j, conversation) != 0) {
		snprintf(message, n, "no customer %s; the customer must write "
		    "first", conversation ? conversation : j->phone);
		rc = 3;
	}
	jv_free(type);
	jv_free(conv);
	jv_free(phone);
	jv_free(profile);
	jv_free(chan);
	return rc == 0 ? NULL : rc == 1 ? "no_recipient" :
	    rc == 2 ? "invalid_recipient" : "no_conversation";
}

/* Return 1 when a record of this type names a message to send. */
static int
sendable(jv rec)
{
	jv type = string_field(rec, "type");
	int ok = !jv_is_valid(type) ||
	    strcmp(jv_string_value(type), "send") == 0 ||
	    strcmp(jv_string_value(type), "conversation") == 0;

	jv_free(type);
	return ok;
}

/* A keyword reply goes from the number the keyword was sent to. */
static void
reply_sender(struct job *j)
{
	jv from = string_field(j->input, "from");

	if (jv_is_valid(from))
		snprintf(j->brand, sizeof(j->brand), "%s",
		    jv_string_value(from));
	jv_free(from);
}

static void
send_one(struct sender *s, struct job *j)
{
	char message[256], outbox[32];
	const char *reason, *body;
	PGresult *row;
	enum claim c;

	if ((reason = recipient_of(s, j, message, sizeof(message))) != NULL ||
	    (reason = content_of(s, j, message, sizeof(message))) != NULL) {
		reject(s, j, reason, message);
		return;
	}
	body = jv_string_value(j->body);
	if (segments_count(body, strlen(body), &j->seg) != 0) {
		reject(s, j, "invalid_body", "body is not UTF-8 text");
		return;
	}
	j->keyword_reply = verified_keyword_reply(s, j);
	snprintf(j->origin, sizeof(j->origin), "%s", j->keyword_reply ?
	    "keyword_reply" : "conversation");
	if (s->o.from != NULL)
		snprintf(j->brand, sizeof(j->brand), "%s", s->o.from);
	else if (j->keyword_reply)
		reply_sender(j);
	if (s->o.from == NULL && j->brand[0] == '\0' &&
	    getenv("CONVO_FROM") != NULL)
		snprintf(j->brand, sizeof(j->brand), "%s", getenv("CONVO_FROM"));
	if ((reason = check_content(j, message, sizeof(message))) != NULL ||
	    (reason = check_recipient(s, j, message, sizeof(message))) !=
	    NULL) {
		reject(s, j, reason, message);
		return;
	}
	if (!j->keyword_reply && in_quiet_hours(&s->o, j->local_minutes)) {
		s->deferred++;
		result(s, j, "deferred", "quiet_hours", jv_null());
		return;
	}
	if (s->o.dry_run) {
		dry_run(s, j);
		return;
	}
	derive_key(s, j);
	c = claim(s, j, outbox, &row);
	if (c == CLAIM_DONE || (c == CLAIM_UNKNOWN && !s->o.retry_unknown)) {
		report_claimed(s, j, c, outbox, row);
		PQclear(row);
		return;
	}
	PQclear(row);
	deliver(s, j, outbox);
}

static void
handle(struct sender *s, jv rec, long long line)
{
	struct job j;

	memset(&j, 0, sizeof(j));
	j.line = line;
	j.input = rec;
	j.body = jv_null();
	j.media = jv_null();
	j.local_minutes = -1;
	send_one(s, &j);
	jv_free(j.body);
	jv_free(j.media);
}

static void
read_records(struct sender *s)
{
	struct linereader lr;
	const char *line;
	size_t len;
	int too_long;
	jv rec;

	linereader_init(&lr, STDIN_FILENO, CONVO_LINE_MAX);
	while (linereader_next(&lr, &line, &len, &too_long) == 1) {
		if (len == 0 && !too_long)
			continue;
		rec = too_long || !utf8_valid(line, len) ? jv_invalid() :
		    jv_parse_sized(line, (int)len);
		if (jv_get_kind(rec) != JV_KIND_OBJECT) {
			warnx("line %lld: expected a JSON record", lr.lineno);
			s->rejected++;
			s->status = exit_merge(s->status, EX_DATAERR);
		} else if (!sendable(rec)) {
			s->skipped++;
		} else {
			handle(s, rec, lr.lineno);
		}
		jv_free(rec);
	}
	linereader_free(&lr);
}
/* Parse "21:00-08:00" into minutes after midnight. */
static void
parse_quiet_hours(struct options *o, const char *arg)
{
	int h1, m1, h2, m2, n = 0;

	if (sscanf(arg, "%2d:%2d-%2d:%2d%n", &h1, &m1, &h2, &m2, &n) != 4 ||
	    arg[n] != '\0' || h1 > 23 || h2 > 23 || m1 > 59 || m2 > 59 ||
	    h1 < 0 || h2 < 0 || m1 < 0 || m2 < 0)
		errx(EX_USAGE, "invalid quiet hours \"%s\": expected "
		    "HH:MM-HH:MM such as 21:00-08:00", arg);
	o->quiet_start = h1 * 60 + m1;
	o->quiet_end = h2 * 60 + m2;
}

static char *
read_body_file(const char *path)
{
	struct buf b = { 0 };
	char chunk[4096];
	ssize_t n;
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY);

	if (fd < 0)
		err(EX_NOINPUT, "cannot open body file \"%s\"", path);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		buf_add(&b, chunk, n);
		if (b.len > 64 * 1024)
			errx(EX_DATAERR, "body file \"%s\" is longer than "
			    "64 KiB", path);
	}
	if (n < 0)
		err(EX_NOINPUT, "cannot read body file \"%s\"", path);
	if (fd != STDIN_FILENO)
		close(fd);
	/* A text file's final newline is not part of the message. */
	while (b.len > 0 && (b.data[b.len - 1] == '\n' ||
	    b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	buf_addc(&b, '\0');
	if (!utf8_valid(b.data, strlen(b.data)) || strlen(b.data) != b.len - 1)
		errx(EX_DATAERR, "body file \"%s\" is not UTF-8 text", path);
	return b.data;
}

static long
number_option(const char *arg, long min, long max, const char *what)
{
	const char *errstr;
	long n = strtonum(arg, min, max, &errstr);

	if (errstr != NULL)
		errx(EX_USAGE, "%s \"%s\" is %s: expected %ld to %ld", what,
		    arg, errstr, min, max);
	return n;
}

static void
parse_options(struct options *o, int argc, char **argv)
{
	static const struct option options[] = {
		{ "account", required_argument, NULL, 'a' },
		{ "body", required_argument, NULL, 'b' },
		{ "body-file", required_argument, NULL, 'B' },
		{ "body-jq", required_argument, NULL, 'j' },
		{ "conversation", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'd' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "from", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "idempotency-key", required_argument, NULL, 'k' },
		{ "max-attempts", required_argument, NULL, 2 },
		{ "media", required_argument, NULL, 'm' },
		{ "new", no_argument, NULL, 3 },
		{ "quiet", no_argument, NULL, 'q' },
		{ "quiet-hours", required_argument, NULL, 4 },
		{ "rate", required_argument, NULL, 5 },
		{ "retry-unknown", no_argument, NULL, 6 },
		{ "to", required_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "a:b:B:c:d:f:hj:k:m:nqt:V",
	    options, NULL)) != -1) {
		switch (c) {
		case 'a': o->account = optarg; break;
		case 'b': o->body = optarg; break;
		case 'B': o->body = read_body_file(optarg); break;
		case 'c': o->conversation = optarg; break;
		case 'd': o->db = optarg; break;
		case 'f': o->from = optarg; break;
		case 'h': help(); break;
		case 'j': o->body_jq = optarg; break;
		case 'k': o->idempotency_key = optarg; break;
		case 'n': o->dry_run = 1; break;
		case 'q': o->quiet = 1; break;
		case 't': o->to = optarg; break;
		case 'V': db_print_version(); break;
		case 2:
			o->max_attempts = (int)number_option(optarg, 1, 20,
			    "max attempts");
			break;
		case 3: o->new_conversation = 1; break;
		case 4: parse_quiet_hours(o, optarg); break;
		case 5:
			o->rate = (double)number_option(optarg, 0, 1000,
			    "rate");
			break;
		case 6: o->retry_unknown = 1; break;
		case 'm':
			if (o->nmedia == SEND_MEDIA_MAX)
				errx(EX_USAGE, "too many --media: at most %d",
				    SEND_MEDIA_MAX);
			o->media[o->nmedia++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind < argc)
		usage();
}

static void
compile_jq(struct sender *s)
{
	if (s->o.body_jq == NULL)
		return;
	if ((s->jq = jq_init()) == NULL)
		errx(EX_SOFTWARE, "cannot start jq");
	/* jq_compile returns non-zero on success. */
	if (!jq_compile(s->jq, s->o.body_jq))
		errx(EX_USAGE, "invalid --body-jq filter \"%s\"", s->o.body_jq);
}

static void
start_provider(struct sender *s)
{
	const char *provider = getenv("CONVO_PROVIDER");
	char msg[256];

	if (provider != NULL && strcmp(provider, "dry-run") == 0)
		s->o.dry_run = 1;
	else if (provider != NULL && *provider != '\0' &&
	    strcmp(provider, "twilio") != 0)
		errx(EX_CONFIG, "unknown provider \"%s\" in CONVO_PROVIDER: "
		    "expected twilio or dry-run", provider);
	if (s->o.dry_run)
		return;
	if (twilio_init(&s->twilio, msg, sizeof(msg)) != 0)
		errx(EX_CONFIG, "%s; set it, or use --dry-run", msg);
}

static void
summary(const struct sender *s)
{
	if (s->o.quiet)
		return;
	fprintf(stderr, "convo-send: %lld sent, %lld duplicate, %lld deferred, "
	    "%lld rejected, %lld failed, %lld unknown, %lld queued, "
	    "%lld skipped\n", s->sent, s->duplicate, s->deferred, s->rejected,
	    s->failed, s->unknown, s->queued, s->skipped);
}

int
main(int argc, char **argv)
{
	struct sender s;

	memset(&s, 0, sizeof(s));
	s.o.quiet_start = s.o.quiet_end = -1;
	s.o.rate = 1;
	s.o.max_attempts = 4;
	s.o.window_hours = 24;
	signal(SIGPIPE, SIG_IGN);
	parse_options(&s.o, argc, argv);
	s.o.account = convo_account(s.o.account);
	if (s.o.to == NULL && s.o.conversation == NULL &&
	    isatty(STDIN_FILENO))
		usage();
	compile_jq(&s);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	start_provider(&s);
	s.conn = db_connect(s.o.db);
	snprintf(s.account_id, sizeof(s.account_id), "%lld",
	    db_account(s.conn, s.o.account, s.country));
	if (s.o.to != NULL || s.o.conversation != NULL)
		handle(&s, jv_object(), 0);
	else
		read_records(&s);
	summary(&s);
	if (!s.o.dry_run)
		twilio_free(&s.twilio);
	if (s.jq != NULL)
		jq_teardown(&s.jq);
	PQfinish(s.conn);
	curl_global_cleanup();
	if (view_flush() != 0)
		s.status = exit_merge(s.status, EX_IOERR);
	return s.status;
}
