-- Keywords per account, and the function that creates an account with
-- the default keywords.

CREATE TABLE convo.keywords (
    account_id bigint NOT NULL REFERENCES convo.accounts,
    -- Normal form: NFKC, case folded, single spaces (see convo(5)).
    word text NOT NULL,
    action text NOT NULL,
    -- Reply sent to whoever texted the keyword; {brand} and {help} are
    -- replaced by the account's brand name and help contact.
    reply text,
    lang text NOT NULL DEFAULT 'en',
    is_default boolean NOT NULL DEFAULT false,
    -- An opt-in keyword such as YES that counts only while the customer
    -- is not subscribed; otherwise the text is an ordinary message.
    only_unsubscribed boolean NOT NULL DEFAULT false,
    PRIMARY KEY (account_id, word),
    CHECK (action IN ('opt_out', 'opt_in', 'help', 'custom')),
    CHECK (word <> '')
);

CREATE FUNCTION convo.keywords_seed(p_account bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO convo.keywords
        (account_id, word, action, reply, is_default, only_unsubscribed)
    SELECT p_account, d.word, d.action, d.reply, true, d.only_unsubscribed
    FROM (VALUES
        ('stop', 'opt_out', false), ('stopall', 'opt_out', false),
        ('stop all', 'opt_out', false), ('unsubscribe', 'opt_out', false),
        ('cancel', 'opt_out', false), ('end', 'opt_out', false),
        ('quit', 'opt_out', false), ('revoke', 'opt_out', false),
        ('optout', 'opt_out', false), ('opt out', 'opt_out', false),
        ('start', 'opt_in', false), ('unstop', 'opt_in', false),
        ('yes', 'opt_in', true),
        ('help', 'help', false), ('info', 'help', false)
    ) AS v(word, action, only_unsubscribed)
    CROSS JOIN LATERAL (
        SELECT v.word, v.action, v.only_unsubscribed,
            CASE v.action
            WHEN 'opt_out' THEN '{brand}: You are unsubscribed and will '
                || 'receive no more messages. Reply START to resubscribe.'
            WHEN 'opt_in' THEN '{brand}: You are subscribed again. Msg & '
                || 'data rates may apply. Reply HELP for help, STOP to '
                || 'opt out.'
            ELSE '{brand}: Reply STOP to unsubscribe. Msg & data rates may '
                || 'apply. Help: {help}'
            END AS reply
    ) AS d
    ON CONFLICT (account_id, word) DO NOTHING;
$$;

-- Create account NAME with its default keywords; return its id.
CREATE FUNCTION convo.account_create(p_name text,
    p_country text DEFAULT 'US', p_brand text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO convo.accounts (name, default_country, brand_name)
    VALUES (p_name, upper(coalesce(p_country, 'US')),
        coalesce(p_brand, p_name))
    RETURNING account_id INTO v_id;
    PERFORM convo.keywords_seed(v_id);
    RETURN v_id;
END;
$$;

SELECT convo.account_create('default', 'US', 'convo');
