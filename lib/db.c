#include <dlfcn.h>
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <curl/curl.h>

#include "cli.h"
#include "convo.h"
#include "db.h"
#include "localdb.h"
#include "match.h"
#include "migrate.h"

/* libpq variables that name a server; any of them disables the local one. */
static const char *const pg_variables[] = {
	"PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER",
	"PGSERVICE", NULL,
};

int
db_uses_local(const char *conninfo)
{
	const char *const *v;
	const char *env;

	if (conninfo != NULL)
		return 0;
	env = getenv("CONVO_DB");
	if (env != NULL && *env != '\0')
		return 0;
	for (v = pg_variables; *v != NULL; v++) {
		env = getenv(*v);
		if (env != NULL && *env != '\0')
			return 0;
	}
	return 1;
}

/* Server notices are for operators of the server, not of convo. */
static void
notice_processor(void *arg, const char *message)
{
	(void)arg;
	if (strncmp(message, "WARNING", 7) == 0)
		warnx("server: %.*s", (int)strcspn(message, "\n"), message);
}

/*
 * Set the session time zone to UTC, in which times are written, unless
 * the server reported a UTC zone already. This is a SET and not the
 * "options" startup parameter, because PgBouncer before 1.20 rejects
 * that parameter. PgBouncer tracks TimeZone per client and sets it on
 * each server connection the client gets in transaction pooling.
 * Returns 0, or -1 after a message.
 */
static int
set_utc(PGconn *conn)
{
	const char *zone = PQparameterStatus(conn, "TimeZone");
	PGresult *res;
	int ok;

	if (zone != NULL && (strcmp(zone, "UTC") == 0 ||
	    strcmp(zone, "Etc/UTC") == 0))
		return 0;
	res = PQexec(conn, "SET TimeZone = 'UTC'");
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		db_report(conn, res, "cannot set the time zone to UTC");
	PQclear(res);
	return ok ? 0 : -1;
}

/* Return 1 when TEXT lists ports from 1 to 65535, such as "5432,5433". */
static int
valid_ports(const char *text)
{
	const char *p = text;
	long port;
	char *end;

	for (;;) {
		if (*p < '0' || *p > '9')
			return 0;
		port = strtol(p, &end, 10);
		if (port < 1 || port > 65535)
			return 0;
		if (*end == '\0')
			return 1;
		if (*end != ',')
			return 0;
		p = end + 1;
	}
}

/*
 * Exit with EX_CONFIG when a value that libpq checks only when it
 * connects is invalid, so that a caller does not wait to retry it.
 */
static void
check_options(const PQconninfoOption *opts)
{
	static const char *const modes[] = { "disable", "allow", "prefer",
	    "require", "verify-ca", "verify-full", NULL };
	const PQconninfoOption *o;
	int i;

	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || *o->val == '\0')
			continue;
		if (strcmp(o->keyword, "port") == 0 && !valid_ports(o->val))
			errx(EX_CONFIG, "invalid port \"%.16s\" in the database "
			    "connection string: expected 1 to 65535", o->val);
		if (strcmp(o->keyword, "sslmode") != 0)
			continue;
		for (i = 0; modes[i] != NULL; i++)
			if (strcmp(o->val, modes[i]) == 0)
				break;
		if (modes[i] == NULL)
			errx(EX_CONFIG, "invalid sslmode \"%.16s\" in the "
			    "database connection string: expected disable, "
			    "allow, prefer, require, verify-ca or verify-full",
			    o->val);
	}
}

/*
 * Exit with EX_CONFIG when CONNINFO is a malformed connection string
 * rather than a database name. libpq's reason may quote a piece of a
 * password, so it is shown only for a string that names none.
 */
