/*
 * SMS segment counts: the encoding a body needs (GSM 03.38 7-bit default
 * alphabet or UCS-2) and the number of message parts it is sent in.
 * Pure functions: no allocation, no locale.
 */
#ifndef CONVO_SEGMENTS_H
#define CONVO_SEGMENTS_H

#include <stddef.h>

struct segments {
	const char *encoding;	/* "GSM-7" or "UCS-2", static */
	int segments;		/* message parts, 1 for an empty body */
	int units;		/* septets or UTF-16 code units */
	int characters;		/* Unicode scalar values */
};

/*
 * Count the SMS segments of the UTF-8 BODY of LEN bytes into *OUT.
 * A body whose characters are all in the GSM 03.38 basic character set
 * or its extension table is GSM-7. Basic characters are 1 septet and
 * extension characters (^ { } \ [ ] ~ | EURO SIGN and FORM FEED) are 2.
 * Any other character, including TAB and NUL, makes the whole body
 * UCS-2, counted in UTF-16 code units, so characters outside the Basic
 * Multilingual Plane are 2 units. No look-alike replacement is done.
 * A single message contains at most 160 septets or 70 code units.
 * Longer bodies are split into parts of 153 septets or 67 code units.
 * An escape pair or a surrogate pair is never split across parts, so a
 * part may carry one unit less. An empty body is 1 segment of 0 units,
 * because a message with media only is still one message.
 * Returns 0, or -1 when BODY is not valid UTF-8 or LEN exceeds
 * SEGMENTS_MAX_BYTES. *OUT is left unchanged on error.
 */
int segments_count(const char *body, size_t len, struct segments *out);

/*
 * Return the number of characters (Unicode scalar values) of the UTF-8
 * BODY of LEN bytes, for the 1600-character limit of a message body.
 * Returns -1 when BODY is not valid UTF-8 or LEN exceeds
 * SEGMENTS_MAX_BYTES.
 */
int segments_characters(const char *body, size_t len);

/* Maximum body length in bytes: every count then fits in an int. */
#define SEGMENTS_MAX_BYTES ((size_t)1 << 29)

#endif
