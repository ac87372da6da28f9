/*
 * Conventions that every convo program shares on the command line: the
 * verbosity of -q and -v, log lines on standard error, and the hidden
 * --complete option that the shell completions call.
 */
#ifndef CONVO_CLI_H
#define CONVO_CLI_H

#include <getopt.h>

/* Verbosity: -q makes it CLI_QUIET, -v CLI_VERBOSE. */
enum { CLI_QUIET = -1, CLI_NORMAL = 0, CLI_VERBOSE = 1 };
extern int cli_verbosity;

/*
 * Parse ARG as a decimal integer from MIN to MAX, as strtonum() does, but
 * without the leading spaces and plus sign that it lets through. Sets
 * *ERRSTR to "invalid", "too small" or "too large", or to NULL.
 */
long long cli_number(const char *arg, long long min, long long max,
    const char **errstr);

/*
 * Reject the operands of a program that takes options only. When ARGV
 * has any from index FIRST on, print the first of them as an unexpected
 * argument, then call USAGE, which must print the usage and exit 64.
 */
void cli_reject_operands(int first, int argc, char **argv,
    void (*usage)(void));

/*
 * Copy the name S, such as a file's, into OUT of N bytes for a message,
 * with each control character as '?', so that a name cannot fake a log
 * line or send a terminal escape. Returns OUT.
 */
const char *cli_printable(const char *s, char *out, size_t n);

/*
 * Return the value ARG of --db for use. When it contains a password, return
 * a copy and overwrite ARG, which stays in the process list, with x's,
 * with a warning that the password was visible until then.
 */
const char *cli_conninfo_option(char *arg);

/*
 * Exit with a usage error unless NAME, the value of an operator or an
 * assignee (WHAT), shows a character and contains no control character.
 */
void cli_check_name(const char *what, const char *name);

/*
 * Return the login name from getlogin(), $USER or the password database,
 * or NULL when none is known.
 */
const char *cli_login_name(void);

/*
 * Return the operator who makes the changes: GIVEN, checked with
 * cli_check_name() by the caller, else the login name from getlogin(),
 * $USER or the password database. Exits when there is none.
 */
const char *cli_operator(const char *given);

/* Print "PROGNAME: message" on standard error unless -q was given. */
void cli_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "PROGNAME: message" on standard error only under -v. */
void cli_verbose(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * Under -v, print "PROGNAME: PHASE: N ms", the milliseconds since the
 * previous call, or since the program started for the first call.
 */
void cli_phase(const char *phase);

/* Value of the --complete option in each program's option table. */
#define CLI_OPT_COMPLETE 0x7f00

/* Option table entry of --complete, which --help does not list. */
#define CLI_COMPLETE_OPTION \
	{ "complete", required_argument, NULL, CLI_OPT_COMPLETE }

/*
 * Kinds of values that a completer may return in place of a list of
 * words: file or directory names, which the shell completes itself,
 * and names read from the database.
 */
#define CLI_FILE		"@file"
#define CLI_DIRECTORY		"@directory"
#define CLI_ACCOUNT		"@account"
#define CLI_CONVERSATION	"@conversation"
#define CLI_KEYWORD		"@keyword"
#define CLI_PACK_KEYWORD	"@pack_keyword"

/*
 * What a program completes: the values of the argument of OPTION (a
 * getopt value), or with OPTION 0 the next operand after the ARGC
 * operands in ARGV. Returns words separated by spaces, one of the
 * CLI_* kinds, or NULL when there is nothing to offer.
 */
typedef const char *cli_completer(int option, int argc, char **argv);

struct cli_program {
	const char *shortopts;
	const struct option *options;
	cli_completer *complete;
};

/*
 * Run --complete WHAT and exit. WHAT is an option ("--status", "-s"):
 * print the values its argument may take, one per line, and exit 0, or
 * exit 1 when the option takes no argument. An empty WHAT completes an
 * operand: ARGV (after an optional "--") contains the words typed
 * before it, which are parsed with the program's options to find the
 * operands given so far. Lines are "value" or "value<TAB>description"; the line
 * "@file" or "@directory" asks the shell to complete names itself.
 * Names from the database come only from a server that runs already:
 * completion never creates or starts the local database.
 */
void cli_complete(const struct cli_program *prog, const char *what,
    int argc, char **argv) __attribute__((noreturn));

#endif
