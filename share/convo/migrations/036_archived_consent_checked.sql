-- Archived consent in force: verify checks it as convo-ingest keeps it,
-- and every change that replaces it clears the flag.
--
-- Since 035, convo.consent.archived marks a change in force whose month
-- convo-db archive removed from convo.consent_changes. Such a change
-- stays in force until a change at least as late replaces it, and a
-- conditional opt-in (YES) after it is judged against it when no change
-- left before the YES is later. convo.verify recounted the consent in
-- force from the changes left alone, so it reported every archived
-- consent in force as differing, and judged such a YES without it.
--
-- A change that replaced the archived change in force also took it out
-- of the judgement of YES messages, so the next ingest batch of the
-- customer judged a YES after it by the changes left, withdrew the
-- opt-in it had recorded, and put an older change back in force.
-- convo.consent_archived now keeps the latest change of each customer
-- and channel in each archived month, after a later change replaces it
-- and until the month is brought back, and convo.consent.archived marks
-- the consent in force that is such a change. convo.ingest_consent and
-- convo.verify count these changes beside the ones left, and
-- convo.verify expects the latest of them to stay in force until a
-- change left is at least as late.
--
-- The opt-outs of error 21610, from convo.outbox_receipts and
-- convo.outbox_failed, replaced the change in force without clearing the
-- flag, so the consent in force was marked archived while its change
-- was among the changes. convo.outbox_failed also kept the change_id of
-- the change it replaced. Both now record their own change and clear
-- the flag, and this migration does the same for the consent they wrote
-- before.

-- Ingest batches take consent changes before the consent in force.
LOCK TABLE convo.consent_changes IN SHARE ROW EXCLUSIVE MODE;

-- Point each consent in force at a change left with its status and
-- effective time, preferring the change it names, and clear its archived
-- flag. A consent in force whose change is gone keeps its flag.
WITH matched AS (
    SELECT s.account_id, s.profile_id, s.channel, c.change_id
    FROM convo.consent s
    CROSS JOIN LATERAL (SELECT c.change_id FROM convo.consent_changes c
        WHERE c.account_id = s.account_id AND c.profile_id = s.profile_id
            AND c.channel = s.channel AND c.status = s.status
            AND least(c.at, c.recorded_at) = s.changed_at
        ORDER BY c.change_id = s.change_id DESC, c.change_id DESC
        LIMIT 1) c
    WHERE s.archived OR s.change_id IS DISTINCT FROM c.change_id
)
UPDATE convo.consent s SET change_id = m.change_id, archived = false
FROM matched m
WHERE s.account_id = m.account_id AND s.profile_id = m.profile_id
    AND s.channel = m.channel;

-- The latest change of each customer and channel in each archived month
-- of consent changes, kept after a later change replaces it, so that a
-- conditional opt-in judged against it is judged the same way again,
-- also after another month is brought back. month is the month of the
-- partition that held the change.
CREATE TABLE convo.consent_archived (
    account_id bigint NOT NULL,
    profile_id bigint NOT NULL,
    channel text NOT NULL,
    month date NOT NULL,
    status text NOT NULL,
    effective_at timestamptz NOT NULL,
    change_id bigint NOT NULL,
    PRIMARY KEY (account_id, profile_id, channel, month),
    FOREIGN KEY (account_id, profile_id) REFERENCES convo.profiles
);

-- Of the changes archived before, only those still in force are known.
INSERT INTO convo.consent_archived (account_id, profile_id, channel,
    month, status, effective_at, change_id)
SELECT s.account_id, s.profile_id, s.channel,
    convo.month_of(s.changed_at), s.status, s.changed_at, s.change_id
FROM convo.consent s
WHERE s.archived AND s.change_id IS NOT NULL;

