/*
 * convo-db: manage the database that convo programs use: the built-in
 * local PostgreSQL cluster, schema migrations and accounts.
 */
#include <ctype.h>
#include <errno.h>
#include <err.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jv.h>
#include <libpq-fe.h>

#include "buf.h"
#include "cli.h"
#include "convo.h"
#include "db.h"
#include "localdb.h"
#include "migrate.h"
#include "partition.h"
#include "phone.h"

/* Exit status of "status" when the local server is not running. */
#define EXIT_STOPPED 3

#define CONNINFO_MAX 8192
#define ERR_MAX 1024

static void usage(void) __attribute__((noreturn));
static void help(void) __attribute__((noreturn));

static const char *opt_db;
static int opt_quiet;
static int opt_verbose;

static void
usage(void)
{
	fprintf(stderr, "usage: convo-db [--db conninfo] [-qv] command "
	    "[argument ...]\n"
	    "       convo-db -h | -V\n");
	exit(EX_USAGE);
}

static void
help(void)
{
	printf("usage: convo-db [--db conninfo] [-qv] command [argument ...]\n"
	    "\n"
	    "commands:\n"
	    "  init             create, start and migrate the local database\n"
	    "  start            start the local database, creating it if "
	    "needed\n"
	    "  stop             stop the local database\n"
	    "  status           describe the local database; exit 3 when "
	    "stopped\n"
	    "  migrate          apply schema migrations to the database\n"
	    "  psql [arg ...]   run psql on the database\n"
	    "  env              print PG variables for the local database\n"
	    "  account add name [--country cc] [--brand text]\n"
	    "  account list     print accounts as NDJSON\n"
	    "  grant --account name --role role\n"
	    "                   confine role to the account; create it "
	    "NOLOGIN if needed\n"
	    "  revoke --account name --role role\n"
	    "                   remove the role's access to the account\n"
	    "  verify [--account name]\n"
	    "                   recount summaries, consent and statuses, "
	    "print each\n"
	    "                   mismatch as NDJSON and exit 1 if there is "
	    "any\n"
	    "  maintain [--ahead months]\n"
	    "                   create the monthly partitions of this month "
	    "and the\n"
	    "                   next months (3 unless given)\n"
	    "  archive --before YYYY-MM [--dir dir]\n"
	    "                   copy the partitions of earlier months to "
	    "files and\n"
	    "                   drop them\n"
	    "\n"
	    "options:\n"
	    "  --db conninfo    libpq connection string or URI to use\n"
	    "  -q, --quiet      print no progress messages\n"
	    "  -v, --verbose    print each migration as it is applied and the "
	    "time\n"
	    "                   each step takes\n"
	    "  -h, --help       show this help\n"
	    "  -V, --version    show the versions of convo and its libraries\n"
	    "\n"
	    "See convo-db(1).\n");
	exit(0);
}

