/*
 * Matching an inbound text's keyword normal form (keyword_normalize())
 * against an account's keywords. Pure functions, shared by convo-ingest
 * and convo-keywords.
 */
#ifndef CONVO_MATCH_H
#define CONVO_MATCH_H

#include <stddef.h>

enum keyword_action {
	KEYWORD_NONE,
	KEYWORD_OPT_OUT,
	KEYWORD_OPT_IN,
	KEYWORD_HELP,
	KEYWORD_CUSTOM,
};

struct keyword {
	char *word;		/* normal form, owned by the set */
	enum keyword_action action;
	int only_unsubscribed;	/* an opt-in such as YES */
};

/* An account's keywords and how opt-out keywords match. */
struct keyword_set {
	struct keyword *items;
	size_t count;
	size_t cap;
	/* Opt-out keywords also match as whole words inside a text. */
	int contains;
};

struct keyword_match {
	const struct keyword *keyword;	/* borrowed from the set, or NULL */
	int inside;		/* matched as words inside the text */
	int possible_opt_out;	/* no keyword, but reads like a revocation */
	const char *reason;	/* static text: how it matched or why not */
};

/*
 * A standard keyword: an English word that carriers or Twilio act on
 * whatever the account's keywords are. By default Twilio opts a number
 * out on STOP, STOPALL, UNSUBSCRIBE, CANCEL, END and QUIT, back in on
 * START, YES and UNSTOP, and replies to HELP and INFO. US carrier rules
 * (CTIA) expect STOP, END, CANCEL, UNSUBSCRIBE and QUIT to opt out and
 * HELP to get the help reply.
 */
struct keyword_standard {
	const char *word;		/* normal form */
	const char *upper;		/* as replies write it */
	enum keyword_action action;
	/*
	 * The account must keep the word with this action. Opt-in words
	 * may change, because without them convo sends fewer messages,
	 * never more.
	 */
	int fixed;
	const char *reason;		/* who treats the word so, a clause */
};

/* The standard keywords, ended by an entry whose word is NULL. */
extern const struct keyword_standard keyword_standards[];

/* Return the standard keyword whose normal form is NORMAL, or NULL. */
const struct keyword_standard *keyword_standard_find(const char *normal);

/*
 * Return the normal forms of the standard keywords as a PostgreSQL array
 * literal such as "{stop,stopall}", a new string that the caller frees.
 */
char *keyword_standard_array(void);

/* Add a copy of WORD, already in normal form, to SET. */
void keyword_set_add(struct keyword_set *set, const char *word,
    enum keyword_action action, int only_unsubscribed);

/* Free the words of SET and empty it. */
void keyword_set_free(struct keyword_set *set);

/* Return the action named NAME ("opt_out", ...), or KEYWORD_NONE. */
enum keyword_action keyword_action_parse(const char *name);

/* Return the name of ACTION, a static string; "none" for KEYWORD_NONE. */
const char *keyword_action_name(enum keyword_action action);

/*
 * Return 1 when NEEDLE occurs in TEXT as a run of whole words: not
 * preceded or followed by a letter, digit or combining mark.
 */
int keyword_has_words(const char *text, const char *needle);

/*
 * Match NORMAL against SET into M. A keyword matches when it equals the
 * whole text; with SET->contains, an opt-out keyword also matches as a
 * run of whole words anywhere in it. A text that matches nothing but has
 * an opt-out keyword as its first or last words, or a phrase such as
 * "remove me" or "stop texting", is a possible opt-out.
 */
void keyword_match(const struct keyword_set *set, const char *normal,
    struct keyword_match *m);

/*
 * Return the opt-out keyword or plain-words phrase ("remove me") that
 * occurs as whole words in WORD, a keyword in normal form, or NULL. The
 * opt-out keywords are those of SET other than WORD itself and the
 * standard ones. A customer who sent WORD would otherwise be an opt-out
 * in contains mode or a possible opt-out, so WORD should be an opt_out
 * keyword. The result is borrowed from SET or static.
 */
const char *keyword_opt_out_words(const struct keyword_set *set,
    const char *word);

#endif
