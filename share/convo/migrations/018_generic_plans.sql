-- Plans that do not depend on which account a batch is for.
--
-- The batch functions filter every table by account. With a plan made
-- for each call's values, the planner estimated the rows of an account
-- from the table's statistics; an account added after the last ANALYZE
-- was estimated at one row, and the planner then picked any index that
-- starts with the account: message_keys by message id, for example, read
-- every key of the account for each repeated line. Recording 100,000
-- records of a seventh account took 170 s that way, against 9 s for each
-- of the first six. A generic plan estimates an account at the average
-- share of the table, and each server connection plans a statement once.

ALTER FUNCTION convo.ingest_batch(bigint)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION convo.ingest_profiles(bigint)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION convo.ingest_consent(bigint)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION convo.ingest_messages(bigint)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION convo.ingest_conversations(bigint)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION convo.outbox_receipts(bigint)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION convo.outbox_claim_batch(bigint, text, interval, jsonb)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION convo.outbox_sent_batch(bigint, bigint[], text[], text[])
    SET plan_cache_mode = force_generic_plan;
