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

#include "linestore.h"
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

struct slot;

/*
 * Lines read together and recorded in one transaction. The input lines
 * are kept until the results are written, for retries and the rejects
 * file, in a temporary file when one can be made.
 */
struct batch {
	struct slot *slots;	/* one per line, in input order */
	int nslots, cap;
	int reported;		/* slots whose rejects were reported */
	size_t bytes;		/* input bytes, for INGEST_BATCH_BYTES_MAX */
	struct linestore lines;	/* the input lines */
	struct buf extras;	/* their provider ids and times read */
	int staged;		/* lines staged for the database */
	int has_receipts;	/* its statements run convo.outbox_receipts */
	int in_flight;		/* the server runs its statements now */
	PGresult *failed;	/* the error of starting them, or NULL */
	PGresult *rows;		/* rows of convo.ingest_batch, or NULL */
	PGresult *receipts;	/* rows of convo.outbox_receipts, or NULL */
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
	/* the caller sends opt-out, opt-in and help replies itself */
	int replies_by_caller;
	int status;		/* exit status so far */
	int output_failed;
	long long errors_shown;
	struct batch batches[2];
	struct batch *reading;	/* the batch that ingest_line() adds to */
	struct batch *sent;	/* sent, its results not written, or NULL */
	struct stage stage;	/* the records of the batch being read */
	struct stage retry;	/* the records of a batch being retried */
	struct keyword_set keywords;
	struct buf line;	/* a line read back from a batch's lines */
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
 * LINE, to the batch being read; TOO_LONG marks a line over the limit,
 * of which LINE contains the head. FILE must stay valid until the batch's
 * results are written.
 */
void ingest_line(struct ingest *in, const char *file, long long lineno,
    const char *line, size_t len, int too_long);

/*
 * Add input line LINENO of FILE, LEN bytes at LINE, to the batch being
 * read as a line rejected for ERROR before it became a record, so that
 * its result comes in input order.
 */
void ingest_reject(struct ingest *in, const char *file, long long lineno,
    const char *line, size_t len, const char *error);

/* Return 1 when the batch has --batch-size lines or its maximum bytes. */
int ingest_batch_full(const struct ingest *in);

/*
 * Start recording the batch being read and return while the server
 * records it, so that the caller can read the next batch meanwhile.
 * The results of the batch sent before, if any, are written first.
 * Exits when the database fails for a reason other than a record.
 */
void ingest_send(struct ingest *in);

/*
 * Record the batch being read and the one sent before, if any, and
 * write their results. Exits as ingest_send() does.
 */
void ingest_flush(struct ingest *in);

/* Return 1 when lines wait to be recorded or results to be written. */
int ingest_pending(const struct ingest *in);

/*
 * Free what the ingest holds, after ingest_flush(); the connection stays
 * the caller's.
 */
void ingest_close(struct ingest *in);

#endif
