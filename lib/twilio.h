/*
 * The Twilio Messages API client: one form-encoded POST per message to
 * /2010-04-01/Accounts/{AccountSid}/Messages.json, with HTTP Basic
 * authentication, over HTTPS with the certificate and host name
 * verified. Only CONVO_INSECURE_TLS_FOR_TESTING=1 with an API base on a
 * loopback address allows plain HTTP or an unverified certificate.
 */
#ifndef CONVO_TWILIO_H
#define CONVO_TWILIO_H

#include <stddef.h>

#include "buf.h"

struct twilio {
	void *multi;		/* CURLM handle: connections are reused */
	char base[512];		/* TWILIO_API_BASE, no trailing slash */
	char account_sid[64];
	char user[64];		/* account SID or API key SID */
	char secret[256];	/* auth token or API secret; never printed */
	long timeout_ms;
	int in_flight;
	int insecure;		/* CONVO_INSECURE_TLS_FOR_TESTING=1 */
};

/* The variable that allows plain HTTP and unverified TLS to loopback. */
#define TWILIO_INSECURE_VARIABLE "CONVO_INSECURE_TLS_FOR_TESTING"

/* Flags of twilio_init(). */
#define TWILIO_CREDENTIALS_OPTIONAL 1	/* a dry run sends nothing */

/* Results of twilio_init(). */
#define TWILIO_OK 0
#define TWILIO_MISSING 1	/* a required variable is not set */
#define TWILIO_INVALID (-1)	/* a bad value or secret file */

struct twilio_request {
	const char *to;
	const char *from;		/* or NULL with a messaging service */
	const char *service_sid;	/* MG..., or NULL */
	const char *body;		/* may be "" with media */
	const char *const *media;
	int nmedia;
	const char *status_callback;	/* or NULL */
};

/* What came back: an HTTP response, or a transport error. */
struct twilio_response {
	long http_status;		/* 0 when no answer arrived */
	char sid[64];
	char status[32];
	char error_code[16];
	char error_message[256];
	long retry_after_s;		/* Retry-After, -1 when absent */
	char transport_error[256];	/* curl's message, "" when answered */
	int maybe_sent;			/* the request left, no outcome came */
};

/*
 * Read TWILIO_ACCOUNT_SID, the secret and TWILIO_API_BASE (default
 * https://api.twilio.com). The secret is the auth token, from the file
 * that CONVO_TWILIO_AUTH_TOKEN_FILE names or else TWILIO_AUTH_TOKEN.
 * With TWILIO_API_KEY set, it is the API secret, from
 * CONVO_TWILIO_API_SECRET_FILE or else TWILIO_API_SECRET. A secret file
 * must pass the checks of secret_file_read(). The base must be https
 * unless TWILIO_INSECURE_VARIABLE is 1, which only a loopback base
 * (127.0.0.0/8, [::1], localhost) may use. With
 * TWILIO_CREDENTIALS_OPTIONAL in FLAGS, no libcurl handle is made, and
 * unset credentials still return TWILIO_MISSING but leave T ready for a
 * dry run, without credentials. Returns TWILIO_OK, or TWILIO_MISSING or
 * TWILIO_INVALID with a message in ERR that never contains a secret.
 */
int twilio_init(struct twilio *t, int flags, char *err, size_t errsz);

/* Write the Messages URL of T's account to OUT, or "" without one. */
void twilio_url(const struct twilio *t, char *out, size_t n);

/*
 * Write the credentials of T as "USER:********" to OUT, with the secret
 * masked, or "" when T has none.
 */
void twilio_auth_masked(const struct twilio *t, char *out, size_t n);
void twilio_free(struct twilio *t);

/* Append the form body of REQ to OUT, as it is sent. */
void twilio_form(const struct twilio_request *req, struct buf *out);

/*
 * Append to OUT the status callback URL BASE with the query parameter
 * CONVO_OUTBOX_PARAM set to OUTBOX ("o_N"), after a '&' when BASE has a
 * query and before any fragment. Twilio posts receipts to that exact
 * URL and signs it whole, so convo-webhook can trust the parameter.
 */
void twilio_callback_url(const char *base, const char *outbox,
    struct buf *out);

/* One request in flight. */
struct twilio_call {
	void *easy;		/* CURL handle */
	struct buf form;
	struct buf answer;
	struct twilio_response res;
	void *owner;		/* the caller's object */
};

/*
 * Start sending REQ as CALL, which stays valid until twilio_next()
 * returns it. OWNER is kept for the caller. Returns 0, or -1 when
 * libcurl cannot start the request.
 */
int twilio_start(struct twilio *t, struct twilio_call *call,
    const struct twilio_request *req, void *owner);

/*
 * Run the requests in flight for up to TIMEOUT_MS milliseconds and
 * return one that finished, with its response filled, or NULL. The wait
 * also ends when file descriptor WAKE_FD, unless it is -1, has input.
 * The caller frees the call with twilio_call_free().
 */
struct twilio_call *twilio_next(struct twilio *t, int timeout_ms,
    int wake_fd);

/* Open at most N connections at once (one request each on HTTP/1.1). */
void twilio_limit(struct twilio *t, int n);

/* Return the number of requests in flight. */
int twilio_in_flight(const struct twilio *t);

void twilio_call_free(struct twilio_call *call);

/*
 * Return 1 when RES is worth retrying later: no response, HTTP 429 or
 * error 20429, or a 5xx status.
 */
int twilio_retryable(const struct twilio_response *res);

#endif
