/*
 * Table-driven tests of SMS segment counts: limits of single messages
 * and parts in both encodings, escape and surrogate pairs at part
 * boundaries, the GSM 03.38 table and invalid UTF-8. When CONVO_CORPUS
 * names a directory with segments.tsv, its vectors are checked too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "segments.h"
#include "unit.h"

#define SNOWMAN	"\xe2\x98\x83"		/* U+2603, 1 UTF-16 unit */
#define EURO	"\xe2\x82\xac"		/* U+20AC, GSM-7 extension */
#define GRIN	"\xf0\x9f\x98\x80"	/* U+1F600, a surrogate pair */

/* A run is PIECE repeated COUNT times, and a body is up to three runs. */
struct run {
	const char *piece;
	int count;
};

struct count_case {
	const char *name;
	struct run runs[3];
	const char *encoding;
	int segments;
	int units;
	int characters;
};

static const struct count_case counts[] = {
	{ "empty body", { { "", 0 } }, "GSM-7", 1, 0, 0 },
	{ "160 GSM-7 characters", { { "a", 160 } }, "GSM-7", 1, 160, 160 },
	{ "161 GSM-7 characters", { { "a", 161 } }, "GSM-7", 2, 161, 161 },
	{ "306 GSM-7 characters", { { "a", 306 } }, "GSM-7", 2, 306, 306 },
	{ "307 GSM-7 characters", { { "a", 307 } }, "GSM-7", 3, 307, 307 },
	{ "1600 GSM-7 characters", { { "a", 1600 } }, "GSM-7", 11, 1600,
	  1600 },
	{ "158 septets and euro fit one", { { "a", 158 }, { EURO, 1 } },
	  "GSM-7", 1, 160, 159 },
	{ "159 septets and euro need two", { { "a", 159 }, { EURO, 1 } },
	  "GSM-7", 2, 161, 160 },
	{ "escape pair ends first part",
	  { { "a", 151 }, { EURO, 1 }, { "a", 153 } }, "GSM-7", 2, 306,
	  305 },
	{ "escape pair not split at 153",
	  { { "a", 152 }, { EURO, 1 }, { "a", 152 } }, "GSM-7", 3, 306,
	  305 },
	{ "brace not split at 153",
	  { { "a", 152 }, { "{", 1 }, { "a", 152 } }, "GSM-7", 3, 306, 305 },
	{ "80 euro signs fit one", { { EURO, 80 } }, "GSM-7", 1, 160, 80 },
	{ "81 euro signs need two", { { EURO, 81 } }, "GSM-7", 2, 162, 81 },
	{ "153 euro signs need three", { { EURO, 153 } }, "GSM-7", 3, 306,
	  153 },
	{ "euro sign alone", { { EURO, 1 } }, "GSM-7", 1, 2, 1 },
	{ "price with euro sign", { { "Price: 5" EURO, 1 } }, "GSM-7", 1, 10,
	  9 },
	{ "all extension characters", { { "^{}\\[~]|\f" EURO, 1 } }, "GSM-7",
	  1, 20, 10 },
	{ "CR and LF are basic", { { "a\r\nb\n\r", 1 } }, "GSM-7", 1, 6, 6 },
	{ "Greek capitals in the table", { {
	  "\xce\x94\xce\xa6\xce\x93\xce\x9b\xce\xa9\xce\xa0\xce\xa8\xce\xa3"
	  "\xce\x98\xce\x9e", 1 } }, "GSM-7", 1, 10, 10 },
	{ "lowercase Greek is UCS-2", { { "\xce\xb1\xce\xb2\xce\xb3", 1 } },
	  "UCS-2", 1, 3, 3 },
	{ "Greek capital alpha is UCS-2", { { "\xce\x91", 1 } }, "UCS-2", 1,
	  1, 1 },
	{ "basic table outside ASCII", { {
	  "\xc2\xa1\xc2\xa3\xc2\xa4\xc2\xa5\xc2\xa7\xc2\xbf\xc3\x84\xc3\x85"
	  "\xc3\x86\xc3\x87\xc3\x89\xc3\x91\xc3\x96\xc3\x98\xc3\x9c\xc3\x9f"
	  "\xc3\xa0\xc3\xa4\xc3\xa5\xc3\xa6\xc3\xa8\xc3\xa9\xc3\xac\xc3\xb1"
	  "\xc3\xb2\xc3\xb6\xc3\xb8\xc3\xb9\xc3\xbc", 1 } }, "GSM-7", 1, 29,
	  29 },
	{ "ASCII without backtick", { {
	  " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	  "[\\]^_abcdefghijklmnopqrstuvwxyz{|}~", 1 } }, "GSM-7", 1, 102,
	  94 },
	{ "backtick is UCS-2", { { "`", 1 } }, "UCS-2", 1, 1, 1 },
	{ "tab is UCS-2", { { "a\tb", 1 } }, "UCS-2", 1, 3, 3 },
	{ "escape control is UCS-2", { { "\x1b", 1 } }, "UCS-2", 1, 1, 1 },
	{ "capital C cedilla is GSM-7", { { "\xc3\x87", 1 } }, "GSM-7", 1, 1,
	  1 },
	{ "small c cedilla is UCS-2", { { "\xc3\xa7", 1 } }, "UCS-2", 1, 1,
	  1 },
	{ "curly quotes stay UCS-2",
	  { { "\xe2\x80\x9cword\xe2\x80\x9d", 1 } }, "UCS-2", 1, 6, 6 },
	{ "no-break space stays UCS-2", { { "a\xc2\xa0" "b", 1 } }, "UCS-2",
	  1, 3, 3 },
	{ "70 UCS-2 characters", { { SNOWMAN, 70 } }, "UCS-2", 1, 70, 70 },
	{ "71 UCS-2 characters", { { SNOWMAN, 71 } }, "UCS-2", 2, 71, 71 },
	{ "134 UCS-2 characters", { { SNOWMAN, 134 } }, "UCS-2", 2, 134,
	  134 },
	{ "135 UCS-2 characters", { { SNOWMAN, 135 } }, "UCS-2", 3, 135,
	  135 },
	{ "1600 UCS-2 characters", { { SNOWMAN, 1600 } }, "UCS-2", 24, 1600,
	  1600 },
	{ "emoji fills one message", { { SNOWMAN, 68 }, { GRIN, 1 } },
	  "UCS-2", 1, 70, 69 },
	{ "emoji overflows one message", { { SNOWMAN, 69 }, { GRIN, 1 } },
	  "UCS-2", 2, 71, 70 },
	{ "emoji ends first part",
	  { { SNOWMAN, 65 }, { GRIN, 1 }, { SNOWMAN, 67 } }, "UCS-2", 2, 134,
	  133 },
	{ "surrogate pair not split at 67",
	  { { SNOWMAN, 66 }, { GRIN, 1 }, { SNOWMAN, 66 } }, "UCS-2", 3, 134,
	  133 },
	{ "emoji after 66 units of 71",
	  { { SNOWMAN, 66 }, { GRIN, 1 }, { SNOWMAN, 3 } }, "UCS-2", 2, 71,
	  70 },
	{ "35 emoji fill one message", { { GRIN, 35 } }, "UCS-2", 1, 70, 35 },
	{ "36 emoji need two", { { GRIN, 36 } }, "UCS-2", 2, 72, 36 },
	{ "67 emoji need three", { { GRIN, 67 } }, "UCS-2", 3, 134, 67 },
	{ "GSM-7 text with one emoji", { { "Hello " GRIN, 1 } }, "UCS-2", 1,
	  8, 7 },
	{ "long GSM-7 text with one emoji", { { "a", 150 }, { GRIN, 1 } },
	  "UCS-2", 3, 152, 151 },
	{ "euro in UCS-2 body is 1 unit", { { EURO EURO "\xce\xb1", 1 } },
	  "UCS-2", 1, 3, 3 },
	{ "flag is two surrogate pairs",
	  { { "\xf0\x9f\x87\xae\xf0\x9f\x87\xb9", 1 } }, "UCS-2", 1, 4, 2 },
	{ "combining accent is UCS-2", { { "e\xcc\x81", 1 } }, "UCS-2", 1, 2,
	  2 },
	{ "last BMP code point", { { "\xef\xbf\xbf", 1 } }, "UCS-2", 1, 1,
	  1 },
	{ "last code point", { { "\xf4\x8f\xbf\xbf", 1 } }, "UCS-2", 1, 2,
	  1 },
};

/* Bodies that are not valid UTF-8, with their lengths in bytes. */
static const struct {
	const char *name;
	const char *body;
	size_t len;
} invalid[] = {
	{ "lone continuation byte", "\x80", 1 },
	{ "truncated two-byte sequence", "ab\xc3", 3 },
	{ "bad continuation byte", "\xc3\x28", 2 },
	{ "overlong NUL", "\xc0\x80", 2 },
	{ "overlong three-byte slash", "\xe0\x80\xaf", 3 },
	{ "surrogate code point", "\xed\xa0\x80", 3 },
	{ "code point past U+10FFFF", "\xf4\x90\x80\x80", 4 },
	{ "byte 0xff", "a\xff", 2 },
	{ "emoji cut by length", GRIN, 3 },
	{ "euro cut by length", "abc" EURO, 5 },
};

/* Build the body of C into BUF, which has room for BUFSZ bytes. */
static size_t
build_body(const struct count_case *c, char *buf, size_t bufsz)
{
	const struct run *r;
	size_t len = 0, n, i;
	int k;

	for (i = 0; i < sizeof(c->runs) / sizeof(c->runs[0]); i++) {
		r = &c->runs[i];
		if (r->piece == NULL)
			continue;
		n = strlen(r->piece);
		for (k = 0; k < r->count && len + n < bufsz; k++) {
			memcpy(buf + len, r->piece, n);
			len += n;
		}
	}
	return len;
}

/* Check one count and print the values when they differ. */
static void
check_count(const char *body, size_t len, const char *encoding,
    int segments, int units, int characters, const char *name)
{
	struct segments got;
	int rc, pass;

	memset(&got, 0, sizeof(got));
	rc = segments_count(body, len, &got);
	pass = rc == 0 && got.encoding != NULL &&
	    strcmp(got.encoding, encoding) == 0 &&
	    got.segments == segments && got.units == units &&
	    got.characters == characters;
	unit_check(pass, name);
	if (!pass)
		printf("#   got %d: %s, %d segments, %d units, %d characters; "
		    "expected %s, %d segments, %d units, %d characters\n", rc,
		    got.encoding ? got.encoding : "(null)", got.segments,
		    got.units, got.characters, encoding, segments, units,
		    characters);
}

static void
check_counts(void)
{
	static char body[8192];
	const struct count_case *c;
	size_t i, len;
	char name[128];

	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		c = &counts[i];
		len = build_body(c, body, sizeof(body));
		check_count(body, len, c->encoding, c->segments, c->units,
		    c->characters, c->name);
		snprintf(name, sizeof(name), "%s: character count", c->name);
		unit_check(segments_characters(body, len) == c->characters,
		    name);
	}
}

static void
check_invalid(void)
{
	struct segments got = { "unchanged", 7, 7, 7 };
	char name[128];
	size_t i;

	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		snprintf(name, sizeof(name), "%s is rejected", invalid[i].name);
		unit_check(segments_count(invalid[i].body, invalid[i].len,
		    &got) == -1, name);
		snprintf(name, sizeof(name), "%s: no character count",
		    invalid[i].name);
		unit_check(segments_characters(invalid[i].body,
		    invalid[i].len) == -1, name);
	}
	unit_check(strcmp(got.encoding, "unchanged") == 0 &&
	    got.segments == 7 && got.units == 7 && got.characters == 7,
	    "rejected body leaves result unchanged");
}

