#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convo.h"
#include "phone.h"
#include "unit.h"

struct normalize_case {
	const char	*text;
	const char	*country;
	const char	*want;	/* NULL when the number must be rejected */
	const char	*why;	/* NULL when the number must be accepted */
};

static const struct normalize_case accepted[] = {
	{ "+1 (201) 555-0123", "US", "+12015550123", NULL },
	{ "+12015550123", "US", "+12015550123", NULL },
	{ "(201) 555-0123", "US", "+12015550123", NULL },
	{ "201.555.0123", "US", "+12015550123", NULL },
	{ "1-201-555-0123", "US", "+12015550123", NULL },
	{ "  201 555 0123  ", "US", "+12015550123", NULL },
	{ "\t201/555/0123\t", "US", "+12015550123", NULL },
	{ "2015550123", "us", "+12015550123", NULL },
	{ "+15005550006", "US", "+15005550006", NULL },
	{ "+15005550006", NULL, "+15005550006", NULL },
	{ "+442079460958", "ZZ", "+442079460958", NULL },
	{ "416 555 0199", "CA", "+14165550199", NULL },
	{ "787 555 0100", "PR", "+17875550100", NULL },
	{ "1 876 555 0100", "JM", "+18765550100", NULL },
	{ "011 44 20 7946 0958", "US", "+442079460958", NULL },
	{ "00 44 20 7946 0958", "DE", "+442079460958", NULL },
	{ "0044 20 7946 0958", "FR", "+442079460958", NULL },
	{ "020 7946 0958", "GB", "+442079460958", NULL },
	{ "020 7946 0958", "gb", "+442079460958", NULL },
	{ "20 7946 0958", "GB", "+442079460958", NULL },
	{ "+44 (0)20 7946 0958", "US", "+442079460958", NULL },
	{ "(+44) 20 7946 0958", "US", "+442079460958", NULL },
	{ "0044 (0) 20 7946 0958", "NL", "+442079460958", NULL },
	{ "030 123456", "DE", "+4930123456", NULL },
	{ "01 23 45 67 89", "FR", "+33123456789", NULL },
	{ "06 1234 5678", "IT", "+390612345678", NULL },
	{ "612 345 678", "ES", "+34612345678", NULL },
	{ "06 30 123 4567", "HU", "+36301234567", NULL },
	{ "8 612 34567", "LT", "+37061234567", NULL },
	{ "8 (912) 345-67-89", "RU", "+79123456789", NULL },
	{ "810 44 20 7946 0958", "RU", "+442079460958", NULL },
	{ "0412 345 678", "AU", "+61412345678", NULL },
	{ "0011 1 201 555 0123", "AU", "+12015550123", NULL },
	{ "090-1234-5678", "JP", "+819012345678", NULL },
	{ "010 1 201 555 0123", "JP", "+12015550123", NULL },
	{ "(11) 91234-5678", "BR", "+5511912345678", NULL },
	{ "00 21 44 20 7946 0958", "BR", "+442079460958", NULL },
	{ "044 55 1234 5678", "MX", "+525512345678", NULL },
	{ "55 1234 5678", "MX", "+525512345678", NULL },
	{ "0712 345678", "KE", "+254712345678", NULL },
	{ "000 44 20 7946 0958", "KE", "+442079460958", NULL },
	{ "+7 912 345 67 89", "GB", "+79123456789", NULL },
	/* NO-BREAK SPACE */
	{ "201\xc2\xa0" "555 0123", "US", "+12015550123", NULL },
	/* NON-BREAKING HYPHEN and EN DASH */
	{ "201\xe2\x80\x91" "555\xe2\x80\x93" "0123", "US", "+12015550123",
	    NULL },
	/* LEFT-TO-RIGHT OVERRIDE and POP DIRECTIONAL FORMATTING */
	{ "\xe2\x80\xad" "+1 201 555 0123\xe2\x80\xac", "US",
	    "+12015550123", NULL },
	/* NARROW NO-BREAK SPACE, MINUS SIGN and IDEOGRAPHIC SPACE */
	{ "020\xe2\x80\xaf" "7946\xe2\x88\x92" "0958\xe3\x80\x80", "GB",
	    "+442079460958", NULL },
	/* ZERO WIDTH NO-BREAK SPACE and WORD JOINER */
	{ "\xef\xbb\xbf" "201\xe2\x81\xa0" "5550123", "US",
	    "+12015550123", NULL },
	/* ARABIC LETTER MARK around the number */
	{ "\xd8\x9c" "+1 201 555 0123\xd8\x9c", "US", "+12015550123",
	    NULL },
	/* SOFT HYPHEN, as text copied from a web page may carry */
	{ "201\xc2\xad" "555\xc2\xad" "0123", "US", "+12015550123", NULL },
	{ "+86 138 0013 8000", "US", "+8613800138000", NULL },
	{ "+852 2123 4567", "US", "+85221234567", NULL },
	{ "+881 6 1234 5678", "US", "+881612345678", NULL },
	{ "+683 4002", "US", "+6834002", NULL },
	/*
	 * International numbers without their '+' that cannot be national
	 * numbers of the default country, because of their length.
	 */
	{ "447700900123", "US", "+447700900123", NULL },
	{ "44 7700 900123", "CA", "+447700900123", NULL },
	{ "8613800138000", "US", "+8613800138000", NULL },
	{ "5511912345678", "US", "+5511912345678", NULL },
	{ "12015550123", "GB", "+12015550123", NULL },
	{ "447700900123", "GB", "+447700900123", NULL },
	{ "393471234567", "IT", "+393471234567", NULL },
	{ "79123456789", "RU", "+79123456789", NULL },
	/* Japan's 81 starts with Russia's trunk prefix 8. */
	{ "819012345678", "RU", "+819012345678", NULL },
	/* FULLWIDTH DIGIT ONE to THREE */
	{ "+1 201 555 0\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93", "US",
	    "+12015550123", NULL },
	/* FULLWIDTH PLUS SIGN, digits and HYPHEN-MINUS: "+81 90-1234-5678" */
	{ "\xef\xbc\x8b\xef\xbc\x98\xef\xbc\x91 "
	    "\xef\xbc\x99\xef\xbc\x90\xef\xbc\x8d"
	    "\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93\xef\xbc\x94\xef\xbc\x8d"
	    "\xef\xbc\x95\xef\xbc\x96\xef\xbc\x97\xef\xbc\x98", "US",
	    "+819012345678", NULL },
	/* Fullwidth digits and brackets: "090(1234)5678" */
	{ "\xef\xbc\x90\xef\xbc\x99\xef\xbc\x90\xef\xbc\x88"
	    "\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93\xef\xbc\x94\xef\xbc\x89"
	    "\xef\xbc\x95\xef\xbc\x96\xef\xbc\x97\xef\xbc\x98", "JP",
	    "+819012345678", NULL },
	/* A fullwidth "+44(0)20" before ASCII digits */
	{ "\xef\xbc\x8b\xef\xbc\x94\xef\xbc\x94"
	    "\xef\xbc\x88\xef\xbc\x90\xef\xbc\x89"
	    "\xef\xbc\x92\xef\xbc\x90 7946 0958", "US", "+442079460958",
	    NULL },
	/* ARABIC-INDIC DIGIT ONE after ASCII digits */
	{ "+1 201 555 012\xd9\xa1", "US", "+12015550121", NULL },
	/* ARABIC-INDIC DIGITS: "050 123 4567" */
	{ "\xd9\xa0\xd9\xa5\xd9\xa0 \xd9\xa1\xd9\xa2\xd9\xa3 "
	    "\xd9\xa4\xd9\xa5\xd9\xa6\xd9\xa7", "SA", "+966501234567", NULL },
	/* EXTENDED ARABIC-INDIC DIGITS, as Urdu writes them: "0300 1234567" */
	{ "\xdb\xb0\xdb\xb3\xdb\xb0\xdb\xb0 "
	    "\xdb\xb1\xdb\xb2\xdb\xb3\xdb\xb4\xdb\xb5\xdb\xb6\xdb\xb7", "PK",
	    "+923001234567", NULL },
	/* EXTENDED ARABIC-INDIC DIGITS after an ASCII plus: "+92 300 1234567" */
	{ "+\xdb\xb9\xdb\xb2 \xdb\xb3\xdb\xb0\xdb\xb0 "
	    "\xdb\xb1\xdb\xb2\xdb\xb3\xdb\xb4\xdb\xb5\xdb\xb6\xdb\xb7", "US",
	    "+923001234567", NULL },
	/* Lengths that fit the default country keep the national reading. */
	{ "4477009001", "US", "+14477009001", NULL },
	{ "14477009001", "US", "+14477009001", NULL },
	{ "4915112345678", "DE", "+494915112345678", NULL },
	{ "3361234567", "GB", "+443361234567", NULL },
};

