#include <ctype.h>
#include <err.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "buf.h"
#include "cli.h"
#include "convo.h"
#include "db.h"
#include "localdb.h"
#include "match.h"

/* Conversations offered by completion, newest first. */
#define COMPLETE_CONVERSATIONS_MAX 100

int cli_verbosity = CLI_NORMAL;

static struct timespec phase_start;

/* The clock of the first phase starts with the program. */
__attribute__((constructor)) static void
start_clock(void)
{
	clock_gettime(CLOCK_MONOTONIC, &phase_start);
}

static void
vsay(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", getprogname());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
cli_info(const char *fmt, ...)
{
	va_list ap;

	if (cli_verbosity <= CLI_QUIET)
		return;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

void
cli_verbose(const char *fmt, ...)
{
	va_list ap;

	if (cli_verbosity < CLI_VERBOSE)
		return;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

void
cli_phase(const char *phase)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - phase_start.tv_sec) * 1000LL +
	    (now.tv_nsec - phase_start.tv_nsec) / 1000000;
	phase_start = now;
	cli_verbose("%s: %lld ms", phase, ms);
}

/* Words typed on the command line, parsed with the program's options. */
struct typed {
	const char *db;
	const char *account;
	int argc;		/* operands */
	char **argv;
};

/* Return the getopt value of the long option NAME, or -1. */
static int
option_value(const struct option *options, const char *name)
{
	for (; options->name != NULL; options++)
		if (strcmp(options->name, name) == 0)
			return options->val;
	return -1;
}

/*
 * Parse WORDS with the options of PROG into T, quietly: the words are
 * what a user typed so far, so they may be incomplete or wrong. T's
 * operands point into a copy that lives until the program exits.
 */
static void
parse_typed(const struct cli_program *prog, int nwords, char **words,
    struct typed *t)
{
	char **argv = xmalloc((nwords + 2) * sizeof(*argv));
	int db = option_value(prog->options, "db");
	int account = option_value(prog->options, "account");
	int c, i;

	argv[0] = (char *)getprogname();
	for (i = 0; i < nwords; i++)
		argv[i + 1] = words[i];
	argv[nwords + 1] = NULL;
	memset(t, 0, sizeof(*t));
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(nwords + 1, argv, prog->shortopts,
	    prog->options, NULL)) != -1) {
		if (c == db && optarg != NULL)
			t->db = cli_conninfo_option(optarg);
		else if (c == account && optarg != NULL)
			t->account = optarg;
	}
	t->argc = nwords + 1 - optind;
	t->argv = argv + optind;
}

/*
 * Find the option that WHAT names and return its getopt value when it
 * takes an argument, else -1. A cluster such as "-jn" names its last
 * letter.
 */
static int
option_with_argument(const struct cli_program *prog, const char *what)
{
	const struct option *o;
	const char *p;

	if (strncmp(what, "--", 2) == 0) {
		for (o = prog->options; o->name != NULL; o++)
			if (strcmp(o->name, what + 2) == 0)
				return o->has_arg == required_argument ?
				    o->val : -1;
		return -1;
	}
	if (what[0] != '-' || what[1] == '\0' || what[1] == ':')
		return -1;
	p = strchr(prog->shortopts, what[strlen(what) - 1]);
	return p != NULL && p[1] == ':' ? *p : -1;
}

/*
 * Print the rows of SQL, run with the N parameters PARAMS, as "value" or
 * "value<TAB>description" lines.
 */
static void
print_rows(PGconn *conn, const char *sql, int n, const char *const *params,
    int (*skip)(const char *value))
{
	PGresult *res;
	int i;

	res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	for (i = 0; PQresultStatus(res) == PGRES_TUPLES_OK &&
	    i < PQntuples(res); i++) {
		if (skip != NULL && skip(PQgetvalue(res, i, 0)))
			continue;
		if (PQnfields(res) > 1 && !PQgetisnull(res, i, 1))
			printf("%s\t%s\n", PQgetvalue(res, i, 0),
			    PQgetvalue(res, i, 1));
		else
			printf("%s\n", PQgetvalue(res, i, 0));
	}
	PQclear(res);
}

