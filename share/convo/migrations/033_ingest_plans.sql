-- Batches that plan their statements once per session.
--
-- The work tables of a batch (pg_temp.ingest_*) were emptied at each
-- commit by ON COMMIT DELETE ROWS. PostgreSQL empties such a table by
-- truncating it and rebuilding its indexes, and the rebuild invalidates
-- the cached plans of every statement that reads the table: each batch
-- planned its statements again, which took most of the time of a batch
-- of one record. The tables now keep their rows past a commit, and
-- convo.ingest_clear deletes them at the end of each batch instead. A
-- deleted row leaves a dead tuple that only a truncation removes, as
-- autovacuum skips temporary tables, so convo.ingest_clear truncates
-- the tables once the batches since the last truncation have staged
-- 10,000 records.
--
-- convo.ingest_profiles brought the searchable text of conversations up
-- to date with one statement that joined every profile and conversation
-- of the account, even for a batch without profile records. It now
-- updates the conversations of each changed profile.

-- Delete the rows of the work tables, and truncate them when the
-- records staged since the last truncation reach 10,000. The count is
-- kept in the session setting convo.ingest_staged, which a rollback
-- restores along with the rows.
CREATE FUNCTION convo.ingest_clear() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_rows bigint := coalesce(
        nullif(current_setting('convo.ingest_staged', true), '')::bigint, 0);
    v_count bigint;
BEGIN
    DELETE FROM pg_temp.ingest_messages;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    v_rows := v_rows + v_count;
    DELETE FROM pg_temp.ingest_statuses;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    v_rows := v_rows + v_count;
    DELETE FROM pg_temp.ingest_consents;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    v_rows := v_rows + v_count;
    DELETE FROM pg_temp.ingest_profiles;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    v_rows := v_rows + v_count;
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
        TRUNCATE
            pg_temp.ingest_messages,
            pg_temp.ingest_statuses,
            pg_temp.ingest_consents,
            pg_temp.ingest_profiles,
            pg_temp.ingest_new_profiles,
            pg_temp.ingest_new_events,
            pg_temp.ingest_new_changes,
            pg_temp.ingest_touched,
            pg_temp.ingest_locked,
            pg_temp.ingest_profile_results,
            pg_temp.ingest_added,
            pg_temp.ingest_consent_changed,
            pg_temp.ingest_rejudged,
            pg_temp.ingest_pairs,
            pg_temp.ingest_phones,
            pg_temp.ingest_receipts,
            pg_temp.ingest_batch_rows;
        v_rows := 0;
    END IF;
    PERFORM set_config('convo.ingest_staged', v_rows::text, false);
END;
$$;

-- Create the work tables once per session, and empty them at the start
-- of each later batch, in case the one before did not. The session
-- setting convo.ingest_tables says that this version created them; a
-- rollback of the creation also restores the setting. Tables of an
-- earlier version, which a pooled server session may still have, are
-- dropped first; IF EXISTS would send a notice for each missing one.
CREATE OR REPLACE FUNCTION convo.ingest_prepare() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_name text;
BEGIN
    IF current_setting('convo.ingest_tables', true) = '33' THEN
        PERFORM convo.ingest_clear();
        RETURN;
    END IF;
    FOR v_name IN SELECT unnest(ARRAY['ingest_messages',
            'ingest_statuses', 'ingest_consents', 'ingest_profiles',
            'ingest_new_profiles', 'ingest_new_events', 'ingest_new_changes',
            'ingest_touched', 'ingest_locked', 'ingest_profile_results',
            'ingest_added', 'ingest_consent_changed', 'ingest_rejudged',
            'ingest_pairs', 'ingest_phones', 'ingest_receipts',
            'ingest_batch_rows'])
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
    IF current_setting('convo.ingest_tables', true) IS DISTINCT FROM '33'
    THEN
        PERFORM convo.ingest_prepare();
    END IF;
END;
$$;

-- As in 026, without the creation of pg_temp.ingest_phones, which
-- convo.ingest_prepare has created, and with the searchable
-- text of a conversation updated along with its profile.
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
            -- Names are part of the searchable text of conversations.
            UPDATE convo.conversations c
            SET search_text = convo.search_text(v_new, c)
            WHERE c.account_id = p_account
                AND c.profile_id = v_old.profile_id;
            result := 'updated';
        END IF;
        -- The first record of a phone seen for the first time creates it.
        DELETE FROM pg_temp.ingest_new_profiles n WHERE n.phone = r.phone;
        IF FOUND THEN
            result := 'inserted';
        END IF;
        RETURN NEXT;
    END LOOP;
END;
$$;

-- An operator's opt-out runs the batch functions on the same work
-- tables, which are emptied after it as after a batch.
ALTER FUNCTION convo.conversation_confirm_opt_out(bigint, bigint, text,
    timestamptz) RENAME TO conversation_confirm_opt_out_apply;

CREATE FUNCTION convo.conversation_confirm_opt_out(p_account bigint,
    p_conversation bigint, p_operator text, p_at timestamptz)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM convo.conversation_confirm_opt_out_apply(p_account,
        p_conversation, p_operator, p_at);
    PERFORM convo.ingest_clear();
END;
$$;
