/*
 * convo-ingest: record messages, delivery receipts, consent changes and
 * profiles from NDJSON records or Twilio webhook bodies, in batches.
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

#include <jv.h>
#include <libpq-fe.h>

#include "buf.h"
#include "convo.h"
#include "db.h"
#include "form.h"
#include "linereader.h"
#include "match.h"
#include "record.h"
#include "stage.h"
#include "timeutil.h"
#include "views.h"

enum format { FORMAT_AUTO, FORMAT_NDJSON, FORMAT_TWILIO };

/* One input line of the current batch. */
struct slot {
	long long line;
	const char *file;	/* NULL for standard input */
	char *error;		/* why the line was rejected, or NULL */
	jv normal;		/* normal form, or null when rejected */
	char *input;		/* the line, kept for the rejects file */
	size_t input_len;
	jv result;		/* row returned for it, or null */
};

struct ingest {
	PGconn *conn;
	long long account;
	char country[8];
	enum format format;
	FILE *rejects;
	int batch_size;
	int quiet;
	int verbose;
	int status;		/* exit status so far */
	int output_failed;
	long long errors_shown;
	struct slot *slots;
	int nslots;
	struct stage stage;
	struct keyword_set keywords;
	/* Results by kind of outcome, for the summary line. */
	long long records, inserted, updated, duplicate, conflict, pending;
	long long rejected, replies;
};

/* Errors printed before the rest are only counted. */
#define ERRORS_SHOWN_MAX 100

/* Deadlocks and serialization failures are retried this many times. */
#define RETRY_MAX 5

static void
usage(void)
{
	fprintf(stderr, "usage: convo-ingest [-qv] [--account NAME] "
	    "[--db CONNINFO] [--format auto|ndjson|twilio]\n"
	    "                    [--rejects FILE] [--batch-size N] "
	    "[FILE ...]\n");
	exit(EX_USAGE);
}

static void
help(void)
{
	printf("usage: convo-ingest [options] [FILE ...]\n"
	    "Record messages, delivery receipts, consent and profiles from\n"
	    "NDJSON records or Twilio webhook bodies (standard input or "
	    "FILEs).\n\n"
	    "  -a, --account NAME    account (default $CONVO_ACCOUNT or "
	    "\"default\")\n"
	    "  -d, --db CONNINFO     PostgreSQL connection (default "
	    "$CONVO_DB, libpq\n"
	    "                        variables, else the local database)\n"
	    "  -f, --format FORMAT   auto, ndjson or twilio (default auto)\n"
	    "  -r, --rejects FILE    append rejected lines to FILE as "
	    "NDJSON\n"
	    "  -b, --batch-size N    records per transaction (default "
	    "2000)\n"
	    "  -q, --quiet           no summary line on standard error\n"
	    "  -v, --verbose         report each batch\n"
	    "  -h, --help            show this help\n"
	    "  -V, --version         show the version\n\n"
	    "Lines are limited to %d bytes. See convo-ingest(1) and "
	    "convo(5).\n", CONVO_LINE_MAX);
	exit(0);
}

/* Print an error about LINE, up to ERRORS_SHOWN_MAX of them. */
static void
line_warning(struct ingest *in, const struct slot *s)
{
	in->errors_shown++;
	if (in->errors_shown > ERRORS_SHOWN_MAX)
		return;
	if (s->file != NULL)
		warnx("%s: line %lld: %s", s->file, s->line, s->error);
	else
		warnx("line %lld: %s", s->line, s->error);
	if (in->errors_shown == ERRORS_SHOWN_MAX)
		warnx("further errors are counted but not shown");
}

/* Write one record to standard output, remembering a failed write. */
static void
emit(struct ingest *in, jv record)
{
	if (in->output_failed)
		jv_free(record);
	else if (view_print(record) != 0)
		in->output_failed = 1;
}

