#include <dirent.h>
#include <err.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "migrate.h"

#ifndef CONVO_DATADIR
#define CONVO_DATADIR "/usr/local/share/convo"
#endif

static int
is_dir(const char *path)
{
	DIR *d = opendir(path);

	if (d == NULL)
		return 0;
	closedir(d);
	return 1;
}

const char *
share_dir(void)
{
	static char dir[PATH_MAX + 32];
	char exe[PATH_MAX], probe[PATH_MAX + 32];
	const char *env = getenv("CONVO_SHARE");
	ssize_t n;
	char *slash;

	if (dir[0] != '\0')
		return dir;
	if (env != NULL && *env != '\0') {
		snprintf(dir, sizeof(dir), "%s", env);
		return dir;
	}
	/* bin/prog beside share/convo, in the source tree or a prefix. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		snprintf(probe, sizeof(probe), "%s/share/convo/migrations",
		    exe);
		if (is_dir(probe)) {
			probe[strlen(probe) - strlen("/migrations")] = '\0';
			memcpy(dir, probe, strlen(probe) + 1);
			return dir;
		}
	}
	snprintf(dir, sizeof(dir), "%s", CONVO_DATADIR);
	return dir;
}

static int
migration_number(const char *name)
{
	int n = 0, i;

	for (i = 0; i < 3; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		n = n * 10 + (name[i] - '0');
	}
	if (name[3] != '_' || strcmp(name + strlen(name) - 4, ".sql") != 0)
		return -1;
	return n;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List the migration files in order; returns their count. */
static int
migration_files(char ***names)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int n = 0, cap = 0;

	*names = NULL;
	snprintf(path, sizeof(path), "%s/migrations", share_dir());
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (migration_number(e->d_name) < 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			*names = xrealloc(*names, cap * sizeof(**names));
		}
		(*names)[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(*names, n, sizeof(**names), compare_names);
	return n;
}

static void
free_names(char **names, int n)
{
	while (n-- > 0)
		free(names[n]);
	free(names);
}

int
migrate_latest(void)
{
	static int latest = -1;
	char **names;
	int n;

	/* The files read at the first call stay the program's schema, even
	 * when an upgrade replaces them while it runs. */
	if (latest >= 0)
		return latest;
	n = migration_files(&names);
	latest = n > 0 ? migration_number(names[n - 1]) : 0;
	free_names(names, n > 0 ? n : 0);
	return latest;
}

int
migrate_current(PGconn *conn)
{
	PGresult *res;
	const char *state;
	int version = -1;

	/* One round trip: on a database without the schema, the query fails
	 * with an undefined schema or table error. */
	res = PQexec(conn, "SELECT coalesce(max(version), 0) "
	    "FROM convo.schema_version");
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		version = atoi(PQgetvalue(res, 0, 0));
	} else {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (state != NULL && (strcmp(state, "3F000") == 0 ||
		    strcmp(state, "42P01") == 0))
			version = 0;
	}
	PQclear(res);
	return version;
}

static char *
read_file(const char *path)
{
	struct buf b = { 0 };
	char chunk[8192];
	size_t n;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	buf_addc(&b, '\0');
	return b.data;
}

static int
exec_ok(PGconn *conn, const char *sql, const char *what)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok) {
		const char *msg = PQresultErrorMessage(res);

		warnx("%s: %.*s", what, (int)strcspn(msg, "\n"), msg);
	}
	PQclear(res);
	return ok ? 0 : -1;
}

/*
 * Transaction-level lock on convo's schema (7270726 is an arbitrary key),
 * taken by every transaction of a migration run. A session-level lock
 * would not do: behind a pooler in transaction mode, the unlock can run
 * on another server connection than the lock and leave it held.
 */
static const char lock_sql[] = "SELECT pg_advisory_xact_lock(7270726)";

/*
 * Return 1 when migration NUMBER is recorded, 0 when not, -1 after a
 * message.
 */
static int
is_applied(PGconn *conn, const char *number, const char *what)
{
	const char *params[1] = { number };
	PGresult *res;
	int applied = -1;

	res = PQexecParams(conn, "SELECT 1 FROM convo.schema_version "
	    "WHERE version = $1", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		applied = PQntuples(res) > 0;
	} else {
		const char *msg = PQresultErrorMessage(res);

		warnx("%s: %.*s", what, (int)strcspn(msg, "\n"), msg);
	}
	PQclear(res);
	return applied;
}

