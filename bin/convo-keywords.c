/*
 * convo-keywords: list, change, test and check an account's keywords
 * and the account settings that keyword replies use.
 */
#include <ctype.h>
#include <err.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <jv.h>
#include <libpq-fe.h>
#include <utf8proc.h>

#include "buf.h"
#include "cli.h"
#include "convo.h"
#include "db.h"
#include "json.h"
#include "keyword.h"
#include "keywordtest.h"
#include "linereader.h"
#include "match.h"
#include "phone.h"
#include "record.h"
#include "segments.h"
#include "send.h"
#include "views.h"

/* Options that only some commands take; their values are bit numbers. */
enum {
	OPT_ACTION = 0x100, OPT_REPLY, OPT_LANG, OPT_ONLY_UNSUBSCRIBED,
	OPT_BRAND, OPT_HELP_CONTACT, OPT_FREQUENCY, OPT_COUNTRY,
	OPT_OPTOUT_MODE,
};

#define OPTION_BIT(opt)	(1u << ((opt) - OPT_ACTION))
#define ADD_OPTIONS	(OPTION_BIT(OPT_ACTION) | OPTION_BIT(OPT_REPLY) | \
    OPTION_BIT(OPT_LANG) | OPTION_BIT(OPT_ONLY_UNSUBSCRIBED))
#define SETTINGS_OPTIONS (OPTION_BIT(OPT_BRAND) | \
    OPTION_BIT(OPT_HELP_CONTACT) | OPTION_BIT(OPT_FREQUENCY) | \
    OPTION_BIT(OPT_COUNTRY) | OPTION_BIT(OPT_OPTOUT_MODE) | \
    OPTION_BIT(OPT_LANG))

/* Names of the command options, indexed by option value - OPT_ACTION. */
static const char *const option_names[] = {
	"--action", "--reply", "--lang", "--only-unsubscribed", "--brand",
	"--help-contact", "--frequency", "--country", "--optout-mode",
};

/* Keyword columns in the order keyword_record() reads them. */
#define KEYWORD_COLUMNS \
	"word, action, reply, lang, is_default, only_unsubscribed"

/* Keywords are listed by action in this order, then by word. */
#define KEYWORD_ORDER \
	"array_position(ARRAY['opt_out', 'opt_in', 'help', 'custom'], " \
	"action), word COLLATE \"C\""

/* Line errors printed before the rest are only counted. */
#define ERRORS_SHOWN_MAX 100

/* Bytes of a user's value that error messages quote. */
#define QUOTE_MAX 64

struct context {
	const char *db;
	const char *account;
	PGconn *conn;
	char account_id[32];
	int quiet;
	int status;		/* exit status so far */
	int output_failed;
	long long errors;	/* input lines with errors */
	unsigned given;		/* OPTION_BIT of each command option */
	const char *action;
	const char *reply;
	const char *lang;
	int only_unsubscribed;
	const char *brand;
	const char *help_contact;
	const char *frequency;
	const char *country;
	const char *optout_mode;
	const char *operator;	/* who makes the changes, or NULL */
	/* The account's keywords, for import's opt-out words check. */
	struct keyword_set keywords;
};

struct command {
	const char *name;
	int (*run)(struct context *, int, char **);
	unsigned options;	/* OPTION_BIT of each option it takes */
};

/* A keyword record of import, checked and in normal form. */
struct keyword_input {
	char *word;
	const char *action;
	const char *reply;	/* NULL for none */
	const char *lang;	/* NULL for the account's first language */
	int is_default;
	int only_unsubscribed;
};

struct lint {
	struct context *context;
	char *brand;		/* brand_name */
	char *help_contact;	/* as set, or NULL */
	char *frequency;	/* message_frequency, or NULL */
	/* Upper-case forms of the keywords of each action; see names(). */
	struct keyword_set opt_out, opt_in, help;
	/*
	 * Keyword rows (word, action, expanded reply, lang, stored reply),
	 * in list order.
	 */
	const PGresult *keywords;
	long long problems;
};

static void
usage(void)
{
	fprintf(stderr, "usage: convo-keywords [-qv] [--account NAME] "
	    "[--db CONNINFO] COMMAND [ARGS]\n"
	    "commands: list, export, add WORD... --action ACTION, "
	    "remove WORD...,\n"
	    "          reset [WORD...], import [FILE], test [TEXT...], "
	    "settings [OPTIONS],\n"
	    "          lint, history\n");
	exit(EX_USAGE);
}

static void
help(void)
{
	printf("usage: convo-keywords [options] COMMAND [ARGS]\n"
	    "List, change, test and check an account's keywords and reply "
	    "settings.\n\n"
	    "Commands:\n"
	    "  list, export          print the keywords as NDJSON records\n"
	    "  add WORD...           add or replace a keyword "
	    "(several WORDs form a phrase)\n"
	    "  remove WORD...        remove keywords\n"
	    "  reset                 replace the keywords with those of the "
	    "language packs\n"
	    "  reset WORD...         give these words back the reply and "
	    "action of the\n"
	    "                        language packs; other keywords stay as "
	    "they are\n"
	    "  import [FILE]         add or replace keywords from NDJSON "
	    "records\n"
	    "  test [TEXT...]        show which keyword each TEXT matches, "
	    "or add the\n"
	    "                        match to each input record with a "
	    "\"body\"\n"
	    "  settings              print or change the reply settings\n"
	    "  lint                  check replies against carrier rules\n"
	    "  history               print the changes of keywords and "
	    "settings\n\n"
	    "Options of add:\n"
	    "      --action ACTION   opt_out, opt_in, help or custom "
	    "(required)\n"
	    "      --reply TEXT      reply text; {brand}, {help} and "
	    "{frequency} are\n"
	    "                        replaced by the settings\n"
	    "      --lang CODE       language of the keyword (default the "
	    "account's first)\n"
	    "      --only-unsubscribed\n"
	    "                        an opt_in keyword that counts only "
	    "while the\n"
	    "                        customer is not subscribed\n\n"
	    "Options of settings:\n"
	    "      --brand TEXT      brand name that starts replies\n"
	    "      --help-contact TEXT\n"
	    "                        phone, email or URL for HELP replies "
	    "(\"\" for none)\n"
	    "      --frequency TEXT  message frequency for opt-in replies "
	    "(\"\" for none)\n"
	    "      --country CC      ISO 3166 country for national phone "
	    "numbers\n"
	    "      --optout-mode MODE\n"
	    "                        whole, or contains: an opt-out keyword "
	    "anywhere\n"
	    "                        in a text opts out\n"
	    "      --lang LIST       language packs, comma-separated, such "
	    "as en,es\n\n"
	    "  -a, --account NAME    account (default $CONVO_ACCOUNT or "
	    "\"default\")\n"
	    "  -d, --db CONNINFO     PostgreSQL connection\n"
	    "  -o, --operator NAME   who makes the changes (default the "
	    "login name)\n"
	    "  -q, --quiet           no counts or lint problems on standard "
	    "error\n"
	    "  -v, --verbose         print the time each step takes\n"
	    "  -h, --help            show this help\n"
	    "  -V, --version         show the versions of convo and its "
	    "libraries\n\n"
	    "See convo-keywords(1) and convo(5).\n");
	exit(0);
}

/* Return how many bytes of S an error message quotes: whole characters. */
static int
quote_length(const char *s)
{
	size_t n = strlen(s);

	if (n <= QUOTE_MAX)
		return (int)n;
	n = QUOTE_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return (int)n;
}

static void
emit(struct context *c, jv record)
{
	if (c->output_failed)
		jv_free(record);
	else if (view_print(record) != 0)
		c->output_failed = 1;
}

/* Print an error about input line LINE, up to ERRORS_SHOWN_MAX of them. */
static void
line_error(struct context *c, const char *file, long long line,
    const char *why)
{
	c->status = exit_merge(c->status, EX_DATAERR);
	c->errors++;
	if (c->errors > ERRORS_SHOWN_MAX)
		return;
	if (file != NULL)
		warnx("%s: line %lld: %s", file, line, why);
	else
		warnx("line %lld: %s", line, why);
	if (c->errors == ERRORS_SHOWN_MAX)
		warnx("further errors are counted but not shown");
}

static void
long_line_error(struct context *c, const char *file, long long line,
    size_t len)
{
	char why[96];

	snprintf(why, sizeof(why), "line of %zu bytes is longer than the "
	    "limit of %d bytes", len, CONVO_LINE_MAX);
	line_error(c, file, line, why);
}

static PGresult *
query(struct context *c, const char *what, const char *sql, int n,
    const char *const *params)
{
	PGresult *res = PQexecParams(c->conn, sql, n, NULL, params, NULL,
	    NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK)
		exit(db_report(c->conn, res, what));
	return res;
}

static void
open_account(struct context *c)
{
	char country[8];

	c->conn = db_connect(c->db);
	snprintf(c->account_id, sizeof(c->account_id), "%lld",
	    db_account(c->conn, c->account, country));
}

/*
 * Return the languages, comma-separated, of the account's language packs
 * in which WORD, in normal form, is an opt-out keyword, or NULL. The
 * caller frees the string.
 */
static char *
pack_opt_out_languages(struct context *c, const char *word)
{
	const char *params[2] = { c->account_id, word };
	PGresult *res;
	char *langs = NULL;

	res = query(c, "cannot read the language packs", "SELECT "
	    "string_agg(p.lang, ',' ORDER BY p.lang) "
	    "FROM convo.keyword_packs p JOIN convo.accounts a "
	    "ON p.lang = ANY (a.languages) "
	    "WHERE a.account_id = $1 AND p.word = $2 "
	    "AND p.action = 'opt_out'", 2, params);
	if (!PQgetisnull(res, 0, 0))
		langs = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return langs;
}

