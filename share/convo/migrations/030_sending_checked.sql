-- convo-send checks consent, block and possible opt-out again when it
-- marks a message sending, just before the request.
--
-- convo-send read them when it stored a message, and sent it later,
-- after --rate, --parallel or a retry had let other requests go first.
-- A STOP, a block or a flag recorded in between did not stop it.
-- convo.outbox_sending_checked takes the place of
-- convo.outbox_sending_held (023), which stays for older programs.

-- Mark the rows P_IDS of run P_RUN sending, as outbox_sending_held does,
-- unless their customer is blocked on any channel or, for rows not in
-- P_EXEMPT (the replies that carrier rules require), is not subscribed
-- on the row's channel or has an unsettled possible opt-out there. Each
-- row this run still has claimed is returned: with held NULL once marked
-- sending, or with the reason it was held, left as it was. First the
-- statement waits for the convo-ingest batches that lock these
-- customers' conversations, taking the rows in the order the batches
-- do, so that a STOP or block that a running batch records is seen.
CREATE FUNCTION convo.outbox_sending_checked(p_account bigint, p_run text,
    p_ids bigint[], p_exempt bigint[])
RETURNS TABLE (outbox_id bigint, held text)
LANGUAGE plpgsql AS $$
BEGIN
    -- A sending mark lost in a crash would let a later run send the
    -- message again, so this commit waits for the disk.
    PERFORM set_config('synchronous_commit', 'on', true);
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
