-- Conversation summaries of threads with archived months: convo-db
-- archive records what each thread's messages of a month added to the
-- summary, convo-db verify checks the summaries against these records,
-- and a month brought back has its threads' summaries counted again.
--
-- A conversation summary counts every message of its thread, and
-- convo-db archive left it so when it dropped a month of messages. So
-- convo.verify, which recounted the summary from the messages left,
-- reported every thread with messages in an archived month as
-- differing, on every run. Programs that recount a summary
-- (convo-ingest when it judges a keyword again, convo-read and
-- convo-mark for the unread count) count only the messages left, so
-- after an archive a summary may count the archived messages or not.
--
-- - convo.messages_archived keeps, for each thread and archived month,
--   what a summary needs of its messages. convo.partition_detach
--   records it in the transaction that detaches the month.
-- - convo.archived_summary gives what the records add to a thread.
--   convo.verify accepts, field by field, either the summary of the
--   messages left or the one that counts the records too.
-- - convo.partition_create, which convo-db maintain runs after the
--   month's file is copied back, removes the records of the threads
--   whose messages came back and counts their summaries again.
-- - Archives made before this migration left no record; what they
--   explain of each summary is taken over below.

-- Lock out ingest batches (they lock profiles first), convo-read and
-- convo-mark (they update conversations) and partition changes, so the
-- summaries taken over below stay as read.
SELECT convo.partitions_lock();
LOCK TABLE convo.profiles IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE convo.conversations IN SHARE MODE;

-- What the messages of one thread (customer and channel) in one archived
-- month add to its conversation summary, recorded when the month was
-- detached.
CREATE TABLE convo.messages_archived (
    account_id bigint NOT NULL,
    profile_id bigint NOT NULL,
    channel text NOT NULL,
    -- The month of the partition that held the messages; -infinity for
    -- what this migration took over from the archives made before it.
    month date NOT NULL,
    -- Inbound messages that are not keywords: one makes the conversation.
    conversation_messages bigint NOT NULL DEFAULT 0,
    -- The latest message by sent_at, ties going to the larger provider
    -- message id.
    last_message_id bigint,
    last_body text,
    last_direction text,
    last_at timestamptz,
    last_provider_message_id text,
    -- The latest inbound message, whose recipient replies are sent from.
    inbound_to text,
    inbound_at timestamptz,
    inbound_provider_message_id text,
    -- The latest message that reads like an opt-out and is not a
    -- keyword, and the ids of all such messages.
    opt_out_message_id bigint,
    opt_out_at timestamptz,
    opt_out_provider_message_id text,
    opt_out_message_ids bigint[] NOT NULL DEFAULT '{}',
    -- The conversation's last_read_at at the detach, and the messages
    -- that counted as unread against it. Setting another read mark
    -- recounts the unread messages left, so they count only while the
    -- conversation keeps this one.
    read_mark timestamptz,
    unread bigint NOT NULL DEFAULT 0,
    archived_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, profile_id, channel, month),
    FOREIGN KEY (account_id, profile_id) REFERENCES convo.profiles
);

-- convo.partition_create looks up the records of the month it creates.
CREATE INDEX messages_archived_month ON convo.messages_archived (month);

