/*
 * Table-driven tests of keyword matching: the English defaults written
 * every way customers write them, near misses, possible opt-outs and
 * the contains mode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyword.h"
#include "match.h"
#include "unit.h"

static const struct {
	const char *word;
	enum keyword_action action;
	int only_unsubscribed;
} defaults[] = {
	{ "stop", KEYWORD_OPT_OUT, 0 }, { "stopall", KEYWORD_OPT_OUT, 0 },
	{ "stop all", KEYWORD_OPT_OUT, 0 },
	{ "unsubscribe", KEYWORD_OPT_OUT, 0 },
	{ "cancel", KEYWORD_OPT_OUT, 0 }, { "end", KEYWORD_OPT_OUT, 0 },
	{ "quit", KEYWORD_OPT_OUT, 0 }, { "revoke", KEYWORD_OPT_OUT, 0 },
	{ "optout", KEYWORD_OPT_OUT, 0 }, { "opt out", KEYWORD_OPT_OUT, 0 },
	{ "start", KEYWORD_OPT_IN, 0 }, { "unstop", KEYWORD_OPT_IN, 0 },
	{ "yes", KEYWORD_OPT_IN, 1 },
	{ "help", KEYWORD_HELP, 0 }, { "info", KEYWORD_HELP, 0 },
};

#define NDEFAULTS (sizeof(defaults) / sizeof(defaults[0]))

/* Ways of writing a keyword; %s is the keyword in the case given. */
static const char *const wrappers[] = {
	"%s", " %s ", "%s.", "%s!", "%s!!!", "\"%s\"", "%s \xf0\x9f\x9b\x91",
	"\xf0\x9f\x99\x8f %s", "%s\n", "\n%s\n\n", "\t%s\r\n", "(%s)",
	"%s?", "...%s...", "%s \xe2\x9d\xa4\xef\xb8\x8f",
};

static const char *const near_misses[] = {
	"Stop. Thank you", "cancel my order", "ST0P", "stopp", "Yes please",
	"Help me find my order", "stop it now please", "I want to quit smoking",
	"end of the line", "information", "starting now", "s t o p",
	"don't stop the deliveries",
};

/* Texts that are no keyword but flag a possible opt-out. */
static const char *const possible[] = {
	"Stop. Thank you", "please stop", "stop sending me these",
	"Can you remove me from this list", "opt me out", "Unsubscribe me",
	"stop texting me", "STOP MESSAGING ME!!",
};

/* Texts that neither match nor flag anything. */
static const char *const ordinary[] = {
	"don't stop the deliveries", "Where is my order?",
	"Yes please", "Help me find my order", "I will start tomorrow",
};

static void
load_defaults(struct keyword_set *set, int contains)
{
	size_t i;

	memset(set, 0, sizeof(*set));
	set->contains = contains;
	for (i = 0; i < NDEFAULTS; i++)
		keyword_set_add(set, defaults[i].word, defaults[i].action,
		    defaults[i].only_unsubscribed);
}

static void
match_text(const struct keyword_set *set, const char *text,
    struct keyword_match *m)
{
	char *normal = keyword_normalize(text, strlen(text));

	keyword_match(set, normal, m);
	free(normal);
}

/* Upper, lower, title case and full-width forms of WORD. */
static void
case_forms(const char *word, char forms[4][128])
{
	size_t i, n = strlen(word), k = 0;

	for (i = 0; i <= n; i++) {
		forms[0][i] = (char)(word[i] >= 'a' && word[i] <= 'z' ? word[i] - 32 : word[i]);
		forms[1][i] = word[i];
		forms[2][i] = (char)(i == 0 ? (word[i] >= 'a' && word[i] <= 'z' ? word[i] - 32 : word[i]) :
		    word[i]);
	}
	/* Full-width Latin letters are U+FF21.. (upper case), 3 bytes. */
	for (i = 0; i < n && k + 4 < 128; i++) {
		unsigned char c = (unsigned char)word[i];

		if (c >= 'a' && c <= 'z') {
			unsigned cp = 0xff21 + (c - 'a');

			forms[3][k++] = (char)(0xe0 | cp >> 12);
			forms[3][k++] = (char)(0x80 | (cp >> 6 & 0x3f));
			forms[3][k++] = (char)(0x80 | (cp & 0x3f));
		} else {
			forms[3][k++] = (char)c;
		}
	}
	forms[3][k] = '\0';
}

static const char *const form_names[] = {
	"upper case", "lower case", "title case", "full-width letters",
};

static void
check_defaults(int contains)
{
	struct keyword_set set;
	struct keyword_match m;
	char forms[4][128], text[256], name[320];
	size_t i, w, f;

	load_defaults(&set, contains);
	for (i = 0; i < NDEFAULTS; i++) {
		case_forms(defaults[i].word, forms);
		for (f = 0; f < 4; f++) {
			for (w = 0; w < sizeof(wrappers) / sizeof(*wrappers);
			    w++) {
				snprintf(text, sizeof(text), wrappers[w],
				    forms[f]);
				match_text(&set, text, &m);
				snprintf(name, sizeof(name), "%s in %s "
				    "with wrapper %zu matches%s",
				    defaults[i].word, form_names[f], w,
				    contains ? " in contains mode" : "");
				unit_check(m.keyword != NULL && strcmp(
				    m.keyword->word, defaults[i].word) == 0,
				    name);
			}
		}
	}
	keyword_set_free(&set);
}

