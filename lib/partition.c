/*
 * Monthly partitions of messages and consent changes. The SQL functions
 * of migration 015 do the catalog work; this file drives them and
 * copies archived partitions to files.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <err.h>
#include <jv.h>

#include "db.h"
#include "partition.h"

int
partition_parse_month(const char *month, char day[11])
{
	int i, number;

	if (strlen(month) != 7 || month[4] != '-')
		return -1;
	for (i = 0; i < 7; i++)
		if (i != 4 && !isdigit((unsigned char)month[i]))
			return -1;
	number = (month[5] - '0') * 10 + (month[6] - '0');
	if (number < 1 || number > 12 || strncmp(month, "0000", 4) == 0)
		return -1;
	memcpy(day, month, 7);
	memcpy(day + 7, "-01", 4);
	return 0;
}

/* Print one record of partition work: TYPE, table, month, name, COUNT. */
static void
print_partition(FILE *out, const char *type, PGresult *res, int row,
    const char *count_name, const char *count, const char *file)
{
	jv r = jv_object();
	char month[8];

	snprintf(month, sizeof(month), "%.7s", PQgetvalue(res, row, 1));
	r = jv_object_set(r, jv_string("type"), jv_string(type));
	r = jv_object_set(r, jv_string("table"),
	    jv_string(PQgetvalue(res, row, 0)));
	r = jv_object_set(r, jv_string("month"), jv_string(month));
	r = jv_object_set(r, jv_string("partition"),
	    jv_string_fmt("convo_partitions.%s", PQgetvalue(res, row, 2)));
	r = jv_object_set(r, jv_string(count_name),
	    jv_number(strtod(count, NULL)));
	if (file != NULL)
		r = jv_object_set(r, jv_string("file"), jv_string(file));
	jv_dumpf(r, out, 0);
	fputc('\n', out);
}

/*
 * Check that convo, not pg_partman, manages the partitions. When
 * pg_partman does, print HINT (%s is its schema) and return EX_CONFIG.
 * Returns 0, or an exit status when the lookup fails.
 */
