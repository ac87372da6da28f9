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
-- the keyword replies it returns, except where the provider sends its
-- own (Twilio's OptOutType) or the outbox has the reply already.
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
    INSERT INTO pg_temp.ingest_batch_rows
    SELECT * FROM convo.ingest_batch_results(p_account);
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
        AND NOT coalesce(s.extra ? 'opt_out_type', false)
        AND NOT EXISTS (SELECT 1 FROM convo.outbox x
            WHERE x.account_id = p_account
                AND x.idempotency_key = 'r:' || n.provider_message_id);
    RETURN QUERY SELECT * FROM pg_temp.ingest_batch_rows;
END;
$$;