/* Print a progress message to stderr unless -q was given. */
static void say(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list ap;

	if (opt_quiet)
		return;
	fprintf(stderr, "%s: ", getprogname());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
finish_stdout(void)
{
	if (ferror(stdout) || fclose(stdout) == EOF)
		err(EX_IOERR, "cannot write to standard output");
}

static void
no_arguments(int argc, char **argv)
{
	if (argc > 1) {
		warnx("%s takes no arguments, not \"%s\"", argv[0], argv[1]);
		usage();
	}
}

/* Warn, when a connection is configured, that COMMAND ignores it. */
static void
note_local_only(const char *command)
{
	if (!db_uses_local(opt_db))
		warnx("%s acts on the local database only; the configured "
		    "connection (--db, CONVO_DB or PG variables) is not used",
		    command);
}

static void
locate_local(struct localdb *db)
{
	char msg[ERR_MAX];

	if (localdb_locate(db, msg, sizeof(msg)) == -1)
		errx(EX_CONFIG, "local database: %s", msg);
}

/* Create and start the local database as needed and fill CONNINFO. */
static void
ensure_local(struct localdb *db, char *conninfo, size_t n)
{
	char msg[ERR_MAX];

	locate_local(db);
	if (localdb_ensure(db, conninfo, n, msg, sizeof(msg)) == -1)
		errx(EX_UNAVAILABLE, "local database: %s", msg);
}

static int
apply_migrations(PGconn *conn)
{
	int before, after;

	before = migrate_current(conn);
	if (migrate_apply(conn, opt_verbose) == -1)
		return EX_UNAVAILABLE;
	after = migrate_current(conn);
	if (after < 0)
		return db_report(conn, NULL, "cannot read the schema version");
	if (after == before)
		say("schema is up to date at version %d", after);
	else if (before < 0)
		say("schema migrated to version %d", after);
	else
		say("schema migrated from version %d to %d", before, after);
	return 0;
}

static int
cmd_init(int argc, char **argv)
{
	char conninfo[CONNINFO_MAX];
	struct localdb db;
	PGconn *conn;
	int rc;

	no_arguments(argc, argv);
	note_local_only("init");
	ensure_local(&db, conninfo, sizeof(conninfo));
	say("local database running in %s", db.home);
	if ((conn = db_connect_raw(conninfo)) == NULL)
		return EX_UNAVAILABLE;
	rc = apply_migrations(conn);
	PQfinish(conn);
	return rc;
}

static int
cmd_start(int argc, char **argv)
{
	char conninfo[CONNINFO_MAX];
	struct localdb db;
	int before;

	no_arguments(argc, argv);
	note_local_only("start");
	locate_local(&db);
	before = localdb_running(&db);
	ensure_local(&db, conninfo, sizeof(conninfo));
	if (before == 1)
		say("local database already running in %s", db.home);
	else if (before == -1)
		say("created and started the local database in %s", db.home);
	else
		say("started the local database in %s", db.home);
	return 0;
}

static int
cmd_stop(int argc, char **argv)
{
	char msg[ERR_MAX];
	struct localdb db;

	no_arguments(argc, argv);
	note_local_only("stop");
	locate_local(&db);
	if (localdb_running(&db) != 1) {
		say("local database in %s is not running", db.home);
		return 0;
	}
	if (localdb_stop(&db, msg, sizeof(msg)) == -1)
		errx(EX_UNAVAILABLE, "local database: %s", msg);
	say("stopped the local database in %s", db.home);
	return 0;
}

/* Print the schema version of the running local database. */
static void
print_schema_version(struct localdb *db)
{
	char conninfo[CONNINFO_MAX];
	PGconn *conn;
	int current;

	ensure_local(db, conninfo, sizeof(conninfo));
	current = -1;
	if ((conn = db_connect_raw(conninfo)) != NULL) {
		current = migrate_current(conn);
		PQfinish(conn);
	}
	if (current < 0)
		printf("schema version: unknown (latest %d)\n",
		    migrate_latest());
	else
		printf("schema version: %d (latest %d)\n", current,
		    migrate_latest());
}

static int
cmd_status(int argc, char **argv)
{
	struct localdb db;
	int running;

	no_arguments(argc, argv);
	note_local_only("status");
	locate_local(&db);
	running = localdb_running(&db);
	printf("home: %s\n", db.home);
	printf("data directory: %s\n", db.datadir);
	printf("socket directory: %s\n", db.sockdir);
	printf("log file: %s\n", db.logfile);
	printf("server: %s\n", running == 1 ? "running" :
	    running == 0 ? "stopped" : "not created (run convo-db init)");
	if (running == 1)
		print_schema_version(&db);
	else
		printf("schema version: unknown (latest %d)\n",
		    migrate_latest());
	finish_stdout();
	return running == 1 ? 0 : EXIT_STOPPED;
}

static int
cmd_migrate(int argc, char **argv)
{
	PGconn *conn;
	int rc;

	no_arguments(argc, argv);
	if ((conn = db_connect_raw(opt_db)) == NULL)
		return EX_UNAVAILABLE;
	rc = apply_migrations(conn);
	PQfinish(conn);
	return rc;
}

/*
 * Put each setting of CONNINFO into its libpq environment variable, so
 * that a password in it never appears in psql's argument list.
 */
static void
export_conninfo(const char *conninfo)
{
	PQconninfoOption *options, *o;
	char *msg;

	if ((options = PQconninfoParse(conninfo, &msg)) == NULL) {
		if (msg == NULL)
			errx(EX_OSERR, "out of memory");
		errx(EX_CONFIG, "invalid connection string: %.*s",
		    (int)strcspn(msg, "\n"), msg);
	}
	for (o = options; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		if (o->envvar == NULL)
			warnx("psql: ignoring \"%s\", which has no environment "
			    "variable", o->keyword);
		else if (setenv(o->envvar, o->val, 1) == -1)
			err(EX_OSERR, "setenv %s", o->envvar);
	}
	PQconninfoFree(options);
}

/* The cluster's own psql matches its version and skips Debian's wrapper. */
static void
psql_path(char *path, size_t n)
{
	struct localdb db;
	char msg[ERR_MAX];

	snprintf(path, n, "psql");
	if (localdb_locate(&db, msg, sizeof(msg)) == -1)
		return;
	if ((size_t)snprintf(path, n, "%s/psql", db.bindir) >= n ||
	    access(path, X_OK) == -1)
		snprintf(path, n, "psql");
}

/*
 * Connect psql where the other programs connect: --db, CONVO_DB, the
 * PG variables that libpq reads itself, else the local database.
 */
static int
cmd_psql(int argc, char **argv)
{
	char conninfo[CONNINFO_MAX], path[4200];
	const char *target, *env;
	struct localdb db;

	(void)argc;
	target = opt_db;
	env = getenv("CONVO_DB");
	if (target == NULL && env != NULL && env[0] != '\0')
		target = env;
	if (target == NULL && db_uses_local(NULL)) {
		ensure_local(&db, conninfo, sizeof(conninfo));
		target = conninfo;
	}
	if (target != NULL)
		export_conninfo(target);
	psql_path(path, sizeof(path));
	argv[0] = path;
	fflush(stdout);
	execvp(path, argv);
	err(EX_UNAVAILABLE, "cannot run %s", path);
}

/* Quote VALUE for the shell in single quotes. */
static void
print_shell_word(const char *value)
{
	putchar('\'');
	for (; *value != '\0'; value++) {
		if (*value == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*value);
	}
	putchar('\'');
}

static int
cmd_env(int argc, char **argv)
{
	char conninfo[CONNINFO_MAX];
	PQconninfoOption *options, *o;
	struct localdb db;

	no_arguments(argc, argv);
	note_local_only("env");
	ensure_local(&db, conninfo, sizeof(conninfo));
	if ((options = PQconninfoParse(conninfo, NULL)) == NULL)
		errx(EX_SOFTWARE, "cannot parse the local connection string");
	for (o = options; o->keyword != NULL; o++) {
		if (o->val == NULL || o->envvar == NULL)
			continue;
		printf("export %s=", o->envvar);
		print_shell_word(o->val);
		putchar('\n');
	}
	PQconninfoFree(options);
	finish_stdout();
	return 0;
}

/*
 * Parse the arguments of "account add" into COUNTRY and BRAND and
 * return the account name.
 */
static const char *
parse_account_add(int argc, char **argv, char *country, const char **brand)
{
	static const struct option longopts[] = {
		{ "country", required_argument, NULL, 'c' },
		{ "brand", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cc;
	int ch;

	cc = NULL;
	*brand = NULL;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch == 'c')
			cc = optarg;
		else if (ch == 'b')
			*brand = optarg;
		else
			usage();
	}
	if (argc - optind != 1) {
		warnx("account add takes one account name");
		usage();
	}
	/* Keyword replies start with the brand name, as convo-keywords checks. */
	if (*brand != NULL && (*brand)[strspn(*brand, " \t\n\v\f\r")] ==
	    '\0')
		errx(EX_USAGE, "--brand needs a name: replies start with it");
	if (*brand != NULL && !utf8_valid(*brand, strlen(*brand)))
		errx(EX_USAGE, "--brand is not valid UTF-8 text");
	if (*brand != NULL && utf8_control_offset(*brand) >= 0)
		errx(EX_USAGE, "--brand contains a control character at byte "
		    "%ld, which replies would send to customers",
		    utf8_control_offset(*brand) + 1);
	country[0] = '\0';
	if (cc != NULL) {
		if (!phone_country_known(cc))
			errx(EX_USAGE, "unknown country code \"%s\": expected "
			    "an ISO 3166 alpha-2 code such as US or GB", cc);
		country[0] = (char)toupper((unsigned char)cc[0]);
		country[1] = (char)toupper((unsigned char)cc[1]);
		country[2] = '\0';
	}
	return argv[optind];
}

static int
report_account_error(PGconn *conn, PGresult *res, const char *name)
{
	const char *state;

	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state != NULL && strcmp(state, "23505") == 0) {
		warnx("account \"%s\" already exists", name);
		return EX_DATAERR;
	}
	if (state != NULL && strcmp(state, "23514") == 0) {
		warnx("invalid account name \"%s\": expected 1 to 63 letters, "
		    "digits, dots, underscores or dashes, starting with a "
		    "letter or digit", name);
		return EX_USAGE;
	}
	return db_report(conn, res, "cannot create the account");
}