static int
check_partman(PGconn *conn, const char *hint)
{
	PGresult *res;
	char msg[256];
	int rc = 0;

	res = PQexec(conn, "SELECT convo.partman_schema()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = db_report(conn, res, "cannot look up pg_partman");
	else if (!PQgetisnull(res, 0, 0)) {
		snprintf(msg, sizeof(msg), hint, PQgetvalue(res, 0, 0));
		warnx("the partitions are managed by pg_partman: %s", msg);
		rc = EX_CONFIG;
	}
	PQclear(res);
	return rc;
}

/*
 * Run SQL with PARAMS, up to five times when it fails with a deadlock in
 * a transaction of its own. An ingest batch that locks consent_changes
 * or messages before profiles can wait for a partition change in a
 * cycle, and PostgreSQL then cancels one of the two.
 */
static PGresult *
exec_retrying(PGconn *conn, const char *sql, int n, const char **params)
{
	PGresult *res;
	const char *state;
	int attempt;

	for (attempt = 1;; attempt++) {
		res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (attempt == 5 || state == NULL ||
		    strcmp(state, "40P01") != 0 ||
		    PQtransactionStatus(conn) != PQTRANS_IDLE)
			return res;
		PQclear(res);
		usleep(100000 * attempt);
	}
}

/*
 * Create partition ROW of NEEDED (parent, month, name) in a transaction
 * of its own and print its record. Returns 0 or an exit status.
 */
static int
create_one(PGconn *conn, PGresult *needed, int row, FILE *out, int *created)
{
	const char *params[2] = { PQgetvalue(needed, row, 0),
	    PQgetvalue(needed, row, 1) };
	PGresult *res;
	int rc = 0;

	res = exec_retrying(conn, "SELECT convo.partition_create($1, "
	    "$2::date)", 2, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = db_report(conn, res, "cannot create partitions");
	else if (!PQgetisnull(res, 0, 0)) {
		print_partition(out, "partition", needed, row, "moved",
		    PQgetvalue(res, 0, 0), NULL);
		(*created)++;
	}
	PQclear(res);
	return rc;
}

/* The partitions convo.partitions_needed($1) names: parent, month, name. */
#define NEEDED_SQL "SELECT n.parent, n.month::text, " \
	"n.parent || '_' || to_char(n.month, 'YYYY_MM') " \
	"FROM convo.partitions_needed($1) n "

/*
 * The months before $2 with rows in a default partition and no partition
 * of their own, attached or detached.
 */
#define WAITING_SQL NEEDED_SQL "WHERE n.month < $2::date " \
	"AND NOT EXISTS (SELECT 1 FROM convo.partitions() p " \
	"WHERE p.parent = n.parent AND p.month = n.month)"

/*
 * Write the name of partition NAME's archive file in DIR to PATH.
 * Returns 0, or -1 with a warning when the name is too long.
 */
static int
archive_path(char path[PATH_MAX], const char *dir, const char *name)
{
	if ((size_t)snprintf(path, PATH_MAX, "%s/%s.copy", dir, name) <
	    PATH_MAX)
		return 0;
	warnx("archive directory name too long: %s", dir);
	return -1;
}

/*
 * Create the partitions that SQL lists, with the NPARAMS PARAMS, one
 * transaction each, so that no lock outlasts its partition. With DIR,
 * skip those whose archive file in DIR exists. Returns 0 or an exit
 * status.
 */
static int
create_listed(PGconn *conn, const char *sql, int nparams,
    const char **params, const char *dir, FILE *out, int *created)
{
	PGresult *res;
	char path[PATH_MAX];
	int i, n, rc = 0;

	res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_report(conn, res, "cannot list the partitions to create");
		PQclear(res);
		return rc;
	}
	n = PQntuples(res);
	for (i = 0; i < n && rc == 0; i++) {
		if (dir != NULL) {
			if (archive_path(path, dir, PQgetvalue(res, i, 2)) != 0)
				rc = EX_USAGE;
			if (rc != 0 || access(path, F_OK) == 0)
				continue;
		}
		rc = create_one(conn, res, i, out, created);
		fflush(out);
	}
	PQclear(res);
	return rc;
}

int
partition_maintain(PGconn *conn, int ahead, FILE *out, int *created)
{
	char months[16];
	const char *params[1] = { months };
	int rc;

	*created = 0;
	if ((rc = check_partman(conn, "run %s.run_maintenance() instead")) != 0)
		return rc;
	snprintf(months, sizeof(months), "%d", ahead);
	return create_listed(conn, NEEDED_SQL, 1, params, NULL, out, created);
}

/*
 * Run SQL with one parameter, PARAM, or none when it is NULL. Returns 0
 * or an exit status.
 */
static int
exec_one(PGconn *conn, const char *sql, const char *param, const char *what)
{
	const char *params[1] = { param };
	PGresult *res;
	int rc = 0;

	res = exec_retrying(conn, sql, param != NULL, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = db_report(conn, res, what);
	PQclear(res);
	return rc;
}

/*
 * Copy the rows of detached partition NAME to the open file FD. Stores
 * the number of rows in ROWS and of lines written in LINES: COPY's text
 * format writes one row a line. Returns 0 or an exit status.
 */
static int
copy_out(PGconn *conn, const char *name, int fd, const char *path,
    char rows[32], long long *lines)
{
	char *ident, *sql, *buf;
	PGresult *res;
	int n, i, rc = 0;

	if ((ident = PQescapeIdentifier(conn, name, strlen(name))) == NULL)
		errx(EX_OSERR, "out of memory");
	if (asprintf(&sql, "COPY convo_partitions.%s TO STDOUT", ident) == -1)
		errx(EX_OSERR, "out of memory");
	PQfreemem(ident);
	res = PQexec(conn, sql);
	free(sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		rc = db_report(conn, res, "cannot copy a partition");
		PQclear(res);
		return rc;
	}
	PQclear(res);
	*lines = 0;
	while ((n = PQgetCopyData(conn, &buf, 0)) > 0) {
		if (rc == 0 && write(fd, buf, (size_t)n) != n) {
			warn("cannot write %s", path);
			rc = EX_IOERR;
		}
		for (i = 0; i < n; i++)
			*lines += buf[i] == '\n';
		PQfreemem(buf);
	}
	res = PQgetResult(conn);
	if (n == -2 || PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = db_report(conn, res, "cannot copy a partition");
	else
		snprintf(rows, 32, "%s", PQcmdTuples(res));
	PQclear(res);
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
	return rc;
}

/* Flush directory DIR, so that a new name in it survives a crash. */
static int
sync_dir(const char *dir)
{
	int dfd, rc = 0;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) == -1) {
		warn("cannot write %s", dir);
		rc = EX_IOERR;
	}
	if (dfd != -1)
		close(dfd);
	return rc;
}

/*
 * Write partition NAME to PATH in DIR through a temporary file of a name
 * of its own, which becomes PATH only once its rows are all on disk.
 * Returns 0 or an exit status.
 */
static int
archive_file(PGconn *conn, const char *name, const char *dir,
    const char *path, char rows[32])
{
	char tmp[PATH_MAX];
	long long lines = 0;
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.copy.XXXXXX", dir,
	    name) >= sizeof(tmp)) {
		warnx("archive directory name too long: %s", dir);
		return EX_USAGE;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		warn("cannot create a file in %s", dir);
		return EX_CANTCREAT;
	}
	rc = copy_out(conn, name, fd, tmp, rows, &lines);
	if (rc == 0 && lines != strtoll(rows, NULL, 10)) {
		warnx("copied %s rows of %s but wrote %lld lines; the partition "
		    "is kept", rows, name, lines);
		rc = EX_SOFTWARE;
	}
	if (rc == 0 && fsync(fd) == -1) {
		warn("cannot write %s", tmp);
		rc = EX_IOERR;
	}
	if (close(fd) == -1 && rc == 0) {
		warn("cannot write %s", tmp);
		rc = EX_IOERR;
	}
	if (rc == 0 && link(tmp, path) == -1) {
		if (errno == EEXIST)
			warnx("%s exists; move it away and run again", path);
		else
			warn("cannot create %s", path);
		rc = EX_CANTCREAT;
	}
	unlink(tmp);
	if (rc == 0)
		rc = sync_dir(dir);
	return rc;
}