static void
check_conninfo(const char *conninfo)
{
	PQconninfoOption *opts;
	char *parse_error = NULL, reason[256];

	if (strchr(conninfo, '=') == NULL &&
	    strncmp(conninfo, "postgresql://", 13) != 0 &&
	    strncmp(conninfo, "postgres://", 11) != 0)
		return;
	if ((opts = PQconninfoParse(conninfo, &parse_error)) != NULL) {
		check_options(opts);
		PQconninfoFree(opts);
		return;
	}
	snprintf(reason, sizeof(reason), "%.*s", parse_error != NULL ?
	    (int)strcspn(parse_error, "\n") : 0,
	    parse_error != NULL ? parse_error : "");
	PQfreemem(parse_error);
	if (reason[0] == '\0' || strstr(conninfo, "password") != NULL ||
	    strchr(conninfo, '@') != NULL)
		errx(EX_CONFIG, "invalid database connection string: expected "
		    "key=value pairs such as \"host=/run/postgresql "
		    "dbname=convo\" or a postgresql:// URI");
	errx(EX_CONFIG, "invalid database connection string (%s): expected "
	    "key=value pairs such as \"host=/run/postgresql dbname=convo\" "
	    "or a postgresql:// URI", reason);
}

/*
 * Return 1 when MSG, libpq's reason for a failed connection, names an
 * invalid option of the connection string. libpq checks these only when
 * it connects: sslmode, gssencmode and target_session_attrs values, the
 * counts of ports and host addresses, and the service name. The
 * programs call no setlocale(), so libpq writes these in English.
 */
static int
option_error(const char *msg)
{
	return (strncmp(msg, "invalid ", 8) == 0 &&
	    strstr(msg, " value: ") != NULL) ||
	    strncmp(msg, "could not match ", 16) == 0 ||
	    strncmp(msg, "definition of service ", 22) == 0;
}

