#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <openssl/evp.h>

#include "buf.h"
#include "db.h"
#include "send.h"

void
outbox_settle(struct send_ctx *ctx)
{
	void (*settle)(void *) = ctx->settle;

	if (settle != NULL) {
		ctx->settle = NULL;
		settle(ctx->settle_arg);
	}
}

void
outbox_send(struct send_ctx *ctx, const char *sql, int n,
    const char *const *params, void (*settle)(void *), void *arg)
{
	outbox_settle(ctx);
	if (!PQsendQueryParams(ctx->conn, sql, n, NULL, params, NULL, NULL,
	    0))
		exit(db_report(ctx->conn, NULL, "database statement failed"));
	ctx->settle = settle;
	ctx->settle_arg = arg;
}

PGresult *
outbox_result(struct send_ctx *ctx)
{
	PGresult *res = PQgetResult(ctx->conn), *more;

	if (res == NULL || (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK))
		exit(db_report(ctx->conn, res, "database statement failed"));
	while ((more = PQgetResult(ctx->conn)) != NULL)
		PQclear(more);
	return res;
}

PGresult *
outbox_query(struct send_ctx *ctx, const char *sql, int n,
    const char *const *params)
{
	PGresult *res;

	outbox_settle(ctx);
	res = PQexecParams(ctx->conn, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK)
		exit(db_report(ctx->conn, res, "database statement failed"));
	return res;
}

void
outbox_locked(struct send_ctx *ctx, const char *sql, int n,
    const char *const *params)
{
	const char *account[1] = { ctx->account_id };

	PQclear(outbox_query(ctx, "BEGIN", 0, NULL));
	PQclear(outbox_query(ctx, "SELECT convo.lock_account($1)", 1,
	    account));
	PQclear(outbox_query(ctx, sql, n, params));
	PQclear(outbox_query(ctx, "COMMIT", 0, NULL));
}

static void
copy_value(const PGresult *res, int row, int col, char *out, size_t n)
{
	snprintf(out, n, "%s", PQgetisnull(res, row, col) ? "" :
	    PQgetvalue(res, row, col));
}

/* Fill J from row ROW of the result of convo.send_recipients(). */
static void
resolved(struct send_job *j, const PGresult *res, int row)
{
	copy_value(res, row, 1, j->profile_id, sizeof(j->profile_id));
	copy_value(res, row, 2, j->phone, sizeof(j->phone));
	copy_value(res, row, 3, j->channel, sizeof(j->channel));
	if (!PQgetisnull(res, row, 4))
		snprintf(j->conversation_id, sizeof(j->conversation_id),
		    "c_%s", PQgetvalue(res, row, 4));
	copy_value(res, row, 5, j->brand, sizeof(j->brand));
	j->blocked = PQgetvalue(res, row, 6)[0] == 't';
	copy_value(res, row, 7, j->consent, sizeof(j->consent));
	copy_value(res, row, 8, j->zone_source, sizeof(j->zone_source));
	copy_value(res, row, 9, j->zone, sizeof(j->zone));
	j->local_minutes = PQgetisnull(res, row, 10) ? -1 :
	    atoi(PQgetvalue(res, row, 10));
	if (!PQgetisnull(res, row, 11))
		snprintf(j->flagged_message, sizeof(j->flagged_message),
		    "m_%s", PQgetvalue(res, row, 11));
	copy_value(res, row, 12, j->flagged_at, sizeof(j->flagged_at));
}

void
outbox_resolve(struct send_ctx *ctx, struct send_job *const *jobs, int n,
    int *found)
{
	jv requests = jv_array(), text;
	const char *params[4] = { ctx->account_id, NULL,
	    ctx->quiet_start >= 0 ? "t" : "f", ctx->now };
	PGresult *res;
	int i, item;

	for (i = 0; i < n; i++) {
		const char *requested = jobs[i]->requested;
		jv w = jv_object_set(jv_object(), jv_string("phone"),
		    jv_string(jobs[i]->phone));

		w = jv_object_set(w, jv_string("channel"),
		    jv_string(jobs[i]->channel));
		w = jv_object_set(w, jv_string("conversation"), requested[0] ?
		    jv_string(requested + 2) : jv_null());
		requests = jv_array_append(requests, w);
		found[i] = 0;
	}
	text = jv_dump_string(requests, 0);
	params[1] = jv_string_value(text);
	res = outbox_query(ctx, "SELECT item, profile_id, phone, channel, "
	    "conversation_id, brand_address, blocked, consent, zone_source, "
	    "zone, local_minutes, flagged_message_id, "
	    "convo.rfc3339(flagged_at) "
	    "FROM convo.send_recipients($1, $2, $3, $4)", 4, params);
	jv_free(text);
	for (i = 0; i < PQntuples(res); i++) {
		item = atoi(PQgetvalue(res, i, 0)) - 1;
		if (item < 0 || item >= n || found[item])
			continue;
		resolved(jobs[item], res, i);
		found[item] = 1;
	}
	PQclear(res);
}

