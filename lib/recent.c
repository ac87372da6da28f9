#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "recent.h"

/* FNV-1a over KEY, then mixed so that every bit depends on every byte. */
static uint64_t
hash(const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)key; *p != '\0'; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h == 0 ? 1 : h;
}

/* Return the slot of TABLE that contains H, or the empty slot for H. */
static size_t
slot_of(const struct recent *r, const uint64_t *table, uint64_t h)
{
	size_t i = h & (r->slots - 1);

	while (table[i] != 0 && table[i] != h)
		i = (i + 1) & (r->slots - 1);
	return i;
}

void
recent_init(struct recent *r, size_t keep)
{
	r->keep = keep < 1 ? 1 : keep;
	/* At most half full, so that a probe ends soon. */
	for (r->slots = 2; r->slots < 2 * r->keep; r->slots *= 2)
		;
	r->now = xmalloc(r->slots * sizeof(*r->now));
	r->old = xmalloc(r->slots * sizeof(*r->old));
	memset(r->now, 0, r->slots * sizeof(*r->now));
	memset(r->old, 0, r->slots * sizeof(*r->old));
	r->count = 0;
}

int
recent_seen(struct recent *r, const char *key)
{
	uint64_t h = hash(key), *swap;
	size_t i = slot_of(r, r->now, h);

	if (r->now[i] == h || r->old[slot_of(r, r->old, h)] == h)
		return 1;
	if (r->count == r->keep) {
		/* Drop the older table, so the newer one becomes the older. */
		swap = r->old;
		r->old = r->now;
		r->now = swap;
		memset(r->now, 0, r->slots * sizeof(*r->now));
		r->count = 0;
		i = slot_of(r, r->now, h);
	}
	r->now[i] = h;
	r->count++;
	return 0;
}

void
recent_free(struct recent *r)
{
	free(r->now);
	free(r->old);
	r->now = r->old = NULL;
}
