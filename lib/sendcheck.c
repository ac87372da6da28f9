#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phone.h"
#include "send.h"

int
send_quiet_hours(const struct send_ctx *ctx, int minutes)
{
	if (ctx->quiet_start < 0 || minutes < 0)
		return 0;
	if (ctx->quiet_start <= ctx->quiet_end)
		return minutes >= ctx->quiet_start && minutes < ctx->quiet_end;
	return minutes >= ctx->quiet_start || minutes < ctx->quiet_end;
}

const char *
send_check_content(const struct send_job *j, char *message, size_t n)
{
	const char *body = jv_string_value(j->body);
	int i, count = jv_array_length(jv_copy(j->media));
	int chars = segments_characters(body, strlen(body));

	if (chars < 0 || strlen(body) !=
	    (size_t)jv_string_length_bytes(jv_copy(j->body))) {
		snprintf(message, n, "body is not UTF-8 text without NUL "
		    "characters");
		return "invalid_body";
	}
	if (chars == 0 && count == 0) {
		snprintf(message, n, "empty body and no media");
		return "empty_body";
	}
	if (chars > SEND_BODY_MAX) {
		snprintf(message, n, "body of %d characters is longer than "
		    "%d", chars, SEND_BODY_MAX);
		return "body_too_long";
	}
	if (count > SEND_MEDIA_MAX) {
		snprintf(message, n, "%d media URLs: at most %d", count,
		    SEND_MEDIA_MAX);
		return "too_many_media";
	}
	for (i = 0; i < count; i++) {
		jv url = jv_array_get(jv_copy(j->media), i);
		int ok = jv_get_kind(url) == JV_KIND_STRING &&
		    strncmp(jv_string_value(url), "https://", 8) == 0 &&
		    strlen(jv_string_value(url)) > 8 &&
		    strpbrk(jv_string_value(url), " \t\r\n") == NULL;

		if (!ok)
			snprintf(message, n, "media URL %d is not an absolute "
			    "https URL", i + 1);
		jv_free(url);
		if (!ok)
			return "invalid_media_url";
	}
	return NULL;
}

const char *
send_check_recipient(const struct send_ctx *ctx,
    const struct send_job *j, char *message, size_t n)
{
	if (!j->keyword_reply && j->conversation_id[0] == '\0' &&
	    !ctx->new_conversation && !j->stored_new) {
		snprintf(message, n, "%s has no conversation: the customer "
		    "has not written (use --new to start one)", j->phone);
		return "no_conversation";
	}
	if (!j->consent_exempt && strcmp(j->consent, "subscribed") != 0) {
		snprintf(message, n, "%s is %s, not subscribed%s; %s",
		    j->phone, j->consent, j->keyword_reply ? " (the "
		    "confirmation of an opt-in is sent only to a subscribed "
		    "customer)" : j->replies_to_keyword ? " (only the stored "
		    "text of a keyword reply is sent without consent)" : "",
		    strcmp(j->consent, "unsubscribed") == 0 ?
		    "the customer can text START to subscribe again" :
		    "record the consent they gave with a consent record "
		    "through convo-ingest (see \"consent\" in convo(5))");
		return "not_subscribed";
	}
	/* A block covers every channel, even one without a conversation. */
	if (j->blocked && j->conversation_id[0] == '\0') {
		snprintf(message, n, "customer %s is blocked on every channel",
		    j->phone);
		return "blocked";
	}
	if (j->blocked) {
		snprintf(message, n, "conversation %s is blocked",
		    j->conversation_id);
		return "blocked";
	}
	/*
	 * A customer may revoke consent in any reasonable words, so a text
	 * that reads like a revocation stops every reply, except those that
	 * carrier rules require, until an operator settles it. The check
	 * is made again just before the request, in outbox_set_sending().
	 */
	if (!j->consent_exempt && j->flagged_message[0] != '\0') {
		snprintf(message, n, "conversation %s: message %s may ask to "
		    "stop (possible opt-out); read it, then run convo-mark "
		    "--dismiss-flag %s to allow replies or convo-mark "
		    "--confirm-opt-out %s to unsubscribe", j->conversation_id,
		    j->flagged_message, j->conversation_id, j->conversation_id);
		return "possible_opt_out";
	}
	if (j->brand[0] == '\0') {
		snprintf(message, n, "no sender for %s: the customer never "
		    "wrote to a brand number; use --from or CONVO_FROM",
		    j->phone);
		return "no_sender";
	}
	return NULL;
}
