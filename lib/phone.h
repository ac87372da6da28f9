/*
 * Phone numbers: normalisation of customer numbers to E.164 and the
 * channel prefix of provider addresses ("whatsapp:+15005550006").
 * Pure functions: no database, no network, no allocation.
 */
#ifndef CONVO_PHONE_H
#define CONVO_PHONE_H

#include <stddef.h>

/*
 * Normalise TEXT to E.164 ("+15005550006") in OUT, which has room for
 * OUTSZ bytes (PHONE_MAX is enough). National numbers are read with the
 * calling code and trunk prefix of DEFAULT_COUNTRY, an ISO 3166 alpha-2
 * code such as "US" or "GB". Spaces, dots, dashes, slashes and brackets
 * are ignored, fullwidth forms and Arabic-Indic digits count as their
 * ASCII characters, and "00" (or "011" in the North American plan)
 * starts an international number. Digits too long for a national number
 * of DEFAULT_COUNTRY may be an international number without its '+':
 * see reads_international() in phone.c.
 * Returns 0, or -1 with *WHY set to a static phrase such as "too few
 * digits" that fits after "invalid phone number".
 */
int phone_normalize(const char *text, const char *default_country,
    char *out, size_t outsz, const char **why);

/*
 * Split a provider address into channel and number: "whatsapp:+1..."
 * gives "whatsapp" and a pointer past the colon, a plain number gives
 * "sms" and TEXT itself. Returns the channel name, a static string.
 */
const char *phone_channel(const char *text, const char **number);

/* Return 1 when TEXT starts with a channel prefix such as "sms:". */
int phone_has_prefix(const char *text);

/*
 * Return 1 when NAME is a valid channel name: 1 to 32 lower-case
 * letters, digits, '_' or '-', as convo-ingest accepts.
 */
int phone_channel_valid(const char *name);

/* Return 1 when CODE is an ISO 3166 alpha-2 code in the normaliser's table. */
int phone_country_known(const char *code);

/*
 * Return 1 when TEXT looks like a brand-side address that is not a phone
 * number: a short code of 3 to 8 digits or a messaging service id
 * ("MG" and 32 hex digits).
 */
int phone_is_short_code(const char *text);

#endif
