/*
 * A progress line on standard error for long runs of convo-ingest and
 * convo-send: records, rate and elapsed time, and a bar with a
 * percentage when the size of the input is known. It is drawn only
 * when standard error is a terminal, at most PROGRESS_HZ times a
 * second, and cleared at the end.
 */
#ifndef CONVO_PROGRESS_H
#define CONVO_PROGRESS_H

#include <sys/types.h>

/* Redraws per second at most. */
#define PROGRESS_HZ 4

struct progress {
	int enabled;
	int drawn;		/* a line is on the terminal */
	long long records;
	off_t total;		/* input bytes, or -1 when unknown */
	off_t done;		/* bytes of inputs finished */
	int fd;			/* input read now, or -1 */
	off_t fd_start;		/* its offset when it started */
	off_t fd_size;		/* its bytes from there, or -1 */
	double started;		/* monotonic seconds */
	double next_draw;
};

/*
 * Start P. It stays silent unless ENABLED and standard error is a
 * terminal. While a line is drawn, anything the program writes to
 * stderr (warnings) first clears it.
 */
void progress_start(struct progress *p, int enabled);

/*
 * Add the bytes of input FD that remain from its offset, or with a
 * negative FD the size of the file at PATH, to the total. An input
 * that is not a regular file makes the total unknown.
 */
void progress_expect(struct progress *p, int fd, const char *path);

/* Count the bytes read from FD, a regular file, from now on. */
void progress_input(struct progress *p, int fd);

/* Count N more records and redraw when it is time. */
void progress_add(struct progress *p, long long n);

/* Clear the line and stop drawing. */
void progress_end(struct progress *p);

#endif
