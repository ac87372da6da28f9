-- Keyword replies stored with their keyword message.
--
-- convo-ingest printed a keyword reply as a send record after its batch
-- committed, and nothing else kept it: a reply was lost when the run was
-- killed before printing it, or when the convo-send reading it failed.
-- A batch now also stores each reply it prints in the outbox, queued,
-- under the key "r:" and the provider message id of the keyword message.
-- convo-send derives the same key from the send record, so it sends the
-- stored row, and convo-send --queued sends the rows that no run sent.

-- The keyword message a keyword reply answers, by provider message id.
ALTER TABLE convo.outbox ADD COLUMN reply_to text;

-- A row that convo-ingest stored has no segments until a run claims it.
ALTER TABLE convo.outbox ALTER COLUMN encoding DROP NOT NULL;
ALTER TABLE convo.outbox ALTER COLUMN segments DROP NOT NULL;
ALTER TABLE convo.outbox ALTER COLUMN units DROP NOT NULL;

-- The queued rows that convo-send --queued reads, oldest first.
CREATE INDEX outbox_queued ON convo.outbox (account_id, outbox_id)
    WHERE state = 'queued';

-- Whether queued or sending row O belongs to another run that is still
-- connected, as in 020; a row that convo-ingest stored has no run.
CREATE OR REPLACE FUNCTION convo.outbox_busy(o convo.outbox)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT o.state IN ('queued', 'sending')
        AND o.claimed_by IS NOT NULL
        AND (o.claim_run IS NOT NULL OR o.claimed_by <> pg_backend_pid())
        AND o.updated_at > now() - interval '1 hour'
        AND EXISTS (SELECT 1 FROM pg_stat_activity a
            WHERE a.pid = o.claimed_by);
$$;

ALTER FUNCTION convo.ingest_batch(bigint) RENAME TO ingest_batch_results;

-- Apply the staged batch, as convo.ingest_batch_results does, and store
-- the keyword replies it returns. A reply is not stored when:
-- - Twilio replies itself, as its OptOutType of STOP, START or HELP says;
-- - the transaction set convo.store_replies to off and the reply is to
--   an opt-out, opt-in or help keyword: convo-webhook then returns it to
--   Twilio in its TwiML response, and Twilio sends it;
-- - its keyword message was sent more than 24 hours ago, as in recorded
--   history, so that convo-send --queued does not answer old keywords;
-- - the outbox has it already.
-- A receipt given more than once keeps its earliest time, whatever order
-- its copies arrive in, and a keyword whose confirmation a later consent
-- change makes untrue gets no reply.
CREATE FUNCTION convo.ingest_batch(p_account bigint)
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
    -- The first line of each receipt in the batch takes the earliest
    -- time of its copies.
    UPDATE pg_temp.ingest_statuses s SET at = x.at
    FROM (SELECT y.provider, y.provider_message_id, y.status, y.error_code,
            min(y.at) AS at
        FROM pg_temp.ingest_statuses y
        GROUP BY 1, 2, 3, 4) x
    WHERE s.provider = x.provider
        AND s.provider_message_id = x.provider_message_id
        AND s.status = x.status
        AND s.error_code IS NOT DISTINCT FROM x.error_code
        AND s.at > x.at;
    -- A stored receipt moves to an earlier copy's time. The batch then
    -- takes it as new: its message's status is computed again, and an
    -- opt-out from error 21610 is recorded at the new time, in place of
    -- the one at the old time, whose customer's consent is computed
    -- again.
    WITH moved AS (
        UPDATE convo.status_events e SET at = x.at
        FROM (SELECT s.at, o.event_id, o.at AS was
            FROM (SELECT DISTINCT y.provider, y.provider_message_id,
                    y.status, y.error_code, y.at
                FROM pg_temp.ingest_statuses y) s
            CROSS JOIN LATERAL (SELECT o.event_id, o.at
                FROM convo.status_events o
                WHERE o.account_id = p_account AND o.provider = s.provider
                    AND o.provider_message_id = s.provider_message_id
                    AND o.status = s.status
                    AND o.error_code IS NOT DISTINCT FROM s.error_code
                OFFSET 0) o
            WHERE s.at < o.at) x
        WHERE e.account_id = p_account AND e.event_id = x.event_id
        RETURNING e.event_id, e.provider, e.provider_message_id,
            e.error_code, x.was
    ), noted AS (
        INSERT INTO pg_temp.ingest_new_events
        SELECT m.event_id, m.provider, m.provider_message_id, m.error_code
        FROM moved m
    ), dropped AS (
        DELETE FROM convo.consent_changes c
        USING moved m
        WHERE m.error_code = '21610' AND c.account_id = p_account
            AND c.at = m.was
            AND c.provider_message_id = m.provider_message_id
            AND c.method = 'provider_error' AND c.error_code = '21610'
        RETURNING c.profile_id, c.channel
    )
    INSERT INTO pg_temp.ingest_touched
    SELECT DISTINCT d.profile_id, d.channel FROM dropped d
    ON CONFLICT DO NOTHING;
    INSERT INTO pg_temp.ingest_batch_rows
    SELECT * FROM convo.ingest_batch_results(p_account);
    -- An opt-in whose customer is not subscribed once the batch is
    -- recorded, under an opt-out of a later time, gets no reply: "you
    -- are subscribed" would be untrue. So does an opt-out whose
    -- customer is subscribed then, under an opt-in of a later time.
    UPDATE pg_temp.ingest_batch_rows r SET reply_body = NULL
    FROM pg_temp.ingest_messages s
    JOIN pg_temp.ingest_added n ON n.provider = s.provider
        AND n.provider_message_id = s.provider_message_id
    WHERE s.line = r.line AND r.kind = 'message'
        AND r.action IN ('opt_in', 'opt_out')
        AND r.reply_body IS NOT NULL
        AND (r.action = 'opt_in') <> EXISTS (SELECT 1 FROM convo.consent c
            WHERE c.account_id = p_account AND c.profile_id = n.profile_id
                AND c.channel = n.channel AND c.status = 'subscribed');
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
        -- The caller sends the replies of these actions itself.
        AND NOT (coalesce(current_setting('convo.store_replies', true),
                '') = 'off'
            AND coalesce(r.action, '') IN ('opt_out', 'opt_in', 'help'))
        -- convo-send --queued sends a stored reply within a day; an
        -- older keyword message, as in recorded history, gets none.
        AND n.sent_at > now() - interval '24 hours'
        AND NOT EXISTS (SELECT 1 FROM convo.outbox x
            WHERE x.account_id = p_account
                AND x.idempotency_key = 'r:' || n.provider_message_id);
    RETURN QUERY SELECT * FROM pg_temp.ingest_batch_rows;
END;
$$;
