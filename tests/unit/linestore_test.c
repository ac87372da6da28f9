/*
 * Tests of the store of a batch's input lines. Every line must come back
 * byte for byte, from the temporary file and from memory, after a reset,
 * where no temporary file can be made, and where the file stops growing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "linestore.h"
#include "unit.h"

#define LINES 3000

/* Fill LINE with line N of a batch: lengths from 1 to 199 bytes. */
static size_t
make_line(char *line, int n)
{
	size_t len = (size_t)(n * 37 % 199) + 1, i;

	for (i = 0; i < len; i++)
		line[i] = (char)('a' + (n + (int)i) % 26);
	return len;
}

/* Add LINES lines and a long one to LS. Return 1 when all read back. */
static int
round_trip(struct linestore *ls)
{
	static size_t offs[LINES + 1], lens[LINES + 1];
	static char want[200 * 1024], *big;
	struct buf out = { 0 };
	const char *got;
	int n, ok = 1;

	big = malloc(150 * 1024);
	memset(big, 'x', 150 * 1024);
	for (n = 0; n < LINES; n++) {
		lens[n] = make_line(want, n);
		offs[n] = linestore_add(ls, want, lens[n]);
		if (n == LINES / 2) {
			lens[LINES] = 150 * 1024;
			offs[LINES] = linestore_add(ls, big, lens[LINES]);
		}
	}
	for (n = 0; n < LINES; n++) {
		make_line(want, n);
		got = linestore_get(ls, offs[n], lens[n], &out);
		ok &= memcmp(got, want, lens[n]) == 0;
	}
	got = linestore_get(ls, offs[LINES], lens[LINES], &out);
	ok &= memcmp(got, big, lens[LINES]) == 0;
	buf_free(&out);
	free(big);
	return ok;
}

int
main(void)
{
	struct linestore ls = { 0 };
	struct rlimit limit, saved;
	char dir[] = "/tmp/linestore-test-XXXXXX", missing[64];

	unit_check(mkdtemp(dir) != NULL, "temporary directory made");
	setenv("TMPDIR", dir, 1);
	linestore_add(&ls, "one line", 8);
	unit_check(ls.where == LINESTORE_NEW, "a small batch makes no file");
	unit_check(memcmp(linestore_get(&ls, 0, 8, NULL), "one line", 8) ==
	    0, "a small batch reads back from memory");
	linestore_free(&ls);
	unit_check(round_trip(&ls), "lines read back from the file");
	unit_check(ls.where == LINESTORE_FILE, "lines kept in a file");
	unit_check(ls.tail.cap < 512 * 1024, "memory held stays small");
	linestore_reset(&ls);
	unit_check(round_trip(&ls), "lines read back after a reset");
	linestore_free(&ls);

	/*
	 * A file size limit of 100 KiB makes writing fail with EFBIG, as a
	 * full file system makes it fail with ENOSPC.
	 */
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &limit);
	saved = limit;
	limit.rlim_cur = 100 * 1024;
	setrlimit(RLIMIT_FSIZE, &limit);
	unit_check(round_trip(&ls), "lines read back after the file filled");
	unit_check(ls.where == LINESTORE_MEMORY, "lines moved to memory");
	setrlimit(RLIMIT_FSIZE, &saved);
	linestore_free(&ls);

	snprintf(missing, sizeof(missing), "%s/missing", dir);
	setenv("TMPDIR", missing, 1);
	unit_check(round_trip(&ls), "lines read back from memory");
	unit_check(ls.where == LINESTORE_MEMORY, "lines kept in memory");
	linestore_free(&ls);
	rmdir(dir);
	return unit_done();
}
