/*
 * Tests of the set of recent strings: which strings it finds, which it
 * drops, and that its tables keep their size however many are added.
 */
#include <stdio.h>

#include "recent.h"
#include "unit.h"

static int
seen(struct recent *r, int n)
{
	char key[32];

	snprintf(key, sizeof(key), "key-%d", n);
	return recent_seen(r, key);
}

int
main(void)
{
	struct recent r;
	size_t slots;
	int i, missed = 0, remembered = 0;

	recent_init(&r, 1000);
	slots = r.slots;
	unit_check(!seen(&r, 1), "a new string is not seen");
	unit_check(seen(&r, 1), "the same string again is seen");
	unit_check(!seen(&r, 2), "another string is not seen");
	for (i = 3; i <= 100000; i++)
		missed += seen(&r, i);
	unit_check(missed == 0, "100,000 distinct strings are all new");
	for (i = 100000 - 999; i <= 100000; i++)
		remembered += seen(&r, i);
	unit_check(remembered == 1000, "the last 1,000 strings are seen");
	unit_check(!seen(&r, 1), "the first string is forgotten");
	unit_check(r.slots == slots, "tables keep their size");
	recent_free(&r);
	return unit_done();
}
