#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "linereader.h"

void
linereader_init(struct linereader *r, int fd, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->max = max;
	r->cap = 65536;
	r->buf = xmalloc(r->cap);
}

void
linereader_free(struct linereader *r)
{
	free(r->buf);
	r->buf = NULL;
}

/* Read more bytes at the end of the buffer. Returns bytes read. */
static ssize_t
fill(struct linereader *r)
{
	ssize_t n;

	if (r->start > 0 && r->start == r->end)
		r->start = r->end = 0;
	if (r->end == r->cap && r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->end == r->cap) {
		r->cap *= 2;
		r->buf = xrealloc(r->buf, r->cap);
	}
	do
		n = read(r->fd, r->buf + r->end, r->cap - r->end);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		r->eof = 1;
	if (n > 0)
		r->end += n;
	return n;
}

/* Discard input up to and including the next newline; count the bytes. */
static int
skip_line(struct linereader *r, size_t *skipped)
{
	char *nl;

	for (;;) {
		nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (nl != NULL) {
			*skipped += nl - (r->buf + r->start);
			r->start = nl - r->buf + 1;
			return 0;
		}
		*skipped += r->end - r->start;
		r->start = r->end = 0;
		if (fill(r) <= 0)
			return r->eof ? 0 : -1;
	}
}

/* The head of the last over-long line, which *LINE then points to. */
static char head[LINEREADER_HEAD];

/*
 * Return the line of LEN bytes at the start of the buffer as
 * linereader_next() does, and move past CONSUMED bytes: the line and
 * its newline, if it has one.
 */
static int
take_line(struct linereader *r, size_t len, size_t consumed,
    const char **line, size_t *outlen, int *too_long)
{
	size_t n;

	*outlen = len;
	*too_long = len > r->max;
	if (*too_long) {
		n = len < sizeof(head) ? len : sizeof(head);
		memcpy(head, r->buf + r->start, n);
		*line = head;
	} else {
		*line = r->buf + r->start;
	}
	r->start += consumed;
	r->lineno++;
	return 1;
}

int
linereader_next(struct linereader *r, const char **line, size_t *len,
    int *too_long)
{
	size_t scanned = 0, length, skipped;
	char *nl;

	*too_long = 0;
	for (;;) {
		nl = memchr(r->buf + r->start + scanned, '\n',
		    r->end - r->start - scanned);
		if (nl != NULL) {
			length = nl - (r->buf + r->start);
			return take_line(r, length, length + 1, line, len,
			    too_long);
		}
		scanned = r->end - r->start;
		/* Over the limit, but first keep a whole head. */
		if (scanned > r->max && scanned >= sizeof(head))
			break;
		if (r->eof || fill(r) <= 0) {
			if (!r->eof)
				return -1;
			if (r->end == r->start)
				return 0;
			return take_line(r, scanned, scanned, line, len,
			    too_long);
		}
	}
	/* Keep the head of the line for the rejects file, drop the rest. */
	memcpy(head, r->buf + r->start, sizeof(head));
	skipped = 0;
	if (skip_line(r, &skipped) != 0)
		return -1;
	r->lineno++;
	*line = head;
	*len = skipped;
	*too_long = 1;
	return 1;
}

/*
 * Return 1 when linereader_next() can return without reading: a whole
 * line or the end of input is in the buffer. A line already over the
 * limit counts too, although skipping its rest may wait for input.
 */
static int
line_buffered(const struct linereader *r)
{
	size_t n = r->end - r->start;

	return r->eof || memchr(r->buf + r->start, '\n', n) != NULL ||
	    (n > r->max && n >= LINEREADER_HEAD);
}

int
linereader_ready(struct linereader *r, int timeout_ms)
{
	struct pollfd p = { .fd = r->fd, .events = POLLIN };

	if (line_buffered(r))
		return 1;
	if (poll(&p, 1, timeout_ms) <= 0)
		return 0;
	/* After poll(), one read does not wait; part of a line may come. */
	if (fill(r) < 0)
		return errno != EAGAIN && errno != EWOULDBLOCK;
	return line_buffered(r);
}

int
linereader_blank(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return 0;
	return 1;
}