-- Record what the messages of the detached partition NAME, of MONTH,
-- add to each thread's summary. A record of the month from an earlier
-- archive (of messages that reached the month after it) is merged with
-- the new one. Call it once per detach: a second call counts the
-- messages twice.
CREATE FUNCTION convo.messages_archive_record(p_name text, p_month date)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format($sql$
        WITH threads AS (
            SELECT x.account_id, x.profile_id, x.channel, c.last_read_at,
                count(*) FILTER (WHERE x.direction = 'inbound'
                    AND x.keyword_action IS NULL) AS conversation_messages,
                count(*) FILTER (WHERE x.direction = 'inbound'
                    AND x.keyword_action IS NULL AND x.counts_unread
                    AND x.recorded_at
                        > coalesce(c.last_read_at, '-infinity')) AS unread
            FROM convo_partitions.%1$I x
            LEFT JOIN convo.conversations c ON c.account_id = x.account_id
                AND c.profile_id = x.profile_id AND c.channel = x.channel
            GROUP BY x.account_id, x.profile_id, x.channel, c.last_read_at
        ), last AS (
            SELECT DISTINCT ON (x.account_id, x.profile_id, x.channel)
                x.account_id, x.profile_id, x.channel, x.message_id,
                x.body, x.direction, x.sent_at, x.provider_message_id
            FROM convo_partitions.%1$I x
            ORDER BY x.account_id, x.profile_id, x.channel,
                x.sent_at DESC, x.provider_message_id DESC
        ), inbound AS (
            SELECT DISTINCT ON (x.account_id, x.profile_id, x.channel)
                x.account_id, x.profile_id, x.channel, x.to_address,
                x.sent_at, x.provider_message_id
            FROM convo_partitions.%1$I x
            WHERE x.direction = 'inbound'
            ORDER BY x.account_id, x.profile_id, x.channel,
                x.sent_at DESC, x.provider_message_id DESC
        ), opt_outs AS (
            SELECT x.account_id, x.profile_id, x.channel,
                array_agg(x.message_id ORDER BY x.sent_at DESC,
                    x.provider_message_id DESC) AS ids,
                max(x.sent_at) AS sent_at,
                (array_agg(x.provider_message_id ORDER BY x.sent_at DESC,
                    x.provider_message_id DESC))[1] AS provider_message_id
            FROM convo_partitions.%1$I x
            WHERE x.possible_opt_out AND x.keyword_action IS NULL
            GROUP BY x.account_id, x.profile_id, x.channel
        )
        INSERT INTO convo.messages_archived AS a (account_id, profile_id,
            channel, month, conversation_messages, last_message_id,
            last_body, last_direction, last_at, last_provider_message_id,
            inbound_to, inbound_at, inbound_provider_message_id,
            opt_out_message_id, opt_out_at, opt_out_provider_message_id,
            opt_out_message_ids, read_mark, unread)
        SELECT t.account_id, t.profile_id, t.channel, $1,
            t.conversation_messages, l.message_id, l.body, l.direction,
            l.sent_at, l.provider_message_id, i.to_address, i.sent_at,
            i.provider_message_id, o.ids[1], o.sent_at,
            o.provider_message_id, coalesce(o.ids, '{}'), t.last_read_at,
            t.unread
        FROM threads t
        JOIN last l ON l.account_id = t.account_id
            AND l.profile_id = t.profile_id AND l.channel = t.channel
        LEFT JOIN inbound i ON i.account_id = t.account_id
            AND i.profile_id = t.profile_id AND i.channel = t.channel
        LEFT JOIN opt_outs o ON o.account_id = t.account_id
            AND o.profile_id = t.profile_id AND o.channel = t.channel
        ORDER BY t.account_id, t.profile_id, t.channel
        ON CONFLICT (account_id, profile_id, channel, month) DO UPDATE SET
            conversation_messages = a.conversation_messages
                + EXCLUDED.conversation_messages,
            (last_message_id, last_body, last_direction, last_at,
                last_provider_message_id) = (SELECT x.*
                FROM (VALUES (a.last_message_id, a.last_body,
                        a.last_direction, a.last_at,
                        a.last_provider_message_id),
                    (EXCLUDED.last_message_id, EXCLUDED.last_body,
                        EXCLUDED.last_direction, EXCLUDED.last_at,
                        EXCLUDED.last_provider_message_id))
                    x (id, body, direction, at, provider_message_id)
                ORDER BY x.at DESC NULLS LAST, x.provider_message_id DESC
                LIMIT 1),
            (inbound_to, inbound_at, inbound_provider_message_id) = (
                SELECT x.*
                FROM (VALUES (a.inbound_to, a.inbound_at,
                        a.inbound_provider_message_id),
                    (EXCLUDED.inbound_to, EXCLUDED.inbound_at,
                        EXCLUDED.inbound_provider_message_id))
                    x (to_address, at, provider_message_id)
                ORDER BY x.at DESC NULLS LAST, x.provider_message_id DESC
                LIMIT 1),
            (opt_out_message_id, opt_out_at, opt_out_provider_message_id) = (
                SELECT x.*
                FROM (VALUES (a.opt_out_message_id, a.opt_out_at,
                        a.opt_out_provider_message_id),
                    (EXCLUDED.opt_out_message_id, EXCLUDED.opt_out_at,
                        EXCLUDED.opt_out_provider_message_id))
                    x (id, at, provider_message_id)
                ORDER BY x.at DESC NULLS LAST, x.provider_message_id DESC
                LIMIT 1),
            opt_out_message_ids = a.opt_out_message_ids
                || EXCLUDED.opt_out_message_ids,
            -- The unread messages of the earlier record count only while
            -- the conversation keeps the read mark they were counted
            -- against.
            unread = CASE
                WHEN a.read_mark IS NOT DISTINCT FROM EXCLUDED.read_mark
                THEN a.unread + EXCLUDED.unread
                ELSE EXCLUDED.unread END,
            read_mark = EXCLUDED.read_mark
        $sql$, p_name) USING p_month;
