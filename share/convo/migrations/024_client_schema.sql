-- Ingest batches of programs built for an older schema fail.
--
-- A program checks the schema version when it connects, so a convo-ingest
-- or convo-webhook that was already running when the schema was migrated
-- went on recording batches with the functions of the new schema. One
-- built before 021 printed each keyword reply, and its convo-send stored
-- the reply under a key of its own and sent it. convo.ingest_batch (021)
-- stored the same reply queued as well, so convo-send --queued sent it a
-- second time. Each batch transaction of convo-ingest and convo-webhook
-- now sets convo.client_schema to the latest migration in the program's
-- share directory. A batch fails with SQLSTATE CV001 when the setting is
-- missing or older than the schema. The batch rolls back, so running the
-- upgraded program on the same input records it once.

-- Raise CV001 unless the transaction's convo.client_schema is at least
-- the latest migration applied to this database.
CREATE FUNCTION convo.check_client_schema()
RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_setting text := current_setting('convo.client_schema', true);
    v_client integer := CASE WHEN v_setting ~ '^[0-9]{1,9}$'
        THEN v_setting::integer END;
    v_schema integer;
BEGIN
    SELECT max(version) INTO v_schema FROM convo.schema_version;
    IF v_client IS NULL OR v_client < v_schema THEN
        RAISE EXCEPTION 'database schema migrated to version % after '
            'this program started; run the upgraded program', v_schema
            USING ERRCODE = 'CV001';
    END IF;
END;
$$;

ALTER FUNCTION convo.ingest_batch(bigint) RENAME TO ingest_batch_stored;

-- Apply the staged batch as convo.ingest_batch_stored does, after the
-- check of convo.check_client_schema.
CREATE FUNCTION convo.ingest_batch(p_account bigint)
RETURNS TABLE (line bigint, kind text, result text, id text,
    conversation_id text, keyword text, action text, note text,
    reply_body text, reply_to text, reply_from text, channel text)
LANGUAGE plpgsql
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    PERFORM convo.check_client_schema();
    RETURN QUERY SELECT * FROM convo.ingest_batch_stored(p_account);
END;
$$;
