/*
 * A set of the strings added most recently, in memory that does not
 * grow. It contains at least the last KEEP strings added, and older ones
 * are dropped. Strings are kept as 64-bit hashes, so a lookup takes a
 * different string for one it contains with a chance of about KEEP in
 * 2^63.
 */
#ifndef CONVO_RECENT_H
#define CONVO_RECENT_H

#include <stddef.h>
#include <stdint.h>

struct recent {
	uint64_t *now, *old;	/* open-addressing tables, 0 is empty */
	size_t slots;		/* of each table, a power of two */
	size_t keep;		/* strings in NOW before it becomes OLD */
	size_t count;		/* strings in NOW */
};

/* Start R empty, to contain at least the last KEEP strings added. */
void recent_init(struct recent *r, size_t keep);

/* Return 1 when R contains KEY, else add it and return 0. */
int recent_seen(struct recent *r, const char *key);

/* Free the tables of R. */
void recent_free(struct recent *r);

#endif
