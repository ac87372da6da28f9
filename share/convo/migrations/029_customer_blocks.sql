-- A block covers the customer, not one channel: blocking or unblocking
-- any conversation of a customer changes every conversation of theirs,
-- and a conversation that starts later takes the block of the others.
--
-- - convo.conversation_block changes all the customer's conversations
--   and adds an audit row for each.
-- - convo.ingest_messages counts no message of a blocked customer as
--   unread, on a channel without a conversation too.
-- - convo.ingest_conversations starts a new conversation blocked when
--   the customer's other conversations are.
-- - convo.send_recipients reports a blocked customer as blocked on a
--   channel without a conversation, for convo-send --new.
-- - convo.verify expects each conversation to carry the latest block or
--   unblock of any conversation of its customer.
--
-- Customers blocked on some channels and not others before this
-- migration are blocked on all of them, the safe side.

-- Block or unblock the customer of conversation P_CONVERSATION: every
-- conversation of theirs, each with a row in the audit table. The row of
-- P_CONVERSATION has the detail {}, and the others name it as
-- {"conversation_id": P_CONVERSATION}. While a customer is blocked,
-- convo-ingest stores their messages without counting them as unread or
-- reopening the conversation, and convo-send sends them nothing.
CREATE OR REPLACE FUNCTION convo.conversation_block(p_account bigint,
    p_conversation bigint, p_blocked boolean, p_operator text,
    p_at timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_profile bigint;
BEGIN
    -- A convo-ingest batch reads the blocks of its customers while it
    -- holds the account lock, so a block waits for the batch, and a
    -- conversation that the batch starts is blocked here too. Like the
    -- batch, this takes the account lock before any row lock.
    PERFORM convo.lock_account(p_account);
    v_profile := (convo.conversation_lock(p_account,
        p_conversation)).profile_id;
    PERFORM 1 FROM convo.conversations c
    WHERE c.account_id = p_account AND c.profile_id = v_profile
    ORDER BY c.channel
    FOR UPDATE;
    UPDATE convo.conversations c
    SET blocked = p_blocked, updated_at = now()
    WHERE c.account_id = p_account AND c.profile_id = v_profile;
    PERFORM convo.conversation_log(p_account, p_conversation,
        CASE WHEN p_blocked THEN 'block' ELSE 'unblock' END, '{}',
        p_operator, p_at);
    PERFORM convo.conversation_log(p_account, c.conversation_id,
        CASE WHEN p_blocked THEN 'block' ELSE 'unblock' END,
        jsonb_build_object('conversation_id', p_conversation),
        p_operator, p_at)
    FROM (SELECT x.conversation_id FROM convo.conversations x
        WHERE x.account_id = p_account AND x.profile_id = v_profile
            AND x.conversation_id <> p_conversation
        ORDER BY x.conversation_id) c;
END;
$$;

-- As in 026, but a customer is blocked when any conversation of theirs
-- is, so a message on a channel without a conversation is judged by the
-- customer's other channels.
CREATE OR REPLACE FUNCTION convo.ingest_messages(p_account bigint) RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    -- The blocked customers among those of the batch.
    v_blocked bigint[];
BEGIN
    -- Lock the conversations that will receive messages before the
    -- messages get their recording time, so that a concurrent
    -- convo-read either sees a message or leaves it unread.
    WITH locked AS (
        SELECT s.profile_id, s.channel
        FROM (SELECT DISTINCT x.profile_id, s.channel
                FROM pg_temp.ingest_messages s
                JOIN pg_temp.ingest_phones x ON x.phone = s.phone
                ORDER BY x.profile_id, s.channel) s
        CROSS JOIN LATERAL (SELECT 1 FROM convo.conversations c
            WHERE c.account_id = p_account AND c.profile_id = s.profile_id
                AND c.channel = s.channel
            FOR UPDATE) c
    )
    INSERT INTO pg_temp.ingest_locked
    SELECT l.profile_id, l.channel FROM locked l
    ON CONFLICT DO NOTHING;

    -- convo.conversation_block takes the account lock that the batch
    -- holds, so no customer's block changes until this transaction
    -- ends. A customer is blocked on every channel, also on one where
    -- this batch starts the first conversation.
    SELECT coalesce(array_agg(DISTINCT c.profile_id), '{}')
    INTO v_blocked
    FROM convo.conversations c
    WHERE c.account_id = p_account AND c.blocked
        AND c.profile_id IN (SELECT x.profile_id
            FROM pg_temp.ingest_messages s
            JOIN pg_temp.ingest_phones x ON x.phone = s.phone);

    WITH firsts AS (
        SELECT DISTINCT ON (s.provider, s.provider_message_id)
            s.provider, s.provider_message_id, x.profile_id, s.channel,
            s.direction, s.origin, s.origin_id, s.from_address,
            s.to_address, s.body, s.media, s.sent_at, s.status, s.keyword,
            s.keyword_action, s.keyword_conditional, s.possible_opt_out,
            s.extra
        FROM pg_temp.ingest_messages s
        JOIN pg_temp.ingest_phones x ON x.phone = s.phone
        ORDER BY s.provider, s.provider_message_id, s.line
    ), keys AS (
        INSERT INTO convo.message_keys (account_id, provider,
            provider_message_id, sent_at)
        SELECT p_account, f.provider, f.provider_message_id, f.sent_at
        FROM firsts f
        ORDER BY f.provider, f.provider_message_id
        ON CONFLICT DO NOTHING
        RETURNING message_keys.provider, message_keys.provider_message_id,
            message_keys.message_id
    ), ins AS (
        INSERT INTO convo.messages (account_id, message_id, provider,
            provider_message_id, profile_id, channel, direction, origin,
            origin_id, from_address, to_address, body, media, sent_at,
            initial_status, status, status_at, keyword, keyword_action,
            keyword_conditional, possible_opt_out, extra, counts_unread)
        SELECT p_account, k.message_id, f.provider, f.provider_message_id,
            f.profile_id, f.channel, f.direction, f.origin, f.origin_id,
            f.from_address, f.to_address, f.body, f.media, f.sent_at,
            f.status, f.status,
            CASE WHEN f.status IS NOT NULL THEN f.sent_at END,
            f.keyword,
            CASE WHEN NOT f.keyword_conditional THEN f.keyword_action END,
            f.keyword_conditional, f.possible_opt_out, f.extra,
            -- A blocked customer's message never counts as unread.
            NOT (f.profile_id = ANY (v_blocked))
        FROM keys k
        JOIN firsts f ON f.provider = k.provider
            AND f.provider_message_id = k.provider_message_id
        RETURNING messages.message_id, messages.provider,
            messages.provider_message_id, messages.profile_id,
            messages.channel, messages.direction, messages.from_address,
            messages.to_address, messages.body, messages.sent_at,
            messages.recorded_at, messages.keyword, messages.keyword_action,
            messages.keyword_conditional, messages.possible_opt_out,
            messages.counts_unread
    )
    INSERT INTO pg_temp.ingest_added (message_id, provider,
        provider_message_id, profile_id, channel, direction, from_address,
        to_address, body, sent_at, recorded_at, keyword, keyword_action,
        keyword_conditional, possible_opt_out, counts_unread)
    SELECT * FROM ins;

    WITH firsts AS (
        SELECT DISTINCT ON (s.provider, s.provider_message_id, s.status,
            s.error_code) s.*
        FROM pg_temp.ingest_statuses s
        ORDER BY s.provider, s.provider_message_id, s.status,
            s.error_code, s.line
    ), ins AS (
        INSERT INTO convo.status_events (account_id, provider,
            provider_message_id, status, error_code, at, to_phone, channel)
        SELECT p_account, f.provider, f.provider_message_id, f.status,
            f.error_code, f.at, f.to_phone, f.channel
        FROM firsts f
        ORDER BY f.provider, f.provider_message_id, f.status, f.error_code
        ON CONFLICT DO NOTHING
        RETURNING status_events.event_id, status_events.provider,
            status_events.provider_message_id, status_events.error_code
    )
    INSERT INTO pg_temp.ingest_new_events SELECT * FROM ins;

    UPDATE pg_temp.ingest_added n SET has_receipts = true
    WHERE (SELECT true FROM convo.status_events e
        WHERE e.account_id = p_account AND e.provider = n.provider
            AND e.provider_message_id = n.provider_message_id
        LIMIT 1);

    -- The status of a message is the best of its own initial status and
    -- every receipt, computed from all of them so that arrival order
    -- does not matter. Every lookup of a message names its time, so it
    -- reaches one partition. Within it, the range of message ids bounds
    -- the index scan. In 016 the generic plan tested a list of the ids
    -- against every message of the account in the range of times, one
    -- element after another.
    WITH affected AS (
        SELECT n.message_id, n.sent_at, n.provider, n.provider_message_id
        FROM pg_temp.ingest_added n
        WHERE n.has_receipts
        UNION
        SELECT k.message_id, k.sent_at, k.provider, k.provider_message_id
        FROM pg_temp.ingest_new_events ne
        CROSS JOIN LATERAL (SELECT k.message_id, k.sent_at, k.provider,
                k.provider_message_id
            FROM convo.message_keys k
            WHERE k.account_id = p_account AND k.provider = ne.provider
                AND k.provider_message_id = ne.provider_message_id
            OFFSET 0) k
    ), candidates AS (
        SELECT a.message_id, a.sent_at, x.status, x.at, x.error_code
        FROM affected a
        CROSS JOIN LATERAL (
            SELECT e.status, e.at, e.error_code
            FROM convo.status_events e
            WHERE e.account_id = p_account AND e.provider = a.provider
                AND e.provider_message_id = a.provider_message_id
            UNION ALL
            SELECT m.initial_status, m.sent_at, NULL
            FROM convo.messages m
            WHERE m.account_id = p_account AND m.message_id = a.message_id
                AND m.sent_at = a.sent_at AND m.initial_status IS NOT NULL
            OFFSET 0) x
    ), best AS (
        SELECT DISTINCT ON (c.message_id) c.*
        FROM candidates c
        ORDER BY c.message_id, convo.status_rank(c.status) DESC, c.at,
            convo.status_severity(c.status), c.error_code NULLS FIRST
    )
    UPDATE convo.messages m
    SET status = b.status, status_at = b.at, error_code = b.error_code
    FROM best b
    WHERE m.account_id = p_account
        AND m.message_id >= (SELECT min(x.message_id) FROM best x)
        AND m.message_id <= (SELECT max(x.message_id) FROM best x)
        AND m.sent_at >= (SELECT min(x.sent_at) FROM best x)
        AND m.sent_at <= (SELECT max(x.sent_at) FROM best x)
        AND m.message_id = b.message_id AND m.sent_at = b.sent_at
        AND (m.status, m.status_at, m.error_code)
            IS DISTINCT FROM (b.status, b.at, b.error_code);
END;
$$;

-- As in 026, but a new conversation is blocked when the customer's
-- other conversations are.
CREATE OR REPLACE FUNCTION convo.ingest_conversations(p_account bigint)
RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    INSERT INTO pg_temp.ingest_pairs (profile_id, channel,
        has_conversation, existed, recount, reopen, flagged_message_id,
        last_message_id, last_body, last_direction, last_at,
        last_provider_message_id, inbound_to, inbound_at,
        inbound_provider_message_id, unread_added, unread_since)
    SELECT t.profile_id, t.channel,
        CASE WHEN r.profile_id IS NULL
                AND (c.conversation_id IS NOT NULL
                    OR coalesce(a.reopen, false))
            THEN true
            ELSE coalesce((SELECT true FROM convo.messages m
                WHERE m.account_id = p_account
                    AND m.profile_id = t.profile_id
                    AND m.channel = t.channel AND m.direction = 'inbound'
                    AND m.keyword_action IS NULL
                LIMIT 1), false)
        END,
        c.conversation_id IS NOT NULL,
        -- Two messages of equal time and provider message id (from two
        -- providers) have no order to move forward by.
        r.profile_id IS NOT NULL OR c.conversation_id IS NULL
            OR c.last_at IS NULL OR coalesce(a.tied, false)
            OR coalesce((a.sent_at, a.provider_message_id)
                = (c.last_at, c.last_provider_message_id), false),
        -- A closed or snoozed conversation reopens when the customer
        -- writes again, unless it is blocked.
        coalesce(a.reopen, false), a.flagged_message_id,
        a.message_id, a.body, a.direction, a.sent_at, a.provider_message_id,
        a.inbound_to, a.inbound_at, a.inbound_provider_message_id,
        coalesce(a.unread_added, 0), a.unread_since
    FROM pg_temp.ingest_touched t
    LEFT JOIN LATERAL (SELECT c.conversation_id, c.last_at,
            c.last_provider_message_id
        FROM convo.conversations c
        WHERE c.account_id = p_account AND c.profile_id = t.profile_id
            AND c.channel = t.channel
        OFFSET 0) c ON true
    LEFT JOIN pg_temp.ingest_rejudged r ON r.profile_id = t.profile_id
        AND r.channel = t.channel
    -- Per pair, the latest added message and what the window w gives
    -- from all the added messages, in the order latest first. A message
    -- with the same time and provider message id as the one before it
    -- is a tie.
    LEFT JOIN (
        SELECT DISTINCT ON (n.profile_id, n.channel) n.profile_id,
            n.channel, n.message_id, n.body, n.direction, n.sent_at,
            n.provider_message_id,
            bool_or(n.direction = 'inbound' AND n.action IS NULL) OVER w
                AS reopen,
            (array_agg(n.message_id) FILTER (WHERE n.possible_opt_out
                AND n.action IS NULL) OVER w)[1] AS flagged_message_id,
            count(*) FILTER (WHERE n.direction = 'inbound'
                AND n.action IS NULL AND n.counts_unread) OVER w
                AS unread_added,
            min(n.recorded_at) FILTER (WHERE n.direction = 'inbound'
                AND n.action IS NULL AND n.counts_unread) OVER w
                AS unread_since,
            bool_or(n.tie) OVER w AS tied,
            (array_agg(n.to_address) FILTER (WHERE n.direction = 'inbound')
                OVER w)[1] AS inbound_to,
            (array_agg(n.sent_at) FILTER (WHERE n.direction = 'inbound')
                OVER w)[1] AS inbound_at,
            (array_agg(n.provider_message_id)
                FILTER (WHERE n.direction = 'inbound') OVER w)[1]
                AS inbound_provider_message_id
        FROM (SELECT n.*,
                CASE WHEN n.keyword_conditional
                    THEN (SELECT m.keyword_action FROM convo.messages m
                        WHERE m.account_id = p_account
                            AND m.message_id = n.message_id
                            AND m.sent_at = n.sent_at)
                    ELSE n.keyword_action END AS action,
                coalesce((n.sent_at, n.provider_message_id)
                    = lag((n.sent_at, n.provider_message_id)) OVER (
                        PARTITION BY n.profile_id, n.channel
                        ORDER BY n.sent_at DESC,
                            n.provider_message_id DESC), false) AS tie
            FROM pg_temp.ingest_added n) n
        WINDOW w AS (PARTITION BY n.profile_id, n.channel
            ORDER BY n.sent_at DESC, n.provider_message_id DESC
            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
        ORDER BY n.profile_id, n.channel, n.sent_at DESC,
            n.provider_message_id DESC
    ) a ON a.profile_id = t.profile_id AND a.channel = t.channel;

    -- A new conversation is written once, with its summary, from all
    -- the pair's messages: campaign texts may have come before.
    WITH ins AS (
        INSERT INTO convo.conversations (account_id, profile_id, channel,
            blocked, brand_address, flagged_message_id, flagged_at,
            unread_count, last_message_id, last_body, last_direction,
            last_at, last_provider_message_id, search_text)
        SELECT p_account, s.profile_id, s.channel,
            -- A block covers all the customer's channels. The account
            -- lock keeps it from changing until this transaction ends.
            EXISTS (SELECT 1 FROM convo.conversations b
                WHERE b.account_id = p_account
                    AND b.profile_id = s.profile_id AND b.blocked),
            (SELECT m.to_address FROM convo.messages m
                WHERE m.account_id = p_account
                    AND m.profile_id = s.profile_id
                    AND m.channel = s.channel AND m.direction = 'inbound'
                ORDER BY m.sent_at DESC, m.provider_message_id DESC
                LIMIT 1),
            s.flagged_message_id,
            CASE WHEN s.flagged_message_id IS NOT NULL THEN now() END,
            (SELECT count(*) FROM convo.messages m
                WHERE m.account_id = p_account
                    AND m.profile_id = s.profile_id
                    AND m.channel = s.channel AND m.direction = 'inbound'
                    AND m.keyword_action IS NULL AND m.counts_unread),
            l.message_id, l.body, l.direction, l.sent_at,
            l.provider_message_id,
            lower(concat_ws(' ', p.first_name, p.last_name, p.phone,
                l.body))
        FROM pg_temp.ingest_pairs s
        CROSS JOIN LATERAL (SELECT p.first_name, p.last_name, p.phone
            FROM convo.profiles p
            WHERE p.account_id = p_account AND p.profile_id = s.profile_id
            OFFSET 0) p
        CROSS JOIN LATERAL (
            SELECT m.message_id, m.body, m.direction, m.sent_at,
                m.provider_message_id
            FROM convo.messages m
            WHERE m.account_id = p_account AND m.profile_id = s.profile_id
                AND m.channel = s.channel
            ORDER BY m.sent_at DESC, m.provider_message_id DESC
            LIMIT 1
        ) l
        WHERE s.has_conversation AND NOT s.existed
        ORDER BY s.profile_id, s.channel
        ON CONFLICT DO NOTHING
        RETURNING conversations.profile_id, conversations.channel
    ), locked AS (
        INSERT INTO pg_temp.ingest_locked SELECT * FROM ins
        ON CONFLICT DO NOTHING
    )
    UPDATE pg_temp.ingest_pairs s SET created = true
    FROM ins
    WHERE s.profile_id = ins.profile_id AND s.channel = ins.channel;

    -- A conditional keyword judged again can leave a customer with no
    -- message that makes a conversation.
    DELETE FROM convo.conversations c
    USING pg_temp.ingest_pairs s
    WHERE c.account_id = p_account
        AND c.profile_id = s.profile_id AND c.channel = s.channel
        AND NOT s.has_conversation;

    -- Counting happens in a statement that starts after the lock, so it
    -- sees every message committed by a transaction that held it before.
    -- Rows already held need no second lock.
    PERFORM 1 FROM (SELECT s.profile_id, s.channel
            FROM pg_temp.ingest_pairs s
            WHERE s.has_conversation AND NOT EXISTS (SELECT 1
                FROM pg_temp.ingest_locked x
                WHERE x.profile_id = s.profile_id
                    AND x.channel = s.channel)
            ORDER BY s.profile_id, s.channel) s
    CROSS JOIN LATERAL (SELECT 1 FROM convo.conversations c
        WHERE c.account_id = p_account AND c.profile_id = s.profile_id
            AND c.channel = s.channel
        FOR UPDATE) c;

    UPDATE convo.conversations c SET
        last_message_id = l.message_id,
        last_body = l.body,
        last_direction = l.direction,
        last_at = l.sent_at,
        last_provider_message_id = l.provider_message_id,
        brand_address = (SELECT m.to_address FROM convo.messages m
            WHERE m.account_id = p_account AND m.profile_id = c.profile_id
                AND m.channel = c.channel AND m.direction = 'inbound'
            ORDER BY m.sent_at DESC, m.provider_message_id DESC LIMIT 1),
        unread_count = (SELECT count(*) FROM convo.messages m
            WHERE m.account_id = p_account AND m.profile_id = c.profile_id
                AND m.channel = c.channel AND m.direction = 'inbound'
                AND m.keyword_action IS NULL AND m.counts_unread
                AND m.recorded_at > coalesce(c.last_read_at, '-infinity')),
        status = CASE WHEN s.reopen AND NOT c.blocked THEN 'open'
            ELSE c.status END,
        -- The flag names the latest flagged message by time, whichever
        -- arrived last.
        flagged_message_id = CASE WHEN s.flagged_message_id IS NULL
            THEN c.flagged_message_id
            ELSE convo.later_message(p_account, s.flagged_message_id,
                c.flagged_message_id) END,
        flagged_at = CASE WHEN s.flagged_message_id IS NULL
            THEN c.flagged_at
            WHEN convo.later_message(p_account, s.flagged_message_id,
                c.flagged_message_id) IS DISTINCT FROM c.flagged_message_id
            THEN now()
            ELSE c.flagged_at END,
        snoozed_until = CASE WHEN s.reopen AND NOT c.blocked THEN NULL
            ELSE c.snoozed_until END,
        search_text = lower(concat_ws(' ', p.first_name, p.last_name,
            p.phone, l.body)),
        updated_at = now()
    FROM pg_temp.ingest_pairs s
    CROSS JOIN LATERAL (SELECT p.first_name, p.last_name, p.phone
        FROM convo.profiles p
        WHERE p.account_id = p_account AND p.profile_id = s.profile_id
        OFFSET 0) p
    CROSS JOIN LATERAL (
        SELECT m.message_id, m.body, m.direction, m.sent_at,
            m.provider_message_id
        FROM convo.messages m
        WHERE m.account_id = p_account AND m.profile_id = s.profile_id
            AND m.channel = s.channel
        ORDER BY m.sent_at DESC, m.provider_message_id DESC
        LIMIT 1
    ) l
    WHERE c.account_id = p_account
        AND c.profile_id = s.profile_id AND c.channel = s.channel
        AND s.has_conversation AND s.recount AND NOT s.created;

    -- NOTE: the count moved forward still includes unread messages of
    -- archived months; convo-db verify reports the difference.
    -- The summary moves forward: a later added message becomes the last
    -- one, and added unread messages add to the count. An added inbound
    -- message older than the last one may still be the latest inbound,
    -- and a read mark later than an added message (which only a clock
    -- set back can give) needs a count; both are looked up.
    UPDATE convo.conversations c SET
        last_message_id = CASE WHEN (s.last_at, s.last_provider_message_id)
                > (c.last_at, c.last_provider_message_id)
            THEN s.last_message_id ELSE c.last_message_id END,
        last_body = CASE WHEN (s.last_at, s.last_provider_message_id)
                > (c.last_at, c.last_provider_message_id)
            THEN s.last_body ELSE c.last_body END,
        last_direction = CASE WHEN (s.last_at, s.last_provider_message_id)
                > (c.last_at, c.last_provider_message_id)
            THEN s.last_direction ELSE c.last_direction END,
        last_provider_message_id = CASE
            WHEN (s.last_at, s.last_provider_message_id)
                > (c.last_at, c.last_provider_message_id)
            THEN s.last_provider_message_id
            ELSE c.last_provider_message_id END,
        last_at = CASE WHEN (s.last_at, s.last_provider_message_id)
                > (c.last_at, c.last_provider_message_id)
            THEN s.last_at ELSE c.last_at END,
        brand_address = CASE
            WHEN s.inbound_at IS NULL THEN c.brand_address
            WHEN (s.inbound_at, s.inbound_provider_message_id)
                > (c.last_at, c.last_provider_message_id)
            THEN s.inbound_to
            ELSE (SELECT m.to_address FROM convo.messages m
                WHERE m.account_id = p_account
                    AND m.profile_id = c.profile_id
                    AND m.channel = c.channel AND m.direction = 'inbound'
                ORDER BY m.sent_at DESC, m.provider_message_id DESC
                LIMIT 1)
            END,
        unread_count = CASE
            WHEN s.unread_added = 0 THEN c.unread_count
            WHEN s.unread_since > coalesce(c.last_read_at, '-infinity')
            THEN c.unread_count + s.unread_added
            ELSE convo.unread_count(p_account, c.profile_id, c.channel,
                c.last_read_at)
            END,
        status = CASE WHEN s.reopen AND NOT c.blocked THEN 'open'
            ELSE c.status END,
        flagged_message_id = CASE WHEN s.flagged_message_id IS NULL
            THEN c.flagged_message_id
            ELSE convo.later_message(p_account, s.flagged_message_id,
                c.flagged_message_id) END,
        flagged_at = CASE WHEN s.flagged_message_id IS NULL
            THEN c.flagged_at
            WHEN convo.later_message(p_account, s.flagged_message_id,
                c.flagged_message_id) IS DISTINCT FROM c.flagged_message_id
            THEN now()
            ELSE c.flagged_at END,
        snoozed_until = CASE WHEN s.reopen AND NOT c.blocked THEN NULL
            ELSE c.snoozed_until END,
        search_text = CASE WHEN (s.last_at, s.last_provider_message_id)
                > (c.last_at, c.last_provider_message_id)
            THEN (SELECT lower(concat_ws(' ', p.first_name, p.last_name,
                    p.phone, s.last_body))
                FROM convo.profiles p
                WHERE p.account_id = p_account
                    AND p.profile_id = c.profile_id)
            ELSE c.search_text END,
        updated_at = now()
    FROM pg_temp.ingest_pairs s
    WHERE c.account_id = p_account
        AND c.profile_id = s.profile_id AND c.channel = s.channel
        AND s.has_conversation AND NOT s.recount;
    DELETE FROM pg_temp.ingest_pairs;
    DELETE FROM pg_temp.ingest_locked;
    DELETE FROM pg_temp.ingest_rejudged;
END;
$$;

-- As in 028, but a customer with a blocked conversation is blocked on a
-- channel without one too.
CREATE OR REPLACE FUNCTION convo.send_recipients(p_account bigint, p_requests jsonb,
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
            c.brand_address,
            coalesce(c.blocked, EXISTS (SELECT 1
                FROM convo.conversations b
                WHERE b.account_id = p_account
                    AND b.profile_id = p.profile_id AND b.blocked))
                AS blocked,
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

-- A plan made once per server connection: planning the statement took
-- longer than running it for a group.
ALTER FUNCTION convo.send_recipients(bigint, jsonb, boolean, timestamptz)
    SET plan_cache_mode = force_generic_plan;

-- As in 027, but the block in force on a conversation is the latest
-- block or unblock of any conversation of its customer.
CREATE OR REPLACE FUNCTION convo.verify(p_account bigint)
RETURNS TABLE (conversation_id bigint, profile_id bigint, channel text,
    message_id bigint, field text, stored jsonb, expected jsonb)
LANGUAGE sql STABLE AS $$
    -- A customer and channel has a conversation exactly when the
    -- customer sent an inbound message that is not a keyword.
    SELECT NULL::bigint, t.profile_id, t.channel, NULL::bigint,
        'exists', 'false'::jsonb, 'true'::jsonb
    FROM (SELECT DISTINCT m.profile_id, m.channel FROM convo.messages m
        WHERE m.account_id = p_account AND m.direction = 'inbound'
            AND m.keyword_action IS NULL) t
    WHERE NOT EXISTS (SELECT 1 FROM convo.conversations c
        WHERE c.account_id = p_account AND c.profile_id = t.profile_id
            AND c.channel = t.channel)

    UNION ALL
    SELECT c.conversation_id, c.profile_id, c.channel, NULL::bigint,
        'exists', 'true'::jsonb, 'false'::jsonb
    FROM convo.conversations c
    WHERE c.account_id = p_account
        AND NOT EXISTS (SELECT 1 FROM convo.messages m
            WHERE m.account_id = p_account AND m.profile_id = c.profile_id
                AND m.channel = c.channel AND m.direction = 'inbound'
                AND m.keyword_action IS NULL)

    -- The summary columns of each conversation that should exist.
    UNION ALL
    SELECT c.conversation_id, c.profile_id, c.channel, NULL::bigint,
        v.field, v.stored, v.expected
    FROM convo.conversations c
    JOIN convo.profiles p ON p.account_id = p_account
        AND p.profile_id = c.profile_id
    -- The last message by time, of any direction; ties go to the larger
    -- provider message id.
    LEFT JOIN LATERAL (
        SELECT m.message_id, m.body, m.direction, m.sent_at,
            m.provider_message_id
        FROM convo.messages m
        WHERE m.account_id = p_account AND m.profile_id = c.profile_id
            AND m.channel = c.channel
        ORDER BY m.sent_at DESC, m.provider_message_id DESC
        LIMIT 1
    ) l ON true
    -- Replies go from the address of the latest inbound message.
    LEFT JOIN LATERAL (
        SELECT m.to_address
        FROM convo.messages m
        WHERE m.account_id = p_account AND m.profile_id = c.profile_id
            AND m.channel = c.channel AND m.direction = 'inbound'
        ORDER BY m.sent_at DESC, m.provider_message_id DESC
        LIMIT 1
    ) b ON true
    CROSS JOIN LATERAL (
        SELECT count(*) AS n
        FROM convo.messages m
        WHERE m.account_id = p_account AND m.profile_id = c.profile_id
            AND m.channel = c.channel AND m.direction = 'inbound'
            AND m.keyword_action IS NULL AND m.counts_unread
            AND m.recorded_at > coalesce(c.last_read_at, '-infinity')
    ) u
    -- The possible opt-out flag names the thread's latest message by time
    -- that reads like an opt-out and is no keyword. Once an operator has
    -- dismissed or confirmed a flag, only messages recorded after that
    -- can set it again, so then the flag need only name such a message.
    LEFT JOIN LATERAL (
        SELECT m.message_id
        FROM convo.messages m
        WHERE m.account_id = p_account AND m.profile_id = c.profile_id
            AND m.channel = c.channel AND m.possible_opt_out
            AND m.keyword_action IS NULL
        ORDER BY m.sent_at DESC, m.provider_message_id DESC
        LIMIT 1
    ) lf ON true
    LEFT JOIN LATERAL (
        SELECT m.message_id
        FROM convo.messages m
        WHERE m.account_id = p_account
            AND m.message_id = c.flagged_message_id
            AND m.profile_id = c.profile_id AND m.channel = c.channel
            AND m.possible_opt_out AND m.keyword_action IS NULL
    ) f ON true
    CROSS JOIN LATERAL (
        SELECT EXISTS (SELECT 1 FROM convo.conversation_events e
            WHERE e.account_id = p_account
                AND e.conversation_id = c.conversation_id
                AND e.action IN ('dismiss_flag', 'confirm_opt_out'))
            AS settled
    ) d
    -- Blocks and assignments are operator actions, each recorded in the
    -- audit table; the last one of each kind is in force. A block covers
    -- the customer, so the last one on any of their conversations is in
    -- force, also on a conversation that started after it.
    LEFT JOIN LATERAL (
        SELECT e.action = 'block' AS blocked
        FROM convo.conversations x
        JOIN convo.conversation_events e ON e.account_id = p_account
            AND e.conversation_id = x.conversation_id
        WHERE x.account_id = p_account AND x.profile_id = c.profile_id
            AND e.action IN ('block', 'unblock')
        ORDER BY e.event_id DESC
        LIMIT 1
    ) bl ON true
    LEFT JOIN LATERAL (
        SELECT e.detail->>'assignee' AS assignee
        FROM convo.conversation_events e
        WHERE e.account_id = p_account
            AND e.conversation_id = c.conversation_id
            AND e.action IN ('assign', 'unassign')
        ORDER BY e.event_id DESC
        LIMIT 1
    ) a ON true
    CROSS JOIN LATERAL (VALUES
        ('last_message_id', to_jsonb('m_' || c.last_message_id),
            to_jsonb('m_' || l.message_id)),
        ('last_body', to_jsonb(c.last_body), to_jsonb(l.body)),
        ('last_direction', to_jsonb(c.last_direction),
            to_jsonb(l.direction)),
        ('last_at', to_jsonb(convo.rfc3339(c.last_at)),
            to_jsonb(convo.rfc3339(l.sent_at))),
        ('last_provider_message_id', to_jsonb(c.last_provider_message_id),
            to_jsonb(l.provider_message_id)),
        ('brand_address', to_jsonb(c.brand_address),
            to_jsonb(b.to_address)),
        ('unread_count', to_jsonb(c.unread_count), to_jsonb(u.n)),
        ('search_text', to_jsonb(c.search_text),
            to_jsonb(lower(concat_ws(' ', p.first_name, p.last_name,
                p.phone, l.body)))),
        ('flagged_message_id', to_jsonb('m_' || c.flagged_message_id),
            to_jsonb('m_' || CASE WHEN d.settled THEN f.message_id
                ELSE lf.message_id END)),
        ('snoozed_until', to_jsonb(convo.rfc3339(c.snoozed_until)),
            CASE WHEN c.status = 'snoozed'
                THEN to_jsonb(convo.rfc3339(c.snoozed_until)) END),
        ('blocked', to_jsonb(c.blocked),
            to_jsonb(coalesce(bl.blocked, false))),
        ('assignee', to_jsonb(c.assignee), to_jsonb(a.assignee))
    ) v (field, stored, expected)
    WHERE c.account_id = p_account
        AND EXISTS (SELECT 1 FROM convo.messages m
            WHERE m.account_id = p_account AND m.profile_id = c.profile_id
                AND m.channel = c.channel AND m.direction = 'inbound'
                AND m.keyword_action IS NULL)
        AND v.stored IS DISTINCT FROM v.expected

    -- The consent in force is the change with the latest effective time;
    -- at the same instant unsubscribed wins, then the change recorded
    -- last. No change means no row.
    UNION ALL
    SELECT c.conversation_id, coalesce(l.profile_id, s.profile_id),
        coalesce(l.channel, s.channel), NULL::bigint,
        v.field, v.stored, v.expected
    FROM (
        SELECT DISTINCT ON (x.profile_id, x.channel) x.profile_id,
            x.channel, x.status, least(x.at, x.recorded_at) AS effective_at
        FROM convo.consent_changes x
        WHERE x.account_id = p_account
        ORDER BY x.profile_id, x.channel, least(x.at, x.recorded_at) DESC,
            x.status = 'unsubscribed' DESC, x.change_id DESC
    ) l
    FULL JOIN (
        SELECT * FROM convo.consent x WHERE x.account_id = p_account
    ) s ON s.profile_id = l.profile_id AND s.channel = l.channel
    LEFT JOIN convo.conversations c ON c.account_id = p_account
        AND c.profile_id = coalesce(l.profile_id, s.profile_id)
        AND c.channel = coalesce(l.channel, s.channel)
    CROSS JOIN LATERAL (VALUES
        ('consent', to_jsonb(s.status), to_jsonb(l.status)),
        ('consent_changed_at', to_jsonb(convo.rfc3339(s.changed_at)),
            to_jsonb(convo.rfc3339(l.effective_at)))
    ) v (field, stored, expected)
    WHERE v.stored IS DISTINCT FROM v.expected

    -- A conditional opt-in (YES) is a keyword exactly when the customer
    -- was not subscribed just before its effective time.
    UNION ALL
    SELECT c.conversation_id, x.profile_id, x.channel, x.message_id,
        'keyword_action', to_jsonb(x.keyword_action), to_jsonb(j.action)
    FROM convo.messages x
    CROSS JOIN LATERAL (
        SELECT CASE WHEN coalesce((
            SELECT k.status FROM convo.consent_changes k
            WHERE k.account_id = p_account AND k.profile_id = x.profile_id
                AND k.channel = x.channel
                AND least(k.at, k.recorded_at)
                    < least(x.sent_at, x.recorded_at)
            ORDER BY least(k.at, k.recorded_at) DESC,
                k.status = 'unsubscribed' DESC, k.change_id DESC
            LIMIT 1), 'never_subscribed') <> 'subscribed'
            THEN 'opt_in' END AS action
    ) j
    LEFT JOIN convo.conversations c ON c.account_id = p_account
        AND c.profile_id = x.profile_id AND c.channel = x.channel
    WHERE x.account_id = p_account AND x.keyword_conditional
        AND x.keyword_action IS DISTINCT FROM j.action

    -- The delivery status of a message is the best of its own initial
    -- status and every receipt: the highest rank, then the earliest,
    -- then the worse outcome.
    UNION ALL
    SELECT c.conversation_id, x.profile_id, x.channel, x.message_id,
        v.field, v.stored, v.expected
    FROM convo.messages x
    LEFT JOIN LATERAL (
        SELECT s.status, s.error_code
        FROM (
            SELECT e.status, e.at, e.error_code
            FROM convo.status_events e
            WHERE e.account_id = p_account AND e.provider = x.provider
                AND e.provider_message_id = x.provider_message_id
            UNION ALL
            SELECT x.initial_status, x.sent_at, NULL
            WHERE x.initial_status IS NOT NULL
        ) s
        ORDER BY convo.status_rank(s.status) DESC, s.at,
            convo.status_severity(s.status), s.error_code NULLS FIRST
        LIMIT 1
    ) b ON true
    LEFT JOIN convo.conversations c ON c.account_id = p_account
        AND c.profile_id = x.profile_id AND c.channel = x.channel
    CROSS JOIN LATERAL (VALUES
        ('status', to_jsonb(x.status), to_jsonb(b.status)),
        ('error_code', to_jsonb(x.error_code), to_jsonb(b.error_code))
    ) v (field, stored, expected)
    WHERE x.account_id = p_account AND v.stored IS DISTINCT FROM v.expected;
$$;

-- Customers blocked on some channels only: block the others, each with
-- an audit row that names the blocked conversation whose block it takes
-- and its operator.
WITH mixed AS (
    SELECT DISTINCT ON (c.account_id, c.profile_id) c.account_id,
        c.profile_id, c.conversation_id, e.operator
    FROM convo.conversations c
    LEFT JOIN LATERAL (SELECT e.operator, e.event_id
        FROM convo.conversation_events e
        WHERE e.account_id = c.account_id
            AND e.conversation_id = c.conversation_id
            AND e.action = 'block'
        ORDER BY e.event_id DESC
        LIMIT 1) e ON true
    WHERE c.blocked AND EXISTS (SELECT 1 FROM convo.conversations o
        WHERE o.account_id = c.account_id
            AND o.profile_id = c.profile_id AND NOT o.blocked)
    ORDER BY c.account_id, c.profile_id, e.event_id DESC NULLS LAST,
        c.conversation_id
), changed AS (
    UPDATE convo.conversations o
    SET blocked = true, updated_at = now()
    FROM mixed m
    WHERE o.account_id = m.account_id AND o.profile_id = m.profile_id
        AND NOT o.blocked
    RETURNING o.account_id, o.conversation_id, m.conversation_id AS source,
        m.operator
)
INSERT INTO convo.conversation_events (account_id, conversation_id,
    action, detail, operator)
SELECT c.account_id, c.conversation_id, 'block',
    jsonb_build_object('conversation_id', c.source),
    coalesce(c.operator, current_user)
FROM changed c
ORDER BY c.account_id, c.conversation_id;
