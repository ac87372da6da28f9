-- The state of account :'account' in the shape of the corpus's expected
-- results: counts, conversations by phone, consent by phone and the
-- final status of each outbound message.
WITH acct AS (
    SELECT account_id FROM convo.accounts WHERE name = :'account'
)
SELECT jsonb_build_object(
    'counts', jsonb_build_object(
        'messages', (SELECT count(*) FROM convo.messages m, acct
            WHERE m.account_id = acct.account_id),
        'inbound', (SELECT count(*) FROM convo.messages m, acct
            WHERE m.account_id = acct.account_id
                AND m.direction = 'inbound'),
        'outbound', (SELECT count(*) FROM convo.messages m, acct
            WHERE m.account_id = acct.account_id
                AND m.direction = 'outbound'),
        'keyword_messages', (SELECT count(*) FROM convo.messages m, acct
            WHERE m.account_id = acct.account_id
                AND m.keyword_action IS NOT NULL),
        'conversations', (SELECT count(*) FROM convo.conversations c, acct
            WHERE c.account_id = acct.account_id),
        'unread_total', (SELECT coalesce(sum(unread_count), 0)
            FROM convo.conversations c, acct
            WHERE c.account_id = acct.account_id),
        'profiles', (SELECT count(*) FROM convo.profiles p, acct
            WHERE p.account_id = acct.account_id)),
    'conversations', (SELECT coalesce(jsonb_object_agg(p.phone,
            jsonb_build_object('unread_count', c.unread_count,
                'last_message', jsonb_build_object('body', c.last_body,
                    'at', convo.rfc3339(c.last_at),
                    'direction', c.last_direction))), '{}')
        FROM convo.conversations c
        JOIN convo.profiles p USING (account_id, profile_id), acct
        WHERE c.account_id = acct.account_id),
    'consent', (SELECT coalesce(jsonb_object_agg(p.phone,
            coalesce(s.status, 'never_subscribed')), '{}')
        FROM convo.profiles p
        LEFT JOIN convo.consent s ON s.account_id = p.account_id
            AND s.profile_id = p.profile_id AND s.channel = 'sms', acct
        WHERE p.account_id = acct.account_id),
    'status', (SELECT coalesce(jsonb_object_agg(m.provider_message_id,
            jsonb_build_object('status', m.status,
                'error_code', CASE WHEN m.error_code ~ '^[0-9]{1,9}$'
                    THEN m.error_code::integer END)), '{}')
        FROM convo.messages m, acct
        WHERE m.account_id = acct.account_id
            AND m.direction = 'outbound'))
