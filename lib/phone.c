/*
 * Phone numbers in E.164 form, read from the ways people write them in
 * their own country or abroad.
 */
#include <stdio.h>
#include <string.h>

#include "convo.h"
#include "phone.h"

#ifndef nitems
#define nitems(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* E.164 allows at most 15 digits, the country calling code included. */
#define E164_DIGITS_MAX		15

/* Niue still has 4-digit national numbers, so shorter ones are rejected. */
#define NATIONAL_DIGITS_MIN	4

/* Digits kept while scanning: E.164 plus the longest dialling prefix. */
#define SCAN_DIGITS_MAX		24

/* Room for a calling code, the scanned digits and a NUL. */
#define INTL_SIZE		(3 + SCAN_DIGITS_MAX + 1)

/*
 * A default country. TRUNK and INTL list alternatives separated by
 * commas, and an 'X' in INTL matches any digit, because Brazil and
 * Colombia dial a carrier code between "00" and the calling code.
 * NSN_MIN and NSN_MAX bound the length of the country's national
 * significant numbers, the digits after the calling code in E.164.
 */
struct country {
	const char	*iso;		/* ISO 3166-1 alpha-2 code */
	const char	*code;		/* country calling code */
	const char	*trunk;		/* national (trunk) prefixes */
	const char	*intl;		/* international call prefixes */
	unsigned char	 nsn_min;	/* minimum national number digits */
	unsigned char	 nsn_max;	/* maximum national number digits */
};

struct scan {
	char	digits[SCAN_DIGITS_MAX + 1];
	size_t	len;
	int	plus;
};

/*
 * Country calling codes that the ITU has assigned and that are in
 * service. Spare codes such as 214, 259, 292-296, 384, 388, 422, 671,
 * 684, 969, 978 and 997 are left out, and so is 379, which is reserved
 * for Vatican City but unused because the Vatican dials +39. Of the
 * global service codes only satellite and network ones (870, 881-883)
 * are kept, because freephone (800), shared cost (808) and premium rate
 * (979) numbers cannot send SMS. No code is a prefix of another.
 * NOTE: not compared with the latest edition of the ITU list, so a
 * code assigned since then is rejected as unknown.
 */
static const unsigned short calling_codes[] = {
	1, 7,
	20, 27, 211, 212, 213, 216, 218,
	220, 221, 222, 223, 224, 225, 226, 227, 228, 229,
	230, 231, 232, 233, 234, 235, 236, 237, 238, 239,
	240, 241, 242, 243, 244, 245, 246, 247, 248, 249,
	250, 251, 252, 253, 254, 255, 256, 257, 258,
	260, 261, 262, 263, 264, 265, 266, 267, 268, 269,
	290, 291, 297, 298, 299,
	30, 31, 32, 33, 34, 36, 39,
	350, 351, 352, 353, 354, 355, 356, 357, 358, 359,
	370, 371, 372, 373, 374, 375, 376, 377, 378,
	380, 381, 382, 383, 385, 386, 387, 389,
	40, 41, 43, 44, 45, 46, 47, 48, 49, 420, 421, 423,
	51, 52, 53, 54, 55, 56, 57, 58,
	500, 501, 502, 503, 504, 505, 506, 507, 508, 509,
	590, 591, 592, 593, 594, 595, 596, 597, 598, 599,
	60, 61, 62, 63, 64, 65, 66,
	670, 672, 673, 674, 675, 676, 677, 678, 679,
	680, 681, 682, 683, 685, 686, 687, 688, 689,
	690, 691, 692,
	81, 82, 84, 86,
	850, 852, 853, 855, 856,
	870, 880, 881, 882, 883, 886,
	90, 91, 92, 93, 94, 95, 98,
	960, 961, 962, 963, 964, 965, 966, 967, 968,
	970, 971, 972, 973, 974, 975, 976, 977,
	992, 993, 994, 995, 996, 998,
};

/*
 * Trunk prefixes are stripped only when present, so a country whose
 * national numbers never start with 0 may list "0" without harm. Italy,
 * San Marino and Vatican City keep their leading 0 in E.164, and Spain,
 * Poland and others have no trunk prefix at all.
 *
 * The national number lengths cover the fixed, mobile and
 * non-geographic numbers of each national numbering plan, and countries
 * that share a calling code share the range. One range covers all of a
 * country's numbers, so a 9-digit number after +20 counts as Egyptian
 * although Egyptian mobile numbers, which start with 1, have 10 digits.
 * TODO: check the ranges against the plans countries notified to the ITU.
 */
