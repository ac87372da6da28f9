/*
 * Fuzzes the keyword normal form with arbitrary bytes as an inbound
 * text, and matches the result against the English default keywords.
 * Invariants: only invalid UTF-8 is rejected, the normal form is valid
 * UTF-8 without control characters or outer and doubled spaces, it is
 * its own normal form, the ASCII shortcut gives what utf8proc gives, and
 * a normal form equal to a keyword matches it.
 */
#include "buf.h"
#include "keyword.h"
#include "match.h"
#include "fuzz.h"

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

static struct keyword_set keywords[2];

/* Load the keywords once, before the first input. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t i;
	int contains;

	for (contains = 0; contains < 2; contains++) {
		keywords[contains].contains = contains;
		for (i = 0; i < NDEFAULTS; i++)
			keyword_set_add(&keywords[contains], defaults[i].word,
			    defaults[i].action, defaults[i].only_unsubscribed);
	}
	(void)argc;
	(void)argv;
	return 0;
}

static void
check_form(const char *normal)
{
	size_t i, len = strlen(normal);

	FUZZ_ASSERT(utf8_valid(normal, len));
	if (len == 0)
		return;
	FUZZ_ASSERT(normal[0] != ' ');
	FUZZ_ASSERT(normal[len - 1] != ' ');
	FUZZ_ASSERT(strstr(normal, "  ") == NULL);
	for (i = 0; i < len; i++)
		FUZZ_ASSERT((unsigned char)normal[i] >= 0x20 &&
		    normal[i] != 0x7f);
}

static void
check_match(const char *normal)
{
	struct keyword_match m;
	size_t i;
	int contains;

	for (contains = 0; contains < 2; contains++) {
		memset(&m, 0, sizeof(m));
		keyword_match(&keywords[contains], normal, &m);
		FUZZ_ASSERT(m.reason != NULL);
		FUZZ_ASSERT(m.keyword == NULL || !m.possible_opt_out);
		for (i = 0; i < NDEFAULTS; i++) {
			if (strcmp(normal, defaults[i].word) != 0)
				continue;
			FUZZ_ASSERT(m.keyword != NULL);
			FUZZ_ASSERT(strcmp(m.keyword->word, normal) == 0);
			FUZZ_ASSERT(!m.inside);
		}
		/* A match inside the text needs the contains mode. */
		FUZZ_ASSERT(contains || !m.inside);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char *normal, *again;

	normal = keyword_normalize(text, size);
	if (!utf8_valid(text, size)) {
		FUZZ_ASSERT(normal == NULL);
		return 0;
	}
	FUZZ_ASSERT(normal != NULL);
	again = keyword_normalize_unicode(text, size);
	FUZZ_ASSERT(again != NULL);
	FUZZ_ASSERT(strcmp(again, normal) == 0);
	free(again);
	check_form(normal);
	again = keyword_normalize(normal, strlen(normal));
	FUZZ_ASSERT(again != NULL);
	FUZZ_ASSERT(strcmp(again, normal) == 0);
	check_match(normal);
	free(again);
	free(normal);
	return 0;
}
