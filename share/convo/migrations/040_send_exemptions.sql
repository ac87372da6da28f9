-- The check just before a request waits for every running convo-ingest
-- batch of the account.
--
-- convo.outbox_sending_checked (030) waited only for the batches that
-- locked one of the customer's conversations. A batch locks no row of
-- a customer without a conversation, such as one whose consent was
-- imported and who never wrote, until it records their STOP, so a
-- message sent with --new went out while a running batch was recording
-- that STOP. Every batch holds the account's lock of convo.lock_account
-- from its start to its commit, so the check now waits for that lock.

-- Take account P_ACCOUNT's lock of convo.lock_account in shared mode
-- until the transaction ends: wait for the transaction that holds it,
-- such as a convo-ingest batch, and keep the next one from starting.
-- Holders of the shared lock do not wait for each other.
CREATE FUNCTION convo.lock_account_shared(p_account bigint) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock_shared(7270727,
        (p_account % 2147483647)::integer);
$$;

-- As in 030, but the statement first waits for the account's lock, and
-- only then for the customers' conversations. A batch takes the account
-- lock before any conversation row, and so does convo-mark, so neither
-- waits for this check in a circle.
CREATE OR REPLACE FUNCTION convo.outbox_sending_checked(p_account bigint,
    p_run text, p_ids bigint[], p_exempt bigint[])
RETURNS TABLE (outbox_id bigint, held text)
LANGUAGE plpgsql AS $$
BEGIN
    -- A sending mark lost in a crash would let a later run send the
    -- message again, so this commit waits for the disk.
    PERFORM set_config('synchronous_commit', 'on', true);
    PERFORM convo.lock_account_shared(p_account);
    PERFORM 1 FROM convo.conversations c
    WHERE c.account_id = p_account
        AND c.profile_id IN (SELECT o.profile_id FROM convo.outbox o
            WHERE o.account_id = p_account AND o.outbox_id = ANY (p_ids))
    ORDER BY c.profile_id, c.channel
    FOR SHARE OF c;

    RETURN QUERY
    WITH judged AS (
        SELECT x.outbox_id,
            CASE WHEN EXISTS (SELECT 1 FROM convo.conversations c
                    WHERE c.account_id = p_account
                        AND c.profile_id = x.profile_id AND c.blocked)
                THEN 'blocked'
            WHEN x.outbox_id = ANY (p_exempt) THEN NULL
            WHEN coalesce((SELECT s.status FROM convo.consent s
                    WHERE s.account_id = p_account
                        AND s.profile_id = x.profile_id
                        AND s.channel = x.channel), 'never_subscribed')
                    <> 'subscribed'
                THEN 'not_subscribed'
            WHEN EXISTS (SELECT 1 FROM convo.conversations c
                    WHERE c.account_id = p_account
                        AND c.profile_id = x.profile_id
                        AND c.channel = x.channel
                        AND c.flagged_message_id IS NOT NULL)
                THEN 'possible_opt_out'
            END AS held
        FROM convo.outbox x
        WHERE x.account_id = p_account AND x.outbox_id = ANY (p_ids)
            AND x.claim_run = p_run AND x.state IN ('queued', 'sending')
    ), marked AS (
        UPDATE convo.outbox x SET state = 'sending',
            attempts = x.attempts + 1, updated_at = now()
        FROM judged j
        WHERE x.account_id = p_account AND x.outbox_id = j.outbox_id
            AND j.held IS NULL
            AND x.claim_run = p_run AND x.state IN ('queued', 'sending')
        RETURNING x.outbox_id
    )
    SELECT m.outbox_id, NULL::text FROM marked m
    UNION ALL
    SELECT j.outbox_id, j.held FROM judged j WHERE j.held IS NOT NULL;
END;
$$;
