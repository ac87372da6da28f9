#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

/* Columns of the bar between its brackets. */
#define BAR_WIDTH 24

/* Clears the line and returns the cursor to its start. */
#define CLEAR_LINE "\r\033[K"

/* The progress whose line a write to stderr must clear first. */
static struct progress *active;
static FILE *saved_stderr;

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
write_all(const char *s, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(STDERR_FILENO, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void
clear_line(struct progress *p)
{
	if (p->drawn)
		write_all(CLEAR_LINE, strlen(CLEAR_LINE));
	p->drawn = 0;
}

/* Write function of the stream that replaces stderr while drawing. */
static ssize_t
stderr_write(void *cookie, const char *buf, size_t n)
{
	(void)cookie;
	if (active != NULL)
		clear_line(active);
	write_all(buf, n);
	return (ssize_t)n;
}

/*
 * Route stderr through stderr_write(), so that the messages of err(3)
 * and warnx(3) do not run into the progress line.
 */
static void
hook_stderr(struct progress *p)
{
	cookie_io_functions_t io = { .write = stderr_write };
	FILE *f = fopencookie(NULL, "w", io);

	if (f == NULL)
		return;
	setvbuf(f, NULL, _IONBF, 0);
	fflush(stderr);
	saved_stderr = stderr;
	stderr = f;
	active = p;
}

/*
 * Put stderr back. The cookie stream stays open, and writes straight
 * through from now on, because a library may have kept the pointer.
 */
static void
unhook_stderr(void)
{
	if (saved_stderr == NULL)
		return;
	stderr = saved_stderr;
	saved_stderr = NULL;
	active = NULL;
}

void
progress_start(struct progress *p, int enabled)
{
	memset(p, 0, sizeof(*p));
	p->enabled = enabled && isatty(STDERR_FILENO);
	p->started = now_seconds();
	/* A run shorter than one interval shows nothing. */
	p->next_draw = p->started + 1.0 / PROGRESS_HZ;
	if (p->enabled)
		hook_stderr(p);
}

/* Return the bytes of FD (or PATH) from its offset when it is a file. */
static off_t
remaining_bytes(int fd, const char *path)
{
	struct stat st;
	off_t at = 0;

	if (fd >= 0 ? fstat(fd, &st) != 0 : stat(path, &st) != 0)
		return -1;
	if (!S_ISREG(st.st_mode))
		return -1;
	if (fd >= 0 && (at = lseek(fd, 0, SEEK_CUR)) < 0)
		return -1;
	return st.st_size > at ? st.st_size - at : 0;
}

void
progress_expect(struct progress *p, int fd, const char *path)
{
	off_t n;

	if (p->total < 0)
		return;
	n = remaining_bytes(fd, path);
	p->total = n < 0 ? -1 : p->total + n;
}

/* Format SECONDS as M:SS, or H:MM:SS from an hour on. */
static void
format_elapsed(char *out, size_t n, double seconds)
{
	long s = (long)seconds;

	if (s >= 3600)
		snprintf(out, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60,
		    s % 60);
	else
		snprintf(out, n, "%ld:%02ld", s / 60, s % 60);
}

static void
draw(struct progress *p, double now)
{
	char line[256], bar[BAR_WIDTH + 1], elapsed[32];
	double seconds = now - p->started;
	double rate = seconds > 0 ? p->records / seconds : 0;
	off_t bytes = p->done < p->total ? p->done : p->total;
	int len = 0, filled, percent;

	format_elapsed(elapsed, sizeof(elapsed), seconds);
	len += snprintf(line, sizeof(line), CLEAR_LINE "%s: ", getprogname());
	if (p->total > 0) {
		percent = (int)(bytes * 100 / p->total);
		filled = (int)(bytes * BAR_WIDTH / p->total);
		memset(bar, '#', filled);
		memset(bar + filled, '.', BAR_WIDTH - filled);
		bar[BAR_WIDTH] = '\0';
		len += snprintf(line + len, sizeof(line) - len, "[%s] %3d%%  ",
		    bar, percent);
	}
	snprintf(line + len, sizeof(line) - len, "%lld records  %.*f/s  %s",
	    p->records, rate < 10 ? 1 : 0, rate, elapsed);
	write_all(line, strlen(line));
	p->drawn = 1;
}

void
progress_add(struct progress *p, long long records, off_t bytes)
{
	double now;

	p->records += records;
	p->done += bytes;
	if (!p->enabled)
		return;
	now = now_seconds();
	if (now < p->next_draw)
		return;
	p->next_draw = now + 1.0 / PROGRESS_HZ;
	draw(p, now);
}

void
progress_end(struct progress *p)
{
	if (!p->enabled)
		return;
	clear_line(p);
	unhook_stderr();
	p->enabled = 0;
}
