/*
 * convo-send: send one-to-one replies through Twilio, only to customers
 * who wrote first and are subscribed, through a stored outbox so that a
 * re-run never sends a message twice.
 */
#include <ctype.h>
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
#include "cli.h"
#include "convo.h"
#include "db.h"
#include "json.h"
#include "linereader.h"
#include "phone.h"
#include "progress.h"
#include "recent.h"
#include "record.h"
#include "segments.h"
#include "send.h"
#include "timeutil.h"
#include "twilio.h"
#include "views.h"

/* Keys a dry run remembers to find repeated messages: 4 MiB of tables. */
#define DRY_KEYS 100000

/* Failed requests in a row before the provider is taken to be down. */
#define DOWN_FAILURES 10

struct options {
	const char *db;
	const char *account;
	const char *to;
	const char *conversation;
	const char *body;
	char *body_file;	/* the text of --body-file, which body points at */
	const char *body_jq;
	const char *from;
	const char *idempotency_key;
	const char *media[SEND_MEDIA_MAX];
	int nmedia;
	int new_conversation;
	int queued;		/* send the outbox's queued rows */
	int dry_run;
	int retry_unknown;
	int parallel;		/* requests in flight at most */
	int quiet_start;	/* minutes after midnight, -1 when unset */
	int quiet_end;
	double rate;		/* messages per second per sender, 0 = no limit */
	int max_attempts;
	int timeout;		/* seconds to wait for each answer */
	long window_hours;	/* idempotency window */
	int quiet;
};

/* When a sender (brand number) may send next, for --rate. */
struct pacer {
	char brand[128];
	double next;
};

/* A request that succeeded, waiting to be recorded with others. */
struct sent_row {
	struct send_job *job;
	char sid[64];
	char status[32];
};

struct sender {
	struct options o;
	struct send_ctx ctx;
	jq_state *jq;
	int jq_read_past_end;	/* the filter asked for a second input */
	struct twilio twilio;
	struct send_job **pending;	/* waiting for their turn */
	int npending;
	int cap;
	struct pacer *pacers;
	int npacers;
	struct linereader input;
	int input_done;
	PGresult *queue;	/* page of queued outbox rows, with --queued */
	int queue_row;		/* next row of QUEUE */
	char queue_after[32];	/* outbox id of the last row read */
	int status;
	long long sent, duplicate, deferred, rejected, failed, unknown;
	long long queued, skipped, dry;
	struct progress progress;	/* counts send_result records */
	double hold_until;		/* start held jobs at this time */
	struct sent_row *done;		/* sent, not yet recorded */
	int ndone;
	struct sent_row *recording;	/* sent, their record on its way */
	int nrecording;
	int refused;		/* Twilio refused the credentials */
	/*
	 * Requests in a row that failed with an error worth retrying or
	 * with no response, and the time of the last response that showed
	 * the provider working: a message sent or a final error.
	 */
	int failing;
	double failing_since;	/* when the first of them failed */
	double last_response;
	/*
	 * Taken to be down: no request starts, and once the requests in
	 * flight end without a success, every message is kept queued.
	 */
	int down;
	int down_reported;	/* the warning is printed, messages held */
	char last_error[256];	/* the error of the last failed request */
	int stopped;		/* stopped reading on a signal */
	/* Keys a dry run would claim, the last DRY_KEYS of them. */
	struct recent dry_keys;
};

