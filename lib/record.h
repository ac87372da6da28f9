/*
 * Input records of convo-ingest: validation and normal form. Pure
 * functions over jv values; no database.
 */
#ifndef CONVO_RECORD_H
#define CONVO_RECORD_H

#include <stddef.h>
#include <jv.h>

/* Bodies longer than this (bytes) are never compared with keywords. */
#define KEYWORD_TEXT_MAX 256

/* Most media items a message may carry, as Twilio allows. */
#define MEDIA_MAX 10

/*
 * Maximum message body in bytes. Twilio takes at most 1600 characters,
 * which are at most 6400 bytes of UTF-8. The rest is room for other
 * providers and channels, while a file pasted into a body is rejected.
 */
#define BODY_MAX 16384

/*
 * Check the input record REC (consumed) and return its normal form, a
 * new object the caller owns, or an invalid jv whose message states what
 * is wrong and quotes the value, such as
 * 'invalid phone number "555-1234": too few digits'.
 * COUNTRY is the account's default country for national numbers.
 *
 * The normal form has "type" and, by type:
 * message: provider, provider_message_id, direction, channel, phone
 *   (the customer, E.164), from_address, to_address, body, media (array
 *   of {url, content_type}), sent_at, origin, origin_id, status, normal
 *   (keyword normal form of an inbound body, or null), extra (unknown
 *   fields, or null);
 * status: provider, provider_message_id, status, error_code (string or
 *   null), at, to_phone, channel, outbox_id (the digits of an "o_N"
 *   outbox row id, or null);
 * consent: phone, channel, status, method, at;
 * profile: phone, fields (the profile fields present), updated_at.
 */
jv record_normalize(jv rec, const char *country);

/*
 * Decide whether the message normal form REC (consumed) is a keyword of
 * SET and return it with "keyword", "keyword_action",
 * "keyword_conditional" and "possible_opt_out" set. Twilio's OptOutType
 * (STOP, START, HELP) gives the action when no keyword matched, because
 * Twilio has then already acted on it. Other records pass unchanged.
 */
struct keyword_set;
jv record_match_keywords(jv rec, const struct keyword_set *set);

/*
 * Return 1 when the message normal form REC (borrowed) has an
 * opt_out_type of STOP, START or HELP, in any case, so that the provider
 * acted on it and sent its own reply. Other values and null return 0.
 */
int record_provider_acted(jv rec);

/*
 * Return the thread that REC (borrowed) names, a string the caller
 * owns: its conversation id (a conversation record's "id" too), else the
 * customer's phone from "profile.phone" or "phone", else the sender of
 * an inbound message or the recipient of anything else. Returns an
 * invalid jv when REC names none, as any value but an object does.
 */
jv record_target(jv rec);

/* Return 1 when REC (borrowed) is a conversation record. */
int record_is_conversation(jv rec);

/*
 * Return why REC (borrowed), an input line parsed by json_parse_line(),
 * names no thread: its parse error, the kind of a value that is not an
 * object, or the fields it lacks. The caller owns the string.
 */
jv record_target_error(jv rec);

/* The target of the last record read, for record_target_repeats(). */
struct record_last_target {
	char value[128];
};

/*
 * Return 1 when TARGET (borrowed), from record_target(), is the target
 * kept in LAST, as for every record of a thread after its first, and
 * keep TARGET in LAST otherwise. An invalid TARGET returns 0. Targets
 * compare as text, so a phone and an id of one conversation differ.
 */
int record_target_repeats(struct record_last_target *last, jv target);

/* Return 1 when S is a delivery status convo accepts. */
int record_status_known(const char *s);

/*
 * Quote a value for an error message: at most 60 bytes of it, cut at a
 * character boundary, with control characters shown as '?'.
 */
const char *record_quote(const char *s, char out[80]);

#endif