END;
$$;

-- What the archived months of a thread give its summary, from its
-- records in convo.messages_archived: their number, whether one makes
-- the conversation exist, the latest archived message, the latest
-- archived inbound message, the archived messages unread against the
-- read mark READ_AT, and the latest archived message that reads like an
-- opt-out with the ids of all such messages. One row, with 0 records
-- and no values for a thread without any.
--
-- A record whose latest message is among the messages again, because
-- its month was copied back and convo-db maintain has not yet removed
-- the record, counts no more. The records of -infinity, taken over by
-- this migration, always count.
CREATE FUNCTION convo.archived_summary(p_account bigint, p_profile bigint,
    p_channel text, p_read_at timestamptz)
RETURNS TABLE (records bigint, conversation boolean,
    last_message_id bigint, last_body text, last_direction text,
    last_at timestamptz, last_provider_message_id text, inbound_to text,
    inbound_at timestamptz, inbound_provider_message_id text,
    unread bigint, opt_out_message_id bigint, opt_out_at timestamptz,
    opt_out_provider_message_id text, opt_out_message_ids bigint[])
LANGUAGE sql STABLE AS $$
    WITH archived AS (
        SELECT a.*
        FROM convo.messages_archived a
        WHERE a.account_id = p_account AND a.profile_id = p_profile
            AND a.channel = p_channel
            AND (a.month = '-infinity' OR NOT EXISTS (SELECT 1
                FROM convo.messages m
                WHERE m.account_id = p_account
                    AND m.message_id = a.last_message_id
                    AND m.sent_at = a.last_at))
    )
    SELECT (SELECT count(*) FROM archived),
        EXISTS (SELECT 1 FROM archived a WHERE a.conversation_messages > 0),
        l.last_message_id, l.last_body, l.last_direction, l.last_at,
        l.last_provider_message_id,
        i.inbound_to, i.inbound_at, i.inbound_provider_message_id,
        (SELECT coalesce(sum(a.unread), 0) FROM archived a
            WHERE a.read_mark IS NOT DISTINCT FROM p_read_at),
        o.opt_out_message_id, o.opt_out_at, o.opt_out_provider_message_id,
        (SELECT coalesce(array_agg(x.id), '{}')
            FROM archived a, unnest(a.opt_out_message_ids) x (id))
    FROM (SELECT) one
    LEFT JOIN LATERAL (
        SELECT a.* FROM archived a
        WHERE a.last_at IS NOT NULL
        ORDER BY a.last_at DESC, a.last_provider_message_id DESC
        LIMIT 1
    ) l ON true
    LEFT JOIN LATERAL (
        SELECT a.* FROM archived a
        WHERE a.inbound_at IS NOT NULL
        ORDER BY a.inbound_at DESC, a.inbound_provider_message_id DESC
        LIMIT 1
    ) i ON true
    LEFT JOIN LATERAL (
        SELECT a.* FROM archived a
        WHERE a.opt_out_at IS NOT NULL
        ORDER BY a.opt_out_at DESC, a.opt_out_provider_message_id DESC
        LIMIT 1
    ) o ON true;
$$;

-- The summary of a thread counting its archived months, as
-- convo.archived_summary gives them, besides the messages left: whether
-- it has a conversation, its last message, its brand address with the
-- time and provider message id of the inbound message it comes from,
-- its unread count against the read mark READ_AT, and its latest
-- message that reads like an opt-out.
CREATE FUNCTION convo.thread_summary(p_account bigint, p_profile bigint,
    p_channel text, p_read_at timestamptz)
