-- Keyword replies: placeholders replaced in one pass, and every sentence
-- that contains {help} left out when the account has no help contact.
--
-- convo.reply_expand of 007 nested replace() calls, so a brand name or
-- message frequency that contained a placeholder was expanded again.
-- Without a help contact it removed only the first text that matched
-- "Label: {help}." and sent any other {help} as it was written.
--
-- Now, without a help contact, the reply is split into sentences, each
-- ending at ".", "!" or "?" followed by white space or the end of the
-- reply. The sentences that contain {help} are left out and the others
-- are joined with single spaces. When the first sentence is left out and
-- the reply starts with {brand} and a colon, that start is kept, so
-- "{brand}: Help: {help}. Msg & data rates may apply." becomes
-- "{brand}: Msg & data rates may apply." Then {brand}, {help} and
-- {frequency} are replaced from left to right, and the inserted values
-- are not scanned again. Any other text in braces stays as written.
--
-- The result is trimmed of white space at both ends, and an empty result
-- is NULL: no reply, as for a keyword without one. convo-ingest then
-- prints and stores no reply, and convo-keywords lint reports it.

CREATE OR REPLACE FUNCTION convo.reply_expand(p_reply text, p_brand text,
    p_help text, p_frequency text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    v_template text := p_reply;
    v_sentences text[];
    v_label text;
    v_reply text;
BEGIN
    IF p_help IS NULL AND strpos(p_reply, '{help}') > 0 THEN
        v_sentences := regexp_split_to_array(
            regexp_replace(p_reply, '^\s+|\s+$', '', 'g'),
            '(?<=[.!?])\s+');
        IF strpos(v_sentences[1], '{help}') > 0 THEN
            v_label := substring(v_sentences[1] FROM '^\{brand\}\s*:');
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

    -- Placeholder N follows part N of the text between placeholders. The
    -- last part has none.
    SELECT string_agg(p.part || CASE t.match[1]
            WHEN 'brand' THEN p_brand
            WHEN 'help' THEN p_help
            WHEN 'frequency' THEN coalesce(rtrim(p_frequency, '.') || '. ',
                'Msg frequency varies. ')
            ELSE ''
            END, '' ORDER BY p.n)
    INTO v_reply
    FROM unnest(regexp_split_to_array(v_template,
            '\{(?:brand|help|frequency)\}')) WITH ORDINALITY AS p(part, n)
    LEFT JOIN regexp_matches(v_template, '\{(brand|help|frequency)\}', 'g')
        WITH ORDINALITY AS t(match, n) USING (n);
    RETURN nullif(regexp_replace(v_reply, '^\s+|\s+$', '', 'g'), '');
END;
$$;
