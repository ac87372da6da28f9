#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "linestore.h"

/* Bytes gathered in memory before they are written to the file. */
#define TAIL_MAX (64 * 1024)

/* Return the directory for temporary files. */
static const char *
tmp_dir(void)
{
	const char *dir = getenv("TMPDIR");

	return dir != NULL && *dir != '\0' ? dir : "/tmp";
}

/* Open an unlinked temporary file, or return -1. */
static int
open_tmp(void)
{
	char path[4096];
	const char *dir = tmp_dir();
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* Some file systems have no O_TMPFILE. */
	if (snprintf(path, sizeof(path), "%s/convo-lines.XXXXXX", dir) >=
	    (int)sizeof(path))
		return -1;
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0)
		return -1;
	unlink(path);
	return fd;
}

/* Read the N bytes at offset OFF of the file into P. */
static void
read_file(struct linestore *ls, char *p, size_t off, size_t n)
{
	size_t done = 0;
	ssize_t got;

	while (done < n) {
		got = pread(ls->fd, p + done, n - done, (off_t)(off + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			err(EX_IOERR, "cannot read input lines back from a "
			    "temporary file in %s", tmp_dir());
		done += (size_t)got;
	}
}

/*
 * Move the lines written to the file into memory, ahead of the tail,
 * because writing failed with ERROR, as on a full file system. Later
 * lines stay in memory too.
 */
static void
move_to_memory(struct linestore *ls, int error)
{
	struct buf all = { 0 };

	warnx("cannot keep input lines in a temporary file in %s: %s; "
	    "keeping them in memory", tmp_dir(), strerror(error));
	if (ls->written > 0) {
		all.data = xmalloc(ls->written + ls->tail.len + 1);
		all.cap = ls->written + ls->tail.len + 1;
		read_file(ls, all.data, 0, ls->written);
		all.len = ls->written;
	}
	if (ls->tail.len > 0)
		buf_add(&all, ls->tail.data, ls->tail.len);
	buf_free(&ls->tail);
	ls->tail = all;
	close(ls->fd);
	ls->fd = -1;
	ls->written = 0;
	ls->where = LINESTORE_MEMORY;
}

/*
 * Write the bytes gathered in memory to the file, or move every line to
 * memory when that fails.
 */
static void
write_tail(struct linestore *ls)
{
	size_t done = 0;
	ssize_t n;

	while (done < ls->tail.len) {
		n = pwrite(ls->fd, ls->tail.data + done, ls->tail.len - done,
		    (off_t)(ls->written + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			move_to_memory(ls, n < 0 ? errno : ENOSPC);
			return;
		}
		done += (size_t)n;
	}
	ls->written += done;
	buf_reset(&ls->tail);
}

size_t
linestore_add(struct linestore *ls, const char *p, size_t n)
{
	size_t off;

	/* Small batches, such as a webhook's, never make the file. */
	if (ls->tail.len > 0 && ls->tail.len + n > TAIL_MAX) {
		if (ls->where == LINESTORE_NEW) {
			ls->fd = open_tmp();
			ls->where = ls->fd >= 0 ? LINESTORE_FILE :
			    LINESTORE_MEMORY;
		}
		if (ls->where == LINESTORE_FILE)
			write_tail(ls);
	}
	off = ls->written + ls->tail.len;
	buf_add(&ls->tail, p, n);
	return off;
}

const char *
linestore_get(struct linestore *ls, size_t off, size_t n, struct buf *out)
{
	if (off >= ls->written)
		return ls->tail.data + (off - ls->written);
	if (out->cap < n + 1) {
		out->data = xrealloc(out->data, n + 1);
		out->cap = n + 1;
	}
	read_file(ls, out->data, off, n);
	out->len = n;
	out->data[n] = '\0';
	return out->data;
}

void
linestore_reset(struct linestore *ls)
{
	buf_reset(&ls->tail);
	if (ls->where == LINESTORE_FILE && ls->written > 0 &&
	    ftruncate(ls->fd, 0) != 0)
		err(EX_IOERR, "cannot empty a temporary file in %s",
		    tmp_dir());
	ls->written = 0;
}

void
linestore_free(struct linestore *ls)
{
	if (ls->where == LINESTORE_FILE)
		close(ls->fd);
	buf_free(&ls->tail);
	memset(ls, 0, sizeof(*ls));
}