/*
 * Check that WORD, a keyword in normal form, is an opt_out keyword when
 * a language pack of the account makes it one. Returns 0, or -1 with
 * the reason written into WHY.
 */
static int
check_pack_opt_out(struct context *c, const char *word, const char *action,
    char *why, size_t whysz)
{
	char *langs;

	if (strcmp(action, "opt_out") == 0 ||
	    (langs = pack_opt_out_languages(c, word)) == NULL)
		return 0;
	snprintf(why, whysz, "keyword \"%s\" is an opt-out in the %s "
	    "language pack of the account, so it can only be an opt_out "
	    "keyword: give it the action opt_out", word, langs);
	free(langs);
	return -1;
}

/*
 * Begin a transaction that changes keywords or settings, with the
 * operator that their events name. The setting is local to the
 * transaction, because a pooler may give the next one to another client.
 */
static void
begin_changes(struct context *c)
{
	const char *params[1] = { c->operator };

	db_exec(c->conn, "BEGIN");
	if (c->operator != NULL)
		PQclear(query(c, "cannot set the operator", "SELECT "
		    "set_config('convo.operator', $1, true)", 1, params));
}

static jv
text_or_null(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return jv_null();
	return jv_string(PQgetvalue(res, row, col));
}

static jv
boolean(const PGresult *res, int row, int col)
{
	return jv_bool(PQgetvalue(res, row, col)[0] == 't');
}

/* Build the keyword record of row ROW, with KEYWORD_COLUMNS. */
static jv
keyword_record(const struct context *c, const PGresult *res, int row)
{
	jv r = jv_object();

	r = jv_object_set(r, jv_string("type"), jv_string("keyword"));
	r = jv_object_set(r, jv_string("account"), jv_string(c->account));
	r = jv_object_set(r, jv_string("word"), text_or_null(res, row, 0));
	r = jv_object_set(r, jv_string("action"), text_or_null(res, row, 1));
	r = jv_object_set(r, jv_string("reply"), text_or_null(res, row, 2));
	r = jv_object_set(r, jv_string("lang"), text_or_null(res, row, 3));
	r = jv_object_set(r, jv_string("default"), boolean(res, row, 4));
	return jv_object_set(r, jv_string("only_unsubscribed"),
	    boolean(res, row, 5));
}

/*
 * Return the keyword normal form of TEXT, which is valid UTF-8, as a new
 * string.
 */
static char *
normalize(const char *text, size_t len)
{
	char *normal = keyword_normalize(text, len);

	/* keyword_normalize() rejects valid UTF-8 only when out of memory. */
	if (normal == NULL)
		errx(EX_SOFTWARE, "out of memory");
	return normal;
}

/*
 * Return the keyword normal form of the argument TEXT. An invalid or
 * empty one is a usage error.
 */
static char *
normal_argument(const char *text)
{
	char *word;
	size_t n;

	if (!utf8_valid(text, strlen(text)))
		errx(EX_USAGE, "keyword is not valid UTF-8 at byte %zu",
		    utf8_invalid_offset(text, strlen(text)) + 1);
	word = normalize(text, strlen(text));
	if (*word == '\0') {
		free(word);
		errx(EX_USAGE, "keyword \"%s\" has no letters or digits; a "
		    "keyword needs at least one", text);
	}
	if ((n = strlen(word)) > KEYWORD_TEXT_MAX) {
		free(word);
		errx(EX_USAGE, "keyword \"%.*s...\" is %zu bytes in normal "
		    "form, longer than the %d bytes of text that convo-ingest "
		    "compares with keywords", quote_length(text), text, n,
		    KEYWORD_TEXT_MAX);
	}
	return word;
}

/*
 * Return 1 when TEXT is a language code: 2 or 3 lower-case letters
 * (ISO 639), optionally followed by "-" and 2 to 8 letters or digits.
 */
static int
lang_code_valid(const char *text)
{
	size_t n = strspn(text, "abcdefghijklmnopqrstuvwxyz"), m;

	if (n < 2 || n > 3)
		return 0;
	if (text[n] == '\0')
		return 1;
	if (text[n] != '-')
		return 0;
	for (m = 0; isalnum((unsigned char)text[n + 1 + m]); m++)
		continue;
	return m >= 2 && m <= 8 && text[n + 1 + m] == '\0';
}

/* Return the indefinite article for the action name ACTION. */
static const char *
article(const char *action)
{
	return strncmp(action, "opt_", 4) == 0 ? "an" : "a";
}

/*
 * Check that keyword WORD may get ACTION. Returns 0, or -1 with the
 * reason written into WHY when WORD is a standard keyword that must keep
 * another action.
 */
static int
check_standard_action(const char *word, const char *action, char *why,
    size_t whysz)
{
	const struct keyword_standard *s = keyword_standard_find(word);
	const char *fixed;

	if (s == NULL || !s->fixed)
		return 0;
	fixed = keyword_action_name(s->action);
	if (strcmp(action, fixed) == 0)
		return 0;
	snprintf(why, whysz, "cannot make keyword \"%s\" %s %s keyword: %s, "
	    "so it stays %s %s keyword", word, article(action), action,
	    s->reason, article(fixed), fixed);
	return -1;
}

/*
 * Check that keyword WORD may get ACTION. A keyword whose words read as
 * an opt-out against SET (keyword_opt_out_words()) must be an opt_out
 * keyword, or a customer who sends it stays subscribed and unflagged.
 * Returns 0, or -1 with the reason written into WHY.
 */
static int
check_opt_out_words(const struct keyword_set *set, const char *word,
    const char *action, char *why, size_t whysz)
{
	const char *found;

	if (strcmp(action, "opt_out") == 0 ||
	    (found = keyword_opt_out_words(set, word)) == NULL)
		return 0;
	snprintf(why, whysz, "cannot make keyword \"%s\" %s %s keyword, "
	    "because it contains the opt-out words \"%s\" and a customer who "
	    "sends it asks to opt out. Make it an opt_out keyword, or choose "
	    "words without \"%s\"", word, article(action), action, found,
	    found);
	return -1;
}

/*
 * Write into TEXT the problem of the standard keyword S when the account
 * stores it with ACTION, NULL when it lacks the word. Returns 0 when the
 * keyword is as it must be.
 */
static int
standard_keyword_problem(const struct keyword_standard *s,
    const char *action, char *text, size_t size)
{
	const char *fixed = keyword_action_name(s->action);

	if (action != NULL && strcmp(action, fixed) == 0)
		return 0;
	if (action == NULL)
		snprintf(text, size, "standard keyword %s is missing, but %s. "
		    "Add it back with convo-keywords reset %s, or with "
		    "convo-keywords add %s --action %s --reply TEXT", s->upper,
		    s->reason, s->word, s->word, fixed);
	else
		snprintf(text, size, "standard keyword %s has the action %s, "
		    "but %s. Change it back with convo-keywords reset %s, or "
		    "with convo-keywords add %s --action %s --reply TEXT",
		    s->upper, action, s->reason, s->word, s->word, fixed);
	return -1;
}

/*
 * Return the action stored for WORD in RES, whose rows have the word in
 * column 0 and the action in column 1, or NULL when no row has WORD.
 */
static const char *
stored_action(const PGresult *res, const char *word)
{
	int i, n = PQntuples(res);

	for (i = 0; i < n; i++)
		if (strcmp(PQgetvalue(res, i, 0), word) == 0)
			return PQgetvalue(res, i, 1);
	return NULL;
}

/*
 * Warn about each fixed standard keyword that RES, rows as for
 * stored_action(), lacks or stores with another action, as an older
 * convo-keywords or a direct SQL change can leave it.
 */
static void
warn_standard_keywords(const PGresult *res)
{
	const struct keyword_standard *s;
	char text[512];

	for (s = keyword_standards; s->word != NULL; s++)
		if (s->fixed && standard_keyword_problem(s,
		    stored_action(res, s->word), text, sizeof(text)) != 0)
			warnx("%s", text);
}

/* Add or replace keyword K of the account; return the stored row. */
static PGresult *
upsert_keyword(struct context *c, const struct keyword_input *k)
{
	const char *params[7] = { c->account_id, k->word, k->action,
	    k->reply, k->lang, k->is_default ? "t" : "f",
	    k->only_unsubscribed ? "t" : "f" };

	return query(c, "cannot store the keyword",
	    "INSERT INTO convo.keywords AS k (account_id, word, action, "
	    "reply, lang, is_default, only_unsubscribed) "
	    "SELECT a.account_id, $2, $3, $4, "
	    "coalesce($5, a.languages[1], 'en'), $6, $7 "
	    "FROM convo.accounts a WHERE a.account_id = $1 "
	    "ON CONFLICT (account_id, word) DO UPDATE SET "
	    "action = EXCLUDED.action, reply = EXCLUDED.reply, "
	    "lang = EXCLUDED.lang, is_default = EXCLUDED.is_default, "
	    "only_unsubscribed = EXCLUDED.only_unsubscribed "
	    "RETURNING " KEYWORD_COLUMNS, 7, params);
}

static int
cmd_list(struct context *c, int argc, char **argv)
{
	const char *params[1];
	PGresult *res;
	int i, n;

	(void)argv;
	if (argc > 0)
		errx(EX_USAGE, "list and export take no arguments");
	open_account(c);
	params[0] = c->account_id;
	res = query(c, "cannot list the keywords", "SELECT " KEYWORD_COLUMNS
	    " FROM convo.keywords WHERE account_id = $1 ORDER BY "
	    KEYWORD_ORDER, 1, params);
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		emit(c, keyword_record(c, res, i));
	warn_standard_keywords(res);
	PQclear(res);
	return 0;
}

