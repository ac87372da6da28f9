/*
 * Database connection: where to connect, the schema version check and
 * libpq errors turned into messages and exit status.
 */
#ifndef CONVO_DB_H
#define CONVO_DB_H

#include <libpq-fe.h>

/*
 * Connect as the program named PROGNAME (its application_name). The
 * target is, in order: CONNINFO (from --db) when not NULL, CONVO_DB,
 * the libpq variables (PGHOST, PGDATABASE, PGSERVICE, ...), else the
 * built-in local database, which is created, started and migrated as
 * needed. Checks that the schema is current. On failure prints a
 * message and exits with EX_UNAVAILABLE or EX_CONFIG. The caller owns
 * the connection and ends it with PQfinish().
 */
PGconn *db_connect(const char *conninfo);

/* Return 1 when no explicit connection is configured (local database). */
int db_uses_local(const char *conninfo);

/*
 * Connect like db_connect() but skip the schema check, for convo-db.
 * Returns NULL after printing a message when the server is unreachable.
 */
PGconn *db_connect_raw(const char *conninfo);

/*
 * Return the account id of NAME and copy its default country into
 * COUNTRY. Prints a message and exits with EX_CONFIG when the account
 * does not exist.
 */
long long db_account(PGconn *conn, const char *name, char country[8]);

/*
 * Connect like db_connect() and look up account NAME like db_account(),
 * storing its id in ACCOUNT_ID. When the schema is current, the version
 * check and the lookup take one statement.
 */
PGconn *db_connect_account(const char *conninfo, const char *name,
    long long *account_id, char country[8]);

/*
 * Load the keywords of account ACCOUNT_ID and its opt-out matching mode
 * into SET, which starts empty. Exits with a message on failure.
 */
struct keyword_set;
void db_load_keywords(PGconn *conn, long long account_id,
    struct keyword_set *set);

/*
 * Print the program's name and version, then the versions of libpq and
 * libcurl in use and of libjq when the build knew it, one to a line,
 * then exit 0.
 */
void db_print_version(void);

/* Run SQL that returns no rows and exit with a message on failure. */
void db_exec(PGconn *conn, const char *sql);

/*
 * Print "PROGNAME: WHAT: <libpq message>" for a failed result or
 * connection, without the trailing newline libpq adds. A read-only
 * database, a statement timeout and a lock timeout get a hint of what to
 * do after the message. Returns the exit status the error maps to:
 * EX_UNAVAILABLE for a lost connection or a read-only database,
 * EX_TEMPFAIL for serialization failures, deadlocks, lock and statement
 * timeouts, EX_CONFIG for insufficient privilege (SQLSTATE 42501, which
 * row-level security raises too), EX_SOFTWARE otherwise.
 */
int db_report(PGconn *conn, const PGresult *res, const char *what);

#endif
