/*
 * Tests of the line reader: lines split at newlines, the last line
 * without one, over-long lines reported with their full length and
 * their head, also when the buffer fills in small reads, and readiness
 * when a pipe contains part of a line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buf.h"
#include "linereader.h"
#include "unit.h"

/* Return a file descriptor at the start of a file that contains TEXT. */
static int
file_with(const char *text)
{
	int fd = memfd_create("linereader_test", 0);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		perror("linereader_test");
		exit(1);
	}
	return fd;
}

/*
 * Read the next line of R and check it against WANT, which is the whole
 * line when not TOO_LONG, else the line that must be reported.
 */
static void
check_next(struct linereader *r, const char *want, int want_too_long,
    const char *name)
{
	const char *line;
	size_t len, head_len, want_len = strlen(want);
	int rc, too_long;

	rc = linereader_next(r, &line, &len, &too_long);
	if (rc != 1) {
		unit_check(0, name);
		printf("#   got %d, expected a line\n", rc);
		return;
	}
	head_len = want_len < LINEREADER_HEAD ? want_len : LINEREADER_HEAD;
	unit_check(len == want_len && too_long == want_too_long &&
	    memcmp(line, want, head_len) == 0, name);
	if (len != want_len || memcmp(line, want, head_len) != 0)
		printf("#   got %zu bytes \"%.*s\", expected %zu \"%.*s\"\n",
		    len, (int)(len < 60 ? len : 60), line, want_len,
		    (int)(want_len < 60 ? want_len : 60), want);
	else if (too_long != want_too_long)
		printf("#   got too_long %d, expected %d\n", too_long,
		    want_too_long);
}

static void
check_end(struct linereader *r, const char *name)
{
	const char *line;
	size_t len;
	int too_long;

	unit_check(linereader_next(r, &line, &len, &too_long) == 0, name);
}

static void
test_lines(void)
{
	struct linereader r;
	int fd = file_with("one\n\ntwo\nlast");

	linereader_init(&r, fd, 100);
	check_next(&r, "one", 0, "first line");
	check_next(&r, "", 0, "empty line");
	check_next(&r, "two", 0, "third line");
	check_next(&r, "last", 0, "last line without newline");
	unit_check(r.lineno == 4, "four lines counted");
	check_end(&r, "end of input");
	linereader_free(&r);
	close(fd);
}

static void
test_blank(void)
{
	unit_check(linereader_blank("", 0), "empty line is blank");
	unit_check(linereader_blank(" \t\r", 3), "white space is blank");
	unit_check(!linereader_blank(" {}", 3), "record is not blank");
	unit_check(!linereader_blank("\f", 1), "form feed is not blank");
}

static void
test_too_long(void)
{
	struct linereader r;
	int fd = file_with("12345678\n123456789\nok\n1234567890");

	linereader_init(&r, fd, 8);
	check_next(&r, "12345678", 0, "line at the limit");
	check_next(&r, "123456789", 1, "line over the limit");
	check_next(&r, "ok", 0, "line after a long one");
	check_next(&r, "1234567890", 1, "last line over the limit");
	check_end(&r, "end after a long line");
	linereader_free(&r);
	close(fd);
}

/*
 * A reader with a 4-byte first buffer gets a long line in small reads,
 * and the head it reports must still be the line's first bytes, not the
 * bytes of the first read followed by stale ones.
 */
static void
test_small_reads(void)
{
	static char text[3000], want[2000];
	struct linereader r;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(want) - 1; i++)
		want[i] = 'a' + i % 26;
	snprintf(text, sizeof(text), "%s\nshort\n%.40s", want, want);
	fd = file_with(text);
	linereader_init(&r, fd, 8);
	r.cap = 4;
	r.buf = xrealloc(r.buf, r.cap);
	check_next(&r, want, 1, "head of long line after small reads");
	check_next(&r, "short", 0, "short line after small reads");
	want[40] = '\0';
	check_next(&r, want, 1, "head of last line after small reads");
	check_end(&r, "end after small reads");
	linereader_free(&r);
	close(fd);
}

/* Write TEXT to file descriptor FD, or exit. */
static void
write_all(int fd, const char *text)
{
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror("linereader_test");
		exit(1);
	}
}

/*
 * A producer that writes part of a line and pauses: the reader is not
 * ready until the rest and its newline come, and never blocks.
 */
static void
test_ready_part_line(void)
{
	struct linereader r;
	int fds[2];

	if (pipe(fds) != 0) {
		perror("linereader_test");
		exit(1);
	}
	linereader_init(&r, fds[0], 100);
	unit_check(!linereader_ready(&r, 0), "not ready without input");
	write_all(fds[1], "{\"to\":");
	unit_check(!linereader_ready(&r, 0), "not ready with part of a line");
	write_all(fds[1], "1}\nnext");
	unit_check(linereader_ready(&r, 0), "ready once the newline comes");
	check_next(&r, "{\"to\":1}", 0, "line read in two parts");
	unit_check(!linereader_ready(&r, 0), "not ready with a line's start");
	close(fds[1]);
	unit_check(linereader_ready(&r, 0), "ready at the end of input");
	check_next(&r, "next", 0, "unfinished last line at end");
	check_end(&r, "end after part lines");
	linereader_free(&r);
	close(fds[0]);
}

int
main(void)
{
	test_ready_part_line();
	test_lines();
	test_blank();
	test_too_long();
	test_small_reads();
	return unit_done();
}