/* Build the keyword_event record of row ROW of RES. */
static jv
event_record(const struct context *c, const PGresult *res, int row)
{
	static const char *const names[] = {
		"id", "at", "operator", "action", "word",
	};
	jv r = jv_object_set(jv_object(), jv_string("type"),
	    jv_string("keyword_event"));
	int i;

	r = jv_object_set(r, jv_string("account"), jv_string(c->account));
	for (i = 0; i < 5; i++)
		if (!PQgetisnull(res, row, i))
			r = jv_object_set(r, jv_string(names[i]),
			    jv_string(PQgetvalue(res, row, i)));
	for (i = 5; i < 7; i++)
		r = jv_object_set(r, jv_string(i == 5 ? "before" : "after"),
		    PQgetisnull(res, row, i) ? jv_null() :
		    jv_parse(PQgetvalue(res, row, i)));
	return r;
}

/*
 * Print the keyword and settings changes of the account, oldest first,
 * one row at a time, so that a long history takes no more memory.
 */
static int
cmd_history(struct context *c, int argc, char **argv)
{
	const char *params[1];
	PGresult *res;
	int done = 0;

	(void)argv;
	if (argc > 0)
		errx(EX_USAGE, "history takes no arguments");
	open_account(c);
	params[0] = c->account_id;
	if (!PQsendQueryParams(c->conn, "SELECT 'e_' || event_id, "
	    "convo.rfc3339(at), operator, action, word, before, after "
	    "FROM convo.keyword_events WHERE account_id = $1 "
	    "ORDER BY event_id", 1, NULL, params, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(c->conn))
		errx(EX_UNAVAILABLE, "cannot read the keyword history: %s",
		    PQerrorMessage(c->conn));
	while ((res = PQgetResult(c->conn)) != NULL) {
		if (PQresultStatus(res) == PGRES_SINGLE_TUPLE && !done)
			emit(c, event_record(c, res, 0));
		else if (PQresultStatus(res) != PGRES_TUPLES_OK &&
		    PQresultStatus(res) != PGRES_SINGLE_TUPLE)
			exit(db_report(c->conn, res,
			    "cannot read the keyword history"));
		/* After a failed write, the rest is read and dropped. */
		done = c->output_failed;
		PQclear(res);
	}
	return 0;
}

/* Join ARGV with single spaces into a new string. */
static char *
join_words(int argc, char **argv)
{
	struct buf b = { 0 };
	int i;

	for (i = 0; i < argc; i++) {
		if (i > 0)
			buf_addc(&b, ' ');
		buf_adds(&b, argv[i]);
	}
	return b.data != NULL ? b.data : xstrdup("");
}

static int
cmd_add(struct context *c, int argc, char **argv)
{
	struct keyword_input k = { 0 };
	struct keyword_set set = { 0 };
	PGresult *res;
	char *text, why[512];

	if (argc == 0)
		errx(EX_USAGE, "add needs a keyword: convo-keywords add WORD "
		    "--action ACTION");
	if (c->action == NULL)
		errx(EX_USAGE, "add needs --action: opt_out, opt_in, help or "
		    "custom");
	if (c->only_unsubscribed && strcmp(c->action, "opt_in") != 0)
		errx(EX_USAGE, "--only-unsubscribed applies only to opt_in "
		    "keywords, not to %s", c->action);
	if (c->lang != NULL && !lang_code_valid(c->lang))
		errx(EX_USAGE, "invalid language code \"%s\": expected an ISO "
		    "639 code such as en or es", c->lang);
	if (c->reply != NULL && !utf8_valid(c->reply, strlen(c->reply)))
		errx(EX_USAGE, "the --reply text is not valid UTF-8");
	text = join_words(argc, argv);
	k.word = normal_argument(text);
	if (check_standard_action(k.word, c->action, why, sizeof(why)) != 0)
		errx(EX_USAGE, "%s. Change only its reply with --action %s "
		    "--reply TEXT", why,
		    keyword_action_name(keyword_standard_find(k.word)->action));
	k.action = c->action;
	k.reply = c->reply != NULL && *c->reply != '\0' ? c->reply : NULL;
	k.lang = c->lang;
	k.only_unsubscribed = c->only_unsubscribed;
	open_account(c);
	db_load_keywords(c->conn, atoll(c->account_id), &set);
	if (check_opt_out_words(&set, k.word, k.action, why,
	    sizeof(why)) != 0)
		errx(EX_USAGE, "%s", why);
	keyword_set_free(&set);
	if (check_pack_opt_out(c, k.word, k.action, why, sizeof(why)) != 0)
		errx(EX_USAGE, "%s", why);
	begin_changes(c);
	res = upsert_keyword(c, &k);
	db_exec(c->conn, "COMMIT");
	emit(c, keyword_record(c, res, 0));
	PQclear(res);
	free(k.word);
	free(text);
	return 0;
}

static int
cmd_remove(struct context *c, int argc, char **argv)
{
	const struct keyword_standard *s;
	const char *params[2];
	PGresult *res;
	char **words;
	int i, status = 0;

	if (argc == 0)
		errx(EX_USAGE, "remove needs at least one keyword");
	words = xmalloc(argc * sizeof(*words));
	for (i = 0; i < argc; i++)
		words[i] = normal_argument(argv[i]);
	/* Remove nothing when any word must stay. */
	for (i = 0; i < argc; i++) {
		s = keyword_standard_find(words[i]);
		if (s == NULL || !s->fixed)
			continue;
		warnx("cannot remove keyword \"%s\": %s, so it stays %s %s "
		    "keyword. Change its reply with convo-keywords add %s "
		    "--action %s --reply TEXT, or restore the standard reply "
		    "with convo-keywords reset %s", words[i], s->reason,
		    article(keyword_action_name(s->action)),
		    keyword_action_name(s->action), s->word,
		    keyword_action_name(s->action), s->word);
		status = EX_USAGE;
	}
	if (status != 0)
		exit(status);
	open_account(c);
	params[0] = c->account_id;
	begin_changes(c);
	for (i = 0; i < argc; i++) {
		params[1] = words[i];
		res = query(c, "cannot remove the keyword", "DELETE FROM "
		    "convo.keywords WHERE account_id = $1 AND word = $2", 2,
		    params);
		if (strcmp(PQcmdTuples(res), "0") == 0) {
			warnx("keyword \"%s\" not found in account \"%s\"; see "
			    "convo-keywords list", words[i], c->account);
			status = EX_DATAERR;
		}
		PQclear(res);
	}
	db_exec(c->conn, "COMMIT");
	for (i = 0; i < argc; i++)
		free(words[i]);
	free(words);
	return status;
}

/*
 * Add the standard keywords that the account lacks from the English
 * language pack, so that an account without English keeps them. The
 * opt-in words START, UNSTOP and YES are added too, because the Spanish
 * and French opt-out replies tell customers to send START.
 */
static void
add_standard_keywords(struct context *c)
{
	char *words = keyword_standard_array();
	const char *params[2] = { c->account_id, words };

	PQclear(query(c, "cannot add the standard keywords", "INSERT INTO "
	    "convo.keywords (account_id, word, action, reply, lang, "
	    "is_default, only_unsubscribed) SELECT $1, word, action, reply, "
	    "lang, true, only_unsubscribed FROM convo.keyword_packs "
	    "WHERE lang = 'en' AND word = ANY ($2::text[]) "
	    "ON CONFLICT (account_id, word) DO NOTHING", 2, params));
	free(words);
}

/*
 * Give keyword WORD the action, reply and language that reset without
 * words gives it. They come from the pack of one of the account's
 * languages, English first, else from the English pack when WORD is in
 * STANDARD, the array literal of the standard keywords. Returns the
 * stored row, or no row when no such pack has WORD.
 */
static PGresult *
restore_keyword(struct context *c, const char *word, const char *standard)
{
	const char *params[3] = { c->account_id, word, standard };

	return query(c, "cannot reset the keyword", "INSERT INTO "
	    "convo.keywords AS k (account_id, word, action, reply, lang, "
	    "is_default, only_unsubscribed) "
	    "SELECT a.account_id, p.word, p.action, p.reply, p.lang, true, "
	    "p.only_unsubscribed FROM convo.accounts a "
	    "JOIN convo.keyword_packs p ON p.word = $2 "
	    "AND (p.lang = ANY (a.languages) "
	    "OR (p.lang = 'en' AND p.word = ANY ($3::text[]))) "
	    "WHERE a.account_id = $1 "
	    "ORDER BY p.lang <> ALL (a.languages), p.lang <> 'en', p.lang "
	    "LIMIT 1 "
	    "ON CONFLICT (account_id, word) DO UPDATE SET "
	    "action = EXCLUDED.action, reply = EXCLUDED.reply, "
	    "lang = EXCLUDED.lang, is_default = true, "
	    "only_unsubscribed = EXCLUDED.only_unsubscribed "
	    "RETURNING " KEYWORD_COLUMNS, 3, params);
}

/*
 * Print why reset cannot restore WORD, which no pack of the account's
 * languages has.
 */
static void
warn_not_standard(struct context *c, const char *word)
{
	const char *params[2] = { c->account_id, word };
	const char *packs, *languages;
	PGresult *res;

	res = query(c, "cannot read the language packs", "SELECT "
	    "(SELECT string_agg(p.lang, ',' ORDER BY p.lang) "
	    "FROM convo.keyword_packs p WHERE p.word = $2), "
	    "array_to_string(a.languages, ','), "
	    "EXISTS (SELECT 1 FROM convo.keywords k "
	    "WHERE k.account_id = a.account_id AND k.word = $2) "
	    "FROM convo.accounts a WHERE a.account_id = $1", 2, params);
	packs = PQgetvalue(res, 0, 0);
	languages = PQgetvalue(res, 0, 1);
	if (!PQgetisnull(res, 0, 0))
		warnx("cannot reset keyword \"%s\": it is only in the %s "
		    "language pack, which account \"%s\" does not use; add the "
		    "language with convo-keywords settings --lang %s%s%.*s",
		    word, packs, c->account, languages,
		    *languages != '\0' ? "," : "", (int)strcspn(packs, ","),
		    packs);
	else if (PQgetvalue(res, 0, 2)[0] == 't')
		warnx("cannot reset keyword \"%s\": no language pack has it, "
		    "so it has no standard reply; change it with convo-keywords "
		    "add or remove it with convo-keywords remove", word);
	else
		warnx("cannot reset keyword \"%s\": no language pack has it, "
		    "and account \"%s\" has no such keyword; see convo-keywords "
		    "list", word, c->account);
	PQclear(res);
}

/* Return 1 when one of the first N words of WORDS is WORD. */
static int
word_listed(char *const *words, int n, const char *word)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(words[i], word) == 0)
			return 1;
	return 0;
}