static const struct normalize_case rejected[] = {
	{ "", "US", NULL, "no digits" },
	{ "   ", "US", NULL, "no digits" },
	{ "-.()/ \t", "US", NULL, "no digits" },
	{ "+", "US", NULL, "no digits" },
	{ NULL, "US", NULL, "no digits" },
	{ "++12015550123", "US", NULL, "plus sign not at start" },
	{ "1+2015550123", "US", NULL, "plus sign not at start" },
	{ "201+555+0123", "US", NULL, "plus sign not at start" },
	{ "2015550123+", "US", NULL, "plus sign not at start" },
	{ "1-800-FLOWERS", "US", NULL, "contains letters" },
	{ "+1 201 555 0123 ext 5", "US", NULL, "contains letters" },
	{ "O2O 7946 O958", "GB", NULL, "contains letters" },
	{ "201 555 0123#", "US", NULL, "unexpected character" },
	{ "201,555,0123", "US", NULL, "unexpected character" },
	/* FULLWIDTH NUMBER SIGN */
	{ "201 555 0123\xef\xbc\x83", "US", NULL, "unexpected character" },
	/* FULLWIDTH LEFT WHITE PARENTHESIS, just past the fullwidth forms */
	{ "201\xef\xbd\x9f" "555 0123", "US", NULL, "unexpected character" },
	/* ARABIC PERCENT SIGN, just past the Arabic-Indic digits */
	{ "201 555 012\xd9\xaa", "US", NULL, "unexpected character" },
	/* EXTENDED ARABIC-INDIC DIGIT NINE, then U+06FA just past it */
	{ "201 555 012\xdb\xb9\xdb\xba", "US", NULL, "unexpected character" },
	/* DEVANAGARI DIGIT ONE */
	{ "+1 201 555 012\xe0\xa5\xa7", "US", NULL, "unexpected character" },
	/* A fullwidth digit without its last byte */
	{ "201 555 0123\xef\xbc", "US", NULL, "unexpected character" },
	/* FULLWIDTH LATIN CAPITAL LETTER O in place of a zero */
	{ "\xef\xbc\x90\xef\xbc\x92\xef\xbc\x90 7946 \xef\xbc\xaf" "958",
	    "GB", NULL, "contains letters" },
	/* FULLWIDTH PLUS SIGN between digits */
	{ "201\xef\xbc\x8b" "555 0123", "US", NULL, "plus sign not at start" },
	/* DOUBLE VERTICAL LINE (U+2016), just past the dashes */
	{ "201\xe2\x80\x96" "555 0123", "US", NULL, "unexpected character" },
	/* A lead byte of U+00A0 without its second byte */
	{ "201 555 0123\xc2", "US", NULL, "unexpected character" },
	{ "555 0123", "US", NULL, "too few digits" },
	{ "+1 201 555 012", "US", NULL, "too few digits" },
	{ "212 555 01234", "US", NULL, "too many digits" },
	/*
	 * One digit more than a US number: a typo, though 9 digits after
	 * +20 would be an Egyptian number.
	 */
	{ "201 555 01234", "US", NULL, "too many digits" },
	/* A French number needs its '+' in the United States. */
	{ "33 6 12 34 56 78", "US", NULL, "too many digits" },
	/*
	 * Too long for North America, and no calling code that they start
	 * with is followed by a length that its country uses.
	 */
	{ "4477009001234", "US", NULL, "too many digits" },
	{ "1 447 700 900 123", "US", NULL, "too many digits" },
	{ "999 1234 5678", "US", NULL, "too many digits" },
	{ "+1 234 567 8901 2", "US", NULL, "too many digits" },
	{ "+1", "US", NULL, "too few digits" },
	{ "+4", "US", NULL, "too few digits" },
	{ "+44 123", "US", NULL, "too few digits" },
	{ "+44 1234 5678 9012 34", "US", NULL, "too many digits" },
	{ "00", "GB", NULL, "too few digits" },
	{ "0", "GB", NULL, "too few digits" },
	{ "+1 001 555 0123", "US", NULL, "area code starts with 0 or 1" },
	{ "+1 101 555 0123", "US", NULL, "area code starts with 0 or 1" },
	{ "+1 201 055 0123", "US", NULL,
	    "exchange code starts with 0 or 1" },
	{ "+1 201 155 0123", "US", NULL,
	    "exchange code starts with 0 or 1" },
	{ "+999 1234 5678", "US", NULL, "unknown country calling code" },
	{ "+0 20 7946 0958", "US", NULL, "unknown country calling code" },
	{ "+259 123 4567", "US", NULL, "unknown country calling code" },
	{ "+800 1234 5678", "US", NULL, "unknown country calling code" },
	{ "00 999 1234 5678", "DE", NULL, "unknown country calling code" },
	{ "2015550123", "ZZ", NULL, "unknown default country" },
	{ "2015550123", "USA", NULL, "unknown default country" },
	{ "2015550123", "", NULL, "unknown default country" },
	{ "2015550123", NULL, NULL, "unknown default country" },
	{ "0044 20 7946 0958", "XX", NULL, "unknown default country" },
};

