-- Batch ingest. convo-ingest validates records, copies them into the
-- session's staging tables (created by convo.ingest_prepare) and calls
-- convo.ingest_batch, which applies the rules of convo-ingest(1) to the
-- whole batch with set-based statements and returns one row per staged
-- line. Every rule is written so that the result does not depend on the
-- order in which records arrive.
--
-- The staging and work tables are small and have no statistics, while
-- an account's tables can be large, with statistics that lag behind
-- during a big import. A lookup from a work table into a large table is
-- therefore written as a LATERAL subquery fenced with OFFSET 0, which
-- the planner can only run as index probes, once per work row: the cost
-- of a batch does not grow with the account. Conversations are locked
-- in the order of (profile_id, channel) by every batch, so two batches
-- never wait for each other in a cycle.

CREATE FUNCTION convo.ingest_prepare() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
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
        -- The keyword convo-ingest matched (see keyword_match()), its
        -- action, and whether the text reads like an opt-out. A provider
        -- hint can give an action without a keyword.
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
    -- Work tables of one batch.
    CREATE TEMP TABLE IF NOT EXISTS ingest_new_profiles (
        phone text PRIMARY KEY
    ) ON COMMIT DELETE ROWS;
    -- The messages the batch inserted, with what the conversation
    -- summary needs of them. keyword_action is the one at insert time:
    -- a conditional keyword can be judged again later in the batch.
    CREATE TEMP TABLE IF NOT EXISTS ingest_new_messages (
        message_id bigint PRIMARY KEY,
        provider text NOT NULL,
        provider_message_id text NOT NULL,
        profile_id bigint NOT NULL,
        channel text NOT NULL,
        direction text NOT NULL,
        sent_at timestamptz NOT NULL,
        keyword_action text,
        keyword_conditional boolean NOT NULL,
        possible_opt_out boolean NOT NULL
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
    -- Profile and channel pairs whose consent, conditional keywords or
    -- conversation may have changed.
    CREATE TEMP TABLE IF NOT EXISTS ingest_touched (
        profile_id bigint NOT NULL,
        channel text NOT NULL,
        PRIMARY KEY (profile_id, channel)
    ) ON COMMIT DELETE ROWS;
    -- Conversations this transaction holds: locked by
    -- convo.ingest_messages, or inserted by convo.ingest_conversations.
    CREATE TEMP TABLE IF NOT EXISTS ingest_locked (
        profile_id bigint NOT NULL,
        channel text NOT NULL,
        PRIMARY KEY (profile_id, channel)
    ) ON COMMIT DELETE ROWS;
    -- What the batch means for each touched pair; see
    -- convo.ingest_conversations.
    CREATE TEMP TABLE IF NOT EXISTS ingest_touched_state (
        profile_id bigint NOT NULL,
        channel text NOT NULL,
        has_conversation boolean NOT NULL,
        reopen boolean NOT NULL,
        flagged_message_id bigint,
        PRIMARY KEY (profile_id, channel)
    ) ON COMMIT DELETE ROWS;
END;
$$;

-- Create the profiles the staged records name and apply profile records
-- in line order. Returns the result of each profile record.
CREATE FUNCTION convo.ingest_profiles(p_account bigint)
RETURNS TABLE (line bigint, result text, id bigint, note text)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    v_old convo.profiles;
    v_new convo.profiles;
BEGIN
    WITH phones AS (
        SELECT s.phone FROM pg_temp.ingest_messages s
        UNION SELECT s.phone FROM pg_temp.ingest_consents s
        UNION SELECT s.phone FROM pg_temp.ingest_profiles s
        UNION SELECT s.to_phone FROM pg_temp.ingest_statuses s
            WHERE s.error_code = '21610' AND s.to_phone IS NOT NULL
    ), ins AS (
        INSERT INTO convo.profiles (account_id, phone)
        SELECT p_account, phones.phone FROM phones ORDER BY phones.phone
        ON CONFLICT DO NOTHING
        RETURNING profiles.phone
    )
    INSERT INTO pg_temp.ingest_new_profiles SELECT ins.phone FROM ins;

    UPDATE pg_temp.ingest_messages s SET profile_id = (
        SELECT p.profile_id FROM convo.profiles p
        WHERE p.account_id = p_account AND p.phone = s.phone);
    UPDATE pg_temp.ingest_consents s SET profile_id = (
        SELECT p.profile_id FROM convo.profiles p
        WHERE p.account_id = p_account AND p.phone = s.phone);

    FOR r IN SELECT * FROM pg_temp.ingest_profiles ORDER BY 1 LOOP
        SELECT * INTO v_old FROM convo.profiles p
        WHERE p.account_id = p_account AND p.phone = r.phone FOR UPDATE;
        line := r.line;
        id := v_old.profile_id;
        note := NULL;
        IF r.updated_at < v_old.updated_at THEN
            DELETE FROM pg_temp.ingest_new_profiles n
            WHERE n.phone = r.phone;
            result := CASE WHEN FOUND THEN 'inserted' ELSE 'duplicate' END;
            note := 'older than the stored profile';
            RETURN NEXT;
            CONTINUE;
        END IF;
        v_new := jsonb_populate_record(v_old,
            (r.fields - 'properties') || jsonb_build_object(
                'properties', CASE
                    WHEN NOT r.fields ? 'properties' THEN v_old.properties
                    WHEN jsonb_typeof(r.fields->'properties') = 'null'
                        THEN '{}'::jsonb
                    ELSE v_old.properties || (r.fields->'properties')
                END,
                'updated_at', coalesce(r.updated_at, v_old.updated_at)));
        IF v_new IS NOT DISTINCT FROM v_old THEN
            result := 'duplicate';
        ELSE
            UPDATE convo.profiles p SET
                external_id = v_new.external_id,
                first_name = v_new.first_name,
                last_name = v_new.last_name,
                email = v_new.email,
                photo_url = v_new.photo_url,
                timezone = v_new.timezone,
                properties = v_new.properties,
                updated_at = v_new.updated_at
            WHERE p.account_id = p_account
                AND p.profile_id = v_old.profile_id;
            result := 'updated';
        END IF;
        -- The first record of a phone seen for the first time creates it.
        DELETE FROM pg_temp.ingest_new_profiles n WHERE n.phone = r.phone;
        IF FOUND THEN
            result := 'inserted';
        END IF;
        RETURN NEXT;
    END LOOP;

    -- Names are part of the searchable text of conversations.
    UPDATE convo.conversations c SET search_text = convo.search_text(p, c)
    FROM convo.profiles p
    WHERE c.account_id = p_account AND p.account_id = p_account
        AND p.profile_id = c.profile_id
        AND p.phone IN (SELECT s.phone FROM pg_temp.ingest_profiles s);
END;
$$;

CREATE FUNCTION convo.search_text(p convo.profiles, c convo.conversations)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT lower(concat_ws(' ', p.first_name, p.last_name, p.phone,
        c.last_body));
$$;

-- Record consent changes from consent records, keywords and receipts
-- with error 21610, judge conditional keywords again where consent may
-- have changed, and recompute the consent in force.
CREATE FUNCTION convo.ingest_consent(p_account bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_pair record;
    v_msg record;
    v_state text;
    v_keyword boolean;
BEGIN
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
        RETURNING consent_changes.change_id
    )
    INSERT INTO pg_temp.ingest_new_changes SELECT ins.change_id FROM ins;

    -- Opt-out and unconditional opt-in keywords.
    WITH ins AS (
        INSERT INTO convo.consent_changes (account_id, profile_id, channel,
            status, method, at, message_id, keyword)
        SELECT p_account, n.profile_id, n.channel,
            CASE n.keyword_action WHEN 'opt_out' THEN 'unsubscribed'
                ELSE 'subscribed' END,
            'keyword', n.sent_at, n.message_id, m.keyword
        FROM pg_temp.ingest_new_messages n
        CROSS JOIN LATERAL (SELECT m.keyword FROM convo.messages m
            WHERE m.account_id = p_account AND m.message_id = n.message_id
            OFFSET 0) m
        WHERE n.keyword_action IN ('opt_out', 'opt_in')
        ORDER BY n.profile_id, n.channel, n.sent_at
        ON CONFLICT DO NOTHING
        RETURNING consent_changes.change_id
    )
    INSERT INTO pg_temp.ingest_new_changes SELECT ins.change_id FROM ins;

    -- Error 21610: the recipient replied STOP to the sender. The receipt
    -- names the recipient, or its message does.
    WITH events AS (
        SELECT e.* FROM pg_temp.ingest_new_events ne
        CROSS JOIN LATERAL (SELECT e.* FROM convo.status_events e
            WHERE e.account_id = p_account AND e.event_id = ne.event_id
            OFFSET 0) e
        WHERE ne.error_code = '21610'
        UNION
        SELECT e.* FROM pg_temp.ingest_new_messages n
        CROSS JOIN LATERAL (SELECT e.* FROM convo.status_events e
            WHERE e.account_id = p_account AND e.provider = n.provider
                AND e.provider_message_id = n.provider_message_id
                AND e.error_code = '21610'
            OFFSET 0) e
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
        RETURNING consent_changes.change_id
    )
    INSERT INTO pg_temp.ingest_new_changes SELECT ins.change_id FROM ins;

    INSERT INTO pg_temp.ingest_touched
    SELECT c.profile_id, c.channel FROM pg_temp.ingest_new_changes n
    CROSS JOIN LATERAL (SELECT c.profile_id, c.channel
        FROM convo.consent_changes c
        WHERE c.account_id = p_account AND c.change_id = n.change_id
        OFFSET 0) c
    UNION
    SELECT n.profile_id, n.channel FROM pg_temp.ingest_new_messages n
    ON CONFLICT DO NOTHING;

    -- A conditional opt-in (YES) is a keyword only while the customer is
    -- not subscribed at the message's time. Each judgement can change the
    -- consent that later ones see, so they go in time order.
    FOR v_pair IN SELECT * FROM pg_temp.ingest_touched ORDER BY 1, 2 LOOP
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
                    AND x.message_id = v_msg.message_id;
                INSERT INTO convo.consent_changes (account_id, profile_id,
                    channel, status, method, at, message_id, keyword)
                VALUES (p_account, v_pair.profile_id, v_pair.channel,
                    'subscribed', 'keyword', v_msg.sent_at, v_msg.message_id,
                    v_msg.keyword)
                ON CONFLICT DO NOTHING;
            ELSIF NOT v_keyword AND v_msg.keyword_action IS NOT NULL THEN
                UPDATE convo.messages x SET keyword_action = NULL
                WHERE x.account_id = p_account
                    AND x.message_id = v_msg.message_id;
                DELETE FROM convo.consent_changes c
                WHERE c.account_id = p_account
                    AND c.message_id = v_msg.message_id;
            END IF;
        END LOOP;
    END LOOP;

    -- The consent in force is the latest change; at the same instant
    -- unsubscribed wins.
    INSERT INTO convo.consent AS s (account_id, profile_id, channel,
        status, changed_at, change_id)
    SELECT p_account, t.profile_id, t.channel, c.status, c.at, c.change_id
    FROM pg_temp.ingest_touched t
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
    USING (SELECT t.profile_id, t.channel FROM pg_temp.ingest_touched t
        LEFT JOIN LATERAL (SELECT 1 AS one FROM convo.consent_changes c
            WHERE c.account_id = p_account AND c.profile_id = t.profile_id
                AND c.channel = t.channel
            LIMIT 1) c ON true
        WHERE c.one IS NULL) t
    WHERE s.account_id = p_account
        AND s.profile_id = t.profile_id AND s.channel = t.channel;
END;
$$;

-- Return whichever of messages A and B is later by time (ties: the
-- larger provider message id), or the one that is not NULL.
CREATE FUNCTION convo.later_message(p_account bigint, p_a bigint,
    p_b bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT m.message_id FROM convo.messages m
    WHERE m.account_id = p_account AND m.message_id IN (p_a, p_b)
    ORDER BY m.sent_at DESC, m.provider_message_id DESC
    LIMIT 1;
$$;

-- Create, remove and summarise the conversations of touched customers.
-- Every statement reaches the large tables through their indexes, once
-- per touched pair: the work of a batch does not grow with the account.
CREATE FUNCTION convo.ingest_conversations(p_account bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pg_temp.ingest_touched_state
    SELECT t.profile_id, t.channel, w.one IS NOT NULL,
        coalesce(n.reopen, false), n.flagged_message_id
    FROM pg_temp.ingest_touched t
    LEFT JOIN LATERAL (SELECT 1 AS one FROM convo.messages m
        WHERE m.account_id = p_account AND m.profile_id = t.profile_id
            AND m.channel = t.channel AND m.direction = 'inbound'
            AND m.keyword_action IS NULL
        LIMIT 1) w ON true
    LEFT JOIN (
        SELECT n.profile_id, n.channel,
            -- A closed or snoozed conversation reopens when the customer
            -- writes again, unless it is blocked.
            bool_or(n.direction = 'inbound' AND n.keyword_action IS NULL)
                AS reopen,
            (array_agg(n.message_id
                ORDER BY n.sent_at DESC, n.provider_message_id DESC)
                FILTER (WHERE n.possible_opt_out
                    AND n.keyword_action IS NULL))[1]
                AS flagged_message_id
        FROM (SELECT n.profile_id, n.channel, n.message_id, n.direction,
                n.sent_at, n.provider_message_id, n.possible_opt_out,
                CASE WHEN n.keyword_conditional
                    THEN (SELECT m.keyword_action FROM convo.messages m
                        WHERE m.account_id = p_account
                            AND m.message_id = n.message_id)
                    ELSE n.keyword_action END AS keyword_action
            FROM pg_temp.ingest_new_messages n) n
        GROUP BY n.profile_id, n.channel
    ) n ON n.profile_id = t.profile_id AND n.channel = t.channel;

    WITH ins AS (
        INSERT INTO convo.conversations (account_id, profile_id, channel)
        SELECT p_account, s.profile_id, s.channel
        FROM pg_temp.ingest_touched_state s
        WHERE s.has_conversation
        ORDER BY 2, 3
        ON CONFLICT DO NOTHING
        RETURNING conversations.profile_id, conversations.channel
    )
    INSERT INTO pg_temp.ingest_locked SELECT * FROM ins
    ON CONFLICT DO NOTHING;

    -- A conditional keyword judged again can leave a customer with no
    -- message that makes a conversation.
    DELETE FROM convo.conversations c
    USING pg_temp.ingest_touched_state s
    WHERE c.account_id = p_account
        AND c.profile_id = s.profile_id AND c.channel = s.channel
        AND NOT s.has_conversation;

    -- Counting happens in a statement that starts after the lock, so it
    -- sees every message committed by a transaction that held it before.
    -- Rows already held need no second lock.
    PERFORM 1 FROM (SELECT s.profile_id, s.channel
            FROM pg_temp.ingest_touched_state s
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
    FROM pg_temp.ingest_touched_state s
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
        AND s.has_conversation;
    DELETE FROM pg_temp.ingest_touched_state;
    DELETE FROM pg_temp.ingest_locked;
END;
$$;

