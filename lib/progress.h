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
	off_t done;		/* input bytes read */
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

/* Count RECORDS more records and BYTES more input read; redraw when due. */
void progress_add(struct progress *p, long long records, off_t bytes);

/* Clear the line and stop drawing. */
void progress_end(struct progress *p);

#endif
