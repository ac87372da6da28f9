/*
 * Sending replies: the checks a message passes before it leaves and the
 * outbox that makes sending safe to repeat. Used by convo-send.
 */
#ifndef CONVO_SEND_H
#define CONVO_SEND_H

#include <jv.h>
#include <libpq-fe.h>

#include "convo.h"
#include "phone.h"
#include "segments.h"

/* Twilio's limits on one message. */
#define SEND_BODY_MAX 1600
#define SEND_MEDIA_MAX 10

/* The account and the settings the checks and the outbox need. */
struct send_ctx {
	PGconn *conn;
	char account_id[32];
	char country[8];
	const char *idempotency_key;	/* --idempotency-key, or NULL */
	long window_hours;		/* idempotency window */
	int new_conversation;		/* --new */
	int quiet_start;	/* minutes after midnight, -1 when unset */
	int quiet_end;
	const char *now;	/* $CONVO_NOW in UTC, or NULL for the clock */
	char *account_zones;	/* text[] of convo.account_zones, owned */
	char run[33];		/* random id of this run's outbox claims */
	/*
	 * The reader of the result of a statement that outbox_send() sent,
	 * or NULL: outbox_settle() calls it with SETTLE_ARG.
	 */
	void (*settle)(void *arg);
	void *settle_arg;
};

/* One message to send, resolved against the database. */
struct send_job {
	long long line;		/* input line, 0 for arguments */
	jv input;		/* the input record, owned */
	char phone[PHONE_MAX];
	char channel[40];
	char named_channel[40];	/* a conversation's "channel" field, or "" */
	char profile_id[32];
	char requested[32];	/* conversation id in the input, "" for a phone */
	char conversation_id[32];	/* "" when none */
	char brand[128];	/* sender: number, short code or MG id */
	char consent[32];
	char key[136];		/* idempotency key */
	char origin[32];
	char outbox[32];	/* outbox row id once stored */
	char queued[32];	/* with --queued, the row the job came from */
	int blocked;
	/*
	 * The conversation's unsettled possible opt-out: the flagged message
	 * ("m_N") and when convo-ingest flagged it, or "" when none.
	 */
	char flagged_message[32];
	char flagged_at[40];
	/* Why the check before the request held the job back, or "". */
	char held[24];
	/*
	 * With --queued, an outbox row stored without a conversation by a
	 * run with --new, which the checks allow as --new does.
	 */
	int stored_new;
	/*
	 * A reply to an opt-out, opt-in or help message of this customer,
	 * with the text that convo-ingest stored for it. It needs no
	 * conversation and is never deferred.
	 */
	int keyword_reply;
	/*
	 * A keyword reply to an opt-out or help message, which carrier rules
	 * require, so it needs no consent and passes a possible opt-out.
	 */
	int consent_exempt;
	/*
	 * A reply to a keyword message of this customer, of any action,
	 * which convo-ingest stored under the key "r:" and its id.
	 */
	int replies_to_keyword;
	/*
	 * A reply to a keyword message sent more than 24 hours ago, as in
	 * recorded history, that convo-ingest did not store, so it is not
	 * sent.
	 */
	int old_keyword;
	int local_minutes;	/* customer's local time, -1 when unknown */
	/*
	 * With --quiet-hours, where the customer's time zone comes from:
	 * "profile", "area_code" or "unknown". ZONE is the zone whose local
	 * time decided, or "" when none did.
	 */
	char zone_source[16];
	char zone[256];
	int attempts;		/* requests made in this run */
	double first_try;	/* when the first of them started */
	double not_before;	/* monotonic time of the next attempt */
	jv body;		/* string, owned */
	jv media;		/* array of strings, owned */
	struct segments seg;
	void *call;		/* the request in flight, or NULL */
};

enum outbox_claim {
	OUTBOX_NEW,		/* stored now, to send */
	OUTBOX_RETRY,		/* stored earlier as queued, to send */
	OUTBOX_DONE,		/* sent or failed earlier: a duplicate */
	OUTBOX_UNKNOWN,		/* requested earlier with no known outcome */
	OUTBOX_BUSY,		/* queued by another run that is still connected */
	OUTBOX_REPEATED,	/* claimed earlier in this run: given twice */
};

/*
 * Run SQL with parameters; print a message and exit when it fails. The
 * statement that outbox_send() sent is settled first.
 */
PGresult *outbox_query(struct send_ctx *ctx, const char *sql, int n,
    const char *const *params);

/*
 * Send SQL with parameters without waiting for its result, so that the
 * server runs it while the caller goes on. SETTLE(ARG) reads the result
 * with outbox_result(). outbox_settle() calls it, and so does the next
 * statement on the connection.
 */
void outbox_send(struct send_ctx *ctx, const char *sql, int n,
    const char *const *params, void (*settle)(void *), void *arg);

/* Wait for the statement that outbox_send() sent, if any, and settle it. */
void outbox_settle(struct send_ctx *ctx);

/*
 * Return the result of the statement that outbox_send() sent; print a
 * message and exit when it failed.
 */
PGresult *outbox_result(struct send_ctx *ctx);

/*
 * Run SQL with parameters in a transaction that first takes the account
 * lock (convo.lock_account). SQL that changes a conversation summary or
 * consent needs it, so that no convo-ingest batch computes them at the
 * same time. Prints a message and exits when it fails.
 */
