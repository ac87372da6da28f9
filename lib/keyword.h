/*
 * Keyword matching rules: the normal form of an inbound text that is
 * compared with an account's keywords. Pure functions.
 */
#ifndef CONVO_KEYWORD_H
#define CONVO_KEYWORD_H

#include <stddef.h>

/*
 * Return the normal form of the UTF-8 text TEXT of LEN bytes, a new
 * string the caller frees: NFKC, Unicode case folding, '-' and '_' read
 * as spaces, every leading and trailing character that is not a letter
 * or digit removed, inner runs of white space collapsed to one space.
 * Returns NULL when TEXT is not valid UTF-8 or memory runs out.
 */
char *keyword_normalize(const char *text, size_t len);

/*
 * Return the normal form as keyword_normalize() does, but through
 * utf8proc for every text, including the ASCII texts that
 * keyword_normalize() handles itself. The unit tests compare the two.
 */
char *keyword_normalize_unicode(const char *text, size_t len);

#endif
