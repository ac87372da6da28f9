/*
 * The Twilio Messages API client: one form-encoded POST per message to
 * /2010-04-01/Accounts/{AccountSid}/Messages.json, with HTTP Basic
 * authentication and TLS verification always on.
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
};

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
 * Read TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and
 * TWILIO_API_SECRET) and TWILIO_API_BASE (default
 * https://api.twilio.com). Returns 0, or -1 with a message in ERR that
 * names the missing variable but never a secret.
 */
int twilio_init(struct twilio *t, char *err, size_t errsz);
void twilio_free(struct twilio *t);

/* Append the form body of REQ to OUT, as it is sent. */
void twilio_form(const struct twilio_request *req, struct buf *out);

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
 * return one that finished, with its response filled, or NULL. The
 * caller frees it with twilio_call_free().
 */
struct twilio_call *twilio_next(struct twilio *t, int timeout_ms);

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
