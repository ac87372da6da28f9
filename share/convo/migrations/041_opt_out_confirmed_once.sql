-- One opt-out confirmation per opt-out, whatever order the STOPs arrive in.
--
-- An opt-out keyword got no reply when the customer was already
-- unsubscribed just before it, so STOPs recorded in time order were
-- confirmed once. A STOP that arrived after a later STOP of the same
-- customer was judged against the consent before it, which was still
-- subscribed, and got a second confirmation.
--
-- convo.opt_out_confirmations now records each opt-out keyword message
-- whose batch returned its reply. An opt-out also gets no reply when an
-- opt-out recorded there is at the same time or later, and before the
-- customer's next opt-in. An opt-out keyword message that Twilio
-- answers itself (OptOutType STOP) is recorded as well, because the
-- customer got Twilio's confirmation. Of the opt-outs that one batch adds
-- at the same instant, only the one with the smallest provider message
-- id gets a reply.

-- The opt-out keyword messages that got a confirmation, by the effective
-- time of the message, least(sent_at, recorded_at).
CREATE TABLE convo.opt_out_confirmations (
    account_id bigint NOT NULL,
    profile_id bigint NOT NULL,
    channel text NOT NULL,
    effective_at timestamptz NOT NULL,
    message_id bigint NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    -- The key also serves "a confirmation between two times" lookups.
    PRIMARY KEY (account_id, profile_id, channel, effective_at, message_id),
    FOREIGN KEY (account_id, profile_id) REFERENCES convo.profiles
);

-- Ingest batches record opt-outs while this migration reads them.
LOCK TABLE convo.consent_changes IN SHARE ROW EXCLUSIVE MODE;

-- Before this migration, an opt-out keyword was confirmed when the change
-- before it, by effective time, was not unsubscribed. That is the rule
-- for the opt-outs recorded in time order, and the best guess for the
-- others. NOTE: the guess also takes as confirmed the opt-outs that got
-- no reply for another reason, such as a blocked customer.
INSERT INTO convo.opt_out_confirmations (account_id, profile_id, channel,
    effective_at, message_id)
SELECT c.account_id, c.profile_id, c.channel, c.effective_at, c.message_id
FROM (SELECT x.account_id, x.profile_id, x.channel, x.status, x.method,
        x.message_id, least(x.at, x.recorded_at) AS effective_at,
        lag(x.status) OVER (PARTITION BY x.account_id, x.profile_id,
            x.channel
            ORDER BY least(x.at, x.recorded_at),
                x.status = 'unsubscribed', x.change_id) AS previous
    FROM convo.consent_changes x) c
WHERE c.method = 'keyword' AND c.status = 'unsubscribed'
    AND c.message_id IS NOT NULL
    AND c.previous IS DISTINCT FROM 'unsubscribed'
ON CONFLICT DO NOTHING;

-- Decide whether opt-out keyword message P_MESSAGE, which the staged
-- batch added and convo.ingest_batch_results_all gave a reply, keeps
-- it, and record it in convo.opt_out_confirmations when it does. It does
-- not when the customer is subscribed once the batch is recorded, when
-- another opt-out of the customer and channel at its effective time or
-- later, before the next opt-in, is confirmed, or when the batch added
-- an opt-out keyword message at the same effective time with a smaller
-- provider message id. The function reads the batch's rows, so it runs
-- as a statement of its own, after the batch.
CREATE FUNCTION convo.opt_out_confirm(p_account bigint, p_message bigint)
RETURNS boolean
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_profile bigint;
    v_channel text;
    v_provider text;
    v_provider_message_id text;
    v_effective_at timestamptz;
    v_next_opt_in timestamptz;
