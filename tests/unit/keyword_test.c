#include <stdlib.h>
#include <string.h>

#include "keyword.h"
#include "unit.h"

/* An input of known length, so that cases may contain NUL bytes. */
#define IN(s) s, sizeof(s) - 1

struct normalize_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	const char	*want;	/* NULL for rejected input */
};

static const struct normalize_case cases[] = {
	{ "upper case", IN("STOP"), "stop" },
	{ "outer spaces", IN(" Stop "), "stop" },
	{ "trailing full stop", IN("stop."), "stop" },
	{ "hyphen", IN("opt-out"), "opt out" },
	{ "low line", IN("OPT_OUT"), "opt out" },
	{ "two words", IN("Stop all"), "stop all" },
	{ "blank line inside", IN("stop\n\nall"), "stop all" },
	{ "full width", IN("\xef\xbc\xb3\xef\xbc\xb4\xef\xbc\xaf\xef\xbc\xb0"),
	    "stop" },
	{ "trailing emoji", IN("STOP \xf0\x9f\x9b\x91"), "stop" },
	{ "Spanish marks", IN("\xc2\xa1Stop!"), "stop" },
	{ "inner full stop kept", IN("Stop. Thank you"), "stop. thank you" },
	{ "inner dot kept", IN("stop.now"), "stop.now" },
	{ "sentence", IN("cancel my order"), "cancel my order" },
	{ "title case sentence", IN("Cancel My Order"), "cancel my order" },
	{ "yes please", IN("Yes please"), "yes please" },
	{ "empty", IN(""), "" },
	{ "punctuation only", IN("!!!"), "" },
	{ "spaces only", IN(" \t\r\n "), "" },
	{ "German upper", IN("STRASSE"), "strasse" },
	{ "German sharp s", IN("Stra\xc3\x9f" "e"), "strasse" },
	{ "capital sharp s", IN("\xe1\xba\x9e"), "ss" },
	{ "Turkish dotted I", IN("\xc4\xb0"), "i" },
	{ "QUIT with Turkish dotted I", IN("QU\xc4\xb0T"), "quit" },
	{ "Turkish dotless i", IN("\xc4\xb1"), "i" },
	{ "quit with Turkish dotless i", IN("qu\xc4\xb1t"), "quit" },
	{ "fi ligature", IN("\xef\xac\x81n"), "fin" },
	{ "em dash", IN("opt\xe2\x80\x94out"), "opt out" },
	{ "Unicode hyphen", IN("opt\xe2\x80\x90out"), "opt out" },
	{ "full width low line", IN("opt\xef\xbc\xbfout"), "opt out" },
	{ "spaced hyphen", IN("opt - out"), "opt out" },
	{ "outer dashes", IN("-- stop --"), "stop" },
	{ "CRLF and tab", IN("\tSTOP\r\n"), "stop" },
	{ "no-break space", IN("stop\xc2\xa0" "all"), "stop all" },
	{ "ideographic space",
	    IN("\xef\xbd\x93\xef\xbd\x94\xef\xbd\x8f\xef\xbd\x90"
	    "\xe3\x80\x80\xef\xbd\x81\xef\xbd\x8c\xef\xbd\x8c"), "stop all" },
	{ "zero width space", IN("st\xe2\x80\x8bop"), "stop" },
	{ "byte order mark", IN("\xef\xbb\xbfSTOP"), "stop" },
	{ "NUL inside", IN("stop\0all"), "stop all" },
	{ "NUL at end", IN("stop\0"), "stop" },
	{ "other control inside", IN("stop\x1b" "all"), "stop all" },
	{ "precomposed accent", IN("Caf\xc3\xa9"), "caf\xc3\xa9" },
	{ "combining accent", IN("Cafe\xcc\x81"), "caf\xc3\xa9" },
	{ "Devanagari vowel sign at end",
	    IN("\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4"
	    "\xe0\xa5\x87"),
	    "\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4"
	    "\xe0\xa5\x87" },
	{ "leading combining mark", IN("\xcc\x81stop"), "stop" },
	{ "mark after trailing emoji", IN("stop \xf0\x9f\x9b\x91\xcc\x81"),
	    "stop" },
	{ "keycap emoji", IN("1\xef\xb8\x8f\xe2\x83\xa3"), "1" },
	{ "vulgar fraction", IN("\xc2\xbd"), "1\xe2\x81\x84" "2" },
	{ "Roman numeral", IN("\xe2\x85\xab"), "xii" },
	{ "Cyrillic", IN("\xd0\xa1\xd0\xa2\xd0\x9e\xd0\x9f"),
	    "\xd1\x81\xd1\x82\xd0\xbe\xd0\xbf" },
	{ "Greek final sigma", IN("\xce\x9f\xce\x94\xce\x9f\xce\xa3"),
	    "\xce\xbf\xce\xb4\xce\xbf\xcf\x83" },
	{ "repeated word", IN("STOP   STOP"), "stop stop" },
	{ "quoted", IN("\"stop\""), "stop" },
	{ "markdown bold", IN("**STOP**"), "stop" },
	{ "digits", IN("Reply 2"), "reply 2" },
	{ "invalid byte", IN("\xff"), NULL },
	{ "lone continuation byte", IN("\x80stop"), NULL },
	{ "truncated sequence", IN("stop\xc3"), NULL },
	{ "truncated 3-byte sequence", IN("stop\xe2\x80"), NULL },
	{ "overlong 2-byte", IN("\xc0\xaf"), NULL },
	{ "overlong NUL", IN("stop\xc0\x80"), NULL },
	{ "overlong 3-byte", IN("\xe0\x80\xaf"), NULL },
	{ "overlong 4-byte", IN("\xf0\x80\x80\xaf"), NULL },
	{ "lone high surrogate", IN("\xed\xa0\x80"), NULL },
	{ "lone low surrogate", IN("stop\xed\xbf\xbf"), NULL },
	{ "CESU-8 surrogate pair", IN("\xed\xa0\xbd\xed\xb8\x80"), NULL },
	{ "above U+10FFFF", IN("\xf4\x90\x80\x80"), NULL },
	{ "5-byte sequence", IN("\xf8\x88\x80\x80\x80"), NULL },
};