/* Load the account's time zones into CTX as a text[] literal. */
static void
load_account_zones(struct send_ctx *ctx)
{
	const char *params[1] = { ctx->account_id };
	PGresult *res;

	res = outbox_query(ctx, "SELECT coalesce(array_agg(z ORDER BY z), "
	    "'{}') FROM convo.account_zones($1) z", 1, params);
	ctx->account_zones = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
}

int
outbox_quiet_hours(struct send_ctx *ctx, struct send_job *j)
{
	const char *params[2] = { NULL, ctx->now };
	PGresult *res;
	int i, n, quiet = 0;

	if (ctx->quiet_start < 0)
		return 0;
	if (j->local_minutes >= 0)
		return send_quiet_hours(ctx, j->local_minutes);
	/*
	 * TODO: a number outside the plan is checked in the account's zones,
	 * not in its own country's, so it can be reached in its night.
	 */
	if (ctx->account_zones == NULL)
		load_account_zones(ctx);
	params[0] = ctx->account_zones;
	res = outbox_query(ctx, "SELECT z, convo.local_minutes("
	    "coalesce($2::timestamptz, now()), z) "
	    "FROM unnest($1::text[]) z ORDER BY z", 2, params);
	n = PQntuples(res);
	j->zone[0] = '\0';
	for (i = 0; i < n && !quiet; i++) {
		if (send_quiet_hours(ctx, atoi(PQgetvalue(res, i, 1)))) {
			snprintf(j->zone, sizeof(j->zone), "%s",
			    PQgetvalue(res, i, 0));
			quiet = 1;
		}
	}
	PQclear(res);
	/* Without a known zone, no time is known to be outside quiet hours. */
	if (n == 0)
		quiet = ctx->quiet_start != ctx->quiet_end;
	return quiet;
}

void
outbox_ctx_free(struct send_ctx *ctx)
{
	free(ctx->account_zones);
	ctx->account_zones = NULL;
}

void
outbox_keyword_reply(struct send_ctx *ctx, struct send_job *j)
{
	jv type = jv_object_get(jv_copy(j->input), jv_string("type"));
	jv origin = jv_object_get(jv_copy(j->input), jv_string("origin"));
	jv reply_to = jv_object_get(jv_copy(j->input),
	    jv_string("in_reply_to"));
	jv media = jv_dump_string(jv_copy(j->media), 0);
	const char *params[7] = { ctx->account_id, j->profile_id, NULL,
	    NULL, jv_string_value(j->body), jv_string_value(media),
	    j->channel };
	const char *action;
	char window[32];
	PGresult *res;
	int stored;

	j->keyword_reply = j->consent_exempt = 0;
	j->replies_to_keyword = j->old_keyword = 0;
	snprintf(window, sizeof(window), "%ld hours", ctx->window_hours);
	params[3] = window;
	if (jv_get_kind(type) == JV_KIND_STRING &&
	    strcmp(jv_string_value(type), "send") == 0 &&
	    jv_get_kind(origin) == JV_KIND_STRING &&
	    strcmp(jv_string_value(origin), "keyword_reply") == 0 &&
	    jv_get_kind(reply_to) == JV_KIND_STRING) {
		params[2] = jv_string_value(reply_to);
		/*
		 * Only the reply that convo-ingest stored skips checks: the
		 * outbox row of origin keyword_reply under the keyword's key,
		 * with the same text and media, on the keyword's channel,
		 * stored within the window. convo-ingest stores none for a
		 * keyword message sent more than 24 hours ago, and convo-send
		 * sends no reply to such a message that it did not store. The
		 * age of a stored reply counts from when it was stored, so a
		 * STOP recorded just inside the 24 hours keeps its reply.
		 */
		res = outbox_query(ctx, "SELECT m.keyword_action, "
		    "m.sent_at <= now() - interval '24 hours', "
		    "EXISTS (SELECT 1 FROM convo.outbox o "
		    "WHERE o.account_id = $1 "
		    "AND o.idempotency_key = 'r:' || $3 "
		    "AND o.profile_id = $2 AND o.channel = $7 "
		    "AND o.origin = 'keyword_reply' "
		    "AND o.created_at > now() - $4::interval "
		    "AND (o.body, o.media) IS NOT DISTINCT FROM "
		    "($5, $6::jsonb)) "
		    "FROM convo.messages m "
		    "WHERE m.account_id = $1 AND m.profile_id = $2 "
		    "AND m.provider_message_id = $3 AND m.channel = $7 "
		    "AND m.direction = 'inbound' "
		    "AND m.keyword_action IS NOT NULL", 7, params);
		if (PQntuples(res) > 0) {
			action = PQgetvalue(res, 0, 0);
			stored = PQgetvalue(res, 0, 2)[0] == 't';
			j->replies_to_keyword = 1;
			j->old_keyword = !stored &&
			    PQgetvalue(res, 0, 1)[0] == 't';
			j->keyword_reply = stored &&
			    (strcmp(action, "opt_out") == 0 ||
			    strcmp(action, "help") == 0 ||
			    strcmp(action, "opt_in") == 0);
			/* An opt-in confirmation needs consent. */
			j->consent_exempt = j->keyword_reply &&
			    strcmp(action, "opt_in") != 0;
		}
		PQclear(res);
	}
	jv_free(media);
	jv_free(type);
	jv_free(origin);
	jv_free(reply_to);
}