static int
account_add(int argc, char **argv)
{
	const char *params[3], *name, *brand;
	char country[3];
	PGresult *res;
	PGconn *conn;
	int rc;

	name = parse_account_add(argc, argv, country, &brand);
	params[0] = name;
	params[1] = country[0] != '\0' ? country : NULL;
	params[2] = brand;
	conn = db_connect(opt_db);
	res = PQexecParams(conn, "SELECT convo.account_create($1, $2, $3)",
	    3, NULL, params, NULL, NULL, 0);
	rc = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = report_account_error(conn, res, name);
	else
		say("created account \"%s\" (id %s)", name,
		    PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	return rc;
}

static jv
nullable_string(PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return jv_null();
	return jv_string(PQgetvalue(res, row, col));
}

static int
account_list(int argc, char **argv)
{
	PGresult *res;
	PGconn *conn;
	jv account;
	int i, rc;

	no_arguments(argc, argv);
	conn = db_connect(opt_db);
	res = PQexec(conn, "SELECT name, default_country, brand_name "
	    "FROM convo.accounts ORDER BY name");
	rc = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = db_report(conn, res, "cannot list accounts");
	for (i = 0; rc == 0 && i < PQntuples(res); i++) {
		account = jv_object();
		account = jv_object_set(account, jv_string("type"),
		    jv_string("account"));
		account = jv_object_set(account, jv_string("name"),
		    nullable_string(res, i, 0));
		account = jv_object_set(account, jv_string("country"),
		    nullable_string(res, i, 1));
		account = jv_object_set(account, jv_string("brand_name"),
		    nullable_string(res, i, 2));
		jv_dumpf(account, stdout, 0);
		putchar('\n');
	}
	PQclear(res);
	PQfinish(conn);
	finish_stdout();
	return rc;
}

static int
cmd_account(int argc, char **argv)
{
	if (argc < 2) {
		warnx("account needs a subcommand: add or list");
		usage();
	}
	if (strcmp(argv[1], "add") == 0)
		return account_add(argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return account_list(argc - 1, argv + 1);
	warnx("unknown account subcommand \"%s\": expected add or list",
	    argv[1]);
	usage();
	return EX_USAGE;
}

/*
 * Parse "--account NAME --role ROLE", both required, for grant and
 * revoke.
 */
static void
parse_grant(int argc, char **argv, const char **account, const char **role)
{
	static const struct option longopts[] = {
		{ "account", required_argument, NULL, 'a' },
		{ "role", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*account = NULL;
	*role = NULL;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch == 'a')
			*account = optarg;
		else if (ch == 'r')
			*role = optarg;
		else
			usage();
	}
	if (optind < argc) {
		warnx("%s takes no arguments, not \"%s\"", argv[0],
		    argv[optind]);
		usage();
	}
	if (*account == NULL || **account == '\0' || *role == NULL ||
	    **role == '\0') {
		warnx("%s needs --account NAME and --role ROLE", argv[0]);
		usage();
	}
}

/* Report a failed grant or revoke of ROLE on ACCOUNT. */
static int
report_grant_error(PGconn *conn, PGresult *res, const char *what,
    const char *account)
{
	const char *state, *msg;

	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (state != NULL && strcmp(state, "P0002") == 0) {
		warnx("account \"%s\" not found; see convo-db account list",
		    account);
		return EX_CONFIG;
	}
	if (state != NULL && strcmp(state, "22023") == 0 && msg != NULL) {
		warnx("%s", msg);
		return EX_USAGE;
	}
	return db_report(conn, res, what);
}

static int
cmd_grant(int argc, char **argv)
{
	const char *params[2], *account, *role, *outcome;
	PGresult *res;
	PGconn *conn;
	int rc = 0;

	parse_grant(argc, argv, &account, &role);
	params[0] = account;
	params[1] = role;
	conn = db_connect(opt_db);
	res = PQexecParams(conn, "SELECT convo.account_grant($1, $2)", 2,
	    NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = report_grant_error(conn, res, "cannot grant the account",
		    account);
	} else {
		outcome = PQgetvalue(res, 0, 0);
		if (strcmp(outcome, "created") == 0)
			say("created role \"%s\" (NOLOGIN) and mapped it to "
			    "account \"%s\"", role, account);
		else if (strcmp(outcome, "mapped") == 0)
			say("mapped role \"%s\" to account \"%s\"", role,
			    account);
		else
			say("role \"%s\" was already mapped to account "
			    "\"%s\"; granted its privileges again", role,
			    account);
	}
	PQclear(res);
	PQfinish(conn);
	return rc;
}

static int
cmd_revoke(int argc, char **argv)
{
	const char *params[2], *account, *role;
	PGresult *res;
	PGconn *conn;
	int rc = 0;

	parse_grant(argc, argv, &account, &role);
	params[0] = account;
	params[1] = role;
	conn = db_connect(opt_db);
	res = PQexecParams(conn, "SELECT convo.account_revoke($1, $2)", 2,
	    NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = report_grant_error(conn, res, "cannot revoke the account",
		    account);
	else if (PQgetvalue(res, 0, 0)[0] == 't')
		say("removed the mapping of role \"%s\" to account \"%s\"",
		    role, account);
	else
		say("role \"%s\" is not mapped to account \"%s\"; nothing "
		    "to revoke", role, account);
	PQclear(res);
	PQfinish(conn);
	return rc;
}

/* Exit status of "verify" when a stored value differs from its recount. */
#define EXIT_MISMATCH 1

/* Mismatches of the accounts named $1 (every account when NULL). */
static const char verify_sql[] =
    "SELECT a.name, v.conversation_id, p.phone, v.channel, v.message_id, "
    "v.field, v.stored, v.expected "
    "FROM convo.accounts a CROSS JOIN LATERAL (SELECT * FROM "
    "convo.verify(a.account_id) UNION ALL SELECT * FROM "
    "convo.verify_message_keys(a.account_id)) v "
    "LEFT JOIN convo.profiles p ON p.account_id = a.account_id "
    "AND p.profile_id = v.profile_id "
    "WHERE $1::text IS NULL OR a.name = $1 "
    "ORDER BY a.name, p.phone, v.channel, v.field, v.message_id";

/*
 * What verify_sql checked: accounts, conversations, consent states and
 * messages.
 */
static const char verify_count_sql[] =
    "WITH a AS (SELECT account_id FROM convo.accounts x "
    "WHERE $1::text IS NULL OR x.name = $1) "
    "SELECT (SELECT count(*) FROM a), "
    "(SELECT count(*) FROM convo.conversations c "
    "WHERE c.account_id IN (SELECT account_id FROM a)), "
    "(SELECT count(*) FROM convo.consent s "
    "WHERE s.account_id IN (SELECT account_id FROM a)), "
    "(SELECT count(*) FROM convo.messages m "
    "WHERE m.account_id IN (SELECT account_id FROM a))";

/* Column COL of ROW as a JSON value: parsed jsonb, or null. */
static jv
json_column(PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return jv_null();
	return jv_parse(PQgetvalue(res, row, col));
}

/* Column COL of ROW with PREFIX before it ("c_12"), or null. */
static jv
id_column(PGresult *res, int row, int col, const char *prefix)
{
	if (PQgetisnull(res, row, col))
		return jv_null();
	return jv_string_fmt("%s%s", prefix, PQgetvalue(res, row, col));
}

/* Print row ROW of a verify_sql result as a "mismatch" record. */
static void
print_mismatch(PGresult *res, int row)
{
	jv r = jv_object_set(jv_object(), jv_string("type"),
	    jv_string("mismatch"));

	r = jv_object_set(r, jv_string("account"),
	    nullable_string(res, row, 0));
	r = jv_object_set(r, jv_string("conversation_id"),
	    id_column(res, row, 1, "c_"));
	r = jv_object_set(r, jv_string("phone"), nullable_string(res, row, 2));
	r = jv_object_set(r, jv_string("channel"),
	    nullable_string(res, row, 3));
	if (!PQgetisnull(res, row, 4))
		r = jv_object_set(r, jv_string("message_id"),
		    id_column(res, row, 4, "m_"));
	r = jv_object_set(r, jv_string("field"), nullable_string(res, row, 5));
	r = jv_object_set(r, jv_string("stored"), json_column(res, row, 6));
	r = jv_object_set(r, jv_string("expected"), json_column(res, row, 7));
	jv_dumpf(r, stdout, 0);
	putchar('\n');
}

static const char *
parse_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "account", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	const char *account = NULL;
	int ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "a:", longopts, NULL)) != -1) {
		if (ch == 'a')
			account = optarg;
		else
			usage();
	}
	if (optind < argc) {
		warnx("verify takes no arguments, not \"%s\"", argv[optind]);
		usage();
	}
	return account;
}