struct channel_case {
	const char	*text;
	const char	*channel;
	const char	*number;
};

static const struct channel_case channel_cases[] = {
	{ "whatsapp:+15005550006", "whatsapp", "+15005550006" },
	{ "WhatsApp:+15005550006", "whatsapp", "+15005550006" },
	{ "sms:+15005550006", "sms", "+15005550006" },
	{ "SMS:+15005550006", "sms", "+15005550006" },
	{ "messenger:1234567890", "messenger", "1234567890" },
	{ "rcs:+15005550006", "rcs", "+15005550006" },
	{ "whatsapp:", "whatsapp", "" },
	{ "+15005550006", "sms", "+15005550006" },
	{ "whatsapp", "sms", "whatsapp" },
	{ "whatsap:+15005550006", "sms", "whatsap:+15005550006" },
	{ "fax:+15005550006", "sms", "fax:+15005550006" },
	{ " whatsapp:+15005550006", "sms", " whatsapp:+15005550006" },
	{ "", "sms", "" },
};

struct short_code_case {
	const char	*text;
	int		 want;
};

static const struct short_code_case short_code_cases[] = {
	{ "123", 1 },
	{ "12345", 1 },
	{ "12345678", 1 },
	{ "12", 0 },
	{ "123456789", 0 },
	{ "12 345", 0 },
	{ "+12345", 0 },
	{ "", 0 },
	{ "MG0123456789abcdef0123456789abcdef", 1 },
	{ "MG0123456789ABCDEF0123456789ABCDEF", 1 },
	{ "MG0123456789abcdef0123456789abcde", 0 },
	{ "MG0123456789abcdef0123456789abcdef0", 0 },
	{ "MG0123456789abcdef0123456789abcdeg", 0 },
	{ "mg0123456789abcdef0123456789abcdef", 0 },
	{ "PN0123456789abcdef0123456789abcdef", 0 },
	{ "MG", 0 },
};