RETURNS TABLE (conversation boolean, last_message_id bigint,
    last_body text, last_direction text, last_at timestamptz,
    last_provider_message_id text, brand_address text,
    inbound_at timestamptz, inbound_provider_message_id text,
    unread_count bigint, opt_out_message_id bigint)
LANGUAGE sql STABLE AS $$
    SELECT
        ar.conversation OR EXISTS (SELECT 1 FROM convo.messages m
            WHERE m.account_id = p_account AND m.profile_id = p_profile
                AND m.channel = p_channel AND m.direction = 'inbound'
                AND m.keyword_action IS NULL),
        l.message_id, l.body, l.direction, l.sent_at, l.provider_message_id,
        i.to_address, i.sent_at, i.provider_message_id,
        convo.unread_count(p_account, p_profile, p_channel, p_read_at)
            + ar.unread,
        o.message_id
    FROM convo.archived_summary(p_account, p_profile, p_channel,
        p_read_at) ar
    LEFT JOIN LATERAL (
        SELECT x.*
        FROM ((SELECT m.message_id, m.body, m.direction, m.sent_at,
                    m.provider_message_id
                FROM convo.messages m
                WHERE m.account_id = p_account
                    AND m.profile_id = p_profile AND m.channel = p_channel
                ORDER BY m.sent_at DESC, m.provider_message_id DESC
                LIMIT 1)
            UNION ALL
            SELECT ar.last_message_id, ar.last_body, ar.last_direction,
                ar.last_at, ar.last_provider_message_id
            WHERE ar.last_at IS NOT NULL) x
        ORDER BY x.sent_at DESC, x.provider_message_id DESC
        LIMIT 1
    ) l ON true
    LEFT JOIN LATERAL (
        SELECT x.*
        FROM ((SELECT m.to_address, m.sent_at, m.provider_message_id
                FROM convo.messages m
                WHERE m.account_id = p_account
                    AND m.profile_id = p_profile AND m.channel = p_channel
                    AND m.direction = 'inbound'
                ORDER BY m.sent_at DESC, m.provider_message_id DESC
                LIMIT 1)
            UNION ALL
            SELECT ar.inbound_to, ar.inbound_at,
                ar.inbound_provider_message_id
            WHERE ar.inbound_at IS NOT NULL) x
        ORDER BY x.sent_at DESC, x.provider_message_id DESC
        LIMIT 1
    ) i ON true
    LEFT JOIN LATERAL (
        SELECT x.*
        FROM ((SELECT m.message_id, m.sent_at, m.provider_message_id
                FROM convo.messages m
                WHERE m.account_id = p_account
                    AND m.profile_id = p_profile AND m.channel = p_channel
                    AND m.possible_opt_out AND m.keyword_action IS NULL
                ORDER BY m.sent_at DESC, m.provider_message_id DESC
                LIMIT 1)
            UNION ALL
            SELECT ar.opt_out_message_id, ar.opt_out_at,
                ar.opt_out_provider_message_id
            WHERE ar.opt_out_at IS NOT NULL) x
        ORDER BY x.sent_at DESC, x.provider_message_id DESC
        LIMIT 1
    ) o ON true;
$$;

-- As in 036, and the month of messages that this call detaches is
-- recorded in convo.messages_archived.
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
        -- Only here: a partition found detached was recorded by the call
        -- that detached it, in the same transaction.
        IF v_parent = 'messages' THEN
            PERFORM convo.messages_archive_record(p_name, v_month);
        END IF;
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

