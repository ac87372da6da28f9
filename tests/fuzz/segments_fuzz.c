/*
 * Fuzzes SMS segment counting with arbitrary bytes as a message body.
 * Invariants: a body is counted exactly when it is valid UTF-8, both
 * character counts agree, and the segment count fits the units of the
 * encoding chosen (at most one unit lost per part to an escape or a
 * surrogate pair that is not split).
 */
#include "buf.h"
#include "segments.h"
#include "fuzz.h"

#define GSM7_SINGLE	160
#define GSM7_PART	153
#define UCS2_SINGLE	70
#define UCS2_PART	67

/* Check that SEGMENTS parts hold UNITS, given the limits of an encoding. */
static void
check_parts(const struct segments *s, int single, int part)
{
	if (s->units <= single) {
		FUZZ_ASSERT(s->segments == 1);
		return;
	}
	FUZZ_ASSERT(s->segments >= 2);
	/* Every part is full but for at most one unit. */
	FUZZ_ASSERT((long long)s->segments * part >= s->units);
	FUZZ_ASSERT((long long)(s->segments - 1) * (part - 1) < s->units);
}

/*
 * Return the characters of valid UTF-8 outside the Basic Multilingual
 * Plane: those with a 4-byte sequence, which UTF-16 writes as a pair.
 */
static int
count_astral(const uint8_t *data, size_t size)
{
	size_t i;
	int n = 0;

	for (i = 0; i < size; i++)
		if (data[i] >= 0xf0)
			n++;
	return n;
}

/* Return the characters of valid UTF-8: bytes that start a sequence. */
static int
count_characters(const uint8_t *data, size_t size)
{
	size_t i;
	int n = 0;

	for (i = 0; i < size; i++)
		if ((data[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/*
 * Check an ASCII body against the GSM 03.38 rules written out again:
 * printable ASCII but the backtick, CR and LF are 1 septet, the
 * extension characters and FORM FEED 2, and any other control makes
 * the body UCS-2.
 */
static void
check_ascii(const uint8_t *data, size_t size, const struct segments *s)
{
	size_t i;
	int septets = 0, gsm7 = 1;

	for (i = 0; i < size; i++) {
		if (data[i] >= 0x80)
			return;
		if (strchr("^{}\\[]~|\f", data[i]) != NULL && data[i] != 0)
			septets += 2;
		else if (data[i] == '\n' || data[i] == '\r' ||
		    (data[i] >= 0x20 && data[i] < 0x7f && data[i] != '`'))
			septets++;
		else
			gsm7 = 0;
	}
	if (gsm7) {
		FUZZ_ASSERT(strcmp(s->encoding, "GSM-7") == 0);
		FUZZ_ASSERT(s->units == septets);
	} else {
		FUZZ_ASSERT(strcmp(s->encoding, "UCS-2") == 0);
		FUZZ_ASSERT((size_t)s->units == size);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct segments s, before;
	int valid = utf8_valid(body, size), rc, characters;

	memset(&s, 0xa5, sizeof(s));
	before = s;
	rc = segments_count(body, size, &s);
	characters = segments_characters(body, size);
	FUZZ_ASSERT(rc == (valid ? 0 : -1));
	if (rc != 0) {
		FUZZ_ASSERT(memcmp(&s, &before, sizeof(s)) == 0);
		FUZZ_ASSERT(characters == -1);
		return 0;
	}

	FUZZ_ASSERT(characters == s.characters);
	FUZZ_ASSERT(s.characters == count_characters(data, size));
	FUZZ_ASSERT(s.segments >= 1);
	if (size == 0) {
		FUZZ_ASSERT(s.segments == 1 && s.units == 0);
		FUZZ_ASSERT(strcmp(s.encoding, "GSM-7") == 0);
		return 0;
	}
	/* Each character is 1 or 2 septets, or 1 or 2 UTF-16 code units. */
	FUZZ_ASSERT(s.units >= s.characters);
	FUZZ_ASSERT(s.units <= 2 * s.characters);
	check_ascii(data, size, &s);
	if (strcmp(s.encoding, "GSM-7") == 0) {
		check_parts(&s, GSM7_SINGLE, GSM7_PART);
	} else {
		FUZZ_ASSERT(strcmp(s.encoding, "UCS-2") == 0);
		FUZZ_ASSERT(s.units == s.characters + count_astral(data, size));
		check_parts(&s, UCS2_SINGLE, UCS2_PART);
	}
	return 0;
}
