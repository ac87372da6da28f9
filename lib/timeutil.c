#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "timeutil.h"

/* Read exactly N digits at *P into *VAL and advance. */
static int
digits(const char **p, int n, int *val)
{
	int v = 0;

	while (n-- > 0) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*val = v;
	return 0;
}

static int
days_in_month(int year, int month)
{
	static const int days[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

static int
offset_valid(const char *p)
{
	int hh, mm;

	if (*p == 'Z' || *p == 'z')
		return p[1] == '\0';
	if (*p != '+' && *p != '-')
		return 0;
	p++;
	if (digits(&p, 2, &hh) || *p++ != ':' || digits(&p, 2, &mm))
		return 0;
	return *p == '\0' && hh <= 23 && mm <= 59;
}

int
time_is_rfc3339(const char *s)
{
	const char *p = s;
	int y, mo, d, h, mi, sec;

	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) ||
	    *p++ != '-' || digits(&p, 2, &d))
		return 0;
	if (*p != 'T' && *p != 't')
		return 0;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) ||
	    *p++ != ':' || digits(&p, 2, &sec))
		return 0;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h > 23 || mi > 59 || sec > 60 || y < 1)
		return 0;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return offset_valid(p);
}

/*
 * Seconds since the epoch of 0001-01-01T00:00:00Z and
 * 9999-12-31T23:59:59Z. RFC 3339 writes years with four digits, so an
 * offset must not move a time past either in UTC.
 */
#define UTC_SECONDS_MIN -62135596800LL
#define UTC_SECONDS_MAX 253402300799LL

static void
format_utc(long long sec, long usec, char out[TIME_MAX])
{
	time_t t = (time_t)sec;
	struct tm tm;
	char date[80];

	gmtime_r(&t, &tm);
	/* strftime's %Y drops the leading zeros of years before 1000. */
	snprintf(date, sizeof(date), "%04d-%02d-%02dT%02d:%02d:%02d",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	if (usec < 0)
		snprintf(out, TIME_MAX, "%.24sZ", date);
	else
		snprintf(out, TIME_MAX, "%.24s.%06dZ", date,
		    (int)(usec % 1000000));
}

void
time_now_increasing(char out[TIME_MAX])
{
	static long long last;	/* microseconds since the epoch */
	struct timeval tv;
	long long now;

	gettimeofday(&tv, NULL);
	now = (long long)tv.tv_sec * 1000000 + tv.tv_usec;
	if (now <= last)
		now = last + 1;
	last = now;
	format_utc(now / 1000000, (long)(now % 1000000), out);
}

int
time_to_utc(const char *s, char out[TIME_MAX])
{
	struct tm tm = { 0 };
	const char *p = s + 19, *frac = NULL;
	long long sec, offset = 0;
	size_t nfrac = 0;
	char digits[7] = "000000";

	if (!time_is_rfc3339(s))
		return -1;
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = atoi(s + 5) - 1;
	tm.tm_mday = atoi(s + 8);
	tm.tm_hour = atoi(s + 11);
	tm.tm_min = atoi(s + 14);
	/* A leap second is read as the last second of its minute. */
	tm.tm_sec = atoi(s + 17) > 59 ? 59 : atoi(s + 17);
	if (*p == '.') {
		frac = ++p;
		while (isdigit((unsigned char)*p))
			p++;
		nfrac = p - frac;
		memcpy(digits, frac, nfrac < 6 ? nfrac : 6);
	}
	if (*p == '+' || *p == '-')
		offset = (atoi(p + 1) * 3600LL + atoi(p + 4) * 60LL) *
		    (*p == '-' ? -1 : 1);
	sec = (long long)timegm(&tm) - offset;
	if (sec < UTC_SECONDS_MIN || sec > UTC_SECONDS_MAX)
		return -1;
	format_utc(sec, frac != NULL ? atol(digits) : -1, out);
	return 0;
}

int
time_since(const char *arg, char out[TIME_MAX])
{
	char *end;
	long long n, unit;

	if (time_is_rfc3339(arg))
		return time_to_utc(arg, out);
	errno = 0;
	n = strtoll(arg, &end, 10);
	if (end == arg || errno != 0 || n < 0 || !isdigit((unsigned char)*arg))
		return -1;
	switch (*end) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	case 'w': unit = 7 * 86400; break;
	default: return -1;
	}
	if (end[1] != '\0' || n > 100LL * 366 * 86400 / unit)
		return -1;
	format_utc((long long)time(NULL) - n * unit, -1, out);
	return 0;
}

int
timezone_sign_inverted(const char *zone)
{
	static const char *const posix_names[] = {
		"EST5EDT", "CST6CDT", "MST7MDT", "PST8PDT", NULL,
	};
	const char *const *name;
	const char *p;
	int digits = 0;

	for (p = zone; *p != '\0'; p++) {
		/* IANA names are ASCII: a full-width sign is not one. */
		if ((unsigned char)*p >= 0x80)
			return 1;
		digits |= isdigit((unsigned char)*p) != 0;
	}
	if (!digits || strncasecmp(zone, "etc/", 4) == 0)
		return 0;
	for (name = posix_names; *name != NULL; name++)
		if (strcasecmp(zone, *name) == 0)
			return 0;
	return 1;
}
