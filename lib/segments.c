/*
 * SMS segment counts. The 7-bit default alphabet is the one of 3GPP TS
 * 23.038 (GSM 03.38). A message carries 140 octets of user data (TS
 * 23.040), and a part of a concatenated message spends 6 of them on its
 * user data header, which leaves 153 septets or 67 UCS-2 code units.
 */
#include <stdlib.h>

#include <utf8proc.h>

#include "segments.h"

#define GSM7_SINGLE	160
#define GSM7_PART	153
#define UCS2_SINGLE	70
#define UCS2_PART	67

/*
 * Characters of the basic character set outside ASCII, sorted by code
 * point for bsearch(). ASCII members are tested in gsm7_units().
 */
static const utf8proc_int32_t gsm7_basic[] = {
	0x00a1,	/* ¡ */
	0x00a3,	/* £ */
	0x00a4,	/* ¤ */
	0x00a5,	/* ¥ */
	0x00a7,	/* § */
	0x00bf,	/* ¿ */
	0x00c4,	/* Ä */
	0x00c5,	/* Å */
	0x00c6,	/* Æ */
	0x00c7,	/* Ç */
	0x00c9,	/* É */
	0x00d1,	/* Ñ */
	0x00d6,	/* Ö */
	0x00d8,	/* Ø */
	0x00dc,	/* Ü */
	0x00df,	/* ß */
	0x00e0,	/* à */
	0x00e4,	/* ä */
	0x00e5,	/* å */
	0x00e6,	/* æ */
	0x00e8,	/* è */
	0x00e9,	/* é */
	0x00ec,	/* ì */
	0x00f1,	/* ñ */
	0x00f2,	/* ò */
	0x00f6,	/* ö */
	0x00f8,	/* ø */
	0x00f9,	/* ù */
	0x00fc,	/* ü */
	0x0393,	/* Γ */
	0x0394,	/* Δ */
	0x0398,	/* Θ */
	0x039b,	/* Λ */
	0x039e,	/* Ξ */
	0x03a0,	/* Π */
	0x03a3,	/* Σ */
	0x03a6,	/* Φ */
	0x03a8,	/* Ψ */
	0x03a9,	/* Ω */
};

#define NBASIC (sizeof(gsm7_basic) / sizeof(gsm7_basic[0]))

static int
compare_code_points(const void *a, const void *b)
{
	utf8proc_int32_t x = *(const utf8proc_int32_t *)a;
	utf8proc_int32_t y = *(const utf8proc_int32_t *)b;

	return (x > y) - (x < y);
}

/*
 * Return the septets of CP in GSM-7: 1 in the basic character set, 2 in
 * the extension table (the escape and the character), or 0 when CP has
 * no GSM-7 form. ESC (U+001B) is not a character of the text, so it is 0.
 */
static int
gsm7_units(utf8proc_int32_t cp)
{
	switch (cp) {
	case '\n':
	case '\r':
		return 1;
	case '\f':
	case '^':
	case '{':
	case '}':
	case '\\':
	case '[':
	case ']':
	case '~':
	case '|':
	case 0x20ac:	/* EURO SIGN */
		return 2;
	case '`':
		return 0;
	}
	if (cp >= 0x20 && cp < 0x7f)
		return 1;
	if (bsearch(&cp, gsm7_basic, NBASIC, sizeof(gsm7_basic[0]),
	    compare_code_points) != NULL)
		return 1;
	return 0;
}

/* Return the UTF-16 code units of CP. */
static int
ucs2_units(utf8proc_int32_t cp)
{
	return cp >= 0x10000 ? 2 : 1;
}

/*
 * Decode the character of BODY at *POS into *CP and advance *POS.
 * Returns 0, or -1 when the bytes there are not valid UTF-8: a bad
 * sequence, an overlong form, a surrogate or a value past U+10FFFF.
 */
static int
next_char(const char *body, size_t len, size_t *pos, utf8proc_int32_t *cp)
{
	utf8proc_ssize_t n;

	n = utf8proc_iterate((const utf8proc_uint8_t *)body + *pos,
	    (utf8proc_ssize_t)(len - *pos), cp);
	if (n <= 0)
		return -1;
	*pos += (size_t)n;
	return 0;
}

/*
 * Count the parts of valid BODY in parts of CAPACITY units each, where
 * UNITS_OF gives the units of one character. A character that does not
 * fit starts the next part whole.
 */
static int
count_parts(const char *body, size_t len, int capacity,
    int (*units_of)(utf8proc_int32_t))
{
	utf8proc_int32_t cp;
	size_t pos = 0;
	int parts = 1, used = 0, units;

	while (pos < len && next_char(body, len, &pos, &cp) == 0) {
		units = units_of(cp);
		if (used + units > capacity) {
			parts++;
			used = 0;
		}
		used += units;
	}
	return parts;
}

int
segments_count(const char *body, size_t len, struct segments *out)
{
	utf8proc_int32_t cp;
	size_t pos = 0;
	int characters = 0, septets = 0, code_units = 0, gsm7 = 1, units;

	if (len > SEGMENTS_MAX_BYTES)
		return -1;
	while (pos < len) {
		if (next_char(body, len, &pos, &cp) == -1)
			return -1;
		characters++;
		code_units += ucs2_units(cp);
		units = gsm7_units(cp);
		if (units == 0)
			gsm7 = 0;
		septets += units;
	}

	out->characters = characters;
	if (gsm7) {
		out->encoding = "GSM-7";
		out->units = septets;
		out->segments = septets <= GSM7_SINGLE ? 1 :
		    count_parts(body, len, GSM7_PART, gsm7_units);
	} else {
		out->encoding = "UCS-2";
		out->units = code_units;
		out->segments = code_units <= UCS2_SINGLE ? 1 :
		    count_parts(body, len, UCS2_PART, ucs2_units);
	}
	return 0;
}

int
segments_characters(const char *body, size_t len)
{
	utf8proc_int32_t cp;
	size_t pos = 0;
	int characters = 0;

	if (len > SEGMENTS_MAX_BYTES)
		return -1;
	while (pos < len) {
		if (next_char(body, len, &pos, &cp) == -1)
			return -1;
		characters++;
	}
	return characters;
}