/*
 * Copy detached partition NAME to PATH and drop it, in one transaction
 * under the partition lock, so that two runs never write the same
 * partition. Sets *DONE when this run archived it: another run may have
 * done it first. Returns 0 or an exit status.
 */
static int
archive_detached(PGconn *conn, const char *name, const char *dir,
    const char *path, char rows[32], int *done)
{
	PGresult *res;
	const char *params[1] = { name };
	int rc;

	*done = 0;
	if ((rc = exec_one(conn, "BEGIN", NULL, "cannot start the archive")))
		return rc;
	if ((rc = exec_one(conn, "SELECT convo.partitions_lock()", NULL,
	    "cannot lock the partitions")) != 0) {
		exec_one(conn, "ROLLBACK", NULL, "cannot roll back");
		return rc;
	}
	/* A statement of its own, to see what a run before this one did. */
	res = PQexecParams(conn, "SELECT EXISTS (SELECT 1 "
	    "FROM convo.partitions() p "
	    "WHERE p.partition = $1 AND NOT p.attached)", 1, NULL, params,
	    NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_report(conn, res, "cannot look up a partition");
		PQclear(res);
		exec_one(conn, "ROLLBACK", NULL, "cannot roll back");
		return rc;
	}
	if (PQgetvalue(res, 0, 0)[0] != 't') {
		PQclear(res);
		return exec_one(conn, "COMMIT", NULL, "cannot end the archive");
	}
	PQclear(res);
	if ((rc = archive_file(conn, name, dir, path, rows)) != 0) {
		exec_one(conn, "ROLLBACK", NULL, "cannot roll back");
		return rc;
	}
	if ((rc = exec_one(conn, "SELECT convo.partition_drop($1)", name,
	    "cannot drop an archived partition")) != 0 ||
	    (rc = exec_one(conn, "COMMIT", NULL, "cannot end the archive"))
	    != 0) {
		/* The partition stays, so its file must not. */
		exec_one(conn, "ROLLBACK", NULL, "cannot roll back");
		unlink(path);
		return rc;
	}
	*done = 1;
	return 0;
}

