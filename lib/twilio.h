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
	void *curl;		/* CURL handle, reused for keep-alive */
	char base[512];		/* TWILIO_API_BASE, no trailing slash */
	char account_sid[64];
	char user[64];		/* account SID or API key SID */
	char secret[256];	/* auth token or API secret; never printed */
	long timeout_ms;
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

/* What came back: an HTTP answer, or a transport error. */
struct twilio_response {
	long http_status;		/* 0 when no answer arrived */
	char sid[64];
	char status[32];
	char error_code[16];
	char error_message[256];
	long retry_after_s;		/* Retry-After, -1 when absent */
	char transport_error[256];	/* curl's message, "" when answered */
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

/* Send REQ and fill RES. Returns 0 when an HTTP answer arrived, else -1. */
int twilio_send(struct twilio *t, const struct twilio_request *req,
    struct twilio_response *res);

/*
 * Return 1 when RES is worth retrying later: no answer, HTTP 429 or
 * error 20429, or a 5xx status.
 */
int twilio_retryable(const struct twilio_response *res);

#endif
