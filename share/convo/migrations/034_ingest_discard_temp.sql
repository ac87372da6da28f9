-- Work tables that come back after DISCARD TEMP, and their names in one
-- place.
--
-- DISCARD TEMP, which a pooler or a client may send, drops the work
-- tables of convo.ingest_prepare but leaves the session setting that
-- says they exist, so every later batch on that server connection
-- failed. convo.ingest_prepare now also checks that the last table
-- exists. The tables themselves are those of 033.
--
-- The names of the tables live in convo.ingest_table_names(), which the
-- truncation in convo.ingest_clear and the drop of earlier versions in
-- convo.ingest_prepare read. convo.ingest_clear counts the staged
-- records in one statement.

-- The names of the work tables in pg_temp, in the order of creation.
CREATE FUNCTION convo.ingest_table_names() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['ingest_messages', 'ingest_statuses', 'ingest_consents',
        'ingest_profiles', 'ingest_new_profiles', 'ingest_new_events',
        'ingest_new_changes', 'ingest_touched', 'ingest_locked',
        'ingest_profile_results', 'ingest_added', 'ingest_consent_changed',
        'ingest_rejudged', 'ingest_pairs', 'ingest_phones',
        'ingest_receipts', 'ingest_batch_rows'];
$$;

-- Delete the rows of the work tables, and truncate them when the
-- records staged since the last truncation reach 10,000. The count is
-- kept in the session setting convo.ingest_staged, which a rollback
-- restores along with the rows. The deletes name each table, so that
-- their plans stay cached.
CREATE OR REPLACE FUNCTION convo.ingest_clear() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_rows bigint := coalesce(
        nullif(current_setting('convo.ingest_staged', true), '')::bigint, 0);
BEGIN
    v_rows := v_rows + (SELECT count(*) FROM pg_temp.ingest_messages)
        + (SELECT count(*) FROM pg_temp.ingest_statuses)
        + (SELECT count(*) FROM pg_temp.ingest_consents)
        + (SELECT count(*) FROM pg_temp.ingest_profiles);
    DELETE FROM pg_temp.ingest_messages;
    DELETE FROM pg_temp.ingest_statuses;
    DELETE FROM pg_temp.ingest_consents;
    DELETE FROM pg_temp.ingest_profiles;
    DELETE FROM pg_temp.ingest_new_profiles;
    DELETE FROM pg_temp.ingest_new_events;
    DELETE FROM pg_temp.ingest_new_changes;
    DELETE FROM pg_temp.ingest_touched;
    DELETE FROM pg_temp.ingest_locked;
    DELETE FROM pg_temp.ingest_profile_results;
    DELETE FROM pg_temp.ingest_added;
    DELETE FROM pg_temp.ingest_consent_changed;
    DELETE FROM pg_temp.ingest_rejudged;
    DELETE FROM pg_temp.ingest_pairs;
    DELETE FROM pg_temp.ingest_phones;
    DELETE FROM pg_temp.ingest_receipts;
    DELETE FROM pg_temp.ingest_batch_rows;
    IF v_rows >= 10000 THEN
        EXECUTE (SELECT 'TRUNCATE ' || string_agg('pg_temp.' || n, ', ')
            FROM unnest(convo.ingest_table_names()) n);
        v_rows := 0;
    END IF;
    PERFORM set_config('convo.ingest_staged', v_rows::text, false);
END;
$$;

