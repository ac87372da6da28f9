-- Delivery status order. Status only moves forward: queued (accepted,
-- scheduled) < sending < sent < the final statuses < read. Among final
-- statuses the earliest wins, and at the same instant the worse outcome.

CREATE FUNCTION convo.status_rank(p_status text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p_status
        WHEN 'accepted' THEN 0 WHEN 'scheduled' THEN 0 WHEN 'queued' THEN 0
        WHEN 'receiving' THEN 0
        WHEN 'sending' THEN 1
        WHEN 'sent' THEN 2 WHEN 'received' THEN 2
        WHEN 'delivered' THEN 3 WHEN 'undelivered' THEN 3
        WHEN 'failed' THEN 3 WHEN 'canceled' THEN 3
        WHEN 'partially_delivered' THEN 3
        WHEN 'read' THEN 4
    END;
$$;

-- Lower is worse; a worse final status wins a tie in time.
CREATE FUNCTION convo.status_severity(p_status text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p_status
        WHEN 'failed' THEN 0 WHEN 'undelivered' THEN 1
        WHEN 'canceled' THEN 2 WHEN 'partially_delivered' THEN 3
        WHEN 'delivered' THEN 4 ELSE 5
    END;
$$;

-- RFC 3339 in UTC, with microseconds only when there are any.
CREATE FUNCTION convo.rfc3339(p_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN date_part('microseconds', p_at)::bigint % 1000000 = 0
        THEN to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        ELSE to_char(p_at AT TIME ZONE 'UTC',
            'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    END;
$$;

-- Keyword reply text with the account's brand name, help contact and
-- message frequency. Without a help contact the "Help: {help}." part is
-- left out, which convo-keywords lint reports.
CREATE FUNCTION convo.reply_expand(p_reply text, p_brand text,
    p_help text, p_frequency text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT replace(replace(
        CASE WHEN p_help IS NULL
            THEN regexp_replace(p_reply, '\s*[^.:]*:\s*\{help\}\.', '')
            ELSE replace(p_reply, '{help}', p_help)
        END, '{brand}', p_brand),
        '{frequency}', coalesce(rtrim(p_frequency, '.') || '. ',
            'Msg frequency varies. '));
$$;
