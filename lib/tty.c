#include <sys/ioctl.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <utf8proc.h>

#include "timeutil.h"
#include "tty.h"

#define ELLIPSIS "\xe2\x80\xa6"	/* U+2026, one column */

static const char *const weekdays[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};

static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
	"Nov", "Dec"
};

/*
 * Decode the character at S (N > 0 bytes) into *CP. Returns its length
 * in bytes, or 0 when S does not start with valid UTF-8. utf8proc
 * rejects overlong forms, surrogates and values past U+10FFFF.
 */
static size_t
decode(const char *s, size_t n, utf8proc_int32_t *cp)
{
	utf8proc_ssize_t step;

	step = utf8proc_iterate((const utf8proc_uint8_t *)s,
	    (utf8proc_ssize_t)n, cp);
	return step > 0 ? (size_t)step : 0;
}

/*
 * Return 1 when CP can control a terminal, reorder the text around it
 * (bidi embeddings, isolates and marks), break a line where no newline
 * shows (U+2028, U+2029), or hide text (tag characters).
 */
static int
is_control(utf8proc_int32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
	    cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	    (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	    (cp >= 0xe0000 && cp <= 0xe007f);
}

static void
add_escape(struct buf *b, utf8proc_int32_t cp)
{
	char text[16];

	if (cp == '\n')
		snprintf(text, sizeof(text), "\\n");
	else if (cp == '\r')
		snprintf(text, sizeof(text), "\\r");
	else if (cp == '\t')
		snprintf(text, sizeof(text), "\\t");
	else if (cp < 0x80)
		snprintf(text, sizeof(text), "\\x%02x", (unsigned)cp);
	else
		snprintf(text, sizeof(text), "\\u%04x", (unsigned)cp);
	buf_adds(b, text);
}

void
tty_escape(struct buf *b, const char *s, size_t n)
{
	utf8proc_int32_t cp;
	size_t i = 0, step;
	char text[8];

	while (i < n) {
		step = decode(s + i, n - i, &cp);
		if (step == 0) {
			snprintf(text, sizeof(text), "\\x%02x",
			    (unsigned char)s[i]);
			buf_adds(b, text);
			i++;
		} else if (is_control(cp)) {
			add_escape(b, cp);
			i += step;
		} else {
			buf_add(b, s + i, step);
			i += step;
		}
	}
	if (b->data == NULL)
		buf_add(b, "", 0);
}

/* Return the width of the escape that tty_escape() writes for CP. */
static size_t
escape_width(utf8proc_int32_t cp)
{
	if (cp == '\n' || cp == '\r' || cp == '\t')
		return 2;
	if (cp < 0x80)
		return 4;	/* \xNN */
	return cp > 0xffff ? 7 : 6;	/* \uNNNN, \uNNNNN */
}

/*
 * Return the length in bytes of the unit at S (N > 0 bytes) that text is
 * cut and wrapped by, at least 1, and put its width once escaped in
 * *WIDTH. A byte that is not UTF-8 and a character that tty_escape()
 * escapes are each a unit, shown as one escape. Other text is cut into
 * grapheme clusters, such as a letter and its combining marks or an
 * emoji sequence joined by U+200D. A cluster is as wide as its
 * characters by utf8proc_charwidth(), added up.
 * NOTE: terminals differ on emoji sequences. The sum is at least what
 * most show, except for a character that U+FE0F turns into a 2-column
 * emoji, which counts as its base, often 1 column.
 */
static size_t
next_unit(const char *s, size_t n, size_t *width)
{
	utf8proc_int32_t cp, next, state = 0;
	size_t len, step;
	int w;

	len = decode(s, n, &cp);
	if (len == 0) {
		*width = 4;	/* \xNN */
		return 1;
	}
	if (is_control(cp)) {
		*width = escape_width(cp);
		return len;
	}
	w = utf8proc_charwidth(cp);
	*width = w > 0 ? (size_t)w : 0;
	while (len < n && (step = decode(s + len, n - len, &next)) > 0 &&
	    !is_control(next) &&
	    !utf8proc_grapheme_break_stateful(cp, next, &state)) {
		w = utf8proc_charwidth(next);
		*width += w > 0 ? (size_t)w : 0;
		len += step;
		cp = next;
	}
	return len;
}

size_t
tty_width(const char *s, size_t n)
{
	size_t i = 0, width = 0, w;

	while (i < n) {
		i += next_unit(s + i, n - i, &w);
		width += w;
	}
	return width;
}

size_t
tty_fit(const char *s, size_t n, size_t columns, size_t *width)
{
	size_t i = 0, used = 0, step, w;

	while (i < n) {
		step = next_unit(s + i, n - i, &w);
		if (used + w > columns)
			break;
		used += w;
		i += step;
	}
	if (width != NULL)
		*width = used;
	return i;
}

size_t
tty_cut(struct buf *b, const char *s, size_t n, size_t columns)
{
	size_t width = tty_width(s, n), len;

	if (width <= columns) {
		tty_escape(b, s, n);
		return width;
	}
	if (columns == 0)
		return 0;
	len = tty_fit(s, n, columns - 1, &width);
	tty_escape(b, s, len);
	buf_adds(b, ELLIPSIS);
	return width + 1;
}

/*
 * Return 1 when the N bytes at S start with a space that is a unit of
 * its own, not the base of a cluster such as a space and a combining
 * mark.
 */
static int
is_space_unit(const char *s, size_t n)
{
	size_t w;

	return s[0] == ' ' && next_unit(s, n, &w) == 1;
}

/*
 * Return the offset after the last space unit in the LEN bytes at S, or
 * LEN when there is none.
 */
static size_t
after_last_space(const char *s, size_t len)
{
	size_t i = 0, end = len, w;

	while (i < len) {
		if (is_space_unit(s + i, len - i))
			end = i + 1;
		i += next_unit(s + i, len - i, &w);
	}
	return end;
}

size_t
tty_wrap(const char *s, size_t n, size_t columns, size_t *next)
{
	size_t len, end, w;

	len = tty_fit(s, n, columns, NULL);
	if (len == 0)
		len = next_unit(s, n, &w);
	if (len >= n) {
		*next = n;
		return n;
	}
	end = len;
	/* A space right after the line ends a word, so no word is split. */
	if (!is_space_unit(s + len, n - len))
		end = after_last_space(s, len);
	*next = end;
	while (*next < n && is_space_unit(s + *next, n - *next))
		(*next)++;
	while (end > 0 && s[end - 1] == ' ')
		end--;
	return end;
}

int
tty_parse_time(const char *s, time_t *t)
{
	char utc[TIME_MAX];
	struct tm tm = { 0 };

	if (time_to_utc(s, utc) != 0)
		return -1;
	if (sscanf(utc, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*t = timegm(&tm);
	return 0;
}

void
tty_when(char out[TTY_TIME_MAX], time_t then, time_t now)
{
	double age = difftime(now, then);
	struct tm tm;

	localtime_r(&then, &tm);
	if (age < -60 || age >= 180 * 86400.0)
		snprintf(out, TTY_TIME_MAX, "%s %d", months[tm.tm_mon],
		    tm.tm_year + 1900);
	else if (age < 60)
		snprintf(out, TTY_TIME_MAX, "now");
	else if (age < 3600)
		snprintf(out, TTY_TIME_MAX, "%dm", (int)(age / 60));
	else if (age < 86400)
		snprintf(out, TTY_TIME_MAX, "%dh", (int)(age / 3600));
	else if (age < 7 * 86400)
		snprintf(out, TTY_TIME_MAX, "%s", weekdays[tm.tm_wday]);
	else
		snprintf(out, TTY_TIME_MAX, "%d %s", tm.tm_mday,
		    months[tm.tm_mon]);
}

void
tty_day(char out[TTY_TIME_MAX], time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	snprintf(out, TTY_TIME_MAX, "%s %d %s %d", weekdays[tm.tm_wday],
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900);
}

void
tty_clock(char out[TTY_TIME_MAX], time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	snprintf(out, TTY_TIME_MAX, "%02d:%02d", tm.tm_hour, tm.tm_min);
}

time_t
tty_now(void)
{
	static int warned;
	const char *now = getenv("CONVO_NOW");
	time_t t;

	if (now == NULL || *now == '\0')
		return time(NULL);
	if (tty_parse_time(now, &t) == 0)
		return t;
	if (!warned)
		warnx("ignoring CONVO_NOW \"%s\": expected an RFC 3339 time",
		    now);
	warned = 1;
	return time(NULL);
}

size_t
tty_columns(int fd)
{
	struct winsize ws;
	const char *columns = getenv("COLUMNS"), *errstr;
	long long n;

	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (columns != NULL) {
		n = strtonum(columns, 1, 10000, &errstr);
		if (errstr == NULL)
			return (size_t)n;
	}
	return 80;
}

int
tty_color(int fd)
{
	return isatty(fd) && getenv("NO_COLOR") == NULL;
}
