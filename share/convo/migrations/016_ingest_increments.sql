-- Batches that cost less per record. The rules of convo-ingest(1) stay
-- the same; what changes is how much of the account a batch reads:
--
-- - A new message carries its own status from the start; only messages
--   with stored receipts have their status computed from all of them.
-- - Conditional keywords are judged again only for customers who have
--   any, and the consent in force is computed again only where consent
--   changes were added or withdrawn.
-- - A conversation summary moves forward from what the batch added: its
--   latest message, its latest inbound message and its new unread
--   messages. A conversation that is new, or whose messages were judged
--   again, is summarised from all its messages as before; a new one is
--   written once, with its summary, instead of inserted and updated.
-- - The result of a line that inserted a message comes from what the
--   batch added, without reading the message back.
--
-- The work tables of a batch get new names, so that a server connection
-- that still holds the old ones (behind a pooler) never mixes the two.

CREATE OR REPLACE FUNCTION convo.ingest_prepare() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- Created once per session; the last table created says so.
    IF to_regclass('pg_temp.ingest_pairs') IS NOT NULL THEN
        RETURN;
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS ingest_messages (
        line bigint NOT NULL,
        provider text NOT NULL,
        provider_message_id text NOT NULL,
        direction text NOT NULL,
        channel text NOT NULL,
        phone text NOT NULL,
        from_address text NOT NULL,
        to_address text NOT NULL,
        body text NOT NULL,
        media jsonb NOT NULL,
        sent_at timestamptz NOT NULL,
        origin text,
        origin_id text,
        status text,
        keyword text,
        keyword_action text,
        keyword_conditional boolean NOT NULL,
        possible_opt_out boolean NOT NULL,
        extra jsonb,
        profile_id bigint
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS ingest_statuses (
        line bigint NOT NULL,
        provider text NOT NULL,
        provider_message_id text NOT NULL,
        status text NOT NULL,
        error_code text,
        at timestamptz NOT NULL,
        to_phone text,
        channel text
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS ingest_consents (
        line bigint NOT NULL,
        phone text NOT NULL,
        channel text NOT NULL,
        status text NOT NULL,
        method text NOT NULL,
        at timestamptz NOT NULL,
        profile_id bigint
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS ingest_profiles (
        line bigint NOT NULL,
        phone text NOT NULL,
        fields jsonb NOT NULL,
        updated_at timestamptz
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS ingest_new_profiles (
        phone text PRIMARY KEY
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS ingest_new_events (
        event_id bigint PRIMARY KEY,
        provider text NOT NULL,
        provider_message_id text NOT NULL,
        error_code text
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS ingest_new_changes (
        change_id bigint PRIMARY KEY
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS ingest_touched (
        profile_id bigint NOT NULL,
        channel text NOT NULL,
        PRIMARY KEY (profile_id, channel)
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS ingest_locked (
        profile_id bigint NOT NULL,
        channel text NOT NULL,
        PRIMARY KEY (profile_id, channel)
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS ingest_profile_results (
        line bigint, result text, id bigint, note text
    ) ON COMMIT DELETE ROWS;
    -- The messages the batch inserted, as inserted. keyword_action is
    -- the one at insert time: a conditional keyword can be judged again
    -- later in the batch.
    CREATE TEMP TABLE IF NOT EXISTS ingest_added (
        message_id bigint PRIMARY KEY,
        provider text NOT NULL,
        provider_message_id text NOT NULL,
        profile_id bigint NOT NULL,
        channel text NOT NULL,
        direction text NOT NULL,
        from_address text NOT NULL,
        to_address text NOT NULL,
        body text NOT NULL,
        sent_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL,
        keyword text,
        keyword_action text,
        keyword_conditional boolean NOT NULL,
        possible_opt_out boolean NOT NULL,
        counts_unread boolean NOT NULL,
        -- Receipts for it were stored before it, or in the same batch.
        has_receipts boolean NOT NULL DEFAULT false
    ) ON COMMIT DELETE ROWS;
    -- Pairs whose consent changes were added or withdrawn.
    CREATE TEMP TABLE IF NOT EXISTS ingest_consent_changed (
        profile_id bigint NOT NULL,
        channel text NOT NULL,
        PRIMARY KEY (profile_id, channel)
    ) ON COMMIT DELETE ROWS;
    -- Pairs with a message whose keyword action was judged again.
    CREATE TEMP TABLE IF NOT EXISTS ingest_rejudged (
        profile_id bigint NOT NULL,
        channel text NOT NULL,
        PRIMARY KEY (profile_id, channel)
    ) ON COMMIT DELETE ROWS;
    -- What the batch means for the conversation of each touched pair.
    -- existed: the pair had a conversation when the batch looked;
    -- created: the batch created it; recount: summarise from all the
    -- pair's messages. The last_ and
    -- inbound_ columns name the latest added message and the latest
    -- added inbound one; unread_added counts the added messages that
    -- count as unread, the earliest of them recorded at unread_since.
    CREATE TEMP TABLE IF NOT EXISTS ingest_pairs (
        profile_id bigint NOT NULL,
        channel text NOT NULL,
        has_conversation boolean NOT NULL,
        existed boolean NOT NULL,
        created boolean NOT NULL DEFAULT false,
        recount boolean NOT NULL,
        reopen boolean NOT NULL,
        flagged_message_id bigint,
        last_message_id bigint,
        last_body text,
        last_direction text,
        last_at timestamptz,
        last_provider_message_id text,
        inbound_to text,
        inbound_at timestamptz,
        inbound_provider_message_id text,
        unread_added integer NOT NULL,
        unread_since timestamptz,
        PRIMARY KEY (profile_id, channel)
    ) ON COMMIT DELETE ROWS;
END;
$$;

-- As before (015), but a new message starts with its own status, and
-- only messages that have receipts get their status computed again.
CREATE OR REPLACE FUNCTION convo.ingest_messages(p_account bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- Lock the conversations that will receive messages before the
    -- messages get their recording time, so that a concurrent
    -- convo-read either sees a message or leaves it unread.
    INSERT INTO pg_temp.ingest_locked
    SELECT s.profile_id, s.channel
    FROM (SELECT DISTINCT s.profile_id, s.channel
            FROM pg_temp.ingest_messages s
            ORDER BY s.profile_id, s.channel) s
    CROSS JOIN LATERAL (SELECT 1 FROM convo.conversations c
        WHERE c.account_id = p_account AND c.profile_id = s.profile_id
            AND c.channel = s.channel
        FOR UPDATE) c
    ON CONFLICT DO NOTHING;

    WITH firsts AS (
        SELECT DISTINCT ON (s.provider, s.provider_message_id) s.*
        FROM pg_temp.ingest_messages s
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
            -- A blocked customer's message never counts as unread. The
            -- lock above orders this read after a convo-mark --block.
            b.blocked IS NULL
        FROM keys k
        JOIN firsts f ON f.provider = k.provider
            AND f.provider_message_id = k.provider_message_id
        LEFT JOIN LATERAL (SELECT true AS blocked FROM convo.conversations c
            WHERE c.account_id = p_account AND c.profile_id = f.profile_id
                AND c.channel = f.channel AND c.blocked
            OFFSET 0) b ON true
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
    -- reaches one partition.
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
        AND m.message_id = ANY (ARRAY(SELECT x.message_id FROM best x))
        AND m.sent_at >= (SELECT min(x.sent_at) FROM best x)
        AND m.sent_at <= (SELECT max(x.sent_at) FROM best x)
        AND m.message_id = b.message_id AND m.sent_at = b.sent_at
        AND (m.status, m.status_at, m.error_code)
            IS DISTINCT FROM (b.status, b.at, b.error_code);
END;
$$;

-- As before (008), but conditional keywords are judged again only for
-- pairs that have any, and the consent in force only where changes were
-- added or withdrawn. Pairs already in pg_temp.ingest_touched when it
-- starts (convo.conversation_confirm_opt_out puts one there) count as
-- changed.
CREATE OR REPLACE FUNCTION convo.ingest_consent(p_account bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_pair record;
    v_msg record;
    v_state text;
    v_keyword boolean;
BEGIN
    INSERT INTO pg_temp.ingest_consent_changed
    SELECT t.profile_id, t.channel FROM pg_temp.ingest_touched t
    ON CONFLICT DO NOTHING;

    WITH firsts AS (
        SELECT DISTINCT ON (s.profile_id, s.channel, s.at, s.status,
            s.method) s.*
        FROM pg_temp.ingest_consents s
        ORDER BY s.profile_id, s.channel, s.at, s.status, s.method, s.line
    ), ins AS (
        INSERT INTO convo.consent_changes (account_id, profile_id, channel,
            status, method, at)
        SELECT p_account, f.profile_id, f.channel, f.status, f.method, f.at
        FROM firsts f ORDER BY f.profile_id, f.channel, f.at
        ON CONFLICT DO NOTHING
        RETURNING consent_changes.change_id, consent_changes.profile_id,
            consent_changes.channel
    ), x AS (
        INSERT INTO pg_temp.ingest_new_changes SELECT ins.change_id FROM ins
    )
    INSERT INTO pg_temp.ingest_consent_changed
    SELECT DISTINCT ins.profile_id, ins.channel FROM ins
    ON CONFLICT DO NOTHING;

    -- Opt-out and unconditional opt-in keywords.
    WITH ins AS (
        INSERT INTO convo.consent_changes (account_id, profile_id, channel,
            status, method, at, message_id, keyword)
        SELECT p_account, n.profile_id, n.channel,
            CASE n.keyword_action WHEN 'opt_out' THEN 'unsubscribed'
                ELSE 'subscribed' END,
            'keyword', n.sent_at, n.message_id, n.keyword
        FROM pg_temp.ingest_added n
        WHERE n.keyword_action IN ('opt_out', 'opt_in')
        ORDER BY n.profile_id, n.channel, n.sent_at
        ON CONFLICT DO NOTHING
        RETURNING consent_changes.change_id, consent_changes.profile_id,
            consent_changes.channel
    ), x AS (
        INSERT INTO pg_temp.ingest_new_changes SELECT ins.change_id FROM ins
    )
    INSERT INTO pg_temp.ingest_consent_changed
    SELECT DISTINCT ins.profile_id, ins.channel FROM ins
    ON CONFLICT DO NOTHING;

    -- Error 21610: the recipient replied STOP to the sender. The receipt
    -- names the recipient, or its message does.
    -- NOTE: a receipt stored before its message and without a channel is
    -- taken as sms, so one for a WhatsApp message also unsubscribes sms.
    WITH events AS (
        SELECT e.* FROM pg_temp.ingest_new_events ne
        CROSS JOIN LATERAL (SELECT e.* FROM convo.status_events e
            WHERE e.account_id = p_account AND e.event_id = ne.event_id
            OFFSET 0) e
        WHERE ne.error_code = '21610'
        UNION
        SELECT e.* FROM pg_temp.ingest_added n
        CROSS JOIN LATERAL (SELECT e.* FROM convo.status_events e
            WHERE e.account_id = p_account AND e.provider = n.provider
                AND e.provider_message_id = n.provider_message_id
                AND e.error_code = '21610'
            OFFSET 0) e
        WHERE n.has_receipts
    ), targets AS (
        SELECT DISTINCT coalesce(p.profile_id, m.profile_id) AS profile_id,
            coalesce(m.channel, e.channel, 'sms') AS channel,
            e.at, e.provider_message_id, e.error_code
        FROM events e
        LEFT JOIN LATERAL (SELECT m.profile_id, m.channel
            FROM convo.messages m
            WHERE m.account_id = p_account AND m.provider = e.provider
                AND m.provider_message_id = e.provider_message_id
            OFFSET 0) m ON true
        LEFT JOIN LATERAL (SELECT p.profile_id FROM convo.profiles p
            WHERE p.account_id = p_account AND p.phone = e.to_phone
            OFFSET 0) p ON true
    ), ins AS (
        INSERT INTO convo.consent_changes (account_id, profile_id, channel,
            status, method, at, provider_message_id, error_code)
        SELECT p_account, t.profile_id, t.channel, 'unsubscribed',
            'provider_error', t.at, t.provider_message_id, t.error_code
        FROM targets t WHERE t.profile_id IS NOT NULL
        ORDER BY t.profile_id, t.channel, t.at
        ON CONFLICT DO NOTHING
        RETURNING consent_changes.change_id, consent_changes.profile_id,
            consent_changes.channel
    ), x AS (
        INSERT INTO pg_temp.ingest_new_changes SELECT ins.change_id FROM ins
    )
    INSERT INTO pg_temp.ingest_consent_changed
    SELECT DISTINCT ins.profile_id, ins.channel FROM ins
    ON CONFLICT DO NOTHING;

    INSERT INTO pg_temp.ingest_touched
    SELECT c.profile_id, c.channel FROM pg_temp.ingest_consent_changed c
    UNION
    SELECT n.profile_id, n.channel FROM pg_temp.ingest_added n
    ON CONFLICT DO NOTHING;

    -- A conditional opt-in (YES) is a keyword only while the customer is
    -- not subscribed at the message's time. Each judgement can change the
    -- consent that later ones see, so they go in time order.
    FOR v_pair IN SELECT t.profile_id, t.channel
        FROM pg_temp.ingest_touched t
        WHERE (SELECT true FROM convo.messages x
            WHERE x.account_id = p_account AND x.profile_id = t.profile_id
                AND x.channel = t.channel AND x.keyword_conditional
            LIMIT 1)
        ORDER BY 1, 2
    LOOP
        FOR v_msg IN SELECT x.message_id, x.sent_at, x.keyword,
                x.keyword_action
            FROM convo.messages x
            WHERE x.account_id = p_account
                AND x.profile_id = v_pair.profile_id
                AND x.channel = v_pair.channel AND x.keyword_conditional
            ORDER BY x.sent_at, x.provider_message_id
        LOOP
            SELECT c.status INTO v_state FROM convo.consent_changes c
            WHERE c.account_id = p_account
                AND c.profile_id = v_pair.profile_id
                AND c.channel = v_pair.channel AND c.at < v_msg.sent_at
            ORDER BY c.at DESC, c.status = 'unsubscribed' DESC,
                c.change_id DESC
            LIMIT 1;
            v_keyword := coalesce(v_state, 'never_subscribed')
                <> 'subscribed';
            IF v_keyword AND v_msg.keyword_action IS NULL THEN
                UPDATE convo.messages x SET keyword_action = 'opt_in'
                WHERE x.account_id = p_account
                    AND x.message_id = v_msg.message_id
                    AND x.sent_at = v_msg.sent_at;
                INSERT INTO convo.consent_changes (account_id, profile_id,
                    channel, status, method, at, message_id, keyword)
                VALUES (p_account, v_pair.profile_id, v_pair.channel,
                    'subscribed', 'keyword', v_msg.sent_at, v_msg.message_id,
                    v_msg.keyword)
                ON CONFLICT DO NOTHING;
            ELSIF NOT v_keyword AND v_msg.keyword_action IS NOT NULL THEN
                UPDATE convo.messages x SET keyword_action = NULL
                WHERE x.account_id = p_account
                    AND x.message_id = v_msg.message_id
                    AND x.sent_at = v_msg.sent_at;
                DELETE FROM convo.consent_changes c
                WHERE c.account_id = p_account
                    AND c.profile_id = v_pair.profile_id
                    AND c.channel = v_pair.channel
                    AND c.at = v_msg.sent_at
                    AND c.message_id = v_msg.message_id;
            ELSE
                CONTINUE;
            END IF;
            INSERT INTO pg_temp.ingest_rejudged
            VALUES (v_pair.profile_id, v_pair.channel)
            ON CONFLICT DO NOTHING;
            INSERT INTO pg_temp.ingest_consent_changed
            VALUES (v_pair.profile_id, v_pair.channel)
            ON CONFLICT DO NOTHING;
        END LOOP;
    END LOOP;

    -- The consent in force is the latest change; at the same instant
    -- unsubscribed wins.
    INSERT INTO convo.consent AS s (account_id, profile_id, channel,
        status, changed_at, change_id)
    SELECT p_account, t.profile_id, t.channel, c.status, c.at, c.change_id
    FROM pg_temp.ingest_consent_changed t
    CROSS JOIN LATERAL (SELECT c.status, c.at, c.change_id
        FROM convo.consent_changes c
        WHERE c.account_id = p_account AND c.profile_id = t.profile_id
            AND c.channel = t.channel
        ORDER BY c.at DESC, c.status = 'unsubscribed' DESC,
            c.change_id DESC
        LIMIT 1) c
    ORDER BY t.profile_id, t.channel
    ON CONFLICT (account_id, profile_id, channel) DO UPDATE
    SET status = EXCLUDED.status, changed_at = EXCLUDED.changed_at,
        change_id = EXCLUDED.change_id
    WHERE (s.status, s.changed_at, s.change_id)
        IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.changed_at,
            EXCLUDED.change_id);
    DELETE FROM convo.consent s
    USING (SELECT t.profile_id, t.channel
        FROM pg_temp.ingest_consent_changed t
        LEFT JOIN LATERAL (SELECT 1 AS one FROM convo.consent_changes c
            WHERE c.account_id = p_account AND c.profile_id = t.profile_id
                AND c.channel = t.channel
            LIMIT 1) c ON true
        WHERE c.one IS NULL) t
    WHERE s.account_id = p_account
        AND s.profile_id = t.profile_id AND s.channel = t.channel;
    DELETE FROM pg_temp.ingest_consent_changed;
END;
$$;

-- Create, remove and summarise the conversations of touched pairs. A
-- pair whose conversation existed and whose messages kept their keyword
-- actions moves forward from what the batch added; any other is
-- summarised from all its messages. Both give the same summary, because
-- every change to a pair's messages or read mark happens under the
-- conversation's lock and updates the summary.
CREATE OR REPLACE FUNCTION convo.ingest_conversations(p_account bigint)
RETURNS void
LANGUAGE plpgsql AS $$
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
            OR coalesce((l.sent_at, l.provider_message_id)
                = (c.last_at, c.last_provider_message_id), false),
        -- A closed or snoozed conversation reopens when the customer
        -- writes again, unless it is blocked.
        coalesce(a.reopen, false), a.flagged_message_id,
        l.message_id, l.body, l.direction, l.sent_at, l.provider_message_id,
        i.to_address, i.sent_at, i.provider_message_id,
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
    LEFT JOIN (
        SELECT n.profile_id, n.channel,
            bool_or(n.direction = 'inbound' AND n.action IS NULL) AS reopen,
            (array_agg(n.message_id
                ORDER BY n.sent_at DESC, n.provider_message_id DESC)
                FILTER (WHERE n.possible_opt_out AND n.action IS NULL))[1]
                AS flagged_message_id,
            count(*) FILTER (WHERE n.direction = 'inbound'
                AND n.action IS NULL AND n.counts_unread) AS unread_added,
            min(n.recorded_at) FILTER (WHERE n.direction = 'inbound'
                AND n.action IS NULL AND n.counts_unread) AS unread_since,
            count(*) <> count(DISTINCT (n.sent_at, n.provider_message_id))
                AS tied
        FROM (SELECT n.*,
                CASE WHEN n.keyword_conditional
                    THEN (SELECT m.keyword_action FROM convo.messages m
                        WHERE m.account_id = p_account
                            AND m.message_id = n.message_id
                            AND m.sent_at = n.sent_at)
                    ELSE n.keyword_action END AS action
            FROM pg_temp.ingest_added n) n
        GROUP BY n.profile_id, n.channel
    ) a ON a.profile_id = t.profile_id AND a.channel = t.channel
    LEFT JOIN (SELECT DISTINCT ON (n.profile_id, n.channel) n.*
        FROM pg_temp.ingest_added n
        ORDER BY n.profile_id, n.channel, n.sent_at DESC,
            n.provider_message_id DESC) l
        ON l.profile_id = t.profile_id AND l.channel = t.channel
    LEFT JOIN (SELECT DISTINCT ON (n.profile_id, n.channel) n.*
        FROM pg_temp.ingest_added n
        WHERE n.direction = 'inbound'
        ORDER BY n.profile_id, n.channel, n.sent_at DESC,
            n.provider_message_id DESC) i
        ON i.profile_id = t.profile_id AND i.channel = t.channel;

    -- A new conversation is written once, with its summary, from all
    -- the pair's messages: campaign texts may have come before.
    WITH ins AS (
        INSERT INTO convo.conversations (account_id, profile_id, channel,
            brand_address, flagged_message_id, flagged_at, unread_count,
            last_message_id, last_body, last_direction, last_at,
            last_provider_message_id, search_text)
        SELECT p_account, s.profile_id, s.channel,
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

-- Apply the staged batch and return one row per staged line. A line
-- that inserted its message gets its result from what was added; other
-- lines read the stored message.
CREATE OR REPLACE FUNCTION convo.ingest_batch(p_account bigint)
RETURNS TABLE (line bigint, kind text, result text, id text,
    conversation_id text, keyword text, action text, note text,
    reply_body text, reply_to text, reply_from text, channel text)
LANGUAGE plpgsql
-- Summed over partitions, plan costs pass jit_above_cost while each
-- statement reads a few index entries per row (see 015).
SET jit = off
AS $$
BEGIN
    INSERT INTO pg_temp.ingest_profile_results
    SELECT * FROM convo.ingest_profiles(p_account);
    PERFORM convo.ingest_messages(p_account);
    PERFORM convo.ingest_consent(p_account);
    PERFORM convo.ingest_conversations(p_account);

    RETURN QUERY
    SELECT r.line, 'profile'::text, r.result, 'p_' || r.id, NULL::text,
        NULL::text, NULL::text, r.note, NULL::text, NULL::text, NULL::text,
        NULL::text
    FROM pg_temp.ingest_profile_results r;

    RETURN QUERY
    SELECT s.line, 'message'::text,
        CASE
        WHEN s.fresh THEN 'inserted'
        WHEN NOT m.stored
            OR (m.direction, m.from_address, m.to_address, m.body, m.media)
            = (s.direction, s.from_address, s.to_address, s.body, s.media)
            THEN 'duplicate'
        ELSE 'conflict'
        END,
        'm_' || m.message_id, 'c_' || c.conversation_id,
        m.keyword,
        m.keyword_action,
        CASE WHEN NOT m.stored THEN 'message archived' END,
        CASE WHEN s.fresh AND m.keyword_action IS NOT NULL
            AND NOT coalesce(o.already_out, false)
            THEN convo.reply_expand(k.reply, a.brand_name, a.help_contact,
                a.message_frequency)
        END,
        m.from_address, m.to_address, m.channel
    FROM (SELECT x.*, n.message_id AS added_id,
            n.message_id IS NOT NULL
                AND x.line = min(x.line) OVER (PARTITION BY x.provider,
                    x.provider_message_id) AS fresh
        FROM pg_temp.ingest_messages x
        LEFT JOIN pg_temp.ingest_added n ON n.provider = x.provider
            AND n.provider_message_id = x.provider_message_id) s
    CROSS JOIN LATERAL (
        SELECT n.message_id, n.profile_id, n.channel, n.direction,
            n.from_address, n.to_address, n.body, NULL::jsonb AS media,
            n.sent_at, n.keyword,
            CASE WHEN n.keyword_conditional
                THEN (SELECT x.keyword_action FROM convo.messages x
                    WHERE x.account_id = p_account
                        AND x.message_id = n.message_id
                        AND x.sent_at = n.sent_at)
                ELSE n.keyword_action END AS keyword_action,
            true AS stored
        FROM pg_temp.ingest_added n
        WHERE s.fresh AND n.message_id = s.added_id
        UNION ALL
        -- No message with a key: its month was archived.
        SELECT mk.message_id, m.profile_id, m.channel, m.direction,
            m.from_address, m.to_address, m.body, m.media, m.sent_at,
            m.keyword, m.keyword_action, m.message_id IS NOT NULL
        FROM convo.message_keys mk
        LEFT JOIN LATERAL (SELECT m.* FROM convo.messages m
            WHERE m.account_id = p_account AND m.message_id = mk.message_id
                AND m.sent_at = mk.sent_at
            OFFSET 0) m ON true
        WHERE NOT s.fresh AND mk.account_id = p_account
            AND mk.provider = s.provider
            AND mk.provider_message_id = s.provider_message_id
    ) m
    JOIN convo.accounts a ON a.account_id = p_account
    LEFT JOIN convo.keywords k ON k.account_id = p_account
        AND k.word = m.keyword
    LEFT JOIN LATERAL (SELECT c.conversation_id FROM convo.conversations c
        WHERE c.account_id = p_account AND c.profile_id = m.profile_id
            AND c.channel = m.channel
        OFFSET 0) c ON true
    -- One confirmation per opt-out: a STOP from a customer who was
    -- already unsubscribed gets none.
    LEFT JOIN LATERAL (
        SELECT x.status = 'unsubscribed' AS already_out
        FROM convo.consent_changes x
        WHERE m.keyword_action = 'opt_out' AND s.added_id IS NOT NULL
            AND x.account_id = p_account AND x.profile_id = m.profile_id
            AND x.channel = m.channel AND x.at < m.sent_at
        ORDER BY x.at DESC, x.status = 'unsubscribed' DESC,
            x.change_id DESC
        LIMIT 1
    ) o ON true;

    RETURN QUERY
    SELECT s.line, 'status'::text,
        CASE
        WHEN e.event_id IS NULL OR s.line <> s.first_line
            THEN 'duplicate'
        WHEN m.message_id IS NULL THEN 'pending'
        WHEN (m.status, m.status_at, m.error_code)
            IS NOT DISTINCT FROM (s.status, s.at, s.error_code)
            THEN 'updated'
        ELSE 'inserted'
        END,
        'm_' || m.message_id, NULL::text, NULL::text, NULL::text,
        CASE WHEN m.message_id IS NOT NULL
            AND (m.status, m.error_code)
                IS DISTINCT FROM (s.status, s.error_code)
            THEN 'superseded by ' || m.status END,
        NULL::text, NULL::text, NULL::text, NULL::text
    FROM (SELECT x.*, min(x.line) OVER (PARTITION BY x.provider,
            x.provider_message_id, x.status, x.error_code) AS first_line
        FROM pg_temp.ingest_statuses x) s
    LEFT JOIN LATERAL (SELECT e.event_id FROM convo.status_events e
        WHERE e.account_id = p_account AND e.provider = s.provider
            AND e.provider_message_id = s.provider_message_id
            AND e.status = s.status
            AND e.error_code IS NOT DISTINCT FROM s.error_code
            AND e.event_id IN (SELECT ne.event_id
                FROM pg_temp.ingest_new_events ne)
        OFFSET 0) e ON true
    LEFT JOIN LATERAL (SELECT m.* FROM convo.message_keys k
        JOIN convo.messages m ON m.account_id = p_account
            AND m.message_id = k.message_id AND m.sent_at = k.sent_at
        WHERE k.account_id = p_account AND k.provider = s.provider
            AND k.provider_message_id = s.provider_message_id
        OFFSET 0) m ON true;

    RETURN QUERY
    SELECT s.line, 'consent'::text,
        CASE WHEN n.change_id IS NOT NULL AND s.line = s.first_line
            THEN 'inserted' ELSE 'duplicate' END,
        'p_' || s.profile_id, NULL::text, NULL::text, NULL::text,
        NULL::text, NULL::text, NULL::text, NULL::text, NULL::text
    FROM (SELECT x.*, min(x.line) OVER (PARTITION BY x.profile_id,
            x.channel, x.at, x.status, x.method) AS first_line
        FROM pg_temp.ingest_consents x) s
    LEFT JOIN LATERAL (SELECT c.change_id FROM convo.consent_changes c
        WHERE c.account_id = p_account AND c.profile_id = s.profile_id
            AND c.channel = s.channel AND c.at = s.at
            AND c.status = s.status AND c.method = s.method
            AND c.message_id IS NULL AND c.provider_message_id IS NULL
            AND c.change_id IN (SELECT x.change_id
                FROM pg_temp.ingest_new_changes x)
        OFFSET 0) n ON true;
END;
$$;
