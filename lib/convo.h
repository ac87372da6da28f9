/*
 * Definitions shared by every convo program: version, exit status and
 * limits that appear in the man pages.
 */
#ifndef CONVO_H
#define CONVO_H

#include <sysexits.h>

#define CONVO_VERSION "0.1.0"

/* Maximum length of a convo-ingest input line in bytes, newline excluded. */
#define CONVO_LINE_MAX (256 * 1024)

/*
 * Query parameter that convo-send adds to the StatusCallback URL, naming
 * the outbox row of the message, and that convo-webhook passes on as the
 * status record's outbox_id.
 */
#define CONVO_OUTBOX_PARAM "convo_outbox"

/* Longest E.164 number with its leading '+' and terminating NUL. */
#define PHONE_MAX 17

/*
 * Exit status, from sysexits.h. When several apply, the first of
 * EX_USAGE, EX_CONFIG, EX_UNAVAILABLE, EX_TEMPFAIL, EX_NOINPUT, EX_DATAERR
 * wins; exit_merge() keeps that order.
 */
int exit_merge(int current, int next);

/*
 * Return the account to work on: OPTION (from --account) when given,
 * else $CONVO_ACCOUNT, else "default". An empty OPTION is a usage error
 * that exits.
 */
const char *convo_account(const char *option);

#endif
