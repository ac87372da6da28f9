#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "buf.h"
#include "match.h"

static const char *const action_names[] = {
	[KEYWORD_NONE] = "none",
	[KEYWORD_OPT_OUT] = "opt_out",
	[KEYWORD_OPT_IN] = "opt_in",
	[KEYWORD_HELP] = "help",
	[KEYWORD_CUSTOM] = "custom",
};

/*
 * Phrases that revoke consent in plain words. They flag a text for an
 * operator to confirm and never change consent by themselves.
 */
static const char *const revocation_phrases[] = {
	"opt me out", "remove me", "stop texting", "stop messaging",
	"unsubscribe me", "stop sending", "take me off", "do not text me",
	"don't text me", "don\u2019t text me", NULL,
};

const struct keyword_standard keyword_standards[] = {
	{ "stop", "STOP", KEYWORD_OPT_OUT, 1,
	    "carrier rules (CTIA) and Twilio treat STOP as an opt-out" },
	{ "stopall", "STOPALL", KEYWORD_OPT_OUT, 1,
	    "Twilio treats STOPALL as an opt-out" },
	{ "unsubscribe", "UNSUBSCRIBE", KEYWORD_OPT_OUT, 1,
	    "carrier rules (CTIA) and Twilio treat UNSUBSCRIBE as an opt-out" },
	{ "cancel", "CANCEL", KEYWORD_OPT_OUT, 1,
	    "carrier rules (CTIA) and Twilio treat CANCEL as an opt-out" },
	{ "end", "END", KEYWORD_OPT_OUT, 1,
	    "carrier rules (CTIA) and Twilio treat END as an opt-out" },
	{ "quit", "QUIT", KEYWORD_OPT_OUT, 1,
	    "carrier rules (CTIA) and Twilio treat QUIT as an opt-out" },
	{ "start", "START", KEYWORD_OPT_IN, 0,
	    "Twilio treats START as an opt-in" },
	{ "unstop", "UNSTOP", KEYWORD_OPT_IN, 0,
	    "Twilio treats UNSTOP as an opt-in" },
	{ "yes", "YES", KEYWORD_OPT_IN, 0,
	    "Twilio treats YES as an opt-in" },
	{ "help", "HELP", KEYWORD_HELP, 1,
	    "carrier rules (CTIA) and Twilio treat HELP as a help request" },
	{ "info", "INFO", KEYWORD_HELP, 1,
	    "Twilio treats INFO as a help request" },
	{ NULL, NULL, KEYWORD_NONE, 0, NULL },
};

const struct keyword_standard *
keyword_standard_find(const char *normal)
{
	const struct keyword_standard *s;

	for (s = keyword_standards; s->word != NULL; s++)
		if (strcmp(s->word, normal) == 0)
			return s;
	return NULL;
}

char *
keyword_standard_array(void)
{
	const struct keyword_standard *s;
	struct buf words = { 0 };

	for (s = keyword_standards; s->word != NULL; s++) {
		buf_adds(&words, words.data == NULL ? "{" : ",");
		buf_adds(&words, s->word);
	}
	buf_addc(&words, '}');
	return words.data;
}

void
keyword_set_add(struct keyword_set *set, const char *word,
    enum keyword_action action, int only_unsubscribed)
{
	struct keyword *k;

	if (set->count == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 32;
		set->items = xrealloc(set->items,
		    set->cap * sizeof(*set->items));
	}
	k = &set->items[set->count++];
	k->word = xstrdup(word);
	k->action = action;
	k->only_unsubscribed = only_unsubscribed;
}

void
keyword_set_free(struct keyword_set *set)
{
	size_t i;

	for (i = 0; i < set->count; i++)
		free(set->items[i].word);
	free(set->items);
	set->items = NULL;
	set->count = set->cap = 0;
}

enum keyword_action
keyword_action_parse(const char *name)
{
	size_t i;

	for (i = KEYWORD_OPT_OUT; i <= KEYWORD_CUSTOM; i++)
		if (strcmp(name, action_names[i]) == 0)
			return (enum keyword_action)i;
	return KEYWORD_NONE;
}

const char *
keyword_action_name(enum keyword_action action)
{
	if (action < KEYWORD_NONE || action > KEYWORD_CUSTOM)
		return "none";
	return action_names[action];
}

