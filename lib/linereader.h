/*
 * Reading input lines of bounded length from a file descriptor, with a
 * way to wait for more input so that a slow producer's records are not
 * held back in a half-full batch.
 */
#ifndef CONVO_LINEREADER_H
#define CONVO_LINEREADER_H

#include <stddef.h>

/* Bytes of an over-long line that are kept for error reports. */
#define LINEREADER_HEAD 1024

struct linereader {
	int fd;
	size_t max;		/* longest line kept, newline excluded */
	char *buf;
	size_t start, end, cap;
	long long lineno;	/* number of the line last returned */
	int eof;
};

/* Start reading FD with lines of at most MAX bytes. */
void linereader_init(struct linereader *r, int fd, size_t max);
void linereader_free(struct linereader *r);

/*
 * Read the next line into *LINE and *LEN, without its newline; the bytes
 * stay valid until the next call. A line longer than the maximum is
 * skipped to its end and returned with *TOO_LONG set, *LEN its full
 * length and *LINE its first LINEREADER_HEAD bytes (all of them when
 * *LEN is smaller). Returns 1 for a line, 0 at end of input, -1 on a
 * read error (errno set).
 */
int linereader_next(struct linereader *r, const char **line, size_t *len,
    int *too_long);

/*
 * Return 1 when a whole line or end of input is available without
 * blocking, after waiting up to TIMEOUT_MS milliseconds (-1: no limit)
 * for input; a read error also returns 1, for linereader_next() to
 * report. Returns 0 when the wait ends with part of a line, or on a
 * signal.
 */
int linereader_ready(struct linereader *r, int timeout_ms);

/*
 * Return 1 when the LEN bytes of LINE are only spaces, tabs and carriage
 * returns (JSON white space), so the line contains no record.
 */
int linereader_blank(const char *line, size_t len);

#endif