/*
 * Return -1 when partition NAME no longer exists, 0 when it does, or an
 * exit status. The partition lock makes it wait for a run that has
 * written the file of NAME but not yet committed the drop.
 */
static int
partition_gone(PGconn *conn, const char *name)
{
	const char *params[1] = { name };
	PGresult *res;
	int rc, commit_rc;

	if ((rc = exec_one(conn, "BEGIN", NULL, "cannot start a lookup")) ||
	    (rc = exec_one(conn, "SELECT convo.partitions_lock()", NULL,
	    "cannot lock the partitions")) != 0) {
		exec_one(conn, "ROLLBACK", NULL, "cannot roll back");
		return rc;
	}
	res = PQexecParams(conn, "SELECT EXISTS (SELECT 1 "
	    "FROM convo.partitions() p WHERE p.partition = $1)", 1, NULL,
	    params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = db_report(conn, res, "cannot look up a partition");
	else
		rc = PQgetvalue(res, 0, 0)[0] == 't' ? 0 : -1;
	PQclear(res);
	if (rc > 0) {
		exec_one(conn, "ROLLBACK", NULL, "cannot roll back");
		return rc;
	}
	commit_rc = exec_one(conn, "COMMIT", NULL, "cannot end a lookup");
	return commit_rc != 0 ? commit_rc : rc;
}

/*
 * Archive the partition of row ROW of RES (parent, month, name,
 * attached), and set *WRITTEN when this run wrote its file. Returns 0,
 * -1 when its file exists already and the partition stays, or an exit
 * status.
 */
static int
archive_one(PGconn *conn, PGresult *res, int row, const char *dir,
    FILE *out, int *archived, char *written)
{
	const char *name = PQgetvalue(res, row, 2);
	char path[PATH_MAX], rows[32] = "0";
	int rc, done;

	if (archive_path(path, dir, name) != 0)
		return EX_USAGE;
	/*
	 * Before detaching: a month must not vanish from reads for nothing.
	 * The file may be the work of another run that archived the month
	 * since this one listed it.
	 */
	if (access(path, F_OK) == 0) {
		if ((rc = partition_gone(conn, name)) != 0)
			return rc < 0 ? 0 : rc;
		/* A run that failed to drop the month removed its file. */
		if (access(path, F_OK) == 0) {
			warnx("%s exists; move it away and run again", path);
			return -1;
		}
	}
	if ((rc = exec_one(conn, "SELECT convo.partition_detach($1)", name,
	    "cannot detach a partition")) != 0)
		return rc;
	if ((rc = archive_detached(conn, name, dir, path, rows, &done)) != 0)
		return rc;
	if (done) {
		print_partition(out, "archive", res, row, "rows", rows, path);
		(*archived)++;
		*written = 1;
	}
	return 0;
}

/*
 * Return whether partition NAME is one of the rows of LISTED (parent,
 * month, name) whose file this run wrote, as WRITTEN marks them.
 */
static int
written_by_run(PGresult *listed, const char *written, const char *name)
{
	int i;

	for (i = 0; i < PQntuples(listed); i++)
		if (written[i] && strcmp(PQgetvalue(listed, i, 2), name) == 0)
			return 1;
	return 0;
}

/*
 * Warn about each month of WAITING (months ahead, the month to archive
 * before) whose rows still wait in a default partition after the run.
 * LISTED and WRITTEN mark the partitions whose files this run wrote.
 * Returns 0 or an exit status: 73 when the month's archive file exists,
 * 75 when the rows arrived during the run.
 */
static int
report_waiting(PGconn *conn, const char **waiting, const char *dir,
    PGresult *listed, const char *written)
{
	PGresult *res;
	char path[PATH_MAX];
	int i, rc = 0;

	res = PQexecParams(conn, WAITING_SQL, 2, NULL, waiting, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_report(conn, res, "cannot list the rows left");
		PQclear(res);
		return rc;
	}
	for (i = 0; i < PQntuples(res); i++) {
		if (archive_path(path, dir, PQgetvalue(res, i, 2)) != 0) {
			rc = EX_USAGE;
		} else if (access(path, F_OK) == 0 &&
		    written_by_run(listed, written, PQgetvalue(res, i, 2))) {
			/* The file contains only the rows of the month's partition. */
			warnx("rows of %s of %.7s reached the default partition "
			    "after the month was detached, so %s, which this run "
			    "wrote, does not contain them. Move that file away "
			    "and run archive again to archive them",
			    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), path);
			rc = EX_CANTCREAT;
		} else if (access(path, F_OK) == 0) {
			warnx("rows of %s of %.7s wait in the default partition, "
			    "and %s exists; move it away and run archive again",
			    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), path);
			rc = EX_CANTCREAT;
		} else {
			warnx("rows of %s of %.7s reached the default partition "
			    "during the run; run archive again",
			    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
			if (rc == 0)
				rc = EX_TEMPFAIL;
		}
	}
	PQclear(res);
	return rc;
}