static void
write_reject(struct ingest *in, const struct slot *s, const char *line,
    size_t len, size_t shown)
{
	struct buf b64 = { 0 };
	jv rec;

	if (in->rejects == NULL)
		return;
	rec = jv_object();
	if (s->file != NULL)
		rec = jv_object_set(rec, jv_string("file"), jv_string(s->file));
	rec = jv_object_set(rec, jv_string("input_line"),
	    jv_number(s->line));
	rec = jv_object_set(rec, jv_string("error"), jv_string(s->error));
	/* jv_string_sized replaces invalid UTF-8 with U+FFFD. */
	rec = jv_object_set(rec, jv_string("input"),
	    jv_string_sized(line, (int)shown));
	buf_base64(&b64, line, shown);
	rec = jv_object_set(rec, jv_string("input_base64"),
	    jv_string(b64.data ? b64.data : ""));
	if (shown < len) {
		rec = jv_object_set(rec, jv_string("input_bytes"),
		    jv_number((double)len));
		rec = jv_object_set(rec, jv_string("input_truncated"),
		    jv_true());
	}
	buf_free(&b64);
	rec = jv_dump_string(rec, 0);
	if (fprintf(in->rejects, "%s\n", jv_string_value(rec)) < 0)
		err(EX_CANTCREAT, "cannot write the rejects file");
	jv_free(rec);
}

static struct slot *
new_slot(struct ingest *in, const char *file, long long line)
{
	struct slot *s;

	in->slots = xrealloc(in->slots, (in->nslots + 1) * sizeof(*s));
	s = &in->slots[in->nslots++];
	s->line = line;
	s->file = file;
	s->error = NULL;
	s->normal = jv_null();
	s->result = jv_null();
	s->input = NULL;
	s->input_len = 0;
	return s;
}

/* Turn one line into a record, or return an invalid jv saying why not. */
static jv
parse_line(struct ingest *in, const char *line, size_t len)
{
	char received[TIME_MAX];
	const char *nul = memchr(line, '\0', len);
	jv rec;

	if (nul != NULL)
		return jv_invalid_with_msg(jv_string_fmt("NUL byte at column "
		    "%d", (int)(nul - line) + 1));
	if (in->format == FORMAT_TWILIO ||
	    (in->format == FORMAT_AUTO && form_looks_like(line, len))) {
		time_now_increasing(received);
		rec = twilio_form_to_record(form_decode(line, len), received);
		return rec;
	}
	if (!utf8_valid(line, len))
		return jv_invalid_with_msg(jv_string("invalid UTF-8"));
	rec = jv_parse_sized(line, (int)len);
	if (!jv_is_valid(rec)) {
		jv msg = jv_invalid_get_msg(rec);

		rec = jv_invalid_with_msg(jv_string_fmt("invalid JSON: %s",
		    jv_get_kind(msg) == JV_KIND_STRING ?
		    jv_string_value(msg) : "parse error"));
		jv_free(msg);
	}
	return rec;
}

static void
reject(struct ingest *in, struct slot *s, const char *why, const char *line,
    size_t len, size_t shown)
{
	s->error = xstrdup(why);
	line_warning(in, s);
	write_reject(in, s, line, len, shown);
}

static void
add_line(struct ingest *in, const char *file, long long lineno,
    const char *line, size_t len, int too_long)
{
	struct slot *s = new_slot(in, file, lineno);
	char why[128];
	jv rec;

	if (too_long) {
		snprintf(why, sizeof(why), "line of %zu bytes is longer than "
		    "the limit of %d bytes", len, CONVO_LINE_MAX);
		reject(in, s, why, line, len, LINEREADER_HEAD);
		return;
	}
	rec = parse_line(in, line, len);
	if (jv_is_valid(rec))
		rec = record_normalize(rec, in->country);
	if (jv_is_valid(rec))
		rec = record_match_keywords(rec, &in->keywords);
	if (!jv_is_valid(rec)) {
		jv msg = jv_invalid_get_msg(rec);

		reject(in, s, jv_get_kind(msg) == JV_KIND_STRING ?
		    jv_string_value(msg) : "invalid record", line, len, len);
		jv_free(msg);
		return;
	}
	s->normal = rec;
	s->input = xmalloc(len);
	memcpy(s->input, line, len);
	s->input_len = len;
	stage_add(&in->stage, in->nslots - 1, rec);
}

/* Look up the account and create the session's staging tables. */
static void
prepare(struct ingest *in, const char *account)
{
	in->account = db_account(in->conn, account, in->country);
	db_load_keywords(in->conn, in->account, &in->keywords);
	db_exec(in->conn, "SELECT convo.ingest_prepare()");
}

static jv
column(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return jv_null();
	return jv_string(PQgetvalue(res, row, col));
}