/*
 * Return 1 when the code point that starts at S (not past END) is part
 * of a word: a letter, a digit or a combining mark. The start or end of
 * the text is not.
 */
static int
word_char_at(const char *s, const char *end)
{
	utf8proc_int32_t cp;
	utf8proc_category_t c;

	if (s >= end || utf8proc_iterate((const utf8proc_uint8_t *)s,
	    end - s, &cp) <= 0)
		return 0;
	c = utf8proc_category(cp);
	return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_ND) ||
	    c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

/* Return 1 when the code point that ends just before S is part of a word. */
static int
word_char_before(const char *start, const char *s)
{
	const char *p = s;

	if (p <= start)
		return 0;
	p--;
	while (p > start && ((unsigned char)*p & 0xc0) == 0x80)
		p--;
	return word_char_at(p, s);
}

int
keyword_has_words(const char *text, const char *needle)
{
	const char *end = text + strlen(text), *p = text;
	size_t n = strlen(needle);

	if (n == 0)
		return 0;
	while ((p = strstr(p, needle)) != NULL) {
		if (!word_char_before(text, p) && !word_char_at(p + n, end))
			return 1;
		p++;
	}
	return 0;
}

/* Return 1 when TEXT starts or ends with the whole words WORD. */
static int
at_either_end(const char *text, const char *word)
{
	size_t t = strlen(text), n = strlen(word);

	if (n == 0 || n > t)
		return 0;
	if (strncmp(text, word, n) == 0 && !word_char_at(text + n, text + t))
		return 1;
	return strcmp(text + t - n, word) == 0 &&
	    !word_char_before(text, text + t - n);
}

static void
match_possible_opt_out(const struct keyword_set *set, const char *normal,
    struct keyword_match *m)
{
	const char *const *phrase;
	size_t i;

	for (i = 0; i < set->count; i++) {
		if (set->items[i].action == KEYWORD_OPT_OUT &&
		    at_either_end(normal, set->items[i].word)) {
			m->possible_opt_out = 1;
			m->reason = "possible opt-out: an opt-out keyword is its "
			    "first or last word";
			return;
		}
	}
	for (phrase = revocation_phrases; *phrase != NULL; phrase++) {
		if (keyword_has_words(normal, *phrase)) {
			m->possible_opt_out = 1;
			m->reason = "possible opt-out: it asks to stop in plain "
			    "words";
			return;
		}
	}
}

const char *
keyword_opt_out_words(const struct keyword_set *set, const char *word)
{
	const struct keyword_standard *s;
	const char *const *phrase;
	size_t i;

	for (i = 0; i < set->count; i++)
		if (set->items[i].action == KEYWORD_OPT_OUT &&
		    strcmp(set->items[i].word, word) != 0 &&
		    keyword_has_words(word, set->items[i].word))
			return set->items[i].word;
	for (s = keyword_standards; s->word != NULL; s++)
		if (s->action == KEYWORD_OPT_OUT && strcmp(s->word, word) != 0 &&
		    keyword_has_words(word, s->word))
			return s->word;
	for (phrase = revocation_phrases; *phrase != NULL; phrase++)
		if (keyword_has_words(word, *phrase))
			return *phrase;
	return NULL;
}

void
keyword_match(const struct keyword_set *set, const char *normal,
    struct keyword_match *m)
{
	size_t i;

	memset(m, 0, sizeof(*m));
	if (normal == NULL || *normal == '\0') {
		m->reason = "no letters or digits to match";
		return;
	}
	for (i = 0; i < set->count; i++) {
		if (strcmp(normal, set->items[i].word) == 0) {
			m->keyword = &set->items[i];
			m->reason = "the whole text is a keyword";
			return;
		}
	}
	for (i = 0; set->contains && i < set->count; i++) {
		if (set->items[i].action == KEYWORD_OPT_OUT &&
		    keyword_has_words(normal, set->items[i].word)) {
			m->keyword = &set->items[i];
			m->inside = 1;
			m->reason = "an opt-out keyword is a word of the text "
			    "(contains mode)";
			return;
		}
	}
	m->reason = "no keyword equals the whole text";
	match_possible_opt_out(set, normal, m);
}
