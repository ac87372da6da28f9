/*
 * application/x-www-form-urlencoded bodies and the Twilio webhooks that
 * use them (inbound message and status callback), and the same webhooks
 * sent as JSON objects.
 */
#ifndef CONVO_FORM_H
#define CONVO_FORM_H

#include <stddef.h>
#include <jv.h>

/*
 * Decode the form body TEXT of LEN bytes into a jv object of strings.
 * '+' is a space and %XX a byte; a key given twice keeps its last value.
 * Returns an invalid jv with a message (naming the bad key or escape)
 * when an escape is malformed or a decoded value is not valid UTF-8.
 * The caller owns the result.
 */
jv form_decode(const char *text, size_t len);

/*
 * Convert JSON (consumed), the body of a Twilio webhook sent as
 * application/json, into the object of strings that form_decode()
 * returns for the same parameters. A string stays as it is, and a
 * number, boolean, array or object becomes its JSON text, with sorted
 * keys. A null leaves the parameter out. Returns an invalid jv with a
 * message when JSON is not an object or a name has a NUL byte. The
 * caller owns the result.
 */
jv form_from_json(jv json);

/* Return 1 when the line of LEN bytes looks like a form body, not JSON. */
int form_looks_like(const char *text, size_t len);

/*
 * Convert a decoded Twilio webhook FORM (consumed) into a convo record:
 * a "message" record for an inbound message (MessageSid with SmsStatus
 * or Body, NumMedia with MediaUrl{N} and MediaContentType{N}) or a
 * "status" record for a status callback (MessageStatus, ErrorCode).
 * RECEIVED_AT, an RFC 3339 time, becomes the record's time because
 * Twilio sends none. Returns an invalid jv with a message when required
 * parameters are missing. The caller owns the result.
 */
jv twilio_form_to_record(jv form, const char *received_at);

#endif