/* Build the ingest_result record of slot S from row ROW of RES. */
static jv
result_record(const struct slot *s, const PGresult *res, int row)
{
	jv r = jv_object_set(jv_object(), jv_string("type"),
	    jv_string("ingest_result"));

	if (s->file != NULL)
		r = jv_object_set(r, jv_string("file"), jv_string(s->file));
	r = jv_object_set(r, jv_string("input_line"), jv_number(s->line));
	r = jv_object_set(r, jv_string("kind"), column(res, row, 1));
	r = jv_object_set(r, jv_string("result"), column(res, row, 2));
	if (!PQgetisnull(res, row, 3))
		r = jv_object_set(r, jv_string("id"), column(res, row, 3));
	if (!PQgetisnull(res, row, 4))
		r = jv_object_set(r, jv_string("conversation_id"),
		    column(res, row, 4));
	/* A provider hint gives an action without a keyword of ours. */
	if (!PQgetisnull(res, row, 6)) {
		jv k = jv_object_set(jv_object(), jv_string("word"),
		    column(res, row, 5));

		k = jv_object_set(k, jv_string("action"), column(res, row, 6));
		r = jv_object_set(r, jv_string("keyword"), k);
	}
	if (!PQgetisnull(res, row, 7))
		r = jv_object_set(r, jv_string("note"), column(res, row, 7));
	return r;
}

/*
 * Return 1 when the provider marked the message as an opt-out keyword
 * (Twilio's OptOutType): the provider then sends its own reply.
 */
static int
provider_replied(const struct slot *s)
{
	jv extra = jv_object_get(jv_copy(s->normal), jv_string("extra"));
	int replied = jv_get_kind(extra) == JV_KIND_OBJECT &&
	    jv_object_has(jv_copy(extra), jv_string("opt_out_type"));

	jv_free(extra);
	return replied;
}

/* The keyword reply of row ROW as a "send" record, or null. */
static jv
reply_record(const struct slot *s, const PGresult *res, int row)
{
	jv r, pmid;

	if (PQgetisnull(res, row, 8) || provider_replied(s))
		return jv_null();
	pmid = jv_object_get(jv_copy(s->normal),
	    jv_string("provider_message_id"));
	r = jv_object_set(jv_object(), jv_string("type"), jv_string("send"));
	r = jv_object_set(r, jv_string("to"), column(res, row, 9));
	r = jv_object_set(r, jv_string("from"), column(res, row, 10));
	r = jv_object_set(r, jv_string("channel"), column(res, row, 11));
	r = jv_object_set(r, jv_string("origin"), jv_string("keyword_reply"));
	r = jv_object_set(r, jv_string("keyword"), column(res, row, 5));
	r = jv_object_set(r, jv_string("action"), column(res, row, 6));
	r = jv_object_set(r, jv_string("body"), column(res, row, 8));
	r = jv_object_set(r, jv_string("in_reply_to"), pmid);
	if (!PQgetisnull(res, row, 4))
		r = jv_object_set(r, jv_string("conversation_id"),
		    column(res, row, 4));
	return r;
}

static void
count_result(struct ingest *in, const char *result)
{
	if (strcmp(result, "inserted") == 0)
		in->inserted++;
	else if (strcmp(result, "updated") == 0)
		in->updated++;
	else if (strcmp(result, "duplicate") == 0)
		in->duplicate++;
	else if (strcmp(result, "conflict") == 0)
		in->conflict++;
	else if (strcmp(result, "pending") == 0)
		in->pending++;
}

/* Attach each returned row to its slot as result and reply records. */
static void
collect(struct ingest *in, const PGresult *res)
{
	int row, n = PQntuples(res);
	long long seq;
	struct slot *s;

	for (row = 0; row < n; row++) {
		seq = atoll(PQgetvalue(res, row, 0));
		if (seq < 0 || seq >= in->nslots)
			continue;
		s = &in->slots[seq];
		jv_free(s->result);
		s->result = jv_array();
		s->result = jv_array_append(s->result,
		    result_record(s, res, row));
		s->result = jv_array_append(s->result,
		    reply_record(s, res, row));
	}
}

static int
is_retryable(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state != NULL && (strcmp(state, "40001") == 0 ||
	    strcmp(state, "40P01") == 0);
}

/* Return 1 when the error is about the data of some record. */
static int
is_data_error(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state != NULL && (strncmp(state, "22", 2) == 0 ||
	    strncmp(state, "23", 2) == 0);
}

/*
 * Run the staged rows as one transaction. Returns NULL when committed,
 * else the failed result, after rolling back.
 */
