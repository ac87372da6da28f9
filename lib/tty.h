/*
 * Text for terminals: visible escapes for untrusted text, display width
 * and cutting of UTF-8, short local times, and the terminal's width and
 * color setting.
 */
#ifndef CONVO_TTY_H
#define CONVO_TTY_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

/* SGR sequences (ECMA-48) that the people views write. */
#define TTY_RESET	"\033[0m"
#define TTY_BOLD	"\033[1m"
#define TTY_DIM		"\033[2m"
#define TTY_UNDERLINE	"\033[4m"
#define TTY_RED		"\033[31m"
#define TTY_GREEN	"\033[32m"
#define TTY_YELLOW	"\033[33m"
#define TTY_CYAN	"\033[36m"

/* Size of the buffers that tty_when(), tty_day() and tty_clock() fill. */
#define TTY_TIME_MAX 32

/*
 * Append the N bytes at S to B, with every character that can move the
 * cursor, start a terminal control sequence or reorder text shown as a
 * visible escape. Newline, carriage return and tab become "\n", "\r"
 * and "\t", the other C0 controls and DEL become "\xNN", so ESC is
 * "\x1b". The C1 controls U+0080..U+009F and the bidi embeddings,
 * overrides and isolates U+202A..U+202E and U+2066..U+2069 become
 * "\uNNNN", and each byte that is not part of valid UTF-8 becomes
 * "\xNN". A backslash in S is copied as it is, so the text "\n" and an
 * escaped newline look the same. B's data is not NULL afterwards.
 */
void tty_escape(struct buf *b, const char *s, size_t n);

/*
 * The functions below measure, cut and wrap the N bytes at S as
 * tty_escape() shows them. They never cut inside a unit, which is a
 * grapheme cluster or one escape. A cluster is a letter with its
 * combining marks, an emoji sequence or the like, and is as wide as its
 * characters by utf8proc_charwidth(), added up. An escape, such as
 * "\x1b" for ESC or "\u202e" for a bidi override, is as wide as its
 * text. Text without controls or invalid UTF-8, such as the views' own,
 * shows unchanged.
 */

/* Return the display width in columns of the N bytes at S, escaped. */
size_t tty_width(const char *s, size_t n);

/*
 * Return the length in bytes of the longest prefix of the N bytes at S
 * that fits in COLUMNS columns once escaped, ending between two units.
 * Its width goes to *WIDTH unless WIDTH is NULL.
 */
size_t tty_fit(const char *s, size_t n, size_t columns, size_t *width);

/*
 * Append the N bytes at S to B, escaped and cut to COLUMNS columns: text
 * that is wider loses its end and gets "…" in its last column. Returns
 * the width appended.
 */
size_t tty_cut(struct buf *b, const char *s, size_t n, size_t columns);

/*
 * Return the length in bytes of the first line of the N bytes at S when
 * they are wrapped at COLUMNS columns once escaped: after the last space
 * that fits, else at the last unit that fits, and at least one unit.
 * The offset where the next line starts, past the spaces at the break,
 * goes to *NEXT.
 */
size_t tty_wrap(const char *s, size_t n, size_t columns, size_t *next);

/*
 * Convert the RFC 3339 time S to *T. Returns 0, or -1 when S is not
 * RFC 3339.
 */
int tty_parse_time(const char *s, time_t *t);

/*
 * Write THEN relative to NOW in local time, at most 8 columns wide:
 * "now" under a minute, "3m" under an hour, "2h" under a day, the
 * weekday "Mon" under a week, "12 Nov" under 180 days, else "Nov 2025".
 * A time more than a minute after NOW is written as a date.
 */
void tty_when(char out[TTY_TIME_MAX], time_t then, time_t now);

/* Write the local date of T as "Thu 12 Nov 2026". */
void tty_day(char out[TTY_TIME_MAX], time_t t);

/* Write the local time of day of T as "09:05", on a 24-hour clock. */
void tty_clock(char out[TTY_TIME_MAX], time_t t);

/*
 * Return the time that relative times count from: $CONVO_NOW when it is
 * an RFC 3339 time, which lets tests fix the output, else the current
 * time. An invalid $CONVO_NOW is reported and ignored.
 */
time_t tty_now(void);

/*
 * Return the width of the terminal FD: its TIOCGWINSZ size, else
 * $COLUMNS when it is a number from 1 to 10000, else 80.
 */
size_t tty_columns(int fd);

/*
 * Return 1 when output to FD may carry colors: FD is a terminal and
 * NO_COLOR is not set. Any value of NO_COLOR, the empty one included,
 * turns colors off.
 */
int tty_color(int fd);

#endif
