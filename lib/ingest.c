#include <err.h>
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
#include "linereader.h"
#include "record.h"
#include "timeutil.h"
#include "views.h"

/* Errors printed before the rest are only counted. */
#define ERRORS_SHOWN_MAX 100

/* Deadlocks and serialization failures are retried this many times. */
#define RETRY_MAX 5

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
	/*
	 * NOTE: libjq 1.6 leaks about 20 bytes on a line such as ["a" "b"],
	 * where a string follows a value without a comma.
	 */
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

void
ingest_line(struct ingest *in, const char *file, long long lineno,
    const char *line, size_t len, int too_long)
{
	struct slot *s = new_slot(in, file, lineno);
	char why[128];
	jv rec;

	in->batch_bytes += too_long ? LINEREADER_HEAD : len;
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

int
ingest_batch_full(const struct ingest *in)
{
	return in->nslots >= in->batch_size ||
	    in->batch_bytes >= INGEST_BATCH_BYTES_MAX;
}

void
ingest_open(struct ingest *in, const char *account)
{
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

/*
 * Amend the results of the status lines that name an outbox row with
 * the rows of convo.outbox_receipts: a new result and id where given,
 * and a note added to the one the batch gave.
 */
static void
collect_receipts(struct ingest *in, const PGresult *res)
{
	int row, n = PQntuples(res);
	long long seq;
	struct slot *s;
	jv r, note;

	for (row = 0; row < n; row++) {
		seq = atoll(PQgetvalue(res, row, 0));
		if (seq < 0 || seq >= in->nslots ||
		    jv_get_kind(in->slots[seq].result) != JV_KIND_ARRAY)
			continue;
		s = &in->slots[seq];
		r = jv_array_get(jv_copy(s->result), 0);
		if (!PQgetisnull(res, row, 1))
			r = jv_object_set(r, jv_string("result"),
			    column(res, row, 1));
		if (!PQgetisnull(res, row, 2))
			r = jv_object_set(r, jv_string("id"),
			    column(res, row, 2));
		note = jv_object_get(jv_copy(r), jv_string("note"));
		if (jv_get_kind(note) == JV_KIND_STRING)
			note = jv_string_fmt("%s; %s", jv_string_value(note),
			    PQgetvalue(res, row, 3));
		else {
			jv_free(note);
			note = column(res, row, 3);
		}
		r = jv_object_set(r, jv_string("note"), note);
		s->result = jv_array_set(s->result, 0, r);
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
	PGresult *res, *rows, *receipts = NULL;

	snprintf(account, sizeof(account), "%lld", in->account);
	/*
	 * The staging tables are created in every transaction, not once per
	 * session, because behind a pooler in transaction mode each
	 * transaction may run on another server connection.
	 */
	res = PQexec(in->conn, "BEGIN; SELECT convo.ingest_prepare(), "
	    "convo.outbox_receipts_prepare()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto fail;
	PQclear(res);
	if ((res = stage_copy(in->conn, &in->stage)) != NULL)
		goto fail;
	/*
	 * One batch of the account at a time: each computes summaries,
	 * consent and statuses from what is committed, and two at once
	 * would overwrite each other's results.
	 */
	res = PQexecParams(in->conn, "SELECT convo.lock_account($1)", 1, NULL,
	    params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto fail;
	PQclear(res);
	res = PQexecParams(in->conn, "SELECT * FROM convo.ingest_batch($1)",
	    1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto fail;
	rows = res;
	if (stage_has_receipts(&in->stage)) {
		receipts = PQexecParams(in->conn,
		    "SELECT * FROM convo.outbox_receipts($1)", 1, NULL, params,
		    NULL, NULL, 0);
		if (PQresultStatus(receipts) != PGRES_TUPLES_OK) {
			PQclear(rows);
			res = receipts;
			goto fail;
		}
	}
	res = PQexec(in->conn, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		PQclear(rows);
		PQclear(receipts);
		goto fail;
	}
	PQclear(res);
	collect(in, rows);
	PQclear(rows);
	if (receipts != NULL)
		collect_receipts(in, receipts);
	PQclear(receipts);
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
		if (in->verbose && attempt < RETRY_MAX)
			warnx("retrying the batch after SQLSTATE %s",
			    PQresultErrorField(res, PG_DIAG_SQLSTATE));
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
	in->batch_bytes = 0;
}

void
ingest_flush(struct ingest *in)
{
	char batch[64];
	PGresult *res;

	if (in->nslots == 0)
		return;
	if (in->stage.rows > 0 && (res = run_with_retry(in)) != NULL) {
		PQclear(res);
		run_one_by_one(in);
	}
	if (in->verbose) {
		snprintf(batch, sizeof(batch), "recorded a batch of %d lines",
		    in->nslots);
		cli_phase(batch);
	}
	write_results(in);
	stage_reset(&in->stage);
	free_slots(in);
}

void
ingest_close(struct ingest *in)
{
	free_slots(in);
	stage_free(&in->stage);
	keyword_set_free(&in->keywords);
	free(in->slots);
	in->slots = NULL;
}