static void
usage(void)
{
	fprintf(stderr, "usage: convo-send [-nqv] [--to PHONE | --conversation "
	    "ID] [--body TEXT | --body-file FILE\n"
	    "                  | --body-jq FILTER] [--media URL] [--from "
	    "SENDER] [--new]\n"
	    "                  [--idempotency-key KEY] [--quiet-hours "
	    "HH:MM-HH:MM] [--rate N]\n"
	    "                  [--max-attempts N] [--retry-unknown] "
	    "[--timeout SECONDS]\n"
	    "       convo-send [-nqv] --queued [options]\n"
	    "                  [--account NAME] [--db CONNINFO]\n");
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
	    "      --rate N              segments per second per sender "
	    "(default 1, 0 = no limit)\n"
	    "      --max-attempts N      tries for throttled or failed "
	    "requests (default 4)\n"
	    "  -P, --parallel N          requests in flight at most (default "
	    "4)\n"
	    "      --retry-unknown       send again messages whose outcome is "
	    "unknown\n"
	    "      --queued              send the outbox's queued messages "
	    "that no run holds\n"
	    "      --timeout SECONDS     wait this long for each answer "
	    "(default 30)\n"
	    "  -n, --dry-run             check and show requests, send and "
	    "store nothing\n"
	    "  -a, --account NAME        account (default $CONVO_ACCOUNT or "
	    "\"default\")\n"
	    "  -d, --db CONNINFO         PostgreSQL connection\n"
	    "  -q, --quiet               no summary line, progress or "
	    "setup warnings\n"
	    "  -v, --verbose             print the time each step takes\n"
	    "  -h, --help                show this help\n"
	    "  -V, --version             show the versions of convo and its "
	    "libraries\n\n"
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
result(struct sender *s, const struct send_job *j, const char *status,
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
	if (j->zone_source[0] != '\0') {
		r = jv_object_set(r, jv_string("time_zone"), j->zone[0] ?
		    jv_string(j->zone) : jv_null());
		r = jv_object_set(r, jv_string("time_zone_source"),
		    jv_string(j->zone_source));
	}
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
	/* A row of --queued has no input line, so its id names it. */
	if (j->queued[0] != '\0')
		r = jv_object_set(r, jv_string("outbox_id"),
		    jv_string_fmt("o_%s", j->queued));
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
	/* Each result is written at once, so a killed run keeps its own. */
	if (view_print(r) != 0 || view_flush() != 0)
		s->status = exit_merge(s->status, EX_IOERR);
	progress_add(&s->progress, 1, 0);
}

/*
 * Name J in a warning: its input line or outbox row, then its phone.
 * The text stays valid until the next call.
 */
static const char *
job_name(const struct send_job *j)
{
	static char name[128];

	if (j->queued[0] != '\0')
		snprintf(name, sizeof(name), "outbox row o_%s: %s", j->queued,
		    j->phone);
	else if (j->line > 0)
		snprintf(name, sizeof(name), "line %lld: %s", j->line,
		    j->phone);
	else
		snprintf(name, sizeof(name), "%s", j->phone);
	return name;
}

/*
 * Report J as rejected for REASON, with MESSAGE and the fields of EXTRA
 * (an object, consumed) in its result.
 */
static void
reject_with(struct sender *s, const struct send_job *j, const char *reason,
    const char *message, jv extra)
{
	extra = jv_object_set(extra, jv_string("message"), jv_string(message));
	s->rejected++;
	s->status = exit_merge(s->status, EX_DATAERR);
	if (j->queued[0] != '\0') {
		/* A row that fails its checks is not tried again. */
		warnx("outbox row o_%s: not sent: %s", j->queued, message);
		if (!s->o.dry_run)
			outbox_reject_row(&s->ctx, j->queued, message);
		extra = jv_object_set(extra, jv_string("outbox_id"),
		    jv_string_fmt("o_%s", j->queued));
	} else if (j->line > 0) {
		warnx("line %lld: not sent: %s", j->line, message);
	} else {
		warnx("not sent: %s", message);
	}
	result(s, j, "rejected", reason, extra);
}

static void
reject(struct sender *s, const struct send_job *j, const char *reason,
    const char *message)
{
	reject_with(s, j, reason, message, jv_object());
}

/*
 * Return the result fields of J's possible opt-out: the flagged message
 * and the time it was flagged, as in a conversation record.
 */
static jv
possible_opt_out_fields(const struct send_job *j)
{
	jv flag = jv_object_set(jv_object(), jv_string("message_id"),
	    jv_string(j->flagged_message));

	flag = jv_object_set(flag, jv_string("at"), j->flagged_at[0] ?
	    jv_string(j->flagged_at) : jv_null());
	return jv_object_set(jv_object(), jv_string("possible_opt_out"), flag);
}














/* Room for a channel-prefixed address. */
#define TO_MAX 192

/*
 * Fill REQ with the request of J. Its strings point into J, MEDIA, TO,
 * FROM and CALLBACK, which hold the StatusCallback URL with J's outbox
 * row once J has one; the caller frees CALLBACK.
 */
static void
request_of(const struct send_job *j, struct twilio_request *req,
    const char **media, char *to, char *from, struct buf *callback)
{
	const char *base = getenv("CONVO_STATUS_CALLBACK");
	char outbox[40];
	int i;

	memset(req, 0, sizeof(*req));
	/* Twilio tells channels apart by an address prefix. */
	if (strcmp(j->channel, "sms") != 0) {
		snprintf(to, TO_MAX, "%s:%s", j->channel, j->phone);
		req->to = to;
	} else {
		req->to = j->phone;
	}
	if (strncmp(j->brand, "MG", 2) == 0)
		req->service_sid = j->brand;
	else if (strcmp(j->channel, "sms") != 0 &&
	    strchr(j->brand, ':') == NULL) {
		snprintf(from, TO_MAX, "%s:%s", j->channel, j->brand);
		req->from = from;
	} else
		req->from = j->brand;
	req->body = jv_string_value(j->body);
	req->nmedia = jv_array_length(jv_copy(j->media));
	for (i = 0; i < req->nmedia; i++) {
		jv url = jv_array_get(jv_copy(j->media), i);

		media[i] = jv_string_value(url);
		jv_free(url);	/* the array still holds the string */
	}
	req->media = media;
	req->status_callback = base;
	if (base != NULL && *base != '\0' && j->outbox[0] != '\0') {
		snprintf(outbox, sizeof(outbox), "o_%s", j->outbox);
		twilio_callback_url(base, outbox, callback);
		req->status_callback = callback->data;
	}
}




/* Show what would be sent, with nothing sent or stored. */
static void
dry_run(struct sender *s, const struct send_job *j)
{
	struct twilio_request req;
	const char *media[SEND_MEDIA_MAX];
	char to[TO_MAX], from[TO_MAX], url[1024], auth[128];
	struct buf form = { 0 }, callback = { 0 };
	jv extra;

	request_of(j, &req, media, to, from, &callback);
	twilio_form(&req, &form);
	extra = jv_object_set(jv_object(), jv_string("request"),
	    jv_string(form.data ? form.data : ""));
	extra = jv_object_set(extra, jv_string("from"), jv_string(j->brand));
	twilio_url(&s->twilio, url, sizeof(url));
	extra = jv_object_set(extra, jv_string("url"), url[0] != '\0' ?
	    jv_string(url) : jv_null());
	/* The result shows the user of the credentials, never the secret. */
	twilio_auth_masked(&s->twilio, auth, sizeof(auth));
	extra = jv_object_set(extra, jv_string("auth"), auth[0] != '\0' ?
	    jv_string(auth) : jv_null());
	s->dry++;
	result(s, j, "dry_run", NULL, extra);
	buf_free(&form);
	buf_free(&callback);
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

static void compile_jq(struct sender *);

/*
 * Return the message of the halted --body-jq filter and compile it
 * again. libjq 1.6 frees a halted state's message at each later
 * jq_start() and at jq_teardown() but keeps the pointer, so a state
 * that halted must not be started again.
 */
static jv
restart_halted_jq(struct sender *s)
{
	jv msg = jq_get_error_message(s->jq), text, dump;

	if (jv_get_kind(msg) == JV_KIND_STRING) {
		text = jv_string_fmt("halted: %s", jv_string_value(msg));
	} else if (jv_is_valid(msg) && jv_get_kind(msg) != JV_KIND_NULL) {
		dump = jv_dump_string(jv_copy(msg), 0);
		text = jv_string_fmt("halted: %s", jv_string_value(dump));
		jv_free(dump);
	} else {
		text = jv_string("halted");
	}
	jv_free(msg);
	jq_teardown(&s->jq);
	compile_jq(s);
	return text;
}

/*
 * Return the message MSG (consumed) of a failed --body-jq filter.
 * libjq 1.6 ends input with the error "break", which its `inputs`
 * catches. When the filter asked for input beyond its record, that
 * error is shown as "No more inputs".
 */
static jv
jq_error_text(const struct sender *s, jv msg)
{
	if (s->jq_read_past_end && jv_get_kind(msg) == JV_KIND_STRING &&
	    strcmp(jv_string_value(msg), "break") == 0) {
		jv_free(msg);
		return jv_string("No more inputs");
	}
	return msg;
}

/*
 * Run the --body-jq filter on REC. Returns a string, or an invalid jv
 * whose message gives the reason: the filter failed or halted, or gave
 * no output or more than one.
 */
static jv
body_from_jq(struct sender *s, jv rec)
{
	jv out, next;
	int outputs = 0;

	s->jq_read_past_end = 0;
	jq_start(s->jq, jv_copy(rec), 0);
	out = jq_next(s->jq);
	next = jv_is_valid(out) ? jq_next(s->jq) : jv_copy(out);
	/* Drain the filter; a second output is an error. */
	while (jv_is_valid(next)) {
		outputs++;
		jv_free(next);
		next = jq_next(s->jq);
	}
	if (jq_halted(s->jq)) {
		jv_free(out);
		jv_free(next);
		return jv_invalid_with_msg(restart_halted_jq(s));
	}
	if (jv_invalid_has_msg(jv_copy(next))) {
		/* An error after the first output fails the filter too. */
		jv_free(out);
		return jv_invalid_with_msg(jq_error_text(s,
		    jv_invalid_get_msg(next)));
	}
	jv_free(next);
	if (!jv_is_valid(out)) {
		jv_free(out);
		return jv_invalid_with_msg(jv_string("no output"));
	}
	if (outputs > 0) {
		jv_free(out);
		return jv_invalid_with_msg(jv_string("more than one output"));
	}
	if (jv_get_kind(out) != JV_KIND_STRING) {
		jv_free(out);
		return jv_invalid_with_msg(jv_string("output is not a string"));
	}
	return out;
}

/*
 * Return REASON, and write its message to MESSAGE, when field NAME of REC
 * is present, not null and not of kind WANT. Else NULL.
 */
static const char *
wrong_kind(jv rec, const char *name, jv_kind want, const char *reason,
    char *message, size_t n)
{
	jv v = jv_object_get(jv_copy(rec), jv_string(name));
	jv_kind kind = jv_get_kind(v);
	jv text;

	if (kind == JV_KIND_INVALID || kind == JV_KIND_NULL || kind == want) {
		jv_free(v);
		return NULL;
	}
	text = jv_dump_string(v, 0);
	snprintf(message, n, "%s %.60s%s is %s %s, not %s %s", name,
	    jv_string_value(text), jv_string_length_bytes(jv_copy(text)) > 60 ?
	    "..." : "", kind == JV_KIND_ARRAY || kind == JV_KIND_OBJECT ?
	    "an" : "a", jv_kind_name(kind), want == JV_KIND_ARRAY ? "an" : "a",
	    jv_kind_name(want));
	jv_free(text);
	return reason;
}

/*
 * Fill the body and media of J from its record and the options: a send
 * record keeps its own text, then --body-jq, the record's body, --body.
 */
static const char *
content_of(struct sender *s, struct send_job *j, char *message, size_t n)
{
	jv type = string_field(j->input, "type");
	jv body = string_field(j->input, "body");
	jv media = jv_object_get(jv_copy(j->input), jv_string("media"));
	int is_send = jv_is_valid(type) &&
	    strcmp(jv_string_value(type), "send") == 0;
	const char *wrong;
	int i;

	jv_free(type);
	if ((wrong = wrong_kind(j->input, "body", JV_KIND_STRING,
	    "invalid_body", message, n)) != NULL ||
	    (wrong = wrong_kind(j->input, "media", JV_KIND_ARRAY,
	    "invalid_media_url", message, n)) != NULL ||
	    (wrong = wrong_kind(j->input, "idempotency_key", JV_KIND_STRING,
	    "invalid_idempotency_key", message, n)) != NULL) {
		jv_free(body);
		jv_free(media);
		return wrong;
	}
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
 * Check the record's "channel" field CHAN and set J's channel from it,
 * else from the prefix of address TARGET, with *NUMBER past the prefix.
 * For a conversation id TARGET is NULL, and the field is kept for a
 * check against the conversation. Returns 0, or 2 with MESSAGE set.
 */
static int
channel_of(struct send_job *j, const char *target, jv chan,
    const char **number, char *message, size_t n)
{
	const char *name = NULL, *prefix;
	char q[80];

	if (jv_get_kind(chan) == JV_KIND_STRING) {
		name = jv_string_value(chan);
		if (strlen(name) != (size_t)jv_string_length_bytes(
		    jv_copy(chan))) {
			snprintf(message, n, "NUL byte in field \"channel\"");
			return 2;
		}
		if (!phone_channel_valid(name)) {
			snprintf(message, n, "invalid channel \"%s\": expected "
			    "1 to 32 lower-case letters, digits, '_' or '-'",
			    record_quote(name, q));
			return 2;
		}
	} else if (jv_get_kind(chan) != JV_KIND_NULL &&
	    jv_get_kind(chan) != JV_KIND_INVALID) {
		snprintf(message, n, "field \"channel\" must be a string");
		return 2;
	}
	if (target == NULL) {
		snprintf(j->named_channel, sizeof(j->named_channel), "%s",
		    name != NULL ? name : "");
		return 0;
	}
	prefix = phone_channel(target, number);
	if (name != NULL && phone_has_prefix(target) &&
	    strcmp(prefix, name) != 0) {
		snprintf(message, n, "channel \"%s\" does not match address "
		    "\"%s\"", name, record_quote(target, q));
		return 2;
	}
	snprintf(j->channel, sizeof(j->channel), "%s",
	    name != NULL ? name : prefix);
	return 0;
}

/*
 * Find the recipient J names: a conversation id, else a phone, from the
 * record or the options. Returns a reason code or NULL. The customer is
 * looked up later, with those of the other records read together.
 */
static const char *
recipient_of(struct sender *s, struct send_job *j, char *message, size_t n)
{
	jv type = string_field(j->input, "type");
	jv conv = string_field(j->input, "conversation_id");
	jv phone = string_field(j->input, "to");
	jv profile = jv_object_get(jv_copy(j->input), jv_string("profile"));
	jv chan = jv_object_get(jv_copy(j->input), jv_string("channel"));
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
	snprintf(j->channel, sizeof(j->channel), "sms");
	rc = 0;
	if (conversation != NULL && (strncmp(conversation, "c_", 2) != 0 ||
	    conversation[2] == '\0' || strlen(conversation) > 20 ||
	    strspn(conversation + 2, "0123456789") != strlen(conversation + 2))) {
		snprintf(message, n, "invalid conversation id \"%s\": "
		    "expected c_ and digits, such as c_42", conversation);
		rc = 1;
	} else if (conversation == NULL && target == NULL) {
		snprintf(message, n, "no recipient: give --to, --conversation "
		    "or records with a conversation id or phone");
		rc = 1;
	} else {
		rc = channel_of(j, conversation == NULL ? target : NULL, chan,
		    &number, message, n);
	}
	if (rc == 0 && conversation == NULL && phone_normalize(number,
	    s->ctx.country, j->phone, sizeof(j->phone), &why) != 0) {
		snprintf(message, n, "invalid phone number \"%s\": %s",
		    target, why);
		rc = 2;
	}
	if (rc == 0 && conversation != NULL)
		snprintf(j->requested, sizeof(j->requested), "%s", conversation);
	jv_free(type);
	jv_free(conv);
	jv_free(phone);
	jv_free(profile);
	jv_free(chan);
	return rc == 0 ? NULL : rc == 1 && conversation != NULL ?
	    "invalid_recipient" : rc == 1 ? "no_recipient" :
	    "invalid_recipient";
}

/*
 * Return "invalid_recipient", with MESSAGE set, when J's record has a
 * "to" or "conversation_id" that is not a string, such as a phone
 * number written as a JSON number. Else NULL.
 */
static const char *
recipient_kind(const struct send_job *j, char *message, size_t n)
{
	const char *wrong;

	if ((wrong = wrong_kind(j->input, "to", JV_KIND_STRING,
	    "invalid_recipient", message, n)) != NULL)
		return wrong;
	return wrong_kind(j->input, "conversation_id", JV_KIND_STRING,
	    "invalid_recipient", message, n);
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

/*
 * A keyword reply goes from the number the keyword was sent to, and an
 * outbox row from the sender it was stored with: the "from" of J's
 * record.
 */
static void
reply_sender(struct send_job *j)
{
	jv from = string_field(j->input, "from");

	if (jv_is_valid(from))
		snprintf(j->brand, sizeof(j->brand), "%s",
		    jv_string_value(from));
	jv_free(from);
}



/* Report a row that an earlier run finished or left in doubt. */
static void
report_claimed(struct sender *s, const struct send_job *j,
    enum outbox_claim c, const PGresult *res, int row)
{
	jv extra = jv_object();

	/* A message repeated in a dry run has no row when it is new. */
	if (row < PQntuples(res)) {
		extra = jv_object_set(extra, jv_string("outbox_id"),
		    jv_string_fmt("o_%s", j->outbox));
		if (!PQgetisnull(res, row, 2))
			extra = jv_object_set(extra,
			    jv_string("provider_message_id"),
			    jv_string(PQgetvalue(res, row, 2)));
		extra = jv_object_set(extra, jv_string("previous_state"),
		    jv_string(PQgetvalue(res, row, 1)));
	}
	if (c == OUTBOX_REPEATED) {
		s->duplicate++;
		result(s, j, "duplicate", "repeated", extra);
		return;
	}
	if (c == OUTBOX_BUSY) {
		s->duplicate++;
		warnx("%s: another convo-send run is sending this message; "
		    "not sent here", job_name(j));
		result(s, j, "duplicate", "in_progress", extra);
		return;
	}
	if (c == OUTBOX_UNKNOWN) {
		s->unknown++;
		s->status = exit_merge(s->status, EX_TEMPFAIL);
		warnx("%s: an earlier request for this message has no known "
		    "outcome; not sent again (see --retry-unknown)", job_name(j));
		result(s, j, "unknown", "outcome_unknown", extra);
		return;
	}
	s->duplicate++;
	result(s, j, "duplicate", NULL, extra);
}

static void
free_job(struct send_job *j)
{
	jv_free(j->input);
	jv_free(j->body);
	jv_free(j->media);
	free(j);
}

static void
record_sent(struct sender *s, struct send_job *j,
    const struct twilio_response *res)
{
	struct sent_row *row;

	if (s->done == NULL)
		s->done = xmalloc(s->o.parallel * sizeof(*s->done));
	row = &s->done[s->ndone++];
	row->job = j;
	snprintf(row->sid, sizeof(row->sid), "%s", res->sid);
	snprintf(row->status, sizeof(row->status), "%s",
	    res->status[0] ? res->status : "queued");
}

/* Append ITEM to the PostgreSQL array literal in B, quoted. */
static void
array_item(struct buf *b, const char *item)
{
	const char *p;

	buf_addc(b, b->len > 1 ? ',' : '{');
	buf_addc(b, '"');
	for (p = item; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_addc(b, '\\');
		buf_addc(b, *p);
	}
	buf_addc(b, '"');
}

/* Report the requests of the group just recorded as sent. */
static void
sent_recorded(void *arg)
{
	struct sender *s = arg;
	jv extra;
	int i;

	PQclear(outbox_result(&s->ctx));
	for (i = 0; i < s->nrecording; i++) {
		struct send_job *j = s->recording[i].job;

		s->sent++;
		extra = jv_object_set(jv_object(),
		    jv_string("provider_message_id"),
		    jv_string(s->recording[i].sid));
		extra = jv_object_set(extra, jv_string("outbox_id"),
		    jv_string_fmt("o_%s", j->outbox));
		result(s, j, "sent", NULL, extra);
		free_job(j);
	}
	s->nrecording = 0;
}

/*
 * Record the requests that succeeded since the last call, in one
 * statement that the server runs while requests go on. They are
 * reported as sent once it is done: see sent_recorded().
 */
static void
flush_sent(struct sender *s)
{
	struct buf ids = { 0 }, sids = { 0 }, states = { 0 };
	struct sent_row *rows;
	const char *params[4];
	int i;

	if (s->ndone == 0)
		return;
	for (i = 0; i < s->ndone; i++) {
		array_item(&ids, s->done[i].job->outbox);
		array_item(&sids, s->done[i].sid);
		array_item(&states, s->done[i].status);
	}
	buf_addc(&ids, '}');
	buf_addc(&sids, '}');
	buf_addc(&states, '}');
	params[0] = s->ctx.account_id;
	params[1] = ids.data;
	params[2] = sids.data;
	params[3] = states.data;
	/* The function takes the account lock itself. */
	outbox_send(&s->ctx, "SELECT convo.outbox_sent_batch($1, "
	    "$2::bigint[], $3::text[], $4::text[])", 4, params,
	    sent_recorded, s);
	buf_free(&ids);
	buf_free(&sids);
	buf_free(&states);
	/* The rows of the last group are reported, so their array is free. */
	rows = s->recording;
	s->recording = s->done;
	s->nrecording = s->ndone;
	s->done = rows;
	s->ndone = 0;
}

static void
record_failed(struct sender *s, const struct send_job *j,
    const struct twilio_response *res)
{
	const char *params[4] = { s->ctx.account_id, j->outbox,
	    res->error_code[0] ? res->error_code : NULL, res->error_message };
	int unsubscribed = strcmp(res->error_code, "21610") == 0;
	jv extra = jv_object();

	outbox_locked(&s->ctx, "SELECT convo.outbox_failed($1, $2, $3, $4)",
	    4, params);
	s->failed++;
	s->status = exit_merge(s->status, EX_DATAERR);
	warnx("%s: provider error %s: %s", job_name(j),
	    res->error_code[0] ? res->error_code : "-", res->error_message);
	if (res->error_code[0] != '\0')
		extra = jv_object_set(extra, jv_string("error_code"),
		    jv_number(atof(res->error_code)));
	extra = jv_object_set(extra, jv_string("error_message"),
	    jv_string(res->error_message));
	extra = jv_object_set(extra, jv_string("outbox_id"),
	    jv_string_fmt("o_%s", j->outbox));
	result(s, j, "failed", unsubscribed ? "unsubscribed" :
	    "provider_error", extra);
}

/* Seconds to wait before attempt ATTEMPT + 1: Retry-After, else backoff. */
static double
backoff(const struct twilio_response *res, int attempt)
{
	double wait = 0.5 * (1 << (attempt > 6 ? 6 : attempt));

	if (res->retry_after_s >= 0)
		wait = res->retry_after_s;
	/* Jitter keeps parallel retries from arriving together. */
	wait += wait * 0.25 * ((double)arc4random_uniform(1000) / 1000.0);
	return wait > 60 ? 60 : wait;
}

static void
push_pending(struct sender *s, struct send_job *j)
{
	if (s->npending == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->pending = xrealloc(s->pending, s->cap * sizeof(*s->pending));
	}
	s->pending[s->npending++] = j;
}

/* The pacing slot of sender BRAND, created on first use. */
static struct pacer *
pacer_of(struct sender *s, const char *brand)
{
	int i;

	for (i = 0; i < s->npacers; i++)
		if (strcmp(s->pacers[i].brand, brand) == 0)
			return &s->pacers[i];
	s->pacers = xrealloc(s->pacers, (s->npacers + 1) * sizeof(*s->pacers));
	memset(&s->pacers[s->npacers], 0, sizeof(*s->pacers));
	snprintf(s->pacers[s->npacers].brand,
	    sizeof(s->pacers[s->npacers].brand), "%s", brand);
	return &s->pacers[s->npacers++];
}

/*
 * Return 1 when J may start now: its retry time has come and its sender
 * is not ahead of --rate, which spaces messages by their segments.
 */
static int
may_start(struct sender *s, struct send_job *j, double now)
{
	struct pacer *p;

	if (j->not_before > now)
		return 0;
	if (s->o.rate <= 0)
		return 1;
	p = pacer_of(s, j->brand);
	if (p->next > now)
		return 0;
	p->next = now + (j->seg.segments > 0 ? j->seg.segments : 1) /
	    s->o.rate;
	return 1;
}

static void
start_job(struct sender *s, struct send_job *j)
{
	struct twilio_request req;
	const char *media[SEND_MEDIA_MAX];
	char to[TO_MAX], from[TO_MAX];
	struct buf callback = { 0 };
	struct twilio_call *call = xmalloc(sizeof(*call));

	request_of(j, &req, media, to, from, &callback);
	if (j->attempts++ == 0)
		j->first_try = now_seconds();
	/* twilio_start() copies the form, so CALLBACK can go. */
	if (twilio_start(&s->twilio, call, &req, j) != 0)
		errx(EX_SOFTWARE, "cannot start a request with libcurl");
	buf_free(&callback);
	j->call = call;
}

/* Order jobs by input line, and rows of --queued by outbox id. */
static int
job_order(const void *a, const void *b)
{
	const struct send_job *x = *(struct send_job *const *)a;
	const struct send_job *y = *(struct send_job *const *)b;
	long long x_outbox = strtoll(x->outbox, NULL, 10);
	long long y_outbox = strtoll(y->outbox, NULL, 10);

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x_outbox < y_outbox ? -1 : x_outbox > y_outbox;
}

/*
 * Put the waiting jobs back in the order they were read: a retry waits
 * behind jobs read after it.
 */
static void
sort_pending(struct sender *s)
{
	if (s->npending > 1)
		qsort(s->pending, s->npending, sizeof(*s->pending),
		    job_order);
}

/*
 * Leave J queued in the outbox with the result reason REASON, merge
 * exit status STATUS into the run's, and free J.
 */
static void
hold_queued(struct sender *s, struct send_job *j, const char *reason,
    int status)
{
	outbox_release(&s->ctx, j->outbox, "queued");
	s->queued++;
	s->status = exit_merge(s->status, status);
	result(s, j, "queued", reason,
	    jv_object_set(jv_object(), jv_string("outbox_id"),
	    jv_string_fmt("o_%s", j->outbox)));
	free_job(j);
}

/*
 * Leave J queued in the outbox, because Twilio refused the credentials,
 * which RES shows, or refused them for an earlier request (RES NULL).
 * No request is made after that: every one would be refused too.
 */
static void
hold_for_credentials(struct sender *s, struct send_job *j,
    const struct twilio_response *res)
{
	if (!s->refused && res != NULL)
		warnx("Twilio refused the credentials (HTTP %ld, error %s: "
		    "%s); no more requests are made, and the messages stay "
		    "queued for a later run", res->http_status,
		    res->error_code[0] ? res->error_code : "-",
		    res->error_message);
	s->refused = 1;
	hold_queued(s, j, "credentials_refused", EX_CONFIG);
}

/*
 * Take the provider to be down when DOWN_FAILURES requests failed in a
 * row, none got a response since J's first one, and J used two attempts,
 * or one with no known outcome, which is never tried again. One failed
 * attempt alone decides nothing, because requests beside it may succeed.
 */
static void
check_outage(struct sender *s, const struct send_job *j,
    const struct twilio_response *res)
{
	if (s->down || (j->attempts < 2 && !res->maybe_sent) ||
	    s->failing < DOWN_FAILURES || s->last_response >= j->first_try)
		return;
	s->down = 1;
}

/*
 * Return 1 when the provider is down and the requests in flight ended
 * without a success, so every message not sent stays queued. The first
 * such call prints the warning.
 */
static int
outage_settled(struct sender *s)
{
	if (!s->down || twilio_in_flight(&s->twilio) > 0)
		return 0;
	if (!s->down_reported)
		warnx("Twilio failed the last %d requests, for %.0f s, the "
		    "last one with %s; no more requests are made, and the "
		    "messages not yet sent stay queued for a later run",
		    s->failing, now_seconds() - s->failing_since, s->last_error);
	s->down_reported = 1;
	return 1;
}

/* The signal that asked the run to stop, or 0. */
static volatile sig_atomic_t stop_signal;

/*
 * Ask the run to stop on the first SIGINT, SIGTERM or SIGHUP, and end
 * the process on the second.
 */
static void
on_stop_signal(int sig)
{
	if (stop_signal != 0) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	stop_signal = sig;
}

/*
 * Catch the stop signals, except those ignored on entry, as SIGINT is in
 * a shell's background jobs.
 */
static void
catch_stop_signals(void)
{
	const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa, old;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
}

/*
 * After a stop signal, read no more input and leave the pending jobs
 * queued in the outbox. The requests in flight finish and are recorded.
 */
static void
stop_reading(struct sender *s)
{
	int i, n;

	if (s->stopped)
		return;
	s->stopped = 1;
	s->input_done = 1;
	n = twilio_in_flight(&s->twilio);
	if (s->o.queued)
		warnx("stopping on signal %d: no more outbox rows are read; "
		    "finishing %d %s in flight", (int)stop_signal, n,
		    n == 1 ? "request" : "requests");
	else
		warnx("stopping on signal %d: input after line %lld is not "
		    "read; finishing %d %s in flight", (int)stop_signal,
		    s->input.lineno, n, n == 1 ? "request" : "requests");
	sort_pending(s);
	for (i = 0; i < s->npending; i++)
		hold_queued(s, s->pending[i], "interrupted", EX_TEMPFAIL);
	s->npending = 0;
}

/*
 * Report J, whose outbox row another run took over while J waited for
 * its turn, as that run's to send.
 */
static void
taken_over(struct sender *s, struct send_job *j)
{
	s->duplicate++;
	warnx("%s: another convo-send run took over this message; not sent "
	    "here", job_name(j));
	result(s, j, "duplicate", "in_progress",
	    jv_object_set(jv_object(), jv_string("outbox_id"),
	    jv_string_fmt("o_%s", j->outbox)));
	free_job(j);
}

/*
 * Reject J, whose customer the check just before the request found
 * blocked, unsubscribed or flagged since J was read. As for a record
 * that the first check rejects, nothing is left of it in the outbox, so
 * the same input runs again once the customer may get it. A row of
 * --queued fails instead, as its other checks do.
 */
static void
held_back(struct sender *s, struct send_job *j)
{
	char message[256];

	if (strcmp(j->held, "blocked") == 0)
		snprintf(message, sizeof(message), "customer %s was blocked "
		    "before the request", j->phone);
	else if (strcmp(j->held, "not_subscribed") == 0)
		snprintf(message, sizeof(message), "%s was no longer "
		    "subscribed at the time of the request", j->phone);
	else
		snprintf(message, sizeof(message), "a text of %s that may ask "
		    "to stop (possible opt-out) came before the request; see "
		    "convo-mark --dismiss-flag and --confirm-opt-out", j->phone);
	if (j->queued[0] == '\0')
		outbox_forget(&s->ctx, j->outbox);
	reject_with(s, j, j->held, message, jv_object());
	free_job(j);
}

/*
 * Start pending jobs in order while there is room in flight. The jobs
 * that start together are marked sending in one durable commit first.
 */
static void
start_ready(struct sender *s)
{
	double now = now_seconds();
	int i = 0, n = 0, room = s->o.parallel - twilio_in_flight(&s->twilio);
	struct send_job **batch;
	int *claimed;

	/* A request in flight may still show the provider up. */
	if (s->down && !outage_settled(s))
		return;
	if (s->refused || s->down) {
		sort_pending(s);
		for (i = 0; i < s->npending; i++) {
			if (s->refused)
				hold_for_credentials(s, s->pending[i], NULL);
			else
				hold_queued(s, s->pending[i],
				    "provider_unavailable", EX_TEMPFAIL);
		}
		s->npending = 0;
		return;
	}
	if (room <= 0 || s->npending == 0)
		return;
	/*
	 * Wait up to 50 ms for half the slots to be free, so that a commit
	 * covers several requests rather than one each time one finishes.
	 */
	if (twilio_in_flight(&s->twilio) > 0 && room < (s->o.parallel + 1) / 2) {
		if (s->hold_until == 0)
			s->hold_until = now + 0.05;
		if (now < s->hold_until)
			return;
	}
	s->hold_until = 0;
	batch = xmalloc(room * sizeof(*batch));
	claimed = xmalloc(room * sizeof(*claimed));
	while (i < s->npending && n < room) {
		struct send_job *j = s->pending[i];

		if (!may_start(s, j, now)) {
			i++;
			continue;
		}
		memmove(&s->pending[i], &s->pending[i + 1],
		    (s->npending - i - 1) * sizeof(*s->pending));
		s->npending--;
		batch[n++] = j;
	}
	if (n > 0)
		outbox_set_sending(&s->ctx, batch, n, claimed);
	for (i = 0; i < n; i++) {
		if (claimed[i] > 0)
			start_job(s, batch[i]);
		else if (claimed[i] < 0)
			held_back(s, batch[i]);
		else
			taken_over(s, batch[i]);
	}
	free(claimed);
	free(batch);
}

/*
 * Record the outcome of a finished request: sent, a final error, or a
 * retry later. A job whose attempts ran out stays queued in the outbox
 * for a later run.
 */
static void
complete(struct sender *s, struct twilio_call *call)
{
	struct send_job *j = call->owner;
	const struct twilio_response *res = &call->res;

	j->call = NULL;
	/* HTTP 429 comes from a working provider that throttles requests. */
	if (twilio_retryable(res) && res->http_status != 429 &&
	    strcmp(res->error_code, "20429") != 0) {
		if (s->failing++ == 0)
			s->failing_since = now_seconds();
		snprintf(s->last_error, sizeof(s->last_error), "%s",
		    res->transport_error[0] ? res->transport_error :
		    res->error_message);
	} else if (res->http_status >= 200 && res->http_status < 500) {
		s->failing = 0;
		s->last_response = now_seconds();
		/* Until the messages are held, a success undoes an outage. */
		s->down = s->down_reported;
	}
	if (res->http_status >= 200 && res->http_status < 300 &&
	    res->sid[0] != '\0') {
		/* flush_sent() records it and frees the job. */
		record_sent(s, j, res);
		twilio_call_free(call);
		free(call);
		return;
	} else if (res->maybe_sent || (res->http_status >= 200 &&
	    res->http_status < 300)) {
		/* Twilio takes no idempotency key: sending again could
		 * send twice, so the row stays sending. */
		outbox_release(&s->ctx, j->outbox, NULL);
		s->unknown++;
		s->status = exit_merge(s->status, EX_TEMPFAIL);
		if (!res->maybe_sent)
			warnx("%s: HTTP %ld answer names no message SID; not "
			    "sent again (see --retry-unknown)", job_name(j),
			    res->http_status);
		else
			warnx("%s: the request may have been sent but no "
			    "answer came (%s); not sent again (see "
			    "--retry-unknown)", job_name(j),
			    res->transport_error[0] ? res->transport_error :
			    res->error_message);
		result(s, j, "unknown", "outcome_unknown",
		    jv_object_set(jv_object(), jv_string("outbox_id"),
		    jv_string_fmt("o_%s", j->outbox)));
		check_outage(s, j, res);
	} else if (res->http_status == 401 ||
	    strcmp(res->error_code, "20003") == 0) {
		hold_for_credentials(s, j, res);
		twilio_call_free(call);
		free(call);
		return;
	} else if (!twilio_retryable(res)) {
		record_failed(s, j, res);
	} else {
		if (j->attempts < s->o.max_attempts) {
			outbox_set_state(&s->ctx, j->outbox, "queued");
			j->not_before = now_seconds() + backoff(res,
			    j->attempts);
			push_pending(s, j);
			twilio_call_free(call);
			free(call);
			return;
		}
		check_outage(s, j, res);
		if (!s->down)
			warnx("%s: still queued after %d %s: %s; "
			    "convo-send --queued tries it again", job_name(j),
			    j->attempts, j->attempts == 1 ? "attempt" :
			    "attempts", res->transport_error[0] ?
			    res->transport_error : res->error_message);
		hold_queued(s, j, "provider_unavailable", EX_TEMPFAIL);
		twilio_call_free(call);
		free(call);
		return;
	}
	twilio_call_free(call);
	free(call);
	free_job(j);
}

/*
 * Report J, a reply to a keyword message sent more than 24 hours ago, as
 * skipped: convo-ingest prints such replies when it records history, and
 * none of them is sent. An outbox row of --queued is not tried again.
 */
static void
skip_old_keyword(struct sender *s, const struct send_job *j)
{
	char message[256];
	jv reply_to = jv_object_get(jv_copy(j->input),
	    jv_string("in_reply_to"));
	jv extra = jv_object();

	snprintf(message, sizeof(message), "keyword message %s was sent more "
	    "than 24 hours ago, so its reply is not sent",
	    jv_string_value(reply_to));
	jv_free(reply_to);
	s->skipped++;
	if (j->queued[0] != '\0') {
		warnx("outbox row o_%s: not sent: %s", j->queued, message);
		if (!s->o.dry_run)
			outbox_reject_row(&s->ctx, j->queued, message);
	}
	extra = jv_object_set(extra, jv_string("message"), jv_string(message));
	result(s, j, "skipped", "old_keyword", extra);
}

/*
 * Run the checks of J once its customer is known, up to its idempotency key.
 * Returns 1 when J goes on to the outbox, 0 when its result is written.
 */
static int
check_found(struct sender *s, struct send_job *j)
{
	char message[512];
	const char *reason, *body;

	if ((reason = content_of(s, j, message, sizeof(message))) != NULL) {
		reject(s, j, reason, message);
		return 0;
	}
	body = jv_string_value(j->body);
	if (segments_count(body, strlen(body), &j->seg) != 0) {
		reject(s, j, "invalid_body", "body is not UTF-8 text");
		return 0;
	}
	outbox_keyword_reply(&s->ctx, j);
	if (j->old_keyword) {
		skip_old_keyword(s, j);
		return 0;
	}
	snprintf(j->origin, sizeof(j->origin), "%s", j->keyword_reply ?
	    "keyword_reply" : "conversation");
	/* An outbox row keeps the sender it was stored with. */
	if (s->o.from != NULL)
		snprintf(j->brand, sizeof(j->brand), "%s", s->o.from);
	else if (j->keyword_reply || j->queued[0] != '\0')
		reply_sender(j);
	if (s->o.from == NULL && j->brand[0] == '\0' &&
	    getenv("CONVO_FROM") != NULL)
		snprintf(j->brand, sizeof(j->brand), "%s", getenv("CONVO_FROM"));
	if ((reason = send_check_content(j, message, sizeof(message))) ||
	    (reason = send_check_recipient(&s->ctx, j, message,
	    sizeof(message)))) {
		reject_with(s, j, reason, message,
		    strcmp(reason, "possible_opt_out") == 0 ?
		    possible_opt_out_fields(j) : jv_object());
		return 0;
	}
	if (!j->keyword_reply && outbox_quiet_hours(&s->ctx, j)) {
		s->deferred++;
		result(s, j, "deferred", "quiet_hours", jv_null());
		return 0;
	}
	outbox_derive_key(&s->ctx, j);
	return 1;
}

/*
 * Act on the outbox row of J, claimed or, in a dry run, looked up: row
 * ROW of RES. Returns 1 when J is to be sent, 0 when its result is
 * written.
 */
static int
check_claimed(struct sender *s, struct send_job *j, enum outbox_claim c,
    const PGresult *res, int row)
{
	if (c == OUTBOX_DONE || c == OUTBOX_BUSY || c == OUTBOX_REPEATED ||
	    (c == OUTBOX_UNKNOWN && !s->o.retry_unknown)) {
		/* The claim took over the row of an ended run: give it back. */
		if (c == OUTBOX_UNKNOWN && !s->o.dry_run)
			outbox_release(&s->ctx, j->outbox, NULL);
		report_claimed(s, j, c, res, row);
		return 0;
	}
	if (s->o.dry_run) {
		dry_run(s, j);
		return 0;
	}
	return 1;
}

/*
 * Look up the customers of the N JOBS, whose recipients are valid, in
 * one statement, and drop the jobs of unknown ones. Returns the number
 * of jobs left in JOBS.
 */
static int
resolve_batch(struct sender *s, struct send_job **jobs, int n)
{
	int *found = xmalloc(n * sizeof(*found));
	int i, m = 0;

	outbox_resolve(&s->ctx, jobs, n, found);
	for (i = 0; i < n; i++) {
		struct send_job *j = jobs[i];
		char message[256];

		if (found[i] && j->named_channel[0] != '\0' &&
		    strcmp(j->named_channel, j->channel) != 0) {
			snprintf(message, sizeof(message), "channel \"%s\" does "
			    "not match conversation %s on %s", j->named_channel,
			    j->requested, j->channel);
			reject(s, j, "invalid_recipient", message);
			free_job(j);
			continue;
		}
		if (found[i]) {
			jobs[m++] = j;
			continue;
		}
		if (j->requested[0] != '\0')
			snprintf(message, sizeof(message), "conversation \"%s\" "
			    "not found; list conversations with convo-list",
			    j->requested);
		else
			snprintf(message, sizeof(message), "no customer %s; the "
			    "customer must write first", j->phone);
		reject(s, j, "no_conversation", message);
		free_job(j);
	}
	free(found);
	return m;
}

/*
 * Return OUTBOX_REPEATED when a dry run found J's key earlier in a row
 * that a run would claim, else C, the state that outbox_peek() found. A
 * run claims the key of a new, queued or sending row, so a later message
 * with that key is repeated, as convo.outbox_claim_batch reports it. A
 * dry run remembers the keys of the last DRY_KEYS such rows only.
 */
static enum outbox_claim
dry_run_claim(struct sender *s, const struct send_job *j,
    enum outbox_claim c)
{
	if (c == OUTBOX_DONE || c == OUTBOX_BUSY)
		return c;
	if (s->dry_keys.now == NULL)
		recent_init(&s->dry_keys, DRY_KEYS);
	return recent_seen(&s->dry_keys, j->key) ? OUTBOX_REPEATED : c;
}

/* Claim the outbox rows of the N JOBS and queue those to send. */
static void
claim_batch(struct sender *s, struct send_job **jobs, int n)
{
	enum outbox_claim *claims = xmalloc(n * sizeof(*claims));
	PGresult *res = NULL;
	int i;

	if (!s->o.dry_run)
		res = outbox_claim(&s->ctx, jobs, n, claims);
	for (i = 0; i < n; i++) {
		/* A dry run reports what the outbox holds, as a run would. */
		if (s->o.dry_run) {
			PQclear(res);
			claims[i] = dry_run_claim(s, jobs[i],
			    outbox_peek(&s->ctx, jobs[i], &res));
		}
		if (check_claimed(s, jobs[i], claims[i], res,
		    s->o.dry_run ? 0 : i))
			push_pending(s, jobs[i]);
		else
			free_job(jobs[i]);
	}
	PQclear(res);
	free(claims);
}

/*
 * Check the N JOBS read together and store those to send in the outbox,
 * in input order; the jobs to send join the pending ones.
 */
static void
prepare_batch(struct sender *s, struct send_job **jobs, int n)
{
	char message[256];
	const char *reason;
	int i, m = 0;

	for (i = 0; i < n; i++) {
		reason = recipient_kind(jobs[i], message, sizeof(message));
		if (reason == NULL)
			reason = recipient_of(s, jobs[i], message,
			    sizeof(message));
		if (reason == NULL) {
			jobs[m++] = jobs[i];
			continue;
		}
		reject(s, jobs[i], reason, message);
		free_job(jobs[i]);
	}
	n = m > 0 ? resolve_batch(s, jobs, m) : 0;
	for (i = m = 0; i < n; i++) {
		if (check_found(s, jobs[i]))
			jobs[m++] = jobs[i];
		else
			free_job(jobs[i]);
	}
	if (m > 0)
		claim_batch(s, jobs, m);
}

/* Return a new job of REC (consumed), read from input line LINE. */
static struct send_job *
new_job(jv rec, long long line)
{
	struct send_job *j = xmalloc(sizeof(*j));

	memset(j, 0, sizeof(*j));
	j->line = line;
	j->input = rec;
	j->body = jv_null();
	j->media = jv_null();
	j->local_minutes = -1;
	return j;
}

/*
 * Return the job of the next queued outbox row that no live run holds,
 * oldest first, or NULL when none is left. The job is the send record of
 * the row, under the row's own key. Rows are read 100 at a time.
 */
static struct send_job *
queued_job(struct sender *s)
{
	const char *params[4] = { s->ctx.account_id, s->queue_after, NULL,
	    s->o.retry_unknown ? "t" : "f" };
	char hours[32];
	struct send_job *j;
	jv rec;

	if (s->queue == NULL || s->queue_row >= PQntuples(s->queue)) {
		PQclear(s->queue);
		snprintf(hours, sizeof(hours), "%ld hours", s->o.window_hours);
		params[2] = hours;
		s->queue = outbox_query(&s->ctx, "SELECT o.outbox_id, "
		    "o.idempotency_key, json_build_object('type', 'send', "
		    "'to', o.to_address, 'channel', o.channel, 'from', "
		    "coalesce(o.from_address, o.messaging_service_sid), "
		    "'body', o.body, 'media', o.media, 'origin', o.origin, "
		    "'in_reply_to', o.reply_to), "
		    "o.conversation_id IS NULL AND o.origin <> 'keyword_reply' "
		    "FROM convo.outbox o "
		    "WHERE o.account_id = $1 AND (o.state = 'queued' OR "
		    "($4::boolean AND o.state = 'sending')) "
		    "AND o.outbox_id > $2 AND o.created_at > now() - $3::interval "
		    "AND NOT convo.outbox_busy(o) ORDER BY o.outbox_id "
		    "LIMIT 100", 4, params);
		s->queue_row = 0;
		if (PQntuples(s->queue) == 0)
			return NULL;
	}
	snprintf(s->queue_after, sizeof(s->queue_after), "%s",
	    PQgetvalue(s->queue, s->queue_row, 0));
	rec = jv_parse(PQgetvalue(s->queue, s->queue_row, 2));
	j = new_job(rec, 0);
	snprintf(j->key, sizeof(j->key), "%s",
	    PQgetvalue(s->queue, s->queue_row, 1));
	snprintf(j->queued, sizeof(j->queued), "%s", s->queue_after);
	/* A row stored without a conversation had passed the checks of --new. */
	j->stored_new = PQgetvalue(s->queue, s->queue_row, 3)[0] == 't';
	s->queue_row++;
	return j;
}

/*
 * Parse LINE of LEN bytes into a record. On failure, warn with the reason
 * and line LINENO, and return an invalid jv.
 */
static jv
parse_input(const char *line, size_t len, int too_long, long long lineno)
{
	jv rec, msg;

	if (too_long) {
		warnx("line %lld: longer than the limit of %d bytes", lineno,
		    CONVO_LINE_MAX);
		return jv_invalid();
	}
	rec = json_parse_line(line, len);
	if (!jv_is_valid(rec)) {
		msg = jv_invalid_get_msg(rec);
		warnx("line %lld: %s", lineno, jv_string_value(msg));
		jv_free(msg);
		return jv_invalid();
	}
	if (jv_get_kind(rec) != JV_KIND_OBJECT) {
		warnx("line %lld: expected a JSON record, not %s", lineno,
		    jv_kind_name(jv_get_kind(rec)));
		jv_free(rec);
		return jv_invalid();
	}
	return rec;
}

/*
 * Return 1 when a whole input line is there to read. When the run has
 * nothing else to do (no request in flight, no job waiting, BATCHED 0),
 * record what was sent, then wait in poll(), which a stop signal ends.
 * Return 0 after a stop signal, or when no line is there yet.
 */
static int
input_ready(struct sender *s, int batched)
{
	if (stop_signal != 0)
		return 0;
	if (s->o.queued || linereader_ready(&s->input, 0))
		return 1;
	if (batched > 0 || s->npending > 0 ||
	    twilio_in_flight(&s->twilio) > 0)
		return 0;
	flush_sent(s);
	outbox_settle(&s->ctx);
	while (stop_signal == 0)
		if (linereader_ready(&s->input, -1))
			return 1;
	return 0;
}

/*
 * Return the file descriptor of the input while more of it fits among
 * the jobs, or -1.
 */
static int
input_wanted(const struct sender *s)
{
	if (s->o.queued || s->input_done || s->npending +
	    twilio_in_flight(&s->twilio) >= 2 * s->o.parallel)
		return -1;
	return s->input.fd;
}

/*
 * Read the next job, the BATCHED + 1st of a batch. Returns NULL at the
 * end of the input, or with *LATER set when no line is there yet, so
 * that a slow producer does not hold up the requests in flight.
 */
static struct send_job *
read_job(struct sender *s, int batched, int *later)
{
	const char *line;
	size_t len;
	int too_long, rc;
	jv rec;

	if (s->o.queued)
		return queued_job(s);
	for (;;) {
		if (!input_ready(s, batched)) {
			*later = 1;
			return NULL;
		}
		rc = linereader_next(&s->input, &line, &len, &too_long);
		if (rc < 0) {
			warn("cannot read the input at line %lld",
			    s->input.lineno + 1);
			s->status = exit_merge(s->status, EX_IOERR);
		}
		if (rc != 1)
			return NULL;
		progress_add(&s->progress, 0, len + 1);
		if (!too_long && linereader_blank(line, len))
			continue;
		rec = parse_input(line, len, too_long, s->input.lineno);
		if (!jv_is_valid(rec)) {
			s->rejected++;
			s->status = exit_merge(s->status, EX_DATAERR);
			jv_free(rec);
			continue;
		}
		if (!sendable(rec)) {
			s->skipped++;
			jv_free(rec);
			continue;
		}
		return new_job(rec, s->input.lineno);
	}
}

/*
 * Read and prepare records, a batch at a time, until twice --parallel
 * jobs wait or are in flight, the input ends, or no line is there yet.
 */
static void
fill(struct sender *s)
{
	struct send_job **batch, *j;
	int n, room, later = 0;

	while (!s->input_done && !later && (room = 2 * s->o.parallel -
	    s->npending - twilio_in_flight(&s->twilio)) > 0) {
		batch = xmalloc(room * sizeof(*batch));
		for (n = 0; n < room; n++) {
			if ((j = read_job(s, n, &later)) == NULL) {
				if (!later)
					s->input_done = 1;
				break;
			}
			batch[n] = j;
		}
		prepare_batch(s, batch, n);
		free(batch);
	}
}

/*
 * Milliseconds until the earliest pending job may start, at most 1 s,
 * or 0 when more input is there to read.
 */
static int
idle_wait(struct sender *s)
{
	double now = now_seconds(), first = now + 1;
	int i;

	/*
	 * While every slot is in flight no pending job can start, and
	 * twilio_next() returns early when a request completes.
	 */
	if (twilio_in_flight(&s->twilio) >= s->o.parallel)
		return 1000;
	/* When the provider is down, no job starts until they all end. */
	if (s->down && twilio_in_flight(&s->twilio) > 0)
		return 1000;
	/* Jobs that ended without a request leave room for more input. */
	if (input_wanted(s) >= 0 && input_ready(s, 0))
		return 0;
	if (s->o.queued && !s->input_done && s->npending +
	    twilio_in_flight(&s->twilio) < 2 * s->o.parallel)
		return 0;
	for (i = 0; i < s->npending; i++)
		if (s->pending[i]->not_before < first)
			first = s->pending[i]->not_before;
	if (s->o.rate > 0 && s->npending > 0)
		first = now + 0.01;
	/* Jobs held for a shared commit are not ready before the hold ends. */
	if (first <= now && s->hold_until > now)
		first = s->hold_until;
	return first <= now ? 0 : (int)((first - now) * 1000) + 1;
}

/*
 * Read records, keeping at most twice --parallel jobs waiting, start
 * them as room and pacing allow, and record each outcome as it arrives.
 */
static void
run(struct sender *s)
{
	struct twilio_call *call;
	int wait;

	for (;;) {
		progress_add(&s->progress, 0, 0);
		if (stop_signal == 0)
			fill(s);
		if (stop_signal != 0)
			stop_reading(s);
		if (!s->o.dry_run)
			start_ready(s);
		if (s->npending == 0 && (s->o.dry_run ||
		    twilio_in_flight(&s->twilio) == 0) && s->input_done)
			break;
		wait = idle_wait(s);
		/* Wait for a pending job's time, or less when input comes. */
		if (twilio_in_flight(&s->twilio) == 0) {
			if (input_wanted(s) >= 0)
				linereader_ready(&s->input, wait);
			else
				sleep_seconds(wait / 1000.0);
			continue;
		}
		if ((call = twilio_next(&s->twilio, wait > 100 ? 100 : wait,
		    input_wanted(s))))
			complete(s, call);
		while (call != NULL && (call = twilio_next(&s->twilio, 0, -1)))
			complete(s, call);
		flush_sent(s);
	}
	outbox_settle(&s->ctx);
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

/*
 * Parse a time of day, H:MM or HH:MM, at *P into minutes after midnight
 * and move *P past it. Returns -1 when it is not one.
 */
static int
parse_clock(const char **p)
{
	const char *s = *p;
	int hour = 0, digits = 0;

	while (digits < 2 && isdigit((unsigned char)*s)) {
		hour = hour * 10 + (*s++ - '0');
		digits++;
	}
	if (digits == 0 || s[0] != ':' || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]))
		return -1;
	*p = s + 3;
	if (hour > 23 || (s[1] - '0') > 5)
		return -1;
	return hour * 60 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* Parse "21:00-08:00" into minutes after midnight. */
static void
parse_quiet_hours(struct options *o, const char *arg)
{
	const char *p = arg;

	o->quiet_start = parse_clock(&p);
	if (o->quiet_start >= 0 && *p++ == '-')
		o->quiet_end = parse_clock(&p);
	else
		o->quiet_end = -1;
	if (o->quiet_start < 0 || o->quiet_end < 0 || *p != '\0')
		errx(EX_USAGE, "invalid quiet hours \"%s\": expected "
		    "HH:MM-HH:MM such as 21:00-08:00", arg);
}

static char *
read_body_file(const char *path)
{
	struct buf b = { 0 };
	char chunk[4096];
	const char *nul;
	size_t bom = 0;
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
	/*
	 * Editors on Windows start UTF-8 files with a byte order mark.
	 * Customers would get it as an invisible character that also
	 * makes a GSM-7 text UCS-2.
	 */
	if (b.len >= 3 && memcmp(b.data, "\xef\xbb\xbf", 3) == 0) {
		bom = 3;
		memmove(b.data, b.data + bom, b.len - bom);
		b.len -= bom;
	}
	if ((nul = memchr(b.data, '\0', b.len)) != NULL)
		errx(EX_DATAERR, "body file \"%s\" contains a NUL byte at "
		    "offset %zu, so it is not text", path,
		    (size_t)(nul - b.data) + bom);
	buf_addc(&b, '\0');
	if (!utf8_valid(b.data, b.len - 1))
		errx(EX_DATAERR, "body file \"%s\" is not UTF-8 text: invalid "
		    "byte at offset %zu", path,
		    utf8_invalid_offset(b.data, b.len - 1) + bom);
	return b.data;
}

static long
number_option(const char *arg, long min, long max, const char *what)
{
	const char *errstr;
	long n = cli_number(arg, min, max, &errstr);

	if (errstr != NULL)
		errx(EX_USAGE, "%s \"%s\" is %s: expected %ld to %ld", what,
		    arg, errstr, min, max);
	return n;
}

/*
 * A sender: a messaging service id or short code as given, a phone
 * number in E.164. The default country is not known yet, so national
 * numbers are read as North American.
 */
static const char *
sender_option(const char *arg)
{
	static char phone[PHONE_MAX];
	const char *why;

	if (strncmp(arg, "MG", 2) == 0 || phone_is_short_code(arg))
		return arg;
	if (phone_normalize(arg, "US", phone, sizeof(phone), &why) != 0)
		errx(EX_USAGE, "invalid sender \"%s\": %s; expected E.164, a "
		    "short code or a messaging service id", arg, why);
	return phone;
}

/*
 * Parse a rate in segments per second, such as 1, 0.5 or 30; 0 is no
 * limit. The range test is written so that NaN fails it too.
 */
static double
rate_option(const char *arg)
{
	char *end = NULL;
	double rate = -1;

	/* Plain decimals only: no sign, exponent, hexadecimal or spaces. */
	if (arg[strspn(arg, "0123456789.")] == '\0' &&
	    strchr(arg, '.') == strrchr(arg, '.')) {
		errno = 0;
		rate = strtod(arg, &end);
	}
	if (end == NULL || end == arg || *end != '\0' || errno != 0 ||
	    !(rate >= 0 && rate <= 1000))
		errx(EX_USAGE, "invalid rate \"%s\": expected segments per "
		    "second from 0 (no limit) to 1000", arg);
	return rate;
}

/* Values of option arguments for the shell completions. */
static const char *
complete_value(int option, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	switch (option) {
	case 'a': return CLI_ACCOUNT;
	case 'c': return CLI_CONVERSATION;
	case 'B': return CLI_FILE;
	}
	return NULL;
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
		{ "parallel", required_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "queued", no_argument, NULL, 8 },
		{ "quiet-hours", required_argument, NULL, 4 },
		{ "rate", required_argument, NULL, 5 },
		{ "retry-unknown", no_argument, NULL, 6 },
		{ "timeout", required_argument, NULL, 7 },
		{ "to", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		CLI_COMPLETE_OPTION,
		{ NULL, 0, NULL, 0 },
	};
	static const struct cli_program prog = {
		"a:b:B:c:d:f:hj:k:m:nP:qt:vV", options, complete_value,
	};
	int c;

	while ((c = getopt_long(argc, argv, prog.shortopts, options, NULL))
	    != -1) {
		switch (c) {
		case CLI_OPT_COMPLETE:
			cli_complete(&prog, optarg, argc - optind, argv + optind);
		case 'a': o->account = optarg; break;
		case 'b': o->body = optarg; break;
		case 'B':
			free(o->body_file);
			o->body = o->body_file = read_body_file(optarg);
			break;
		case 'c': o->conversation = optarg; break;
		case 'd': o->db = cli_conninfo_option(optarg); break;
		case 'f': o->from = sender_option(optarg); break;
		case 'h': help(); break;
		case 'j': o->body_jq = optarg; break;
		case 'k': o->idempotency_key = optarg; break;
		case 'n': o->dry_run = 1; break;
		case 'q':
			o->quiet = 1;
			cli_verbosity = CLI_QUIET;
			break;
		case 'v': cli_verbosity = CLI_VERBOSE; break;
		case 't': o->to = optarg; break;
		case 'V': db_print_version(); break;
		case 2:
			o->max_attempts = (int)number_option(optarg, 1, 20,
			    "max attempts");
			break;
		case 3: o->new_conversation = 1; break;
		case 'P':
			o->parallel = (int)number_option(optarg, 1, 64,
			    "parallel requests");
			break;
		case 4: parse_quiet_hours(o, optarg); break;
		case 5:
			o->rate = rate_option(optarg);
			break;
		case 6: o->retry_unknown = 1; break;
		case 8: o->queued = 1; break;
		case 7:
			o->timeout = (int)number_option(optarg, 1, 600,
			    "timeout seconds");
			break;
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
	cli_reject_operands(optind, argc, argv, usage);
	if (o->queued && (o->to || o->conversation || o->body || o->body_jq ||
	    o->nmedia || o->idempotency_key))
		errx(EX_USAGE, "--queued takes no recipient, body, media or "
		    "idempotency key: each outbox row has its own");
}

/*
 * Give --body-jq no input beyond its record. The invalid value without a
 * message makes libjq raise its own end-of-input error, which its
 * `inputs` catches, so that `input` fails and `inputs` is empty.
 */
static jv
no_more_input(jq_state *jq, void *arg)
{
	struct sender *s = arg;

	(void)jq;
	s->jq_read_past_end = 1;
	return jv_invalid();
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
	jq_set_input_cb(s->jq, no_more_input, s);
}

static void
start_provider(struct sender *s)
{
	const char *provider = getenv("CONVO_PROVIDER");
	char msg[1024];
	int rc, provider_dry_run = 0;

	if (provider != NULL && strcmp(provider, "dry-run") == 0)
		provider_dry_run = s->o.dry_run = 1;
	else if (provider != NULL && *provider != '\0' &&
	    strcmp(provider, "twilio") != 0)
		errx(EX_CONFIG, "unknown provider \"%s\" in CONVO_PROVIDER: "
		    "expected twilio or dry-run", provider);
	/* A dry run checks the settings too, but needs no credentials. */
	rc = twilio_init(&s->twilio, s->o.dry_run ?
	    TWILIO_CREDENTIALS_OPTIONAL : 0, msg, sizeof(msg));
	if (rc == TWILIO_MISSING && !s->o.dry_run)
		errx(EX_CONFIG, "%s; or use --dry-run", msg);
	if (rc == TWILIO_INVALID)
		errx(EX_CONFIG, "%s", msg);
	/*
	 * --dry-run rehearses a real run, so it warns of what would stop
	 * one. With CONVO_PROVIDER=dry-run no real run is configured.
	 */
	if (rc == TWILIO_MISSING && !provider_dry_run && !s->o.quiet)
		warnx("warning: a run without --dry-run would exit %d, "
		    "because %s", EX_CONFIG, msg);
	if (s->twilio.insecure && !s->o.quiet)
		warnx("warning: %s=1: TLS is neither required nor verified "
		    "for %s; use it only with a local test server",
		    TWILIO_INSECURE_VARIABLE, s->twilio.base);
	if (!s->o.dry_run)
		twilio_limit(&s->twilio, s->o.parallel);
	s->twilio.timeout_ms = s->o.timeout * 1000L;
}

static void
summary(const struct sender *s)
{
	if (s->o.quiet)
		return;
	fprintf(stderr, "convo-send: %lld sent, %lld duplicate, %lld deferred, "
	    "%lld rejected, %lld failed, %lld unknown, %lld queued, "
	    "%lld skipped, %lld dry run\n", s->sent, s->duplicate, s->deferred,
	    s->rejected, s->failed, s->unknown, s->queued, s->skipped, s->dry);
}

int
main(int argc, char **argv)
{
	struct sender s;
	char now[TIME_MAX];

	memset(&s, 0, sizeof(s));
	s.o.quiet_start = s.o.quiet_end = -1;
	s.o.rate = 1;
	s.o.max_attempts = 4;
	s.o.timeout = 30;
	s.o.window_hours = 24;
	s.o.parallel = 4;
	signal(SIGPIPE, SIG_IGN);
	catch_stop_signals();
	parse_options(&s.o, argc, argv);
	s.o.account = convo_account(s.o.account);
	s.ctx.now = fixed_now(now);
	if (s.o.to == NULL && s.o.conversation == NULL && !s.o.queued &&
	    isatty(STDIN_FILENO))
		usage();
	compile_jq(&s);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	start_provider(&s);
	s.ctx.conn = db_connect(s.o.db);
	snprintf(s.ctx.account_id, sizeof(s.ctx.account_id), "%lld",
	    db_account(s.ctx.conn, s.o.account, s.ctx.country));
	s.ctx.idempotency_key = s.o.idempotency_key;
	snprintf(s.queue_after, sizeof(s.queue_after), "0");
	s.ctx.window_hours = s.o.window_hours;
	s.ctx.new_conversation = s.o.new_conversation;
	s.ctx.quiet_start = s.o.quiet_start;
	s.ctx.quiet_end = s.o.quiet_end;
	linereader_init(&s.input, STDIN_FILENO, CONVO_LINE_MAX);
	progress_start(&s.progress, !s.o.quiet);
	if (s.o.to != NULL || s.o.conversation != NULL) {
		struct send_job *j = new_job(jv_object(), 0);

		prepare_batch(&s, &j, 1);
		s.input_done = 1;
	} else if (!s.o.queued) {
		progress_expect(&s.progress, STDIN_FILENO, NULL);
	}
	run(&s);
	progress_end(&s.progress);
	cli_phase("send");
	summary(&s);
	linereader_free(&s.input);
	PQclear(s.queue);
	twilio_free(&s.twilio);
	if (s.jq != NULL)
		jq_teardown(&s.jq);
	outbox_ctx_free(&s.ctx);
	PQfinish(s.ctx.conn);
	curl_global_cleanup();
	free(s.pending);
	free(s.pacers);
	free(s.done);
	free(s.recording);
	recent_free(&s.dry_keys);
	free(s.o.body_file);
	if (view_flush() != 0)
		s.status = exit_merge(s.status, EX_IOERR);
	/* End by the same signal, so that a shell running a script stops. */
	if (stop_signal != 0) {
		signal(stop_signal, SIG_DFL);
		raise(stop_signal);
	}
	return s.status;
}