static PGresult *
run_staged(struct ingest *in)
{
	char account[32];
	const char *params[1] = { account };
	PGresult *res, *rows;

	snprintf(account, sizeof(account), "%lld", in->account);
	res = PQexec(in->conn, "BEGIN");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return res;
	PQclear(res);
	if ((res = stage_copy(in->conn, &in->stage)) != NULL)
		goto fail;
	res = PQexecParams(in->conn, "SELECT * FROM convo.ingest_batch($1)",
	    1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto fail;
	rows = res;
	res = PQexec(in->conn, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		PQclear(rows);
		goto fail;
	}
	PQclear(res);
	collect(in, rows);
	PQclear(rows);
	return NULL;
fail:
	PQclear(PQexec(in->conn, "ROLLBACK"));
	return res;
}

/* Run the batch and retry deadlocks. Exit when the database fails. */
static PGresult *
run_with_retry(struct ingest *in)
{
	PGresult *res = NULL;
	int attempt;

	for (attempt = 0; attempt <= RETRY_MAX; attempt++) {
		if (res != NULL) {
			PQclear(res);
			usleep(10000 << attempt);
		}
		res = run_staged(in);
		if (res == NULL || !is_retryable(res))
			break;
	}
	if (res != NULL && !is_data_error(res))
		exit(db_report(in->conn, res, "cannot record the batch"));
	return res;
}

/* Retry a batch that failed on some record's data one record at a time. */
static void
run_one_by_one(struct ingest *in)
{
	PGresult *res;
	const char *msg;
	int i;

	for (i = 0; i < in->nslots; i++) {
		struct slot *s = &in->slots[i];

		if (s->error != NULL)
			continue;
		stage_reset(&in->stage);
		stage_add(&in->stage, i, s->normal);
		if ((res = run_with_retry(in)) == NULL)
			continue;
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		s->error = xstrdup(msg ? msg : "rejected by the database");
		line_warning(in, s);
		write_reject(in, s, s->input, s->input_len, s->input_len);
		PQclear(res);
	}
}

static void
write_results(struct ingest *in)
{
	struct slot *s;
	jv r, outcome;
	int i;

	for (i = 0; i < in->nslots; i++) {
		s = &in->slots[i];
		in->records++;
		if (s->error != NULL) {
			in->rejected++;
			r = jv_object_set(jv_object(), jv_string("type"),
			    jv_string("ingest_result"));
			if (s->file != NULL)
				r = jv_object_set(r, jv_string("file"),
				    jv_string(s->file));
			r = jv_object_set(r, jv_string("input_line"),
			    jv_number(s->line));
			r = jv_object_set(r, jv_string("result"),
			    jv_string("rejected"));
			r = jv_object_set(r, jv_string("error"),
			    jv_string(s->error));
			emit(in, r);
			continue;
		}
		if (jv_get_kind(s->result) != JV_KIND_ARRAY)
			continue;
		r = jv_array_get(jv_copy(s->result), 0);
		outcome = jv_object_get(jv_copy(r), jv_string("result"));
		count_result(in, jv_string_value(outcome));
		jv_free(outcome);
		emit(in, r);
		r = jv_array_get(jv_copy(s->result), 1);
		if (jv_get_kind(r) == JV_KIND_OBJECT) {
			in->replies++;
			emit(in, r);
		} else {
			jv_free(r);
		}
	}
	/* Results reach the next program in the pipeline batch by batch. */
	if (!in->output_failed && view_flush() != 0)
		in->output_failed = 1;
}

static void
free_slots(struct ingest *in)
{
	int i;

	for (i = 0; i < in->nslots; i++) {
		free(in->slots[i].error);
		free(in->slots[i].input);
		jv_free(in->slots[i].normal);
		jv_free(in->slots[i].result);
	}
	in->nslots = 0;
}

/* Record the current batch, print its results and start a new one. */
static void
flush_batch(struct ingest *in)
{
	PGresult *res;

	if (in->nslots == 0)
		return;
	if (in->stage.rows > 0 && (res = run_with_retry(in)) != NULL) {
		PQclear(res);
		run_one_by_one(in);
	}
	if (in->verbose)
		warnx("recorded a batch of %d lines", in->nslots);
	write_results(in);
	stage_reset(&in->stage);
	free_slots(in);
}

static void
ingest_fd(struct ingest *in, int fd, const char *file)
{
	struct linereader r;
	const char *line;
	size_t len;
	int too_long, rc;

	linereader_init(&r, fd, CONVO_LINE_MAX);
	for (;;) {
		/* A slow producer's records are written after a short wait. */
		if (in->nslots > 0 && !linereader_ready(&r, 200))
			flush_batch(in);
		rc = linereader_next(&r, &line, &len, &too_long);
		if (rc < 0) {
			warn("%s: read error", file ? file : "standard input");
			in->status = exit_merge(in->status, EX_IOERR);
			break;
		}
		if (rc == 0)
			break;
		if (len == 0 && !too_long)
			continue;
		if (len == 1 && line[0] == '\r')
			continue;
		add_line(in, file, r.lineno, line, len, too_long);
		if (in->nslots >= in->batch_size)
			flush_batch(in);
	}
	flush_batch(in);
	linereader_free(&r);
}

static void
ingest_file(struct ingest *in, const char *path)
{
	int fd;

	if (strcmp(path, "-") == 0) {
		ingest_fd(in, STDIN_FILENO, NULL);
		return;
	}
	if ((fd = open(path, O_RDONLY)) < 0) {
		warn("cannot open \"%s\"", path);
		in->status = exit_merge(in->status, EX_NOINPUT);
		return;
	}
	ingest_fd(in, fd, path);
	close(fd);
}

static void
summary(struct ingest *in, double seconds)
{
	if (in->quiet)
		return;
	fprintf(stderr, "convo-ingest: %lld records in %.1f s: %lld inserted, "
	    "%lld updated, %lld duplicate, %lld conflict, %lld pending, "
	    "%lld rejected; %lld keyword replies\n", in->records, seconds,
	    in->inserted, in->updated, in->duplicate, in->conflict,
	    in->pending, in->rejected, in->replies);
}

static void
parse_options(struct ingest *in, int argc, char **argv, const char **db,
    const char **account)
{
	static const struct option options[] = {
		{ "account", required_argument, NULL, 'a' },
		{ "batch-size", required_argument, NULL, 'b' },
		{ "db", required_argument, NULL, 'd' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "rejects", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *errstr;
	int c;

	while ((c = getopt_long(argc, argv, "a:b:d:f:hqr:vV", options,
	    NULL)) != -1) {
		switch (c) {
		case 'a': *account = optarg; break;
		case 'd': *db = optarg; break;
		case 'q': in->quiet = 1; break;
		case 'v': in->verbose = 1; break;
		case 'h': help(); break;
		case 'V': db_print_version(); break;
		case 'b':
			in->batch_size = strtonum(optarg, 1, 100000, &errstr);
			if (errstr != NULL)
				errx(EX_USAGE, "batch size \"%s\" is %s: "
				    "expected 1 to 100000", optarg, errstr);
			break;
		case 'f':
			if (strcmp(optarg, "auto") == 0)
				in->format = FORMAT_AUTO;
			else if (strcmp(optarg, "ndjson") == 0)
				in->format = FORMAT_NDJSON;
			else if (strcmp(optarg, "twilio") == 0)
				in->format = FORMAT_TWILIO;
			else
				errx(EX_USAGE, "unknown format \"%s\": expected "
				    "auto, ndjson or twilio", optarg);
			break;
		case 'r':
			in->rejects = fopen(optarg, "a");
			if (in->rejects == NULL)
				err(EX_CANTCREAT, "cannot open rejects file "
				    "\"%s\"", optarg);
			break;
		default:
			usage();
		}
	}
}

int
main(int argc, char **argv)
{
	struct ingest in = { .batch_size = 2000 };
	const char *db = NULL, *account = NULL;
	struct timespec t0, t1;
	int i;

	signal(SIGPIPE, SIG_IGN);
	parse_options(&in, argc, argv, &db, &account);
	argc -= optind;
	argv += optind;
	account = convo_account(account);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	in.conn = db_connect(db);
	prepare(&in, account);
	if (argc == 0)
		ingest_file(&in, "-");
	for (i = 0; i < argc; i++)
		ingest_file(&in, argv[i]);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	summary(&in, (double)(t1.tv_sec - t0.tv_sec) +
	    (t1.tv_nsec - t0.tv_nsec) / 1e9);
	PQfinish(in.conn);
	stage_free(&in.stage);
	keyword_set_free(&in.keywords);
	free(in.slots);
	if (in.rejects != NULL && fclose(in.rejects) != 0)
		err(EX_CANTCREAT, "cannot write the rejects file");
	if (in.output_failed || view_flush() != 0)
		in.status = exit_merge(in.status, EX_IOERR);
	if (in.rejected > 0)
		in.status = exit_merge(in.status, EX_DATAERR);
	return in.status;
}