/* Append S and a unit separator, the joint of the key's parts. */
static void
key_part(EVP_MD_CTX *sha, const char *s, int last)
{
	EVP_DigestUpdate(sha, s, strlen(s));
	if (!last)
		EVP_DigestUpdate(sha, "\x1f", 1);
}

/*
 * Keys are of three kinds. A keyword reply's, whatever the keyword's
 * action, is "r:" and the provider message id of its keyword message,
 * the key that convo-ingest stores it under. With a caller's key, it is
 * "k:" and a hash of that key with the recipient. Else it is "d:" and a
 * hash of recipient, body, media and the message replied to. Parts are
 * joined with the unit separator (0x1f) before hashing.
 */

/* Write to J's key the prefix "k:" or "d:" and the hash of PARTS. */
static void
hash_key(struct send_job *j, char prefix, const char *const *parts)
{
	unsigned char md[32];
	EVP_MD_CTX *sha = EVP_MD_CTX_new();
	size_t i;

	if (sha == NULL || !EVP_DigestInit_ex(sha, EVP_sha256(), NULL))
		errx(EX_SOFTWARE, "cannot start a SHA-256 digest");
	for (i = 0; parts[i] != NULL; i++)
		key_part(sha, parts[i], parts[i + 1] == NULL);
	if (!EVP_DigestFinal_ex(sha, md, NULL))
		errx(EX_SOFTWARE, "cannot finish a SHA-256 digest");
	EVP_MD_CTX_free(sha);
	j->key[0] = prefix;
	j->key[1] = ':';
	for (i = 0; i < sizeof(md); i++)
		snprintf(j->key + 2 + 2 * i, 3, "%02x", md[i]);
}

void
outbox_derive_key(struct send_ctx *ctx, struct send_job *j)
{
	jv caller_key, reply_to, media;
	const char *key = NULL, *replied = "";

	/* A job read from an outbox row has the row's key. */
	if (j->key[0] != '\0')
		return;
	caller_key = jv_object_get(jv_copy(j->input),
	    jv_string("idempotency_key"));
	reply_to = jv_object_get(jv_copy(j->input), jv_string("in_reply_to"));
	media = jv_dump_string(jv_copy(j->media), 0);
	if (jv_get_kind(caller_key) == JV_KIND_STRING)
		key = jv_string_value(caller_key);
	else if (ctx->idempotency_key != NULL)
		key = ctx->idempotency_key;
	if (jv_get_kind(reply_to) == JV_KIND_STRING)
		replied = jv_string_value(reply_to);
	/*
	 * A custom keyword's reply needs consent, but it has the key that
	 * convo-ingest stored it under too, so that it is sent once.
	 */
	if (j->replies_to_keyword && *replied != '\0') {
		snprintf(j->key, sizeof(j->key), "r:%s", replied);
	} else if (key != NULL) {
		const char *parts[] = { key, j->phone, j->channel, NULL };

		hash_key(j, 'k', parts);
	} else {
		const char *parts[] = { j->phone, j->channel,
		    jv_string_value(j->body), jv_string_value(media), replied,
		    NULL };

		hash_key(j, 'd', parts);
	}
	jv_free(caller_key);
	jv_free(reply_to);
	jv_free(media);
}