/* Default countries that the normaliser must know. */
static const char *const required_countries[] = {
	"US", "CA", "PR", "VI", "GU", "JM", "BS", "BB", "TT", "DO",
	"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE",
	"GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT",
	"RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
	"GB", "CH", "AU", "NZ", "IN", "JP", "KR", "CN", "HK", "SG", "MY",
	"PH", "ID", "TH", "VN", "BR", "MX", "AR", "CL", "CO", "PE", "ZA",
	"NG", "KE", "EG", "AE", "SA", "IL", "TR", "RU", "UA", "PL",
};

static void
check_normalize(const struct normalize_case *c)
{
	char		 out[PHONE_MAX], name[128];
	const char	*why = "unset";
	int		 rc;

	rc = phone_normalize(c->text, c->country, out, sizeof(out), &why);
	snprintf(name, sizeof(name), "normalize \"%s\" in %s",
	    c->text ? c->text : "(null)", c->country ? c->country : "(null)");
	unit_check(rc == (c->want != NULL ? 0 : -1), name);
	unit_check_str(c->want != NULL ? out : NULL, c->want, name);
	unit_check_str(why, c->why, name);
	if (c->want == NULL)
		unit_check(out[0] == '\0', "rejected output is empty");
}

/* Long digit or plus runs are rejected, but long padding is not. */
static void
check_long_input(void)
{
	char		 text[10000], out[PHONE_MAX];
	const char	*why = NULL;
	int		 rc;

	memset(text, '9', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	rc = phone_normalize(text, "US", out, sizeof(out), &why);
	unit_check(rc == -1, "long digit run rejected");
	unit_check_str(why, "too many digits", "long digit run reason");

	memset(text, ' ', sizeof(text) - 1);
	memcpy(text + sizeof(text) - 11, "2015550123", 10);
	rc = phone_normalize(text, "US", out, sizeof(out), &why);
	unit_check(rc == 0, "long leading spaces accepted");
	unit_check_str(out, "+12015550123", "long leading spaces output");

	memset(text, '+', sizeof(text) - 1);
	rc = phone_normalize(text, "US", out, sizeof(out), &why);
	unit_check_str(why, "plus sign not at start", "long plus run reason");
}

static void
check_buffer(void)
{
	char		 out[32];
	const char	*why = NULL;
	int		 rc;

	memset(out, 'Z', sizeof(out));
	rc = phone_normalize("+12015550123", "US", out, 13, &why);
	unit_check(rc == 0, "exact buffer accepted");
	unit_check_str(out, "+12015550123", "exact buffer output");
	unit_check(out[13] == 'Z', "exact buffer not overrun");

	memset(out, 'Z', sizeof(out));
	rc = phone_normalize("+12015550123", "US", out, 12, &why);
	unit_check(rc == -1, "short buffer rejected");
	unit_check_str(why, "buffer too small", "short buffer reason");
	unit_check(out[0] == '\0', "short buffer terminated");
	unit_check(out[12] == 'Z', "short buffer not overrun");

	memset(out, 'Z', sizeof(out));
	rc = phone_normalize("+12015550123", "US", out, 1, &why);
	unit_check(rc == -1 && out[0] == '\0', "one byte buffer empty");
	unit_check(out[1] == 'Z', "one byte buffer not overrun");

	rc = phone_normalize("+12015550123", "US", NULL, 0, &why);
	unit_check(rc == -1, "zero buffer rejected");
	unit_check_str(why, "buffer too small", "zero buffer reason");

	rc = phone_normalize("+12015550123", "US", out, sizeof(out), NULL);
	unit_check(rc == 0, "null why accepted");
}

static void
check_channel(const struct channel_case *c)
{
	const char	*number = NULL, *channel;
	char		 name[128];

	channel = phone_channel(c->text, &number);
	snprintf(name, sizeof(name), "channel \"%s\"", c->text);
	unit_check_str(channel, c->channel, name);
	unit_check_str(number, c->number, name);
	if (strcmp(c->number, c->text) == 0)
		unit_check(number == c->text, "plain number is the text");
}

static void
check_short_code(const struct short_code_case *c)
{
	char	name[128];

	snprintf(name, sizeof(name), "short code \"%s\"", c->text);
	unit_check(phone_is_short_code(c->text) == c->want, name);
}

static void
check_countries(void)
{
	char	name[64];
	size_t	i;

	for (i = 0; i < sizeof(required_countries) /
	    sizeof(required_countries[0]); i++) {
		snprintf(name, sizeof(name), "country %s known",
		    required_countries[i]);
		unit_check(phone_country_known(required_countries[i]), name);
	}
	unit_check(phone_country_known("us"), "country lower case known");
	unit_check(phone_country_known("Gb"), "country mixed case known");
	unit_check(!phone_country_known("ZZ"), "country ZZ unknown");
	unit_check(!phone_country_known("USA"), "country alpha-3 unknown");
	unit_check(!phone_country_known("U"), "country one letter unknown");
	unit_check(!phone_country_known(""), "country empty unknown");
	unit_check(!phone_country_known(NULL), "country null unknown");
}

int
main(void)
{
	size_t	i;

	for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
		check_normalize(&accepted[i]);
	for (i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++)
		check_normalize(&rejected[i]);
	check_long_input();
	check_buffer();
	for (i = 0; i < sizeof(channel_cases) / sizeof(channel_cases[0]); i++)
		check_channel(&channel_cases[i]);
	for (i = 0; i < sizeof(short_code_cases) /
	    sizeof(short_code_cases[0]); i++)
		check_short_code(&short_code_cases[i]);
	check_countries();
	return unit_done();
}