static const struct country countries[] = {
	/* North American Numbering Plan */
	{ "US", "1", "1", "011", 10, 10 },
	{ "CA", "1", "1", "011", 10, 10 },
	{ "PR", "1", "1", "011", 10, 10 },
	{ "VI", "1", "1", "011", 10, 10 },
	{ "GU", "1", "1", "011", 10, 10 },
	{ "AS", "1", "1", "011", 10, 10 },
	{ "MP", "1", "1", "011", 10, 10 },
	{ "AG", "1", "1", "011", 10, 10 },
	{ "AI", "1", "1", "011", 10, 10 },
	{ "BB", "1", "1", "011", 10, 10 },
	{ "BM", "1", "1", "011", 10, 10 },
	{ "BS", "1", "1", "011", 10, 10 },
	{ "DM", "1", "1", "011", 10, 10 },
	{ "DO", "1", "1", "011", 10, 10 },
	{ "GD", "1", "1", "011", 10, 10 },
	{ "JM", "1", "1", "011", 10, 10 },
	{ "KN", "1", "1", "011", 10, 10 },
	{ "KY", "1", "1", "011", 10, 10 },
	{ "LC", "1", "1", "011", 10, 10 },
	{ "MS", "1", "1", "011", 10, 10 },
	{ "SX", "1", "1", "011", 10, 10 },
	{ "TC", "1", "1", "011", 10, 10 },
	{ "TT", "1", "1", "011", 10, 10 },
	{ "VC", "1", "1", "011", 10, 10 },
	{ "VG", "1", "1", "011", 10, 10 },

	/* European Union and European Economic Area */
	{ "AT", "43", "0", "00", 4, 13 },
	{ "BE", "32", "0", "00", 8, 9 },
	{ "BG", "359", "0", "00", 6, 9 },
	{ "CY", "357", "", "00", 8, 8 },
	{ "CZ", "420", "", "00", 9, 9 },
	{ "DE", "49", "0", "00", 5, 13 },
	{ "DK", "45", "", "00", 8, 8 },
	{ "EE", "372", "", "00", 7, 8 },
	{ "ES", "34", "", "00", 9, 9 },
	{ "FI", "358", "0", "00", 5, 12 },
	{ "FR", "33", "0", "00", 9, 9 },
	{ "GR", "30", "", "00", 10, 10 },
	{ "HR", "385", "0", "00", 8, 9 },
	{ "HU", "36", "06", "00", 8, 9 },
	{ "IE", "353", "0", "00", 7, 9 },
	{ "IS", "354", "", "00", 7, 9 },
	{ "IT", "39", "", "00", 6, 11 },
	{ "LI", "423", "", "00", 7, 9 },
	/* Lithuania is replacing trunk prefix 8 with 0, so both are read. */
	{ "LT", "370", "8,0", "00", 8, 8 },
	{ "LU", "352", "", "00", 4, 11 },
	{ "LV", "371", "", "00", 8, 8 },
	{ "MT", "356", "", "00", 8, 8 },
	{ "NL", "31", "0", "00", 9, 9 },
	{ "NO", "47", "", "00", 8, 8 },
	{ "PL", "48", "", "00", 9, 9 },
	{ "PT", "351", "", "00", 9, 9 },
	{ "RO", "40", "0", "00", 9, 9 },
	{ "SE", "46", "0", "00", 6, 9 },
	{ "SI", "386", "0", "00", 8, 8 },
	{ "SK", "421", "0", "00", 9, 9 },

	/* Rest of Europe */
	{ "AD", "376", "", "00", 6, 9 },
	{ "AL", "355", "0", "00", 6, 9 },
	{ "BA", "387", "0", "00", 8, 9 },
	{ "CH", "41", "0", "00", 9, 9 },
	{ "GB", "44", "0", "00", 9, 10 },
	{ "GG", "44", "0", "00", 9, 10 },
	{ "GI", "350", "", "00", 8, 8 },
	{ "IM", "44", "0", "00", 9, 10 },
	{ "JE", "44", "0", "00", 9, 10 },
	{ "MC", "377", "", "00", 8, 9 },
	{ "MD", "373", "0", "00", 8, 8 },
	{ "ME", "382", "0", "00", 8, 8 },
	{ "MK", "389", "0", "00", 8, 8 },
	{ "RS", "381", "0", "00", 6, 10 },
	{ "RU", "7", "8", "810", 10, 10 },
	{ "SM", "378", "", "00", 6, 10 },
	{ "TR", "90", "0", "00", 10, 10 },
	{ "UA", "380", "0", "00", 9, 9 },
	{ "VA", "39", "", "00", 6, 11 },

	/* Asia and Oceania */
	{ "AU", "61", "0", "0011", 9, 9 },
	{ "BD", "880", "0", "00", 8, 10 },
	{ "CN", "86", "0", "00", 9, 11 },
	{ "HK", "852", "", "001", 8, 8 },
	{ "ID", "62", "0", "001,007,008,009", 7, 12 },
	{ "IN", "91", "0", "00", 10, 10 },
	{ "JP", "81", "0", "010", 9, 10 },
	{ "KR", "82", "0", "001,002,00700", 8, 10 },
	{ "KZ", "7", "8", "810", 10, 10 },
	{ "LK", "94", "0", "00", 9, 9 },
	{ "MO", "853", "", "00", 8, 8 },
	{ "MY", "60", "0", "00", 8, 10 },
	{ "NZ", "64", "0", "00", 8, 10 },
	{ "PH", "63", "0", "00", 8, 10 },
	{ "PK", "92", "0", "00", 9, 10 },
	{ "SG", "65", "", "001,002", 8, 8 },
	{ "TH", "66", "0", "001", 8, 9 },
	{ "TW", "886", "0", "002", 8, 9 },
	{ "VN", "84", "0", "00", 9, 10 },

	/* Middle East */
	{ "AE", "971", "0", "00", 8, 9 },
	{ "BH", "973", "", "00", 8, 8 },
	{ "IL", "972", "0", "00", 8, 9 },
	{ "JO", "962", "0", "00", 8, 9 },
	{ "KW", "965", "", "00", 8, 8 },
	{ "LB", "961", "0", "00", 7, 8 },
	{ "OM", "968", "", "00", 8, 8 },
	{ "QA", "974", "", "00", 7, 8 },
	{ "SA", "966", "0", "00", 8, 9 },

	/* Africa */
	{ "DZ", "213", "0", "00", 8, 9 },
	{ "EG", "20", "0", "00", 8, 10 },
	{ "GH", "233", "0", "00", 9, 9 },
	{ "KE", "254", "0", "000", 8, 10 },
	{ "MA", "212", "0", "00", 9, 9 },
	{ "NG", "234", "0", "009", 7, 10 },
	{ "TN", "216", "", "00", 8, 8 },
	{ "TZ", "255", "0", "000", 9, 9 },
	{ "UG", "256", "0", "000", 9, 9 },
	{ "ZA", "27", "0", "00", 9, 9 },

	/*
	 * Latin America. NOTE: Argentine mobile numbers written nationally
	 * with "15" come out without the 9 that E.164 puts after +54.
	 */
	{ "AR", "54", "0", "00", 10, 11 },
	{ "BR", "55", "0", "00XX", 10, 11 },
	{ "CL", "56", "0", "00", 9, 9 },
	{ "CO", "57", "0", "00X", 8, 10 },
	{ "CR", "506", "", "00", 8, 8 },
	{ "EC", "593", "0", "00", 8, 9 },
	{ "GT", "502", "", "00", 8, 8 },
	{ "HN", "504", "", "00", 8, 8 },
	/*
	 * Mexico dropped these prefixes in 2019, but old records keep them,
	 * and the 1 that mobile numbers had after +52 makes 11 digits.
	 */
	{ "MX", "52", "01,044,045", "00", 10, 11 },
	{ "PA", "507", "", "00", 7, 8 },
	{ "PE", "51", "0", "00", 8, 9 },
	{ "SV", "503", "", "00", 8, 8 },
	{ "UY", "598", "0", "00", 8, 8 },
	{ "VE", "58", "0", "00", 10, 10 },
};