/* Return the claim of J as an item of convo.outbox_claim_batch(). */
static jv
claim_item(const struct send_job *j)
{
	int service = strncmp(j->brand, "MG", 2) == 0;
	jv c = jv_object();

	c = jv_object_set(c, jv_string("key"), jv_string(j->key));
	c = jv_object_set(c, jv_string("profile"), jv_string(j->profile_id));
	c = jv_object_set(c, jv_string("channel"), jv_string(j->channel));
	c = jv_object_set(c, jv_string("conversation"),
	    j->conversation_id[0] ? jv_string(j->conversation_id + 2) :
	    jv_null());
	c = jv_object_set(c, jv_string("to"), jv_string(j->phone));
	c = jv_object_set(c, jv_string("from"), service ? jv_null() :
	    jv_string(j->brand));
	c = jv_object_set(c, jv_string("service"), service ?
	    jv_string(j->brand) : jv_null());
	/* The body up to its first NUL byte, as the request sends it. */
	c = jv_object_set(c, jv_string("body"),
	    jv_string(jv_string_value(j->body)));
	c = jv_object_set(c, jv_string("media"), jv_copy(j->media));
	c = jv_object_set(c, jv_string("origin"), jv_string(j->origin));
	c = jv_object_set(c, jv_string("encoding"),
	    jv_string(j->seg.encoding));
	c = jv_object_set(c, jv_string("segments"),
	    jv_number(j->seg.segments));
	return jv_object_set(c, jv_string("units"), jv_number(j->seg.units));
}

/* Fill RUN, of SIZE bytes, with random hexadecimal digits and a NUL. */
static void
draw_run(char *run, size_t size)
{
	size_t i;

	for (i = 0; i + 1 < size; i++)
		run[i] = "0123456789abcdef"[arc4random_uniform(16)];
	run[size - 1] = '\0';
}

PGresult *
outbox_claim(struct send_ctx *ctx, struct send_job *const *jobs, int n,
    enum outbox_claim *claims)
{
	char window[32];
	const char *params[4] = { ctx->account_id, ctx->run, window, NULL };
	jv items = jv_array(), text;
	PGresult *res;
	const char *state;
	int i;

	snprintf(window, sizeof(window), "%ld hours", ctx->window_hours);
	for (i = 0; i < n; i++)
		items = jv_array_append(items, claim_item(jobs[i]));
	text = jv_dump_string(items, 0);
	if (ctx->run[0] == '\0')
		draw_run(ctx->run, sizeof(ctx->run));
	params[3] = jv_string_value(text);
	res = outbox_query(ctx, "SELECT outbox_id, state, provider_message_id, "
	    "error_code, error_message, created, busy, repeated "
	    "FROM convo.outbox_claim_batch($1, $2, $3, $4) ORDER BY item", 4,
	    params);
	jv_free(text);
	if (PQntuples(res) != n)
		errx(EX_SOFTWARE, "the outbox claimed %d of %d messages",
		    PQntuples(res), n);
	for (i = 0; i < n; i++) {
		snprintf(jobs[i]->outbox, sizeof(jobs[i]->outbox), "%s",
		    PQgetvalue(res, i, 0));
		state = PQgetvalue(res, i, 1);
		claims[i] = PQgetvalue(res, i, 5)[0] == 't' ? OUTBOX_NEW :
		    PQgetvalue(res, i, 7)[0] == 't' ? OUTBOX_REPEATED :
		    PQgetvalue(res, i, 6)[0] == 't' ? OUTBOX_BUSY :
		    strcmp(state, "queued") == 0 ? OUTBOX_RETRY :
		    strcmp(state, "sending") == 0 ? OUTBOX_UNKNOWN :
		    OUTBOX_DONE;
	}
	return res;
}