static void
check_lengths(void)
{
	check_count("abc" EURO, 3, "GSM-7", 1, 3, 3,
	    "count stops at the length");
	check_count("a\0b", 3, "UCS-2", 1, 3, 3, "NUL byte is UCS-2");
	unit_check(segments_count("a", SEGMENTS_MAX_BYTES + 1, NULL) == -1,
	    "body over the byte limit is rejected");
	unit_check(segments_characters("a", SEGMENTS_MAX_BYTES + 1) == -1,
	    "characters over the byte limit rejected");
}

/* Replace the control characters of S so that a TAP line stays whole. */
static void
flatten(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

/*
 * Check one data row of segments.tsv: id, input_json, desc, encoding,
 * segments, units, unit_kind, unicode_scalars, then columns not used.
 */
static void
check_row(char *line)
{
	char *field[8], name[512];
	size_t n;
	jv input;

	for (n = 0; n < 8 && line != NULL; n++)
		field[n] = strsep(&line, "\t");
	if (n < 8) {
		flatten(field[0]);
		snprintf(name, sizeof(name), "%s: row has %zu columns, "
		    "expected at least 8", field[0], n);
		unit_check(0, name);
		return;
	}
	snprintf(name, sizeof(name), "%s: %s", field[0], field[2]);
	flatten(name);
	input = jv_parse(field[1]);
	if (jv_get_kind(input) != JV_KIND_STRING) {
		unit_check(0, name);
		printf("#   input_json is not a JSON string\n");
		jv_free(input);
		return;
	}
	check_count(jv_string_value(input),
	    (size_t)jv_string_length_bytes(jv_copy(input)), field[3],
	    atoi(field[4]), atoi(field[5]), atoi(field[7]), name);
	jv_free(input);
}

static void
check_corpus(void)
{
	const char *dir;
	char path[4096], *line = NULL;
	size_t linesz = 0;
	ssize_t n;
	FILE *fp;

	dir = getenv("CONVO_CORPUS");
	if (dir == NULL || *dir == '\0') {
		printf("# segments vectors skipped: CONVO_CORPUS not set\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/segments.tsv", dir);
	if ((fp = fopen(path, "r")) == NULL) {
		printf("# segments vectors skipped: cannot open %s\n", path);
		return;
	}
	while ((n = getline(&line, &linesz, fp)) != -1) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#' || strncmp(line, "id\t", 3) == 0)
			continue;
		check_row(line);
	}
	free(line);
	fclose(fp);
}

int
main(void)
{
	check_counts();
	check_invalid();
	check_lengths();
	check_corpus();
	return unit_done();
}
