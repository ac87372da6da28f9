#include <err.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "convo.h"
#include "db.h"
#include "form.h"
#include "ingest.h"
#include "json.h"
#include "linereader.h"
#include "record.h"
#include "timeutil.h"
#include "views.h"

/* Errors printed before the rest are only counted. */
#define ERRORS_SHOWN_MAX 100

/*
 * Size of a part of a failed batch that is retried line by line, because
 * halving it takes about twice as many transactions when most lines are bad.
 */
#define SPLIT_MIN 16

/* Deadlocks and serialization failures are retried this many times. */
#define RETRY_MAX 5

/*
 * Lines read between two reads of the results of the batch in flight.
 * Reading them early lets the server go on to COMMIT instead of waiting
 * on a full socket buffer.
 */
#define POLL_LINES 64

/*
 * One input line of a batch: what writing its result and rejecting it
 * need, and not its record, whose jv form takes kilobytes. A record is
 * parsed again from the line when it must be staged again.
 */
struct slot {
	long long line;
	const char *file;	/* NULL for standard input */
	char *error;		/* why the line was rejected, or NULL */
	size_t input;		/* offset of the line in the batch's lines */
	size_t input_len;	/* bytes stored: the head of an over-long line */
	size_t input_bytes;	/* bytes of the whole line */
	size_t extra;		/* offset of what follows in the extras */
	int row;		/* its row of the batch's rows, or -1 */
	int receipt;		/* its row of the batch's receipts, or -1 */
	/*
	 * A Twilio webhook body: the time it was read is in the batch's
	 * extras, NUL-terminated.
	 */
	unsigned form : 1;
	/* provider_message_id follows in the extras, NUL-terminated */
	unsigned has_pmid : 1;
	/* the provider sends its own opt-out reply (Twilio's OptOutType) */
	unsigned provider_replied : 1;
};

/* Print an error about LINE, up to ERRORS_SHOWN_MAX of them. */
static void
line_warning(struct ingest *in, const struct slot *s)
{
	char name[PATH_MAX];

	in->errors_shown++;
	if (in->errors_shown > ERRORS_SHOWN_MAX)
		return;
	if (s->file != NULL)
		warnx("%s: line %lld: %s", cli_printable(s->file, name,
		    sizeof(name)), s->line, s->error);
	else
		warnx("line %lld: %s", s->line, s->error);
	if (in->errors_shown == ERRORS_SHOWN_MAX)
		warnx("further errors are counted but not shown");
}

/* Pass one output record to the caller, or to standard output. */
static void
emit(struct ingest *in, jv record)
{
	if (in->emit != NULL)
		in->emit(in->emit_arg, record);
	else if (in->output_failed)
		jv_free(record);
	else if (view_print(record) != 0)
		in->output_failed = 1;
}

/* Write the rejected line of slot S of batch B to the rejects file. */
static void
write_reject(struct ingest *in, struct batch *b, const struct slot *s)
{
	const char *line = linestore_get(&b->lines, s->input, s->input_len,
	    &in->line);
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
	    jv_string_sized(line, (int)s->input_len));
	buf_base64(&b64, line, s->input_len);
	rec = jv_object_set(rec, jv_string("input_base64"),
	    jv_string(b64.data ? b64.data : ""));
	if (s->input_len < s->input_bytes) {
		rec = jv_object_set(rec, jv_string("input_bytes"),
		    jv_number((double)s->input_bytes));
		rec = jv_object_set(rec, jv_string("input_truncated"),
		    jv_true());
	}
	buf_free(&b64);
	rec = jv_dump_string(rec, 0);
	if (fprintf(in->rejects, "%s\n", jv_string_value(rec)) < 0)
		err(EX_CANTCREAT, "cannot write the rejects file");
	jv_free(rec);
}

/*
 * Report the lines of B rejected since the last report. A batch's
 * rejects wait until the database has rejected its records too, so that
 * reports stay in line order.
 */
