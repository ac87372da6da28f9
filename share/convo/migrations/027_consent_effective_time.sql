-- Consent changes take effect no later than they are recorded.
--
-- The consent in force was the change with the latest time, and a change
-- took its time from its record: a keyword message's sent_at, a consent
-- record's or a receipt's at. A START dated in the future (a provider's
-- clock ahead, a replayed or hand-made record) therefore outranked a STOP
-- that the customer sent after the START was recorded, and the customer
-- stayed subscribed after saying STOP.
--
-- Each change now takes effect at its effective time, least(at,
-- recorded_at): the time its record states, or the time it was recorded
-- when that is earlier. An old record that arrives late keeps its own
-- time, so ingest stays order-independent for records that are not dated
-- in the future. The column at still stores the stated time and
-- recorded_at the time of recording, so the audit trail keeps both. A
-- keyword's change carries the recorded_at of its message, so that a
-- conditional keyword judged again in a later batch keeps its message's
-- effective time. The sent_at of a message is never changed.
-- convo.consent.changed_at is the effective time of the change in force.
--
-- NOTE: a Twilio webhook body takes its time from the clock of the host
-- that runs convo-ingest. When that clock is ahead of the database
-- server's, the keywords of one batch take the times at which the batch
-- inserts their messages, which need not follow the order they arrived in.

-- Serves "the consent in force at time T" lookups by effective time.
CREATE INDEX consent_changes_effective_at
    ON convo.consent_changes (account_id, profile_id, channel,
        (least(at, recorded_at)));

-- Keyword changes recorded before this migration carry the start of
-- their batch's transaction, a little before their message's recorded_at.
-- Those whose effective time depends on it take the message's.
UPDATE convo.consent_changes c SET recorded_at = m.recorded_at
FROM convo.messages m
WHERE c.method = 'keyword' AND m.account_id = c.account_id
    AND m.message_id = c.message_id AND m.sent_at = c.at
    AND c.recorded_at <> m.recorded_at
    AND c.at > least(c.recorded_at, m.recorded_at);

-- As in 016, but the changes are ordered by their effective time, and a
-- keyword's change carries its message's recorded_at. A conditional
-- keyword is judged at its message's effective time, which is also the
-- effective time of the change it makes, so the judgement never sees
-- that change.
CREATE OR REPLACE FUNCTION convo.ingest_consent(p_account bigint)
RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
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
            SELECT c.status INTO v_state FROM convo.consent_changes c
            WHERE c.account_id = p_account
                AND c.profile_id = v_pair.profile_id
                AND c.channel = v_pair.channel
                AND least(c.at, c.recorded_at) < v_msg.effective_at
            ORDER BY least(c.at, c.recorded_at) DESC,
                c.status = 'unsubscribed' DESC, c.change_id DESC
            LIMIT 1;
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
    -- at the same instant unsubscribed wins.
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

-- As 016's convo.ingest_batch, which 021 renamed, but an opt-out's
-- confirmation depends on the consent in force just before the message's
-- effective time.
CREATE OR REPLACE FUNCTION convo.ingest_batch_results(p_account bigint)
RETURNS TABLE (line bigint, kind text, result text, id text,
    conversation_id text, keyword text, action text, note text,
    reply_body text, reply_to text, reply_from text, channel text)
LANGUAGE plpgsql
-- Summed over partitions, plan costs pass jit_above_cost while each
-- statement reads a few index entries per row (see 015).
SET jit = off
SET plan_cache_mode = force_generic_plan
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
            n.sent_at, n.recorded_at, n.keyword,
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
            m.recorded_at, m.keyword, m.keyword_action,
            m.message_id IS NOT NULL
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
            AND x.channel = m.channel
            AND least(x.at, x.recorded_at) < least(m.sent_at, m.recorded_at)
        ORDER BY least(x.at, x.recorded_at) DESC,
            x.status = 'unsubscribed' DESC, x.change_id DESC
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

