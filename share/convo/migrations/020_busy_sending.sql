-- A row that a live run is sending is that run's too.
--
-- convo.outbox_busy (017) counted only queued rows, so a second run
-- that met a row the first had in flight reported it unknown, and with
-- --retry-unknown sent it again while the first run's request was still
-- waiting for its answer. A sending row of a run that is still
-- connected is now busy, reported in_progress and left alone; one whose
-- run has gone is unknown, as before.
-- NOTE: without a pooler, a row of a run that died within the hour is
-- reported busy when this run's server process got the dead one's pid.
CREATE OR REPLACE FUNCTION convo.outbox_busy(o convo.outbox)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT o.state IN ('queued', 'sending')
        AND (o.claim_run IS NOT NULL OR o.claimed_by <> pg_backend_pid())
        AND o.updated_at > now() - interval '1 hour'
        AND EXISTS (SELECT 1 FROM pg_stat_activity a
            WHERE a.pid = o.claimed_by);
$$;