enum outbox_claim
outbox_peek(struct send_ctx *ctx, struct send_job *j, PGresult **row)
{
	char window[32];
	const char *params[3] = { ctx->account_id, j->key, window };
	PGresult *res;
	const char *state;

	snprintf(window, sizeof(window), "%ld hours", ctx->window_hours);
	res = outbox_query(ctx, "SELECT o.outbox_id, o.state, "
	    "o.provider_message_id, o.error_code, o.error_message, false, "
	    "convo.outbox_busy(o) FROM convo.outbox o "
	    "WHERE o.account_id = $1 AND o.idempotency_key = $2 "
	    "AND o.created_at > now() - $3::interval "
	    "ORDER BY o.created_at DESC LIMIT 1", 3, params);
	*row = res;
	if (PQntuples(res) == 0)
		return OUTBOX_NEW;
	snprintf(j->outbox, sizeof(j->outbox), "%s", PQgetvalue(res, 0, 0));
	state = PQgetvalue(res, 0, 1);
	return PQgetvalue(res, 0, 6)[0] == 't' ? OUTBOX_BUSY :
	    strcmp(state, "queued") == 0 ? OUTBOX_RETRY :
	    strcmp(state, "sending") == 0 ? OUTBOX_UNKNOWN : OUTBOX_DONE;
}

void
outbox_set_sending(struct send_ctx *ctx, struct send_job *const *jobs,
    int n, int *claimed)
{
	struct buf ids = { 0 }, exempt = { 0 };
	const char *params[4] = { ctx->account_id, ctx->run, NULL, NULL };
	PGresult *res;
	int i, row;

	buf_addc(&ids, '{');
	buf_addc(&exempt, '{');
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_addc(&ids, ',');
		buf_adds(&ids, jobs[i]->outbox);
		if (jobs[i]->consent_exempt) {
			if (exempt.len > 1)
				buf_addc(&exempt, ',');
			buf_adds(&exempt, jobs[i]->outbox);
		}
	}
	buf_addc(&ids, '}');
	buf_addc(&exempt, '}');
	params[2] = ids.data;
	params[3] = exempt.data;
	res = outbox_query(ctx, "SELECT outbox_id, held "
	    "FROM convo.outbox_sending_checked($1, $2, $3, $4)", 4, params);
	for (i = 0; i < n; i++) {
		claimed[i] = 0;
		jobs[i]->held[0] = '\0';
		for (row = 0; row < PQntuples(res); row++) {
			if (strcmp(PQgetvalue(res, row, 0), jobs[i]->outbox))
				continue;
			if (PQgetisnull(res, row, 1)) {
				claimed[i] = 1;
			} else {
				claimed[i] = -1;
				snprintf(jobs[i]->held, sizeof(jobs[i]->held),
				    "%s", PQgetvalue(res, row, 1));
			}
			break;
		}
	}
	PQclear(res);
	buf_free(&ids);
	buf_free(&exempt);
}

void
outbox_set_state(struct send_ctx *ctx, const char *outbox,
    const char *state)
{
	const char *params[3] = { ctx->account_id, outbox, state };

	PQclear(outbox_query(ctx, "UPDATE convo.outbox SET state = $3, "
	    "attempts = attempts + (CASE WHEN $3 = 'sending' THEN 1 ELSE 0 END), "
	    "updated_at = now() WHERE account_id = $1 AND outbox_id = $2",
	    3, params));
}

void
outbox_forget(struct send_ctx *ctx, const char *outbox)
{
	const char *params[3] = { ctx->account_id, outbox, ctx->run };

	PQclear(outbox_query(ctx, "DELETE FROM convo.outbox "
	    "WHERE account_id = $1 AND outbox_id = $2 AND claim_run = $3 "
	    "AND state = 'queued' AND provider_message_id IS NULL", 3,
	    params));
}

void
outbox_reject_row(struct send_ctx *ctx, const char *outbox,
    const char *message)
{
	const char *params[3] = { ctx->account_id, outbox, message };

	PQclear(outbox_query(ctx, "UPDATE convo.outbox SET state = 'failed', "
	    "error_message = $3, updated_at = now() WHERE account_id = $1 "
	    "AND outbox_id = $2 AND state = 'queued'", 3, params));
}

void
outbox_release(struct send_ctx *ctx, const char *outbox, const char *state)
{
	const char *params[4] = { ctx->account_id, outbox, state, ctx->run };

	PQclear(outbox_query(ctx, "UPDATE convo.outbox SET "
	    "state = coalesce($3, state), claimed_by = NULL, "
	    "updated_at = now() "
	    "WHERE account_id = $1 AND outbox_id = $2 AND claim_run = $4",
	    4, params));
}
