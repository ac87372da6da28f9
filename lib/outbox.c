#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "send.h"

PGresult *
outbox_query(struct send_ctx *ctx, const char *sql, int n,
    const char *const *params)
{
	PGresult *res = PQexecParams(ctx->conn, sql, n, NULL, params, NULL,
	    NULL, 0);

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
copy_value(const PGresult *res, int col, char *out, size_t n)
{
	snprintf(out, n, "%s", PQgetisnull(res, 0, col) ? "" :
	    PQgetvalue(res, 0, col));
}

int
outbox_resolve(struct send_ctx *ctx, struct send_job *j,
    const char *conversation)
{
	char quiet[8];
	const char *params[5] = { ctx->account_id, j->phone, j->channel,
	    conversation ? conversation + 2 : NULL, quiet };
	PGresult *res;
	int found;

	snprintf(quiet, sizeof(quiet), "%d", ctx->quiet_start >= 0);
	res = outbox_query(ctx, "SELECT p.profile_id, p.phone, "
	    "coalesce(c.channel, $3), c.conversation_id, c.brand_address, "
	    "coalesce(c.blocked, false), coalesce(s.status, 'never_subscribed'), "
	    "CASE WHEN $5::int = 1 AND p.timezone IN "
	    "(SELECT name FROM pg_timezone_names) THEN "
	    "(extract(hour FROM now() AT TIME ZONE p.timezone) * 60 + "
	    "extract(minute FROM now() AT TIME ZONE p.timezone))::int END "
	    "FROM convo.profiles p "
	    "LEFT JOIN convo.conversations c ON c.account_id = p.account_id "
	    "AND c.profile_id = p.profile_id AND (c.channel = $3 "
	    "OR c.conversation_id = $4::bigint) "
	    "LEFT JOIN convo.consent s ON s.account_id = p.account_id "
	    "AND s.profile_id = p.profile_id "
	    "AND s.channel = coalesce(c.channel, $3) "
	    "WHERE p.account_id = $1 AND CASE WHEN $4::bigint IS NULL "
	    "THEN p.phone = $2 ELSE c.conversation_id = $4::bigint END",
	    5, params);
	if ((found = PQntuples(res) == 1)) {
		copy_value(res, 0, j->profile_id, sizeof(j->profile_id));
		copy_value(res, 1, j->phone, sizeof(j->phone));
		copy_value(res, 2, j->channel, sizeof(j->channel));
		if (!PQgetisnull(res, 0, 3))
			snprintf(j->conversation_id, sizeof(j->conversation_id),
			    "c_%s", PQgetvalue(res, 0, 3));
		copy_value(res, 4, j->brand, sizeof(j->brand));
		j->blocked = PQgetvalue(res, 0, 5)[0] == 't';
		copy_value(res, 6, j->consent, sizeof(j->consent));
		j->local_minutes = PQgetisnull(res, 0, 7) ? -1 :
		    atoi(PQgetvalue(res, 0, 7));
	}
	PQclear(res);
	return found ? 0 : -1;
}

int
outbox_keyword_reply(struct send_ctx *ctx, const struct send_job *j)
{
	jv type = jv_object_get(jv_copy(j->input), jv_string("type"));
	jv origin = jv_object_get(jv_copy(j->input), jv_string("origin"));
	jv reply_to = jv_object_get(jv_copy(j->input),
	    jv_string("in_reply_to"));
	const char *params[3] = { ctx->account_id, j->profile_id, NULL };
	PGresult *res;
	int ok = 0;

	if (jv_get_kind(type) == JV_KIND_STRING &&
	    strcmp(jv_string_value(type), "send") == 0 &&
	    jv_get_kind(origin) == JV_KIND_STRING &&
	    strcmp(jv_string_value(origin), "keyword_reply") == 0 &&
	    jv_get_kind(reply_to) == JV_KIND_STRING) {
		params[2] = jv_string_value(reply_to);
		res = outbox_query(ctx, "SELECT 1 FROM convo.messages "
		    "WHERE account_id = $1 AND profile_id = $2 "
		    "AND provider_message_id = $3 AND direction = 'inbound' "
		    "AND keyword_action IN ('opt_out', 'help', 'opt_in')", 3,
		    params);
		ok = PQntuples(res) > 0;
		PQclear(res);
	}
	jv_free(type);
	jv_free(origin);
	jv_free(reply_to);
	return ok;
}

void
outbox_derive_key(struct send_ctx *ctx, struct send_job *j)
{
	jv given = jv_object_get(jv_copy(j->input),
	    jv_string("idempotency_key"));
	jv reply_to = jv_object_get(jv_copy(j->input),
	    jv_string("in_reply_to"));
	jv media = jv_dump_string(jv_copy(j->media), 0);
	const char *params[6] = { j->phone, j->channel,
	    jv_string_value(j->body), jv_string_value(media),
	    jv_get_kind(reply_to) == JV_KIND_STRING ?
	    jv_string_value(reply_to) : "", NULL };
	PGresult *res;

	if (jv_get_kind(given) == JV_KIND_STRING)
		params[5] = jv_string_value(given);
	else if (ctx->idempotency_key != NULL)
		params[5] = ctx->idempotency_key;
	res = outbox_query(ctx, "SELECT CASE WHEN $6::text IS NULL THEN 'd:' || "
	    "encode(sha256(convert_to(concat_ws(chr(31), $1::text, $2::text, "
	    "$3::text, $4::text, $5::text), 'UTF8')), 'hex') "
	    "ELSE 'k:' || encode(sha256(convert_to(concat_ws(chr(31), "
	    "$6::text, $1::text, $2::text), 'UTF8')), 'hex') END", 6, params);
	snprintf(j->key, sizeof(j->key), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	jv_free(given);
	jv_free(reply_to);
	jv_free(media);
}

static void
update_content(struct send_ctx *ctx, const struct send_job *j,
    const char *media, const char *segments, const char *units)
{
	const char *params[9] = { ctx->account_id, j->outbox,
	    strncmp(j->brand, "MG", 2) == 0 ? NULL : j->brand,
	    strncmp(j->brand, "MG", 2) == 0 ? j->brand : NULL,
	    jv_string_value(j->body), media, j->seg.encoding, segments, units };

	PQclear(outbox_query(ctx, "UPDATE convo.outbox SET from_address = $3, "
	    "messaging_service_sid = $4, body = $5, media = $6, "
	    "encoding = $7, segments = $8, units = $9, updated_at = now() "
	    "WHERE account_id = $1 AND outbox_id = $2", 9, params));
}

enum outbox_claim
outbox_claim(struct send_ctx *ctx, struct send_job *j, PGresult **row)
{
	char window[32], segs[16], units[16];
	const char *params[14];
	PGresult *res;
	enum outbox_claim c;
	jv media = jv_dump_string(jv_copy(j->media), 0);

	snprintf(window, sizeof(window), "%ld hours", ctx->window_hours);
	snprintf(segs, sizeof(segs), "%d", j->seg.segments);
	snprintf(units, sizeof(units), "%d", j->seg.units);
	params[0] = ctx->account_id;
	params[1] = j->key;
	params[2] = window;
	PQclear(outbox_query(ctx, "BEGIN", 0, NULL));
	PQclear(outbox_query(ctx, "SELECT pg_advisory_xact_lock("
	    "hashtextextended($2, $1::bigint))", 2, params));
	res = outbox_query(ctx, "SELECT outbox_id, state, provider_message_id, "
	    "error_code, error_message FROM convo.outbox "
	    "WHERE account_id = $1 AND idempotency_key = $2 "
	    "AND created_at > now() - $3::interval "
	    "ORDER BY created_at DESC LIMIT 1", 3, params);
	if (PQntuples(res) == 1) {
		const char *state = PQgetvalue(res, 0, 1);

		snprintf(j->outbox, sizeof(j->outbox), "%s", PQgetvalue(res, 0, 0));
		c = strcmp(state, "queued") == 0 ? OUTBOX_RETRY :
		    strcmp(state, "sending") == 0 ? OUTBOX_UNKNOWN : OUTBOX_DONE;
		/* A row sent again carries what this run sends. */
		if (c != OUTBOX_DONE)
			update_content(ctx, j, jv_string_value(media), segs,
			    units);
		*row = res;
		PQclear(outbox_query(ctx, "COMMIT", 0, NULL));
		jv_free(media);
		return c;
	}
	PQclear(res);
	params[2] = j->profile_id;
	params[3] = j->channel;
	params[4] = j->conversation_id[0] ? j->conversation_id + 2 : NULL;
	params[5] = j->phone;
	params[6] = strncmp(j->brand, "MG", 2) == 0 ? NULL : j->brand;
	params[7] = strncmp(j->brand, "MG", 2) == 0 ? j->brand : NULL;
	params[8] = jv_string_value(j->body);
	params[9] = jv_string_value(media);
	params[10] = j->origin;
	params[11] = j->seg.encoding;
	params[12] = segs;
	params[13] = units;
	res = outbox_query(ctx, "INSERT INTO convo.outbox (account_id, "
	    "idempotency_key, profile_id, channel, conversation_id, "
	    "to_address, from_address, messaging_service_sid, body, media, "
	    "origin, provider, encoding, segments, units) VALUES ($1, $2, $3, "
	    "$4, $5, $6, $7, $8, $9, $10, $11, 'twilio', $12, $13, $14) "
	    "RETURNING outbox_id", 14, params);
	snprintf(j->outbox, sizeof(j->outbox), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	PQclear(outbox_query(ctx, "COMMIT", 0, NULL));
	jv_free(media);
	*row = NULL;
	return OUTBOX_NEW;
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