/*
 * Provider address prefixes. Matching uses ASCII case only, so that the
 * result does not depend on the locale.
 */
static const char *const channels[] = {
	"sms", "whatsapp", "messenger", "rcs"
};

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int
ascii_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* Return 1 when S starts with LOWER_PREFIX, ignoring ASCII case in S. */
static int
has_prefix_nocase(const char *s, const char *lower_prefix)
{
	size_t	i;

	for (i = 0; lower_prefix[i] != '\0'; i++)
		if (ascii_lower((unsigned char)s[i]) != lower_prefix[i])
			return 0;
	return 1;
}

static const struct country *
country_find(const char *iso)
{
	char	upper[3];
	size_t	i;

	if (iso == NULL || strlen(iso) != 2)
		return NULL;
	upper[0] = (char)ascii_upper((unsigned char)iso[0]);
	upper[1] = (char)ascii_upper((unsigned char)iso[1]);
	upper[2] = '\0';
	for (i = 0; i < nitems(countries); i++)
		if (strcmp(countries[i].iso, upper) == 0)
			return &countries[i];
	return NULL;
}

static int
calling_code_assigned(unsigned int value)
{
	size_t	i;

	for (i = 0; i < nitems(calling_codes); i++)
		if (calling_codes[i] == value)
			return 1;
	return 0;
}

