/*
 * Keyword normal form. Unicode data come from utf8proc, so results follow
 * the Unicode version of the installed utf8proc (15.0 in utf8proc 2.8).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "keyword.h"

/*
 * NFKC_Casefold as utf8proc_NFKC_Casefold() defines it, which also drops
 * default ignorable code points (ZERO WIDTH SPACE, SOFT HYPHEN, variation
 * selectors) so that "st\u200bop" matches "stop".
 */
#define KEYWORD_MAP_FLAGS (UTF8PROC_STABLE | UTF8PROC_COMPAT | \
    UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE)

enum cp_class {
	CP_WORD,	/* letter or digit: the ends of the result */
	CP_MARK,	/* combining mark: kept after a letter or digit */
	CP_SPACE,	/* separator: collapsed to one ASCII space */
	CP_OTHER	/* punctuation, symbol: kept inside, trimmed at ends */
};

/*
 * Dash punctuation (Pd) and connector punctuation (Pc, which contains
 * '_') separate words like a space does, so "opt-out", "OPT_OUT" and
 * "opt\u2014out" all read "opt out". Control characters are separators
 * too. Tabs, CR and LF must be, and treating the other controls the same
 * way keeps a NUL byte from cutting the result short.
 */
static enum cp_class
classify(utf8proc_int32_t cp)
{
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
		return CP_WORD;
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
		return CP_MARK;
	case UTF8PROC_CATEGORY_ZS:
	case UTF8PROC_CATEGORY_ZL:
	case UTF8PROC_CATEGORY_ZP:
	case UTF8PROC_CATEGORY_CC:
	case UTF8PROC_CATEGORY_PD:
	case UTF8PROC_CATEGORY_PC:
		return CP_SPACE;
	default:
		return CP_OTHER;
	}
}

/*
 * Trim and collapse the valid UTF-8 string S of LEN bytes in place and
 * terminate it. The write position never passes the read position
 * because every code point written replaces one at least as long.
 * A nonspacing or spacing mark right after a kept letter stays with it
 * (Devanagari vowel signs, accents without a precomposed form), so the
 * trailing trim does not cut a word's last character in half.
 */
static void
trim_and_collapse(utf8proc_uint8_t *s, utf8proc_ssize_t len)
{
	utf8proc_ssize_t in, out, end, n;
	utf8proc_int32_t cp;
	enum cp_class class;
	int started, pending_space;

	in = out = end = 0;
	started = pending_space = 0;
	while (in < len) {
		n = utf8proc_iterate(s + in, len - in, &cp);
		if (n <= 0)
			break;
		class = classify(cp);
		if (!started && class != CP_WORD) {
			in += n;
			continue;
		}
		started = 1;
		if (class == CP_SPACE) {
			pending_space = 1;
			in += n;
			continue;
		}
		if (pending_space) {
			s[out++] = ' ';
			pending_space = 0;
		}
		if (class == CP_WORD || (class == CP_MARK && end == out))
			end = out + n;
		memmove(s + out, s + in, n);
		out += n;
		in += n;
	}
	s[end] = '\0';
}

/*
 * Return the normal form of the ASCII text TEXT of LEN bytes, as
 * utf8proc gives it but without its table lookups. NFKC and case folding
 * change no ASCII character except A to Z, which they lower-case. No
 * ASCII character is default ignorable.
 */
static char *
normalize_ascii(const char *text, size_t len)
{
	char *out = malloc(len + 1);
	size_t in, n = 0, end = 0;
	int started = 0, pending_space = 0;
	unsigned char c;

	if (out == NULL)
		return NULL;
	for (in = 0; in < len; in++) {
		c = (unsigned char)text[in];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			if (pending_space)
				out[n++] = ' ';
			pending_space = 0;
			started = 1;
			out[n++] = (char)c;
			end = n;
		} else if (c <= ' ' || c == 0x7f || c == '-' || c == '_') {
			/* Space, controls (Cc), '-' (Pd) and '_' (Pc). */
			pending_space = started;
		} else if (started) {
			if (pending_space)
				out[n++] = ' ';
			pending_space = 0;
			out[n++] = (char)c;
		}
	}
	out[end] = '\0';
	return out;
}

/* Return 1 when the LEN bytes at TEXT are all ASCII. */
static int
is_ascii(const char *text, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)text[i] >= 0x80)
			return 0;
	return 1;
}

char *
keyword_normalize(const char *text, size_t len)
{
	if (len == 0)
		return strdup("");
	if (text == NULL || len > SSIZE_MAX)
		return NULL;
	if (is_ascii(text, len))
		return normalize_ascii(text, len);
	return keyword_normalize_unicode(text, len);
}

/*
 * Map the Turkish letters i that are not ASCII to ASCII: LATIN CAPITAL
 * LETTER I WITH DOT ABOVE (U+0130) to I, and LATIN SMALL LETTER DOTLESS I
 * (U+0131) to i. Case folding alone gives i and a combining dot
 * for the first and keeps the second, so "QU\u0130T" and "qu\u0131t"
 * would not match QUIT.
 */
static utf8proc_int32_t
fold_turkish_i(utf8proc_int32_t cp, void *data)
{
	(void)data;
	if (cp == 0x0130)
		return 'I';
	return cp == 0x0131 ? 'i' : cp;
}

char *
keyword_normalize_unicode(const char *text, size_t len)
{
	utf8proc_uint8_t *mapped;
	utf8proc_ssize_t n;

	if (len == 0)
		return strdup("");
	if (text == NULL || len > SSIZE_MAX)
		return NULL;
	n = utf8proc_map_custom((const utf8proc_uint8_t *)text,
	    (utf8proc_ssize_t)len, &mapped, KEYWORD_MAP_FLAGS,
	    fold_turkish_i, NULL);
	if (n < 0)
		return NULL;
	trim_and_collapse(mapped, n);
	return (char *)mapped;
}