static PGconn *
open_conninfo(const char *conninfo)
{
	const char *keys[] = { "dbname", "fallback_application_name", NULL };
	const char *values[] = { conninfo, getprogname(), NULL };
	PGconn *conn;

	check_conninfo(conninfo);
	conn = PQconnectdbParams(keys, values, 1);
	if (PQstatus(conn) != CONNECTION_OK) {
		char msg[1024];
		int bad_option;

		/* The connection is freed before exiting on a bad option. */
		strlcpy(msg, PQerrorMessage(conn), sizeof(msg));
		msg[strcspn(msg, "\n")] = '\0';
		bad_option = option_error(msg);
		PQfinish(conn);
		if (bad_option)
			errx(EX_CONFIG, "invalid database connection string: "
			    "%s", msg);
		warnx("cannot connect to the database: %s", msg);
		return NULL;
	}
	PQsetNoticeProcessor(conn, notice_processor, NULL);
	if (set_utc(conn) != 0) {
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Connect to the local cluster, creating and starting it if needed. */
static PGconn *
open_local(void)
{
	struct localdb local;
	char conninfo[8192], msg[1024];

	if (localdb_ensure(&local, conninfo, sizeof(conninfo), msg,
	    sizeof(msg)) != 0)
		errx(EX_UNAVAILABLE, "local database: %s", msg);
	return open_conninfo(conninfo);
}

PGconn *
db_connect_raw(const char *conninfo)
{
	const char *env = getenv("CONVO_DB");

	if (conninfo != NULL)
		return open_conninfo(conninfo);
	if (env != NULL && *env != '\0')
		return open_conninfo(env);
	if (!db_uses_local(NULL))
		return open_conninfo("");
	return open_local();
}

/* Return 1 when the connected role may not use schema convo. */
static int
schema_denied(PGconn *conn)
{
	PGresult *res;
	int denied;

	res = PQexec(conn, "SELECT NOT has_schema_privilege('convo', 'USAGE')");
	denied = PQresultStatus(res) == PGRES_TUPLES_OK &&
	    PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return denied;
}

static void
check_schema(PGconn *conn, int local)
{
	int current = migrate_current(conn), latest = migrate_latest();

	if (latest <= 0)
		errx(EX_CONFIG, "no migrations found in \"%s/migrations\"; set "
		    "CONVO_SHARE to the directory that holds them", share_dir());
	if (current < 0 && schema_denied(conn))
		errx(EX_CONFIG, "database role \"%s\" has no access to schema "
		    "convo; the owner of the schema grants it with convo-db "
		    "grant", PQuser(conn));
	if (current < 0)
		exit(db_report(conn, NULL, "cannot read the schema version"));
	if (current < latest && local) {
		if (migrate_apply(conn, 0) != 0)
			exit(EX_UNAVAILABLE);
		return;
	}
	if (current < latest)
		errx(EX_CONFIG, "database schema is at version %d but convo "
		    "needs %d; run convo-db migrate", current, latest);
	if (current > latest)
		errx(EX_CONFIG, "database schema version %d is newer than this "
		    "convo %s knows (%d); upgrade convo", current,
		    CONVO_VERSION, latest);
}

PGconn *
db_connect(const char *conninfo)
{
	PGconn *conn = db_connect_raw(conninfo);

	if (conn == NULL)
		exit(EX_UNAVAILABLE);
	check_schema(conn, db_uses_local(conninfo));
	cli_phase("connect");
	return conn;
}

/* Exit with the message for an account that is not found. */
static void
account_not_found(const char *name)
{
	errx(EX_CONFIG, "account \"%s\" not found, or not granted "
	    "to this database role; see convo-db account list, or "
	    "create it with convo-db account add", name);
}

PGconn *
db_connect_account(const char *conninfo, const char *name,
    long long *account_id, char country[8])
{
	const char *params[1] = { name };
	PGconn *conn = db_connect_raw(conninfo);
	PGresult *res;
	int latest = migrate_latest(), current = -1;

	if (conn == NULL)
		exit(EX_UNAVAILABLE);
	/*
	 * The schema version and the account in one round trip. Any other
	 * outcome than a current schema, including an error, goes through
	 * the checks of db_connect() and db_account(), which print the
	 * message of each case.
	 */
	res = PQexecParams(conn, "SELECT v.version, a.account_id, "
	    "a.default_country FROM (SELECT coalesce(max(version), 0) "
	    "AS version FROM convo.schema_version) v "
	    "LEFT JOIN convo.accounts a ON a.name = $1", 1, NULL, params,
	    NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		current = atoi(PQgetvalue(res, 0, 0));
	if (latest <= 0 || current != latest) {
		PQclear(res);
		check_schema(conn, db_uses_local(conninfo));
		cli_phase("connect");
		*account_id = db_account(conn, name, country);
		return conn;
	}
	cli_phase("connect");
	if (PQgetisnull(res, 0, 1))
		account_not_found(name);
	*account_id = atoll(PQgetvalue(res, 0, 1));
	snprintf(country, 8, "%s", PQgetvalue(res, 0, 2));
	PQclear(res);
	return conn;
}

long long
db_account(PGconn *conn, const char *name, char country[8])
{
	const char *params[1] = { name };
	PGresult *res;
	long long id;

	res = PQexecParams(conn, "SELECT account_id, default_country "
	    "FROM convo.accounts WHERE name = $1", 1, NULL, params, NULL, NULL,
	    0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		exit(db_report(conn, res, "cannot look up the account"));
	if (PQntuples(res) == 0)
		account_not_found(name);
	id = atoll(PQgetvalue(res, 0, 0));
	snprintf(country, 8, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	return id;
}

void
db_load_keywords(PGconn *conn, long long account_id,
    struct keyword_set *set)
{
	char id[32];
	const char *params[1] = { id };
	PGresult *res;
	int i, n;

	snprintf(id, sizeof(id), "%lld", account_id);
	res = PQexecParams(conn, "SELECT k.word, k.action, "
	    "k.only_unsubscribed, a.optout_mode = 'contains' "
	    "FROM convo.accounts a LEFT JOIN convo.keywords k "
	    "ON k.account_id = a.account_id WHERE a.account_id = $1",
	    1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		exit(db_report(conn, res, "cannot read the keywords"));
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		set->contains = PQgetvalue(res, i, 3)[0] == 't';
		if (PQgetisnull(res, i, 0))
			continue;
		keyword_set_add(set, PQgetvalue(res, i, 0),
		    keyword_action_parse(PQgetvalue(res, i, 1)),
		    PQgetvalue(res, i, 2)[0] == 't');
	}
	PQclear(res);
}

/*
 * Print the version of the libcurl that convo-send would load. Programs
 * that send no HTTP requests are linked without libcurl, because loading
 * it and its dependencies at start-up costs about a millisecond, so it
 * is loaded here by its soname, which has been libcurl.so.4 since 7.16.
 */
static void
print_curl_version(void)
{
	const curl_version_info_data *(*version_info)(CURLversion);
	const curl_version_info_data *curl;
	void *lib = dlopen("libcurl.so.4", RTLD_LAZY);

	if (lib == NULL) {
		printf("libcurl not found (%s)\n", dlerror());
		return;
	}
	*(void **)&version_info = dlsym(lib, "curl_version_info");
	if (version_info == NULL) {
		printf("libcurl version unknown (%s)\n", dlerror());
		return;
	}
	curl = version_info(CURLVERSION_NOW);
	printf("libcurl %s", curl->version);
	if (curl->ssl_version != NULL)
		printf(" (%s)", curl->ssl_version);
	putchar('\n');
}

void
db_print_version(void)
{
	int v = PQlibVersion();

	printf("%s %s\n", getprogname(), CONVO_VERSION);
	if (v >= 100000)
		printf("libpq %d.%d\n", v / 10000, v % 10000);
	else
		printf("libpq %d.%d.%d\n", v / 10000, v / 100 % 100, v % 100);
	print_curl_version();
#ifdef CONVO_JQ_VERSION
	printf("libjq %s (at build time)\n", CONVO_JQ_VERSION);
#else
	/* libjq 1.6 has no function that returns its version. */
	printf("libjq version unknown (libjq 1.6 cannot report it)\n");
#endif
	if (fflush(stdout) != 0 || ferror(stdout))
		exit(EX_IOERR);
	exit(0);
}

void
db_exec(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		exit(db_report(conn, res, "database statement failed"));
	PQclear(res);
}

static int
status_for_sqlstate(const char *state)
{
	static const char *const retry[] = {
		"40001", "40P01", "55P03", "57014", NULL,
	};
	const char *const *r;

	if (state == NULL)
		return EX_UNAVAILABLE;
	/* The role lacks a privilege or hit row-level security, or the
	 * schema was migrated past this program while it ran (CV001, raised
	 * by convo.check_client_schema). */
	if (strcmp(state, "42501") == 0 || strcmp(state, "CV001") == 0)
		return EX_CONFIG;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
	    strcmp(state, "25006") == 0 || strncmp(state, "53", 2) == 0)
		return EX_UNAVAILABLE;
	for (r = retry; *r != NULL; r++)
		if (strcmp(state, *r) == 0)
			return EX_TEMPFAIL;
	return EX_SOFTWARE;
}

/* What to do about an error of SQLSTATE STATE, or "" when nothing fits. */
static const char *
hint_for_sqlstate(const char *state, const char *msg)
{
	if (state == NULL)
		return "";
	if (strcmp(state, "25006") == 0)
		return "; the database accepts no writes (a standby, or "
		    "default_transaction_read_only is on)";
	if (strcmp(state, "57014") == 0 && strstr(msg, "timeout") != NULL)
		return "; retry, or raise statement_timeout for this database "
		    "or role";
	if (strcmp(state, "55P03") == 0)
		return "; another transaction holds the lock, so retry later";
	return "";
}

int
db_report(PGconn *conn, const PGresult *res, const char *what)
{
	const char *msg = NULL, *state = NULL;

	if (res != NULL) {
		msg = PQresultErrorMessage(res);
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	}
	if (msg == NULL || *msg == '\0')
		msg = PQerrorMessage(conn);
	if (strncmp(msg, "ERROR:  ", 8) == 0)
		msg += 8;
	warnx("%s: %.*s%s", what, (int)strcspn(msg, "\n"), msg,
	    hint_for_sqlstate(state, msg));
	if (PQstatus(conn) != CONNECTION_OK)
		return EX_UNAVAILABLE;
	return status_for_sqlstate(state);
}
