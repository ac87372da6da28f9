#include <err.h>
#include <stddef.h>
#include <stdlib.h>
#include <sysexits.h>

#include "convo.h"

/* Precedence of exit statuses, most important first. */
static const int exit_order[] = {
	EX_USAGE, EX_CONFIG, EX_UNAVAILABLE, EX_TEMPFAIL, EX_NOINPUT,
	EX_DATAERR,
};

static int
exit_rank(int status)
{
	size_t i;

	for (i = 0; i < sizeof(exit_order) / sizeof(exit_order[0]); i++)
		if (exit_order[i] == status)
			return (int)i;
	return status == 0 ? 100 : -1;
}

const char *
convo_account(const char *option)
{
	const char *env = getenv("CONVO_ACCOUNT");

	/*
	 * "--account $BRAND" with BRAND unset must not act on the account
	 * of CONVO_ACCOUNT or on "default".
	 */
	if (option != NULL && *option == '\0')
		errx(EX_USAGE, "--account needs a name: leave it out to use "
		    "CONVO_ACCOUNT or \"default\"");
	if (option != NULL)
		return option;
	if (env != NULL && *env != '\0')
		return env;
	return "default";
}

int
exit_merge(int current, int next)
{
	return exit_rank(next) < exit_rank(current) ? next : current;
}
