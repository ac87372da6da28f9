/*
 * Table-driven tests of the terminal text functions: escapes of control
 * characters, bidi controls and bytes that are not UTF-8, display
 * widths, cuts and wraps at character boundaries, short local times in
 * UTC, and the fallbacks of the terminal width.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tty.h"
#include "unit.h"

/* U+65E5 U+672C U+8A9E, three CJK characters of two columns each */
#define CJK_TEXT	"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"
#define EMOJI	"\xf0\x9f\x98\x80"	/* U+1F600, 2 columns */
#define COMBINING_ACUTE	"\xcc\x81"	/* U+0301, 0 columns */
#define ELLIPSIS	"\xe2\x80\xa6"		/* U+2026 */
#define RLO	"\xe2\x80\xae"		/* U+202E, escaped as \u202e */
/* The flag of the US: two regional indicators, U+1F1FA U+1F1F8. */
#define FLAG	"\xf0\x9f\x87\xba\xf0\x9f\x87\xb8"
/* U+1F469 U+200D U+1F4BB, woman technologist: one cluster, 4 columns. */
#define ZWJ_EMOJI	"\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb"

struct escape_case {
	const char *name;
	const char *in;
	size_t len;		/* 0: strlen(in) */
	const char *want;
};

static const struct escape_case escapes[] = {
	{ "plain text unchanged", "Where is my order?", 0,
	  "Where is my order?" },
	{ "empty text", "", 0, "" },
	{ "newline", "a\nb", 0, "a\\nb" },
	{ "carriage return", "a\rb", 0, "a\\rb" },
	{ "tab", "a\tb", 0, "a\\tb" },
	{ "OSC title sequence", "\033]0;evil\007", 0, "\\x1b]0;evil\\x07" },
	{ "CSI clear screen", "\033[2J", 0, "\\x1b[2J" },
	{ "SGR color", "\033[31mred\033[0m", 0,
	  "\\x1b[31mred\\x1b[0m" },
	{ "NUL byte", "a\0b", 3, "a\\x00b" },
	{ "unit separator", "\x1f", 0, "\\x1f" },
	{ "DEL", "a\x7f", 0, "a\\x7f" },
	{ "C1 NEL", "a\xc2\x85" "b", 0, "a\\u0085b" },
	{ "C1 CSI", "\xc2\x9b" "2J", 0, "\\u009b2J" },
	{ "C1 first", "\xc2\x80", 0, "\\u0080" },
	{ "C1 last", "\xc2\x9f", 0, "\\u009f" },
	{ "no-break space kept", "a\xc2\xa0" "b", 0, "a\xc2\xa0" "b" },
	{ "LRE", "\xe2\x80\xaa", 0, "\\u202a" },
	{ "RLO", "abc\xe2\x80\xae" "def", 0, "abc\\u202edef" },
	{ "LRI", "\xe2\x81\xa6", 0, "\\u2066" },
	{ "PDI", "\xe2\x81\xa9", 0, "\\u2069" },
	{ "LRM", "a\xe2\x80\x8e" "b", 0, "a\\u200eb" },
	{ "RLM", "\xe2\x80\x8f", 0, "\\u200f" },
	{ "Arabic letter mark", "\xd8\x9c", 0, "\\u061c" },
	{ "line separator", "a\xe2\x80\xa8" "b", 0, "a\\u2028b" },
	{ "paragraph separator", "\xe2\x80\xa9", 0, "\\u2029" },
	{ "tag letter", "\xf3\xa0\x81\x81", 0, "\\ue0041" },
	{ "zero width joiner kept", "\xe2\x80\x8d", 0, "\xe2\x80\x8d" },
	{ "CJK kept", CJK_TEXT, 0, CJK_TEXT },
	{ "emoji kept", EMOJI, 0, EMOJI },
	{ "combining mark kept", "e" COMBINING_ACUTE, 0, "e" COMBINING_ACUTE },
	{ "backslash kept", "C:\\x1b", 0, "C:\\x1b" },
	{ "invalid byte", "a\xff" "b", 0, "a\\xffb" },
	{ "truncated sequence", "a\xe6\x97", 0, "a\\xe6\\x97" },
	{ "overlong slash", "\xc0\xaf", 0, "\\xc0\\xaf" },
	{ "surrogate", "\xed\xa0\x80", 0, "\\xed\\xa0\\x80" },
	{ "lone continuation byte", "\x80", 0, "\\x80" },
	{ "C1 as a raw byte", "\x9b" "2J", 0, "\\x9b2J" },
};

