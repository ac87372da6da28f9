/*
 * Fuzzes phone number normalisation. The first two input bytes are the
 * default country and the rest is the number as written. Invariants: a
 * result is '+' and 2 to 15 digits, normalising it again under any
 * default country gives itself, a buffer one byte too small is rejected
 * and the exact size is enough, and a rejection always has a reason.
 */
#include "convo.h"
#include "phone.h"
#include "fuzz.h"

/* Check that E164, a result, is '+' and 2 to 15 digits. */
static void
check_e164(const char *e164)
{
	size_t i, len = strlen(e164);

	FUZZ_ASSERT(e164[0] == '+');
	FUZZ_ASSERT(len >= 3 && len <= 16);
	FUZZ_ASSERT(e164[1] != '0');
	for (i = 1; i < len; i++)
		FUZZ_ASSERT(e164[i] >= '0' && e164[i] <= '9');
}

/* Normalising the result again, under any default country, gives itself. */
static void
check_idempotent(const char *e164, const char *country)
{
	static const char *const others[] = { NULL, "", "US", "GB", "ZZ" };
	char again[PHONE_MAX];
	const char *why;
	size_t i;

	FUZZ_ASSERT(phone_normalize(e164, country, again, sizeof(again),
	    &why) == 0);
	FUZZ_ASSERT(why == NULL);
	FUZZ_ASSERT(strcmp(again, e164) == 0);
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		FUZZ_ASSERT(phone_normalize(e164, others[i], again,
		    sizeof(again), NULL) == 0);
		FUZZ_ASSERT(strcmp(again, e164) == 0);
	}
}

/*
 * Give buffers from 0 bytes to the exact size of the result E164: each
 * smaller one is rejected, and no call writes past the size it is given.
 */
static void
check_sizes(const char *text, const char *country, const char *e164)
{
	char out[PHONE_MAX + 8];
	const char *why;
	size_t need = strlen(e164) + 1, size, i;
	int rc;

	for (size = 0; size <= need; size++) {
		memset(out, 'x', sizeof(out));
		rc = phone_normalize(text, country, out, size, &why);
		for (i = size; i < sizeof(out); i++)
			FUZZ_ASSERT(out[i] == 'x');
		if (size == need) {
			FUZZ_ASSERT(rc == 0);
			FUZZ_ASSERT(strcmp(out, e164) == 0);
			continue;
		}
		FUZZ_ASSERT(rc == -1);
		FUZZ_ASSERT(why != NULL);
		FUZZ_ASSERT(size == 0 || out[0] == '\0');
	}
}

static void
check_channel(const char *text)
{
	const char *number = NULL, *channel;

	channel = phone_channel(text, &number);
	FUZZ_ASSERT(channel != NULL);
	FUZZ_ASSERT(number >= text && number <= text + strlen(text));
	if (number == text)
		FUZZ_ASSERT(strcmp(channel, "sms") == 0);
	else
		FUZZ_ASSERT(number[-1] == ':');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char country[3], out[PHONE_MAX], *text;
	const char *why = "unset";
	int rc;

	if (size < 2)
		return 0;
	memcpy(country, data, 2);
	country[2] = '\0';
	text = fuzz_string(data + 2, size - 2);

	rc = phone_normalize(text, country, out, sizeof(out), &why);
	FUZZ_ASSERT(rc == 0 || rc == -1);
	if (rc == 0) {
		FUZZ_ASSERT(why == NULL);
		check_e164(out);
		check_idempotent(out, country);
		check_sizes(text, country, out);
	} else {
		FUZZ_ASSERT(why != NULL && *why != '\0');
		FUZZ_ASSERT(out[0] == '\0');
	}
	check_channel(text);
	(void)phone_is_short_code(text);
	(void)phone_country_known(country);
	free(text);
	return 0;
}
