/*
 * Growable byte buffers, used to build COPY data and output lines.
 * A buffer owns its memory; buf_free() releases it.
 */
#ifndef CONVO_BUF_H
#define CONVO_BUF_H

#include <stddef.h>

struct buf {
	char *data;	/* always NUL-terminated when len > 0 */
	size_t len;
	size_t cap;
};

void buf_add(struct buf *b, const char *s, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

/*
 * Append S as one field of PostgreSQL's COPY text format, escaping
 * backslash, tab, newline and carriage return; NULL appends \N.
 */
void buf_copy_field(struct buf *b, const char *s);

/* Append the base64 encoding (RFC 4648, padded) of N bytes at P. */
void buf_base64(struct buf *b, const void *p, size_t n);

/* Return 1 when the N bytes at S are valid UTF-8 (RFC 3629). */
int utf8_valid(const char *s, size_t n);

/*
 * Return the offset of the first byte of the N bytes at S that starts
 * no valid UTF-8 sequence (RFC 3629), or N when all of them are valid.
 */
size_t utf8_invalid_offset(const char *s, size_t n);

/*
 * Return the offset of the first control character in the NUL-terminated
 * UTF-8 text S, C0, DEL and C1 controls and the bidirectional embeddings,
 * overrides and isolates (U+202A to U+202E, U+2066 to U+2069), or -1
 * when it has none. Such characters in a text sent to customers change
 * how the rest of it shows.
 */
long utf8_control_offset(const char *s);

/* Replace in place each byte of the string S that starts no valid UTF-8. */
void utf8_replace_invalid(char *s, char with);

/* Exit with a message when memory runs out; never returns NULL. */
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#endif