struct width_case {
	const char *name;
	const char *in;
	size_t width;
};

static const struct width_case widths[] = {
	{ "empty", "", 0 },
	{ "ASCII", "abc", 3 },
	{ "CJK is two columns each", CJK_TEXT, 6 },
	{ "emoji is two columns", EMOJI, 2 },
	{ "combining mark adds nothing", "e" COMBINING_ACUTE, 1 },
	{ "ellipsis is one column", ELLIPSIS, 1 },
	{ "arrow is one column", "\xe2\x86\x92", 1 },
	{ "invalid byte is its escape", "\xff", 4 },
	{ "ESC is its escape", "\033", 4 },
	{ "newline is its escape", "\n", 2 },
	{ "bidi override is its escape", RLO, 6 },
	{ "tag letter is its escape", "\xf3\xa0\x81\x81", 7 },
	{ "flag is two columns", FLAG, 2 },
};

struct fit_case {
	const char *name;
	const char *in;
	size_t columns;
	size_t len;
	size_t width;
};

static const struct fit_case fits[] = {
	{ "ASCII cut", "abcdef", 3, 3, 3 },
	{ "ASCII fits", "ab", 10, 2, 2 },
	{ "zero columns", "ab", 0, 0, 0 },
	{ "wide character not split", CJK_TEXT, 5, 6, 4 },
	{ "wide character too wide", CJK_TEXT, 1, 0, 0 },
	{ "combining mark stays", "e" COMBINING_ACUTE "x", 1, 3, 1 },
	{ "emoji not split", "a" EMOJI, 2, 1, 1 },
	{ "emoji fits", "a" EMOJI, 3, 5, 3 },
	{ "escape not split", "a\033", 4, 1, 1 },
	{ "escape fits", "a\033", 5, 2, 5 },
	{ "flag not split", "a" FLAG, 2, 1, 1 },
	{ "emoji sequence not split", ZWJ_EMOJI, 3, 0, 0 },
};

struct cut_case {
	const char *name;
	const char *in;
	size_t columns;
	const char *want;
	size_t width;
};

static const struct cut_case cuts[] = {
	{ "fits unchanged", "hello", 5, "hello", 5 },
	{ "cut with ellipsis", "hello world", 5, "hell" ELLIPSIS, 5 },
	{ "zero columns", "abc", 0, "", 0 },
	{ "one column", "abc", 1, ELLIPSIS, 1 },
	{ "CJK before ellipsis", CJK_TEXT, 4, "\xe6\x97\xa5" ELLIPSIS, 3 },
	{ "CJK fills", CJK_TEXT, 5, "\xe6\x97\xa5\xe6\x9c\xac" ELLIPSIS, 5 },
	{ "backslash text cut anywhere", "\\x1b[2J", 4, "\\x1" ELLIPSIS, 4 },
	{ "escape not split", "\033[2J", 4, ELLIPSIS, 1 },
	{ "escape kept whole", "\033[2J", 5, "\\x1b" ELLIPSIS, 5 },
	{ "text escaped", "a\xff\tb", 8, "a\\xff\\tb", 8 },
	{ "bidi escape not split", "ab" RLO "cd", 7, "ab" ELLIPSIS, 3 },
	{ "combining mark kept", "e" COMBINING_ACUTE "e" COMBINING_ACUTE "x",
	  2, "e" COMBINING_ACUTE ELLIPSIS, 2 },
	{ "flag not split", FLAG FLAG, 3, FLAG ELLIPSIS, 3 },
	{ "emoji sequence not split", ZWJ_EMOJI "x", 4, ELLIPSIS, 1 },
};

struct wrap_case {
	const char *name;
	const char *in;
	size_t columns;
	const char *line;
	const char *rest;
};