int
partition_archive(PGconn *conn, const char *before, const char *dir,
    FILE *out, int *archived)
{
	const char *params[1] = { before }, *waiting[2] = { "0", before };
	PGresult *res;
	char *written;
	int i, n, created = 0, file_exists = 0, rc = 0;

	*archived = 0;
	if ((rc = check_partman(conn, "set the retention of %s.part_config "
	    "instead")) != 0)
		return rc;
	res = PQexecParams(conn, "SELECT $1::date > convo.month_of(now()), "
	    "to_char(convo.month_of(now()), 'YYYY-MM')", 1, NULL, params, NULL,
	    NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_report(conn, res, "cannot read the current month");
		PQclear(res);
		return rc;
	}
	if (PQgetvalue(res, 0, 0)[0] == 't') {
		warnx("--before: %.7s is after the current month, %s; archive "
		    "keeps the current month and later ones", before,
		    PQgetvalue(res, 0, 1));
		PQclear(res);
		return EX_USAGE;
	}
	PQclear(res);
	/*
	 * Rows of those months in a default partition first get partitions
	 * of their own, as maintain gives them. report_waiting() names the
	 * months left detached or with an archive file, which keep them.
	 */
	if ((rc = create_listed(conn, WAITING_SQL, 2, waiting, dir, out,
	    &created)) != 0)
		return rc;
	res = PQexecParams(conn, "SELECT p.parent, p.month::text, "
	    "p.partition, p.attached FROM convo.partitions() p "
	    "WHERE p.month < $1::date ORDER BY p.month, p.parent",
	    1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_report(conn, res, "cannot list partitions");
		PQclear(res);
		return rc;
	}
	/* A month whose file exists stays, and the others go on. */
	n = PQntuples(res);
	if ((written = calloc((size_t)n + 1, 1)) == NULL)
		errx(EX_OSERR, "out of memory");
	for (i = 0; i < n && rc == 0; i++) {
		rc = archive_one(conn, res, i, dir, out, archived, &written[i]);
		if (rc < 0) {
			file_exists = 1;
			rc = 0;
		}
		fflush(out);
	}
	if (rc == 0)
		rc = report_waiting(conn, waiting, dir, res, written);
	free(written);
	PQclear(res);
	return rc == 0 && file_exists ? EX_CANTCREAT : rc;
}