/*
 * Recount every conversation summary, consent state and message status
 * in one snapshot and print each stored value that differs. Returns 0
 * when all agree, EXIT_MISMATCH when some differ.
 */
static int
cmd_verify(int argc, char **argv)
{
	const char *account = parse_verify(argc, argv);
	const char *params[1] = { account };
	PGresult *res, *counts;
	PGconn *conn;
	int i, n;

	conn = db_connect(opt_db);
	res = PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		exit(db_report(conn, res, "cannot start the recount"));
	PQclear(res);
	counts = PQexecParams(conn, verify_count_sql, 1, NULL, params, NULL,
	    NULL, 0);
	if (PQresultStatus(counts) != PGRES_TUPLES_OK)
		exit(db_report(conn, counts, "cannot count conversations"));
	if (account != NULL && atoll(PQgetvalue(counts, 0, 0)) == 0)
		errx(EX_CONFIG, "account \"%s\" not found; see convo-db "
		    "account list", account);
	res = PQexecParams(conn, verify_sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		exit(db_report(conn, res, "cannot recount the summaries"));
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		print_mismatch(res, i);
	say("verified %s conversations, %s consent states and %s messages "
	    "in %s %s: %d %s", PQgetvalue(counts, 0, 1),
	    PQgetvalue(counts, 0, 2), PQgetvalue(counts, 0, 3),
	    PQgetvalue(counts, 0, 0),
	    strcmp(PQgetvalue(counts, 0, 0), "1") == 0 ? "account" :
	    "accounts", n, n == 1 ? "mismatch" : "mismatches");
	PQclear(res);
	PQclear(counts);
	PQfinish(conn);
	finish_stdout();
	return n > 0 ? EXIT_MISMATCH : 0;
}

/* Months of partitions that maintain creates after the current one. */
#define AHEAD_DEFAULT 3

static int
parse_ahead(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ahead", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *bad;
	int ch, ahead = AHEAD_DEFAULT;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
		if (ch != 'n')
			usage();
		ahead = (int)strtonum(optarg, 0, 120, &bad);
		if (bad != NULL || optarg[strspn(optarg, "0123456789")] != '\0')
			errx(EX_USAGE, "--ahead: months must be a number from 0 "
			    "to 120, not \"%s\"", optarg);
	}
	if (optind < argc) {
		warnx("maintain takes no arguments, not \"%s\"",
		    argv[optind]);
		usage();
	}
	return ahead;
}

