-- A blocked customer gets no keyword reply from convo-ingest.
--
-- convo-send sends a blocked customer no keyword reply, and neither does
-- convo-webhook in its TwiML response. convo-ingest still printed the
-- reply and stored it in the outbox, where convo-send --queued sent it
-- once the customer was unblocked, hours after the keyword. Now the
-- batch gives such a keyword no reply, so none is printed or stored.

ALTER FUNCTION convo.ingest_batch_results(bigint)
    RENAME TO ingest_batch_results_all;

-- The rows of convo.ingest_batch_results_all, without the reply of a
-- keyword whose customer is blocked on any channel once the batch is
-- recorded.
CREATE FUNCTION convo.ingest_batch_results(p_account bigint)
RETURNS TABLE (line bigint, kind text, result text, id text,
    conversation_id text, keyword text, action text, note text,
    reply_body text, reply_to text, reply_from text, channel text)
LANGUAGE plpgsql
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    WITH r AS MATERIALIZED (
        SELECT x.* FROM convo.ingest_batch_results_all(p_account)
            WITH ORDINALITY x (line, kind, result, id, conversation_id,
                keyword, action, note, reply_body, reply_to, reply_from,
                channel, n)
    ), blocked AS (
        SELECT DISTINCT s.line
        FROM r JOIN pg_temp.ingest_messages s ON s.line = r.line
        WHERE r.reply_body IS NOT NULL
            AND EXISTS (SELECT 1 FROM convo.profiles p
                JOIN convo.conversations c ON c.account_id = p_account
                    AND c.profile_id = p.profile_id AND c.blocked
                WHERE p.account_id = p_account AND p.phone = s.phone)
    )
    SELECT r.line, r.kind, r.result, r.id, r.conversation_id, r.keyword,
        r.action, r.note,
        CASE WHEN b.line IS NULL THEN r.reply_body END,
        r.reply_to, r.reply_from, r.channel
    FROM r LEFT JOIN blocked b ON b.line = r.line
    ORDER BY r.n;
END;
$$;