void outbox_locked(struct send_ctx *ctx, const char *sql, int n,
    const char *const *params);

/*
 * Find the customers of the N JOBS in one statement: by conversation id
 * J->requested ("c_N"), or when it is "" by J->phone and J->channel. Fills
 * the conversation, sender, consent, block and possible opt-out of each
 * job found, and with --quiet-hours the time zone and local time, and
 * sets FOUND[i] to 1 for a job found, 0 for one without such a customer.
 * The one statement reads them all from one snapshot.
 */
void outbox_resolve(struct send_ctx *ctx, struct send_job *const *jobs,
    int n, int *found);

/*
 * Classify J against the keyword message that its in_reply_to names, when
 * J is a "send" record of origin keyword_reply. The message must be an
 * inbound keyword message from this customer on J's channel. Its stored
 * reply is the outbox row of origin keyword_reply under its "r:" key,
 * stored within the idempotency window, with J's body and media. Sets
 * J->replies_to_keyword for such a message of any action, such as a
 * custom keyword, and J->old_keyword when it has no stored reply and was
 * sent more than 24 hours ago. Sets J->keyword_reply for an opt-out,
 * opt-in or help message with a stored reply, and J->consent_exempt when
 * that action is opt-out or help.
 */
void outbox_keyword_reply(struct send_ctx *ctx, struct send_job *j);

/*
 * Fill J->key: a keyword reply's from its keyword message, another's from
 * the caller's key or from the message's content. A key J has stays.
 */
void outbox_derive_key(struct send_ctx *ctx, struct send_job *j);

/*
 * Store each of the N JOBS in the outbox as queued, or find the row
 * stored with the same key within the window, in one transaction. Fills
 * J->outbox and CLAIMS[i], which is OUTBOX_REPEATED for a key that this
 * run (CTX->run, drawn on first use) claimed already. Returns the result
 * the caller clears: row i has the state, sid and error of the earlier
 * row of job i, as outbox_peek() gives them.
 */
PGresult *outbox_claim(struct send_ctx *ctx, struct send_job *const *jobs,
    int n, enum outbox_claim *claims);

/*
 * Look up the outbox row of J's key as outbox_claim() does, changing
 * nothing: OUTBOX_NEW when there is none. *ROW gets the result to clear.
 */
enum outbox_claim outbox_peek(struct send_ctx *ctx, struct send_job *j,
    PGresult **row);

/*
 * Mark the outbox rows of the N JOBS as sending, counting an attempt, in
 * one transaction that waits for the disk. Only the rows that this run
 * still has claimed are marked, and CLAIMED[i] is set to 1 for those, 0
 * for a row that another run took over. The block, consent and possible
 * opt-out are checked again first: a row that they hold back keeps its
 * state, CLAIMED[i] is -1 and the job's held is set to the reason.
 */
void outbox_set_sending(struct send_ctx *ctx, struct send_job *const *jobs,
    int n, int *claimed);

/*
 * Mark queued outbox row OUTBOX failed, with MESSAGE, the reason it did
 * not pass its checks.
 */
void outbox_reject_row(struct send_ctx *ctx, const char *outbox,
    const char *message);

/* Set the state of outbox row OUTBOX ("sending" counts an attempt). */
void outbox_set_state(struct send_ctx *ctx, const char *outbox,
    const char *state);

/*
 * Release outbox row OUTBOX, which this run makes no further request
 * for, and set its state to STATE unless STATE is NULL. Another run
 * then treats the row as that of a run that has ended, so it sends a
 * queued row and reports a sending one unknown, or with --retry-unknown
 * sends it again. The row keeps this run's claim_run, so this run still
 * reports the same message given again as repeated.
 */
void outbox_release(struct send_ctx *ctx, const char *outbox,
    const char *state);

/*
 * Delete outbox row OUTBOX, which this run stored and never requested,
 * when the check before its request held it back.
 */
void outbox_forget(struct send_ctx *ctx, const char *outbox);

/*
 * Return 1 when J is to be deferred for the quiet hours. A customer of
 * known time zone is checked in that zone. A customer of unknown zone is
 * checked in every zone of convo.account_zones, which CTX keeps from the
 * first use, and is deferred when any of them is inside the quiet hours
 * or when the account has none. Sets J->zone to the zone that decided.
 */
int outbox_quiet_hours(struct send_ctx *ctx, struct send_job *j);

/* Release what CTX owns; the connection stays open. */
void outbox_ctx_free(struct send_ctx *ctx);

/* Return 1 when MINUTES after midnight is inside the quiet hours. */
int send_quiet_hours(const struct send_ctx *ctx, int minutes);

/*
 * Check the body and media of J. Returns NULL, or a reason code with a
 * sentence in MESSAGE.
 */
const char *send_check_content(const struct send_job *j, char *message,
    size_t n);

/*
 * Check that J may go to its recipient: a conversation (unless --new or
 * a keyword reply), consent (unless a keyword reply), no block, no
 * unsettled possible opt-out (unless a keyword reply) and a sender.
 * Returns NULL, or a reason code with a sentence in MESSAGE.
 */
const char *send_check_recipient(const struct send_ctx *ctx,
    const struct send_job *j, char *message, size_t n);

#endif
