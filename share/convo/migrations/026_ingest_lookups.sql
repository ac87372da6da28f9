-- Batches that do less work per record. The rules of convo-ingest(1) and
-- what a batch writes stay as before (migrations 008 and 016):
--
-- - convo.ingest_profiles looks each phone of a batch up once and
--   inserts only the phones it did not find, instead of inserting every
--   phone with ON CONFLICT DO NOTHING and then looking up the phone of
--   each staged message again. Every phone still takes a value from the
--   profile id sequence, in phone order, as the conflicting inserts did,
--   so new profiles get the same ids as before.
-- - convo.ingest_messages reads whether a conversation is blocked while
--   it locks it, instead of looking the conversation up for every
--   message.
-- - convo.ingest_conversations summarises what a batch added to each
--   pair from one sort of the added messages instead of three.

-- As in 008, but each phone is looked up once. The work table
-- pg_temp.ingest_phones has the batch's phones and their profiles, which
-- convo.ingest_messages reads. The profile_id column of
-- pg_temp.ingest_messages stays empty.
CREATE OR REPLACE FUNCTION convo.ingest_profiles(p_account bigint)
RETURNS TABLE (line bigint, result text, id bigint, note text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    r record;
    v_old convo.profiles;
    v_new convo.profiles;
BEGIN
    IF to_regclass('pg_temp.ingest_phones') IS NULL THEN
        CREATE TEMP TABLE ingest_phones (
            phone text PRIMARY KEY,
            profile_id bigint
        ) ON COMMIT DELETE ROWS;
    END IF;
    DELETE FROM pg_temp.ingest_phones;

    INSERT INTO pg_temp.ingest_phones (phone, profile_id)
    SELECT x.phone, p.profile_id
    FROM (SELECT s.phone FROM pg_temp.ingest_messages s
        UNION SELECT s.phone FROM pg_temp.ingest_consents s
        UNION SELECT s.phone FROM pg_temp.ingest_profiles s
        UNION SELECT s.to_phone FROM pg_temp.ingest_statuses s
            WHERE s.error_code = '21610' AND s.to_phone IS NOT NULL) x
    LEFT JOIN LATERAL (SELECT p.profile_id FROM convo.profiles p
        WHERE p.account_id = p_account AND p.phone = x.phone
        OFFSET 0) p ON true;

    -- Every phone takes an id from the identity sequence of profile_id,
    -- in phone order: PostgreSQL computes a volatile output column such
    -- as nextval() after the sort of ORDER BY. The INSERT ... ON
    -- CONFLICT of every phone in 008 took one for each phone in the same
    -- order, and only the phones not found keep theirs.
    WITH numbered AS MATERIALIZED (
        SELECT x.phone, x.profile_id,
            nextval('convo.profiles_profile_id_seq'::regclass) AS new_id
        FROM pg_temp.ingest_phones x
        ORDER BY x.phone
    ), ins AS (
        INSERT INTO convo.profiles (account_id, profile_id, phone)
        SELECT p_account, n.new_id, n.phone
        FROM numbered n
        WHERE n.profile_id IS NULL
        ORDER BY n.phone
        ON CONFLICT DO NOTHING
        RETURNING profiles.phone, profiles.profile_id
    ), added AS (
        INSERT INTO pg_temp.ingest_new_profiles SELECT ins.phone FROM ins
    )
    UPDATE pg_temp.ingest_phones x SET profile_id = ins.profile_id
    FROM ins
    WHERE x.phone = ins.phone;

    -- A phone that another transaction inserted after the lookup above.
    UPDATE pg_temp.ingest_phones x SET profile_id = (
        SELECT p.profile_id FROM convo.profiles p
        WHERE p.account_id = p_account AND p.phone = x.phone)
    WHERE x.profile_id IS NULL;

    UPDATE pg_temp.ingest_consents s SET profile_id = x.profile_id
    FROM pg_temp.ingest_phones x
    WHERE x.phone = s.phone;

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

-- As in 016, but the customers of the staged messages come from
-- pg_temp.ingest_phones, which convo.ingest_profiles filled, and the
-- lock reads which conversations are blocked.
CREATE OR REPLACE FUNCTION convo.ingest_messages(p_account bigint) RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    -- Customers with a blocked conversation among those locked.
    v_blocked bigint[];
BEGIN
    -- Lock the conversations that will receive messages before the
    -- messages get their recording time, so that a concurrent
    -- convo-read either sees a message or leaves it unread. A locked
    -- conversation stays blocked or not until this transaction ends.
    WITH locked AS (
        SELECT s.profile_id, s.channel, c.blocked
        FROM (SELECT DISTINCT x.profile_id, s.channel
                FROM pg_temp.ingest_messages s
                JOIN pg_temp.ingest_phones x ON x.phone = s.phone
                ORDER BY x.profile_id, s.channel) s
        CROSS JOIN LATERAL (SELECT c.blocked FROM convo.conversations c
            WHERE c.account_id = p_account AND c.profile_id = s.profile_id
                AND c.channel = s.channel
            FOR UPDATE) c
    ), ins AS (
        INSERT INTO pg_temp.ingest_locked
        SELECT l.profile_id, l.channel FROM locked l
        ON CONFLICT DO NOTHING
    )
    SELECT coalesce(array_agg(DISTINCT l.profile_id), '{}')
    INTO v_blocked
    FROM locked l
    WHERE l.blocked;

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
            -- A blocked customer's message never counts as unread. The
            -- lock above orders this read after a convo-mark --block.
            -- Only the customers in v_blocked are looked up, so a pair
            -- that had no conversation when locked counts as not blocked.
            b.blocked IS NULL
        FROM keys k
        JOIN firsts f ON f.provider = k.provider
            AND f.provider_message_id = k.provider_message_id
        LEFT JOIN LATERAL (SELECT true AS blocked FROM convo.conversations c
            WHERE f.profile_id = ANY (v_blocked)
                AND c.account_id = p_account AND c.profile_id = f.profile_id
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

-- As in 016, but what the batch added to each pair comes from one sort
-- of the added messages instead of three.
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