-- As in 035, and the latest change of each customer and channel in the
-- month is kept in convo.consent_archived.
CREATE OR REPLACE FUNCTION convo.partition_detach(p_name text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_parent text;
    v_month date;
    v_attached boolean;
BEGIN
    PERFORM convo.partitions_lock();
    SELECT p.parent, p.month, p.attached INTO v_parent, v_month, v_attached
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
        EXECUTE format('INSERT INTO convo.consent_archived AS a '
            '(account_id, profile_id, channel, month, status, '
            'effective_at, change_id) '
            'SELECT DISTINCT ON (x.account_id, x.profile_id, x.channel) '
            'x.account_id, x.profile_id, x.channel, $1, x.status, '
            'least(x.at, x.recorded_at), x.change_id '
            'FROM convo_partitions.%I x '
            'ORDER BY x.account_id, x.profile_id, x.channel, '
            'least(x.at, x.recorded_at) DESC, '
            'x.status = ''unsubscribed'' DESC, x.change_id DESC '
            'ON CONFLICT (account_id, profile_id, channel, month) '
            'DO UPDATE SET status = EXCLUDED.status, '
            'effective_at = EXCLUDED.effective_at, '
            'change_id = EXCLUDED.change_id', p_name) USING v_month;
    END IF;
END;
$$;

-- As in 027, but the consent in force that a receipt replaces is no
-- longer archived.
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
        change_id = EXCLUDED.change_id, archived = false
    WHERE s.changed_at <= EXCLUDED.changed_at;
END;
$$;

-- As in 009, but the consent in force names the change of the error, and
-- one that it replaces is no longer archived.
CREATE OR REPLACE FUNCTION convo.outbox_failed(p_account bigint,
    p_outbox bigint, p_error_code text, p_error_message text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    o convo.outbox;
    v_change bigint;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    UPDATE convo.outbox x SET state = 'failed', error_code = p_error_code,
        error_message = p_error_message, updated_at = now()
    WHERE x.account_id = p_account AND x.outbox_id = p_outbox
    RETURNING * INTO o;
    IF p_error_code = '21610' THEN
        INSERT INTO convo.consent_changes (account_id, profile_id, channel,
            status, method, at, error_code)
        VALUES (p_account, o.profile_id, o.channel, 'unsubscribed',
            'provider_error', now(), p_error_code)
        ON CONFLICT DO NOTHING
        RETURNING change_id INTO v_change;
        -- The same error recorded earlier in this transaction.
        IF v_change IS NULL THEN
            SELECT c.change_id INTO v_change FROM convo.consent_changes c
            WHERE c.account_id = p_account AND c.profile_id = o.profile_id
                AND c.channel = o.channel AND c.at = now()
                AND c.status = 'unsubscribed'
                AND c.method = 'provider_error'
                AND c.message_id IS NULL
                AND c.provider_message_id IS NULL;
        END IF;
        INSERT INTO convo.consent AS s (account_id, profile_id, channel,
            status, changed_at, change_id)
        VALUES (p_account, o.profile_id, o.channel, 'unsubscribed', now(),
            v_change)
        ON CONFLICT (account_id, profile_id, channel) DO UPDATE
        SET status = 'unsubscribed', changed_at = EXCLUDED.changed_at,
            change_id = EXCLUDED.change_id, archived = false
        WHERE s.changed_at <= EXCLUDED.changed_at;
    END IF;
END;
$$;

-- As in 029, but the latest archived change counts in the consent in
-- force and in the judgement of conditional keywords.
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
    -- last. No change means no row. The latest archived change is no
    -- longer among the changes, so it is in force until a change left is
    -- at least as late, unsubscribed winning at the same instant, as in
    -- convo.ingest_consent.
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
    LEFT JOIN LATERAL (SELECT a.status, a.effective_at
        FROM convo.consent_archived a
        WHERE a.account_id = p_account
            AND a.profile_id = coalesce(l.profile_id, s.profile_id)
            AND a.channel = coalesce(l.channel, s.channel)
        ORDER BY a.effective_at DESC, a.status = 'unsubscribed' DESC
        LIMIT 1) a ON true
    CROSS JOIN LATERAL (SELECT a.status IS NOT NULL
        AND (l.profile_id IS NULL
            OR (a.effective_at, a.status = 'unsubscribed')
                > (l.effective_at, l.status = 'unsubscribed'))
        AS archived) w
    CROSS JOIN LATERAL (VALUES
        ('consent', to_jsonb(s.status), to_jsonb(CASE WHEN w.archived
            THEN a.status ELSE l.status END)),
        ('consent_changed_at', to_jsonb(convo.rfc3339(s.changed_at)),
            to_jsonb(convo.rfc3339(CASE WHEN w.archived
                THEN a.effective_at ELSE l.effective_at END)))
    ) v (field, stored, expected)
    WHERE v.stored IS DISTINCT FROM v.expected

    -- A conditional opt-in (YES) is a keyword exactly when the customer
    -- was not subscribed just before its effective time. The latest
    -- archived change before that time counts when no change left before
    -- it is later, as in convo.ingest_consent.
    UNION ALL
    SELECT c.conversation_id, x.profile_id, x.channel, x.message_id,
        'keyword_action', to_jsonb(x.keyword_action), to_jsonb(j.action)
    FROM convo.messages x
    LEFT JOIN LATERAL (
        SELECT k.status, least(k.at, k.recorded_at) AS effective_at
        FROM convo.consent_changes k
        WHERE k.account_id = p_account AND k.profile_id = x.profile_id
            AND k.channel = x.channel
            AND least(k.at, k.recorded_at)
                < least(x.sent_at, x.recorded_at)
        ORDER BY least(k.at, k.recorded_at) DESC,
            k.status = 'unsubscribed' DESC, k.change_id DESC
        LIMIT 1
    ) k ON true
    LEFT JOIN LATERAL (SELECT a.status
        FROM convo.consent_archived a
        WHERE a.account_id = p_account AND a.profile_id = x.profile_id
            AND a.channel = x.channel
            AND a.effective_at < least(x.sent_at, x.recorded_at)
            AND (k.effective_at IS NULL
                OR (a.effective_at, a.status = 'unsubscribed')
                    > (k.effective_at, k.status = 'unsubscribed'))
        ORDER BY a.effective_at DESC, a.status = 'unsubscribed' DESC
        LIMIT 1) a ON true
    CROSS JOIN LATERAL (
        SELECT CASE WHEN coalesce(a.status, k.status,
                'never_subscribed')
                <> 'subscribed'
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

-- A month of consent changes restored from its archive file and moved
-- into its partition by convo-db maintain clears the archived flag of
-- the consent in force whose change it holds.
CREATE OR REPLACE FUNCTION convo.partition_create(p_parent text, p_month date)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_moved bigint;
    v_column text;
    v_name text := p_parent || '_' || to_char(p_month, 'YYYY_MM');
    v_from timestamptz := p_month::timestamp AT TIME ZONE 'UTC';
    v_to timestamptz := (p_month + interval '1 month')::timestamp
        AT TIME ZONE 'UTC';
    v_attached boolean;
BEGIN
    SELECT t.time_column INTO STRICT v_column
    FROM convo.partitioned_tables() t WHERE t.parent = p_parent;
    IF p_month <> date_trunc('month', p_month)::date THEN
        RAISE EXCEPTION 'month % does not start on its first day', p_month;
    END IF;
    PERFORM convo.partitions_lock();
    SELECT p.attached INTO v_attached
    FROM convo.partitions() p WHERE p.partition = v_name;
    IF v_attached THEN
        RETURN NULL;
    ELSIF NOT v_attached THEN
        RAISE EXCEPTION 'partition convo_partitions.% is detached', v_name
            USING HINT = 'Run convo-db archive to finish archiving it.';
    END IF;
    LOCK TABLE convo.profiles IN SHARE ROW EXCLUSIVE MODE;
    PERFORM convo.partitions_defaults();
    EXECUTE format('LOCK TABLE convo_partitions.%I IN EXCLUSIVE MODE',
        p_parent || '_default');
    EXECUTE format('CREATE TABLE convo_partitions.%I (LIKE convo.%I '
        'INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', v_name, p_parent);
    EXECUTE format('WITH moved AS (DELETE FROM convo_partitions.%I d '
        'WHERE d.%I >= $1 AND d.%I < $2 RETURNING d.*) '
        'INSERT INTO convo_partitions.%I SELECT * FROM moved',
        p_parent || '_default', v_column, v_column, v_name)
        USING v_from, v_to;
    GET DIAGNOSTICS v_moved = ROW_COUNT;
    EXECUTE format('ALTER TABLE convo.%I ATTACH PARTITION '
        'convo_partitions.%I FOR VALUES FROM (%L) TO (%L)',
        p_parent, v_name, v_from, v_to);
    -- Changes copied back from an archive file are among the changes
    -- again, so the consent in force that names one is not archived.
    IF p_parent = 'consent_changes' AND v_moved > 0 THEN
        EXECUTE format('UPDATE convo.consent s SET archived = false '
            'FROM convo_partitions.%I c WHERE s.archived '
            'AND c.account_id = s.account_id AND c.change_id = s.change_id',
            v_name);
        DELETE FROM convo.consent_archived a WHERE a.month = p_month;
    END IF;
    RETURN v_moved;
END;
$$;

-- As in 035, but the latest archived change of the customer, kept when a
-- later change replaced it, counts in the judgement of a conditional
-- opt-in and in the consent in force.
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
            -- The latest archived change counts when no change left
            -- before the message is later.
            SELECT coalesce(
                (SELECT a.status FROM convo.consent_archived a
                WHERE a.account_id = p_account
                    AND a.profile_id = v_pair.profile_id
                    AND a.channel = v_pair.channel
                    AND a.effective_at < v_msg.effective_at
                    AND (v_state_at IS NULL
                        OR (a.effective_at, a.status = 'unsubscribed')
                            > (v_state_at, v_state = 'unsubscribed'))
                ORDER BY a.effective_at DESC, a.status = 'unsubscribed' DESC
                LIMIT 1),
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
    -- at the same instant unsubscribed wins. The latest archived change
    -- is no longer among the changes, so it is in force until one as late
    -- replaces it.
    INSERT INTO convo.consent AS s (account_id, profile_id, channel,
        status, changed_at, change_id, archived)
    SELECT p_account, t.profile_id, t.channel,
        CASE WHEN w.archived THEN f.status ELSE c.status END,
        CASE WHEN w.archived THEN f.effective_at ELSE c.effective_at END,
        CASE WHEN w.archived THEN f.change_id ELSE c.change_id END,
        w.archived
    FROM pg_temp.ingest_consent_changed t
    LEFT JOIN LATERAL (SELECT c.status,
            least(c.at, c.recorded_at) AS effective_at, c.change_id
        FROM convo.consent_changes c
        WHERE c.account_id = p_account AND c.profile_id = t.profile_id
            AND c.channel = t.channel
        ORDER BY least(c.at, c.recorded_at) DESC,
            c.status = 'unsubscribed' DESC, c.change_id DESC
        LIMIT 1) c ON true
    LEFT JOIN LATERAL (SELECT f.status, f.effective_at, f.change_id
        FROM convo.consent_archived f
        WHERE f.account_id = p_account AND f.profile_id = t.profile_id
            AND f.channel = t.channel
        ORDER BY f.effective_at DESC, f.status = 'unsubscribed' DESC
        LIMIT 1) f ON true
    CROSS JOIN LATERAL (SELECT f.status IS NOT NULL
        AND (c.change_id IS NULL
            OR (f.effective_at, f.status = 'unsubscribed')
                > (c.effective_at, c.status = 'unsubscribed'))
        AS archived) w
    WHERE c.change_id IS NOT NULL OR f.status IS NOT NULL
    ORDER BY t.profile_id, t.channel
    ON CONFLICT (account_id, profile_id, channel) DO UPDATE
    SET status = EXCLUDED.status, changed_at = EXCLUDED.changed_at,
        change_id = EXCLUDED.change_id, archived = EXCLUDED.archived
    WHERE (s.status, s.changed_at, s.change_id, s.archived)
        IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.changed_at,
            EXCLUDED.change_id, EXCLUDED.archived);
    DELETE FROM convo.consent s
    USING (SELECT t.profile_id, t.channel
        FROM pg_temp.ingest_consent_changed t
        LEFT JOIN LATERAL (SELECT 1 AS one FROM convo.consent_changes c
            WHERE c.account_id = p_account AND c.profile_id = t.profile_id
                AND c.channel = t.channel
            LIMIT 1) c ON true
        WHERE c.one IS NULL) t
    WHERE s.account_id = p_account
        AND s.profile_id = t.profile_id AND s.channel = t.channel
        AND NOT EXISTS (SELECT 1 FROM convo.consent_archived a
            WHERE a.account_id = p_account AND a.profile_id = t.profile_id
                AND a.channel = t.channel);
    DELETE FROM pg_temp.ingest_consent_changed;
END;
$$;
