/*
 * Times as convo records carry them: RFC 3339, written in UTC.
 */
#ifndef CONVO_TIMEUTIL_H
#define CONVO_TIMEUTIL_H

#include <stddef.h>

/* Maximum length of the time strings these functions write, with its NUL. */
#define TIME_MAX 40

/*
 * Return 1 when S is an RFC 3339 date-time: "2026-10-03T14:02:11Z",
 * with optional fractional seconds and a "Z" or "+hh:mm" offset.
 * Lower-case "t" and "z" are accepted, as RFC 3339 allows.
 */
int time_is_rfc3339(const char *s);

/*
 * Write the RFC 3339 time S in UTC ("Z") to OUT, keeping up to six
 * digits of fractional seconds; PostgreSQL rejects offsets past 15:59,
 * which RFC 3339 allows. Returns 0, or -1 when S is not RFC 3339 or
 * its UTC time is outside the years 0001 to 9999.
 */
int time_to_utc(const char *s, char out[TIME_MAX]);

/*
 * Write the current time in UTC with microseconds to OUT. Successive
 * calls in one process return strictly increasing times, so records
 * stamped on arrival keep their arrival order.
 */
void time_now_increasing(char out[TIME_MAX]);

/*
 * Convert ARG, an RFC 3339 time or a duration before now such as "90s",
 * "30m", "2h", "7d" or "1w", to an RFC 3339 time in OUT. Returns 0, or
 * -1 when ARG is neither.
 */
int time_since(const char *arg, char out[TIME_MAX]);

/*
 * Return 1 when ZONE, a time zone name, may be a UTC offset or a POSIX
 * time zone with one, such as "+05:00", "5", "UTC+5", "PKT5" or
 * "UTC\uff0b5": a name with a digit or a byte outside ASCII. PostgreSQL
 * reads offsets with the POSIX sign, positive west of Greenwich, so
 * "UTC+5" is five hours behind UTC. The IANA names with digits, Etc/GMT+N
 * (inverted by design) and EST5EDT, CST6CDT, MST7MDT and PST8PDT, are
 * not matched. convo.zone_or_null() of migration 042 applies the same
 * rule.
 */
int timezone_sign_inverted(const char *zone);

#endif