/*
 * Restore each keyword of ARGV, one word per operand, to what reset
 * without words gives it, and print their records. Changes nothing and
 * returns EX_USAGE when the account's languages give a word no standard
 * reply.
 */
static int
reset_words(struct context *c, int argc, char **argv)
{
	PGresult **rows = xmalloc(argc * sizeof(*rows));
	char **words = xmalloc(argc * sizeof(*words));
	char *standard = keyword_standard_array();
	int i, status = 0;

	for (i = 0; i < argc; i++)
		words[i] = normal_argument(argv[i]);
	open_account(c);
	begin_changes(c);
	for (i = 0; i < argc; i++) {
		rows[i] = NULL;
		if (word_listed(words, i, words[i]))
			continue;
		rows[i] = restore_keyword(c, words[i], standard);
		if (PQntuples(rows[i]) == 0) {
			warn_not_standard(c, words[i]);
			status = EX_USAGE;
		}
	}
	db_exec(c->conn, status == 0 ? "COMMIT" : "ROLLBACK");
	for (i = 0; i < argc; i++) {
		if (status == 0 && rows[i] != NULL)
			emit(c, keyword_record(c, rows[i], 0));
		PQclear(rows[i]);
		free(words[i]);
	}
	free(standard);
	free(words);
	free(rows);
	return status;
}