/*
 * Create the partitions of the coming months and move rows waiting in a
 * default partition into partitions of their own. Safe to run from cron
 * at any time: a run that has nothing to do changes nothing.
 */
static int
cmd_maintain(int argc, char **argv)
{
	int ahead = parse_ahead(argc, argv);
	PGconn *conn = db_connect(opt_db);
	int created = 0, rc;

	rc = partition_maintain(conn, ahead, stdout, &created);
	PQfinish(conn);
	finish_stdout();
	if (rc == 0)
		say("created %d %s", created,
		    created == 1 ? "partition" : "partitions");
	return rc;
}

/*
 * Archive the partitions of the months before --before to files in
 * --dir (the current directory unless given), then drop them.
 */
static int
cmd_archive(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "before", required_argument, NULL, 'b' },
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *before = NULL, *dir = ".";
	struct stat st;
	char day[11];
	PGconn *conn;
	int ch, archived, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "b:d:", longopts, NULL)) != -1) {
		if (ch == 'b')
			before = optarg;
		else if (ch == 'd')
			dir = optarg;
		else
			usage();
	}
	if (optind < argc) {
		warnx("archive takes no arguments, not \"%s\"", argv[optind]);
		usage();
	}
	if (before == NULL)
		errx(EX_USAGE, "archive needs --before YYYY-MM, the first "
		    "month to keep");
	if (partition_parse_month(before, day) == -1)
		errx(EX_USAGE, "--before: expected a month as YYYY-MM, not "
		    "\"%s\"", before);
	if (stat(dir, &st) == -1) {
		if (errno == ENOENT)
			errx(EX_CANTCREAT, "--dir: %s does not exist. Create it "
			    "with mkdir -p %s", dir, dir);
		err(EX_CANTCREAT, "--dir: %s", dir);
	}
	if (!S_ISDIR(st.st_mode))
		errx(EX_USAGE, "--dir: %s is not a directory", dir);
	if (access(dir, W_OK | X_OK) == -1)
		err(EX_CANTCREAT, "--dir: %s", dir);
	conn = db_connect(opt_db);
	rc = partition_archive(conn, day, dir, stdout, &archived);
	PQfinish(conn);
	finish_stdout();
	if (rc == 0 || archived > 0)
		say("archived %d %s before %s", archived,
		    archived == 1 ? "partition" : "partitions", before);
	return rc;
}