-- As in 022, but the customer's consent takes the change's effective
-- time.
CREATE OR REPLACE FUNCTION convo.outbox_receipts(p_account bigint)
RETURNS TABLE (line bigint, result text, id text, note text)
LANGUAGE plpgsql
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY SELECT * FROM convo.outbox_receipts_rows(p_account);
    WITH targets AS (
        SELECT DISTINCT b.profile_id, b.channel, e.at,
            e.provider_message_id, e.error_code
        FROM pg_temp.ingest_receipts x
        JOIN convo.outbox b ON b.account_id = p_account
            AND b.outbox_id = x.outbox_id AND b.state = 'sent'
        JOIN convo.status_events e ON e.account_id = p_account
            AND e.provider = b.provider
            AND e.provider_message_id = b.provider_message_id
            AND e.error_code = '21610'
    ), ins AS (
        INSERT INTO convo.consent_changes (account_id, profile_id, channel,
            status, method, at, provider_message_id, error_code)
        SELECT p_account, t.profile_id, t.channel, 'unsubscribed',
            'provider_error', t.at, t.provider_message_id, t.error_code
        FROM targets t
        ORDER BY t.profile_id, t.channel, t.at
        ON CONFLICT DO NOTHING
        RETURNING change_id, profile_id, channel,
            least(at, recorded_at) AS effective_at
    )
    INSERT INTO convo.consent AS s (account_id, profile_id, channel,
        status, changed_at, change_id)
    SELECT DISTINCT ON (ins.profile_id, ins.channel) p_account,
        ins.profile_id, ins.channel, 'unsubscribed', ins.effective_at,
        ins.change_id
    FROM ins
    ORDER BY ins.profile_id, ins.channel, ins.effective_at DESC
    ON CONFLICT (account_id, profile_id, channel) DO UPDATE
    SET status = 'unsubscribed', changed_at = EXCLUDED.changed_at,
        change_id = EXCLUDED.change_id
    WHERE s.changed_at <= EXCLUDED.changed_at;
END;
$$;

-- As in 012, but the consent in force and the judgement of conditional
-- keywords follow effective times.
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
    -- audit table; the last one of each kind is in force.
    LEFT JOIN LATERAL (
        SELECT e.action = 'block' AS blocked
        FROM convo.conversation_events e
        WHERE e.account_id = p_account
            AND e.conversation_id = c.conversation_id
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

-- Compute again the consent in force, the judgement of conditional
-- keywords and the conversation summaries of every customer and channel
-- with a change or a conditional keyword dated after its recording.
-- Ingest batches take each account's lock before they change consent.
DO $$
DECLARE
    v_account bigint;
BEGIN
    FOR v_account IN SELECT a.account_id FROM convo.accounts a
        ORDER BY a.account_id
    LOOP
        PERFORM convo.lock_account(v_account);
    END LOOP;
    PERFORM convo.ingest_prepare();
    FOR v_account IN
        SELECT DISTINCT c.account_id FROM convo.consent_changes c
        WHERE c.at > c.recorded_at
        UNION
        SELECT DISTINCT m.account_id FROM convo.messages m
        WHERE m.keyword_conditional AND m.sent_at > m.recorded_at
        ORDER BY 1
    LOOP
        INSERT INTO pg_temp.ingest_touched (profile_id, channel)
        SELECT c.profile_id, c.channel FROM convo.consent_changes c
        WHERE c.account_id = v_account AND c.at > c.recorded_at
        UNION
        SELECT m.profile_id, m.channel FROM convo.messages m
        WHERE m.account_id = v_account AND m.keyword_conditional
            AND m.sent_at > m.recorded_at
        ON CONFLICT DO NOTHING;
        PERFORM convo.ingest_consent(v_account);
        PERFORM convo.ingest_conversations(v_account);
        DELETE FROM pg_temp.ingest_touched;
    END LOOP;
END;
$$;