static int
cmd_reset(struct context *c, int argc, char **argv)
{
	const char *params[1];
	PGresult *res;

	if (argc > 0)
		return reset_words(c, argc, argv);
	open_account(c);
	params[0] = c->account_id;
	begin_changes(c);
	PQclear(query(c, "cannot remove the keywords", "DELETE FROM "
	    "convo.keywords WHERE account_id = $1", 1, params));
	PQclear(query(c, "cannot add the default keywords",
	    "SELECT convo.keywords_seed($1)", 1, params));
	add_standard_keywords(c);
	res = query(c, "cannot count the keywords", "SELECT count(*) FROM "
	    "convo.keywords WHERE account_id = $1", 1, params);
	db_exec(c->conn, "COMMIT");
	if (!c->quiet)
		fprintf(stderr, "%s: account \"%s\" has %s default keywords\n",
		    getprogname(), c->account, PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/*
 * Parse LINE of LEN bytes as a JSON object into *REC. Returns 0, or -1
 * with *REC invalid and the reason written into WHY.
 */
static int
parse_object(const char *line, size_t len, jv *rec, char *why,
    size_t whysz)
{
	const char *nul = memchr(line, '\0', len);
	jv msg;

	*rec = jv_invalid();
	if (nul != NULL) {
		snprintf(why, whysz, "NUL byte at column %d",
		    (int)(nul - line) + 1);
		return -1;
	}
	*rec = json_parse_line(line, len);
	if (!jv_is_valid(*rec)) {
		msg = jv_invalid_get_msg(*rec);
		snprintf(why, whysz, "%s", jv_get_kind(msg) == JV_KIND_STRING ?
		    jv_string_value(msg) : "invalid JSON");
		jv_free(msg);
		*rec = jv_invalid();
		return -1;
	}
	if (jv_get_kind(*rec) != JV_KIND_OBJECT) {
		snprintf(why, whysz, "a record must be a JSON object");
		jv_free(*rec);
		*rec = jv_invalid();
		return -1;
	}
	return 0;
}

/*
 * Read the optional string field NAME of REC (borrowed) into *VALUE,
 * invalid when absent. Returns -1 when it is neither a string nor null,
 * with the value in *VALUE for the error message.
 */
static int
optional_string(jv rec, const char *name, jv *value)
{
	*value = jv_object_get(jv_copy(rec), jv_string(name));
	if (!jv_is_valid(*value) || jv_get_kind(*value) == JV_KIND_NULL ||
	    jv_get_kind(*value) == JV_KIND_STRING)
		return 0;
	return -1;
}

/*
 * Write into WHY that field NAME must be EXPECTED, quoting its JSON
 * VALUE (borrowed).
 */
static void
wrong_type(char *why, size_t whysz, const char *name, const char *expected,
    jv value)
{
	jv text = jv_dump_string(jv_copy(value), 0);
	const char *json = jv_string_value(text);
	int n = quote_length(json);

	snprintf(why, whysz, "field \"%s\" must be %s, not %.*s%s", name,
	    expected, n, json, json[n] != '\0' ? "..." : "");
	jv_free(text);
}

/* Read the optional boolean field NAME of REC (borrowed) into *VALUE. */
static int
optional_boolean(jv rec, const char *name, int *value)
{
	jv v = jv_object_get(jv_copy(rec), jv_string(name));
	jv_kind kind = jv_get_kind(v);

	jv_free(v);
	*value = kind == JV_KIND_TRUE;
	if (kind == JV_KIND_INVALID || kind == JV_KIND_NULL ||
	    kind == JV_KIND_TRUE || kind == JV_KIND_FALSE)
		return 0;
	return -1;
}

static const char *
string_or_null(jv v)
{
	return jv_get_kind(v) == JV_KIND_STRING ? jv_string_value(v) : NULL;
}

/* Check the type, word and action of REC into K, or write why into WHY. */
static int
parse_keyword_head(jv rec, struct keyword_input *k, jv *word, jv *action,
    char *why, size_t whysz)
{
	const char *name;
	jv type;
	int rc = 0;

	if (optional_string(rec, "type", &type) != 0) {
		snprintf(why, whysz, "field \"type\" must be \"keyword\"");
		rc = -1;
	} else if ((name = string_or_null(type)) != NULL &&
	    strcmp(name, "keyword") != 0) {
		snprintf(why, whysz, "unknown record type \"%.*s\": expected "
		    "keyword", quote_length(name), name);
		rc = -1;
	}
	jv_free(type);
	if (rc != 0)
		return rc;
	if (optional_string(rec, "word", word) != 0) {
		wrong_type(why, whysz, "word", "a string", *word);
		return -1;
	}
	if (string_or_null(*word) == NULL) {
		snprintf(why, whysz, "missing field \"word\": expected the "
		    "keyword as a string");
		return -1;
	}
	k->word = normalize(jv_string_value(*word),
	    jv_string_length_bytes(jv_copy(*word)));
	if (*k->word == '\0') {
		snprintf(why, whysz, "word \"%.*s\" has no letters or digits",
		    quote_length(jv_string_value(*word)),
		    jv_string_value(*word));
		return -1;
	}
	if (strlen(k->word) > KEYWORD_TEXT_MAX) {
		snprintf(why, whysz, "word \"%.*s...\" is %zu bytes in "
		    "normal form, longer than the %d bytes of text that "
		    "convo-ingest compares with keywords",
		    quote_length(jv_string_value(*word)),
		    jv_string_value(*word), strlen(k->word), KEYWORD_TEXT_MAX);
		return -1;
	}
	if (optional_string(rec, "action", action) != 0) {
		wrong_type(why, whysz, "action", "a string", *action);
		return -1;
	}
	if (string_or_null(*action) == NULL) {
		snprintf(why, whysz, "missing field \"action\": expected "
		    "opt_out, opt_in, help or custom");
		return -1;
	}
	k->action = jv_string_value(*action);
	if (keyword_action_parse(k->action) == KEYWORD_NONE) {
		snprintf(why, whysz, "unknown action \"%.*s\": expected "
		    "opt_out, opt_in, help or custom", quote_length(k->action),
		    k->action);
		return -1;
	}
	return 0;
}

/* Check the optional fields of REC into K, or write why into WHY. */
static int
parse_keyword_tail(jv rec, struct keyword_input *k, jv *reply, jv *lang,
    char *why, size_t whysz)
{
	if (optional_string(rec, "reply", reply) != 0) {
		wrong_type(why, whysz, "reply", "a string or null", *reply);
		return -1;
	}
	k->reply = string_or_null(*reply);
	if (k->reply != NULL && *k->reply == '\0')
		k->reply = NULL;
	if (optional_string(rec, "lang", lang) != 0) {
		wrong_type(why, whysz, "lang", "a string or null", *lang);
		return -1;
	}
	if (string_or_null(*lang) != NULL &&
	    !lang_code_valid(jv_string_value(*lang))) {
		snprintf(why, whysz, "invalid field \"lang\" \"%.*s\": "
		    "expected an ISO 639 code such as en or es",
		    quote_length(jv_string_value(*lang)),
		    jv_string_value(*lang));
		return -1;
	}
	k->lang = string_or_null(*lang);
	if (optional_boolean(rec, "default", &k->is_default) != 0 ||
	    optional_boolean(rec, "only_unsubscribed",
	    &k->only_unsubscribed) != 0) {
		snprintf(why, whysz, "fields \"default\" and "
		    "\"only_unsubscribed\" must be true or false");
		return -1;
	}
	if (k->only_unsubscribed && strcmp(k->action, "opt_in") != 0) {
		snprintf(why, whysz, "only_unsubscribed applies only to opt_in "
		    "keywords, not to %s", k->action);
		return -1;
	}
	return 0;
}

/*
 * Check that import may store K, because a standard keyword keeps its
 * action. Returns 0, or -1 with the reason written into WHY.
 */
static int
check_import_action(const struct keyword_input *k, char *why,
    size_t whysz)
{
	char reason[384];

	if (check_standard_action(k->word, k->action, reason,
	    sizeof(reason)) == 0)
		return 0;
	snprintf(why, whysz, "%s. To change only its reply, give \"action\":"
	    "\"%s\"", reason,
	    keyword_action_name(keyword_standard_find(k->word)->action));
	return -1;
}

/* Turn one input line into a keyword and store it, or report why not. */
static void
import_line(struct context *c, const char *file, long long lineno,
    const char *line, size_t len)
{
	struct keyword_input k = { 0 };
	jv rec, word = jv_invalid(), action = jv_invalid();
	jv reply = jv_invalid(), lang = jv_invalid();
	char why[512];
	int rc = -1;

	if (parse_object(line, len, &rec, why, sizeof(why)) == 0 &&
	    parse_keyword_head(rec, &k, &word, &action, why,
	    sizeof(why)) == 0 &&
	    parse_keyword_tail(rec, &k, &reply, &lang, why,
	    sizeof(why)) == 0)
		rc = check_import_action(&k, why, sizeof(why));
	if (rc == 0)
		rc = check_opt_out_words(&c->keywords, k.word, k.action, why,
		    sizeof(why));
	if (rc == 0)
		rc = check_pack_opt_out(c, k.word, k.action, why, sizeof(why));
	if (rc == 0) {
		PQclear(upsert_keyword(c, &k));
		/* Later lines are checked against this keyword too. */
		if (strcmp(k.action, "opt_out") == 0)
			keyword_set_add(&c->keywords, k.word, KEYWORD_OPT_OUT,
			    0);
	} else
		line_error(c, file, lineno, why);
	free(k.word);
	jv_free(word);
	jv_free(action);
	jv_free(reply);
	jv_free(lang);
	jv_free(rec);
}

/* Import the keyword records of FD; return how many lines were stored. */
static long long
import_fd(struct context *c, int fd, const char *file)
{
	struct linereader r;
	const char *line;
	size_t len;
	long long stored = 0, errors;
	int too_long, rc;

	linereader_init(&r, fd, CONVO_LINE_MAX);
	while ((rc = linereader_next(&r, &line, &len, &too_long)) == 1) {
		if (!too_long && linereader_blank(line, len))
			continue;
		if (too_long) {
			long_line_error(c, file, r.lineno, len);
			continue;
		}
		errors = c->errors;
		import_line(c, file, r.lineno, line, len);
		stored += c->errors == errors;
	}
	if (rc < 0)
		err(EX_IOERR, "cannot read %s", file ? file : "standard input");
	linereader_free(&r);
	return stored;
}

static int
cmd_import(struct context *c, int argc, char **argv)
{
	const char *file = NULL;
	long long stored;
	int fd = STDIN_FILENO;

	if (argc > 1)
		errx(EX_USAGE, "import takes at most one FILE");
	if (argc == 1 && strcmp(argv[0], "-") != 0) {
		file = argv[0];
		if ((fd = open(file, O_RDONLY)) == -1)
			err(EX_NOINPUT, "cannot open \"%s\"", file);
	}
	open_account(c);
	db_load_keywords(c->conn, atoll(c->account_id), &c->keywords);
	begin_changes(c);
	stored = import_fd(c, fd, file);
	db_exec(c->conn, "COMMIT");
	keyword_set_free(&c->keywords);
	if (file != NULL)
		close(fd);
	if (!c->quiet)
		fprintf(stderr, "%s: account \"%s\": keywords stored: %lld, "
		    "lines rejected: %lld\n", getprogname(), c->account, stored,
		    c->errors);
	return c->status;
}

static void
test_argument(struct context *c, const struct keyword_set *set,
    const char *text)
{
	jv r;

	if (!utf8_valid(text, strlen(text))) {
		warnx("text is not valid UTF-8 at byte %zu",
		    utf8_invalid_offset(text, strlen(text)) + 1);
		c->status = exit_merge(c->status, EX_DATAERR);
		return;
	}
	r = jv_object_set(jv_object(), jv_string("type"),
	    jv_string("keyword_test"));
	r = jv_object_set(r, jv_string("text"), jv_string(text));
	emit(c, keyword_test_fields(r, set, text, strlen(text)));
}

/*
 * Print the record on LINE with a keyword_test object added when it has
 * a body. OUT and SCRATCH are reused from line to line.
 */
static void
test_line(struct context *c, const struct keyword_set *set,
    struct buf *out, struct keyword_test_scratch *scratch,
    long long lineno, const char *line, size_t len)
{
	char why[256];
	jv rec, body;

	buf_reset(out);
	if (keyword_test_line(out, scratch, set, line, len)) {
		buf_addc(out, '\n');
		if (view_print_json(out->data, out->len) != 0)
			c->output_failed = 1;
		return;
	}
	if (parse_object(line, len, &rec, why, sizeof(why)) != 0) {
		line_error(c, NULL, lineno, why);
		return;
	}
	body = jv_object_get(jv_copy(rec), jv_string("body"));
	if (jv_get_kind(body) == JV_KIND_STRING)
		rec = jv_object_set(rec, jv_string("keyword_test"),
		    keyword_test_fields(jv_object(), set,
		    jv_string_value(body),
		    jv_string_length_bytes(jv_copy(body))));
	jv_free(body);
	emit(c, rec);
}

static void
test_stdin(struct context *c, const struct keyword_set *set)
{
	struct keyword_test_scratch scratch = { 0 };
	struct buf out = { 0 };
	struct linereader r;
	const char *line;
	size_t len;
	int too_long, rc;

	linereader_init(&r, STDIN_FILENO, CONVO_LINE_MAX);
	while (!c->output_failed &&
	    (rc = linereader_next(&r, &line, &len, &too_long)) == 1) {
		if (too_long)
			long_line_error(c, NULL, r.lineno, len);
		else if (!linereader_blank(line, len))
			test_line(c, set, &out, &scratch, r.lineno, line,
			    len);
		/* Records of a slow producer go out before the next wait. */
		if (!linereader_ready(&r, 0) && view_flush() != 0)
			c->output_failed = 1;
	}
	if (!c->output_failed && rc < 0)
		err(EX_IOERR, "cannot read standard input");
	linereader_free(&r);
	keyword_test_free(&scratch);
	buf_free(&out);
}

static int
cmd_test(struct context *c, int argc, char **argv)
{
	struct keyword_set set = { 0 };
	int i;

	if (argc == 0 && isatty(STDIN_FILENO))
		errx(EX_USAGE, "test needs a TEXT, or records on standard "
		    "input");
	open_account(c);
	db_load_keywords(c->conn, atoll(c->account_id), &set);
	if (argc == 0)
		test_stdin(c, &set);
	for (i = 0; i < argc && !c->output_failed; i++)
		test_argument(c, &set, argv[i]);
	keyword_set_free(&set);
	return c->status;
}

static void
print_settings(struct context *c)
{
	const char *params[1] = { c->account_id };
	PGresult *res;
	jv r;

	res = query(c, "cannot read the account settings", "SELECT name, "
	    "brand_name, help_contact, message_frequency, default_country, "
	    "optout_mode, array_to_json(languages)::text "
	    "FROM convo.accounts WHERE account_id = $1", 1, params);
	r = jv_object_set(jv_object(), jv_string("type"),
	    jv_string("account_settings"));
	r = jv_object_set(r, jv_string("account"), text_or_null(res, 0, 0));
	r = jv_object_set(r, jv_string("brand_name"), text_or_null(res, 0, 1));
	r = jv_object_set(r, jv_string("help_contact"),
	    text_or_null(res, 0, 2));
	r = jv_object_set(r, jv_string("message_frequency"),
	    text_or_null(res, 0, 3));
	r = jv_object_set(r, jv_string("default_country"),
	    text_or_null(res, 0, 4));
	r = jv_object_set(r, jv_string("optout_mode"),
	    text_or_null(res, 0, 5));
	r = jv_object_set(r, jv_string("languages"),
	    jv_parse(PQgetvalue(res, 0, 6)));
	emit(c, r);
	PQclear(res);
}

/* Return 1 when LIST, split at commas, contains LANG. */
static int
list_contains(const char *list, const char *lang)
{
	size_t n = strlen(lang);
	const char *p = list;

	while (p != NULL) {
		if (strncmp(p, lang, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
		if ((p = strchr(p, ',')) != NULL)
			p++;
	}
	return 0;
}

/* Exit with a usage error for LANG, listing the languages of PACKS. */
static void
unknown_language(PGresult *packs, const char *lang)
{
	struct buf known = { 0 };
	int i, n = PQntuples(packs);

	for (i = 0; i < n; i++) {
		if (i > 0 && i + 1 < n)
			buf_adds(&known, ", ");
		else if (i > 0)
			buf_adds(&known, " and ");
		buf_adds(&known, PQgetvalue(packs, i, 0));
	}
	if (n == 0)
		errx(EX_USAGE, "unknown language \"%s\": the database has no "
		    "language packs; run convo-db migrate", lang);
	errx(EX_USAGE, "unknown language \"%s\": the language packs are %s",
	    lang, known.data);
}

/*
 * Check the comma-separated language list TEXT against the language
 * packs, and exit with a usage error on an empty item. Returns it
 * lower-cased, without repeats, as a PostgreSQL array literal such as
 * "{en,es}".
 */
static char *
pack_languages(struct context *c, const char *text)
{
	struct buf list = { 0 };
	PGresult *packs;
	char *copy, *item, *next, *p;
	int i, found;

	packs = query(c, "cannot read the language packs", "SELECT DISTINCT "
	    "lang FROM convo.keyword_packs ORDER BY 1", 0, NULL);
	copy = xstrdup(text);
	for (p = copy; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	for (item = copy; item != NULL; item = next) {
		if ((next = strchr(item, ',')) != NULL)
			*next++ = '\0';
		if (*item == '\0')
			errx(EX_USAGE, "invalid --lang \"%s\": empty language "
			    "code; separate the codes with single commas, as "
			    "in en,es", text);
		/* The list so far starts after its opening brace. */
		if (list.data != NULL && list_contains(list.data + 1, item))
			continue;
		for (i = found = 0; i < PQntuples(packs) && !found; i++)
			found = strcmp(PQgetvalue(packs, i, 0), item) == 0;
		if (!found)
			unknown_language(packs, item);
		buf_adds(&list, list.data == NULL ? "{" : ",");
		buf_adds(&list, item);
	}
	free(copy);
	PQclear(packs);
	buf_addc(&list, '}');
	return list.data;
}

/* Append "COLUMN = $N" to SQL, with VALUE the next parameter N. */
static void
set_column(struct buf *sql, const char **params, int *n,
    const char *column, const char *value)
{
	char part[128];

	params[*n] = value;
	(*n)++;
	snprintf(part, sizeof(part), "%s%s = $%d", *n > 2 ? ", " : "",
	    column, *n);
	buf_adds(sql, part);
}

/* Return TEXT, or NULL for an empty TEXT, which removes the setting. */
static const char *
empty_as_null(const char *text)
{
	return text != NULL && *text != '\0' ? text : NULL;
}

static void
update_settings(struct context *c, const char *country, const char *langs)
{
	struct buf sql = { 0 };
	const char *params[8] = { c->account_id };
	int n = 1;

	buf_adds(&sql, "UPDATE convo.accounts SET ");
	if (c->brand != NULL)
		set_column(&sql, params, &n, "brand_name", c->brand);
	if (c->given & OPTION_BIT(OPT_HELP_CONTACT))
		set_column(&sql, params, &n, "help_contact",
		    empty_as_null(c->help_contact));
	if (c->given & OPTION_BIT(OPT_FREQUENCY))
		set_column(&sql, params, &n, "message_frequency",
		    empty_as_null(c->frequency));
	if (country != NULL)
		set_column(&sql, params, &n, "default_country", country);
	if (c->optout_mode != NULL)
		set_column(&sql, params, &n, "optout_mode", c->optout_mode);
	if (langs != NULL)
		set_column(&sql, params, &n, "languages", langs);
	buf_adds(&sql, " WHERE account_id = $1");
	begin_changes(c);
	PQclear(query(c, "cannot change the account settings", sql.data, n,
	    params));
	/* Words the account has keep their action and reply. */
	if (langs != NULL)
		PQclear(query(c, "cannot add the language packs' keywords",
		    "SELECT convo.keywords_seed($1)", 1, params));
	db_exec(c->conn, "COMMIT");
	buf_free(&sql);
}

/* Check the text options of settings that need no database. */
static void
check_settings_text(const struct context *c)
{
	const char *texts[3] = { c->brand, c->help_contact, c->frequency };
	static const char *const names[3] = {
		"--brand", "--help-contact", "--frequency",
	};
	char quoted[80];
	int i;

	/* A brand of white space alone reads as none at the reply's start. */
	if (c->brand != NULL && c->brand[strspn(c->brand, " \t\n\v\f\r")] ==
	    '\0')
		errx(EX_USAGE, "--brand needs a name: replies start with it");
	for (i = 0; i < 3; i++) {
		if (texts[i] != NULL && !utf8_valid(texts[i], strlen(texts[i])))
			errx(EX_USAGE, "invalid %s: not valid UTF-8 at byte "
			    "%zu", names[i], utf8_invalid_offset(texts[i],
			    strlen(texts[i])) + 1);
		if (texts[i] != NULL && utf8_control_offset(texts[i]) >= 0)
			errx(EX_USAGE, "invalid %s \"%s\": it contains a "
			    "control character at byte %ld, which replies would "
			    "send to customers", names[i],
			    record_quote(texts[i], quoted),
			    utf8_control_offset(texts[i]) + 1);
	}
}

static int
cmd_settings(struct context *c, int argc, char **argv)
{
	char country[3] = "";
	char *langs = NULL;

	(void)argv;
	if (argc > 0)
		errx(EX_USAGE, "settings takes options only, such as --brand "
		    "TEXT");
	check_settings_text(c);
	if (c->country != NULL) {
		if (!phone_country_known(c->country))
			errx(EX_USAGE, "unknown country code \"%s\": expected "
			    "an ISO 3166 alpha-2 code such as US or GB",
			    c->country);
		country[0] = (char)toupper((unsigned char)c->country[0]);
		country[1] = (char)toupper((unsigned char)c->country[1]);
	}
	open_account(c);
	if (c->lang != NULL)
		langs = pack_languages(c, c->lang);
	if (c->given != 0)
		update_settings(c, country[0] ? country : NULL, langs);
	print_settings(c);
	free(langs);
	return 0;
}

/* Phrases that state in an opt-out reply that no more messages follow. */
static const char *const no_more_phrases[] = {
	"no more", "no further", "no recibirá más", "no recibira mas",
	"ne recevrez plus", NULL,
};

static const char *const message_words[] = { "msg", "message", NULL };

/* Phrases that, next to a message word, state how often messages come. */
static const char *const frequency_phrases[] = {
	"frequency", "varies", "recurring", "per day", "per week",
	"per month", "a day", "a week", "a month", "/day", "/wk", "/week",
	"/mo", "daily", "weekly", "monthly", NULL,
};

static const char *const rates_phrases[] = {
	"rates may apply", "pueden aplicarse tarifas",
	"pueden aplicar tarifas", "peuvent s'appliquer",
	"peuvent s\u2019appliquer", NULL,
};

static void problem(struct lint *, const char *, const char *,
    const char *, ...) __attribute__((format(printf, 4, 5)));

/* Report a lint problem of keyword WORD (NULL for the account). */
static void
problem(struct lint *l, const char *word, const char *action,
    const char *fmt, ...)
{
	char text[512];
	va_list ap;
	jv r;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	r = jv_object_set(jv_object(), jv_string("type"), jv_string("lint"));
	r = jv_object_set(r, jv_string("word"), word != NULL ?
	    jv_string(word) : jv_null());
	r = jv_object_set(r, jv_string("action"), jv_string(action));
	r = jv_object_set(r, jv_string("problem"), jv_string(text));
	emit(l->context, r);
	/* The record is for programs and the sentence for people. */
	if (!l->context->quiet && word != NULL)
		warnx("keyword \"%s\" (%s): %s", word, action, text);
	else if (!l->context->quiet)
		warnx("%s", text);
	l->problems++;
}

/* Return a new string of TEXT with each code point upper-cased. */
static char *
upper_case(const char *text)
{
	struct buf b = { 0 };
	utf8proc_uint8_t out[4];
	utf8proc_int32_t cp;
	utf8proc_ssize_t n, len = (utf8proc_ssize_t)strlen(text), i = 0;

	while (i < len && (n = utf8proc_iterate((const utf8proc_uint8_t *)
	    text + i, len - i, &cp)) > 0) {
		buf_add(&b, (const char *)out,
		    utf8proc_encode_char(utf8proc_toupper(cp), out));
		i += n;
	}
	return b.data != NULL ? b.data : xstrdup("");
}

/* Return 1 when REPLY contains a word of WORDS as whole words. */
static int
names(const struct keyword_set *words, const char *reply)
{
	size_t i;

	for (i = 0; i < words->count; i++)
		if (keyword_has_words(reply, words->items[i].word))
			return 1;
	return 0;
}

/*
 * The main opt-out, opt-in and help words of the language packs, which
 * lint suggests before other keywords of the same language.
 */
static const char *const usual_keywords[] = {
	"stop", "parar", "arret", "start", "help", "ayuda", "aide", NULL,
};

static int
usual_keyword(const char *word)
{
	const char *const *w;

	for (w = usual_keywords; *w != NULL; w++)
		if (strcmp(*w, word) == 0)
			return 1;
	return 0;
}

/*
 * Return, as a new upper-case string, the keyword of ACTION that a reply
 * in language LANG should name. The first pass takes a usual keyword in
 * LANG, the second any keyword in LANG, the third a usual keyword in any
 * language, and the last any keyword, in list order.
 */
static char *
example(const struct lint *l, const char *action, const char *lang)
{
	const PGresult *res = l->keywords;
	int pass, i, n = PQntuples(res), same_lang, usual;

	for (pass = 0; pass < 4; pass++) {
		for (i = 0; i < n; i++) {
			if (strcmp(PQgetvalue(res, i, 1), action) != 0)
				continue;
			same_lang = strcmp(PQgetvalue(res, i, 3), lang) == 0;
			usual = usual_keyword(PQgetvalue(res, i, 0));
			if ((pass == 0 && same_lang && usual) ||
			    (pass == 1 && same_lang) || (pass == 2 && usual) ||
			    pass == 3)
				return upper_case(PQgetvalue(res, i, 0));
		}
	}
	return xstrdup("");
}

/*
 * Report that the reply of keyword WORD, of action ACTION and language
 * LANG, names no keyword of action NEEDED: the sentence TEXT and an
 * example. When the reply names a standard keyword of NEEDED that the
 * account does not have with that action, the problem names that word
 * instead, because an example of another word would hide the cause.
 */
static void
missing_keyword(struct lint *l, const char *word, const char *action,
    const char *needed, const char *reply, const char *lang,
    const char *text)
{
	const struct keyword_standard *s;
	char *suggestion;

	for (s = keyword_standards; s->word != NULL; s++) {
		if (strcmp(keyword_action_name(s->action), needed) == 0 &&
		    keyword_has_words(reply, s->upper)) {
			problem(l, word, action, "reply tells customers to send "
			    "%s, but %s is not %s %s keyword of the account",
			    s->upper, s->upper, article(needed), needed);
			return;
		}
	}
	suggestion = example(l, needed, lang);
	problem(l, word, action, "%s, such as %s", text, suggestion);
	free(suggestion);
}

/* Return 1 when NORMAL, a reply in normal form, contains PHRASE. */
static int
says(const char *normal, const char *phrase)
{
	char *p = normalize(phrase, strlen(phrase));
	int found;

	found = *p != '\0' && strstr(normal, p) != NULL;
	free(p);
	return found;
}

static int
says_any(const char *normal, const char *const *phrases)
{
	for (; *phrases != NULL; phrases++)
		if (says(normal, *phrases))
			return 1;
	return 0;
}

/* Check that REPLY names an opt-out keyword, to show how to opt out. */
static void
lint_opt_out_keyword(struct lint *l, const char *word, const char *action,
    const char *reply, const char *lang)
{
	if (l->opt_out.count == 0)
		problem(l, word, action, "reply cannot say how to opt out: "
		    "the account has no opt_out keyword");
	else if (!names(&l->opt_out, reply))
		missing_keyword(l, word, action, "opt_out", reply, lang,
		    "reply does not say how to opt out with an opt_out "
		    "keyword in upper case");
}

static void
lint_opt_out(struct lint *l, const char *word, const char *reply,
    const char *normal, const char *lang)
{
	if (!says_any(normal, no_more_phrases))
		problem(l, word, "opt_out", "reply does not say that no more "
		    "messages will be sent, such as \"You will receive no "
		    "more messages\"");
	if (l->opt_in.count == 0)
		problem(l, word, "opt_out", "reply cannot say how to opt back "
		    "in: the account has no opt_in keyword");
	else if (!names(&l->opt_in, reply))
		missing_keyword(l, word, "opt_out", "opt_in", reply, lang,
		    "reply does not say how to opt back in with an opt_in "
		    "keyword in upper case");
}

static void
lint_opt_in(struct lint *l, const char *word, const char *reply,
    const char *normal, const char *lang)
{
	int frequency = (l->frequency != NULL && says(normal, l->frequency))
	    || (says_any(normal, message_words) &&
	    says_any(normal, frequency_phrases));

	if (!frequency)
		problem(l, word, "opt_in", "reply does not state the message "
		    "frequency, such as \"Msg frequency varies.\"; set it with "
		    "convo-keywords settings --frequency");
	if (!says_any(normal, rates_phrases))
		problem(l, word, "opt_in", "reply does not say \"Msg & data "
		    "rates may apply\"");
	if (l->help.count == 0)
		problem(l, word, "opt_in", "reply cannot name a help keyword: "
		    "the account has none");
	else if (!names(&l->help, reply))
		missing_keyword(l, word, "opt_in", "help", reply, lang,
		    "reply does not name a help keyword in upper case");
	lint_opt_out_keyword(l, word, "opt_in", reply, lang);
}

static void
lint_help(struct lint *l, const char *word, const char *reply,
    const char *normal, const char *lang)
{
	if (l->help_contact == NULL)
		problem(l, word, "help", "no help contact set; set it with "
		    "convo-keywords settings --help-contact");
	else if (!says(normal, l->help_contact))
		problem(l, word, "help", "reply does not give the help "
		    "contact \"%s\"", l->help_contact);
	lint_opt_out_keyword(l, word, "help", reply, lang);
}

/*
 * Report a reply STORED with {help} while the account has no help
 * contact, because convo.reply_expand leaves out each sentence that
 * contains it. REPLY is the expanded reply. Returns 1 when nothing of
 * the reply is left, so that no other check applies.
 */
static int
lint_help_placeholder(struct lint *l, const char *word, const char *action,
    const char *reply, const char *stored)
{
	if (l->help_contact != NULL || stored == NULL ||
	    strstr(stored, "{help}") == NULL)
		return 0;
	if (reply == NULL) {
		problem(l, word, action, "reply is empty without a help "
		    "contact, because every sentence contains {help}, so no "
		    "reply is sent; set one with convo-keywords settings "
		    "--help-contact");
		return 1;
	}
	/* lint_help() reports a help keyword without a contact. */
	if (strcmp(action, "help") != 0)
		problem(l, word, action, "reply uses {help}, but the account "
		    "has no help contact, so the sentences that contain {help} "
		    "are left out; set one with convo-keywords settings "
		    "--help-contact");
	return 0;
}

/*
 * Report each word in braces of the reply STORED that is no placeholder,
 * such as {HELP} or {Brand}, which customers would receive as written.
 */
static void
lint_unknown_placeholders(struct lint *l, const char *word,
    const char *action, const char *stored)
{
	static const char *const known[] = {
		"{brand}", "{help}", "{frequency}", NULL,
	};
	const char *open, *close, *p;
	const char *const *k;
	int letters;

	for (open = stored; open != NULL && (open = strchr(open, '{')) != NULL;
	    open++) {
		close = strchr(open, '}');
		if (close == NULL)
			return;
		letters = close > open + 1;
		for (p = open + 1; p < close && letters; p++)
			letters = isalpha((unsigned char)*p) || *p == '_';
		for (k = known; letters && *k != NULL; k++)
			if ((size_t)(close - open + 1) == strlen(*k) &&
			    strncmp(open, *k, strlen(*k)) == 0)
				letters = 0;
		if (letters)
			problem(l, word, action, "reply has \"%.*s\", which is "
			    "no placeholder and is sent as written; the "
			    "placeholders are {brand}, {help} and {frequency}",
			    (int)(close - open + 1), open);
	}
}

/*
 * Check the reply of one keyword: REPLY as expanded with the settings,
 * from STORED as the keyword has it.
 */
static void
lint_keyword(struct lint *l, const char *word, const char *action,
    const char *reply, const char *lang, const char *stored)
{
	char *normal;
	int chars;

	if (stored != NULL)
		lint_unknown_placeholders(l, word, action, stored);
	if (lint_help_placeholder(l, word, action, reply, stored))
		return;
	if (strcmp(action, "custom") == 0)
		return;
	if (reply == NULL || *reply == '\0') {
		problem(l, word, action, "no reply");
		return;
	}
	chars = segments_characters(reply, strlen(reply));
	if (chars > SEND_BODY_MAX || chars < 0)
		problem(l, word, action, "reply is longer than %d characters, "
		    "so convo-send rejects it", SEND_BODY_MAX);
	normal = normalize(reply, strlen(reply));
	if (!says(normal, l->brand))
		problem(l, word, action, "reply does not name the brand "
		    "\"%s\"", l->brand);
	if (strcmp(action, "opt_out") == 0)
		lint_opt_out(l, word, reply, normal, lang);
	else if (strcmp(action, "opt_in") == 0)
		lint_opt_in(l, word, reply, normal, lang);
	else if (strcmp(action, "help") == 0)
		lint_help(l, word, reply, normal, lang);
	free(normal);
}

static void
load_lint_settings(struct lint *l)
{
	struct context *c = l->context;
	const char *params[1] = { c->account_id };
	PGresult *res;

	res = query(c, "cannot read the account settings", "SELECT "
	    "brand_name, help_contact, message_frequency FROM convo.accounts "
	    "WHERE account_id = $1", 1, params);
	l->brand = xstrdup(PQgetvalue(res, 0, 0));
	if (!PQgetisnull(res, 0, 1))
		l->help_contact = xstrdup(PQgetvalue(res, 0, 1));
	if (!PQgetisnull(res, 0, 2))
		l->frequency = xstrdup(PQgetvalue(res, 0, 2));
	PQclear(res);
}

/*
 * Fill the upper-case keyword sets of L and return the keywords with
 * their replies expanded, in list order, as L->keywords also points to.
 */
static PGresult *
load_lint_keywords(struct lint *l)
{
	struct context *c = l->context;
	const char *params[1] = { c->account_id };
	struct keyword_set *set;
	PGresult *res;
	char *upper;
	int i, n;

	res = query(c, "cannot read the keywords", "SELECT k.word, k.action, "
	    "convo.reply_expand(k.reply, a.brand_name, a.help_contact, "
	    "a.message_frequency), k.lang, k.reply FROM convo.keywords k "
	    "JOIN convo.accounts "
	    "a ON a.account_id = k.account_id WHERE k.account_id = $1 "
	    "ORDER BY " KEYWORD_ORDER, 1, params);
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		switch (keyword_action_parse(PQgetvalue(res, i, 1))) {
		case KEYWORD_OPT_OUT: set = &l->opt_out; break;
		case KEYWORD_OPT_IN: set = &l->opt_in; break;
		case KEYWORD_HELP: set = &l->help; break;
		default: continue;
		}
		upper = upper_case(PQgetvalue(res, i, 0));
		keyword_set_add(set, upper, KEYWORD_OPT_OUT, 0);
		free(upper);
	}
	l->keywords = res;
	return res;
}

/*
 * Report each keyword of RES, rows as for stored_action(), whose words
 * read as an opt-out, or that a pack of the account's languages makes an
 * opt-out, but whose action is not opt_out. SQL, an older convo-keywords,
 * an opt_out keyword or a language added later can leave one.
 */
static void
lint_opt_out_words(struct lint *l, const PGresult *res)
{
	struct keyword_set set = { 0 };
	const char *word, *action, *found;
	char *langs;
	int i, n = PQntuples(res);

	db_load_keywords(l->context->conn, atoll(l->context->account_id),
	    &set);
	for (i = 0; i < n; i++) {
		word = PQgetvalue(res, i, 0);
		action = PQgetvalue(res, i, 1);
		if (strcmp(action, "opt_out") == 0)
			continue;
		if ((langs = pack_opt_out_languages(l->context, word)) != NULL) {
			/* reset takes one keyword per operand, so a phrase is
			 * quoted. */
			problem(l, word, action, "keyword is an opt-out in the %s "
			    "language pack of the account, but its action is %s. "
			    "Make it an opt_out keyword with convo-keywords reset "
			    "%s%s%s", langs, action, strchr(word, ' ') != NULL ? "'" : "", word,
			    strchr(word, ' ') != NULL ? "'" : "");
			free(langs);
			continue;
		}
		if ((found = keyword_opt_out_words(&set, word)) == NULL)
			continue;
		problem(l, word, action, "keyword contains the opt-out words "
		    "\"%s\", so a customer who sends it asks to opt out, but "
		    "stays subscribed, gets its reply and is not flagged as a "
		    "possible opt-out. Make it an opt_out keyword with "
		    "convo-keywords add %s --action opt_out --reply TEXT, or "
		    "remove it", found, word);
	}
	keyword_set_free(&set);
}

/* Report each fixed standard keyword that the account lacks or changed. */
static void
lint_standard_keywords(struct lint *l)
{
	const struct keyword_standard *s;
	const char *action;
	char text[512];

	for (s = keyword_standards; s->word != NULL; s++) {
		if (!s->fixed)
			continue;
		action = stored_action(l->keywords, s->word);
		if (standard_keyword_problem(s, action, text,
		    sizeof(text)) != 0)
			problem(l, s->word, action != NULL ? action :
			    keyword_action_name(s->action), "%s", text);
	}
}

static int
cmd_lint(struct context *c, int argc, char **argv)
{
	struct lint l = { .context = c };
	PGresult *res;
	int i, n;

	(void)argv;
	if (argc > 0)
		errx(EX_USAGE, "lint takes no arguments");
	open_account(c);
	load_lint_settings(&l);
	res = load_lint_keywords(&l);
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		lint_keyword(&l, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		    PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2),
		    PQgetvalue(res, i, 3),
		    PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4));
	lint_standard_keywords(&l);
	lint_opt_out_words(&l, res);
	PQclear(res);
	if (l.opt_out.count == 0)
		problem(&l, NULL, "opt_out", "the account has no opt_out "
		    "keyword; add one such as STOP with convo-keywords add, "
		    "or run convo-keywords reset");
	if (l.help.count == 0)
		problem(&l, NULL, "help", "the account has no help keyword; "
		    "add one such as HELP with convo-keywords add, or run "
		    "convo-keywords reset");
	keyword_set_free(&l.opt_out);
	keyword_set_free(&l.opt_in);
	keyword_set_free(&l.help);
	free(l.brand);
	free(l.help_contact);
	free(l.frequency);
	return l.problems > 0 ? EX_DATAERR : 0;
}

static const struct command commands[] = {
	{ "list", cmd_list, 0 },
	{ "export", cmd_list, 0 },
	{ "add", cmd_add, ADD_OPTIONS },
	{ "remove", cmd_remove, 0 },
	{ "reset", cmd_reset, 0 },
	{ "import", cmd_import, 0 },
	{ "test", cmd_test, 0 },
	{ "settings", cmd_settings, SETTINGS_OPTIONS },
	{ "lint", cmd_lint, 0 },
	{ "history", cmd_history, 0 },
	{ NULL, NULL, 0 },
};

/* Return the command NAME, or exit with a usage error. */
static const struct command *
find_command(const char *name)
{
	const struct command *cmd;

	for (cmd = commands; cmd->name != NULL; cmd++)
		if (strcmp(cmd->name, name) == 0)
			return cmd;
	errx(EX_USAGE, "unknown command \"%s\": expected list, export, add, "
	    "remove, reset, import, test, settings, lint or history", name);
}

/* Exit with a usage error when C has an option that CMD does not take. */
static void
check_command_options(const struct context *c, const struct command *cmd)
{
	unsigned i, extra = c->given & ~cmd->options;

	for (i = 0; extra != 0; i++, extra >>= 1)
		if (extra & 1)
			errx(EX_USAGE, "option %s does not apply to %s",
			    option_names[i], cmd->name);
}

/* Store a command option's value; check those with a fixed set. */
static void
set_command_option(struct context *c, int opt, const char *value)
{
	c->given |= OPTION_BIT(opt);
	switch (opt) {
	case OPT_ACTION:
		if (keyword_action_parse(value) == KEYWORD_NONE)
			errx(EX_USAGE, "unknown action \"%s\": expected "
			    "opt_out, opt_in, help or custom", value);
		c->action = value;
		break;
	case OPT_OPTOUT_MODE:
		if (strcmp(value, "whole") != 0 && strcmp(value, "contains"))
			errx(EX_USAGE, "unknown opt-out mode \"%s\": expected "
			    "whole or contains", value);
		c->optout_mode = value;
		break;
	case OPT_REPLY: c->reply = value; break;
	case OPT_LANG: c->lang = value; break;
	case OPT_ONLY_UNSUBSCRIBED: c->only_unsubscribed = 1; break;
	case OPT_BRAND: c->brand = value; break;
	case OPT_HELP_CONTACT: c->help_contact = value; break;
	case OPT_FREQUENCY: c->frequency = value; break;
	case OPT_COUNTRY: c->country = value; break;
	}
}

/* Values of option arguments and operands for the shell completions. */
static const char *
complete_value(int option, int argc, char **argv)
{
	switch (option) {
	case 'a': return CLI_ACCOUNT;
	case OPT_ACTION: return "opt_out opt_in help custom";
	case OPT_OPTOUT_MODE: return "whole contains";
	case 0: break;
	default: return NULL;
	}
	if (argc == 0)
		return "list export add remove reset import test settings lint "
		    "history";
	if (strcmp(argv[0], "remove") == 0)
		return CLI_KEYWORD;
	if (strcmp(argv[0], "reset") == 0)
		return CLI_PACK_KEYWORD;
	if (strcmp(argv[0], "import") == 0 && argc == 1)
		return CLI_FILE;
	return NULL;
}

/*
 * Parse every option, before or after the command. Texts that start
 * with '-' follow "--".
 */
static void
parse_options(struct context *c, int argc, char **argv)
{
	static const struct option options[] = {
		{ "account", required_argument, NULL, 'a' },
		{ "action", required_argument, NULL, OPT_ACTION },
		{ "brand", required_argument, NULL, OPT_BRAND },
		{ "country", required_argument, NULL, OPT_COUNTRY },
		{ "db", required_argument, NULL, 'd' },
		{ "frequency", required_argument, NULL, OPT_FREQUENCY },
		{ "help", no_argument, NULL, 'h' },
		{ "help-contact", required_argument, NULL, OPT_HELP_CONTACT },
		{ "lang", required_argument, NULL, OPT_LANG },
		{ "only-unsubscribed", no_argument, NULL,
		    OPT_ONLY_UNSUBSCRIBED },
		{ "operator", required_argument, NULL, 'o' },
		{ "optout-mode", required_argument, NULL, OPT_OPTOUT_MODE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "reply", required_argument, NULL, OPT_REPLY },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		CLI_COMPLETE_OPTION,
		{ NULL, 0, NULL, 0 },
	};
	static const struct cli_program prog = {
		"a:d:ho:qvV", options, complete_value,
	};
	int opt;

	while ((opt = getopt_long(argc, argv, prog.shortopts, options, NULL))
	    != -1) {
		switch (opt) {
		case CLI_OPT_COMPLETE:
			cli_complete(&prog, optarg, argc - optind, argv + optind);
		case 'a': c->account = optarg; break;
		case 'd': c->db = cli_conninfo_option(optarg); break;
		case 'h': help(); break;
		case 'o':
			cli_check_name("operator", optarg);
			c->operator = optarg;
			break;
		case 'q':
			c->quiet = 1;
			cli_verbosity = CLI_QUIET;
			break;
		case 'v': cli_verbosity = CLI_VERBOSE; break;
		case 'V': db_print_version(); break;
		default:
			if (opt < OPT_ACTION || opt >= CLI_OPT_COMPLETE)
				usage();
			set_command_option(c, opt, optarg);
		}
	}
}

int
main(int argc, char **argv)
{
	struct context c = { 0 };
	const struct command *cmd;
	int status;

	/* A closed pipe must show up as a failed write, not end the run. */
	signal(SIGPIPE, SIG_IGN);
	parse_options(&c, argc, argv);
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage();
	cmd = find_command(argv[0]);
	check_command_options(&c, cmd);
	c.account = convo_account(c.account);
	if (c.operator == NULL)
		c.operator = cli_login_name();
	status = cmd->run(&c, argc - 1, argv + 1);
	cli_phase(cmd->name);
	if (c.conn != NULL)
		PQfinish(c.conn);
	if (c.output_failed || view_flush() != 0)
		status = exit_merge(status, EX_IOERR);
	return status;
}
