/*
 * Schema migrations: numbered SQL files under share/convo/migrations,
 * each applied once in its own transaction and recorded in
 * convo.schema_version.
 */
#ifndef CONVO_MIGRATE_H
#define CONVO_MIGRATE_H

#include <libpq-fe.h>

/*
 * Return the directory that contains convo's data files: $CONVO_SHARE, else
 * ../share/convo beside the running program, else the directory chosen
 * at build time. The string is static.
 */
const char *share_dir(void);

/*
 * Return the highest migration number shipped in share_dir(), as read at
 * the first call.
 */
int migrate_latest(void);

/* Return the schema version of the database, 0 when none, -1 on error. */
int migrate_current(PGconn *conn);

/*
 * Apply every missing migration, each in a transaction that takes a
 * transaction-level advisory lock, and print one line per file to stderr
 * when VERBOSE. Then run convo.tenant_isolate(), so that every table has
 * row-level security and the roles mapped to accounts have their
 * privileges. Returns 0, or -1 after printing a message.
 */
int migrate_apply(PGconn *conn, int verbose);

#endif
