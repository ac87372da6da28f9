/*
 * Staging of normalised records for convo.ingest_batch: rows in COPY
 * text format, one buffer per staging table. Status records that name an
 * outbox row also get a row for convo.outbox_receipts. The transaction
 * that records them is sent at once and its results read later, so
 * that the client can work while the server records a batch.
 */
#ifndef CONVO_STAGE_H
#define CONVO_STAGE_H

#include <jv.h>
#include <libpq-fe.h>

#include "buf.h"

struct stage {
	struct buf messages;
	struct buf statuses;
	struct buf consents;
	struct buf profiles;
	struct buf receipts;	/* outbox ids of status records */
	int rows;
};

/*
 * Add the normal form REC (borrowed; see record_normalize()) as the row
 * of staged line SEQ.
 */
void stage_add(struct stage *s, long long seq, jv rec);

/*
 * Copy the staged rows into the session's staging tables, inside the
 * caller's transaction. Returns NULL on success, else the failed result,
 * which the caller clears.
 */
PGresult *stage_copy(PGconn *conn, struct stage *s);

/*
 * Begin a transaction, copy the rows of S into the staging tables and
 * send the statements that record them for ACCOUNT and commit, without
 * waiting for their results. With STORE_REPLIES unset, the replies to
 * opt-out, opt-in and help keywords are not stored in the outbox, but a
 * custom keyword's reply is. Returns NULL once they are sent,
 * else the failed result, after rolling back, which the caller clears.
 */
PGresult *stage_send(PGconn *conn, long long account, struct stage *s,
    int store_replies);

/*
 * Wait for the results of stage_send(), which ran convo.outbox_receipts
 * when RECEIPTS is set. Returns NULL when the transaction committed,
 * with the rows of convo.ingest_batch in *ROWS and those of
 * convo.outbox_receipts, or NULL, in *RECEIPT_ROWS, which the caller
 * clears. Else returns the failed result, after rolling back.
 */
PGresult *stage_receive(PGconn *conn, int receipts, PGresult **rows,
    PGresult **receipt_rows);

/* Return 1 when a staged status record names an outbox row. */
int stage_has_receipts(const struct stage *s);

void stage_reset(struct stage *s);
void stage_free(struct stage *s);

#endif