static void
report_rejects(struct ingest *in, struct batch *b)
{
	struct slot *s;

	for (; b->reported < b->nslots; b->reported++) {
		s = &b->slots[b->reported];
		if (s->error == NULL)
			continue;
		line_warning(in, s);
		write_reject(in, b, s);
	}
}

/* Add a slot for LINE of FILE to B, storing STORED of its LEN bytes. */
static struct slot *
new_slot(struct batch *b, const char *file, long long line,
    const char *bytes, size_t stored, size_t len)
{
	struct slot *s;

	if (b->nslots == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 256;
		b->slots = xrealloc(b->slots, b->cap * sizeof(*s));
	}
	s = &b->slots[b->nslots++];
	memset(s, 0, sizeof(*s));
	s->line = line;
	s->file = file;
	s->row = -1;
	s->receipt = -1;
	s->input = linestore_add(&b->lines, bytes, stored);
	s->input_len = stored;
	s->input_bytes = len;
	s->extra = b->extras.len;
	return s;
}

/* Return the time at which the webhook body of slot S was read. */
static const char *
slot_received(const struct batch *b, const struct slot *s)
{
	return b->extras.data + s->extra;
}

/* Return the provider_message_id of slot S, which has one. */
static const char *
slot_pmid(const struct batch *b, const struct slot *s)
{
	const char *p = b->extras.data + s->extra;

	return s->form ? p + strlen(p) + 1 : p;
}

/* Return 1 when LINE is read as a Twilio webhook body. */
static int
is_form(const struct ingest *in, const char *line, size_t len)
{
	return in->format == FORMAT_TWILIO ||
	    (in->format == FORMAT_AUTO && form_looks_like(line, len));
}

/*
 * Turn a line without NUL bytes into a normal record with its keywords
 * matched, or return an invalid jv saying why not. RECEIVED is the time
 * of a Twilio webhook body, NULL for an NDJSON line. The same arguments
 * give the same record.
 */
static jv
read_record(struct ingest *in, const char *line, size_t len,
    const char *received)
{
	jv rec;

	if (received != NULL)
		rec = twilio_form_to_record(form_decode(line, len), received);
	else
		rec = json_parse_line(line, len);
	if (jv_is_valid(rec))
		rec = record_normalize(rec, in->country);
	if (jv_is_valid(rec))
		rec = record_match_keywords(rec, &in->keywords);
	return rec;
}

/*
 * Stage REC (consumed), the record of slot S of B, and keep what its
 * keyword reply needs.
 */
static void
stage_record(struct ingest *in, struct batch *b, struct slot *s, jv rec)
{
	jv pmid = jv_object_get(jv_copy(rec), jv_string("provider_message_id"));

	stage_add(&in->stage, s - b->slots, rec);
	b->staged++;
	s->provider_replied = record_provider_acted(rec);
	if (jv_get_kind(pmid) == JV_KIND_STRING) {
		buf_add(&b->extras, jv_string_value(pmid),
		    strlen(jv_string_value(pmid)) + 1);
		s->has_pmid = 1;
	}
	jv_free(pmid);
	jv_free(rec);
}

/* Parse line S of B, LEN bytes at LINE, and stage its record. */
static void
parse_line(struct ingest *in, struct batch *b, struct slot *s,
    const char *line, size_t len)
{
	char received[TIME_MAX];
	const char *nul = memchr(line, '\0', len);
	jv rec, msg;

	if (nul != NULL) {
		rec = jv_invalid_with_msg(jv_string_fmt("NUL byte at column "
		    "%d", (int)(nul - line) + 1));
	} else if (is_form(in, line, len)) {
		time_now_increasing(received);
		buf_add(&b->extras, received, strlen(received) + 1);
		s->form = 1;
		rec = read_record(in, line, len, received);
	} else {
		rec = read_record(in, line, len, NULL);
	}
	if (jv_is_valid(rec)) {
		stage_record(in, b, s, rec);
		return;
	}
	msg = jv_invalid_get_msg(rec);
	s->error = xstrdup(jv_get_kind(msg) == JV_KIND_STRING ?
	    jv_string_value(msg) : "invalid record");
	jv_free(msg);
}