/* Return 1 for a keyword that no account may remove. */
static int
keyword_fixed(const char *word)
{
	const struct keyword_standard *s = keyword_standard_find(word);

	return s != NULL && s->fixed;
}

/*
 * Connect for completion, or return NULL: when no connection is
 * configured, only to a local database that runs already.
 */
static PGconn *
complete_connect(const char *db)
{
	struct localdb local;
	char msg[1024];

	if (db_uses_local(db) && (localdb_locate(&local, msg,
	    sizeof(msg)) != 0 || localdb_running(&local) != 1))
		return NULL;
	/* A shell waits for completion: give up on a slow server. */
	setenv("PGCONNECT_TIMEOUT", "2", 0);
	return db_connect_raw(db);
}

/*
 * Copy the id of account NAME to ID. Returns 0, or -1 when there is no
 * such account or the query failed.
 */
static int
lookup_account(PGconn *conn, const char *name, char id[32])
{
	const char *params[1] = { name };
	PGresult *res;
	int found;

	res = PQexecParams(conn, "SELECT account_id FROM convo.accounts "
	    "WHERE name = $1", 1, NULL, params, NULL, NULL, 0);
	found = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	if (found)
		snprintf(id, 32, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return found ? 0 : -1;
}

/*
 * The queries of one account's keywords and conversations filter by its
 * id, not by a join on its name, so that on a cluster distributed by
 * account_id they run on one node.
 */
static void
print_from_database(const char *kind, const struct typed *t)
{
	char sql[1024], id[32], *standard;
	const char *params[2] = { id };
	PGconn *conn = complete_connect(t->db);

	if (conn == NULL)
		return;
	if (strcmp(kind, CLI_ACCOUNT) == 0) {
		print_rows(conn, "SELECT name, brand_name FROM convo.accounts "
		    "ORDER BY name", 0, NULL, NULL);
	} else if (lookup_account(conn, convo_account(t->account), id) != 0) {
		/* An unknown account completes to nothing. */
	} else if (strcmp(kind, CLI_KEYWORD) == 0) {
		print_rows(conn, "SELECT k.word, k.action FROM convo.keywords k "
		    "WHERE k.account_id = $1 ORDER BY k.word", 1, params,
		    keyword_fixed);
	} else if (strcmp(kind, CLI_PACK_KEYWORD) == 0) {
		/* The words that convo-keywords reset WORD restores. */
		standard = keyword_standard_array();
		params[1] = standard;
		print_rows(conn, "SELECT DISTINCT ON (p.word) p.word, p.action "
		    "FROM convo.keyword_packs p JOIN convo.accounts a "
		    "ON a.account_id = $1 WHERE p.lang = ANY (a.languages) "
		    "OR (p.lang = 'en' AND p.word = ANY ($2::text[])) "
		    "ORDER BY p.word, p.lang <> ALL (a.languages), "
		    "p.lang <> 'en', p.lang", 2, params, NULL);
		free(standard);
	} else if (strcmp(kind, CLI_CONVERSATION) == 0) {
		snprintf(sql, sizeof(sql), "SELECT 'c_' || c.conversation_id, "
		    "concat_ws(' ', nullif(concat_ws(' ', p.first_name, "
		    "p.last_name), ''), p.phone) "
		    "FROM convo.conversations c JOIN convo.profiles p "
		    "ON p.account_id = c.account_id "
		    "AND p.profile_id = c.profile_id WHERE c.account_id = $1 "
		    "ORDER BY c.last_at DESC, c.conversation_id DESC LIMIT %d",
		    COMPLETE_CONVERSATIONS_MAX);
		print_rows(conn, sql, 1, params, NULL);
	}
	PQfinish(conn);
}

/* Print VALUES: a CLI_* kind, or words separated by spaces. */
static void
print_values(const char *values, const struct typed *t)
{
	size_t n;

	if (strcmp(values, CLI_FILE) == 0 ||
	    strcmp(values, CLI_DIRECTORY) == 0) {
		printf("%s\n", values);
		return;
	}
	if (values[0] == '@') {
		print_from_database(values, t);
		return;
	}
	while (*values != '\0') {
		n = strcspn(values, " ");
		if (n > 0)
			printf("%.*s\n", (int)n, values);
		values += n + strspn(values + n, " ");
	}
}

void
cli_complete(const struct cli_program *prog, const char *what, int argc,
    char **argv)
{
	struct typed t;
	const char *values;
	int option = 0, fd;

	/* Messages would land in the middle of the user's command line. */
	if ((fd = open("/dev/null", O_WRONLY)) >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	if (argc > 0 && strcmp(argv[0], "--") == 0) {
		argc--;
		argv++;
	}
	if (*what != '\0' && (option = option_with_argument(prog, what)) < 0)
		exit(1);
	parse_typed(prog, argc, argv, &t);
	values = prog->complete != NULL ?
	    prog->complete(option, t.argc, t.argv) : NULL;
	if (values != NULL)
		print_values(values, &t);
	if (fflush(stdout) != 0 || ferror(stdout))
		exit(EX_IOERR);
	exit(0);
}

void
cli_reject_operands(int first, int argc, char **argv, void (*usage)(void))
{
	if (first >= argc)
		return;
	warnx("unexpected argument \"%s\": %s takes options only",
	    argv[first], getprogname());
	usage();
	exit(EX_USAGE);
}

long long
cli_number(const char *arg, long long min, long long max,
    const char **errstr)
{
	const char *digits = arg[0] == '-' ? arg + 1 : arg;

	if (!isdigit((unsigned char)digits[0])) {
		*errstr = "invalid";
		return 0;
	}
	return strtonum(arg, min, max, errstr);
}

const char *
cli_printable(const char *s, char *out, size_t n)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < n; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' :
		    s[i];
	out[i] = '\0';
	return out;
}

const char *
cli_conninfo_option(char *arg)
{
	/* The copy lives until the program exits; a later --db replaces it. */
	static char *copy;
	PQconninfoOption *options, *o;
	int secret = 0;

	options = PQconninfoParse(arg, NULL);
	for (o = options; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
		    *o->val != '\0')
			secret = 1;
	PQconninfoFree(options);
	if (!secret)
		return arg;
	free(copy);
	copy = xstrdup(arg);
	memset(arg, 'x', strlen(arg));
	warnx("warning: the password in --db could be read in the process "
	    "list until it was hidden; put it in ~/.pgpass or PGPASSFILE");
	return copy;
}

void
cli_check_name(const char *what, const char *name)
{
	char quoted[80];
	const char *p;
	int visible = 0;

	for (p = name; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			errx(EX_USAGE, "invalid %s \"%s\": expected a name "
			    "without control characters", what,
			    cli_printable(name, quoted, sizeof(quoted)));
		if (*p != ' ')
			visible = 1;
	}
	if (!visible)
		errx(EX_USAGE, "invalid %s \"%s\": expected a name", what,
		    name);
}

const char *
cli_login_name(void)
{
	const char *name = getlogin();
	struct passwd *pw;

	if (name == NULL || *name == '\0')
		name = getenv("USER");
	if ((name == NULL || *name == '\0') &&
	    (pw = getpwuid(getuid())) != NULL)
		name = pw->pw_name;
	return name != NULL && *name != '\0' ? name : NULL;
}

const char *
cli_operator(const char *given)
{
	const char *name = given != NULL ? given : cli_login_name();

	if (name == NULL)
		errx(EX_USAGE, "cannot determine the login name: give "
		    "--operator NAME");
	return name;
}
