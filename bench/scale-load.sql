-- Load conversations :lo to :hi - 1 of account :account straight into the
-- convo tables, for the list and read benchmarks of bench/run. Run with
-- psql -v account=ID -v lo=N -v hi=N -v per=N -v thread=N, one chunk of
-- conversations per run, in one transaction.
--
-- Conversation g belongs to profile g, the customer +1 212 2000000 + g.
-- It has :per messages, alternating inbound and outbound and ending with
-- an outbound reply, except conversation 1, which has :thread messages.
-- Message ids: 1 to :thread for conversation 1, then :per ids for each
-- following conversation. Every customer is subscribed on sms.
--
-- Each conversation's summary matches its messages as convo-ingest would
-- keep it: every tenth conversation has one unread inbound message (its
-- last_read_at is before its last inbound message), every tenth other one
-- is closed, and the rest are open and read.

\set ON_ERROR_STOP 1
BEGIN;

-- The monthly partitions of the loaded times, so that no row waits in a
-- default partition. The first chunk creates them.
SELECT convo.partitions_lock();
SELECT convo.partition_create(t.parent, m::date)
FROM convo.partitioned_tables() t,
    generate_series(date '2025-11-01', date '2026-12-01',
        interval '1 month') m;

CREATE TEMP TABLE scale_chunk ON COMMIT DROP AS
SELECT g,
    CASE WHEN g = 1 THEN :thread ELSE :per END AS n,
    CASE WHEN g = 1 THEN 0 ELSE :thread + (g - 2) * :per END AS first_id,
    -- Last message times spread over 2026 without ties: 7919 is prime and
    -- does not divide the number of seconds in a year.
    timestamptz '2026-01-01 00:00:00+00'
        + ((g::bigint * 7919) % 31536000) * interval '1 second' AS last_at,
    '+1212' || (2000000 + g) AS phone,
    (ARRAY['Ada', 'Tomás', 'Mei', 'Sam', 'Priya', 'Jonas', 'Fatima', 'Luca',
        'Noor', 'Kenji', 'Amara', 'Diego', 'Ingrid', 'Omar', 'Chloé',
        'Ravi', 'Sofia', 'Mateo', 'Aisha', 'Hugo'])[1 + g % 20]
        AS first_name,
    (ARRAY['Reyes', 'Okafor', 'Lin', 'Berg', 'Nair', 'Schmidt', 'Haddad',
        'Rossi', 'Khan', 'Tanaka', 'Mensah', 'García', 'Larsen', 'Farouk',
        'Dubois', 'Iyer', 'Costa', 'Silva', 'Bello', 'Moreau', 'Novak',
        'Quinn', 'Petrov', 'Santos', 'Walsh'])[1 + (g / 20) % 25]
        AS last_name
FROM generate_series(:lo, :hi - 1) g;

INSERT INTO convo.profiles (account_id, profile_id, phone, first_name,
    last_name, created_at)
SELECT :account, g, phone, first_name, last_name, timestamptz '2025-12-01'
FROM scale_chunk;

INSERT INTO convo.consent_changes (account_id, change_id, profile_id,
    channel, status, method, at)
SELECT :account, g, g, 'sms', 'subscribed', 'import',
    timestamptz '2025-12-01'
FROM scale_chunk;

INSERT INTO convo.consent (account_id, profile_id, channel, status,
    changed_at, change_id)
SELECT :account, g, 'sms', 'subscribed', timestamptz '2025-12-01', g
FROM scale_chunk;

-- Message i of conversation g was sent (n - i) * 7 minutes before the
-- last one. Odd messages are inbound, even ones outbound. Each message
-- has its key, as convo-ingest would record it.
WITH ins AS (
INSERT INTO convo.messages (account_id, message_id, provider,
    provider_message_id, profile_id, channel, direction, origin,
    from_address, to_address, body, sent_at, recorded_at, initial_status,
    status, status_at)
SELECT :account, c.first_id + i, 'twilio',
    'SM' || lpad(to_hex(c.first_id + i), 32, '0'), c.g, 'sms',
    CASE WHEN i % 2 = 1 THEN 'inbound' ELSE 'outbound' END,
    CASE WHEN i % 2 = 0 THEN 'conversation' END,
    CASE WHEN i % 2 = 1 THEN c.phone ELSE '+12025550100' END,
    CASE WHEN i % 2 = 1 THEN '+12025550100' ELSE c.phone END,
    (ARRAY['Where is my order?', 'Thanks!',
        'Your package is out for delivery today between 2 and 6 pm.',
        'Can I change my delivery address?',
        'We''re sorry for the delay, a new one ships today.',
        'ok', 'Is the store open on Sunday?',
        'Thanks for your order! We''ll text you when it ships.'])
        [1 + (c.g + i) % 8],
    c.last_at - (c.n - i) * interval '7 minutes',
    c.last_at - (c.n - i) * interval '7 minutes',
    CASE WHEN i % 2 = 0 THEN 'sent' END,
    CASE WHEN i % 2 = 0 THEN 'delivered' END,
    CASE WHEN i % 2 = 0 THEN c.last_at - (c.n - i) * interval '7 minutes'
        + interval '5 seconds' END
FROM scale_chunk c, generate_series(1, c.n) i
RETURNING account_id, provider, provider_message_id, message_id, sent_at
)
INSERT INTO convo.message_keys (account_id, provider, provider_message_id,
    message_id, sent_at)
SELECT * FROM ins;

INSERT INTO convo.conversations (account_id, conversation_id, profile_id,
    channel, brand_address, status, unread_count, last_read_at,
    last_message_id, last_body, last_direction, last_at,
    last_provider_message_id, search_text, created_at, updated_at)
SELECT :account, c.g, c.g, 'sms', '+12025550100',
    CASE WHEN c.g % 10 = 5 THEN 'closed' ELSE 'open' END,
    CASE WHEN c.g % 10 = 0 THEN 1 ELSE 0 END,
    -- Read up to message n - 2, which leaves message n - 1 (inbound)
    -- unread, or up to the last message.
    CASE WHEN c.g % 10 = 0 THEN c.last_at - 2 * interval '7 minutes'
        ELSE c.last_at END,
    m.message_id, m.body, m.direction, m.sent_at, m.provider_message_id,
    lower(concat_ws(' ', c.first_name, c.last_name, c.phone, m.body)),
    c.last_at - c.n * interval '7 minutes', c.last_at
FROM scale_chunk c
JOIN convo.messages m ON m.account_id = :account
    AND m.message_id = c.first_id + c.n AND m.sent_at = c.last_at;

COMMIT;