-- Create the work tables once per session, and empty them at the start
-- of each later batch, in case the one before did not. The session
-- setting convo.ingest_tables is '33' once tables of the layout of 033
-- exist, and a rollback of the creation also restores it. DISCARD TEMP
-- drops the tables and leaves the setting, so the last table created
-- must exist too. Tables of an earlier version, which a pooled server
-- session may still have, are dropped first, because IF EXISTS would
-- send a notice for each missing one.
CREATE OR REPLACE FUNCTION convo.ingest_prepare() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_name text;
BEGIN
    IF current_setting('convo.ingest_tables', true) = '33'
        AND to_regclass('pg_temp.ingest_batch_rows') IS NOT NULL
    THEN
        PERFORM convo.ingest_clear();
        RETURN;
    END IF;
    FOR v_name IN SELECT unnest(convo.ingest_table_names())
    LOOP
        IF to_regclass('pg_temp.' || v_name) IS NOT NULL THEN
            EXECUTE format('DROP TABLE pg_temp.%I', v_name);
        END IF;
    END LOOP;
    CREATE TEMP TABLE ingest_messages (
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
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE ingest_statuses (
        line bigint NOT NULL,
        provider text NOT NULL,
        provider_message_id text NOT NULL,
        status text NOT NULL,
        error_code text,
        at timestamptz NOT NULL,
        to_phone text,
        channel text
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE ingest_consents (
        line bigint NOT NULL,
        phone text NOT NULL,
        channel text NOT NULL,
        status text NOT NULL,
        method text NOT NULL,
        at timestamptz NOT NULL,
        profile_id bigint
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE ingest_profiles (
        line bigint NOT NULL,
        phone text NOT NULL,
        fields jsonb NOT NULL,
        updated_at timestamptz
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE ingest_new_profiles (
        phone text PRIMARY KEY
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE ingest_new_events (
        event_id bigint PRIMARY KEY,
        provider text NOT NULL,
        provider_message_id text NOT NULL,
        error_code text
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE ingest_new_changes (
        change_id bigint PRIMARY KEY
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE ingest_touched (
        profile_id bigint NOT NULL,
        channel text NOT NULL,
        PRIMARY KEY (profile_id, channel)
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE ingest_locked (
        profile_id bigint NOT NULL,
        channel text NOT NULL,
        PRIMARY KEY (profile_id, channel)
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE ingest_profile_results (
        line bigint, result text, id bigint, note text
    ) ON COMMIT PRESERVE ROWS;
    -- The messages the batch inserted, as inserted. keyword_action is
    -- the one at insert time: a conditional keyword can be judged again
    -- later in the batch.
    CREATE TEMP TABLE ingest_added (
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
    ) ON COMMIT PRESERVE ROWS;
    -- Pairs whose consent changes were added or withdrawn.
    CREATE TEMP TABLE ingest_consent_changed (
        profile_id bigint NOT NULL,
        channel text NOT NULL,
        PRIMARY KEY (profile_id, channel)
    ) ON COMMIT PRESERVE ROWS;
    -- Pairs with a message whose keyword action was judged again.
    CREATE TEMP TABLE ingest_rejudged (
        profile_id bigint NOT NULL,
        channel text NOT NULL,
        PRIMARY KEY (profile_id, channel)
    ) ON COMMIT PRESERVE ROWS;
    -- What the batch means for the conversation of each touched pair.
    -- existed: the pair had a conversation when the batch looked;
    -- created: the batch created it; recount: summarise from all the
    -- pair's messages. The last_ and
    -- inbound_ columns name the latest added message and the latest
    -- added inbound one; unread_added counts the added messages that
    -- count as unread, the earliest of them recorded at unread_since.
    CREATE TEMP TABLE ingest_pairs (
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
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE ingest_phones (
        phone text PRIMARY KEY,
        profile_id bigint
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE ingest_receipts (
        line bigint PRIMARY KEY,
        outbox_id bigint NOT NULL
    ) ON COMMIT PRESERVE ROWS;
    CREATE TEMP TABLE ingest_batch_rows (line bigint, kind text,
        result text, id text, conversation_id text, keyword text,
        action text, note text, reply_body text, reply_to text,
        reply_from text, channel text) ON COMMIT PRESERVE ROWS;
    PERFORM set_config('convo.ingest_tables', '33', false);
END;
$$;

-- convo.ingest_prepare creates pg_temp.ingest_receipts with the others.
CREATE OR REPLACE FUNCTION convo.outbox_receipts_prepare() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.ingest_receipts') IS NULL THEN
        PERFORM convo.ingest_prepare();
    END IF;
END;
$$;