-- Remove the records of MONTH whose latest message is among the
-- messages again, because the month's archive file was copied back, and
-- set the summaries of their conversations to convo.thread_summary's.
-- While the month was archived, convo-ingest, convo-read or convo-mark
-- may have counted a summary from the messages left only, and that
-- summary would differ from the thread once the month is back.
-- NOTE: a conversation that convo-ingest removed while the month was
-- archived, because its only message left that made it turned out to be
-- a keyword, is not created again, and convo-db verify reports it.
CREATE FUNCTION convo.messages_restored(p_month date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_accounts bigint[];
    v_profiles bigint[];
    v_channels text[];
BEGIN
    WITH back AS (
        DELETE FROM convo.messages_archived a
        WHERE a.month = p_month
            AND EXISTS (SELECT 1 FROM convo.messages m
                WHERE m.account_id = a.account_id
                    AND m.message_id = a.last_message_id
                    AND m.sent_at = a.last_at)
        RETURNING a.account_id, a.profile_id, a.channel
    )
    SELECT array_agg(b.account_id), array_agg(b.profile_id),
        array_agg(b.channel)
    INTO v_accounts, v_profiles, v_channels
    FROM back b;
    IF v_accounts IS NULL THEN
        RETURN;
    END IF;

    -- A statement of its own, so that the summaries no longer count the
    -- records just removed. Once an operator has dismissed or confirmed
    -- a flag, the flag stays as it is, as convo-ingest keeps it.
    UPDATE convo.conversations c
    SET (last_message_id, last_body, last_direction, last_at,
            last_provider_message_id, brand_address, unread_count,
            flagged_message_id, flagged_at, search_text) = (
        SELECT s.last_message_id, s.last_body, s.last_direction, s.last_at,
            s.last_provider_message_id, s.brand_address,
            s.unread_count::integer, g.flagged,
            CASE WHEN g.flagged IS NOT DISTINCT FROM c.flagged_message_id
                THEN c.flagged_at
                WHEN g.flagged IS NOT NULL THEN now() END,
            lower(concat_ws(' ', p.first_name, p.last_name, p.phone,
                s.last_body))
        FROM convo.thread_summary(c.account_id, c.profile_id, c.channel,
            c.last_read_at) s
        JOIN convo.profiles p ON p.account_id = c.account_id
            AND p.profile_id = c.profile_id
        CROSS JOIN LATERAL (
            SELECT CASE WHEN EXISTS (SELECT 1
                    FROM convo.conversation_events e
                    WHERE e.account_id = c.account_id
                        AND e.conversation_id = c.conversation_id
                        AND e.action IN ('dismiss_flag', 'confirm_opt_out'))
                THEN c.flagged_message_id
                ELSE s.opt_out_message_id END AS flagged
        ) g),
        updated_at = now()
    FROM unnest(v_accounts, v_profiles, v_channels)
        t (account_id, profile_id, channel)
    WHERE c.account_id = t.account_id AND c.profile_id = t.profile_id
        AND c.channel = t.channel;
END;
$$;

-- As in 036, and for a month of messages copied back from its archive
-- file, whose rows wait in the default partition, the records of its
-- threads go and their summaries are counted again, by
-- convo.messages_restored. That runs before the default partition is
-- locked: convo-read locks a conversation row, then reads the messages,
-- which ATTACH PARTITION keeps it from, so updating conversations after
-- ATTACH PARTITION could deadlock with it.
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
    IF p_parent = 'messages' THEN
        PERFORM convo.messages_restored(p_month);
    END IF;
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

-- A month that an unfinished archive left detached is recorded as
-- convo.partition_detach would have.
SELECT convo.messages_archive_record(p.partition, p.month)
FROM convo.partitions() p
WHERE p.parent = 'messages' AND NOT p.attached;

-- Months archived before this migration left no record. Their keys stay
-- in convo.message_keys without a message, which names the accounts
-- that archived messages but not the threads. For each conversation of
-- such an account, what its summary holds beyond convo.thread_summary
-- and that an archive explains is taken over as the record of month
-- -infinity: the conversation exists while no message counted makes
-- it; its last message, or the message its flag names, is one of those
-- keys; its brand address differs while the latest inbound message
-- counted is not its last message; its unread count exceeds the count.
-- NOTE: a summary that was wrong in one of these ways before this
-- migration is taken over too, and convo-db verify accepts it.
CREATE TEMP TABLE archived_keys ON COMMIT DROP AS
SELECT k.account_id, k.message_id, k.sent_at, k.provider_message_id
FROM convo.message_keys k
WHERE NOT EXISTS (SELECT 1 FROM convo.messages m
    WHERE m.account_id = k.account_id AND m.message_id = k.message_id
        AND m.sent_at = k.sent_at);
CREATE INDEX ON pg_temp.archived_keys (account_id, message_id);
ANALYZE pg_temp.archived_keys;

INSERT INTO convo.messages_archived (account_id, profile_id, channel,
    month, conversation_messages, last_message_id, last_body,
    last_direction, last_at, last_provider_message_id, inbound_to,
    inbound_at, inbound_provider_message_id, opt_out_message_id,
    opt_out_at, opt_out_provider_message_id, opt_out_message_ids,
    read_mark, unread)
SELECT c.account_id, c.profile_id, c.channel, '-infinity',
    CASE WHEN s.conversation THEN 0 ELSE 1 END,
    lk.message_id, CASE WHEN lk.message_id IS NOT NULL THEN c.last_body END,
    CASE WHEN lk.message_id IS NOT NULL THEN c.last_direction END,
    lk.sent_at, lk.provider_message_id,
    CASE WHEN w.brand THEN c.brand_address END,
    CASE WHEN w.brand THEN c.last_at END,
    CASE WHEN w.brand THEN c.last_provider_message_id END,
    fk.message_id, fk.sent_at, fk.provider_message_id,
    CASE WHEN fk.message_id IS NOT NULL THEN ARRAY[fk.message_id]
        ELSE '{}' END,
    c.last_read_at, greatest(c.unread_count - s.unread_count, 0)
FROM convo.conversations c
CROSS JOIN LATERAL convo.thread_summary(c.account_id, c.profile_id,
    c.channel, c.last_read_at) s
LEFT JOIN pg_temp.archived_keys lk ON lk.account_id = c.account_id
    AND lk.message_id = c.last_message_id
    AND lk.message_id IS DISTINCT FROM s.last_message_id
LEFT JOIN pg_temp.archived_keys fk ON fk.account_id = c.account_id
    AND fk.message_id = c.flagged_message_id
    AND fk.message_id IS DISTINCT FROM s.opt_out_message_id
CROSS JOIN LATERAL (SELECT c.brand_address IS NOT NULL
    AND c.brand_address IS DISTINCT FROM s.brand_address
    AND (c.last_at, c.last_provider_message_id)
        IS DISTINCT FROM (s.inbound_at, s.inbound_provider_message_id)
    AS brand) w
WHERE c.account_id IN (SELECT k.account_id FROM pg_temp.archived_keys k)
    AND (NOT s.conversation OR lk.message_id IS NOT NULL OR w.brand
        OR fk.message_id IS NOT NULL OR c.unread_count > s.unread_count);

-- As in 036, but the summary of a conversation with archived months is
-- checked against convo.thread_summary, which counts them as recorded,
-- and against the summary of the messages left: convo-ingest keeps a
-- summary that counts them, while a recount by convo-ingest, convo-read
-- or convo-mark counts only the messages left.
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

    -- Such a message in an archived month keeps the conversation too.
    UNION ALL
    SELECT c.conversation_id, c.profile_id, c.channel, NULL::bigint,
        'exists', 'true'::jsonb, 'false'::jsonb
    FROM convo.conversations c
    WHERE c.account_id = p_account
        AND NOT EXISTS (SELECT 1 FROM convo.messages m
            WHERE m.account_id = p_account AND m.profile_id = c.profile_id
                AND m.channel = c.channel AND m.direction = 'inbound'
                AND m.keyword_action IS NULL)
        AND NOT EXISTS (SELECT 1 FROM convo.messages_archived x
            WHERE x.account_id = p_account AND x.profile_id = c.profile_id
                AND x.channel = c.channel AND x.conversation_messages > 0)

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
        SELECT m.to_address, m.sent_at, m.provider_message_id
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
        SELECT m.message_id, m.sent_at, m.provider_message_id
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
    -- What the archived months give the thread. convo-ingest keeps a
    -- summary that counts them, but a recount by convo-ingest, convo-read
    -- or convo-mark counts only the messages left. So a stored value that
    -- matches the messages left is checked against them, and any other
    -- against the thread counting the archived months. A recount always
    -- finds a last message, the one it ran for, and never clears a flag,
    -- so an empty one is checked against the thread counting them.
    CROSS JOIN LATERAL convo.archived_summary(p_account, c.profile_id,
        c.channel, c.last_read_at) ar
    CROSS JOIN LATERAL (
        SELECT ar.records > 0
                AND (l.message_id IS NULL
                    OR c.last_message_id IS DISTINCT FROM l.message_id)
                AND ar.last_at IS NOT NULL
                AND (l.message_id IS NULL
                    OR (ar.last_at, ar.last_provider_message_id)
                        > (l.sent_at, l.provider_message_id))
                AS last_archived,
            ar.records > 0
                AND c.brand_address IS DISTINCT FROM b.to_address
                AND ar.inbound_at IS NOT NULL
                AND (b.sent_at IS NULL
                    OR (ar.inbound_at, ar.inbound_provider_message_id)
                        > (b.sent_at, b.provider_message_id))
                AS brand_archived,
            ar.records > 0 AND NOT d.settled
                AND (lf.message_id IS NULL
                    OR c.flagged_message_id IS DISTINCT FROM lf.message_id)
                AND ar.opt_out_at IS NOT NULL
                AND (lf.message_id IS NULL
                    OR (ar.opt_out_at, ar.opt_out_provider_message_id)
                        > (lf.sent_at, lf.provider_message_id))
                AS flag_archived
    ) k
    CROSS JOIN LATERAL (
        SELECT CASE WHEN k.last_archived THEN ar.last_message_id
                ELSE l.message_id END AS message_id,
            CASE WHEN k.last_archived THEN ar.last_body
                ELSE l.body END AS body,
            CASE WHEN k.last_archived THEN ar.last_direction
                ELSE l.direction END AS direction,
            CASE WHEN k.last_archived THEN ar.last_at
                ELSE l.sent_at END AS sent_at,
            CASE WHEN k.last_archived THEN ar.last_provider_message_id
                ELSE l.provider_message_id END AS provider_message_id
    ) e
    CROSS JOIN LATERAL (VALUES
        ('last_message_id', to_jsonb('m_' || c.last_message_id),
            to_jsonb('m_' || e.message_id)),
        ('last_body', to_jsonb(c.last_body), to_jsonb(e.body)),
        ('last_direction', to_jsonb(c.last_direction),
            to_jsonb(e.direction)),
        ('last_at', to_jsonb(convo.rfc3339(c.last_at)),
            to_jsonb(convo.rfc3339(e.sent_at))),
        ('last_provider_message_id', to_jsonb(c.last_provider_message_id),
            to_jsonb(e.provider_message_id)),
        ('brand_address', to_jsonb(c.brand_address),
            to_jsonb(CASE WHEN k.brand_archived THEN ar.inbound_to
                ELSE b.to_address END)),
        -- With archived months the count is at least the unread messages
        -- left and at most that plus the archived ones. A count outside
        -- expects the nearer end.
        ('unread_count', to_jsonb(c.unread_count),
            to_jsonb(greatest(u.n,
                least(c.unread_count, u.n + ar.unread)))),
        ('search_text', to_jsonb(c.search_text),
            to_jsonb(lower(concat_ws(' ', p.first_name, p.last_name,
                p.phone, e.body)))),
        -- Once settled, the flag may also name an archived message that
        -- read like an opt-out.
        ('flagged_message_id', to_jsonb('m_' || c.flagged_message_id),
            to_jsonb('m_' || CASE
                WHEN d.settled AND c.flagged_message_id
                    = ANY (ar.opt_out_message_ids)
                THEN c.flagged_message_id
                WHEN d.settled THEN f.message_id
                WHEN k.flag_archived THEN ar.opt_out_message_id
                ELSE lf.message_id END)),
        ('snoozed_until', to_jsonb(convo.rfc3339(c.snoozed_until)),
            CASE WHEN c.status = 'snoozed'
                THEN to_jsonb(convo.rfc3339(c.snoozed_until)) END),
        ('blocked', to_jsonb(c.blocked),
            to_jsonb(coalesce(bl.blocked, false))),
        ('assignee', to_jsonb(c.assignee), to_jsonb(a.assignee))
    ) v (field, stored, expected)
    WHERE c.account_id = p_account
        AND (EXISTS (SELECT 1 FROM convo.messages m
                WHERE m.account_id = p_account
                    AND m.profile_id = c.profile_id
                    AND m.channel = c.channel AND m.direction = 'inbound'
                    AND m.keyword_action IS NULL)
            OR ar.conversation)
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