static void
check_spellings(void)
{
	static const char *const opt_out[] = {
		"opt-out", "OptOut", "OPT_OUT", "Opt Out", "STOP ALL",
		"stop\n\nall", "Stop-All", "ＯＰＴ－ＯＵＴ",
	};
	struct keyword_set set;
	struct keyword_match m;
	char name[128];
	size_t i;

	load_defaults(&set, 0);
	for (i = 0; i < sizeof(opt_out) / sizeof(*opt_out); i++) {
		match_text(&set, opt_out[i], &m);
		snprintf(name, sizeof(name), "\"%s\" is an opt-out", opt_out[i]);
		/* Keep each TAP line whole. */
		for (char *c = name; *c != '\0'; c++)
			if (*c == '\n')
				*c = ' ';
		unit_check(m.keyword != NULL &&
		    m.keyword->action == KEYWORD_OPT_OUT, name);
	}
	match_text(&set, "YES!", &m);
	unit_check(m.keyword != NULL && m.keyword->only_unsubscribed,
	    "YES matches as opt-in only while unsubscribed");
	keyword_set_free(&set);
}

static void
check_list(const char *const *texts, size_t n, int contains,
    int want_keyword, int want_flag)
{
	struct keyword_set set;
	struct keyword_match m;
	char name[256];
	size_t i;

	load_defaults(&set, contains);
	for (i = 0; i < n; i++) {
		match_text(&set, texts[i], &m);
		snprintf(name, sizeof(name), "\"%s\": keyword %s, flag %s%s",
		    texts[i], want_keyword ? "yes" : "no",
		    want_flag < 0 ? "any" : want_flag ? "yes" : "no",
		    contains ? ", contains mode" : "");
		unit_check((m.keyword != NULL) == want_keyword &&
		    (want_flag < 0 || m.possible_opt_out == want_flag), name);
	}
	keyword_set_free(&set);
}

static void
check_contains(void)
{
	static const char *const inside[] = {
		"please stop texting me", "I said STOP.", "ok stop all now",
		"don't stop the deliveries", "Stop. Thank you",
		"cancel my order",
	};
	static const char *const not_inside[] = {
		"stopping by later", "unstoppable", "the weekend", "ST0P",
		"Yes please", "Help me find my order",
	};
	struct keyword_set set;
	struct keyword_match m;

	check_list(inside, sizeof(inside) / sizeof(*inside), 1, 1, 0);
	check_list(not_inside, sizeof(not_inside) / sizeof(*not_inside), 1,
	    0, -1);
	load_defaults(&set, 1);
	match_text(&set, "please stop texting me", &m);
	unit_check(m.inside, "contains mode marks a match inside the text");
	match_text(&set, "help me", &m);
	unit_check(m.keyword == NULL,
	    "contains mode applies to opt-out keywords only");
	keyword_set_free(&set);
}

/* Keywords whose words read as an opt-out, with the words found. */
static void
check_opt_out_words(void)
{
	static const struct {
		const char *word;
		const char *found;	/* NULL when the keyword is fine */
	} cases[] = {
		{ "please stop", "stop" }, { "remove me", "remove me" },
		{ "stop by", "stop" }, { "the end", "end" },
		{ "don t stop the deliveries", "stop" },
		{ "opt out now", "opt out" }, { "revoke it", "revoke" },
		{ "take me off", "take me off" }, { "quit now", "quit" },
		{ "stop", NULL }, { "opt out", NULL }, { "unstop", NULL },
		{ "stopping by", NULL }, { "weekend", NULL }, { "yes", NULL },
		{ "deals", NULL }, { "help me", NULL },
	};
	struct keyword_set set, empty = { 0 };
	const char *found;
	size_t i;

	load_defaults(&set, 0);
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		found = keyword_opt_out_words(&set, cases[i].word);
		if (cases[i].found == NULL)
			unit_check(found == NULL, cases[i].word);
		else
			unit_check_str(found != NULL ? found : "(none)",
			    cases[i].found, cases[i].word);
	}
	unit_check_str(keyword_opt_out_words(&empty, "stop now"), "stop",
	    "standard opt-out word without account keywords");
	keyword_set_free(&set);
}

int
main(void)
{
	check_defaults(0);
	check_defaults(1);
	check_spellings();
	check_list(near_misses, sizeof(near_misses) / sizeof(*near_misses), 0,
	    0, -1);
	check_list(possible, sizeof(possible) / sizeof(*possible), 0, 0,
	    1);
	check_list(ordinary, sizeof(ordinary) / sizeof(*ordinary), 0, 0, 0);
	check_contains();
	check_opt_out_words();
	return unit_done();
}
