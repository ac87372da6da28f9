-- Delivery receipts that name an outbox row. convo-send adds the row's
-- id to the StatusCallback URL of its request, and convo-webhook passes
-- it on as the status record's outbox_id. A row left sending, whose
-- request got no answer, learns its provider message id from the first
-- such receipt and becomes sent, so a later run reports it a duplicate.

-- Create the session's staging table of outbox ids, next to those of
-- convo.ingest_prepare: one row per staged status line that names an
-- outbox row.
CREATE FUNCTION convo.outbox_receipts_prepare() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS ingest_receipts (
        line bigint PRIMARY KEY,
        outbox_id bigint NOT NULL
    ) ON COMMIT DELETE ROWS;
END;
$$;

-- Resolve the outbox rows that the staged receipts name; run after
-- convo.ingest_batch in the same transaction, so the receipts are
-- already stored as pending. A row still queued or sending becomes sent
-- with the receipt's provider message id, through convo.outbox_sent,
-- which also applies the stored receipts to the new message. A row
-- already sent with that id is left alone. A row that is not found in
-- the account, was sent with another id, failed, or is for another
-- recipient is left alone too, and its line gets a note saying why.
--
-- Returns rows that amend the batch's results: result and id replace
-- the batch's when not NULL, and note is added to the batch's note.
CREATE FUNCTION convo.outbox_receipts(p_account bigint)
RETURNS TABLE (line bigint, result text, id text, note text)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    o convo.outbox;
    v_phone text;
    v_message bigint;
    v_sent_at timestamptz;
    v_resolved bigint[] := '{}';
BEGIN
    FOR r IN SELECT x.line, x.outbox_id, s.provider, s.provider_message_id,
            s.to_phone, s.channel
        FROM pg_temp.ingest_receipts x
        JOIN pg_temp.ingest_statuses s ON s.line = x.line
        ORDER BY x.outbox_id, x.line
    LOOP
        line := r.line;
        result := NULL;
        id := NULL;
        note := NULL;
        -- convo-send may be recording the same row's answer right now.
        SELECT * INTO o FROM convo.outbox b
        WHERE b.account_id = p_account AND b.outbox_id = r.outbox_id
        FOR UPDATE;
        IF NOT FOUND THEN
            note := format('outbox row o_%s not found in this account; '
                'receipt not linked to it', r.outbox_id);
            RETURN NEXT;
            CONTINUE;
        END IF;
        SELECT p.phone INTO v_phone FROM convo.profiles p
        WHERE p.account_id = p_account AND p.profile_id = o.profile_id;
        IF o.provider <> r.provider OR (r.to_phone IS NOT NULL
            AND (r.to_phone, r.channel) <> (v_phone, o.channel))
        THEN
            note := format('outbox row o_%s is a message to another '
                'recipient; receipt not linked to it', r.outbox_id);
            RETURN NEXT;
        ELSIF o.state = 'sent' THEN
            IF o.provider_message_id IS DISTINCT FROM r.provider_message_id
            THEN
                note := format('outbox row o_%s was sent as %s; receipt '
                    'not linked to it', r.outbox_id,
                    o.provider_message_id);
                RETURN NEXT;
            END IF;
        ELSIF o.state = 'failed' THEN
            -- Failed means the API rejected the request, so no message
            -- of this row should have a receipt.
            note := format('outbox row o_%s failed with error %s; '
                'receipt not linked to it', r.outbox_id,
                coalesce(o.error_code, 'unknown'));
            RETURN NEXT;
        ELSE
            -- Twilio accepted the request: the status it gives a new
            -- message, accepted with a messaging service, else queued.
            v_message := convo.outbox_sent(p_account, o.outbox_id,
                r.provider_message_id,
                CASE WHEN o.messaging_service_sid IS NOT NULL
                    THEN 'accepted' ELSE 'queued' END);
            v_resolved := v_resolved || o.outbox_id;
            IF v_message IS NOT NULL THEN
                -- The request left when the row became sending, before
                -- any receipt, not when the receipt was recorded.
                SELECT least(o.updated_at, min(e.at)) INTO v_sent_at
                FROM convo.status_events e
                WHERE e.account_id = p_account AND e.provider = o.provider
                    AND e.provider_message_id = r.provider_message_id;
                PERFORM convo.outbox_receipt_time(p_account, v_message,
                    v_sent_at);
            END IF;
        END IF;
    END LOOP;

    -- Every line that names a row resolved here, and its id: the batch
    -- reported those pending because the message did not exist yet.
    RETURN QUERY
    SELECT s.line,
        CASE WHEN n.event_id IS NULL OR s.line <> s.first_line THEN NULL
            WHEN (m.status, m.status_at, m.error_code)
                IS NOT DISTINCT FROM (s.status, s.at, s.error_code)
            THEN 'updated'
            ELSE 'inserted'
        END,
        'm_' || m.message_id,
        concat_ws('; ', 'sent outbox row o_' || x.outbox_id,
            CASE WHEN (m.status, m.error_code)
                IS DISTINCT FROM (s.status, s.error_code)
            THEN 'superseded by ' || m.status END)
    FROM pg_temp.ingest_receipts x
    JOIN (SELECT y.*, min(y.line) OVER (PARTITION BY y.provider,
            y.provider_message_id, y.status, y.error_code) AS first_line
        FROM pg_temp.ingest_statuses y) s ON s.line = x.line
    JOIN convo.outbox b ON b.account_id = p_account
        AND b.outbox_id = x.outbox_id
        AND b.provider_message_id = s.provider_message_id
    JOIN convo.messages m ON m.account_id = p_account
        AND m.provider = s.provider
        AND m.provider_message_id = s.provider_message_id
    LEFT JOIN LATERAL (SELECT e.event_id FROM convo.status_events e
        WHERE e.account_id = p_account AND e.provider = s.provider
            AND e.provider_message_id = s.provider_message_id
            AND e.status = s.status
            AND e.error_code IS NOT DISTINCT FROM s.error_code
            AND e.event_id IN (SELECT ne.event_id
                FROM pg_temp.ingest_new_events ne)) n ON true
    WHERE x.outbox_id = ANY (v_resolved);
END;
$$;