BEGIN
    SELECT n.profile_id, n.channel, n.provider, n.provider_message_id,
        least(n.sent_at, n.recorded_at)
    INTO v_profile, v_channel, v_provider, v_provider_message_id,
        v_effective_at
    FROM pg_temp.ingest_added n
    WHERE n.message_id = p_message;
    IF NOT FOUND THEN
        RETURN true;
    END IF;

    IF EXISTS (SELECT 1 FROM convo.consent c
        WHERE c.account_id = p_account AND c.profile_id = v_profile
            AND c.channel = v_channel AND c.status = 'subscribed')
    THEN
        RETURN false;
    END IF;

    IF EXISTS (SELECT 1 FROM convo.consent_changes c
        JOIN pg_temp.ingest_added n ON n.message_id = c.message_id
        WHERE c.account_id = p_account AND c.profile_id = v_profile
            AND c.channel = v_channel
            AND least(c.at, c.recorded_at) = v_effective_at
            AND c.status = 'unsubscribed' AND c.method = 'keyword'
            AND c.message_id <> p_message
            AND (n.provider, n.provider_message_id)
                < (v_provider, v_provider_message_id))
    THEN
        RETURN false;
    END IF;

    SELECT min(least(c.at, c.recorded_at)) INTO v_next_opt_in
    FROM convo.consent_changes c
    WHERE c.account_id = p_account AND c.profile_id = v_profile
        AND c.channel = v_channel AND c.status = 'subscribed'
        AND least(c.at, c.recorded_at) > v_effective_at;
    IF EXISTS (SELECT 1 FROM convo.opt_out_confirmations f
        WHERE f.account_id = p_account AND f.profile_id = v_profile
            AND f.channel = v_channel AND f.effective_at >= v_effective_at
            AND f.effective_at < coalesce(v_next_opt_in, 'infinity')
            AND f.message_id <> p_message)
    THEN
        RETURN false;
    END IF;

    INSERT INTO convo.opt_out_confirmations (account_id, profile_id,
        channel, effective_at, message_id)
    VALUES (p_account, v_profile, v_channel, v_effective_at, p_message)
    ON CONFLICT DO NOTHING;
    RETURN true;
END;
$$;

-- As in 031, and an opt-out keeps its reply only as
-- convo.opt_out_confirm decides.
CREATE OR REPLACE FUNCTION convo.ingest_batch_results(p_account bigint)
RETURNS TABLE (line bigint, kind text, result text, id text,
    conversation_id text, keyword text, action text, note text,
    reply_body text, reply_to text, reply_from text, channel text)
LANGUAGE plpgsql
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    WITH r AS MATERIALIZED (
        SELECT x.* FROM convo.ingest_batch_results_all(p_account)
            WITH ORDINALITY x (line, kind, result, id, conversation_id,
                keyword, action, note, reply_body, reply_to, reply_from,
                channel, n)
    ), blocked AS (
        SELECT DISTINCT s.line
        FROM r JOIN pg_temp.ingest_messages s ON s.line = r.line
        WHERE r.reply_body IS NOT NULL
            AND EXISTS (SELECT 1 FROM convo.profiles p
                JOIN convo.conversations c ON c.account_id = p_account
                    AND c.profile_id = p.profile_id AND c.blocked
                WHERE p.account_id = p_account AND p.phone = s.phone)
    )
    SELECT r.line, r.kind, r.result, r.id, r.conversation_id, r.keyword,
        r.action, r.note,
        CASE
        WHEN b.line IS NOT NULL THEN NULL
        -- This statement sees the tables as they were before the batch,
        -- but the statements of convo.opt_out_confirm see what the batch
        -- wrote. The inner CASE calls it only for opt-outs with a reply.
        WHEN r.kind = 'message' AND r.action = 'opt_out'
            AND r.reply_body IS NOT NULL
            THEN CASE WHEN convo.opt_out_confirm(p_account,
                    substr(r.id, 3)::bigint)
                THEN r.reply_body END
        ELSE r.reply_body
        END,
        r.reply_to, r.reply_from, r.channel
    FROM r LEFT JOIN blocked b ON b.line = r.line
    ORDER BY r.n;
END;
$$;
