/*
 * Monthly partitions of the message and consent history: creating the
 * coming months' partitions and archiving old ones to files.
 */
#ifndef CONVO_PARTITION_H
#define CONVO_PARTITION_H

#include <stdio.h>

#include <libpq-fe.h>

/*
 * Create the partitions of the current month and the AHEAD months after
 * it, and of earlier months that have rows waiting in a default
 * partition. Prints one "partition" record per partition created to OUT
 * and sets *CREATED to their number. Returns 0, or an exit status after
 * printing a message.
 */
int partition_maintain(PGconn *conn, int ahead, FILE *out, int *created);

/*
 * Archive every monthly partition of a month before BEFORE (the first
 * day of a month, "YYYY-MM-01"): detach it, copy its rows to DIR/NAME.copy
 * in COPY's text format, and drop it. A partition left detached by an
 * interrupted run is archived too. An existing file is never replaced.
 * Prints one "archive" record per partition to OUT and sets *ARCHIVED
 * to their number. Returns 0, or an exit status after printing a
 * message.
 */
int partition_archive(PGconn *conn, const char *before, const char *dir,
    FILE *out, int *archived);

/*
 * Parse MONTH, "YYYY-MM", into the first day of the month, "YYYY-MM-01",
 * in DAY. Returns 0, or -1 when MONTH is not such a month.
 */
int partition_parse_month(const char *month, char day[11]);

#endif
