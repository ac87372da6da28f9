-- Replies recorded together keep the order their answers came in.
--
-- convo.outbox_sent_batch (017) stored every reply of a group at the
-- time of its transaction, and two replies to one customer were then
-- ordered by provider message id. Twilio does not give those ids in the
-- order it creates messages, so a thread and its last message could
-- show an earlier reply after a later one. Each reply now gets a time
-- of its own: the group's time for the last answer, one microsecond
-- less for each answer after it. P_IDS lists the replies in the order
-- their answers came in.

CREATE OR REPLACE FUNCTION convo.outbox_sent_batch(p_account bigint,
    p_ids bigint[], p_provider_message_ids text[], p_statuses text[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_at timestamptz := now();
    v_count integer := cardinality(p_ids);
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM convo.lock_account(p_account);
    WITH u AS (
        SELECT u.*,
            v_at - (v_count - u.n) * interval '1 microsecond' AS at
        FROM unnest(p_ids, p_provider_message_ids, p_statuses)
            WITH ORDINALITY AS u(outbox_id, provider_message_id, status, n)
    ), o AS (
        UPDATE convo.outbox x SET state = 'sent',
            provider_message_id = u.provider_message_id,
            error_code = NULL, error_message = NULL, updated_at = now()
        FROM u
        -- ANY keeps the rows read to those of the group whatever the
        -- join the planner picks.
        WHERE x.account_id = p_account AND x.outbox_id = ANY (p_ids)
            AND x.outbox_id = u.outbox_id
        RETURNING x.*, u.status AS sent_status, u.at
    ), f AS (
        -- Two rows answered with one id store one message, the first's.
        SELECT DISTINCT ON (o.provider, o.provider_message_id) o.*
        FROM o
        ORDER BY o.provider, o.provider_message_id, o.outbox_id
    ), k AS (
        INSERT INTO convo.message_keys (account_id, provider,
            provider_message_id, sent_at)
        SELECT p_account, f.provider, f.provider_message_id, f.at
        FROM f
        ON CONFLICT DO NOTHING
        RETURNING message_id, provider, provider_message_id
    ), n AS (
        SELECT k.message_id, f.*
        FROM k
        JOIN f ON f.provider = k.provider
            AND f.provider_message_id = k.provider_message_id
    ), m AS (
        INSERT INTO convo.messages (account_id, message_id, provider,
            provider_message_id, profile_id, channel, direction, origin,
            origin_id, from_address, to_address, body, media, sent_at,
            initial_status, status, status_at, error_code)
        SELECT p_account, n.message_id, n.provider, n.provider_message_id,
            n.profile_id, n.channel, 'outbound', n.origin,
            'o_' || n.outbox_id,
            coalesce(n.from_address, n.messaging_service_sid),
            n.to_address, n.body, n.media, n.at, n.sent_status,
            CASE WHEN r.later THEN b.status ELSE n.sent_status END,
            CASE WHEN r.later THEN b.at ELSE n.at END,
            CASE WHEN r.later THEN b.error_code END
        FROM n
        -- A receipt that arrived before the message applies now.
        LEFT JOIN LATERAL (SELECT e.status, e.at, e.error_code
            FROM convo.status_events e
            WHERE e.account_id = p_account AND e.provider = n.provider
                AND e.provider_message_id = n.provider_message_id
            ORDER BY convo.status_rank(e.status) DESC, e.at,
                convo.status_severity(e.status)
            LIMIT 1) b ON true
        CROSS JOIN LATERAL (SELECT coalesce(convo.status_rank(b.status)
            > convo.status_rank(n.sent_status), false) AS later) r
    )
    UPDATE convo.conversations c SET
        last_message_id = l.message_id, last_body = l.body,
        last_direction = 'outbound', last_at = l.at,
        last_provider_message_id = l.provider_message_id,
        search_text = lower(concat_ws(' ', p.first_name, p.last_name,
            p.phone, l.body)),
        updated_at = now()
    FROM (SELECT DISTINCT ON (n.profile_id, n.channel) n.message_id,
            n.profile_id, n.channel, n.body, n.provider_message_id, n.at
        FROM n
        ORDER BY n.profile_id, n.channel, n.at DESC) l
    JOIN convo.profiles p ON p.account_id = p_account
        AND p.profile_id = l.profile_id
    WHERE c.account_id = p_account AND c.profile_id = l.profile_id
        AND c.channel = l.channel
        AND (c.last_at, c.last_provider_message_id)
            < (l.at, l.provider_message_id);
END;
$$;

ALTER FUNCTION convo.outbox_sent_batch(bigint, bigint[], text[], text[])
    SET jit = off;
ALTER FUNCTION convo.outbox_sent_batch(bigint, bigint[], text[], text[])
    SET plan_cache_mode = force_generic_plan;