/*
 * Read what the server has sent about the batch in flight, without
 * waiting. A failure shows when the batch's results are read.
 */
static void
poll_server(struct ingest *in)
{
	if (in->sent == NULL || !in->sent->in_flight ||
	    in->reading->nslots % POLL_LINES != 0)
		return;
	if (PQconsumeInput(in->conn))
		(void)PQisBusy(in->conn);
}

void
ingest_line(struct ingest *in, const char *file, long long lineno,
    const char *line, size_t len, int too_long)
{
	struct batch *b = in->reading;
	size_t stored = too_long && len > LINEREADER_HEAD ?
	    LINEREADER_HEAD : len;
	struct slot *s = new_slot(b, file, lineno, line, stored, len);
	char why[128];

	b->bytes += stored;
	poll_server(in);
	if (too_long) {
		snprintf(why, sizeof(why), "line of %zu bytes is longer than "
		    "the limit of %d bytes", len, CONVO_LINE_MAX);
		s->error = xstrdup(why);
	} else {
		parse_line(in, b, s, line, len);
	}
}

void
ingest_reject(struct ingest *in, const char *file, long long lineno,
    const char *line, size_t len, const char *error)
{
	struct batch *b = in->reading;
	size_t stored = len > LINEREADER_HEAD ? LINEREADER_HEAD : len;
	struct slot *s = new_slot(b, file, lineno, line, stored, len);

	b->bytes += stored;
	poll_server(in);
	s->error = xstrdup(error);
}

/*
 * Stage the record of slot S of B again into ST, parsed again from its
 * line.
 */
static void
restage(struct ingest *in, struct batch *b, const struct slot *s,
    struct stage *st)
{
	const char *line = linestore_get(&b->lines, s->input, s->input_len,
	    &in->line);
	jv rec = read_record(in, line, s->input_len,
	    s->form ? slot_received(b, s) : NULL);

	if (!jv_is_valid(rec))
		errx(EX_SOFTWARE, "line %lld gave no record when parsed "
		    "again", s->line);
	stage_add(st, s - b->slots, rec);
	jv_free(rec);
}

int
ingest_batch_full(const struct ingest *in)
{
	const struct batch *b = in->reading;

	return b->nslots >= in->batch_size ||
	    b->bytes >= INGEST_BATCH_BYTES_MAX;
}

int
ingest_pending(const struct ingest *in)
{
	return in->reading->nslots > 0 || in->sent != NULL;
}

void
ingest_open(struct ingest *in, const char *account)
{
	in->reading = &in->batches[0];
	in->account = db_account(in->conn, account, in->country);
	db_load_keywords(in->conn, in->account, &in->keywords);
}

static jv
column(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return jv_null();
	return jv_string(PQgetvalue(res, row, col));
}

/* Build the ingest_result record of a line from row ROW of RES. */
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
 * Amend result R of a status line that names an outbox row with row ROW
 * of convo.outbox_receipts: a new result and id where given, and a note
 * added to the one the batch gave.
 */
static jv
amend_result(jv r, const PGresult *res, int row)
{
	jv note;

	if (!PQgetisnull(res, row, 1))
		r = jv_object_set(r, jv_string("result"), column(res, row, 1));
	if (!PQgetisnull(res, row, 2))
		r = jv_object_set(r, jv_string("id"), column(res, row, 2));
	note = jv_object_get(jv_copy(r), jv_string("note"));
	if (jv_get_kind(note) == JV_KIND_STRING)
		note = jv_string_fmt("%s; %s", jv_string_value(note),
		    PQgetvalue(res, row, 3));
	else {
		jv_free(note);
		note = column(res, row, 3);
	}
	return jv_object_set(r, jv_string("note"), note);
}