/*
 * Return the length of the assigned calling code at the start of
 * DIGITS, or 0. The codes are prefix-free, so the first length that
 * matches is the only one.
 */
static size_t
calling_code_len(const char *digits)
{
	unsigned int	value = 0;
	size_t		len;

	if (digits[0] == '0')
		return 0;
	for (len = 1; len <= 3 && digits[len - 1] != '\0'; len++) {
		value = value * 10 + (unsigned int)(digits[len - 1] - '0');
		if (calling_code_assigned(value))
			return len;
	}
	return 0;
}

/* Return 1 when DIGITS start with the LEN characters of PATTERN. */
static int
pattern_matches(const char *digits, const char *pattern, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (digits[i] == '\0')
			return 0;
		if (pattern[i] != 'X' && pattern[i] != digits[i])
			return 0;
	}
	return 1;
}

/*
 * Return the length of the first alternative in the comma-separated
 * LIST that starts DIGITS, or 0 when none does.
 */
static size_t
prefix_match(const char *digits, const char *list)
{
	const char	*alt = list;
	size_t		 len;

	while (*alt != '\0') {
		len = strcspn(alt, ",");
		if (len > 0 && pattern_matches(digits, alt, len))
			return len;
		alt += len;
		if (*alt == ',')
			alt++;
	}
	return 0;
}

static int
is_separator(int c)
{
	return c != '\0' && strchr(" \t.-/()", c) != NULL;
}

/*
 * Return the byte length of the Unicode separator that starts the UTF-8
 * text P, or 0. Spreadsheets and phones write numbers with Unicode spaces
 * (U+00A0, U+2000 to U+200A, U+202F, U+205F, U+3000) and dashes (U+2010
 * to U+2015, U+2212). A copied contact also carries invisible direction
 * marks, joiners and soft hyphens (U+00AD, U+061C, U+200B to U+200F,
 * U+202A to U+202E, U+2060, U+2066 to U+2069, U+FEFF).
 */
