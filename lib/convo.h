/*
 * Definitions shared by every convo program: version, exit status and
 * limits that appear in the man pages.
 */
#ifndef CONVO_H
#define CONVO_H

#include <sysexits.h>

#define CONVO_VERSION "0.1.0"

/* Longest input line convo-ingest accepts, in bytes, newline excluded. */
#define CONVO_LINE_MAX (256 * 1024)

/* Longest E.164 number with its leading '+' and terminating NUL. */
#define PHONE_MAX 17

/*
 * Exit status, from sysexits.h. When several apply, the first of
 * EX_USAGE, EX_CONFIG, EX_UNAVAILABLE, EX_TEMPFAIL, EX_NOINPUT, EX_DATAERR
 * wins; exit_merge() keeps that order.
 */
int exit_merge(int current, int next);

#endif