static const struct command {
	const char *name;
	int (*run)(int, char **);
} commands[] = {
	{ "init", cmd_init },
	{ "start", cmd_start },
	{ "stop", cmd_stop },
	{ "status", cmd_status },
	{ "migrate", cmd_migrate },
	{ "psql", cmd_psql },
	{ "env", cmd_env },
	{ "account", cmd_account },
	{ "grant", cmd_grant },
	{ "revoke", cmd_revoke },
	{ "verify", cmd_verify },
	{ "maintain", cmd_maintain },
	{ "archive", cmd_archive },
	{ NULL, NULL },
};

/* Values of option arguments and operands for the shell completions. */
static const char *
complete_value(int option, int argc, char **argv)
{
	const struct command *c;
	static char names[256];

	if (option != 0)
		return NULL;
	if (argc == 0) {
		names[0] = '\0';
		for (c = commands; c->name != NULL; c++)
			snprintf(names + strlen(names), sizeof(names) -
			    strlen(names), "%s ", c->name);
		return names;
	}
	if (argc == 1 && strcmp(argv[0], "account") == 0)
		return "add list";
	if (strcmp(argv[0], "archive") == 0)
		return strcmp(argv[argc - 1], "--dir") == 0 ? "@directory" :
		    "--before --dir";
	if (strcmp(argv[0], "maintain") == 0)
		return "--ahead";
	if (strcmp(argv[0], "verify") == 0)
		return "--account";
	if (strcmp(argv[0], "grant") == 0 || strcmp(argv[0], "revoke") == 0)
		return "--account --role";
	return NULL;
}