static const struct wrap_case wraps[] = {
	{ "fits", "hello world", 11, "hello world", "" },
	{ "space after line", "hello world foo", 11, "hello world", "foo" },
	{ "break at last space", "hello world", 8, "hello", "world" },
	{ "long word split", "abcdefghij", 4, "abcd", "efghij" },
	{ "spaces dropped", "a   b", 2, "a", "b" },
	{ "wide characters", CJK_TEXT, 3, "\xe6\x97\xa5",
	  "\xe6\x9c\xac\xe8\xaa\x9e" },
	{ "too wide takes one", CJK_TEXT, 1, "\xe6\x97\xa5",
	  "\xe6\x9c\xac\xe8\xaa\x9e" },
	{ "combining mark kept", "e" COMBINING_ACUTE "e" COMBINING_ACUTE "e", 2,
	  "e" COMBINING_ACUTE "e" COMBINING_ACUTE, "e" },
	{ "escape not split", "ab\033cd", 4, "ab", "\033cd" },
	{ "flag not split", "a" FLAG, 2, "a", FLAG },
	{ "space with a mark is no break", "ab " COMBINING_ACUTE "cd", 4,
	  "ab " COMBINING_ACUTE "c", "d" },
};

struct when_case {
	const char *name;
	const char *then;
	const char *want;
};

/* Relative to 2026-11-12T10:04:00Z, a Thursday, in UTC. */
static const struct when_case whens[] = {
	{ "same second", "2026-11-12T10:04:00Z", "now" },
	{ "59 seconds", "2026-11-12T10:03:01Z", "now" },
	{ "one minute", "2026-11-12T10:03:00Z", "1m" },
	{ "minutes", "2026-11-12T10:01:00Z", "3m" },
	{ "59 minutes", "2026-11-12T09:05:00Z", "59m" },
	{ "one hour", "2026-11-12T09:04:00Z", "1h" },
	{ "hours", "2026-11-12T08:00:00Z", "2h" },
	{ "23 hours", "2026-11-11T10:04:01Z", "23h" },
	{ "one day", "2026-11-11T10:04:00Z", "Wed" },
	{ "weekday", "2026-11-10T10:00:00Z", "Tue" },
	{ "six days", "2026-11-06T10:04:01Z", "Fri" },
	{ "seven days", "2026-11-05T10:04:00Z", "5 Nov" },
	{ "date", "2026-10-01T00:00:00Z", "1 Oct" },
	{ "179 days", "2026-05-17T10:04:00Z", "17 May" },
	{ "180 days", "2026-05-16T10:04:00Z", "May 2026" },
	{ "last year", "2025-11-12T10:04:00Z", "Nov 2025" },
	{ "a minute ahead", "2026-11-12T10:05:00Z", "now" },
	{ "future", "2026-11-12T10:06:00Z", "Nov 2026" },
	{ "offset", "2026-11-12T12:01:00+02:00", "3m" },
};

static void
check_escape(const struct escape_case *c)
{
	struct buf b = { 0 };

	tty_escape(&b, c->in, c->len ? c->len : strlen(c->in));
	unit_check_str(b.data, c->want, c->name);
	buf_free(&b);
}

/* The escapes leave no byte that a terminal acts on. */
static void
check_escape_clean(void)
{
	struct buf b = { 0 };
	char all[256];
	size_t i;
	int clean = 1;

	for (i = 0; i < sizeof(all); i++)
		all[i] = (char)i;
	tty_escape(&b, all, sizeof(all));
	for (i = 0; i < b.len; i++)
		if ((unsigned char)b.data[i] < 0x20 ||
		    (unsigned char)b.data[i] >= 0x7f)
			clean = 0;
	unit_check(clean, "every byte value escaped to printable ASCII");
	buf_free(&b);
}

static void
check_width(const struct width_case *c)
{
	size_t got = tty_width(c->in, strlen(c->in));

	unit_check(got == c->width, c->name);
	if (got != c->width)
		printf("#   got %zu, expected %zu\n", got, c->width);
}

static void
check_fit(const struct fit_case *c)
{
	size_t width, len = tty_fit(c->in, strlen(c->in), c->columns, &width);

	unit_check(len == c->len && width == c->width, c->name);
	if (len != c->len || width != c->width)
		printf("#   got %zu bytes and %zu columns, expected %zu and "
		    "%zu\n", len, width, c->len, c->width);
}

