-- Replies recorded a group at a time. convo-send records the answers
-- that arrived together in one statement instead of one call of
-- convo.outbox_sent per reply; the rules are those of that function,
-- which the receipts of convo-ingest still use one row at a time.

-- Record outbox rows IDS as sent with provider message ids PMIDS, each
-- with the status STATUSES gives it: the row becomes sent and its
-- message is stored at the current time, with the stored receipts of
-- that id applied, unless a message with that id is already stored.
-- A conversation whose last message is older takes the group's latest
-- message to it. Takes the account lock (convo.lock_account) first, as
-- every writer of conversation summaries does.
CREATE FUNCTION convo.outbox_sent_batch(p_account bigint, p_ids bigint[],
    p_provider_message_ids text[], p_statuses text[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_at timestamptz := now();
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM convo.lock_account(p_account);
    WITH u AS (
        SELECT *
        FROM unnest(p_ids, p_provider_message_ids, p_statuses)
            AS u(outbox_id, provider_message_id, status)
    ), o AS (
        UPDATE convo.outbox x SET state = 'sent',
            provider_message_id = u.provider_message_id,
            error_code = NULL, error_message = NULL, updated_at = now()
        FROM u
        -- ANY keeps the rows read to those of the group whatever the
        -- join the planner picks.
        WHERE x.account_id = p_account AND x.outbox_id = ANY (p_ids)
            AND x.outbox_id = u.outbox_id
        RETURNING x.*, u.status AS sent_status
    ), k AS (
        INSERT INTO convo.message_keys (account_id, provider,
            provider_message_id, sent_at)
        SELECT DISTINCT p_account, o.provider, o.provider_message_id, v_at
        FROM o
        ON CONFLICT DO NOTHING
        RETURNING message_id, provider, provider_message_id
    ), n AS (
        -- Two rows answered with one id store one message, the first's.
        SELECT DISTINCT ON (k.message_id) k.message_id, o.*
        FROM k
        JOIN o ON o.provider = k.provider
            AND o.provider_message_id = k.provider_message_id
        ORDER BY k.message_id, o.outbox_id
    ), m AS (
        INSERT INTO convo.messages (account_id, message_id, provider,
            provider_message_id, profile_id, channel, direction, origin,
            origin_id, from_address, to_address, body, media, sent_at,
            initial_status, status, status_at, error_code)
        SELECT p_account, n.message_id, n.provider, n.provider_message_id,
            n.profile_id, n.channel, 'outbound', n.origin,
            'o_' || n.outbox_id,
            coalesce(n.from_address, n.messaging_service_sid),
            n.to_address, n.body, n.media, v_at, n.sent_status,
            CASE WHEN r.later THEN b.status ELSE n.sent_status END,
            CASE WHEN r.later THEN b.at ELSE v_at END,
            CASE WHEN r.later THEN b.error_code END
        FROM n
        -- A receipt that arrived before the message applies now.
        LEFT JOIN LATERAL (SELECT e.status, e.at, e.error_code
            FROM convo.status_events e
            WHERE e.account_id = p_account AND e.provider = n.provider
                AND e.provider_message_id = n.provider_message_id
            ORDER BY convo.status_rank(e.status) DESC, e.at,
                convo.status_severity(e.status)
            LIMIT 1) b ON true
        CROSS JOIN LATERAL (SELECT coalesce(convo.status_rank(b.status)
            > convo.status_rank(n.sent_status), false) AS later) r
    )
    UPDATE convo.conversations c SET
        last_message_id = l.message_id, last_body = l.body,
        last_direction = 'outbound', last_at = v_at,
        last_provider_message_id = l.provider_message_id,
        search_text = lower(concat_ws(' ', p.first_name, p.last_name,
            p.phone, l.body)),
        updated_at = now()
    FROM (SELECT DISTINCT ON (n.profile_id, n.channel) n.message_id,
            n.profile_id, n.channel, n.body, n.provider_message_id
        FROM n
        ORDER BY n.profile_id, n.channel, n.provider_message_id DESC) l
    JOIN convo.profiles p ON p.account_id = p_account
        AND p.profile_id = l.profile_id
    WHERE c.account_id = p_account AND c.profile_id = l.profile_id
        AND c.channel = l.channel
        AND (c.last_at, c.last_provider_message_id)
            < (v_at, l.provider_message_id);
END;
$$;

ALTER FUNCTION convo.outbox_sent_batch(bigint, bigint[], text[], text[])
    SET jit = off;

-- The customers of a group of replies. P_REQUESTS is a JSON array of
-- {"phone", "channel", "conversation"}: a reply goes to conversation
-- c_CONVERSATION, or when it is null to PHONE. For each item found, its
-- position in the array (from 1), then the customer's profile and
-- phone, the conversation on CHANNEL with its sender and block, the
-- consent in force, and with P_ZONE the customer's time zone and local
-- time at P_NOW. No row for an item without such a customer.
CREATE FUNCTION convo.send_recipients(p_account bigint, p_requests jsonb,
    p_zone boolean, p_now timestamptz)
RETURNS TABLE (item integer, profile_id bigint, phone text, channel text,
    conversation_id bigint, brand_address text, blocked boolean,
    consent text, zone_source text, zone text, local_minutes integer)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT w.item, r.profile_id, r.phone, r.channel, r.conversation_id,
        r.brand_address, r.blocked, coalesce(s.status, 'never_subscribed'),
        z.source, z.zone,
        convo.local_minutes(coalesce(p_now, now()), z.zone)
    FROM (SELECT x.ordinality::integer AS item,
            x.value->>'phone' AS phone, x.value->>'channel' AS channel,
            (x.value->>'conversation')::bigint AS conversation
        FROM jsonb_array_elements(p_requests) WITH ORDINALITY x) w
    CROSS JOIN LATERAL (
        SELECT p.profile_id, p.phone, p.timezone,
            coalesce(c.channel, w.channel) AS channel, c.conversation_id,
            c.brand_address, coalesce(c.blocked, false) AS blocked
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
            c.conversation_id, c.brand_address, c.blocked
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

-- The run that claimed a row last, so that a run that finds its own
-- row again, from the same message given twice, does not send it twice.
ALTER TABLE convo.outbox ADD COLUMN claim_run text;

-- Whether queued row O belongs to another run that is still connected.
-- Behind a pooler in transaction mode, runs share server processes, so
-- a row that another run claimed can name this very process. A row
-- with a claim run is therefore busy whichever live process claimed
-- it, and the caller tells its own run's rows apart by the run. A row
-- claimed before this version has no run and is left to the process
-- check alone. The hour bounds the wait behind a pooler, whose server
-- processes outlive the runs that used them.
-- NOTE: without a pooler, a row of a run that died within the hour is
-- reported busy when this run's server process got the dead one's pid.
CREATE OR REPLACE FUNCTION convo.outbox_busy(o convo.outbox)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT o.state = 'queued'
        AND (o.claim_run IS NOT NULL OR o.claimed_by <> pg_backend_pid())
        AND o.updated_at > now() - interval '1 hour'
        AND EXISTS (SELECT 1 FROM pg_stat_activity a
            WHERE a.pid = o.claimed_by);
$$;

-- Claim the outbox rows of a group of replies for run P_RUN, in one
-- transaction. P_CLAIMS is a JSON array of {"key", "profile",
-- "channel", "conversation", "to", "from", "service", "body", "media",
-- "origin", "encoding", "segments", "units"}. For each item, after its
-- position in the array (from 1): the row of its idempotency key within
-- the window, stored now as queued when there is none (CREATED), with
-- whether another run that is still connected has it queued (BUSY) or
-- this run claimed it already (REPEATED). A row found still queued or
-- sending takes the content of this run, which is what a retry sends.
-- The keys are locked in one order, so that two runs claiming the same
-- keys wait for each other instead of deadlocking.
CREATE FUNCTION convo.outbox_claim_batch(p_account bigint, p_run text,
    p_window interval, p_claims jsonb)
RETURNS TABLE (item integer, outbox_id bigint, state text,
    provider_message_id text, error_code text, error_message text,
    created boolean, busy boolean, repeated boolean)
LANGUAGE plpgsql AS $$
DECLARE
    w record;
    o convo.outbox;
BEGIN
    -- A row lost with this commit was never requested; see
    -- convo.outbox_sending.
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM pg_advisory_xact_lock(k.hash)
    FROM (SELECT DISTINCT hashtextextended(x.value->>'key', p_account)
            AS hash
        FROM jsonb_array_elements(p_claims) x
        ORDER BY 1) k;
    FOR w IN SELECT x.ordinality::integer AS n, x.value AS v
        FROM jsonb_array_elements(p_claims) WITH ORDINALITY x
    LOOP
        item := w.n;
        SELECT * INTO o FROM convo.outbox x
        WHERE x.account_id = p_account
            AND x.idempotency_key = w.v->>'key'
            AND x.created_at > now() - p_window
        ORDER BY x.created_at DESC LIMIT 1;
        IF NOT FOUND THEN
            INSERT INTO convo.outbox AS x (account_id, idempotency_key,
                profile_id, channel, conversation_id, to_address,
                from_address, messaging_service_sid, body, media, origin,
                provider, encoding, segments, units, claimed_by, claim_run)
            VALUES (p_account, w.v->>'key', (w.v->>'profile')::bigint,
                w.v->>'channel', (w.v->>'conversation')::bigint,
                w.v->>'to', w.v->>'from', w.v->>'service', w.v->>'body',
                w.v->'media', w.v->>'origin', 'twilio',
                w.v->>'encoding', (w.v->>'segments')::integer,
                (w.v->>'units')::integer, pg_backend_pid(), p_run)
            RETURNING * INTO o;
            outbox_id := o.outbox_id;
            state := o.state;
            provider_message_id := NULL;
            error_code := NULL;
            error_message := NULL;
            created := true;
            busy := false;
            repeated := false;
            RETURN NEXT;
            CONTINUE;
        END IF;
        outbox_id := o.outbox_id;
        state := o.state;
        provider_message_id := o.provider_message_id;
        error_code := o.error_code;
        error_message := o.error_message;
        created := false;
        repeated := o.claim_run IS NOT DISTINCT FROM p_run;
        -- A queued row of another run that is still connected is that
        -- run's to send.
        busy := NOT repeated AND convo.outbox_busy(o);
        IF NOT repeated AND NOT busy AND o.state IN ('queued', 'sending')
        THEN
            UPDATE convo.outbox x SET from_address = w.v->>'from',
                messaging_service_sid = w.v->>'service',
                body = w.v->>'body', media = w.v->'media',
                encoding = w.v->>'encoding',
                segments = (w.v->>'segments')::integer,
                units = (w.v->>'units')::integer,
                claimed_by = pg_backend_pid(), claim_run = p_run,
                updated_at = now()
            WHERE x.account_id = p_account AND x.outbox_id = o.outbox_id;
        END IF;
        RETURN NEXT;
    END LOOP;
END;
$$;

-- Replaced by convo.outbox_claim_batch.
DROP FUNCTION convo.outbox_claim(bigint, text, interval, bigint, text,
    bigint, text, text, text, text, jsonb, text, text, integer, integer);
