/*
 * Spool directories in the style of maildir, for convo-ingest --spool.
 * A producer writes each file in DIR/tmp and renames it into DIR/new.
 * Each file in DIR/new is recorded and then moved to DIR/cur, or to
 * DIR/failed with a NAME.reason file when some of its input was
 * rejected. A file moves only after the transaction that recorded it
 * has committed, so a crash leaves it in DIR/new, and recording it again
 * finds its records to be duplicates.
 */
#ifndef CONVO_SPOOL_H
#define CONVO_SPOOL_H

#include "ingest.h"

struct spool {
	char *dir;
	int dir_fd;
	int lock_fd;		/* DIR/.lock, held with flock() */
	int new_fd;
	int cur_fd;
	int failed_fd;
};

/*
 * Open the spool DIR, create its tmp, new, cur and failed directories
 * when missing and lock it. Returns 0; EX_TEMPFAIL when another process
 * holds the lock; EX_NOINPUT when DIR cannot be opened; EX_CANTCREAT
 * when a directory or the lock file cannot be created. Prints a message
 * on failure.
 */
int spool_open(struct spool *sp, const char *dir);

/*
 * Record every file in DIR/new through IN, whose connection and account
 * are open, and move it. A file that contains a single line that is a
 * Twilio webhook body is recorded with the file's modification time as
 * the time the webhook arrived. Other files are read line by line like
 * any input of convo-ingest. IN's format decides, as for other input,
 * whether a line is a webhook body. Returns the exit status of the
 * directory work: 0, or EX_IOERR when a file could not be read or moved.
 */
int spool_ingest(struct spool *sp, struct ingest *in);

/* Release the lock and close the directories. */
void spool_close(struct spool *sp);

#endif
