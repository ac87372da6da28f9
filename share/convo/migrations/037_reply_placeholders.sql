-- Keyword replies: placeholders replaced in one pass, and every sentence
-- that contains {help} left out when the account has no help contact.
--
-- convo.reply_expand of 007 nested replace() calls, so a brand name or
-- message frequency that contained a placeholder was expanded again.
-- Without a help contact it removed only the first text that matched
-- "Label: {help}." and sent any other {help} as it was written.
--
-- Now, without a help contact, the reply is split into sentences, each
-- ending at ".", "!" or "?" followed by white space (no-break spaces
-- included) or the end of the reply. The sentences that contain {help}
-- are left out and the others are joined with single spaces. When the
-- first sentence is left out and the reply starts with {brand} and a
-- colon, that start is kept, so "{brand}: Help: {help}. Msg & data rates
-- may apply." becomes "{brand}: Msg & data rates may apply." Then
-- {brand}, {help} and {frequency} are replaced from left to right, and
-- the inserted values are not scanned again. Any other text in braces
-- stays as written.
--
-- {frequency} is a sentence: the frequency with a full stop added unless
-- it ends in ".", "!" or "?", followed by a space when text follows
-- directly, as in the packs' "{frequency}Msg & data rates may apply."
-- When the reply puts its own ".", "!" or "?" after {frequency}, the
-- frequency's own end punctuation is left out.
--
-- The result is trimmed of white space and invisible characters (no-
-- break and zero-width spaces, word joiners, byte order marks) at both
-- ends, and an empty result is NULL: no reply, as for a keyword without
-- one. convo-ingest then prints and stores no reply, and convo-keywords
-- lint reports it.

CREATE OR REPLACE FUNCTION convo.reply_expand(p_reply text, p_brand text,
    p_help text, p_frequency text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    v_blank constant text :=
        '[\s\u00a0\u2007\u202f\u200b\u200c\u200d\u2060\ufeff]';
    v_template text := p_reply;
    v_sentences text[];
    v_label text;
    v_reply text := '';
    v_frequency text;
    v_pos integer;
BEGIN
    IF p_reply IS NULL THEN
        RETURN NULL;
    END IF;
    IF p_help IS NULL AND strpos(p_reply, '{help}') > 0 THEN
        v_sentences := regexp_split_to_array(
            regexp_replace(p_reply, '^' || v_blank || '+|' || v_blank
                || '+$', '', 'g'),
            '(?<=[.!?])[\s\u00a0\u2007\u202f]+');
        IF strpos(v_sentences[1], '{help}') > 0 THEN
            v_label := substring(v_sentences[1]
                FROM '^\{brand\}[\s\u00a0\u202f]*:');
        END IF;
        v_template := array_to_string(ARRAY(
            SELECT s.sentence
            FROM unnest(v_sentences) WITH ORDINALITY AS s(sentence, n)
            WHERE strpos(s.sentence, '{help}') = 0
            ORDER BY s.n), ' ');
        IF v_label IS NOT NULL AND v_template <> '' THEN
            v_template := v_label || ' ' || v_template;
        END IF;
    END IF;

    -- Copy the text up to each '{', then the placeholder's value or the
    -- '{' itself, so that no inserted value is scanned.
    LOOP
        v_pos := strpos(v_template, '{');
        EXIT WHEN v_pos = 0;
        v_reply := v_reply || left(v_template, v_pos - 1);
        v_template := substr(v_template, v_pos);
        IF starts_with(v_template, '{brand}') THEN
            v_reply := v_reply || coalesce(p_brand, '');
            v_template := substr(v_template, 8);
        ELSIF starts_with(v_template, '{help}') THEN
            v_reply := v_reply || coalesce(p_help, '');
            v_template := substr(v_template, 7);
        ELSIF starts_with(v_template, '{frequency}') THEN
            v_template := substr(v_template, 12);
            v_frequency := coalesce(nullif(regexp_replace(p_frequency,
                '^' || v_blank || '+|' || v_blank || '+$', '', 'g'), ''),
                'Msg frequency varies');
            IF v_template ~ '^[.!?]' THEN
                v_frequency := rtrim(v_frequency, '.!?');
            ELSIF v_frequency !~ '[.!?]$' THEN
                v_frequency := v_frequency || '.';
            END IF;
            IF v_template ~ ('^[^.!?' || substr(v_blank, 2)) THEN
                v_frequency := v_frequency || ' ';
            END IF;
            v_reply := v_reply || v_frequency;
        ELSE
            v_reply := v_reply || '{';
            v_template := substr(v_template, 2);
        END IF;
    END LOOP;
    v_reply := v_reply || v_template;
    RETURN nullif(regexp_replace(v_reply,
        '^' || v_blank || '+|' || v_blank || '+$', '', 'g'), '');
END;
$$;
