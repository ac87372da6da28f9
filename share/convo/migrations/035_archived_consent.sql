-- An archived change in force stays in force.
--
-- convo-db archive drops the consent changes of old months, while
-- convo.consent keeps the change in force. When a batch then added a
-- change to a customer's history, such as a consent record of an
-- archived month recorded again, the consent in force was computed from
-- the changes left: a customer whose STOP was archived became subscribed
-- again on a re-import of an older opt-in.
--
-- convo.consent.archived now marks a change in force that is no longer
-- among the changes: convo.partition_detach sets it when it detaches a
-- month of consent changes, in the transaction that detaches it, and
-- this migration sets it for the months archived before. Such a change
-- is replaced only by a change at least as late (unsubscribed winning at
-- the same instant), a customer whose changes are all archived keeps it,
-- and a conditional opt-in (YES) after it is judged against it when no
-- change left is later.
--
-- convo.ingest_consent is that of 027 otherwise.

-- Ingest batches take consent changes before the consent in force.
LOCK TABLE convo.consent_changes IN SHARE ROW EXCLUSIVE MODE;

ALTER TABLE convo.consent ADD COLUMN archived boolean NOT NULL
    DEFAULT false;

-- Before this migration, only archive removed the change in force of a
-- customer: a withdrawn change was replaced in its own transaction.
UPDATE convo.consent s SET archived = true
WHERE NOT EXISTS (SELECT 1 FROM convo.consent_changes c
    WHERE c.account_id = s.account_id AND c.change_id = s.change_id);

