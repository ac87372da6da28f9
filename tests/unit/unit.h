/*
 * A minimal TAP producer for table-driven C tests: each check prints
 * "ok N - name" or "not ok N - name" with the values that differed.
 */
#ifndef CONVO_UNIT_H
#define CONVO_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_count;
static int unit_failed;

static inline void
unit_check(int pass, const char *name)
{
	unit_count++;
	if (!pass)
		unit_failed++;
	printf("%sok %d - %s\n", pass ? "" : "not ", unit_count, name);
}

/* Compare two strings, either of which may be NULL. */
static inline void
unit_check_str(const char *got, const char *want, const char *name)
{
	int pass;

	if (got == NULL || want == NULL)
		pass = got == want;
	else
		pass = strcmp(got, want) == 0;
	unit_check(pass, name);
	if (!pass)
		printf("#   got \"%s\", expected \"%s\"\n",
		    got ? got : "(null)", want ? want : "(null)");
}

static inline int
unit_done(void)
{
	printf("1..%d\n", unit_count);
	/* LeakSanitizer reports at exit before stdio flushes its buffers. */
	fflush(stdout);
	return unit_failed != 0;
}

#endif