static void
test_table(void)
{
	size_t i;
	char *got;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = keyword_normalize(cases[i].in, cases[i].len);
		unit_check_str(got, cases[i].want, cases[i].name);
		free(got);
	}
}

/* The length, not a NUL byte, ends the input. */
static void
test_length_bound(void)
{
	char *got;

	got = keyword_normalize("stopall", 4);
	unit_check_str(got, "stop", "length shorter than string");
	free(got);
	got = keyword_normalize(NULL, 0);
	unit_check_str(got, "", "NULL text of length 0");
	free(got);
}

/* Fill BUF of LEN bytes with copies of the UNIT_LEN bytes of UNIT. */
static void
fill(char *buf, size_t len, const char *unit, size_t unit_len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = unit[i % unit_len];
}

#define LONG_LEN (100 * 1024)

static void
test_long_inputs(void)
{
	char *buf, *got, *want;

	buf = malloc(LONG_LEN);
	want = malloc(LONG_LEN);
	if (buf == NULL || want == NULL) {
		unit_check(0, "long input buffers");
		return;
	}

	fill(buf, LONG_LEN, "Stop ", 5);
	fill(want, LONG_LEN, "stop ", 5);
	want[LONG_LEN - 1] = '\0';
	got = keyword_normalize(buf, LONG_LEN);
	unit_check_str(got, want, "long repeated words");
	free(got);

	fill(buf, LONG_LEN, "\xf0\x9f\x9b\x91", 4);
	got = keyword_normalize(buf, LONG_LEN);
	unit_check_str(got, "", "long emoji run");
	free(got);

	fill(buf, LONG_LEN, "-", 1);
	buf[LONG_LEN / 2] = 'x';
	got = keyword_normalize(buf, LONG_LEN);
	unit_check_str(got, "x", "long dash run around letter");
	free(got);

	fill(buf, LONG_LEN, "a", 1);
	buf[LONG_LEN - 1] = '\xc3';
	got = keyword_normalize(buf, LONG_LEN);
	unit_check_str(got, NULL, "long input truncated at end");
	free(got);

	free(buf);
	free(want);
}

/*
 * Return 1 when the ASCII shortcut of keyword_normalize() and the
 * utf8proc path give the same normal form of the LEN bytes at TEXT;
 * print both otherwise.
 */
static int
same_as_unicode(const char *text, size_t len)
{
	char *ascii = keyword_normalize(text, len);
	char *unicode = keyword_normalize_unicode(text, len);
	int same = ascii != NULL && unicode != NULL &&
	    strcmp(ascii, unicode) == 0;

	if (!same)
		printf("#   input %zu bytes: got \"%s\", utf8proc \"%s\"\n",
		    len, ascii ? ascii : "(null)",
		    unicode ? unicode : "(null)");
	free(ascii);
	free(unicode);
	return same;
}

/*
 * Every ASCII byte alone, and every pair of them around and between
 * letters, so that each byte is seen at the start, inside and at the
 * end of a word.
 */
static void
test_ascii_shortcut(void)
{
	char text[6];
	int a, b, alone = 1, pairs = 1;

	for (a = 0; a < 0x80; a++) {
		text[0] = (char)a;
		alone &= same_as_unicode(text, 1);
	}
	unit_check(alone, "ASCII bytes alone as utf8proc");
	for (a = 0; a < 0x80 && pairs; a++) {
		for (b = 0; b < 0x80 && pairs; b++) {
			text[0] = (char)a;
			text[1] = 'S';
			text[2] = (char)b;
			text[3] = (char)a;
			text[4] = 'x';
			text[5] = (char)b;
			pairs &= same_as_unicode(text, 6);
			pairs &= same_as_unicode(text + 2, 2);
		}
	}
	unit_check(pairs, "ASCII byte pairs as utf8proc");
}

int
main(void)
{
	test_table();
	test_length_bound();
	test_long_inputs();
	test_ascii_shortcut();
	return unit_done();
}