-- As in 015, but the consent in force that a month of consent changes
-- holds is marked archived as the month leaves the table, and so is
-- that of a month an unfinished archive left detached.
CREATE OR REPLACE FUNCTION convo.partition_detach(p_name text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_parent text;
    v_attached boolean;
BEGIN
    PERFORM convo.partitions_lock();
    SELECT p.parent, p.attached INTO v_parent, v_attached
    FROM convo.partitions() p WHERE p.partition = p_name;
    IF v_attached THEN
        LOCK TABLE convo.profiles IN SHARE ROW EXCLUSIVE MODE;
        EXECUTE format('ALTER TABLE convo.%I DETACH PARTITION '
            'convo_partitions.%I', v_parent, p_name);
    END IF;
    IF v_parent = 'consent_changes' THEN
        EXECUTE format('UPDATE convo.consent s SET archived = true '
            'FROM convo_partitions.%I c WHERE s.account_id = c.account_id '
            'AND s.profile_id = c.profile_id AND s.channel = c.channel '
            'AND s.change_id = c.change_id AND NOT s.archived', p_name);
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION convo.ingest_consent(p_account bigint)
RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_pair record;
    v_msg record;
    v_state text;
    v_state_at timestamptz;
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
            status, method, at, message_id, keyword, recorded_at)
        SELECT p_account, n.profile_id, n.channel,
            CASE n.keyword_action WHEN 'opt_out' THEN 'unsubscribed'
                ELSE 'subscribed' END,
            'keyword', n.sent_at, n.message_id, n.keyword, n.recorded_at
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
    -- not subscribed at the message's effective time. Each judgement can
    -- change the consent that later ones see, so they go in that order.
    FOR v_pair IN SELECT t.profile_id, t.channel
        FROM pg_temp.ingest_touched t
        WHERE (SELECT true FROM convo.messages x
            WHERE x.account_id = p_account AND x.profile_id = t.profile_id
                AND x.channel = t.channel AND x.keyword_conditional
            LIMIT 1)
        ORDER BY 1, 2
    LOOP
        FOR v_msg IN SELECT x.message_id, x.sent_at, x.recorded_at,
                least(x.sent_at, x.recorded_at) AS effective_at,
                x.keyword, x.keyword_action
            FROM convo.messages x
            WHERE x.account_id = p_account
                AND x.profile_id = v_pair.profile_id
                AND x.channel = v_pair.channel AND x.keyword_conditional
            ORDER BY least(x.sent_at, x.recorded_at), x.provider_message_id
        LOOP
            SELECT c.status, least(c.at, c.recorded_at)
            INTO v_state, v_state_at FROM convo.consent_changes c
            WHERE c.account_id = p_account
                AND c.profile_id = v_pair.profile_id
                AND c.channel = v_pair.channel
                AND least(c.at, c.recorded_at) < v_msg.effective_at
            ORDER BY least(c.at, c.recorded_at) DESC,
                c.status = 'unsubscribed' DESC, c.change_id DESC
            LIMIT 1;
            -- An archived change in force counts when no change left
            -- before the message is later.
            SELECT coalesce(
                (SELECT s.status FROM convo.consent s
                WHERE s.account_id = p_account
                    AND s.profile_id = v_pair.profile_id
                    AND s.channel = v_pair.channel AND s.archived
                    AND s.changed_at < v_msg.effective_at
                    AND (v_state_at IS NULL
                        OR (s.changed_at, s.status = 'unsubscribed')
                            > (v_state_at, v_state = 'unsubscribed'))),
                v_state)
            INTO v_state;
            v_keyword := coalesce(v_state, 'never_subscribed')
                <> 'subscribed';
            IF v_keyword AND v_msg.keyword_action IS NULL THEN
                UPDATE convo.messages x SET keyword_action = 'opt_in'
                WHERE x.account_id = p_account
                    AND x.message_id = v_msg.message_id
                    AND x.sent_at = v_msg.sent_at;
                INSERT INTO convo.consent_changes (account_id, profile_id,
                    channel, status, method, at, message_id, keyword,
                    recorded_at)
                VALUES (p_account, v_pair.profile_id, v_pair.channel,
                    'subscribed', 'keyword', v_msg.sent_at, v_msg.message_id,
                    v_msg.keyword, v_msg.recorded_at)
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

    -- The consent in force is the change with the latest effective time;
    -- at the same instant unsubscribed wins. An archived change in force
    -- is no longer among the changes, so only one as late replaces it.
    INSERT INTO convo.consent AS s (account_id, profile_id, channel,
        status, changed_at, change_id)
    SELECT p_account, t.profile_id, t.channel, c.status, c.effective_at,
        c.change_id
    FROM pg_temp.ingest_consent_changed t
    CROSS JOIN LATERAL (SELECT c.status,
            least(c.at, c.recorded_at) AS effective_at, c.change_id
        FROM convo.consent_changes c
        WHERE c.account_id = p_account AND c.profile_id = t.profile_id
            AND c.channel = t.channel
        ORDER BY least(c.at, c.recorded_at) DESC,
            c.status = 'unsubscribed' DESC, c.change_id DESC
        LIMIT 1) c
    ORDER BY t.profile_id, t.channel
    ON CONFLICT (account_id, profile_id, channel) DO UPDATE
    SET status = EXCLUDED.status, changed_at = EXCLUDED.changed_at,
        change_id = EXCLUDED.change_id, archived = false
    WHERE (s.status, s.changed_at, s.change_id)
            IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.changed_at,
                EXCLUDED.change_id)
        AND NOT (s.archived
            AND (EXCLUDED.changed_at, EXCLUDED.status = 'unsubscribed')
                < (s.changed_at, s.status = 'unsubscribed'));
    DELETE FROM convo.consent s
    USING (SELECT t.profile_id, t.channel
        FROM pg_temp.ingest_consent_changed t
        LEFT JOIN LATERAL (SELECT 1 AS one FROM convo.consent_changes c
            WHERE c.account_id = p_account AND c.profile_id = t.profile_id
                AND c.channel = t.channel
            LIMIT 1) c ON true
        WHERE c.one IS NULL) t
    WHERE s.account_id = p_account AND NOT s.archived
        AND s.profile_id = t.profile_id AND s.channel = t.channel;
    DELETE FROM pg_temp.ingest_consent_changed;
END;
$$;
