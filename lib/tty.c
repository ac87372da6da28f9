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

/* Decode the character at S into its length, at least 1, and *WIDTH. */
static size_t
next_char(const char *s, size_t n, size_t *width)
{
	utf8proc_int32_t cp;
	size_t step = decode(s, n, &cp);
	int w;

	if (step == 0) {
		*width = 1;
		return 1;
	}
	w = utf8proc_charwidth(cp);
	*width = w > 0 ? (size_t)w : 0;
	return step;
}

size_t
tty_width(const char *s, size_t n)
{
	size_t i = 0, width = 0, w;

	while (i < n) {
		i += next_char(s + i, n - i, &w);
		width += w;
	}
	return width;
}

size_t
tty_fit(const char *s, size_t n, size_t columns, size_t *width)
{
	size_t i = 0, used = 0, step, w;

	while (i < n) {
		step = next_char(s + i, n - i, &w);
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
		buf_add(b, s, n);
		return width;
	}
	if (columns == 0)
		return 0;
	len = tty_fit(s, n, columns - 1, &width);
	buf_add(b, s, len);
	buf_adds(b, ELLIPSIS);
	return width + 1;
}

size_t
tty_wrap(const char *s, size_t n, size_t columns, size_t *next)
{
	size_t len, end, w;

	len = tty_fit(s, n, columns, NULL);
	if (len == 0)
		len = next_char(s, n, &w);
	if (len >= n) {
		*next = n;
		return n;
	}
	end = len;
	/* A space right after the line ends a word, so no word is split. */
	if (s[len] != ' ') {
		while (end > 0 && s[end - 1] != ' ')
			end--;
		if (end == 0)
			end = len;
	}
	*next = end;
	while (*next < n && s[*next] == ' ')
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
