-- Replies recorded a group at a time. convo-send records the answers
-- that arrived together in one statement instead of one call of
-- convo.outbox_sent per reply; the rules are those of that function,
-- which the receipts of convo-ingest still use one row at a time.

-- Record outbox rows IDS as sent with provider message ids PMIDS, each
-- with the status STATUSES gives it: the row becomes sent and its
-- message is stored at the current time, with the stored receipts of
-- that id applied, unless a message with that id is already stored.
-- A conversation whose last message is older takes the group's latest
-- message to it. Takes the account lock (convo.lock_account) first, as
-- every writer of conversation summaries does.
CREATE FUNCTION convo.outbox_sent_batch(p_account bigint, p_ids bigint[],
    p_provider_message_ids text[], p_statuses text[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_at timestamptz := now();
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM convo.lock_account(p_account);
    WITH u AS (
        SELECT *
        FROM unnest(p_ids, p_provider_message_ids, p_statuses)
            AS u(outbox_id, provider_message_id, status)
    ), o AS (
        UPDATE convo.outbox x SET state = 'sent',
            provider_message_id = u.provider_message_id,
            error_code = NULL, error_message = NULL, updated_at = now()
        FROM u
        -- ANY keeps the rows read to those of the group whatever the
        -- join the planner picks.
        WHERE x.account_id = p_account AND x.outbox_id = ANY (p_ids)
            AND x.outbox_id = u.outbox_id
        RETURNING x.*, u.status AS sent_status
    ), k AS (
        INSERT INTO convo.message_keys (account_id, provider,
            provider_message_id, sent_at)
        SELECT DISTINCT p_account, o.provider, o.provider_message_id, v_at
        FROM o
        ON CONFLICT DO NOTHING
        RETURNING message_id, provider, provider_message_id
    ), n AS (
        -- Two rows answered with one id store one message, the first's.
        SELECT DISTINCT ON (k.message_id) k.message_id, o.*
        FROM k
        JOIN o ON o.provider = k.provider
            AND o.provider_message_id = k.provider_message_id
        ORDER BY k.message_id, o.outbox_id
    ), m AS (
        INSERT INTO convo.messages (account_id, message_id, provider,
            provider_message_id, profile_id, channel, direction, origin,
            origin_id, from_address, to_address, body, media, sent_at,
            initial_status, status, status_at, error_code)
        SELECT p_account, n.message_id, n.provider, n.provider_message_id,
            n.profile_id, n.channel, 'outbound', n.origin,
            'o_' || n.outbox_id,
            coalesce(n.from_address, n.messaging_service_sid),
            n.to_address, n.body, n.media, v_at, n.sent_status,
            CASE WHEN r.later THEN b.status ELSE n.sent_status END,
            CASE WHEN r.later THEN b.at ELSE v_at END,
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
        last_direction = 'outbound', last_at = v_at,
        last_provider_message_id = l.provider_message_id,
        search_text = lower(concat_ws(' ', p.first_name, p.last_name,
            p.phone, l.body)),
        updated_at = now()
    FROM (SELECT DISTINCT ON (n.profile_id, n.channel) n.message_id,
            n.profile_id, n.channel, n.body, n.provider_message_id
        FROM n
        ORDER BY n.profile_id, n.channel, n.provider_message_id DESC) l
    JOIN convo.profiles p ON p.account_id = p_account
        AND p.profile_id = l.profile_id
    WHERE c.account_id = p_account AND c.profile_id = l.profile_id
        AND c.channel = l.channel
        AND (c.last_at, c.last_provider_message_id)
            < (v_at, l.provider_message_id);
END;
$$;

ALTER FUNCTION convo.outbox_sent_batch(bigint, bigint[], text[], text[])
    SET jit = off;

-- The customers of a group of replies. P_REQUESTS is a JSON array of
-- {"phone", "channel", "conversation"}: a reply goes to conversation
-- c_CONVERSATION, or when it is null to PHONE. For each item found, its
-- position in the array (from 1), then the customer's profile and
-- phone, the conversation on CHANNEL with its sender and block, the
-- consent in force, and with P_ZONE the customer's time zone and local
-- time at P_NOW. No row for an item without such a customer.
CREATE FUNCTION convo.send_recipients(p_account bigint, p_requests jsonb,
    p_zone boolean, p_now timestamptz)
RETURNS TABLE (item integer, profile_id bigint, phone text, channel text,
    conversation_id bigint, brand_address text, blocked boolean,
    consent text, zone_source text, zone text, local_minutes integer)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT w.item, r.profile_id, r.phone, r.channel, r.conversation_id,
        r.brand_address, r.blocked, coalesce(s.status, 'never_subscribed'),
        z.source, z.zone,
        convo.local_minutes(coalesce(p_now, now()), z.zone)
    FROM (SELECT x.ordinality::integer AS item,
            x.value->>'phone' AS phone, x.value->>'channel' AS channel,
            (x.value->>'conversation')::bigint AS conversation
        FROM jsonb_array_elements(p_requests) WITH ORDINALITY x) w
    CROSS JOIN LATERAL (
        SELECT p.profile_id, p.phone, p.timezone,
            coalesce(c.channel, w.channel) AS channel, c.conversation_id,
            c.brand_address, coalesce(c.blocked, false) AS blocked
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
            c.conversation_id, c.brand_address, c.blocked
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

-- A plan made once per server connection: planning the statement took
-- longer than running it for a group.
ALTER FUNCTION convo.send_recipients(bigint, jsonb, boolean, timestamptz)
    SET plan_cache_mode = force_generic_plan;

-- Claim the outbox rows of a group of replies, as convo.outbox_claim
-- does for one, in one transaction. P_CLAIMS is a JSON array of
-- {"key", "profile", "channel", "conversation", "to", "from",
-- "service", "body", "media", "origin", "encoding", "segments",
-- "units"}, in the order of that function's parameters. Returns its
-- row for each item, after the item's position in the array (from 1).
CREATE FUNCTION convo.outbox_claim_batch(p_account bigint,
    p_window interval, p_claims jsonb)
RETURNS TABLE (item integer, outbox_id bigint, state text,
    provider_message_id text, error_code text, error_message text,
    created boolean, busy boolean)
LANGUAGE plpgsql AS $$
DECLARE
    w record;
BEGIN
    FOR w IN SELECT x.ordinality::integer AS item, x.value AS v
        FROM jsonb_array_elements(p_claims) WITH ORDINALITY x
    LOOP
        RETURN QUERY
        SELECT w.item, o.*
        FROM convo.outbox_claim(p_account, w.v->>'key', p_window,
            (w.v->>'profile')::bigint, w.v->>'channel',
            (w.v->>'conversation')::bigint, w.v->>'to', w.v->>'from',
            w.v->>'service', w.v->>'body', w.v->'media', w.v->>'origin',
            w.v->>'encoding', (w.v->>'segments')::integer,
            (w.v->>'units')::integer) o;
    END LOOP;
END;
$$;
