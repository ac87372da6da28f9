/*
 * A store of the input lines of a batch, kept until its results are
 * written. They go to an unlinked temporary file under $TMPDIR (or /tmp),
 * so that memory does not grow with the batch size. Where no such file
 * can be made, or writing to it fails, they stay in memory. Lines are
 * read back only for retries and rejects, which are rare.
 */
#ifndef CONVO_LINESTORE_H
#define CONVO_LINESTORE_H

#include <stddef.h>

#include "buf.h"

/* All zeros is an empty store that has not tried to make its file. */
struct linestore {
	enum { LINESTORE_NEW, LINESTORE_FILE, LINESTORE_MEMORY } where;
	int fd;			/* the file, when in one */
	size_t written;		/* bytes in the file */
	struct buf tail;	/* bytes not yet written to the file */
};

/*
 * Add N bytes at P and return their offset. When writing to the file
 * fails, every line moves to memory with a warning. Exits when the lines
 * already written cannot be read back.
 */
size_t linestore_add(struct linestore *ls, const char *p, size_t n);

/*
 * Return the N bytes added at offset OFF, read into OUT or kept in LS.
 * They are valid until the next call on LS or OUT.
 */
const char *linestore_get(struct linestore *ls, size_t off, size_t n,
    struct buf *out);

/* Empty LS, keeping its file for the next lines. */
void linestore_reset(struct linestore *ls);

/* Close the file of LS and free its memory. */
void linestore_free(struct linestore *ls);

#endif