/* The keyword reply of row ROW as a "send" record, or null. */
static jv
reply_record(const struct batch *b, const struct slot *s, const PGresult *res,
    int row)
{
	jv r, pmid;

	if (PQgetisnull(res, row, 8) || s->provider_replied)
		return jv_null();
	pmid = s->has_pmid ? jv_string(slot_pmid(b, s)) : jv_null();
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

/* Append the rows of FROM to TO, whose columns are the same. */
static void
append_rows(PGresult *to, const PGresult *from)
{
	int row, col, base = PQntuples(to), ncols = PQnfields(from);

	for (row = 0; row < PQntuples(from); row++) {
		for (col = 0; col < ncols; col++) {
			int null = PQgetisnull(from, row, col);

			if (!PQsetvalue(to, base + row, col,
			    null ? NULL : PQgetvalue(from, row, col),
			    null ? -1 : PQgetlength(from, row, col)))
				errx(EX_SOFTWARE, "out of memory");
		}
	}
}

/*
 * Keep the rows of RES (consumed) in *ROWS and point each line's slot
 * at its row: the receipt of the slot when RECEIPTS is set, else its row.
 * Column 0 of a row is the line's index in the batch.
 */
static void
keep_rows(struct batch *b, PGresult **rows, PGresult *res, int receipts)
{
	int i, base = 0, n = PQntuples(res);
	long long seq;

	if (*rows == NULL) {
		*rows = res;
	} else {
		base = PQntuples(*rows);
		append_rows(*rows, res);
		PQclear(res);
	}
	for (i = base; i < base + n; i++) {
		seq = atoll(PQgetvalue(*rows, i, 0));
		if (seq < 0 || seq >= b->nslots)
			continue;
		if (receipts)
			b->slots[seq].receipt = i;
		else
			b->slots[seq].row = i;
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
 * Wait for the statements that stage_send() sent, which include
 * convo.outbox_receipts when RECEIPTS is set, and keep the rows they
 * return in B. Returns NULL when committed, else the failed result,
 * after rolling back.
 */
static PGresult *
receive_batch(struct ingest *in, struct batch *b, int receipts)
{
	PGresult *res, *rows, *receipt_rows;

	res = stage_receive(in->conn, receipts, &rows, &receipt_rows);
	if (res != NULL)
		return res;
	keep_rows(b, &b->rows, rows, 0);
	if (receipt_rows != NULL)
		keep_rows(b, &b->receipts, receipt_rows, 1);
	return NULL;
}

/*
 * Run the rows of ST as one transaction and keep the rows it returns in
 * B. Returns NULL when committed, else the failed result, after rolling
 * back.
 */
static PGresult *
run_staged(struct ingest *in, struct stage *st, struct batch *b)
{
	PGresult *res = stage_send(in->conn, in->account, st,
	    !in->replies_by_caller);

	if (res != NULL)
		return res;
	return receive_batch(in, b, stage_has_receipts(st));
}

/*
 * Retry the rows of ST after deadlocks, given RES, the result of the
 * first attempt. Returns NULL when committed, else the data error of
 * some record; exits when the database fails otherwise.
 */
static PGresult *
retry_deadlocks(struct ingest *in, struct stage *st, struct batch *b,
    PGresult *res)
{
	int attempt;

	for (attempt = 1; attempt <= RETRY_MAX && res != NULL &&
	    is_retryable(res); attempt++) {
		if (in->verbose)
			warnx("retrying the batch after SQLSTATE %s",
			    PQresultErrorField(res, PG_DIAG_SQLSTATE));
		PQclear(res);
		usleep(10000 << attempt);
		res = run_staged(in, st, b);
	}
	if (res != NULL && !is_data_error(res))
		exit(db_report(in->conn, res, "cannot record the batch"));
	return res;
}

/*
 * Retry lines FROM to TO (exclusive) of B, which failed together on some
 * record's data, each in its own transaction. A line that fails is
 * rejected.
 */
static void
run_each(struct ingest *in, struct batch *b, int from, int to)
{
	PGresult *res;
	const char *msg;
	struct slot *s;
	int i;

	for (i = from; i < to; i++) {
		s = &b->slots[i];
		if (s->error != NULL)
			continue;
		stage_reset(&in->retry);
		restage(in, b, s, &in->retry);
		res = retry_deadlocks(in, &in->retry, b,
		    run_staged(in, &in->retry, b));
		if (res == NULL)
			continue;
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		s->error = xstrdup(msg ? msg : "rejected by the database");
		PQclear(res);
	}
}

/*
 * Retry lines FROM to TO (exclusive) of B, which failed together on some
 * record's data, in two halves, each in its own transaction. A half that
 * fails again is split in turn, and one of SPLIT_MIN lines or fewer is
 * retried line by line. One bad record among N costs about 2 log2(N)
 * transactions, and a batch of bad records about 1.1 N.
 */
static void
run_split(struct ingest *in, struct batch *b, int from, int to)
{
	int half = from + (to - from) / 2, part[2][2] = {
		{ from, half }, { half, to } };
	PGresult *res;
	int i, k, staged;

	if (to - from <= SPLIT_MIN) {
		run_each(in, b, from, to);
		return;
	}
	for (k = 0; k < 2; k++) {
		stage_reset(&in->retry);
		staged = 0;
		for (i = part[k][0]; i < part[k][1]; i++) {
			if (b->slots[i].error != NULL)
				continue;
			restage(in, b, &b->slots[i], &in->retry);
			staged++;
		}
		if (staged == 0)
			continue;
		res = retry_deadlocks(in, &in->retry, b,
		    run_staged(in, &in->retry, b));
		if (res == NULL)
			continue;
		PQclear(res);
		run_split(in, b, part[k][0], part[k][1]);
	}
}

/*
 * Start recording B, whose lines are staged in the ingest's stage. The
 * server runs the batch while the caller reads on.
 */
static void
send_batch(struct ingest *in, struct batch *b)
{
	if (b->staged == 0)
		return;
	b->has_receipts = stage_has_receipts(&in->stage);
	b->failed = stage_send(in->conn, in->account, &in->stage,
	    !in->replies_by_caller);
	b->in_flight = b->failed == NULL;
	stage_reset(&in->stage);
}

/*
 * Retry B after RES, the failure of its first attempt: the whole batch
 * after deadlocks, then in ever smaller parts after a data error.
 */
static void
retry_batch(struct ingest *in, struct batch *b, PGresult *res)
{
	int i;

	stage_reset(&in->retry);
	if (is_retryable(res)) {
		for (i = 0; i < b->nslots; i++)
			if (b->slots[i].error == NULL)
				restage(in, b, &b->slots[i], &in->retry);
	}
	if ((res = retry_deadlocks(in, &in->retry, b, res)) != NULL) {
		PQclear(res);
		run_split(in, b, 0, b->nslots);
	}
	/* Retries are rare, so their stage is freed at once. */
	stage_free(&in->retry);
	memset(&in->retry, 0, sizeof(in->retry));
}

/* Wait for the first attempt of B and retry it when it failed. */
static void
finish_batch(struct ingest *in, struct batch *b)
{
	char phase[64];
	PGresult *res = b->failed;

	b->failed = NULL;
	if (b->in_flight) {
		b->in_flight = 0;
		res = receive_batch(in, b, b->has_receipts);
	}
	if (res != NULL)
		retry_batch(in, b, res);
	report_rejects(in, b);
	if (in->verbose) {
		snprintf(phase, sizeof(phase), "recorded a batch of %d lines",
		    b->nslots);
		cli_phase(phase);
	}
}

/* Write the result of slot S of B, whose row it has. */
static void
write_result(struct ingest *in, const struct batch *b, const struct slot *s)
{
	jv r, outcome;

	r = result_record(s, b->rows, s->row);
	if (s->receipt >= 0)
		r = amend_result(r, b->receipts, s->receipt);
	outcome = jv_object_get(jv_copy(r), jv_string("result"));
	count_result(in, jv_string_value(outcome));
	jv_free(outcome);
	emit(in, r);
	r = reply_record(b, s, b->rows, s->row);
	if (jv_get_kind(r) == JV_KIND_OBJECT) {
		in->replies++;
		emit(in, r);
	} else {
		jv_free(r);
	}
}

static void
write_rejected(struct ingest *in, const struct slot *s)
{
	jv r = jv_object_set(jv_object(), jv_string("type"),
	    jv_string("ingest_result"));

	in->rejected++;
	if (s->file != NULL)
		r = jv_object_set(r, jv_string("file"), jv_string(s->file));
	r = jv_object_set(r, jv_string("input_line"), jv_number(s->line));
	r = jv_object_set(r, jv_string("result"), jv_string("rejected"));
	r = jv_object_set(r, jv_string("error"), jv_string(s->error));
	emit(in, r);
}

/* Write the results of B in line order. */
static void
write_results(struct ingest *in, const struct batch *b)
{
	const struct slot *s;
	int i;

	for (i = 0; i < b->nslots; i++) {
		s = &b->slots[i];
		in->records++;
		if (s->error != NULL)
			write_rejected(in, s);
		else if (s->row >= 0)
			write_result(in, b, s);
	}
	/* Results reach the next program in the pipeline batch by batch. */
	if (!in->output_failed && view_flush() != 0)
		in->output_failed = 1;
}

/* Empty B for the next lines, keeping its buffers. */
static void
clear_batch(struct batch *b)
{
	int i;

	for (i = 0; i < b->nslots; i++)
		free(b->slots[i].error);
	b->nslots = 0;
	b->reported = 0;
	b->bytes = 0;
	linestore_reset(&b->lines);
	buf_reset(&b->extras);
	b->staged = 0;
	PQclear(b->failed);
	PQclear(b->rows);
	PQclear(b->receipts);
	b->failed = b->rows = b->receipts = NULL;
	b->in_flight = 0;
}

void
ingest_send(struct ingest *in)
{
	struct batch *prev = in->sent, *b = in->reading;

	if (prev != NULL)
		finish_batch(in, prev);
	send_batch(in, b);
	in->sent = b;
	in->reading = b == &in->batches[0] ? &in->batches[1] :
	    &in->batches[0];
	/* The results of PREV are built while the server records B. */
	if (prev != NULL) {
		write_results(in, prev);
		clear_batch(prev);
	}
}

void
ingest_flush(struct ingest *in)
{
	struct batch *b;

	if (in->reading->nslots > 0)
		ingest_send(in);
	if ((b = in->sent) == NULL)
		return;
	finish_batch(in, b);
	write_results(in, b);
	clear_batch(b);
	in->sent = NULL;
	/*
	 * Both batches are empty now. Reading into the same one again keeps
	 * the buffers of the other unused while no batch is in flight.
	 */
	in->reading = b;
}

void
ingest_close(struct ingest *in)
{
	int i;

	for (i = 0; i < 2; i++) {
		clear_batch(&in->batches[i]);
		free(in->batches[i].slots);
		linestore_free(&in->batches[i].lines);
		buf_free(&in->batches[i].extras);
	}
	memset(in->batches, 0, sizeof(in->batches));
	in->sent = NULL;
	stage_free(&in->stage);
	stage_free(&in->retry);
	buf_free(&in->line);
	keyword_set_free(&in->keywords);
}