/*
 * Apply one migration file in its own transaction under the lock, and
 * record it, unless a concurrent run applied it first.
 */
static int
apply_one(PGconn *conn, const char *name, int verbose)
{
	char path[PATH_MAX], what[PATH_MAX + 32], number[16];
	const char *params[2];
	PGresult *res;
	char *sql;
	int ok, applied;

	snprintf(path, sizeof(path), "%s/migrations/%s", share_dir(), name);
	snprintf(what, sizeof(what), "migration \"%s\" failed", path);
	snprintf(number, sizeof(number), "%d", migration_number(name));
	if ((sql = read_file(path)) == NULL) {
		warn("cannot read migration \"%s\"", path);
		return -1;
	}
	if (exec_ok(conn, "BEGIN; SET LOCAL search_path = convo, public",
	    what) != 0 || exec_ok(conn, lock_sql, what) != 0 ||
	    (applied = is_applied(conn, number, what)) < 0) {
		free(sql);
		exec_ok(conn, "ROLLBACK", "rollback");
		return -1;
	}
	if (applied) {
		free(sql);
		return exec_ok(conn, "COMMIT", what);
	}
	if (verbose)
		warnx("applying migration %s", name);
	if (exec_ok(conn, sql, what) != 0) {
		free(sql);
		exec_ok(conn, "ROLLBACK", "rollback");
		return -1;
	}
	free(sql);
	params[0] = number;
	params[1] = name;
	res = PQexecParams(conn, "INSERT INTO convo.schema_version "
	    "(version, name) VALUES ($1, $2)", 2, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok || exec_ok(conn, "COMMIT", what) != 0) {
		exec_ok(conn, "ROLLBACK", "rollback");
		return -1;
	}
	return 0;
}

static const char bootstrap_sql[] =
    "CREATE SCHEMA IF NOT EXISTS convo;"
    "CREATE TABLE IF NOT EXISTS convo.schema_version ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

/*
 * Put every table of the schema, those of later migrations too, under
 * row-level security and grant the mapped roles their privileges again,
 * with convo.tenant_isolate() of migration 011 when the schema has it.
 */
static int
isolate_tenants(PGconn *conn)
{
	const char *what = "cannot enable row-level security on the new tables";
	PGresult *res;
	int exists;

	res = PQexec(conn, "SELECT to_regprocedure('convo.tenant_isolate()') "
	    "IS NOT NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *msg = PQresultErrorMessage(res);

		warnx("cannot look up convo.tenant_isolate: %.*s",
		    (int)strcspn(msg, "\n"), msg);
		PQclear(res);
		return -1;
	}
	exists = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!exists)
		return 0;
	/*
	 * Under the migration lock: two runs at once would both create the
	 * policy of a new table.
	 */
	if (exec_ok(conn, "BEGIN", what) != 0)
		return -1;
	if (exec_ok(conn, lock_sql, what) != 0 ||
	    exec_ok(conn, "SELECT convo.tenant_isolate()", what) != 0 ||
	    exec_ok(conn, "COMMIT", what) != 0) {
		exec_ok(conn, "ROLLBACK", "rollback");
		return -1;
	}
	return 0;
}

/* Create the schema and its version table under the lock. */
static int
bootstrap(PGconn *conn)
{
	const char *what = "cannot create schema convo";

	if (exec_ok(conn, "BEGIN", what) != 0)
		return -1;
	if (exec_ok(conn, lock_sql, what) != 0 ||
	    exec_ok(conn, bootstrap_sql, what) != 0 ||
	    exec_ok(conn, "COMMIT", what) != 0) {
		exec_ok(conn, "ROLLBACK", "rollback");
		return -1;
	}
	return 0;
}

int
migrate_apply(PGconn *conn, int verbose)
{
	char **names;
	int n, i, current, rc = 0;

	if ((n = migration_files(&names)) < 0) {
		warnx("no migrations in \"%s/migrations\"; set CONVO_SHARE "
		    "to the directory that holds them", share_dir());
		return -1;
	}
	if (bootstrap(conn) != 0 || (current = migrate_current(conn)) < 0) {
		free_names(names, n);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (migration_number(names[i]) > current)
			rc = apply_one(conn, names[i], verbose);
	}
	if (rc == 0)
		rc = isolate_tenants(conn);
	free_names(names, n);
	return rc;
}
