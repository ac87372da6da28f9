/*
 * The built-in local database: a PostgreSQL cluster under $CONVO_HOME
 * that listens on a unix socket only, created and started on first use.
 */
#ifndef CONVO_LOCALDB_H
#define CONVO_LOCALDB_H

#include <stddef.h>

struct localdb {
	char home[4096];	/* $CONVO_HOME */
	char datadir[4096];	/* home/pgdata */
	char sockdir[4096];	/* home/run, holds the socket */
	char logfile[4096];	/* home/postgresql.log */
	char bindir[4096];	/* initdb, pg_ctl, postgres */
	char runas[64];		/* server user when run as root, else "" */
	char dbuser[64];	/* superuser name of the cluster */
};

/*
 * Fill DB from the environment: CONVO_HOME, else $XDG_DATA_HOME/convo,
 * else ~/.local/share/convo, and /var/lib/convo for root;
 * CONVO_PG_BINDIR, else the newest /usr/lib/postgresql/N/bin.
 * Returns 0, or -1 with a message in ERR.
 */
int localdb_locate(struct localdb *db, char *err, size_t errsz);

/* Create the cluster when it does not exist. Returns 0, or -1 and ERR. */
int localdb_init(const struct localdb *db, char *err, size_t errsz);

/* Start the server when it is not running. Returns 0, or -1 and ERR. */
int localdb_start(const struct localdb *db, char *err, size_t errsz);

/* Stop the server when it runs. Returns 0, or -1 and ERR. */
int localdb_stop(const struct localdb *db, char *err, size_t errsz);

/* Return 1 when the server runs, 0 when it does not, -1 with no cluster. */
int localdb_running(const struct localdb *db);

/*
 * Initialise and start as needed, under a lock file in the home so that
 * concurrent first uses do not race, then write a libpq conninfo for
 * the cluster's "convo" database into CONNINFO. Returns 0, or -1 and ERR.
 */
int localdb_ensure(struct localdb *db, char *conninfo, size_t n,
    char *err, size_t errsz);

#endif