static void
check_cut(const struct cut_case *c)
{
	struct buf b = { 0 };
	size_t width;

	buf_add(&b, "", 0);
	width = tty_cut(&b, c->in, strlen(c->in), c->columns);
	unit_check_str(b.data, c->want, c->name);
	unit_check(width == c->width, c->name);
	if (width != c->width)
		printf("#   got width %zu, expected %zu\n", width, c->width);
	buf_free(&b);
}

static void
check_wrap(const struct wrap_case *c)
{
	char line[64];
	size_t next, len;

	len = tty_wrap(c->in, strlen(c->in), c->columns, &next);
	snprintf(line, sizeof(line), "%.*s", (int)len, c->in);
	unit_check_str(line, c->line, c->name);
	unit_check_str(c->in + next, c->rest, c->name);
}

/* Every wrap makes progress, so a caller's loop ends. */
static void
check_wrap_progress(void)
{
	const char *in = " " CJK_TEXT " a  " EMOJI;
	size_t start = 0, next, rounds = 0, columns;
	int progress = 1;

	for (columns = 0; columns < 4; columns++) {
		for (start = 0; start < strlen(in) && rounds < 100; rounds++) {
			tty_wrap(in + start, strlen(in) - start, columns,
			    &next);
			if (next == 0)
				progress = 0;
			start += next > 0 ? next : strlen(in);
		}
	}
	unit_check(progress && rounds < 100, "wrap always moves on");
}

static void
check_when(const struct when_case *c)
{
	char out[TTY_TIME_MAX];
	time_t now, then;

	tty_parse_time("2026-11-12T10:04:00Z", &now);
	if (tty_parse_time(c->then, &then) != 0) {
		unit_check(0, c->name);
		return;
	}
	tty_when(out, then, now);
	unit_check_str(out, c->want, c->name);
}

static void
check_times(void)
{
	char out[TTY_TIME_MAX];
	time_t t;

	unit_check(tty_parse_time("2026-11-12T10:04:00Z", &t) == 0 &&
	    t == 1794477840, "parse UTC time");
	unit_check(tty_parse_time("2026-11-12T12:04:00.5+02:00", &t) == 0 &&
	    t == 1794477840, "parse time with offset");
	unit_check(tty_parse_time("2026-11-12 10:04", &t) == -1,
	    "reject time that is not RFC 3339");
	tty_parse_time("2026-11-12T09:05:00Z", &t);
	tty_day(out, t);
	unit_check_str(out, "Thu 12 Nov 2026", "day");
	tty_clock(out, t);
	unit_check_str(out, "09:05", "clock");
	setenv("CONVO_NOW", "2026-11-12T10:04:00Z", 1);
	unit_check(tty_now() == 1794477840, "CONVO_NOW sets now");
	unsetenv("CONVO_NOW");
	unit_check(tty_now() > 1794477840 - 400L * 86400,
	    "now without CONVO_NOW");
}

static void
check_terminal(void)
{
	int fd = open("/dev/null", O_WRONLY);

	unsetenv("COLUMNS");
	unit_check(tty_columns(fd) == 80, "columns default to 80");
	setenv("COLUMNS", "123", 1);
	unit_check(tty_columns(fd) == 123, "columns from COLUMNS");
	setenv("COLUMNS", "0", 1);
	unit_check(tty_columns(fd) == 80, "zero COLUMNS ignored");
	setenv("COLUMNS", "wide", 1);
	unit_check(tty_columns(fd) == 80, "invalid COLUMNS ignored");
	unsetenv("NO_COLOR");
	unit_check(tty_color(fd) == 0, "no colors off a terminal");
	close(fd);
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int
main(void)
{
	size_t i;

	setenv("TZ", "UTC", 1);
	tzset();
	for (i = 0; i < COUNT(escapes); i++)
		check_escape(&escapes[i]);
	check_escape_clean();
	for (i = 0; i < COUNT(widths); i++)
		check_width(&widths[i]);
	for (i = 0; i < COUNT(fits); i++)
		check_fit(&fits[i]);
	for (i = 0; i < COUNT(cuts); i++)
		check_cut(&cuts[i]);
	for (i = 0; i < COUNT(wraps); i++)
		check_wrap(&wraps[i]);
	check_wrap_progress();
	for (i = 0; i < COUNT(whens); i++)
		check_when(&whens[i]);
	check_times();
	check_terminal();
	return unit_done();
}
