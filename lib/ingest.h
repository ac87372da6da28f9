/*
 * Batch ingest: input lines become normalised records, staged and
 * recorded by convo.ingest_batch, and by convo.outbox_receipts for the
 * receipts that name an outbox row, with one ingest_result per line (and a
 * "send" record per keyword reply) passed to the caller in input order.
 * Used by convo-ingest and by programs that take webhooks.
 */
#ifndef CONVO_INGEST_H
#define CONVO_INGEST_H

#include <stdio.h>

#include <jv.h>
#include <libpq-fe.h>

#include "match.h"
#include "stage.h"

enum format { FORMAT_AUTO, FORMAT_NDJSON, FORMAT_TWILIO };

/* Maximum lines in one batch, the upper bound of --batch-size. */
#define INGEST_BATCH_MAX 100000

/*
 * Input bytes after which a batch is recorded however few lines it has,
 * so that a batch of long lines cannot take gigabytes of memory.
 */
#define INGEST_BATCH_BYTES_MAX (16 * 1024 * 1024)

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
	size_t batch_bytes;	/* input bytes of the current batch */
	struct stage stage;
	struct keyword_set keywords;
	/* Results by kind of outcome, for the summary line. */
	long long records, inserted, updated, duplicate, conflict, pending;
	long long rejected, replies;
	/* Where output records go; standard output when NULL. */
	void (*emit)(void *arg, jv record);
	void *emit_arg;
};

/*
 * Look up ACCOUNT and load its keywords. IN has its connection and
 * options set; exits on failure.
 */
void ingest_open(struct ingest *in, const char *account);

/*
 * Add input line LINENO of FILE (NULL for standard input), LEN bytes at
 * LINE, to the batch; TOO_LONG marks a line over the limit, of which
 * LINE holds the head. A full batch is recorded at once.
 */
void ingest_line(struct ingest *in, const char *file, long long lineno,
    const char *line, size_t len, int too_long);

/* Return 1 when the batch has --batch-size lines or its maximum bytes. */
int ingest_batch_full(const struct ingest *in);

/*
 * Record the current batch, pass its results on and start a new one.
 * Exits when the database fails for a reason other than a record.
 */
void ingest_flush(struct ingest *in);

/* Free what the ingest holds; the connection stays the caller's. */
void ingest_close(struct ingest *in);

#endif
