-- Error 21610 in a receipt that resolves an outbox row.
--
-- A receipt with error 21610 (the recipient replied STOP to the sender)
-- unsubscribes the customer that it or its message names. A receipt
-- without "to" for a reply whose run was killed named neither while the
-- batch recorded it: the message is stored only when convo.outbox_receipts
-- resolves the row, after the batch's consent step, so the customer
-- stayed subscribed. The customer and channel of the resolved row now
-- take the change, at the receipt's time.

ALTER FUNCTION convo.outbox_receipts(bigint)
    RENAME TO outbox_receipts_rows;

CREATE FUNCTION convo.outbox_receipts(p_account bigint)
RETURNS TABLE (line bigint, result text, id text, note text)
LANGUAGE plpgsql
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY SELECT * FROM convo.outbox_receipts_rows(p_account);
    WITH targets AS (
        SELECT DISTINCT b.profile_id, b.channel, e.at,
            e.provider_message_id, e.error_code
        FROM pg_temp.ingest_receipts x
        JOIN convo.outbox b ON b.account_id = p_account
            AND b.outbox_id = x.outbox_id AND b.state = 'sent'
        JOIN convo.status_events e ON e.account_id = p_account
            AND e.provider = b.provider
            AND e.provider_message_id = b.provider_message_id
            AND e.error_code = '21610'
    ), ins AS (
        INSERT INTO convo.consent_changes (account_id, profile_id, channel,
            status, method, at, provider_message_id, error_code)
        SELECT p_account, t.profile_id, t.channel, 'unsubscribed',
            'provider_error', t.at, t.provider_message_id, t.error_code
        FROM targets t
        ORDER BY t.profile_id, t.channel, t.at
        ON CONFLICT DO NOTHING
        RETURNING change_id, profile_id, channel, at
    )
    INSERT INTO convo.consent AS s (account_id, profile_id, channel,
        status, changed_at, change_id)
    SELECT DISTINCT ON (ins.profile_id, ins.channel) p_account,
        ins.profile_id, ins.channel, 'unsubscribed', ins.at, ins.change_id
    FROM ins
    ORDER BY ins.profile_id, ins.channel, ins.at DESC
    ON CONFLICT (account_id, profile_id, channel) DO UPDATE
    SET status = 'unsubscribed', changed_at = EXCLUDED.changed_at,
        change_id = EXCLUDED.change_id
    WHERE s.changed_at <= EXCLUDED.changed_at;
END;
$$;
