-- A run makes requests only for the rows it still holds.
--
-- convo.outbox_busy (020) lets another run take over a queued row whose
-- claim is older than an hour, so a row that a run claimed and then held
-- back for its turn, as --rate does, could be sent by convo-send
-- --queued. convo.outbox_sending marked the rows sending without asking
-- who held them, so the first run sent the message a second time.
-- convo.outbox_sending_held marks only the rows that run P_RUN still
-- holds, queued or sending, and returns their ids; the run makes no
-- request for the others.
CREATE FUNCTION convo.outbox_sending_held(p_account bigint, p_run text,
    p_ids bigint[])
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
    -- A sending mark lost in a crash would let a later run send the
    -- message again, so this commit waits for the disk.
    PERFORM set_config('synchronous_commit', 'on', true);
    RETURN QUERY
    UPDATE convo.outbox x SET state = 'sending',
        attempts = x.attempts + 1, updated_at = now()
    WHERE x.account_id = p_account AND x.outbox_id = ANY (p_ids)
        AND x.claim_run = p_run AND x.state IN ('queued', 'sending')
    RETURNING x.outbox_id;
END;
$$;
