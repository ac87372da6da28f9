-- convo-send holds ordinary replies to a conversation flagged with a
-- possible opt-out until an operator confirms or dismisses the flag.
--
-- convo.send_recipients (017) gave convo-send the block and consent of
-- each recipient but not the flag, so a bulk reply went to a customer
-- whose last text asked in plain words to stop. It now also returns the
-- flagged message and the time it was flagged. Both are read in the
-- same statement, and so from the same snapshot, as the block and the
-- consent. convo.conversation_confirm_opt_out changes consent and clears
-- the flag in one transaction, so convo-send never sees the flag cleared
-- while the customer is still subscribed. The new columns come last, so
-- a convo-send built before this migration still reads its own.
DROP FUNCTION convo.send_recipients(bigint, jsonb, boolean, timestamptz);

-- The customers of a group of replies. P_REQUESTS is a JSON array of
-- {"phone", "channel", "conversation"}: a reply goes to conversation
-- c_CONVERSATION, or when it is null to PHONE. For each item found, its
-- position in the array (from 1), then the customer's profile and
-- phone, the conversation on CHANNEL with its sender and block, the
-- consent in force, with P_ZONE the customer's time zone and local time
-- at P_NOW, and the conversation's unsettled possible opt-out: the
-- flagged message and when it was flagged. No row for an item without
-- such a customer.
CREATE FUNCTION convo.send_recipients(p_account bigint, p_requests jsonb,
    p_zone boolean, p_now timestamptz)
RETURNS TABLE (item integer, profile_id bigint, phone text, channel text,
    conversation_id bigint, brand_address text, blocked boolean,
    consent text, zone_source text, zone text, local_minutes integer,
    flagged_message_id bigint, flagged_at timestamptz)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT w.item, r.profile_id, r.phone, r.channel, r.conversation_id,
        r.brand_address, r.blocked, coalesce(s.status, 'never_subscribed'),
        z.source, z.zone,
        convo.local_minutes(coalesce(p_now, now()), z.zone),
        r.flagged_message_id, r.flagged_at
    FROM (SELECT x.ordinality::integer AS item,
            x.value->>'phone' AS phone, x.value->>'channel' AS channel,
            (x.value->>'conversation')::bigint AS conversation
        FROM jsonb_array_elements(p_requests) WITH ORDINALITY x) w
    CROSS JOIN LATERAL (
        SELECT p.profile_id, p.phone, p.timezone,
            coalesce(c.channel, w.channel) AS channel, c.conversation_id,
            c.brand_address, coalesce(c.blocked, false) AS blocked,
            c.flagged_message_id, c.flagged_at
        FROM convo.profiles p
        -- A subquery of its own, so that the lookup is by the whole key
        -- even where the table's statistics are out of date.
        LEFT JOIN LATERAL (SELECT *
            FROM convo.conversations x
            WHERE x.account_id = p_account AND x.profile_id = p.profile_id
                AND x.channel = w.channel
            LIMIT 1) c ON true
        WHERE w.conversation IS NULL AND p.account_id = p_account
            AND p.phone = w.phone
        UNION ALL
        SELECT p.profile_id, p.phone, p.timezone, c.channel,
            c.conversation_id, c.brand_address, c.blocked,
            c.flagged_message_id, c.flagged_at
        FROM convo.conversations c
        JOIN convo.profiles p ON p.account_id = p_account
            AND p.profile_id = c.profile_id
        WHERE w.conversation IS NOT NULL AND c.account_id = p_account
            AND c.conversation_id = w.conversation) r
    LEFT JOIN convo.consent s ON s.account_id = p_account
        AND s.profile_id = r.profile_id AND s.channel = r.channel
    LEFT JOIN LATERAL (SELECT *
        FROM convo.customer_zone(r.timezone, r.phone)
        WHERE p_zone) z ON true;
END;
$$;

-- A plan made once per server connection, as in 017.
ALTER FUNCTION convo.send_recipients(bigint, jsonb, boolean, timestamptz)
    SET plan_cache_mode = force_generic_plan;
