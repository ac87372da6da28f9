-- Keyword replies that the caller sends itself, and opt-ins that
-- another change overrides.
--
-- convo-webhook can return a keyword reply to Twilio in its TwiML
-- response, and Twilio sends it. Such a reply stored in the outbox as
-- well (021) would be sent a second time by convo-send --queued. A
-- transaction that sets convo.store_replies to off stores none. As in
-- convo-ingest, only an OptOutType of STOP, START or HELP means that
-- Twilio replied itself. An opt-in older than an opt-out in force gets
-- no reply either.

CREATE OR REPLACE FUNCTION convo.ingest_batch(p_account bigint)
RETURNS TABLE (line bigint, kind text, result text, id text,
    conversation_id text, keyword text, action text, note text,
    reply_body text, reply_to text, reply_from text, channel text)
LANGUAGE plpgsql
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    -- The statements of a batch see what the ones before them wrote, so
    -- the results are kept in a table before the replies are read.
    IF to_regclass('pg_temp.ingest_batch_rows') IS NULL THEN
        CREATE TEMP TABLE ingest_batch_rows (line bigint, kind text,
            result text, id text, conversation_id text, keyword text,
            action text, note text, reply_body text, reply_to text,
            reply_from text, channel text) ON COMMIT DELETE ROWS;
    END IF;
    INSERT INTO pg_temp.ingest_batch_rows
    SELECT * FROM convo.ingest_batch_results(p_account);
    -- An opt-in whose customer is not subscribed once the batch is
    -- recorded, under an opt-out of a later time, gets no reply: "you
    -- are subscribed" would be untrue.
    UPDATE pg_temp.ingest_batch_rows r SET reply_body = NULL
    FROM pg_temp.ingest_messages s
    JOIN pg_temp.ingest_added n ON n.provider = s.provider
        AND n.provider_message_id = s.provider_message_id
    WHERE s.line = r.line AND r.kind = 'message' AND r.action = 'opt_in'
        AND r.reply_body IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM convo.consent c
            WHERE c.account_id = p_account AND c.profile_id = n.profile_id
                AND c.channel = n.channel AND c.status = 'subscribed');
    IF current_setting('convo.store_replies', true) = 'off' THEN
        RETURN QUERY SELECT * FROM pg_temp.ingest_batch_rows;
        RETURN;
    END IF;
    INSERT INTO convo.outbox (account_id, idempotency_key, profile_id,
        channel, conversation_id, to_address, from_address,
        messaging_service_sid, body, origin, provider, reply_to)
    SELECT p_account, 'r:' || n.provider_message_id, n.profile_id,
        n.channel, substr(r.conversation_id, 3)::bigint, p.phone,
        CASE WHEN r.reply_from NOT LIKE 'MG%' THEN r.reply_from END,
        CASE WHEN r.reply_from LIKE 'MG%' THEN r.reply_from END,
        r.reply_body, 'keyword_reply', n.provider, n.provider_message_id
    FROM pg_temp.ingest_batch_rows r
    JOIN pg_temp.ingest_messages s ON s.line = r.line
    JOIN pg_temp.ingest_added n ON n.provider = s.provider
        AND n.provider_message_id = s.provider_message_id
    JOIN convo.profiles p ON p.account_id = p_account
        AND p.profile_id = n.profile_id
    WHERE r.kind = 'message' AND r.reply_body IS NOT NULL
        -- Twilio replies itself to the keywords that its OptOutType
        -- names.
        AND coalesce(upper(s.extra->>'opt_out_type'), '')
            NOT IN ('STOP', 'START', 'HELP')
        AND NOT EXISTS (SELECT 1 FROM convo.outbox x
            WHERE x.account_id = p_account
                AND x.idempotency_key = 'r:' || n.provider_message_id);
    RETURN QUERY SELECT * FROM pg_temp.ingest_batch_rows;
END;
$$;