static size_t
unicode_separator_len(const unsigned char *p)
{
	if (p[0] == 0xc2 && (p[1] == 0xa0 || p[1] == 0xad))
		return 2;
	if (p[0] == 0xd8 && p[1] == 0x9c)
		return 2;
	if (p[0] == 0xe2 && p[1] == 0x80 &&
	    ((p[2] >= 0x80 && p[2] <= 0x95) || (p[2] >= 0xaa && p[2] <= 0xaf)))
		return 3;
	if (p[0] == 0xe2 && p[1] == 0x81 &&
	    (p[2] == 0x9f || p[2] == 0xa0 || (p[2] >= 0xa6 && p[2] <= 0xa9)))
		return 3;
	if (p[0] == 0xe2 && p[1] == 0x88 && p[2] == 0x92)
		return 3;
	if (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80)
		return 3;
	if (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		return 3;
	return 0;
}

static int
is_ascii_letter(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Return the ASCII character that the UTF-8 text P starts with, and store
 * its byte length in *LEN. The fullwidth forms of ASCII (U+FF01 to
 * U+FF5E) that East Asian input methods type count as ASCII, and so do
 * the Arabic-Indic (U+0660 to U+0669) and Extended Arabic-Indic (U+06F0
 * to U+06F9) digits. Any other byte is returned as it is, with length 1.
 */
static int
fold_char(const unsigned char *p, size_t *len)
{
	*len = 2;
	if (p[0] == 0xd9 && p[1] >= 0xa0 && p[1] <= 0xa9)
		return '0' + (p[1] - 0xa0);
	if (p[0] == 0xdb && p[1] >= 0xb0 && p[1] <= 0xb9)
		return '0' + (p[1] - 0xb0);
	*len = 3;
	if (p[0] == 0xef && p[1] == 0xbc && p[2] >= 0x81 && p[2] <= 0xbf)
		return '!' + (p[2] - 0x81);
	if (p[0] == 0xef && p[1] == 0xbd && p[2] >= 0x80 && p[2] <= 0x9e)
		return '`' + (p[2] - 0x80);
	*len = 1;
	return p[0];
}

/* Return the byte length of a "(0)" that starts P, in any width, or 0. */
static size_t
optional_zero_len(const unsigned char *p)
{
	const char	*expected = "(0)";
	size_t		 total = 0, len, i;

	for (i = 0; expected[i] != '\0'; i++) {
		if (fold_char(p + total, &len) != expected[i])
			return 0;
		total += len;
	}
	return total;
}

/*
 * Collect the digits of TEXT into S. A '+' may come only before the
 * first digit. "(0)" after a digit is the optional trunk prefix of
 * "+44 (0)20 ..." and is skipped.
 */
static const char *
scan_text(const char *text, struct scan *s)
{
	const unsigned char	*p;
	size_t			 len, skip;
	int			 c;

	s->len = 0;
	s->plus = 0;
	p = (const unsigned char *)(text == NULL ? "" : text);
	for (; *p != '\0'; p += len) {
		c = fold_char(p, &len);
		if (s->len > 0 && (skip = optional_zero_len(p)) > 0)
			len = skip;
		else if (c >= '0' && c <= '9') {
			if (s->len == SCAN_DIGITS_MAX)
				return "too many digits";
			s->digits[s->len++] = c;
		} else if (c == '+') {
			if (s->plus || s->len > 0)
				return "plus sign not at start";
			s->plus = 1;
		} else if (is_ascii_letter(c))
			return "contains letters";
		else if ((skip = unicode_separator_len(p)) > 0)
			len = skip;
		else if (!is_separator(c))
			return "unexpected character";
	}
	s->digits[s->len] = '\0';
	return s->len == 0 ? "no digits" : NULL;
}

static int
national_len_fits(const struct country *country, size_t len)
{
	return len >= country->nsn_min && len <= country->nsn_max;
}

/*
 * Return 1 when DIGITS are a calling code of the country table followed
 * by a national number of a length that the country uses. Calling codes
 * of countries outside the table never match.
 */
static int
international_len_fits(const char *digits)
{
	size_t	code_len, i;

	if ((code_len = calling_code_len(digits)) == 0)
		return 0;
	for (i = 0; i < nitems(countries); i++)
		if (strlen(countries[i].code) == code_len &&
		    strncmp(countries[i].code, digits, code_len) == 0 &&
		    national_len_fits(&countries[i],
		    strlen(digits) - code_len))
			return 1;
	return 0;
}

static const char *check_nanp(const char *);

/*
 * Return 1 when S, which cannot be a national number of COUNTRY, is an
 * international number written without its '+'. A number one digit
 * longer than a national number may be a national number with a digit
 * typed twice, which must not reach another country. So it is read as
 * international only with COUNTRY's own calling code, or as a North
 * American number with its 1.
 */
static int
reads_international(const struct country *country, const struct scan *s)
{
	size_t code_len = strlen(country->code);

	if (s->len >= (size_t)country->nsn_max + 2)
		return international_len_fits(s->digits);
	if (strncmp(s->digits, country->code, code_len) == 0)
		return national_len_fits(country, s->len - code_len);
	return s->len == 11 && s->digits[0] == '1' &&
	    check_nanp(s->digits + 1) == NULL;
}

/*
 * Store in INTL the calling code and national number of S: the digits
 * after '+' or an international prefix, or else the default country's
 * calling code and the digits without their trunk prefix. Digits that
 * reads_international() accepts, such as 447700900123 in the United
 * States, keep their own calling code.
 */
static const char *
internationalize(const struct scan *s, const char *iso, char *intl,
    size_t intlsz)
{
	const struct country	*country;
	size_t			 skip;
	int			 n;

	if (s->plus) {
		n = snprintf(intl, intlsz, "%s", s->digits);
		return n < 0 || (size_t)n >= intlsz ? "too many digits" : NULL;
	}
	if ((country = country_find(iso)) == NULL)
		return "unknown default country";
	if ((skip = prefix_match(s->digits, country->intl)) > 0) {
		n = snprintf(intl, intlsz, "%s", s->digits + skip);
		return n < 0 || (size_t)n >= intlsz ? "too many digits" : NULL;
	}
	skip = prefix_match(s->digits, country->trunk);
	if (!national_len_fits(country, s->len - skip) &&
	    reads_international(country, s))
		n = snprintf(intl, intlsz, "%s", s->digits);
	else
		n = snprintf(intl, intlsz, "%s%s", country->code,
		    s->digits + skip);
	return n < 0 || (size_t)n >= intlsz ? "too many digits" : NULL;
}

/*
 * The North American plan has 10-digit national numbers whose area
 * code and exchange code start with 2 to 9.
 */
static const char *
check_nanp(const char *national)
{
	size_t	len = strlen(national);

	if (len < 10)
		return "too few digits";
	if (len > 10)
		return "too many digits";
	if (national[0] < '2')
		return "area code starts with 0 or 1";
	if (national[3] < '2')
		return "exchange code starts with 0 or 1";
	return NULL;
}

static const char *
check_number(const char *intl)
{
	size_t	len = strlen(intl), code_len;

	/* Fewer than 3 digits may still be the start of a 3-digit code. */
	if ((code_len = calling_code_len(intl)) == 0)
		return len < 3 ? "too few digits" :
		    "unknown country calling code";
	if (code_len == 1 && intl[0] == '1')
		return check_nanp(intl + 1);
	if (len - code_len < NATIONAL_DIGITS_MIN)
		return "too few digits";
	if (len > E164_DIGITS_MAX)
		return "too many digits";
	return NULL;
}

int
phone_normalize(const char *text, const char *default_country, char *out,
    size_t outsz, const char **why)
{
	struct scan	 s;
	char		 intl[INTL_SIZE];
	const char	*reason;
	size_t		 len = 0;

	if (outsz > 0)
		out[0] = '\0';
	reason = scan_text(text, &s);
	if (reason == NULL)
		reason = internationalize(&s, default_country, intl,
		    sizeof(intl));
	if (reason == NULL)
		reason = check_number(intl);
	if (reason == NULL && (len = strlen(intl)) + 2 > outsz)
		reason = "buffer too small";
	if (why != NULL)
		*why = reason;
	if (reason != NULL)
		return -1;
	out[0] = '+';
	memcpy(out + 1, intl, len + 1);
	return 0;
}

const char *
phone_channel(const char *text, const char **number)
{
	size_t	i, len;

	for (i = 0; text != NULL && i < nitems(channels); i++) {
		len = strlen(channels[i]);
		if (has_prefix_nocase(text, channels[i]) && text[len] == ':') {
			if (number != NULL)
				*number = text + len + 1;
			return channels[i];
		}
	}
	if (number != NULL)
		*number = text;
	return channels[0];
}

int
phone_has_prefix(const char *text)
{
	const char *number;

	phone_channel(text, &number);
	return number != text;
}

int
phone_channel_valid(const char *name)
{
	size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-");

	return n > 0 && n <= 32 && name[n] == '\0';
}

int
phone_country_known(const char *code)
{
	return country_find(code) != NULL;
}

int
phone_is_short_code(const char *text)
{
	size_t	len;

	if (text == NULL)
		return 0;
	len = strspn(text, "0123456789");
	if (text[len] == '\0')
		return len >= 3 && len <= 8;
	if (strncmp(text, "MG", 2) != 0)
		return 0;
	len = strspn(text + 2, "0123456789abcdefABCDEF");
	return len == 32 && text[2 + len] == '\0';
}
