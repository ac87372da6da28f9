-- Keywords per account, the language packs they are seeded from, and the
-- function that creates an account with its default keywords.

-- Language packs shipped with convo: the default keywords of each
-- language. Shared by all accounts, like a reference table.
CREATE TABLE convo.keyword_packs (
    lang text NOT NULL,
    -- Normal form: NFKC, case folded, single spaces (see convo(5)).
    word text NOT NULL,
    action text NOT NULL,
    reply text,
    only_unsubscribed boolean NOT NULL DEFAULT false,
    PRIMARY KEY (lang, word),
    CHECK (action IN ('opt_out', 'opt_in', 'help', 'custom'))
);

CREATE TABLE convo.keywords (
    account_id bigint NOT NULL REFERENCES convo.accounts,
    word text NOT NULL,
    action text NOT NULL,
    -- Reply sent to whoever texted the keyword. {brand}, {help} and
    -- {frequency} are replaced by the account's settings.
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

-- Replies meet the usual carrier rules: an opt-out confirmation names the
-- brand, says no more messages follow and how to opt back in; an opt-in
-- confirmation names the brand and frequency, "Msg & data rates may
-- apply", HELP and STOP; HELP names the brand, the contact and STOP.
INSERT INTO convo.keyword_packs (lang, word, action, only_unsubscribed,
    reply)
SELECT v.lang, v.word, v.action, v.only_unsubscribed, r.reply
FROM (VALUES
    ('en', 'stop', 'opt_out', false), ('en', 'stopall', 'opt_out', false),
    ('en', 'stop all', 'opt_out', false),
    ('en', 'unsubscribe', 'opt_out', false),
    ('en', 'cancel', 'opt_out', false), ('en', 'end', 'opt_out', false),
    ('en', 'quit', 'opt_out', false), ('en', 'revoke', 'opt_out', false),
    ('en', 'optout', 'opt_out', false), ('en', 'opt out', 'opt_out', false),
    ('en', 'start', 'opt_in', false), ('en', 'unstop', 'opt_in', false),
    ('en', 'yes', 'opt_in', true),
    ('en', 'help', 'help', false), ('en', 'info', 'help', false),
    ('es', 'parar', 'opt_out', false), ('es', 'detener', 'opt_out', false),
    ('es', 'cancelar', 'opt_out', false), ('es', 'baja', 'opt_out', false),
    ('es', 'darme de baja', 'opt_out', false),
    ('es', 'no más', 'opt_out', false), ('es', 'no mas', 'opt_out', false),
    ('es', 'ayuda', 'help', false), ('es', 'información', 'help', false),
    ('es', 'informacion', 'help', false),
    ('fr', 'arrêt', 'opt_out', false), ('fr', 'arret', 'opt_out', false),
    ('fr', 'arrêter', 'opt_out', false), ('fr', 'arreter', 'opt_out', false),
    ('fr', 'désabonner', 'opt_out', false),
    ('fr', 'desabonner', 'opt_out', false),
    ('fr', 'désinscrire', 'opt_out', false),
    ('fr', 'desinscrire', 'opt_out', false),
    ('fr', 'aide', 'help', false)
) AS v(lang, word, action, only_unsubscribed)
JOIN (VALUES
    ('en', 'opt_out', '{brand}: You are unsubscribed and will receive no '
        || 'more messages. Reply START to resubscribe.'),
    ('en', 'opt_in', '{brand}: You are subscribed. {frequency}Msg & data '
        || 'rates may apply. Reply HELP for help, STOP to opt out.'),
    ('en', 'help', '{brand}: Help: {help}. Msg & data rates may apply. '
        || 'Reply STOP to opt out.'),
    ('es', 'opt_out', '{brand}: Se ha dado de baja y no recibirá más '
        || 'mensajes. Responda START para volver a suscribirse.'),
    ('es', 'help', '{brand}: Ayuda: {help}. Pueden aplicarse tarifas de '
        || 'mensajes y datos. Responda PARAR para darse de baja.'),
    ('fr', 'opt_out', '{brand} : vous êtes désabonné et ne recevrez plus '
        || 'de messages. Répondez START pour vous réabonner.'),
    ('fr', 'help', '{brand} : aide : {help}. Des frais de messages et de '
        || 'données peuvent s''appliquer. Répondez ARRET pour vous '
        || 'désabonner.')
) AS r(lang, action, reply) ON r.lang = v.lang AND r.action = v.action;

-- Give account P_ACCOUNT the keywords of its languages, keeping words it
-- already has.
CREATE FUNCTION convo.keywords_seed(p_account bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO convo.keywords (account_id, word, action, reply, lang,
        is_default, only_unsubscribed)
    SELECT p_account, k.word, k.action, k.reply, k.lang, true,
        k.only_unsubscribed
    FROM convo.keyword_packs k
    JOIN convo.accounts a ON a.account_id = p_account
        AND k.lang = ANY (a.languages)
    -- English first, so that a word two packs share keeps its English
    -- meaning and reply.
    ORDER BY k.lang <> 'en', k.lang, k.word
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
