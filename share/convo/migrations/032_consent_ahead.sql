-- Bound the partitions that convo-read reads for a thread's consent.
--
-- A consent change takes effect at least(at, recorded_at), and
-- convo.consent_changes is partitioned by at. A change dated after the
-- months of a thread's newest messages may thus take effect inside them,
-- and convo-read read every partition from those months to the newest.
-- In a new server process, each partition a statement may read costs the
-- loading of its catalog entries: 16 partitions took 3.4 ms more than 3.
--
-- convo.consent_ahead keeps, for each customer and channel, the latest
-- stated time of a change recorded before that time. Every change that
-- takes effect before time T is stated before the later of T and that
-- time, which bounds the partitions to read.

-- First, so that this migration waits for running ingest batches before
-- it takes any other lock and never waits for them in a cycle. For the
-- same reason consent_ahead has no foreign key to profiles: adding one
-- locks profiles, which a batch may hold while it waits for
-- consent_changes.
LOCK TABLE convo.consent_changes IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE convo.consent_ahead (
    account_id bigint NOT NULL,
    profile_id bigint NOT NULL,
    channel text NOT NULL,
    -- The latest at of the channel's changes with at > recorded_at.
    at timestamptz NOT NULL,
    PRIMARY KEY (account_id, profile_id, channel)
);

-- Raise the time of NEW's customer and channel to NEW.at. Deleted or
-- moved changes leave it as it is: it only has to be late enough.
CREATE FUNCTION convo.consent_ahead_note() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO convo.consent_ahead AS a (account_id, profile_id, channel,
        at)
    VALUES (NEW.account_id, NEW.profile_id, NEW.channel, NEW.at)
    ON CONFLICT (account_id, profile_id, channel)
        DO UPDATE SET at = EXCLUDED.at WHERE a.at < EXCLUDED.at;
    RETURN NULL;
END;
$$;

-- A row trigger of the partitioned table is cloned to each partition,
-- those created or attached later included. Changes recorded at or
-- after their stated time, nearly all of them, skip the function.
CREATE TRIGGER consent_ahead
AFTER INSERT OR UPDATE OF at, recorded_at ON convo.consent_changes
FOR EACH ROW WHEN (NEW.at > NEW.recorded_at)
EXECUTE FUNCTION convo.consent_ahead_note();

INSERT INTO convo.consent_ahead (account_id, profile_id, channel, at)
SELECT c.account_id, c.profile_id, c.channel, max(c.at)
FROM convo.consent_changes c
WHERE c.at > c.recorded_at
GROUP BY c.account_id, c.profile_id, c.channel;
