-- Opt-outs of error 21610 in receipts recorded before 022.
--
-- Before 022, a receipt with error 21610 that resolved an outbox row left
-- sending by a killed convo-send did not unsubscribe the row's customer,
-- and 022 applies only to receipts recorded after it. So a database
-- migrated past 022 kept such customers subscribed, while the same events
-- recorded from scratch unsubscribe them. convo-db verify recounts consent
-- from the recorded changes, so it found no difference. This migration
-- records each missing change at its receipt's time and applies the
-- latest to the customer's consent, as convo.outbox_receipts does.

-- Ingest batches take each account's lock before they change consent.
SELECT convo.lock_account(a.account_id)
FROM (SELECT account_id FROM convo.accounts ORDER BY account_id) a;

WITH targets AS (
    SELECT DISTINCT b.account_id, b.profile_id, b.channel, e.at,
        e.provider_message_id, e.error_code
    FROM convo.outbox b
    JOIN convo.status_events e ON e.account_id = b.account_id
        AND e.provider = b.provider
        AND e.provider_message_id = b.provider_message_id
        AND e.error_code = '21610'
    WHERE b.state = 'sent'
        -- A receipt that named its recipient, or whose message was
        -- stored, has its change already, whatever its time.
        AND NOT EXISTS (SELECT 1 FROM convo.consent_changes c
            WHERE c.account_id = b.account_id
                AND c.profile_id = b.profile_id
                AND c.channel = b.channel
                AND c.provider_message_id = e.provider_message_id
                AND c.method = 'provider_error'
                AND c.error_code = '21610')
), ins AS (
    INSERT INTO convo.consent_changes (account_id, profile_id, channel,
        status, method, at, provider_message_id, error_code)
    SELECT t.account_id, t.profile_id, t.channel, 'unsubscribed',
        'provider_error', t.at, t.provider_message_id, t.error_code
    FROM targets t
    ORDER BY t.account_id, t.profile_id, t.channel, t.at
    RETURNING account_id, change_id, profile_id, channel, at
)
INSERT INTO convo.consent AS s (account_id, profile_id, channel, status,
    changed_at, change_id)
SELECT DISTINCT ON (ins.account_id, ins.profile_id, ins.channel)
    ins.account_id, ins.profile_id, ins.channel, 'unsubscribed', ins.at,
    ins.change_id
FROM ins
ORDER BY ins.account_id, ins.profile_id, ins.channel, ins.at DESC
ON CONFLICT (account_id, profile_id, channel) DO UPDATE
SET status = 'unsubscribed', changed_at = EXCLUDED.changed_at,
    change_id = EXCLUDED.change_id
WHERE s.changed_at <= EXCLUDED.changed_at;