/* Parse the options before the command and return its index in ARGV. */
static int
parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		CLI_COMPLETE_OPTION,
		{ NULL, 0, NULL, 0 },
	};
	/* "+" stops at the command, so its own options reach it intact. */
	static const struct cli_program prog = {
		"+hqvV", longopts, complete_value,
	};
	int ch;

	while ((ch = getopt_long(argc, argv, prog.shortopts, longopts,
	    NULL)) != -1) {
		switch (ch) {
		case CLI_OPT_COMPLETE:
			cli_complete(&prog, optarg, argc - optind, argv + optind);
		case 'd':
			opt_db = cli_conninfo_option(optarg);
			break;
		case 'q':
			opt_quiet = 1;
			cli_verbosity = CLI_QUIET;
			break;
		case 'v':
			opt_verbose = 1;
			cli_verbosity = CLI_VERBOSE;
			break;
		case 'h':
			help();
			break;
		case 'V':
			db_print_version();
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	return optind;
}

int
main(int argc, char **argv)
{
	const struct command *c;
	int first, i, status;

	first = parse_options(argc, argv);
	/*
	 * "convo-db archive --help" shows the help of every command; psql
	 * passes its arguments on.
	 */
	for (i = first + 1; i < argc && strcmp(argv[first], "psql") != 0 &&
	    strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0)
			help();
	for (c = commands; c->name != NULL; c++)
		if (strcmp(c->name, argv[first]) == 0) {
			status = c->run(argc - first, argv + first);
			cli_phase(c->name);
			return status;
		}
	warnx("unknown command \"%s\"", argv[first]);
	usage();
	return EX_USAGE;
}
